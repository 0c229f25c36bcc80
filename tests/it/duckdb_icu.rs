//! TIMESTAMPTZ functions and time zones on the bundled DuckDB with the vendored
//! ICU extension: the `icu_time` fixture built with sluice, then its compiled SQL
//! run again in Python duckdb (dbt-duckdb's ICU), both with `TimeZone = 'UTC'`;
//! every value and every column type must agree. Both sides are computed.
//!
//! Without `.venv/bin/python` (or its `duckdb` module) the comparison is skipped
//! with a message, unless `SLUICE_REQUIRE_DBT=1`, where it fails.

use std::path::{Path, PathBuf};

use serde_json::Value;

use std::process::Output;

use crate::common::{project_copy, query, repo_root, sluice, stderr, stdout};

/// Python with duckdb (and so ICU) from the repository's `.venv`, or `None`.
fn python_duckdb() -> Option<PathBuf> {
    let python = repo_root().join(".venv/bin/python");
    let ok = python.is_file()
        && std::process::Command::new(&python)
            .args(["-c", "import duckdb"])
            .output()
            .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var("SLUICE_REQUIRE_DBT").as_deref() != Ok("1"),
        "{} with duckdb is missing and SLUICE_REQUIRE_DBT=1: scripts/test installs dbt-duckdb (and duckdb) into .venv",
        python.display()
    );
    eprintln!(
        "skipping the ICU comparison: {} with duckdb is not installed (scripts/test installs it)",
        python.display()
    );
    None
}

/// Runs each model's compiled SQL in a fresh database of the same name, with
/// ICU and TimeZone UTC, and prints every column's type and every row as text.
const ORACLE: &str = r#"
import json, os, sys, duckdb
compiled, db = sys.argv[1], sys.argv[2]
con = duckdb.connect(db)
con.execute("SET TimeZone = 'UTC'")
out = {}
for model in sys.argv[3:]:
    with open(os.path.join(compiled, model + ".sql")) as f:
        con.execute(f"create table main.{model} as {f.read()}")
    types = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_name = ? order by ordinal_position", [model]).fetchall()
    rows = con.execute(f"select columns(*)::varchar from main.{model}").fetchall()
    out[model] = {"types": types, "rows": sorted(rows, key=lambda r: int(r[0]))}
print(json.dumps(out))
"#;

const MODELS: &[&str] = &["samples", "utc_functions", "time_zones"];

/// sluice in a copy of the fixture, which keeps profiles.yml beside dbt_project.yml.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    sluice()
        .args(args)
        .arg("--project-dir")
        .arg(dir)
        .arg("--profiles-dir")
        .arg(dir)
        .output()
        .expect("sluice runs")
}

fn types(db: &Path, model: &str) -> Vec<(String, String)> {
    query(
        db,
        &format!(
            "select column_name, data_type from information_schema.columns \
             where table_name = '{model}' order by ordinal_position"
        ),
    )
    .into_iter()
    .map(|r| (r[0].clone(), r[1].clone()))
    .collect()
}

fn cell(v: &Value) -> String {
    v.as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| "NULL".into())
}

#[test]
fn timestamptz_functions_match_duckdb_with_icu() {
    let Some(python) = python_duckdb() else {
        return;
    };
    let ours = project_copy("icu_time");
    let out = run_in(ours.path(), &["build"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let db = ours.path().join("icu.duckdb");

    let theirs = tempfile::tempdir().expect("temp dir");
    let compiled = ours.path().join("target/compiled/icu_time/models");
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(ORACLE)
        .arg(&compiled)
        .arg(theirs.path().join("icu.duckdb"))
        .args(MODELS)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "DuckDB with ICU failed on the compiled SQL:\n{}",
        stderr(&out)
    );
    let icu: Value = serde_json::from_slice(&out.stdout).expect("the oracle prints JSON");

    let mut compared = 0;
    for model in MODELS {
        let their_types: Vec<(String, String)> = icu[model]["types"]
            .as_array()
            .expect("types")
            .iter()
            .map(|t| (cell(&t[0]), cell(&t[1])))
            .collect();
        assert_eq!(
            types(&db, model),
            their_types,
            "{model}: column types differ from ICU's"
        );
        let names: Vec<&str> = their_types.iter().map(|(n, _)| n.as_str()).collect();
        let our_rows = query(&db, &format!("select * from main.{model} order by id"));
        let their_rows = icu[model]["rows"].as_array().expect("rows");
        assert_eq!(our_rows.len(), their_rows.len(), "{model}: row count");
        let mut differences = Vec::new();
        for (ours, theirs) in our_rows.iter().zip(their_rows) {
            let theirs: Vec<String> = theirs.as_array().expect("row").iter().map(cell).collect();
            for ((name, a), b) in names.iter().zip(ours).zip(&theirs) {
                compared += 1;
                if a != b {
                    differences.push(format!("id {}: {name}: sluice {a}, ICU {b}", ours[0]));
                }
            }
        }
        assert!(
            differences.is_empty(),
            "{model}: {} values differ from DuckDB with ICU:\n{}",
            differences.len(),
            differences.join("\n")
        );
    }
    // Every function over every sample: a fixture that silently lost its columns
    // or rows would compare nothing.
    assert!(compared > 2000, "only {compared} values compared");
}

#[test]
fn current_date_is_todays_utc_date() {
    let tmp = project_copy("icu_time");
    let before = chrono::Utc::now().date_naive().to_string();
    let out = run_in(tmp.path(), &["build", "-s", "today"]);
    let after = chrono::Utc::now().date_naive().to_string();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let rows = query(&tmp.path().join("icu.duckdb"), "select * from main.today");
    let row = &rows[0];
    for (i, name) in [
        "current_date",
        "today()",
        "cast(now() as date)",
        "current_timestamp",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            row[i] == before || row[i] == after,
            "{name} gave {}, the UTC date is {after}",
            row[i]
        );
    }
    assert_eq!(row[4], "DATE");
    assert_eq!(row[5], "true", "now() - interval 1 day < now()");
    assert_eq!(
        row[6], "true",
        "date_trunc('day', now()) is today's midnight"
    );
}

#[test]
fn epoch_parts_and_time_zone_names_work_as_in_dbt_duckdb() {
    let tmp = project_copy("icu_time");
    let models = tmp.path().join("models");
    std::fs::write(
        models.join("epoch_part.sql"),
        "select extract(epoch from timestamptz '1970-01-02 00:00:01.5+00') as e, \
         cast(timestamptz '2024-07-01 12:00:00+00' at time zone 'America/New_York' as varchar) as ny\n",
    )
    .expect("write model");
    let out = run_in(tmp.path(), &["run", "-s", "epoch_part"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let rows = query(
        &tmp.path().join("icu.duckdb"),
        "select * from main.epoch_part",
    );
    // Seconds since 1970 as a double; 12:00 UTC is 08:00 in New York in July (EDT).
    assert_eq!(
        rows,
        vec![vec![
            "86401.5".to_string(),
            "2024-07-01 08:00:00".to_string()
        ]]
    );
}
