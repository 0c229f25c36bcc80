{#-
  to_utc(col): a string column holding a local timestamp WITH a UTC offset,
  e.g. '2024-03-05 14:22:01+02:00', as a timezone-less timestamp in UTC
  ('2024-03-05 12:22:01'). `col` is a SQL expression, passed as a string like dbt's
  cross-database macros: {{ to_utc('occurred_at') }}.
-#}
{% macro to_utc(col) %}{{ return(adapter.dispatch('to_utc')(col)) }}{% endmacro %}

{#-
  DuckDB. Not `cast(cast(col as timestamptz) at time zone 'UTC' as timestamp)`:
  AT TIME ZONE is the two-argument timezone() function, which only the ICU extension
  provides, and the DuckDB that sluice bundles has no ICU (nor can it download it).
  Not `cast(col as timestamp)` either: DuckDB 2.x drops the offset in that cast.
  Parsing as timestamptz applies the offset (core DuckDB, no ICU needed); epoch_us()
  of a timestamptz is the UTC instant whatever the session TimeZone; make_timestamp()
  turns it back into a plain timestamp. Correct with or without ICU loaded.
-#}
{% macro duckdb__to_utc(col) %}make_timestamp(epoch_us(cast({{ col }} as timestamptz))){% endmacro %}

{#-
  Snowflake. cast(... as timestamp_tz) reads the offset like to_timestamp_tz() does;
  the cast form also runs on fakesnow (the local Snowflake stand-in), which lacks
  to_timestamp_tz().
-#}
{% macro snowflake__to_utc(col) %}cast(convert_timezone('UTC', cast({{ col }} as timestamp_tz)) as timestamp_ntz){% endmacro %}

{#- BigQuery. timestamp() applies the offset; a BigQuery TIMESTAMP is a UTC instant,
  the same type as dbt.type_timestamp() there. -#}
{% macro bigquery__to_utc(col) %}timestamp({{ col }}){% endmacro %}

{#- Any other adapter (e.g. Postgres-like): standard SQL. -#}
{% macro default__to_utc(col) %}cast(cast({{ col }} as timestamp with time zone) at time zone 'UTC' as timestamp){% endmacro %}
