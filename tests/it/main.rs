//! Integration tests: the real `sluice` binary on fixture projects and real DuckDB
//! files. One test binary (DuckDB is linked once); one module per concern.

mod assertions;
mod bad_inputs;
mod common;
mod contracts;
mod daily;
mod dbt_compare;
mod dbt_layout;
mod deps;
mod docs_exposures;
mod duckdb_icu;
mod e2e;
mod execution;
mod faults;
mod freshness;
mod gtm;
mod incremental;
mod introspection;
mod jinja_compat;
mod limits;
mod operations;
mod output;
mod packages;
mod partial_parse;
mod scd_snapshots;
mod seeds;
mod semantic;
mod slim_ci;
mod store_failures;
mod three_targets;
mod traps;
mod unit_tests;
mod unsupported;
mod versions;
mod warehouses;
