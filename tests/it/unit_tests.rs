//! Unit tests of models on hand-written rows: no upstream model needs to exist,
//! failures show a row diff, and `build` skips a model whose unit test fails.

use crate::common::{project_copy, query, read_json, run_in, statuses, stderr, stdout};

#[test]
fn unit_tests_run_on_a_fresh_project_without_building_anything() {
    let p = project_copy("assertions");
    let out = run_in(p.path(), &["test", "-s", "test_type:unit"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let st = statuses(&p.path().join("target"));
    assert_eq!(
        st.keys().collect::<Vec<_>>(),
        [
            "unit_test.proofs.fct_mrr.overrides_reach_the_model",
            "unit_test.proofs.fct_mrr.previous_mrr_comes_from_the_prior_month",
            "unit_test.proofs.fct_mrr_bridge.expansion_then_churn",
            "unit_test.proofs.fct_mrr_quarterly.months_roll_up_to_their_quarter",
            "unit_test.proofs.fct_mrr_share.fixture_files_give_the_rows",
            "unit_test.proofs.fct_mrr_share.shares_split_the_month",
        ]
    );
    assert!(st.values().all(|s| s == "pass"), "{st:?}");
    // Nothing was built in the target: the database holds no table or view (the
    // upstream types came from a scratch in-memory database).
    let tables = query(
        &p.path().join("target/proofs.duckdb"),
        "select count(*) from information_schema.tables",
    );
    assert_eq!(tables, vec![vec!["0"]]);
    let manifest = read_json(&p.path().join("target/manifest.json"));
    let ut = &manifest["unit_tests"]["unit_test.proofs.fct_mrr_bridge.expansion_then_churn"];
    assert_eq!(
        ut["depends_on"]["nodes"],
        serde_json::json!(["model.proofs.fct_mrr_bridge"])
    );
}

#[test]
fn a_failing_unit_test_shows_the_row_diff() {
    let p = project_copy("assertions");
    let out = run_in(
        p.path(),
        &["test", "-s", "test_type:unit", "--vars", "{break: churn}"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    // By hand: with churn zeroed, March returns churned_mrr 0 instead of -150.
    assert!(
        err.contains("1 expected row missing, 1 unexpected"),
        "{err}"
    );
    insta::assert_snapshot!("unit_test_failure_diff", err);
}

#[test]
fn fixture_files_fail_when_their_rows_are_wrong() {
    // The fixture-file test passes above; here its expected rows are edited so
    // that it must fail: the rows really come from the file.
    let p = project_copy("assertions");
    let expected = p
        .path()
        .join("tests/fixtures/shares/shares_of_three_accounts.sql");
    let sql = std::fs::read_to_string(&expected).expect("fixture exists");
    std::fs::write(&expected, sql.replace("0.25", "0.5")).expect("edit fixture");
    let out = run_in(p.path(), &["test", "-s", "fct_mrr_share,test_type:unit"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let st = statuses(&p.path().join("target"));
    assert_eq!(
        st["unit_test.proofs.fct_mrr_share.fixture_files_give_the_rows"],
        "fail"
    );
    assert_eq!(
        st["unit_test.proofs.fct_mrr_share.shares_split_the_month"],
        "pass"
    );
    let manifest = read_json(&p.path().join("target/manifest.json"));
    let ut = &manifest["unit_tests"]["unit_test.proofs.fct_mrr_share.fixture_files_give_the_rows"];
    assert_eq!(ut["given"][0]["fixture"], "mrr_of_three_accounts");
    assert_eq!(ut["expect"]["fixture"], "shares_of_three_accounts");
}

#[test]
fn build_skips_a_model_whose_unit_test_fails() {
    let p = project_copy("assertions");
    let out = run_in(p.path(), &["build", "--vars", "{break: churn}"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let st = statuses(&p.path().join("target"));
    assert_eq!(
        st["unit_test.proofs.fct_mrr_bridge.expansion_then_churn"],
        "fail"
    );
    assert_eq!(st["model.proofs.fct_mrr_bridge"], "skipped");
    assert_eq!(st["model.proofs.fct_mrr"], "success");
}
