//! Incremental models, run for real on DuckDB: each strategy over growing seeds
//! ends equal to the same model built as a table; schema changes follow
//! `on_schema_change`; a failing batch leaves the table as it was.

use std::path::Path;

use crate::common::{query, run_in, stderr, stdout};

const PROJECT: &str = "name: inc\nversion: \"1.0\"\ntarget-path: target\ntarget: dev\ntargets:\n  dev: {type: duckdb, path: target/inc.duckdb, schema: main}\n";

/// A project with one seed (`events`) and the given models.
fn project(models: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("project.yml"), PROJECT).expect("project.yml");
    std::fs::create_dir_all(dir.path().join("models")).expect("models dir");
    std::fs::create_dir_all(dir.path().join("seeds")).expect("seeds dir");
    for (name, sql) in models {
        write_model(dir.path(), name, sql);
    }
    dir
}

fn write_model(dir: &Path, name: &str, sql: &str) {
    std::fs::write(dir.join("models").join(format!("{name}.sql")), sql).expect("model");
}

fn write_seed(dir: &Path, rows: &[&str]) {
    let mut text = String::from("id,updated_at,amount\n");
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    std::fs::write(dir.join("seeds/events.csv"), text).expect("seed");
}

fn build(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["build"];
    args.extend_from_slice(extra);
    run_in(dir, &args)
}

fn assert_ok(out: &std::process::Output) {
    assert!(out.status.success(), "{}\n{}", stdout(out), stderr(out));
}

fn rows(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    query(&dir.join("target/inc.duckdb"), sql)
}

fn columns(dir: &Path, table: &str) -> Vec<String> {
    rows(
        dir,
        &format!(
            "select column_name || ' ' || data_type from information_schema.columns \
             where table_name = '{table}' order by ordinal_position"
        ),
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect()
}

/// The seed over three runs: new rows each time, and for the keyed strategies
/// late-arriving updates of earlier ids.
const BATCHES: [&[&str]; 3] = [
    &["1,2024-01-01,10", "2,2024-01-02,20"],
    &["3,2024-01-03,30", "1,2024-01-04,15"],
    &["4,2024-01-05,40", "2,2024-01-06,25", "3,2024-01-06,35"],
];

#[test]
fn each_strategy_over_three_growing_batches_equals_the_table_build() {
    // The table twin keeps each id's latest row: what an upsert stream converges to.
    // For append every row is a new event, so the twin keeps them all.
    let cases = [
        (
            "append",
            "",
            "select id, updated_at, amount from {{ ref('events') }}",
        ),
        (
            "merge",
            "unique_key='id', incremental_strategy='merge'",
            "select id, updated_at, amount from {{ ref('events') }} \
             qualify row_number() over (partition by id order by updated_at desc) = 1",
        ),
        (
            "delete+insert",
            "unique_key='id', incremental_strategy='delete+insert'",
            "select id, updated_at, amount from {{ ref('events') }} \
             qualify row_number() over (partition by id order by updated_at desc) = 1",
        ),
    ];
    for (strategy, keys, twin) in cases {
        let incremental = format!(
            "{{{{ config(materialized='incremental'{}{keys}) }}}}\n\
             select * from ({twin}) as batch\n\
             {{% if is_incremental() %}}\n\
             where updated_at > (select max(updated_at) from {{{{ this }}}})\n\
             {{% endif %}}\n",
            if keys.is_empty() { "" } else { ", " }
        );
        let table = format!("{{{{ config(materialized='table') }}}}\n{twin}\n");
        let p = project(&[("incr", &incremental), ("twin", &table)]);
        let mut seen = Vec::new();
        for (run, batch) in BATCHES.iter().enumerate() {
            seen.extend_from_slice(batch);
            write_seed(p.path(), &seen);
            let out = build(p.path(), &[]);
            assert_ok(&out);
            let log = std::fs::read_to_string(p.path().join("target/run/inc/models/incr.sql"))
                .expect("run file");
            // The first run builds the table; later runs write a batch into it.
            assert_eq!(
                log.contains("__sluice_batch"),
                run > 0,
                "{strategy} run {run}"
            );
            let diff = rows(
                p.path(),
                "select count(*) from ((select * from incr except all select * from twin) \
                 union all (select * from twin except all select * from incr))",
            );
            assert_eq!(
                diff,
                [["0"]],
                "{strategy}: run {run} differs from the table"
            );
        }
        let n = rows(p.path(), "select count(*) from incr");
        let expected = if strategy == "append" { "7" } else { "4" };
        assert_eq!(n, [[expected]], "{strategy}");
    }
}

#[test]
fn merge_applies_late_updates_and_keeps_untouched_rows() {
    let model = "{{ config(materialized='incremental', unique_key='id') }}\n\
                 select id, updated_at, amount from {{ ref('events') }}\n\
                 {% if is_incremental() %}where updated_at > (select max(updated_at) from {{ this }}){% endif %}\n";
    let p = project(&[("incr", model)]);
    write_seed(p.path(), &["1,2024-01-01,10", "2,2024-01-02,20"]);
    assert_ok(&build(p.path(), &[]));
    // id 1 arrives late with a new amount; id 2 is untouched; id 3 is new.
    write_seed(
        p.path(),
        &[
            "1,2024-01-01,10",
            "2,2024-01-02,20",
            "1,2024-01-05,99",
            "3,2024-01-05,30",
        ],
    );
    assert_ok(&build(p.path(), &[]));
    assert_eq!(
        rows(p.path(), "select id, amount from incr order by id"),
        [["1", "99"], ["2", "20"], ["3", "30"]]
    );
}

#[test]
fn merge_refuses_a_batch_with_a_repeated_key_and_changes_nothing() {
    let model = "{{ config(materialized='incremental', unique_key='id') }}\n\
                 select id, updated_at, amount from {{ ref('events') }}\n\
                 {% if is_incremental() %}where updated_at > (select max(updated_at) from {{ this }}){% endif %}\n";
    let p = project(&[("incr", model)]);
    write_seed(p.path(), &["1,2024-01-01,10"]);
    assert_ok(&build(p.path(), &[]));
    write_seed(
        p.path(),
        &["1,2024-01-01,10", "2,2024-01-02,20", "2,2024-01-03,21"],
    );
    let out = build(p.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("more than one row has unique_key (id) = (2)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(rows(p.path(), "select id, amount from incr"), [["1", "10"]]);
}

#[test]
fn a_batch_that_fails_half_way_leaves_the_table_as_it_was() {
    // The pre-hook deletes a row, then the batch's cast fails on its last row:
    // the delete is rolled back with everything else.
    let model = "{{ config(materialized='incremental', unique_key='id', pre_hook=\"{% if is_incremental() %}delete from {{ this }} where id = 2{% else %}select 1{% endif %}\") }}\n\
                 select id, updated_at, cast(amount as integer) as amount from {{ ref('events') }}\n\
                 {% if is_incremental() %}where updated_at > (select max(updated_at) from {{ this }}){% endif %}\n";
    let p = project(&[("incr", model)]);
    std::fs::write(
        p.path().join("seeds/_seeds.yml"),
        "version: 2\nseeds:\n  - name: events\n    config:\n      column_types: {amount: varchar}\n",
    )
    .expect("yml");
    write_seed(p.path(), &["1,2024-01-01,10", "2,2024-01-02,20"]);
    assert_ok(&build(p.path(), &[]));
    let before = rows(p.path(), "select * from incr order by id");
    assert_eq!(before.len(), 2);
    write_seed(
        p.path(),
        &[
            "1,2024-01-01,10",
            "2,2024-01-02,20",
            "1,2024-01-03,11",
            "3,2024-01-04,oops",
        ],
    );
    let out = build(p.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("oops"), "{}", stderr(&out));
    assert_eq!(rows(p.path(), "select * from incr order by id"), before);
    assert_eq!(
        rows(
            p.path(),
            "select count(*) from information_schema.tables where table_name like '%sluice_batch%'"
        ),
        [["0"]],
        "the scratch table is rolled back too"
    );
}

/// Build once with `first`, then run again with `second` under `mode`.
fn schema_change(
    mode: &str,
    first: &str,
    second: &str,
) -> (tempfile::TempDir, std::process::Output) {
    let config = format!(
        "{{{{ config(materialized='incremental', unique_key='id', on_schema_change='{mode}') }}}}\n"
    );
    let p = project(&[("incr", &format!("{config}{first}"))]);
    write_seed(p.path(), &["1,2024-01-01,10"]);
    assert_ok(&build(p.path(), &[]));
    write_seed(p.path(), &["1,2024-01-01,10", "2,2024-01-02,20"]);
    write_model(p.path(), "incr", &format!("{config}{second}"));
    let out = build(p.path(), &[]);
    (p, out)
}

const BEFORE: &str = "select id, updated_at, amount, 'x' as old_col from {{ ref('events') }}\n\
    {% if is_incremental() %}where updated_at > (select max(updated_at) from {{ this }}){% endif %}\n";
const AFTER: &str = "select id, updated_at, cast(amount as double) as amount, 'n' as new_col from {{ ref('events') }}\n\
    {% if is_incremental() %}where updated_at > (select max(updated_at) from {{ this }}){% endif %}\n";

#[test]
fn on_schema_change_fail_stops_and_names_the_changes() {
    let (p, out) = schema_change("fail", BEFORE, AFTER);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("new: `new_col`; removed: `old_col`; `amount` INTEGER → DOUBLE"),
        "{err}"
    );
    assert!(err.contains("--full-refresh"), "{err}");
    assert_eq!(rows(p.path(), "select count(*) from incr"), [["1"]]);
}

#[test]
fn on_schema_change_ignore_keeps_the_table_columns() {
    // A new column is left out; a removed one is an error (the table needs it).
    let added = BEFORE.replace("'x' as old_col", "'x' as old_col, 'n' as new_col");
    let (p, out) = schema_change("ignore", BEFORE, &added);
    assert_ok(&out);
    assert_eq!(
        columns(p.path(), "incr"),
        [
            "id INTEGER",
            "updated_at DATE",
            "amount INTEGER",
            "old_col VARCHAR"
        ]
    );
    assert_eq!(rows(p.path(), "select count(*) from incr"), [["2"]]);

    let (p, out) = schema_change("ignore", BEFORE, AFTER);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no longer returns `old_col`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(rows(p.path(), "select count(*) from incr"), [["1"]]);
}

#[test]
fn on_schema_change_append_new_columns_adds_and_keeps() {
    let (p, out) = schema_change("append_new_columns", BEFORE, AFTER);
    assert_ok(&out);
    assert_eq!(
        columns(p.path(), "incr"),
        [
            "id INTEGER",
            "updated_at DATE",
            "amount INTEGER",
            "old_col VARCHAR",
            "new_col VARCHAR"
        ]
    );
    assert_eq!(
        rows(
            p.path(),
            "select id, old_col, new_col from incr order by id"
        ),
        [["1", "x", "NULL"], ["2", "NULL", "n"]]
    );
}

#[test]
fn on_schema_change_sync_all_columns_adds_drops_and_retypes() {
    let (p, out) = schema_change("sync_all_columns", BEFORE, AFTER);
    assert_ok(&out);
    assert_eq!(
        columns(p.path(), "incr"),
        [
            "id INTEGER",
            "updated_at DATE",
            "amount DOUBLE",
            "new_col VARCHAR"
        ]
    );
    assert_eq!(
        rows(p.path(), "select id, amount, new_col from incr order by id"),
        [["1", "10.0", "NULL"], ["2", "20.0", "n"]]
    );
}

#[test]
fn full_refresh_rebuilds_unless_the_model_opts_out() {
    let body = "select id, updated_at, amount from {{ ref('events') }}\n\
                {% if is_incremental() %}where updated_at > (select max(updated_at) from {{ this }}){% endif %}\n";
    let p = project(&[
        (
            "rebuilt",
            &format!("{{{{ config(materialized='incremental') }}}}\n{body}"),
        ),
        (
            "kept",
            &format!("{{{{ config(materialized='incremental', full_refresh=false) }}}}\n{body}"),
        ),
    ]);
    write_seed(p.path(), &["1,2024-01-01,10"]);
    assert_ok(&build(p.path(), &[]));
    // Rows that the incremental filter skips (older than the max) show whether the
    // model was rebuilt from the whole seed.
    write_seed(p.path(), &["1,2024-01-01,10", "0,2023-12-31,5"]);
    assert_ok(&build(p.path(), &["--full-refresh"]));
    assert_eq!(rows(p.path(), "select count(*) from rebuilt"), [["2"]]);
    assert_eq!(rows(p.path(), "select count(*) from kept"), [["1"]]);
}
