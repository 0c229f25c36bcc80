//! The bad-input corpus: every case exits 2 with a located, snapshotted error,
//! never panics or aborts (exit 2 is a normal exit, not a signal) and takes under 10 s.

use crate::common::{copy_dir, fixture, sluice, stderr};

#[test]
fn every_bad_input_exits_2_with_a_located_error() {
    let root = fixture("bad");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("corpus exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    for case in cases {
        let name = case
            .file_name()
            .expect("case has a name")
            .to_string_lossy()
            .into_owned();
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&case, dir.path());
        let args = std::fs::read_to_string(case.join("args")).expect("every case has an args file");
        let started = std::time::Instant::now();
        let output = sluice()
            .args(args.split_whitespace())
            .arg("--project-dir")
            .arg(dir.path())
            .output()
            .expect("sluice runs");
        let took = started.elapsed();
        let err = stderr(&output);
        assert!(
            took < std::time::Duration::from_secs(10),
            "case {name} took {took:?}: no case may take over 10 s"
        );
        assert_eq!(
            output.status.code(),
            Some(2),
            "case {name}: exit code\n{err}"
        );
        assert!(!err.contains("panicked"), "case {name} panicked:\n{err}");
        assert!(
            err.contains("error"),
            "case {name} printed no error:\n{err}"
        );
        let shown = err.replace(&dir.path().display().to_string(), "[PROJECT]");
        insta::assert_snapshot!(format!("bad__{name}"), shown);
    }
}

/// What dbt-core 1.11 does with a bad-input case.
enum Dbt {
    /// Refuses it: fails with this text in its output.
    Refuses(&'static str),
    /// Accepts it (sluice refuses on purpose; see docs/dbt-compatibility.md).
    Accepts,
}

/// The cases of "Refused before anything runs" in docs/dbt-compatibility.md, each
/// run by dbt-core on the same files: where dbt refuses, sluice refuses too;
/// where dbt accepts (and builds something wrong), the table says why sluice
/// differs. (case, dbt command, what dbt does)
const AGAINST_DBT: &[(&str, &str, Dbt)] = &[
    (
        "alias_is_another_model",
        "parse",
        Dbt::Refuses("dbt found two resources with the database representation"),
    ),
    ("models_differ_by_case", "parse", Dbt::Accepts),
    ("properties_tags_a_number", "parse", Dbt::Accepts),
    (
        "threads_zero",
        "run",
        Dbt::Refuses("max_workers must be greater than 0"),
    ),
    (
        "config_tree_wrong_type",
        "parse",
        Dbt::Refuses("'yes' is not of type 'boolean'"),
    ),
    (
        "config_call_wrong_type",
        "parse",
        Dbt::Refuses("at path ['full_refresh']"),
    ),
    (
        "properties_config_wrong_type",
        "parse",
        Dbt::Refuses("at path ['tags']"),
    ),
    (
        "properties_description_not_a_string",
        "parse",
        Dbt::Refuses("3 is not of type 'string'"),
    ),
    (
        "properties_meta_not_a_mapping",
        "parse",
        Dbt::Refuses("3 is not of type 'object'"),
    ),
    (
        "seed_empty_delimiter",
        "seed",
        Dbt::Refuses("\"delimiter\" must be a 1-character string"),
    ),
    (
        "seed_delimiter_two_characters",
        "seed",
        Dbt::Refuses("\"delimiter\" must be a 1-character string"),
    ),
    (
        "seed_duplicate_header",
        "seed",
        Dbt::Refuses("already exists"),
    ),
    ("model_two_statements", "run", Dbt::Refuses("syntax error")),
    ("model_only_a_comment", "run", Dbt::Refuses("syntax error")),
    ("empty_alias", "run", Dbt::Accepts),
    ("empty_schema", "run", Dbt::Accepts),
    (
        "empty_database",
        "run",
        Dbt::Refuses("zero-length delimited identifier"),
    ),
];

/// A bad-input case (sluice's `project.yml` with its `targets:`) as a dbt project:
/// `dbt_project.yml` with the rest of project.yml, `profiles.yml` with the targets.
fn as_dbt_project(case: &std::path::Path, to: &std::path::Path) {
    copy_dir(case, to);
    let text = std::fs::read_to_string(to.join("project.yml")).expect("project.yml");
    std::fs::remove_file(to.join("project.yml")).expect("remove project.yml");
    let (mut project, mut outputs) = (vec!["profile: bad".to_owned()], Vec::new());
    let mut in_targets = false;
    for line in text.lines() {
        if in_targets && line.starts_with(' ') {
            outputs.push(format!("    {line}"));
            continue;
        }
        in_targets = line.starts_with("targets:");
        if !line.starts_with("target") {
            project.push(line.to_owned());
        }
    }
    std::fs::write(to.join("dbt_project.yml"), project.join("\n") + "\n").expect("dbt_project");
    let profiles = format!("bad:\n  target: dev\n  outputs:\n{}\n", outputs.join("\n"));
    std::fs::write(to.join("profiles.yml"), profiles).expect("profiles.yml");
}

#[test]
fn refusals_are_compared_with_dbt_core() {
    let Some(dbt) = crate::dbt_compare::dbt_binary() else {
        return;
    };
    for (name, command, expected) in AGAINST_DBT {
        let dir = tempfile::tempdir().expect("temp dir");
        as_dbt_project(&fixture("bad").join(name), dir.path());
        let out = std::process::Command::new(&dbt)
            .current_dir(dir.path())
            .args(["--no-use-colors", command, "--profiles-dir", "."])
            .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
            .output()
            .expect("dbt runs");
        let text = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
        match expected {
            Dbt::Refuses(what) => {
                assert!(!out.status.success(), "{name}: dbt accepts it:\n{text}");
                assert!(text.contains(what), "{name}: dbt says\n{text}");
            }
            Dbt::Accepts => assert!(out.status.success(), "{name}: dbt refuses it:\n{text}"),
        }
    }
}
