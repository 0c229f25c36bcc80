//! What sluice cannot run (issue 16, item 6): a Python model, a custom
//! materialization, an unknown materialization, a dispatch to one of dbt-core's
//! macros sluice lacks. Each is an error of its node alone: the node is ERROR, its
//! descendants are skipped, the rest builds and the exit code is 1. The fixture
//! (`tests/fixtures/unsupported`, dbt's layout) also overrides
//! `generate_alias_name` and `generate_database_name`; its relations and run
//! statuses are compared with dbt-core's.

use std::path::Path;

use std::process::Output;

use crate::common::{project_copy, query, read_json, statuses, stderr, stdout};

/// Run sluice on the fixture copy in `dir`, with its profiles.yml.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    let profiles = dir.display().to_string();
    all.extend(["--profiles-dir", &profiles]);
    crate::common::run_in(dir, &all)
}

/// The build's stderr with the temporary folder and timings taken out.
fn shown(err: &str, dir: &Path) -> String {
    let re = regex::Regex::new(r"\d+\.\d+s").expect("static regex is valid");
    re.replace_all(
        &err.replace(&dir.display().to_string(), "[PROJECT]"),
        "[T]s",
    )
    .into_owned()
}

#[test]
fn what_sluice_cannot_run_fails_alone_and_the_rest_builds() {
    let dir = project_copy("unsupported");
    let out = run_in(dir.path(), &["build", "--threads", "1"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}\n{err}", stdout(&out));
    let s = statuses(&dir.path().join("target"));
    let expected = [
        ("model.unsupported.py_people", "error"),
        ("model.unsupported.after_python", "skipped"),
        ("model.unsupported.custom_materialized", "error"),
        ("model.unsupported.unknown_materialized", "error"),
        ("model.unsupported.missing_dispatch", "error"),
        ("model.unsupported.people", "success"),
        ("model.unsupported.aliased", "success"),
        ("model.unsupported.in_other", "success"),
        ("model.unsupported.in_schema", "success"),
        ("seed.unsupported.raw_people", "success"),
    ];
    let got: Vec<(&str, &str)> = expected
        .iter()
        .map(|(id, _)| (*id, s.get(*id).map_or("missing", String::as_str)))
        .collect();
    assert_eq!(got, expected, "{err}");
    // The errors, located (the file and line of each), in one snapshot.
    insta::assert_snapshot!("unsupported__build", shown(&err, dir.path()));
    for located in [
        "models/py_people.py:1:",
        "models/custom_materialized.sql:1:",
        "macros/my_materialization.sql:1:",
        "models/unknown_materialized.sql:1:",
        "models/missing_dispatch.sql:3:",
    ] {
        assert!(err.contains(located), "no {located} in:\n{err}");
    }
    // The rest built, under the names the overrides give.
    let db = dir.path().join("dev.duckdb");
    assert_eq!(
        query(&db, "select name from main.m_people order by id"),
        [["Ada"], ["Grace"]]
    );
    assert_eq!(
        query(&db, "select count(*) from main.people_alias"),
        [["2"]]
    );
    assert_eq!(
        query(
            &dir.path().join("other.duckdb"),
            "select n from main.m_in_other"
        ),
        [["2"]]
    );
    assert_eq!(
        query(&db, "select count(*) from main_extra.m_in_schema"),
        [["2"]]
    );
}

#[test]
fn a_python_model_is_a_node_with_its_refs_and_config() {
    let dir = project_copy("unsupported");
    let out = run_in(dir.path(), &["parse"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let manifest = read_json(&dir.path().join("target/manifest.json"));
    let py = &manifest["nodes"]["model.unsupported.py_people"];
    assert_eq!(py["language"], "python");
    assert_eq!(py["config"]["materialized"], "table");
    assert_eq!(py["config"]["tags"], serde_json::json!(["python"]));
    assert_eq!(
        py["depends_on"]["nodes"],
        serde_json::json!(["seed.unsupported.raw_people"])
    );
    assert!(py["raw_code"]
        .as_str()
        .is_some_and(|c| c.contains("def model(dbt, session)")));
    let after = &manifest["nodes"]["model.unsupported.after_python"];
    assert_eq!(
        after["depends_on"]["nodes"],
        serde_json::json!(["model.unsupported.py_people"])
    );
    // Selectable like any model: `ls` lists it, `-s` picks it, `+` follows its refs.
    let ls = run_in(dir.path(), &["ls", "-s", "+after_python", "-o", "name"]);
    assert!(ls.status.success(), "{}", stderr(&ls));
    let names = stdout(&ls);
    for n in ["raw_people", "py_people", "after_python"] {
        assert!(names.lines().any(|l| l.trim() == n), "{n} in:\n{names}");
    }
    let custom = &manifest["nodes"]["model.unsupported.custom_materialized"];
    assert_eq!(custom["config"]["materialized"], "my_materialization");
    // The materialization block is kept as dbt's macro, not run.
    assert!(
        manifest["macros"]
            .as_object()
            .expect("macros")
            .keys()
            .any(|k| k.ends_with("materialization_my_materialization_default")),
        "no materialization macro in the manifest"
    );
}

#[test]
fn relations_and_statuses_match_dbt_core() {
    let dir = crate::common::fixture("unsupported");
    let Some(s) = crate::dbt_compare::compare_failing_builds_with_dbt(&dir, &dir, &[]) else {
        return;
    };
    // dbt-duckdb runs Python models, custom materializations and every dbt-core
    // macro: those (and the Python model's descendant) are the differences.
    let differ = [
        "model.unsupported.py_people",
        "model.unsupported.after_python",
        "model.unsupported.custom_materialized",
        "model.unsupported.missing_dispatch",
    ];
    for (id, theirs) in &s.dbt {
        let ours = s.sluice.get(id).map_or("missing", String::as_str);
        if differ.contains(&id.as_str()) {
            assert_eq!(theirs, "success", "dbt's {id}");
            assert_ne!(ours, "success", "sluice's {id}");
        } else {
            assert_eq!(ours, theirs, "{id}: sluice's status vs dbt's");
        }
    }
    assert_eq!(s.dbt["model.unsupported.unknown_materialized"], "error");
    assert_eq!(s.sluice.len(), s.dbt.len(), "{:?}\n{:?}", s.sluice, s.dbt);
}

#[test]
fn a_missing_dbt_macro_is_found_at_parse_and_fails_only_its_node() {
    // One of dbt-core's `dbt` macros: the parse succeeds, the node fails. (A
    // missing macro of the project's own namespace stops the parse, as in dbt:
    // bad/dispatch_missing_macro in the bad-input corpus.)
    let dir = project_copy("unsupported");
    let out = run_in(dir.path(), &["parse"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let compile = run_in(dir.path(), &["compile", "-s", "missing_dispatch", "people"]);
    // `compile` reports every node's compile error as its own.
    assert!(!compile.status.success(), "{}", stderr(&compile));
    let err = stderr(&compile);
    assert!(
        err.contains("In dispatch: No macro named 'get_batch_size' found within namespace: 'dbt'"),
        "{err}"
    );
    assert!(
        dir.path()
            .join("target/compiled/unsupported/models/people.sql")
            .is_file(),
        "people compiles"
    );
}
