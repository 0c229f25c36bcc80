//! Limits (docs/limits.md) and confinement: input too large to commit as a
//! bad-input case is generated here; large but legitimate input must still be
//! accepted, and quickly; nothing is written or deleted outside the project.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{run_in, stderr};

fn write_project(dir: &Path, extra: &str) {
    for d in ["models", "macros", "seeds"] {
        std::fs::create_dir_all(dir.join(d)).expect("project dir");
    }
    std::fs::write(
        dir.join("project.yml"),
        format!(
            "name: limits\nversion: \"1.0\"\ntarget-path: target\ntarget: dev\n{extra}\
             targets:\n  dev: {{type: duckdb, path: limits.duckdb, schema: main, threads: 1}}\n"
        ),
    )
    .expect("project.yml");
}

/// Run sluice, asserting it ends (no signal) within `limit`.
fn timed(dir: &Path, args: &[&str], limit: Duration) -> std::process::Output {
    let started = Instant::now();
    let out = run_in(dir, args);
    let took = started.elapsed();
    assert!(took < limit, "{args:?} took {took:?}\n{}", stderr(&out));
    assert!(
        out.status.code().is_some(),
        "{args:?} was killed by a signal:\n{}",
        stderr(&out)
    );
    out
}

#[test]
fn a_30000_branch_union_all_checks() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_project(dir.path(), "");
    let branches: Vec<String> = (0..30_000).map(|i| format!("select {i} as x")).collect();
    std::fs::write(
        dir.path().join("models/wide_union.sql"),
        branches.join("\nunion all\n"),
    )
    .expect("model");
    let out = timed(dir.path(), &["compile"], Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_long_flat_expression_checks() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_project(dir.path(), "");
    let sum = vec!["1"; 50_000].join(" + ");
    std::fs::write(
        dir.path().join("models/long_sum.sql"),
        format!("select {sum} as x"),
    )
    .expect("model");
    let out = timed(dir.path(), &["compile"], Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn macros_nested_150_deep_render() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_project(dir.path(), "");
    std::fs::write(
        dir.path().join("macros/countdown.sql"),
        "{% macro countdown(n) %}{% if n == 0 %}0{% else %}{{ countdown(n - 1) }}{% endif %}{% endmacro %}\n\
         {% macro ping(n) %}{% if n == 0 %}1{% else %}{{ pong(n - 1) }}{% endif %}{% endmacro %}\n\
         {% macro pong(n) %}{{ ping(n) }}{% endmacro %}\n",
    )
    .expect("macro");
    std::fs::write(
        dir.path().join("models/deep.sql"),
        "select {{ countdown(150) }} as a, {{ ping(75) }} as b",
    )
    .expect("model");
    let out = timed(dir.path(), &["compile"], Duration::from_secs(30));
    assert!(out.status.success(), "{}", stderr(&out));
    let compiled =
        std::fs::read_to_string(dir.path().join("target/compiled/limits/models/deep.sql"))
            .expect("compiled file");
    assert_eq!(compiled.trim(), "select 0 as a, 1 as b");
}

#[test]
fn a_mapping_of_100000_keys_loads_in_seconds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let vars: String = (0..100_000).map(|i| format!("  v{i}: {i}\n")).collect();
    write_project(dir.path(), &format!("vars:\n{vars}"));
    std::fs::write(
        dir.path().join("models/a.sql"),
        "select {{ var('v99999') }} as x",
    )
    .expect("model");
    let out = timed(dir.path(), &["compile"], Duration::from_secs(10));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_yaml_file_over_64_mib_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_project(dir.path(), "");
    std::fs::write(dir.path().join("models/a.sql"), "select 1 as x").expect("model");
    let padding = format!("# {}\n", "x".repeat(1 << 20)).repeat(65);
    std::fs::write(
        dir.path().join("models/_big.yml"),
        format!("version: 2\n{padding}"),
    )
    .expect("yaml");
    let out = timed(dir.path(), &["parse"], Duration::from_secs(10));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("more than the 64 MiB"), "{err}");
    assert!(err.contains("models/_big.yml"), "{err}");
}

#[test]
fn one_very_wide_csv_row_fails_fast() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_project(dir.path(), "");
    let row = vec!["1"; 1_000_000].join(",");
    std::fs::write(dir.path().join("seeds/wide.csv"), format!("a,b,c\n{row}\n")).expect("seed");
    let out = timed(dir.path(), &["seed"], Duration::from_secs(10));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("seeds/wide.csv:2"), "{err}");

    let header = (0..1_000_000)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    std::fs::write(dir.path().join("seeds/wide.csv"), format!("{header}\n")).expect("seed");
    let out = timed(dir.path(), &["seed"], Duration::from_secs(10));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("more than sluice loads (4096)"), "{err}");
}

#[cfg(unix)]
#[test]
fn clean_does_not_follow_a_target_path_symlinked_out_of_the_project() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("precious.txt"), "keep me").expect("file");
    write_project(dir.path(), "");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("target")).expect("symlink");
    let out = timed(dir.path(), &["clean"], Duration::from_secs(10));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("a symlink leads it out of the project"),
        "{err}"
    );
    assert!(
        outside.path().join("precious.txt").exists(),
        "clean deleted outside the project"
    );
}

#[cfg(unix)]
#[test]
fn clean_does_not_follow_a_folder_symlinked_out_of_the_project() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(outside.path().join("target")).expect("dir");
    std::fs::write(outside.path().join("target/precious.txt"), "keep me").expect("file");
    write_project(dir.path(), "clean-targets: [build/target]\n");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("build")).expect("symlink");
    let out = timed(dir.path(), &["clean"], Duration::from_secs(10));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("a symlink leads it out of the project"),
        "{err}"
    );
    assert!(outside.path().join("target/precious.txt").exists());
}

#[cfg(unix)]
#[test]
fn a_symlink_inside_the_target_path_does_not_lead_writes_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outside = tempfile::tempdir().expect("temp dir");
    write_project(dir.path(), "");
    std::fs::write(dir.path().join("models/a.sql"), "select 1 as x").expect("model");
    std::fs::create_dir_all(dir.path().join("target")).expect("target");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("target/compiled"))
        .expect("symlink");
    let out = timed(dir.path(), &["compile"], Duration::from_secs(30));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("symlink"), "{err}");
    let written: Vec<_> = walkdir::WalkDir::new(outside.path())
        .min_depth(1)
        .into_iter()
        .collect();
    assert!(written.is_empty(), "wrote outside the project: {written:?}");
}

#[test]
fn a_unit_test_named_to_climb_out_writes_nothing_outside() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("project");
    write_project(&dir, "");
    std::fs::write(dir.join("models/a.sql"), "select 1 as id").expect("model");
    std::fs::write(
        dir.join("models/_ut.yml"),
        "version: 2\nunit_tests:\n  - name: ../../../../../escaped\n    model: a\n    given: []\n    expect:\n      rows: [{id: 1}]\n",
    )
    .expect("unit test");
    let out = timed(&dir, &["build"], Duration::from_secs(30));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not a valid name"), "{err}");
    let escaped: Vec<_> = walkdir::WalkDir::new(root.path())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("escaped"))
        .collect();
    assert!(escaped.is_empty(), "{escaped:?}");
}

#[test]
fn a_string_doubled_in_a_loop_ends_at_the_memory_budget() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_project(dir.path(), "");
    std::fs::write(
        dir.path().join("models/a.sql"),
        "{% set ns = namespace(s='x') %}\
         {% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}\
         select {{ ns.s | length }} as x",
    )
    .expect("model");
    let started = Instant::now();
    let out = crate::common::sluice()
        .env("SLUICE_MEMORY_LIMIT_MIB", "512")
        .args(["compile", "--project-dir"])
        .arg(dir.path())
        .output()
        .expect("sluice runs");
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("ran out of memory"), "{err}");
    assert!(err.contains("models/a.sql"), "{err}");
}
