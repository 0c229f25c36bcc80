-- MRR per account × month with its signed movement (GTM-METRICS.md "Movements").
-- previous_mrr is the account's MRR at the previous month-end (0 before its first
-- paid month). Exactly one movement where MRR changed, none where it did not:
--   new           previous = 0 < mrr, never paid at an earlier month-end  → +mrr
--   reactivation  previous = 0 < mrr, paid at an earlier month-end        → +mrr
--   expansion     0 < previous < mrr                                      → mrr − previous
--   contraction   0 < mrr < previous                                      → mrr − previous (< 0)
--   churn         previous > 0 = mrr (the first zero month)               → −previous
-- Segment, tier and region are the account's current ones, for every month.

with account_mrr as (

    select
        account_id,
        month,
        mrr,
        coalesce(lag(mrr) over (partition by account_id order by month), 0) as previous_mrr,
        coalesce(
            max(case when mrr > 0 then 1 else 0 end) over (
                partition by account_id
                order by month
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as paid_before
    from {{ ref('int_account_mrr') }}

),

classified as (

    select
        account_id,
        month,
        mrr,
        previous_mrr,
        case
            when previous_mrr = 0 and mrr > 0 and paid_before = 0 then 'new'
            when previous_mrr = 0 and mrr > 0 then 'reactivation'
            when previous_mrr > 0 and mrr > previous_mrr then 'expansion'
            when previous_mrr > mrr and mrr > 0 then 'contraction'
            when previous_mrr > 0 and mrr = 0 then 'churn'
        end as movement
    from account_mrr

)

select
    c.account_id,
    c.month,
    a.segment,
    a.tier,
    a.region,
    c.mrr,
    c.previous_mrr,
    c.movement,
    c.mrr - c.previous_mrr as movement_mrr,
    case when c.movement = 'new' then c.mrr else 0 end as new_mrr,
    case when c.movement = 'reactivation' then c.mrr else 0 end as reactivation_mrr,
    case when c.movement = 'expansion' then c.mrr - c.previous_mrr else 0 end as expansion_mrr,
    case when c.movement = 'contraction' then c.mrr - c.previous_mrr else 0 end as contraction_mrr,
    case when c.movement = 'churn' then -c.previous_mrr else 0 end as churn_mrr
from classified as c
left join {{ ref('stg_accounts') }} as a
    on a.account_id = c.account_id
