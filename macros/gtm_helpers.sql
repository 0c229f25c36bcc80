{#- SQL for the var as_of_date, as a date. -#}
{% macro as_of_date() -%}
cast('{{ var('as_of_date') }}' as date)
{%- endmacro %}

{#- SQL for the first day of the last complete month: the last month whose last day
    is on or before as_of_date (2025-06-01 for 2025-06-30). -#}
{% macro last_complete_month() -%}
cast({{ dbt.dateadd('month', -1, "cast(" ~ dbt.date_trunc('month', dbt.dateadd('day', 1, as_of_date())) ~ " as date)") }} as date)
{%- endmacro %}

{#- SQL for the first month of the trailing-12-month window ending with the last
    complete month: the one window LTV, CAC and payback share. -#}
{% macro t12_window_start() -%}
cast({{ dbt.dateadd('month', -11, last_complete_month()) }} as date)
{%- endmacro %}

{#- LTV from pooled trailing-12-month inputs (GTM-METRICS.md "LTV"): `inputs` is a
    relation or CTE with the column `key` and total_mrr, paying_account_months,
    churned_logos, starting_logo_months, window_start_month, window_end_month.
    ARPA = total_mrr / paying_account_months; churn = churned_logos /
    starting_logo_months; LTV = ARPA × var('gross_margin') / churn (NULL without churn). -#}
{% macro pooled_ltv(key, inputs) -%}
with rates as (
    select
        {{ key }},
        window_start_month,
        window_end_month,
        total_mrr,
        paying_account_months,
        churned_logos,
        starting_logo_months,
        {{ sluice.safe_divide('total_mrr', 'paying_account_months') }} as arpa,
        cast({{ var('gross_margin', 0.80) }} as {{ sluice.type_double() }}) as gross_margin,
        {{ sluice.safe_divide('churned_logos', 'starting_logo_months') }} as monthly_logo_churn_rate
    from {{ inputs }}
)
select
    *,
    {{ sluice.safe_divide('arpa * gross_margin', 'monthly_logo_churn_rate') }} as ltv
from rates
{%- endmacro %}
