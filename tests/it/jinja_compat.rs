//! dbt's non-introspective Jinja (issue 16 item 3): Python's mutating list/dict
//! methods, the base-context functions and `modules`, on the `jinja_compat`
//! fixture — compiled SQL and rows, and the same files compiled by dbt-core.

use std::path::Path;

use crate::common::{project_copy, query, repo_root, run_in, stderr, stdout};

/// The fixture's models: each exercises one family of constructs.
const MODELS: &[&str] = &[
    "list_append",
    "list_methods",
    "dict_methods",
    "conditional_do",
    "macro_lists",
    "functions",
    "modules_re",
    "modules_itertools",
    "modules_datetime",
    "extra_args",
    "none_defaults",
    "var_jinja",
];

fn compiled(dir: &Path, model: &str) -> String {
    let path = dir.join(format!("target/compiled/jinja_compat/models/{model}.sql"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Lines without blank ones or indentation: "equal modulo whitespace".
fn normalized(sql: &str) -> Vec<String> {
    sql.lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn jinja_compat_builds_with_the_expected_sql_and_rows() {
    let tmp = project_copy("jinja_compat");
    let out = run_in(tmp.path(), &["build"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let db = tmp.path().join("jinja_compat.duckdb");
    for model in MODELS {
        let sql = compiled(tmp.path(), model);
        let rows = query(&db, &format!("select * from main.{model}"));
        insta::assert_snapshot!(
            format!("jinja_compat__{model}"),
            format!("{}\n-- rows:\n{rows:?}", normalized(&sql).join("\n"))
        );
    }
}

/// dbt-core from the repo's `.venv` (scripts/test installs it), or None.
fn dbt() -> Option<std::path::PathBuf> {
    let bin = repo_root().join(".venv/bin/dbt");
    if bin.is_file() {
        return Some(bin);
    }
    if std::env::var("SLUICE_REQUIRE_DBT").as_deref() == Ok("1") {
        panic!(
            "SLUICE_REQUIRE_DBT=1 but {} is missing: run scripts/test",
            bin.display()
        );
    }
    eprintln!(
        "skipped: {} is missing (scripts/test installs dbt-core)",
        bin.display()
    );
    None
}

#[test]
fn jinja_compat_compiles_as_dbt_core_does() {
    let Some(dbt) = dbt() else { return };
    let ours = project_copy("jinja_compat");
    let out = run_in(ours.path(), &["compile"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let theirs = project_copy("jinja_compat");
    std::fs::remove_file(theirs.path().join("project.yml")).expect("remove project.yml");
    let out = std::process::Command::new(&dbt)
        .args(["compile", "--profiles-dir", ".", "--no-partial-parse"])
        .current_dir(theirs.path())
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .output()
        .expect("dbt runs");
    assert!(
        out.status.success(),
        "dbt compile failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for model in MODELS {
        assert_eq!(
            normalized(&compiled(ours.path(), model)),
            normalized(&compiled(theirs.path(), model)),
            "model {model}: sluice's compiled SQL differs from dbt-core's"
        );
    }
}

fn one_model(sql: &str) -> tempfile::TempDir {
    let tmp = project_copy("jinja_compat");
    for m in MODELS {
        std::fs::remove_file(tmp.path().join(format!("models/{m}.sql"))).expect("remove model");
    }
    std::fs::write(tmp.path().join("models/m.sql"), sql).expect("write model");
    tmp
}

#[test]
fn errors_after_a_rewritten_literal_point_at_the_original_column() {
    let tmp = one_model("{% set l = [1] %}{% set d = {'a': [2]} %}\nselect {{ l.nope() }}\n");
    let out = run_in(tmp.path(), &["compile"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("models/m.sql:2:12"), "{err}");
    assert!(err.contains("has no method named nope"), "{err}");
}

#[test]
fn mutating_a_filter_result_says_how_to_get_a_list() {
    let tmp = one_model("{% do (['a'] | map('upper') | list).append('b') %}select 1 as x\n");
    let out = run_in(tmp.path(), &["compile"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("cannot be changed in place"), "{err}");
    assert!(err.contains("models/m.sql:1:"), "{err}");
}

#[test]
fn exceptions_warn_is_a_located_warning() {
    let tmp = one_model("{% do exceptions.warn('watch out') %}select 1 as x\n");
    let out = run_in(tmp.path(), &["compile"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("warning: watch out"), "{err}");
    assert!(err.contains("models/m.sql:1:"), "{err}");
    assert_eq!(
        err.matches("warning: watch out").count(),
        1,
        "shown once: {err}"
    );
}

#[test]
fn flags_invocation_id_and_dbt_version_render() {
    let tmp = one_model(
        "select '{{ flags.WHICH }}' as which, {{ flags.FULL_REFRESH }} as fr, \
         '{{ invocation_id | length }}' as id_len, '{{ dbt_version }}' as v, \
         '{{ run_started_at.strftime('%Y-%m-%d') }}' as day\n",
    );
    let out = run_in(tmp.path(), &["compile"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sql = compiled(tmp.path(), "m");
    assert!(
        sql.contains("'compile' as which, False as fr, '36' as id_len, '1.11.0' as v"),
        "{sql}"
    );
    let manifest = crate::common::read_json(&tmp.path().join("target/manifest.json"));
    let day = &manifest["metadata"]["generated_at"]
        .as_str()
        .unwrap_or_default()[..10];
    assert!(sql.contains(&format!("'{day}' as day")), "{sql}");
}

/// dbt: `env_var('X', none)` has no default ("Env var required but not provided"),
/// unlike `var('x', none)` (the `none_defaults` model).
#[test]
fn env_var_with_a_none_default_is_still_required() {
    let tmp = one_model("select '{{ env_var('SLUICE_TEST_NEVER_SET', none) }}' as x\n");
    let out = run_in(tmp.path(), &["compile"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("SLUICE_TEST_NEVER_SET"), "{err}");
    assert!(err.contains("models/m.sql:1:"), "{err}");
}
