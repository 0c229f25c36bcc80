with source as (

    select * from {{ ref('raw_campaign_daily') }}

),

-- the ad platform export re-delivers some days: drop exact duplicate rows
deduplicated as (

    select distinct * from source

),

renamed as (

    select
        cast(campaign_id as {{ dbt.type_string() }}) || '-' || cast(report_date as {{ dbt.type_string() }}) as campaign_day_id,
        campaign_id,
        cast(report_date as date) as date_day,
        {{ dbt.safe_cast('spend', dbt.type_numeric()) }} as spend,
        impressions,
        clicks

    from deduplicated

)

select * from renamed
