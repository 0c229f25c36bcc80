//! Output for CI and people (issue 17, item 14): `-q`, the log file, JSON log
//! events in dbt's shape, `NO_COLOR`, numbers as people write them, and
//! `metrics list --format json`.

use std::path::Path;

use serde_json::Value;

use crate::common::{copy_dir, fixture, project_copy, run_in, sluice, stderr, stdout};

/// What changes from run to run, replaced: timings, timestamps, ids, the temp dir.
fn redact(text: &str, dir: &Path) -> String {
    let text = text.replace(&dir.display().to_string(), "[PROJECT]");
    let timing = regex::Regex::new(r"\d+\.\d+s\b").expect("valid regex");
    timing.replace_all(&text, "[T]s").into_owned()
}

/// A JSON event with its varying fields replaced.
fn redact_event(line: &str, dir: &Path) -> Value {
    let mut event: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON event ({e}): {line}"));
    for key in ["ts", "invocation_id", "pid"] {
        assert!(!event["info"][key].is_null(), "no info.{key}: {line}");
        event["info"][key] = Value::from(format!("[{key}]"));
    }
    for key in ["execution_time"] {
        if !event["data"][key].is_null() {
            event["data"][key] = Value::from("[T]");
        }
    }
    let text = redact(&event.to_string(), dir);
    serde_json::from_str(&text).expect("redacting keeps JSON")
}

fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("JSON serializes")
}

/// A copy of the `exec` fixture whose `broken` table fails in the warehouse.
fn broken_exec() -> tempfile::TempDir {
    let p = project_copy("exec");
    std::fs::write(
        p.path().join("models/staging/broken.sql"),
        "{{ config(materialized='table') }}\nselect cast('x' as integer) as a\n",
    )
    .expect("write model");
    p
}

#[test]
fn quiet_prints_only_errors_and_results() {
    let p = project_copy("exec");
    let out = run_in(p.path(), &["-q", "build", "--threads", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "a quiet successful build prints nothing");
    assert_eq!(stderr(&out), "");
    // After the subcommand too, and from dbt's environment variable.
    let listed = run_in(p.path(), &["ls", "--quiet"]);
    let plain = run_in(p.path(), &["ls"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(!stdout(&listed).is_empty());
    assert_eq!(stdout(&listed), stdout(&plain), "ls's lines are its result");
    let env = sluice()
        .env("DBT_QUIET", "true")
        .args(["build", "--threads", "1", "--project-dir"])
        .arg(p.path())
        .output()
        .expect("sluice runs");
    assert_eq!(stdout(&env), "");

    let p = broken_exec();
    let out = run_in(p.path(), &["build", "-q", "--threads", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    insta::assert_snapshot!(
        "quiet_failed_build",
        format!(
            "--- stdout\n{}--- stderr\n{}",
            redact(&stdout(&out), p.path()),
            redact(&stderr(&out), p.path())
        )
    );
}

#[test]
fn json_logs_are_dbt_events_with_errors_located() {
    let p = project_copy("exec");
    let out = run_in(
        p.path(),
        &["--log-format", "json", "seed", "--threads", "1"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "every message is an event on stdout");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let ids: std::collections::BTreeSet<String> = lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("every stdout line is JSON");
            v["info"]["invocation_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one invocation id: {ids:?}");
    let run_results = crate::common::read_json(&p.path().join("target/run_results.json"));
    assert_eq!(
        run_results["metadata"]["invocation_id"].as_str(),
        ids.iter().next().map(String::as_str),
        "the log and the artifacts name the same invocation"
    );
    let events: Vec<Value> = lines.iter().map(|l| redact_event(l, p.path())).collect();
    insta::assert_snapshot!("json_seed_events", pretty(&events));

    // An error that stops the command is an event too, with its place.
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture("bad/cycle"), dir.path());
    let out = run_in(dir.path(), &["parse", "--log-format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let errors: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| redact_event(l, dir.path()))
        .filter(|e| e["info"]["level"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{}", stdout(&out));
    assert_eq!(errors[0]["data"]["file"], "models/b.sql");
    assert_eq!(errors[0]["data"]["line"], 1);
    assert_eq!(errors[0]["data"]["column"], 23);
    insta::assert_snapshot!("json_error_event", pretty(&errors[0]));
}

#[test]
fn the_log_file_keeps_every_message_appended() {
    let p = broken_exec();
    let run = |args: &[&str]| {
        sluice()
            .env_remove("DBT_LOG_PATH")
            .args(args)
            .arg("--project-dir")
            .arg(p.path())
            .output()
            .expect("sluice runs")
    };
    let out = run(&["-q", "build", "--threads", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let log = p.path().join("logs/sluice.log");
    let text = std::fs::read_to_string(&log).expect("logs/sluice.log is written");
    // --quiet quiets the console, not the file: the passing nodes are there.
    assert!(
        text.contains("OK created sql table model main.customer_revenue"),
        "{text}"
    );
    assert!(text.contains("[error] [MainThread]: error"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour in the file");
    let line = regex::Regex::new(r"^\d\d:\d\d:\d\d\.\d{6} \[(info |warn |error)\] \[[^\]]+\]: ")
        .expect("valid regex");
    let header =
        regex::Regex::new(r"^={30} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \| [0-9a-f-]{36} ={30}$")
            .expect("valid regex");
    assert!(
        header.is_match(text.lines().next().unwrap_or_default()),
        "{text}"
    );
    // Every progress line is timestamped (a diagnostic's snippet lines follow its
    // timestamped first line).
    let progress: Vec<&str> = text.lines().filter(|l| l.contains(" ....")).collect();
    assert!(progress.len() >= 5, "{text}");
    for l in progress {
        assert!(line.is_match(l), "a line without a timestamp: {l:?}");
    }
    assert_eq!(text.lines().filter(|l| header.is_match(l)).count(), 1);
    let out = run(&["ls"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let again = std::fs::read_to_string(&log).expect("log still there");
    assert!(again.starts_with(&text), "the second run appends");
    assert_eq!(again.lines().filter(|l| header.is_match(l)).count(), 2);

    // --log-path and --log-format-file json: every line is an event.
    let logs = tempfile::tempdir().expect("temp dir");
    let out = run(&[
        "seed",
        "--log-path",
        &logs.path().display().to_string(),
        "--log-format-file",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json = std::fs::read_to_string(logs.path().join("sluice.log")).expect("log written");
    assert!(json.lines().count() >= 3, "{json}");
    for l in json.lines() {
        let v: Value = serde_json::from_str(l).expect("every line is JSON");
        assert!(v["info"]["name"].is_string(), "{l}");
    }
    assert!(json.contains("LogSeedResult"), "{json}");
}

#[test]
fn no_color_is_honoured_everywhere() {
    let p = broken_exec();
    let build = |no_color: bool| {
        let mut cmd = sluice();
        cmd.env_remove("NO_COLOR").env("CLICOLOR_FORCE", "1");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        cmd.args(["build", "--threads", "1", "--project-dir"])
            .arg(p.path())
            .output()
            .expect("sluice runs")
    };
    let coloured = build(false);
    assert!(stdout(&coloured).contains("\u{1b}["), "forced colour shows");
    assert!(stderr(&coloured).contains("\u{1b}["), "diagnostics too");
    let plain = build(true);
    assert!(!stdout(&plain).contains('\u{1b}'), "{}", stdout(&plain));
    assert!(!stderr(&plain).contains('\u{1b}'), "{}", stderr(&plain));
    // Piped without forcing: no colour either.
    let piped = run_in(p.path(), &["build", "--threads", "1"]);
    assert!(!stdout(&piped).contains('\u{1b}'));
}

#[test]
fn show_prints_numbers_as_people_write_them() {
    let p = project_copy("exec");
    let out = run_in(
        p.path(),
        &[
            "show",
            "--inline",
            "select * from (values (10234, 2024, 973415.3::decimal(18,6), 1.0::double / 3, 'EMEA'), \
             (7, 2025, 12.45::decimal(18,6), 0.5::double, null), \
             (1234567, 2026, -1234.5::decimal(18,6), null, 'AMER')) \
             as t(account_id, year, amount, rate, region) order by year",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("show_numbers", stdout(&out));
}

#[test]
fn metrics_query_groups_metric_values() {
    let p = project_copy("semantic");
    let out = run_in(p.path(), &["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_in(
        p.path(),
        &[
            "metrics",
            "query",
            "--metrics",
            "mrr,arr",
            "--grain",
            "quarter",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("14,400"), "{table}");
    insta::assert_snapshot!("metrics_query_table", table);
}

#[test]
fn metrics_list_as_json() {
    let p = project_copy("semantic");
    let out = run_in(
        p.path(),
        &["metrics", "list", "--domain", "sales", "--format", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let metrics = listed.as_array().expect("a list of metrics");
    assert!(!metrics.is_empty());
    assert!(metrics
        .iter()
        .all(|m| m["name"].is_string() && m["dimensions"].is_array()));
    insta::assert_snapshot!("metrics_list_sales_json", pretty(&listed));
}
