//! The semantic layer on a fixture small enough to compute by hand
//! (`tests/fixtures/semantic`): each metric type's numbers, every guardrail as an
//! exit-2 error (snapshotted), the compiled SQL per dialect (snapshotted, and
//! parsed by sqlparser), dashboards export, and the GTM catalogue against its docs.

use std::path::Path;

use serde_json::Value;

use crate::common::{project_copy, run_in, stderr, stdout};

/// The fixture, built once per test (seeds only: the semantic models read them).
fn built() -> tempfile::TempDir {
    let p = project_copy("semantic");
    let out = run_in(p.path(), &["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    p
}

/// `metrics query` as JSON rows.
fn query(p: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["metrics", "query", "--format", "json"];
    all.extend_from_slice(args);
    let out = run_in(p, &all);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let rows: Value = serde_json::from_str(&stdout(&out)).expect("JSON rows");
    rows.as_array().expect("a list of rows").clone()
}

fn column(rows: &[Value], name: &str) -> Vec<Value> {
    rows.iter().map(|r| r[name].clone()).collect()
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|x| (x - b).abs() < 1e-9)
}

#[test]
fn balances_take_the_period_end_value_never_a_sum_over_time() {
    let p = built();
    // mrr.csv at each quarter's last month: March 100 + 0 + 1000, June 150 + 50 + 1000.
    let rows = query(
        p.path(),
        &["--metrics", "mrr,arr,paying_accounts", "--grain", "quarter"],
    );
    assert_eq!(column(&rows, "quarter"), ["2024-01-01", "2024-04-01"]);
    assert!(
        close(&rows[0]["mrr"], 1100.0) && close(&rows[1]["mrr"], 1200.0),
        "{rows:?}"
    );
    assert!(close(&rows[1]["arr"], 14400.0), "{rows:?}");
    // Paying accounts in March: 1 and 3 (2 pays 0); in June all three.
    assert_eq!(column(&rows, "paying_accounts"), [2, 3]);
    // No grain: the latest month, by segment (June: SMB 150 + 50, Enterprise 1000).
    let rows = query(
        p.path(),
        &["--metrics", "mrr", "--group-by", "account__segment"],
    );
    assert_eq!(column(&rows, "account__segment"), ["Enterprise", "SMB"]);
    assert!(
        close(&rows[0]["mrr"], 1000.0) && close(&rows[1]["mrr"], 200.0),
        "{rows:?}"
    );
}

#[test]
fn ratios_are_recomputed_from_their_parts_at_each_grain() {
    let p = built();
    // Q1: deals 1, 2, 3 → 2 won of 3; Q2: deals 4-8 → 1 won of 5.
    let q = query(
        p.path(),
        &[
            "--metrics",
            "win_rate,won_deals,closed_deals",
            "--grain",
            "quarter",
        ],
    );
    assert!(
        close(&q[0]["win_rate"], 2.0 / 3.0) && close(&q[1]["win_rate"], 0.2),
        "{q:?}"
    );
    // The year is 3 / 8 = 0.375, not the mean of the quarters' rates (0.4333).
    let y = query(p.path(), &["--metrics", "win_rate", "--grain", "year"]);
    assert!(close(&y[0]["win_rate"], 0.375), "{y:?}");
    // A month with wins over no wins: February has no win, so its average deal
    // size (won amount / won deals) is NULL, never an error or 0.
    let m = query(
        p.path(),
        &["--metrics", "average_deal_size", "--grain", "month"],
    );
    assert_eq!(column(&m, "month")[1], "2024-02-01");
    assert_eq!(m[1]["average_deal_size"], Value::Null);
    assert!(close(&m[0]["average_deal_size"], 10.0), "{m:?}");
    // A filter through a joined dimension: EMEA deals are accounts 1 and 3 → 2 of 4.
    let emea = query(
        p.path(),
        &[
            "--metrics",
            "win_rate",
            "--where",
            "account__region = 'EMEA'",
        ],
    );
    assert!(close(&emea[0]["win_rate"], 0.5), "{emea:?}");
}

#[test]
fn distinct_counts_are_recounted_and_cumulative_windows_slide() {
    let p = built();
    // Users 11, 21 in January; 11, 31 in February; 11 in March: the quarter has 3,
    // not 2 + 2 + 1.
    let m = query(p.path(), &["--metrics", "active_users", "--grain", "month"]);
    assert_eq!(column(&m, "active_users"), [2, 2, 1]);
    let q = query(
        p.path(),
        &["--metrics", "active_users", "--grain", "quarter"],
    );
    assert_eq!(column(&q, "active_users"), [3]);
    // Won amount over the 3 months ending each month: Jan 10, Feb 10, Mar 110,
    // Apr 100 (Feb-Apr), May 100 (Mar-May), Jun 40 (Apr-Jun).
    let c = query(
        p.path(),
        &["--metrics", "won_amount_t3m", "--grain", "month"],
    );
    let got: Vec<f64> = c
        .iter()
        .filter_map(|r| r["won_amount_t3m"].as_f64())
        .collect();
    assert_eq!(got, [10.0, 10.0, 110.0, 100.0, 100.0, 40.0]);
    // --start/--end and --order/--limit.
    let s = query(
        p.path(),
        &[
            "--metrics",
            "won_deals",
            "--grain",
            "month",
            "--start",
            "2024-03-01",
            "--end",
            "2024-05-31",
            "--order",
            "-month",
            "--limit",
            "2",
        ],
    );
    assert_eq!(column(&s, "month"), ["2024-05-01", "2024-04-01"]);
}

#[test]
fn every_guardrail_is_a_located_error_with_exit_2() {
    let p = project_copy("semantic");
    let cases: &[(&str, &[&str])] = &[
        ("unknown_metric", &["--metrics", "win_rat"]),
        (
            "dimension_not_allowed",
            &["--metrics", "mrr", "--group-by", "account__segmnt"],
        ),
        ("grain_too_fine", &["--metrics", "mrr", "--grain", "day"]),
        (
            "unknown_grain",
            &["--metrics", "mrr", "--grain", "fortnight"],
        ),
        (
            "join_fans_out",
            &["--metrics", "account_count", "--group-by", "account__role"],
        ),
        (
            "ambiguous_join",
            &["--metrics", "won_deals", "--group-by", "account__owner"],
        ),
        (
            "filter_on_unknown_dimension",
            &[
                "--metrics",
                "win_rate",
                "--where",
                "account__regoin = 'EMEA'",
            ],
        ),
        (
            "filter_on_a_dimension_the_metric_does_not_allow",
            &["--metrics", "mrr", "--where", "plan = 'pro'"],
        ),
        (
            "metrics_without_common_time",
            &["--metrics", "mrr,account_count", "--grain", "month"],
        ),
        ("cumulative_without_grain", &["--metrics", "won_amount_t3m"]),
        (
            "order_by_unknown_column",
            &[
                "--metrics",
                "mrr",
                "--grain",
                "month",
                "--order",
                "-quarter",
            ],
        ),
    ];
    for (name, args) in cases {
        let mut all = vec!["metrics", "query"];
        all.extend_from_slice(args);
        let out = run_in(p.path(), &all);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        insta::assert_snapshot!(format!("guardrail__{name}"), err);
    }
}

#[test]
fn compiled_metric_sql_is_snapshotted_and_parses_in_each_dialect() {
    use sqlparser::dialect::{BigQueryDialect, Dialect, DuckDbDialect, SnowflakeDialect};
    let p = project_copy("semantic");
    let queries: &[(&str, &[&str])] = &[
        ("simple", &["--metrics", "won_deals", "--grain", "month"]),
        ("ratio", &["--metrics", "win_rate", "--grain", "quarter"]),
        (
            "derived",
            &["--metrics", "average_deal_size", "--grain", "quarter"],
        ),
        (
            "cumulative",
            &[
                "--metrics",
                "won_amount_t3m",
                "--grain",
                "month",
                "--start",
                "2024-03-01",
            ],
        ),
        ("semi_additive", &["--metrics", "mrr", "--grain", "quarter"]),
        (
            "joined_dimension",
            &[
                "--metrics",
                "win_rate",
                "--group-by",
                "account__segment",
                "--where",
                "account__region = 'EMEA'",
            ],
        ),
    ];
    for target in ["dev", "snowflake", "bigquery"] {
        let dialect: Box<dyn Dialect> = match target {
            "dev" => Box::new(DuckDbDialect {}),
            "snowflake" => Box::new(SnowflakeDialect {}),
            _ => Box::new(BigQueryDialect {}),
        };
        for (name, args) in queries {
            let mut all = vec!["metrics", "query", "--compile", "-t", target];
            all.extend_from_slice(args);
            let out = run_in(p.path(), &all);
            assert!(out.status.success(), "{target} {name}: {}", stderr(&out));
            let sql = stdout(&out);
            if let Err(e) = sqlparser::parser::Parser::parse_sql(dialect.as_ref(), &sql) {
                panic!("{target} {name} does not parse: {e}\n{sql}");
            }
            insta::assert_snapshot!(format!("compiled__{target}__{name}"), sql);
        }
    }
}

#[test]
fn dashboards_export_their_saved_queries_with_definitions() {
    let p = built();
    let out_dir = p.path().join("results");
    let out = run_in(
        p.path(),
        &[
            "metrics",
            "export",
            "--out",
            out_dir.to_str().expect("utf-8"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let read = |name: &str| -> Value {
        let text = std::fs::read_to_string(out_dir.join(name)).expect("dashboard file");
        serde_json::from_str(&text).expect("dashboard JSON")
    };
    let sales = read("sales.json");
    assert_eq!(sales["dashboard"], "sales");
    let q = &sales["queries"][0];
    assert_eq!(q["name"], "win_rate_by_quarter");
    assert_eq!(q["metrics"][0]["name"], "win_rate");
    assert_eq!(q["metrics"][0]["type"], "ratio");
    assert!(q["query_ms"].as_f64().is_some());
    assert!(close(&q["rows"][1]["win_rate"], 0.2), "{q}");
    let by_segment = &sales["queries"][1]["rows"];
    // Enterprise: deals 3 (won) and 8 (lost) → 0.5; SMB: 2 won of 6.
    assert!(close(&by_segment[0]["win_rate"], 0.5), "{by_segment}");
    assert!(close(&by_segment[1]["win_rate"], 2.0 / 6.0), "{by_segment}");
    let revenue = read("revenue.json");
    assert!(
        close(&revenue["queries"][0]["rows"][1]["mrr"], 1200.0),
        "{revenue}"
    );
}

#[test]
fn metrics_list_shows_types_grains_and_dimensions() {
    let p = project_copy("semantic");
    let out = run_in(p.path(), &["metrics", "list", "--domain", "sales"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("metrics_list_sales", stdout(&out));
}

#[test]
fn the_gtm_catalogue_and_its_docs_list_the_same_metrics() {
    let root = crate::common::repo_root();
    let out = crate::common::sluice()
        .args(["metrics", "list", "--project-dir"])
        .arg(&root)
        .output()
        .expect("sluice runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: std::collections::BTreeSet<String> = stdout(&out)
        .lines()
        .skip(2)
        .filter_map(|l| l.split('|').nth(1))
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    let docs = std::fs::read_to_string(root.join("docs/metrics.md")).expect("docs/metrics.md");
    let section = docs
        .split("## Semantic layer: the metric catalogue")
        .nth(1)
        .expect("docs/metrics.md has the catalogue section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let documented: std::collections::BTreeSet<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    assert!(listed.len() >= 40, "{} metrics: {listed:?}", listed.len());
    let undocumented: Vec<&String> = listed.difference(&documented).collect();
    let undefined: Vec<&String> = documented.difference(&listed).collect();
    assert!(
        undocumented.is_empty() && undefined.is_empty(),
        "in YAML but not in docs/metrics.md: {undocumented:?}; in the docs but not defined: {undefined:?}"
    );
}

#[test]
fn a_filtered_balance_is_read_at_the_same_period_end_as_a_grouped_one() {
    // pipeline.csv: rep A has 100 open in January, rep B 50 in March. At quarter
    // grain the balance is March's: B 50, and nothing for A — filtered or grouped.
    let p = built();
    let grouped = query(
        p.path(),
        &[
            "--metrics",
            "open_pipeline",
            "--grain",
            "quarter",
            "--group-by",
            "rep",
        ],
    );
    assert_eq!(column(&grouped, "rep"), ["B"]);
    assert!(close(&grouped[0]["open_pipeline"], 50.0), "{grouped:?}");
    let filtered = query(
        p.path(),
        &[
            "--metrics",
            "open_pipeline",
            "--grain",
            "quarter",
            "--where",
            "rep = 'A'",
        ],
    );
    assert!(filtered.is_empty(), "{filtered:?}");
}

#[test]
fn medians_and_percentiles_are_computed_from_each_periods_rows() {
    // deals.csv amounts: Q1 10, 20, 100; Q2 30, 30, 30, 40, 500.
    let p = built();
    let q = query(
        p.path(),
        &[
            "--metrics",
            "median_deal_amount,median_deal_amount_disc,p25_deal_amount,p25_deal_amount_disc",
            "--grain",
            "quarter",
        ],
    );
    assert_eq!(column(&q, "quarter"), ["2024-01-01", "2024-04-01"]);
    // Q1: the median of three is the middle one; the continuous 25th percentile
    // sits half-way between 10 and 20 (position 0.5), the discrete one is 10.
    // Q2: the median and both 25th percentiles are 30.
    for (metric, want) in [
        ("median_deal_amount", [20.0, 30.0]),
        ("median_deal_amount_disc", [20.0, 30.0]),
        ("p25_deal_amount", [15.0, 30.0]),
        ("p25_deal_amount_disc", [10.0, 30.0]),
    ] {
        assert!(
            close(&q[0][metric], want[0]) && close(&q[1][metric], want[1]),
            "{metric}: {q:?}"
        );
    }
    // The year, from all eight rows (10 20 30 30 30 40 100 500): the median is 30,
    // not the mean of the quarters' medians (25); the continuous 25th percentile
    // is at position 1.75: 20 + 0.75 × (30 - 20) = 27.5; the discrete one is the
    // 2nd value, 20.
    let y = query(
        p.path(),
        &[
            "--metrics",
            "median_deal_amount,p25_deal_amount,p25_deal_amount_disc",
            "--grain",
            "year",
        ],
    );
    assert!(close(&y[0]["median_deal_amount"], 30.0), "{y:?}");
    assert!(close(&y[0]["p25_deal_amount"], 27.5), "{y:?}");
    assert!(close(&y[0]["p25_deal_amount_disc"], 20.0), "{y:?}");
    // Grouped by a joined dimension: Enterprise (account 3) has 100 and 500 → 300;
    // SMB (accounts 1, 2) has 10 20 30 30 30 40 → 30.
    let s = query(
        p.path(),
        &[
            "--metrics",
            "median_deal_amount",
            "--group-by",
            "account__segment",
        ],
    );
    assert_eq!(column(&s, "account__segment"), ["Enterprise", "SMB"]);
    assert!(
        close(&s[0]["median_deal_amount"], 300.0) && close(&s[1]["median_deal_amount"], 30.0),
        "{s:?}"
    );
}

#[test]
fn percentile_sql_follows_each_warehouse_and_bigquery_refuses_exact_ones() {
    let p = project_copy("semantic");
    let compile = |target: &str, metric: &str| {
        run_in(
            p.path(),
            &[
                "metrics",
                "query",
                "--compile",
                "-t",
                target,
                "--metrics",
                metric,
            ],
        )
    };
    let cases = [
        (
            "dev",
            "median_deal_amount",
            "quantile_cont(base.amount, 0.5)",
        ),
        (
            "dev",
            "p25_deal_amount_disc",
            "quantile_disc(base.amount, 0.25)",
        ),
        (
            "snowflake",
            "median_deal_amount",
            "percentile_cont(0.5) within group (order by base.amount)",
        ),
        (
            "snowflake",
            "p25_deal_amount_disc",
            "percentile_disc(0.25) within group (order by base.amount)",
        ),
        (
            "bigquery",
            "p90_deal_amount_approx",
            "approx_quantiles(base.amount, 100)[offset(90)]",
        ),
    ];
    for (target, metric, want) in cases {
        let out = compile(target, metric);
        assert!(out.status.success(), "{target} {metric}: {}", stderr(&out));
        assert!(
            stdout(&out).contains(want),
            "{target} {metric}: {}",
            stdout(&out)
        );
    }
    // An exact percentile cannot aggregate on BigQuery, and an approximate
    // discrete one has no DuckDB function: located errors, exit 2.
    for (target, metric) in [
        ("bigquery", "median_deal_amount"),
        ("dev", "p90_deal_amount_approx"),
    ] {
        let out = compile(target, metric);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{target} {metric}: {}",
            stderr(&out)
        );
        insta::assert_snapshot!(
            format!("percentile_refused__{target}__{metric}"),
            stderr(&out)
        );
    }
}

#[test]
fn metricflow_yaml_shapes_load_and_compute() {
    let p = built();
    // A templated filter through a joined dimension: Enterprise is account 3,
    // deals 3 (won) and 8 (lost) → 1 win; the ratio's inputs carry the same
    // filter each → 1 / 2.
    let q = query(
        p.path(),
        &["--metrics", "enterprise_won_deals,enterprise_win_rate"],
    );
    assert_eq!(q[0]["enterprise_won_deals"], 1, "{q:?}");
    assert!(close(&q[0]["enterprise_win_rate"], 0.5), "{q:?}");
    // A measure's own filter on metric_time, and fill_nulls_with: months before
    // April have no row after the filter and read 0; June has deal 7.
    let m = query(
        p.path(),
        &[
            "--metrics",
            "won_deals,won_deals_from_april",
            "--grain",
            "month",
        ],
    );
    assert_eq!(
        column(&m, "won_deals_from_april"),
        [0, 0, 0, 0, 0, 1],
        "{m:?}"
    );
    // offset_window with aliases: won amount by month is Jan 10, Feb 0, Mar 100,
    // Apr 0, May 0, Jun 40; minus the month before. July exists only shifted.
    let d = query(
        p.path(),
        &["--metrics", "won_amount_change_mom", "--grain", "month"],
    );
    assert_eq!(
        column(&d, "month"),
        [
            "2024-01-01",
            "2024-02-01",
            "2024-03-01",
            "2024-04-01",
            "2024-05-01",
            "2024-06-01",
            "2024-07-01"
        ]
    );
    let got: Vec<Option<f64>> = d
        .iter()
        .map(|r| r["won_amount_change_mom"].as_f64())
        .collect();
    assert_eq!(
        got,
        [
            None,
            Some(-10.0),
            Some(100.0),
            Some(-100.0),
            Some(0.0),
            Some(40.0),
            None
        ]
    );
    // cumulative_type_params.grain_to_date: quarter to date, by month.
    let c = query(
        p.path(),
        &["--metrics", "won_amount_qtd", "--grain", "month"],
    );
    let got: Vec<f64> = c
        .iter()
        .filter_map(|r| r["won_amount_qtd"].as_f64())
        .collect();
    assert_eq!(got, [10.0, 10.0, 110.0, 0.0, 0.0, 40.0]);
    // create_metric: true makes a simple metric of the measure: 10+20+100+30+30+30+40+500.
    let t = query(p.path(), &["--metrics", "deal_amount"]);
    assert!(close(&t[0]["deal_amount"], 760.0), "{t:?}");
}

#[test]
fn what_the_semantic_layer_does_not_compute_is_said_never_dropped() {
    let p = project_copy("semantic");
    std::fs::write(
        p.path().join("models/_unsupported.yml"),
        "metrics:\n\
         \x20 - name: deal_to_win\n\
         \x20   type: conversion\n\
         \x20   type_params:\n\
         \x20     conversion_type_params: {base_measure: closed_deals, conversion_measure: won_deals, entity: account}\n\
         saved_queries:\n\
         \x20 - name: won_by_month\n\
         \x20   query_params:\n\
         \x20     metrics: [won_deals]\n\
         \x20     group_by: [\"TimeDimension('metric_time', 'month')\"]\n",
    )
    .expect("write");
    // Loading warns about the conversion metric and the saved queries.
    let out = run_in(p.path(), &["parse"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("metric `deal_to_win` is a conversion metric"),
        "{err}"
    );
    assert!(err.contains("`saved_queries`"), "{err}");
    // Querying it is an error; so is an offset without a grain.
    for (name, args) in [
        ("conversion_metric", &["--metrics", "deal_to_win"][..]),
        (
            "offset_without_grain",
            &["--metrics", "won_amount_change_mom"][..],
        ),
    ] {
        let mut all = vec!["metrics", "query"];
        all.extend_from_slice(args);
        let out = run_in(p.path(), &all);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        insta::assert_snapshot!(format!("guardrail__{name}"), stderr(&out));
    }
}

#[test]
fn bad_metricflow_definitions_are_located_load_errors() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "filter_names_unknown_dimension",
            "{{ Dimension('account__segmnt') }} = 'SMB'",
            "",
        ),
        (
            "filter_on_a_metric",
            "{{ Metric('won_deals', group_by=['account']) }} > 1",
            "",
        ),
        ("derived_expr_unknown_name", "", "expr: won - lost"),
    ];
    for (name, filter, derived) in cases {
        let p = project_copy("semantic");
        let extra = if derived.is_empty() {
            format!(
                "  - name: broken\n    type: simple\n    type_params: {{measure: won_deals}}\n    filter: \"{filter}\"\n"
            )
        } else {
            format!(
                "  - name: broken\n    type: derived\n    type_params:\n      {derived}\n      metrics:\n        - {{name: won_deals, alias: won}}\n"
            )
        };
        let file = p.path().join("models/_metricflow.yml");
        let text = std::fs::read_to_string(&file).expect("fixture file");
        let text = text.replacen("metrics:\n", &format!("metrics:\n{extra}"), 1);
        std::fs::write(&file, text).expect("write");
        let out = run_in(p.path(), &["parse"]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        let shown = stderr(&out).replace(&p.path().display().to_string(), "[PROJECT]");
        insta::assert_snapshot!(format!("load_error__{name}"), shown);
    }
}
