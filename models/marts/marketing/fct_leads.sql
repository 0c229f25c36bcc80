-- Leads per created month × lead source × channel × status (GTM-METRICS.md
-- "Marketing"), from int_leads_deduplicated. lead_records counts every lead record as
-- created; duplicate_leads the records that are duplicates of an earlier kept lead
-- (same email hash, created ≤ 30 days after it); leads = lead_records − duplicate_leads,
-- the unique leads. Each record is counted under its own source, channel ('unknown'
-- where the source system lost it) and status. The stage counts are over the unique
-- leads, each with the furthest stage it or any of its duplicates reached (reaching a
-- stage implies the earlier ones): mqls ≥ sqls ≥ opportunities ≥ won, and conversions
-- (converted to an account) / leads = conversion_rate.

select
    lead_source || '|' || channel || '|' || lead_status || '|' || cast(created_month as {{ dbt.type_string() }}) as lead_group_id,
    created_month,
    lead_source,
    channel,
    lead_status,
    count(*) as lead_records,
    sum(case when is_duplicate then 1 else 0 end) as duplicate_leads,
    sum(case when is_duplicate then 0 else 1 end) as leads,
    sum(case when furthest_stage_reached >= 2 then 1 else 0 end) as mqls,
    sum(case when furthest_stage_reached >= 3 then 1 else 0 end) as sqls,
    sum(case when furthest_stage_reached >= 4 then 1 else 0 end) as opportunities,
    sum(case when furthest_stage_reached >= 5 then 1 else 0 end) as won,
    sum(case when is_converted then 1 else 0 end) as conversions,
    {{ sluice.safe_divide('sum(case when is_converted then 1 else 0 end)', 'sum(case when is_duplicate then 0 else 1 end)') }} as conversion_rate
from {{ ref('int_leads_deduplicated') }}
group by created_month, lead_source, channel, lead_status
