-- Paid CAC by marketing channel (GTM-METRICS.md "CAC"), over the trailing 12 months
-- ending with the last complete month (the window of fct_ltv; macros/gtm_helpers.sql):
--   marketing_expense  Σ stg_sm_expenses.amount of department 'marketing' for the
--                      channel, expense_month in the window (media and programs)
--   new_customers      accounts with a `new` movement in fct_mrr in the window
--                      (reactivations are never new) whose first touch — the account's
--                      earliest touch ever in stg_touchpoints, ties by touchpoint_id —
--                      was on the channel; accounts with no touch at all go to `none`
--   cac                marketing_expense / new_customers
--   payback_months     cac / (mean new MRR of those customers × gross margin)
-- One row per channel with expense or new customers in the window (so a channel with
-- spend and no new customer has cac NULL, and one with customers but no spend, such as
-- `direct` or `none`, has cac 0). No LTV by channel exists, so there is no LTV:CAC here
-- (see fct_cac_by_segment).

{%- set last_month = last_complete_month() %}

with window_months as (

    select
        {{ t12_window_start() }} as window_start_month,
        {{ last_month }} as window_end_month

),

first_touch as (

    select account_id, channel
    from (
        select
            account_id,
            channel,
            row_number() over (partition by account_id order by touched_at, touchpoint_id) as touch_rank
        from {{ ref('stg_touchpoints') }}
    ) as ranked
    where touch_rank = 1

),

new_customers as (

    select
        coalesce(t.channel, 'none') as channel,
        count(*) as new_customers,
        sum(f.new_mrr) as new_mrr
    from {{ ref('fct_mrr') }} as f
    cross join window_months as w
    left join first_touch as t
        on t.account_id = f.account_id
    where f.movement = 'new'
      and f.month >= w.window_start_month
      and f.month <= w.window_end_month
    group by 1

),

expense as (

    select
        e.channel,
        sum(e.amount) as marketing_expense
    from {{ ref('stg_sm_expenses') }} as e
    cross join window_months as w
    where e.department = 'marketing'
      and e.expense_month >= w.window_start_month
      and e.expense_month <= w.window_end_month
    group by e.channel

),

channels as (

    -- UNION ALL + DISTINCT: BigQuery has no bare UNION
    select distinct channel
    from (
        select channel from new_customers
        union all
        select channel from expense
    ) as keys

),

combined as (

    select
        k.channel,
        coalesce(e.marketing_expense, 0) as marketing_expense,
        coalesce(n.new_customers, 0) as new_customers,
        coalesce(n.new_mrr, 0) as new_mrr,
        cast({{ var('gross_margin', 0.80) }} as {{ sluice.type_double() }}) as gross_margin
    from channels as k
    left join expense as e
        on e.channel = k.channel
    left join new_customers as n
        on n.channel = k.channel

),

rates as (

    select
        *,
        {{ sluice.safe_divide('new_mrr', 'new_customers') }} as mean_new_mrr,
        {{ sluice.safe_divide('marketing_expense', 'new_customers') }} as cac
    from combined

)

select
    r.channel,
    w.window_start_month,
    w.window_end_month,
    r.marketing_expense,
    r.new_customers,
    r.new_mrr,
    r.mean_new_mrr,
    r.gross_margin,
    r.cac,
    {{ sluice.safe_divide('r.cac', 'r.mean_new_mrr * r.gross_margin') }} as payback_months
from rates as r
cross join window_months as w
