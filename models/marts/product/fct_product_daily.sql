-- Daily active accounts and users (GTM-METRICS.md "DAA / DAU"): distinct accounts /
-- users with at least one product event on the UTC calendar day. One row per day from
-- the first day with any product event (the start of event collection) through
-- var('as_of_date'), days without any event included with 0.

with events as (

    select account_id, user_id, event_date
    from {{ ref('stg_product_events') }}
    where event_date <= {{ as_of_date() }}

),

calendar as (

    {{ product_calendar() }}

),

days as (

    select c.date_day, c.month
    from calendar as c
    where c.date_day >= (select min(event_date) from events)

),

daily as (

    select
        event_date,
        count(distinct account_id) as daily_active_accounts,
        count(distinct user_id) as daily_active_users
    from events
    group by event_date

)

select
    d.date_day,
    d.month,
    coalesce(a.daily_active_accounts, 0) as daily_active_accounts,
    coalesce(a.daily_active_users, 0) as daily_active_users
from days as d
left join daily as a
    on a.event_date = d.date_day
