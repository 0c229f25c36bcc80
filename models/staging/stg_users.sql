with source as (

    select * from {{ ref('raw_users') }}

),

renamed as (

    select
        id as user_id,
        account_id,
        -- compared with stg_leads.email_hash, which is lower-cased the same way
        lower(trim(email_hash)) as email_hash,
        role as user_role,
        {{ dbt.safe_cast('signed_up_at', dbt.type_timestamp()) }} as signed_up_at,
        cast(signed_up_at as date) as signup_date,
        -- null while the user is active
        {{ dbt.safe_cast('deactivated_at', dbt.type_timestamp()) }} as deactivated_at

    from source

)

select * from renamed
