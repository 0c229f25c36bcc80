//! Metric-accuracy assertions: every kind passes on correct data, and a deliberate
//! defect (`--vars '{break: ...}'` in the fixture's models) makes it fail with exit
//! 1 and a report of the offending rows.

use crate::common::{project_copy, run_in, statuses, stderr, stdout};

#[test]
fn every_assertion_kind_passes_on_correct_models() {
    let p = project_copy("assertions");
    let out = run_in(p.path(), &["build"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let st = statuses(&p.path().join("target"));
    let assertions: Vec<(&String, &String)> = st
        .iter()
        .filter(|(k, _)| k.starts_with("assertion."))
        .collect();
    assert_eq!(assertions.len(), 10, "{assertions:?}");
    assert!(
        assertions.iter().all(|(_, s)| *s == "pass"),
        "{assertions:?}"
    );

    // `test_type:assertion` selects exactly the assertions.
    let out = run_in(p.path(), &["test", "-s", "test_type:assertion"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let st = statuses(&p.path().join("target"));
    assert_eq!(st.len(), 10);
    assert!(st.keys().all(|k| k.starts_with("assertion.proofs.")));
}

/// Build the correct models, rebuild them with one defect, and run the assertions.
fn broken(defect: &str) -> (std::collections::BTreeMap<String, String>, String) {
    let p = project_copy("assertions");
    assert!(run_in(p.path(), &["seed"]).status.success());
    let vars = format!("{{break: {defect}}}");
    let run = run_in(p.path(), &["run", "--vars", &vars]);
    assert!(run.status.success(), "{}", stderr(&run));
    let out = run_in(
        p.path(),
        &[
            "test",
            "-s",
            "test_type:assertion",
            "--threads",
            "1",
            "--vars",
            &vars,
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "defect {defect} went unnoticed:\n{}",
        stdout(&out)
    );
    (statuses(&p.path().join("target")), stderr(&out))
}

fn failed(st: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    st.iter()
        .filter(|(_, s)| *s == "fail")
        .map(|(k, _)| k.trim_start_matches("assertion.proofs.").to_owned())
        .collect()
}

#[test]
fn each_kind_catches_its_defect() {
    // defect → the assertions that must fail (and only those).
    let cases: &[(&str, &[&str])] = &[
        ("arr", &["arr_in_whole_dozens", "arr_is_twelve_times_mrr"]),
        ("share", &["shares_sum_to_one"]),
        ("churn", &["bridge_balances", "march_bridge_by_hand"]),
        (
            "ending",
            &[
                "bridge_balances",
                "bridge_ending_equals_account_mrr",
                "bridge_matches_hand_computed",
                "march_bridge_by_hand",
            ],
        ),
        (
            "rows",
            &[
                "bridge_matches_hand_computed",
                "february_new_mrr",
                "march_bridge_by_hand",
                "one_row_per_account_month",
            ],
        ),
    ];
    for (defect, expected) in cases {
        let (st, err) = broken(defect);
        assert_eq!(failed(&st), *expected, "defect {defect}:\n{err}");
        insta::assert_snapshot!(format!("assertion_failure__{defect}"), err);
    }
}

#[test]
fn accepted_range_reports_the_offending_rows() {
    let (st, err) = broken("negative");
    assert!(failed(&st).contains(&"mrr_is_not_negative".to_owned()));
    // acct 1: 100-120, 150-120, 0-120; acct 2: 50-120 twice → four negative rows.
    assert!(
        err.contains("assertion `mrr_is_not_negative` failed: Got 4 results"),
        "{err}"
    );
    assert!(err.contains("-120.00"), "{err}");
    insta::assert_snapshot!("assertion_failure__negative", err);
}
