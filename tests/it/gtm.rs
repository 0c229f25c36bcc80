//! The GTM project at the repository root: it builds on DuckDB, compiles for
//! Snowflake and BigQuery with no connection (SQL snapshotted per model), and its
//! unit tests catch deliberate bugs in the revenue models.

use crate::common::{copy_dir, repo_root, run_in, stderr};

fn compile_all(project: &std::path::Path, target: &str) -> Vec<(String, String)> {
    let out = run_in(project, &["compile", "-t", target]);
    assert!(
        out.status.success(),
        "compile -t {target}: {}",
        stderr(&out)
    );
    let target_path = crate::common::read_json(&project.join(".sluice/manifest.json"));
    let mut compiled: Vec<(String, String)> = target_path["nodes"]
        .as_object()
        .expect("nodes")
        .values()
        .filter(|n| n["resource_type"] == "model")
        .map(|n| {
            (
                n["name"].as_str().unwrap_or_default().to_owned(),
                n["compiled_code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    compiled.sort();
    compiled
}

/// The repository's GTM project, copied so the test never writes into the repo.
pub(crate) fn gtm_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = repo_root();
    for item in [
        "project.yml",
        "models",
        "macros",
        "seeds",
        "snapshots",
        "tests/data",
    ] {
        let from = root.join(item);
        if from.is_dir() {
            std::fs::create_dir_all(dir.path().join(item)).expect("mkdir");
            copy_dir(&from, &dir.path().join(item));
        } else if from.is_file() {
            std::fs::copy(&from, dir.path().join(item)).expect("copy");
        }
    }
    dir
}

#[test]
fn every_gtm_model_compiles_for_snowflake_and_bigquery() {
    let p = gtm_copy();
    for target in ["snowflake", "bigquery"] {
        let models = compile_all(p.path(), target);
        assert!(!models.is_empty());
        for (name, sql) in models {
            insta::assert_snapshot!(format!("{target}__{name}"), sql);
        }
    }
}

#[test]
fn the_gtm_project_builds_on_duckdb() {
    let p = gtm_copy();
    let out = run_in(p.path(), &["build"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        crate::common::stdout(&out),
        stderr(&out)
    );
}

#[test]
fn selecting_parents_in_the_gtm_project_builds_only_that_lineage() {
    let p = gtm_copy();
    let out = run_in(p.path(), &["build", "-s", "+stg_subscriptions"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ran = crate::common::statuses(&p.path().join(".sluice"));
    let built: Vec<&String> = ran.keys().filter(|k| !k.starts_with("test.")).collect();
    assert_eq!(
        built,
        [
            "model.gtm_analytics.stg_subscriptions",
            "seed.gtm_analytics.raw_subscriptions"
        ]
    );
    // Its tests run; tests that also need an unselected model (a relationship to
    // stg_accounts) wait for a build that includes it.
    assert!(ran
        .keys()
        .any(|k| k.starts_with("test.gtm_analytics.unique_stg_subscriptions_subscription_id.")));
    assert!(
        !ran.keys().any(|k| k.contains("ref_stg_accounts")),
        "{ran:?}"
    );
    assert!(
        ran.values().all(|s| s == "success" || s == "pass"),
        "{ran:?}"
    );
}

/// Replace `from` with `to` in one file of a GTM copy (the mutation must apply).
fn mutate(project: &std::path::Path, file: &str, from: &str, to: &str) {
    let path = project.join(file);
    let text = std::fs::read_to_string(&path).expect("read model");
    assert!(
        text.contains(from),
        "mutation target not found in {file}: {from}"
    );
    std::fs::write(&path, text.replace(from, to)).expect("write model");
}

/// Each (file, from, to, unit test): the mutated project's unit tests exit 1, and
/// that unit test is among the failures.
fn assert_each_mutation_fails_its_unit_test(cases: &[(&str, &str, &str, &str)]) {
    for (file, from, to, must_fail) in cases {
        let p = gtm_copy();
        mutate(p.path(), file, from, to);
        let out = run_in(p.path(), &["test", "-s", "test_type:unit"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "mutation of {file} went unnoticed"
        );
        let st = crate::common::statuses(&p.path().join(".sluice"));
        assert_eq!(
            st.iter()
                .find(|(k, _)| k.ends_with(must_fail))
                .map(|(_, s)| s.as_str()),
            Some("fail"),
            "{must_fail} should fail for the mutation of {file}"
        );
    }
}

#[test]
fn unit_tests_catch_bugs_in_the_revenue_and_retention_models() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            // A reactivation misclassified as new.
            "models/marts/revenue/fct_mrr.sql",
            "when previous_mrr = 0 and mrr > 0 and paid_before = 0 then 'new'",
            "when previous_mrr = 0 and mrr > 0 then 'new'",
            "reactivation_after_a_gap_is_not_new",
        ),
        (
            // end_date treated as the last day in service instead of the first out.
            "models/intermediate/int_account_mrr.sql",
            "(s.end_date is null or s.end_date > am.month_end)",
            "(s.end_date is null or s.end_date >= am.month_end)",
            "mid_month_plan_change_counts_the_plan_active_at_month_end",
        ),
        (
            // Movements measured against two months back: churn booked a month late.
            "models/marts/revenue/fct_mrr.sql",
            "coalesce(lag(mrr) over (partition by account_id order by month), 0)",
            "coalesce(lag(mrr, 2) over (partition by account_id order by month), 0)",
            "new_expansion_contraction_churn",
        ),
        (
            // Cohorts off by one month.
            "models/marts/customer_success/fct_cohort_retention.sql",
            "select account_id, min(month) as cohort_month",
            "select account_id, cast({{ dbt.dateadd('month', 1, 'min(month)') }} as date) as cohort_month",
            "cohort_retention_rises_again_after_a_reactivation",
        ),
    ];
    assert_each_mutation_fails_its_unit_test(cases);
}

#[test]
fn unit_tests_catch_bugs_in_the_marketing_sales_and_product_models() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            // Position-based: the middle touches' 20% split over all touches.
            "models/intermediate/marketing/int_attribution_touches.sql",
            "else 0.2 / (touch_count - 2)",
            "else 0.2 / touch_count",
            "attribution_five_touch_journey",
        ),
        (
            // The funnel counts duplicate leads again.
            "models/marts/marketing/fct_lead_funnel.sql",
            "where not is_duplicate",
            "where is_duplicate or not is_duplicate",
            "funnel_stage_conversion_by_cohort_and_source",
        ),
        (
            // A commit submitted at the month's first instant taken as "before".
            "models/marts/sales/fct_forecast_accuracy.sql",
            "and f.submitted_at < m.month_start_at",
            "and f.submitted_at <= m.month_start_at",
            "forecast_accuracy_last_commit_before_the_month",
        ),
        (
            // MAU as a count of user-days instead of distinct users.
            "models/marts/product/fct_product_monthly.sql",
            "count(distinct user_id) as monthly_active_users",
            "count(user_id) as monthly_active_users",
            "product_mau_is_a_distinct_count",
        ),
    ];
    assert_each_mutation_fails_its_unit_test(cases);
}

#[test]
fn hand_computed_values_hold_on_the_tiny_fixture() {
    // The GTM models on the tiny seeds, with assertions whose expected values were
    // derived by hand (tests/fixtures/gtm_tiny/assertions.yml, re-derived
    // independently by derive.py).
    let p = gtm_copy();
    let seeds = p.path().join("seeds");
    std::fs::remove_dir_all(&seeds).expect("drop the full seeds");
    std::fs::create_dir_all(&seeds).expect("seeds dir");
    copy_dir(&crate::common::fixture("gtm_tiny/seeds"), &seeds);
    // One assertions file per domain (assertions.yml, assertions_<domain>.yml); the
    // expected count is the number of `- name: tiny_` entries across them.
    let mut expected = 0;
    for entry in std::fs::read_dir(crate::common::fixture("gtm_tiny")).expect("fixture dir") {
        let path = entry.expect("fixture entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("assertions") && name.ends_with(".yml") {
            let text = std::fs::read_to_string(&path).expect("read assertions");
            expected += text.matches("- name: tiny_").count();
            std::fs::copy(&path, p.path().join(format!("models/_tiny_{name}")))
                .expect("copy assertions");
        }
    }
    let out = run_in(
        p.path(),
        &[
            "build",
            "--vars",
            "{as_of_date: \"2025-03-31\"}",
            // Metric assertions whose expected values are the full seeds'.
            "--exclude",
            "tag:full_seeds",
        ],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        crate::common::stdout(&out),
        stderr(&out)
    );
    let st = crate::common::statuses(&p.path().join(".sluice"));
    let tiny: Vec<&String> = st
        .iter()
        .filter(|(k, _)| k.starts_with("assertion.gtm_analytics.tiny_"))
        .map(|(_, v)| v)
        .collect();
    assert!(
        expected >= 26,
        "the fixture lists {expected} tiny assertions"
    );
    assert_eq!(tiny.len(), expected);
    assert!(tiny.iter().all(|s| *s == "pass"));
}

/// Replace a GTM copy's seeds with the tiny fixture's.
pub(crate) fn use_tiny_seeds(project: &std::path::Path) {
    let seeds = project.join("seeds");
    std::fs::remove_dir_all(&seeds).expect("drop the full seeds");
    std::fs::create_dir_all(&seeds).expect("seeds dir");
    copy_dir(&crate::common::fixture("gtm_tiny/seeds"), &seeds);
}

#[test]
fn a_daily_opportunity_snapshot_replays_the_stage_history() {
    // Snapshot the tiny project once per day that has a stage change, oldest first,
    // as a daily job would have; the history must be the stage-history rows, the last
    // row of each day per opportunity, each valid until that opportunity's next one.
    let p = gtm_copy();
    use_tiny_seeds(p.path());
    let out = run_in(
        p.path(),
        &[
            "build",
            "-s",
            "+opportunity_history",
            "--exclude",
            "opportunity_history",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let csv = std::fs::read_to_string(crate::common::fixture(
        "gtm_tiny/seeds/raw_opportunity_stage_history.csv",
    ))
    .expect("stage history");
    // (opportunity, entered_at, id, stage, amount), in time order.
    let mut rows: Vec<(String, String, u64, String, String)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[1].to_owned(),
                f[3].to_owned(),
                f[0].parse().expect("id"),
                f[2].to_owned(),
                f[4].to_owned(),
            )
        })
        .collect();
    rows.sort();
    let mut days: Vec<&str> = rows.iter().map(|r| &r.1[..10]).collect();
    days.sort();
    days.dedup();
    for day in &days {
        let vars = format!("{{snapshot_as_of: \"{day}\"}}");
        let out = run_in(p.path(), &["snapshot", "--vars", &vars]);
        assert!(out.status.success(), "{day}: {}", stderr(&out));
    }

    // Expected: per opportunity, the last row of each day, valid to the next one.
    let mut expected: Vec<Vec<String>> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let next_same_day = rows
            .get(i + 1)
            .is_some_and(|n| n.0 == r.0 && n.1[..10] == r.1[..10]);
        if next_same_day {
            continue;
        }
        expected.push(vec![
            r.0.clone(),
            r.3.clone(),
            r.4.clone(),
            r.1.clone(),
            "NULL".into(),
        ]);
    }
    for i in 0..expected.len().saturating_sub(1) {
        if expected[i][0] == expected[i + 1][0] {
            expected[i][4] = expected[i + 1][3].clone();
        }
    }
    let db = p.path().join("gtm.duckdb");
    let got = crate::common::query(
        &db,
        "select opportunity_id, stage, cast(amount as decimal(18,2)), \
                strftime(dbt_valid_from, '%Y-%m-%d %H:%M:%S'), \
                coalesce(strftime(dbt_valid_to, '%Y-%m-%d %H:%M:%S'), 'NULL') \
         from opportunity_history order by opportunity_id, dbt_valid_from",
    );
    assert!(expected.len() > 20, "the fixture has a real history");
    assert_eq!(got, expected);
}
