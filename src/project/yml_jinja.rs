//! Jinja in the project file, rendered at load time as dbt renders
//! dbt_project.yml: `var()` sees only `--vars` (not the file's own `vars:`),
//! `env_var()`, `target` (the chosen target's non-secret fields), `project_name`
//! and `dbt_version`. As in dbt, `vars:`, `on-run-start`/`on-run-end`,
//! `query-comment` and `pre-hook`/`post-hook` under the config trees stay
//! unrendered (they render later, where they are used), and so do `targets:`
//! (connection fields render only when a connection opens).
//!
//! Values render "natively", as dbt's native Jinja does: a string that is a
//! single `{{ expression }}` becomes the expression's value (`"{{ var('x', true) }}"`
//! is a boolean), and other rendered text that reads as a number or
//! `True`/`False`/`None` becomes one.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::yaml::{Node, Value};
use crate::diagnostics::Diagnostic;

/// What the project file's Jinja can see.
#[derive(Clone, Debug, Default)]
pub struct YmlContext {
    /// `--vars`.
    pub cli_vars: BTreeMap<String, Json>,
    /// The chosen target's fields (`target.name`, `target.type`, `target.schema`...).
    pub target: Json,
    pub project_name: String,
}

/// Top-level keys rendered later, where they are used.
const LATE_KEYS: &[&str] = &[
    "vars",
    "on-run-start",
    "on-run-end",
    "query-comment",
    "target",
    "targets",
];
const CONFIG_TREES: &[&str] = &["models", "seeds", "snapshots", "tests", "data_tests"];
const HOOK_KEYS: &[&str] = &["pre-hook", "post-hook", "pre_hook", "post_hook"];

pub(super) fn has_jinja(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// Render every templated string of the project document in place. `rendered`
/// collects the results (they may read environment variables; the parse cache
/// keys on them).
pub fn render_document(
    doc: &mut Node,
    ctx: &YmlContext,
    rendered: &mut String,
) -> Result<(), Diagnostic> {
    if !doc_needs_render(doc) {
        return Ok(());
    }
    let env = environment(
        ctx,
        ctx.cli_vars.clone(),
        "in the project file only --vars are visible, as in dbt",
    );
    let Value::Map(entries) = &mut doc.value else {
        return Ok(());
    };
    for (key, value) in entries.iter_mut() {
        let key = key.as_str().unwrap_or_default();
        if LATE_KEYS.contains(&key) {
            continue;
        }
        let skip_hooks = CONFIG_TREES.contains(&key);
        render_node(&env, value, skip_hooks, rendered)?;
    }
    Ok(())
}

/// The Jinja environment of a project or properties file: `var()` reads `vars`
/// (`missing` says why one is not there), `env_var()`, `target`, `project_name`
/// and `dbt_version`.
pub(super) fn environment(
    ctx: &YmlContext,
    vars: BTreeMap<String, Json>,
    missing: &'static str,
) -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(super::project_yml::YML_JINJA_FUEL));
    super::project_yml::add_env_var(&mut env);
    env.add_function(
        "var",
        move |name: String, rest: minijinja::value::Rest<minijinja::Value>| match vars.get(&name) {
            Some(v) => Ok(minijinja::Value::from_serialize(v)),
            None => super::project_yml::passed_default(&rest).ok_or_else(|| {
                minijinja::Error::new(
                    minijinja::ErrorKind::UndefinedError,
                    format!("required var `{name}` not found: {missing}"),
                )
            }),
        },
    );
    env.add_global("target", minijinja::Value::from_serialize(&ctx.target));
    env.add_global("project_name", ctx.project_name.clone());
    env.add_global("dbt_version", super::dbt_project::DBT_VERSION);
    env
}

/// Whether the document holds Jinja rendered at load time.
pub fn doc_needs_render(doc: &Node) -> bool {
    doc.entries()
        .any(|(k, _, v)| !LATE_KEYS.contains(&k) && needs_render(v))
}

pub(super) fn needs_render(node: &Node) -> bool {
    match &node.value {
        Value::Str(s) => has_jinja(s),
        Value::Seq(items) => items.iter().any(needs_render),
        Value::Map(entries) => entries.iter().any(|(_, v)| needs_render(v)),
        _ => false,
    }
}

fn render_node(
    env: &minijinja::Environment<'_>,
    node: &mut Node,
    skip_hooks: bool,
    rendered: &mut String,
) -> Result<(), Diagnostic> {
    match &mut node.value {
        Value::Str(s) if has_jinja(s) => {
            let value = render_native(env, s).map_err(|e| {
                Diagnostic::error(format!(
                    "cannot render this value: {}",
                    e.detail().unwrap_or(&e.to_string())
                ))
                .with_label(&node.span, "in this Jinja")
                .with_help("the project file sees `--vars`, `env_var()`, `target`, `project_name` and `dbt_version`")
            })?;
            rendered.push_str(&value.to_string());
            rendered.push('\0');
            node.value = from_json(&value, node);
        }
        Value::Seq(items) => {
            for item in items {
                render_node(env, item, skip_hooks, rendered)?;
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries {
                let key = k.as_str().unwrap_or_default();
                if skip_hooks && HOOK_KEYS.contains(&key.trim_start_matches('+')) {
                    continue;
                }
                render_node(env, v, skip_hooks, rendered)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// dbt's native rendering (see the module doc).
pub(super) fn render_native(
    env: &minijinja::Environment<'_>,
    text: &str,
) -> Result<Json, minijinja::Error> {
    let trimmed = text.trim();
    if let Some(expr) = single_expression(trimmed) {
        let value = env.compile_expression(expr)?.eval(())?;
        let json = serde_json::to_value(&value).unwrap_or(Json::Null);
        return Ok(match json {
            Json::String(s) => literal(&s),
            other => other,
        });
    }
    Ok(literal(&env.render_str(text, ())?))
}

/// The expression of `{{ expr }}` when that is the whole text.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then_some(inner)
}

/// Python's `literal_eval` for the scalars dbt's native rendering meets.
fn literal(s: &str) -> Json {
    let t = s.trim();
    match t {
        "True" => return Json::Bool(true),
        "False" => return Json::Bool(false),
        "None" => return Json::Null,
        _ => {}
    }
    if let Ok(i) = t.parse::<i64>() {
        return Json::from(i);
    }
    if t.bytes().any(|b| b.is_ascii_digit())
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'e' | b'E'))
    {
        if let Some(n) = t.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            return Json::Number(n);
        }
    }
    Json::String(s.to_owned())
}

pub(super) fn from_json(value: &Json, at: &Node) -> Value {
    let node = |v: &Json| Node {
        value: from_json(v, at),
        span: at.span.clone(),
    };
    match value {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(items) => Value::Seq(items.iter().map(node).collect()),
        Json::Object(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (node(&Json::String(k.clone())), node(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_values() {
        let env = minijinja::Environment::new();
        assert_eq!(render_native(&env, "{{ true }}").unwrap(), Json::Bool(true));
        assert_eq!(render_native(&env, "{{ '5' }}").unwrap(), Json::from(5));
        assert_eq!(
            render_native(&env, "a_{{ 'b' }}").unwrap(),
            Json::String("a_b".into())
        );
    }
}
