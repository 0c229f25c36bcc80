-- Open pipeline per month (GTM-METRICS.md "Pipeline"): the month-end snapshot of
-- fct_pipeline_snapshot summed over stage and rep, but computed independently, so the
-- assertion pipeline_stages_add_up_to_the_month_total compares two computations.
-- Same definition: d = the end of the month's last day (the first instant of the
-- next month); open at d when created_at <= d and (closed_at is null or closed_at > d)
-- and the stage as of d is open. Here the stage and amount as of d are the latest
-- stage-history row entered at or before d (ties on entered_at: higher
-- stage_history_id), picked with row_number() rather than as a spell.
-- weighted = amount × the stage's probability. One row per month (0 when nothing is open).

with months as (

    {{ sales_months() }}

),

candidates as (

    select
        m.month,
        m.month_end_at,
        o.opportunity_id,
        h.stage,
        h.amount,
        row_number() over (
            partition by m.month, o.opportunity_id
            order by h.entered_at desc, h.stage_history_id desc
        ) as recency
    from months as m
    inner join {{ ref('stg_opportunities') }} as o
        on o.created_at <= m.month_end_at
        and (o.closed_at is null or o.closed_at > m.month_end_at)
    inner join {{ ref('stg_opportunity_stage_history') }} as h
        on h.opportunity_id = o.opportunity_id
        and h.entered_at <= m.month_end_at

),

open_at_d as (

    select c.month, c.opportunity_id, c.amount, st.probability
    from candidates as c
    inner join {{ ref('stg_opportunity_stages') }} as st
        on st.stage = c.stage
    where c.recency = 1
      and not st.is_closed

)

select
    m.month,
    m.month_end_at as snapshot_at,
    count(p.opportunity_id) as open_opportunities,
    coalesce(sum(p.amount), 0) as pipeline_amount,
    coalesce(sum(p.amount * p.probability), 0) as weighted_pipeline_amount
from months as m
left join open_at_d as p
    on p.month = m.month
group by m.month, m.month_end_at
