with source as (

    select * from {{ ref('raw_churn_reasons') }}

),

renamed as (

    select
        id as churn_reason_id,
        account_id,
        subscription_id,
        -- = the cancelled subscription's end_date: can lie before the data window
        -- (pre-window customer base) or after it (scheduled cancellation)
        cast(churned_on as date) as churned_on,
        reason,
        competitor

    from source

)

select * from renamed
