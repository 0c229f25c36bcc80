-- Revenue and logo retention per month (GTM-METRICS.md "Customer success").
-- Monthly, from the movements of fct_mrr (new and reactivation never count):
--   GRR = (starting + contraction + churn) / starting
--   NRR = (starting + expansion + contraction + churn) / starting
--   logo churn rate = churned logos / logos paying at the end of m − 1
--   revenue churn rate = −(churn + contraction) / starting
-- Trailing 12 months, cohort method: the cohort of month m is the accounts with
-- MRR > 0 at the end of m − 12; over the cohort
--   NRR_t12 = Σ MRR_m / Σ MRR_{m−12}
--   GRR_t12 = Σ min(MRR_m, MRR_{m−12}) / Σ MRR_{m−12}
-- An account's MRR at m is 0 where it has no row. When m − 12 lies before the data
-- (or nobody paid then) the cohort is empty, its MRR 0, and both ratios are NULL.
-- Every ratio goes through sluice.safe_divide: a 0 denominator gives NULL.

with mrr as (

    select account_id, month, mrr, previous_mrr, movement,
           expansion_mrr, contraction_mrr, churn_mrr, new_mrr, reactivation_mrr
    from {{ ref('fct_mrr') }}

),

monthly as (

    select
        month,
        sum(previous_mrr) as starting_mrr,
        sum(new_mrr) as new_mrr,
        sum(reactivation_mrr) as reactivation_mrr,
        sum(expansion_mrr) as expansion_mrr,
        sum(contraction_mrr) as contraction_mrr,
        sum(churn_mrr) as churn_mrr,
        sum(mrr) as ending_mrr,
        sum(case when previous_mrr > 0 then 1 else 0 end) as starting_logos,
        sum(case when movement = 'churn' then 1 else 0 end) as churned_logos
    from mrr
    group by month

),

-- each cohort member (MRR > 0 at the end of base_month) against its MRR twelve
-- months later; months past the last one in the data drop out in the join below
cohort_members as (

    select
        base.account_id,
        cast({{ dbt.dateadd('month', 12, 'base.month') }} as date) as month,
        base.mrr as base_mrr
    from mrr as base
    where base.mrr > 0

),

t12 as (

    select
        m.month,
        count(*) as t12_cohort_logos,
        sum(cm.base_mrr) as t12_cohort_starting_mrr,
        sum(coalesce(cur.mrr, 0)) as t12_cohort_mrr,
        sum(case
            when coalesce(cur.mrr, 0) < cm.base_mrr then coalesce(cur.mrr, 0)
            else cm.base_mrr
        end) as t12_cohort_retained_mrr
    from monthly as m
    inner join cohort_members as cm
        on cm.month = m.month
    left join mrr as cur
        on cur.account_id = cm.account_id
        and cur.month = cm.month
    group by m.month

)

select
    m.month,
    m.starting_mrr,
    m.new_mrr,
    m.reactivation_mrr,
    m.expansion_mrr,
    m.contraction_mrr,
    m.churn_mrr,
    m.ending_mrr,
    m.starting_logos,
    m.churned_logos,
    {{ sluice.safe_divide('m.starting_mrr + m.contraction_mrr + m.churn_mrr', 'm.starting_mrr') }} as grr,
    {{ sluice.safe_divide('m.starting_mrr + m.expansion_mrr + m.contraction_mrr + m.churn_mrr', 'm.starting_mrr') }} as nrr,
    {{ sluice.safe_divide('m.churned_logos', 'm.starting_logos') }} as logo_churn_rate,
    {{ sluice.safe_divide('-(m.churn_mrr + m.contraction_mrr)', 'm.starting_mrr') }} as revenue_churn_rate,
    coalesce(t.t12_cohort_logos, 0) as t12_cohort_logos,
    coalesce(t.t12_cohort_starting_mrr, 0) as t12_cohort_starting_mrr,
    coalesce(t.t12_cohort_mrr, 0) as t12_cohort_mrr,
    coalesce(t.t12_cohort_retained_mrr, 0) as t12_cohort_retained_mrr,
    {{ sluice.safe_divide('t.t12_cohort_mrr', 't.t12_cohort_starting_mrr') }} as nrr_t12,
    {{ sluice.safe_divide('t.t12_cohort_retained_mrr', 't.t12_cohort_starting_mrr') }} as grr_t12
from monthly as m
left join t12 as t
    on t.month = m.month
