-- MRR per account and month-end in USD (GTM-METRICS.md "MRR"): the sum of the MRR
-- of the subscriptions active on the month's last day, with no proration. A
-- subscription is active on day d when start_date <= d < end_date (end_date is the
-- first day out of service), so one that starts and ends inside a month never
-- counts. Money is converted at one fixed rate per currency (constant currency).
-- One row per account and month from the account's first paid month through the
-- last complete month, with mrr = 0 where nothing was active.

with subscriptions as (

    select
        s.account_id,
        s.start_date,
        s.end_date,
        s.mrr * fx.rate_to_usd as mrr_usd
    from {{ ref('stg_subscriptions') }} as s
    inner join {{ ref('stg_fx_rates') }} as fx
        on fx.currency = s.currency

),

spine as (

    {{ sluice.date_spine(
        'month',
        "cast('" ~ var('mrr_start_month') ~ "' as date)",
        dbt.dateadd('day', 1, "cast('" ~ var('as_of_date') ~ "' as date)")
    ) }}

),

months as (

    select
        cast(date_month as date) as month,
        cast({{ dbt.last_day('date_month', 'month') }} as date) as month_end
    from spine

),

complete_months as (

    select month, month_end
    from months
    where month_end <= cast('{{ var('as_of_date') }}' as date)

),

account_months as (

    select accounts.account_id, m.month, m.month_end
    from (select distinct account_id from subscriptions) as accounts
    cross join complete_months as m

),

snapshot as (

    select
        am.account_id,
        am.month,
        am.month_end,
        coalesce(sum(s.mrr_usd), 0) as mrr
    from account_months as am
    left join subscriptions as s
        on s.account_id = am.account_id
        and s.start_date <= am.month_end
        and (s.end_date is null or s.end_date > am.month_end)
    group by am.account_id, am.month, am.month_end

),

first_paid as (

    select account_id, min(month) as first_paid_month
    from snapshot
    where mrr > 0
    group by account_id

)

select
    snapshot.account_id,
    snapshot.month,
    snapshot.month_end,
    cast(snapshot.mrr as {{ dbt.type_numeric() }}) as mrr
from snapshot
inner join first_paid
    on first_paid.account_id = snapshot.account_id
    and snapshot.month >= first_paid.first_paid_month
