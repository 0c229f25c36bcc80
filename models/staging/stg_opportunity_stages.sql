with source as (

    select * from {{ ref('raw_opportunity_stages') }}

),

renamed as (

    select
        stage,
        stage_order,
        {{ dbt.safe_cast('probability', dbt.type_numeric()) }} as probability,
        is_closed,
        is_won

    from source

)

select * from renamed
