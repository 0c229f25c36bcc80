//! The traps of issue 17: things that quietly did the wrong thing (a panic on a
//! closed pipe, `clean` deleting the warehouse, folder selection matching nothing,
//! a `--where` cut at its `;`, one typo giving hundreds of errors).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{project_copy, run_in, sluice, stderr, stdout};

/// Run sluice with stdout a pipe whose reader is closed before sluice writes.
fn run_with_closed_stdout(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .args(args)
        .arg("--project-dir")
        .arg(dir)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sluice starts");
    // Closing the read end now: sluice's first write to stdout gets EPIPE.
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr is piped")
        .read_to_string(&mut err)
        .expect("read stderr");
    let status = child.wait().expect("sluice ends");
    std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: err.into_bytes(),
    }
}

#[test]
fn a_closed_pipe_ends_ls_quietly_with_status_0() {
    let p = project_copy("exec");
    let out = run_with_closed_stdout(p.path(), &["ls"]);
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("Broken pipe"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

#[test]
fn a_closed_pipe_during_build_keeps_the_builds_exit_status() {
    let p = project_copy("exec");
    let out = run_with_closed_stdout(p.path(), &["build"]);
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    // The build went on to the end: its results are all there.
    let results = crate::common::statuses(&p.path().join("target"));
    assert!(results.len() > 5, "{results:?}");
}

fn init(dir: &Path) -> std::path::PathBuf {
    let out = sluice()
        .current_dir(dir)
        .args(["init", "demo"])
        .output()
        .expect("init runs");
    assert!(out.status.success(), "{}", stderr(&out));
    dir.join("demo")
}

#[test]
fn clean_refuses_a_target_path_that_holds_the_warehouse() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let demo = init(tmp.path());
    let yml = demo.join("project.yml");
    let text = std::fs::read_to_string(&yml).expect("project.yml");
    std::fs::write(
        &yml,
        text.replace("path: demo.duckdb", "path: target/demo.duckdb"),
    )
    .expect("write project.yml");
    let build = run_in(&demo, &["build"]);
    assert!(build.status.success(), "{}", stderr(&build));
    let db = demo.join("target/demo.duckdb");
    assert!(db.exists());

    let clean = run_in(&demo, &["clean"]);
    assert_eq!(clean.status.code(), Some(2), "{}", stdout(&clean));
    insta::assert_snapshot!(
        "clean_refuses_the_warehouse",
        stderr(&clean).replace(&demo.display().to_string(), "<project>")
    );
    assert!(db.exists(), "the database survives");

    let forced = run_in(&demo, &["clean", "--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(!demo.join("target").exists());
}

#[test]
fn clean_removes_clean_targets_and_guards_sources_and_outside_paths() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let demo = init(tmp.path());
    let yml = demo.join("project.yml");
    let text = std::fs::read_to_string(&yml).expect("project.yml");
    std::fs::create_dir_all(demo.join("target")).expect("mkdir");
    std::fs::create_dir_all(demo.join("logs")).expect("mkdir");

    std::fs::write(&yml, format!("{text}clean-targets: [target, logs]\n")).expect("write");
    let clean = run_in(&demo, &["clean"]);
    assert!(clean.status.success(), "{}", stderr(&clean));
    assert!(!demo.join("target").exists() && !demo.join("logs").exists());
    assert!(demo.join("models").exists());

    std::fs::write(&yml, format!("{text}clean-targets: [target, models]\n")).expect("write");
    let clean = run_in(&demo, &["clean"]);
    assert_eq!(clean.status.code(), Some(2));
    assert!(
        stderr(&clean).contains("holds the project's sources"),
        "{}",
        stderr(&clean)
    );
    assert!(demo.join("models").exists());

    let outside = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::write(&yml, format!("{text}clean-targets: [../elsewhere]\n")).expect("write");
    let clean = run_in(&demo, &["clean"]);
    assert_eq!(clean.status.code(), Some(2));
    assert!(
        stderr(&clean).contains("outside the project"),
        "{}",
        stderr(&clean)
    );
    assert!(outside.exists());
    let clean = run_in(&demo, &["clean", "--no-clean-project-files-only"]);
    assert!(clean.status.success(), "{}", stderr(&clean));
    assert!(!outside.exists());
}

#[test]
fn the_gtm_project_keeps_its_warehouse_outside_the_target_path() {
    let root = crate::common::repo_root();
    let yml = std::fs::read_to_string(root.join("project.yml")).expect("project.yml");
    assert!(yml.contains("target-path: .sluice"), "{yml}");
    assert!(yml.contains("path: gtm.duckdb"), "{yml}");
}

fn ls(dir: &Path, select: &str) -> Vec<String> {
    let out = run_in(dir, &["ls", "-s", select, "--resource-type", "model"]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().map(str::to_owned).collect()
}

#[test]
fn folder_selection_selects_by_fqn_as_dbt_does() {
    let p = project_copy("exec");
    let marts = vec!["exec.marts.customer_revenue", "exec.marts.segment_revenue"];
    assert_eq!(ls(p.path(), "marts"), marts);
    assert_eq!(ls(p.path(), "exec.marts"), marts);
    assert_eq!(ls(p.path(), "fqn:marts"), marts);
    assert_eq!(ls(p.path(), "marts.*"), marts);
    assert_eq!(
        ls(p.path(), "staging.stg_orders"),
        ["exec.staging.stg_orders"]
    );
    // dbt matches a folder from the top only, not in the middle of the path.
    assert!(ls(p.path(), "customer").is_empty());

    let build = run_in(p.path(), &["build"]);
    assert!(build.status.success(), "{}", stderr(&build));
    let run = run_in(p.path(), &["run", "-s", "marts"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let results = crate::common::statuses(&p.path().join("target"));
    let ran: Vec<&String> = results.keys().collect();
    assert_eq!(
        ran,
        ["model.exec.customer_revenue", "model.exec.segment_revenue"]
    );
}

#[test]
fn an_empty_selection_warns_and_warn_error_makes_it_fail() {
    let p = project_copy("exec");
    let plain = run_in(p.path(), &["build", "-s", "revenue"]);
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
    let err = stderr(&plain);
    assert!(
        err.contains("warning[NoNodesForSelectionCriteria]: The selection criterion 'revenue' does not match any enabled nodes"),
        "{err}"
    );
    assert!(err.contains("warning[NothingToDo]"), "{err}");

    for (flags, code) in [
        (vec!["--warn-error"], 2),
        (
            vec![
                "--warn-error-options",
                r#"{"error": ["NoNodesForSelectionCriteria"]}"#,
            ],
            2,
        ),
        (vec!["--warn-error-options", "error: [NothingToDo]"], 2),
        (
            vec![
                "--warn-error-options",
                r#"{"error": "all", "silence": ["NoNodesForSelectionCriteria"]}"#,
            ],
            2,
        ),
        (
            vec![
                "--warn-error-options",
                r#"{"include": "all", "exclude": ["NoNodesForSelectionCriteria", "NothingToDo"]}"#,
            ],
            0,
        ),
        (
            vec![
                "--warn-error-options",
                r#"{"error": "all", "silence": ["NoNodesForSelectionCriteria", "NothingToDo"]}"#,
            ],
            0,
        ),
    ] {
        let mut args = vec!["build", "-s", "revenue"];
        args.extend(flags.iter().copied());
        let out = run_in(p.path(), &args);
        assert_eq!(out.status.code(), Some(code), "{flags:?}: {}", stderr(&out));
        if code == 2 {
            assert!(
                stderr(&out).contains("error[No") || stderr(&out).contains("error[NothingToDo]"),
                "{}",
                stderr(&out)
            );
        }
    }
    let silenced = run_in(
        p.path(),
        &[
            "build",
            "-s",
            "revenue",
            "--warn-error-options",
            "silence: [NoNodesForSelectionCriteria]",
        ],
    );
    assert!(
        !stderr(&silenced).contains("NoNodesForSelectionCriteria"),
        "{}",
        stderr(&silenced)
    );

    let bad = run_in(
        p.path(),
        &[
            "build",
            "--warn-error-options",
            r#"{"error": ["NoNodesForSelection"]}"#,
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    insta::assert_snapshot!("warn_error_options_unknown_event", stderr(&bad));
}

#[test]
fn a_where_filter_must_be_exactly_one_condition() {
    let p = project_copy("semantic");
    let cases = [
        (
            "where_with_a_second_statement",
            "account__region = 'EMEA'; drop table x",
        ),
        ("where_that_is_a_value", "1 + 1"),
        ("where_unparsable", "account__region = = 'EMEA'"),
    ];
    for (name, filter) in cases {
        let out = run_in(
            p.path(),
            &[
                "metrics",
                "query",
                "--metrics",
                "win_rate",
                "--where",
                filter,
                "--compile",
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{filter}: {}", stdout(&out));
        assert!(
            stdout(&out).is_empty(),
            "no SQL for {filter}: {}",
            stdout(&out)
        );
        insta::assert_snapshot!(name, stderr(&out));
    }
    let ok = run_in(
        p.path(),
        &[
            "metrics",
            "query",
            "--metrics",
            "win_rate",
            "--where",
            "account__region = 'EMEA'",
            "--compile",
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
}

#[test]
fn one_typo_in_a_metric_gives_one_error_not_one_per_metric_assertion() {
    let p = crate::gtm::gtm_copy();
    let yml = p.path().join("models/semantic/_sm_sales.yml");
    let text = std::fs::read_to_string(&yml).expect("read");
    assert!(text.contains("    type: ratio\n"));
    std::fs::write(
        &yml,
        text.replacen("    type: ratio\n", "    type: ration\n", 1),
    )
    .expect("write");
    let out = run_in(p.path(), &["parse"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors, ["error: unknown metric type `ration`"], "{err}");
}

#[test]
fn a_metric_assertion_without_any_metrics_is_still_an_error() {
    let p = crate::gtm::gtm_copy();
    for f in std::fs::read_dir(p.path().join("models/semantic")).expect("ls") {
        let f = f.expect("entry").path();
        let text = std::fs::read_to_string(&f).expect("read");
        // Keep the assertions, drop the definitions they check.
        let kept: String = match text.find("\nassertions:") {
            Some(i) => format!("version: 2\n{}", &text[i..]),
            None => "version: 2\n".to_owned(),
        };
        std::fs::write(&f, kept).expect("write");
    }
    let out = run_in(p.path(), &["parse"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("checks a metric, but the project defines no metrics"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn warn_error_fails_a_test_that_would_warn_as_dbt_does() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let demo = init(tmp.path());
    std::fs::write(
        demo.join("tests/warns.sql"),
        "{{ config(severity='warn') }}\nselect * from {{ ref('customers') }}\n",
    )
    .expect("write test");
    let plain = run_in(&demo, &["build"]);
    assert_eq!(plain.status.code(), Some(0), "{}", stdout(&plain));
    assert!(stdout(&plain).contains("WARN=1"), "{}", stdout(&plain));
    for flags in [
        vec!["--warn-error"],
        vec!["--warn-error-options", "{error: [LogTestResult]}"],
    ] {
        let mut args = vec!["build"];
        args.extend(flags.iter().copied());
        let out = run_in(&demo, &args);
        // dbt: the test's status is fail, and the run exits 1.
        assert_eq!(out.status.code(), Some(1), "{flags:?}: {}", stdout(&out));
        assert!(stdout(&out).contains("FAIL=1"), "{}", stdout(&out));
    }
}
