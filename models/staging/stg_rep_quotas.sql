with source as (

    select * from {{ ref('raw_rep_quotas') }}

),

renamed as (

    select
        id as rep_quota_id,
        rep_id,
        cast(quarter_start as date) as quarter_start,
        {{ dbt.safe_cast('quota_amount', dbt.type_numeric()) }} as quota_amount

    from source

)

select * from renamed
