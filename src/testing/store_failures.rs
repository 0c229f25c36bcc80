//! `store_failures` / `store_failures_as` of data tests, as dbt-core 1.11 has them.
//!
//! This module owns three decisions, each dbt's:
//! - what a test's config says ([`configured`], [`store_as`]): `store_failures_as`
//!   wins over `store_failures` at every level (`table`/`view` store, `ephemeral`
//!   does not); without it `store_failures: true` means a table; unset, the
//!   `--store-failures` flag decides;
//! - whether the manifest names the test's relation ([`is_relational`]);
//! - the SQL that keeps the failing rows: the audit relation is replaced each run by
//!   the test's query (with its `limit`), and the test counts the rows of that
//!   relation ([`statements`]).
//!
//! The audit relation itself (schema `<target schema>_dbt_test__audit` by default,
//! named after the test or its `alias`) is named by the render stage, as every
//! node's relation is.

use serde_json::Value as Json;

use crate::adapter::{Dialect, RelationKind, RelationName};
use crate::diagnostics::{Diagnostic, Span};
use crate::project::Config;

/// dbt's default custom schema of a data test (`TestConfig.schema`).
pub const AUDIT_SCHEMA: &str = "dbt_test__audit";

/// The values dbt accepts for `store_failures_as`, in its error message's order.
const ACCEPTED: &[&str] = &["ephemeral", "table", "view"];

/// `config.store_failures` as dbt's `TestConfig` leaves it: set by
/// `store_failures_as` when that is given (`ephemeral` → false, any other value →
/// true, so an invalid one reaches the materialization and fails there), else as
/// written; `None` when neither is set.
pub fn configured(config: &Config) -> Option<bool> {
    configured_in(|key| config.get(key))
}

/// [`configured`] of a config as templates see it (`key` → value).
pub fn configured_in<'a>(get: impl Fn(&str) -> Option<&'a Json>) -> Option<bool> {
    match get("store_failures_as") {
        Some(Json::String(s)) => Some(s != "ephemeral"),
        Some(Json::Null) | None => get("store_failures").and_then(Json::as_bool),
        Some(_) => Some(true),
    }
}

/// `config.store_failures_as` as dbt's `TestConfig` leaves it: as written, else
/// `table`/`ephemeral` from `store_failures`.
pub fn configured_as(config: &Config) -> Option<Json> {
    match config.get("store_failures_as") {
        Some(v) if !v.is_null() => Some(v.clone()),
        _ => config
            .get_bool("store_failures")
            .map(|b| Json::from(if b { "table" } else { "ephemeral" })),
    }
}

/// dbt's `should_store_failures()`: the test's config, else `--store-failures`.
pub fn should_store(config: &Config, flag: bool) -> bool {
    configured(config).unwrap_or(flag)
}

/// dbt's `is_relational` of a test node (the manifest's `relation_name`): a true
/// config, else the flag. (A `false` config under `--store-failures` still names
/// the relation in dbt's manifest, though nothing is stored.)
pub fn is_relational(config: &Config, flag: bool) -> bool {
    configured(config) == Some(true) || flag
}

/// What kind of relation keeps a test's failing rows this run: `None` when they are
/// not kept; an error (the test's own, at run time, as dbt's test
/// materialization raises it) for a `store_failures_as` dbt does not accept.
pub fn store_as(
    config: &Config,
    flag: bool,
    fallback: &Span,
) -> Result<Option<RelationKind>, Diagnostic> {
    if !should_store(config, flag) {
        return Ok(None);
    }
    let value = config.get("store_failures_as").filter(|v| !v.is_null());
    match value.map(|v| v.as_str()) {
        None | Some(Some("table")) => Ok(Some(RelationKind::Table)),
        Some(Some("view")) => Ok(Some(RelationKind::View)),
        _ => {
            let shown = match value {
                Some(Json::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let span = config
                .span("store_failures_as")
                .cloned()
                .unwrap_or_else(|| fallback.clone());
            Err(Diagnostic::error(format!(
                "'{shown}' is not a valid value for `store_failures_as`. Accepted values are: {ACCEPTED:?}"
            ))
            .with_label(&span, "not table, view or ephemeral")
            .with_help(
                "`table` or `view` keeps the failing rows in the audit schema; `ephemeral` keeps none",
            ))
        }
    }
}

/// Check the types of `store_failures` (a boolean) and `store_failures_as` (a
/// string) where the project is parsed, as dbt validates a test's config.
pub fn check_types(config: &Config, fallback: &Span) -> Result<(), Diagnostic> {
    let at = |key: &str| {
        config
            .span(key)
            .cloned()
            .unwrap_or_else(|| fallback.clone())
    };
    if let Some(v) = config.get("store_failures") {
        if !v.is_boolean() && !v.is_null() {
            return Err(Diagnostic::error(format!(
                "`store_failures` must be true or false, found {v}"
            ))
            .with_label(&at("store_failures"), "not a boolean")
            .with_help("write `store_failures: true`, or `store_failures_as: view` for a view"));
        }
    }
    if let Some(v) = config.get("store_failures_as") {
        if !v.is_string() && !v.is_null() {
            return Err(Diagnostic::error(format!(
                "`store_failures_as` must be one of table, view or ephemeral, found {v}"
            ))
            .with_label(&at("store_failures_as"), "not a string")
            .with_help("write e.g. `store_failures_as: table`"));
        }
    }
    Ok(())
}

/// The statements that keep a test's failing rows in `relation` (replacing what an
/// earlier run kept there, of either kind), and the query its failures are then
/// counted from, as dbt's test materialization does: `test_sql` already carries
/// the test's `limit`.
pub fn statements(
    dialect: &dyn Dialect,
    relation: &RelationName,
    existing: Option<RelationKind>,
    kind: RelationKind,
    test_sql: &str,
) -> (Vec<String>, String) {
    let create = dialect.replace_statements(relation, existing, kind, test_sql);
    let main = format!("select *\nfrom {}", dialect.render_relation(relation));
    (create, main)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span() -> Span {
        Span::file_start(&crate::diagnostics::SourceFile::new("t.yml", "x: 1\n"))
    }

    fn config(pairs: &[(&str, Json)]) -> Config {
        let mut c = Config::default();
        for (k, v) in pairs {
            c.set(k, v.clone(), None);
        }
        c
    }

    #[test]
    fn store_failures_as_wins_over_store_failures() {
        let c = config(&[
            ("store_failures", Json::Bool(true)),
            ("store_failures_as", Json::from("ephemeral")),
        ]);
        assert_eq!(configured(&c), Some(false));
        assert!(!should_store(&c, true));
        let c = config(&[
            ("store_failures", Json::Bool(false)),
            ("store_failures_as", Json::from("view")),
        ]);
        assert_eq!(configured(&c), Some(true));
        let span = span();
        assert_eq!(
            store_as(&c, false, &span).ok(),
            Some(Some(RelationKind::View))
        );
    }

    #[test]
    fn the_flag_decides_only_when_the_config_is_silent() {
        let none = Config::default();
        assert!(!should_store(&none, false));
        assert!(should_store(&none, true));
        assert_eq!(configured_as(&none), None);
        let off = config(&[("store_failures", Json::Bool(false))]);
        assert!(!should_store(&off, true));
        assert!(is_relational(&off, true), "dbt's manifest names it anyway");
        assert_eq!(configured_as(&off), Some(Json::from("ephemeral")));
        let on = config(&[("store_failures", Json::Bool(true))]);
        assert_eq!(configured_as(&on), Some(Json::from("table")));
    }

    #[test]
    fn an_unknown_kind_is_the_tests_error() {
        let c = config(&[("store_failures_as", Json::from("incremental"))]);
        assert!(should_store(&c, false));
        let e = store_as(&c, false, &span()).expect_err("invalid");
        assert!(
            e.message.contains("'incremental' is not a valid value"),
            "{}",
            e.message
        );
    }
}
