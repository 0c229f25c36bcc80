-- Attribution weights of the eligible touches of each won opportunity (GTM-METRICS.md
-- "Attribution"): one row per won opportunity × eligible touch, one weight column per
-- model (w_<model>; each sums to 1 over the opportunity's touches). fct_attribution
-- unpivots them and adds an `unattributed` row for wins without eligible touches.
-- Eligible: the opportunity's account's touches with
--   created_at − var('attribution_lookback_days', 90) days ≤ touched_at ≤ closed_at
-- (exact timestamps, both ends inclusive). Touches are ordered by touched_at, ties by
-- touchpoint_id; n = the number of eligible touches, k = 1..n the touch's position.
--   first_touch     1 to k = 1, else 0
--   last_touch      1 to k = n, else 0
--   linear          1/n
--   time_decay      2^(−d / var('attribution_half_life_days', 7)) normalised over the
--                   opportunity; d = days before close, exact (seconds / 86400)
--   position_based  n = 1: 1; n = 2: ½ each; else 0.4 first, 0.4 last, 0.2/(n − 2) others
--   w_shaped        milestones F = first touch, C = last touch on or before the
--                   opportunity's creation, L = last touch (on or before close). 0.3 to
--                   each of F, C, L (a touch that is two milestones gets both shares);
--                   without C (no touch on or before creation) C's 0.3 is split evenly
--                   over F and L, 0.45 each. 0.1 split evenly over the touches that are
--                   no milestone, or over the distinct milestone touches if every touch
--                   is one.

{%- set lookback_days = var('attribution_lookback_days', 90) %}
{%- set half_life_days = var('attribution_half_life_days', 7) %}

with won as (

    select opportunity_id, account_id, created_at, closed_at
    from {{ ref('stg_opportunities') }}
    where is_won

),

eligible as (

    select
        w.opportunity_id,
        w.created_at as opportunity_created_at,
        t.touchpoint_id,
        t.touched_at,
        t.channel,
        t.campaign_id,
        t.touch_type,
        row_number() over (
            partition by w.opportunity_id
            order by t.touched_at, t.touchpoint_id
        ) as touch_number,
        count(*) over (partition by w.opportunity_id) as touch_count,
        cast({{ dbt.datediff('t.touched_at', 'w.closed_at', 'second') }} as {{ sluice.type_double() }}) / 86400 as days_before_close
    from won as w
    inner join {{ ref('stg_touchpoints') }} as t
        on t.account_id = w.account_id
        and t.touched_at >= cast({{ dbt.dateadd('day', -lookback_days, 'w.created_at') }} as {{ dbt.type_timestamp() }})
        and t.touched_at <= w.closed_at

),

positioned as (

    select
        *,
        -- k of C: the last touch on or before the opportunity's creation (NULL if none)
        max(case when touched_at <= opportunity_created_at then touch_number end)
            over (partition by opportunity_id) as creation_touch_number,
        power(2, -days_before_close / {{ half_life_days }}) as decay
    from eligible

),

shaped as (

    select
        *,
        touch_number = 1 as is_first_touch,
        coalesce(touch_number = creation_touch_number, false) as is_creation_touch,
        touch_number = touch_count as is_last_touch,
        -- the W-shaped share of each milestone: 0.3, or 0.45 without a creation touch
        case when creation_touch_number is null then 0.45 else 0.3 end as milestone_share,
        -- distinct milestone touches: F, plus C if it is neither F nor L, plus L if n > 1
        1
            + case when creation_touch_number is not null
                    and creation_touch_number <> 1
                    and creation_touch_number <> touch_count then 1 else 0 end
            + case when touch_count > 1 then 1 else 0 end as milestone_touches,
        sum(decay) over (partition by opportunity_id) as decay_total
    from positioned

)

select
    opportunity_id,
    touchpoint_id,
    touched_at,
    channel,
    campaign_id,
    touch_type,
    touch_number,
    touch_count,
    days_before_close,
    is_first_touch,
    is_creation_touch,
    is_last_touch,
    cast(case when is_first_touch then 1 else 0 end as {{ sluice.type_double() }}) as w_first_touch,
    cast(case when is_last_touch then 1 else 0 end as {{ sluice.type_double() }}) as w_last_touch,
    cast(1 as {{ sluice.type_double() }}) / touch_count as w_linear,
    decay / decay_total as w_time_decay,
    cast(case
        when touch_count = 1 then 1
        when touch_count = 2 then 0.5
        when is_first_touch or is_last_touch then 0.4
        else 0.2 / (touch_count - 2)
    end as {{ sluice.type_double() }}) as w_position_based,
    cast(
        milestone_share * (
            case when is_first_touch then 1 else 0 end
            + case when is_creation_touch then 1 else 0 end
            + case when is_last_touch then 1 else 0 end
        )
        + case
            when touch_count > milestone_touches then
                case when is_first_touch or is_creation_touch or is_last_touch then 0
                     else 0.1 / (touch_count - milestone_touches) end
            else 0.1 / milestone_touches
        end
    as {{ sluice.type_double() }}) as w_w_shaped
from shaped
