-- Logo and revenue retention per first-paid cohort × months since (GTM-METRICS.md
-- "Cohort retention"). The cohort of an account is the month of its first MRR > 0;
-- cohort size is fixed at the number of those accounts. For k = 0, 1, ... through
-- the last complete month:
--   logo retention    = cohort accounts with MRR > 0 at k / cohort size
--   revenue retention = cohort MRR at k / cohort MRR at k = 0
-- Accounts that churn stay in the cohort with MRR 0, so retained ≤ cohort size, and a
-- reactivation makes retention rise again. Revenue retention counts expansion
-- (it can exceed 1); logo retention is a proportion.

with mrr as (

    select account_id, month, mrr
    from {{ ref('fct_mrr') }}

),

first_paid as (

    select account_id, min(month) as cohort_month
    from mrr
    where mrr > 0
    group by account_id

),

cohorts as (

    select
        fp.cohort_month,
        count(*) as cohort_size,
        sum(m.mrr) as cohort_starting_mrr
    from first_paid as fp
    inner join mrr as m
        on m.account_id = fp.account_id
        and m.month = fp.cohort_month
    group by fp.cohort_month

),

by_month as (

    select
        fp.cohort_month,
        m.month,
        sum(case when m.mrr > 0 then 1 else 0 end) as retained_logos,
        sum(m.mrr) as cohort_mrr
    from first_paid as fp
    inner join mrr as m
        on m.account_id = fp.account_id
        and m.month >= fp.cohort_month
    group by fp.cohort_month, m.month

)

select
    b.cohort_month,
    cast({{ dbt.datediff('b.cohort_month', 'b.month', 'month') }} as {{ dbt.type_int() }}) as months_since,
    b.month,
    c.cohort_size,
    b.retained_logos,
    c.cohort_starting_mrr,
    b.cohort_mrr,
    {{ sluice.safe_divide('b.retained_logos', 'c.cohort_size') }} as logo_retention,
    {{ sluice.safe_divide('b.cohort_mrr', 'c.cohort_starting_mrr') }} as revenue_retention
from by_month as b
inner join cohorts as c
    on c.cohort_month = b.cohort_month
