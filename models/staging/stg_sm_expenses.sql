with source as (

    select * from {{ ref('raw_sm_expenses') }}

),

renamed as (

    select
        id as expense_id,
        cast(expense_month as date) as expense_month,
        department,
        -- marketing rows carry channel, sales rows carry segment; the other is null
        channel,
        segment,
        category,
        {{ dbt.safe_cast('amount', dbt.type_numeric()) }} as amount

    from source

)

select * from renamed
