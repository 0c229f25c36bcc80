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

{%- set as_of = "cast('" ~ var('as_of_date') ~ "' as date)" %}
{%- set last_month = "cast(" ~ dbt.dateadd('month', -1, "cast(" ~ dbt.date_trunc('month', dbt.dateadd('day', 1, as_of)) ~ " as date)") ~ " as date)" %}

with window_months as (

    select
        {{ last_month }} as window_end_month,
        cast({{ dbt.dateadd('month', -11, last_month) }} as date) as window_start_month

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

),

rates as (

    select
        segment,
        window_start_month,
        window_end_month,
        total_mrr,
        paying_account_months,
        churned_logos,
        starting_logo_months,
        {{ sluice.safe_divide('total_mrr', 'paying_account_months') }} as arpa,
        {{ sluice.safe_divide('churned_logos', 'starting_logo_months') }} as monthly_logo_churn_rate
    from by_scope

)

select
    segment,
    window_start_month,
    window_end_month,
    total_mrr,
    paying_account_months,
    churned_logos,
    starting_logo_months,
    arpa,
    cast({{ var('gross_margin', 0.80) }} as {{ dbt.type_float() }}) as gross_margin,
    monthly_logo_churn_rate,
    {{ sluice.safe_divide('arpa * ' ~ var('gross_margin', 0.80), 'monthly_logo_churn_rate') }} as ltv
from rates
