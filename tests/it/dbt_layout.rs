//! dbt's own layout read as is: dbt_project.yml + profiles.yml (found as dbt
//! finds them), `-t`/env overrides, walking up to the project, located errors,
//! the same manifest as the project.yml twin, and the same nodes and rows as
//! dbt-core.

use std::path::Path;

use serde_json::Value;

use crate::common::{copy_dir, fixture, query, read_json, sluice, statuses, stderr, stdout};
use crate::dbt_compare::compare_with_dbt;

/// A copy of the dbt-layout fixture.
fn dbt_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture("dbt_layout"), dir.path());
    dir
}

/// sluice in `dir` (its working directory) with the fixture's profiles dir.
fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    sluice()
        .current_dir(dir)
        .args(args)
        .arg("--profiles-dir")
        .arg(dir.join("profiles"))
        .env_remove("DBT_TARGET")
        .env_remove("DBT_PROFILES_DIR")
        .env_remove("DBT_PROJECT_DIR")
        .output()
        .expect("sluice runs")
}

fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "sluice failed:\n{}{}",
        stdout(out),
        stderr(out)
    );
}

/// stderr with the temp dir replaced, for snapshots.
fn shown(out: &std::process::Output, dir: &Path) -> String {
    stderr(out).replace(&dir.display().to_string(), "[PROJECT]")
}

#[test]
fn builds_with_a_separate_profiles_dir() {
    let p = dbt_copy();
    let out = run(p.path(), &["build"]);
    ok(&out);
    let st = statuses(&p.path().join("target"));
    assert_eq!(st.len(), 12, "{st:?}");
    assert!(st.values().all(|s| s == "success" || s == "pass"), "{st:?}");
    // dev output: dev.duckdb in the project folder; the marts schema from the
    // Jinja'd `+schema`, the alias from the tree.
    let rows = query(
        &p.path().join("dev.duckdb"),
        "select customer_name, order_count, total_amount from main_marts.fct_orders order by 1",
    );
    assert_eq!(
        rows,
        vec![
            vec!["Ada", "1", "25.5"],
            vec!["Grace", "1", "120.0"],
            vec!["Linus", "2", "75.25"],
        ]
    );
    // The package-scoped var (vars: {dbt_layout: {currency: EUR}}) and the
    // `+tags: ["{{ target.name }}"]` of the tree.
    let cur = query(
        &p.path().join("dev.duckdb"),
        "select distinct currency from main.stg_orders",
    );
    assert_eq!(cur, vec![vec!["EUR"]]);
    let manifest = read_json(&p.path().join("target/manifest.json"));
    let node = &manifest["nodes"]["model.dbt_layout.order_facts"];
    assert_eq!(node["config"]["tags"], serde_json::json!(["dev"]));
    assert_eq!(node["alias"], "fct_orders");
    assert_eq!(manifest["metadata"]["dbt_version"], "1.11.0");
    // Seeds' `+column_types` from Jinja.
    let types = query(
        &p.path().join("dev.duckdb"),
        "select data_type from information_schema.columns where table_name = 'raw_orders' and column_name = 'amount'",
    );
    assert_eq!(types, vec![vec!["DOUBLE"]]);
}

#[test]
fn target_flag_env_and_vars_select_what_builds() {
    let p = dbt_copy();
    ok(&run(p.path(), &["seed", "-t", "ci"]));
    assert!(p.path().join("ci.duckdb").is_file());
    assert!(!p.path().join("dev.duckdb").exists());
    let seeds = query(
        &p.path().join("ci.duckdb"),
        "select count(*) from ci_main.raw_orders",
    );
    assert_eq!(seeds, vec![vec!["5"]]);

    // DBT_TARGET picks the output; env_var() in the tree and in threads render.
    let out = sluice()
        .current_dir(p.path())
        .args(["build", "--profiles-dir"])
        .arg(p.path().join("profiles"))
        .args(["--vars", "{min_amount: 50}"])
        .env("DBT_TARGET", "ci")
        .env("DBT_LAYOUT_MART_SCHEMA", "finance")
        .env("DBT_LAYOUT_THREADS", "3")
        .output()
        .expect("sluice runs");
    ok(&out);
    let rows = query(
        &p.path().join("ci.duckdb"),
        "select customer_name, order_count from ci_main_finance.fct_orders order by 1",
    );
    // --vars overrides the project's min_amount: only orders of 50 or more count.
    assert_eq!(
        rows,
        vec![vec!["Ada", "0"], vec!["Grace", "1"], vec!["Linus", "1"]]
    );
    let manifest = read_json(&p.path().join("target/manifest.json"));
    assert_eq!(
        manifest["nodes"]["model.dbt_layout.order_facts"]["config"]["tags"],
        serde_json::json!(["ci"])
    );
}

#[test]
fn the_project_is_found_by_walking_up_and_profiles_in_the_working_directory() {
    let p = dbt_copy();
    // From a subfolder, with no --project-dir: the project is found above.
    let out = sluice()
        .current_dir(p.path().join("models/staging"))
        .arg("parse")
        .arg("--profiles-dir")
        .arg(p.path().join("profiles"))
        .env_remove("DBT_PROJECT_DIR")
        .output()
        .expect("sluice runs");
    ok(&out);
    assert!(p.path().join("target/manifest.json").is_file());

    // profiles.yml in the working directory, no --profiles-dir.
    std::fs::copy(
        p.path().join("profiles/profiles.yml"),
        p.path().join("profiles.yml"),
    )
    .expect("copy profiles");
    let out = sluice()
        .current_dir(p.path())
        .args(["ls", "-s", "order_facts"])
        .env_remove("DBT_PROFILES_DIR")
        .env_remove("DBT_PROJECT_DIR")
        .output()
        .expect("sluice runs");
    ok(&out);
    assert!(stdout(&out).contains("order_facts"), "{}", stdout(&out));

    // DBT_PROJECT_DIR from anywhere, and ~/.dbt/profiles.yml as the last resort.
    let home = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(home.path().join(".dbt")).expect("mkdir");
    std::fs::copy(
        p.path().join("profiles/profiles.yml"),
        home.path().join(".dbt/profiles.yml"),
    )
    .expect("copy profiles");
    let out = sluice()
        .current_dir(home.path())
        .args(["ls", "-s", "stg_orders"])
        .env("DBT_PROJECT_DIR", p.path())
        .env("HOME", home.path())
        .env_remove("DBT_PROFILES_DIR")
        .output()
        .expect("sluice runs");
    ok(&out);
    assert!(stdout(&out).contains("stg_orders"), "{}", stdout(&out));
}

#[test]
fn both_layouts_produce_identical_manifests() {
    let dbt = dbt_copy();
    ok(&run(dbt.path(), &["parse"]));
    let twin = dbt_copy();
    std::fs::remove_file(twin.path().join("dbt_project.yml")).expect("rm");
    std::fs::copy(
        fixture("dbt_layout_twin/project.yml"),
        twin.path().join("project.yml"),
    )
    .expect("copy project.yml");
    ok(&run(twin.path(), &["parse"]));
    let strip = |dir: &Path| -> Value {
        let mut m = read_json(&dir.join("target/manifest.json"));
        let meta = m["metadata"].as_object_mut().expect("metadata");
        meta.remove("generated_at");
        meta.remove("invocation_id");
        meta.remove("invocation_started_at");
        let text = serde_json::to_string(&m).expect("json");
        let text = text.replace(&dir.display().to_string(), "[PROJECT]");
        serde_json::from_str(&text).expect("json")
    };
    let a = strip(dbt.path());
    let b = strip(twin.path());
    assert!(a["nodes"].as_object().is_some_and(|n| n.len() == 12));
    for key in a.as_object().expect("manifest").keys() {
        assert_eq!(
            a[key], b[key],
            "manifest `{key}` differs between the layouts"
        );
    }
    assert_eq!(a, b);
}

#[test]
fn builds_what_dbt_core_builds() {
    let p = fixture("dbt_layout");
    compare_with_dbt(&p, &p.join("profiles"), &[]);
    // The other output, and --vars over the project's vars.
    compare_with_dbt(
        &p,
        &p.join("profiles"),
        &["-t", "ci", "--vars", "{min_amount: 50}"],
    );
}

#[test]
fn init_dbt_writes_a_dbt_layout_project_that_builds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = sluice()
        .current_dir(dir.path())
        .args(["init", "--dbt", "demo"])
        .output()
        .expect("sluice runs");
    ok(&out);
    let demo = dir.path().join("demo");
    assert!(demo.join("dbt_project.yml").is_file());
    assert!(demo.join("profiles.yml").is_file());
    assert!(demo.join("models/schema.yml").is_file());
    assert!(!demo.join("project.yml").exists());
    let out = sluice()
        .current_dir(&demo)
        .arg("build")
        .env_remove("DBT_PROFILES_DIR")
        .env_remove("DBT_PROJECT_DIR")
        .env_remove("DBT_TARGET")
        .output()
        .expect("sluice runs");
    ok(&out);
    // The database lives outside the target path, so `clean` keeps the data.
    assert!(demo.join("demo.duckdb").is_file());
    ok(&sluice()
        .current_dir(&demo)
        .arg("clean")
        .output()
        .expect("sluice runs"));
    assert!(demo.join("demo.duckdb").is_file());
    assert!(!demo.join("target").exists());
}

#[test]
fn deprecated_paths_and_unsupported_keys_warn() {
    let p = dbt_copy();
    let path = p.path().join("dbt_project.yml");
    let text = std::fs::read_to_string(&path).expect("read");
    let text = text
        .replace("model-paths:", "source-paths:")
        .replace("seed-paths:", "data-paths:")
        .replace(
            "clean-targets:",
            "query-comment: \"run by {{ target.name }}\"\nflags:\n  send_anonymous_usage_stats: false\n  skip_nodes_if_on_run_start_fails: true\nclean-targets:",
        );
    std::fs::write(&path, text).expect("write");
    let out = run(p.path(), &["parse"]);
    ok(&out);
    insta::assert_snapshot!("dbt_layout__warnings", shown(&out, p.path()));
}

/// dbt-core 1.10+ reads a repeated YAML key with a deprecation warning and keeps
/// the last value (PyYAML's rule): a properties file with two `description:`
/// keys, and a seed's properties written under `models:`, still build.
#[test]
fn a_repeated_key_warns_and_the_last_value_wins() {
    let p = dbt_copy();
    let path = p.path().join("models/schema.yml");
    let text = std::fs::read_to_string(&path).expect("read");
    let text = text.replacen(
        "    description: Orders of at least min_amount.\n",
        "    description: the first, ignored\n    description: Orders of at least min_amount.\n",
        1,
    ) + "  - name: raw_customers\n    description: a seed under models\n    columns:\n      - name: customer_id\n        data_tests: [not_null]\n";
    std::fs::write(&path, text).expect("write");
    let out = run(p.path(), &["parse"]);
    ok(&out);
    let err = stderr(&out);
    assert!(
        err.contains("duplicate key `description`: the last one is used, as dbt does"),
        "{err}"
    );
    assert!(
        err.contains(
            "`raw_customers` is a seed, but models/schema.yml describes it under `models:`"
        ),
        "{err}"
    );
    let manifest = read_json(&p.path().join("target/manifest.json"));
    let node = |name: &str| {
        manifest["nodes"]
            .as_object()
            .and_then(|nodes| nodes.values().find(|n| n["name"] == name))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        node("stg_orders")["description"],
        "Orders of at least min_amount."
    );
    assert_eq!(node("raw_customers")["description"], "a seed under models");
    assert_eq!(
        node("not_null_raw_customers_customer_id")["depends_on"]["nodes"][0],
        "seed.dbt_layout.raw_customers"
    );
}

/// Rewrite the fixture, run `args`, and snapshot the error (exit 2).
fn error_case(name: &str, edit: impl FnOnce(&Path), args: &[&str]) {
    let p = dbt_copy();
    edit(p.path());
    let out = run(p.path(), args);
    assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
    insta::assert_snapshot!(format!("dbt_layout__{name}"), shown(&out, p.path()));
}

#[test]
fn errors_are_located() {
    error_case(
        "unknown_profile",
        |_| {},
        &["parse", "--profile", "dbt_layou"],
    );
    error_case("unknown_target", |_| {}, &["parse", "-t", "cii"]);
    error_case(
        "version_required",
        |d| {
            let path = d.join("dbt_project.yml");
            let text = std::fs::read_to_string(&path).expect("read");
            std::fs::write(&path, text.replace("\"<2.0.0\"", "\"<1.9.0\"")).expect("write");
        },
        &["parse"],
    );
    error_case(
        "no_profile_key",
        |d| {
            let path = d.join("dbt_project.yml");
            let text = std::fs::read_to_string(&path).expect("read");
            std::fs::write(&path, text.replace("profile: dbt_layout\n", "")).expect("write");
        },
        &["parse"],
    );
    // --no-version-check lets the version mismatch through.
    let p = dbt_copy();
    let path = p.path().join("dbt_project.yml");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, text.replace("\"<2.0.0\"", "\"<1.9.0\"")).expect("write");
    ok(&run(p.path(), &["parse", "--no-version-check"]));
}

#[test]
fn no_profiles_yml_anywhere_is_an_error_saying_where_it_looked() {
    let p = dbt_copy();
    let home = tempfile::tempdir().expect("temp dir");
    let out = sluice()
        .current_dir(p.path())
        .arg("parse")
        .env("HOME", home.path())
        .env_remove("DBT_PROFILES_DIR")
        .env_remove("DBT_PROJECT_DIR")
        .output()
        .expect("sluice runs");
    assert_eq!(out.status.code(), Some(2));
    let text = shown(&out, p.path()).replace(&home.path().display().to_string(), "[HOME]");
    insta::assert_snapshot!("dbt_layout__no_profiles", text);
}

#[test]
fn project_yml_wins_over_dbt_project_yml_with_a_note() {
    let p = dbt_copy();
    std::fs::copy(
        fixture("dbt_layout_twin/project.yml"),
        p.path().join("project.yml"),
    )
    .expect("copy");
    let out = sluice()
        .current_dir(p.path())
        .arg("parse")
        .output()
        .expect("sluice runs");
    ok(&out);
    assert!(
        stderr(&out).contains("both project.yml and dbt_project.yml are here: using project.yml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn duckdb_settings_of_the_output_are_applied_and_bad_ones_are_located_errors() {
    let p = dbt_copy();
    let profiles = p.path().join("profiles/profiles.yml");
    let text = std::fs::read_to_string(&profiles).expect("read");
    let with = |setting: &str| {
        text.replace(
            "      threads: 2\n",
            &format!("      threads: 2\n      settings:\n        {setting}\n"),
        )
    };
    std::fs::write(&profiles, with("default_null_order: nulls_last")).expect("write");
    std::fs::write(
        p.path().join("models/settings_probe.sql"),
        "select current_setting('default_null_order') as v\n",
    )
    .expect("write");
    ok(&run(p.path(), &["run", "-s", "settings_probe"]));
    let v = query(
        &p.path().join("dev.duckdb"),
        "select v from main.settings_probe",
    );
    assert_eq!(v, vec![vec!["NULLS_LAST"]]);

    std::fs::write(&profiles, with("no_such_setting: 1")).expect("write");
    let out = run(p.path(), &["run", "-s", "settings_probe"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    insta::assert_snapshot!("dbt_layout__bad_setting", shown(&out, p.path()));
}

#[test]
fn an_output_sluice_cannot_use_is_an_error_only_when_chosen() {
    let p = dbt_copy();
    let profiles = p.path().join("profiles/profiles.yml");
    let mut text = std::fs::read_to_string(&profiles).expect("read");
    text.push_str("    prod:\n      type: postgres\n      host: db.internal\n");
    std::fs::write(&profiles, text).expect("write");
    // dbt reads only the chosen output: the dev build does not mind `prod`.
    ok(&run(p.path(), &["parse"]));
    let out = run(p.path(), &["parse", "-t", "prod"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    insta::assert_snapshot!("dbt_layout__unusable_output", shown(&out, p.path()));
}

/// `tests/fixtures/shop_dbt`, seeded and built with `--vars {load_source_data: true}`
/// by `run` (sluice or dbt, in the given folder) in a copy; seeds first, as a
/// tutorial project's sources are its seeds without a DAG edge between them.
fn shop_built(run: &dyn Fn(&Path, &[&str]) -> std::process::Output) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture("shop_dbt"), dir.path());
    for step in ["seed", "build"] {
        let out = run(
            dir.path(),
            &[
                step,
                "--vars",
                "{load_source_data: true}",
                "--profiles-dir",
                ".",
            ],
        );
        assert!(
            out.status.success(),
            "{step}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

#[test]
fn a_tutorial_shaped_project_builds_as_dbt_builds_it() {
    let ours = shop_built(&|dir, args| {
        sluice()
            .current_dir(dir)
            .args(args)
            .output()
            .expect("sluice runs")
    });
    // Unit tests whose inputs are a source and a model reading one are typed
    // from the warehouse; the generic test calls should_store_failures().
    let statuses = statuses(&ours.path().join("target"));
    for id in [
        "unit_test.shop_dbt.stg_stores.opened_at_truncates_to_a_date",
        "unit_test.shop_dbt.orders.stores_join_by_id",
    ] {
        assert_eq!(
            statuses.get(id).map(String::as_str),
            Some("pass"),
            "{statuses:?}"
        );
    }
    assert!(
        statuses
            .iter()
            .any(|(id, s)| id.starts_with("test.shop_dbt.holds_stg_orders") && s == "pass"),
        "{statuses:?}"
    );
    // The semantic YAML loads and answers: January 10.00 and 25.00 → 17.5;
    // February 4.00, 18.00, 7.00 → 7.00; Harbour (s1) has o1, o2, o5.
    let out = sluice()
        .current_dir(ours.path())
        .args([
            "metrics",
            "query",
            "--metrics",
            "median_revenue,harbour_orders",
            "--grain",
            "month",
            "--format",
            "json",
            "--profiles-dir",
            ".",
        ])
        .output()
        .expect("sluice runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(rows[0]["median_revenue"].as_f64(), Some(17.5), "{rows}");
    assert_eq!(rows[1]["median_revenue"].as_f64(), Some(7.0), "{rows}");
    assert_eq!(rows[0]["harbour_orders"], 2, "{rows}");
    assert_eq!(rows[1]["harbour_orders"], 1, "{rows}");
    // dbt-core on the same files writes the same rows in every relation.
    let Some(dbt) = crate::dbt_compare::dbt_binary() else {
        return;
    };
    let theirs = shop_built(&|dir, args| {
        std::process::Command::new(&dbt)
            .current_dir(dir)
            .args(args)
            .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
            .output()
            .expect("dbt runs")
    });
    for (schema, name) in [
        ("raw", "raw_stores"),
        ("raw", "raw_orders"),
        ("main", "stg_stores"),
        ("main", "stg_orders"),
        ("main", "orders"),
        ("main", "metricflow_time_spine"),
    ] {
        let sql = format!("select * from \"{schema}\".\"{name}\" order by all");
        let a = query(&ours.path().join("dev.duckdb"), &sql);
        let b = query(&theirs.path().join("dev.duckdb"), &sql);
        assert!(!b.is_empty(), "dbt built no rows in {schema}.{name}");
        assert_eq!(a, b, "{schema}.{name}: sluice (left) vs dbt (right)");
    }
}
