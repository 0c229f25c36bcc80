//! The dbt-core comparison harness: build one project with sluice and with real
//! dbt-core + dbt-duckdb (from the repository's `.venv`, which `scripts/test`
//! installs), each in its own copy, and compare per node: unique id, fqn,
//! depends_on, resolved config, relation, and every built relation's columns and
//! rows (sorted, all columns).
//!
//! Without `.venv/bin/dbt` the comparison is skipped with a message, unless
//! `SLUICE_REQUIRE_DBT=1` (CI), where it fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{
    copy_dir, dbt_quiet_in, project_copy, query, read_json, repo_root, sluice, sluice_in, stderr,
    stdout,
};

/// dbt-core from the repository's `.venv`, or `None` (with a message) to skip.
pub fn dbt_binary() -> Option<PathBuf> {
    let dbt = repo_root().join(".venv/bin/dbt");
    if dbt.is_file() {
        return Some(dbt);
    }
    assert!(
        std::env::var("SLUICE_REQUIRE_DBT").as_deref() != Ok("1"),
        "{} is missing and SLUICE_REQUIRE_DBT=1: scripts/test installs dbt-core and dbt-duckdb into .venv",
        dbt.display()
    );
    eprintln!(
        "skipping the dbt-core comparison: {} is not installed (scripts/test installs it)",
        dbt.display()
    );
    None
}

/// Config keys compared per node.
const CONFIG_KEYS: &[&str] = &[
    "materialized",
    "schema",
    "alias",
    "database",
    "tags",
    "enabled",
    "unique_key",
    "incremental_strategy",
    "severity",
];

/// What is compared of one node.
fn node_summary(node: &Value) -> Value {
    let mut deps: Vec<String> = node["depends_on"]["nodes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    deps.sort();
    let mut config = serde_json::Map::new();
    let is_test = node["resource_type"] == "test";
    for key in CONFIG_KEYS {
        // A test's schema and alias are where dbt would store failures.
        if is_test && matches!(*key, "schema" | "alias" | "database") {
            continue;
        }
        let v = &node["config"][*key];
        let v = match v {
            Value::Array(items) => {
                let mut items = items.clone();
                items.sort_by_key(|a| a.to_string());
                Value::Array(items)
            }
            other => other.clone(),
        };
        config.insert((*key).to_owned(), v);
    }
    let mut out = serde_json::json!({
        "resource_type": node["resource_type"],
        "fqn": node["fqn"],
        "depends_on": deps,
        "config": config,
    });
    if !is_test {
        out["relation"] = serde_json::json!({
            "database": node["database"],
            "schema": node["schema"],
            "identifier": node["alias"],
        });
    }
    out
}

/// unique_id → summary, for models, seeds, snapshots and tests.
pub fn nodes_of(manifest: &Value) -> BTreeMap<String, Value> {
    manifest["nodes"]
        .as_object()
        .expect("manifest has nodes")
        .iter()
        .filter(|(_, n)| {
            matches!(
                n["resource_type"].as_str(),
                Some("model" | "seed" | "snapshot" | "test")
            )
        })
        .map(|(id, n)| (id.clone(), node_summary(n)))
        .collect()
}

/// The columns and sorted rows of a relation in `<dir>/<database>.duckdb`.
fn relation_rows(dir: &Path, relation: &Value) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let db = relation["database"].as_str().unwrap_or("dev");
    let schema = relation["schema"].as_str().expect("schema");
    let name = relation["identifier"].as_str().expect("identifier");
    let file = dir.join(format!("{db}.duckdb"));
    let columns = query(
        &file,
        &format!(
            "select column_name, data_type from information_schema.columns \
             where table_schema = '{schema}' and table_name = '{name}' order by ordinal_position"
        ),
    );
    // No such relation (a hook dropped it): no rows to read.
    if columns.is_empty() {
        return (columns, Vec::new());
    }
    let mut rows = query(&file, &format!("select * from \"{schema}\".\"{name}\""));
    rows.sort();
    (columns, rows)
}

/// Run `build` with sluice; `expect_success`: assert it exits 0, else that it
/// exits 1 (some node failed, the project is valid).
fn run_sluice(dir: &Path, profiles_dir: &Path, args: &[&str], expect_success: bool) {
    let out = sluice()
        .current_dir(dir)
        .arg("build")
        .arg("--profiles-dir")
        .arg(profiles_dir)
        .args(args)
        .output()
        .expect("sluice runs");
    assert_eq!(
        out.status.code(),
        Some(if expect_success { 0 } else { 1 }),
        "sluice build:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
}

fn run_dbt(dbt: &Path, dir: &Path, profiles_dir: &Path, args: &[&str], expect_success: bool) {
    let out = std::process::Command::new(dbt)
        .current_dir(dir)
        .arg("build")
        .arg("--profiles-dir")
        .arg(profiles_dir)
        .args(args)
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("DBT_USE_COLORS", "false")
        .output()
        .expect("dbt runs");
    assert_eq!(
        out.status.code(),
        Some(if expect_success { 0 } else { 1 }),
        "dbt build:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Build `project_dir` with sluice and with dbt-core (`build --profiles-dir
/// PROFILES_DIR ARGS...`, each run from its own copy of the project, as dbt is run
/// from the project folder) and assert that every node and every built relation
/// agree. Returns `false` when dbt is not installed (the comparison was skipped).
pub fn compare_with_dbt(project_dir: &Path, profiles_dir: &Path, args: &[&str]) -> bool {
    compare_builds(project_dir, profiles_dir, args, true).is_some()
}

/// Each tool's run status per node (`unique_id → status`, from run_results.json).
pub struct Statuses {
    pub sluice: BTreeMap<String, String>,
    pub dbt: BTreeMap<String, String>,
}

/// [`compare_with_dbt`] for a project where some nodes fail (both builds exit
/// 1): every node's manifest entry is compared, and the rows of each relation
/// both tools built. The caller compares the statuses it returns (`None`: dbt is
/// not installed).
pub fn compare_failing_builds_with_dbt(
    project_dir: &Path,
    profiles_dir: &Path,
    args: &[&str],
) -> Option<Statuses> {
    compare_builds(project_dir, profiles_dir, args, false)
}

fn compare_builds(
    project_dir: &Path,
    profiles_dir: &Path,
    args: &[&str],
    expect_success: bool,
) -> Option<Statuses> {
    let dbt = dbt_binary()?;
    let profiles_dir = std::path::absolute(profiles_dir).expect("absolute profiles dir");
    let ours = tempfile::tempdir().expect("temp dir");
    let theirs = tempfile::tempdir().expect("temp dir");
    copy_dir(project_dir, ours.path());
    copy_dir(project_dir, theirs.path());
    run_sluice(ours.path(), &profiles_dir, args, expect_success);
    run_dbt(&dbt, theirs.path(), &profiles_dir, args, expect_success);
    let statuses = Statuses {
        sluice: crate::common::statuses(&ours.path().join("target")),
        dbt: crate::common::statuses(&theirs.path().join("target")),
    };

    let ours_nodes = nodes_of(&read_json(&ours.path().join("target/manifest.json")));
    let theirs_nodes = nodes_of(&read_json(&theirs.path().join("target/manifest.json")));
    let ours_ids: Vec<&String> = ours_nodes.keys().collect();
    let theirs_ids: Vec<&String> = theirs_nodes.keys().collect();
    assert_eq!(
        ours_ids, theirs_ids,
        "unique ids: sluice (left) vs dbt (right)"
    );
    // Every difference, not just the first.
    let mut diffs = Vec::new();
    let mut compared = 0;
    for (id, theirs_node) in &theirs_nodes {
        let ours_node = &ours_nodes[id];
        if ours_node != theirs_node {
            diffs.push(format!(
                "node {id}:\n  sluice: {ours_node}\n  dbt:    {theirs_node}"
            ));
        }
        let materialized = theirs_node["config"]["materialized"].as_str();
        let built_by_both = ["sluice", "dbt"].iter().all(|tool| {
            let s = if *tool == "sluice" {
                &statuses.sluice
            } else {
                &statuses.dbt
            };
            s.get(id).is_none_or(|s| s == "success")
        });
        if theirs_node["resource_type"] == "test"
            || matches!(materialized, Some("ephemeral"))
            || theirs_node["config"]["enabled"] == Value::Bool(false)
            || !built_by_both
        {
            continue;
        }
        let relation = &theirs_node["relation"];
        let (ours_cols, ours_rows) = relation_rows(ours.path(), relation);
        let (theirs_cols, theirs_rows) = relation_rows(theirs.path(), relation);
        if theirs_cols.is_empty() {
            // dbt's node ran (its status is compared) but left no relation: a
            // seed's post-hook dropped it. sluice must not have one either.
            if !ours_cols.is_empty() {
                diffs.push(format!("{id}: sluice has a relation, dbt has none"));
            }
            continue;
        }
        compared += 1;
        if ours_cols != theirs_cols {
            diffs.push(format!(
                "columns of {id}:\n  sluice: {ours_cols:?}\n  dbt:    {theirs_cols:?}"
            ));
        }
        if ours_rows != theirs_rows {
            diffs.push(format!(
                "rows of {id}:\n  sluice: {ours_rows:?}\n  dbt:    {theirs_rows:?}"
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "sluice and dbt differ:\n{}",
        diffs.join("\n")
    );
    assert!(compared > 0 || !expect_success, "no relation was compared");
    Some(statuses)
}

/// `ls` with each of `selectors` prints the same lines under sluice and dbt-core on
/// copies of the dbt-layout fixture `fixture` (skipped without dbt).
pub fn assert_ls_matches_dbt(fixture: &str, selectors: &[&[&str]]) {
    let Some(dbt) = dbt_binary() else {
        return;
    };
    let ours = project_copy(fixture);
    let theirs = project_copy(fixture);
    for selector in selectors {
        let mut args = vec!["ls"];
        args.extend_from_slice(selector);
        let a = sluice_in(ours.path(), &args);
        let b = dbt_quiet_in(&dbt, theirs.path(), &args);
        assert!(a.status.success(), "sluice {args:?}: {}", stderr(&a));
        assert!(b.status.success(), "dbt {args:?}: {}", stdout(&b));
        assert_eq!(
            stdout(&a).lines().collect::<Vec<_>>(),
            stdout(&b).lines().collect::<Vec<_>>(),
            "ls {args:?}: sluice (left) vs dbt (right)"
        );
    }
}
