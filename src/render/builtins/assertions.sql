{#-
  sluice's metric-accuracy assertions (namespace `sluice`). Each kind is an
  ordinary generic test: it renders a SELECT of the offending rows (with the
  difference where there is one), and sluice counts them. `model` and `to` are
  relations; column arguments are SQL expressions.
-#}

{# Rows where `expression` is not true (NULL counts as not true). #}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}

{# Rows whose `column` lies outside [min_value, max_value] (bounds optional; NULLs pass). #}
{% test accepted_range(model, column, min_value=none, max_value=none, inclusive=true) %}
{%- if min_value is none and max_value is none -%}
{{ exceptions.raise_compiler_error('accepted_range needs min_value, max_value or both') }}
{%- endif %}
select *
from {{ model }}
where {{ column }} is not null
  and not (
    {%- if min_value is not none %}
    {{ column }} {{ '>=' if inclusive else '>' }} {{ min_value }}
    {%- endif %}
    {%- if min_value is not none and max_value is not none %} and{% endif %}
    {%- if max_value is not none %}
    {{ column }} {{ '<=' if inclusive else '<' }} {{ max_value }}
    {%- endif %}
  )
{% endtest %}

{# Groups where sum(column) differs from `value` by more than `tolerance`. #}
{% test sums_to(model, column, value, group_by=[], tolerance=0.000000001) %}
select
    {% for g in group_by %}{{ g }}, {% endfor %}
    sum({{ column }}) as actual,
    {{ value }} as expected,
    sum({{ column }}) - {{ value }} as difference
from {{ model }}
{% if group_by %}group by {{ group_by | join(', ') }}{% endif %}
having abs(coalesce(sum({{ column }}), 0) - {{ value }}) > {{ tolerance }}
{% endtest %}

{# Groups where start + Σ movements differs from end (a stock-flow identity). #}
{% test balances(model, start, movements, end, group_by=[], tolerance=0.005) %}
select
    {% for g in group_by %}{{ g }}, {% endfor %}
    sum({{ start }}) as starting,
    {% for m in movements %}sum({{ m }}) as {{ m }}, {% endfor %}
    sum({{ end }}) as ending,
    sum({{ start }}){% for m in movements %} + sum(coalesce({{ m }}, 0)){% endfor %} - sum({{ end }}) as difference
from {{ model }}
{% if group_by %}group by {{ group_by | join(', ') }}{% endif %}
having abs(coalesce(sum({{ start }}), 0){% for m in movements %} + coalesce(sum({{ m }}), 0){% endfor %} - coalesce(sum({{ end }}), 0)) > {{ tolerance }}
{% endtest %}

{# Groups (or the whole relation) where sum(measure) in model differs from sum(to_measure) in `to`. #}
{% test equal_totals(model, measure, to, to_measure=none, group_by=[], tolerance=0.005) %}
{%- set other = to_measure if to_measure is not none else measure %}
with a as (
    select {% for g in group_by %}{{ g }}, {% endfor %}sum({{ measure }}) as total
    from {{ model }}
    {% if group_by %}group by {{ group_by | join(', ') }}{% endif %}
),
b as (
    select {% for g in group_by %}{{ g }}, {% endfor %}sum({{ other }}) as total
    from {{ to }}
    {% if group_by %}group by {{ group_by | join(', ') }}{% endif %}
)
select
    {% for g in group_by %}coalesce(a.{{ g }}, b.{{ g }}) as {{ g }}, {% endfor %}
    a.total as model_total,
    b.total as compared_total,
    coalesce(a.total, 0) - coalesce(b.total, 0) as difference
from a
full outer join b
    on {% if group_by %}{% for g in group_by %}{% if not loop.first %} and {% endif %}a.{{ g }} = b.{{ g }}{% endfor %}{% else %}true{% endif %}
where abs(coalesce(a.total, 0) - coalesce(b.total, 0)) > {{ tolerance }}
{% endtest %}

{# One row when the two relations have different row counts. #}
{% test equal_rowcount(model, to) %}
select model_rows, compared_rows, model_rows - compared_rows as difference
from (
    select
        (select count(*) from {{ model }}) as model_rows,
        (select count(*) from {{ to }}) as compared_rows
) as counts
where model_rows != compared_rows
{% endtest %}

{# Rows in one relation and not the other (as multisets), over compare_columns or all columns. #}
{% test equality(model, to, compare_columns=none) %}
{%- set cols = compare_columns | join(', ') if compare_columns else '*' %}
with a as (select {{ cols }} from {{ model }}),
b as (select {{ cols }} from {{ to }}),
a_minus_b as (select * from a except all select * from b),
b_minus_a as (select * from b except all select * from a)
select 'only in model' as which, * from a_minus_b
union all
select 'only in compared' as which, * from b_minus_a
{% endtest %}

{#- A literal for a YAML value in expected rows. -#}
{% macro literal(value) -%}
{%- if value is none -%}null
{%- elif value is boolean -%}{{ 'true' if value else 'false' }}
{%- elif value is number -%}{{ value }}
{%- else -%}'{{ value | string | replace("'", "''") }}'
{%- endif -%}
{%- endmacro %}

{# The scalar query `sql` vs `expect` (one row when they differ by more than
   `tolerance`), or the rows of `sql` vs `expect` rows (the rows only one side has). #}
{% test equals(model, sql, expect, tolerance=0) %}
{%- if expect is mapping or (expect is iterable and expect is not string) %}
{%- set rows = [expect] if expect is mapping else expect %}
{#- Both sides are projected on the expected columns, in the same order. #}
{%- set cols = rows[0].keys() | list %}
with actual as (
{{ sql }}
),
expected as (
{%- for row in rows %}
    {% if not loop.first %}union all {% endif %}select {% for k in cols %}{{ sluice.literal(row[k]) }} as {{ k }}{% if not loop.last %}, {% endif %}{% endfor %}
{%- endfor %}
),
unexpected as (select {{ cols | join(', ') }} from actual except all select {{ cols | join(', ') }} from expected),
missing as (select {{ cols | join(', ') }} from expected except all select {{ cols | join(', ') }} from actual)
select 'unexpected' as which, * from unexpected
union all
select 'missing' as which, * from missing
{%- else %}
select actual, expected, actual - expected as difference
from (
    select ({{ sql }}) as actual, {{ expect }} as expected
) as comparison
where actual is null or abs(actual - expected) > {{ tolerance }}
{%- endif %}
{% endtest %}

{# A metric's answer vs expected rows or a query: sluice writes the comparison
   (src/metrics/assertion.rs); it selects the rows where the two differ. #}
{% test metric(model, compare_sql) %}
{{ compare_sql }}
{% endtest %}
