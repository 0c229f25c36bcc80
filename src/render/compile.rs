//! Compile renders: a node's final SQL — its template rendered with relations
//! resolved, its hooks rendered, and the CTEs it reads (ephemeral models, unit-test
//! inputs) injected at the front of the statement.

use std::collections::HashMap;
use std::sync::Arc;

use super::introspect::Introspector;
use super::parse::ParsedNode;
use super::{NodeContext, Phase, RenderShared, Renderer};
use crate::diagnostics::{Diagnostic, SourceFile};

/// One node's rendered SQL, before CTEs are injected.
#[derive(Debug, Default)]
pub struct RawSql {
    pub sql: String,
    /// The CTEs (by name) the SQL uses: ephemeral models, unit-test inputs.
    pub ephemerals: Vec<String>,
    pub pre_hooks: Vec<String>,
    pub post_hooks: Vec<String>,
    /// The `config(...)` calls a generic test's macro made while compiling
    /// (dbt_utils' `equality` sets `fail_calc`).
    pub config_calls: Vec<(String, serde_json::Value)>,
}

/// The `this`/`model`/`config` a node's compile render sees.
pub fn node_context(renderer: &Renderer, node: &ParsedNode) -> NodeContext {
    let this = match &node.relation {
        Some(r) => renderer.relation_value(r),
        None => minijinja::Value::UNDEFINED,
    };
    NodeContext {
        this,
        model: minijinja::Value::from_serialize(serde_json::json!({
            "name": node.name, "unique_id": node.unique_id,
            "package_name": node.package_name(),
            "resource_type": node.resource_type.as_str(),
            "config": node.config.to_json(),
        })),
        config: node.config.to_json(),
    }
}

/// Render a node's template for its target, hooks included: dbt renders hooks as
/// templates too, so `{{ this }}` works in them.
pub fn render_node(
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    node: &ParsedNode,
) -> Result<RawSql, Diagnostic> {
    render_node_with(renderer, shared, node, None)
}

/// [`render_node`] with a warehouse its introspective calls query.
pub fn render_node_with(
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    node: &ParsedNode,
    introspector: Option<Arc<dyn Introspector>>,
) -> Result<RawSql, Diagnostic> {
    let mut raw = RawSql::default();
    let Some(template) = &node.template else {
        return Ok(raw);
    };
    let r = renderer.render_with(
        template,
        Phase::Compile,
        shared,
        node_context(renderer, node),
        introspector.clone(),
    )?;
    raw.sql = r.sql;
    raw.ephemerals = r.recorded.ephemerals;
    raw.pre_hooks = render_hooks(renderer, shared, node, "pre-hook", introspector.clone())?;
    raw.post_hooks = render_hooks(renderer, shared, node, "post-hook", introspector)?;
    Ok(raw)
}

/// Render a node's `pre-hook` or `post-hook` (`key`) statements in its compile
/// context; a seed's are rendered when they run, so a post-hook's
/// `adapter.drop_relation(this)` sees the loaded table, as in dbt.
pub fn render_hooks(
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    node: &ParsedNode,
    key: &str,
    introspector: Option<Arc<dyn Introspector>>,
) -> Result<Vec<String>, Diagnostic> {
    node.config
        .hooks(key)
        .iter()
        .map(|hook| {
            renderer
                .render_str_with(
                    hook,
                    shared,
                    node_context(renderer, node),
                    introspector.clone(),
                )
                .map_err(|e| {
                    Diagnostic::error(format!(
                        "cannot render a {key} of `{}`: {}",
                        node.name,
                        e.detail().unwrap_or("template error")
                    ))
                    .with_label(&node.config_span(key), "this hook")
                })
        })
        .collect()
}

/// Render a model with the ephemeral models it reads inlined as CTEs;
/// `find` looks a model up by name.
pub fn render_with_ephemerals<'a>(
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    node: &ParsedNode,
    find: impl Fn(&str) -> Option<&'a ParsedNode>,
) -> Result<String, Diagnostic> {
    let raw = render_node(renderer, shared, node)?;
    inline_ephemerals(renderer, shared, raw, find)
}

/// SQL given on the command line (`compile --inline`, `show --inline`), compiled
/// as dbt compiles its `sql_operation.<project>.inline_query` node, with the
/// ephemeral models it reads inlined as CTEs.
pub fn render_inline<'a>(
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    file: &Arc<SourceFile>,
    find: impl Fn(&str) -> Option<&'a ParsedNode>,
) -> Result<String, Diagnostic> {
    let project = &shared.project_name;
    let context = NodeContext {
        this: minijinja::Value::UNDEFINED,
        model: minijinja::Value::from_serialize(serde_json::json!({
            "name": "inline_query",
            "unique_id": format!("sql_operation.{project}.inline_query"),
            "package_name": project,
            "resource_type": "sql_operation",
            "config": {},
        })),
        config: serde_json::json!({}),
    };
    let rendered = renderer.render_inline(file, shared, context)?;
    let raw = RawSql {
        sql: rendered.sql,
        ephemerals: rendered.recorded.ephemerals,
        ..RawSql::default()
    };
    inline_ephemerals(renderer, shared, raw, find)
}

/// `raw`'s SQL with the ephemeral models it reads (and those they read) injected
/// as CTEs at the front.
fn inline_ephemerals<'a>(
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    raw: RawSql,
    find: impl Fn(&str) -> Option<&'a ParsedNode>,
) -> Result<String, Diagnostic> {
    let mut ctes: HashMap<String, (String, Vec<String>)> = HashMap::new();
    let mut pending = raw.ephemerals.clone();
    while let Some(cte) = pending.pop() {
        if ctes.contains_key(&cte) {
            continue;
        }
        let Some(model) = cte.strip_prefix(EPHEMERAL_PREFIX).and_then(&find) else {
            continue;
        };
        let inner = render_node(renderer, shared, model)?;
        pending.extend(inner.ephemerals.iter().cloned());
        ctes.insert(cte, (inner.sql, inner.ephemerals));
    }
    Ok(inject_ctes(&raw.sql, &raw.ephemerals, &ctes))
}

/// The CTE name of an ephemeral model.
pub const EPHEMERAL_PREFIX: &str = "__dbt__cte__";

/// Where a SQL statement's first keyword is, past whitespace and comments.
fn statement_start(sql: &str) -> usize {
    let mut i = 0;
    loop {
        let rest = &sql[i..];
        let trimmed = rest.trim_start();
        i += rest.len() - trimmed.len();
        if trimmed.starts_with("--") {
            i += trimmed.find('\n').map_or(trimmed.len(), |n| n + 1);
        } else if trimmed.starts_with("/*") {
            i += trimmed.find("*/").map_or(trimmed.len(), |n| n + 2);
        } else {
            return i;
        }
    }
}

/// Put the CTEs `sql` uses (ephemeral models, unit-test inputs; by CTE name) at its
/// front, dependencies first.
pub fn inject_ctes(
    sql: &str,
    direct: &[String],
    ephemerals: &HashMap<String, (String, Vec<String>)>,
) -> String {
    if direct.is_empty() {
        return sql.to_owned();
    }
    let mut order: Vec<String> = Vec::new();
    fn visit(
        name: &str,
        ephemerals: &HashMap<String, (String, Vec<String>)>,
        order: &mut Vec<String>,
        stack: &mut Vec<String>,
    ) {
        if order.iter().any(|n| n == name) || stack.iter().any(|n| n == name) {
            return;
        }
        stack.push(name.to_owned());
        if let Some((_, deps)) = ephemerals.get(name) {
            for d in deps {
                visit(d, ephemerals, order, stack);
            }
        }
        stack.pop();
        order.push(name.to_owned());
    }
    let mut stack = Vec::new();
    for d in direct {
        visit(d, ephemerals, &mut order, &mut stack);
    }
    let ctes: Vec<String> = order
        .iter()
        .filter_map(|n| {
            ephemerals
                .get(n)
                .map(|(s, _)| format!("{n} as (\n{}\n)", s.trim()))
        })
        .collect();
    // Leading comments stay in front; the CTEs go where the statement starts.
    let start = statement_start(sql);
    let (head, body) = sql.split_at(start);
    let lower = body.to_ascii_lowercase();
    let starts_with_with =
        lower.starts_with("with") && lower[4..].starts_with(|c: char| c.is_whitespace());
    if !starts_with_with {
        return format!("{head}with {}\n{body}", ctes.join(",\n"));
    }
    let rest = body[4..].trim_start();
    if rest.to_ascii_lowercase().starts_with("recursive ") {
        return format!(
            "{head}with recursive {},\n{}",
            ctes.join(",\n"),
            &rest[10..]
        );
    }
    format!("{head}with {},\n{rest}", ctes.join(",\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctes_go_after_leading_comments() {
        let mut eph = HashMap::new();
        eph.insert("c".to_owned(), ("select 1".to_owned(), vec![]));
        let out = inject_ctes(
            "-- a note\n/* more */\nwith x as (select 2) select * from c, x",
            &["c".to_owned()],
            &eph,
        );
        assert_eq!(
            out,
            "-- a note\n/* more */\nwith c as (\nselect 1\n),\nx as (select 2) select * from c, x"
        );
    }

    #[test]
    fn ctes_merge_into_an_existing_with() {
        let mut eph = HashMap::new();
        eph.insert(
            "__dbt__cte__a".to_owned(),
            ("select 1 as x".to_owned(), vec![]),
        );
        eph.insert(
            "__dbt__cte__b".to_owned(),
            (
                "select x from __dbt__cte__a".to_owned(),
                vec!["__dbt__cte__a".to_owned()],
            ),
        );
        let out = inject_ctes(
            "with y as (select 2) select * from __dbt__cte__b, y",
            &["__dbt__cte__b".to_owned()],
            &eph,
        );
        assert_eq!(
            out,
            "with __dbt__cte__a as (\nselect 1 as x\n),\n__dbt__cte__b as (\nselect x from __dbt__cte__a\n),\ny as (select 2) select * from __dbt__cte__b, y"
        );
        let plain = inject_ctes(
            "select * from __dbt__cte__a",
            &["__dbt__cte__a".to_owned()],
            &eph,
        );
        assert!(plain.starts_with("with __dbt__cte__a as ("));
    }
}
