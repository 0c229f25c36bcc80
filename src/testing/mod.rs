//! Verify stage: data tests.
//!
//! Generic tests ([`generic`]) are compiled by calling their `test_<name>` macro with
//! the relation under test; singular tests are plain SQL files. Either way the test
//! query selects failing rows, and [`wrap_test_query`] counts them the way dbt does,
//! honouring `severity`, `warn_if`, `error_if`, `where` and `limit`.

pub mod assertions;
pub mod generic;
pub mod store_failures;
pub mod unit;

use std::sync::Arc;

use minijinja::value::Value;
use serde_json::Value as Json;

use crate::diagnostics::Diagnostic;
use crate::render::compile::RawSql;
use crate::render::context::Resolved;
use crate::render::introspect::Introspector;
use crate::render::parse::{ParsedNode, ResourceType};
use crate::render::{NodeContext, Phase, Relation, RenderShared, Renderer};

/// Compile a generic test node to the SQL that selects its failing rows, and the
/// `config(...)` calls its macro made; with `introspector`, the macro may query the
/// warehouse (dbt_utils' `equality` reads the model's columns).
pub fn compile_generic(
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    node: &ParsedNode,
    attached: Option<&ParsedNode>,
    introspector: Option<Arc<dyn Introspector>>,
) -> Result<RawSql, Diagnostic> {
    let test = node
        .generic_test
        .as_ref()
        .ok_or_else(|| Diagnostic::error(format!("{} is not a generic test", node.unique_id)))?;
    let full_name = match &test.namespace {
        Some(ns) => format!("{ns}.{}", test.test_name),
        None => test.test_name.clone(),
    };
    let def = renderer
        .test_macro_for(&full_name, node.package_name())
        .ok_or_else(|| {
            Diagnostic::error(format!("unknown data test `{full_name}`"))
                .with_label(&node.span, "here")
        })?;
    let mut ephemerals = Vec::new();
    let mut model = match attached.map(|a| tested_relation(shared, a)) {
        Some(Some(Resolved::Relation(relation))) => renderer.relation_value(&relation),
        // An ephemeral model is tested through its CTE, as dbt does.
        Some(Some(Resolved::Cte(cte))) => {
            ephemerals.push(cte.clone());
            Relation::cte(cte)
        }
        _ => Value::from(()),
    };
    if let (Some(filter), Some(_)) = (node.config.get_str("where"), attached) {
        model = Value::from_safe_string(format!(
            "(select * from {model} where {filter}) dbt_subquery"
        ));
    }
    let mut args = vec![("model".to_owned(), model)];
    for (k, v) in &test.kwargs {
        let value = match v.as_str() {
            // Arguments may be templates themselves (`sql: "select ... {{ ref('x') }}"`).
            Some(text) if text.contains("{{") || text.contains("{%") => {
                let ctx = NodeContext {
                    this: Value::UNDEFINED,
                    model: Value::UNDEFINED,
                    config: node.config.to_json(),
                };
                let rendered = renderer
                    .render_str_with(text, shared, ctx, introspector.clone())
                    .map_err(|e| {
                        Diagnostic::error(format!(
                            "cannot render `{k}` of `{}`: {}",
                            node.name,
                            e.detail().unwrap_or("template error")
                        ))
                        .with_label(&node.span, "in this test")
                    })?;
                Value::from(rendered)
            }
            _ => Value::from_serialize(v),
        };
        args.push((k.clone(), value));
    }
    let ctx = NodeContext {
        this: Value::UNDEFINED,
        model: Value::from_serialize(
            serde_json::json!({"name": node.name, "resource_type": "test"}),
        ),
        config: node.config.to_json(),
    };
    renderer
        .call_macro_with(def, Phase::Compile, shared, ctx, args, introspector)
        .map(|r| {
            for cte in r.recorded.ephemerals {
                if !ephemerals.contains(&cte) {
                    ephemerals.push(cte);
                }
            }
            RawSql {
                sql: r.sql,
                ephemerals,
                config_calls: r.recorded.config,
                ..RawSql::default()
            }
        })
        .map_err(|e| {
            let mut d = renderer.error(&e);
            d = d.with_note(format!(
                "while compiling test `{}` declared at {}",
                node.name,
                node.span.location()
            ));
            d
        })
}

/// The relation a test reads for the node it is attached to: the one `ref()`
/// resolves to, so an unselected parent under `--defer` is read from the state's
/// relation, as dbt does.
fn tested_relation(shared: &RenderShared, attached: &ParsedNode) -> Option<Resolved> {
    let resolved = match attached.resource_type {
        ResourceType::Source => None,
        _ => attached
            .ref_keys()
            .first()
            .and_then(|key| shared.relations.get(key)),
    };
    match resolved {
        Some(r) => Some(r.clone()),
        None => attached.relation.clone().map(Resolved::Relation),
    }
}

/// A condition on the failure count, from `warn_if`/`error_if` (`!= 0`, `>10`, ...).
fn condition(config: Option<&Json>) -> String {
    match config.and_then(Json::as_str) {
        Some(c) if !c.trim().is_empty() => c.trim().to_owned(),
        _ => "!= 0".to_owned(),
    }
}

/// Lines [`wrap_test_query`] puts before the test's own SQL.
pub const WRAPPER_LINES: usize = 2;

/// Count a test query's failing rows as dbt's test materialization does:
/// `failures`, `should_warn`, `should_error`, with `fail_calc` (default
/// `count(*)`). A setting of the test's own config wins over its macro's
/// `config(...)` call (`config_calls`).
pub fn wrap_test_query(
    test_sql: &str,
    node: &ParsedNode,
    config_calls: &[(String, Json)],
) -> String {
    wrap_counted_query(
        &limited_test_query(test_sql, node, config_calls),
        node,
        config_calls,
    )
}

/// A test setting: the test's own config, else its macro's `config(...)` call.
fn setting<'a>(
    node: &'a ParsedNode,
    config_calls: &'a [(String, Json)],
    key: &str,
) -> Option<&'a Json> {
    node.config.get(key).or_else(|| {
        config_calls
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    })
}

/// The test's query with its `limit`, as dbt's `get_limit_subquery_sql` (what
/// `store_failures` keeps).
pub fn limited_test_query(
    test_sql: &str,
    node: &ParsedNode,
    config_calls: &[(String, Json)],
) -> String {
    match setting(node, config_calls, "limit").and_then(Json::as_i64) {
        Some(n) => format!("{test_sql}\nlimit {n}"),
        None => test_sql.to_owned(),
    }
}

/// [`wrap_test_query`] of a query that already carries the test's `limit` (its
/// stored failures).
pub fn wrap_counted_query(
    query: &str,
    node: &ParsedNode,
    config_calls: &[(String, Json)],
) -> String {
    let get = |key: &str| setting(node, config_calls, key);
    let warn_if = condition(get("warn_if"));
    let error_if = condition(get("error_if"));
    let calc = match get("fail_calc").and_then(Json::as_str) {
        Some(c) if !c.trim().is_empty() => c.trim(),
        _ => "count(*)",
    };
    format!(
        "select {calc} as failures, {calc} {warn_if} as should_warn, {calc} {error_if} as should_error\nfrom (\n{query}\n) dbt_internal_test"
    )
}

/// The result of running one test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestOutcome {
    Pass,
    Warn(u64),
    Fail(u64),
}

/// Decide a test's outcome from its counted row and its severity.
pub fn outcome(
    node: &ParsedNode,
    failures: u64,
    should_warn: bool,
    should_error: bool,
) -> TestOutcome {
    let severity_warn = node
        .config
        .get_str("severity")
        .is_some_and(|s| s.eq_ignore_ascii_case("warn"));
    // As dbt: under --warn-error (or `LogTestResult` in --warn-error-options) a
    // test that would warn fails.
    let warn_is_error = crate::diagnostics::policy()
        .fate(Some(crate::diagnostics::event::LOG_TEST_RESULT))
        == crate::diagnostics::WarningFate::Error;
    if (should_error && !severity_warn) || ((should_warn || should_error) && warn_is_error) {
        TestOutcome::Fail(failures)
    } else if should_warn || should_error {
        TestOutcome::Warn(failures)
    } else {
        TestOutcome::Pass
    }
}
