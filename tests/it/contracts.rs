//! Model contracts (issue 17, item 11) on the `contracts` fixture (dbt layout):
//! `customers` (contract from the project's `+contract`, column constraints
//! not_null/primary_key/unique and a named model-level check), `orders` (YAML
//! `contract` with `alias_types: false`, a model-level foreign key to
//! `ref('customers')`, a check, a column check and a custom constraint), a
//! contracted view and a contracted incremental model. Compared with dbt-core +
//! dbt-duckdb on the same files: statuses, rows and column types, the
//! constraints DuckDB holds (`duckdb_constraints()`), the manifest's
//! `contract`/`constraints` fields, and the error of a model whose types do not
//! match its contract (dbt's table of mismatches), which leaves the old relation
//! as it was.

use std::path::Path;

use serde_json::Value;

use crate::common::{dbt_in, fixture, project_copy, query, read_json, sluice_in, stderr, stdout};
use crate::dbt_compare::{compare_with_dbt, dbt_binary};

/// The constraints DuckDB holds on the project's tables.
fn constraints(dir: &Path) -> Vec<Vec<String>> {
    query(
        &dir.join("dev.duckdb"),
        "select table_name, constraint_type, constraint_text from duckdb_constraints() \
         where schema_name = 'main' and table_name not like 'raw_%' order by all",
    )
}

/// Make `orders` return `amount` as a double, which its contract says is decimal(18,2).
fn break_orders(dir: &Path) {
    let path = dir.join("models/marts/orders.sql");
    let sql = std::fs::read_to_string(&path).expect("orders.sql");
    let broken = sql.replace(
        "cast(amount as decimal(18,2)) as amount",
        "cast(amount as double) as amount, 1 as extra",
    );
    assert_ne!(sql, broken, "the fixture casts amount");
    std::fs::write(&path, broken).expect("write orders.sql");
}

#[test]
fn contracts_build_as_dbt_core_builds_them() {
    let dir = fixture("contracts");
    compare_with_dbt(&dir, &dir.join("profiles"), &[]);
}

#[test]
fn contracted_tables_carry_the_constraints_dbt_duckdb_creates() {
    let ours = project_copy("contracts");
    // Twice: the second build replaces `customers`, which `orders` references.
    for _ in 0..2 {
        let out = sluice_in(ours.path(), &["build"]);
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    }
    let mine = constraints(ours.path());
    assert!(
        mine.contains(&vec![
            "orders".into(),
            "FOREIGN KEY".into(),
            "FOREIGN KEY (customer_id) REFERENCES customers(id)".into()
        ]),
        "{mine:?}"
    );
    assert!(
        mine.iter()
            .any(|r| r[0] == "customers" && r[2].contains("tier IN")),
        "{mine:?}"
    );
    // A view's constraints are not applied; the incremental model's are.
    assert!(!mine.iter().any(|r| r[0] == "orders_view"), "{mine:?}");
    assert!(mine.iter().any(|r| r[0] == "orders_incr"), "{mine:?}");
    let rows = query(
        &ours.path().join("dev.duckdb"),
        "select count(*) from main.orders",
    );
    assert_eq!(rows, vec![vec!["3".to_owned()]]);
    // The constraints are enforced: a row breaking the check is refused.
    let refused = duckdb::Connection::open(ours.path().join("dev.duckdb"))
        .expect("open")
        .execute_batch("insert into main.orders values (99, 1, -5, date '2024-01-01')");
    assert!(refused.is_err(), "the check constraint holds");

    let manifest = read_json(&ours.path().join("target/manifest.json"));
    let orders = &manifest["nodes"]["model.contracts.orders"];
    assert_eq!(orders["contract"]["enforced"], true);
    assert_eq!(orders["contract"]["alias_types"], false);
    assert_eq!(orders["constraints"][0]["type"], "foreign_key");
    assert_eq!(
        orders["constraints"][0]["columns"],
        serde_json::json!(["customer_id"])
    );
    assert_eq!(
        orders["columns"]["amount"]["constraints"][0]["expression"],
        "amount < 1000"
    );
    assert!(orders["depends_on"]["nodes"]
        .as_array()
        .expect("nodes")
        .contains(&Value::from("model.contracts.customers")));

    let Some(dbt) = dbt_binary() else { return };
    let theirs = project_copy("contracts");
    for _ in 0..2 {
        let out = dbt_in(&dbt, theirs.path(), &["build"]);
        assert!(out.status.success(), "{}", stdout(&out));
    }
    assert_eq!(mine, constraints(theirs.path()), "duckdb_constraints()");
    let their_manifest = read_json(&theirs.path().join("target/manifest.json"));
    for id in [
        "model.contracts.customers",
        "model.contracts.orders",
        "model.contracts.orders_view",
        "model.contracts.orders_incr",
    ] {
        let (a, b) = (&manifest["nodes"][id], &their_manifest["nodes"][id]);
        assert_eq!(a["contract"], b["contract"], "{id} contract (checksum too)");
        assert_eq!(a["config"]["contract"], b["config"]["contract"], "{id}");
        for (name, col) in b["columns"].as_object().expect("columns") {
            assert_eq!(
                a["columns"][name]["constraints"], col["constraints"],
                "{id}.{name} constraints"
            );
        }
        // dbt writes a foreign key's `to` compiled; compare the rest.
        let strip = |v: &Value| {
            let mut v = v.clone();
            for c in v.as_array_mut().into_iter().flatten() {
                c["to"] = Value::Null;
            }
            v
        };
        assert_eq!(strip(&a["constraints"]), strip(&b["constraints"]), "{id}");
    }
}

#[test]
fn a_contract_mismatch_is_the_models_error_and_keeps_the_old_table() {
    let ours = project_copy("contracts");
    let out = sluice_in(ours.path(), &["build"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    break_orders(ours.path());
    let out = sluice_in(ours.path(), &["build"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    let table = "| column_name | definition_type | contract_type | mismatch_reason     |\n\
                 | ----------- | --------------- | ------------- | ------------------- |\n\
                 | amount      | DOUBLE          | DECIMAL(18,2) | data type mismatch  |\n\
                 | extra       | INTEGER         |               | missing in contract |";
    let shown: String = err
        .lines()
        .map(|l| {
            l.trim_start_matches([' ', '='])
                .trim_start_matches("note:")
                .trim()
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        shown.contains(&table.replace("\n                 ", "\n")),
        "{err}"
    );
    assert!(
        err.contains("This model has an enforced contract that failed."),
        "{err}"
    );
    assert!(
        err.contains("models/marts/_marts.yml"),
        "located in YAML: {err}"
    );
    let statuses = crate::common::statuses(&ours.path().join("target"));
    assert_eq!(statuses["model.contracts.orders"], "error");
    // The previous table is untouched: still decimal, still three rows.
    let types = query(
        &ours.path().join("dev.duckdb"),
        "select data_type from information_schema.columns where table_name = 'orders' and column_name = 'amount'",
    );
    assert_eq!(types, vec![vec!["DECIMAL(18,2)".to_owned()]]);

    let Some(dbt) = dbt_binary() else { return };
    let theirs = project_copy("contracts");
    break_orders(theirs.path());
    let out = dbt_in(&dbt, theirs.path(), &["build"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let theirs_lines: Vec<&str> = text.lines().map(str::trim).collect();
    for line in table.lines() {
        assert!(
            theirs_lines.contains(&line.trim()),
            "dbt prints {line:?} too:\n{text}"
        );
    }
    assert_eq!(
        crate::common::statuses(&theirs.path().join("target"))["model.contracts.orders"],
        "error"
    );
}

#[test]
fn a_contract_without_columns_or_types_is_the_models_error() {
    let dir = project_copy("contracts");
    let yml = dir.path().join("models/marts/_marts.yml");
    let text = std::fs::read_to_string(&yml).expect("yml");
    // orders_incr loses the data_type of `amount`.
    let at = text
        .rfind("        data_type: decimal(18,2)\n")
        .expect("orders_incr's amount is typed");
    let text = format!(
        "{}{}",
        &text[..at],
        &text[at..].replacen("        data_type: decimal(18,2)\n", "", 1)
    );
    std::fs::write(&yml, &text).expect("write");
    std::fs::write(
        dir.path().join("models/marts/no_yaml.sql"),
        "select 1 as id\n",
    )
    .expect("write model");
    let out = sluice_in(dir.path(), &["build"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains(
            "This model has an enforced contract, and its 'columns' specification is missing"
        ),
        "{err}"
    );
    assert!(
        err.contains("Contracted models require data_type to be defined for each column. Please ensure that the column name and data_type are defined within the YAML configuration for the ['amount'] column(s)."),
        "{err}"
    );
    let statuses = crate::common::statuses(&dir.path().join("target"));
    assert_eq!(statuses["model.contracts.no_yaml"], "error");
    assert_eq!(statuses["model.contracts.orders_incr"], "error");
    assert_eq!(statuses["model.contracts.customers"], "success");
}

#[test]
fn modified_contract_selects_models_whose_contract_changed() {
    let dir = project_copy("contracts");
    let out = sluice_in(dir.path(), &["parse"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let state = tempfile::tempdir().expect("state");
    std::fs::copy(
        dir.path().join("target/manifest.json"),
        state.path().join("manifest.json"),
    )
    .expect("copy manifest");
    let yml = dir.path().join("models/marts/_marts.yml");
    let text = std::fs::read_to_string(&yml).expect("yml");
    std::fs::write(&yml, text.replace("data_type: text", "data_type: varchar")).expect("write");
    let state_arg = state.path().display().to_string();
    let out = sluice_in(
        dir.path(),
        &[
            "ls",
            "-s",
            "state:modified.contract",
            "--state",
            &state_arg,
            "--resource-type",
            "model",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "contracts.marts.customers");
}

/// Add Snowflake (`sf`) and BigQuery (`bq`) outputs on the stand-ins to a
/// copy's profiles.
fn add_warehouse_outputs(dir: &Path, sf: Option<&str>, bq: Option<(&str, &str)>, tag: &str) {
    let path = dir.join("profiles/profiles.yml");
    let mut text = std::fs::read_to_string(&path).expect("profiles.yml");
    if let Some(url) = sf {
        text.push_str(&format!(
            "    sf: {{type: snowflake, account: sluicetest, user: ci, password: \"{{{{ env_var('SLUICE_TEST_PASSWORD', 'x') }}}}\", database: CONTRACTS_{tag}, schema: analytics, threads: 1, base_url: \"{url}\"}}\n"
        ));
    }
    if let Some((url, project)) = bq {
        text.push_str(&format!(
            "    bq: {{type: bigquery, method: none, project: {project}, dataset: contracts_{tag}, location: US, threads: 1, base_url: \"{url}\"}}\n"
        ));
    }
    std::fs::write(&path, text).expect("write profiles.yml");
}

/// Snowflake (fakesnow): contracted tables are created with their column list
/// and constraints (`check` left out, with dbt's ConstraintNotSupported
/// warning), a mismatch is the model's error. fakesnow refuses a foreign key in
/// `create table ... (...) as select` ("Invalid column definition list", its
/// own error, asserted here as evidence); the SQL sent is snapshotted in
/// `adapter::contract`'s tests.
#[test]
fn contracts_on_snowflake() {
    let Some(url) = crate::warehouses::fakesnow() else {
        return;
    };
    let dir = project_copy("contracts");
    let tag = std::process::id().to_string();
    add_warehouse_outputs(dir.path(), Some(&url), None, &tag);
    let out = sluice_in(dir.path(), &["build", "-t", "sf"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("warning[ConstraintNotSupported]: The constraint type check is not supported by snowflake"), "{err}");
    assert!(err.contains("warning[ConstraintNotEnforced]: The constraint type primary_key is not enforced by snowflake"), "{err}");
    assert!(
        err.contains("Invalid column definition list"),
        "fakesnow's own error: {err}"
    );
    let statuses = crate::common::statuses(&dir.path().join("target"));
    assert_eq!(statuses["model.contracts.orders"], "error");
    for id in ["customers", "orders_view", "orders_incr"] {
        assert_eq!(
            statuses[&format!("model.contracts.{id}")],
            "success",
            "{id}: {err}"
        );
    }
    let ddl = std::fs::read_to_string(
        dir.path()
            .join("target/run/contracts/models/marts/customers.sql"),
    )
    .expect("run file");
    assert!(ddl.contains("id integer not null primary key,"), "{ddl}");
    assert!(!ddl.contains("check ("), "check is not supported: {ddl}");
    // A mismatch is found by Snowflake's own description of the query.
    let view = dir.path().join("models/marts/orders_view.sql");
    let sql = std::fs::read_to_string(&view).expect("view");
    std::fs::write(
        &view,
        sql.replace("cast(amount as decimal(18,2))", "cast(amount as varchar)"),
    )
    .expect("write");
    let out = sluice_in(dir.path(), &["build", "-t", "sf", "-s", "orders_view"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("This model has an enforced contract that failed."),
        "{err}"
    );
    assert!(err.contains("data type mismatch"), "{err}");
}

/// BigQuery (bqemulator): the contract is checked against the emulator's
/// description of the query (a view builds; a mismatch is the model's error).
/// The emulator cannot parse a column list in `create table ... as select` nor
/// `not enforced` (its own parser errors, asserted as evidence); the SQL sent is
/// snapshotted in `adapter::contract`'s tests.
#[test]
fn contracts_on_bigquery() {
    let Some((url, project)) = crate::warehouses::bqemulator() else {
        return;
    };
    let dir = project_copy("contracts");
    let tag = std::process::id().to_string();
    add_warehouse_outputs(dir.path(), None, Some((&url, &project)), &tag);
    let out = sluice_in(dir.path(), &["build", "-t", "bq"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("syntax error at or near \"ENFORCED\""),
        "the emulator's own error: {err}"
    );
    assert!(err.contains("warning[ConstraintNotSupported]: The constraint type unique is not supported by bigquery"), "{err}");
    let statuses = crate::common::statuses(&dir.path().join("target"));
    assert_eq!(statuses["model.contracts.orders_view"], "success", "{err}");
    let ddl = std::fs::read_to_string(
        dir.path()
            .join("target/run/contracts/models/marts/customers.sql"),
    )
    .expect("run file");
    assert!(
        ddl.contains("id INT64 not null primary key not enforced,"),
        "{ddl}"
    );
    let view = dir.path().join("models/marts/orders_view.sql");
    let sql = std::fs::read_to_string(&view).expect("view");
    std::fs::write(
        &view,
        sql.replace("cast(amount as decimal(18,2))", "cast(amount as string)"),
    )
    .expect("write");
    let out = sluice_in(dir.path(), &["build", "-t", "bq", "-s", "orders_view"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("This model has an enforced contract that failed."),
        "{err}"
    );
    assert!(err.contains("data type mismatch"), "{err}");
}
