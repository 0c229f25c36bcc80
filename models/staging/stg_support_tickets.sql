with source as (

    select * from {{ ref('raw_support_tickets') }}

),

renamed as (

    select
        id as ticket_id,
        account_id,
        user_id,
        {{ dbt.safe_cast('created_at', dbt.type_timestamp()) }} as created_at,
        -- null while the ticket is open or pending
        {{ dbt.safe_cast('resolved_at', dbt.type_timestamp()) }} as resolved_at,
        priority,
        status as ticket_status,
        category,
        csat_score

    from source

)

select * from renamed
