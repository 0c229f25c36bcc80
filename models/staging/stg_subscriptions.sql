with source as (

    select * from {{ ref('raw_subscriptions') }}

),

renamed as (

    select
        id as subscription_id,
        account_id,
        plan,
        change_type,
        case when plan = 'addon_analytics' then true else false end as is_addon,
        -- end_date is the first day out of service (null while active)
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        end_reason,
        {{ dbt.safe_cast('mrr', dbt.type_numeric()) }} as mrr,
        upper(trim(currency)) as currency

    from source

)

select * from renamed
