with source as (

    select * from {{ ref('raw_touchpoints') }}

),

renamed as (

    select
        id as touchpoint_id,
        account_id,
        {{ dbt.safe_cast('touched_at', dbt.type_timestamp()) }} as touched_at,
        coalesce(channel, 'unknown') as channel,
        campaign_id,
        touch_type

    from source

)

select * from renamed
