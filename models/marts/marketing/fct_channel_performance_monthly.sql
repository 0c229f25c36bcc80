-- Campaign performance per channel × month (GTM-METRICS.md "Marketing"): the campaign
-- measures of fct_campaign_performance_daily rolled up to the campaign's channel and
-- the calendar month, but computed here from the same sources (stg_campaign_daily,
-- int_leads_deduplicated, fct_attribution) rather than from the daily model, so that
-- the assertions comparing the two compare independent computations. Only campaign
-- activity counts (leads and touches without a campaign have no cost and are in
-- fct_leads / fct_lead_funnel instead). Ratios are recomputed from the month's totals
-- (never averaged): ctr = clicks / impressions, cpl = cost / leads, conversion_rate =
-- conversions / leads, roi_<model> = (attributed revenue − cost) / cost; NULL when the
-- denominator is 0.

{%- set models = ['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'w_shaped'] %}

with campaigns as (

    select campaign_id, channel
    from {{ ref('stg_campaigns') }}

),

delivery as (

    select
        c.channel,
        cast({{ dbt.date_trunc('month', 'd.date_day') }} as date) as month,
        sum(d.impressions) as impressions,
        sum(d.clicks) as clicks,
        sum(d.spend) as cost
    from {{ ref('stg_campaign_daily') }} as d
    inner join campaigns as c
        on c.campaign_id = d.campaign_id
    group by 1, 2

),

leads as (

    select
        c.channel,
        l.created_month as month,
        count(*) as leads,
        sum(case when l.furthest_stage_reached >= 2 then 1 else 0 end) as mqls,
        sum(case when l.is_converted then 1 else 0 end) as conversions
    from {{ ref('int_leads_deduplicated') }} as l
    inner join campaigns as c
        on c.campaign_id = l.campaign_id
    where not l.is_duplicate
    group by 1, 2

),

revenue as (

    select
        c.channel,
        cast({{ dbt.date_trunc('month', 'a.touched_at') }} as date) as month
        {%- for m in models %},
        sum(case when a.attribution_model = '{{ m }}' then a.attributed_revenue else 0 end) as attributed_revenue_{{ m }}
        {%- endfor %}
    from {{ ref('fct_attribution') }} as a
    inner join campaigns as c
        on c.campaign_id = a.campaign_id
    group by 1, 2

),

channel_months as (

    -- UNION ALL + DISTINCT: BigQuery has no bare UNION
    select distinct channel, month
    from (
        select channel, month from delivery
        union all
        select channel, month from leads
        union all
        select channel, month from revenue
    ) as keys

),

measures as (

    select
        k.channel,
        k.month,
        coalesce(d.impressions, 0) as impressions,
        coalesce(d.clicks, 0) as clicks,
        coalesce(l.leads, 0) as leads,
        coalesce(l.mqls, 0) as mqls,
        coalesce(l.conversions, 0) as conversions,
        coalesce(d.cost, 0) as cost
        {%- for m in models %},
        coalesce(r.attributed_revenue_{{ m }}, 0) as attributed_revenue_{{ m }}
        {%- endfor %}
    from channel_months as k
    left join delivery as d
        on d.channel = k.channel and d.month = k.month
    left join leads as l
        on l.channel = k.channel and l.month = k.month
    left join revenue as r
        on r.channel = k.channel and r.month = k.month

)

select
    channel || '-' || cast(month as {{ dbt.type_string() }}) as channel_month_id,
    channel,
    month,
    impressions,
    clicks,
    {{ sluice.safe_divide('clicks', 'impressions') }} as ctr,
    leads,
    mqls,
    conversions,
    {{ sluice.safe_divide('conversions', 'leads') }} as conversion_rate,
    cost,
    {{ sluice.safe_divide('cost', 'leads') }} as cpl
    {%- for mo in models %},
    attributed_revenue_{{ mo }}
    {%- endfor %}
    {%- for mo in models %},
    {{ sluice.safe_divide('attributed_revenue_' ~ mo ~ ' - cost', 'cost') }} as roi_{{ mo }}
    {%- endfor %}
from measures
