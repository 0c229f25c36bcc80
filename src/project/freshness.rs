//! Source freshness as dbt declares it in a properties file: `freshness:`
//! (`warn_after`/`error_after` thresholds, a `filter`), `loaded_at_field` and
//! `loaded_at_query`, at the source level and per table, at the top level or under
//! `config:` (dbt 1.10's spelling, which wins). A table's `freshness:` is merged
//! over its source's, and `freshness: null` turns it off, as in dbt.

use serde_json::{json, Value as Json};

use super::yaml::Node;
use crate::diagnostics::{Diagnostic, Span};

/// A time unit of a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Minute,
    Hour,
    Day,
}

impl Period {
    fn parse(node: &Node) -> Result<Period, Diagnostic> {
        match node.expect_str("`period`")? {
            "minute" => Ok(Period::Minute),
            "hour" => Ok(Period::Hour),
            "day" => Ok(Period::Day),
            other => Err(
                Diagnostic::error(format!("`period: {other}` is not a freshness period"))
                    .with_label(&node.span, "here")
                    .with_help("use `minute`, `hour` or `day`"),
            ),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Minute => "minute",
            Period::Hour => "hour",
            Period::Day => "day",
        }
    }

    fn seconds(self) -> f64 {
        match self {
            Period::Minute => 60.0,
            Period::Hour => 3_600.0,
            Period::Day => 86_400.0,
        }
    }
}

/// `warn_after: {count: 12, period: hour}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    pub count: i64,
    pub period: Period,
}

impl Threshold {
    /// The threshold in seconds.
    pub fn seconds(self) -> f64 {
        self.count as f64 * self.period.seconds()
    }

    fn to_json(self) -> Json {
        json!({"count": self.count, "period": self.period.as_str()})
    }
}

/// One table's freshness rule, after merging.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Freshness {
    pub warn_after: Option<Threshold>,
    pub error_after: Option<Threshold>,
    pub filter: Option<String>,
}

impl Freshness {
    /// dbt's `criteria` object (sources.json) and manifest `freshness`.
    pub fn to_json(&self) -> Json {
        let threshold = |t: Option<Threshold>| {
            t.map_or(json!({"count": null, "period": null}), Threshold::to_json)
        };
        json!({
            "warn_after": threshold(self.warn_after),
            "error_after": threshold(self.error_after),
            "filter": self.filter,
        })
    }

    /// Whether the rule checks anything (dbt skips a table whose rule has no
    /// threshold).
    pub fn is_active(&self) -> bool {
        self.warn_after.is_some() || self.error_after.is_some()
    }
}

/// What one level (a source, or one table) declares; `None` where it is silent.
#[derive(Clone, Debug, Default)]
pub struct Declared {
    /// `Some(None)`: `freshness: null`, which turns freshness off below.
    freshness: Option<Option<PartialFreshness>>,
    loaded_at_field: Option<Option<String>>,
    loaded_at_query: Option<Option<String>>,
}

/// A `freshness:` mapping; keys it does not set come from the level above.
#[derive(Clone, Debug, Default)]
struct PartialFreshness {
    warn_after: Option<Option<Threshold>>,
    error_after: Option<Option<Threshold>>,
    filter: Option<Option<String>>,
}

fn threshold(node: &Node) -> Result<Option<Threshold>, Diagnostic> {
    if node.is_null() {
        return Ok(None);
    }
    let map = node.expect_map("a freshness threshold")?;
    let count = map.get("count");
    let period = map.get("period");
    match (count, period) {
        (None, None) => Ok(None),
        (Some(c), Some(p)) if c.is_null() && p.is_null() => Ok(None),
        (Some(c), Some(p)) => {
            let count = c.expect_int("`count`")?;
            if count < 0 {
                return Err(Diagnostic::error("a freshness `count` cannot be negative")
                    .with_label(&c.span, "here")
                    .with_help("write a whole number of periods: `count: 12`"));
            }
            Ok(Some(Threshold {
                count,
                period: Period::parse(p)?,
            }))
        }
        _ => Err(
            Diagnostic::error("a freshness threshold needs both `count` and `period`")
                .with_label(&node.span, "this threshold")
                .with_help("write `warn_after: {count: 12, period: hour}`"),
        ),
    }
}

fn partial(node: &Node) -> Result<Option<PartialFreshness>, Diagnostic> {
    if node.is_null() {
        return Ok(None);
    }
    let map = node.expect_map("`freshness`")?;
    let mut out = PartialFreshness::default();
    for (key, key_node, value) in map.entries() {
        match key {
            "warn_after" => out.warn_after = Some(threshold(value)?),
            "error_after" => out.error_after = Some(threshold(value)?),
            "filter" => {
                out.filter = Some(if value.is_null() {
                    None
                } else {
                    Some(value.expect_str("`filter`")?.to_owned())
                })
            }
            other => {
                return Err(
                    Diagnostic::error(format!("`{other}` is not a freshness key"))
                        .with_label(&key_node.span, "here")
                        .with_help("freshness takes `warn_after`, `error_after` and `filter`"),
                )
            }
        }
    }
    Ok(Some(out))
}

fn optional_str(node: &Node, what: &str) -> Result<Option<String>, Diagnostic> {
    if node.is_null() {
        return Ok(None);
    }
    Ok(Some(node.expect_str(what)?.to_owned()))
}

impl Declared {
    /// Read one level: `entry` is a source or a source table mapping. `level`
    /// names it in errors ("source", "table").
    pub fn read(entry: &Node, level: &str) -> Result<Declared, Diagnostic> {
        let config = entry.get("config").filter(|n| !n.is_null());
        // `config:` wins over the top-level key, as in dbt 1.10+.
        let pick = |key: &str| config.and_then(|c| c.get(key)).or_else(|| entry.get(key));
        let mut out = Declared::default();
        if let Some(n) = pick("freshness") {
            out.freshness = Some(partial(n)?);
        }
        if let Some(n) = pick("loaded_at_field") {
            out.loaded_at_field = Some(optional_str(n, "`loaded_at_field`")?);
        }
        if let Some(n) = pick("loaded_at_query") {
            out.loaded_at_query = Some(optional_str(n, "`loaded_at_query`")?);
        }
        if let (Some(Some(_)), Some(Some(_))) = (&out.loaded_at_field, &out.loaded_at_query) {
            let span =
                pick("loaded_at_query").map_or_else(|| entry.span.clone(), |n| n.span.clone());
            return Err(Diagnostic::error(format!(
                "Cannot specify both loaded_at_field and loaded_at_query at {level} level."
            ))
            .with_label(&span, "loaded_at_query here")
            .with_help(
                "keep one: a column whose max is the load time, or a query that returns it",
            ));
        }
        Ok(out)
    }
}

/// What freshness check a source table gets: its merged rule and how to find
/// its load time.
#[derive(Clone, Debug, Default)]
pub struct TableFreshness {
    pub freshness: Option<Freshness>,
    pub loaded_at_field: Option<String>,
    pub loaded_at_query: Option<String>,
    /// Where the table is declared (for errors at run time).
    pub span: Option<Span>,
}

impl TableFreshness {
    /// The table's rule: its own declarations over its source's.
    pub fn merge(source: &Declared, table: &Declared, span: &Span) -> TableFreshness {
        let freshness = match (&source.freshness, &table.freshness) {
            (_, Some(None)) | (Some(None), None) | (None, None) => None,
            (None | Some(None), Some(Some(t))) => Some(resolve(&PartialFreshness::default(), t)),
            (Some(Some(s)), None) => Some(resolve(s, &PartialFreshness::default())),
            (Some(Some(s)), Some(Some(t))) => Some(resolve(s, t)),
        };
        // A table that names one way of finding its load time drops the other
        // way its source named.
        let (field, query) = match (&table.loaded_at_field, &table.loaded_at_query) {
            (Some(Some(f)), _) => (Some(f.clone()), None),
            (_, Some(Some(q))) => (None, Some(q.clone())),
            (t_field, t_query) => (
                t_field
                    .clone()
                    .unwrap_or_else(|| source.loaded_at_field.clone().flatten()),
                t_query
                    .clone()
                    .unwrap_or_else(|| source.loaded_at_query.clone().flatten()),
            ),
        };
        TableFreshness {
            freshness,
            loaded_at_field: field,
            loaded_at_query: query,
            span: Some(span.clone()),
        }
    }
}

fn resolve(source: &PartialFreshness, table: &PartialFreshness) -> Freshness {
    fn pick<T: Clone>(t: &Option<Option<T>>, s: &Option<Option<T>>) -> Option<T> {
        t.clone().unwrap_or_else(|| s.clone().flatten())
    }
    Freshness {
        warn_after: pick(&table.warn_after, &source.warn_after),
        error_after: pick(&table.error_after, &source.error_after),
        filter: pick(&table.filter, &source.filter),
    }
}
