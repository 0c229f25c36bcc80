//! The parse cache (`target/partial_parse.bin`): a re-parse reuses the results of
//! unchanged model files, and never a stale one. Each test changes one input the
//! cache depends on, checks the manifest shows the change, and checks the cached
//! parse writes exactly the manifest a full parse (`--no-partial-parse`) writes.

use std::path::Path;

use serde_json::Value;

use crate::common::{read_json, run_in, stderr, stdout};

fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

const PROJECT_YML: &str = "name: pp\nversion: \"1.0\"\ntarget-path: target\nvars:\n  mat: view\ntarget: dev\ntargets:\n  dev: {type: duckdb, path: target/dev.duckdb, schema: main}\n  other: {type: duckdb, path: target/other.duckdb, schema: other}\n";

/// a (materialization from a var, tags from a macro and an env var) ← b; c alone.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = dir.path();
    write(p, "project.yml", PROJECT_YML);
    write(
        p,
        "macros/tags.sql",
        "{% macro team_tag() %}growth{% endmacro %}\n{% macro cents(x) %}({{ x }} * 100){% endmacro %}\n",
    );
    write(
        p,
        "models/a.sql",
        "{{ config(materialized=var('mat'), tags=[team_tag(), env_var('PP_TEST_TAG', 'untagged')]) }}\nselect {{ cents('1') }} as v",
    );
    write(p, "models/b.sql", "select v + 1 as w from {{ ref('a') }}");
    write(p, "models/c.sql", "select 3 as c");
    write(
        p,
        "models/_models.yml",
        "version: 2\nmodels:\n  - name: a\n    description: the first\n    columns:\n      - name: v\n        tests: [not_null]\n",
    );
    dir
}

/// `sluice parse` with the cache; returns (manifest without metadata, stdout).
fn parse(p: &Path, extra: &[&str]) -> (Value, String) {
    parse_with(p, extra, &[])
}

fn parse_with(p: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Value, String) {
    let (m, out, _) = parse_traced(p, extra, env);
    (m, out)
}

/// Also returns stderr, where SLUICE_PARSE_TRACE says which way the parse went.
fn parse_traced(p: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Value, String, String) {
    let mut cmd = crate::common::sluice();
    cmd.arg("parse").args(extra).arg("--project-dir").arg(p);
    cmd.env_remove("PP_TEST_TAG").env("SLUICE_PARSE_TRACE", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("sluice runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let mut m = read_json(&p.join("target/manifest.json"));
    m.as_object_mut().expect("object").remove("metadata");
    (m, stdout(&out), stderr(&out))
}

/// Parse with the cache, then without it: both manifests (and sluice_state.json)
/// must be the same. Returns the manifest and what the cached parse printed.
fn parse_checked(p: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Value, String) {
    let (m, out, _) = parse_checked_traced(p, extra, env);
    (m, out)
}

fn parse_checked_traced(p: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Value, String, String) {
    let (cached, out, err) = parse_traced(p, extra, env);
    let state = std::fs::read(p.join("target/sluice_state.json")).expect("state file");
    let mut full_args = extra.to_vec();
    full_args.push("--no-partial-parse");
    let (full, _) = parse_with(p, &full_args, env);
    assert_eq!(cached, full, "the cached parse differs from a full parse");
    let full_state = std::fs::read(p.join("target/sluice_state.json")).expect("state file");
    assert_eq!(
        String::from_utf8_lossy(&state),
        String::from_utf8_lossy(&full_state)
    );
    (cached, out, err)
}

fn node<'a>(m: &'a Value, id: &str) -> &'a Value {
    &m["nodes"][id]
}

fn reused(out: &str) -> usize {
    // "Parsed 5 nodes in 0.01s (2 of 3 model files from the parse cache); wrote ..."
    out.split(" of ")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn an_unchanged_project_is_parsed_from_the_cache() {
    let dir = project();
    let p = dir.path();
    let (first, out) = parse(p, &[]);
    assert_eq!(reused(&out), 0, "{out}");
    assert!(p.join("target/partial_parse.bin").is_file());
    let (second, out) = parse_checked(p, &[], &[]);
    assert_eq!(reused(&out), 3, "{out}");
    assert_eq!(first, second);
}

#[test]
fn an_edited_model_is_parsed_again_and_its_new_ref_shows() {
    let dir = project();
    let p = dir.path();
    parse(p, &[]);
    write(p, "models/c.sql", "select c from {{ ref('b') }}");
    let (m, out) = parse_checked(p, &[], &[]);
    assert_eq!(reused(&out), 2, "{out}");
    assert_eq!(
        node(&m, "model.pp.c")["depends_on"]["nodes"],
        serde_json::json!(["model.pp.b"])
    );
    assert_eq!(
        m["child_map"]["model.pp.b"],
        serde_json::json!(["model.pp.c"])
    );
    // And again: the edit is not forgotten on the next parse.
    let (again, _) = parse_checked(p, &[], &[]);
    assert_eq!(again, m);
}

#[test]
fn adding_and_deleting_model_files() {
    let dir = project();
    let p = dir.path();
    parse(p, &[]);
    write(p, "models/d.sql", "select * from {{ ref('c') }}");
    let (m, _) = parse_checked(p, &[], &[]);
    assert!(node(&m, "model.pp.d").is_object());
    std::fs::remove_file(p.join("models/d.sql")).expect("rm");
    let (m, _) = parse_checked(p, &[], &[]);
    assert!(node(&m, "model.pp.d").is_null());
    assert!(m["child_map"]["model.pp.c"]
        .as_array()
        .expect("list")
        .is_empty());
    // Deleting a model another one refs is an error, cache or not.
    std::fs::remove_file(p.join("models/a.sql")).expect("rm");
    let out = run_in(p, &["parse"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("refers to `a`"), "{}", stderr(&out));
}

#[test]
fn a_var_in_project_yml_invalidates_the_cache() {
    let dir = project();
    let p = dir.path();
    let (m, _) = parse(p, &[]);
    assert_eq!(node(&m, "model.pp.a")["config"]["materialized"], "view");
    write(
        p,
        "project.yml",
        &PROJECT_YML.replace("mat: view", "mat: table"),
    );
    let (m, out) = parse_checked(p, &[], &[]);
    assert_eq!(reused(&out), 0, "{out}");
    assert_eq!(node(&m, "model.pp.a")["config"]["materialized"], "table");
}

#[test]
fn cli_vars_invalidate_the_cache() {
    let dir = project();
    let p = dir.path();
    parse(p, &[]);
    let (m, _) = parse_checked(p, &["--vars", "{mat: table}"], &[]);
    assert_eq!(node(&m, "model.pp.a")["config"]["materialized"], "table");
    let (m, _) = parse_checked(p, &[], &[]);
    assert_eq!(node(&m, "model.pp.a")["config"]["materialized"], "view");
}

#[test]
fn project_yml_settings_invalidate_the_cache() {
    let dir = project();
    let p = dir.path();
    parse(p, &[]);
    let tagged = format!("{PROJECT_YML}models:\n  pp:\n    +tags: [nightly]\n");
    write(p, "project.yml", &tagged);
    let (m, _) = parse_checked(p, &[], &[]);
    assert_eq!(
        node(&m, "model.pp.c")["tags"],
        serde_json::json!(["nightly"])
    );
}

#[test]
fn a_macro_change_invalidates_the_cache() {
    let dir = project();
    let p = dir.path();
    let (m, _) = parse(p, &[]);
    assert_eq!(
        node(&m, "model.pp.a")["tags"],
        serde_json::json!(["growth", "untagged"])
    );
    write(
        p,
        "macros/tags.sql",
        "{% macro team_tag() %}revenue{% endmacro %}\n{% macro cents(x) %}({{ x }} * 100){% endmacro %}\n",
    );
    let (m, _) = parse_checked(p, &[], &[]);
    assert_eq!(
        node(&m, "model.pp.a")["tags"],
        serde_json::json!(["revenue", "untagged"])
    );
}

#[test]
fn a_yaml_properties_change_invalidates_the_cache() {
    let dir = project();
    let p = dir.path();
    parse(p, &[]);
    write(
        p,
        "models/_models.yml",
        "version: 2\nmodels:\n  - name: a\n    description: the first, revised\n    config: {alias: a_table}\n    columns:\n      - name: v\n        tests: [not_null, unique]\n",
    );
    let (m, _) = parse_checked(p, &[], &[]);
    let a = node(&m, "model.pp.a");
    assert_eq!(a["description"], "the first, revised");
    assert_eq!(a["alias"], "a_table");
    let tests: Vec<&String> = m["nodes"]
        .as_object()
        .expect("nodes")
        .keys()
        .filter(|k| k.starts_with("test.pp.unique_a_v"))
        .collect();
    assert_eq!(tests.len(), 1, "the new test is a node");
}

#[test]
fn another_target_invalidates_the_cache() {
    let dir = project();
    let p = dir.path();
    let (m, _) = parse(p, &[]);
    assert_eq!(node(&m, "model.pp.c")["schema"], "main");
    let (m, out) = parse_checked(p, &["-t", "other"], &[]);
    assert_eq!(reused(&out), 0, "{out}");
    assert_eq!(node(&m, "model.pp.c")["schema"], "other");
    let (m, _) = parse_checked(p, &[], &[]);
    assert_eq!(node(&m, "model.pp.c")["schema"], "main");
}

#[test]
fn an_environment_variable_a_model_read_invalidates_the_cache() {
    let dir = project();
    let p = dir.path();
    parse(p, &[]);
    let (m, _) = parse_checked(p, &[], &[("PP_TEST_TAG", "hot")]);
    assert_eq!(
        node(&m, "model.pp.a")["tags"],
        serde_json::json!(["growth", "hot"])
    );
    let (m, _) = parse_checked(p, &[], &[]);
    assert_eq!(
        node(&m, "model.pp.a")["tags"],
        serde_json::json!(["growth", "untagged"])
    );
}

#[test]
fn a_corrupt_or_foreign_cache_is_ignored() {
    let dir = project();
    let p = dir.path();
    let (good, _) = parse(p, &[]);
    let cache = p.join("target/partial_parse.bin");
    let bytes = std::fs::read(&cache).expect("cache");
    // Truncated, one byte flipped, garbage, empty: each falls back to a full parse.
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    for broken in [
        bytes[..bytes.len() / 2].to_vec(),
        flipped,
        b"not a cache at all".to_vec(),
        Vec::new(),
    ] {
        std::fs::write(&cache, &broken).expect("write cache");
        let (m, out) = parse_checked(p, &[], &[]);
        assert_eq!(reused(&out), 0, "{out}");
        assert_eq!(m, good);
    }
}

#[test]
fn the_fast_path_patches_the_manifest_for_edited_models() {
    let dir = project();
    let p = dir.path();
    parse(p, &[]);
    // Same refs, new body, new config, and now a var read: patched in place.
    write(
        p,
        "models/b.sql",
        "{{ config(materialized='table', tags=['edited']) }}\nselect v + {{ var('mat') | length }} as w from {{ ref('a') }}",
    );
    let (m, out, err) = parse_checked_traced(p, &[], &[]);
    assert!(
        err.contains("parse: fast path (1 model files parsed)"),
        "{err}"
    );
    assert_eq!(reused(&out), 2, "{out}");
    let b = node(&m, "model.pp.b");
    assert_eq!(b["config"]["materialized"], "table");
    assert_eq!(b["tags"], serde_json::json!(["edited"]));
    let state = read_json(&p.join("target/sluice_state.json"));
    assert_eq!(
        state["vars"]["model.pp.b"],
        serde_json::json!({"mat": "view"})
    );
    // A model with YAML tests, edited: its tests are rebuilt with it.
    write(
        p,
        "models/a.sql",
        "{{ config(materialized=var('mat'), tags=[team_tag(), env_var('PP_TEST_TAG', 'untagged')]) }}\nselect {{ cents('2') }} as v",
    );
    let (_, _, err) = parse_checked_traced(p, &[], &[]);
    assert!(err.contains("parse: fast path"), "{err}");
    // A new ref changes the graph: the full parse handles it.
    write(p, "models/c.sql", "select * from {{ ref('a') }}");
    let (_, _, err) = parse_checked_traced(p, &[], &[]);
    assert!(err.contains("parse: full"), "{err}");
    // And the cache it wrote is used next time.
    let (_, _, err) = parse_checked_traced(p, &[], &[]);
    assert!(
        err.contains("parse: fast path (0 model files parsed)"),
        "{err}"
    );
}

#[test]
fn an_edit_that_keeps_the_size_is_seen_after_the_racy_window() {
    let dir = project();
    let p = dir.path();
    // Files older than two seconds are trusted by their stat (size, times, inode).
    std::thread::sleep(std::time::Duration::from_millis(2100));
    parse(p, &[]);
    let (_, _, err) = parse_traced(p, &[], &[]);
    assert!(
        err.contains("parse: fast path (0 model files parsed)"),
        "{err}"
    );
    write(p, "models/c.sql", "select 4 as c");
    let (m, _, err) = parse_checked_traced(p, &[], &[]);
    assert!(
        err.contains("parse: fast path (1 model files parsed)"),
        "{err}"
    );
    assert!(node(&m, "model.pp.c")["raw_code"]
        .as_str()
        .is_some_and(|c| c.contains("select 4")));
}

#[test]
fn a_changed_seed_or_singular_test_takes_the_full_parse() {
    let dir = project();
    let p = dir.path();
    write(p, "seeds/s.csv", "id\n1\n");
    write(p, "tests/t.sql", "select * from {{ ref('a') }} where v < 0");
    let project_yml = PROJECT_YML.replace("target-path", "test-paths: [tests]\ntarget-path");
    write(p, "project.yml", &project_yml);
    parse(p, &[]);
    write(p, "seeds/s.csv", "id\n1\n2\n");
    let (_, _, err) = parse_checked_traced(p, &[], &[]);
    assert!(err.contains("parse: full"), "{err}");
    write(p, "tests/t.sql", "select * from {{ ref('b') }} where w < 0");
    let (m, _, err) = parse_checked_traced(p, &[], &[]);
    assert!(err.contains("parse: full"), "{err}");
    assert_eq!(
        m["nodes"]["test.pp.t"]["depends_on"]["nodes"],
        serde_json::json!(["model.pp.b"])
    );
}
