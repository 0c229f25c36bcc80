//! `sluice metrics list | query | export`: the semantic layer from the command line.
//! A query is checked against the catalog (the guardrails), written as SQL for the
//! target, and run there; `--compile` prints the SQL instead.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value as Json};

use super::{CommonArgs, Outcome};
use crate::adapter::Rows;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::invocation::{self, Loaded};
use crate::metrics::{Catalog, Flags, Request, Spanned};
use crate::render::parse::ResourceType;

#[derive(Args, Debug)]
pub struct MetricsArgs {
    #[command(subcommand)]
    pub command: MetricsCommand,
}

#[derive(Subcommand, Debug)]
pub enum MetricsCommand {
    /// List the metrics: name, type, description, dimensions and grains
    List(ListArgs),
    /// Query metrics by name, grouped by dimensions, at a time grain
    Query(QueryArgs),
    /// Run every dashboard's saved queries and write one JSON file per dashboard
    Export(ExportArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Only the metrics of this domain (`meta: {domain: ...}`)
    #[arg(long)]
    pub domain: Option<String>,
    /// Output format: an aligned table, or a JSON array with one object per metric
    #[arg(long, value_enum, default_value = "table")]
    pub format: ListFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Metric names, comma-separated
    #[arg(long, value_name = "METRICS")]
    pub metrics: String,
    /// Dimensions to group by (`segment`, `account__region`), comma-separated
    #[arg(long, value_name = "DIMENSIONS", num_args = 1..)]
    pub group_by: Vec<String>,
    /// Time grain: day, week, month, quarter or year
    #[arg(long)]
    pub grain: Option<String>,
    /// A SQL condition on dimensions: "account__region = 'EMEA'"
    #[arg(long = "where", value_name = "CONDITION")]
    pub where_sql: Option<String>,
    /// First day (YYYY-MM-DD)
    #[arg(long)]
    pub start: Option<String>,
    /// Last day (YYYY-MM-DD)
    #[arg(long)]
    pub end: Option<String>,
    /// Columns to order by, comma-separated; a leading `-` sorts descending
    #[arg(long, allow_hyphen_values = true, value_name = "COLUMNS")]
    pub order: Option<String>,
    /// At most this many rows
    #[arg(long)]
    pub limit: Option<u64>,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Print the SQL instead of running it
    #[arg(long)]
    pub compile: bool,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The folder to write `<dashboard>.json` into
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

impl MetricsArgs {
    pub fn common(&self) -> &CommonArgs {
        match &self.command {
            MetricsCommand::List(a) => &a.common,
            MetricsCommand::Query(a) => &a.common,
            MetricsCommand::Export(a) => &a.common,
        }
    }
}

pub fn run(args: &MetricsArgs) -> Result<Outcome, Diagnostics> {
    match &args.command {
        MetricsCommand::List(a) => list(a),
        MetricsCommand::Query(a) => query(a),
        MetricsCommand::Export(a) => export(a),
    }
}

/// The project and its checked catalog.
fn load(common: &CommonArgs, command: &str) -> Result<(Loaded, Catalog), Diagnostics> {
    let loaded = invocation::load(&common.options(), command)?;
    let models: Vec<&str> = loaded
        .dag
        .nodes
        .iter()
        .filter(|n| {
            matches!(
                n.resource_type,
                ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
            )
        })
        .map(|n| n.name.as_str())
        .collect();
    let (catalog, warnings) = Catalog::load(&loaded.project, &models)?;
    super::emit_warnings(&warnings)?;
    if catalog.metrics.is_empty() {
        return Err(Diagnostic::error("this project defines no metrics")
            .with_help("define `semantic_models:` and `metrics:` in a YAML file under models/; see docs/metrics.md")
            .into());
    }
    Ok((loaded, catalog))
}

fn list(args: &ListArgs) -> Result<Outcome, Diagnostics> {
    let (_, catalog) = load(&args.common, "metrics list")?;
    let mut rows = Rows {
        columns: [
            "metric",
            "type",
            "domain",
            "grains",
            "dimensions",
            "description",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: Vec::new(),
    };
    let mut json = Vec::new();
    for m in catalog.metrics.values() {
        if args
            .domain
            .as_deref()
            .is_some_and(|d| m.domain.as_deref() != Some(d))
        {
            continue;
        }
        let grains = catalog.finest_grain(m).map(|g| g.and_coarser());
        let dimensions = catalog.allowed_dimensions(m);
        let description = m
            .description
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        json.push(json!({
            "name": m.name,
            "label": m.label,
            "type": m.kind.type_name(),
            "domain": m.domain,
            "grains": grains,
            "dimensions": dimensions,
            "description": description,
        }));
        rows.rows.push(
            [
                m.name.clone(),
                m.kind.type_name().to_owned(),
                m.domain.clone().unwrap_or_default(),
                grains.map_or_else(|| "-".to_owned(), |g| g.join(",")),
                dimensions.join(","),
                description,
            ]
            .map(Some)
            .to_vec(),
        );
    }
    if rows.rows.is_empty() {
        let domains: std::collections::BTreeSet<&str> = catalog
            .metrics
            .values()
            .filter_map(|m| m.domain.as_deref())
            .collect();
        return Err(Diagnostic::error(format!(
            "no metric has domain `{}`",
            args.domain.as_deref().unwrap_or_default()
        ))
        .with_help(format!(
            "the domains are: {}",
            domains.into_iter().collect::<Vec<_>>().join(", ")
        ))
        .into());
    }
    match args.format {
        ListFormat::Table => crate::output::println(crate::output::table::plain(&rows).trim_end()),
        ListFormat::Json => {
            crate::output::println(&serde_json::to_string_pretty(&json).unwrap_or_default())
        }
    }
    Ok(Outcome::Success)
}

/// The SQL of a request on the loaded project's target.
pub fn compile(
    loaded: &Loaded,
    catalog: &Catalog,
    request: &Request,
) -> Result<String, Diagnostics> {
    let plan = catalog.plan(request)?;
    let dialect = crate::adapter::dialect(loaded.target_def.kind);
    let relation = |model: &str| -> String {
        loaded
            .dag
            .by_name
            .get(model)
            .and_then(|id| loaded.dag.get(id))
            .and_then(|n| n.relation.as_ref())
            .map_or_else(|| model.to_owned(), |r| dialect.render_relation(r))
    };
    Ok(plan.sql(dialect, &relation)?)
}

/// Run SQL on the target.
fn run_sql(loaded: &Loaded, sql: &str) -> Result<Rows, Diagnostics> {
    let adapter = loaded.adapter()?;
    let mut session = adapter
        .session()
        .map_err(|e| Diagnostic::error(format!("cannot connect to the warehouse: {e}")))?;
    session.query(sql).map_err(|e| {
        Diagnostic::error(format!("the metric query failed in the warehouse: {}", e.0))
            .with_help("build the models the metrics read first (`sluice build`), then query again")
            .into()
    })
}

fn query(args: &QueryArgs) -> Result<Outcome, Diagnostics> {
    let (loaded, catalog) = load(&args.common, "metrics query")?;
    let request = Request::from_flags(&Flags {
        metrics: args.metrics.clone(),
        group_by: args.group_by.clone(),
        grain: args.grain.clone(),
        where_sql: args.where_sql.clone(),
        start: args.start.clone(),
        end: args.end.clone(),
        order: args.order.iter().cloned().collect(),
        limit: args.limit,
    });
    let sql = compile(&loaded, &catalog, &request)?;
    if args.compile {
        crate::output::println(&sql);
        return Ok(Outcome::Success);
    }
    let started = Instant::now();
    let mut rows = run_sql(&loaded, &sql)?;
    let elapsed = started.elapsed();
    if loaded.target_def.kind == crate::project::WarehouseKind::Snowflake {
        // Snowflake folds the unquoted aliases to upper case; answer with the
        // names the user asked for.
        for c in &mut rows.columns {
            if *c == c.to_uppercase() {
                *c = c.to_lowercase();
            }
        }
    }
    match args.format {
        Format::Table => {
            // Metric values are quantities: group their thousands even when whole;
            // dimension columns (years, ids) stay as written.
            let is_metric = |c: &str| request.metrics.iter().any(|m| m.text == c);
            crate::output::println(crate::output::table::human(&rows, &is_metric).trim_end())
        }
        Format::Csv => crate::output::print(&to_csv(&rows)),
        Format::Json => crate::output::println(
            &serde_json::to_string_pretty(&rows_json(&rows)).unwrap_or_default(),
        ),
    }
    crate::output::eprintln(&format!(
        "{} row{} in {:.0} ms",
        rows.rows.len(),
        if rows.rows.len() == 1 { "" } else { "s" },
        elapsed.as_secs_f64() * 1000.0
    ));
    Ok(Outcome::Success)
}

fn to_csv(rows: &Rows) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing CSV into memory cannot fail.
    let _ = w.write_record(&rows.columns);
    for r in &rows.rows {
        let _ = w.write_record(r.iter().map(|v| v.as_deref().unwrap_or("")));
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Rows as JSON objects; numbers stay numbers.
fn rows_json(rows: &Rows) -> Json {
    Json::Array(
        rows.rows
            .iter()
            .map(|r| {
                Json::Object(
                    rows.columns
                        .iter()
                        .zip(r)
                        .map(|(c, v)| {
                            let value = match v {
                                None => Json::Null,
                                Some(s) => s
                                    .parse::<i64>()
                                    .map(Json::from)
                                    .or_else(|_| s.parse::<f64>().map(Json::from))
                                    .unwrap_or_else(|_| Json::from(s.clone())),
                            };
                            (c.clone(), value)
                        })
                        .collect(),
                )
            })
            .collect(),
    )
}

fn export(args: &ExportArgs) -> Result<Outcome, Diagnostics> {
    let (loaded, catalog) = load(&args.common, "metrics export")?;
    if catalog.dashboards.is_empty() {
        return Err(Diagnostic::error("this project defines no dashboards")
            .with_help("add `dashboards:` with saved queries to a YAML file under models/")
            .into());
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Diagnostic::error(format!("cannot create {}: {e}", args.out.display())))?;
    for dashboard in &catalog.dashboards {
        let mut queries = Vec::new();
        for saved in &dashboard.queries {
            let spanned = |text: &str| Spanned {
                text: text.to_owned(),
                span: saved.span.clone(),
            };
            let request = Request {
                metrics: saved.metrics.iter().map(|m| spanned(m)).collect(),
                group_by: saved.group_by.iter().map(|m| spanned(m)).collect(),
                grain: saved.grain.as_deref().map(spanned),
                where_sql: saved.where_sql.as_deref().map(spanned),
                start: saved.start.as_deref().map(spanned),
                end: saved.end.as_deref().map(spanned),
                order: saved.order.iter().map(|m| spanned(m)).collect(),
                limit: saved.limit,
            };
            let sql = compile(&loaded, &catalog, &request)?;
            let started = Instant::now();
            let rows = run_sql(&loaded, &sql)?;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let definitions: Vec<Json> = saved
                .metrics
                .iter()
                .filter_map(|m| catalog.metrics.get(m))
                .map(|m| {
                    json!({
                        "name": m.name,
                        "label": m.label,
                        "type": m.kind.type_name(),
                        "description": m.description,
                        "domain": m.domain,
                    })
                })
                .collect();
            queries.push(json!({
                "name": saved.name,
                "metrics": definitions,
                "group_by": saved.group_by,
                "grain": saved.grain,
                "where": saved.where_sql,
                "query_ms": (ms * 10.0).round() / 10.0,
                "columns": rows.columns,
                "rows": rows_json(&rows),
            }));
        }
        let out = json!({
            "dashboard": dashboard.name,
            "description": dashboard.description,
            "generated_at": chrono::Utc::now().to_rfc3339(),
            "target": loaded.target_def.name,
            "queries": queries,
        });
        let path = args.out.join(format!("{}.json", dashboard.name));
        crate::artifacts::write_json(&path, &out)
            .map_err(|e| Diagnostic::error(format!("cannot write {}: {e}", path.display())))?;
        crate::output::println(&format!("wrote {}", path.display()));
    }
    Ok(Outcome::Success)
}
