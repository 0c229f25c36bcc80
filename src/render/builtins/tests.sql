{#-
  dbt's four generic data tests (namespace `dbt`). Each `{% test x %}` becomes
  the macro `test_x`, which dispatches to `<target.type>__test_x` or
  `default__test_x` like dbt-core's global project. Every test renders a SELECT
  of the failing rows; sluice counts them. `model` and `to` are relations and
  print as their quoted full name.
-#}

{# Returns a query of the rows of model whose column_name is NULL: the whole rows
   when the test keeps its failures (store_failures), as dbt's, else the column. #}
{% test not_null(model, column_name) %}
    {% set macro = adapter.dispatch('test_not_null', 'dbt') %}
    {{ macro(model, column_name) }}
{% endtest %}

{% macro default__test_not_null(model, column_name) %}
select {{ '*' if should_store_failures() else column_name }}
from {{ model }}
where {{ column_name }} is null
{% endmacro %}


{# Returns a query of each non-NULL value of column_name found more than once in model, with its count. #}
{% test unique(model, column_name) %}
    {% set macro = adapter.dispatch('test_unique', 'dbt') %}
    {{ macro(model, column_name) }}
{% endtest %}

{% macro default__test_unique(model, column_name) %}
select
    {{ column_name }} as unique_field,
    count(*) as n_records
from {{ model }}
where {{ column_name }} is not null
group by {{ column_name }}
having count(*) > 1
{% endmacro %}


{# Returns a query of each value of column_name not in values (NULLs pass), with its count. #}
{% test accepted_values(model, column_name, values, quote=True) %}
    {% set macro = adapter.dispatch('test_accepted_values', 'dbt') %}
    {{ macro(model, column_name, values, quote) }}
{% endtest %}

{#- Quoted values are escaped for the target (dbt does not escape them). -#}
{% macro default__test_accepted_values(model, column_name, values, quote=True) %}
{%- if values is string or values is not iterable or values | length == 0 -%}
{{ exceptions.raise_compiler_error('accepted_values test on ' ~ column_name ~ ': `values` must be a non-empty list') }}
{%- endif %}
with all_values as (
    select
        {{ column_name }} as value_field,
        count(*) as n_records
    from {{ model }}
    group by {{ column_name }}
)
select *
from all_values
where value_field not in (
    {%- for value in values -%}
    {%- if quote -%}
    '{{ dbt.escape_single_quotes(value ~ '') }}'
    {%- else -%}
    {{ value }}
    {%- endif -%}
    {%- if not loop.last %}, {% endif -%}
    {%- endfor -%}
)
{% endmacro %}


{# Returns a query of the non-NULL values of column_name in model that have no match in field of the relation to. #}
{% test relationships(model, column_name, to, field) %}
    {% set macro = adapter.dispatch('test_relationships', 'dbt') %}
    {{ macro(model, column_name, to, field) }}
{% endtest %}

{% macro default__test_relationships(model, column_name, to, field) %}
with child as (
    select {{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null
),
parent as (
    select {{ field }} as to_field
    from {{ to }}
)
select from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null
{% endmacro %}
