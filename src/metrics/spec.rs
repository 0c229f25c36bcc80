//! The definitions of the semantic layer, read from YAML in MetricFlow's shape:
//! `semantic_models:` (a model's entities, dimensions and measures), `metrics:`
//! (simple, ratio, derived, cumulative) and `dashboards:` (saved queries).
//!
//! Everything keeps its span, so a bad definition — or a query naming one — is
//! reported at the line that declares it.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::diagnostics::{defined_twice, suggestion_help, Diagnostic, SourceFile, Span};
use crate::project::yaml::{KeySet, Node};

/// Time grains, finest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grain {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Grain {
    pub const ALL: [Grain; 5] = [
        Grain::Day,
        Grain::Week,
        Grain::Month,
        Grain::Quarter,
        Grain::Year,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
            Grain::Year => "year",
        }
    }

    pub fn parse(s: &str) -> Option<Grain> {
        Grain::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// The grains at least as coarse as this one.
    pub fn and_coarser(self) -> Vec<&'static str> {
        Grain::ALL
            .into_iter()
            .filter(|g| *g >= self)
            .map(Grain::as_str)
            .collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntityType {
    Primary,
    Unique,
    Foreign,
    Natural,
}

#[derive(Clone, Debug)]
pub struct Entity {
    pub name: String,
    pub kind: EntityType,
    /// The column (or SQL expression) holding the key.
    pub expr: String,
}

#[derive(Clone, Debug)]
pub struct Dimension {
    pub name: String,
    pub span: Span,
    pub expr: String,
    /// `Some(finest grain)` for a time dimension.
    pub time_grain: Option<Grain>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Agg {
    Sum,
    Count,
    CountDistinct,
    Average,
    Min,
    Max,
    SumBoolean,
    /// `agg: percentile` with its `agg_params`; `agg: median` is the 0.5 one.
    Percentile(Percentile),
}

impl Agg {
    const NAMES: [&'static str; 9] = [
        "sum",
        "count",
        "count_distinct",
        "average",
        "min",
        "max",
        "sum_boolean",
        "median",
        "percentile",
    ];
}

/// A percentile measure, as MetricFlow's `agg_params` define it. Like a distinct
/// count it is never re-aggregated: each period's value comes from its rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percentile {
    /// `percentile:`, strictly between 0 and 1.
    pub fraction: f64,
    /// `use_discrete_percentile:` a value of the rows (PERCENTILE_DISC), not an
    /// interpolation between two of them (PERCENTILE_CONT).
    pub discrete: bool,
    /// `use_approximate_percentile:` the warehouse's sketch (APPROX_QUANTILES…).
    pub approximate: bool,
}

const AGG_PARAM_KEYS: KeySet = KeySet {
    what: "a measure's `agg_params`",
    known: &[
        "percentile",
        "use_discrete_percentile",
        "use_approximate_percentile",
    ],
    ignored: &[],
};

/// The `agg_params` of `agg: median` or `agg: percentile`.
fn percentile(
    agg: &str,
    agg_node: &Node,
    params: Option<&Node>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Percentile, Diagnostic> {
    if let Some(p) = params {
        AGG_PARAM_KEYS.check(p, warnings)?;
    }
    let flag = |key: &str| -> Result<bool, Diagnostic> {
        params
            .and_then(|p| p.get(key))
            .filter(|n| !n.is_null())
            .map_or(Ok(false), |n| n.expect_bool(&format!("`{key}`")))
    };
    let given = match params
        .and_then(|p| p.get("percentile"))
        .filter(|n| !n.is_null())
    {
        None => None,
        Some(n) => Some((
            match n.value {
                crate::project::yaml::Value::Float(f) => f,
                crate::project::yaml::Value::Int(i) => i as f64,
                _ => {
                    return Err(Diagnostic::error(format!(
                        "`percentile` must be a number between 0 and 1, found {}",
                        n.kind_name()
                    ))
                    .with_label(&n.span, "expected a number")
                    .with_help("write e.g. `percentile: 0.9`"))
                }
            },
            n,
        )),
    };
    let fraction = match (agg, given) {
        ("median", None) => 0.5,
        ("median", Some((f, n))) if f != 0.5 => {
            return Err(Diagnostic::error(format!(
                "a median is the 0.5 percentile, but `agg_params` says {f}"
            ))
            .with_label(&n.span, "not 0.5")
            .with_help(format!(
                "write `agg: percentile` with `percentile: {f}`, or drop `percentile:`"
            )))
        }
        (_, Some((f, n))) => {
            if !(f > 0.0 && f < 1.0) {
                return Err(Diagnostic::error(format!(
                    "`percentile` must be strictly between 0 and 1, found {f}"
                ))
                .with_label(&n.span, "out of range")
                .with_help("write the fraction, e.g. `percentile: 0.95` for the 95th percentile"));
            }
            f
        }
        (_, None) => {
            return Err(
                Diagnostic::error("`agg: percentile` needs `agg_params.percentile`")
                    .with_label(&agg_node.span, "which percentile?")
                    .with_help("add `agg_params: {percentile: 0.9}` (a fraction between 0 and 1)"),
            )
        }
    };
    Ok(Percentile {
        fraction,
        discrete: flag("use_discrete_percentile")?,
        approximate: flag("use_approximate_percentile")?,
    })
}

/// A measure whose value is a balance at a point in time (MRR, open pipeline):
/// it is never summed over `dimension`; each period takes the rows at the
/// period's last (or first) time.
#[derive(Clone, Debug)]
pub struct NonAdditive {
    pub dimension: String,
    pub window_max: bool,
}

#[derive(Clone, Debug)]
pub struct Measure {
    pub name: String,
    pub span: Span,
    pub agg: Agg,
    pub expr: String,
    pub agg_time_dimension: Option<String>,
    pub non_additive: Option<NonAdditive>,
    /// `create_metric: true`: a simple metric of the same name exists.
    pub create_metric: bool,
}

#[derive(Clone, Debug)]
pub struct SemanticModel {
    pub name: String,
    pub span: Span,
    /// The dbt model it reads (`ref('x')` → `x`).
    pub model: String,
    pub description: String,
    pub default_time: Option<String>,
    pub entities: Vec<Entity>,
    pub dimensions: Vec<Dimension>,
    pub measures: Vec<Measure>,
}

impl SemanticModel {
    pub fn primary_entity(&self) -> Option<&Entity> {
        self.entities.iter().find(|e| {
            matches!(
                e.kind,
                EntityType::Primary | EntityType::Unique | EntityType::Natural
            )
        })
    }

    pub fn dimension(&self, name: &str) -> Option<&Dimension> {
        self.dimensions.iter().find(|d| d.name == name)
    }
}

/// A time shift of a metric inside a derived metric: each period takes the
/// value of the period `n grain`s before it (`offset_window: 1 month`), or of
/// the start of its `grain` (`offset_to_grain: month`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offset {
    Window(i64, Grain),
    ToGrain(Grain),
}

/// A metric a ratio or derived metric is built from, as MetricFlow writes it:
/// a name, or `{name, alias, filter, offset_window, offset_to_grain}`.
#[derive(Clone, Debug)]
pub struct MetricInput {
    pub name: String,
    /// The name a derived metric's `expr` calls it by (default: `name`).
    pub alias: Option<String>,
    /// A condition on this input only, in sluice's SQL (templates resolved).
    pub filter: Option<String>,
    pub offset: Option<Offset>,
}

impl MetricInput {
    fn named(name: String) -> MetricInput {
        MetricInput {
            name,
            alias: None,
            filter: None,
            offset: None,
        }
    }

    /// The name `expr` uses.
    pub fn expr_name(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// What a metric computes.
#[derive(Clone, Debug)]
pub enum MetricKind {
    Simple {
        measure: String,
    },
    /// Σ numerator / Σ denominator at the requested grain (both metrics).
    Ratio {
        numerator: MetricInput,
        denominator: MetricInput,
    },
    /// An expression over other metrics.
    Derived {
        expr: String,
        metrics: Vec<MetricInput>,
    },
    /// The measure over a trailing window (or since the start of a grain) ending
    /// at each period.
    Cumulative {
        measure: String,
        window: Option<(i64, Grain)>,
        grain_to_date: Option<Grain>,
        period_last: bool,
    },
    /// A metric type MetricFlow has and sluice does not compute (`conversion`):
    /// loaded with a warning, an error when queried.
    Unsupported {
        type_name: String,
    },
}

impl MetricKind {
    pub fn type_name(&self) -> &str {
        match self {
            MetricKind::Simple { .. } => "simple",
            MetricKind::Ratio { .. } => "ratio",
            MetricKind::Derived { .. } => "derived",
            MetricKind::Cumulative { .. } => "cumulative",
            MetricKind::Unsupported { type_name } => type_name,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Metric {
    pub name: String,
    pub span: Span,
    pub label: String,
    pub description: String,
    pub kind: MetricKind,
    /// The dimensions a query may group or filter this metric by (`None`: every
    /// dimension reachable from its measures).
    pub dimensions: Option<Vec<String>>,
    /// A SQL condition applied to the metric's rows (`filter:`).
    pub filter: Option<String>,
    /// `meta: {domain: sales}`, for `metrics list --domain`.
    pub domain: Option<String>,
    /// `fill_nulls_with:` of the measure: the value of a period without rows.
    pub fill_nulls_with: Option<String>,
}

/// A saved query of a dashboard.
#[derive(Clone, Debug)]
pub struct SavedQuery {
    pub name: String,
    pub span: Span,
    pub metrics: Vec<String>,
    pub group_by: Vec<String>,
    pub grain: Option<String>,
    pub where_sql: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub order: Vec<String>,
    pub limit: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Dashboard {
    pub name: String,
    pub description: String,
    pub queries: Vec<SavedQuery>,
}

/// Every definition of a project.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub models: Vec<SemanticModel>,
    pub metrics: BTreeMap<String, Metric>,
    pub dashboards: Vec<Dashboard>,
}

const MODEL_KEYS: KeySet = KeySet {
    what: "a semantic model",
    known: &[
        "name",
        "description",
        "model",
        "defaults",
        "entities",
        "dimensions",
        "measures",
        "label",
        "meta",
        "config",
    ],
    ignored: &["primary_entity", "node_relation"],
};

const ENTITY_KEYS: KeySet = KeySet {
    what: "an entity",
    known: &[
        "name",
        "type",
        "expr",
        "description",
        "label",
        "config",
        "meta",
    ],
    ignored: &["role"],
};

const DIMENSION_KEYS: KeySet = KeySet {
    what: "a dimension",
    known: &[
        "name",
        "type",
        "type_params",
        "expr",
        "description",
        "label",
        "config",
        "meta",
    ],
    ignored: &["is_partition"],
};

const DIMENSION_PARAM_KEYS: KeySet = KeySet {
    what: "a dimension's `type_params`",
    known: &["time_granularity"],
    ignored: &["validity_params"],
};

const MEASURE_KEYS: KeySet = KeySet {
    what: "a measure",
    known: &[
        "name",
        "agg",
        "expr",
        "description",
        "label",
        "agg_params",
        "agg_time_dimension",
        "non_additive_dimension",
        "create_metric",
        "config",
        "meta",
    ],
    ignored: &[],
};

const NON_ADDITIVE_KEYS: KeySet = KeySet {
    what: "a `non_additive_dimension`",
    known: &["name", "window_choice"],
    ignored: &["window_groupings"],
};

const METRIC_KEYS: KeySet = KeySet {
    what: "a metric",
    known: &[
        "name",
        "description",
        "label",
        "type",
        "type_params",
        "dimensions",
        "filter",
        "meta",
        "config",
    ],
    ignored: &["time_granularity"],
};

const DASHBOARD_KEYS: KeySet = KeySet {
    what: "a dashboard",
    known: &["name", "description", "queries"],
    ignored: &[],
};

const QUERY_KEYS: KeySet = KeySet {
    what: "a saved query",
    known: &[
        "name", "metrics", "group_by", "grain", "where", "start", "end", "order", "limit",
    ],
    ignored: &[],
};

fn text(map: &Node, key: &str) -> Result<Option<String>, Diagnostic> {
    map.get(key)
        .filter(|n| !n.is_null())
        .map(|n| n.expect_scalar_text(&format!("`{key}`")))
        .transpose()
}

fn required<'a>(
    map: &'a Node,
    key: &str,
    what: &str,
    example: &str,
) -> Result<&'a Node, Diagnostic> {
    map.get(key).filter(|n| !n.is_null()).ok_or_else(|| {
        Diagnostic::error(format!("{what} has no `{key}`"))
            .with_label(&map.span, format!("this {what}"))
            .with_help(format!("add e.g. `{key}: {example}`"))
    })
}

fn name_of(map: &Node, what: &str) -> Result<(String, Span), Diagnostic> {
    let n = required(map, "name", what, "my_name")?;
    Ok((n.expect_str("`name`")?.to_owned(), n.span.clone()))
}

fn str_list(map: &Node, key: &str) -> Result<Vec<String>, Diagnostic> {
    match map.get(key).filter(|n| !n.is_null()) {
        None => Ok(Vec::new()),
        Some(n) if n.as_str().is_some() => Ok(n
            .as_str()
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()),
        Some(n) => n.expect_str_list(&format!("`{key}`")),
    }
}

/// `ref('fct_mrr')` → `fct_mrr`.
fn ref_name(node: &Node) -> Result<String, Diagnostic> {
    let raw = node.expect_str("`model`")?.trim();
    let inner = raw
        .strip_prefix("ref(")
        .and_then(|r| r.strip_suffix(')'))
        .map(|r| r.trim().trim_matches(|c| c == '\'' || c == '"'));
    match inner {
        Some(name) if !name.is_empty() => Ok(name.to_owned()),
        _ if !raw.contains(['(', ' ']) && !raw.is_empty() => Ok(raw.to_owned()),
        _ => Err(
            Diagnostic::error(format!("`model` must be ref('<model>'), found `{raw}`"))
                .with_label(&node.span, "expected ref('model_name')")
                .with_help("write `model: ref('fct_mrr')`"),
        ),
    }
}

fn grain_of(node: &Node, what: &str) -> Result<Grain, Diagnostic> {
    let s = node.expect_str(what)?;
    Grain::parse(s).ok_or_else(|| {
        let names = Grain::ALL.map(Grain::as_str);
        Diagnostic::error(format!("unknown grain `{s}`"))
            .with_label(&node.span, "not a grain")
            .with_help(suggestion_help(s, names, || {
                format!("grains are: {}", names.join(", "))
            }))
    })
}

fn semantic_model(
    entry: &Node,
    warnings: &mut Vec<Diagnostic>,
) -> Result<SemanticModel, Diagnostic> {
    let entry = entry.expect_map("a semantic model")?;
    MODEL_KEYS.check(entry, warnings)?;
    let (name, span) = name_of(entry, "semantic model")?;
    let model = ref_name(required(
        entry,
        "model",
        "semantic model",
        "ref('fct_mrr')",
    )?)?;
    let default_time = match entry.get("defaults") {
        Some(d) => text(d.expect_map("`defaults`")?, "agg_time_dimension")?,
        None => None,
    };
    let mut entities = Vec::new();
    for e in entry
        .get("entities")
        .map(|n| n.expect_seq("`entities`"))
        .transpose()?
        .unwrap_or_default()
    {
        let e = e.expect_map("an entity")?;
        ENTITY_KEYS.check(e, warnings)?;
        let (ename, _) = name_of(e, "entity")?;
        let kind_node = required(e, "type", "entity", "foreign")?;
        let kind = match kind_node.expect_str("`type`")? {
            "primary" => EntityType::Primary,
            "unique" => EntityType::Unique,
            "foreign" => EntityType::Foreign,
            "natural" => EntityType::Natural,
            other => {
                let names = ["primary", "unique", "foreign", "natural"];
                return Err(Diagnostic::error(format!("unknown entity type `{other}`"))
                    .with_label(&kind_node.span, "entity type")
                    .with_help(suggestion_help(other, names, || {
                        "entity types are primary, unique, foreign, natural".into()
                    })));
            }
        };
        let expr = text(e, "expr")?.unwrap_or_else(|| ename.clone());
        entities.push(Entity {
            name: ename,
            kind,
            expr,
        });
    }
    let mut dimensions = Vec::new();
    for d in entry
        .get("dimensions")
        .map(|n| n.expect_seq("`dimensions`"))
        .transpose()?
        .unwrap_or_default()
    {
        let d = d.expect_map("a dimension")?;
        DIMENSION_KEYS.check(d, warnings)?;
        if let Some(p) = d.get("type_params").filter(|n| !n.is_null()) {
            DIMENSION_PARAM_KEYS.check(p.expect_map("`type_params`")?, warnings)?;
        }
        let (dname, dspan) = name_of(d, "dimension")?;
        let type_node = required(d, "type", "dimension", "categorical")?;
        let time_grain = match type_node.expect_str("`type`")? {
            "categorical" => None,
            "time" => Some(
                match d.get("type_params").and_then(|p| p.get("time_granularity")) {
                    Some(g) => grain_of(g, "`time_granularity`")?,
                    None => Grain::Day,
                },
            ),
            other => {
                return Err(
                    Diagnostic::error(format!("unknown dimension type `{other}`"))
                        .with_label(&type_node.span, "dimension type")
                        .with_help("dimension types are categorical and time"),
                )
            }
        };
        let expr = text(d, "expr")?.unwrap_or_else(|| dname.clone());
        dimensions.push(Dimension {
            name: dname,
            span: dspan,
            expr,
            time_grain,
        });
    }
    let mut measures = Vec::new();
    for m in entry
        .get("measures")
        .map(|n| n.expect_seq("`measures`"))
        .transpose()?
        .unwrap_or_default()
    {
        let m = m.expect_map("a measure")?;
        MEASURE_KEYS.check(m, warnings)?;
        let (mname, mspan) = name_of(m, "measure")?;
        let agg_node = required(m, "agg", "measure", "sum")?;
        let agg_name = agg_node.expect_str("`agg`")?;
        let agg_params = m
            .get("agg_params")
            .filter(|n| !n.is_null())
            .map(|n| n.expect_map("`agg_params`"))
            .transpose()?;
        let agg = match agg_name {
            "median" | "percentile" => {
                Agg::Percentile(percentile(agg_name, agg_node, agg_params, warnings)?)
            }
            "sum" => Agg::Sum,
            "count" => Agg::Count,
            "count_distinct" => Agg::CountDistinct,
            "average" | "avg" => Agg::Average,
            "min" => Agg::Min,
            "max" => Agg::Max,
            "sum_boolean" => Agg::SumBoolean,
            other => {
                return Err(Diagnostic::error(format!("unknown aggregation `{other}`"))
                    .with_label(&agg_node.span, "agg")
                    .with_help(suggestion_help(other, Agg::NAMES, || {
                        format!("aggregations are: {}", Agg::NAMES.join(", "))
                    })))
            }
        };
        if let (Some(p), false) = (agg_params, matches!(agg, Agg::Percentile(_))) {
            warnings.push(
                Diagnostic::warning(format!(
                    "`agg_params` of measure `{mname}` is ignored: it only applies to `agg: percentile` and `agg: median`"
                ))
                .with_event(crate::diagnostics::event::UNSUPPORTED_KEY)
                .with_label(&p.span, "ignored"),
            );
        }
        let non_additive = match m.get("non_additive_dimension").filter(|n| !n.is_null()) {
            Some(n) => {
                let n = n.expect_map("`non_additive_dimension`")?;
                NON_ADDITIVE_KEYS.check(n, warnings)?;
                let (dim, _) = name_of(n, "non_additive_dimension")?;
                let window_max = !matches!(text(n, "window_choice")?.as_deref(), Some("min"));
                Some(NonAdditive {
                    dimension: dim,
                    window_max,
                })
            }
            None => None,
        };
        measures.push(Measure {
            expr: text(m, "expr")?.unwrap_or_else(|| mname.clone()),
            name: mname,
            span: mspan,
            agg,
            agg_time_dimension: text(m, "agg_time_dimension")?,
            non_additive,
            create_metric: m
                .get("create_metric")
                .filter(|n| !n.is_null())
                .map(|n| n.expect_bool("`create_metric`"))
                .transpose()?
                .unwrap_or(false),
        });
    }
    Ok(SemanticModel {
        name,
        span,
        model,
        description: text(entry, "description")?.unwrap_or_default(),
        default_time,
        entities,
        dimensions,
        measures,
    })
}

/// `12 months` → (12, month).
fn window(node: &Node) -> Result<(i64, Grain), Diagnostic> {
    let raw = node.expect_scalar_text("`window`")?;
    let mut parts = raw.split_whitespace();
    let count = parts.next().and_then(|n| n.parse::<i64>().ok());
    let grain = parts
        .next()
        .map(|g| g.trim_end_matches('s'))
        .and_then(Grain::parse);
    match (count, grain) {
        (Some(c), Some(g)) if c > 0 => Ok((c, g)),
        _ => Err(Diagnostic::error(format!("invalid window `{raw}`"))
            .with_label(&node.span, "expected a count and a grain")
            .with_help("write e.g. `window: 12 months` or `window: 7 days`")),
    }
}

const MEASURE_INPUT_KEYS: KeySet = KeySet {
    what: "a metric's `measure`",
    known: &["name", "filter", "alias", "fill_nulls_with"],
    ignored: &["join_to_timespine"],
};

const METRIC_INPUT_KEYS: KeySet = KeySet {
    what: "a metric input",
    known: &[
        "name",
        "alias",
        "filter",
        "offset_window",
        "offset_to_grain",
    ],
    ignored: &[],
};

const CUMULATIVE_KEYS: KeySet = KeySet {
    what: "`cumulative_type_params`",
    known: &["window", "grain_to_date", "period_agg"],
    ignored: &[],
};

/// A `filter:` — one condition or a list of them (all must hold) — in sluice's
/// SQL: MetricFlow's `{{ Dimension('entity__dim') }}` templates become the
/// dimension names sluice's filters use.
fn filter_of(map: &Node, key: &str) -> Result<Option<String>, Diagnostic> {
    let Some(node) = map.get(key).filter(|n| !n.is_null()) else {
        return Ok(None);
    };
    let parts: Vec<&Node> = match &node.value {
        crate::project::yaml::Value::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    let mut conditions = Vec::new();
    for part in parts {
        let text = part.expect_str("`filter`")?;
        conditions.push(super::filter::from_metricflow(text, &part.span)?);
    }
    Ok(match conditions.len() {
        0 => None,
        1 => conditions.pop(),
        _ => Some(
            conditions
                .iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(" and "),
        ),
    })
}

/// Two conditions that must both hold.
pub(crate) fn both(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("({a}) and ({b})")),
        (a, b) => a.or(b),
    }
}

/// A ratio's or derived metric's input: `name` or a mapping.
fn metric_input(
    node: &Node,
    what: &str,
    warnings: &mut Vec<Diagnostic>,
) -> Result<MetricInput, Diagnostic> {
    if node.get("name").is_none() {
        return Ok(MetricInput::named(node.expect_scalar_text(what)?));
    }
    let map = node.expect_map(what)?;
    METRIC_INPUT_KEYS.check(map, warnings)?;
    let (name, _) = name_of(map, "metric input")?;
    let window = map
        .get("offset_window")
        .filter(|n| !n.is_null())
        .map(window)
        .transpose()?;
    let to_grain = map
        .get("offset_to_grain")
        .filter(|n| !n.is_null())
        .map(|g| grain_of(g, "`offset_to_grain`"))
        .transpose()?;
    let offset = match (window, to_grain) {
        (Some((n, g)), None) => Some(Offset::Window(n, g)),
        (None, Some(g)) => Some(Offset::ToGrain(g)),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(Diagnostic::error(format!(
                "metric input `{name}` has both `offset_window` and `offset_to_grain`"
            ))
            .with_label(&map.span, "this input")
            .with_help("keep one of them"))
        }
    };
    Ok(MetricInput {
        alias: text(map, "alias")?,
        filter: filter_of(map, "filter")?,
        name,
        offset,
    })
}

/// A simple or cumulative metric's `measure`: a name, or `{name, filter, alias,
/// fill_nulls_with, join_to_timespine}`.
fn measure_input(
    node: &Node,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(String, Option<String>, Option<String>), Diagnostic> {
    if node.get("name").is_none() {
        return Ok((node.expect_scalar_text("`measure`")?, None, None));
    }
    let map = node.expect_map("`measure`")?;
    MEASURE_INPUT_KEYS.check(map, warnings)?;
    let (name, _) = name_of(map, "measure")?;
    let fill = match map.get("fill_nulls_with").filter(|n| !n.is_null()) {
        None => None,
        Some(n) => match n.value {
            crate::project::yaml::Value::Int(i) => Some(i.to_string()),
            crate::project::yaml::Value::Float(f) => Some(f.to_string()),
            _ => {
                return Err(Diagnostic::error(format!(
                    "`fill_nulls_with` must be a number, found {}",
                    n.kind_name()
                ))
                .with_label(&n.span, "expected a number")
                .with_help("write e.g. `fill_nulls_with: 0`"))
            }
        },
    };
    Ok((name, filter_of(map, "filter")?, fill))
}

fn metric(entry: &Node, warnings: &mut Vec<Diagnostic>) -> Result<Metric, Diagnostic> {
    let entry = entry.expect_map("a metric")?;
    METRIC_KEYS.check(entry, warnings)?;
    let (name, span) = name_of(entry, "metric")?;
    let type_node = required(entry, "type", "metric", "simple")?;
    let params = entry.get("type_params").filter(|n| !n.is_null());
    let param = |key: &str, example: &str| -> Result<&Node, Diagnostic> {
        let p = params.ok_or_else(|| {
            Diagnostic::error(format!("metric `{name}` has no `type_params`"))
                .with_label(&span, "this metric")
                .with_help(format!("add `type_params: {{{key}: {example}}}`"))
        })?;
        required(p, key, "metric's type_params", example)
    };
    let mut filter = filter_of(entry, "filter")?;
    let mut fill_nulls_with = None;
    let kind = match type_node.expect_str("`type`")? {
        "simple" => {
            let (measure, measure_filter, fill) =
                measure_input(param("measure", "mrr")?, warnings)?;
            filter = both(filter, measure_filter);
            fill_nulls_with = fill;
            MetricKind::Simple { measure }
        }
        "ratio" => MetricKind::Ratio {
            numerator: metric_input(param("numerator", "won_deals")?, "`numerator`", warnings)?,
            denominator: metric_input(
                param("denominator", "closed_deals")?,
                "`denominator`",
                warnings,
            )?,
        },
        "derived" => {
            let expr = param("expr", "ltv / cac")?.expect_scalar_text("`expr`")?;
            let metrics = match params
                .and_then(|p| p.get("metrics"))
                .filter(|n| !n.is_null())
            {
                None => Vec::new(),
                // `metrics: a, b` (sluice's own shorthand).
                Some(n) if n.as_str().is_some() => n
                    .as_str()
                    .unwrap_or_default()
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .map(MetricInput::named)
                    .collect(),
                Some(n) => n
                    .expect_seq("`metrics`")?
                    .iter()
                    .map(|m| metric_input(m, "a metric of `metrics`", warnings))
                    .collect::<Result<_, _>>()?,
            };
            MetricKind::Derived { expr, metrics }
        }
        "cumulative" => {
            let p = params.ok_or_else(|| {
                Diagnostic::error(format!("metric `{name}` has no `type_params`"))
                    .with_label(&span, "this metric")
                    .with_help("add `type_params: {measure: revenue, window: 12 months}`")
            })?;
            // MetricFlow ≥ 1.9 nests the window under `cumulative_type_params`.
            let nested = p.get("cumulative_type_params").filter(|n| !n.is_null());
            if let Some(n) = nested {
                CUMULATIVE_KEYS.check(n.expect_map("`cumulative_type_params`")?, warnings)?;
            }
            let get = |key: &str| {
                nested
                    .and_then(|n| n.get(key))
                    .or_else(|| p.get(key))
                    .filter(|n| !n.is_null())
            };
            let window = get("window").map(window).transpose()?;
            let grain_to_date = get("grain_to_date")
                .map(|g| grain_of(g, "`grain_to_date`"))
                .transpose()?;
            let period_last = match get("period_agg") {
                None => true,
                Some(n) => match n.expect_str("`period_agg`")? {
                    "last" => true,
                    "first" => false,
                    other => {
                        return Err(Diagnostic::error(format!("unsupported period_agg `{other}`"))
                            .with_label(&n.span, "period_agg")
                            .with_help("use `last` (the window ending at each period's end) or `first` (ending at its start)"))
                    }
                },
            };
            let (measure, measure_filter, fill) =
                measure_input(param("measure", "revenue")?, warnings)?;
            filter = both(filter, measure_filter);
            fill_nulls_with = fill;
            MetricKind::Cumulative {
                measure,
                window,
                grain_to_date,
                period_last,
            }
        }
        "conversion" => {
            warnings.push(
                Diagnostic::warning(format!(
                    "metric `{name}` is a conversion metric, which sluice's semantic layer does not compute; \
                     it is listed but querying it is an error"
                ))
                .with_event(crate::diagnostics::event::UNSUPPORTED_KEY)
                .with_label(&type_node.span, "conversion"),
            );
            MetricKind::Unsupported {
                type_name: "conversion".to_owned(),
            }
        }
        other => {
            let names = ["simple", "ratio", "derived", "cumulative", "conversion"];
            return Err(Diagnostic::error(format!("unknown metric type `{other}`"))
                .with_label(&type_node.span, "metric type")
                .with_help(suggestion_help(other, names, || {
                    "metric types are simple, ratio, derived, cumulative".into()
                })));
        }
    };
    let dimensions = entry
        .get("dimensions")
        .filter(|n| !n.is_null())
        .map(|n| n.expect_str_list("`dimensions`"))
        .transpose()?;
    // `meta:` at the top or, as dbt ≥ 1.10 writes it, under `config:`.
    let domain = entry
        .get("meta")
        .or_else(|| entry.get("config").and_then(|c| c.get("meta")))
        .and_then(|m| text(m, "domain").ok().flatten());
    Ok(Metric {
        label: text(entry, "label")?.unwrap_or_else(|| name.clone()),
        description: text(entry, "description")?.unwrap_or_default(),
        filter,
        name,
        span,
        kind,
        dimensions,
        domain,
        fill_nulls_with,
    })
}

fn dashboard(entry: &Node, warnings: &mut Vec<Diagnostic>) -> Result<Dashboard, Diagnostic> {
    let entry = entry.expect_map("a dashboard")?;
    DASHBOARD_KEYS.check(entry, warnings)?;
    let (name, span) = name_of(entry, "dashboard")?;
    // `metrics export` writes `<name>.json`.
    crate::project::properties::check_node_name(&name, &span, "dashboard")?;
    let mut queries = Vec::new();
    for q in required(entry, "queries", "dashboard", "[{name: q, metrics: [mrr]}]")?
        .expect_seq("`queries`")?
    {
        let q = q.expect_map("a saved query")?;
        QUERY_KEYS.check(q, warnings)?;
        let (qname, qspan) = name_of(q, "saved query")?;
        queries.push(SavedQuery {
            name: qname,
            span: qspan,
            metrics: str_list(q, "metrics")?,
            group_by: str_list(q, "group_by")?,
            grain: text(q, "grain")?,
            where_sql: text(q, "where")?,
            start: text(q, "start")?,
            end: text(q, "end")?,
            order: str_list(q, "order")?,
            limit: q
                .get("limit")
                .map(|n| n.expect_int("`limit`"))
                .transpose()?
                .map(|n| n.max(0) as u64),
        });
    }
    Ok(Dashboard {
        name,
        description: text(entry, "description")?.unwrap_or_default(),
        queries,
    })
}

impl Catalog {
    /// Add the semantic definitions of one YAML document.
    pub fn add_document(
        &mut self,
        _file: &Arc<SourceFile>,
        doc: &Node,
        warnings: &mut Vec<Diagnostic>,
    ) -> Result<(), Diagnostic> {
        if let Some(list) = doc.get("semantic_models").filter(|n| !n.is_null()) {
            for entry in list.expect_seq("`semantic_models`")? {
                let m = semantic_model(entry, warnings)?;
                if let Some(prev) = self.models.iter().find(|x| x.name == m.name) {
                    return Err(defined_twice(
                        "semantic model",
                        &m.name,
                        &m.span,
                        &prev.span,
                    ));
                }
                for x in m.measures.iter().filter(|x| x.create_metric) {
                    let metric = Metric {
                        name: x.name.clone(),
                        span: x.span.clone(),
                        label: x.name.clone(),
                        description: String::new(),
                        kind: MetricKind::Simple {
                            measure: x.name.clone(),
                        },
                        dimensions: None,
                        filter: None,
                        domain: None,
                        fill_nulls_with: None,
                    };
                    if let Some(prev) = self.metrics.get(&metric.name) {
                        return Err(defined_twice(
                            "metric",
                            &metric.name,
                            &metric.span,
                            &prev.span,
                        ));
                    }
                    self.metrics.insert(metric.name.clone(), metric);
                }
                self.models.push(m);
            }
        }
        if let Some(list) = doc.get("metrics").filter(|n| !n.is_null()) {
            for entry in list.expect_seq("`metrics`")? {
                let m = metric(entry, warnings)?;
                if let Some(prev) = self.metrics.get(&m.name) {
                    return Err(defined_twice("metric", &m.name, &m.span, &prev.span));
                }
                self.metrics.insert(m.name.clone(), m);
            }
        }
        if let Some(list) = doc.get("dashboards").filter(|n| !n.is_null()) {
            for entry in list.expect_seq("`dashboards`")? {
                self.dashboards.push(dashboard(entry, warnings)?);
            }
        }
        Ok(())
    }

    /// The measure `name` and the semantic model that defines it.
    pub fn measure(&self, name: &str) -> Option<(&SemanticModel, &Measure)> {
        self.models
            .iter()
            .find_map(|m| m.measures.iter().find(|x| x.name == name).map(|x| (m, x)))
    }
}
