-- Multi-step workflow funnel (GTM-METRICS.md "Funnel"), one row per step of
-- var('product_funnel_steps') (event names, in order; default Data Source Connected →
-- Report Generated → Dashboard Created → Dashboard Shared), over every account and
-- all product events through var('as_of_date'). Sequential, in order:
--   step 1 is reached at the account's first step-1 event;
--   step k + 1 is reached at the first step-(k + 1) event that comes after the event
--   that reached step k (later occurred_at, or the same instant and a higher
--   event_id: ties are broken by id) and at most 7 days (7 × 24 h) after it.
-- So "the account's first step k" is the step-k event that reached step k; a step
-- done before the previous one (out of order) or more than 7 days later never counts.
--   conversion_from_previous_step = accounts reaching step k / reaching step k − 1
--   conversion_from_first_step    = accounts reaching step k / reaching step 1
-- Both are NULL when the denominator is 0; step 1 has no previous step (NULL).

{%- set steps = var('product_funnel_steps', ['Data Source Connected', 'Report Generated', 'Dashboard Created', 'Dashboard Shared']) %}
{%- if steps is string or steps | length < 2 %}
{{ exceptions.raise_compiler_error('fct_product_funnel: var product_funnel_steps must be a list of at least two event names, not ' ~ steps) }}
{%- endif %}
{%- set window_seconds = 7 * 24 * 60 * 60 %}

with events as (

    select account_id, event_id, event_name, occurred_at
    from {{ ref('stg_product_events') }}
    where event_date <= {{ as_of_date() }}
      and event_name in ({% for s in steps %}{{ dbt.string_literal(s) }}{% if not loop.last %}, {% endif %}{% endfor %})

),

step_1 as (

    select account_id, step_at, step_event_id
    from (
        select
            account_id,
            occurred_at as step_at,
            event_id as step_event_id,
            row_number() over (partition by account_id order by occurred_at, event_id) as step_rank
        from events
        where event_name = {{ dbt.string_literal(steps[0]) }}
    ) as firsts
    where step_rank = 1

),
{%- for s in steps[1:] %}
{%- set k = loop.index + 1 %}

step_{{ k }} as (

    select account_id, step_at, step_event_id
    from (
        select
            e.account_id,
            e.occurred_at as step_at,
            e.event_id as step_event_id,
            row_number() over (partition by e.account_id order by e.occurred_at, e.event_id) as step_rank
        from step_{{ k - 1 }} as p
        inner join events as e
            on e.account_id = p.account_id
            and e.event_name = {{ dbt.string_literal(s) }}
            and (e.occurred_at > p.step_at or (e.occurred_at = p.step_at and e.event_id > p.step_event_id))
            and {{ dbt.datediff('p.step_at', 'e.occurred_at', 'second') }} <= {{ window_seconds }}
    ) as nexts
    where step_rank = 1

),
{%- endfor %}

reached as (
{%- for s in steps %}

    select
        {{ loop.index }} as step_number,
        {{ dbt.string_literal(s) }} as step_event,
        count(*) as accounts_reached
    from step_{{ loop.index }}
    {%- if not loop.last %}

    union all
    {%- endif %}
{%- endfor %}

)

select
    step_number,
    step_event,
    accounts_reached,
    {{ sluice.safe_divide('accounts_reached', 'lag(accounts_reached) over (order by step_number)') }} as conversion_from_previous_step,
    {{ sluice.safe_divide('accounts_reached', 'first_value(accounts_reached) over (order by step_number)') }} as conversion_from_first_step
from reached
