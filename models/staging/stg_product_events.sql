-- A table, not a view: ~141k events are deduplicated and converted to UTC once, not
-- again in every mart, metric and assertion that reads them.
{{ config(materialized='table') }}

with source as (

    select * from {{ ref('raw_product_events') }}

),

-- the collector re-delivers some events: drop exact duplicate rows
deduplicated as (

    select distinct
        id,
        account_id,
        user_id,
        event_name,
        occurred_at as occurred_at_local
    from source

),

renamed as (

    select
        id as event_id,
        account_id,
        user_id,
        event_name,
        {{ to_utc('occurred_at_local') }} as occurred_at,
        cast({{ to_utc('occurred_at_local') }} as date) as event_date,
        occurred_at_local

    from deduplicated

)

select * from renamed
