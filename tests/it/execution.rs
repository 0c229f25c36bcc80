//! Running on DuckDB: materializations, ephemeral CTEs, tests, selection, atomic
//! replace, parallelism, failure handling.

use std::path::Path;

use crate::common::{project_copy, query, read_json, run_in, statuses, stderr, stdout};

fn db(dir: &Path) -> std::path::PathBuf {
    dir.join("target/exec.duckdb")
}

#[test]
fn build_computes_the_hand_checked_values() {
    let p = project_copy("exec");
    let out = run_in(p.path(), &["build"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    // By hand: Ada paid 100.50 + 20.00 over 2 orders; Grace only has a refund;
    // Linus paid 300.00 once (his pending order has no amount).
    let rows = query(&db(p.path()), "select name, revenue, orders, avg_order_value from main.customer_revenue order by customer_id");
    assert_eq!(rows[0], vec!["Ada", "120.50", "2", "60.25"]);
    assert_eq!(rows[1], vec!["Grace", "0.00", "0", "NULL"]);
    assert_eq!(rows[2], vec!["Linus", "300.00", "1", "300.0"]);
    let seg = query(
        &db(p.path()),
        "select segment, revenue from main.segment_revenue order by segment",
    );
    assert_eq!(seg, vec![vec!["Enterprise", "0.00"], vec!["SMB", "420.50"]]);
    // Seeds land in `<target schema>_raw`, as dbt's generate_schema_name does.
    let types = query(&db(p.path()), "select data_type from information_schema.columns where table_schema = 'main_raw' and table_name = 'raw_orders' and column_name in ('amount', 'ordered_at') order by column_name");
    assert_eq!(types, vec![vec!["DECIMAL(10,2)"], vec!["DATE"]]);
    // The ephemeral model is inlined, never created.
    let eph = query(
        &db(p.path()),
        "select count(*) from information_schema.tables where table_name = 'int_paid_orders'",
    );
    assert_eq!(eph, vec![vec!["0"]]);
    let compiled = std::fs::read_to_string(
        p.path()
            .join("target/compiled/exec/models/marts/customer_revenue.sql"),
    )
    .expect("compiled file");
    assert!(
        compiled.starts_with("with __dbt__cte__int_paid_orders as ("),
        "{compiled}"
    );
}

#[test]
fn select_plus_parents_builds_only_the_lineage() {
    let p = project_copy("exec");
    let out = run_in(p.path(), &["build", "-s", "+stg_orders"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let ran: Vec<String> = statuses(&p.path().join("target")).into_keys().collect();
    let models: Vec<&String> = ran.iter().filter(|k| !k.starts_with("test.")).collect();
    assert_eq!(models, ["model.exec.stg_orders", "seed.exec.raw_orders"]);
    // Tests on stg_orders run too; none on other models.
    assert!(ran
        .iter()
        .any(|k| k.starts_with("test.exec.unique_stg_orders_order_id.")));
    assert!(!ran.iter().any(|k| k.contains("customer_revenue")));
}

#[test]
fn a_failing_rebuild_keeps_the_previous_rows() {
    let p = project_copy("exec");
    assert!(run_in(p.path(), &["build"]).status.success());
    let before = query(&db(p.path()), "select count(*) from main.customer_revenue");
    // Valid SQL that fails at run time: the cast errors inside DuckDB.
    std::fs::write(
        p.path().join("models/marts/customer_revenue.sql"),
        "select cast('not a number' as integer) as customer_id\n",
    )
    .expect("edit model");
    let out = run_in(p.path(), &["run", "-s", "customer_revenue+"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("model `customer_revenue` failed in the warehouse"),
        "{err}"
    );
    assert!(
        err.contains("target/compiled/exec/models/marts/customer_revenue.sql"),
        "{err}"
    );
    let after = query(&db(p.path()), "select count(*) from main.customer_revenue");
    assert_eq!(before, after);
    assert_eq!(after, vec![vec!["3"]]);
    let st = statuses(&p.path().join("target"));
    assert_eq!(st["model.exec.customer_revenue"], "error");
    assert_eq!(st["model.exec.segment_revenue"], "skipped");
}

#[test]
fn failing_test_skips_descendants_in_build() {
    let p = project_copy("exec");
    // A refund-only customer makes `revenue > 0` fail for Grace.
    std::fs::write(
        p.path().join("checks/assert_revenue_not_negative.sql"),
        "select * from {{ ref('stg_orders') }} where status = 'refunded'\n",
    )
    .expect("edit test");
    let out = run_in(p.path(), &["build"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let st = statuses(&p.path().join("target"));
    assert_eq!(st["test.exec.assert_revenue_not_negative"], "fail");
    assert_eq!(st["model.exec.customer_revenue"], "skipped");
    assert_eq!(st["model.exec.segment_revenue"], "skipped");
    assert_eq!(st["model.exec.stg_customers"], "success");
    let rr = read_json(&p.path().join("target/run_results.json"));
    let failing = rr["results"]
        .as_array()
        .expect("list")
        .iter()
        .find(|r| r["unique_id"] == "test.exec.assert_revenue_not_negative")
        .expect("result");
    assert_eq!(failing["failures"], 1);
}

#[test]
fn severity_warn_reports_without_failing() {
    let p = project_copy("exec");
    std::fs::write(
        p.path().join("models/_extra.yml"),
        "version: 2\nmodels:\n  - name: stg_customers\n    columns:\n      - name: segment\n        data_tests:\n          - accepted_values:\n              values: [SMB]\n              config: {severity: warn}\n",
    )
    .expect("write yml");
    let out = run_in(p.path(), &["build"]);
    assert!(out.status.success(), "{}", stdout(&out));
    let st = statuses(&p.path().join("target"));
    let warn: Vec<_> = st
        .iter()
        .filter(|(k, _)| k.contains("accepted_values_stg_customers_segment"))
        .collect();
    assert_eq!(warn.len(), 1);
    assert_eq!(warn[0].1, "warn");
    assert!(stdout(&out).contains("WARN=1"));
}

#[test]
fn threads_overlap_independent_nodes() {
    let p = project_copy("exec");
    for name in ["slow_a", "slow_b"] {
        std::fs::write(
            p.path().join(format!("models/marts/{name}.sql")),
            "select count(*) as n from range(0, 60000000) t(x) where x % 7 = 3\n",
        )
        .expect("write model");
    }
    let out = run_in(
        p.path(),
        &["run", "-s", "slow_a", "slow_b", "--threads", "4"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rr = read_json(&p.path().join("target/run_results.json"));
    let spans: Vec<(String, String)> = rr["results"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| {
            let t = &r["timing"][1];
            (
                t["started_at"].as_str().unwrap_or_default().to_owned(),
                t["completed_at"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(spans.len(), 2);
    // ISO timestamps in one format compare as strings: each started before the other ended.
    assert!(
        spans[0].0 < spans[1].1 && spans[1].0 < spans[0].1,
        "no overlap: {spans:?}"
    );
    let threads: std::collections::HashSet<&str> = rr["results"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["thread_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(threads.len(), 2);
}

#[test]
fn ls_selects_with_graph_operators_and_methods() {
    let p = project_copy("exec");
    let ls = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["ls", "--output", "name"];
        full.extend_from_slice(args);
        let out = run_in(p.path(), &full);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).lines().map(str::to_owned).collect()
    };
    assert_eq!(
        ls(&["-s", "tag:mart", "--resource-type", "model"]),
        ["customer_revenue", "segment_revenue"]
    );
    assert_eq!(
        ls(&["-s", "customer_revenue+", "--resource-type", "model"]),
        ["customer_revenue", "segment_revenue"]
    );
    assert_eq!(
        ls(&["-s", "1+customer_revenue", "--resource-type", "model"]),
        ["customer_revenue", "int_paid_orders", "stg_customers"]
    );
    assert_eq!(
        ls(&["-s", "resource_type:seed"]),
        ["raw_customers", "raw_orders"]
    );
    assert_eq!(
        ls(&[
            "-s",
            "path:models/staging,config.materialized:view",
            "--resource-type",
            "model"
        ]),
        ["stg_customers", "stg_orders"]
    );
    assert_eq!(
        ls(&[
            "-s",
            "stg_*",
            "--exclude",
            "stg_customers",
            "--resource-type",
            "model"
        ]),
        ["stg_orders"]
    );
    let at = ls(&["-s", "@stg_customers", "--resource-type", "model"]);
    assert!(
        at.contains(&"stg_orders".to_owned()),
        "@ includes the parents of descendants: {at:?}"
    );
}

#[test]
fn show_previews_rows() {
    let p = project_copy("exec");
    assert!(run_in(p.path(), &["seed"]).status.success());
    let out = run_in(p.path(), &["show", "-s", "stg_orders", "--limit", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.lines().next().unwrap_or_default().contains("order_id"));
}

#[test]
fn sources_and_custom_generic_tests_run() {
    let p = project_copy("exec");
    // Sources are loaded by someone else: here, by seeding first.
    assert!(run_in(p.path(), &["seed"]).status.success());
    std::fs::write(p.path().join("models/_sources.yml"), SOURCES).expect("write sources");
    std::fs::write(
        p.path().join("models/staging/src_customers.sql"),
        "select id, upper(segment) as segment from {{ source('crm', 'customers') }}\n",
    )
    .expect("write model");
    let out = run_in(p.path(), &["build"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let st = statuses(&p.path().join("target"));
    let find = |prefix: &str| -> Vec<&String> {
        st.iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .collect()
    };
    assert_eq!(
        find("test.exec.source_not_null_crm_customers_id."),
        ["pass"]
    );
    assert_eq!(
        find("test.exec.is_positive_customer_revenue_revenue."),
        ["pass"]
    );
    assert_eq!(
        find("test.exec.is_positive_customer_revenue_False__revenue."),
        ["pass"]
    );
    let rows = query(
        &db(p.path()),
        "select segment from main.src_customers order by id",
    );
    assert_eq!(rows, vec![vec!["SMB"], vec!["ENTERPRISE"], vec!["SMB"]]);
    let manifest = read_json(&p.path().join("target/manifest.json"));
    assert_eq!(
        manifest["nodes"]["model.exec.src_customers"]["depends_on"]["nodes"],
        serde_json::json!(["source.exec.crm.customers"])
    );
    // As dbt-duckdb writes it: with the file's catalog.
    assert_eq!(
        manifest["sources"]["source.exec.crm.customers"]["relation_name"],
        "\"exec\".\"main_raw\".\"raw_customers\""
    );
}

const SOURCES: &str = "version: 2
sources:
  - name: crm
    description: The CRM export (a seed, in this fixture).
    schema: main_raw
    tables:
      - name: customers
        identifier: raw_customers
        columns:
          - name: id
            data_tests: [not_null, unique]
";

#[test]
fn fail_fast_stops_unrelated_branches() {
    let p = project_copy("exec");
    assert!(run_in(p.path(), &["seed"]).status.success());
    std::fs::write(
        p.path().join("models/staging/a_broken.sql"),
        "{{ config(materialized='table') }}\nselect cast('x' as integer) as id\n",
    )
    .expect("break a model");
    // One thread runs ready nodes in name order: a_broken first.
    let out = run_in(p.path(), &["run", "--fail-fast", "--threads", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let rr = read_json(&p.path().join("target/run_results.json"));
    let results = rr["results"].as_array().expect("list");
    let status = |id: &str| -> (String, String) {
        let r = results
            .iter()
            .find(|r| r["unique_id"] == id)
            .expect("a result per node");
        (
            r["status"].as_str().unwrap_or_default().to_owned(),
            r["message"].as_str().unwrap_or_default().to_owned(),
        )
    };
    assert_eq!(status("model.exec.a_broken").0, "error");
    // stg_orders does not depend on the failure: only --fail-fast skips it.
    let (s, message) = status("model.exec.stg_orders");
    assert_eq!(s, "skipped");
    assert!(message.contains("--fail-fast"), "{message}");
}

#[test]
fn project_macro_overrides_generate_schema_name() {
    let p = project_copy("exec");
    std::fs::write(
        p.path().join("macros/generate_schema_name.sql"),
        "{% macro generate_schema_name(custom_schema_name, node) %}{{ custom_schema_name or target.schema }}{% endmacro %}\n",
    )
    .expect("write macro");
    let out = run_in(p.path(), &["build"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let schemas = query(
        &db(p.path()),
        "select distinct table_schema from information_schema.tables where table_name like 'raw_%'",
    );
    assert_eq!(schemas, vec![vec!["raw"]]);
}

#[test]
fn json_logs_have_one_event_per_node() {
    let p = project_copy("exec");
    let out = run_in(p.path(), &["seed", "--log-format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect();
    let finished: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["info"]["name"] == "LogSeedResult")
        .collect();
    assert_eq!(finished.len(), 2);
    assert!(finished
        .iter()
        .all(|e| e["data"]["node_info"]["node_status"] == "success"));
}

#[test]
fn hooks_run_in_the_models_transaction() {
    let p = project_copy("exec");
    std::fs::write(
        p.path().join("models/marts/audited.sql"),
        "{{ config(materialized='table', post_hook=\"insert into main.audit_log select '{{ this.identifier }}', count(*) from {{ this }}\") }}\n\
         select * from {{ ref('stg_customers') }}\n",
    )
    .expect("write model");
    std::fs::write(
        p.path().join("project.yml"),
        std::fs::read_to_string(p.path().join("project.yml")).expect("read project.yml").replace(
            "      +tags: [mart]\n",
            "      +tags: [mart]\n      +pre-hook: \"create table if not exists main.audit_log (model varchar, row_count bigint)\"\n",
        ),
    )
    .expect("write project.yml");
    let out = run_in(p.path(), &["build", "-s", "+audited"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let log = query(&db(p.path()), "select model, row_count from main.audit_log");
    assert_eq!(log, vec![vec!["audited", "3"]]);
}

/// A hook is the user's SQL: a relation it creates must be seen by the models
/// that run after it (sluice lists each schema once per run and keeps that list
/// current, so a hook has to make it look again).
#[test]
fn a_relation_created_by_a_hook_is_replaced_by_the_model_of_that_name() {
    let p = project_copy("exec");
    std::fs::write(
        p.path().join("models/staging/first.sql"),
        "{{ config(post_hook=\"create view main.second as select 0 as n\") }}\n\
         select 1 as x\n",
    )
    .expect("write model");
    std::fs::write(
        p.path().join("models/staging/second.sql"),
        "{{ config(materialized='table') }}\nselect count(*) as n from {{ ref('first') }}\n",
    )
    .expect("write model");
    let second = || {
        query(
            &db(p.path()),
            "select table_type, (select n from main.second) from information_schema.tables \
             where table_schema = 'main' and table_name = 'second'",
        )
    };
    let out = run_in(
        p.path(),
        &["run", "-s", "first", "second", "--threads", "1"],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(second(), vec![vec!["BASE TABLE", "1"]]);
    // The next run finds `second` a table and rebuilds it as a view.
    std::fs::write(
        p.path().join("models/staging/second.sql"),
        "{{ config(materialized='view') }}\nselect 2 as n\n",
    )
    .expect("write model");
    let out = run_in(p.path(), &["run", "-s", "second"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(second(), vec![vec!["VIEW", "2"]]);
}
