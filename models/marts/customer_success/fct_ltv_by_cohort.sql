-- LTV by cohort (GTM-METRICS.md "LTV ... by cohort: the same formula restricted to
-- them"), with the pooled trailing-12-month inputs of fct_ltv. The cohort of an
-- account is the calendar year of its first month with MRR > 0 (monthly cohorts are
-- too small to give a churn rate); cohort_year is the first day of that year.
--   ARPA = Σ MRR / Σ paying account-months, churn = Σ churned logos / Σ logos paying
--   at the prior month-ends, LTV = ARPA × gross margin / churn (NULL without churn).

{%- set as_of = as_of_date() %}
{%- set last_month = last_complete_month() %}

with first_paid as (

    select
        account_id,
        cast({{ dbt.date_trunc('year', 'min(month)') }} as date) as cohort_year
    from {{ ref('fct_mrr') }}
    where mrr > 0
    group by account_id

),

window_months as (

    select
        {{ last_month }} as window_end_month,
        {{ t12_window_start() }} as window_start_month

),

by_cohort as (

    select
        c.cohort_year,
        min(w.window_start_month) as window_start_month,
        min(w.window_end_month) as window_end_month,
        sum(f.mrr) as total_mrr,
        sum(case when f.mrr > 0 then 1 else 0 end) as paying_account_months,
        sum(case when f.movement = 'churn' then 1 else 0 end) as churned_logos,
        sum(case when f.previous_mrr > 0 then 1 else 0 end) as starting_logo_months
    from {{ ref('fct_mrr') }} as f
    inner join first_paid as c
        on c.account_id = f.account_id
    cross join window_months as w
    where f.month >= w.window_start_month
      and f.month <= w.window_end_month
    group by c.cohort_year

)

select * from (
{{ pooled_ltv('cohort_year', 'by_cohort') }}
) as ltv
