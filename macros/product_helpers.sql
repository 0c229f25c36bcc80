{#- Helpers of the product usage marts (models/marts/product). -#}

{#- SQL for the Monday that starts the week of `date_sql` (a date expression), the
    same on every target: dbt.date_trunc('week') starts weeks on Monday on DuckDB and
    Snowflake (WEEK_START 0) but on Sunday on BigQuery, so the week is counted from a
    known Monday instead (2000-01-03; every date in the data is later, so the
    modulo is never negative). -#}
{% macro week_start(date_sql) -%}
cast({{ dbt.dateadd('day', '-1 * mod(' ~ dbt.datediff("cast('2000-01-03' as date)", date_sql, 'day') ~ ', 7)', date_sql) }} as date)
{%- endmacro %}

{#- SQL for the number of days in the month that starts on `month_sql` (a date). -#}
{% macro days_in_month(month_sql) -%}
cast({{ dbt.datediff(month_sql, dbt.dateadd('month', 1, month_sql), 'day') }} as {{ dbt.type_int() }})
{%- endmacro %}

{#- The calendar the product marts count days and months on: one row per day
    (date_day) from var('product_calendar_start') through as_of_date, with its month.
    Models trim it to the first day with a product event. -#}
{% macro product_calendar() -%}
select
    cast(date_day as date) as date_day,
    cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month
from (
    {{ sluice.date_spine(
        'day',
        "cast('" ~ var('product_calendar_start', '2021-01-01') ~ "' as date)",
        dbt.dateadd('day', 1, as_of_date())
    ) }}
) as spine
{%- endmacro %}
