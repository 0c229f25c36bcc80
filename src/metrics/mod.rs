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
pub mod query;
pub mod spec;

pub use query::{Flags, Plan, Request, Spanned};
pub use spec::{Catalog, Grain, Metric, MetricKind};

use crate::diagnostics::{suggestion_help, Diagnostic, Diagnostics};
use crate::project::Project;

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
                    errors.extend(metric_ref(numerator));
                    errors.extend(metric_ref(denominator));
                }
                MetricKind::Derived { metrics, .. } => {
                    for m in metrics {
                        errors.extend(metric_ref(m));
                    }
                }
            }
        }
        errors
    }
}
