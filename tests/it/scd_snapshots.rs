//! Snapshots (SCD type 2), run for real on DuckDB over seeds that change between
//! runs: each strategy and each `hard_deletes` mode gives the history worked out by
//! hand in the test.

use std::path::Path;

use crate::common::{query, run_in, stderr, stdout};

const PROJECT: &str = "name: snap\nversion: \"1.0\"\ntarget-path: target\ntarget: dev\ntargets:\n  dev: {type: duckdb, path: target/snap.duckdb, schema: main}\n";

fn project(snapshot_config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = dir.path();
    std::fs::write(p.join("project.yml"), PROJECT).expect("project.yml");
    for d in ["seeds", "snapshots", "models"] {
        std::fs::create_dir_all(p.join(d)).expect("dir");
    }
    std::fs::write(
        p.join("snapshots/orders_history.sql"),
        format!(
            "{{% snapshot orders_history %}}\n{{{{ config({snapshot_config}) }}}}\nselect * from {{{{ ref('orders') }}}}\n{{% endsnapshot %}}\n"
        ),
    )
    .expect("snapshot");
    dir
}

fn seed(dir: &Path, rows: &[&str]) {
    let mut text = String::from("id,status,amount,updated_at\n");
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    std::fs::write(dir.join("seeds/orders.csv"), text).expect("seed");
}

fn build_ok(dir: &Path) {
    let out = run_in(dir, &["build"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}

/// id, status, valid_from, valid_to (NULL while current), ordered.
fn history(dir: &Path, extra: &str) -> Vec<Vec<String>> {
    query(
        &dir.join("target/snap.duckdb"),
        &format!(
            "select id, status, cast(dbt_valid_from as date), cast(dbt_valid_to as date){extra} \
             from orders_history order by id, dbt_valid_from"
        ),
    )
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

const TIMESTAMP: &str = "unique_key='id', strategy='timestamp', updated_at='updated_at'";

#[test]
fn timestamp_strategy_keeps_every_version_and_ignores_deletes_by_default() {
    let p = project(TIMESTAMP);
    seed(p.path(), &["1,open,10,2024-01-01", "2,open,20,2024-01-01"]);
    build_ok(p.path());
    // 1 changes on the 5th; 2 leaves the source; 3 is new.
    seed(
        p.path(),
        &["1,shipped,10,2024-01-05", "3,open,30,2024-01-06"],
    );
    build_ok(p.path());
    // Re-running with no change adds nothing.
    build_ok(p.path());
    assert_eq!(
        history(p.path(), ""),
        [
            row(&["1", "open", "2024-01-01", "2024-01-05"]),
            row(&["1", "shipped", "2024-01-05", "NULL"]),
            row(&["2", "open", "2024-01-01", "NULL"]),
            row(&["3", "open", "2024-01-06", "NULL"]),
        ]
    );
    // dbt_scd_id is unique; dbt_updated_at is the version's updated_at.
    let ids = query(
        &p.path().join("target/snap.duckdb"),
        "select count(distinct dbt_scd_id), count(*), count(*) filter (where dbt_updated_at = dbt_valid_from) from orders_history",
    );
    assert_eq!(ids, [row(&["4", "4", "4"])]);
}

#[test]
fn hard_deletes_invalidate_closes_the_deleted_key_at_snapshot_time() {
    let p = project(&format!("{TIMESTAMP}, invalidate_hard_deletes=true"));
    seed(p.path(), &["1,open,10,2024-01-01", "2,open,20,2024-01-01"]);
    build_ok(p.path());
    seed(p.path(), &["1,open,10,2024-01-01"]);
    let before = chrono::Utc::now().date_naive().to_string();
    build_ok(p.path());
    let h = history(p.path(), "");
    assert_eq!(h[0], row(&["1", "open", "2024-01-01", "NULL"]));
    assert_eq!(h[1][..3], row(&["2", "open", "2024-01-01"])[..]);
    assert!(h[1][3] >= before, "closed at the snapshot time: {h:?}");
}

#[test]
fn hard_deletes_new_record_marks_the_deletion_and_reopens_on_return() {
    let p = project(&format!("{TIMESTAMP}, hard_deletes='new_record'"));
    seed(p.path(), &["1,open,10,2024-01-01", "2,open,20,2024-01-01"]);
    build_ok(p.path());
    seed(p.path(), &["1,open,10,2024-01-01"]);
    build_ok(p.path());
    seed(p.path(), &["1,open,10,2024-01-01", "2,back,25,2024-01-09"]);
    build_ok(p.path());
    let h = history(p.path(), ", dbt_is_deleted");
    let id2: Vec<(&str, &str, bool)> = h
        .iter()
        .filter(|r| r[0] == "2")
        .map(|r| (r[1].as_str(), r[4].as_str(), r[3] == "NULL"))
        .collect();
    // The original closes, a deleted version records the delete, and the
    // returning row is the one current version.
    // Ordered by valid_from: the original (closed), the returning row (current),
    // and the deleted version opened at the snapshot time (closed on return).
    assert_eq!(
        id2,
        [
            ("open", "False", false),
            ("back", "False", true),
            ("open", "True", false)
        ]
    );
}

#[test]
fn check_strategy_opens_a_version_only_when_a_checked_column_changes() {
    let p = project("unique_key='id', strategy='check', check_cols=['status']");
    seed(p.path(), &["1,open,10,2024-01-01", "2,open,20,2024-01-01"]);
    build_ok(p.path());
    // 1's amount changes (not checked): no version. 2's status changes: a version.
    seed(
        p.path(),
        &["1,open,99,2024-01-02", "2,shipped,20,2024-01-02"],
    );
    build_ok(p.path());
    let h = query(
        &p.path().join("target/snap.duckdb"),
        "select id, status, amount, dbt_valid_to is null from orders_history order by id, dbt_valid_from",
    );
    assert_eq!(
        h,
        [
            row(&["1", "open", "10", "true"]),
            row(&["2", "open", "20", "false"]),
            row(&["2", "shipped", "20", "true"]),
        ]
    );
    // Versions open and close at the snapshot time, one instant per run.
    let times = query(
        &p.path().join("target/snap.duckdb"),
        "select count(distinct dbt_valid_from), \
                count(*) filter (where dbt_valid_to = (select max(dbt_valid_from) from orders_history)) \
         from orders_history",
    );
    assert_eq!(times, [row(&["2", "1"])]);
}

#[test]
fn a_repeated_key_in_the_source_fails_and_leaves_the_history_alone() {
    let p = project(TIMESTAMP);
    seed(p.path(), &["1,open,10,2024-01-01"]);
    build_ok(p.path());
    seed(
        p.path(),
        &["1,open,10,2024-01-01", "1,shipped,10,2024-01-02"],
    );
    let out = run_in(p.path(), &["build"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("more than one row has unique_key (id) = (1)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        history(p.path(), ""),
        [row(&["1", "open", "2024-01-01", "NULL"])]
    );
}

#[test]
fn yaml_snapshots_models_reading_them_and_their_tests_run_in_dag_order() {
    let p = project(TIMESTAMP);
    std::fs::remove_file(p.path().join("snapshots/orders_history.sql")).expect("rm");
    std::fs::write(
        p.path().join("snapshots/_snapshots.yml"),
        "version: 2\nsnapshots:\n  - name: orders_history\n    relation: ref('orders')\n    config: {unique_key: id, strategy: timestamp, updated_at: updated_at}\n    columns:\n      - name: dbt_scd_id\n        data_tests: [unique, not_null]\n",
    )
    .expect("yml");
    std::fs::write(
        p.path().join("models/current_orders.sql"),
        "select id, status from {{ ref('orders_history') }} where dbt_valid_to is null",
    )
    .expect("model");
    seed(p.path(), &["1,open,10,2024-01-01"]);
    build_ok(p.path());
    seed(p.path(), &["1,shipped,10,2024-01-02"]);
    let out = run_in(p.path(), &["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stdout(&out);
    let pos = |needle: &str| {
        log.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing from\n{log}"))
    };
    assert!(pos("snapshotted main.orders_history") < pos("model main.current_orders"));
    assert!(log.contains("unique_orders_history_dbt_scd_id"), "{log}");
    assert_eq!(
        query(
            &p.path().join("target/snap.duckdb"),
            "select * from current_orders"
        ),
        [row(&["1", "shipped"])]
    );
    // `sluice snapshot` runs snapshots only.
    let out = run_in(p.path(), &["snapshot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Running 1 nodes"), "{}", stdout(&out));
}
