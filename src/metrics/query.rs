//! Metric queries: a request (metrics, dimensions, grain, filters) is checked
//! against the catalog — every guardrail is an error here, before any SQL exists —
//! and then written as one SQL statement for the target's dialect.
//!
//! The SQL aggregates each measure straight from its model's rows at the
//! requested grain, so numbers are never re-aggregated: a ratio is
//! Σ numerator / Σ denominator at that grain, a distinct count is counted again
//! per period, and a balance (a measure with a `non_additive_dimension`) takes
//! the rows at each period's last time instead of being summed over time.

use std::collections::{BTreeMap, BTreeSet};

use sqlparser::ast::{BinaryOperator, Expr, Ident, VisitMut, VisitorMut};
use sqlparser::parser::Parser;

use super::spec::{
    Agg, Catalog, Dimension, EntityType, Grain, Measure, Metric, MetricInput, MetricKind, Offset,
    Percentile, SemanticModel,
};
use crate::adapter::{Dialect, GenericType};
use crate::diagnostics::{suggestion_help, Diagnostic, SourceFile, Span};
use crate::project::WarehouseKind;

/// A value of the request and where it was written (a flag or a YAML line).
#[derive(Clone, Debug)]
pub struct Spanned {
    pub text: String,
    pub span: Span,
}

/// What a user asks for.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub metrics: Vec<Spanned>,
    pub group_by: Vec<Spanned>,
    pub grain: Option<Spanned>,
    pub where_sql: Option<Spanned>,
    pub start: Option<Spanned>,
    pub end: Option<Spanned>,
    pub order: Vec<Spanned>,
    pub limit: Option<u64>,
}

/// The `metrics query` flags, as typed.
#[derive(Clone, Debug, Default)]
pub struct Flags {
    pub metrics: String,
    pub group_by: Vec<String>,
    pub grain: Option<String>,
    pub where_sql: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub order: Vec<String>,
    pub limit: Option<u64>,
}

impl Request {
    /// A request from command-line flags; each flag's text becomes a source
    /// file of its own, so errors point into it.
    pub fn from_flags(flags: &Flags) -> Request {
        let list = |flag: &str, text: &str| -> Vec<Spanned> {
            let file = SourceFile::new(flag, text.to_owned());
            let mut out = Vec::new();
            let mut at = 0;
            for part in text.split(',') {
                let trimmed = part.trim();
                let start = at + (part.len() - part.trim_start().len());
                if !trimmed.is_empty() {
                    out.push(Spanned {
                        text: trimmed.to_owned(),
                        span: Span::new(&file, start, start + trimmed.len()),
                    });
                }
                at += part.len() + 1;
            }
            out
        };
        let one = |flag: &str, text: Option<&String>| -> Option<Spanned> {
            text.map(|t| {
                let file = SourceFile::new(flag, t.clone());
                Spanned {
                    text: t.trim().to_owned(),
                    span: Span::new(&file, 0, t.len()),
                }
            })
        };
        Request {
            metrics: list("--metrics", &flags.metrics),
            group_by: list("--group-by", &flags.group_by.join(",")),
            grain: one("--grain", flags.grain.as_ref()),
            where_sql: one("--where", flags.where_sql.as_ref()),
            start: one("--start", flags.start.as_ref()),
            end: one("--end", flags.end.as_ref()),
            order: list("--order", &flags.order.join(",")),
            limit: flags.limit,
        }
    }
}

/// A checked query, ready to be written as SQL.
#[derive(Debug)]
pub struct Plan<'a> {
    catalog: &'a Catalog,
    metrics: Vec<&'a Metric>,
    grain: Option<Grain>,
    /// Requested dimensions: output name → per semantic model, the resolution.
    dims: Vec<String>,
    leaves: Vec<Leaf<'a>>,
    where_expr: Option<Expr>,
    start: Option<String>,
    end: Option<String>,
    order: Vec<(String, bool)>,
    limit: Option<u64>,
}

/// One aggregated measure the query needs (a metric's filter makes its own leaf).
#[derive(Debug)]
struct Leaf<'a> {
    alias: String,
    model: &'a SemanticModel,
    measure: &'a Measure,
    filter: Option<Expr>,
    cumulative: Option<Cumulative>,
    offset: Option<Offset>,
}

/// A measure a requested metric needs: the metric that names it, and the filter
/// and time shift the path from the requested metric applies to it.
#[derive(Clone, Debug)]
pub(super) struct Need<'a> {
    pub owner: &'a Metric,
    pub measure: &'a str,
    pub filter: Option<String>,
    cumulative: Option<Cumulative>,
    pub offset: Option<Offset>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cumulative {
    window: Option<(i64, Grain)>,
    grain_to_date: Option<Grain>,
    period_last: bool,
}

/// How a dimension name reaches a semantic model's rows.
#[derive(Clone, Debug)]
enum Reach<'a> {
    Local(&'a Dimension),
    /// Through `entity` to `model` (one row per entity there: no fan-out).
    Joined {
        entity: String,
        local_expr: String,
        model: &'a SemanticModel,
        remote_expr: String,
        dim: &'a Dimension,
    },
}

fn err(span: &Span, message: String, label: &str, help: String) -> Diagnostic {
    Diagnostic::error(message)
        .with_label(span, label)
        .with_help(help)
}

/// Resolve `name` (`dim` or `entity__dim`) from semantic model `from`.
fn reach<'a>(
    catalog: &'a Catalog,
    from: &'a SemanticModel,
    name: &str,
) -> Result<Reach<'a>, String> {
    let (entity, dim) = match name.split_once("__") {
        Some((e, d)) => (Some(e), d),
        None => (None, name),
    };
    let Some(entity) = entity else {
        return from
            .dimension(dim)
            .map(Reach::Local)
            .ok_or_else(|| format!("`{}` has no dimension `{dim}`", from.name));
    };
    let Some(local) = from.entities.iter().find(|e| e.name == entity) else {
        return Err(format!("`{}` has no entity `{entity}`", from.name));
    };
    let is_one = |k: EntityType| {
        matches!(
            k,
            EntityType::Primary | EntityType::Unique | EntityType::Natural
        )
    };
    if is_one(local.kind) {
        if let Some(d) = from.dimension(dim) {
            return Ok(Reach::Local(d));
        }
    }
    let owners: Vec<&SemanticModel> = catalog
        .models
        .iter()
        .filter(|m| m.name != from.name)
        .filter(|m| {
            m.entities
                .iter()
                .any(|e| e.name == entity && is_one(e.kind))
        })
        .filter(|m| m.dimension(dim).is_some())
        .collect();
    match owners.as_slice() {
        [one] => {
            let remote = one
                .entities
                .iter()
                .find(|e| e.name == entity)
                .map(|e| e.expr.clone());
            Ok(Reach::Joined {
                entity: entity.to_owned(),
                local_expr: local.expr.clone(),
                model: one,
                remote_expr: remote.unwrap_or_else(|| entity.to_owned()),
                dim: one
                    .dimension(dim)
                    .ok_or_else(|| format!("no dimension `{dim}`"))?,
            })
        }
        [] => {
            let fanning: Vec<&str> = catalog
                .models
                .iter()
                .filter(|m| m.name != from.name && m.dimension(dim).is_some())
                .filter(|m| m.entities.iter().any(|e| e.name == entity))
                .map(|m| m.name.as_str())
                .collect();
            if fanning.is_empty() {
                Err(format!(
                    "no semantic model reachable through `{entity}` has a dimension `{dim}`"
                ))
            } else {
                Err(format!(
                    "the join from `{}` to {} through `{entity}` would fan out: {} has many rows per {entity}, so each `{}` row would be repeated and its measures counted more than once",
                    from.name,
                    fanning.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", "),
                    fanning.join(", "),
                    from.name
                ))
            }
        }
        many => Err(format!(
            "`{entity}__{dim}` is ambiguous: {} each have one row per {entity} and a dimension `{dim}`",
            many.iter()
                .map(|m| format!("`{}`", m.name))
                .collect::<Vec<_>>()
                .join(" and ")
        )),
    }
}

/// Every dimension name a semantic model's measures can be grouped by.
fn reachable(catalog: &Catalog, from: &SemanticModel) -> Vec<String> {
    let mut out: Vec<String> = from
        .dimensions
        .iter()
        .filter(|d| d.time_grain.is_none())
        .map(|d| d.name.clone())
        .collect();
    // A model's own dimensions are also `<its primary entity>__<dimension>`.
    if let Some(primary) = from.primary_entity() {
        let prefixed: Vec<String> = out
            .iter()
            .map(|d| format!("{}__{d}", primary.name))
            .collect();
        out.extend(prefixed);
    }
    for e in &from.entities {
        for m in &catalog.models {
            if m.name == from.name {
                continue;
            }
            for d in m.dimensions.iter().filter(|d| d.time_grain.is_none()) {
                let name = format!("{}__{}", e.name, d.name);
                if reach(catalog, from, &name).is_ok() && !out.contains(&name) {
                    out.push(name);
                }
            }
        }
    }
    out
}

impl Catalog {
    /// The leaves (measures with their filters and shifts) behind a metric;
    /// `filter` and `offset` come from the metrics that use it.
    pub(super) fn leaves_of<'a>(
        &'a self,
        metric: &'a Metric,
        filter: Option<&str>,
        offset: Option<Offset>,
        out: &mut Vec<Need<'a>>,
    ) {
        let combined = combine(filter, metric.filter.as_deref());
        match &metric.kind {
            MetricKind::Simple { measure } => out.push(Need {
                owner: metric,
                measure,
                filter: combined,
                cumulative: None,
                offset,
            }),
            MetricKind::Cumulative {
                measure,
                window,
                grain_to_date,
                period_last,
            } => out.push(Need {
                owner: metric,
                measure,
                filter: combined,
                cumulative: Some(Cumulative {
                    window: *window,
                    grain_to_date: *grain_to_date,
                    period_last: *period_last,
                }),
                offset,
            }),
            MetricKind::Ratio {
                numerator,
                denominator,
            } => {
                for input in [numerator, denominator] {
                    self.input_leaves(input, combined.as_deref(), offset, out);
                }
            }
            MetricKind::Derived { metrics, .. } => {
                for input in metrics {
                    self.input_leaves(input, combined.as_deref(), offset, out);
                }
            }
            MetricKind::Unsupported { .. } => {}
        }
    }

    fn input_leaves<'a>(
        &'a self,
        input: &'a MetricInput,
        filter: Option<&str>,
        offset: Option<Offset>,
        out: &mut Vec<Need<'a>>,
    ) {
        if let Some(inner) = self.metrics.get(&input.name) {
            let filter = combine(filter, input.filter.as_deref());
            self.leaves_of(inner, filter.as_deref(), input.offset.or(offset), out);
        }
    }

    /// The first metric behind `metric` that sluice does not compute.
    fn unsupported_in<'a>(&'a self, metric: &'a Metric, depth: usize) -> Option<&'a Metric> {
        if depth > 64 {
            return None;
        }
        let inputs: Vec<&MetricInput> = match &metric.kind {
            MetricKind::Unsupported { .. } => return Some(metric),
            MetricKind::Ratio {
                numerator,
                denominator,
            } => vec![numerator, denominator],
            MetricKind::Derived { metrics, .. } => metrics.iter().collect(),
            MetricKind::Simple { .. } | MetricKind::Cumulative { .. } => Vec::new(),
        };
        inputs
            .into_iter()
            .filter_map(|i| self.metrics.get(&i.name))
            .find_map(|m| self.unsupported_in(m, depth + 1))
    }

    /// The dimensions a metric allows: its own list, else those of the metrics it
    /// is built from, else every dimension its measures reach.
    pub fn allowed_dimensions(&self, metric: &Metric) -> Vec<String> {
        if let Some(list) = &metric.dimensions {
            return list.clone();
        }
        let mut leaves = Vec::new();
        self.leaves_of(metric, None, None, &mut leaves);
        let mut common: Option<Vec<String>> = None;
        for Need { owner, measure, .. } in leaves {
            let dims = match (&owner.dimensions, self.measure(measure)) {
                (Some(list), _) if owner.name != metric.name => list.clone(),
                (_, Some((model, _))) => reachable(self, model),
                _ => Vec::new(),
            };
            common = Some(match common {
                None => dims,
                Some(c) => c.into_iter().filter(|d| dims.contains(d)).collect(),
            });
        }
        common.unwrap_or_default()
    }

    /// The names of the time dimensions of a metric's measures.
    fn time_dimension_names(&self, metric: &Metric) -> Vec<String> {
        let mut leaves = Vec::new();
        self.leaves_of(metric, None, None, &mut leaves);
        leaves
            .iter()
            .filter_map(|n| self.measure(n.measure))
            .flat_map(|(model, _)| {
                model
                    .dimensions
                    .iter()
                    .filter(|d| d.time_grain.is_some())
                    .map(|d| d.name.clone())
            })
            .collect()
    }

    /// The finest grain a metric can be queried at (`None`: it has no time).
    pub fn finest_grain(&self, metric: &Metric) -> Option<Grain> {
        let mut leaves = Vec::new();
        self.leaves_of(metric, None, None, &mut leaves);
        let mut finest = None;
        for Need { measure, .. } in leaves {
            let (model, m) = self.measure(measure)?;
            let time = m
                .agg_time_dimension
                .as_ref()
                .or(model.default_time.as_ref())?;
            let g = model.dimension(time)?.time_grain?;
            finest = Some(finest.map_or(g, |f: Grain| f.max(g)));
        }
        finest
    }

    /// Check a request against the catalog.
    pub fn plan<'a>(&'a self, request: &Request) -> Result<Plan<'a>, Diagnostic> {
        if request.metrics.is_empty() {
            return Err(Diagnostic::error("no metric asked for").with_help(
                "name one or more: `--metrics mrr,win_rate`; `sluice metrics list` shows them all",
            ));
        }
        let mut metrics = Vec::new();
        for m in &request.metrics {
            let Some(metric) = self.metrics.get(&m.text) else {
                return Err(err(
                    &m.span,
                    format!("there is no metric `{}`", m.text),
                    "unknown metric",
                    suggestion_help(&m.text, self.metrics.keys().map(String::as_str), || {
                        "`sluice metrics list` shows every metric".to_owned()
                    }),
                ));
            };
            if !metrics.iter().any(|x: &&Metric| x.name == metric.name) {
                metrics.push(metric);
            }
        }
        // The grain, and the time dimension every metric needs for it.
        let grain = match &request.grain {
            None => None,
            Some(g) => Some(Grain::parse(&g.text).ok_or_else(|| {
                let names = Grain::ALL.map(Grain::as_str);
                err(
                    &g.span,
                    format!("unknown grain `{}`", g.text),
                    "not a grain",
                    suggestion_help(&g.text, names, || {
                        format!("grains are: {}", names.join(", "))
                    }),
                )
            })?),
        };
        if let (Some(g), Some(spanned)) = (grain, &request.grain) {
            for metric in &metrics {
                match self.finest_grain(metric) {
                    None => {
                        return Err(err(
                            &spanned.span,
                            format!("metric `{}` has no time dimension, so it cannot be queried by {}", metric.name, g.as_str()),
                            "needs a time dimension",
                            "query it without --grain, or in a separate query from the metrics over time".to_owned(),
                        ))
                    }
                    Some(finest) if g < finest => {
                        return Err(err(
                            &spanned.span,
                            format!("metric `{}` is recorded by {}, so it cannot be queried by {}", metric.name, finest.as_str(), g.as_str()),
                            "too fine",
                            format!("use one of: {}", finest.and_coarser().join(", ")),
                        ))
                    }
                    _ => {}
                }
            }
        }
        // Dimensions: allowed by every metric, and reachable from every measure.
        for metric in &metrics {
            if let Some(bad) = self.unsupported_in(metric, 0) {
                let span = request
                    .metrics
                    .iter()
                    .find(|m| m.text == metric.name)
                    .map_or(metric.span.clone(), |m| m.span.clone());
                return Err(err(
                    &span,
                    format!(
                        "metric `{}` is a {} metric, which sluice's semantic layer does not compute",
                        bad.name,
                        bad.kind.type_name()
                    ),
                    "not supported",
                    "query its parts (the metrics or measures it is built from) instead".into(),
                ));
            }
        }
        let mut leaves_raw = Vec::new();
        for metric in &metrics {
            self.leaves_of(metric, None, None, &mut leaves_raw);
        }
        if grain.is_none() {
            for metric in &metrics {
                let mut needs = Vec::new();
                self.leaves_of(metric, None, None, &mut needs);
                if let Some(shifted) = needs.iter().find(|n| n.offset.is_some()) {
                    let span = request
                        .metrics
                        .iter()
                        .find(|m| m.text == metric.name)
                        .map_or(metric.span.clone(), |m| m.span.clone());
                    return Err(err(
                        &span,
                        format!(
                            "metric `{}` reads `{}` shifted in time (`offset_window`/`offset_to_grain`), which needs a grain",
                            metric.name, shifted.owner.name
                        ),
                        "needs --grain",
                        format!(
                            "add --grain (one of: {})",
                            self.finest_grain(metric)
                                .unwrap_or(Grain::Day)
                                .and_coarser()
                                .join(", ")
                        ),
                    ));
                }
            }
        }
        for Need {
            owner,
            measure,
            cumulative,
            ..
        } in &leaves_raw
        {
            if self.measure(measure).is_none() {
                return Err(err(
                    &owner.span,
                    format!(
                        "metric `{}` names measure `{measure}`, which no semantic model defines",
                        owner.name
                    ),
                    "here",
                    "define the measure, or fix the name".into(),
                ));
            }
            if cumulative.is_some() && grain.is_none() {
                let span = request
                    .metrics
                    .iter()
                    .find(|m| m.text == owner.name)
                    .map_or(owner.span.clone(), |m| m.span.clone());
                return Err(err(
                    &span,
                    format!("cumulative metric `{}` needs a grain", owner.name),
                    "cumulative",
                    format!(
                        "add --grain (one of: {})",
                        self.finest_grain(owner)
                            .unwrap_or(Grain::Day)
                            .and_coarser()
                            .join(", ")
                    ),
                ));
            }
        }
        let mut dims = Vec::new();
        for d in &request.group_by {
            for metric in &metrics {
                let allowed = self.allowed_dimensions(metric);
                if !allowed.contains(&d.text) {
                    // A join that would fan out or is ambiguous says more than
                    // "not allowed".
                    let mut leaves = Vec::new();
                    self.leaves_of(metric, None, None, &mut leaves);
                    let unsafe_join = leaves.iter().find_map(|n| {
                        let (model, _) = self.measure(n.measure)?;
                        reach(self, model, &d.text)
                            .err()
                            .filter(|why| why.contains("fan out") || why.contains("ambiguous"))
                    });
                    let listed = if allowed.is_empty() {
                        "no dimension".to_owned()
                    } else {
                        allowed.join(", ")
                    };
                    if let Some(why) = unsafe_join {
                        return Err(err(
                            &d.span,
                            format!(
                                "metric `{}` cannot be grouped by `{}`: {why}",
                                metric.name, d.text
                            ),
                            "unsafe join path",
                            format!("`{}` can be grouped by: {listed}", metric.name),
                        ));
                    }
                    let help = match suggestion_help(
                        &d.text,
                        allowed.iter().map(String::as_str),
                        String::new,
                    ) {
                        h if h.starts_with("did you mean") => {
                            format!("{h} (`{}` allows: {listed})", metric.name)
                        }
                        _ => format!("`{}` can be grouped by: {listed}", metric.name),
                    };
                    return Err(err(
                        &d.span,
                        format!("metric `{}` cannot be grouped by `{}`", metric.name, d.text),
                        "not allowed for this metric",
                        help,
                    ));
                }
            }
            for Need { measure, .. } in &leaves_raw {
                if let Some((model, _)) = self.measure(measure) {
                    reach(self, model, &d.text).map_err(|why| {
                        err(
                            &d.span,
                            format!("cannot group `{measure}` by `{}`", d.text),
                            "no safe join path",
                            why,
                        )
                    })?;
                }
            }
            if !dims.contains(&d.text) {
                dims.push(d.text.clone());
            }
        }
        // Filters name dimensions too; they must reach every measure.
        let where_expr = match &request.where_sql {
            None => None,
            Some(w) => {
                let expr = self.check_filter(&w.text, &w.span, &leaves_raw)?;
                // A filter is a question by that dimension: the metric must allow it.
                let mut names = BTreeSet::new();
                collect_identifiers(&expr, &mut names);
                for metric in &metrics {
                    let allowed = self.allowed_dimensions(metric);
                    let time_dims = self.time_dimension_names(metric);
                    for name in &names {
                        let is_time = time_dims.contains(name)
                            || time_dims.contains(&strip_grain(name).0.to_owned())
                            || strip_grain(name).0 == "metric_time";
                        if !allowed.contains(name) && !is_time {
                            return Err(err(
                                &w.span,
                                format!("metric `{}` cannot be filtered by `{name}`", metric.name),
                                "not allowed for this metric",
                                format!(
                                    "`{}` can be filtered by: {}",
                                    metric.name,
                                    if allowed.is_empty() {
                                        "its time only".to_owned()
                                    } else {
                                        allowed.join(", ")
                                    }
                                ),
                            ));
                        }
                    }
                }
                Some(expr)
            }
        };
        let mut leaves: Vec<Leaf<'a>> = Vec::new();
        for need in leaves_raw {
            let (model, m) = self
                .measure(need.measure)
                .expect("checked above: every measure exists");
            let filter = match &need.filter {
                Some(f) => Some(self.check_filter(
                    f,
                    &need.owner.span,
                    &[Need {
                        filter: None,
                        ..need.clone()
                    }],
                )?),
                None => None,
            };
            let alias = format!("m{}", leaves.len());
            let same = leaves.iter().any(|l| {
                l.measure.name == m.name
                    && l.filter == filter
                    && l.cumulative == need.cumulative
                    && l.offset == need.offset
            });
            if !same {
                leaves.push(Leaf {
                    alias,
                    model,
                    measure: m,
                    filter,
                    cumulative: need.cumulative,
                    offset: need.offset,
                });
            }
        }
        let date = |s: &Option<Spanned>, flag: &str| -> Result<Option<String>, Diagnostic> {
            match s {
                None => Ok(None),
                Some(v) if chrono::NaiveDate::parse_from_str(&v.text, "%Y-%m-%d").is_ok() => {
                    Ok(Some(v.text.clone()))
                }
                Some(v) => Err(err(
                    &v.span,
                    format!("{flag} `{}` is not a date", v.text),
                    "expected YYYY-MM-DD",
                    format!("write e.g. `{flag} 2024-01-01`"),
                )),
            }
        };
        let (start, end) = (
            date(&request.start, "--start")?,
            date(&request.end, "--end")?,
        );
        if (start.is_some() || end.is_some()) && leaves.iter().any(|l| time_dimension(l).is_none())
        {
            let s = request
                .start
                .as_ref()
                .or(request.end.as_ref())
                .map(|s| s.span.clone());
            if let Some(span) = s {
                return Err(err(
                    &span,
                    "--start/--end filter time, and a metric here has no time dimension".into(),
                    "needs time",
                    "drop --start/--end, or query that metric separately".into(),
                ));
            }
        }
        // Order by output columns.
        let mut columns: Vec<String> = grain.map(|g| g.as_str().to_owned()).into_iter().collect();
        columns.extend(dims.iter().cloned());
        columns.extend(metrics.iter().map(|m| m.name.clone()));
        let mut order = Vec::new();
        for o in &request.order {
            let (desc, name) = match o.text.strip_prefix('-') {
                Some(n) => (true, n.to_owned()),
                None => (false, o.text.clone()),
            };
            if !columns.contains(&name) {
                return Err(err(
                    &o.span,
                    format!("cannot order by `{name}`: it is not a column of the result"),
                    "unknown column",
                    suggestion_help(&name, columns.iter().map(String::as_str), || {
                        format!("the columns are: {}", columns.join(", "))
                    }),
                ));
            }
            order.push((name, desc));
        }
        Ok(Plan {
            catalog: self,
            metrics,
            grain,
            dims,
            leaves,
            where_expr,
            start,
            end,
            order,
            limit: request.limit,
        })
    }

    /// Parse a filter and check that every name in it is a dimension reachable
    /// from every measure it applies to.
    pub(super) fn check_filter(
        &self,
        sql: &str,
        span: &Span,
        leaves: &[Need<'_>],
    ) -> Result<Expr, Diagnostic> {
        let expr = parse_condition(sql).map_err(|(message, at, label)| {
            // Point at the spot inside the filter text when the span quotes it.
            let caret = match (at, span.text().find(sql)) {
                (Some(at), Some(k)) => {
                    Span::new(&span.file, span.start + k + at, span.start + k + at + 1)
                }
                _ => span.clone(),
            };
            err(
                &caret,
                format!("the filter `{sql}` is not one SQL condition: {message}"),
                label,
                "write one boolean condition, e.g. `account__region = 'EMEA'`; \
                 combine conditions with `and`/`or`"
                    .into(),
            )
        })?;
        let mut names = BTreeSet::new();
        collect_identifiers(&expr, &mut names);
        for name in names {
            for Need { owner, measure, .. } in leaves {
                let Some((model, m)) = self.measure(measure) else {
                    continue;
                };
                if time_ref(model, m, &name).is_some() || local_entity(model, &name).is_some() {
                    continue;
                }
                if let Err(why) = reach(self, model, &name) {
                    let allowed = reachable(self, model);
                    return Err(err(
                        span,
                        format!(
                            "the filter names `{name}`, which is not a dimension of `{}`",
                            owner.name
                        ),
                        "unknown dimension",
                        format!(
                            "{} ({why})",
                            suggestion_help(&name, allowed.iter().map(String::as_str), || format!(
                                "filter on one of: {}",
                                allowed.join(", ")
                            ))
                        ),
                    ));
                }
            }
        }
        Ok(expr)
    }
}

/// The bare names an expression uses (column or metric names), or why it is
/// not one expression.
pub(super) fn expression_names(sql: &str) -> Result<BTreeSet<String>, String> {
    let expr = parse_whole_expr(sql).map_err(|(message, _, _)| message)?;
    let mut names = BTreeSet::new();
    collect_identifiers(&expr, &mut names);
    Ok(names)
}

fn collect_identifiers(expr: &Expr, out: &mut BTreeSet<String>) {
    struct Collect<'b>(&'b mut BTreeSet<String>);
    impl VisitorMut for Collect<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
            if let Expr::Identifier(id) = expr {
                self.0.insert(id.value.clone());
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut copy = expr.clone();
    let _ = copy.visit(&mut Collect(out));
}

/// Replace identifiers with SQL text (dimension expressions, metric columns).
fn substitute(expr: &Expr, f: &dyn Fn(&str) -> Option<String>) -> Expr {
    struct Sub<'b>(&'b dyn Fn(&str) -> Option<String>);
    impl VisitorMut for Sub<'_> {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
            if let Expr::Identifier(id) = expr {
                if let Some(sql) = (self.0)(&id.value) {
                    // Raw SQL as an unquoted identifier prints verbatim.
                    *expr = Expr::Nested(Box::new(Expr::Identifier(Ident::new(sql))));
                }
            }
            if let Expr::BinaryOp {
                op: BinaryOperator::Divide,
                right,
                ..
            } = expr
            {
                // A zero denominator gives NULL, on every warehouse.
                let inner = std::mem::replace(
                    right.as_mut(),
                    Expr::Value(sqlparser::ast::Value::Null.into()),
                );
                **right = Expr::Identifier(Ident::new(format!("nullif({inner}, 0)")));
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut copy = expr.clone();
    let _ = copy.visit(&mut Sub(f));
    copy
}

fn time_dimension<'a>(leaf: &Leaf<'a>) -> Option<&'a Dimension> {
    let name = leaf
        .measure
        .agg_time_dimension
        .as_ref()
        .or(leaf.model.default_time.as_ref())?;
    leaf.model.dimension(name)
}

/// `ordered_at__month` → (`ordered_at`, Some(month)); a name without a grain
/// suffix is itself.
fn strip_grain(name: &str) -> (&str, Option<Grain>) {
    match name.rsplit_once("__") {
        Some((base, g)) => match Grain::parse(g) {
            Some(grain) => (base, Some(grain)),
            None => (name, None),
        },
        None => (name, None),
    }
}

/// A time a filter names for `measure` of `model`: `metric_time` (the
/// measure's time dimension), a time dimension of the model, either of them
/// prefixed by one of its own entities, each optionally `__<grain>`. Returns the
/// dimension and the grain to truncate to.
fn time_ref<'a>(
    model: &'a SemanticModel,
    measure: &Measure,
    name: &str,
) -> Option<(&'a Dimension, Option<Grain>)> {
    let (base, grain) = strip_grain(name);
    let local = |n: &str| -> Option<&'a Dimension> {
        if n == "metric_time" {
            let t = measure
                .agg_time_dimension
                .as_ref()
                .or(model.default_time.as_ref())?;
            return model.dimension(t);
        }
        model.dimension(n).filter(|d| d.time_grain.is_some())
    };
    let dim = local(base).or_else(|| {
        let (entity, rest) = base.split_once("__")?;
        model
            .entities
            .iter()
            .any(|e| e.name == entity)
            .then(|| local(rest))
            .flatten()
    })?;
    Some((dim, grain))
}

/// An entity of `model` named in a filter (`{{ Entity('customer') }}`): its key.
fn local_entity<'a>(model: &'a SemanticModel, name: &str) -> Option<&'a str> {
    model
        .entities
        .iter()
        .find(|e| e.name == name)
        .map(|e| e.expr.as_str())
}

/// `expr` with its bare column names qualified by `alias` (`mrr > 0` →
/// `base.mrr > 0`), so joins never make a column ambiguous.
fn qualify(expr: &str, alias: &str) -> String {
    struct Qualify<'b>(&'b str);
    impl VisitorMut for Qualify<'_> {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
            if let Expr::Identifier(id) = expr {
                *expr = Expr::CompoundIdentifier(vec![Ident::new(self.0), id.clone()]);
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    match parse_expr(expr) {
        Some(mut parsed) => {
            let _ = parsed.visit(&mut Qualify(alias));
            parsed.to_string()
        }
        None => format!("{alias}.{expr}"),
    }
}

/// One SQL expression and nothing after it (`a + b; drop table x` is not one).
fn parse_expr(sql: &str) -> Option<Expr> {
    parse_whole_expr(sql).ok()
}

/// The expression `sql` is, or why not: a message, the byte offset in `sql` it
/// is about (when known) and a short label.
fn parse_whole_expr(sql: &str) -> Result<Expr, (String, Option<usize>, &'static str)> {
    let dialect = sqlparser::dialect::GenericDialect {};
    let offset = |line: u64, column: u64| {
        let f = SourceFile::new("", sql);
        f.offset_of(line as usize, (column as usize).saturating_sub(1))
    };
    let mut parser = Parser::new(&dialect)
        .try_with_sql(sql)
        .map_err(|e| (e.to_string(), None, "cannot parse"))?;
    let expr = parser.parse_expr().map_err(|e| {
        let text = e.to_string();
        // sqlparser ends its messages with " at Line: L, Column: C".
        let at = regex::Regex::new(r"Line: (\d+), Column: (\d+)")
            .ok()
            .and_then(|re| {
                re.captures(&text)
                    .map(|c| (c[1].parse().ok(), c[2].parse().ok()))
            })
            .and_then(|(l, c)| Some(offset(l?, c?)));
        (text, at, "cannot parse")
    })?;
    let next = parser.peek_token();
    if next.token != sqlparser::tokenizer::Token::EOF {
        let at = offset(next.span.start.line, next.span.start.column);
        return Err((
            format!("`{}` follows a complete expression", &sql[at..].trim_end()),
            Some(at),
            "the expression ends before this",
        ));
    }
    Ok(expr)
}

/// A filter: exactly one expression, and one that can be true or false.
fn parse_condition(sql: &str) -> Result<Expr, (String, Option<usize>, &'static str)> {
    let expr = parse_whole_expr(sql)?;
    if !maybe_boolean(&expr) {
        return Err((
            format!("`{expr}` is a value, not a condition"),
            Some(0),
            "not true or false",
        ));
    }
    Ok(expr)
}

/// False for expressions that are certainly not booleans (literals, arithmetic);
/// names and function calls may be boolean dimensions, so they pass.
fn maybe_boolean(expr: &Expr) -> bool {
    use sqlparser::ast::Value;
    match expr {
        Expr::Nested(inner) => maybe_boolean(inner),
        Expr::Value(v) => matches!(v.value, Value::Boolean(_) | Value::Null),
        Expr::BinaryOp { op, .. } => !matches!(
            op,
            BinaryOperator::Plus
                | BinaryOperator::Minus
                | BinaryOperator::Multiply
                | BinaryOperator::Divide
                | BinaryOperator::Modulo
                | BinaryOperator::StringConcat
        ),
        Expr::UnaryOp { op, .. } => matches!(op, sqlparser::ast::UnaryOperator::Not),
        _ => true,
    }
}

/// A metric's filter combined with the filter of the metric that uses it.
fn combine(outer: Option<&str>, own: Option<&str>) -> Option<String> {
    match (outer, own) {
        (Some(a), Some(b)) => Some(format!("({a}) and ({b})")),
        (a, b) => a.or(b).map(str::to_owned),
    }
}

/// `measure` aggregated over `expr` in `kind`'s SQL. A percentile a warehouse
/// cannot compute as an aggregate is an error at the measure.
fn agg_sql(measure: &Measure, expr: &str, kind: WarehouseKind) -> Result<String, Diagnostic> {
    Ok(match measure.agg {
        Agg::Sum => format!("sum({expr})"),
        Agg::Count => format!("count({expr})"),
        Agg::CountDistinct => format!("count(distinct {expr})"),
        Agg::Average => format!("avg({expr})"),
        Agg::Min => format!("min({expr})"),
        Agg::Max => format!("max({expr})"),
        Agg::SumBoolean => format!("sum(case when {expr} then 1 else 0 end)"),
        Agg::Percentile(p) => percentile_sql(measure, p, expr, kind)?,
    })
}

/// A percentile as each warehouse writes it, with MetricFlow's support matrix:
/// exact continuous and discrete percentiles are ordered-set aggregates on
/// DuckDB and Snowflake, approximate ones their sketch functions; BigQuery has
/// PERCENTILE_CONT/DISC only as analytic (window) functions, so there only the
/// approximate APPROX_QUANTILES can aggregate.
fn percentile_sql(
    measure: &Measure,
    p: Percentile,
    expr: &str,
    kind: WarehouseKind,
) -> Result<String, Diagnostic> {
    let f = p.fraction;
    let unsupported = |what: &str, help: &str| {
        Diagnostic::error(format!(
            "measure `{}` is {what}, which {} cannot compute as an aggregate",
            measure.name,
            match kind {
                WarehouseKind::DuckDb => "DuckDB",
                WarehouseKind::Snowflake => "Snowflake",
                WarehouseKind::BigQuery => "BigQuery",
            }
        ))
        .with_label(&measure.span, "this measure")
        .with_help(help.to_owned())
    };
    match (kind, p.approximate, p.discrete) {
        (WarehouseKind::DuckDb, false, false) => Ok(format!("quantile_cont({expr}, {f})")),
        (WarehouseKind::DuckDb, false, true) => Ok(format!("quantile_disc({expr}, {f})")),
        (WarehouseKind::DuckDb, true, false) => Ok(format!("approx_quantile({expr}, {f})")),
        (WarehouseKind::Snowflake, false, false) => Ok(format!(
            "percentile_cont({f}) within group (order by {expr})"
        )),
        (WarehouseKind::Snowflake, false, true) => Ok(format!(
            "percentile_disc({f}) within group (order by {expr})"
        )),
        (WarehouseKind::Snowflake, true, false) => Ok(format!("approx_percentile({expr}, {f})")),
        (WarehouseKind::DuckDb | WarehouseKind::Snowflake, true, true) => Err(unsupported(
            "an approximate discrete percentile",
            "drop `use_discrete_percentile` (the approximate continuous percentile) \
             or `use_approximate_percentile` (the exact discrete one)",
        )),
        (WarehouseKind::BigQuery, false, discrete) => Err(unsupported(
            if discrete {
                "an exact discrete percentile"
            } else {
                "an exact continuous percentile"
            },
            "BigQuery has PERCENTILE_CONT/PERCENTILE_DISC only as window functions; \
             set `agg_params: {use_approximate_percentile: true, use_discrete_percentile: true}` \
             to aggregate with APPROX_QUANTILES",
        )),
        (WarehouseKind::BigQuery, true, false) => Err(unsupported(
            "an approximate continuous percentile",
            "BigQuery's APPROX_QUANTILES returns values of the rows: \
             add `use_discrete_percentile: true` to use it",
        )),
        (WarehouseKind::BigQuery, true, true) => {
            // APPROX_QUANTILES(x, n)[OFFSET(k)] is the k/n quantile: the smallest
            // n that writes the fraction exactly.
            let exact = [100_u32, 1_000, 10_000]
                .into_iter()
                .map(|n| (n, f * f64::from(n)))
                .find(|(_, k)| (k - k.round()).abs() < 1e-6);
            match exact {
                Some((n, k)) => Ok(format!(
                    "approx_quantiles({expr}, {n})[offset({})]",
                    k.round() as u32
                )),
                None => Err(unsupported(
                    &format!("the {f} percentile"),
                    "APPROX_QUANTILES splits into at most 10,000 quantiles here: \
                     write the percentile with at most four decimals",
                )),
            }
        }
    }
}

/// The date functions a dialect writes; every period is a DATE.
struct Dates {
    kind: WarehouseKind,
}

impl Dates {
    fn trunc(&self, grain: Grain, expr: &str) -> String {
        let g = grain.as_str();
        match self.kind {
            // ISO weeks start on Monday. BigQuery's `isoweek` part says so too, but
            // the arithmetic (dayofweek: 1 = Sunday) is exact on BigQuery and also
            // runs on the local emulator, which lacks `isoweek`.
            WarehouseKind::BigQuery if grain == Grain::Week => format!(
                "date_sub(cast({expr} as date), interval mod(extract(dayofweek from cast({expr} as date)) + 5, 7) day)"
            ),
            WarehouseKind::BigQuery => format!("date_trunc(cast({expr} as date), {g})"),
            _ => format!("cast(date_trunc('{g}', {expr}) as date)"),
        }
    }

    fn add(&self, grain: Grain, n: i64, expr: &str) -> String {
        let g = grain.as_str();
        match self.kind {
            WarehouseKind::BigQuery => format!("date_add(cast({expr} as date), interval {n} {g})"),
            WarehouseKind::Snowflake => format!("cast(dateadd({g}, {n}, {expr}) as date)"),
            WarehouseKind::DuckDb => {
                format!("cast(cast({expr} as date) + interval ({n}) {g} as date)")
            }
        }
    }

    fn literal(&self, d: &str) -> String {
        format!("cast('{d}' as date)")
    }
}

impl Plan<'_> {
    pub fn metric_names(&self) -> Vec<&str> {
        self.metrics.iter().map(|m| m.name.as_str()).collect()
    }

    /// The metrics asked for, in order.
    pub fn metrics(&self) -> &[&Metric] {
        &self.metrics
    }

    /// The output columns, in order.
    pub fn columns(&self) -> Vec<String> {
        let mut c: Vec<String> = self
            .grain
            .map(|g| g.as_str().to_owned())
            .into_iter()
            .collect();
        c.extend(self.dims.iter().cloned());
        c.extend(self.metrics.iter().map(|m| m.name.clone()));
        c
    }

    /// The query as SQL for `dialect`; `relation` renders a dbt model's relation.
    pub fn sql(
        &self,
        dialect: &dyn Dialect,
        relation: &dyn Fn(&str) -> String,
    ) -> Result<String, Diagnostic> {
        let q = |s: &str| dialect.quote(s);
        let dates = Dates {
            kind: dialect.kind(),
        };
        let float = dialect.type_name(GenericType::Float);
        let mut keys: Vec<String> = self
            .grain
            .map(|g| g.as_str().to_owned())
            .into_iter()
            .collect();
        keys.extend(self.dims.iter().cloned());
        let quoted_keys: Vec<String> = keys.iter().map(|k| q(k)).collect();
        let mut ctes: Vec<String> = self
            .leaves
            .iter()
            .map(|l| self.leaf_sql(l, dialect, relation, &dates))
            .collect::<Result<_, _>>()?;
        let from = if keys.is_empty() {
            // No keys: each leaf is one row.
            let mut f = self.leaves[0].alias.clone();
            for l in &self.leaves[1..] {
                f.push_str(&format!("\ncross join {}", l.alias));
            }
            f
        } else {
            let unions: Vec<String> = self
                .leaves
                .iter()
                .map(|l| format!("select {} from {}", quoted_keys.join(", "), l.alias))
                .collect();
            ctes.push(format!(
                "query_keys as (\n    select distinct * from (\n        {}\n    ) as all_keys\n)",
                unions.join("\n        union all\n        ")
            ));
            let mut f = "query_keys as k".to_owned();
            for l in &self.leaves {
                let on: Vec<String> = quoted_keys
                    .iter()
                    .map(|k| format!("k.{k} is not distinct from {}.{k}", l.alias))
                    .collect();
                f.push_str(&format!("\nleft join {} on {}", l.alias, on.join(" and ")));
            }
            f
        };
        let mut select: Vec<String> = quoted_keys.iter().map(|k| format!("k.{k}")).collect();
        for m in &self.metrics {
            select.push(format!(
                "{} as {}",
                self.metric_expr(m, None, None, float, &q),
                q(&m.name)
            ));
        }
        let mut body = format!("select\n    {}\nfrom {from}", select.join(",\n    "));
        if !self.order.is_empty() {
            let order: Vec<String> = self
                .order
                .iter()
                .map(|(c, desc)| format!("{}{}", q(c), if *desc { " desc" } else { "" }))
                .collect();
            body.push_str(&format!("\norder by {}", order.join(", ")));
        } else if !keys.is_empty() {
            body.push_str(&format!("\norder by {}", quoted_keys.join(", ")));
        }
        if let Some(n) = self.limit {
            body.push_str(&format!("\nlimit {n}"));
        }
        Ok(format!("with {}\n{body}", ctes.join(",\n")))
    }

    /// A metric's value from its leaves' columns; `outer` and `offset` are the
    /// filter and time shift of the metrics that use it.
    fn metric_expr(
        &self,
        metric: &Metric,
        outer: Option<&str>,
        offset: Option<Offset>,
        float: &str,
        q: &dyn Fn(&str) -> String,
    ) -> String {
        let catalog = self.catalog;
        let filter = combine(outer, metric.filter.as_deref());
        let input = |i: &MetricInput| {
            catalog.metrics.get(&i.name).map_or_else(
                || "null".to_owned(),
                |m| {
                    let f = combine(filter.as_deref(), i.filter.as_deref());
                    self.metric_expr(m, f.as_deref(), i.offset.or(offset), float, q)
                },
            )
        };
        match &metric.kind {
            MetricKind::Simple { measure } | MetricKind::Cumulative { measure, .. } => {
                let wanted = filter
                    .as_deref()
                    .and_then(parse_expr)
                    .map(|e| e.to_string());
                let cumulative = matches!(metric.kind, MetricKind::Cumulative { .. });
                let value = self
                    .leaves
                    .iter()
                    .find(|l| {
                        l.measure.name == *measure
                            && l.filter.as_ref().map(ToString::to_string) == wanted
                            && l.cumulative.is_some() == cumulative
                            && l.offset == offset
                    })
                    .map_or_else(
                        || "null".to_owned(),
                        |l| format!("{}.{}", l.alias, q("metric_value")),
                    );
                match &metric.fill_nulls_with {
                    Some(fill) => format!("coalesce({value}, {fill})"),
                    None => value,
                }
            }
            MetricKind::Ratio {
                numerator,
                denominator,
            } => format!(
                "cast({} as {float}) / nullif({}, 0)",
                input(numerator),
                input(denominator)
            ),
            MetricKind::Derived { expr, metrics } => match parse_expr(expr) {
                Some(parsed) => substitute(&parsed, &|name| {
                    metrics.iter().find(|i| i.expr_name() == name).map(&input)
                })
                .to_string(),
                None => "null".to_owned(),
            },
            MetricKind::Unsupported { .. } => "null".to_owned(),
        }
    }

    /// One leaf: its measure aggregated from its model's rows at the query's
    /// keys. A leaf shifted in time (a derived metric's `offset_window` or
    /// `offset_to_grain`) is the unshifted aggregate read at each period's
    /// earlier period: periods come from the shifted rows, so a period after the
    /// last row appears too; --start/--end apply to the shifted periods.
    fn leaf_sql(
        &self,
        leaf: &Leaf<'_>,
        dialect: &dyn Dialect,
        relation: &dyn Fn(&str) -> String,
        dates: &Dates,
    ) -> Result<String, Diagnostic> {
        let (Some(offset), Some(grain)) = (leaf.offset, self.grain) else {
            return self.leaf_body(leaf, &leaf.alias, true, dialect, relation, dates);
        };
        let alias = &leaf.alias;
        let base = format!("{alias}_base");
        let base_sql = self.leaf_body(leaf, &base, false, dialect, relation, dates)?;
        let g = dialect.quote(grain.as_str());
        let (periods, earlier) = match offset {
            Offset::Window(n, wg) => (
                dates.trunc(grain, &dates.add(wg, n, &g)),
                dates.trunc(grain, &dates.add(wg, -n, &format!("p.{g}"))),
            ),
            Offset::ToGrain(tg) => (
                g.clone(),
                dates.trunc(grain, &dates.trunc(tg, &format!("p.{g}"))),
            ),
        };
        let mut range = Vec::new();
        if let Some(start) = &self.start {
            range.push(format!(
                "p.{g} >= {}",
                dates.trunc(grain, &dates.literal(start))
            ));
        }
        if let Some(end) = &self.end {
            range.push(format!("p.{g} <= {}", dates.literal(end)));
        }
        let where_sql = if range.is_empty() {
            String::new()
        } else {
            format!("\n    where {}", range.join(" and "))
        };
        let mut out = vec![format!("p.{g} as {g}")];
        out.extend(self.dims.iter().map(|d| format!("b.{}", dialect.quote(d))));
        out.push(format!("b.{}", dialect.quote("metric_value")));
        Ok(format!(
            "{base_sql},\n{alias}_periods as (\n    select distinct {periods} as {g} from {base}\n),\n\
             {alias} as (\n    select {}\n    from {alias}_periods as p\n    inner join {base} as b on b.{g} = {earlier}{where_sql}\n)",
            out.join(", ")
        ))
    }

    /// A leaf's aggregate as CTEs ending in one named `alias`; `ranged`: apply
    /// --start/--end.
    fn leaf_body(
        &self,
        leaf: &Leaf<'_>,
        alias: &str,
        ranged: bool,
        dialect: &dyn Dialect,
        relation: &dyn Fn(&str) -> String,
        dates: &Dates,
    ) -> Result<String, Diagnostic> {
        let q = |s: &str| dialect.quote(s);
        let (start, end) = if ranged {
            (self.start.as_ref(), self.end.as_ref())
        } else {
            (None, None)
        };
        // Joins for dimensions of other models, one per entity path.
        let mut joins: BTreeMap<String, String> = BTreeMap::new();
        let mut resolve = |name: &str| -> Option<String> {
            if let Some((d, grain)) = time_ref(leaf.model, leaf.measure, name) {
                let expr = qualify(&d.expr, "base");
                return Some(grain.map_or(expr.clone(), |g| dates.trunc(g, &expr)));
            }
            if let Some(d) = leaf.model.dimension(name) {
                return Some(qualify(&d.expr, "base"));
            }
            if let Some(key) = local_entity(leaf.model, name) {
                return Some(qualify(key, "base"));
            }
            match reach(self.catalog, leaf.model, name).ok()? {
                Reach::Local(d) => Some(qualify(&d.expr, "base")),
                Reach::Joined {
                    entity,
                    local_expr,
                    model,
                    remote_expr,
                    dim,
                } => {
                    let join_alias = format!("{entity}_{}", model.name);
                    joins.entry(join_alias.clone()).or_insert_with(|| {
                        format!(
                            "left join {} as {join_alias} on {} = {}",
                            relation(&model.model),
                            qualify(&remote_expr, &join_alias),
                            qualify(&local_expr, "base")
                        )
                    });
                    Some(qualify(&dim.expr, &join_alias))
                }
            }
        };
        let mut dims_select = Vec::new();
        for d in &self.dims {
            if let Some(sql) = resolve(d) {
                dims_select.push(format!("{sql} as {}", q(d)));
            }
        }
        let mut filters: Vec<String> = Vec::new();
        for f in self.where_expr.iter().chain(leaf.filter.iter()) {
            let mut names = BTreeSet::new();
            collect_identifiers(f, &mut names);
            let resolved: BTreeMap<String, String> = names
                .into_iter()
                .filter_map(|n| resolve(&n).map(|sql| (n, sql)))
                .collect();
            filters.push(substitute(f, &|n| resolved.get(n).cloned()).to_string());
        }
        let time = time_dimension(leaf).map(|d| qualify(&d.expr, "base"));
        let rel = relation(&leaf.model.model);
        let join_sql: String = joins.values().map(|j| format!("\n    {j}")).collect();
        let dim_keys: Vec<String> = self.dims.iter().map(|d| q(d)).collect();

        if let (Some(c), Some(grain), Some(time)) = (leaf.cumulative, self.grain, &time) {
            // Rows at the time dimension's own grain, then each period's window.
            let tgrain = time_dimension(leaf)
                .and_then(|d| d.time_grain)
                .unwrap_or(Grain::Day);
            let g = q(grain.as_str());
            let mut rows = vec![format!("{} as sl_t", dates.trunc(tgrain, time))];
            rows.extend(dims_select.iter().cloned());
            rows.push(format!("{} as sl_v", qualify(&leaf.measure.expr, "base")));
            let where_sql = if filters.is_empty() {
                String::new()
            } else {
                format!("\n    where {}", filters.join("\n      and "))
            };
            let mut period_filters = Vec::new();
            if let Some(s) = start {
                period_filters.push(format!(
                    "{} >= {}",
                    dates.trunc(grain, "sl_t"),
                    dates.trunc(grain, &dates.literal(s))
                ));
            }
            if let Some(e) = end {
                period_filters.push(format!("sl_t <= {}", dates.literal(e)));
            }
            let periods_where = if period_filters.is_empty() {
                String::new()
            } else {
                format!(" where {}", period_filters.join(" and "))
            };
            let end_excl = if c.period_last {
                dates.add(grain, 1, &format!("p.{g}"))
            } else {
                dates.add(tgrain, 1, &format!("p.{g}"))
            };
            let mut window = vec![format!("r.sl_t < {end_excl}")];
            if let Some((n, wg)) = c.window {
                window.push(format!("r.sl_t >= {}", dates.add(wg, -n, &end_excl)));
            }
            if let Some(gtd) = c.grain_to_date {
                window.push(format!(
                    "r.sl_t >= {}",
                    dates.trunc(gtd, &dates.add(Grain::Day, -1, &end_excl))
                ));
            }
            let mut out = vec![format!("p.{g} as {g}")];
            out.extend(dim_keys.iter().map(|k| format!("r.{k}")));
            let group: Vec<String> = (1..=out.len()).map(|i| i.to_string()).collect();
            return Ok(format!(
                "{alias}_rows as (\n    select {}\n    from {rel} as base{join_sql}{where_sql}\n),\n\
                 {alias}_periods as (\n    select distinct {} as {g} from {alias}_rows{periods_where}\n),\n\
                 {alias} as (\n    select {}, {} as {}\n    from {alias}_periods as p\n    inner join {alias}_rows as r on {}\n    group by {}\n)",
                rows.join(", "),
                dates.trunc(grain, "sl_t"),
                out.join(", "),
                agg_sql(leaf.measure, "r.sl_v", dates.kind)?,
                q("metric_value"),
                window.join(" and "),
                group.join(", "),
            ));
        }

        let mut select = Vec::new();
        let mut keys = Vec::new();
        // Conditions on time only (also where a balance's period ends are found).
        let mut time_filters = Vec::new();
        if let (Some(grain), Some(time)) = (self.grain, &time) {
            select.push(format!(
                "{} as {}",
                dates.trunc(grain, time),
                q(grain.as_str())
            ));
            keys.push(q(grain.as_str()));
            // A row without a time (an opportunity not closed yet) has no period.
            time_filters.push(format!("{time} is not null"));
        }
        select.extend(dims_select);
        keys.extend(dim_keys);
        if let Some(time) = &time {
            if let Some(s) = start {
                time_filters.push(format!("{time} >= {}", dates.literal(s)));
            }
            if let Some(e) = end {
                time_filters.push(format!(
                    "{time} < {}",
                    dates.add(Grain::Day, 1, &dates.literal(e))
                ));
            }
        }
        filters.extend(time_filters.iter().cloned());
        let where_sql = if filters.is_empty() {
            String::new()
        } else {
            format!("\n    where {}", filters.join("\n      and "))
        };
        if let Some(nad) = &leaf.measure.non_additive {
            // A balance: keep only the rows at each period's last (or first) time.
            let nad_expr = leaf
                .model
                .dimension(&nad.dimension)
                .map_or(nad.dimension.clone(), |d| d.expr.clone());
            let pick = if nad.window_max { "max" } else { "min" };
            let period = self.grain.map(|g| q(g.as_str()));
            let mut rows = select.clone();
            rows.push(format!("{} as sl_nad", qualify(&nad_expr, "base")));
            rows.push(format!("{} as sl_v", qualify(&leaf.measure.expr, "base")));
            // A period ends at the model's last time in it, whatever the filters
            // keep: a filtered balance is read at the same instant as a grouped one.
            let (ends_select, ends_group, on) = match (&period, self.grain, &time) {
                (Some(k), Some(grain), Some(time)) => (
                    format!("{} as {k}, ", dates.trunc(grain, time)),
                    " group by 1".to_owned(),
                    format!("e.{k} = r.{k} and r.sl_nad = e.sl_end"),
                ),
                _ => (
                    String::new(),
                    String::new(),
                    "r.sl_nad = e.sl_end".to_owned(),
                ),
            };
            let ends_where = if time_filters.is_empty() {
                String::new()
            } else {
                format!(" where {}", time_filters.join(" and "))
            };
            let out: Vec<String> = keys.iter().map(|k| format!("r.{k}")).collect();
            let (out_select, out_group) = if out.is_empty() {
                (String::new(), String::new())
            } else {
                (
                    format!("{}, ", out.join(", ")),
                    format!("\n    group by {}", out.join(", ")),
                )
            };
            return Ok(format!(
                "{alias}_rows as (\n    select {}\n    from {rel} as base{join_sql}{where_sql}\n),\n\
                 {alias}_ends as (\n    select {ends_select}{pick}({}) as sl_end\n    from {rel} as base{ends_where}{ends_group}\n),\n\
                 {alias} as (\n    select {out_select}{} as {}\n    from {alias}_rows as r\n    inner join {alias}_ends as e on {on}{out_group}\n)",
                rows.join(", "),
                qualify(&nad_expr, "base"),
                agg_sql(leaf.measure, "r.sl_v", dates.kind)?,
                q("metric_value"),
            ));
        }
        select.push(format!(
            "{} as {}",
            agg_sql(
                leaf.measure,
                &qualify(&leaf.measure.expr, "base"),
                dates.kind
            )?,
            q("metric_value")
        ));
        let group_sql = if keys.is_empty() {
            String::new()
        } else {
            let n: Vec<String> = (1..=keys.len()).map(|i| i.to_string()).collect();
            format!("\n    group by {}", n.join(", "))
        };
        Ok(format!(
            "{alias} as (\n    select {}\n    from {rel} as base{join_sql}{where_sql}{group_sql}\n)",
            select.join(", ")
        ))
    }
}
