//! Doc blocks, exposures, groups and access (issue 17, item 12) on the
//! `docs_exposures` fixture (dbt layout): `{% docs %}` blocks in `models/` and
//! `docs/` (and a package's, which `doc('helper', ..)` names), used by model,
//! column, source and exposure descriptions; three exposures (one disabled) on
//! models, a source and a package's model; two groups, a `+group` from
//! dbt_project.yml and one from `config()`; public, private and the default
//! protected access. Each is compared with dbt-core on the same files: the
//! manifest's exposures, groups, docs and each node's access, group,
//! description and doc_blocks, the built rows, and `ls` for the exposure, group
//! and access selectors. The errors (a private ref, an unknown doc, an exposure's
//! unknown ref or type) are cases of the bad-input corpus.

use serde_json::Value;

use crate::common::{dbt_quiet_in, fixture, project_copy, read_json, sluice_in, stderr, stdout};
use crate::dbt_compare::{assert_ls_matches_dbt, compare_with_dbt, dbt_binary};

/// `section` of the manifest without the fields that cannot be equal (a
/// creation time) or that sluice does not write as dbt does (a group's
/// `config`: dbt fills it with the models config of the group's file path).
fn entries(manifest: &Value, section: &str) -> Value {
    let mut out = manifest[section].clone();
    if let Some(map) = out.as_object_mut() {
        for entry in map.values_mut() {
            if let Some(fields) = entry.as_object_mut() {
                fields.remove("created_at");
                if section == "groups" {
                    fields.remove("config");
                }
            }
        }
    }
    out
}

/// What each model and source says of its documentation and access.
fn documentation(manifest: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for section in ["nodes", "sources"] {
        for (id, node) in manifest[section].as_object().expect("a section") {
            if node["resource_type"] == "test" {
                continue;
            }
            let columns: Vec<Value> = node["columns"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, c)| serde_json::json!([name, c["description"], c["doc_blocks"]]))
                .collect();
            out.push(serde_json::json!({
                "id": id, "description": node["description"],
                "doc_blocks": node["doc_blocks"], "access": node["access"],
                "group": node["group"], "columns": columns,
            }));
        }
    }
    out.sort_by_key(|v| v["id"].to_string());
    out
}

/// The parent and child maps' entries of exposures.
fn exposure_edges(manifest: &Value) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    for map in ["parent_map", "child_map"] {
        for (id, list) in manifest[map].as_object().expect("a map") {
            let mut ids: Vec<String> = list
                .as_array()
                .expect("a list")
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            if id.starts_with("exposure.") || ids.iter().any(|i| i.starts_with("exposure.")) {
                ids.sort();
                out.push((map.to_owned(), id.clone(), ids));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn docs_exposures_and_groups_build_as_dbt_core_builds_them() {
    let dir = fixture("docs_exposures");
    compare_with_dbt(&dir, &dir.join("profiles"), &[]);
}

#[test]
fn manifest_docs_exposures_and_groups_are_dbt_cores() {
    let Some(dbt) = dbt_binary() else {
        return;
    };
    let ours = project_copy("docs_exposures");
    let theirs = project_copy("docs_exposures");
    let a = sluice_in(ours.path(), &["parse"]);
    assert!(a.status.success(), "{}{}", stdout(&a), stderr(&a));
    let b = dbt_quiet_in(&dbt, theirs.path(), &["parse"]);
    assert!(b.status.success(), "dbt: {}", stdout(&b));
    let ours = read_json(&ours.path().join("target/manifest.json"));
    let theirs = read_json(&theirs.path().join("target/manifest.json"));
    for section in ["exposures", "groups"] {
        assert_eq!(
            entries(&ours, section),
            entries(&theirs, section),
            "{section}: sluice (left) vs dbt (right)"
        );
    }
    // Every doc block, dbt's own overview included; its text is sluice's.
    let mut docs = entries(&ours, "docs");
    let mut dbt_docs = entries(&theirs, "docs");
    for d in [&mut docs, &mut dbt_docs] {
        d["doc.dbt.__overview__"]["block_contents"] = Value::Null;
    }
    assert_eq!(docs, dbt_docs, "docs: sluice (left) vs dbt (right)");
    assert_eq!(
        documentation(&ours),
        documentation(&theirs),
        "descriptions, doc_blocks, access and group: sluice (left) vs dbt (right)"
    );
    assert_eq!(
        exposure_edges(&ours),
        exposure_edges(&theirs),
        "exposures in parent_map/child_map: sluice (left) vs dbt (right)"
    );
}

#[test]
fn doc_blocks_render_into_descriptions_without_dbt() {
    // The facts the comparison above proves equal, without dbt-core.
    let dir = project_copy("docs_exposures");
    let out = sluice_in(dir.path(), &["parse"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let manifest = read_json(&dir.path().join("target/manifest.json"));
    let orders = &manifest["nodes"]["model.docsexp.orders"];
    assert_eq!(
        orders["description"],
        "One row per order, with its **amount** in euros."
    );
    assert_eq!(orders["access"], "public");
    assert_eq!(orders["group"], "finance");
    assert_eq!(
        orders["columns"]["order_id"]["description"],
        "The order's key, unique across all shops."
    );
    // A package's model resolves `doc('orders')` to the root project's block.
    assert_eq!(
        manifest["nodes"]["model.helper.helper_model"]["doc_blocks"],
        serde_json::json!(["doc.docsexp.orders"])
    );
    let exposure = &manifest["exposures"]["exposure.docsexp.weekly_dashboard"];
    assert_eq!(
        exposure["depends_on"]["nodes"],
        serde_json::json!(["source.docsexp.raw.raw_customers", "model.docsexp.orders"])
    );
    assert!(manifest["exposures"]
        .get("exposure.docsexp.retired_sheet")
        .is_none());
}

const SELECTORS: &[&[&str]] = &[
    &[],
    &["--resource-type", "exposure"],
    &["-s", "exposure:weekly_dashboard"],
    &["-s", "+exposure:weekly_dashboard"],
    &["-s", "+exposure:docsexp.churn_model"],
    &["-s", "exposure:*"],
    &["-s", "orders+", "--resource-type", "exposure"],
    &["-s", "group:finance"],
    &["-s", "group:marketing+"],
    &["-s", "access:public"],
    &["-s", "access:private"],
    &["-s", "access:protected"],
    &["-s", "source:raw+"],
    &["-s", "source:raw.raw_customers"],
    &["-s", "exposure:weekly_dashboard", "--output", "name"],
    &["-s", "exposure:churn_model", "--output", "path"],
];

#[test]
fn ls_selects_exposures_groups_and_access_as_dbt_core_does() {
    assert_ls_matches_dbt("docs_exposures", SELECTORS);
}
