{#-
  sluice's own helper macros (namespace `sluice`). Each public macro dispatches
  through adapter.dispatch('<name>', 'sluice') to `<target.type>__<name>`, falling
  back to `default__<name>`, and builds on the `dbt` namespace for
  warehouse-specific pieces (types, datediff, dateadd, hash).
-#}

{# Returns SQL for numerator / denominator as a float, NULL when the denominator is 0 or NULL (never an error). #}
{% macro safe_divide(numerator, denominator) -%}
  {{ return(adapter.dispatch('safe_divide', 'sluice')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__safe_divide(numerator, denominator) -%}
(cast(({{ numerator }}) as {{ sluice.type_double() }}) / nullif(({{ denominator }}), 0))
{%- endmacro %}

{#- SAFE_DIVIDE is NULL on division by zero; a NULL operand gives NULL anyway. -#}
{% macro bigquery__safe_divide(numerator, denominator) -%}
safe_divide(cast(({{ numerator }}) as {{ sluice.type_double() }}), ({{ denominator }}))
{%- endmacro %}


{#- dbt.type_float() is what dbt-core renders: `float`, 4 bytes on DuckDB. sluice's
    ratios and weights compute in 8 bytes on every warehouse. -#}
{# Returns the target's 8-byte floating-point type (double on DuckDB, float on Snowflake, float64 on BigQuery). #}
{% macro type_double() -%}
  {{ return(adapter.dispatch('type_double', 'sluice')()) }}
{%- endmacro %}

{#- Snowflake's FLOAT (and Postgres' float) is 8 bytes. -#}
{% macro default__type_double() -%}float{%- endmacro %}

{% macro duckdb__type_double() -%}double{%- endmacro %}

{% macro bigquery__type_double() -%}float64{%- endmacro %}


{#- A spine has dbt.datediff(start_date, end_date, datepart) rows: start_date plus
    0, 1, ... dateparts. That is dbt_utils' row count; every row is < end_date. The
    column's type is that of dbt.dateadd on the target (timestamp on DuckDB,
    datetime on BigQuery, the input's type on Snowflake), as with dbt_utils. -#}
{# Returns a query with one column date_<datepart>: every datepart step from start_date (inclusive) to end_date (exclusive); both are SQL expressions. #}
{% macro date_spine(datepart, start_date, end_date) -%}
  {{ return(adapter.dispatch('date_spine', 'sluice')(datepart, start_date, end_date)) }}
{%- endmacro %}

{#- Portable fallback: recursive CTE. -#}
{% macro default__date_spine(datepart, start_date, end_date) -%}
with recursive spine_offsets (spine_offset) as (
    select 0
    union all
    select spine_offset + 1
    from spine_offsets
    where spine_offset + 1 < {{ dbt.datediff(start_date, end_date, datepart) }}
)
select {{ dbt.dateadd(datepart, 'spine_offset', start_date) }} as date_{{ datepart }}
from spine_offsets
where spine_offset < {{ dbt.datediff(start_date, end_date, datepart) }}
{%- endmacro %}

{% macro duckdb__date_spine(datepart, start_date, end_date) -%}
select {{ dbt.dateadd(datepart, 'spine_offset', start_date) }} as date_{{ datepart }}
from range(0, {{ dbt.datediff(start_date, end_date, datepart) }}) as spine(spine_offset)
{%- endmacro %}

{#- GENERATOR's ROWCOUNT must be a constant, so a spine whose bounds are
    expressions is generated from ARRAY_GENERATE_RANGE (as dbt-snowflake does). -#}
{% macro snowflake__date_spine(datepart, start_date, end_date) -%}
select {{ dbt.dateadd(datepart, 'cast(spine.value as integer)', start_date) }} as date_{{ datepart }}
from table(flatten(input => array_generate_range(0, {{ dbt.datediff(start_date, end_date, datepart) }}))) as spine
{%- endmacro %}

{% macro bigquery__date_spine(datepart, start_date, end_date) -%}
select {{ dbt.dateadd(datepart, 'spine_offset', start_date) }} as date_{{ datepart }}
from unnest(generate_array(0, {{ dbt.datediff(start_date, end_date, datepart) }} - 1)) as spine_offset
{%- endmacro %}


{#- As dbt_utils: var('surrogate_key_treat_nulls_as_empty_strings') swaps the
    NULL placeholder for ''. -#}
{# Returns SQL for the hex md5 of the fields (SQL expressions) cast to strings, NULLs as '_dbt_utils_surrogate_key_null_', joined with '-'. #}
{% macro generate_surrogate_key(field_list) -%}
  {{ return(adapter.dispatch('generate_surrogate_key', 'sluice')(field_list)) }}
{%- endmacro %}

{% macro default__generate_surrogate_key(field_list) -%}
{%- if field_list is string or field_list is not iterable or field_list | length == 0 -%}
{{ exceptions.raise_compiler_error('sluice.generate_surrogate_key expects a non-empty list of column names or expressions') }}
{%- endif -%}
{%- set null_value = '' if var('surrogate_key_treat_nulls_as_empty_strings', false) else '_dbt_utils_surrogate_key_null_' -%}
{%- set string_type = dbt.type_string() -%}
{%- set key_parts -%}
{%- for field in field_list -%}
coalesce(cast({{ field }} as {{ string_type }}), '{{ null_value }}'){% if not loop.last %} || '-' || {% endif %}
{%- endfor -%}
{%- endset -%}
{{ dbt.hash(key_parts) }}
{%- endmacro %}
