//! Faults around the run rather than in the project: a disk that fills up during
//! compile, two runs of sluice writing the same artifacts at once, a seed wide
//! enough that one query per column would take half a minute.

use std::path::Path;
use std::process::Command as Process;

use crate::common::{query, read_json, run_in, stderr};

/// A project of `models` small models (each ~2 KB compiled) and one whose SQL is
/// wrong, which must keep its own error whatever the disk does.
fn write_project(dir: &Path, models: usize) {
    std::fs::create_dir_all(dir.join("models")).expect("models dir");
    std::fs::write(
        dir.join("project.yml"),
        "name: faults\nversion: \"1.0\"\ntarget-path: target\ntarget: dev\n\
         targets:\n  dev: {type: duckdb, path: target/faults.duckdb, schema: main, threads: 2}\n",
    )
    .expect("project.yml");
    let pad = format!("-- {}\n", "x".repeat(2000));
    for i in 0..models {
        std::fs::write(
            dir.join(format!("models/m{i:03}.sql")),
            format!("select {i} as id\n{pad}"),
        )
        .expect("model");
    }
}

/// Every file under `dir` that is empty or a leftover temporary file.
fn debris(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            e.path().extension().is_some_and(|x| x == "tmp")
                || e.metadata().is_ok_and(|m| m.len() == 0)
        })
        .map(|e| e.path().display().to_string())
        .collect()
}

/// Fills the target path: a 96 KiB tmpfs mounted on it where the test may mount
/// (root, as CI runs), else an injected write failure (a file where the compiled
/// models' folder goes). Returns which it used, and the unmount to run.
fn fill_target(dir: &Path) -> (&'static str, Option<std::path::PathBuf>) {
    let target = dir.join("target");
    std::fs::create_dir_all(&target).expect("target dir");
    let mounted = Process::new("mount")
        .args(["-t", "tmpfs", "-o", "size=96k", "tmpfs"])
        .arg(&target)
        .output()
        .is_ok_and(|o| o.status.success());
    if mounted {
        return ("tmpfs", Some(target));
    }
    let models = target.join("compiled/faults/models");
    std::fs::create_dir_all(models.parent().expect("has a parent")).expect("compiled dir");
    std::fs::write(&models, "not a folder").expect("blocker");
    ("injected", None)
}

#[test]
fn a_full_disk_during_compile_is_one_error_and_leaves_the_old_artifacts() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_project(dir.path(), 2);
    let (how, mount) = fill_target(dir.path());
    eprintln!("disk-full test: {how}");
    // While there is room: a manifest and a parse cache to keep.
    let first = run_in(dir.path(), &["parse"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let manifest = dir.path().join("target/manifest.json");
    let before = std::fs::read(&manifest).expect("a manifest");

    write_project(dir.path(), 60);
    std::fs::write(dir.path().join("models/broken.sql"), "select from where\n").expect("model");
    let full = run_in(dir.path(), &["compile"]);
    let err = stderr(&full);
    let unmount = |m: &Option<std::path::PathBuf>| {
        if let Some(t) = m {
            let _ = Process::new("umount").arg(t).status();
        }
    };
    let leftovers = debris(&dir.path().join("target"));
    let manifest_after = std::fs::read(&manifest);
    unmount(&mount);

    assert_eq!(full.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        err.matches("cannot write").count(),
        1,
        "one write error:\n{err}"
    );
    assert!(
        err.contains("target/compiled/faults/models/"),
        "the error names the file:\n{err}"
    );
    assert!(
        err.contains("in model `broken`: SQL syntax error"),
        "the broken model keeps its own error:\n{err}"
    );
    assert!(
        leftovers.is_empty(),
        "empty or temporary files left: {leftovers:?}"
    );
    if how == "tmpfs" {
        // The previous manifest is untouched, whole.
        let after = manifest_after.expect("the manifest is still there");
        assert_eq!(after, before, "the previous manifest.json is unchanged");
    }

    // With room again, the next run succeeds.
    if how == "injected" {
        std::fs::remove_file(dir.path().join("target/compiled/faults/models")).expect("unblock");
    }
    std::fs::remove_file(dir.path().join("models/broken.sql")).expect("fix the model");
    let next = run_in(dir.path(), &["compile"]);
    assert!(next.status.success(), "{}", stderr(&next));
    let json = read_json(&manifest);
    assert!(json["nodes"]["model.faults.m059"].is_object());
}

#[test]
fn concurrent_parses_do_not_share_temporary_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_project(dir.path(), 40);
    for round in 0..8 {
        let children: Vec<_> = (0..2)
            .map(|_| {
                Process::new(assert_cmd::cargo::cargo_bin("sluice"))
                    .env("NO_COLOR", "1")
                    .args(["parse", "--no-partial-parse", "--project-dir"])
                    .arg(dir.path())
                    .stderr(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .expect("sluice starts")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().expect("sluice finishes");
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let json = read_json(&dir.path().join("target/manifest.json"));
        assert!(
            json["nodes"]["model.faults.m039"].is_object(),
            "round {round}"
        );
    }
    assert!(debris(&dir.path().join("target")).is_empty());
}

#[test]
fn a_seed_of_2000_columns_loads_in_seconds() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_project(dir.path(), 0);
    std::fs::create_dir_all(dir.path().join("seeds")).expect("seeds dir");
    let columns = 2000;
    let mut csv = (0..columns)
        .map(|c| format!("c{c}"))
        .collect::<Vec<_>>()
        .join(",");
    for row in 0..50 {
        csv.push('\n');
        let cells: Vec<String> = (0..columns)
            .map(|c| match c % 4 {
                0 => row.to_string(),
                1 => format!("{row}.5"),
                2 => format!("2024-01-{:02}", row % 28 + 1),
                _ => format!("v{row}"),
            })
            .collect();
        csv.push_str(&cells.join(","));
    }
    std::fs::write(dir.path().join("seeds/wide.csv"), csv).expect("seed");
    let started = std::time::Instant::now();
    let out = run_in(dir.path(), &["seed"]);
    let took = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        // One query per column took 30 s here; one for the table takes about one.
        // The bound leaves room for a machine busy with other builds.
        took < std::time::Duration::from_secs(15),
        "2,000 columns took {took:?}: inference must not query per column"
    );
    let types = query(
        &dir.path().join("target/faults.duckdb"),
        "select data_type, count(*) from information_schema.columns \
         where table_name = 'wide' group by 1 order by 1",
    );
    assert_eq!(
        types,
        vec![
            vec!["DATE".to_owned(), "500".to_owned()],
            vec!["DOUBLE".to_owned(), "500".to_owned()],
            vec!["INTEGER".to_owned(), "500".to_owned()],
            vec!["VARCHAR".to_owned(), "500".to_owned()],
        ]
    );
}
