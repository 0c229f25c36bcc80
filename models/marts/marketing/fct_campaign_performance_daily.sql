-- Campaign performance per campaign × day (GTM-METRICS.md "Marketing"). One row per
-- campaign and day with delivery (stg_campaign_daily), a lead created, or an attributed
-- touch; missing measures are 0.
--   delivery     impressions, clicks, cost (spend) from the ad platform export
--   leads        unique leads (duplicates resolved, int_leads_deduplicated) whose kept
--                record carries the campaign, on the UTC day the lead was created; mqls
--                and conversions are those of the same leads (cohort: reached MQL /
--                converted ever, counting their duplicates' stages), so conversion_rate
--                = conversions / leads is a proportion
--   revenue      attributed revenue of the campaign's touches (fct_attribution) on the
--                UTC day of the touch, one column per attribution model
--   ratios       ctr = clicks / impressions; cpl = cost / leads; conversion_rate =
--                conversions / leads; roi_<model> = (attributed revenue − cost) / cost;
--                NULL when the denominator is 0
-- The channel is the campaign's (stg_campaigns.channel).

{%- set models = ['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'w_shaped'] %}

with delivery as (

    select
        campaign_id,
        date_day,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(spend) as cost
    from {{ ref('stg_campaign_daily') }}
    group by campaign_id, date_day

),

leads as (

    select
        campaign_id,
        created_date as date_day,
        count(*) as leads,
        sum(case when furthest_stage_reached >= 2 then 1 else 0 end) as mqls,
        sum(case when is_converted then 1 else 0 end) as conversions
    from {{ ref('int_leads_deduplicated') }}
    where not is_duplicate
      and campaign_id is not null
    group by campaign_id, created_date

),

revenue as (

    select
        campaign_id,
        touch_date as date_day
        {%- for m in models %},
        sum(case when attribution_model = '{{ m }}' then attributed_revenue else 0 end) as attributed_revenue_{{ m }}
        {%- endfor %}
    from {{ ref('fct_attribution') }}
    where campaign_id is not null
    group by campaign_id, touch_date

),

campaign_days as (

    -- UNION ALL + DISTINCT: BigQuery has no bare UNION
    select distinct campaign_id, date_day
    from (
        select campaign_id, date_day from delivery
        union all
        select campaign_id, date_day from leads
        union all
        select campaign_id, date_day from revenue
    ) as keys

),

measures as (

    select
        k.campaign_id,
        k.date_day,
        coalesce(d.impressions, 0) as impressions,
        coalesce(d.clicks, 0) as clicks,
        coalesce(l.leads, 0) as leads,
        coalesce(l.mqls, 0) as mqls,
        coalesce(l.conversions, 0) as conversions,
        coalesce(d.cost, 0) as cost
        {%- for m in models %},
        coalesce(r.attributed_revenue_{{ m }}, 0) as attributed_revenue_{{ m }}
        {%- endfor %}
    from campaign_days as k
    left join delivery as d
        on d.campaign_id = k.campaign_id and d.date_day = k.date_day
    left join leads as l
        on l.campaign_id = k.campaign_id and l.date_day = k.date_day
    left join revenue as r
        on r.campaign_id = k.campaign_id and r.date_day = k.date_day

)

select
    cast(m.campaign_id as {{ dbt.type_string() }}) || '-' || cast(m.date_day as {{ dbt.type_string() }}) as campaign_day_id,
    m.campaign_id,
    c.campaign_name,
    c.channel,
    m.date_day,
    m.impressions,
    m.clicks,
    {{ sluice.safe_divide('m.clicks', 'm.impressions') }} as ctr,
    m.leads,
    m.mqls,
    m.conversions,
    {{ sluice.safe_divide('m.conversions', 'm.leads') }} as conversion_rate,
    m.cost,
    {{ sluice.safe_divide('m.cost', 'm.leads') }} as cpl
    {%- for mo in models %},
    m.attributed_revenue_{{ mo }}
    {%- endfor %}
    {%- for mo in models %},
    {{ sluice.safe_divide('m.attributed_revenue_' ~ mo ~ ' - m.cost', 'm.cost') }} as roi_{{ mo }}
    {%- endfor %}
from measures as m
left join {{ ref('stg_campaigns') }} as c
    on c.campaign_id = m.campaign_id
