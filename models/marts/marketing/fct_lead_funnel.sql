-- The lead funnel lead → MQL → SQL → opportunity → won per cohort month × lead source
-- (GTM-METRICS.md "Funnel"). The cohort is the unique leads created in the month
-- (int_leads_deduplicated: a duplicate — created ≤ 30 days after a kept lead with the
-- same email hash — is not a lead of its own; its kept lead takes the furthest stage
-- either reached). A lead reaching a stage has reached every earlier one (an SQL
-- without mql_at is an MQL). Stage conversion k → k+1 = cohort leads reaching k+1 /
-- cohort leads reaching k (ever, up to the data's end); overall = won / leads. NULL
-- when the denominator is 0.

with kept as (

    select *
    from {{ ref('int_leads_deduplicated') }}
    where not is_duplicate

),

cohorts as (

    select
        created_month as cohort_month,
        lead_source,
        count(*) as leads,
        sum(duplicate_leads) as duplicate_leads,
        sum(case when furthest_stage_reached >= 2 then 1 else 0 end) as mqls,
        sum(case when furthest_stage_reached >= 3 then 1 else 0 end) as sqls,
        sum(case when furthest_stage_reached >= 4 then 1 else 0 end) as opportunities,
        sum(case when furthest_stage_reached >= 5 then 1 else 0 end) as won
    from kept
    group by created_month, lead_source

)

select
    lead_source || '|' || cast(cohort_month as {{ dbt.type_string() }}) as funnel_id,
    cohort_month,
    lead_source,
    leads,
    duplicate_leads,
    mqls,
    sqls,
    opportunities,
    won,
    {{ sluice.safe_divide('mqls', 'leads') }} as lead_to_mql_rate,
    {{ sluice.safe_divide('sqls', 'mqls') }} as mql_to_sql_rate,
    {{ sluice.safe_divide('opportunities', 'sqls') }} as sql_to_opportunity_rate,
    {{ sluice.safe_divide('won', 'opportunities') }} as opportunity_to_won_rate,
    {{ sluice.safe_divide('won', 'leads') }} as overall_conversion_rate
from cohorts
