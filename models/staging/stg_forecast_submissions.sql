with source as (

    select * from {{ ref('raw_forecast_submissions') }}

),

renamed as (

    select
        id as forecast_submission_id,
        rep_id,
        -- can be exactly 00:00:00 on forecast_month (not before the month starts) or
        -- during the month; some rep-months have no commit submission at all
        {{ dbt.safe_cast('submitted_at', dbt.type_timestamp()) }} as submitted_at,
        cast(forecast_month as date) as forecast_month,
        category,
        {{ dbt.safe_cast('amount', dbt.type_numeric()) }} as amount

    from source

)

select * from renamed
