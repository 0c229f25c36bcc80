-- Pipeline velocity per month, in USD per day (GTM-METRICS.md "Pipeline velocity"):
--   velocity = open opportunities at the month's start
--              × win rate (count) × average deal size / sales cycle days
-- with the three rates pooled over the trailing window: the
-- var('sales_trailing_months') (12) complete months before the month starts,
-- m − 12 … m − 1, so every input is known at the month's start (the month itself is
-- not in its own window). Over the window's closes (closed_at in the window, final
-- close as in fct_win_rates): win rate = won / (won + lost); average deal size =
-- Σ won amount / won; sales cycle = Σ days created → closed of the won (calendar-day
-- boundaries) / won. Pooled means, not means of monthly rates.
-- Open at the month's start: d = the month's first instant (00:00:00 UTC, the same
-- instant as the previous month's pipeline snapshot), created_at <= d and
-- (closed_at is null or closed_at > d), and the stage as of d (the last history row
-- entered at or before d, ties: higher stage_history_id) is an open stage.
-- NULL when a rate is undefined (no close or no win in the window) or the sales cycle
-- is 0 days. One row per month from var('sales_start_month') through the last
-- complete month.

{%- set window_months = var('sales_trailing_months', 12) %}

with months as (

    select
        month,
        month_start_at,
        cast({{ dbt.dateadd('month', -window_months, 'month_start_at') }} as {{ dbt.type_timestamp() }}) as window_start_at
    from ({{ sales_months() }}) as m

),

stage_at_start as (

    select
        m.month,
        o.opportunity_id,
        h.stage,
        row_number() over (
            partition by m.month, o.opportunity_id
            order by h.entered_at desc, h.stage_history_id desc
        ) as recency
    from months as m
    inner join {{ ref('stg_opportunities') }} as o
        on o.created_at <= m.month_start_at
        and (o.closed_at is null or o.closed_at > m.month_start_at)
    inner join {{ ref('stg_opportunity_stage_history') }} as h
        on h.opportunity_id = o.opportunity_id
        and h.entered_at <= m.month_start_at

),

open_at_start as (

    select s.month, count(*) as open_opportunities
    from stage_at_start as s
    inner join {{ ref('stg_opportunity_stages') }} as st
        on st.stage = s.stage
    where s.recency = 1
      and not st.is_closed
    group by s.month

),

window_closes as (

    select
        m.month,
        count(*) as closed_opportunities,
        sum(case when o.is_won then 1 else 0 end) as won_opportunities,
        sum(case when o.is_won then o.amount else 0 end) as won_amount,
        sum(case when o.is_won then {{ dbt.datediff('o.created_at', 'o.closed_at', 'day') }} end) as won_days_to_close
    from months as m
    inner join {{ ref('stg_opportunities') }} as o
        on o.closed_at >= m.window_start_at
        and o.closed_at < m.month_start_at
    where o.is_closed
    group by m.month

),

rates as (

    select
        m.month,
        cast(m.window_start_at as date) as window_start_month,
        cast({{ dbt.dateadd('month', -1, 'm.month_start_at') }} as date) as window_end_month,
        coalesce(s.open_opportunities, 0) as open_opportunities_at_start,
        coalesce(w.closed_opportunities, 0) as t12_closed_opportunities,
        coalesce(w.won_opportunities, 0) as t12_won_opportunities,
        coalesce(w.won_amount, 0) as t12_won_amount,
        {{ sluice.safe_divide('w.won_opportunities', 'w.closed_opportunities') }} as t12_win_rate_count,
        {{ sluice.safe_divide('w.won_amount', 'w.won_opportunities') }} as t12_avg_deal_size,
        {{ sluice.safe_divide('w.won_days_to_close', 'w.won_opportunities') }} as t12_avg_sales_cycle_days
    from months as m
    left join open_at_start as s
        on s.month = m.month
    left join window_closes as w
        on w.month = m.month

)

select
    *,
    {{ sluice.safe_divide('open_opportunities_at_start * t12_win_rate_count * t12_avg_deal_size', 't12_avg_sales_cycle_days') }} as pipeline_velocity
from rates
