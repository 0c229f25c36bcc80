//! The `metric` assertion kind: the semantic layer's answer for a metric, at a
//! grain and dimensions, compared with expected rows or with a SQL query (e.g. the
//! mart's own column) — two independent paths to the same number.
//!
//! ```yaml
//! assertions:
//!   - name: win_rate_by_quarter_matches_the_mart
//!     kind: metric
//!     metric: win_rate
//!     grain: quarter
//!     group_by: [account__segment]
//!     sql: "select quarter, segment as account__segment, win_rate from ..."
//! ```
//!
//! `sums_over: <dimension>` instead compares the metric with its own values
//! grouped by that dimension and summed back — an additive metric must total the
//! same over every dimension.
//!
//! The assertion's query selects the rows where the two sides differ: a value on
//! one side only (which includes a key only one side has, unless its values there
//! are all NULL — no number either way), or values further apart than `tolerance`
//! (relative; default 1e-9).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::query::{Request, Spanned};
use super::spec::Catalog;
use crate::adapter::{Dialect, GenericType};
use crate::diagnostics::{Diagnostic, Span};

/// The arguments a `metric` assertion takes.
pub const ARGUMENTS: [&str; 10] = [
    "metric",
    "sums_over",
    "grain",
    "group_by",
    "where",
    "start",
    "end",
    "expect",
    "sql",
    "tolerance",
];

/// The failing-rows query of a `metric` assertion, with `{{ ref() }}` for the
/// models it reads (rendered like any test argument), and those models' names.
pub fn compile(
    catalog: &Catalog,
    dialect: &dyn Dialect,
    name: &str,
    span: &Span,
    args: &BTreeMap<String, (Json, Span)>,
) -> Result<(String, Vec<String>), Diagnostic> {
    let text = |key: &str| -> Option<Spanned> {
        args.get(key).and_then(|(v, s)| {
            let t = match v {
                Json::String(t) => t.clone(),
                Json::Null => return None,
                other => other.to_string(),
            };
            Some(Spanned {
                text: t,
                span: s.clone(),
            })
        })
    };
    let list = |key: &str| -> Vec<Spanned> {
        match args.get(key) {
            Some((Json::Array(items), s)) => items
                .iter()
                .filter_map(Json::as_str)
                .map(|t| Spanned {
                    text: t.to_owned(),
                    span: s.clone(),
                })
                .collect(),
            Some((Json::String(t), s)) => t
                .split(',')
                .map(|p| Spanned {
                    text: p.trim().to_owned(),
                    span: s.clone(),
                })
                .filter(|x| !x.text.is_empty())
                .collect(),
            _ => Vec::new(),
        }
    };
    let request = Request {
        metrics: text("metric").into_iter().collect(),
        group_by: list("group_by"),
        grain: text("grain"),
        where_sql: text("where"),
        start: text("start"),
        end: text("end"),
        order: Vec::new(),
        limit: None,
    };
    let plan = catalog.plan(&request)?;
    // Relations are written as refs, rendered like any test argument; the models
    // read become the assertion's dependencies.
    let models = std::cell::RefCell::new(Vec::new());
    let as_ref = |model: &str| {
        models.borrow_mut().push(model.to_owned());
        format!("{{{{ ref('{model}') }}}}")
    };
    let metric_sql = plan.sql(dialect, &as_ref)?;
    let columns = plan.columns();
    let n_keys = columns.len() - plan.metric_names().len();
    let (keys, values) = columns.split_at(n_keys);
    let expected = match (args.get("sql"), args.get("expect"), text("sums_over")) {
        (None, None, Some(dim)) => {
            let mut by_dim = request.clone();
            by_dim.group_by.push(dim.clone());
            let grouped = catalog.plan(&by_dim)?.sql(dialect, &as_ref)?;
            let q = |c: &str| dialect.quote(c);
            let mut select: Vec<String> = keys.iter().map(|k| q(k)).collect();
            select.extend(values.iter().map(|v| format!("sum({}) as {}", q(v), q(v))));
            let group = if keys.is_empty() {
                String::new()
            } else {
                format!(" group by {}", keys.iter().map(|k| q(k)).collect::<Vec<_>>().join(", "))
            };
            format!("select {} from (\n{grouped}\n) as by_dimension{group}", select.join(", "))
        }
        (Some((Json::String(sql), _)), None, None) => sql.clone(),
        (None, Some((rows, s)), None) => expected_rows(rows, &columns, dialect, s)?,
        _ => {
            return Err(Diagnostic::error(format!(
                "assertion `{name}` needs exactly one of `expect` (rows), `sql` (a query) or `sums_over` (a dimension)"
            ))
            .with_label(span, "this assertion")
            .with_help(format!(
                "compare with the mart: `sql: \"select ... as {} from {{{{ ref('...') }}}}\"`, or list `expect:` rows with {}",
                values.join(", "),
                columns.join(", ")
            )))
        }
    };
    let tolerance = match args.get("tolerance") {
        Some((v, s)) => v.as_f64().ok_or_else(|| {
            Diagnostic::error("`tolerance` must be a number")
                .with_label(s, "here")
                .with_help("write e.g. `tolerance: 0.000001` (relative)")
        })?,
        None => 1e-9,
    };
    let q = |c: &str| dialect.quote(c);
    let text_type = dialect.type_name(GenericType::String);
    let float = dialect.type_name(GenericType::Float);
    let join = if keys.is_empty() {
        "on 1 = 1".to_owned()
    } else {
        let on: Vec<String> = keys
            .iter()
            .map(|k| {
                format!(
                    "cast(a.{k} as {text_type}) is not distinct from cast(e.{k} as {text_type})",
                    k = q(k)
                )
            })
            .collect();
        format!("on {}", on.join(" and "))
    };
    let differs: Vec<String> = values
        .iter()
        .map(|v| {
            let (a, e) = (format!("cast(a.{} as {float})", q(v)), format!("cast(e.{} as {float})", q(v)));
            format!(
                "(({a} is null) <> ({e} is null) or abs({a} - {e}) > {tolerance} * (case when abs({e}) > 1 then abs({e}) else 1 end))"
            )
        })
        .collect();
    let key_cols: Vec<String> = keys
        .iter()
        .map(|k| {
            format!(
                "coalesce(cast(a.{k} as {text_type}), cast(e.{k} as {text_type})) as {k}",
                k = q(k)
            )
        })
        .collect();
    let value_cols: Vec<String> = values
        .iter()
        .flat_map(|v| {
            [
                format!("a.{} as {}", q(v), q(&format!("{v}_metric"))),
                format!("e.{} as {}", q(v), q(&format!("{v}_expected"))),
            ]
        })
        .collect();
    let sql = format!(
        "with metric_answer as (\n{metric_sql}\n),\nexpected as (\n{expected}\n)\nselect {}\nfrom metric_answer as a\nfull outer join expected as e {join}\nwhere {}",
        key_cols.into_iter().chain(value_cols).collect::<Vec<_>>().join(", "),
        differs.join("\n   or ")
    );
    let mut models = models.into_inner();
    models.sort();
    models.dedup();
    Ok((sql, models))
}

/// `expect:` rows as a query with the result's columns.
fn expected_rows(
    rows: &Json,
    columns: &[String],
    dialect: &dyn Dialect,
    span: &Span,
) -> Result<String, Diagnostic> {
    let rows: Vec<&serde_json::Map<String, Json>> = match rows {
        Json::Object(m) => vec![m],
        Json::Array(items) => items.iter().filter_map(Json::as_object).collect(),
        _ => Vec::new(),
    };
    if rows.is_empty() {
        return Err(
            Diagnostic::error("`expect` must be a row or a list of rows")
                .with_label(span, "here")
                .with_help(format!(
                    "write rows with the columns {}",
                    columns.join(", ")
                )),
        );
    }
    let mut selects = Vec::new();
    for row in rows {
        for key in row.keys() {
            if !columns.contains(key) {
                return Err(Diagnostic::error(format!(
                    "expected rows name `{key}`, which the metric query does not return"
                ))
                .with_label(span, "in these rows")
                .with_help(format!("the columns are: {}", columns.join(", "))));
            }
        }
        let cells: Vec<String> = columns
            .iter()
            .map(|c| {
                let literal = match row.get(c) {
                    None | Some(Json::Null) => "null".to_owned(),
                    Some(Json::Bool(b)) => b.to_string(),
                    Some(Json::Number(n)) => n.to_string(),
                    Some(Json::String(s)) => format!("'{}'", s.replace('\'', "''")),
                    Some(other) => format!("'{}'", other.to_string().replace('\'', "''")),
                };
                format!("{literal} as {}", dialect.quote(c))
            })
            .collect();
        selects.push(format!("select {}", cells.join(", ")));
    }
    Ok(selects.join("\nunion all\n"))
}
