-- Product engagement score (GTM-METRICS.md "Product engagement score"), one row per
-- account × calendar month in which the account had at least one product event,
-- through the last complete month (an inactive account-month has no row: it would
-- score 0 on breadth and frequency and has no depth, 0 events / 0 users).
--   breadth   = distinct core features used in the month / core features released on
--               or before the month's last day (is_core in the feature releases seed;
--               a feature is used when its event_name occurs)
--   depth     = min(1, events in the month (every event, 'Session Started' included)
--               / distinct active users in the month / var('pes_depth_target'))
--   frequency = distinct UTC days with an event of the account / days in the month
--   engagement_score = 100 × (0.4 breadth + 0.3 depth + 0.3 frequency), in [0, 100].

{%- set depth_target = var('pes_depth_target', 8) %}

with events as (

    select
        account_id,
        user_id,
        event_name,
        event_date,
        cast({{ dbt.date_trunc('month', 'event_date') }} as date) as month
    from {{ ref('stg_product_events') }}
    where event_date < cast({{ dbt.dateadd('month', 1, last_complete_month()) }} as date)

),

core_features as (

    select event_name, released_on
    from {{ ref('stg_feature_releases') }}
    where is_core

),

activity as (

    select
        account_id,
        month,
        count(*) as events,
        count(distinct user_id) as active_users,
        count(distinct event_date) as active_days
    from events
    group by account_id, month

),

core_used as (

    select e.account_id, e.month, count(distinct e.event_name) as core_features_used
    from events as e
    inner join core_features as f
        on f.event_name = e.event_name
    group by e.account_id, e.month

),

months as (

    select distinct month from activity

),

core_available as (

    select m.month, count(f.event_name) as core_features
    from months as m
    left join core_features as f
        on f.released_on < cast({{ dbt.dateadd('month', 1, 'm.month') }} as date)
    group by m.month

),

components as (

    select
        a.account_id,
        a.month,
        {{ days_in_month('a.month') }} as days_in_month,
        a.active_users,
        a.events,
        a.active_days,
        coalesce(c.core_features_used, 0) as core_features_used,
        k.core_features,
        {{ sluice.safe_divide('coalesce(c.core_features_used, 0)', 'k.core_features') }} as breadth,
        {{ sluice.safe_divide('a.events', 'a.active_users') }} as events_per_active_user,
        cast({{ depth_target }} as {{ sluice.type_double() }}) as depth_target,
        {{ sluice.safe_divide('a.active_days', days_in_month('a.month')) }} as frequency
    from activity as a
    left join core_used as c
        on c.account_id = a.account_id
        and c.month = a.month
    inner join core_available as k
        on k.month = a.month

),

scored as (

    select
        *,
        case
            when events_per_active_user / depth_target >= 1 then 1.0
            else events_per_active_user / depth_target
        end as depth
    from components

)

select
    account_id,
    month,
    days_in_month,
    active_users,
    events,
    active_days,
    core_features_used,
    core_features,
    breadth,
    events_per_active_user,
    depth_target,
    depth,
    frequency,
    100 * (0.4 * breadth + 0.3 * depth + 0.3 * frequency) as engagement_score
from scored
