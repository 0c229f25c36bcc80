with source as (

    select * from {{ ref('raw_feature_releases') }}

),

renamed as (

    select
        id as feature_id,
        feature_name,
        -- joins to stg_product_events.event_name
        event_name,
        cast(released_on as date) as released_on,
        is_core

    from source

)

select * from renamed
