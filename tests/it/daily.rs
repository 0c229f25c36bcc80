//! A dbt user's daily commands (issue 17's parity items): `sluice retry` and
//! `sluice list`, each compared with dbt-core on the same dbt-layout fixture.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use crate::common::{copy_dir, fixture, read_json, sluice, stderr, stdout};
use crate::dbt_compare::dbt_binary;

/// `unique_id → status` of the last run's run_results.json.
fn results(dir: &Path) -> BTreeMap<String, String> {
    crate::common::statuses(&dir.join("target"))
}

fn sluice_in(dir: &Path, args: &[&str]) -> Output {
    sluice()
        .current_dir(dir)
        .args(args)
        .args(["--profiles-dir", "."])
        .output()
        .expect("sluice runs")
}

fn dbt_in(dbt: &Path, dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(dbt)
        .current_dir(dir)
        .args(args)
        .args(["--profiles-dir", "."])
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("DBT_USE_COLORS", "false")
        .output()
        .expect("dbt runs")
}

/// A copy of the retry fixture.
fn retry_project() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture("retry"), tmp.path());
    tmp
}

/// The table the fixture's `late` model reads, missing until the test adds it.
fn create_scores(dir: &Path) {
    let conn =
        duckdb::Connection::open(dir.join("retry.duckdb")).expect("open the project's DuckDB file");
    conn.execute_batch(
        "create table main.scores as select * from (values (1, 10), (2, 20), (3, 30)) as t(id, score)",
    )
    .expect("create main.scores");
}

/// Build (one model fails, its descendants skip), add the missing table, retry:
/// only what failed or was skipped runs again, with the last run's command.
fn build_then_retry(
    run: &dyn Fn(&Path, &[&str]) -> Output,
    dir: &Path,
) -> [BTreeMap<String, String>; 3] {
    let out = run(dir, &["build"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let first = results(dir);
    create_scores(dir);
    let out = run(dir, &["retry"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let second = results(dir);
    // Nothing failed last time: nothing to do, and that is not an error.
    let out = run(dir, &["retry"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        format!("{}{}", stdout(&out), stderr(&out)).contains("Nothing to do"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    [first, second, results(dir)]
}

#[test]
fn retry_reruns_only_what_failed_or_was_skipped() {
    let tmp = retry_project();
    let [first, second, _] = build_then_retry(&|d, a| sluice_in(d, a), tmp.path());
    assert_eq!(first["model.retry_demo.late"], "error", "{first:?}");
    assert_eq!(first["model.retry_demo.after_late"], "skipped", "{first:?}");
    assert_eq!(first["model.retry_demo.base"], "success", "{first:?}");
    let rerun: Vec<(&str, &str)> = second
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(rerun.len(), 3, "{second:?}");
    assert!(
        second.values().all(|s| s == "success" || s == "pass"),
        "{second:?}"
    );
    assert!(!second.contains_key("model.retry_demo.base"), "{second:?}");
    // The retry recorded the original command, so a later retry repeats it too.
    let args = &read_json(&tmp.path().join("target/run_results.json"))["args"];
    assert_eq!(args["which"], "build", "{args}");
    let rows = crate::common::query(
        &tmp.path().join("retry.duckdb"),
        "select id, doubled from main.after_late order by id",
    );
    assert_eq!(
        rows,
        vec![vec!["1", "20"], vec!["2", "40"], vec!["3", "60"]]
    );
}

#[test]
fn retry_without_a_previous_run_says_so() {
    let tmp = retry_project();
    let out = sluice_in(tmp.path(), &["retry"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Could not find previous run in"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn retry_repeats_the_last_command_not_build() {
    let tmp = retry_project();
    assert!(sluice_in(tmp.path(), &["seed"]).status.success());
    let out = sluice_in(tmp.path(), &["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    create_scores(tmp.path());
    let out = sluice_in(tmp.path(), &["retry"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // `run` builds models only: the tests of `late` do not come along.
    let ids: Vec<String> = results(tmp.path()).into_keys().collect();
    assert_eq!(
        ids,
        vec!["model.retry_demo.after_late", "model.retry_demo.late"]
    );
}

#[test]
fn retry_matches_dbt_core() {
    let Some(dbt) = dbt_binary() else { return };
    let ours = tempfile::tempdir().expect("temp dir");
    let theirs = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture("retry"), ours.path());
    copy_dir(&fixture("retry"), theirs.path());
    let sluice_runs = build_then_retry(&|d, a| sluice_in(d, a), ours.path());
    let dbt_runs = build_then_retry(&|d, a| dbt_in(&dbt, d, a), theirs.path());
    assert_eq!(
        sluice_runs[..2],
        dbt_runs[..2],
        "sluice (left) vs dbt (right)"
    );
}

/// `ls`'s output lines, sorted (dbt prints in its own order).
fn listed(out: &Output) -> Vec<String> {
    let mut lines: Vec<String> = stdout(out).lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[test]
fn list_and_its_resource_type_flags_match_dbt_core() {
    let tmp = retry_project();
    let cases: &[&[&str]] = &[
        &["list"],
        &["list", "--resource-type", "source", "test"],
        &[
            "list",
            "--resource-types",
            "model",
            "--exclude-resource-type",
            "test",
        ],
        &[
            "ls",
            "--resource-type",
            "default",
            "--exclude-resource-types",
            "model",
            "seed",
        ],
        &["list", "-s", "late+", "--output", "name"],
    ];
    let dbt = dbt_binary();
    for args in cases {
        let out = sluice_in(tmp.path(), args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let ours = listed(&out);
        assert!(!ours.is_empty(), "{args:?}");
        if let Some(dbt) = &dbt {
            let mut quiet = vec!["--quiet"];
            quiet.extend_from_slice(args);
            let theirs = dbt_in(dbt, tmp.path(), &quiet);
            assert!(theirs.status.success(), "dbt {args:?}: {}", stderr(&theirs));
            assert_eq!(
                ours,
                listed(&theirs),
                "{args:?}: sluice (left) vs dbt (right)"
            );
        }
    }
}

#[test]
fn list_says_when_it_cannot_list_a_type_or_selects_nothing() {
    let tmp = retry_project();
    let out = sluice_in(tmp.path(), &["list", "--resource-type", "saved_query"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("does not list saved_query resources"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("No nodes selected!"),
        "{}",
        stderr(&out)
    );
    let out = sluice_in(tmp.path(), &["list", "--resource-type", "bogus"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = sluice_in(
        tmp.path(),
        &[
            "list",
            "-s",
            "nothing_here",
            "--warn-error-options",
            "{error: [NoNodesSelected]}",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn empty_builds_every_model_with_no_rows_as_dbt_does() {
    let p = fixture("dbt_layout");
    let tmp = tempfile::tempdir().expect("temp dir");
    copy_dir(&p, tmp.path());
    let out = sluice()
        .current_dir(tmp.path())
        .args(["build", "--empty", "--profiles-dir", "profiles"])
        .output()
        .expect("sluice runs");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let db = tmp.path().join("dev.duckdb");
    let count = |relation: &str| {
        crate::common::query(&db, &format!("select count(*) from {relation}"))[0][0].clone()
    };
    // Seeds load their rows; models read none, but have their columns.
    assert_ne!(count("main.raw_orders"), "0");
    assert_eq!(count("main.stg_orders"), "0");
    assert_eq!(count("main_marts.fct_orders"), "0");
    let compiled = std::fs::read_to_string(
        tmp.path()
            .join("target/compiled/dbt_layout/models/staging/stg_orders.sql"),
    )
    .expect("compiled stg_orders");
    assert!(compiled.contains("where false limit 0)"), "{compiled}");
    // Same relations, columns and (no) rows as dbt's --empty.
    crate::dbt_compare::compare_with_dbt(&p, &p.join("profiles"), &["--empty"]);
}

#[test]
fn empty_is_refused_where_dbt_has_no_such_flag() {
    let tmp = retry_project();
    let out = sluice_in(tmp.path(), &["test", "--empty"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`--empty` applies to run, build and snapshot"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn compile_inline_prints_what_dbt_core_prints() {
    let tmp = retry_project();
    let inline = "select * from {{ ref('base') }} join {{ source('ext', 'scores') }} using (id) where id > {{ 1 + 1 }}";
    let out = sluice_in(tmp.path(), &["compile", "--inline", inline]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ours = stdout(&out).trim().to_owned();
    assert!(ours.contains("\"retry\".\"main\".\"base\""), "{ours}");
    assert!(ours.ends_with("where id > 2"), "{ours}");
    if let Some(dbt) = dbt_binary() {
        let theirs = dbt_in(
            &dbt,
            tmp.path(),
            &["--quiet", "compile", "--inline", inline],
        );
        assert!(theirs.status.success(), "{}", stderr(&theirs));
        // Both print DuckDB relations with the catalog (the file's stem).
        let theirs = stdout(&theirs).trim().to_owned();
        assert_eq!(ours, theirs, "sluice (left) vs dbt (right)");
    }
}

#[test]
fn an_error_in_inline_sql_points_into_it() {
    let tmp = retry_project();
    let out = sluice_in(
        tmp.path(),
        &["compile", "--inline", "select 1\nfrom {{ ref('nope') }}"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--inline:2:"), "{err}");
    assert!(err.contains("ref('nope')"), "{err}");
}

#[test]
fn show_inline_previews_rows() {
    let tmp = retry_project();
    assert!(sluice_in(tmp.path(), &["build", "-s", "+base"])
        .status
        .success());
    let out = sluice_in(
        tmp.path(),
        &[
            "show",
            "--inline",
            "select name from {{ ref('base') }} order by id",
            "--limit",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("ada") && table.contains("bob"), "{table}");
    assert!(!table.contains("cy"), "{table}");
    let out = sluice_in(tmp.path(), &["show"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
