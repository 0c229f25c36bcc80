//! `run-operation`: call one macro (the root project's, a package's, or
//! `package.macro`) with `--args` as its keyword arguments, rendered with
//! `execute` true against the target's warehouse, as dbt-core does. What the macro
//! renders is discarded; its `run_query`, `{% call statement %}` and `adapter.*`
//! calls are what it does. Its result is one run_results.json entry with the
//! macro's unique id.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use minijinja::Value;
use serde_json::Value as Json;

use super::{NodeResult, Status};
use crate::adapter::Adapter;
use crate::diagnostics::{Diagnostic, SourceFile, Span};
use crate::project::yaml;
use crate::render::macros::{MacroDef, Origin};
use crate::render::{NodeContext, Phase, RenderShared, Renderer};

/// How one operation ended: its run result, and the error it raised (a
/// compiler error, a failed statement) when it failed.
pub struct OperationOutcome {
    pub result: NodeResult,
    pub error: Option<Diagnostic>,
}

/// Parse `--args` (a YAML or JSON mapping) into the macro's keyword arguments.
pub fn parse_args(text: Option<&str>) -> Result<BTreeMap<String, Json>, Diagnostic> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let file = SourceFile::new("--args", text);
    let node = yaml::parse(&file)?;
    let map = node.expect_map("--args").map_err(|d| {
        d.with_help("pass the macro's arguments as a mapping: --args '{table: orders, days: 7}'")
    })?;
    Ok(map
        .entries()
        .map(|(k, _, v)| (k.to_owned(), v.to_json()))
        .collect())
}

/// The macro `spec` names, as dbt finds it: `package.name` in that package (or
/// the root project, or dbt's own namespace); a bare name in the root project,
/// then the installed packages, then dbt's own macros.
pub fn find_macro<'r>(renderer: &'r Renderer, spec: &str) -> Result<&'r MacroDef, Diagnostic> {
    let registry = &renderer.registry;
    let found = match spec.split_once('.') {
        Some((package, name)) => registry.resolve_in(package, name),
        None => registry
            .project(spec)
            .or_else(|| {
                registry
                    .packages
                    .iter()
                    .find_map(|p| registry.package(p, spec))
            })
            .or_else(|| registry.builtin("dbt", spec)),
    };
    found.ok_or_else(|| unknown_macro(renderer, spec))
}

/// "no macro named x", with the closest names the project and its packages define.
fn unknown_macro(renderer: &Renderer, spec: &str) -> Diagnostic {
    let file = SourceFile::new("MACRO", spec);
    let wanted = spec.rsplit('.').next().unwrap_or(spec);
    let registry = &renderer.registry;
    let mut near: Vec<(f64, String)> = registry
        .by_key
        .keys()
        .filter(|(origin, _)| !matches!(origin, Origin::Builtin(_)))
        .map(|(origin, name)| {
            let shown = match origin {
                Origin::Package(p) => format!("{p}.{name}"),
                _ => name.clone(),
            };
            (strsim::jaro_winkler(wanted, name), shown)
        })
        .filter(|(score, _)| *score >= 0.75)
        .collect();
    near.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    near.truncate(5);
    let help = if near.is_empty() {
        "define the macro in a file under macro-paths, or install the package that has it \
         (`sluice deps`)"
            .to_owned()
    } else {
        let names: Vec<String> = near.into_iter().map(|(_, n)| format!("`{n}`")).collect();
        format!("did you mean {}?", names.join(", "))
    };
    Diagnostic::error(format!(
        "no macro named `{spec}` in the project or any installed package"
    ))
    .with_label(&Span::new(&file, 0, spec.len()), "this macro")
    .with_help(help)
}

/// The macro's unique id, as dbt names it in run_results.json.
fn macro_id(renderer: &Renderer, def: &MacroDef) -> String {
    let package = match &def.origin {
        Origin::Project => renderer.project_name.as_str(),
        Origin::Package(p) => p.as_str(),
        Origin::Builtin(ns) => ns,
    };
    format!("macro.{package}.{}", def.name)
}

/// Call macro `def` with `args` on a session of `adapter`.
pub fn run(
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    adapter: &dyn Adapter,
    def: &MacroDef,
    args: BTreeMap<String, Json>,
) -> OperationOutcome {
    let unique_id = macro_id(renderer, def);
    let started_at = Utc::now();
    let clock = std::time::Instant::now();
    let error = match adapter.session() {
        Err(e) => Some(
            Diagnostic::error(format!("cannot connect to the warehouse: {e}"))
                .with_help("check the target's connection settings (`sluice debug`)"),
        ),
        Ok(mut session) => {
            let package = match &def.origin {
                Origin::Package(p) => p.clone(),
                _ => renderer.project_name.clone(),
            };
            let node = NodeContext {
                this: Value::UNDEFINED,
                // The macro's package is the local namespace its bare calls resolve in.
                model: Value::from_serialize(serde_json::json!({
                    "unique_id": unique_id, "name": def.name,
                    "resource_type": "macro", "package_name": package,
                })),
                config: serde_json::json!({}),
            };
            let kwargs = args
                .into_iter()
                .map(|(k, v)| (k, Value::from_serialize(v)))
                .collect();
            let rendered =
                super::introspect::with_session(session.as_mut(), adapter.dialect(), |i| {
                    renderer.call_macro_with(def, Phase::Compile, shared, node, kwargs, Some(i))
                });
            rendered.err().map(|e| {
                renderer
                    .error(&e)
                    .with_note(format!("while running operation `{unique_id}`"))
            })
        }
    };
    let status = if error.is_some() {
        Status::Error
    } else {
        Status::Success
    };
    let result = NodeResult {
        unique_id,
        status,
        message: String::new(),
        started_at: Some(started_at),
        completed_at: Some(Utc::now()),
        execution_time: clock.elapsed().as_secs_f64(),
        rows_affected: None,
        failures: Some(u64::from(error.is_some())),
        thread_id: "MainThread".to_owned(),
        diagnostic: None,
        invalid_input: false,
        warehouse_seconds: 0.0,
    };
    OperationOutcome { result, error }
}
