with source as (

    select * from {{ ref('raw_nps_responses') }}

),

renamed as (

    select
        id as nps_response_id,
        account_id,
        user_id,
        {{ dbt.safe_cast('responded_at', dbt.type_timestamp()) }} as responded_at,
        score,
        -- the standard NPS buckets: 9-10 promoter, 7-8 passive, 0-6 detractor
        case
            when score >= 9 then 'promoter'
            when score >= 7 then 'passive'
            when score >= 0 then 'detractor'
        end as nps_category

    from source

)

select * from renamed
