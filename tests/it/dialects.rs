//! Compile-only targets: Snowflake and BigQuery SQL, with no connection and no
//! credentials, snapshotted per model.

use crate::common::{copy_dir, repo_root, run_in, stderr};

fn compile_all(project: &std::path::Path, target: &str) -> Vec<(String, String)> {
    let out = run_in(project, &["compile", "-t", target]);
    assert!(
        out.status.success(),
        "compile -t {target}: {}",
        stderr(&out)
    );
    let target_path = crate::common::read_json(&project.join(".sluice/manifest.json"));
    let mut compiled: Vec<(String, String)> = target_path["nodes"]
        .as_object()
        .expect("nodes")
        .values()
        .filter(|n| n["resource_type"] == "model")
        .map(|n| {
            (
                n["name"].as_str().unwrap_or_default().to_owned(),
                n["compiled_code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    compiled.sort();
    compiled
}

/// The repository's GTM project, copied so the test never writes into the repo.
fn gtm_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = repo_root();
    for item in ["project.yml", "models", "macros", "seeds", "tests/data"] {
        let from = root.join(item);
        if from.is_dir() {
            std::fs::create_dir_all(dir.path().join(item)).expect("mkdir");
            copy_dir(&from, &dir.path().join(item));
        } else if from.is_file() {
            std::fs::copy(&from, dir.path().join(item)).expect("copy");
        }
    }
    dir
}

#[test]
fn every_gtm_model_compiles_for_snowflake_and_bigquery() {
    let p = gtm_copy();
    for target in ["snowflake", "bigquery"] {
        let models = compile_all(p.path(), target);
        assert!(!models.is_empty());
        for (name, sql) in models {
            insta::assert_snapshot!(format!("{target}__{name}"), sql);
        }
    }
}

#[test]
fn the_gtm_project_builds_on_duckdb() {
    let p = gtm_copy();
    let out = run_in(p.path(), &["build"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        crate::common::stdout(&out),
        stderr(&out)
    );
}

#[test]
fn selecting_parents_in_the_gtm_project_builds_only_that_lineage() {
    let p = gtm_copy();
    let out = run_in(p.path(), &["build", "-s", "+stg_subscriptions"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ran = crate::common::statuses(&p.path().join(".sluice"));
    let built: Vec<&String> = ran.keys().filter(|k| !k.starts_with("test.")).collect();
    assert_eq!(
        built,
        [
            "model.gtm_analytics.stg_subscriptions",
            "seed.gtm_analytics.raw_subscriptions"
        ]
    );
    // Its tests run; tests that also need an unselected model (a relationship to
    // stg_accounts) wait for a build that includes it.
    assert!(ran
        .keys()
        .any(|k| k.starts_with("test.gtm_analytics.unique_stg_subscriptions_subscription_id.")));
    assert!(
        !ran.keys().any(|k| k.contains("ref_stg_accounts")),
        "{ran:?}"
    );
    assert!(
        ran.values().all(|s| s == "success" || s == "pass"),
        "{ran:?}"
    );
}
