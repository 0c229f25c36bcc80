with source as (

    select * from {{ ref('raw_leads') }}

),

renamed as (

    select
        id as lead_id,
        -- a few hashes arrive upper-cased; duplicate detection compares this column
        lower(trim(email_hash)) as email_hash,
        {{ dbt.safe_cast('created_at', dbt.type_timestamp()) }} as created_at,
        lead_source,
        coalesce(channel, 'unknown') as channel,
        campaign_id,
        status as lead_status,
        -- raw stage timestamps as recorded: a lead can have sql_at without mql_at
        {{ dbt.safe_cast('mql_at', dbt.type_timestamp()) }} as mql_at,
        {{ dbt.safe_cast('sql_at', dbt.type_timestamp()) }} as sql_at,
        {{ dbt.safe_cast('converted_at', dbt.type_timestamp()) }} as converted_at,
        account_id,
        opportunity_id

    from source

)

select * from renamed
