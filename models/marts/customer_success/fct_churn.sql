-- Churn per month × segment × tier (GTM-METRICS.md "Customer success").
--   logo churn rate    = accounts with a churn movement in m
--                        / accounts with MRR > 0 at the end of m − 1
--   revenue churn rate = −(churn + contraction) / starting MRR
-- Both NULL when the denominator is 0 (sluice.safe_divide). Segment and tier are the
-- account's current ones (as in fct_mrr). A row exists for every month and
-- segment × tier that has at least one account row in fct_mrr that month (an account
-- has rows from its first paid month on, MRR 0 after churning), so a segment × tier
-- whose only accounts are new that month has 0 starting logos and NULL rates.
-- The reason breakdown of the same churns is fct_churn_reasons.

select
    month,
    segment,
    tier,
    sum(case when previous_mrr > 0 then 1 else 0 end) as starting_logos,
    sum(case when movement = 'churn' then 1 else 0 end) as churned_logos,
    sum(previous_mrr) as starting_mrr,
    sum(contraction_mrr) as contraction_mrr,
    sum(churn_mrr) as churn_mrr,
    {{ sluice.safe_divide(
        "sum(case when movement = 'churn' then 1 else 0 end)",
        'sum(case when previous_mrr > 0 then 1 else 0 end)'
    ) }} as logo_churn_rate,
    {{ sluice.safe_divide('-(sum(churn_mrr) + sum(contraction_mrr))', 'sum(previous_mrr)') }} as revenue_churn_rate
from {{ ref('fct_mrr') }}
group by month, segment, tier
