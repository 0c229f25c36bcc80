//! Project hooks: `on-run-start` and `on-run-end` of the root project and of every
//! installed package, run as dbt-core 1.11 runs them around `run`, `build`,
//! `seed`, `snapshot` and `test`.
//!
//! - Order: the root project's hooks first, then the packages' (by package name);
//!   within a project, in the order written. dbt-core 1.11 numbers them by that
//!   position in its progress lines (`ops_pkg.on-run-start.4`) and the manifest's
//!   `index`, while their ids keep their place in their own project's list.
//! - Each hook is rendered when it runs, with `execute` true and a warehouse to
//!   query; `on-run-end` also sees `results` (dbt's `RunResult`s: `.status`,
//!   `.node.unique_id`, `.node.name`, `.message`, `.execution_time`, …), `schemas`
//!   and `database_schemas` (where successful relational nodes were built).
//! - A hook whose SQL fails is an error result; the hooks after it (of the same
//!   kind) are skipped, and the nodes still run (dbt's default, without
//!   `--skip-nodes-if-on-run-start-fails`). A hook whose Jinja fails to render
//!   stops the command (exit 2), as in dbt.
//! - Each hook is a run_results.json entry (`operation.<pkg>.<pkg>-on-run-start-0`)
//!   and a manifest node of resource type `operation`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use minijinja::Value;
use serde_json::{json, Value as Json};

use super::{NodeResult, Reporter, Status};
use crate::adapter::Adapter;
use crate::diagnostics::Diagnostic;
use crate::graph::Dag;
use crate::project::{Project, RunHook};
use crate::render::parse::ResourceType;
use crate::render::{NodeContext, RenderShared, Renderer};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookKind {
    Start,
    End,
}

impl HookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::Start => "on-run-start",
            HookKind::End => "on-run-end",
        }
    }
}

/// One hook of one project.
pub struct ProjectHook<'p> {
    /// The project (root or package) whose project file declares it.
    pub package: &'p str,
    pub kind: HookKind,
    /// Its position in the project's list, from 0.
    pub index: usize,
    /// Its position among the hooks of its kind, in run order, from 0.
    pub position: usize,
    pub hook: &'p RunHook,
    /// The project file, as dbt's `original_file_path` ("./dbt_project.yml").
    pub original_file_path: String,
    /// The project file's text (its sha256 is the node's checksum).
    pub file_text: &'p str,
}

impl ProjectHook<'_> {
    /// dbt's node name: `pkg-on-run-start-0`.
    pub fn name(&self) -> String {
        format!("{}-{}-{}", self.package, self.kind.as_str(), self.index)
    }

    pub fn unique_id(&self) -> String {
        format!("operation.{}.{}", self.package, self.name())
    }

    /// How dbt shows it in progress lines: `pkg.on-run-start.<position>`.
    pub fn label(&self) -> String {
        format!("{}.{}.{}", self.package, self.kind.as_str(), self.position)
    }

    /// Where its compiled SQL is written, relative to the target path.
    pub fn compiled_path(&self) -> PathBuf {
        Path::new("compiled")
            .join(self.package)
            .join(&self.original_file_path)
            .join("hooks")
            .join(format!("{}.sql", self.name()))
    }
}

/// The hooks of `kind` of the project and its packages, in the order dbt runs them.
pub fn project_hooks(project: &Project, kind: HookKind) -> Vec<ProjectHook<'_>> {
    let mut packages: Vec<&Project> = project.packages.iter().collect();
    packages.sort_by(|a, b| a.name().cmp(b.name()));
    packages.insert(0, project);
    let mut out = Vec::new();
    for p in packages {
        let list = match kind {
            HookKind::Start => &p.file.on_run_start,
            HookKind::End => &p.file.on_run_end,
        };
        let file_name = p
            .file
            .file
            .path
            .file_name()
            .map_or_else(|| "dbt_project.yml".into(), |n| n.to_string_lossy());
        for (index, hook) in list.iter().enumerate() {
            out.push(ProjectHook {
                package: p.name(),
                kind,
                index,
                position: out.len(),
                hook,
                original_file_path: format!("./{file_name}"),
                file_text: &p.file.file.text,
            });
        }
    }
    out
}

/// Every hook, on-run-start's then on-run-end's (for the manifest).
pub fn all_hooks(project: &Project) -> Vec<ProjectHook<'_>> {
    let mut hooks = project_hooks(project, HookKind::Start);
    hooks.extend(project_hooks(project, HookKind::End));
    hooks
}

/// A hook's SQL as it ran, for the artifacts.
pub struct CompiledHook {
    pub unique_id: String,
    pub sql: String,
    /// Relative to the project directory, as dbt writes it.
    pub compiled_path: String,
}

/// Runs the project hooks of one invocation.
pub struct HookRunner<'a> {
    pub renderer: &'a Renderer,
    pub project: &'a Project,
    pub dag: &'a Dag,
    pub shared: Arc<RenderShared>,
    pub reporter: &'a Reporter,
    /// The database relations are in when a node names none (`database_schemas`).
    pub database: Option<String>,
}

impl HookRunner<'_> {
    /// Run the on-run-start hooks, then `nodes`, then the on-run-end hooks: every
    /// result in that order, and the error of an on-run-end hook that failed to
    /// render (the results are written all the same, as dbt does). An on-run-start
    /// hook that fails to render stops everything.
    pub fn around(
        &self,
        adapter: &dyn Adapter,
        compiled: &mut Vec<CompiledHook>,
        nodes: impl FnOnce() -> Vec<NodeResult>,
    ) -> Result<(Vec<NodeResult>, Option<Diagnostic>), Diagnostic> {
        let mut results = self.run_start(adapter, compiled)?;
        results.extend(nodes());
        match self.run_end(adapter, &results, compiled) {
            Ok(end) => {
                results.extend(end);
                Ok((results, None))
            }
            Err(d) => Ok((results, Some(d))),
        }
    }

    /// Run the `on-run-start` hooks.
    pub fn run_start(
        &self,
        adapter: &dyn Adapter,
        compiled: &mut Vec<CompiledHook>,
    ) -> Result<Vec<NodeResult>, Diagnostic> {
        self.run_kind(adapter, HookKind::Start, Vec::new(), compiled)
    }

    /// Run the `on-run-end` hooks; `results` are the run's results so far.
    pub fn run_end(
        &self,
        adapter: &dyn Adapter,
        results: &[NodeResult],
        compiled: &mut Vec<CompiledHook>,
    ) -> Result<Vec<NodeResult>, Diagnostic> {
        let (schemas, database_schemas) = self.schemas(results);
        let extra = vec![
            ("results", self.results_value(results)),
            ("schemas", Value::from_serialize(schemas)),
            ("database_schemas", Value::from_serialize(database_schemas)),
        ];
        self.run_kind(adapter, HookKind::End, extra, compiled)
    }

    fn run_kind(
        &self,
        adapter: &dyn Adapter,
        kind: HookKind,
        extra: Vec<(&'static str, Value)>,
        compiled: &mut Vec<CompiledHook>,
    ) -> Result<Vec<NodeResult>, Diagnostic> {
        let hooks = project_hooks(self.project, kind);
        if hooks.is_empty() {
            return Ok(Vec::new());
        }
        let mut session = adapter.session().map_err(|e| {
            Diagnostic::error(format!(
                "cannot connect to the warehouse to run the {} hooks: {e}",
                kind.as_str()
            ))
        })?;
        let total = hooks.len();
        let s = if total == 1 { "" } else { "s" };
        self.reporter
            .info(&format!("Running {total} {} hook{s}", kind.as_str()));
        let mut results = Vec::with_capacity(total);
        let mut failed = false;
        for (i, hook) in hooks.iter().enumerate() {
            let number = i + 1;
            let label = hook.label();
            if failed {
                let mut r = NodeResult::skipped(&hook.unique_id(), format!("{label} skipped"));
                r.failures = Some(1);
                r.thread_id = "main".to_owned();
                self.reporter.hook_finished(number, total, &label, &r);
                results.push(r);
                continue;
            }
            let started_at = Utc::now();
            let clock = std::time::Instant::now();
            let rendered =
                super::introspect::with_session(session.as_mut(), adapter.dialect(), |i| {
                    self.renderer.render_str_extra(
                        &hook.hook.sql,
                        &self.shared,
                        self.context(hook),
                        Some(i),
                        extra.clone(),
                    )
                })
                .map_err(|e| {
                    self.renderer
                        .error(&e)
                        .with_label(&hook.hook.span, format!("in this {} hook", kind.as_str()))
                        .with_note(format!("while rendering {label}"))
                })?;
            self.reporter.hook_started(number, total, &label);
            let sql = hook_sql(&rendered);
            let path = self.write_compiled(hook, &sql);
            let outcome = if sql.trim().is_empty() {
                Ok(())
            } else {
                session.execute_atomic(std::slice::from_ref(&sql))
            };
            let (status, message, diagnostic) = match outcome {
                Ok(()) => (Status::Success, format!("{label} passed"), None),
                Err(e) => {
                    failed = true;
                    let d = Diagnostic::error(format!("{label} failed: {}", e.0))
                        .with_label(&hook.hook.span, format!("this {} hook", kind.as_str()))
                        .with_note(format!("compiled code at {path}"));
                    (
                        Status::Error,
                        format!("{label} failed, error:\n {}", e.0),
                        Some(d),
                    )
                }
            };
            let r = NodeResult {
                unique_id: hook.unique_id(),
                status,
                message,
                started_at: Some(started_at),
                completed_at: Some(Utc::now()),
                execution_time: clock.elapsed().as_secs_f64(),
                rows_affected: None,
                failures: Some(u64::from(status != Status::Success)),
                thread_id: "main".to_owned(),
                diagnostic,
                invalid_input: false,
                warehouse_seconds: 0.0,
            };
            self.reporter.hook_finished(number, total, &label, &r);
            compiled.push(CompiledHook {
                unique_id: hook.unique_id(),
                sql,
                compiled_path: path,
            });
            results.push(r);
        }
        Ok(results)
    }

    /// The `model` a hook's render sees: the hook node, in its own package (its
    /// bare macro calls and vars resolve there).
    fn context(&self, hook: &ProjectHook<'_>) -> NodeContext {
        NodeContext {
            this: Value::UNDEFINED,
            model: Value::from_serialize(json!({
                "unique_id": hook.unique_id(), "name": hook.name(),
                "resource_type": "operation", "package_name": hook.package,
                "tags": [hook.kind.as_str()],
            })),
            config: json!({}),
        }
    }

    /// Write the hook's compiled SQL; returns its path relative to the project.
    /// A file that cannot be written only loses the copy on disk.
    fn write_compiled(&self, hook: &ProjectHook<'_>, sql: &str) -> String {
        let target = self.project.target_path();
        let path = target.join(hook.compiled_path());
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&path, sql);
        let rel = target.strip_prefix(&self.project.root).unwrap_or(target);
        rel.join(hook.compiled_path())
            .to_string_lossy()
            .into_owned()
    }

    /// `schemas` and `database_schemas`: where the relational nodes that
    /// succeeded were built.
    fn schemas(&self, results: &[NodeResult]) -> (Vec<String>, Vec<(Option<String>, String)>) {
        let mut pairs = BTreeSet::new();
        for r in results {
            if matches!(r.status, Status::Error | Status::Fail | Status::Skipped) {
                continue;
            }
            let Some(node) = self.dag.get(&r.unique_id) else {
                continue;
            };
            if !matches!(
                node.resource_type,
                ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
            ) {
                continue;
            }
            if let Some(rel) = &node.relation {
                let db = rel.database.clone().or_else(|| self.database.clone());
                pairs.insert((db, rel.schema.clone()));
            }
        }
        let schemas: BTreeSet<String> = pairs.iter().map(|(_, s)| s.clone()).collect();
        (schemas.into_iter().collect(), pairs.into_iter().collect())
    }

    /// `results` as dbt's on-run-end hooks see them: every node's result, and the
    /// on-run-start hooks that failed.
    fn results_value(&self, results: &[NodeResult]) -> Value {
        let hooks = all_hooks(self.project);
        let list: Vec<Json> = results
            .iter()
            .filter_map(|r| {
                let node = match self.dag.get(&r.unique_id) {
                    Some(n) => self.node_json(n),
                    None => {
                        let hook = hooks.iter().find(|h| h.unique_id() == r.unique_id)?;
                        if r.status != Status::Error {
                            return None;
                        }
                        json!({
                            "unique_id": r.unique_id, "name": hook.name(),
                            "resource_type": "operation", "package_name": hook.package,
                            "original_file_path": hook.original_file_path,
                            "tags": [hook.kind.as_str()], "config": {},
                        })
                    }
                };
                Some(run_result_json(r, node))
            })
            .collect();
        Value::from_serialize(list)
    }

    fn node_json(&self, n: &crate::render::parse::ParsedNode) -> Json {
        let mut config = n.config.to_json();
        if let Json::Object(m) = &mut config {
            m.insert("materialized".into(), json!(n.materialization.as_str()));
        }
        let rel = n.relation.as_ref();
        json!({
            "unique_id": n.unique_id,
            "name": n.name,
            "resource_type": n.resource_type.as_str(),
            "package_name": n.package_name(),
            "database": rel.and_then(|r| r.database.clone()).or_else(|| self.database.clone()),
            "schema": rel.map(|r| r.schema.clone()),
            "alias": rel.map(|r| r.identifier.clone()),
            "identifier": rel.map(|r| r.identifier.clone()),
            "relation_name": rel.map(|r| self.renderer.printed_relation_name(r)),
            "fqn": n.fqn,
            "tags": n.tags(),
            "config": config,
            "original_file_path": n.original_file_path.to_string_lossy(),
            "path": n.path.to_string_lossy(),
        })
    }
}

/// One result as dbt's `RunResult` reads in Jinja.
fn run_result_json(r: &NodeResult, node: Json) -> Json {
    let adapter_response = match (r.status, r.rows_affected) {
        (Status::Skipped | Status::Error, _) => json!({}),
        (_, Some(rows)) => {
            json!({"_message": format!("INSERT {rows}"), "code": "INSERT", "rows_affected": rows})
        }
        _ => json!({"_message": "OK"}),
    };
    json!({
        "status": r.status.as_str(),
        "message": if r.message.is_empty() { Json::Null } else { json!(r.message) },
        "execution_time": r.execution_time,
        "failures": r.failures,
        "thread_id": if r.thread_id.is_empty() { "main" } else { r.thread_id.as_str() },
        "adapter_response": adapter_response,
        "timing": [],
        "agate_table": Json::Null,
        "batch_results": Json::Null,
        "node": node,
    })
}

/// The SQL of a rendered hook: dbt also accepts a JSON object
/// (`{"sql": "...", "transaction": false}`).
fn hook_sql(rendered: &str) -> String {
    let trimmed = rendered.trim();
    if trimmed.starts_with('{') {
        if let Ok(Json::Object(m)) = serde_json::from_str::<Json>(trimmed) {
            if let Some(Json::String(sql)) = m.get("sql") {
                return sql.clone();
            }
        }
    }
    rendered.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_may_be_a_json_object() {
        assert_eq!(
            hook_sql(r#" {"sql": "vacuum", "transaction": false} "#),
            "vacuum"
        );
        assert_eq!(hook_sql("select 1"), "select 1");
        assert_eq!(hook_sql("{not json} select"), "{not json} select");
    }
}
