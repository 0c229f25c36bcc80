with source as (

    select * from {{ ref('raw_sales_activities') }}

),

renamed as (

    select
        id as activity_id,
        rep_id,
        account_id,
        -- null for prospecting activity
        opportunity_id,
        activity_type,
        {{ dbt.safe_cast('activity_at', dbt.type_timestamp()) }} as activity_at,
        -- null for emails
        duration_minutes

    from source

)

select * from renamed
