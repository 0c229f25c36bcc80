//! Snowflake and BigQuery end to end, over real HTTP against the local stand-ins
//! (fakesnow, bqemulator) that `scripts/test` installs and starts, announcing them
//! in `SLUICE_FAKESNOW_URL` and `SLUICE_BQEMULATOR_URL`.
//!
//! Without them each test says so on stderr and returns; with
//! `SLUICE_REQUIRE_STANDINS=1` (CI) a missing stand-in fails the test instead.
//! Where a stand-in cannot play a part (fakesnow accepts any password, neither
//! hangs on request), a small local HTTP peer plays it, replaying the real
//! service's documented answer.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;

use crate::common::{copy_dir, fixture, run_in, sluice, statuses, stderr, stdout};

/// A secret that must appear in no output and no artifact.
const PASSWORD: &str = "sluice-test-secret-Pa55w0rd";

pub(crate) fn standin(var: &str, name: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let message = format!(
                "{name} stand-in not running ({var} unset): start it with `python3 scripts/standins.py start` (scripts/test does)"
            );
            if std::env::var("SLUICE_REQUIRE_STANDINS").as_deref() == Ok("1") {
                panic!("{message}; SLUICE_REQUIRE_STANDINS=1 requires it");
            }
            eprintln!("SKIPPED: {message}");
            None
        }
    }
}

pub(crate) fn fakesnow() -> Option<String> {
    standin("SLUICE_FAKESNOW_URL", "fakesnow (Snowflake)")
}

pub(crate) fn bqemulator() -> Option<(String, String)> {
    let url = standin("SLUICE_BQEMULATOR_URL", "bqemulator (BigQuery)")?;
    let project =
        std::env::var("SLUICE_BQEMULATOR_PROJECT").unwrap_or_else(|_| "sluice-test".into());
    Some((format!("{url}/bigquery/v2"), project))
}

/// Add a target to a copied project's `targets:` (a YAML flow mapping).
pub(crate) fn add_target(project: &Path, name: &str, fields: &str) {
    let path = project.join("project.yml");
    let text = std::fs::read_to_string(&path).expect("project.yml");
    let text = text.replacen(
        "targets:\n",
        &format!("targets:\n  {name}: {{{fields}}}\n"),
        1,
    );
    std::fs::write(&path, text).expect("write project.yml");
}

pub(crate) fn snowflake_target(url: &str, database: &str) -> String {
    format!(
        "type: snowflake, account: sluicetest, user: ci, password: \"{{{{ env_var('SLUICE_TEST_PASSWORD') }}}}\", database: {database}, schema: analytics, threads: 4, base_url: \"{url}\""
    )
}

pub(crate) fn bigquery_target(url: &str, project: &str, dataset: &str) -> String {
    format!(
        "type: bigquery, method: none, project: {project}, dataset: {dataset}, location: US, threads: 4, base_url: \"{url}\""
    )
}

pub(crate) fn run(dir: &Path, args: &[&str]) -> Output {
    sluice()
        .env("SLUICE_TEST_PASSWORD", PASSWORD)
        .args(args)
        .arg("--project-dir")
        .arg(dir)
        .output()
        .expect("sluice runs")
}

/// Every file under `dir` and both streams of `outputs` are free of the secret.
fn assert_no_secret(dir: &Path, outputs: &[&Output]) {
    for o in outputs {
        assert!(!stdout(o).contains(PASSWORD), "the password reached stdout");
        assert!(!stderr(o).contains(PASSWORD), "the password reached stderr");
    }
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.expect("walk");
        if entry.file_type().is_file() && entry.file_name() != "project.yml" {
            let bytes = std::fs::read(entry.path()).expect("read artifact");
            assert!(
                !String::from_utf8_lossy(&bytes).contains(PASSWORD),
                "the password is in {}",
                entry.path().display()
            );
        }
    }
}

/// The GTM project with the tiny seeds and the hand-derived tiny assertions.
fn gtm_tiny_copy() -> tempfile::TempDir {
    let p = crate::gtm::gtm_copy();
    crate::gtm::use_tiny_seeds(p.path());
    for entry in std::fs::read_dir(fixture("gtm_tiny")).expect("fixture dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("assertions") && name.ends_with(".yml") {
            std::fs::copy(&path, p.path().join(format!("models/_tiny_{name}"))).expect("copy");
        }
    }
    p
}

const TINY_BUILD: [&str; 5] = [
    "build",
    "--vars",
    "{as_of_date: \"2025-03-31\"}",
    // Metric assertions whose expected values are the full seeds'.
    "--exclude",
    "tag:full_seeds",
];

fn assert_everything_passed(dir: &Path, out: &Output, target: &str) {
    assert!(
        out.status.success(),
        "the GTM build failed on {target}:\n{}\n{}",
        stdout(out),
        stderr(out)
    );
    let st = statuses(&dir.join(".sluice"));
    let not_passed: Vec<_> = st
        .iter()
        .filter(|(_, s)| *s != "pass" && *s != "success")
        .collect();
    assert!(not_passed.is_empty(), "{target}: {not_passed:?}");
    // Every kind of node ran: models, seeds, the snapshot, tests, unit tests and
    // the hand-computed assertions.
    for prefix in [
        "model.",
        "seed.",
        "snapshot.",
        "test.",
        "unit_test.",
        "assertion.gtm_analytics.tiny_",
    ] {
        assert!(
            st.keys().any(|k| k.starts_with(prefix)),
            "{target}: no {prefix} node ran"
        );
    }
}

/// The metric questions asked of every target; the answers must agree to the cent.
const METRIC_QUERIES: [&[&str]; 6] = [
    &[
        "--metrics",
        "mrr,new_customers",
        "--group-by",
        "account__segment",
        "--grain",
        "quarter",
    ],
    &["--metrics", "arr", "--grain", "month"],
    &[
        "--metrics",
        "closed_amount,closed_deals",
        "--group-by",
        "rep__team",
        "--grain",
        "quarter",
    ],
    &[
        "--metrics",
        "ad_spend,clicks",
        "--group-by",
        "channel",
        "--grain",
        "month",
    ],
    &[
        "--metrics",
        "attributed_revenue_linear",
        "--group-by",
        "channel",
        "--grain",
        "year",
    ],
    &[
        "--metrics",
        "churn_mrr",
        "--group-by",
        "account__tier",
        "--grain",
        "year",
    ],
];

/// A metric answer as sorted rows of (column, value), numbers rounded to cents.
fn metric_answer(dir: &Path, target: &str, query: &[&str]) -> Vec<Vec<(String, String)>> {
    let mut args = vec!["metrics", "query"];
    args.extend_from_slice(query);
    args.extend_from_slice(&[
        "--format",
        "json",
        "-t",
        target,
        "--vars",
        "{as_of_date: \"2025-03-31\"}",
    ]);
    let out = run(dir, &args);
    assert!(out.status.success(), "{target} {query:?}: {}", stderr(&out));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json rows");
    let mut answer: Vec<Vec<(String, String)>> = rows
        .as_array()
        .expect("a list of rows")
        .iter()
        .map(|row| {
            row.as_object()
                .expect("a row object")
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        serde_json::Value::Number(n) => cents(n.as_f64().unwrap_or(0.0)),
                        // A date (or a midnight timestamp) compares as its day.
                        serde_json::Value::String(s)
                            if s.len() >= 10 && s.as_bytes()[4] == b'-' =>
                        {
                            s[..10].to_owned()
                        }
                        serde_json::Value::String(s) => {
                            s.parse::<f64>().map_or_else(|_| s.clone(), cents)
                        }
                        other => other.to_string(),
                    };
                    (k.to_lowercase(), text)
                })
                .collect()
        })
        .collect();
    answer.sort();
    answer
}

/// A number to the cent; `-0.00` is `0.00`.
fn cents(f: f64) -> String {
    let text = format!("{f:.2}");
    if text == "-0.00" {
        "0.00".to_owned()
    } else {
        text
    }
}

#[test]
fn the_gtm_project_builds_alike_on_duckdb_snowflake_and_bigquery() {
    let (Some(sf), Some((bq, bq_project))) = (fakesnow(), bqemulator()) else {
        return;
    };
    let duck = gtm_tiny_copy();
    let snow = gtm_tiny_copy();
    let big = gtm_tiny_copy();
    add_target(snow.path(), "sf_e2e", &snowflake_target(&sf, "GTM_E2E"));
    add_target(
        big.path(),
        "bq_e2e",
        &bigquery_target(&bq, &bq_project, "gtm_e2e"),
    );
    // The three builds at once: each stand-in is its own process.
    let (duck_out, snow_out, big_out) = std::thread::scope(|s| {
        let d = s.spawn(|| run_in(duck.path(), &TINY_BUILD));
        let sn = s.spawn(|| {
            let mut args = TINY_BUILD.to_vec();
            args.extend_from_slice(&["-t", "sf_e2e"]);
            run(snow.path(), &args)
        });
        let b = s.spawn(|| {
            let mut args = TINY_BUILD.to_vec();
            args.extend_from_slice(&["-t", "bq_e2e"]);
            run(big.path(), &args)
        });
        (
            d.join().expect("duckdb build"),
            sn.join().expect("snowflake build"),
            b.join().expect("bigquery build"),
        )
    });
    assert_everything_passed(duck.path(), &duck_out, "duckdb");
    assert_everything_passed(snow.path(), &snow_out, "snowflake");
    assert_everything_passed(big.path(), &big_out, "bigquery");
    // The same node count everywhere: nothing was quietly left out.
    let count = |d: &Path| statuses(&d.join(".sluice")).len();
    assert_eq!(count(snow.path()), count(duck.path()));
    assert_eq!(count(big.path()), count(duck.path()));

    for query in METRIC_QUERIES {
        let expected = metric_answer(duck.path(), "dev", query);
        assert!(!expected.is_empty(), "{query:?} answered no rows on DuckDB");
        assert_eq!(
            metric_answer(snow.path(), "sf_e2e", query),
            expected,
            "snowflake {query:?}"
        );
        assert_eq!(
            metric_answer(big.path(), "bq_e2e", query),
            expected,
            "bigquery {query:?}"
        );
    }
    assert_no_secret(snow.path(), &[&snow_out]);
}

/// The small `exec` fixture with one extra model that the warehouse rejects.
fn exec_with_a_broken_model() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture("exec"), dir.path());
    std::fs::write(
        dir.path().join("models/marts/broken_mart.sql"),
        "select customer_id, no_such_column from {{ ref('stg_customers') }}\n",
    )
    .expect("write model");
    dir
}

fn assert_one_model_failed(dir: &Path, out: &Output, target: &str) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{target}: {}\n{}",
        stdout(out),
        stderr(out)
    );
    let text = format!("{}{}", stdout(out), stderr(out));
    assert!(
        text.contains("broken_mart"),
        "{target}: the error names the model:\n{text}"
    );
    assert!(
        text.contains("compiled/exec/models/marts/broken_mart.sql"),
        "{target}: the error names the compiled file:\n{text}"
    );
    let st = statuses(&dir.join("target"));
    assert_eq!(st["model.exec.broken_mart"], "error", "{target}");
    // The others still built.
    for ok in [
        "model.exec.customer_revenue",
        "model.exec.stg_orders",
        "seed.exec.raw_orders",
    ] {
        assert_eq!(st[ok], "success", "{target}: {ok}");
    }
}

#[test]
fn a_sql_error_in_one_model_fails_only_that_model_on_snowflake() {
    let Some(sf) = fakesnow() else { return };
    let p = exec_with_a_broken_model();
    add_target(p.path(), "sf", &snowflake_target(&sf, "EXEC_BROKEN"));
    let out = run(p.path(), &["build", "-t", "sf"]);
    assert_one_model_failed(p.path(), &out, "snowflake");
    assert_no_secret(p.path(), &[&out]);
    // The debug report shows what it found, never the password.
    let debug = run(p.path(), &["debug", "-t", "sf"]);
    assert!(debug.status.success(), "{}", stdout(&debug));
    assert!(
        stdout(&debug).contains("database: EXEC_BROKEN"),
        "{}",
        stdout(&debug)
    );
    assert!(
        stdout(&debug).contains("auth: password"),
        "{}",
        stdout(&debug)
    );
    assert_no_secret(p.path(), &[&debug]);
}

#[test]
fn a_sql_error_in_one_model_fails_only_that_model_on_bigquery() {
    let Some((bq, project)) = bqemulator() else {
        return;
    };
    let p = exec_with_a_broken_model();
    add_target(
        p.path(),
        "bq",
        &bigquery_target(&bq, &project, "exec_broken"),
    );
    let out = run(p.path(), &["build", "-t", "bq"]);
    assert_one_model_failed(p.path(), &out, "bigquery");
    let debug = run(p.path(), &["debug", "-t", "bq"]);
    assert!(
        stdout(&debug).contains("`exec_broken` exists"),
        "{}",
        stdout(&debug)
    );

    // 25,000 rows arrive in pages of 10,000 (getQueryResults with pageToken):
    // every row comes back, exactly once.
    std::fs::write(
        p.path().join("models/many_rows.sql"),
        "select x from unnest(generate_array(1, 25000)) as x\n",
    )
    .expect("write model");
    let out = run(
        p.path(),
        &["show", "-s", "many_rows", "--limit", "30000", "-t", "bq"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut values: Vec<u64> = stdout(&out)
        .lines()
        .filter_map(|l| l.trim().trim_matches('|').trim().parse().ok())
        .collect();
    values.sort_unstable();
    assert_eq!(values, (1..=25000).collect::<Vec<u64>>());
}

/// A local peer that answers every request with `status` and `body`, or (with
/// `None`) accepts and never answers.
fn peer(answer: Option<(u16, &'static str)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 65536];
            let _ = stream.read(&mut buf);
            match answer {
                Some((status, body)) => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
                None => held.push(stream),
            }
        }
    });
    url
}

#[test]
fn wrong_snowflake_credentials_are_a_clear_error_without_the_secret() {
    // fakesnow accepts any password; this peer answers as Snowflake does to a bad
    // one (HTTP 200, success false, code 390100).
    let url = peer(Some((
        200,
        r#"{"data":{"nextAction":null,"authnMethod":"USERNAME_PASSWORD"},"code":"390100","message":"Incorrect username or password was specified.","success":false}"#,
    )));
    let p = crate::common::project_copy("exec");
    add_target(p.path(), "sf", &snowflake_target(&url, "EXEC"));
    let out = run(p.path(), &["build", "-t", "sf"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Snowflake refused the login of user `ci`"),
        "{err}"
    );
    assert!(err.contains("Incorrect username or password"), "{err}");
    assert!(
        err.contains("project.yml"),
        "the error points at the target: {err}"
    );
    assert_no_secret(p.path(), &[&out]);
}

#[test]
fn a_bigquery_service_account_that_google_refuses_is_a_clear_error() {
    // The emulator checks no credentials; this peer is Google's token endpoint
    // refusing the signed assertion, as it does for a deleted key.
    let token_uri = peer(Some((
        400,
        r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#,
    )));
    let key = serde_json::json!({
        "type": "service_account",
        "client_email": "ci@sluice-test.iam.gserviceaccount.com",
        "private_key": include_str!("../fixtures/keys/test_rsa_key.p8"),
        "token_uri": format!("{token_uri}/token"),
    });
    let p = crate::common::project_copy("exec");
    add_target(
        p.path(),
        "bq",
        &format!("type: bigquery, method: service-account-json, keyfile_json: \"{{{{ env_var('SLUICE_TEST_KEYFILE') }}}}\", project: p, dataset: exec, base_url: \"{token_uri}\", retries: 0"),
    );
    let out = sluice()
        .env("SLUICE_TEST_KEYFILE", key.to_string())
        .args(["build", "-t", "bq", "--project-dir"])
        .arg(p.path())
        .output()
        .expect("sluice runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Google refused the service account ci@sluice-test.iam.gserviceaccount.com"),
        "{err}"
    );
    assert!(err.contains("Invalid JWT Signature"), "{err}");
    assert!(
        !err.contains("PRIVATE KEY") && !err.contains("MII"),
        "key material leaked: {err}"
    );
}

#[test]
fn an_unreachable_warehouse_says_where_it_looked() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let p = crate::common::project_copy("exec");
    add_target(
        p.path(),
        "sf",
        &format!(
            "{}, retries: 1",
            snowflake_target(&format!("http://127.0.0.1:{port}"), "EXEC")
        ),
    );
    let out = run(p.path(), &["build", "-t", "sf"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "cannot reach Snowflake at 127.0.0.1:{port} (after 2 attempts)"
        )),
        "{err}"
    );
    assert_no_secret(p.path(), &[&out]);
}

#[test]
fn a_warehouse_that_does_not_answer_times_out() {
    let url = peer(None);
    let p = crate::common::project_copy("exec");
    add_target(
        p.path(),
        "bq",
        &format!("type: bigquery, method: none, project: p, dataset: exec, base_url: \"{url}\", timeout_seconds: 1"),
    );
    let started = std::time::Instant::now();
    let out = run(p.path(), &["build", "-t", "bq"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("BigQuery did not answer within 1 s"),
        "{}",
        stderr(&out)
    );
    // One attempt: a timeout is never retried (the statement may be running).
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// A model's rows as `sluice show` prints them, sorted.
pub(crate) fn shown_rows(dir: &Path, target: &str, model: &str) -> Vec<Vec<String>> {
    let out = run(dir, &["show", "-s", model, "--limit", "1000", "-t", target]);
    assert!(
        out.status.success(),
        "{target} show {model}: {}",
        stderr(&out)
    );
    let mut rows: Vec<Vec<String>> = stdout(&out)
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|-"))
        .skip(1)
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// Each incremental strategy, over three growing batches with late updates, ends
/// equal to the same query built as a table, on Snowflake (standard `MERGE`, a
/// `begin`/`commit` batch write) and on BigQuery (`MERGE`, a transaction script).
fn incremental_strategies_match_their_table_twin(target: &str, fields: &dyn Fn(usize) -> String) {
    // The table twin keeps each id's latest row (`where true`: BigQuery wants a
    // WHERE beside QUALIFY); append keeps every event.
    let latest = "select id, updated_at, amount from {{ ref('events') }} where true \
                  qualify row_number() over (partition by id order by updated_at desc) = 1";
    let every = "select id, updated_at, amount from {{ ref('events') }}";
    let cases = [
        ("append", "", every, 7),
        (
            "merge",
            ", unique_key='id', incremental_strategy='merge'",
            latest,
            4,
        ),
        (
            "delete+insert",
            ", unique_key='id', incremental_strategy='delete+insert'",
            latest,
            4,
        ),
    ];
    let batches: [&[&str]; 3] = [
        &["1,2024-01-01,10", "2,2024-01-02,20"],
        &["3,2024-01-03,30", "1,2024-01-04,15"],
        &["4,2024-01-05,40", "2,2024-01-06,25", "3,2024-01-06,35"],
    ];
    // Each case in its own database or dataset, named for this process too: the
    // stand-ins outlive a test run, and the first build must find no table.
    for (i, (strategy, keys, twin, final_rows)) in cases.into_iter().enumerate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path();
        std::fs::write(
            p.join("project.yml"),
            format!(
                "name: inc\ntarget-path: target\ntargets:\n  {target}: {{{}}}\n",
                fields(i)
            ),
        )
        .expect("project.yml");
        std::fs::create_dir_all(p.join("models")).expect("models");
        std::fs::create_dir_all(p.join("seeds")).expect("seeds");
        std::fs::write(
            p.join("models/incr.sql"),
            format!(
                "{{{{ config(materialized='incremental'{keys}) }}}}\n\
                 select * from ({twin}) as batch\n\
                 {{% if is_incremental() %}}\n\
                 where updated_at > (select max(updated_at) from {{{{ this }}}})\n\
                 {{% endif %}}\n"
            ),
        )
        .expect("incr");
        // `show -s incr` would compile the batch query (the table exists); this
        // view reads the table itself.
        std::fs::write(
            p.join("models/incr_rows.sql"),
            "select * from {{ ref('incr') }}\n",
        )
        .expect("incr_rows");
        std::fs::write(
            p.join("models/twin.sql"),
            format!("{{{{ config(materialized='table') }}}}\n{twin}\n"),
        )
        .expect("twin");
        let mut seen: Vec<&str> = Vec::new();
        for (run_no, batch) in batches.iter().enumerate() {
            seen.extend_from_slice(batch);
            std::fs::write(
                p.join("seeds/events.csv"),
                format!("id,updated_at,amount\n{}\n", seen.join("\n")),
            )
            .expect("seed");
            let out = run(p, &["build", "-t", target]);
            assert!(
                out.status.success(),
                "{target} {strategy} run {run_no}: {}\n{}",
                stdout(&out),
                stderr(&out)
            );
            let executed = std::fs::read_to_string(p.join("target/run/inc/models/incr.sql"))
                .expect("run file");
            // The first run builds the table; later runs write a batch into it.
            assert_eq!(
                executed.contains("__sluice_batch"),
                run_no > 0,
                "{target} {strategy} run {run_no}"
            );
            let incr = shown_rows(p, target, "incr_rows");
            assert_eq!(
                incr,
                shown_rows(p, target, "twin"),
                "{target} {strategy} run {run_no}"
            );
            if run_no == 2 {
                assert_eq!(incr.len(), final_rows, "{target} {strategy}");
            }
        }
    }
}

#[test]
fn incremental_models_write_their_batches_on_snowflake() {
    let Some(sf) = fakesnow() else { return };
    incremental_strategies_match_their_table_twin("sf", &|i| {
        snowflake_target(&sf, &format!("INC_{i}_{}", std::process::id()))
    });
}

#[test]
fn incremental_models_write_their_batches_on_bigquery() {
    let Some((bq, project)) = bqemulator() else {
        return;
    };
    incremental_strategies_match_their_table_twin("bq", &|i| {
        bigquery_target(&bq, &project, &format!("inc_{i}_{}", std::process::id()))
    });
}

/// Snowflake: each schema's relations are listed once per run; a model whose
/// kind changed between runs is found as what it was (view or table) and
/// dropped before it is created as the other.
#[test]
fn a_model_that_changes_kind_is_replaced_on_snowflake() {
    let Some(sf) = fakesnow() else { return };
    let p = crate::common::project_copy("exec");
    add_target(p.path(), "sf", &snowflake_target(&sf, "EXEC_KINDS"));
    std::fs::write(
        p.path().join("models/staging/flip.sql"),
        "{{ config(materialized=var('flip', 'view')) }}\nselect 1 as n\n",
    )
    .expect("write model");
    let run_file = p.path().join("target/run/exec/models/staging/flip.sql");
    for (kind, before) in [
        ("view", None),
        ("table", Some("view")),
        ("view", Some("table")),
    ] {
        let vars = format!("{{flip: {kind}}}");
        let out = run(
            p.path(),
            &["run", "-t", "sf", "-s", "flip", "--vars", &vars],
        );
        assert!(
            out.status.success(),
            "{kind}: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
        let sql = std::fs::read_to_string(&run_file).expect("run file");
        match before {
            None => assert!(!sql.contains("drop "), "{sql}"),
            Some(old) => assert!(
                sql.starts_with(&format!("drop {old} if exists")),
                "{kind} after {old}: {sql}"
            ),
        }
        assert!(
            sql.contains(&format!("create or replace {kind}")),
            "{kind}: {sql}"
        );
    }
}
