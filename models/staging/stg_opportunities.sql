with source as (

    select * from {{ ref('raw_opportunities') }}

),

renamed as (

    select
        id as opportunity_id,
        account_id,
        owner_rep_id,
        opportunity_name,
        opportunity_type,
        stage,
        {{ dbt.safe_cast('amount', dbt.type_numeric()) }} as amount,
        {{ dbt.safe_cast('created_at', dbt.type_timestamp()) }} as created_at,
        -- final close; a reopened opportunity shows its last close (null while open again)
        {{ dbt.safe_cast('closed_at', dbt.type_timestamp()) }} as closed_at,
        is_closed,
        is_won,
        {{ dbt.datediff('created_at', 'closed_at', 'day') }} as days_to_close

    from source

)

select * from renamed
