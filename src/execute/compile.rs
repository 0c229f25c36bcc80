//! The compile step: render the selected nodes for the target, inject the CTEs
//! they read, write `target/compiled/**`, and check the SQL.
//!
//! Most nodes are compiled before anything runs. A node whose render queries the
//! warehouse (found by its parse render, or by a compile render that reached an
//! introspective call) is [`Compiled::Late`]: the scheduler compiles it with
//! [`Compiler::compile_late`] on its worker's session, once its parents are built.
//! A node whose compile or SQL check fails is [`Compiled::Failed`]: an error of
//! that node alone, so the rest of the DAG still builds.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use petgraph::graph::NodeIndex;
use rayon::prelude::*;

use super::materialize::{self, Compiled};
use crate::adapter::Session;
use crate::diagnostics::{Diagnostic, SourceFile, Span};
use crate::graph::Dag;
use crate::project::{Materialization, Project, SqlCheck, WarehouseKind};
use crate::render::compile::{self, inject_ctes, RawSql};
use crate::render::introspect::{self, Introspector};
use crate::render::parse::{DependencyTarget, ParsedNode, ResourceType};
use crate::render::{RenderShared, Renderer, Resolved};
use crate::sql;

/// CTE name → (SQL, the CTEs it uses).
type Ctes = HashMap<String, (String, Vec<String>)>;

/// What compiling before the run keeps for the nodes compiled during it.
#[derive(Default)]
pub struct LateState {
    pub shared: Option<Arc<RenderShared>>,
    ctes: Ctes,
    fresh: bool,
}

/// The compile step for one invocation.
pub struct Compiler<'a> {
    pub renderer: &'a Renderer,
    pub dag: &'a Dag,
    pub project: &'a Project,
    pub shared: Arc<RenderShared>,
    /// The render state unit tests type their inputs with (never deferred).
    pub undeferred: Option<Arc<RenderShared>>,
}

/// Compiled nodes, and what the caller reports.
pub struct CompileOutput {
    pub compiled: HashMap<NodeIndex, Compiled>,
    pub warnings: Vec<Diagnostic>,
    /// Errors that stop the command before anything runs (a malformed seed, a
    /// unit test that cannot be built).
    pub errors: Vec<Diagnostic>,
    pub late: LateState,
}

/// Render one node: models and singular tests from their template (hooks
/// included), generic tests through their test macro.
fn render_one(
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    dag: &Dag,
    idx: NodeIndex,
    introspector: Option<Arc<dyn Introspector>>,
) -> Result<RawSql, Diagnostic> {
    let node = dag.node(idx);
    match (&node.template, &node.generic_test) {
        (Some(_), _) => compile::render_node_with(renderer, shared, node, introspector),
        (None, Some(test)) => {
            let attached = test.attached_to.as_ref().and_then(|id| dag.get(id));
            crate::testing::compile_generic(renderer, shared, node, attached, introspector)
        }
        _ => Ok(RawSql::default()),
    }
}

/// Write a node's compiled SQL under `target/compiled/`; `fresh` when that folder
/// did not exist before this compile. Keeps it as a source file for diagnostics.
pub fn write_compiled_file(
    project: &Project,
    node: &ParsedNode,
    sql: &str,
    fresh: bool,
) -> Result<Arc<SourceFile>, Diagnostic> {
    let (path, file) = compiled_file(project, node, sql);
    write_compiled(project.target_path(), &path, &file, sql, fresh)?;
    Ok(file)
}

/// Where a node's compiled SQL goes, and that SQL as a source file (its path
/// relative to the project) for diagnostics.
fn compiled_file(project: &Project, node: &ParsedNode, sql: &str) -> (PathBuf, Arc<SourceFile>) {
    let path = materialize::compiled_path(project.target_path(), project.name(), node);
    let display = path
        .strip_prefix(&project.root)
        .unwrap_or(&path)
        .to_path_buf();
    (path, SourceFile::new(display, sql))
}

/// Write a compiled file atomically: a write that fails (a full disk) leaves the
/// previous file, and no empty or temporary one.
fn write_compiled(
    target: &Path,
    path: &Path,
    file: &Arc<SourceFile>,
    sql: &str,
    fresh: bool,
) -> Result<(), Diagnostic> {
    // A node's name is part of the path: it must not lead out of the target path.
    crate::confine::check(target, path).map_err(|why| {
        Diagnostic::error(format!(
            "sluice will not write {}: {why}",
            file.path.display()
        ))
        .with_label(&Span::file_start(file), "this compiled file")
        .with_help("rename the node: a name holds no `/`, `\\` or `..`; or remove the symlink")
    })?;
    // An unchanged file is left alone: reading it is cheaper than rewriting
    // it (no dirty pages, no journal), and its modification time stays.
    if !fresh && std::fs::read(path).is_ok_and(|old| old == sql.as_bytes()) {
        return Ok(());
    }
    let mut written = crate::atomic_file::write(path, sql.as_bytes());
    if written.is_err() {
        // The folder is made on the first miss only: most writes find it.
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        written = crate::atomic_file::write(path, sql.as_bytes());
    }
    written.map_err(|e| {
        Diagnostic::error(format!("cannot write {}: {e}", file.path.display()))
            .with_label(&Span::file_start(file), "this compiled file")
            .with_help(
                "free space on the disk that holds the target path (or fix its \
                 permissions) and run again; the previous artifacts are unchanged",
            )
    })
}

/// A model that compiles to no statement or to several: its located error.
fn statement_error(
    node: &ParsedNode,
    tokens: &sql::Tokens,
    compiled: &Arc<SourceFile>,
) -> Option<Diagnostic> {
    match sql::count_statements(tokens) {
        sql::StatementCount::One => None,
        sql::StatementCount::Empty => Some(
            Diagnostic::error(format!(
                "model `{}` compiles to no SQL statement (only whitespace or comments)",
                node.name
            ))
            .with_label(&node.span, "renders to nothing")
            .with_note(format!("compiled to {}", compiled.path.display()))
            .with_help(
                "a model is one SELECT statement: write one, or disable the model with \
                 `{{ config(enabled=false) }}`",
            ),
        ),
        sql::StatementCount::Several { line, column } => {
            let offset = compiled.offset_of(line, column.saturating_sub(1));
            Some(
                Diagnostic::error(format!(
                    "model `{}` compiles to more than one SQL statement",
                    node.name
                ))
                .with_label(
                    &Span::new(compiled, offset, offset + 1),
                    "a second statement starts here",
                )
                .with_note(format!(
                    "compiled from {}",
                    node.original_file_path.display()
                ))
                .with_help(
                    "a model is one SELECT statement: remove the `;` and what follows, or \
                     move other statements into a pre_hook/post_hook",
                ),
            )
        }
    }
}

impl Compiler<'_> {
    /// Inject CTEs, write the compiled file, and check the SQL: the node's
    /// compiled form (or its error), the check's warnings, and the error of
    /// writing its compiled file, if that failed.
    fn finish(
        &self,
        idx: NodeIndex,
        raw: RawSql,
        ctes: &Ctes,
        fresh: bool,
    ) -> (Compiled, Vec<Diagnostic>, Option<Diagnostic>) {
        let node = self.dag.node(idx);
        let sql = inject_ctes(&raw.sql, &raw.ephemerals, ctes);
        let (path, file) = compiled_file(self.project, node, &sql);
        // The file is written whatever the checks find (the user reads it to fix
        // the SQL); a failed write is reported once, beside the node's own error.
        let written = write_compiled(self.project.target_path(), &path, &file, &sql, fresh);
        let is_model = node.resource_type == ResourceType::Model;
        let mut warns = Vec::new();
        if !is_model && node.sql_check == SqlCheck::Off {
            return self.compiled(node, raw, sql, file, warns, written);
        }
        // Tokenized once, for the statement count and the check alike.
        let tokens = sql::tokenize(&sql, self.renderer.dialect);
        if is_model {
            if let Some(d) = statement_error(node, &tokens, &file) {
                return (Compiled::Failed(d), Vec::new(), written.err());
            }
        }
        if node.sql_check != SqlCheck::Off {
            let warn = node.sql_check == SqlCheck::Warn;
            let mut errs = Vec::new();
            for p in sql::check_tokens(&sql, tokens, self.renderer.dialect) {
                let d = sql::diagnostic(&p, &node.name, &file, warn).with_note(format!(
                    "compiled from {}",
                    node.original_file_path.display()
                ));
                if warn {
                    warns.push(d)
                } else {
                    errs.push(d)
                }
            }
            // The first problem is the node's error; the others are shown as
            // warnings beside it, so none is lost.
            if !errs.is_empty() {
                let first = errs.remove(0);
                warns.extend(errs);
                return (Compiled::Failed(first), warns, written.err());
            }
        }
        self.compiled(node, raw, sql, file, warns, written)
    }

    /// A checked node's compiled form, unless writing its file failed.
    fn compiled(
        &self,
        node: &ParsedNode,
        raw: RawSql,
        sql: String,
        file: Arc<SourceFile>,
        warns: Vec<Diagnostic>,
        written: Result<(), Diagnostic>,
    ) -> (Compiled, Vec<Diagnostic>, Option<Diagnostic>) {
        if let Err(e) = written {
            return (Compiled::Failed(e.clone()), warns, Some(e));
        }
        let compiled = Compiled::Sql {
            sql,
            file,
            incremental: self.shared.incremental.contains(&node.unique_id),
            pre_hooks: raw.pre_hooks,
            post_hooks: raw.post_hooks,
            config_calls: raw.config_calls,
        };
        (compiled, warns, None)
    }

    /// Compile the selected nodes (plus the ephemeral models they inline).
    pub fn compile(&self, selected: &HashSet<NodeIndex>) -> CompileOutput {
        let (dag, renderer, shared) = (self.dag, self.renderer, &self.shared);
        let mut wanted: Vec<NodeIndex> = selected.iter().copied().collect();
        wanted.extend(
            dag.graph
                .node_indices()
                .filter(|i| dag.node(*i).materialization == Materialization::Ephemeral),
        );
        wanted.sort();
        wanted.dedup();

        enum Raw {
            Done(RawSql),
            Late(String),
            Failed(Diagnostic),
        }
        let raw: Vec<(NodeIndex, Raw)> = wanted
            .par_iter()
            .map(|&idx| {
                let node = dag.node(idx);
                // A Python model, a materialization or a `dbt` macro sluice lacks.
                if let Some(c) = &node.cannot_run {
                    return (idx, Raw::Failed(c.diagnostic.clone()));
                }
                if let Some(reason) = &node.reads.introspects {
                    return (idx, Raw::Late(reason.clone()));
                }
                let r = render_one(renderer, shared, dag, idx, None);
                // A compile render that reached an introspective call the parse
                // render did not (behind `is_incremental()`, say) waits for the run.
                if let Some(what) = introspect::take_needs_warehouse() {
                    return (idx, Raw::Late(what.to_owned()));
                }
                match r {
                    Ok(v) => (idx, Raw::Done(v)),
                    Err(d) => (idx, Raw::Failed(d)),
                }
            })
            .collect();

        let mut ctes: Ctes = HashMap::new();
        let mut plain: HashMap<NodeIndex, Raw> = HashMap::new();
        for (idx, r) in raw {
            let node = dag.node(idx);
            if let (Raw::Done(v), Materialization::Ephemeral) = (&r, node.materialization) {
                ctes.insert(
                    format!("{}{}", compile::EPHEMERAL_PREFIX, node.cte_name()),
                    (v.sql.clone(), v.ephemerals.clone()),
                );
            }
            plain.insert(idx, r);
        }

        // Into an empty target there is nothing to compare with.
        let fresh = !self
            .project
            .target_path()
            .join("compiled")
            .join(self.project.name())
            .exists();
        let mut out = HashMap::new();
        let mut errors = Vec::new();
        let mut seed_warnings = Vec::new();
        let mut scratch = None;
        let mut sql_nodes = Vec::new();
        for &idx in selected {
            let node = dag.node(idx);
            match node.resource_type {
                ResourceType::Seed => match materialize::read_seed(node) {
                    Ok(mut data) => {
                        seed_warnings.append(&mut data.warnings);
                        out.insert(idx, Compiled::Seed(data));
                    }
                    Err(e) => errors.push(e),
                },
                // On Snowflake and BigQuery a unit test's inputs are typed from the
                // warehouse's own relations when it runs (its model's parents run
                // first), as dbt does; it is compiled then.
                ResourceType::UnitTest
                    if renderer.target.kind != WarehouseKind::DuckDb
                        || crate::testing::unit::model_introspects(dag, node) =>
                {
                    out.insert(idx, Compiled::UnitTestPending);
                }
                ResourceType::UnitTest => {
                    // Inputs without declared types take them from their upstream,
                    // built empty in a scratch DuckDB.
                    if scratch.is_none() {
                        let typing = self.undeferred.as_ref().unwrap_or(shared);
                        scratch =
                            crate::testing::unit::Scratch::new(renderer, dag, Arc::clone(typing));
                    }
                    // An input the scratch database cannot type (a source, or a
                    // model reading one) is typed from the warehouse's relation, as
                    // dbt does: the test is compiled when it runs, after its parents.
                    let mut untyped = false;
                    let mut types = |t: &DependencyTarget| {
                        let found = scratch.as_mut().map_or_else(Vec::new, |s| s.types(t));
                        untyped |= found.is_empty();
                        found
                    };
                    let compiled =
                        crate::testing::unit::compile(renderer, dag, node, &mut types, None);
                    // A render that reached an introspective call the parse render
                    // did not also waits for the warehouse.
                    let needs_warehouse = introspect::take_needs_warehouse().is_some();
                    if untyped || needs_warehouse {
                        out.insert(idx, Compiled::UnitTestPending);
                        continue;
                    }
                    // A unit test that does not compile is that test's error, as in
                    // dbt; the other nodes still run.
                    match compiled.and_then(|test| {
                        write_compiled_file(self.project, node, &test.sql, fresh)
                            .map(|file| (test, file))
                    }) {
                        Ok((test, file)) => {
                            out.insert(idx, Compiled::UnitTest { test, file });
                        }
                        Err(e) => {
                            out.insert(idx, Compiled::Failed(e));
                        }
                    }
                }
                _ => match plain.remove(&idx) {
                    // A node inlining an ephemeral model that compiles late (it
                    // introspects) compiles late too, with it.
                    Some(Raw::Done(raw)) => match late_cte(&raw.ephemerals, &ctes) {
                        Some(cte) => {
                            let name = cte.trim_start_matches(compile::EPHEMERAL_PREFIX);
                            out.insert(
                                idx,
                                Compiled::Late {
                                    reason: format!(
                                        "it reads ephemeral model `{name}`, which queries the warehouse as it compiles"
                                    ),
                                },
                            );
                        }
                        None => sql_nodes.push((idx, raw)),
                    },
                    Some(Raw::Late(reason)) => {
                        out.insert(idx, Compiled::Late { reason });
                    }
                    Some(Raw::Failed(d)) => {
                        out.insert(idx, Compiled::Failed(d));
                    }
                    None => {}
                },
            }
        }
        let mut checked: Vec<(NodeIndex, Compiled, Vec<Diagnostic>, Option<Diagnostic>)> =
            sql_nodes
                .into_par_iter()
                .map(|(idx, raw)| {
                    let (c, w, failed) = self.finish(idx, raw, &ctes, fresh);
                    (idx, c, w, failed)
                })
                .collect();
        checked.sort_by_key(|c| c.0);
        let mut warnings = seed_warnings;
        // A compiled file that cannot be written (a full disk) stops the command
        // with that file's error, once, and the nodes' own errors beside it: the
        // other files would fail the same way.
        let write_error = checked.iter().find_map(|c| c.3.clone());
        if let Some(e) = &write_error {
            errors.push(e.clone());
        }
        for (idx, compiled, warns, failed) in checked {
            if let (Some(_), Compiled::Failed(d)) = (&write_error, &compiled) {
                // The node's own error, not its write's.
                if failed.as_ref().is_none_or(|f| f.message != d.message) {
                    errors.push(d.clone());
                }
            }
            out.insert(idx, compiled);
            warnings.extend(warns);
        }
        CompileOutput {
            compiled: out,
            warnings,
            errors,
            late: LateState {
                shared: Some(Arc::clone(shared)),
                ctes,
                fresh,
            },
        }
    }

    /// Compile a late node on `session`: its render may query the warehouse,
    /// where its parents are built by now.
    pub fn compile_late(
        &self,
        late: &LateState,
        session: &mut dyn Session,
        idx: NodeIndex,
    ) -> Result<(Compiled, Vec<Diagnostic>), Diagnostic> {
        let dag = self.dag;
        let shared = late.shared.as_ref().unwrap_or(&self.shared);
        let raw = super::introspect::with_session(session, self.renderer.dialect, |i| {
            let raw = render_one(self.renderer, shared, dag, idx, Some(Arc::clone(&i)))?;
            // Ephemeral models it reads that were themselves late are rendered
            // now, with the same warehouse.
            let mut ctes = late.ctes.clone();
            let mut pending = raw.ephemerals.clone();
            while let Some(cte) = pending.pop() {
                if ctes.contains_key(&cte) {
                    continue;
                }
                let name = cte.trim_start_matches(compile::EPHEMERAL_PREFIX);
                let Some(model) = dag.graph.node_indices().find(|m| {
                    let n = dag.node(*m);
                    n.cte_name() == name && n.materialization == Materialization::Ephemeral
                }) else {
                    continue;
                };
                let inner = render_one(self.renderer, shared, dag, model, Some(Arc::clone(&i)))?;
                pending.extend(inner.ephemerals.iter().cloned());
                ctes.insert(cte, (inner.sql, inner.ephemerals));
            }
            Ok::<_, Diagnostic>((raw, ctes))
        });
        let (raw, ctes) = raw?;
        let (compiled, warnings, _) = self.finish(idx, raw, &ctes, late.fresh);
        match compiled {
            Compiled::Failed(d) => Err(d),
            c => Ok((c, warnings)),
        }
    }

    /// Compile unit test `node` on `session`, when it runs: its inputs typed from
    /// the warehouse's relations, and its model's introspective calls answered
    /// by the warehouse (as dbt compiles every unit test).
    pub fn compile_unit_test_now(
        &self,
        session: &mut dyn Session,
        node: &ParsedNode,
    ) -> Result<(crate::testing::unit::CompiledUnitTest, Arc<SourceFile>), Diagnostic> {
        let dialect = self.renderer.dialect;
        // The inputs' types first: the render below lends the session to the
        // model's introspective calls.
        let types: Vec<(DependencyTarget, Vec<(String, String)>)> =
            crate::testing::unit::input_targets(node)
                .into_iter()
                .map(|t| {
                    let found =
                        crate::testing::unit::warehouse_types(&mut *session, self.dag, dialect, &t);
                    (t, found)
                })
                .collect();
        let mut types = |t: &DependencyTarget| {
            types
                .iter()
                .find(|(input, _)| input == t)
                .map(|(_, found)| found.clone())
                .unwrap_or_default()
        };
        let test = super::introspect::with_session(session, dialect, |i| {
            crate::testing::unit::compile(self.renderer, self.dag, node, &mut types, Some(i))
        })?;
        let file = write_compiled_file(self.project, node, &test.sql, false)?;
        Ok((test, file))
    }

    /// Render a node's hooks of one kind (`pre-hook`/`post-hook`) on `session`,
    /// now: their introspective calls (`adapter.drop_relation(this)`) act at the
    /// moment the hook runs.
    pub fn render_hooks_now(
        &self,
        late: &LateState,
        session: &mut dyn Session,
        idx: NodeIndex,
        key: &str,
    ) -> Result<Vec<String>, Diagnostic> {
        let shared = late.shared.as_ref().unwrap_or(&self.shared);
        let node = self.dag.node(idx);
        super::introspect::with_session(session, self.renderer.dialect, |i| {
            compile::render_hooks(self.renderer, shared, node, key, Some(i))
        })
    }
}

/// The first CTE (of `ephemerals`, or of the ephemeral models they read) that has
/// no compiled SQL yet: its ephemeral model compiles late.
fn late_cte<'a>(ephemerals: &'a [String], ctes: &'a Ctes) -> Option<&'a String> {
    let mut pending: Vec<&String> = ephemerals.iter().collect();
    let mut seen = HashSet::new();
    while let Some(cte) = pending.pop() {
        if !seen.insert(cte) {
            continue;
        }
        match ctes.get(cte) {
            Some((_, inner)) => pending.extend(inner),
            None => return Some(cte),
        }
    }
    None
}

/// What `ref()` and `source()` resolve to for every node of the graph: a
/// relation, or the CTE an ephemeral model is inlined as.
pub fn relations(
    dag: &Dag,
) -> (
    HashMap<String, Resolved>,
    HashMap<(String, String), Resolved>,
) {
    let mut relations = HashMap::new();
    let mut sources = HashMap::new();
    for n in &dag.nodes {
        match (n.resource_type, &n.relation) {
            (ResourceType::Model, Some(_)) if n.materialization == Materialization::Ephemeral => {
                let cte = n.cte_name();
                for key in n.ref_keys() {
                    relations.insert(
                        key,
                        Resolved::Cte(format!("{}{cte}", compile::EPHEMERAL_PREFIX)),
                    );
                }
            }
            (ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot, Some(r)) => {
                for key in n.ref_keys() {
                    relations.insert(key, Resolved::Relation(r.clone()));
                }
            }
            (ResourceType::Source, Some(r)) => {
                if let Some(s) = &n.source_name {
                    sources.insert((s.clone(), n.name.clone()), Resolved::Relation(r.clone()));
                }
            }
            _ => {}
        }
    }
    (relations, sources)
}
