-- Lead records with duplicates resolved (GTM-METRICS.md "Funnel"). Per email hash, in
-- created_at order (ties: lower lead_id first), the first lead is kept; each later
-- lead is a duplicate of the most recent kept lead when it was created at most
-- var('lead_duplicate_window_days', 30) days after it (exact timestamps: 30 days to the
-- second is a duplicate, one second more is not), else it is kept itself. The window
-- is anchored at the kept lead, never at a duplicate, so this walks each email's leads
-- in order (a recursive CTE; recursion depth = leads per email hash).
--
-- Stage each record reached on its own (reaching a stage implies every earlier one):
--   1 lead · 2 MQL (mql_at) · 3 SQL (sql_at) · 4 opportunity (opportunity_id) ·
--   5 won (its opportunity is_won).
-- A kept lead takes the furthest stage reached by itself or any of its duplicates, and
-- is converted when any of them was; these merged columns are NULL on duplicates,
-- which never count as leads downstream.

-- A table: the recursive dedup runs once, not in every model and metric reading it.
{{ config(materialized='table') }}

{%- set window_days = var('lead_duplicate_window_days', 30) %}
{#- the end of the kept lead's window, as a timestamp on every adapter (BigQuery's
    dateadd returns a DATETIME, which does not compare with a TIMESTAMP) #}
{%- set window_end = 'cast(' ~ dbt.dateadd('day', window_days, 'prev.kept_created_at') ~ ' as ' ~ dbt.type_timestamp() ~ ')' %}

with recursive leads as (

    select
        l.lead_id,
        l.email_hash,
        l.created_at,
        l.lead_source,
        l.channel,
        l.campaign_id,
        l.lead_status,
        l.mql_at,
        l.sql_at,
        l.converted_at,
        l.account_id,
        l.opportunity_id,
        case
            when o.is_won then 5
            when l.opportunity_id is not null then 4
            when l.sql_at is not null then 3
            when l.mql_at is not null then 2
            else 1
        end as stage_reached,
        row_number() over (
            partition by l.email_hash
            order by l.created_at, l.lead_id
        ) as email_lead_number
    from {{ ref('stg_leads') }} as l
    left join {{ ref('stg_opportunities') }} as o
        on o.opportunity_id = l.opportunity_id

),

resolved as (

    select
        email_hash,
        email_lead_number,
        lead_id,
        lead_id as kept_lead_id,
        created_at as kept_created_at
    from leads
    where email_lead_number = 1

    union all

    select
        nxt.email_hash,
        nxt.email_lead_number,
        nxt.lead_id,
        case
            when nxt.created_at <= {{ window_end }} then prev.kept_lead_id
            else nxt.lead_id
        end as kept_lead_id,
        case
            when nxt.created_at <= {{ window_end }} then prev.kept_created_at
            else nxt.created_at
        end as kept_created_at
    from resolved as prev
    inner join leads as nxt
        on nxt.email_hash = prev.email_hash
        and nxt.email_lead_number = prev.email_lead_number + 1

),

merged as (

    select
        r.kept_lead_id,
        max(l.stage_reached) as furthest_stage_reached,
        max(case when l.converted_at is not null then 1 else 0 end) as any_converted,
        count(*) - 1 as duplicate_leads
    from resolved as r
    inner join leads as l
        on l.lead_id = r.lead_id
    group by r.kept_lead_id

)

select
    l.lead_id,
    l.email_hash,
    l.created_at,
    cast({{ dbt.date_trunc('day', 'l.created_at') }} as date) as created_date,
    cast({{ dbt.date_trunc('month', 'l.created_at') }} as date) as created_month,
    l.lead_source,
    l.channel,
    l.campaign_id,
    l.lead_status,
    l.stage_reached,
    r.kept_lead_id,
    r.lead_id <> r.kept_lead_id as is_duplicate,
    m.furthest_stage_reached,
    case when m.kept_lead_id is null then null else m.any_converted = 1 end as is_converted,
    m.duplicate_leads
from leads as l
inner join resolved as r
    on r.lead_id = l.lead_id
left join merged as m
    on m.kept_lead_id = l.lead_id
