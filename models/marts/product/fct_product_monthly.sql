-- Monthly active accounts and users, stickiness and multi-user activation
-- (GTM-METRICS.md "DAA / DAU", "Multi-user activation"), one row per calendar month
-- from the month of the first product event through the last complete month.
--   MAA / MAU = distinct accounts / users with at least one event in the month: a
--               distinct count over the month, never a sum of daily counts.
--   avg_dau   = Σ over the month's days of DAU / days in the month: days without
--               any event count as 0 (Σ DAU is the number of distinct user-days).
--   stickiness = avg_dau / MAU.
--   multi_user_activation_rate = accounts with >= 3 distinct active users in the
--               month / MAA.
-- Every ratio is NULL when its denominator is 0. Days are UTC event dates.

with events as (

    select
        account_id,
        user_id,
        event_date,
        cast({{ dbt.date_trunc('month', 'event_date') }} as date) as month
    from {{ ref('stg_product_events') }}
    where event_date <= {{ as_of_date() }}

),

calendar as (

    {{ product_calendar() }}

),

months as (

    select distinct month
    from calendar
    where month >= (select cast({{ dbt.date_trunc('month', 'min(event_date)') }} as date) from events)
      and month <= {{ last_complete_month() }}

),

monthly_active as (

    select
        month,
        count(distinct account_id) as monthly_active_accounts,
        count(distinct user_id) as monthly_active_users
    from events
    group by month

),

user_days as (

    select month, count(*) as active_user_days
    from (select distinct month, event_date, user_id from events) as d
    group by month

),

account_users as (

    select month, account_id, count(distinct user_id) as active_users
    from events
    group by month, account_id

),

multi_user as (

    select
        month,
        sum(case when active_users >= 3 then 1 else 0 end) as multi_user_accounts
    from account_users
    group by month

),

joined as (

    select
        m.month,
        {{ days_in_month('m.month') }} as days_in_month,
        coalesce(a.monthly_active_accounts, 0) as monthly_active_accounts,
        coalesce(a.monthly_active_users, 0) as monthly_active_users,
        coalesce(d.active_user_days, 0) as active_user_days,
        coalesce(u.multi_user_accounts, 0) as multi_user_accounts
    from months as m
    left join monthly_active as a
        on a.month = m.month
    left join user_days as d
        on d.month = m.month
    left join multi_user as u
        on u.month = m.month

)

select
    month,
    days_in_month,
    monthly_active_accounts,
    monthly_active_users,
    active_user_days,
    {{ sluice.safe_divide('active_user_days', 'days_in_month') }} as avg_daily_active_users,
    {{ sluice.safe_divide(sluice.safe_divide('active_user_days', 'days_in_month'), 'monthly_active_users') }} as stickiness,
    multi_user_accounts,
    {{ sluice.safe_divide('multi_user_accounts', 'monthly_active_accounts') }} as multi_user_activation_rate
from joined
