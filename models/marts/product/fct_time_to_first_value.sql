-- Time to first value by signup cohort (GTM-METRICS.md "Time to first value"): for
-- each account, the days from its signup date to the UTC date of its first
-- activation event (the event named by var('activation_event'), default
-- 'Report Generated'); per cohort (the calendar month of the account's signup), the
-- median of those days over the accounts that reached it, through var('as_of_date').
-- Only accounts that signed up on or after the first day of product event data are
-- counted: an older account's first activation may predate the data. Cohorts run
-- from that day's month through the last complete month. The median of an even
-- count is the mean of the two middle values; it is computed from row numbers so it
-- is exact and the same on every target (BigQuery has no median aggregate).

{%- set activation_event = var('activation_event', 'Report Generated') %}

with events as (

    select account_id, event_name, event_date
    from {{ ref('stg_product_events') }}
    where event_date <= {{ as_of_date() }}

),

data_start as (

    select min(event_date) as first_event_date from events

),

accounts as (

    select
        a.account_id,
        a.signup_date,
        cast({{ dbt.date_trunc('month', 'a.signup_date') }} as date) as cohort_month
    from {{ ref('stg_accounts') }} as a
    cross join data_start as d
    where a.signup_date >= d.first_event_date
      and a.signup_date < cast({{ dbt.dateadd('month', 1, last_complete_month()) }} as date)

),

first_value as (

    select account_id, min(event_date) as first_value_date
    from events
    where event_name = {{ dbt.string_literal(activation_event) }}
    group by account_id

),

account_days as (

    select
        a.cohort_month,
        a.account_id,
        cast({{ dbt.datediff('a.signup_date', 'f.first_value_date', 'day') }} as {{ dbt.type_int() }}) as days_to_first_value
    from accounts as a
    left join first_value as f
        on f.account_id = a.account_id

),

ranked as (

    select
        cohort_month,
        days_to_first_value,
        row_number() over (
            partition by cohort_month
            order by days_to_first_value, account_id
        ) as value_rank,
        count(*) over (partition by cohort_month) as activated_in_cohort
    from account_days
    where days_to_first_value is not null

),

medians as (

    -- the middle row (odd count) or the two middle rows (even count): 2 × rank is
    -- n + 1, or n and n + 2
    select
        cohort_month,
        avg(cast(days_to_first_value as {{ sluice.type_double() }})) as median_days_to_first_value
    from ranked
    where 2 * value_rank in (activated_in_cohort, activated_in_cohort + 1, activated_in_cohort + 2)
    group by cohort_month

),

cohorts as (

    select
        cohort_month,
        count(*) as signed_up_accounts,
        count(days_to_first_value) as activated_accounts
    from account_days
    group by cohort_month

)

select
    c.cohort_month,
    {{ dbt.string_literal(activation_event) }} as activation_event,
    c.signed_up_accounts,
    c.activated_accounts,
    {{ sluice.safe_divide('c.activated_accounts', 'c.signed_up_accounts') }} as activation_rate,
    m.median_days_to_first_value
from cohorts as c
left join medians as m
    on m.cohort_month = c.cohort_month
