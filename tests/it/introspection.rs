//! Jinja that queries the warehouse (issue 16, item 3) and per-node compile errors
//! (issue 17, trap 6), on the `introspection` fixture: a `star` driven by
//! `adapter.get_columns_in_relation`, a union of relations with differing columns,
//! a pivot over `run_query`'s distinct values, `statement`/`load_result`,
//! `adapter.get_relation` of a missing relation, `load_relation`,
//! `api.Relation.create` and `api.Column.create`. Built on DuckDB (rows asserted,
//! and compared with dbt-core's), on fakesnow and on bqemulator.

use std::path::Path;
use std::sync::OnceLock;

use crate::common::{project_copy, query, read_json, run_in, statuses, stderr, stdout};

/// The fixture, built once on DuckDB for the tests that read it.
fn built() -> &'static Path {
    static BUILT: OnceLock<tempfile::TempDir> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = project_copy("introspection");
            let out = run_in(dir.path(), &["build"]);
            assert!(
                out.status.success(),
                "build failed:\n{}\n{}",
                stdout(&out),
                stderr(&out)
            );
            dir
        })
        .path()
}

fn rows(model: &str) -> Vec<Vec<String>> {
    let db = built().join("warehouse.duckdb");
    query(&db, &format!("select * from main.{model} order by all"))
}

fn columns(model: &str) -> Vec<String> {
    let db = built().join("warehouse.duckdb");
    query(
        &db,
        &format!(
            "select column_name from information_schema.columns where table_name = '{model}' order by ordinal_position"
        ),
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect()
}

#[test]
fn a_star_from_get_columns_in_relation_leaves_out_the_excepted_column() {
    assert_eq!(columns("star_customers"), ["id", "name"]);
    assert_eq!(
        rows("star_customers"),
        [["1", "Ada"], ["2", "Grace"], ["3", "Linus"]]
    );
}

#[test]
fn a_union_of_relations_with_differing_columns_fills_nulls() {
    assert_eq!(columns("unioned_orders"), ["order_id", "amount", "channel"]);
    assert_eq!(
        rows("unioned_orders"),
        [["1", "10", "NULL"], ["2", "20", "NULL"], ["3", "30", "web"]]
    );
}

#[test]
fn a_pivot_takes_its_columns_from_run_query() {
    assert_eq!(
        columns("payments_pivoted"),
        ["order_id", "card_amount", "cash_amount", "wire_amount"]
    );
    assert_eq!(
        rows("payments_pivoted"),
        [
            ["1", "10", "0", "0"],
            ["2", "5", "0", "15"],
            ["3", "0", "30", "0"]
        ]
    );
}

#[test]
fn statement_results_load_with_data_and_table() {
    // data[0][0] is the count, table.columns[0].name its column, table.rows its rows.
    assert_eq!(rows("statement_counts"), [["3", "n", "1"]]);
}

#[test]
fn query_results_as_a_dict_and_the_target_database() {
    // `columns.items()` of run_query's table; `target.database` is the DuckDB
    // file's catalog, so a relation created with it reads.
    assert_eq!(rows("results_dict"), [["id,name", "Ada,Grace,Linus", "3"]]);
}

#[test]
fn generic_tests_read_the_warehouse_and_ephemeral_models() {
    let s = statuses(&built().join("target"));
    // Compiled once its parents are built; passes only with its macro's
    // `fail_calc` (each of orders_a's two columns gives a row).
    let id = s
        .keys()
        .find(|k| k.starts_with("test.introspection.has_columns_of_unioned_orders"))
        .unwrap_or_else(|| panic!("no has_columns_of test in {s:?}"))
        .clone();
    assert_eq!(s[&id], "pass", "{s:?}");
    // A test of an ephemeral model reads its CTE, also when that ephemeral model
    // queries the warehouse as it compiles (the test then compiles late with it).
    for t in [
        "not_null_eph_customers_id",
        "unique_eph_customers_id",
        "not_null_eph_customer_columns_id",
        "unique_eph_customer_columns_id",
    ] {
        let id = format!("test.introspection.{t}");
        let found = s.iter().find(|(k, _)| k.starts_with(&id)).map(|(_, v)| v);
        assert_eq!(found.map(String::as_str), Some("pass"), "{t}: {s:?}");
    }
}

#[test]
fn relations_are_looked_up_and_created() {
    assert_eq!(
        columns("relation_checks"),
        [
            "missing_is_none",
            "found_exists",
            "created_rendered",
            "created_identifier",
            "column_is_string",
            "customers_read"
        ]
    );
    assert_eq!(
        rows("relation_checks"),
        [[
            "true",
            "true",
            "\"main\".\"customers\"",
            "customers",
            "true",
            "3"
        ]]
    );
}

#[test]
fn the_manifest_says_which_nodes_compiled_late_and_why() {
    let m = read_json(&built().join("target/manifest.json"));
    let late = |id: &str| m["nodes"][id]["config"]["sluice_compile"].clone();
    for model in [
        "star_customers",
        "unioned_orders",
        "payments_pivoted",
        "statement_counts",
        "relation_checks",
    ] {
        let entry = late(&format!("model.introspection.{model}"));
        assert_eq!(entry["when"], "run", "{model}: {entry}");
        assert!(
            entry["because"].as_str().is_some_and(|b| !b.is_empty()),
            "{model}: {entry}"
        );
    }
    // `my_star` reads `execute` before it queries; the pivot's macro calls run_query.
    let star = late("model.introspection.star_customers");
    assert!(star["because"]
        .as_str()
        .unwrap_or_default()
        .contains("execute"));
    let pivot = late("model.introspection.payments_pivoted");
    assert!(pivot["because"]
        .as_str()
        .unwrap_or_default()
        .contains("run_query"));
    assert!(late("seed.introspection.customers").is_null());
    // The compiled SQL of a late node is in the manifest too.
    let sql = m["nodes"]["model.introspection.star_customers"]["compiled_code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(sql.contains("\"id\", \"name\""), "{sql}");
}

#[test]
fn unit_tests_of_an_introspective_model_compile_when_they_run() {
    built();
    let st = statuses(&built().join("target"));
    for test in ["answers_for_each_customer", "no_customers_no_answers"] {
        assert_eq!(
            st[&format!("unit_test.introspection.answer_per_customer.{test}")],
            "pass",
            "{test}"
        );
    }
    // The model itself read the warehouse too.
    assert_eq!(
        rows("answer_per_customer")
            .iter()
            .map(|r| r[..2].to_vec())
            .collect::<Vec<_>>(),
        [["1", "42"], ["2", "42"], ["3", "42"]]
    );
}

#[test]
fn a_failing_unit_test_of_an_introspective_model_fails_alone() {
    let dir = project_copy("introspection");
    let yml = dir.path().join("models/schema.yml");
    let text = std::fs::read_to_string(&yml).expect("schema.yml");
    std::fs::write(
        &yml,
        text.replace("- {id: 8, answer: 42", "- {id: 8, answer: 41"),
    )
    .expect("edit");
    let out = run_in(dir.path(), &["build"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let st = statuses(&dir.path().join("target"));
    assert_eq!(
        st["unit_test.introspection.answer_per_customer.answers_for_each_customer"],
        "fail"
    );
    assert_eq!(
        st["unit_test.introspection.answer_per_customer.no_customers_no_answers"],
        "pass"
    );
    // As in dbt, a model whose unit test fails is skipped; the rest builds.
    assert_eq!(st["model.introspection.answer_per_customer"], "skipped");
    assert_eq!(st["model.introspection.star_customers"], "success");
}

#[test]
fn at_parse_time_introspection_returns_nothing_and_execute_is_false() {
    // `sluice parse` never connects: run_query is none, the guards hold.
    let dir = project_copy("introspection");
    let out = run_in(dir.path(), &["parse"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.path().join("warehouse.duckdb").exists());
}

/// dbt-core on the same files writes the same rows.
#[test]
fn introspective_models_match_dbt_core() {
    let Some(dbt) = crate::dbt_compare::dbt_binary() else {
        return;
    };
    let dir = project_copy("introspection");
    std::fs::remove_file(dir.path().join("project.yml")).expect("remove project.yml");
    crate::common::copy_dir(&crate::common::fixture("introspection_dbt"), dir.path());
    let out = std::process::Command::new(dbt)
        .args(["build", "--profiles-dir", "."])
        .current_dir(dir.path())
        .output()
        .expect("dbt runs");
    assert!(out.status.success(), "dbt build:\n{}", stdout(&out));
    let db = dir.path().join("dbt.duckdb");
    for model in [
        "star_customers",
        "unioned_orders",
        "payments_pivoted",
        "statement_counts",
        "relation_checks",
        "results_dict",
    ] {
        let theirs = query(&db, &format!("select * from main.{model} order by all"));
        assert_eq!(rows(model), theirs, "{model}: sluice's rows vs dbt-core's");
    }
}

/// Issue 17, trap 6: a SQL error in one model, and a compile error in another,
/// are errors of those nodes; their descendants are skipped, the rest builds.
#[test]
fn one_broken_model_does_not_stop_the_others() {
    let dir = project_copy("introspection");
    let models = dir.path().join("models");
    std::fs::write(models.join("broken.sql"), "select 1 as x,, 2 as y\n").expect("write");
    std::fs::write(
        models.join("after_broken.sql"),
        "select * from {{ ref('broken') }}\n",
    )
    .expect("write");
    // Fails only when compiled to run (`execute` is true).
    std::fs::write(
        models.join("fails_at_compile.sql"),
        "{% if execute %}{{ exceptions.raise_compiler_error('this model cannot compile') }}{% endif %}\nselect 1 as x\n",
    )
    .expect("write");
    let out = run_in(dir.path(), &["build"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}\n{err}", stdout(&out));
    let s = statuses(&dir.path().join("target"));
    assert_eq!(s["model.introspection.broken"], "error");
    assert_eq!(s["model.introspection.after_broken"], "skipped");
    assert_eq!(s["model.introspection.fails_at_compile"], "error");
    assert_eq!(s["model.introspection.star_customers"], "success");
    assert_eq!(s["model.introspection.relation_checks"], "success");
    // The errors are located, and recorded in run_results.json.
    assert!(err.contains("models/broken.sql:1:"), "{err}");
    assert!(err.contains("this model cannot compile"), "{err}");
    let rr = read_json(&dir.path().join("target/run_results.json"));
    let broken = rr["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["unique_id"] == "model.introspection.broken")
        .expect("broken has a result")
        .clone();
    assert!(
        broken["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{broken}"
    );
    let db = dir.path().join("warehouse.duckdb");
    assert_eq!(
        query(&db, "select count(*) from main.star_customers"),
        [["3"]]
    );
}

/// The fixture on a warehouse stand-in: the same rows as on DuckDB.
fn builds_on(target: &str, fields: &str) {
    use crate::warehouses::{add_target, run, shown_rows};
    let dir = project_copy("introspection");
    add_target(dir.path(), target, fields);
    let out = run(dir.path(), &["build", "-t", target]);
    assert!(
        out.status.success(),
        "{target} build:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        shown_rows(dir.path(), target, "star_customers"),
        [["1", "Ada"], ["2", "Grace"], ["3", "Linus"]]
    );
    let unioned = shown_rows(dir.path(), target, "unioned_orders");
    assert_eq!(unioned.len(), 3, "{unioned:?}");
    assert_eq!(unioned[2][2], "web", "{unioned:?}");
    let pivoted = shown_rows(dir.path(), target, "payments_pivoted");
    assert_eq!(pivoted.len(), 3, "{pivoted:?}");
    assert_eq!(pivoted[0].len(), 4, "{pivoted:?}");
    let counts = shown_rows(dir.path(), target, "statement_counts");
    assert_eq!(counts[0][0], "3", "{counts:?}");
    let checks = shown_rows(dir.path(), target, "relation_checks");
    assert_eq!(checks[0][0].to_lowercase(), "true", "{checks:?}");
    assert_eq!(checks[0][1].to_lowercase(), "true", "{checks:?}");
    assert_eq!(checks[0][5], "3", "{checks:?}");
}

#[test]
fn introspective_models_build_on_snowflake() {
    let Some(url) = crate::warehouses::fakesnow() else {
        return;
    };
    builds_on("fake", &crate::warehouses::snowflake_target(&url, "INTRO"));
}

#[test]
fn introspective_models_build_on_bigquery() {
    let Some((url, project)) = crate::warehouses::bqemulator() else {
        return;
    };
    builds_on(
        "fake",
        &crate::warehouses::bigquery_target(&url, &project, "intro"),
    );
}
