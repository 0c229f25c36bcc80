with source as (

    select * from {{ ref('raw_fx_rates') }}

),

renamed as (

    select
        -- the join key for stg_subscriptions.currency, stg_invoices.currency and
        -- stg_accounts.billing_currency, all upper-cased the same way
        upper(trim(currency)) as currency,
        {{ dbt.safe_cast('rate_to_usd', dbt.type_numeric()) }} as rate_to_usd

    from source

)

select * from renamed
