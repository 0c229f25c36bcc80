//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

/// The repository: cargo sets CARGO_MANIFEST_DIR when it runs the tests (read at run
/// time, so a test binary reused from another checkout still tests this one).
pub fn repo_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// The sluice binary, with no colour and no inherited secrets; its log file goes to
/// a shared temp folder, not into the fixtures of the repository.
pub fn sluice() -> Command {
    let mut cmd = Command::cargo_bin("sluice").expect("the sluice binary is built with the tests");
    cmd.env("NO_COLOR", "1")
        .env(
            "DBT_LOG_PATH",
            std::env::temp_dir().join("sluice-test-logs"),
        )
        .env_remove("DBT_QUIET")
        .env_remove("DBT_LOG_FORMAT")
        .env_remove("DBT_LOG_FORMAT_FILE")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("SLUICE_TEST_NEVER_SET");
    cmd
}

/// Copy a directory tree (fixtures are copied so tests never write into the repo).
pub fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("fixture tree is readable");
        let rel = entry
            .path()
            .strip_prefix(from)
            .expect("walkdir yields paths under its root");
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("create fixture dir");
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy fixture file");
        }
    }
}

/// A copy of a fixture project in a fresh temp dir.
pub fn project_copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture(name), dir.path());
    dir
}

pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    sluice()
        .args(args)
        .arg("--project-dir")
        .arg(dir)
        .output()
        .expect("sluice runs")
}

/// sluice in a dbt-layout fixture copy, with its `profiles/` folder.
pub fn sluice_in(dir: &Path, args: &[&str]) -> Output {
    sluice()
        .current_dir(dir)
        .args(args)
        .args(["--profiles-dir", "profiles"])
        .output()
        .expect("sluice runs")
}

/// dbt-core in a dbt-layout fixture copy, with its `profiles/` folder, no colour and
/// no usage tracking.
pub fn dbt_in(dbt: &Path, dir: &Path, args: &[&str]) -> Output {
    dbt_with(dbt, dir, &["--no-use-colors"], args)
}

/// [`dbt_in`] with `-q`: stdout holds only what the command prints (`ls`'s lines).
pub fn dbt_quiet_in(dbt: &Path, dir: &Path, args: &[&str]) -> Output {
    dbt_with(dbt, dir, &["--no-use-colors", "-q"], args)
}

fn dbt_with(dbt: &Path, dir: &Path, global: &[&str], args: &[&str]) -> Output {
    std::process::Command::new(dbt)
        .current_dir(dir)
        .args(global)
        .args(args)
        .args(["--profiles-dir", "profiles"])
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .output()
        .expect("dbt runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("artifact is JSON")
}

/// `unique_id → status` from run_results.json.
pub fn statuses(target: &Path) -> std::collections::BTreeMap<String, String> {
    let rr = read_json(&target.join("run_results.json"));
    rr["results"]
        .as_array()
        .expect("results is a list")
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap_or_default().to_owned(),
                r["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Query a DuckDB file, one string per cell.
pub fn query(db: &Path, sql: &str) -> Vec<Vec<String>> {
    let conn = duckdb::Connection::open(db).expect("open duckdb file");
    let wrapped = format!("select columns(*)::varchar from ({sql})");
    let mut stmt = conn.prepare(&wrapped).expect("prepare");
    let mut rows = stmt.query([]).expect("query");
    let mut out = Vec::new();
    while let Some(row) = rows.next().expect("row") {
        let n = row.as_ref().column_count();
        out.push(
            (0..n)
                .map(|i| {
                    row.get::<_, Option<String>>(i)
                        .expect("cell")
                        .unwrap_or_else(|| "NULL".into())
                })
                .collect(),
        );
    }
    out
}
