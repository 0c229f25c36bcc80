{#- Helpers of the sales marts (models/marts/sales, GTM-METRICS.md "Sales"). -#}

{#- SQL selecting one row per calendar month of the sales marts, from
    var('sales_start_month') through the last complete month (last_complete_month()):
      month          first day of the month (date)
      month_start_at the month's first instant (timestamp, 00:00:00 UTC)
      month_end_at   the end of the month's last day: the first instant of the next
                     month. This is the pipeline snapshot time d of the month, and
                     closes / wins "in the month" are month_start_at <= t < month_end_at. -#}
{% macro sales_months() -%}
select
    cast(date_month as date) as month,
    cast(date_month as {{ dbt.type_timestamp() }}) as month_start_at,
    cast({{ dbt.dateadd('month', 1, 'date_month') }} as {{ dbt.type_timestamp() }}) as month_end_at
from (
    {{ sluice.date_spine(
        'month',
        "cast('" ~ var('sales_start_month') ~ "' as date)",
        dbt.dateadd('month', 1, last_complete_month())
    ) }}
) as spine
{%- endmacro %}
