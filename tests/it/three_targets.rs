//! Package code of the dbt_utils / dbt_date / audit_helper / Fivetran kind on all
//! three targets (issue 16, item 4): tests/fixtures/pkg_three_targets is a root dbt
//! project using the fixture package `tri_utils` (namespaced and dispatched macros,
//! adapter-prefixed implementations, the root's `dispatch:` search order, run_query
//! and statement-driven SQL, a get_columns_in_relation `star` and union, a pivot
//! from distinct values, date spines, surrogate keys, list mutations, `return()`),
//! and dbt-core's own `dbt` macros. It is built on DuckDB, on fakesnow and on
//! bqemulator; each relation's rows are computed here from the seed files, and on
//! DuckDB they are also compared with dbt-core's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{Datelike, Days, Months, NaiveDate};
use md5::{Digest, Md5};

use crate::common::{copy_dir, fixture, query, sluice, stderr, stdout};

const FIXTURE: &str = "pkg_three_targets";

/// A seed file's rows (the fixture's CSVs have no quoted fields); empty is null.
fn seed(name: &str) -> Vec<Vec<Option<String>>> {
    let path = fixture(FIXTURE).join(format!("seeds/{name}.csv"));
    let text = std::fs::read_to_string(path).expect("read seed");
    text.lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .map(|c| (!c.is_empty()).then(|| c.to_owned()))
                .collect()
        })
        .collect()
}

fn cell(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "NULL".into())
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
}

/// Warehouses print the same values differently: `1.0`/`1`, `TRUE`/`true`,
/// `5.000000`/`5.000000000`.
fn normalize(rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| {
                    if c.eq_ignore_ascii_case("true") || c.eq_ignore_ascii_case("false") {
                        return c.to_lowercase();
                    }
                    match c.parse::<f64>() {
                        Ok(n) if c.contains('.') => format!("{n}"),
                        _ => c,
                    }
                })
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// Every relation's expected columns and rows, from the seeds and the macros'
/// documented semantics; `label` is the adapter-prefixed implementation dispatch
/// must pick.
fn expected(label: &str) -> BTreeMap<&'static str, (Vec<&'static str>, Vec<Vec<String>>)> {
    let people = seed("people");
    let events_a = seed("events_a");
    let events_b = seed("events_b");
    let mut out = BTreeMap::new();

    // The root's default__clean_text (upper) beats the package's (lower).
    let keyed = people
        .iter()
        .map(|p| {
            let id = cell(&p[0]);
            let last = p[2].clone().unwrap_or_else(|| "_null_".into());
            let key = Md5::digest(format!("{id}-{last}").as_bytes());
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            vec![id, hex, cell(&p[1]).to_uppercase(), label.to_owned()]
        })
        .collect();
    out.insert(
        "people_keyed",
        (
            vec!["id", "person_key", "first_clean", "target_label"],
            keyed,
        ),
    );

    // star(except=['CENTS', 'signed_up']): columns 4 and 5 go.
    let star = people
        .iter()
        .map(|p| [0, 1, 2, 3, 6].iter().map(|&i| cell(&p[i])).collect())
        .collect();
    out.insert(
        "people_star",
        (
            vec!["id", "first_name", "last_name", "city", "active"],
            star,
        ),
    );

    let mut union: Vec<Vec<String>> = Vec::new();
    for e in &events_a {
        union.push(vec![
            "events_a".into(),
            cell(&e[0]),
            cell(&e[1]),
            cell(&e[2]),
            "NULL".into(),
        ]);
    }
    for e in &events_b {
        union.push(vec![
            "events_b".into(),
            cell(&e[0]),
            cell(&e[1]),
            "NULL".into(),
            cell(&e[2]),
        ]);
    }
    let kinds: BTreeSet<String> = union.iter().map(|r| r[2].clone()).collect();
    let mut counts: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for r in &union {
        *counts
            .entry(r[1].clone())
            .or_default()
            .entry(r[2].clone())
            .or_default() += 1;
    }
    let pivot = counts
        .iter()
        .map(|(id, by_kind)| {
            std::iter::once(id.clone())
                .chain(
                    kinds
                        .iter()
                        .map(|k| by_kind.get(k).copied().unwrap_or(0).to_string()),
                )
                .collect()
        })
        .collect();
    assert_eq!(kinds.len(), 3, "the pivot below names three kinds");
    out.insert(
        "events_pivot",
        (vec!["id", "n_buy", "n_click", "n_view"], pivot),
    );
    out.insert(
        "events_union",
        (vec!["_source", "id", "kind", "amount", "channel"], union),
    );

    let spine = |from: &str, to: &str| -> Vec<Vec<String>> {
        let (mut d, end) = (day(from), day(to));
        let mut rows = Vec::new();
        while d < end {
            rows.push(vec![d.to_string()]);
            d = d + Days::new(1);
        }
        rows
    };
    out.insert(
        "day_spine",
        (vec!["day"], spine("2024-02-26", "2024-03-02")),
    );
    out.insert(
        "dbt_spine",
        (vec!["day"], spine("2024-02-27", "2024-03-02")),
    );

    let last_of_month = |d: NaiveDate| {
        let first = d.with_day(1).expect("day 1 exists");
        first + Months::new(1) - Days::new(1)
    };
    let months = (1..=3)
        .map(|m| {
            let start = NaiveDate::from_ymd_opt(2024, m, 1).expect("a date");
            vec![start.to_string(), last_of_month(start).to_string()]
        })
        .collect();
    out.insert("tri_months", (vec!["month_start", "month_end"], months));

    let ids = |rows: &[Vec<Option<String>>]| -> BTreeSet<String> {
        rows.iter().map(|r| cell(&r[0])).collect()
    };
    let mut set_ops = Vec::new();
    for id in ids(&people).difference(&ids(&events_a)) {
        set_ops.push(vec!["except".to_owned(), id.clone()]);
    }
    for id in ids(&people).intersection(&ids(&events_b)) {
        set_ops.push(vec!["intersect".to_owned(), id.clone()]);
    }
    out.insert("set_ops", (vec!["op", "id"], set_ops));

    let mut cities: BTreeMap<String, (bool, Vec<String>)> = BTreeMap::new();
    for p in &people {
        let entry = cities.entry(cell(&p[3])).or_default();
        entry.0 |= cell(&p[6]) == "true";
        entry.1.push(cell(&p[1]));
    }
    let aggregates = cities
        .into_iter()
        .map(|(city, (active, mut names))| {
            names.sort();
            vec![
                city.clone(),
                city,
                active.to_string(),
                names.join(", "),
                names.len().to_string(),
            ]
        })
        .collect();
    out.insert(
        "city_aggregates",
        (
            vec!["city", "any_city", "any_active", "names", "n"],
            aggregates,
        ),
    );

    let jan31 = day("2024-01-31");
    let feb10 = day("2024-02-10");
    let functions: Vec<(&'static str, String)> = vec![
        (
            "split_2",
            "a-b-c".split('-').nth(1).unwrap_or_default().into(),
        ),
        (
            "split_last",
            "a-b-c".rsplit('-').next().unwrap_or_default().into(),
        ),
        ("right_3", "abcdef"[3..].into()),
        (
            "position_c",
            ("abcdef".find('c').unwrap_or_default() + 1).to_string(),
        ),
        ("replaced", "a-b".replace('-', "+")),
        ("length_4", "abcd".len().to_string()),
        ("escaped", "O'Hara".into()),
        ("literal", "lit".into()),
        ("concatenated", ["x", "y", "z"].concat()),
        ("bool_text", "true".into()),
        ("cast_int", "42".into()),
        ("cast_bigint", "7".into()),
        ("safe_cast_12", "12".into()),
        ("numeric_5", (1.25f64 * 4.0).to_string()),
        ("cast_bool", "true".into()),
        ("timestamp_day", "2024-05-06".into()),
        // dateadd clamps to the month's end.
        (
            "month_after",
            last_of_month(jan31 + Days::new(1)).to_string(),
        ),
        ("day_before", (day("2024-03-01") - Days::new(1)).to_string()),
        ("months_between", (3 - 1).to_string()),
        (
            "days_between",
            (day("2024-03-15") - day("2024-01-01"))
                .num_days()
                .to_string(),
        ),
        ("month_start", feb10.with_day(1).expect("day 1").to_string()),
        ("month_end", last_of_month(feb10).to_string()),
        ("quarter_end", last_of_month(day("2024-03-01")).to_string()),
        ("made_date", "2024-03-05".into()),
        ("equal_strings", "true".into()),
        ("has_now", "true".into()),
        ("has_now_backcompat", "true".into()),
        ("has_now_utc", "true".into()),
    ];
    out.insert(
        "dbt_functions",
        (
            functions.iter().map(|(c, _)| *c).collect(),
            vec![functions.into_iter().map(|(_, v)| v).collect()],
        ),
    );
    out.insert("arrays", (vec!["joined"], vec![vec!["a,b,c,d".into()]]));
    out.into_iter()
        .map(|(k, (cols, rows))| (k, (cols, normalize(rows))))
        .collect()
}

fn assert_built(out: &std::process::Output, target: &str) {
    assert!(
        out.status.success(),
        "{target} build failed:\n{}\n{}",
        stdout(out),
        stderr(out)
    );
}

#[test]
fn the_package_fixture_builds_the_expected_rows_on_duckdb() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture(FIXTURE), dir.path());
    let out = sluice()
        .current_dir(dir.path())
        .args(["build", "--profiles-dir", "."])
        .output()
        .expect("sluice runs");
    assert_built(&out, "duckdb");
    let db = dir.path().join("dev.duckdb");
    for (model, (columns, rows)) in expected("default") {
        let got_columns: Vec<String> = query(
            &db,
            &format!(
                "select column_name from information_schema.columns \
                 where table_schema = 'main' and table_name = '{model}' order by ordinal_position"
            ),
        )
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
        assert_eq!(got_columns, columns, "columns of {model}");
        let got = normalize(query(&db, &format!("select * from main.{model}")));
        assert_eq!(got, rows, "rows of {model}");
    }
}

#[test]
fn the_package_fixture_builds_what_dbt_core_builds() {
    let p = fixture(FIXTURE);
    crate::dbt_compare::compare_with_dbt(&p, &p, &[]);
}

/// A model's column names and rows as `sluice show -t TARGET` prints them.
fn shown(dir: &Path, target: &str, model: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let out = crate::warehouses::run(
        dir,
        &[
            "show",
            "--profiles-dir",
            &dir.display().to_string(),
            "-s",
            model,
            "--limit",
            "1000",
            "-t",
            target,
        ],
    );
    assert!(
        out.status.success(),
        "{target} show {model}: {}",
        stderr(&out)
    );
    let text = stdout(&out);
    let mut lines = text
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|-"))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_owned())
                .collect::<Vec<_>>()
        });
    let header = lines.next().unwrap_or_default();
    (
        header.into_iter().map(|c| c.to_lowercase()).collect(),
        lines.collect(),
    )
}

/// Build the fixture on a warehouse stand-in (an output added to its profiles.yml)
/// and check every relation's rows.
fn builds_on(output: &str, label: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture(FIXTURE), dir.path());
    let profiles = dir.path().join("profiles.yml");
    let text = std::fs::read_to_string(&profiles).expect("read profiles.yml");
    std::fs::write(&profiles, format!("{text}    wh: {{{output}}}\n")).expect("write");
    let dir_arg = dir.path().display().to_string();
    let out = crate::warehouses::run(
        dir.path(),
        &["build", "--profiles-dir", &dir_arg, "-t", "wh"],
    );
    assert_built(&out, label);
    for (model, (columns, rows)) in expected(label) {
        let (got_columns, got) = shown(dir.path(), "wh", model);
        assert_eq!(got_columns, columns, "{label}: columns of {model}");
        assert_eq!(normalize(got), rows, "{label}: rows of {model}");
    }
}

#[test]
fn the_package_fixture_builds_the_expected_rows_on_snowflake() {
    let Some(url) = crate::warehouses::fakesnow() else {
        return;
    };
    builds_on(
        &crate::warehouses::snowflake_target(&url, "TRI"),
        "snowflake",
    );
}

#[test]
fn the_package_fixture_builds_the_expected_rows_on_bigquery() {
    let Some((url, project)) = crate::warehouses::bqemulator() else {
        return;
    };
    builds_on(
        &crate::warehouses::bigquery_target(&url, &project, "tri"),
        "bigquery",
    );
}

/// Every `dbt` macro a package may call, compiled for each adapter without a
/// connection: the snapshot is dbt-adapters' SQL (and dbt-snowflake's,
/// dbt-bigquery's, dbt-duckdb's overrides), one section per target.
#[test]
fn dbt_macros_compile_to_each_adapters_sql() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture(FIXTURE), dir.path());
    let profiles = dir.path().join("profiles.yml");
    let text = std::fs::read_to_string(&profiles).expect("read profiles.yml");
    // Nothing listens on port 9: compiling these models needs no warehouse.
    std::fs::write(
        &profiles,
        format!(
            "{text}    snowflake: {{type: snowflake, account: offline, user: u, password: p, database: D, schema: s, base_url: \"http://127.0.0.1:9\"}}\n    \
             bigquery: {{type: bigquery, method: none, project: p, dataset: d, base_url: \"http://127.0.0.1:9\"}}\n"
        ),
    )
    .expect("write profiles.yml");
    let calls = [
        "dbt.type_string()",
        "dbt.type_int()",
        "dbt.type_bigint()",
        "dbt.type_float()",
        "dbt.type_numeric()",
        "dbt.type_timestamp()",
        "dbt.type_boolean()",
        "api.Column.translate_type('string')",
        "api.Column.translate_type('integer')",
        "api.Column.numeric_type('numeric', 12, 2)",
        "dbt.cast('x', dbt.type_int())",
        "dbt.safe_cast('x', dbt.type_int())",
        "dbt.cast_bool_to_text('b')",
        "dbt.current_timestamp()",
        "dbt.current_timestamp_backcompat()",
        "dbt.current_timestamp_in_utc_backcompat()",
        "dbt.date_trunc('month', 'd')",
        "dbt.datediff('a', 'b', 'day')",
        "dbt.dateadd('day', 3, 'd')",
        "dbt.last_day('d', 'month')",
        "dbt.date(2024, 3, 5)",
        "dbt.concat(['a', 'b'])",
        "dbt.hash('f')",
        "dbt.length('s')",
        "dbt.position(\"'x'\", 's')",
        "dbt.replace('s', \"'a'\", \"'b'\")",
        "dbt.right('s', 2)",
        "dbt.split_part('s', \"','\", 2)",
        "dbt.escape_single_quotes(\"it's\")",
        "dbt.string_literal('lit')",
        "dbt.any_value('v')",
        "dbt.bool_or('b')",
        "dbt.listagg('v', \"','\", 'order by v', 2)",
        "dbt.equals('a', 'b')",
        "dbt.except()",
        "dbt.intersect()",
        "dbt.array_construct(['1', '2'])",
        "dbt.array_construct()",
        "dbt.array_append('arr', '3')",
        "dbt.array_concat('a1', 'a2')",
        "dbt.generate_series(5)",
    ];
    // A list of fragments, not a query: the SQL check is off.
    let body: String = std::iter::once("{{ config(sql_check='off') }}\n".to_owned())
        .chain(calls.iter().map(|c| format!("-- {c}\n{{{{ {c} }}}}\n")))
        .collect();
    std::fs::write(dir.path().join("models/dbt_macro_sql.sql"), body).expect("write model");
    let mut shown = String::new();
    for target in ["dev", "snowflake", "bigquery"] {
        let out = sluice()
            .current_dir(dir.path())
            .args([
                "compile",
                "--profiles-dir",
                ".",
                "-s",
                "dbt_macro_sql",
                "-t",
                target,
            ])
            .output()
            .expect("sluice runs");
        assert!(out.status.success(), "{target}: {}", stderr(&out));
        let sql = std::fs::read_to_string(
            dir.path()
                .join("target/compiled/tri_root/models/dbt_macro_sql.sql"),
        )
        .expect("compiled SQL");
        shown.push_str(&format!("==== {target}\n{sql}\n"));
    }
    insta::assert_snapshot!("dbt_macros_per_adapter", shown);
}

/// A `dbt.` or package macro that does not exist is an error at the call naming it.
#[test]
fn a_missing_namespaced_macro_is_a_located_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture(FIXTURE), dir.path());
    for (call, says) in [
        (
            "dbt.no_such_macro('x')",
            "`dbt.no_such_macro` is not one of dbt-core's `dbt` macros that sluice provides",
        ),
        (
            "tri_utils.no_such_macro('x')",
            "`tri_utils` has no macro named `no_such_macro`",
        ),
    ] {
        std::fs::write(
            dir.path().join("models/missing.sql"),
            format!("select\n  {{{{ {call} }}}} as x\n"),
        )
        .expect("write model");
        let out = sluice()
            .current_dir(dir.path())
            .args(["compile", "--profiles-dir", ".", "-s", "missing"])
            .output()
            .expect("sluice runs");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(err.contains("models/missing.sql:2:"), "{err}");
    }
}
