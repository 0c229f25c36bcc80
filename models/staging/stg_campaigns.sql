with source as (

    select * from {{ ref('raw_campaigns') }}

),

renamed as (

    select
        id as campaign_id,
        campaign_name,
        channel,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        {{ dbt.safe_cast('budget', dbt.type_numeric()) }} as budget

    from source

)

select * from renamed
