-- Account health score (GTM-METRICS.md "Health score"), one row per account with
-- MRR > 0 at the last complete month (the month whose last day is on or before
-- var('as_of_date')), measured as of var('as_of_date') (A below). Four components,
-- each scaled 0–100:
--   usage   = active days in the 30 days ending on A (A − 29 … A, UTC event dates;
--             a day with any product event of any user of the account) / 30 × 100
--   support = max(0, 100 − open_ticket_penalty × open high/urgent tickets
--                        − low_csat_penalty × low-CSAT tickets)
--             open at A: created on or before A and not resolved by the end of A;
--             low CSAT: csat_score 1 or 2 on a ticket resolved in A − 89 … A
--             (penalties: vars health_open_ticket_penalty 25, health_low_csat_penalty 15)
--   nps     = the account's latest response on or before A (ties on responded_at to
--             the higher nps_response_id), as the NPS of that single response mapped
--             from −100..100 to 0..100: promoter (9–10) 100, passive (7–8) 50,
--             detractor (0–6) 0. No response → 50, the scale's neutral midpoint.
--   billing = 100 unless the account has an overdue invoice at A, then 0. Overdue at
--             A: due_date < A and not paid by A (paid_on null or after A), status
--             open or paid (void and uncollectible invoices, already written off,
--             do not count).
-- health_score = Σ weight × component, rounded to 2 decimals, with the weights
-- vars health_weight_usage / _support / _nps / _billing (defaults 0.40 / 0.20 /
-- 0.20 / 0.20; they must sum to 1). Band on the rounded score: ≥ 70 healthy,
-- 40 ≤ score < 70 at_risk, < 40 critical.

{%- set w_usage = var('health_weight_usage', 0.40) %}
{%- set w_support = var('health_weight_support', 0.20) %}
{%- set w_nps = var('health_weight_nps', 0.20) %}
{%- set w_billing = var('health_weight_billing', 0.20) %}
{%- if ((w_usage + w_support + w_nps + w_billing) - 1) | abs > 0.000001 %}
{{ exceptions.raise_compiler_error('fct_account_health: the health_weight_* vars must sum to 1, not ' ~ (w_usage + w_support + w_nps + w_billing)) }}
{%- endif %}
{%- set open_penalty = var('health_open_ticket_penalty', 25) %}
{%- set csat_penalty = var('health_low_csat_penalty', 15) %}
{%- set as_of = as_of_date() %}
{%- set last_month = last_complete_month() %}

with paying as (

    select account_id, segment, tier, region, mrr
    from {{ ref('fct_mrr') }}
    where month = {{ last_month }}
      and mrr > 0

),

product_usage as (

    select account_id, count(distinct event_date) as active_days_30d
    from {{ ref('stg_product_events') }}
    where event_date >= cast({{ dbt.dateadd('day', -29, as_of) }} as date)
      and event_date <= {{ as_of }}
    group by account_id

),

ticket_counts as (

    select
        account_id,
        sum(case
            when priority in ('high', 'urgent')
                and cast(created_at as date) <= {{ as_of }}
                and (resolved_at is null or cast(resolved_at as date) > {{ as_of }})
            then 1 else 0
        end) as open_high_priority_tickets,
        sum(case
            when csat_score <= 2
                and cast(resolved_at as date) >= cast({{ dbt.dateadd('day', -89, as_of) }} as date)
                and cast(resolved_at as date) <= {{ as_of }}
            then 1 else 0
        end) as low_csat_tickets_90d
    from {{ ref('stg_support_tickets') }}
    group by account_id

),

nps_ranked as (

    select
        account_id,
        score,
        nps_category,
        responded_at,
        row_number() over (
            partition by account_id
            order by responded_at desc, nps_response_id desc
        ) as response_rank
    from {{ ref('stg_nps_responses') }}
    where cast(responded_at as date) <= {{ as_of }}

),

overdue as (

    select account_id, count(*) as overdue_invoices
    from {{ ref('stg_invoices') }}
    where invoice_status in ('open', 'paid')
      and due_date < {{ as_of }}
      and (paid_on is null or paid_on > {{ as_of }})
    group by account_id

),

components as (

    select
        p.account_id,
        p.segment,
        p.tier,
        p.region,
        p.mrr,
        coalesce(u.active_days_30d, 0) as active_days_30d,
        coalesce(s.open_high_priority_tickets, 0) as open_high_priority_tickets,
        coalesce(s.low_csat_tickets_90d, 0) as low_csat_tickets_90d,
        n.score as latest_nps_score,
        n.nps_category as latest_nps_category,
        n.responded_at as latest_nps_responded_at,
        coalesce(b.overdue_invoices, 0) as overdue_invoices,
        cast(coalesce(u.active_days_30d, 0) as {{ sluice.type_double() }}) * 100 / 30 as usage_score,
        case
            when 100 - {{ open_penalty }} * coalesce(s.open_high_priority_tickets, 0)
                     - {{ csat_penalty }} * coalesce(s.low_csat_tickets_90d, 0) < 0 then 0
            else 100 - {{ open_penalty }} * coalesce(s.open_high_priority_tickets, 0)
                     - {{ csat_penalty }} * coalesce(s.low_csat_tickets_90d, 0)
        end as support_score,
        case n.nps_category
            when 'promoter' then 100
            when 'passive' then 50
            when 'detractor' then 0
            else 50
        end as nps_score,
        case when coalesce(b.overdue_invoices, 0) > 0 then 0 else 100 end as billing_score
    from paying as p
    left join product_usage as u
        on u.account_id = p.account_id
    left join ticket_counts as s
        on s.account_id = p.account_id
    left join nps_ranked as n
        on n.account_id = p.account_id
        and n.response_rank = 1
    left join overdue as b
        on b.account_id = p.account_id

),

scored as (

    select
        *,
        round(
            cast(
                {{ w_usage }} * usage_score
                + {{ w_support }} * support_score
                + {{ w_nps }} * nps_score
                + {{ w_billing }} * billing_score
            as {{ sluice.type_double() }}),
            2
        ) as health_score
    from components

)

select
    account_id,
    segment,
    tier,
    region,
    mrr,
    {{ as_of }} as as_of_date,
    active_days_30d,
    open_high_priority_tickets,
    low_csat_tickets_90d,
    latest_nps_score,
    latest_nps_category,
    latest_nps_responded_at,
    overdue_invoices,
    usage_score,
    support_score,
    nps_score,
    billing_score,
    health_score,
    case
        when health_score >= 70 then 'healthy'
        when health_score >= 40 then 'at_risk'
        else 'critical'
    end as health_band
from scored
