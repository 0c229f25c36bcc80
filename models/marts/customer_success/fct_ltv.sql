-- Customer lifetime value by segment and overall (GTM-METRICS.md "LTV"), pooled over
-- the trailing 12 months ending at the last complete month (the month whose last day
-- is on or before var('as_of_date'); 2025-06 for as_of_date 2025-06-30):
--   ARPA              = Σ MRR / Σ paying account-months (account-months with MRR > 0)
--   monthly churn     = Σ churned logos / Σ logos paying at the prior month-ends
--                       (one pooled ratio over the 12 months, not a mean of rates)
--   LTV               = ARPA × gross margin / monthly churn
-- gross margin = var('gross_margin', 0.80). No churn in the window → churn rate 0 →
-- LTV NULL (sluice.safe_divide), never infinite. One row per segment (its accounts'
-- current segment) plus one row with segment 'All' over every account.

{%- set as_of = as_of_date() %}
{%- set last_month = last_complete_month() %}

with window_months as (

    select
        {{ last_month }} as window_end_month,
        {{ t12_window_start() }} as window_start_month

),

account_months as (

    select
        f.segment,
        f.mrr,
        f.previous_mrr,
        f.movement,
        w.window_start_month,
        w.window_end_month
    from {{ ref('fct_mrr') }} as f
    cross join window_months as w
    where f.month >= w.window_start_month
      and f.month <= w.window_end_month

),

by_scope as (

    select
        segment,
        min(window_start_month) as window_start_month,
        min(window_end_month) as window_end_month,
        sum(mrr) as total_mrr,
        sum(case when mrr > 0 then 1 else 0 end) as paying_account_months,
        sum(case when movement = 'churn' then 1 else 0 end) as churned_logos,
        sum(case when previous_mrr > 0 then 1 else 0 end) as starting_logo_months
    from account_months
    group by segment

    union all

    select
        'All' as segment,
        min(window_start_month) as window_start_month,
        min(window_end_month) as window_end_month,
        sum(mrr) as total_mrr,
        sum(case when mrr > 0 then 1 else 0 end) as paying_account_months,
        sum(case when movement = 'churn' then 1 else 0 end) as churned_logos,
        sum(case when previous_mrr > 0 then 1 else 0 end) as starting_logo_months
    from account_months
    having count(*) > 0

)

select * from (
{{ pooled_ltv('segment', 'by_scope') }}
) as ltv
