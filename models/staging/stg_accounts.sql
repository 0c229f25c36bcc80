with source as (

    select * from {{ ref('raw_accounts') }}

),

renamed as (

    select
        id as account_id,
        account_name,
        -- the CRM export spells a few segments inconsistently ('smb', 'Mid Market', 'ENT')
        case
            when lower(trim(segment)) = 'smb' then 'SMB'
            when replace(replace(lower(trim(segment)), '-', ''), ' ', '') = 'midmarket' then 'Mid-Market'
            when lower(trim(segment)) in ('enterprise', 'ent') then 'Enterprise'
        end as segment,
        tier,
        industry,
        region,
        country,
        upper(trim(billing_currency)) as billing_currency,
        cast(signup_date as date) as signup_date,
        cast({{ dbt.date_trunc('month', 'signup_date') }} as date) as signup_month,
        acquisition_motion,
        owner_rep_id

    from source

)

select * from renamed
