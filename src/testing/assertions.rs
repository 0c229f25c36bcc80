//! Metric-accuracy assertions (`assertions:` in YAML): tests of numbers on built
//! data — `expression_is_true`, `accepted_range`, `sums_to`, `balances`,
//! `equal_totals`, `equal_rowcount`, `equality`, `equals`, `metric` (see
//! `metrics::assertion`) — or any project
//! `{% test %}` macro as a custom kind.
//!
//! Each built-in kind is a `{% test %}` macro in sluice's builtin library
//! (`builtins/assertions.sql`) selecting the offending rows, so assertions compile
//! and run exactly like generic data tests; their ids are `assertion.<project>.<name>`.

use std::sync::Arc;

use serde_json::Value as Json;

use super::generic;
use crate::diagnostics::{suggestion_help, Diagnostic};
use crate::metrics::Catalog;
use crate::project::properties::AssertionDef;
use crate::project::{Materialization, Project, SqlCheck};
use crate::render::parse::{Dependency, DependencyTarget, GenericTest, ParsedNode, ResourceType};
use crate::render::Renderer;

/// A built-in kind: its required and optional arguments, and whether it needs `model`.
struct Kind {
    name: &'static str,
    required: &'static [&'static str],
    optional: &'static [&'static str],
    needs_model: bool,
}

const KINDS: &[Kind] = &[
    Kind {
        name: "expression_is_true",
        required: &["expression"],
        optional: &[],
        needs_model: true,
    },
    Kind {
        name: "accepted_range",
        required: &["column"],
        optional: &["min_value", "max_value", "inclusive"],
        needs_model: true,
    },
    Kind {
        name: "sums_to",
        required: &["column", "value"],
        optional: &["group_by", "tolerance"],
        needs_model: true,
    },
    Kind {
        name: "balances",
        required: &["start", "movements", "end"],
        optional: &["group_by", "tolerance"],
        needs_model: true,
    },
    Kind {
        name: "equal_totals",
        required: &["measure", "to"],
        optional: &["to_measure", "group_by", "tolerance"],
        needs_model: true,
    },
    Kind {
        name: "equal_rowcount",
        required: &["to"],
        optional: &[],
        needs_model: true,
    },
    Kind {
        name: "equality",
        required: &["to"],
        optional: &["compare_columns"],
        needs_model: true,
    },
    Kind {
        name: "equals",
        required: &["sql", "expect"],
        optional: &["tolerance"],
        needs_model: false,
    },
];

/// The semantic layer as `metric` assertions see it.
#[derive(Clone, Copy)]
pub enum MetricCatalog<'a> {
    /// The project defines no semantic models or metrics.
    Absent,
    /// The definitions have errors, reported already: a metric assertion says
    /// nothing more (one root error, not one per assertion).
    Broken,
    Loaded(&'a Catalog),
}

/// Build the node of one assertion.
pub fn build_assertion_node(
    project: &Project,
    renderer: &Renderer,
    catalog: MetricCatalog<'_>,
    def: &AssertionDef,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Option<ParsedNode>, Diagnostic> {
    if def.kind == "metric" {
        return metric_assertion(project, renderer, catalog, def, warnings);
    }
    let builtin = KINDS.iter().find(|k| k.name == def.kind);
    let namespace = match builtin {
        Some(kind) => {
            check_arguments(def, kind)?;
            Some("sluice".to_owned())
        }
        None => {
            if renderer.test_macro(&def.kind).is_none() {
                let help = suggestion_help(&def.kind, KINDS.iter().map(|k| k.name), || {
                    format!(
                        "the kinds are {}, or the name of a `{{% test %}}` macro",
                        KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
                    )
                });
                return Err(
                    Diagnostic::error(format!("unknown assertion kind `{}`", def.kind))
                        .with_label(&def.kind_span, "unknown kind")
                        .with_help(help),
                );
            }
            None
        }
    };
    let needs_model = builtin.is_none_or(|k| k.needs_model);
    let model_expr = match (&def.model, needs_model) {
        (Some((m, _)), _) => Some(format!("ref('{m}')")),
        (None, true) => {
            return Err(
                Diagnostic::error(format!("assertion `{}` has no `model`", def.name))
                    .with_label(&def.span, "this assertion")
                    .with_help(format!(
                        "add `model: <model name>`: the `{}` kind checks a model",
                        def.kind
                    )),
            )
        }
        (None, false) => None,
    };
    let fqn = vec![project.name().to_owned(), def.name.clone()];
    let config = generic::test_config(project, &fqn, &def.config, &def.span, warnings)?;
    if !config.enabled() {
        return Ok(None);
    }
    let mut depends_on = Vec::new();
    if let Some((m, span)) = &def.model {
        depends_on.push(Dependency {
            target: DependencyTarget::Ref(m.clone()),
            span: span.clone(),
        });
    }
    for (v, span) in def.args.values() {
        for text in strings(v) {
            for dep in generic::relation_calls(text) {
                depends_on.push(Dependency {
                    target: dep,
                    span: span.clone(),
                });
            }
        }
    }
    let kwargs: Vec<(String, Json)> = def
        .args
        .iter()
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect();
    let attached_to = def.model.as_ref().map(|(m, _)| m.clone());
    Ok(Some(assertion_node(
        project,
        def,
        fqn,
        config,
        depends_on,
        GenericTest {
            test_name: def.kind.clone(),
            namespace,
            kwargs,
            column_name: None,
            // Resolved to a unique_id by the caller, which knows the models.
            attached_to,
            model_expr,
            short_name: def.name.clone(),
            is_assertion: true,
        },
    )))
}

/// The node of an assertion, around its test.
fn assertion_node(
    project: &Project,
    def: &AssertionDef,
    fqn: Vec<String>,
    config: crate::project::Config,
    depends_on: Vec<Dependency>,
    test: GenericTest,
) -> ParsedNode {
    ParsedNode {
        constraints: Vec::new(),
        unique_id: format!("assertion.{}.{}", project.name(), def.name),
        resource_type: ResourceType::Test,
        name: def.name.clone(),
        fqn,
        file: Arc::clone(&def.file),
        span: def.span.clone(),
        original_file_path: def.file.path.clone(),
        path: format!("{}.sql", def.name).into(),
        template: None,
        config,
        materialization: Materialization::Test,
        sql_check: SqlCheck::Error,
        relation: None,
        depends_on,
        description: def.description.clone(),
        columns: Vec::new(),
        generic_test: Some(test),
        checksum: crate::render::parse::checksum(&def.name),
        source_name: None,
        unit_test: None,
        reads: Default::default(),
        cannot_run: None,
        version: None,
        extra: Default::default(),
    }
}

/// A `metric` assertion: the semantic layer's answer vs expected rows or a query.
fn metric_assertion(
    project: &Project,
    renderer: &Renderer,
    catalog: MetricCatalog<'_>,
    def: &AssertionDef,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Option<ParsedNode>, Diagnostic> {
    for (arg, (_, span)) in &def.args {
        if !crate::metrics::assertion::ARGUMENTS.contains(&arg.as_str()) {
            return Err(
                Diagnostic::error(format!("the `metric` kind has no argument `{arg}`"))
                    .with_label(span, "unknown argument")
                    .with_help(suggestion_help(
                        arg,
                        crate::metrics::assertion::ARGUMENTS,
                        || {
                            format!(
                                "its arguments are: {}",
                                crate::metrics::assertion::ARGUMENTS.join(", ")
                            )
                        },
                    )),
            );
        }
    }
    let catalog = match catalog {
        MetricCatalog::Loaded(c) => c,
        MetricCatalog::Broken => return Ok(None),
        MetricCatalog::Absent => {
            return Err(Diagnostic::error(format!(
                "assertion `{}` checks a metric, but the project defines no metrics",
                def.name
            ))
            .with_label(&def.kind_span, "metric assertion")
            .with_help("define `semantic_models:` and `metrics:` in a YAML file under models/"))
        }
    };
    let (sql, models) = crate::metrics::assertion::compile(
        catalog,
        renderer.dialect,
        &def.name,
        &def.span,
        &def.args,
    )?;
    let fqn = vec![project.name().to_owned(), def.name.clone()];
    let config = generic::test_config(project, &fqn, &def.config, &def.span, warnings)?;
    if !config.enabled() {
        return Ok(None);
    }
    let mut depends_on: Vec<Dependency> = models
        .into_iter()
        .map(|m| Dependency {
            target: DependencyTarget::Ref(m),
            span: def.kind_span.clone(),
        })
        .collect();
    // The comparison query reads models too.
    for (v, span) in def.args.values() {
        for text in strings(v) {
            for dep in generic::relation_calls(text) {
                depends_on.push(Dependency {
                    target: dep,
                    span: span.clone(),
                });
            }
        }
    }
    Ok(Some(assertion_node(
        project,
        def,
        fqn,
        config,
        depends_on,
        GenericTest {
            test_name: "metric".to_owned(),
            namespace: Some("sluice".to_owned()),
            kwargs: vec![("compare_sql".to_owned(), Json::String(sql))],
            column_name: None,
            attached_to: None,
            model_expr: None,
            short_name: def.name.clone(),
            is_assertion: true,
        },
    )))
}

/// Every string in a YAML value (arguments may hold refs in nested lists).
fn strings(v: &Json) -> Vec<&str> {
    match v {
        Json::String(s) => vec![s.as_str()],
        Json::Array(items) => items.iter().flat_map(strings).collect(),
        Json::Object(map) => map.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

fn check_arguments(def: &AssertionDef, kind: &Kind) -> Result<(), Diagnostic> {
    for (arg, (_, span)) in &def.args {
        if kind.required.contains(&arg.as_str()) || kind.optional.contains(&arg.as_str()) {
            continue;
        }
        let all = kind.required.iter().chain(kind.optional).copied();
        let help = suggestion_help(arg, all, || {
            format!(
                "`{}` takes {}",
                kind.name,
                kind.required
                    .iter()
                    .chain(kind.optional)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
        let key_span = def.file.text[..span.start]
            .rfind(arg.as_str())
            .map_or(span.clone(), |s| {
                crate::diagnostics::Span::new(&def.file, s, s + arg.len())
            });
        return Err(Diagnostic::error(format!(
            "`{}` assertions take no argument `{arg}`",
            kind.name
        ))
        .with_label(&key_span, "unknown argument")
        .with_help(help));
    }
    for req in kind.required {
        if !def.args.contains_key(*req) {
            return Err(Diagnostic::error(format!(
                "assertion `{}` ({}) needs `{req}`",
                def.name, kind.name
            ))
            .with_label(&def.span, "this assertion")
            .with_help(format!(
                "`{}` requires: {}",
                kind.name,
                kind.required.join(", ")
            )));
        }
    }
    if kind.name == "accepted_range"
        && !def.args.contains_key("min_value")
        && !def.args.contains_key("max_value")
    {
        return Err(Diagnostic::error(format!(
            "assertion `{}` has neither `min_value` nor `max_value`",
            def.name
        ))
        .with_label(&def.span, "this assertion")
        .with_help("give a bound: `min_value: 0`, `max_value: 1`, or both"));
    }
    Ok(())
}
