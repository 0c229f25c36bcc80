-- Open pipeline per month × stage × rep (GTM-METRICS.md "Pipeline"), a month-end
-- snapshot. d = the end of the month's last day (month_end_at: the first instant of
-- the next month, 00:00:00 UTC). An opportunity is open at d when
--   created_at <= d and (closed_at is null or closed_at > d)        (the spec's rule)
-- and its stage as of d is an open stage. Stage and amount as of d come from the
-- stage history: the row in effect at d, i.e. the last row entered at or before d
-- (ties on entered_at: the higher stage_history_id is the later row). Here each
-- history row is a spell [entered_at, next row's entered_at) and the spell
-- containing d is taken. (fct_pipeline_monthly computes the same totals another
-- way, as "the latest row at or before d", and an assertion compares the two.)
-- closed_at is the final close, so a reopened opportunity sitting in Closed Lost at d
-- (between its first close and its reopening) passes the spec's rule; its stage as
-- of d is closed, so it is not open pipeline at d and is left out.
-- weighted amount = amount as of d × the stage's probability (stg_opportunity_stages).
-- The rep is the opportunity's owner (owner_rep_id; the CRM keeps no owner history).
-- Only month × stage × rep combinations with at least one open opportunity have a row.

with months as (

    {{ sales_months() }}

),

spells as (

    select
        h.opportunity_id,
        h.stage,
        h.amount,
        h.entered_at,
        lead(h.entered_at) over (
            partition by h.opportunity_id
            order by h.entered_at, h.stage_history_id
        ) as left_at
    from {{ ref('stg_opportunity_stage_history') }} as h

),

open_at_d as (

    select
        m.month,
        m.month_end_at,
        o.opportunity_id,
        o.owner_rep_id,
        s.stage,
        s.amount
    from months as m
    inner join {{ ref('stg_opportunities') }} as o
        on o.created_at <= m.month_end_at
        and (o.closed_at is null or o.closed_at > m.month_end_at)
    inner join spells as s
        on s.opportunity_id = o.opportunity_id
        and s.entered_at <= m.month_end_at
        and (s.left_at is null or s.left_at > m.month_end_at)

)

select
    p.month,
    p.month_end_at as snapshot_at,
    p.stage,
    st.stage_order,
    p.owner_rep_id as rep_id,
    r.team,
    count(*) as open_opportunities,
    sum(p.amount) as pipeline_amount,
    st.probability as stage_probability,
    sum(p.amount * st.probability) as weighted_pipeline_amount
from open_at_d as p
inner join {{ ref('stg_opportunity_stages') }} as st
    on st.stage = p.stage
left join {{ ref('stg_reps') }} as r
    on r.rep_id = p.owner_rep_id
where not st.is_closed
group by p.month, p.month_end_at, p.stage, st.stage_order, p.owner_rep_id, r.team, st.probability
