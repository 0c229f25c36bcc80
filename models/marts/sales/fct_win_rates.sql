-- Win rate, average deal size and sales cycle per month closed (GTM-METRICS.md
-- "Win rate"). An opportunity belongs to the month of its closed_at, the final close:
-- a reopened opportunity counts once, with its final outcome, in the month of its
-- final close (its earlier Closed Lost is not a loss); one that is open again has
-- no closed_at and does not count. Amounts are the opportunity's final amount (USD).
--   win rate (count)  = won / (won + lost)
--   win rate (amount) = won amount / (won amount + lost amount)
--   average deal size = mean amount of the won opportunities
--   sales cycle       = mean days from created_at to closed_at of the won ones, in
--                       calendar-day boundaries (dbt.datediff 'day', as
--                       stg_opportunities.days_to_close)
-- Every ratio is NULL when its denominator is 0 (a month without closes). One row per
-- month from var('sales_start_month') through the last complete month.

with months as (

    {{ sales_months() }}

),

closed as (

    select
        m.month,
        o.opportunity_id,
        o.is_won,
        o.amount,
        {{ dbt.datediff('o.created_at', 'o.closed_at', 'day') }} as days_to_close
    from months as m
    inner join {{ ref('stg_opportunities') }} as o
        on o.closed_at >= m.month_start_at
        and o.closed_at < m.month_end_at
    where o.is_closed

),

monthly as (

    select
        m.month,
        count(c.opportunity_id) as closed_opportunities,
        coalesce(sum(case when c.is_won then 1 else 0 end), 0) as won_opportunities,
        coalesce(sum(case when not c.is_won then 1 else 0 end), 0) as lost_opportunities,
        coalesce(sum(case when c.is_won then c.amount else 0 end), 0) as won_amount,
        coalesce(sum(case when not c.is_won then c.amount else 0 end), 0) as lost_amount,
        sum(case when c.is_won then c.days_to_close end) as won_days_to_close
    from months as m
    left join closed as c
        on c.month = m.month
    group by m.month

)

select
    month,
    closed_opportunities,
    won_opportunities,
    lost_opportunities,
    won_amount,
    lost_amount,
    {{ sluice.safe_divide('won_opportunities', 'won_opportunities + lost_opportunities') }} as win_rate_count,
    {{ sluice.safe_divide('won_amount', 'won_amount + lost_amount') }} as win_rate_amount,
    {{ sluice.safe_divide('won_amount', 'won_opportunities') }} as avg_deal_size,
    {{ sluice.safe_divide('won_days_to_close', 'won_opportunities') }} as avg_sales_cycle_days
from monthly
