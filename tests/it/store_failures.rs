//! `store_failures` / `store_failures_as` (issue 17, item 10) on the
//! `store_failures` fixture (dbt layout): tests kept by the project's
//! `data_tests:` tree, by a test's YAML `config:`, by `{{ config() }}` in a
//! singular test and by `--store-failures`; `store_failures_as: view` with a
//! custom `schema`, `ephemeral` winning over `store_failures: true`, `false`
//! turning the tree's setting off, an `alias`, a name long enough to be hashed, a
//! `limit`, warn_if/error_if thresholds, and an invalid kind that fails only its
//! own test. Each is compared with dbt-core on the same files (with and without
//! the flag, and with a `generate_schema_name` override): the manifest's
//! schema/alias/relation_name/config, run_results' statuses, failures and
//! relation names, and every relation in the audit schemas with its kind, columns
//! and rows. Then the same facts without dbt-core, re-runs replacing what was kept,
//! and the Snowflake and BigQuery stand-ins.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::common::{copy_dir, dbt_in, fixture, query, read_json, sluice_in, stderr, stdout};

const FIXTURE: &str = "store_failures";

fn copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture(FIXTURE), dir.path());
    dir
}

/// Per test node: where its failures would be kept and what its config says.
fn test_nodes(dir: &Path) -> BTreeMap<String, Value> {
    let manifest = read_json(&dir.join("target/manifest.json"));
    manifest["nodes"]
        .as_object()
        .expect("nodes")
        .iter()
        .filter(|(_, n)| n["resource_type"] == "test")
        .map(|(id, n)| {
            let c = &n["config"];
            let summary = serde_json::json!({
                "database": n["database"],
                "schema": n["schema"],
                "alias": n["alias"],
                "relation_name": n["relation_name"],
                "config.store_failures": c["store_failures"],
                "config.store_failures_as": c["store_failures_as"],
                "config.schema": c["schema"],
                "config.alias": c["alias"],
                "config.limit": c["limit"],
            });
            (id.clone(), summary)
        })
        .collect()
}

/// Per node run: status, failures, relation_name (run_results.json).
fn results(dir: &Path) -> BTreeMap<String, Value> {
    let rr = read_json(&dir.join("target/run_results.json"));
    rr["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| {
            r["unique_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("test."))
        })
        .map(|r| {
            let summary = serde_json::json!({
                "status": r["status"],
                "failures": r["failures"],
                "relation_name": r["relation_name"],
            });
            (
                r["unique_id"].as_str().unwrap_or_default().to_owned(),
                summary,
            )
        })
        .collect()
}

/// A relation's kind, columns with their types, and sorted rows.
type Kept = (String, Vec<Vec<String>>, Vec<Vec<String>>);

/// Kept under `limit: 1` from two failing values (`returned`, `lost`): which one
/// is kept follows the warehouse's unordered group-by, for dbt as for sluice, so
/// only how many rows are kept is compared.
const KEPT_UNDER_LIMIT: &str = "accepted_values_order_facts_03d3663e326ab53cd11a36643a56f6fe";

/// Every relation in a schema whose name holds `audit`: its kind, columns (with
/// types) and sorted rows.
fn audit_relations(dir: &Path) -> BTreeMap<String, Kept> {
    let db = dir.join("dev.duckdb");
    let listed = query(
        &db,
        "select table_schema, table_name, table_type from information_schema.tables \
         where table_schema like '%audit%' order by 1, 2",
    );
    listed
        .into_iter()
        .map(|r| {
            let (schema, name, kind) = (&r[0], &r[1], &r[2]);
            let columns = query(
                &db,
                &format!(
                    "select column_name, data_type from information_schema.columns \
                     where table_schema = '{schema}' and table_name = '{name}' order by ordinal_position"
                ),
            );
            let mut rows = query(&db, &format!("select * from \"{schema}\".\"{name}\""));
            rows.sort();
            if name == KEPT_UNDER_LIMIT {
                rows = vec![vec![format!("{} rows", rows.len())]];
            }
            (format!("{schema}.{name}"), (kind.clone(), columns, rows))
        })
        .collect()
}

/// Build `project` with both tools (each in its own copy, both exit 1: some tests
/// fail) and assert that every fact above agrees.
fn compare(dbt: &Path, project: &Path, args: &[&str]) {
    let ours = tempfile::tempdir().expect("temp dir");
    let theirs = tempfile::tempdir().expect("temp dir");
    copy_dir(project, ours.path());
    copy_dir(project, theirs.path());
    let build: Vec<&str> = std::iter::once("build")
        .chain(args.iter().copied())
        .collect();
    let out = sluice_in(ours.path(), &build);
    assert_eq!(
        out.status.code(),
        Some(1),
        "sluice {args:?}:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    let out = dbt_in(dbt, theirs.path(), &build);
    assert_eq!(
        out.status.code(),
        Some(1),
        "dbt {args:?}:\n{}{}",
        stdout(&out),
        stderr(&out)
    );

    let (ours_nodes, theirs_nodes) = (test_nodes(ours.path()), test_nodes(theirs.path()));
    assert_eq!(
        ours_nodes.keys().collect::<Vec<_>>(),
        theirs_nodes.keys().collect::<Vec<_>>(),
        "test ids {args:?}"
    );
    let mut diffs = Vec::new();
    for (id, theirs_node) in &theirs_nodes {
        if &ours_nodes[id] != theirs_node {
            diffs.push(format!(
                "manifest {id}:\n  sluice: {}\n  dbt:    {theirs_node}",
                ours_nodes[id]
            ));
        }
    }
    let (ours_results, theirs_results) = (results(ours.path()), results(theirs.path()));
    for (id, theirs_result) in &theirs_results {
        let ours_result = ours_results.get(id).cloned().unwrap_or(Value::Null);
        if &ours_result != theirs_result {
            diffs.push(format!(
                "run_results {id}:\n  sluice: {ours_result}\n  dbt:    {theirs_result}"
            ));
        }
    }
    let (ours_kept, theirs_kept) = (audit_relations(ours.path()), audit_relations(theirs.path()));
    assert!(!theirs_kept.is_empty(), "dbt kept no failures {args:?}");
    if ours_kept != theirs_kept {
        diffs.push(format!(
            "audit relations:\n  sluice: {ours_kept:?}\n  dbt:    {theirs_kept:?}"
        ));
    }
    assert!(
        diffs.is_empty(),
        "sluice and dbt differ {args:?}:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn kept_failures_match_dbt_core() {
    let Some(dbt) = crate::dbt_compare::dbt_binary() else {
        return;
    };
    let dir = fixture(FIXTURE);
    compare(&dbt, &dir, &[]);
    compare(&dbt, &dir, &["--store-failures"]);
    // A generate_schema_name override sees the audit schema as the custom schema.
    let custom = copy();
    std::fs::create_dir_all(custom.path().join("macros")).expect("macros dir");
    std::fs::write(
        custom.path().join("macros/schemas.sql"),
        "{% macro generate_schema_name(custom_schema_name, node) -%}\n\
         {%- if custom_schema_name is none -%}{{ target.schema }}\n\
         {%- else -%}{{ node.resource_type }}_{{ custom_schema_name | trim }}{%- endif -%}\n\
         {%- endmacro %}\n",
    )
    .expect("write macro");
    compare(&dbt, custom.path(), &[]);
}

fn kept_rows(dir: &Path, relation: &str) -> Vec<Vec<String>> {
    let mut rows = query(
        &dir.join("dev.duckdb"),
        &format!("select * from {relation}"),
    );
    rows.sort();
    rows
}

fn relation_kind(dir: &Path, schema: &str, name: &str) -> Option<String> {
    query(
        &dir.join("dev.duckdb"),
        &format!(
            "select table_type from information_schema.tables \
             where table_schema = '{schema}' and table_name = '{name}'"
        ),
    )
    .into_iter()
    .next()
    .map(|r| r[0].clone())
}

#[test]
fn failing_rows_are_kept_where_dbt_keeps_them() {
    // The facts the comparison above proves equal to dbt-core's, without it.
    let dir = copy();
    let out = sluice_in(dir.path(), &["build"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let p = dir.path();
    let audit = "main_dbt_test__audit";
    // Kept by the project's `data_tests:` tree, in `<target schema>_dbt_test__audit`.
    assert_eq!(
        kept_rows(p, &format!("{audit}.unique_order_facts_id")),
        vec![vec!["4".to_owned(), "2".to_owned()]]
    );
    // A name of 64 characters or more is kept under dbt's hashed name; an alias wins.
    assert_eq!(
        relation_kind(
            p,
            audit,
            "accepted_values_order_facts_03d3663e326ab53cd11a36643a56f6fe"
        )
        .as_deref(),
        Some("BASE TABLE")
    );
    assert_eq!(
        relation_kind(p, audit, "order_facts_id_present").as_deref(),
        Some("BASE TABLE")
    );
    assert!(kept_rows(p, &format!("{audit}.order_facts_id_present")).is_empty());
    // store_failures_as: view, with its own schema.
    assert_eq!(
        relation_kind(
            p,
            "main_audit",
            "accepted_values_orders_status__placed__shipped"
        )
        .as_deref(),
        Some("VIEW")
    );
    // not_null keeps whole rows when it keeps its failures, as dbt's.
    assert_eq!(
        kept_rows(p, &format!("{audit}.not_null_orders_customer_id")),
        vec![vec![
            "3".to_owned(),
            "NULL".to_owned(),
            "returned".to_owned(),
            "-5".to_owned()
        ]]
    );
    // `limit` applies to what is kept, and the test counts what was kept.
    assert_eq!(kept_rows(p, &format!("{audit}.negative_limited")).len(), 1);
    // Not kept: ephemeral beats store_failures: true; false beats the tree; unset.
    for name in [
        "not_null_orders_amount",
        "not_null_order_facts_customer_id",
        "unique_orders_id",
        "no_lost_orders",
        "kept_as_incremental",
    ] {
        assert_eq!(relation_kind(p, audit, name), None, "{name} was kept");
    }
    let st = crate::common::statuses(&p.join("target"));
    assert_eq!(st["test.storefail.negative_limited"], "fail");
    assert_eq!(st["test.storefail.negative_amounts"], "warn");
    assert_eq!(
        st["test.storefail.not_null_order_facts_id.931e58b435"],
        "pass"
    );
    // An invalid kind is its own test's error; the others ran.
    assert_eq!(st["test.storefail.kept_as_incremental"], "error");
    let err = stderr(&out);
    assert!(
        err.contains("'incremental' is not a valid value for `store_failures_as`")
            && err.contains("tests/kept_as_incremental.sql:1:11"),
        "{err}"
    );
    assert!(
        err.contains("See test failures:\n")
            && err.contains(
                "select * from \"dev\".\"main_dbt_test__audit\".\"unique_order_facts_id\""
            ),
        "{err}"
    );
    let rr = read_json(&p.join("target/run_results.json"));
    let rel = |id: &str| {
        rr["results"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["unique_id"] == id))
            .map(|r| r["relation_name"].clone())
    };
    assert_eq!(
        rel("test.storefail.negative_amounts"),
        Some(Value::from(
            "\"dev\".\"main_dbt_test__audit\".\"negative_amounts\""
        ))
    );
    assert_eq!(rel("test.storefail.no_lost_orders"), Some(Value::Null));
    assert!(
        rr["args"].get("store_failures").is_none(),
        "dbt records the flag only when given"
    );

    // --store-failures keeps the tests whose config is silent, never a `false` one.
    let out = sluice_in(
        p,
        &["test", "--store-failures", "-s", "orders", "no_lost_orders"],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        kept_rows(p, &format!("{audit}.unique_orders_id")),
        vec![vec!["4".to_owned(), "2".to_owned()]]
    );
    assert_eq!(kept_rows(p, &format!("{audit}.no_lost_orders")).len(), 1);
    assert_eq!(relation_kind(p, audit, "not_null_orders_amount"), None);
    let rr = read_json(&p.join("target/run_results.json"));
    assert_eq!(rr["args"]["store_failures"], Value::Bool(true));

    // dbt's `run` has no --store-failures.
    let out = sluice_in(p, &["run", "--store-failures"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`--store-failures` applies to test and build"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn each_run_replaces_what_the_last_one_kept() {
    let dir = copy();
    let p = dir.path();
    let out = sluice_in(p, &["build"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // Fix the duplicate id and keep the accepted_values failures as a table now.
    let seed = p.join("seeds/raw_orders.csv");
    let text = std::fs::read_to_string(&seed).expect("seed");
    std::fs::write(&seed, text.replace("4,13,placed,-8", "5,13,placed,-8")).expect("write seed");
    let yml = p.join("models/_orders.yml");
    let text = std::fs::read_to_string(&yml).expect("yml");
    std::fs::write(
        &yml,
        text.replace("store_failures_as: view", "store_failures_as: table"),
    )
    .expect("write yml");
    let out = sluice_in(p, &["build"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let st = crate::common::statuses(&p.join("target"));
    assert_eq!(
        st["test.storefail.unique_order_facts_id.1f5813d824"],
        "pass"
    );
    assert!(kept_rows(p, "main_dbt_test__audit.unique_order_facts_id").is_empty());
    assert_eq!(
        relation_kind(
            p,
            "main_audit",
            "accepted_values_orders_status__placed__shipped"
        )
        .as_deref(),
        Some("BASE TABLE")
    );
    assert_eq!(
        kept_rows(
            p,
            "main_audit.accepted_values_orders_status__placed__shipped"
        ),
        vec![
            vec!["lost".to_owned(), "1".to_owned()],
            vec!["returned".to_owned(), "1".to_owned()]
        ]
    );
    let run_file = std::fs::read_to_string(
        p.join("target/run/storefail/models/_orders.yml/accepted_values_orders_status__placed__shipped.sql"),
    )
    .expect("run file");
    assert!(run_file.starts_with("drop view if exists"), "{run_file}");
}

/// Build the fixture on a stand-in (an output added to its profiles.yml) and
/// check what each kept relation holds against the DuckDB build's.
fn kept_on(output: &str, label: &str) {
    let duck = copy();
    let out = sluice_in(duck.path(), &["build", "--store-failures"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let dir = copy();
    let profiles = dir.path().join("profiles/profiles.yml");
    let text = std::fs::read_to_string(&profiles).expect("profiles.yml");
    std::fs::write(&profiles, format!("{text}    wh: {{{output}}}\n")).expect("write");
    let profiles_dir = dir.path().join("profiles").display().to_string();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--profiles-dir", &profiles_dir, "-t", "wh"]);
        crate::warehouses::run(dir.path(), &all)
    };
    let out = run(&["build", "--store-failures"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{label}: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let theirs = crate::common::statuses(&duck.path().join("target"));
    let ours = crate::common::statuses(&dir.path().join("target"));
    assert_eq!(ours, theirs, "{label}: statuses");
    let rr = read_json(&dir.path().join("target/run_results.json"));
    let duck_rr = read_json(&duck.path().join("target/run_results.json"));
    let manifest = read_json(&dir.path().join("target/manifest.json"));
    let mut checked = 0;
    for r in rr["results"].as_array().expect("results") {
        let id = r["unique_id"].as_str().unwrap_or_default();
        let Some(relation) = r["relation_name"]
            .as_str()
            .filter(|_| id.starts_with("test."))
        else {
            continue;
        };
        // Named in dbt's manifest under the flag, but not kept: `false` wins.
        if r["status"] == "error" || manifest["nodes"][id]["config"]["store_failures"] == false {
            continue;
        }
        let duck_relation = duck_rr["results"]
            .as_array()
            .and_then(|a| a.iter().find(|d| d["unique_id"] == id))
            .and_then(|d| d["relation_name"].as_str())
            .expect("the DuckDB build names it too")
            .to_owned();
        let sql = format!("select * from {relation}");
        let out = run(&["show", "--inline", &sql, "--limit", "100"]);
        assert!(out.status.success(), "{label} {sql}: {}", stderr(&out));
        let mut got: Vec<String> = shown_rows(&stdout(&out));
        got.sort();
        let mut expected = kept_rows(duck.path(), &duck_relation)
            .into_iter()
            .map(|r| r.join("|"))
            .collect::<Vec<_>>();
        expected.sort();
        if relation.contains(KEPT_UNDER_LIMIT) {
            // Either failing value may be the one kept (see KEPT_UNDER_LIMIT).
            assert_eq!(
                got.len(),
                expected.len(),
                "{label}: rows kept in {relation}"
            );
        } else {
            assert_eq!(got, expected, "{label}: rows kept in {relation}");
        }
        checked += 1;
    }
    assert!(
        checked >= 8,
        "{label}: only {checked} kept relations checked"
    );
}

/// The data rows of `show`'s table, cells joined by `|`, booleans and NULLs as
/// DuckDB prints them.
fn shown_rows(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|-"))
        .skip(1)
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| {
                    let c = c.trim();
                    if c.eq_ignore_ascii_case("true") || c.eq_ignore_ascii_case("false") {
                        c.to_lowercase()
                    } else {
                        c.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

#[test]
fn failing_rows_are_kept_on_snowflake() {
    let Some(url) = crate::warehouses::fakesnow() else {
        return;
    };
    kept_on(
        &crate::warehouses::snowflake_target(&url, "STOREFAIL"),
        "snowflake",
    );
}

#[test]
fn failing_rows_are_kept_on_bigquery() {
    let Some((url, project)) = crate::warehouses::bqemulator() else {
        return;
    };
    kept_on(
        &crate::warehouses::bigquery_target(
            &url,
            &project,
            &format!("storefail_{}", std::process::id()),
        ),
        "bigquery",
    );
}
