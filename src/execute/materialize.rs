//! Materializations: what running a seed, a model or a test means.
//!
//! Views and tables are replaced atomically ([`Dialect::replace_statements`]);
//! seeds are parsed from CSV before anything runs and loaded the same way; tests
//! count their failing rows. Whether a relation exists is asked of a
//! [`RelationCache`], which lists each schema once per run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use petgraph::graph::NodeIndex;

use super::{contract, incremental, snapshot, NodeResult, NodeRunner, Status};
use crate::adapter::relation_cache::RelationCache;
use crate::adapter::{
    Dialect, RelationKind, RelationName, SeedError, SeedLoad, Session, WarehouseError,
};
use crate::diagnostics::{Diagnostic, SourceFile, Span};
use crate::graph::Dag;
use crate::project::incremental::IncrementalConfig;
use crate::project::snapshot::SnapshotConfig;
use crate::project::Materialization;
use crate::render::parse::{ParsedNode, ResourceType};
use crate::testing::{self, TestOutcome};

/// A seed's CSV, parsed and checked for shape before anything runs.
#[derive(Debug)]
pub struct SeedData {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    pub lines: Vec<u64>,
    pub declared: Vec<(String, String)>,
    /// `column_types` entries naming a column close to one the seed has: dbt
    /// ignores them, sluice says so.
    pub warnings: Vec<Diagnostic>,
    pub delimiter: u8,
}

/// What the compile step produced for a node.
#[derive(Debug)]
pub enum Compiled {
    Sql {
        sql: String,
        /// The compiled file (`target/compiled/...`), for diagnostics.
        file: Arc<SourceFile>,
        /// An incremental model compiled with `is_incremental()` true: it runs as
        /// a batch written into its existing table.
        incremental: bool,
        /// Rendered hooks, run in the model's transaction.
        pre_hooks: Vec<String>,
        post_hooks: Vec<String>,
        /// A generic test's macro's `config(...)` calls ([`RawSql::config_calls`]).
        ///
        /// [`RawSql::config_calls`]: crate::render::compile::RawSql::config_calls
        config_calls: Vec<(String, serde_json::Value)>,
    },
    Seed(SeedData),
    UnitTest {
        test: crate::testing::unit::CompiledUnitTest,
        file: Arc<SourceFile>,
    },
    /// A unit test compiled when it runs, with its inputs typed by the warehouse.
    UnitTestPending,
    /// A node that queries the warehouse while it renders (`reason`: the first
    /// introspective call): compiled just before it runs, once its parents are built.
    Late {
        reason: String,
    },
    /// A node whose compile or SQL check failed: it is an error, its descendants
    /// are skipped, and the rest of the DAG runs.
    Failed(Diagnostic),
}

/// Compiles a node that introspects the warehouse, on the session it runs in.
pub type LateCompiler<'a> =
    dyn Fn(&mut dyn Session, NodeIndex) -> Result<Compiled, Diagnostic> + Sync + 'a;

/// Renders a node's `pre-hook` or `post-hook` statements on the session it runs
/// in, at the moment they run (a seed's: after the load for a post-hook).
pub type HookRenderer<'a> =
    dyn Fn(&mut dyn Session, NodeIndex, &str) -> Result<Vec<String>, Diagnostic> + Sync + 'a;

/// Compiles a unit test against a live session: its inputs typed from the
/// warehouse's relations.
pub type UnitTestCompiler<'a> = dyn Fn(
        &mut dyn Session,
        &ParsedNode,
    ) -> Result<(crate::testing::unit::CompiledUnitTest, Arc<SourceFile>), Diagnostic>
    + Sync
    + 'a;

/// Parse a seed's CSV: a header, then rows with the header's width.
pub fn read_seed(node: &ParsedNode) -> Result<SeedData, Diagnostic> {
    let file = &node.file;
    let delimiter = seed_delimiter(node)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(false)
        .from_reader(file.text.as_bytes());
    let columns: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_owned()).collect(),
        Err(e) => return Err(csv_error(file, &e)),
    };
    if columns.len() > MAX_SEED_COLUMNS {
        return Err(Diagnostic::error(format!(
            "seed {} has {} columns, more than sluice loads ({MAX_SEED_COLUMNS})",
            file.path.display(),
            columns.len()
        ))
        .with_label(
            &header_cell_span(file, MAX_SEED_COLUMNS, delimiter),
            "one column too many",
        )
        .with_help(
            "a seed is a small lookup table: split it, or load data this wide with the \
             warehouse's own loader and declare it as a source",
        ));
    }
    if columns.is_empty() || columns.iter().all(String::is_empty) {
        return Err(
            Diagnostic::error(format!("seed {} has no header row", file.path.display()))
                .with_label(&Span::file_start(file), "expected column names here")
                .with_help("the first line of a seed names its columns: `id,name,created_at`"),
        );
    }
    if let Some(i) = columns.iter().position(String::is_empty) {
        return Err(Diagnostic::error(format!(
            "column {} of seed {} has no name",
            i + 1,
            file.path.display()
        ))
        .with_label(&Span::file_start(file), "empty column name")
        .with_help("give every column a name in the header row"));
    }
    check_unique_headers(file, &columns, delimiter)?;
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(file, &e))?;
        let line = record.position().map_or(0, |p| p.line());
        if let Some(i) = record.iter().position(|v| v.len() > MAX_SEED_FIELD_BYTES) {
            return Err(Diagnostic::error(format!(
                "value {} of line {line} in seed {} is longer than {} MiB",
                i + 1,
                file.path.display(),
                MAX_SEED_FIELD_BYTES >> 20
            ))
            .with_label(&Span::line(file, line as usize), "this row")
            .with_help(
                "a seed holds small values: check the quoting (an unclosed `\"` runs to the \
                 end of the file), or load such data with the warehouse's own loader",
            ));
        }
        rows.push(
            record
                .iter()
                .map(|v| {
                    if v.is_empty() {
                        None
                    } else {
                        Some(v.to_owned())
                    }
                })
                .collect(),
        );
        lines.push(line);
    }
    let mut declared = Vec::new();
    let mut warnings = Vec::new();
    if let Some(types) = node.config.get("column_types") {
        let span = node.config_span("column_types");
        let map = types.as_object().ok_or_else(|| {
            Diagnostic::error("`column_types` must map column names to types")
                .with_label(&span, "expected a mapping")
                .with_help("write e.g. `column_types: {signup_date: date}`")
        })?;
        for (col, t) in map {
            let Some(t) = t.as_str() else {
                return Err(Diagnostic::error(format!(
                    "the type of column `{col}` must be a string"
                ))
                .with_label(&span, "in this mapping"));
            };
            if !columns.iter().any(|c| c.eq_ignore_ascii_case(col)) {
                // dbt applies `column_types` to the columns a seed has and ignores
                // the rest: a folder's `+column_types: {_fivetran_synced: timestamp}`
                // is meant for the seeds that have it, and Fivetran's packages set
                // folder-wide types for columns only some of their seeds have. A name
                // close to one of the seed's columns may be a typo: a warning.
                if let Some(best) =
                    crate::diagnostics::did_you_mean(col, columns.iter().map(String::as_str))
                {
                    warnings.push(
                        Diagnostic::warning(format!(
                            "`column_types` names column `{col}`, which seed `{}` does not have; it is ignored, as dbt ignores it",
                            node.name
                        ))
                        .with_label(&span, "unknown column")
                        .with_help(format!("did you mean `{best}`?")),
                    );
                }
                continue;
            }
            declared.push((col.clone(), t.to_owned()));
        }
    }
    Ok(SeedData {
        columns,
        rows,
        lines,
        declared,
        warnings,
        delimiter,
    })
}

/// The most columns a seed may have. The warehouses' own limits are about this
/// size (BigQuery: 10,000 per table) and DuckDB's planner slows down
/// quadratically beyond it (10,000 columns take 30 s): a wider CSV is an error,
/// not a hang.
pub const MAX_SEED_COLUMNS: usize = 4_096;

/// The longest value a seed's cell may hold (1 MiB).
pub const MAX_SEED_FIELD_BYTES: usize = 1 << 20;

/// A seed's `delimiter`: one character, as dbt requires ("\"delimiter\" must be a
/// 1-character string"), and an ASCII one, which is what sluice's CSV reader splits
/// on. No `delimiter` is a comma.
fn seed_delimiter(node: &ParsedNode) -> Result<u8, Diagnostic> {
    let Some(value) = node.config.get("delimiter") else {
        return Ok(b',');
    };
    let span = node.config.span("delimiter").unwrap_or(&node.span);
    match value.as_str() {
        Some(d) if d.len() == 1 && d.is_ascii() => Ok(d.as_bytes()[0]),
        Some(d) => {
            let what = match d.chars().count() {
                0 => "empty".to_owned(),
                1 => format!("`{d}`, not an ASCII character"),
                n => format!("`{d}`, {n} characters"),
            };
            Err(
                Diagnostic::error(format!("the `delimiter` of seed `{}` is {what}", node.name))
                    .with_label(span, "expected one character")
                    .with_help(
                        "a seed's delimiter is one ASCII character: `,` (the default), `;`, `|` or a tab (`\"\\t\"`)",
                    ),
            )
        }
        None => Err(Diagnostic::error(format!(
            "the `delimiter` of seed `{}` must be a string, found {value}",
            node.name
        ))
        .with_label(span, "expected one character")
        .with_help("quote it: `delimiter: \";\"`")),
    }
}

/// Two header columns with one name (compared without case, as DuckDB, Snowflake's
/// unquoted names and BigQuery compare column names): sluice's located error
/// rather than the warehouse's "column already exists".
fn check_unique_headers(
    file: &Arc<SourceFile>,
    columns: &[String],
    delimiter: u8,
) -> Result<(), Diagnostic> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, c) in columns.iter().enumerate() {
        if let Some(first) = seen.insert(c.to_lowercase(), i) {
            return Err(Diagnostic::error(format!(
                "seed {} has two columns named `{}`: columns {} and {}",
                file.path.display(),
                c,
                first + 1,
                i + 1
            ))
            .with_label(&header_cell_span(file, i, delimiter), "named again here")
            .with_label(
                &header_cell_span(file, first, delimiter),
                "first named here",
            )
            .with_help("rename one of them: the warehouse compares column names without case"));
        }
    }
    Ok(())
}

/// The span of the `i`th cell of a seed's header line (the whole line when the
/// header's quoting makes the cell hard to find).
fn header_cell_span(file: &Arc<SourceFile>, i: usize, delimiter: u8) -> Span {
    let header = file.text.lines().next().unwrap_or_default();
    if header.contains('"') {
        return Span::line(file, 1);
    }
    let mut start = 0;
    for (n, cell) in header.split(char::from(delimiter)).enumerate() {
        if n == i {
            return Span::new(file, start, start + cell.len().max(1));
        }
        start += cell.len() + 1;
    }
    Span::line(file, 1)
}

fn csv_error(file: &Arc<SourceFile>, e: &csv::Error) -> Diagnostic {
    let line = e.position().map_or(1, |p| p.line() as usize);
    let span = Span::line(file, line);
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("row has {len} values, but the header has {expected_len} columns")
        }
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".to_owned(),
        _ => e.to_string(),
    };
    Diagnostic::error(format!("invalid CSV in {}: {message}", file.path.display()))
        .with_label(&span, "this row")
        .with_help(
            "every row needs one value per header column; quote values that contain the delimiter",
        )
}

/// A model's rendered hooks, run in its transaction.
struct Hooks<'a> {
    pre: &'a [String],
    post: &'a [String],
}

/// Runs seeds, models and tests on a session.
pub struct DagRunner<'a> {
    pub dag: &'a Dag,
    pub compiled: &'a HashMap<NodeIndex, Compiled>,
    pub compile_unit_test: &'a UnitTestCompiler<'a>,
    pub compile_late: &'a LateCompiler<'a>,
    pub render_hooks: &'a HookRenderer<'a>,
    /// What the late compiles produced, for the artifacts.
    pub late: std::sync::Mutex<Vec<(NodeIndex, Compiled)>>,
    pub dialect: &'static dyn Dialect,
    /// `target/run/<project>`, where the executed SQL is written.
    pub run_dir: PathBuf,
    /// The relations this run knows exist; kept current as it builds.
    pub relations: RelationCache,
    /// `--store-failures`: tests whose config is silent keep their failing rows.
    pub store_failures: bool,
    /// The catalog printed in relation names shown to people (DuckDB's file
    /// catalog, as dbt-duckdb prints it), if any.
    pub printed_database: Option<String>,
    /// The project's folder: seed files' paths are relative to it.
    pub project_root: PathBuf,
}

fn result(
    node: &ParsedNode,
    status: Status,
    message: String,
    started: chrono::DateTime<Utc>,
    clock: Instant,
) -> NodeResult {
    NodeResult {
        unique_id: node.unique_id.clone(),
        status,
        message,
        started_at: Some(started),
        completed_at: Some(Utc::now()),
        execution_time: clock.elapsed().as_secs_f64(),
        rows_affected: None,
        failures: None,
        thread_id: String::new(),
        diagnostic: None,
        invalid_input: false,
        warehouse_seconds: 0.0,
    }
}

/// A warehouse error, located in the compiled file when the warehouse names a line.
/// `line_offset`: how many lines sluice put before the compiled SQL in the statement
/// it ran (the `create table ... as (` line, the test's counting wrapper).
fn warehouse_diagnostic(
    node: &ParsedNode,
    file: Option<&Arc<SourceFile>>,
    line_offset: usize,
    e: &WarehouseError,
) -> Diagnostic {
    let kind = node.resource_type.as_str();
    let mut d = Diagnostic::error(format!(
        "{kind} `{}` failed in the warehouse: {}",
        node.name,
        first_line(&e.0)
    ));
    if let Some(file) = file {
        let line =
            e.0.split("LINE ")
                .nth(1)
                .and_then(|rest| rest.split(':').next())
                .and_then(|n| n.trim().parse::<usize>().ok());
        // Only SQL has line numbers the warehouse can name; a seed's CSV does not.
        let span = match line {
            Some(l) if node.resource_type != ResourceType::Seed && l > line_offset => {
                Span::line(file, l - line_offset)
            }
            _ => Span::file_start(file),
        };
        d = d.with_label(&span, "the warehouse rejected this SQL");
    }
    if e.0.lines().count() > 1 {
        d = d.with_note(e.0.clone());
    }
    d.with_help(format!(
        "fix {} and run again",
        node.original_file_path.display()
    ))
}

/// The result of statements run for a model or snapshot: `message` on success,
/// the warehouse's error located in the compiled file otherwise.
fn finished(
    node: &ParsedNode,
    outcome: Result<String, WarehouseError>,
    file: &Arc<SourceFile>,
    started: chrono::DateTime<Utc>,
    clock: Instant,
) -> NodeResult {
    match outcome {
        Ok(message) => result(node, Status::Success, message, started, clock),
        Err(e) => {
            let mut r = result(node, Status::Error, e.0.clone(), started, clock);
            r.diagnostic = Some(warehouse_diagnostic(node, Some(file), 1, &e));
            r
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

impl DagRunner<'_> {
    /// Keep the relation cache current after building `relation` as `kind`.
    fn note_build(&self, relation: &RelationName, kind: RelationKind, hooks: &Hooks<'_>, ok: bool) {
        if !hooks.pre.is_empty() || !hooks.post.is_empty() {
            // Hooks are the user's SQL: they may have created or dropped anything.
            self.relations.forget_all();
        } else if ok {
            self.relations.record(relation, kind);
        } else {
            // A warehouse without transactional DDL may have stopped half-way.
            self.relations.forget_schema(relation);
        }
    }

    fn write_run_file(&self, node: &ParsedNode, statements: &[String]) {
        let path = self.run_dir.join(&node.original_file_path);
        let path = if defined_in_yaml(node) {
            path.join(&node.path)
        } else {
            path
        };
        // Run files are a record for the user; failing to write one must not fail
        // the node, and one whose path would leave the target path is not written.
        if crate::confine::check(&self.run_dir, &path).is_err() {
            return;
        }
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = crate::atomic_file::write(&path, (statements.join(";\n\n") + ";\n").as_bytes());
    }

    /// A seed between its hooks, each rendered when it runs, as dbt's seed
    /// materialization runs them: pre-hooks, the load, post-hooks.
    fn run_seed_with_hooks(
        &self,
        session: &mut dyn Session,
        idx: NodeIndex,
        data: &SeedData,
    ) -> NodeResult {
        let node = self.dag.node(idx);
        let (started, clock) = (Utc::now(), Instant::now());
        if let Err(d) = self.run_hooks(session, idx, "pre-hook") {
            return failed(node, d);
        }
        let loaded = self.run_seed(session, node, data);
        if loaded.status != Status::Success {
            return loaded;
        }
        match self.run_hooks(session, idx, "post-hook") {
            Ok(()) => loaded,
            Err(d) => {
                let mut r = result(node, Status::Error, d.message.clone(), started, clock);
                r.diagnostic = Some(d);
                r
            }
        }
    }

    /// Render and run a node's hooks of one kind (`pre-hook`/`post-hook`).
    fn run_hooks(
        &self,
        session: &mut dyn Session,
        idx: NodeIndex,
        key: &str,
    ) -> Result<(), Diagnostic> {
        let node = self.dag.node(idx);
        if node.config.hooks(key).is_empty() {
            return Ok(());
        }
        let statements = (self.render_hooks)(session, idx, key)?;
        let statements: Vec<String> = statements
            .into_iter()
            .filter(|s| !s.trim().is_empty())
            .collect();
        if statements.is_empty() {
            return Ok(());
        }
        let ran = session.execute_atomic(&statements);
        // A hook may create or drop anything, whether or not it failed: what
        // this run knows of the node's schema is stale.
        if let Some(r) = &node.relation {
            self.relations.forget_schema(r);
        }
        ran.map_err(|e| {
            Diagnostic::error(format!(
                "a {key} of {} `{}` failed in the warehouse: {}",
                node.resource_type.as_str(),
                node.name,
                e.0
            ))
            .with_label(&node.config_span(key), "this hook")
            .with_help(format!("fix the {key} and run again"))
        })
    }

    fn run_seed(
        &self,
        session: &mut dyn Session,
        node: &ParsedNode,
        data: &SeedData,
    ) -> NodeResult {
        let (started, clock) = (Utc::now(), Instant::now());
        let Some(relation) = &node.relation else {
            return result(
                node,
                Status::Error,
                "seed without a relation".into(),
                started,
                clock,
            );
        };
        let csv_path = self.project_root.join(&node.file.path);
        let load = SeedLoad {
            relation,
            columns: &data.columns,
            rows: &data.rows,
            lines: &data.lines,
            declared: &data.declared,
            csv_file: Some((&csv_path, data.delimiter)),
        };
        let loaded = session.load_seed(&load);
        match &loaded {
            Ok(_) => self.relations.record(relation, RelationKind::Table),
            Err(_) => self.relations.forget_schema(relation),
        }
        match loaded {
            Ok(rows) => {
                let mut r = result(
                    node,
                    Status::Success,
                    format!("INSERT {rows}"),
                    started,
                    clock,
                );
                r.rows_affected = Some(rows);
                r
            }
            Err(SeedError::BadValue {
                line,
                column,
                value,
                data_type,
            }) => {
                let mut r = result(
                    node,
                    Status::Error,
                    format!("value `{value}` in column `{column}` is not a valid {data_type}"),
                    started,
                    clock,
                );
                let span = Span::line(&node.file, line as usize);
                let decl = node.config.span("column_types").cloned();
                let mut d = Diagnostic::error(format!(
                    "seed `{}`: value `{value}` in column `{column}` is not a valid {data_type}",
                    node.name
                ))
                .with_label(&span, format!("row {line}"));
                if let Some(decl) = decl {
                    d = d.with_label(&decl, format!("`{column}` is declared as {data_type} here"));
                }
                r.diagnostic = Some(
                    d.with_help("fix the value, or change the declared type in `column_types`"),
                );
                r.invalid_input = true;
                r
            }
            Err(SeedError::Warehouse(e)) => {
                let mut r = result(node, Status::Error, e.0.clone(), started, clock);
                r.diagnostic = Some(warehouse_diagnostic(node, Some(&node.file), 0, &e));
                r
            }
        }
    }

    fn run_model(
        &self,
        session: &mut dyn Session,
        node: &ParsedNode,
        sql: &str,
        file: &Arc<SourceFile>,
        hooks: &Hooks<'_>,
    ) -> NodeResult {
        let (started, clock) = (Utc::now(), Instant::now());
        let Some(relation) = &node.relation else {
            return result(
                node,
                Status::Error,
                "model without a relation".into(),
                started,
                clock,
            );
        };
        // An incremental model built from scratch (first run, --full-refresh) is a table.
        let kind = match node.materialization {
            Materialization::Table | Materialization::Incremental => RelationKind::Table,
            _ => RelationKind::View,
        };
        let contract = contract::enforced(node);
        if let Some(c) = contract {
            if let Err(f) = contract::check(session, self.dialect, node, c, sql) {
                return self.contract_failed(node, f, file, started, clock);
            }
        }
        let (fk_before, fk_after) = match contract.filter(|_| {
            kind == RelationKind::Table
                && node
                    .constraints
                    .iter()
                    .chain(node.columns.iter().flat_map(|c| &c.constraints))
                    .any(|c| {
                        matches!(
                            c.kind,
                            crate::project::contracts::ConstraintType::PrimaryKey
                                | crate::project::contracts::ConstraintType::Unique
                        )
                    })
        }) {
            Some(_) => match contract::foreign_key_dependents(
                session,
                self.dag,
                self.dialect,
                node,
                relation,
                &|i| self.compiled.contains_key(&i),
            ) {
                Ok(v) => v,
                Err(f) => return self.contract_failed(node, f, file, started, clock),
            },
            None => (Vec::new(), Vec::new()),
        };
        let outcome = (|| -> Result<(), WarehouseError> {
            let existing = self.relations.kind(session, relation)?;
            let mut statements = hooks.pre.to_vec();
            statements.extend(fk_before);
            let contracted = match contract.filter(|_| kind == RelationKind::Table) {
                Some(c) => contract::table_statements(
                    self.dag,
                    self.dialect,
                    node,
                    c,
                    relation,
                    existing,
                    sql,
                )
                .ok(),
                None => None,
            };
            statements.extend(contracted.unwrap_or_else(|| {
                self.dialect
                    .replace_statements(relation, existing, kind, sql)
            }));
            statements.extend(fk_after);
            statements.extend_from_slice(hooks.post);
            self.write_run_file(node, &statements);
            let outcome = session.execute_atomic(&statements);
            self.note_build(relation, kind, hooks, outcome.is_ok());
            outcome
        })()
        .map(|()| format!("created sql {} model {relation}", kind.as_sql()));
        finished(node, outcome, file, started, clock)
    }

    /// The result of a model whose contract does not hold: its error, and the
    /// relation left as it was.
    fn contract_failed(
        &self,
        node: &ParsedNode,
        failure: contract::Failure,
        file: &Arc<SourceFile>,
        started: chrono::DateTime<Utc>,
        clock: Instant,
    ) -> NodeResult {
        let d = match failure {
            contract::Failure::Sql(e) => warehouse_diagnostic(node, Some(file), 0, &e),
            contract::Failure::Contract(d) => d,
        };
        let message = match &d.notes.first() {
            Some(note) => format!("{}\n{note}", d.message),
            None => d.message.clone(),
        };
        let mut r = result(node, Status::Error, message, started, clock);
        r.diagnostic = Some(d);
        r
    }

    /// Write an incremental model's new batch into its existing table.
    fn run_incremental(
        &self,
        session: &mut dyn Session,
        node: &ParsedNode,
        sql: &str,
        file: &Arc<SourceFile>,
        hooks: &Hooks<'_>,
    ) -> NodeResult {
        let (started, clock) = (Utc::now(), Instant::now());
        let fail = |message: String, help: String| {
            let mut r = result(node, Status::Error, message.clone(), started, clock);
            r.diagnostic = Some(
                Diagnostic::error(format!("incremental model `{}`: {message}", node.name))
                    .with_label(&Span::file_start(&node.file), "this model")
                    .with_help(help),
            );
            r
        };
        let (Some(relation), Ok(config)) = (
            &node.relation,
            IncrementalConfig::of(&node.config, &node.span),
        ) else {
            // Both were checked when the project was parsed.
            return fail(
                "no relation or no valid incremental config".into(),
                "run `sluice parse` to see the problem".into(),
            );
        };
        if let Some(c) = contract::enforced(node) {
            if let Err(f) = contract::check(session, self.dialect, node, c, sql) {
                return self.contract_failed(node, f, file, started, clock);
            }
        }
        let described = (|| -> Result<_, WarehouseError> {
            let existing = self.relations.kind(session, relation)?;
            let table = session.describe(&format!(
                "select * from {}",
                self.dialect.render_relation(relation)
            ))?;
            let batch = session.describe(sql)?;
            Ok((existing, table, batch))
        })();
        let (existing, table, batch) = match described {
            Ok(v) => v,
            Err(e) => {
                let mut r = result(node, Status::Error, e.0.clone(), started, clock);
                r.diagnostic = Some(warehouse_diagnostic(node, Some(file), 0, &e));
                return r;
            }
        };
        if existing != Some(RelationKind::Table) {
            return fail(
                format!("{relation} is no longer a table, so the batch compiled for it cannot be written"),
                "run the model again: it will be built from scratch".into(),
            );
        }
        let plan = match incremental::plan(&config, &table, &batch) {
            Ok(p) => p,
            Err(e) => return fail(e.message, e.help),
        };
        let mut statements = hooks.pre.to_vec();
        statements.extend(incremental::statements(
            self.dialect,
            relation,
            &config,
            &plan,
            sql,
        ));
        statements.extend_from_slice(hooks.post);
        self.write_run_file(node, &statements);
        let outcome = session.execute_atomic(&statements);
        self.note_build(relation, RelationKind::Table, hooks, outcome.is_ok());
        let outcome = outcome.map(|()| {
            format!(
                "{} into incremental model {relation}",
                config.strategy.as_str()
            )
        });
        finished(node, outcome, file, started, clock)
    }

    /// Create a snapshot's history, or add this run's changes to it.
    fn run_snapshot(
        &self,
        session: &mut dyn Session,
        node: &ParsedNode,
        sql: &str,
        file: &Arc<SourceFile>,
        hooks: &Hooks<'_>,
    ) -> NodeResult {
        let (started, clock) = (Utc::now(), Instant::now());
        let (Some(relation), Ok(config)) = (
            &node.relation,
            SnapshotConfig::of(&node.config, &node.name, &node.span),
        ) else {
            // Both were checked when the project was parsed.
            return result(
                node,
                Status::Error,
                "snapshot without a relation or a valid config".into(),
                started,
                clock,
            );
        };
        let builder = snapshot::SnapshotSql {
            dialect: self.dialect,
            target: relation,
            config: &config,
            now: format!(
                "cast('{}' as {})",
                started.format("%Y-%m-%d %H:%M:%S%.6f"),
                self.dialect
                    .type_name(crate::adapter::GenericType::Timestamp)
            ),
        };
        let outcome = (|| -> Result<&'static str, WarehouseError> {
            let existing = self.relations.kind(session, relation)?;
            let (verb, body) = match existing {
                Some(RelationKind::Table) => {
                    let history = session.describe(&format!(
                        "select * from {}",
                        self.dialect.render_relation(relation)
                    ))?;
                    let query = session.describe(sql)?;
                    ("updated", builder.update(&history, &query, sql))
                }
                other => ("created", builder.create(other, sql)),
            };
            let mut statements = hooks.pre.to_vec();
            statements.extend(body);
            statements.extend_from_slice(hooks.post);
            self.write_run_file(node, &statements);
            let outcome = session.execute_atomic(&statements);
            self.note_build(relation, RelationKind::Table, hooks, outcome.is_ok());
            outcome.map(|()| verb)
        })();
        let outcome = outcome.map(|verb| format!("{verb} snapshot {relation}"));
        finished(node, outcome, file, started, clock)
    }

    fn run_test(
        &self,
        session: &mut dyn Session,
        node: &ParsedNode,
        sql: &str,
        file: &Arc<SourceFile>,
        config_calls: &[(String, serde_json::Value)],
    ) -> NodeResult {
        let (started, clock) = (Utc::now(), Instant::now());
        let stored = match self.store_failures(session, node, sql, file, config_calls) {
            Ok(stored) => stored,
            Err(diagnostic) => {
                let mut r = result(
                    node,
                    Status::Error,
                    diagnostic.message.clone(),
                    started,
                    clock,
                );
                r.diagnostic = Some(diagnostic);
                return r;
            }
        };
        let wrapped = match &stored {
            Some((statements, main)) => {
                let wrapped = testing::wrap_counted_query(main, node, config_calls);
                let mut run = statements.clone();
                run.push(wrapped.clone());
                self.write_run_file(node, &run);
                wrapped
            }
            None => {
                let wrapped = testing::wrap_test_query(sql, node, config_calls);
                self.write_run_file(node, std::slice::from_ref(&wrapped));
                wrapped
            }
        };
        match session.query(&wrapped) {
            Ok(rows) => {
                let row = rows.rows.first();
                let get = |i: usize| {
                    row.and_then(|r| r.get(i))
                        .cloned()
                        .flatten()
                        .unwrap_or_default()
                };
                let failures: u64 = get(0).parse().unwrap_or(0);
                let truthy = |s: String| s == "true" || s == "1";
                let outcome = testing::outcome(node, failures, truthy(get(1)), truthy(get(2)));
                let (status, message) = match outcome {
                    TestOutcome::Pass => (Status::Pass, String::new()),
                    TestOutcome::Warn(n) => (
                        Status::Warn,
                        format!(
                            "Got {n} result{}, configured to warn if {}",
                            plural(n),
                            node.config.get_str("warn_if").unwrap_or("!= 0")
                        ),
                    ),
                    TestOutcome::Fail(n) => (
                        Status::Fail,
                        format!(
                            "Got {n} result{}, configured to fail if {}",
                            plural(n),
                            node.config.get_str("error_if").unwrap_or("!= 0")
                        ),
                    ),
                };
                let mut r = result(node, status, message, started, clock);
                r.failures = Some(failures);
                if status != Status::Pass {
                    // Kept failures are shown as kept (with the test's `limit`).
                    let shown = stored.as_ref().map_or(sql, |(_, main)| main.as_str());
                    let mut d = failure_report(session, node, shown, &r.message, status);
                    if let (Some(_), Some(relation)) = (&stored, &node.relation) {
                        d = d.with_note(format!(
                            "See test failures:\n  select * from {}",
                            self.dialect.render_relation(&crate::render::with_database(
                                relation,
                                self.printed_database.as_deref()
                            ))
                        ));
                    }
                    r.diagnostic = Some(d);
                }
                r
            }
            Err(e) => {
                let mut r = result(node, Status::Error, e.0.clone(), started, clock);
                r.diagnostic = Some(warehouse_diagnostic(
                    node,
                    Some(file),
                    testing::WRAPPER_LINES,
                    &e,
                ));
                r
            }
        }
    }
}

impl DagRunner<'_> {
    /// Keep a test's failing rows in its audit relation when its config (or
    /// `--store-failures`) says so: the relation is replaced by the test's query
    /// (with its `limit`), as dbt's test materialization does. Returns the
    /// statements run and the query the failures are then counted from; `None`
    /// when nothing is kept; the test's error when keeping them failed.
    #[allow(clippy::type_complexity)]
    fn store_failures(
        &self,
        session: &mut dyn Session,
        node: &ParsedNode,
        sql: &str,
        file: &Arc<SourceFile>,
        config_calls: &[(String, serde_json::Value)],
    ) -> Result<Option<(Vec<String>, String)>, Diagnostic> {
        // Assertions and unit tests have no audit relation.
        let Some(relation) = &node.relation else {
            return Ok(None);
        };
        let Some(kind) =
            testing::store_failures::store_as(&node.config, self.store_failures, &node.span)?
        else {
            return Ok(None);
        };
        let limited = testing::limited_test_query(sql, node, config_calls);
        let existing = self
            .relations
            .kind(session, relation)
            .map_err(|e| warehouse_diagnostic(node, Some(file), 1, &e))?;
        let (statements, main) =
            testing::store_failures::statements(self.dialect, relation, existing, kind, &limited);
        let outcome = session.execute_atomic(&statements);
        match &outcome {
            Ok(()) => self.relations.record(relation, kind),
            Err(_) => self.relations.forget_schema(relation),
        }
        outcome.map_err(|e| {
            let mut d = warehouse_diagnostic(node, Some(file), 1, &e);
            d.message = format!(
                "test `{}` could not keep its failing rows in {relation}: {}",
                node.name,
                first_line(&e.0)
            );
            d
        })?;
        Ok(Some((statements, main)))
    }

    fn run_unit_test(
        &self,
        session: &mut dyn Session,
        node: &ParsedNode,
        test: &crate::testing::unit::CompiledUnitTest,
        file: &Arc<SourceFile>,
    ) -> NodeResult {
        use crate::testing::unit;
        let (started, clock) = (Utc::now(), Instant::now());
        let model = node
            .unit_test
            .as_ref()
            .and_then(|u| self.dag.get(&u.model_id))
            .map_or(String::new(), |m| m.name.clone());
        let error = |message: String, diagnostic: Diagnostic| {
            let mut r = result(node, Status::Error, message, started, clock);
            r.diagnostic = Some(diagnostic);
            r
        };
        // The model's columns and types, from the warehouse itself.
        let actual_types = match session.describe(&test.sql) {
            Ok(t) => t,
            Err(e) => {
                return error(e.0.clone(), warehouse_diagnostic(node, Some(file), 0, &e));
            }
        };
        let types: std::collections::BTreeMap<String, String> = actual_types
            .iter()
            .map(|(c, t)| (c.to_lowercase(), t.clone()))
            .collect();
        let mut columns = match unit::expected_columns(&test.expect) {
            Ok(c) => c,
            Err(d) => return error(d.message.clone(), d),
        };
        // `rows: []` names no column: the model must return no rows, whatever its
        // columns (dbt compares it with the model's own columns).
        let expects_nothing = columns.is_empty()
            && matches!(&test.expect.rows, crate::project::properties::Rows::Dict(r) if r.is_empty());
        let expected_sql = if expects_nothing {
            None
        } else {
            match unit::rows_sql(
                &test.expect,
                &unit::expected_types(&columns, &types),
                false,
                self.dialect,
            ) {
                Ok(sql) => Some(sql),
                Err(d) => return error(d.message.clone(), d),
            }
        };
        let queried = match &expected_sql {
            Some(sql) => session.query(sql),
            None => Ok(crate::adapter::Rows {
                columns: actual_types.iter().map(|(c, _)| c.clone()).collect(),
                rows: Vec::new(),
            }),
        };
        let expected = match queried {
            Ok(rows) => rows,
            Err(e) => {
                let d = Diagnostic::error(format!(
                    "the expected rows of unit test `{}` do not fit the model's column types: {}",
                    node.name,
                    first_line(&e.0)
                ))
                .with_label(&test.expect.span, "these rows")
                .with_help(
                    "write each value so it casts to the model's column type (dates as 2024-01-31)",
                );
                return error(e.0.clone(), d);
            }
        };
        if columns.is_empty() {
            columns = expected.columns.clone();
        }
        if let Some(missing) = columns
            .iter()
            .find(|c| !types.contains_key(&c.to_lowercase()))
        {
            let have: Vec<&str> = actual_types.iter().map(|(c, _)| c.as_str()).collect();
            let d = Diagnostic::error(format!(
                "unit test `{}` expects column `{missing}`, which model `{model}` does not return",
                node.name
            ))
            .with_label(&test.expect.span, "in these rows")
            .with_help(crate::diagnostics::suggestion_help(
                missing,
                have.iter().copied(),
                || format!("the model returns: {}", have.join(", ")),
            ));
            let mut r = result(node, Status::Fail, d.message.clone(), started, clock);
            r.diagnostic = Some(d);
            return r;
        }
        let projection: Vec<String> = columns.iter().map(|c| self.dialect.quote(c)).collect();
        let actual_sql = format!(
            "select {} from (\n{}\n) as model_under_test",
            projection.join(", "),
            test.sql
        );
        let actual = match session.query(&actual_sql) {
            Ok(rows) => rows,
            Err(e) => return error(e.0.clone(), warehouse_diagnostic(node, Some(file), 1, &e)),
        };
        let (missing, unexpected) =
            unit::diff(&expected.rows, &actual.rows, test.ordered, test.tolerance);
        if missing.is_empty() && unexpected.is_empty() {
            let mut r = result(node, Status::Pass, String::new(), started, clock);
            r.failures = Some(0);
            return r;
        }
        let d = unit::failure(node, &model, &columns, &missing, &unexpected);
        let mut r = result(node, Status::Fail, d.message.clone(), started, clock);
        r.failures = Some((missing.len() + unexpected.len()) as u64);
        r.diagnostic = Some(d);
        r
    }
}

/// How many offending rows a failing test shows.
const SHOWN_ROWS: usize = 10;

/// A failing test's report: where it is declared, and its first offending rows.
fn failure_report(
    session: &mut dyn Session,
    node: &ParsedNode,
    sql: &str,
    message: &str,
    status: Status,
) -> Diagnostic {
    let what = match &node.generic_test {
        Some(t) if t.is_assertion => "assertion",
        _ => "test",
    };
    let headline = format!("{what} `{}` failed: {message}", node.name);
    let mut d = if status == Status::Warn {
        Diagnostic::warning(headline).with_event(crate::diagnostics::event::LOG_TEST_RESULT)
    } else {
        Diagnostic::error(headline)
    };
    d = d.with_label(&node.span, format!("{what} declared here"));
    let sample = format!("select * from (\n{sql}\n) as failing limit {SHOWN_ROWS}");
    match session.query(&sample) {
        Ok(mut rows) if !rows.rows.is_empty() => {
            // The warehouse returns rows in any order: sort them for a stable report.
            rows.rows.sort();
            let shown = rows.rows.len();
            d = d.with_note(format!(
                "{} offending row{}:\n{}",
                if shown == SHOWN_ROWS {
                    format!("first {shown}")
                } else {
                    shown.to_string()
                },
                if shown == 1 { "" } else { "s" },
                crate::output::table::plain(&rows).trim_end()
            ));
        }
        _ => {}
    }
    d
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

impl NodeRunner for DagRunner<'_> {
    fn run(&self, session: &mut dyn Session, idx: NodeIndex) -> NodeResult {
        let node = self.dag.node(idx);
        session.set_query_tag(&node.unique_id);
        match self.compiled.get(&idx) {
            Some(Compiled::Failed(d)) => failed(node, d.clone()),
            Some(Compiled::Late { .. }) => match (self.compile_late)(session, idx) {
                Ok(compiled) => {
                    let r = self.run_compiled(session, idx, Some(&compiled));
                    self.late
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((idx, compiled));
                    r
                }
                Err(d) => failed(node, d),
            },
            other => self.run_compiled(session, idx, other),
        }
    }
}

/// A node that failed before it reached the warehouse (its compile or SQL check).
fn failed(node: &ParsedNode, d: Diagnostic) -> NodeResult {
    let (started, clock) = (Utc::now(), Instant::now());
    let mut r = result(node, Status::Error, d.message.clone(), started, clock);
    r.diagnostic = Some(d);
    r
}

impl DagRunner<'_> {
    fn run_compiled(
        &self,
        session: &mut dyn Session,
        idx: NodeIndex,
        compiled: Option<&Compiled>,
    ) -> NodeResult {
        let node = self.dag.node(idx);
        match (node.resource_type, compiled) {
            (ResourceType::Seed, Some(Compiled::Seed(data))) => {
                self.run_seed_with_hooks(session, idx, data)
            }
            (
                ResourceType::Model,
                Some(Compiled::Sql {
                    sql,
                    file,
                    incremental,
                    pre_hooks,
                    post_hooks,
                    ..
                }),
            ) => {
                let hooks = Hooks {
                    pre: pre_hooks,
                    post: post_hooks,
                };
                if *incremental {
                    self.run_incremental(session, node, sql, file, &hooks)
                } else {
                    self.run_model(session, node, sql, file, &hooks)
                }
            }
            (
                ResourceType::Snapshot,
                Some(Compiled::Sql {
                    sql,
                    file,
                    pre_hooks,
                    post_hooks,
                    ..
                }),
            ) => {
                let hooks = Hooks {
                    pre: pre_hooks,
                    post: post_hooks,
                };
                self.run_snapshot(session, node, sql, file, &hooks)
            }
            (ResourceType::UnitTest, Some(Compiled::UnitTest { test, file })) => {
                self.run_unit_test(session, node, test, file)
            }
            (ResourceType::UnitTest, Some(Compiled::UnitTestPending)) => {
                match (self.compile_unit_test)(session, node) {
                    Ok((test, file)) => self.run_unit_test(session, node, &test, &file),
                    Err(d) => failed(node, d),
                }
            }
            (
                ResourceType::Test,
                Some(Compiled::Sql {
                    sql,
                    file,
                    config_calls,
                    ..
                }),
            ) => self.run_test(session, node, sql, file, config_calls),
            _ => NodeResult {
                status: Status::Error,
                message: format!("{} was not compiled", node.unique_id),
                ..NodeResult::skipped(&node.unique_id, String::new())
            },
        }
    }
}

/// A node declared in a YAML file (a generic test, an assertion, a YAML
/// snapshot): its compiled and run files go in a folder named after the YAML file.
fn defined_in_yaml(node: &ParsedNode) -> bool {
    node.generic_test.is_some()
        || node
            .original_file_path
            .extension()
            .is_some_and(|e| e == "yml" || e == "yaml")
}

/// The compiled file's path for a node: `target/compiled/<project>/<file>`.
pub fn compiled_path(target: &Path, project: &str, node: &ParsedNode) -> PathBuf {
    let base = target
        .join("compiled")
        .join(project)
        .join(&node.original_file_path);
    if let Some(u) = &node.unit_test {
        base.join(format!("{}__{}.sql", u.def.model, node.name))
    } else if defined_in_yaml(node) {
        base.join(&node.path)
    } else {
        base
    }
}
