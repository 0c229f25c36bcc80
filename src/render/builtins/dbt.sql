{#-
  dbt's cross-database macros (namespace `dbt`), with dbt-core's names and
  signatures. Every public macro dispatches through
  adapter.dispatch('<name>', 'dbt'), which picks `<target.type>__<name>` and
  falls back to `default__<name>`. The defaults emit ANSI/Snowflake-style SQL;
  duckdb__/snowflake__/bigquery__ variants exist only where the SQL differs.
  Modelled on dbt-adapters' global_project and on dbt-duckdb, dbt-snowflake and
  dbt-bigquery. Macros call each other through the namespace (`dbt.x(...)`),
  never by bare name, so dispatch and return() behave the same everywhere.
-#}

{# ---------------------------------------------------------------- types -- #}

{# Returns the name of the target's string type (varchar / string). #}
{% macro type_string() -%}
  {{ return(adapter.dispatch('type_string', 'dbt')()) }}
{%- endmacro %}

{% macro default__type_string() -%}varchar{%- endmacro %}

{% macro bigquery__type_string() -%}string{%- endmacro %}


{# Returns the name of the target's integer type (integer / int64). #}
{% macro type_int() -%}
  {{ return(adapter.dispatch('type_int', 'dbt')()) }}
{%- endmacro %}

{% macro default__type_int() -%}integer{%- endmacro %}

{% macro bigquery__type_int() -%}int64{%- endmacro %}


{# Returns the name of the target's 64-bit integer type (bigint / int64). #}
{% macro type_bigint() -%}
  {{ return(adapter.dispatch('type_bigint', 'dbt')()) }}
{%- endmacro %}

{% macro default__type_bigint() -%}bigint{%- endmacro %}

{% macro bigquery__type_bigint() -%}int64{%- endmacro %}


{# Returns the name of the target's double-precision float type (float / double / float64). #}
{% macro type_float() -%}
  {{ return(adapter.dispatch('type_float', 'dbt')()) }}
{%- endmacro %}

{#- `float` everywhere but BigQuery, as dbt-core's translate_type("float") gives: on
    DuckDB that is a 4-byte FLOAT, as dbt-duckdb writes it (sluice.type_double() is
    the 8-byte type). -#}
{% macro default__type_float() -%}float{%- endmacro %}

{% macro bigquery__type_float() -%}float64{%- endmacro %}


{# Returns the name of the target's fixed-point type (numeric(28,6) / numeric). #}
{% macro type_numeric() -%}
  {{ return(adapter.dispatch('type_numeric', 'dbt')()) }}
{%- endmacro %}

{% macro default__type_numeric() -%}numeric(28,6){%- endmacro %}

{#- BigQuery's NUMERIC is fixed at precision 38, scale 9; spelling it out changes
    nothing on BigQuery and keeps the local emulator from narrowing it to (18,3). -#}
{% macro bigquery__type_numeric() -%}numeric(38, 9){%- endmacro %}


{# Returns the name of the target's timestamp type (timestamp / timestamp_ntz). #}
{% macro type_timestamp() -%}
  {{ return(adapter.dispatch('type_timestamp', 'dbt')()) }}
{%- endmacro %}

{% macro default__type_timestamp() -%}timestamp{%- endmacro %}

{#- Snowflake's TIMESTAMP follows TIMESTAMP_TYPE_MAPPING; NTZ is its default. -#}
{% macro snowflake__type_timestamp() -%}timestamp_ntz{%- endmacro %}


{# Returns the name of the target's boolean type (boolean / bool). #}
{% macro type_boolean() -%}
  {{ return(adapter.dispatch('type_boolean', 'dbt')()) }}
{%- endmacro %}

{% macro default__type_boolean() -%}boolean{%- endmacro %}

{% macro bigquery__type_boolean() -%}bool{%- endmacro %}


{# ---------------------------------------------------------- casting -- #}

{# Returns SQL casting field to type. #}
{% macro cast(field, type) -%}
  {{ return(adapter.dispatch('cast', 'dbt')(field, type)) }}
{%- endmacro %}

{% macro default__cast(field, type) -%}
cast({{ field }} as {{ type }})
{%- endmacro %}

{% macro snowflake__cast(field, type) -%}
{%- if type | upper == 'GEOGRAPHY' -%}
to_geography({{ field }})
{%- elif type | upper == 'GEOMETRY' -%}
to_geometry({{ field }})
{%- else -%}
cast({{ field }} as {{ type }})
{%- endif -%}
{%- endmacro %}


{# Returns SQL casting field to type, yielding NULL instead of an error when the cast fails (plain cast where the warehouse has no such cast). #}
{% macro safe_cast(field, type) -%}
  {{ return(adapter.dispatch('safe_cast', 'dbt')(field, type)) }}
{%- endmacro %}

{% macro default__safe_cast(field, type) -%}
cast({{ field }} as {{ type }})
{%- endmacro %}

{% macro duckdb__safe_cast(field, type) -%}
try_cast({{ field }} as {{ type }})
{%- endmacro %}

{#- Snowflake's TRY_CAST only accepts string input: a number literal is quoted
    (as dbt-snowflake does); VARIANT, GEOGRAPHY and GEOMETRY have their own paths. -#}
{% macro snowflake__safe_cast(field, type) -%}
{%- if type | upper == 'GEOMETRY' -%}
try_to_geometry({{ field }})
{%- elif type | upper == 'GEOGRAPHY' -%}
try_to_geography({{ field }})
{%- elif type | upper == 'VARIANT' -%}
{{ dbt.cast(field, type) }}
{%- elif field is number -%}
try_cast({{ dbt.string_literal(field) }} as {{ type }})
{%- else -%}
{#- The column may already be typed (a seed's number or timestamp): TRY_CAST
    rejects non-string input, so go through varchar first. -#}
try_cast(cast({{ field }} as varchar) as {{ type }})
{%- endif -%}
{%- endmacro %}

{% macro bigquery__safe_cast(field, type) -%}
safe_cast({{ field }} as {{ type }})
{%- endmacro %}


{# Returns SQL casting a boolean expression to the target's string type ('true' / 'false'). #}
{% macro cast_bool_to_text(field) -%}
  {{ return(adapter.dispatch('cast_bool_to_text', 'dbt')(field)) }}
{%- endmacro %}

{% macro default__cast_bool_to_text(field) -%}
cast({{ field }} as {{ dbt.type_string() }})
{%- endmacro %}


{# -------------------------------------------------------- date & time -- #}

{# Returns SQL for the current timestamp (UTC on Snowflake, as in dbt-snowflake). #}
{% macro current_timestamp() -%}
  {{ return(adapter.dispatch('current_timestamp', 'dbt')()) }}
{%- endmacro %}

{% macro default__current_timestamp() -%}
current_timestamp
{%- endmacro %}

{% macro duckdb__current_timestamp() -%}
now()
{%- endmacro %}

{% macro snowflake__current_timestamp() -%}
convert_timezone('UTC', current_timestamp())
{%- endmacro %}

{% macro bigquery__current_timestamp() -%}
current_timestamp()
{%- endmacro %}


{#- dbt's deprecated timestamps, kept for packages written for dbt_utils < 1.0. -#}
{# Returns SQL for the current timestamp without time zone (deprecated in dbt; as dbt_utils' old current_timestamp). #}
{% macro current_timestamp_backcompat() -%}
  {{ return(adapter.dispatch('current_timestamp_backcompat', 'dbt')()) }}
{%- endmacro %}

{% macro default__current_timestamp_backcompat() -%}
current_timestamp::timestamp
{%- endmacro %}

{% macro snowflake__current_timestamp_backcompat() -%}
current_timestamp::{{ dbt.type_timestamp() }}
{%- endmacro %}

{% macro bigquery__current_timestamp_backcompat() -%}
current_timestamp
{%- endmacro %}


{# Returns SQL for the current UTC timestamp without time zone (deprecated in dbt). #}
{% macro current_timestamp_in_utc_backcompat() -%}
  {{ return(adapter.dispatch('current_timestamp_in_utc_backcompat', 'dbt')()) }}
{%- endmacro %}

{% macro default__current_timestamp_in_utc_backcompat() -%}
  {{ return(adapter.dispatch('current_timestamp_backcompat', 'dbt')()) }}
{%- endmacro %}

{% macro snowflake__current_timestamp_in_utc_backcompat() -%}
convert_timezone('UTC', {{ dbt.snowflake__current_timestamp_backcompat() }})::{{ dbt.type_timestamp() }}
{%- endmacro %}


{# Returns SQL truncating date to the start of its datepart (day, week, month, quarter, year, hour...). #}
{% macro date_trunc(datepart, date) -%}
  {{ return(adapter.dispatch('date_trunc', 'dbt')(datepart, date)) }}
{%- endmacro %}

{% macro default__date_trunc(datepart, date) -%}
date_trunc('{{ datepart }}', {{ date }})
{%- endmacro %}

{#- As dbt-bigquery: goes through TIMESTAMP so DATE, DATETIME and TIMESTAMP all work. -#}
{% macro bigquery__date_trunc(datepart, date) -%}
timestamp_trunc(cast({{ date }} as timestamp), {{ datepart }})
{%- endmacro %}


{# Returns SQL for the number of datepart boundaries crossed going from first_date to second_date (negative when second_date is earlier). #}
{% macro datediff(first_date, second_date, datepart) -%}
  {{ return(adapter.dispatch('datediff', 'dbt')(first_date, second_date, datepart)) }}
{%- endmacro %}

{% macro default__datediff(first_date, second_date, datepart) -%}
datediff({{ datepart }}, {{ first_date }}, {{ second_date }})
{%- endmacro %}

{#- DuckDB's date_diff counts boundaries for every part but week, where it counts
    whole 7-day spans; weeks are counted Sunday to Sunday as in dbt-duckdb
    (date_trunc('week') truncates to Monday, so both sides are shifted a day). -#}
{% macro duckdb__datediff(first_date, second_date, datepart) -%}
{%- if datepart | lower == 'week' -%}
(date_diff('day', date_trunc('week', cast({{ first_date }} as date) + 1), date_trunc('week', cast({{ second_date }} as date) + 1)) // 7)
{%- else -%}
date_diff('{{ datepart | lower }}', cast({{ first_date }} as timestamp), cast({{ second_date }} as timestamp))
{%- endif -%}
{%- endmacro %}

{#- DATETIME_DIFF(a, b, part) is a - b, so the later date goes first. -#}
{% macro bigquery__datediff(first_date, second_date, datepart) -%}
datetime_diff(cast({{ second_date }} as datetime), cast({{ first_date }} as datetime), {{ datepart }})
{%- endmacro %}


{# Returns SQL adding interval (a number or integer SQL expression) dateparts to from_date_or_timestamp. #}
{% macro dateadd(datepart, interval, from_date_or_timestamp) -%}
  {{ return(adapter.dispatch('dateadd', 'dbt')(datepart, interval, from_date_or_timestamp)) }}
{%- endmacro %}

{% macro default__dateadd(datepart, interval, from_date_or_timestamp) -%}
dateadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{#- Multiplying a unit interval works for column/expression counts too;
    quarter and week are spelled as months and days, as in dbt-duckdb. -#}
{% macro duckdb__dateadd(datepart, interval, from_date_or_timestamp) -%}
{%- set unit = datepart | lower -%}
{%- if unit == 'quarter' -%}
({{ from_date_or_timestamp }} + cast({{ interval }} as bigint) * interval 3 month)
{%- elif unit == 'week' -%}
({{ from_date_or_timestamp }} + cast({{ interval }} as bigint) * interval 7 day)
{%- else -%}
({{ from_date_or_timestamp }} + cast({{ interval }} as bigint) * interval 1 {{ unit }})
{%- endif -%}
{%- endmacro %}

{% macro bigquery__dateadd(datepart, interval, from_date_or_timestamp) -%}
datetime_add(cast({{ from_date_or_timestamp }} as datetime), interval ({{ interval }}) {{ datepart }})
{%- endmacro %}


{# Returns SQL for the last day (a date) of the datepart period containing date. #}
{% macro last_day(date, datepart) -%}
  {{ return(adapter.dispatch('last_day', 'dbt')(date, datepart)) }}
{%- endmacro %}

{#- One datepart after the start of the period, minus a day. dbt.dateadd
    already handles quarter on DuckDB, so no duckdb__ variant is needed. -#}
{% macro default__last_day(date, datepart) -%}
{{ dbt.default_last_day(date, datepart) }}
{%- endmacro %}

{#- dbt-adapters' name for the portable body, which adapters' overrides call. -#}
{% macro default_last_day(date, datepart) -%}
cast({{ dbt.dateadd('day', '-1', dbt.dateadd(datepart, '1', dbt.date_trunc(datepart, date))) }} as date)
{%- endmacro %}


{# Returns SQL for the date year-month-day (year, month, day are integers). #}
{% macro date(year, month, day) -%}
  {{ return(adapter.dispatch('date', 'dbt')(year, month, day)) }}
{%- endmacro %}

{% macro default__date(year, month, day) -%}
{%- if year is not number or month is not number or day is not number -%}
{{ exceptions.raise_compiler_error('dbt.date() expects integer year, month and day') }}
{%- elif year < 1 or year > 9999 or month < 1 or month > 12 or day < 1 or day > 31 -%}
{{ exceptions.raise_compiler_error('dbt.date(): invalid date: ' ~ year ~ '-' ~ month ~ '-' ~ day) }}
{%- endif -%}
to_date('{{ ('000' ~ year)[-4:] }}-{{ ('0' ~ month)[-2:] }}-{{ ('0' ~ day)[-2:] }}', 'YYYY-MM-DD')
{%- endmacro %}

{% macro duckdb__date(year, month, day) -%}
make_date({{ year }}, {{ month }}, {{ day }})
{%- endmacro %}

{% macro bigquery__date(year, month, day) -%}
date({{ year }}, {{ month }}, {{ day }})
{%- endmacro %}


{# ---------------------------------------------------------- strings -- #}

{# Returns SQL concatenating the SQL expressions in the list fields. #}
{% macro concat(fields) -%}
  {{ return(adapter.dispatch('concat', 'dbt')(fields)) }}
{%- endmacro %}

{% macro default__concat(fields) -%}
{{ fields | join(' || ') }}
{%- endmacro %}


{# Returns SQL for the hex md5 hash of field cast to a string. #}
{% macro hash(field) -%}
  {{ return(adapter.dispatch('hash', 'dbt')(field)) }}
{%- endmacro %}

{% macro default__hash(field) -%}
md5(cast({{ field }} as {{ dbt.type_string() }}))
{%- endmacro %}

{#- BigQuery's MD5 returns BYTES. -#}
{% macro bigquery__hash(field) -%}
to_hex({{ dbt.default__hash(field) }})
{%- endmacro %}


{# Returns SQL for the number of characters in expression. #}
{% macro length(expression) -%}
  {{ return(adapter.dispatch('length', 'dbt')(expression)) }}
{%- endmacro %}

{% macro default__length(expression) -%}
length({{ expression }})
{%- endmacro %}


{# Returns SQL for the 1-based position of substring_text in string_text (0 when absent). #}
{% macro position(substring_text, string_text) -%}
  {{ return(adapter.dispatch('position', 'dbt')(substring_text, string_text)) }}
{%- endmacro %}

{% macro default__position(substring_text, string_text) -%}
position({{ substring_text }} in {{ string_text }})
{%- endmacro %}

{% macro bigquery__position(substring_text, string_text) -%}
strpos({{ string_text }}, {{ substring_text }})
{%- endmacro %}


{# Returns SQL replacing every old_chars in field with new_chars (all three are SQL expressions). #}
{% macro replace(field, old_chars, new_chars) -%}
  {{ return(adapter.dispatch('replace', 'dbt')(field, old_chars, new_chars)) }}
{%- endmacro %}

{% macro default__replace(field, old_chars, new_chars) -%}
replace({{ field }}, {{ old_chars }}, {{ new_chars }})
{%- endmacro %}


{# Returns SQL for the last length_expression characters of string_text ('' for 0). #}
{% macro right(string_text, length_expression) -%}
  {{ return(adapter.dispatch('right', 'dbt')(string_text, length_expression)) }}
{%- endmacro %}

{% macro default__right(string_text, length_expression) -%}
right({{ string_text }}, {{ length_expression }})
{%- endmacro %}

{% macro snowflake__right(string_text, length_expression) -%}
case when {{ length_expression }} = 0 then '' else right({{ string_text }}, {{ length_expression }}) end
{%- endmacro %}

{% macro bigquery__right(string_text, length_expression) -%}
case when {{ length_expression }} = 0 then '' else substr({{ string_text }}, -1 * ({{ length_expression }})) end
{%- endmacro %}


{# Returns SQL for the part_number-th (1-based; negative counts from the end) piece of string_text split on delimiter_text. #}
{% macro split_part(string_text, delimiter_text, part_number) -%}
  {{ return(adapter.dispatch('split_part', 'dbt')(string_text, delimiter_text, part_number)) }}
{%- endmacro %}

{% macro default__split_part(string_text, delimiter_text, part_number) -%}
split_part({{ string_text }}, {{ delimiter_text }}, {{ part_number }})
{%- endmacro %}

{% macro duckdb__split_part(string_text, delimiter_text, part_number) -%}
string_split({{ string_text }}, {{ delimiter_text }})[{{ part_number }}]
{%- endmacro %}

{#- SPLIT returns a 0-based array; a negative part counts back from its length. -#}
{% macro bigquery__split_part(string_text, delimiter_text, part_number) -%}
{%- if part_number is number and part_number < 0 -%}
split({{ string_text }}, {{ delimiter_text }})[safe_offset(array_length(split({{ string_text }}, {{ delimiter_text }})) + ({{ part_number }}))]
{%- elif part_number is number -%}
split({{ string_text }}, {{ delimiter_text }})[safe_offset({{ part_number - 1 }})]
{%- else -%}
split({{ string_text }}, {{ delimiter_text }})[safe_ordinal({{ part_number }})]
{%- endif -%}
{%- endmacro %}


{# Returns the text expression with its single quotes escaped for use inside a SQL string literal. #}
{% macro escape_single_quotes(expression) -%}
  {{ return(adapter.dispatch('escape_single_quotes', 'dbt')(expression)) }}
{%- endmacro %}

{% macro default__escape_single_quotes(expression) -%}
{{ expression | replace("'", "''") }}
{%- endmacro %}

{#- Snowflake and BigQuery use a backslash: they're -> they\'re. -#}
{% macro snowflake__escape_single_quotes(expression) -%}
{{ expression | replace("'", "\\'") }}
{%- endmacro %}

{% macro bigquery__escape_single_quotes(expression) -%}
{{ expression | replace("'", "\\'") }}
{%- endmacro %}


{# Returns value wrapped as a SQL string literal (not escaped: see escape_single_quotes). #}
{% macro string_literal(value) -%}
  {{ return(adapter.dispatch('string_literal', 'dbt')(value)) }}
{%- endmacro %}

{% macro default__string_literal(value) -%}
'{{ value }}'
{%- endmacro %}

{% macro bigquery__string_literal(value) -%}
'''{{ value }}'''
{%- endmacro %}


{# ------------------------------------------------------- aggregates -- #}

{# Returns SQL for an aggregate picking any one value of expression per group. #}
{% macro any_value(expression) -%}
  {{ return(adapter.dispatch('any_value', 'dbt')(expression)) }}
{%- endmacro %}

{% macro default__any_value(expression) -%}
any_value({{ expression }})
{%- endmacro %}

{% macro duckdb__any_value(expression) -%}
arbitrary({{ expression }})
{%- endmacro %}


{# Returns SQL for an aggregate that is true when expression is true for any row. #}
{% macro bool_or(expression) -%}
  {{ return(adapter.dispatch('bool_or', 'dbt')(expression)) }}
{%- endmacro %}

{% macro default__bool_or(expression) -%}
bool_or({{ expression }})
{%- endmacro %}

{% macro snowflake__bool_or(expression) -%}
boolor_agg({{ expression }})
{%- endmacro %}

{% macro bigquery__bool_or(expression) -%}
logical_or({{ expression }})
{%- endmacro %}


{# Returns SQL for an aggregate joining measure with delimiter_text (a SQL string), optionally ordered by order_by_clause ('order by ...') and keeping the first limit_num values. #}
{% macro listagg(measure, delimiter_text="','", order_by_clause=none, limit_num=none) -%}
  {{ return(adapter.dispatch('listagg', 'dbt')(measure, delimiter_text, order_by_clause, limit_num)) }}
{%- endmacro %}

{#- Snowflake's syntax (LISTAGG ... WITHIN GROUP, ARRAY_SLICE is 0-based, end-exclusive). -#}
{% macro default__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
{%- if limit_num -%}
array_to_string(array_slice(array_agg({{ measure }}){% if order_by_clause %} within group ({{ order_by_clause }}){% endif %}, 0, {{ limit_num }}), {{ delimiter_text }})
{%- else -%}
listagg({{ measure }}, {{ delimiter_text }}){% if order_by_clause %} within group ({{ order_by_clause }}){% endif %}
{%- endif -%}
{%- endmacro %}

{% macro duckdb__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
{%- if limit_num -%}
list_aggr((array_agg({{ measure }}{% if order_by_clause %} {{ order_by_clause }}{% endif %}))[1:{{ limit_num }}], 'string_agg', {{ delimiter_text }})
{%- else -%}
string_agg({{ measure }}, {{ delimiter_text }}{% if order_by_clause %} {{ order_by_clause }}{% endif %})
{%- endif -%}
{%- endmacro %}

{% macro bigquery__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
string_agg({{ measure }}, {{ delimiter_text }}{% if order_by_clause %} {{ order_by_clause }}{% endif %}{% if limit_num %} limit {{ limit_num }}{% endif %})
{%- endmacro %}


{# Returns the first integer n with upper_bound <= 2 ** n (an error when upper_bound is not positive). #}
{% macro get_powers_of_two(upper_bound) -%}
  {{ return(adapter.dispatch('get_powers_of_two', 'dbt')(upper_bound)) }}
{%- endmacro %}

{% macro default__get_powers_of_two(upper_bound) -%}
{%- if upper_bound <= 0 -%}
{{ exceptions.raise_compiler_error("upper bound must be positive") }}
{%- endif -%}
{%- for _ in range(1, 100) -%}
{%- if upper_bound <= 2 ** loop.index -%}{{ return(loop.index) }}{%- endif -%}
{%- endfor -%}
{%- endmacro %}


{# Returns a query with one column generated_number: 1 to upper_bound. #}
{% macro generate_series(upper_bound) -%}
  {{ return(adapter.dispatch('generate_series', 'dbt')(upper_bound)) }}
{%- endmacro %}

{#- Cross joins of (0, 1), one per power of two, as dbt-adapters does. -#}
{% macro default__generate_series(upper_bound) -%}
{%- set n = dbt.get_powers_of_two(upper_bound) -%}
with p as (
    select 0 as generated_number union all select 1
), unioned as (
    select
    {% for i in range(n) -%}
    p{{ i }}.generated_number * power(2, {{ i }}){% if not loop.last %} + {% endif %}
    {% endfor -%}
    + 1 as generated_number
    from
    {% for i in range(n) -%}
    p as p{{ i }}{% if not loop.last %} cross join {% endif %}
    {% endfor %}
)
select * from unioned
where generated_number <= {{ upper_bound }}
order by generated_number
{%- endmacro %}

{% macro duckdb__generate_series(upper_bound) -%}
select generate_series as generated_number from generate_series(1, {{ upper_bound }})
{%- endmacro %}


{# Returns the number of dateparts between start_date and end_date, asked of the warehouse (1 before it can be asked). #}
{% macro get_intervals_between(start_date, end_date, datepart) -%}
  {{ return(adapter.dispatch('get_intervals_between', 'dbt')(start_date, end_date, datepart)) }}
{%- endmacro %}

{% macro default__get_intervals_between(start_date, end_date, datepart) -%}
{%- call statement('get_intervals_between', fetch_result=True) -%}
select {{ dbt.datediff(start_date, end_date, datepart) }}
{%- endcall -%}
{%- set value_list = load_result('get_intervals_between') -%}
{%- if value_list and value_list['data'] -%}
{{ return(value_list['data'] | map(attribute=0) | list | first) }}
{%- else -%}
{{ return(1) }}
{%- endif -%}
{%- endmacro %}


{# Returns a query with one column date_<datepart>: each datepart from start_date up to end_date (inclusive of end_date only when it falls on a step, as dbt's). #}
{% macro date_spine(datepart, start_date, end_date) -%}
  {{ return(adapter.dispatch('date_spine', 'dbt')(datepart, start_date, end_date)) }}
{%- endmacro %}

{% macro default__date_spine(datepart, start_date, end_date) -%}
with rawdata as (
    {{ dbt.generate_series(dbt.get_intervals_between(start_date, end_date, datepart)) }}
),
all_periods as (
    select ({{ dbt.dateadd(datepart, "row_number() over (order by generated_number) - 1", start_date) }}) as date_{{ datepart }}
    from rawdata
),
filtered as (
    select * from all_periods where date_{{ datepart }} <= {{ end_date }}
)
select * from filtered
{%- endmacro %}


{# --------------------------------------------------------- set operators -- #}

{# Returns the set-difference operator (EXCEPT; EXCEPT DISTINCT on BigQuery). #}
{% macro except() -%}
  {{ return(adapter.dispatch('except', 'dbt')()) }}
{%- endmacro %}

{% macro default__except() -%}
except
{%- endmacro %}

{% macro bigquery__except() -%}
except distinct
{%- endmacro %}


{# Returns the set-intersection operator (INTERSECT; INTERSECT DISTINCT on BigQuery). #}
{% macro intersect() -%}
  {{ return(adapter.dispatch('intersect', 'dbt')()) }}
{%- endmacro %}

{% macro default__intersect() -%}
intersect
{%- endmacro %}

{% macro bigquery__intersect() -%}
intersect distinct
{%- endmacro %}


{# Returns SQL comparing two expressions with `=` (dbt's behaviour without the enable_truthy_nulls_equals_macro flag). #}
{% macro equals(expr1, expr2) -%}
  {{ return(adapter.dispatch('equals', 'dbt')(expr1, expr2)) }}
{%- endmacro %}

{% macro default__equals(expr1, expr2) -%}
({{ expr1 }} = {{ expr2 }})
{%- endmacro %}


{# ------------------------------------------------------------ arrays -- #}

{# Returns SQL for an array of the SQL expressions in inputs (an empty array of data_type, integer by default, when there are none). #}
{% macro array_construct(inputs=[], data_type=none) -%}
  {%- set data_type = data_type if data_type else api.Column.translate_type('integer') -%}
  {{ return(adapter.dispatch('array_construct', 'dbt')(inputs, data_type)) }}
{%- endmacro %}

{% macro default__array_construct(inputs, data_type) -%}
{%- if inputs | length > 0 -%}
array[ {{ inputs | join(' , ') }} ]
{%- else -%}
array[]::{{ data_type }}[]
{%- endif -%}
{%- endmacro %}

{% macro snowflake__array_construct(inputs, data_type) -%}
array_construct( {{ inputs | join(' , ') }} )
{%- endmacro %}

{% macro bigquery__array_construct(inputs, data_type) -%}
{%- if inputs | length > 0 -%}
[ {{ inputs | join(' , ') }} ]
{%- else -%}
ARRAY<{{ data_type }}>[]
{%- endif -%}
{%- endmacro %}


{# Returns SQL for array with new_element (of the array's element type) appended. #}
{% macro array_append(array, new_element) -%}
  {{ return(adapter.dispatch('array_append', 'dbt')(array, new_element)) }}
{%- endmacro %}

{% macro default__array_append(array, new_element) -%}
array_append({{ array }}, {{ new_element }})
{%- endmacro %}

{% macro bigquery__array_append(array, new_element) -%}
{{ dbt.array_concat(array, dbt.array_construct([new_element])) }}
{%- endmacro %}


{# Returns SQL for array_1 followed by array_2. #}
{% macro array_concat(array_1, array_2) -%}
  {{ return(adapter.dispatch('array_concat', 'dbt')(array_1, array_2)) }}
{%- endmacro %}

{% macro default__array_concat(array_1, array_2) -%}
array_cat({{ array_1 }}, {{ array_2 }})
{%- endmacro %}

{% macro bigquery__array_concat(array_1, array_2) -%}
array_concat({{ array_1 }}, {{ array_2 }})
{%- endmacro %}

{#- Relation names: dbt-core's defaults, for overrides that call them (sluice
    computes the defaults itself when the project overrides nothing). -#}
{% macro generate_schema_name(custom_schema_name=none, node=none) -%}
  {{ return(adapter.dispatch('generate_schema_name', 'dbt')(custom_schema_name, node)) }}
{%- endmacro %}

{% macro default__generate_schema_name(custom_schema_name, node) -%}
  {%- set default_schema = target.schema -%}
  {%- if custom_schema_name is none -%}
    {{ default_schema }}
  {%- else -%}
    {{ default_schema }}_{{ custom_schema_name | trim }}
  {%- endif -%}
{%- endmacro %}

{% macro generate_schema_name_for_env(custom_schema_name, node) -%}
  {%- set default_schema = target.schema -%}
  {%- if target.name == 'prod' and custom_schema_name is not none -%}
    {{ custom_schema_name | trim }}
  {%- else -%}
    {{ default_schema }}
  {%- endif -%}
{%- endmacro %}

{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
  {% do return(adapter.dispatch('generate_alias_name', 'dbt')(custom_alias_name, node)) %}
{%- endmacro %}

{% macro default__generate_alias_name(custom_alias_name=none, node=none) -%}
  {%- if custom_alias_name -%}
    {{ custom_alias_name | trim }}
  {%- elif node.version -%}
    {{ return(node.name ~ "_v" ~ (node.version | replace(".", "_"))) }}
  {%- else -%}
    {{ node.name }}
  {%- endif -%}
{%- endmacro %}

{% macro generate_database_name(custom_database_name=none, node=none) -%}
  {% do return(adapter.dispatch('generate_database_name', 'dbt')(custom_database_name, node)) %}
{%- endmacro %}

{% macro default__generate_database_name(custom_database_name=none, node=none) -%}
  {%- if custom_database_name is none -%}
    {{ target.database }}
  {%- else -%}
    {{ custom_database_name }}
  {%- endif -%}
{%- endmacro %}
