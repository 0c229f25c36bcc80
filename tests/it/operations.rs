//! Operations (issue 16, item 5) on the `operations` fixture (dbt layout, with a
//! package `ops_pkg` in dbt_packages/): `run-operation` with `--args` (tables
//! created through `run_query`, `statement`/`load_result` and
//! `adapter.get_columns_in_relation`, read back), a package's macro, a macro that
//! raises, SQL that fails, an unknown macro; and `on-run-start`/`on-run-end`
//! hooks of the root project and the package: a table a hook creates that a
//! model reads, `results` written into a table by `on-run-end`, the order the
//! hooks run in, a failing hook (the hooks after it skipped, the nodes still run),
//! and the same files run by dbt-core, compared table by table and entry by entry.

use std::path::Path;

use serde_json::Value;

use crate::common::{project_copy, query, read_json, sluice_in, stderr, stdout};
use crate::dbt_compare::dbt_binary;

fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "sluice failed:\n{}{}",
        stdout(out),
        stderr(out)
    );
}

fn rows(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    query(&dir.join("dev.duckdb"), sql)
}

/// Error output with the temp dir and timings taken out, for snapshots.
fn shown(out: &std::process::Output, dir: &Path) -> String {
    let text = format!("{}{}", stdout(out), stderr(out));
    let text = text.replace(&dir.display().to_string(), "<project>");
    let timing = regex::Regex::new(r"in \d+\.\d+s").expect("static regex");
    timing.replace_all(&text, "in <t>s").into_owned()
}

/// The run_results.json entries of the project hooks: (unique_id, status,
/// message's first line, failures, compiled_code).
fn hook_entries(target: &Path) -> Vec<Value> {
    let rr = read_json(&target.join("run_results.json"));
    rr["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| {
            r["unique_id"]
                .as_str()
                .unwrap_or("")
                .starts_with("operation.")
        })
        .map(|r| {
            let message = r["message"].as_str().unwrap_or("");
            serde_json::json!({
                "unique_id": r["unique_id"],
                "status": r["status"],
                "message": message.lines().next().unwrap_or(""),
                "failures": r["failures"],
                "compiled": r["compiled"],
                "compiled_code": r["compiled_code"],
                "adapter_response": r["adapter_response"],
                "thread_id": r["thread_id"],
            })
        })
        .collect()
}

#[test]
fn run_operation_with_args_creates_a_table_read_back() {
    let dir = project_copy("operations");
    let out = sluice_in(
        dir.path(),
        &[
            "run-operation",
            "make_table",
            "--args",
            "{name: made, rows: 4}",
        ],
    );
    ok(&out);
    assert!(
        stderr(&out).contains("created made with 4 rows")
            || stdout(&out).contains("created made with 4 rows"),
        "log(info=True) is shown:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        rows(dir.path(), "select i from main.made order by i"),
        [["0"], ["1"], ["2"], ["3"]]
    );
    // statement/load_result and adapter.get_columns_in_relation inside an operation.
    let out = sluice_in(
        dir.path(),
        &[
            "run-operation",
            "describe_into",
            "--args",
            "{source_table: made, into: described}",
        ],
    );
    ok(&out);
    assert_eq!(
        rows(dir.path(), "select n, columns from main.described"),
        [["4", "i"]]
    );
    let rr = read_json(&dir.path().join("target/run_results.json"));
    assert_eq!(
        rr["results"][0]["unique_id"],
        "macro.operations.describe_into"
    );
    assert_eq!(rr["results"][0]["status"], "success");
    assert_eq!(rr["args"]["which"], "run-operation");
}

#[test]
fn run_operation_calls_a_package_macro_in_its_namespace() {
    let dir = project_copy("operations");
    let out = sluice_in(
        dir.path(),
        &["run-operation", "ops_pkg.pkg_mark", "--args", "{label: hi}"],
    );
    ok(&out);
    // pkg_helper() is a bare call inside the package: it resolves in ops_pkg.
    assert_eq!(
        rows(dir.path(), "select label, helper from main.pkg_mark"),
        [["hi", "helper of ops_pkg"]]
    );
    // A bare name finds a package's macro too, as dbt's lookup does.
    let out = sluice_in(
        dir.path(),
        &["run-operation", "pkg_mark", "--args", "{label: bare}"],
    );
    ok(&out);
    assert_eq!(
        rows(dir.path(), "select label from main.pkg_mark"),
        [["bare"]]
    );
}

#[test]
fn a_macro_that_raises_is_a_located_error_with_exit_1() {
    let dir = project_copy("operations");
    let out = sluice_in(
        dir.path(),
        &["run-operation", "refuse", "--args", "{reason: not today}"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out, dir.path()));
    insta::assert_snapshot!("operations__raises", shown(&out, dir.path()));
    let rr = read_json(&dir.path().join("target/run_results.json"));
    assert_eq!(rr["results"][0]["unique_id"], "macro.operations.refuse");
    assert_eq!(rr["results"][0]["status"], "error");
}

#[test]
fn sql_that_fails_in_an_operation_exits_1_with_the_warehouse_message() {
    let dir = project_copy("operations");
    let out = sluice_in(dir.path(), &["run-operation", "bad_sql"]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out, dir.path()));
    let text = shown(&out, dir.path());
    assert!(text.contains("no_such_table"), "{text}");
    assert!(text.contains("macros/operations.sql"), "located: {text}");
}

#[test]
fn an_unknown_macro_is_exit_2_naming_the_near_ones() {
    let dir = project_copy("operations");
    let out = sluice_in(dir.path(), &["run-operation", "make_tabel"]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out, dir.path()));
    insta::assert_snapshot!("operations__unknown_macro", shown(&out, dir.path()));
}

#[test]
fn args_that_are_not_a_mapping_are_exit_2() {
    let dir = project_copy("operations");
    let out = sluice_in(
        dir.path(),
        &["run-operation", "make_table", "--args", "[1, 2]"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out, dir.path()));
    assert!(stderr(&out).contains("--args"), "{}", stderr(&out));
}

#[test]
fn hooks_run_around_the_build_and_see_results() {
    let dir = project_copy("operations");
    let out = sluice_in(dir.path(), &["build"]);
    ok(&out);
    let text = stdout(&out) + &stderr(&out);
    assert!(text.contains("Running 5 on-run-start hooks"), "{text}");
    assert!(
        text.contains("1 of 5 START hook: operations.on-run-start.0"),
        "{text}"
    );
    assert!(
        text.contains("5 of 5 OK hook: ops_pkg.on-run-start.4"),
        "{text}"
    );
    // A model reads the table an on-run-start hook created.
    assert_eq!(
        rows(dir.path(), "select answer, doubled from main.reads_marker"),
        [["42", "84"]]
    );
    // Root project first, then the package; on-run-end sees `schemas`.
    assert_eq!(
        rows(
            dir.path(),
            "select seq, step from main.hook_log order by seq"
        ),
        [
            ["1", "root start"],
            ["2", "ops_pkg start from-pkg"],
            ["3", "root end: main"],
            ["4", "ops_pkg end"]
        ]
    );
    // `results`: every node's status (hooks that passed are left out, as in dbt).
    assert_eq!(
        rows(
            dir.path(),
            "select unique_id, resource_type, status from main.run_log order by unique_id"
        ),
        [
            ["model.operations.plain", "model", "success"],
            ["model.operations.reads_marker", "model", "success"],
            ["seed.operations.people", "seed", "success"],
            [
                "test.operations.not_null_plain_id.192952364c",
                "test",
                "pass"
            ],
            ["test.operations.unique_plain_id.e177868717", "test", "pass"]
        ]
    );
    let entries = hook_entries(&dir.path().join("target"));
    assert_eq!(entries.len(), 8);
    assert_eq!(
        entries[0]["unique_id"],
        "operation.operations.operations-on-run-start-0"
    );
    assert_eq!(entries[0]["message"], "operations.on-run-start.0 passed");
    // The hooks are manifest nodes of resource type `operation`.
    let manifest = read_json(&dir.path().join("target/manifest.json"));
    let op = &manifest["nodes"]["operation.ops_pkg.ops_pkg-on-run-start-0"];
    assert_eq!(op["resource_type"], "operation");
    assert_eq!(op["tags"], serde_json::json!(["on-run-start"]));
    assert_eq!(op["package_name"], "ops_pkg");
}

#[test]
fn a_failing_hook_skips_the_hooks_after_it_and_the_nodes_still_run() {
    let dir = project_copy("operations");
    let out = sluice_in(dir.path(), &["build", "--vars", "{fail_hook: true}"]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out, dir.path()));
    let text = shown(&out, dir.path());
    assert!(text.contains("operations.on-run-start.0 failed"), "{text}");
    assert!(
        text.contains("2 of 5 SKIP hook: operations.on-run-start.1"),
        "{text}"
    );
    let statuses: Vec<(String, String)> = hook_entries(&dir.path().join("target"))
        .iter()
        .map(|e| {
            (
                e["unique_id"].as_str().unwrap_or_default().to_owned(),
                e["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(statuses[0].1, "error");
    assert!(
        statuses[1..5].iter().all(|(_, s)| s == "skipped"),
        "{statuses:?}"
    );
    // The nodes ran: the one reading the skipped hook's table failed, the others built.
    assert_eq!(rows(dir.path(), "select count(*) from main.plain"), [["2"]]);
    // on-run-end saw the failed hook among its results.
    assert_eq!(
        rows(
            dir.path(),
            "select unique_id, status from main.run_log where resource_type <> 'test' order by unique_id"
        ),
        [
            ["model.operations.plain", "success"],
            ["model.operations.reads_marker", "error"],
            ["operation.operations.operations-on-run-start-0", "error"],
            ["seed.operations.people", "success"]
        ]
    );
}

/// The tables the hooks and operations write, as sorted rows.
fn hook_tables(dir: &Path) -> Vec<(String, Vec<Vec<String>>)> {
    [
        "hook_log",
        "run_log",
        "start_marker",
        "reads_marker",
        "plain",
    ]
    .iter()
    .map(|t| {
        let exists = rows(
            dir,
            &format!("select count(*) from information_schema.tables where table_name = '{t}'"),
        );
        let data = if exists == [["1"]] {
            let mut r = rows(dir, &format!("select * from main.{t}"));
            r.sort();
            r
        } else {
            Vec::new()
        };
        ((*t).to_owned(), data)
    })
    .collect()
}

fn run_dbt(dbt: &Path, dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(dbt)
        .current_dir(dir)
        .args(args)
        .args(["--profiles-dir", "profiles"])
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("DBT_USE_COLORS", "false")
        .output()
        .expect("dbt runs")
}

/// sluice and dbt-core on the same files: the same exit status, the same tables
/// and rows, the same run_results.json hook entries.
fn compare(args: &[&str]) {
    let Some(dbt) = dbt_binary() else {
        return;
    };
    let ours = project_copy("operations");
    let theirs = project_copy("operations");
    let ours_out = sluice_in(ours.path(), args);
    let theirs_out = run_dbt(&dbt, theirs.path(), args);
    assert_eq!(
        ours_out.status.code(),
        theirs_out.status.code(),
        "exit status: sluice:\n{}{}\ndbt:\n{}",
        stdout(&ours_out),
        stderr(&ours_out),
        String::from_utf8_lossy(&theirs_out.stdout)
    );
    assert_eq!(
        hook_tables(ours.path()),
        hook_tables(theirs.path()),
        "tables: sluice (left) vs dbt (right)"
    );
    // dbt's message adds the warehouse's message, whose wording differs.
    let entries = |dir: &Path| -> Vec<Value> {
        hook_entries(&dir.join("target"))
            .into_iter()
            .map(|mut e| {
                if let Some(m) = e["message"].as_str() {
                    e["message"] = Value::from(m.split(" error:").next().unwrap_or(m));
                }
                // `results` come in the order the nodes finished, on two threads.
                if let Some(code) = e["compiled_code"].as_str() {
                    let mut lines: Vec<&str> = code.lines().collect();
                    lines.sort_unstable();
                    e["compiled_code"] = Value::from(lines.join("\n"));
                }
                e
            })
            .collect()
    };
    assert_eq!(
        entries(ours.path()),
        entries(theirs.path()),
        "hook entries: sluice (left) vs dbt (right)"
    );
}

#[test]
fn hooks_do_what_dbt_core_does() {
    compare(&["build"]);
}

#[test]
fn a_failing_hook_does_what_dbt_core_does() {
    compare(&["build", "--vars", "{fail_hook: true}"]);
}

#[test]
fn run_operation_does_what_dbt_core_does() {
    let Some(dbt) = dbt_binary() else {
        return;
    };
    for (args, table) in [
        (
            &[
                "run-operation",
                "make_table",
                "--args",
                "{name: made, rows: 4}",
            ][..],
            "made",
        ),
        (
            &["run-operation", "ops_pkg.pkg_mark", "--args", "{label: hi}"][..],
            "pkg_mark",
        ),
    ] {
        let ours = project_copy("operations");
        let theirs = project_copy("operations");
        ok(&sluice_in(ours.path(), args));
        let out = run_dbt(&dbt, theirs.path(), args);
        assert!(
            out.status.success(),
            "dbt: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let sql = format!("select * from main.{table} order by all");
        assert_eq!(rows(ours.path(), &sql), rows(theirs.path(), &sql));
        let id = |dir: &Path| {
            read_json(&dir.join("target/run_results.json"))["results"][0]["unique_id"].clone()
        };
        assert_eq!(id(ours.path()), id(theirs.path()));
    }
    // Exit statuses of the failures.
    for args in [
        &["run-operation", "refuse", "--args", "{reason: x}"][..],
        &["run-operation", "bad_sql"],
        &["run-operation", "make_tabel"],
    ] {
        let ours = project_copy("operations");
        let theirs = project_copy("operations");
        let a = sluice_in(ours.path(), args).status.code();
        let b = run_dbt(&dbt, theirs.path(), args).status.code();
        assert_eq!(
            a, b,
            "exit status of {args:?}: sluice (left) vs dbt (right)"
        );
    }
}

#[test]
fn a_hook_whose_jinja_fails_stops_the_command_with_exit_2_as_dbt() {
    let hook = "\n  - \"{% if execute %}{{ refuse('in a hook') }}{% endif %}\"\n";
    let with_bad_hook = |dir: &Path| {
        let path = dir.join("dbt_project.yml");
        let text = std::fs::read_to_string(&path).expect("read dbt_project.yml");
        let text = text.replacen("\non-run-end:\n", &format!("\non-run-end:{hook}"), 1);
        std::fs::write(&path, text).expect("write dbt_project.yml");
    };
    let dir = project_copy("operations");
    with_bad_hook(dir.path());
    let out = sluice_in(dir.path(), &["run"]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out, dir.path()));
    let text = shown(&out, dir.path());
    assert!(text.contains("refusing to run: in a hook"), "{text}");
    assert!(
        text.contains("while rendering operations.on-run-end.0"),
        "{text}"
    );
    assert!(
        text.contains("dbt_project.yml"),
        "the hook is located: {text}"
    );
    if let Some(dbt) = dbt_binary() {
        let theirs = project_copy("operations");
        with_bad_hook(theirs.path());
        let out = run_dbt(&dbt, theirs.path(), &["run"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "dbt: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
