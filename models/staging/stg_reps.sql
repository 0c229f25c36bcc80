with source as (

    select * from {{ ref('raw_reps') }}

),

renamed as (

    select
        id as rep_id,
        rep_name,
        team,
        region,
        role as rep_role,
        cast(hired_on as date) as hired_on,
        -- the day after the last day employed; null while employed
        cast(terminated_on as date) as terminated_on

    from source

)

select * from renamed
