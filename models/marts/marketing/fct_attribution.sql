-- Multi-touch attribution (GTM-METRICS.md "Attribution"): one row per won opportunity ×
-- eligible touch × attribution model (first_touch, last_touch, linear, time_decay,
-- position_based, w_shaped), with the touch's weight under the model and attributed
-- revenue = weight × the opportunity's amount. Weights, eligibility (lookback var
-- attribution_lookback_days, default 90) and time decay (var attribution_half_life_days,
-- default 7) are computed in int_attribution_touches. Every touch appears under every
-- model, also with weight 0 (e.g. the middle touches under first_touch).
-- A won opportunity with no eligible touch gets one row per model with touchpoint_id
-- NULL, channel 'unattributed' and weight 1, so that under every model the weights of
-- each won opportunity sum to 1 and attributed revenue sums to won revenue.

{%- set models = ['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'w_shaped'] %}

with won as (

    select
        opportunity_id,
        account_id,
        opportunity_type,
        created_at,
        closed_at,
        amount
    from {{ ref('stg_opportunities') }}
    where is_won

),

touches as (

    select * from {{ ref('int_attribution_touches') }}

),

attribution_models as (

    {%- for m in models %}
    select '{{ m }}' as attribution_model
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}

),

touch_rows as (

    select
        t.opportunity_id,
        m.attribution_model,
        t.touchpoint_id,
        t.touched_at,
        t.channel,
        t.campaign_id,
        t.touch_type,
        t.touch_number,
        t.touch_count,
        t.days_before_close,
        t.is_first_touch,
        t.is_creation_touch,
        t.is_last_touch,
        case m.attribution_model
            {%- for m in models %}
            when '{{ m }}' then t.w_{{ m }}
            {%- endfor %}
        end as weight
    from touches as t
    cross join attribution_models as m

    union all

    select
        w.opportunity_id,
        m.attribution_model,
        cast(null as {{ dbt.type_int() }}) as touchpoint_id,
        cast(null as {{ dbt.type_timestamp() }}) as touched_at,
        'unattributed' as channel,
        cast(null as {{ dbt.type_int() }}) as campaign_id,
        cast(null as {{ dbt.type_string() }}) as touch_type,
        cast(null as {{ dbt.type_int() }}) as touch_number,
        0 as touch_count,
        cast(null as {{ sluice.type_double() }}) as days_before_close,
        cast(null as {{ dbt.type_boolean() }}) as is_first_touch,
        cast(null as {{ dbt.type_boolean() }}) as is_creation_touch,
        cast(null as {{ dbt.type_boolean() }}) as is_last_touch,
        cast(1 as {{ sluice.type_double() }}) as weight
    from won as w
    cross join attribution_models as m
    where not exists (
        select 1 from touches as t where t.opportunity_id = w.opportunity_id
    )

)

select
    cast(r.opportunity_id as {{ dbt.type_string() }}) || '-'
        || coalesce(cast(r.touchpoint_id as {{ dbt.type_string() }}), 'unattributed') || '-'
        || r.attribution_model as attribution_id,
    r.opportunity_id,
    w.account_id,
    w.opportunity_type,
    w.created_at as opportunity_created_at,
    w.closed_at,
    cast({{ dbt.date_trunc('month', 'w.closed_at') }} as date) as close_month,
    w.amount,
    r.attribution_model,
    r.touchpoint_id,
    r.touched_at,
    cast({{ dbt.date_trunc('day', 'r.touched_at') }} as date) as touch_date,
    r.channel,
    r.campaign_id,
    r.touch_type,
    r.touch_number,
    r.touch_count,
    r.days_before_close,
    r.is_first_touch,
    r.is_creation_touch,
    r.is_last_touch,
    r.weight,
    r.weight * w.amount as attributed_revenue
from touch_rows as r
inner join won as w
    on w.opportunity_id = r.opportunity_id
