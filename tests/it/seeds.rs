//! Seed column types as dbt-core infers them (agate's type tester, as dbt
//! configures it, then dbt-duckdb's type names), compared with dbt-core on the
//! `seed_types` fixture; and what dbt-duckdb fails to load, loaded.

use crate::common::{fixture, project_copy, query, run_in, stderr, stdout};
use crate::dbt_compare::compare_with_dbt;

#[test]
fn seed_types_and_rows_are_those_dbt_core_writes() {
    let p = fixture("seed_types");
    compare_with_dbt(&p, &p.join("profiles"), &[]);
}

#[test]
fn inferred_types_follow_dbts_rules() {
    let tmp = project_copy("seed_types");
    let profiles = tmp.path().join("profiles");
    let profiles = profiles.to_str().expect("utf-8 temp path");
    let out = run_in(tmp.path(), &["seed", "--profiles-dir", profiles]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let types = query(
        &tmp.path().join("dev.duckdb"),
        "select column_name, data_type from information_schema.columns \
         where table_name = 'inferred' order by ordinal_position",
    );
    let type_of = |c: &str| {
        types
            .iter()
            .find(|r| r[0] == c)
            .map(|r| r[1].clone())
            .unwrap_or_else(|| panic!("no column {c}: {types:?}"))
    };
    // `1.0` is an integer once trailing zeros go; a column of nothing is too.
    assert_eq!(type_of("float_int"), "INTEGER");
    assert_eq!(type_of("empty_col"), "INTEGER");
    // Microseconds match neither dbt's `%Y-%m-%d %H:%M:%S` nor ISO 8601 with `T`.
    assert_eq!(type_of("ts_micro"), "VARCHAR");
    assert_eq!(type_of("ts_z"), "TIMESTAMP");
    assert_eq!(type_of("yes_no"), "VARCHAR");
    // The folder's `column_types` for a column this seed has applies; the others
    // are ignored, and the one close to a column's name is a warning.
    assert_eq!(type_of("int_col"), "BIGINT");
    let err = stderr(&out);
    assert!(
        err.contains("warning: `column_types` names column `date_colum`, which seed `inferred` does not have")
            && err.contains("did you mean `date_col`?"),
        "{err}"
    );
    assert!(!err.contains("`id`"), "{err}");
}

/// Columns agate types as numbers or booleans but dbt-duckdb's loader then
/// rejects (`Could not convert string "5%" to 'INTEGER'`): sluice loads them.
#[test]
fn seeds_dbt_duckdb_cannot_load_load_with_the_nearest_type() {
    let tmp = project_copy("seed_types");
    std::fs::write(
        tmp.path().join("seeds/loose.csv"),
        "pct,money,thousands,huge,null_words,padded_bool\n\
         5%,$1.00,\"1,000\",12345678901234567890,null,\" true \"\n\
         10%,$2.50,\"2,500\",1,NULL,false\n",
    )
    .expect("write seed");
    let profiles = tmp.path().join("profiles");
    let profiles = profiles.to_str().expect("utf-8 temp path");
    let out = run_in(tmp.path(), &["seed", "--profiles-dir", profiles]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let db = tmp.path().join("dev.duckdb");
    let types = query(
        &db,
        "select data_type from information_schema.columns \
         where table_name = 'loose' order by ordinal_position",
    );
    assert_eq!(
        types.concat(),
        ["VARCHAR", "VARCHAR", "VARCHAR", "DOUBLE", "INTEGER", "BOOLEAN"]
    );
    let rows = query(
        &db,
        "select pct, null_words is null, padded_bool from loose order by pct",
    );
    assert_eq!(rows, [["10%", "true", "false"], ["5%", "true", "true"]]);
}
