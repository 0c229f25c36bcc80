//! Model versions (issue 17, item 12) on the `versions` fixture (dbt layout):
//! `dim_customers` with three versions (`v1` from `dim_customers_v1.sql`
//! excluding a column, `v2` the latest with an `alias`, `v3` a prerelease
//! `defined_in` another file, a view, with a column of its own) and `orders`
//! with two (its latest the greatest), refs to the latest, pinned with `v=` and
//! `version=`, and with a package name; generic tests on the columns of each
//! version. Each is compared with dbt-core on the same files: every node's unique
//! id, fqn, depends_on, config and relation and every built relation's rows;
//! `ls` for the version selectors; the manifest's version fields.

use serde_json::Value;

use crate::common::{dbt_quiet_in, fixture, project_copy, read_json, sluice_in, stderr, stdout};
use crate::dbt_compare::{assert_ls_matches_dbt, compare_with_dbt, dbt_binary};

#[test]
fn versions_build_as_dbt_core_builds_them() {
    let dir = fixture("versions");
    compare_with_dbt(&dir, &dir.join("profiles"), &[]);
}

#[test]
fn versions_without_dbt_have_their_ids_relations_and_refs() {
    // The same facts without dbt-core: what the comparison above proves equal.
    let dir = project_copy("versions");
    let out = sluice_in(dir.path(), &["build"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let manifest = read_json(&dir.path().join("target/manifest.json"));
    let nodes = &manifest["nodes"];
    let v1 = &nodes["model.versions.dim_customers.v1"];
    assert_eq!(v1["name"], "dim_customers");
    assert_eq!(
        v1["fqn"],
        serde_json::json!(["versions", "marts", "dim_customers", "v1"])
    );
    assert_eq!(v1["alias"], "dim_customers_v1");
    assert_eq!(
        nodes["model.versions.dim_customers.v2"]["alias"],
        "dim_customers"
    );
    assert_eq!(
        nodes["model.versions.customer_report"]["depends_on"]["nodes"],
        serde_json::json!(["model.versions.dim_customers.v2"])
    );
    assert_eq!(
        nodes["model.versions.next_report"]["depends_on"]["nodes"],
        serde_json::json!(["model.versions.dim_customers.v3"])
    );
    let rows = crate::common::query(
        &dir.path().join("dev.duckdb"),
        "select latest_year from main.next_report",
    );
    assert_eq!(rows, vec![vec!["2024".to_owned()]]);
    // A version excludes a column: no test on it.
    assert!(!nodes
        .as_object()
        .expect("nodes")
        .keys()
        .any(|k| k.starts_with("test.versions.accepted_values_dim_customers_v1_")));
    // Refs to a version with a deprecation date warn, as dbt does.
    let err = stderr(&out);
    assert!(
        err.contains("Found a reference to dim_customers.v1, which is slated for deprecation on '2027-01-01T00:00:00+00:00'"),
        "{err}"
    );
}

/// The manifest fields dbt writes for a model's version.
fn version_fields(manifest: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = manifest["nodes"]
        .as_object()
        .expect("nodes")
        .iter()
        .filter(|(_, n)| n["resource_type"] == "model")
        .map(|(id, n)| {
            let mut columns: Vec<&String> = n["columns"]
                .as_object()
                .map(|c| c.keys().collect())
                .unwrap_or_default();
            columns.sort();
            // Name and version (as text: sluice reads `v='1'` back as 1; the
            // package of `ref('pkg', 'm')` is not kept).
            let mut refs: Vec<(String, String)> = n["refs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    let v = match &r["version"] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (r["name"].as_str().unwrap_or_default().to_owned(), v)
                })
                .collect();
            refs.sort();
            serde_json::json!({
                "id": id, "name": n["name"], "version": n["version"],
                "latest_version": n["latest_version"],
                "deprecation_date": n["deprecation_date"], "alias": n["alias"],
                "path": n["path"], "original_file_path": n["original_file_path"],
                "description": n["description"], "columns": columns, "refs": refs,
                "materialized": n["config"]["materialized"], "tags": n["config"]["tags"],
            })
        })
        .collect();
    out.sort_by_key(|v| v["id"].to_string());
    out
}

#[test]
fn manifest_version_fields_are_dbt_cores() {
    let Some(dbt) = dbt_binary() else {
        return;
    };
    let ours = project_copy("versions");
    let theirs = project_copy("versions");
    let a = sluice_in(ours.path(), &["parse"]);
    assert!(a.status.success(), "{}{}", stdout(&a), stderr(&a));
    let b = dbt_quiet_in(&dbt, theirs.path(), &["parse"]);
    assert!(b.status.success(), "dbt: {}", stdout(&b));
    let ours_fields = version_fields(&read_json(&ours.path().join("target/manifest.json")));
    let theirs_fields = version_fields(&read_json(&theirs.path().join("target/manifest.json")));
    assert_eq!(
        ours_fields, theirs_fields,
        "model version fields: sluice (left) vs dbt (right)"
    );
}

const SELECTORS: &[&[&str]] = &[
    &[],
    &["-s", "dim_customers"],
    &["-s", "dim_customers.v2"],
    &["-s", "dim_customers_v1"],
    &["-s", "marts.dim_customers"],
    &["-s", "versions.dim_customers.v3"],
    &["-s", "version:latest"],
    &["-s", "version:prerelease"],
    &["-s", "version:old"],
    &["-s", "version:none"],
    &["-s", "+customer_report"],
    &["-s", "dim_customers.v1+"],
    &["-s", "orders", "--output", "name"],
    &["-s", "dim_customers.v1", "--output", "path"],
    &["-s", "dim_*"],
];

#[test]
fn ls_selects_versions_as_dbt_core_does() {
    assert_ls_matches_dbt("versions", SELECTORS);
}

#[test]
fn an_unknown_version_selector_is_dbt_cores_error() {
    let dir = project_copy("versions");
    let out = sluice_in(dir.path(), &["ls", "-s", "version:bogus"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "Invalid version type selector bogus: expected one of: \"latest\", \"prerelease\", \"old\", or \"none\""
        ),
        "{}",
        stderr(&out)
    );
    if let Some(dbt) = dbt_binary() {
        let theirs = project_copy("versions");
        let b = dbt_quiet_in(&dbt, theirs.path(), &["ls", "-s", "version:bogus"]);
        assert_eq!(b.status.code(), Some(2), "dbt: {}", stdout(&b));
    }
}

#[test]
fn a_ref_to_an_unknown_version_is_dbt_cores_error_located() {
    let dir = project_copy("versions");
    let model = dir.path().join("models/bad_ref.sql");
    std::fs::write(&model, "select * from {{ ref('dim_customers', v=9) }}\n").expect("write");
    let out = sluice_in(dir.path(), &["parse"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let message = "Model 'model.versions.bad_ref' (models/bad_ref.sql) depends on a node named 'dim_customers' with version '9' which was not found";
    assert!(err.contains(message), "{err}");
    assert!(err.contains("models/bad_ref.sql:1:18"), "{err}");
    if let Some(dbt) = dbt_binary() {
        let theirs = project_copy("versions");
        std::fs::write(
            theirs.path().join("models/bad_ref.sql"),
            "select * from {{ ref('dim_customers', v=9) }}\n",
        )
        .expect("write");
        let b = dbt_quiet_in(&dbt, theirs.path(), &["parse"]);
        assert_eq!(b.status.code(), Some(2));
        let shown = format!("{}{}", stdout(&b), stderr(&b));
        assert!(shown.contains(message), "dbt: {shown}");
    }
}
