//! Installed packages (tests/fixtures/packages: a root dbt project whose
//! dbt_packages/ holds pkg_util and pkg_other): they load beside the root project,
//! their macros live in their own namespaces, the root's `dispatch:` search order
//! picks the implementation, package vars and config trees apply as in dbt, and
//! dbt-core builds the same nodes and rows.

use std::path::Path;

use serde_json::Value;

use crate::common::{project_copy, query, read_json, sluice, stderr, stdout};
use crate::dbt_compare::compare_with_dbt;

fn build(dir: &Path) -> std::process::Output {
    sluice()
        .current_dir(dir)
        .args(["build", "--profiles-dir", "profiles"])
        .output()
        .expect("sluice runs")
}

fn build_ok(dir: &Path) {
    let out = build(dir);
    assert!(
        out.status.success(),
        "sluice build failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
}

fn root_model(dir: &Path) -> Vec<Vec<String>> {
    query(
        &dir.join("dev.duckdb"),
        "select id, greeting, n, lbl, loud, root_greeting, rel_check, str_is_relation \
         from main.root_model order by id",
    )
}

/// Set the root project's search order for pkg_util.
fn set_search_order(dir: &Path, order: &str) {
    let path = dir.join("dbt_project.yml");
    let text = std::fs::read_to_string(&path).expect("read dbt_project.yml");
    let text = text.replace("search_order: [pkg_root, pkg_util]", order);
    std::fs::write(&path, text).expect("write dbt_project.yml");
}

#[test]
fn package_nodes_have_their_package_in_ids_and_fqns() {
    let dir = project_copy("packages");
    build_ok(dir.path());
    let manifest = read_json(&dir.path().join("target/manifest.json"));
    let nodes = manifest["nodes"].as_object().expect("nodes");
    let node = |id: &str| -> &Value {
        nodes
            .get(id)
            .unwrap_or_else(|| panic!("no {id} in {:?}", nodes.keys().collect::<Vec<_>>()))
    };
    let m = node("model.pkg_util.pkg_model");
    assert_eq!(m["fqn"], serde_json::json!(["pkg_util", "pkg_model"]));
    assert_eq!(m["package_name"], "pkg_util");
    assert_eq!(m["original_file_path"], "models/pkg_model.sql");
    // The package's own tree (view), the root's `models: {pkg_util: {+schema}}`.
    assert_eq!(m["config"]["materialized"], "view");
    assert_eq!(m["schema"], "main_util");
    assert_eq!(
        node("seed.pkg_util.pkg_seed")["fqn"],
        serde_json::json!(["pkg_util", "pkg_seed"])
    );
    let other = node("model.pkg_other.other_model");
    assert_eq!(
        other["depends_on"]["nodes"],
        serde_json::json!(["model.pkg_util.pkg_model"])
    );
    // The root's `models: {pkg_util: {disabled_model: {+enabled: false}}}`.
    assert!(!nodes.contains_key("model.pkg_util.disabled_model"));
    // The package's unqualified test in its own YAML is the package's node.
    assert!(nodes
        .keys()
        .any(|k| k.starts_with("test.pkg_util.is_positive_pkg_model_amount.")));
    assert!(nodes
        .keys()
        .any(|k| k.starts_with("test.pkg_root.pkg_util_is_positive_root_model_id.")));
    // Generic tests from test-paths' generic/ folders (the root's and a
    // package's); tests/fixtures/ holds no singular test.
    assert!(nodes
        .keys()
        .any(|k| k.starts_with("test.pkg_root.not_negative_root_model_id.")));
    assert!(nodes
        .keys()
        .any(|k| k.starts_with("test.pkg_root.pkg_util_under_ten_root_model_id.")));
    assert!(nodes.contains_key("test.pkg_root.assert_root_model_has_rows"));
    assert!(
        !nodes.keys().any(|k| k.contains("root_model_input")),
        "tests/fixtures/ read as a singular test"
    );
    let generic = &manifest["macros"]["macro.pkg_root.test_not_negative"];
    assert_eq!(
        generic["original_file_path"],
        "tests/generic/not_negative.sql"
    );
    let doubled = query(
        &dir.path().join("dev.duckdb"),
        "select doubled from main.other_model order by id",
    );
    assert_eq!(doubled[0], vec!["ROOT:CROOT:C"]);
}

#[test]
fn package_vars_and_macros_resolve_as_in_dbt() {
    let dir = project_copy("packages");
    build_ok(dir.path());
    let row = |id: &str| {
        vec![
            id.to_owned(),
            // The root's `vars: {pkg_util: {greeting}}` beats the package's own.
            "root_hi".into(),
            // A var only the package sets.
            "7".into(),
            // Search order [pkg_root, pkg_util]: the root's default__label.
            "root:a".into(),
            "ROOT:B".into(),
            // The root's nodes do not see vars scoped to pkg_util.
            "unset".into(),
            // A relation passes dbt_utils' `_is_relation` check (`is mapping`,
            // `get('metadata')`); `get` reads its fields, with a default.
            "pkg_model:dflt".into(),
            // A string does not.
            "0".into(),
        ]
    };
    assert_eq!(root_model(dir.path()), vec![row("1"), row("2")]);
}

#[test]
fn swapping_the_search_order_picks_the_other_implementation() {
    let dir = project_copy("packages");
    set_search_order(dir.path(), "search_order: [pkg_util, pkg_root]");
    build_ok(dir.path());
    let rows = root_model(dir.path());
    // pkg_util first: its duckdb__label beats its default__ and the root's.
    assert_eq!(rows[0][3], "util_duckdb:a");
    assert_eq!(rows[0][4], "UTIL_DUCKDB:B");
}

#[test]
fn another_packages_test_needs_its_namespace() {
    let dir = project_copy("packages");
    let schema = dir.path().join("models/schema.yml");
    let text = std::fs::read_to_string(&schema).expect("read schema.yml");
    std::fs::write(
        &schema,
        text.replace("- not_null", "- not_null\n          - is_positive"),
    )
    .expect("write schema.yml");
    let out = build(dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("unknown data test `is_positive`"), "{err}");
    assert!(err.contains("write `pkg_util.is_positive`"), "{err}");
    assert!(err.contains("models/schema.yml"), "{err}");
}

#[test]
fn builds_what_dbt_core_builds() {
    let p = crate::common::fixture("packages");
    compare_with_dbt(&p, &p.join("profiles"), &[]);
}

#[test]
fn builds_what_dbt_core_builds_with_the_search_order_swapped() {
    let dir = project_copy("packages");
    set_search_order(dir.path(), "search_order: [pkg_util, pkg_root]");
    compare_with_dbt(dir.path(), &dir.path().join("profiles"), &[]);
}

#[test]
fn seed_hooks_run_around_the_load() {
    let dir = project_copy("packages");
    build_ok(dir.path());
    let db = dir.path().join("dev.duckdb");
    assert_eq!(
        query(&db, "select seed, phase from main.seed_hook_log"),
        vec![vec!["raw_kinds".to_owned(), "post".to_owned()]]
    );
    assert_eq!(
        query(&db, "select count(*) from main.raw_kinds_copy"),
        vec![vec!["2".to_owned()]]
    );
    // Its post-hook dropped it once loaded: rendered after the load, not before.
    assert_eq!(
        query(
            &db,
            "select count(*) from information_schema.tables where table_name = 'dropped_seed'"
        ),
        vec![vec!["0".to_owned()]]
    );
}
