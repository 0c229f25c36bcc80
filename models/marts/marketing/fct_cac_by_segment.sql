-- CAC, payback and LTV:CAC by segment (GTM-METRICS.md "CAC"), over the trailing 12
-- months ending with the last complete month — the window of fct_ltv, whose LTV is
-- used, so CAC, payback and LTV:CAC share one window:
--   new_customers   accounts with a `new` movement in fct_mrr in the window, by their
--                   current segment (reactivations are never new)
--   sales_expense   Σ stg_sm_expenses.amount of department 'sales' for the segment
--                   (its sales team), expense_month in the window
--   sm_expense      the expense in the CAC numerator. A segment row takes its sales
--                   team's expense only: marketing spend carries a channel, not a
--                   segment, and is not allocated (marketing_expense is NULL there).
--                   The 'All' row is fully loaded: every sales and marketing expense.
--   cac             sm_expense / new_customers
--   payback_months  cac / (mean new MRR of those customers × gross margin)
--   ltv_to_cac      fct_ltv.ltv of the same segment / cac (NULL when LTV is NULL)
-- One row per segment plus 'All'.

{%- set last_month = last_complete_month() %}

with window_months as (

    select
        {{ t12_window_start() }} as window_start_month,
        {{ last_month }} as window_end_month

),

new_customers as (

    select
        f.segment,
        count(*) as new_customers,
        sum(f.new_mrr) as new_mrr
    from {{ ref('fct_mrr') }} as f
    cross join window_months as w
    where f.movement = 'new'
      and f.month >= w.window_start_month
      and f.month <= w.window_end_month
    group by f.segment

),

expense as (

    select
        e.department,
        e.segment,
        e.amount
    from {{ ref('stg_sm_expenses') }} as e
    cross join window_months as w
    where e.expense_month >= w.window_start_month
      and e.expense_month <= w.window_end_month

),

sales_expense as (

    select segment, sum(amount) as sales_expense
    from expense
    where department = 'sales'
    group by segment

),

segments as (

    -- UNION ALL + DISTINCT: BigQuery has no bare UNION
    select distinct segment
    from (
        select segment from new_customers
        union all
        select segment from sales_expense
    ) as keys

),

by_segment as (

    select
        s.segment,
        coalesce(e.sales_expense, 0) as sales_expense,
        cast(null as {{ dbt.type_numeric() }}) as marketing_expense,
        coalesce(n.new_customers, 0) as new_customers,
        coalesce(n.new_mrr, 0) as new_mrr
    from segments as s
    left join sales_expense as e
        on e.segment = s.segment
    left join new_customers as n
        on n.segment = s.segment

),

all_segments as (

    select
        'All' as segment,
        coalesce(sum(case when department = 'sales' then amount end), 0) as sales_expense,
        coalesce(sum(case when department = 'marketing' then amount end), 0) as marketing_expense,
        (select coalesce(sum(new_customers), 0) from new_customers) as new_customers,
        (select coalesce(sum(new_mrr), 0) from new_customers) as new_mrr
    from expense

),

scopes as (

    select segment, sales_expense, marketing_expense, sales_expense as sm_expense, new_customers, new_mrr
    from by_segment
        union all
    select segment, sales_expense, marketing_expense, sales_expense + marketing_expense, new_customers, new_mrr
    from all_segments

),

rates as (

    select
        *,
        cast({{ var('gross_margin', 0.80) }} as {{ sluice.type_double() }}) as gross_margin,
        {{ sluice.safe_divide('new_mrr', 'new_customers') }} as mean_new_mrr,
        {{ sluice.safe_divide('sm_expense', 'new_customers') }} as cac
    from scopes

)

select
    r.segment,
    w.window_start_month,
    w.window_end_month,
    r.sales_expense,
    r.marketing_expense,
    r.sm_expense,
    r.new_customers,
    r.new_mrr,
    r.mean_new_mrr,
    r.gross_margin,
    r.cac,
    {{ sluice.safe_divide('r.cac', 'r.mean_new_mrr * r.gross_margin') }} as payback_months,
    l.ltv,
    {{ sluice.safe_divide('l.ltv', 'r.cac') }} as ltv_to_cac
from rates as r
cross join window_months as w
left join {{ ref('fct_ltv') }} as l
    on l.segment = r.segment
