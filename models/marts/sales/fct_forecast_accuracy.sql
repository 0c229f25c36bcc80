-- Forecast accuracy, variance and bias per rep × month (GTM-METRICS.md "Forecast
-- accuracy").
--   F = the amount of the rep's last `commit` submission for the month submitted
--       before the month starts (submitted_at < the month's first instant, 00:00:00
--       UTC; one at exactly 00:00:00 on the 1st or later is ignored, as are the
--       best_case and pipeline categories); the last = latest submitted_at, ties:
--       higher forecast_submission_id. No such submission → F NULL (never 0).
--   A = the rep's closed-won amount in the month: opportunities owned by the rep,
--       is_won, closed_at in the month (final close, as in fct_win_rates).
--   accuracy = 1 − |F − A| / A; bias = (F − A) / A; both NULL when A = 0 or F is NULL.
--   variance = F − A; NULL when F is NULL (defined when A = 0: the whole commit missed).
-- Accuracy is at most 1 and can be negative (|F − A| > A). Rows: every rep × month
-- from var('sales_start_month') through the last complete month in which the rep was
-- employed for at least a day (hired_on <= month end, terminated_on — the first day
-- not employed — after the month's first day), plus any other rep-month with a won
-- opportunity or a commit forecast counted as F, so Σ A is every won amount.

with months as (

    {{ sales_months() }}

),

commits as (

    select
        m.month,
        f.rep_id,
        f.forecast_submission_id,
        f.submitted_at,
        f.amount,
        row_number() over (
            partition by f.rep_id, m.month
            order by f.submitted_at desc, f.forecast_submission_id desc
        ) as recency
    from months as m
    inner join {{ ref('stg_forecast_submissions') }} as f
        on f.forecast_month = m.month
        and f.submitted_at < m.month_start_at
    where f.category = 'commit'

),

forecasts as (

    select month, rep_id, forecast_submission_id, submitted_at, amount
    from commits
    where recency = 1

),

won as (

    select
        m.month,
        o.owner_rep_id as rep_id,
        count(*) as won_opportunities,
        sum(o.amount) as won_amount
    from months as m
    inner join {{ ref('stg_opportunities') }} as o
        on o.closed_at >= m.month_start_at
        and o.closed_at < m.month_end_at
    where o.is_won
    group by m.month, o.owner_rep_id

),

employed as (

    select m.month, r.rep_id
    from months as m
    inner join {{ ref('stg_reps') }} as r
        on r.hired_on < cast(m.month_end_at as date)
        and (r.terminated_on is null or r.terminated_on > m.month)

),

rep_months as (

    select distinct month, rep_id
    from (
        select month, rep_id from employed
        union all
        select month, rep_id from won
        union all
        select month, rep_id from forecasts
    ) as keys

),

joined as (

    select
        rm.rep_id,
        r.team,
        rm.month,
        f.forecast_submission_id,
        f.submitted_at as forecast_submitted_at,
        f.amount as forecast_amount,
        coalesce(w.won_opportunities, 0) as won_opportunities,
        coalesce(w.won_amount, 0) as won_amount
    from rep_months as rm
    left join {{ ref('stg_reps') }} as r
        on r.rep_id = rm.rep_id
    left join forecasts as f
        on f.rep_id = rm.rep_id
        and f.month = rm.month
    left join won as w
        on w.rep_id = rm.rep_id
        and w.month = rm.month

)

select
    *,
    forecast_amount - won_amount as forecast_variance,
    {{ sluice.safe_divide('forecast_amount - won_amount', 'won_amount') }} as forecast_bias,
    1 - {{ sluice.safe_divide('abs(forecast_amount - won_amount)', 'won_amount') }} as forecast_accuracy
from joined
