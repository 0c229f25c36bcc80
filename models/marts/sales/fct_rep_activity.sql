-- Sales activity per rep × month, with activity per opportunity (GTM-METRICS.md
-- "Sales"; the spec gives no formula, so this is the definition):
--   activities_per_opportunity = activities logged against an opportunity /
--                                distinct opportunities those activities worked
-- An activity belongs to the rep who logged it (stg_sales_activities.rep_id, not
-- the opportunity's owner) and to the month of activity_at (UTC). Activities without
-- an opportunity are prospecting: counted in activities and prospecting_activities,
-- never in the ratio. Rows: rep-months with at least one activity, from
-- var('sales_start_month') through the last complete month.

with months as (

    {{ sales_months() }}

),

activities as (

    select
        m.month,
        a.rep_id,
        a.activity_id,
        a.opportunity_id,
        a.activity_type,
        a.duration_minutes
    from months as m
    inner join {{ ref('stg_sales_activities') }} as a
        on a.activity_at >= m.month_start_at
        and a.activity_at < m.month_end_at

),

by_rep_month as (

    select
        month,
        rep_id,
        count(*) as activities,
        sum(case when activity_type = 'call' then 1 else 0 end) as calls,
        sum(case when activity_type = 'email' then 1 else 0 end) as emails,
        sum(case when activity_type = 'meeting' then 1 else 0 end) as meetings,
        sum(case when activity_type = 'demo' then 1 else 0 end) as demos,
        coalesce(sum(duration_minutes), 0) as duration_minutes,
        sum(case when opportunity_id is null then 1 else 0 end) as prospecting_activities,
        count(opportunity_id) as opportunity_activities,
        count(distinct opportunity_id) as opportunities_worked
    from activities
    group by month, rep_id

)

select
    b.rep_id,
    r.team,
    b.month,
    b.activities,
    b.calls,
    b.emails,
    b.meetings,
    b.demos,
    b.duration_minutes,
    b.prospecting_activities,
    b.opportunity_activities,
    b.opportunities_worked,
    {{ sluice.safe_divide('b.opportunity_activities', 'b.opportunities_worked') }} as activities_per_opportunity
from by_rep_month as b
left join {{ ref('stg_reps') }} as r
    on r.rep_id = b.rep_id
