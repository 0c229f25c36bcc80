-- Stage-to-stage conversion (GTM-METRICS.md "Stage conversion"), from the stage
-- history: for each open stage k (Prospecting, Discovery, Proposal, Negotiation, by
-- stage_order), the share of the opportunities that entered k which later entered
-- stage k + 1 or Closed Won:
--   conversion_rate = converted_opportunities / entered_opportunities
-- An opportunity counts once per stage, however often it entered it: a reopened
-- opportunity (… → Closed Lost → Negotiation → …) entering Negotiation twice is one
-- opportunity entering Negotiation, and it converts when any entry of k + 1 or of
-- Closed Won comes after its first entry of k. "Later" is the history's order
-- (entered_at, then stage_history_id). As the spec says, only k + 1 or a win count: an
-- opportunity that skips k + 1 to a later open stage and is then lost has not
-- converted from k (the seeds skip Discovery only on the way to a win). For
-- Negotiation, k + 1 is Closed Won. History rows entered after as_of_date are left
-- out. One row per open stage; NULL rate when no opportunity entered the stage.

{%- set as_of = as_of_date() %}

with stages as (

    select stage, stage_order, is_closed, is_won
    from {{ ref('stg_opportunity_stages') }}

),

history as (

    select
        h.opportunity_id,
        h.stage,
        st.stage_order,
        st.is_won,
        row_number() over (
            partition by h.opportunity_id
            order by h.entered_at, h.stage_history_id
        ) as entry_seq
    from {{ ref('stg_opportunity_stage_history') }} as h
    inner join stages as st
        on st.stage = h.stage
    where h.entered_at < cast({{ dbt.dateadd('day', 1, as_of) }} as {{ dbt.type_timestamp() }})

),

first_entries as (

    select opportunity_id, stage, stage_order, min(entry_seq) as first_seq, count(*) as entries
    from history
    group by opportunity_id, stage, stage_order

),

conversions as (

    select
        f.stage,
        f.opportunity_id,
        f.entries,
        max(case when later.opportunity_id is not null then 1 else 0 end) as converted
    from first_entries as f
    left join history as later
        on later.opportunity_id = f.opportunity_id
        and later.entry_seq > f.first_seq
        and (later.stage_order = f.stage_order + 1 or later.is_won)
    group by f.stage, f.opportunity_id, f.entries

),

by_stage as (

    select
        stage,
        count(*) as entered_opportunities,
        sum(case when entries > 1 then 1 else 0 end) as reentered_opportunities,
        sum(converted) as converted_opportunities
    from conversions
    group by stage

)

select
    st.stage,
    st.stage_order,
    nxt.stage as next_stage,
    coalesce(b.entered_opportunities, 0) as entered_opportunities,
    coalesce(b.reentered_opportunities, 0) as reentered_opportunities,
    coalesce(b.converted_opportunities, 0) as converted_opportunities,
    {{ sluice.safe_divide('b.converted_opportunities', 'b.entered_opportunities') }} as conversion_rate
from stages as st
left join stages as nxt
    on nxt.stage_order = st.stage_order + 1
left join by_stage as b
    on b.stage = st.stage
where not st.is_closed
