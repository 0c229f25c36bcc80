with source as (

    select * from {{ ref('raw_opportunity_stage_history') }}

),

renamed as (

    select
        id as stage_history_id,
        opportunity_id,
        -- a reopened opportunity enters a stage more than once (... Closed Lost -> Negotiation ...)
        stage,
        {{ dbt.safe_cast('entered_at', dbt.type_timestamp()) }} as entered_at,
        {{ dbt.safe_cast('amount', dbt.type_numeric()) }} as amount

    from source

)

select * from renamed
