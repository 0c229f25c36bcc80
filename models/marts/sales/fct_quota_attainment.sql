-- Quota attainment per rep × quarter (GTM-METRICS.md "Quota attainment"):
--   attainment = closed-won amount / quota            (may exceed 1)
-- Closed-won amount: opportunities owned by the rep, is_won, closed_at in the
-- quarter (final close, as in fct_win_rates), counted through the end of the last
-- complete month: a quarter still in progress at as_of_date is quarter-to-date
-- (is_complete_quarter false). Rows: every quota row (stg_rep_quotas) of a quarter
-- starting on or before the last complete month, plus any rep-quarter with a won
-- opportunity but no quota row (quota and attainment NULL), so Σ won_amount is every
-- won amount. A quota of 0 gives attainment NULL.

{%- set last_month = last_complete_month() %}

with bounds as (

    select
        cast('{{ var('sales_start_month') }}' as date) as first_month,
        {{ last_month }} as last_month,
        cast({{ dbt.dateadd('month', 1, last_month) }} as {{ dbt.type_timestamp() }}) as cutoff_at

),

quotas as (

    select q.rep_id, q.quarter_start, q.quota_amount
    from {{ ref('stg_rep_quotas') }} as q
    cross join bounds as b
    where q.quarter_start <= b.last_month

),

won as (

    select
        o.owner_rep_id as rep_id,
        cast({{ dbt.date_trunc('quarter', 'o.closed_at') }} as date) as quarter_start,
        count(*) as won_opportunities,
        sum(o.amount) as won_amount
    from {{ ref('stg_opportunities') }} as o
    cross join bounds as b
    where o.is_won
      and o.closed_at >= cast(b.first_month as {{ dbt.type_timestamp() }})
      and o.closed_at < b.cutoff_at
    group by o.owner_rep_id, cast({{ dbt.date_trunc('quarter', 'o.closed_at') }} as date)

),

rep_quarters as (

    select distinct rep_id, quarter_start
    from (
        select rep_id, quarter_start from quotas
        union all
        select rep_id, quarter_start from won
    ) as keys

)

select
    rq.rep_id,
    r.team,
    rq.quarter_start,
    q.quota_amount,
    coalesce(w.won_opportunities, 0) as won_opportunities,
    coalesce(w.won_amount, 0) as won_amount,
    {{ sluice.safe_divide('coalesce(w.won_amount, 0)', 'q.quota_amount') }} as quota_attainment,
    cast({{ dbt.dateadd('month', 2, 'rq.quarter_start') }} as date) <= b.last_month as is_complete_quarter
from rep_quarters as rq
cross join bounds as b
left join {{ ref('stg_reps') }} as r
    on r.rep_id = rq.rep_id
left join quotas as q
    on q.rep_id = rq.rep_id
    and q.quarter_start = rq.quarter_start
left join won as w
    on w.rep_id = rq.rep_id
    and w.quarter_start = rq.quarter_start
