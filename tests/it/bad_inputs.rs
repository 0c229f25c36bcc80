//! The bad-input corpus: every case exits 2 with a located, snapshotted error and
//! never panics.

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
        let output = sluice()
            .args(args.split_whitespace())
            .arg("--project-dir")
            .arg(dir.path())
            .output()
            .expect("sluice runs");
        let err = stderr(&output);
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
