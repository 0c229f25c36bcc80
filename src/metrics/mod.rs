//! The semantic layer: governed metrics, defined once in YAML and queried by name.
//!
//! - [`spec`] reads `semantic_models:`, `metrics:` and `dashboards:` (MetricFlow's
//!   shape) into a [`Catalog`];
//! - [`Catalog::load`] checks the definitions against the project (every model,
//!   measure, metric and dimension they name exists);
//! - [`query`] checks a request — the guardrails: allowed dimensions and grains,
//!   join paths that would fan out, filters on unknown dimensions — and writes
//!   its SQL for the target's dialect.
//!
//! Numbers are always aggregated from rows at the requested grain: ratios are
//! Σ numerator / Σ denominator, distinct counts are counted again, and balances
//! (a measure with a `non_additive_dimension`) take each period's last value.

pub mod assertion;
pub mod filter;
pub mod query;
pub mod spec;

pub use query::{Flags, Plan, Request, Spanned};
pub use spec::{Catalog, Grain, Metric, MetricKind};

use crate::diagnostics::{suggestion_help, Diagnostic, Diagnostics};
use crate::project::Project;
use spec::MetricInput;

impl Catalog {
    /// Read and check every semantic definition of the project; `models` are the
    /// names of the project's models (and seeds and snapshots).
    pub fn load(
        project: &Project,
        models: &[&str],
    ) -> Result<(Catalog, Vec<Diagnostic>), Diagnostics> {
        let mut catalog = Catalog::default();
        let mut warnings = Vec::new();
        let mut errors = Vec::new();
        for (file, doc) in &project.properties.semantic_docs {
            if let Err(e) = catalog.add_document(file, doc, &mut warnings) {
                errors.push(e);
            }
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        errors.extend(catalog.check(models));
        if errors.is_empty() {
            Ok((catalog, warnings))
        } else {
            Err(errors.into())
        }
    }

    /// Every problem in the definitions.
    fn check(&self, models: &[&str]) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        let measures: Vec<&str> = self
            .models
            .iter()
            .flat_map(|m| m.measures.iter().map(|x| x.name.as_str()))
            .collect();
        for m in &self.models {
            if !models.contains(&m.model.as_str()) {
                errors.push(
                    Diagnostic::error(format!(
                        "semantic model `{}` reads `{}`, which is not a model",
                        m.name, m.model
                    ))
                    .with_label(&m.span, "this semantic model")
                    .with_help(suggestion_help(
                        &m.model,
                        models.iter().copied(),
                        || "name a model of the project in `model: ref('...')`".to_owned(),
                    )),
                );
            }
            let times: Vec<&str> = m
                .dimensions
                .iter()
                .filter(|d| d.time_grain.is_some())
                .map(|d| d.name.as_str())
                .collect();
            let check_time = |name: &str, span: &crate::diagnostics::Span| {
                (!times.contains(&name)).then(|| {
                    Diagnostic::error(format!(
                        "`{name}` is not a time dimension of semantic model `{}`",
                        m.name
                    ))
                    .with_label(span, "here")
                    .with_help(if times.is_empty() {
                        "declare a dimension with `type: time`".to_owned()
                    } else {
                        format!("its time dimensions are: {}", times.join(", "))
                    })
                })
            };
            if let Some(t) = &m.default_time {
                errors.extend(check_time(t, &m.span));
            }
            for x in &m.measures {
                if let Some(t) = &x.agg_time_dimension {
                    errors.extend(check_time(t, &x.span));
                }
                if let Some(nad) = &x.non_additive {
                    errors.extend(check_time(&nad.dimension, &x.span));
                }
            }
        }
        for metric in self.metrics.values() {
            let metric_ref = |name: &str| -> Option<Diagnostic> {
                (!self.metrics.contains_key(name)).then(|| {
                    Diagnostic::error(format!(
                        "metric `{}` uses metric `{name}`, which is not defined",
                        metric.name
                    ))
                    .with_label(&metric.span, "this metric")
                    .with_help(suggestion_help(
                        name,
                        self.metrics.keys().map(String::as_str),
                        || "define it under `metrics:`".to_owned(),
                    ))
                })
            };
            match &metric.kind {
                MetricKind::Simple { measure } | MetricKind::Cumulative { measure, .. } => {
                    if !measures.contains(&measure.as_str()) {
                        errors.push(
                            Diagnostic::error(format!(
                                "metric `{}` uses measure `{measure}`, which no semantic model defines",
                                metric.name
                            ))
                            .with_label(&metric.span, "this metric")
                            .with_help(suggestion_help(measure, measures.iter().copied(), || {
                                "define it under a semantic model's `measures:`".to_owned()
                            })),
                        );
                    }
                }
                MetricKind::Ratio {
                    numerator,
                    denominator,
                } => {
                    for input in [numerator, denominator] {
                        errors.extend(metric_ref(&input.name));
                        if input.offset.is_some() {
                            errors.push(
                                Diagnostic::error(format!(
                                    "ratio metric `{}` shifts `{}` in time, which only a derived metric can do",
                                    metric.name, input.name
                                ))
                                .with_label(&metric.span, "this metric")
                                .with_help("write it as a derived metric: `type: derived` with `expr: a / b`"),
                            );
                        }
                    }
                }
                MetricKind::Derived { metrics, expr } => {
                    for m in metrics {
                        errors.extend(metric_ref(&m.name));
                    }
                    errors.extend(derived_expr_names(metric, expr, metrics));
                }
                MetricKind::Unsupported { .. } => {}
            }
        }
        if !errors.is_empty() {
            return errors;
        }
        for metric in self.metrics.values() {
            if let Some(e) = self.cycle_or_nested_offset(metric, metric, false, 0) {
                errors.push(e);
            }
        }
        if !errors.is_empty() {
            return errors;
        }
        // Each metric's filters name dimensions its measures reach, as a query
        // would check them: a wrong name is found at load, not at the first query.
        for metric in self.metrics.values() {
            let mut needs = Vec::new();
            self.leaves_of(metric, None, None, &mut needs);
            for need in &needs {
                if let Some(f) = &need.filter {
                    if let Err(e) =
                        self.check_filter(f, &need.owner.span, std::slice::from_ref(need))
                    {
                        errors.push(e);
                        break;
                    }
                }
            }
        }
        errors
    }

    /// A metric that reaches itself through its inputs, or a time shift of a
    /// metric that is itself shifted (not supported).
    fn cycle_or_nested_offset(
        &self,
        root: &Metric,
        metric: &Metric,
        shifted: bool,
        depth: usize,
    ) -> Option<Diagnostic> {
        let inputs: Vec<&spec::MetricInput> = match &metric.kind {
            MetricKind::Ratio {
                numerator,
                denominator,
            } => vec![numerator, denominator],
            MetricKind::Derived { metrics, .. } => metrics.iter().collect(),
            _ => return None,
        };
        for input in inputs {
            if input.name == root.name || depth > 32 {
                return Some(
                    Diagnostic::error(format!(
                        "metric `{}` is built from itself (through `{}`)",
                        root.name, metric.name
                    ))
                    .with_label(&root.span, "this metric")
                    .with_help("a ratio or derived metric must be built from other metrics"),
                );
            }
            if shifted && input.offset.is_some() {
                return Some(
                    Diagnostic::error(format!(
                        "metric `{}` shifts `{}` in time inside a metric that is itself shifted",
                        root.name, input.name
                    ))
                    .with_label(&root.span, "this metric")
                    .with_help("shift the metric once: sluice does not combine offsets"),
                );
            }
            if let Some(inner) = self.metrics.get(&input.name) {
                if let Some(e) = self.cycle_or_nested_offset(
                    root,
                    inner,
                    shifted || input.offset.is_some(),
                    depth + 1,
                ) {
                    return Some(e);
                }
            }
        }
        None
    }
}

/// The names a derived metric's `expr` uses must be its inputs (by alias, or by
/// name when it has none).
fn derived_expr_names(metric: &Metric, expr: &str, inputs: &[MetricInput]) -> Option<Diagnostic> {
    let known: Vec<&str> = inputs.iter().map(MetricInput::expr_name).collect();
    let names = match query::expression_names(expr) {
        Ok(names) => names,
        Err(why) => {
            return Some(
                Diagnostic::error(format!(
                    "the expr of derived metric `{}` is not one SQL expression: {why}",
                    metric.name
                ))
                .with_label(&metric.span, "this metric")
                .with_help("write an expression over its metrics, e.g. `expr: revenue - cost`"),
            )
        }
    };
    let first = names.iter().find(|n| !known.contains(&n.as_str()))?;
    Some(
        Diagnostic::error(format!(
            "derived metric `{}` uses `{first}` in its expr, which is not one of its metrics",
            metric.name
        ))
        .with_label(&metric.span, "this metric")
        .with_help(suggestion_help(first, known.iter().copied(), || {
            if known.is_empty() {
                "list the metrics it uses under `type_params.metrics`".to_owned()
            } else {
                format!(
                    "its metrics are: {} (an input with `alias:` is named by its alias)",
                    known.join(", ")
                )
            }
        })),
    )
}
