//! Jinja in properties files (`schema.yml`), rendered at load time as dbt's
//! `SchemaYamlRenderer` renders them: every string of a model, seed, snapshot,
//! source, analysis, exposure, group, macro or unit test entry, natively (a
//! lone `{{ var('x', true) }}` is a boolean), except what dbt renders later:
//! descriptions (docs), data tests and their arguments (compile), `pre_hook`/
//! `post_hook` configs and `loaded_at_query` (run time).
//!
//! Fivetran's packages depend on it: `schema: "{{ var('zendesk_schema', 'zendesk') }}"`,
//! `identifier: "{{ var('zendesk_ticket_identifier', 'ticket') }}"`,
//! `enabled: "{{ var('using_schedules', True) }}"`. `var()` sees the vars the
//! project's nodes see (its own, the root project's, `--vars`), `env_var()`,
//! `target`, `project_name` and `dbt_version`.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::yaml::{Node, Value};
use super::yml_jinja::{self, YmlContext};
use crate::diagnostics::Diagnostic;

/// The top-level keys whose entries dbt renders.
const RENDERED: &[&str] = &[
    "models",
    "seeds",
    "snapshots",
    "sources",
    "analyses",
    "exposures",
    "groups",
    "macros",
    "unit_tests",
];

/// One step of a path inside an entry: a mapping key or a list position.
#[derive(Clone)]
enum Step {
    Key(String),
    Index,
}

impl Step {
    fn is(&self, names: &[&str]) -> bool {
        matches!(self, Step::Key(k) if names.contains(&k.as_str()))
    }
}

/// Render the Jinja of one properties document in place. `rendered` collects the
/// results (they may read environment variables; the parse cache keys on them).
pub fn render_document(
    doc: &mut Node,
    ctx: &YmlContext,
    vars: &BTreeMap<String, Json>,
    rendered: &mut String,
) -> Result<(), Diagnostic> {
    let wanted = doc
        .entries()
        .any(|(k, _, v)| RENDERED.contains(&k) && yml_jinja::needs_render(v));
    if !wanted {
        return Ok(());
    }
    let env = yml_jinja::environment(
        ctx,
        vars.clone(),
        "set it in `vars:` of dbt_project.yml or pass it with --vars",
    );
    let Value::Map(entries) = &mut doc.value else {
        return Ok(());
    };
    for (key, list) in entries.iter_mut() {
        let Some(kind) = key.as_str().filter(|k| RENDERED.contains(k)) else {
            continue;
        };
        let Value::Seq(items) = &mut list.value else {
            continue;
        };
        for entry in items {
            let mut path = Vec::new();
            render_node(&env, kind, entry, &mut path, rendered)?;
        }
    }
    Ok(())
}

fn render_node(
    env: &minijinja::Environment<'_>,
    kind: &str,
    node: &mut Node,
    path: &mut Vec<Step>,
    rendered: &mut String,
) -> Result<(), Diagnostic> {
    match &mut node.value {
        Value::Str(s) if yml_jinja::has_jinja(s) => {
            if !should_render(kind, path) {
                return Ok(());
            }
            let value = yml_jinja::render_native(env, s).map_err(|e| {
                Diagnostic::error(format!(
                    "cannot render this value: {}",
                    e.detail().unwrap_or(&e.to_string())
                ))
                .with_label(&node.span, "in this Jinja")
                .with_help(
                    "a properties file sees `var()`, `env_var()`, `target`, `project_name` \
                     and `dbt_version`, as in dbt",
                )
            })?;
            rendered.push_str(&value.to_string());
            rendered.push('\0');
            node.value = yml_jinja::from_json(&value, node);
        }
        Value::Seq(items) => {
            for item in items {
                path.push(Step::Index);
                let result = render_node(env, kind, item, path, rendered);
                path.pop();
                result?;
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                path.push(match &k.value {
                    Value::Str(s) => Step::Key(s.clone()),
                    _ => Step::Index,
                });
                let result = render_node(env, kind, v, path, rendered);
                path.pop();
                result?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// dbt's `SchemaYamlRenderer.should_render_keypath`.
fn should_render(kind: &str, path: &[Step]) -> bool {
    let Some(first) = path.first() else {
        return true;
    };
    match kind {
        "sources" => {
            if first.is(&["description", "loaded_at_query"])
                || (first.is(&["config"])
                    && path.get(1).is_some_and(|s| s.is(&["loaded_at_query"])))
            {
                return false;
            }
            !(first.is(&["tables"]) && is_norender(path.get(2..).unwrap_or_default()))
        }
        "macros" if first.is(&["arguments"]) => !is_norender(&path[1..]),
        _ => !is_norender(path),
    }
}

/// dbt's `SchemaYamlRenderer._is_norender_key`.
fn is_norender(path: &[Step]) -> bool {
    const LATER: &[&str] = &["tests", "data_tests", "description", "loaded_at_query"];
    let at = |i: usize, names: &[&str]| path.get(i).is_some_and(|s| s.is(names));
    (!path.is_empty() && at(0, LATER))
        || (path.len() == 2 && at(1, LATER))
        || (path.len() >= 2
            && at(0, &["config"])
            && at(1, &["pre_hook", "post_hook", "loaded_at_query"]))
        || (path.len() == 5 && at(4, &["description"]))
        || (path.len() >= 3
            && at(0, &["columns", "dimensions", "measures", "entities"])
            && at(2, &["tests", "data_tests", "description"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(path: &[&str]) -> Vec<Step> {
        path.iter()
            .map(|k| match *k {
                "0" => Step::Index,
                k => Step::Key(k.to_owned()),
            })
            .collect()
    }

    #[test]
    fn skips_what_dbt_renders_later() {
        assert!(should_render("models", &keys(&["config", "enabled"])));
        assert!(should_render("models", &keys(&["columns", "0", "name"])));
        assert!(!should_render("models", &keys(&["description"])));
        assert!(!should_render(
            "models",
            &keys(&["columns", "0", "description"])
        ));
        assert!(!should_render(
            "models",
            &keys(&["columns", "0", "data_tests", "0"])
        ));
        assert!(!should_render("models", &keys(&["config", "post_hook"])));
        assert!(should_render("sources", &keys(&["schema"])));
        assert!(should_render(
            "sources",
            &keys(&["tables", "0", "identifier"])
        ));
        assert!(!should_render(
            "sources",
            &keys(&["tables", "0", "description"])
        ));
        assert!(!should_render(
            "sources",
            &keys(&["config", "loaded_at_query"])
        ));
        assert!(!should_render(
            "sources",
            &keys(&["tables", "0", "columns", "0", "tests"])
        ));
    }
}
