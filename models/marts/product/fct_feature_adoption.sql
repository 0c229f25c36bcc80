-- Feature adoption within 30 days of release (GTM-METRICS.md "Feature adoption"),
-- one row per feature of the feature releases seed. The window is the release day
-- and the 29 days after it (released_on … released_on + 29, UTC event dates):
--   adopting_accounts = accounts with at least one event of the feature (its
--                       event_name) in the window
--   active_accounts   = accounts with at least one event of any kind in the window
--   adoption_rate     = adopting_accounts / active_accounts
-- The rate is NULL unless the whole window lies within the product event data (from
-- the first day with any event through var('as_of_date')): a feature released
-- before the data (or less than 30 days before as_of_date) has no complete window.

with events as (

    select account_id, event_name, event_date
    from {{ ref('stg_product_events') }}
    where event_date <= {{ as_of_date() }}

),

data_start as (

    select min(event_date) as first_event_date from events

),

features as (

    select
        f.feature_id,
        f.feature_name,
        f.event_name,
        f.is_core,
        f.released_on,
        cast({{ dbt.dateadd('day', 29, 'f.released_on') }} as date) as window_end
    from {{ ref('stg_feature_releases') }} as f

),

window_events as (

    select
        f.feature_id,
        e.account_id,
        case when e.event_name = f.event_name then 1 else 0 end as is_feature_event
    from features as f
    inner join events as e
        on e.event_date >= f.released_on
        and e.event_date <= f.window_end

),

counts as (

    select
        feature_id,
        count(distinct account_id) as active_accounts,
        count(distinct case when is_feature_event = 1 then account_id end) as adopting_accounts
    from window_events
    group by feature_id

)

select
    f.feature_id,
    f.feature_name,
    f.event_name,
    f.is_core,
    f.released_on,
    f.window_end,
    (f.released_on >= d.first_event_date and f.window_end <= {{ as_of_date() }}) as has_full_window,
    coalesce(c.adopting_accounts, 0) as adopting_accounts,
    coalesce(c.active_accounts, 0) as active_accounts,
    case
        when f.released_on >= d.first_event_date and f.window_end <= {{ as_of_date() }}
        then {{ sluice.safe_divide('coalesce(c.adopting_accounts, 0)', 'c.active_accounts') }}
    end as adoption_rate
from features as f
cross join data_start as d
left join counts as c
    on c.feature_id = f.feature_id
