//! `sluice source freshness` on a dbt-layout fixture whose source tables the test
//! loads at times relative to now, compared with dbt-core's `source freshness`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::common::{copy_dir, fixture, read_json, repo_root, sluice, stderr, stdout};
use crate::dbt_compare::dbt_binary;

/// The fixture, copied, with its source tables loaded relative to now.
fn project() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture("freshness"), tmp.path());
    let conn = duckdb::Connection::open(tmp.path().join("fresh.duckdb")).expect("open DuckDB");
    conn.execute_batch(
        "create table fresh_events as select now()::timestamp - interval 1 hour as loaded_at, 'x' as kind;
         create table warn_events as select now()::timestamp - interval 13 hour as loaded_at;
         create table stale_events as select now()::timestamp - interval 3 day as loaded_at;
         create table filtered_events as select * from (values
             (now()::timestamp - interval 2 day, 'x'), (now()::timestamp, 'y')) t(loaded_at, kind);
         create table unchecked_events as select now()::timestamp - interval 30 day as loaded_at;
         create table by_query as select 1 as a;
         create table accounts as select 1 as id;",
    )
    .expect("load the source tables");
    tmp
}

fn freshness(dir: &Path, args: &[&str]) -> Output {
    sluice()
        .current_dir(dir)
        .args(["source", "freshness", "--profiles-dir", "."])
        .args(args)
        .output()
        .expect("sluice runs")
}

/// unique_id → (status, criteria) of a sources.json.
fn outcomes(path: &Path) -> BTreeMap<String, (String, Value)> {
    read_json(path)["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap_or_default().to_owned(),
                (
                    r["status"].as_str().unwrap_or_default().to_owned(),
                    r["criteria"].clone(),
                ),
            )
        })
        .collect()
}

#[test]
fn freshness_checks_each_rule_and_writes_sources_json() {
    let p = project();
    let out = freshness(p.path(), &[]);
    // A stale table and a missing one: exit 1, as dbt.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let got = outcomes(&p.path().join("target/sources.json"));
    let status = |t: &str| got[&format!("source.freshness_demo.app.{t}")].0.clone();
    assert_eq!(status("fresh_events"), "pass");
    assert_eq!(status("warn_events"), "warn");
    assert_eq!(status("stale_events"), "error");
    // The filter keeps only the two-day-old row.
    assert_eq!(status("filtered_events"), "error");
    // loaded_at_query, with its Jinja rendered.
    assert_eq!(status("by_query"), "pass");
    // freshness: null, and a source without a rule, are not checked; a table that
    // cannot be queried is reported, not written (as dbt 1.11 writes the file).
    assert_eq!(got.len(), 5, "{got:?}");
    let criteria = &got["source.freshness_demo.app.filtered_events"].1;
    assert_eq!(criteria["warn_after"]["count"], 12, "{criteria}");
    assert_eq!(criteria["filter"], "kind = 'x'", "{criteria}");
    let err = stderr(&out);
    assert!(
        err.contains("app.missing_events could not be checked"),
        "{err}"
    );
    assert!(err.contains("models/sources.yml:"), "{err}");
    let log = stdout(&out);
    assert!(
        log.contains("ERROR STALE freshness of app.stale_events"),
        "{log}"
    );
    let age = read_json(&p.path().join("target/sources.json"))["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["unique_id"] == "source.freshness_demo.app.warn_events")
        .and_then(|r| r["max_loaded_at_time_ago_in_s"].as_f64())
        .expect("age");
    assert!((13.0 * 3600.0..13.5 * 3600.0).contains(&age), "{age}");
}

#[test]
fn freshness_selects_and_writes_where_asked() {
    let p = project();
    let out = freshness(
        p.path(),
        &[
            "-s",
            "source:app.fresh_events",
            "source:app.warn_events",
            "-o",
            "out/fresh.json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let got = outcomes(&p.path().join("out/fresh.json"));
    assert_eq!(got.len(), 2, "{got:?}");
    let out = freshness(p.path(), &["-s", "source:crm"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no selected source has a freshness rule"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_freshness_rule_is_a_located_error() {
    let p = project();
    let yml = p.path().join("models/sources.yml");
    let text = std::fs::read_to_string(&yml).expect("sources.yml");
    std::fs::write(&yml, text.replace("period: hour}", "period: fortnight}")).expect("write");
    let out = freshness(p.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`period: fortnight` is not a freshness period"),
        "{err}"
    );
    assert!(err.contains("models/sources.yml:10:"), "{err}");
}

#[test]
fn freshness_matches_dbt_core() {
    let Some(dbt) = dbt_binary() else { return };
    let ours = project();
    let theirs = project();
    let out = freshness(ours.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = std::process::Command::new(&dbt)
        .current_dir(theirs.path())
        .args(["source", "freshness", "--profiles-dir", "."])
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .output()
        .expect("dbt runs");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let ours_path = ours.path().join("target/sources.json");
    assert_eq!(
        outcomes(&ours_path),
        outcomes(&theirs.path().join("target/sources.json")),
        "sluice (left) vs dbt (right)"
    );
    // dbt's own artifact parser reads sluice's sources.json.
    let python = repo_root().join(".venv/bin/python");
    let parsed = std::process::Command::new(python)
        .args([
            "-c",
            "import json, sys; from dbt_artifacts_parser.parser import parse_sources; \
             print(len(parse_sources(json.load(open(sys.argv[1]))).results))",
        ])
        .arg(&ours_path)
        .output()
        .expect("python runs");
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&parsed.stdout).trim(), "5");
}

/// On a warehouse stand-in: models build the source tables there (loaded an hour
/// and three days ago, by the warehouse's own clock), then freshness reads them.
fn freshness_on(output: &str, schema: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("models")).expect("models dir");
    let write = |path: &str, text: String| std::fs::write(root.join(path), text).expect("write");
    write(
        "dbt_project.yml",
        "name: wh_fresh\nversion: '1.0'\nconfig-version: 2\nprofile: wh_fresh\nmodels:\n  wh_fresh:\n    +materialized: table\n".into(),
    );
    write(
        "profiles.yml",
        format!("wh_fresh:\n  target: wh\n  outputs:\n    wh: {{{output}}}\n"),
    );
    let loaded = |hours: i64| {
        format!(
            "select {{{{ dbt.dateadd('hour', {hours}, dbt.current_timestamp()) }}}} as loaded_at"
        )
    };
    write("models/recent_loads.sql", loaded(-1));
    write("models/old_loads.sql", loaded(-72));
    write(
        "models/sources.yml",
        format!(
            "version: 2\nsources:\n  - name: wh\n    schema: {schema}\n    loaded_at_field: loaded_at\n    \
             freshness: {{error_after: {{count: 1, period: day}}}}\n    tables:\n      - name: recent_loads\n      - name: old_loads\n"
        ),
    );
    let dir_arg = root.display().to_string();
    let out = crate::warehouses::run(root, &["build", "--profiles-dir", &dir_arg]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = crate::warehouses::run(root, &["source", "freshness", "--profiles-dir", &dir_arg]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let got = outcomes(&root.join("target/sources.json"));
    let statuses: Vec<(&str, &str)> = got
        .iter()
        .map(|(k, (s, _))| (k.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("source.wh_fresh.wh.old_loads", "error"),
            ("source.wh_fresh.wh.recent_loads", "pass"),
        ],
        "{}",
        stderr(&out)
    );
}

#[test]
fn freshness_on_snowflake() {
    let Some(url) = crate::warehouses::fakesnow() else {
        return;
    };
    freshness_on(
        &crate::warehouses::snowflake_target(&url, "FRESH"),
        "analytics",
    );
}

#[test]
fn freshness_on_bigquery() {
    let Some((url, project)) = crate::warehouses::bqemulator() else {
        return;
    };
    freshness_on(
        &crate::warehouses::bigquery_target(&url, &project, "fresh"),
        "fresh",
    );
}
