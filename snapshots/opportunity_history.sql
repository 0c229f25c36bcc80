{#-
  The history of each opportunity's stage and amount (SCD type 2), so the pipeline
  as of any past date can be reproduced from the warehouse alone.

  The query is the state of every opportunity at the end of the day
  var('snapshot_as_of') (default: var('as_of_date')): its latest stage-history row
  entered by then, ties on entered_at broken by the row's id. `stage_entered_at`
  drives the timestamp strategy, so a snapshot taken every day records one version
  per day with a change, valid from the moment that change was entered.
-#}
{% snapshot opportunity_history %}
{{ config(
    unique_key='opportunity_id',
    strategy='timestamp',
    updated_at='stage_entered_at',
) }}

{%- set as_of = var('snapshot_as_of', var('as_of_date')) %}

with history as (

    select
        h.opportunity_id,
        h.stage,
        h.amount,
        h.entered_at as stage_entered_at,
        row_number() over (
            partition by h.opportunity_id
            order by h.entered_at desc, h.stage_history_id desc
        ) as recency
    from {{ ref('stg_opportunity_stage_history') }} as h
    where h.entered_at < cast({{ dbt.dateadd('day', 1, "cast('" ~ as_of ~ "' as date)") }} as {{ dbt.type_timestamp() }})

)

select
    history.opportunity_id,
    history.stage,
    history.amount,
    stages.is_closed,
    stages.is_won,
    history.stage_entered_at
from history
inner join {{ ref('stg_opportunity_stages') }} as stages
    on stages.stage = history.stage
where history.recency = 1
{% endsnapshot %}
