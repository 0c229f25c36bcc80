-- The MRR bridge per month (GTM-METRICS.md "MRR bridge"): starting = Σ MRR at the
-- previous month-end, ending = Σ MRR at this month-end, and
-- ending = starting + new + reactivation + expansion + contraction + churn.
-- Logos: paying accounts at the two month-ends, and the accounts behind each movement.

select
    month,
    sum(previous_mrr) as starting_mrr,
    sum(new_mrr) as new_mrr,
    sum(reactivation_mrr) as reactivation_mrr,
    sum(expansion_mrr) as expansion_mrr,
    sum(contraction_mrr) as contraction_mrr,
    sum(churn_mrr) as churn_mrr,
    sum(mrr) as ending_mrr,
    {{ sluice.safe_divide('sum(mrr) - sum(previous_mrr)', 'sum(previous_mrr)') }} as mrr_growth_rate,
    sum(case when previous_mrr > 0 then 1 else 0 end) as starting_logos,
    sum(case when movement = 'new' then 1 else 0 end) as new_logos,
    sum(case when movement = 'reactivation' then 1 else 0 end) as reactivated_logos,
    sum(case when movement = 'churn' then 1 else 0 end) as churned_logos,
    sum(case when mrr > 0 then 1 else 0 end) as ending_logos
from {{ ref('fct_mrr') }}
group by month
