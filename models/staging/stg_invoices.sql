with source as (

    select * from {{ ref('raw_invoices') }}

),

renamed as (

    select
        id as invoice_id,
        account_id,
        subscription_id,
        cast(invoice_date as date) as invoice_date,
        cast(due_date as date) as due_date,
        -- in the billing currency, not USD
        {{ dbt.safe_cast('amount', dbt.type_numeric()) }} as amount,
        upper(trim(currency)) as currency,
        -- 'open' past due_date is overdue; the as-of date is a downstream choice
        status as invoice_status,
        cast(paid_on as date) as paid_on

    from source

)

select * from renamed
