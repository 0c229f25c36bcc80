-- Churned logos and churned MRR per month × segment × tier × reason: every churn
-- movement of fct_mrr, with its reason from stg_churn_reasons.
-- A reason row is mapped to the churn month of its account: churned_on is the
-- cancelled subscription's end_date (its first day out of service), so the account's
-- MRR is 0 at the end of the month containing churned_on, which is the month the
-- churn movement is booked in. Churn month = date_trunc('month', churned_on), matched
-- on account_id. A churn with no reason row is 'unknown'. Were two reason rows to map
-- to the same account-month (two main subscriptions cancelled in one month), the one
-- with the latest churned_on wins, ties to the higher churn_reason_id (the later
-- row), so each churn counts exactly once. Reason rows that match no churn movement
-- (cancellations before the first snapshot month or after the last complete month)
-- are left out.

with churns as (

    select account_id, month, segment, tier, churn_mrr
    from {{ ref('fct_mrr') }}
    where movement = 'churn'

),

reasons as (

    select
        account_id,
        cast({{ dbt.date_trunc('month', 'churned_on') }} as date) as churn_month,
        reason,
        row_number() over (
            partition by account_id, cast({{ dbt.date_trunc('month', 'churned_on') }} as date)
            order by churned_on desc, churn_reason_id desc
        ) as reason_rank
    from {{ ref('stg_churn_reasons') }}

)

select
    c.month,
    c.segment,
    c.tier,
    coalesce(r.reason, 'unknown') as reason,
    count(*) as churned_logos,
    sum(c.churn_mrr) as churn_mrr
from churns as c
left join reasons as r
    on r.account_id = c.account_id
    and r.churn_month = c.month
    and r.reason_rank = 1
group by c.month, c.segment, c.tier, coalesce(r.reason, 'unknown')
