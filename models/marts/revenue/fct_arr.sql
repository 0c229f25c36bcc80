-- ARR per month (GTM-METRICS.md "ARR"): 12 × MRR at every grain, with the same
-- movements and the growth rate, computed from the account × month MRR model.

select
    month,
    12 * sum(previous_mrr) as starting_arr,
    12 * sum(new_mrr) as new_arr,
    12 * sum(reactivation_mrr) as reactivation_arr,
    12 * sum(expansion_mrr) as expansion_arr,
    12 * sum(contraction_mrr) as contraction_arr,
    12 * sum(churn_mrr) as churn_arr,
    12 * sum(mrr) as ending_arr,
    {{ sluice.safe_divide('sum(mrr) - sum(previous_mrr)', 'sum(previous_mrr)') }} as arr_growth_rate
from {{ ref('fct_mrr') }}
group by month
