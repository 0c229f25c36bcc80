-- 90-day user retention by signup week (GTM-METRICS.md "90-day retention cohort"),
-- one row per signup week (Monday to Sunday, from stg_users.signup_date, the UTC date
-- of signed_up_at) with at least one user signed up on or before var('as_of_date').
-- Day 0 is the user's signup date; a user is retained when they have any product
-- event (UTC event date) on days 84 … 90 inclusive.
--   retention_90d = retained users / users in the cohort
-- A cohort has its 91 days of data (days 0 … 90 of every day of the week) when the
-- week starts on or after the first day of product event data and its Sunday + 90
-- days is on or before var('as_of_date'); otherwise retained_users and
-- retention_90d are NULL (has_full_window false).

with events as (

    select user_id, event_date
    from {{ ref('stg_product_events') }}
    where event_date <= {{ as_of_date() }}

),

data_start as (

    select min(event_date) as first_event_date from events

),

users as (

    select
        user_id,
        signup_date,
        {{ week_start('signup_date') }} as cohort_week
    from {{ ref('stg_users') }}
    where signup_date <= {{ as_of_date() }}

),

retained as (

    select distinct u.user_id
    from users as u
    inner join events as e
        on e.user_id = u.user_id
        and e.event_date >= cast({{ dbt.dateadd('day', 84, 'u.signup_date') }} as date)
        and e.event_date <= cast({{ dbt.dateadd('day', 90, 'u.signup_date') }} as date)

),

cohorts as (

    select
        u.cohort_week,
        count(*) as cohort_users,
        count(r.user_id) as retained_users_observed
    from users as u
    left join retained as r
        on r.user_id = u.user_id
    group by u.cohort_week

),

windows as (

    select
        c.*,
        (
            c.cohort_week >= d.first_event_date
            and cast({{ dbt.dateadd('day', 96, 'c.cohort_week') }} as date) <= {{ as_of_date() }}
        ) as has_full_window
    from cohorts as c
    cross join data_start as d

)

select
    cohort_week,
    cast({{ dbt.dateadd('day', 6, 'cohort_week') }} as date) as cohort_week_end,
    cohort_users,
    has_full_window,
    case when has_full_window then retained_users_observed end as retained_users,
    case when has_full_window then {{ sluice.safe_divide('retained_users_observed', 'cohort_users') }} end as retention_90d
from windows
