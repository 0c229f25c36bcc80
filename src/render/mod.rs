//! Render stage: Jinja templates → SQL, with minijinja.
//!
//! One [`Renderer`] (one minijinja `Environment`) is built per invocation with every
//! model, singular test and macro file compiled once. A *parse* render of a model
//! records its `ref`/`source`/`config`/`var` calls; after the graph is known, a
//! *compile* render produces the final SQL with relations resolved. Renders are
//! independent, so callers run them in parallel (rayon).

pub mod builtins;
pub mod cache;
pub mod compile;
pub mod context;
pub mod contracts;
pub mod docs;
pub mod exposures;
pub mod flat_graph;
pub mod introspect;
pub mod limits;
pub mod macros;
pub mod parse;
pub mod python;
pub mod versions;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, LazyLock, OnceLock};

use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, UndefinedBehavior};
use regex::Regex;
use serde_json::Value as Json;

pub use context::{Phase, Recorded, Relation, RenderSession, RenderShared, Resolved};
use introspect::Introspector;
use macros::{MacroDef, MacroFn, MacroRegistry, OffsetMap, Origin};

use crate::adapter::{Dialect, RelationName};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceFile, Span};
use crate::project::{Project, WarehouseKind};

/// What templates see as `target`.
#[derive(Clone, Debug)]
pub struct TargetInfo {
    pub name: String,
    pub kind: WarehouseKind,
    pub schema: String,
    pub database: Option<String>,
    /// `target.database` in templates: `database`, or on DuckDB (whose relations
    /// are written without one) the file's catalog, as dbt-duckdb has it.
    pub template_database: Option<String>,
    pub threads: usize,
}

/// A template to render: its name in the environment, its text when the
/// environment does not hold it (a node's source, SQL given inline), and the file
/// its errors point into.
struct TemplateSource<'a> {
    name: &'a str,
    text: Option<&'a str>,
    file: &'a Arc<SourceFile>,
    offsets: Option<OffsetMap>,
    /// Where the rewritten `text` is kept between renders (a node is rendered at
    /// parse and again at compile), if anywhere.
    rewritten: Option<&'a Rewritten>,
}

/// A template's text after [`builtins::rewrite::rewrite`] (`None`: unchanged).
type Rewritten = OnceLock<Option<(String, OffsetMap)>>;

/// A node template's source.
struct NodeSource {
    /// The source when it differs from the file's text (a snapshot block's body).
    text: Option<String>,
    /// Its rewrite, made at its first render.
    rewritten: Rewritten,
}

/// The output of one render.
#[derive(Debug)]
pub struct Rendered {
    pub sql: String,
    pub recorded: Recorded,
}

/// A render that stopped with an error, and what it recorded until then.
#[derive(Debug)]
pub struct RenderFailure {
    pub diagnostic: Diagnostic,
    pub recorded: Recorded,
}

/// Per-node values a render needs.
pub struct NodeContext {
    pub this: Value,
    pub model: Value,
    pub config: Json,
}

/// A template to render: its name, the file errors quote, and its source when
/// that differs from the file's text (a snapshot block's body).
pub type Template = (String, Arc<SourceFile>, Option<String>);

pub struct Renderer {
    env: Environment<'static>,
    pub registry: Arc<MacroRegistry>,
    /// Template name → the original file and, for macro files, the offset map.
    files: HashMap<String, (Arc<SourceFile>, Option<OffsetMap>)>,
    /// Node templates (models, singular tests, snapshots) by name.
    node_sources: HashMap<String, NodeSource>,
    pub dialect: &'static dyn Dialect,
    pub target: TargetInfo,
    pub project_name: String,
    pub vars: BTreeMap<String, Json>,
    /// The vars each installed package's nodes see.
    pub package_vars: HashMap<String, BTreeMap<String, Json>>,
    /// The environment variables renders read (the parse cache depends on them).
    pub env_read: cache::EnvRead,
    /// `flags` (see [`builtins::Flags`]).
    flags: builtins::Flags,
    /// `--store-failures`: tests whose config is silent keep their failing rows.
    pub store_failures: bool,
    /// The `graph` global, filled once the graph is known (see [`flat_graph`]).
    pub graph: Arc<flat_graph::FlatGraph>,
    /// Whether a macro or node template mentions `graph`: only then is it filled.
    pub reads_graph: bool,
}

static REF_CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(ref|source)\s*\(\s*(['"])([^'"]*)['"](\s*,\s*['"]([^'"]*)['"])?"#)
        .expect("static regex is valid")
});

/// The span of the first `ref('name')` (or `source('s', 't')`) call in a file, so an
/// unknown reference is reported where it is written.
pub fn find_call_span(
    file: &Arc<SourceFile>,
    func: &str,
    first: &str,
    second: Option<&str>,
) -> Span {
    for caps in REF_CALL.captures_iter(&file.text) {
        if &caps[1] != func || &caps[3] != first {
            continue;
        }
        match (second, caps.get(5)) {
            (None, _) => {
                let m = caps.get(3).expect("group 3 always matches");
                return Span::new(file, m.start(), m.end());
            }
            (Some(t), Some(m)) if m.as_str() == t => return Span::new(file, m.start(), m.end()),
            (Some(t), None) if &caps[3] == t => {}
            _ => {}
        }
    }
    Span::file_start(file)
}

/// The span of a `ref()` to a version of a model, `ref('name', v=2)` (or
/// `ref('package', 'name', version='2')`), found by the recorded ref key
/// (`name.v2`); a ref key without a version is found as [`find_call_span`] does.
pub fn find_ref_span(file: &Arc<SourceFile>, key: &str) -> Span {
    let (name, version) = parse::split_ref_key(key);
    let Some(version) = version else {
        return find_call_span(file, "ref", key, None);
    };
    let pattern = format!(
        r#"\bref\s*\(\s*(?:['"][^'"]*['"]\s*,\s*)?['"]{}['"]\s*,\s*(?:v|version)\s*=\s*['"]?{}['"]?\s*\)"#,
        regex::escape(name),
        regex::escape(version)
    );
    match Regex::new(&pattern).ok().and_then(|re| re.find(&file.text)) {
        Some(m) => Span::new(file, m.start(), m.end()),
        None => find_call_span(file, "ref", name, None),
    }
}

/// The `ref(...)` and `source(...)` calls written in a file, in order: what a
/// parse render that stopped early would have recorded.
pub fn written_calls(file: &SourceFile) -> (Vec<String>, Vec<(String, String)>) {
    let (mut refs, mut sources) = (Vec::new(), Vec::new());
    for caps in REF_CALL.captures_iter(&file.text) {
        let first = caps[3].to_owned();
        let second = caps.get(5).map(|m| m.as_str().to_owned());
        match (&caps[1], second) {
            ("ref", None) => refs.push(first),
            // `ref('package', 'model')`
            ("ref", Some(name)) => refs.push(name),
            (_, Some(table)) => sources.push((first, table)),
            _ => {}
        }
    }
    (refs, sources)
}

/// The node templates of a project and its packages: models, singular tests and
/// snapshot blocks.
pub fn templates(project: &Project) -> Vec<Template> {
    let mut templates = Vec::new();
    for p in std::iter::once(project).chain(&project.packages) {
        templates.extend(
            p.models
                .iter()
                .chain(&p.singular_tests)
                .map(|e| (e.rel_path.display().to_string(), Arc::clone(&e.file), None)),
        );
        templates.extend(p.snapshots.iter().map(|s| {
            (
                s.template.clone(),
                Arc::clone(&s.entry.file),
                Some(s.source.clone()),
            )
        }));
    }
    templates
}

impl Renderer {
    /// Build the environment: builtin macros, project macros, and the given node
    /// templates (name → file). Template syntax errors are reported here, all at once.
    pub fn new(
        project: &Project,
        target: TargetInfo,
        cli_vars: &BTreeMap<String, Json>,
        templates: &[Template],
    ) -> Result<Renderer, Diagnostics> {
        let dialect = crate::adapter::dialect(target.kind);
        let mut env = Environment::new();
        // Jinja2's default undefined, which dbt uses: printing one gives '' (packages
        // print variables set in an `{% if %}` branch that did not run), reading
        // an attribute of one fails.
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.set_keep_trailing_newline(true);
        minijinja_contrib::add_to_environment(&mut env);
        builtins::install(&mut env);
        limits::configure(&mut env);

        let mut registry = MacroRegistry {
            project_name: project.name().to_owned(),
            // Only the root project's `dispatch:` counts, as in dbt.
            dispatch_orders: project
                .file
                .dispatch
                .iter()
                .map(|d| (d.macro_namespace.clone(), d.search_order.clone()))
                .collect(),
            ..Default::default()
        };
        let mut files = HashMap::new();
        let mut errors = Vec::new();
        for (namespace, name, text) in macros::BUILTIN_FILES {
            let file = SourceFile::new(*name, *text);
            let pre = macros::preprocess(text);
            for (macro_name, internal) in pre.macros {
                registry.add(MacroDef {
                    extra_args: pre.extra_args.get(&macro_name).cloned(),
                    name: macro_name,
                    origin: Origin::Builtin(namespace),
                    template: (*name).to_owned(),
                    internal,
                });
            }
            if let Err(e) = env.add_template_owned(*name, pre.source) {
                errors.push(jinja_diagnostic(&file, Some(&pre.offsets), &e));
            }
            files.insert((*name).to_owned(), (file, Some(pre.offsets)));
        }
        for p in std::iter::once(project).chain(&project.packages) {
            let origin = if std::ptr::eq(p, project) {
                Origin::Project
            } else {
                registry.packages.push(p.name().to_owned());
                Origin::Package(p.name().to_owned())
            };
            add_macro_files(&mut env, &mut registry, &mut files, &mut errors, p, origin);
        }
        // Node templates are compiled when rendered and dropped afterwards, never
        // stored in the environment: a stored template costs ~17 KB, which for a
        // 10,000-model project is most of the process's memory (and fresh memory is
        // slow). A syntax error surfaces at the node's parse render, with its location.
        let mut node_sources = HashMap::with_capacity(templates.len());
        for (name, file, source) in templates {
            let source = NodeSource {
                text: source.clone(),
                rewritten: OnceLock::new(),
            };
            node_sources.insert(name.clone(), source);
            files.insert(name.clone(), (Arc::clone(file), None));
        }
        let registry = Arc::new(registry);
        context::install(&mut env, &registry, dialect);
        let graph = Arc::new(flat_graph::FlatGraph::default());
        env.add_global("graph", Value::from_dyn_object(Arc::clone(&graph)));
        let reads_graph = files
            .values()
            .any(|(f, _)| flat_graph::mentions_graph(&f.text));
        let sources = files.iter().map(|(k, (f, _))| (k.clone(), Arc::clone(f)));
        builtins::install_context(&mut env, &registry, Arc::new(sources.collect()));
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let vars = project_vars(&[project], project.name(), cli_vars);
        let package_vars = project
            .packages
            .iter()
            .map(|p| {
                let v = project_vars(&[p, project], p.name(), cli_vars);
                (p.name().to_owned(), v)
            })
            .collect();
        Ok(Renderer {
            env,
            registry,
            files,
            node_sources,
            dialect,
            target,
            project_name: project.name().to_owned(),
            vars,
            package_vars,
            env_read: Default::default(),
            flags: Default::default(),
            store_failures: false,
            graph,
            reads_graph,
        })
    }

    /// The run's id, start time and command, as templates see them
    /// (`invocation_id`, `run_started_at`, `flags.WHICH`).
    pub fn set_run_info(&mut self, run: &builtins::RunInfo) {
        builtins::set_run_globals(&mut self.env, run);
        self.flags = builtins::Flags::new(run);
        self.store_failures = run.store_failures;
    }

    pub fn target_value(&self) -> Value {
        let t = &self.target;
        Value::from_serialize(serde_json::json!({
            "name": t.name,
            "target_name": t.name,
            "type": t.kind.as_str(),
            "schema": t.schema,
            "dataset": t.schema,
            "database": t.template_database,
            "project": t.database,
            "threads": t.threads,
            "profile_name": self.project_name,
        }))
    }

    /// The database a rendered relation without one is printed with: on DuckDB the
    /// file's catalog, as dbt-duckdb prints `"catalog"."schema"."table"` (the
    /// relation string lands in rows: dbt_utils' `_dbt_source_relation`). The
    /// relations themselves stay written without it.
    pub fn printed_database(&self) -> Option<String> {
        match self.target.kind {
            WarehouseKind::DuckDb => self.target.template_database.clone(),
            _ => None,
        }
    }

    /// A relation as dbt prints it in `relation_name` (manifest.json, hooks'
    /// `results`): with the DuckDB file's catalog, as dbt-duckdb writes it.
    pub fn printed_relation_name(&self, relation: &RelationName) -> String {
        self.dialect
            .render_relation(&with_database(relation, self.printed_database().as_deref()))
    }

    /// A node's relation as templates see it (`this`, a tested model).
    pub fn relation_value(&self, relation: &RelationName) -> Value {
        Relation::value(
            with_database(relation, self.printed_database().as_deref()),
            self.dialect,
        )
    }

    /// The shared state for a set of renders.
    pub fn shared(
        &self,
        relations: HashMap<String, Resolved>,
        sources: HashMap<(String, String), Resolved>,
    ) -> Arc<RenderShared> {
        Arc::new(self.shared_state(relations, sources))
    }

    /// Like [`Renderer::shared`], for a caller that adjusts it (unit tests).
    pub fn shared_state(
        &self,
        relations: HashMap<String, Resolved>,
        sources: HashMap<(String, String), Resolved>,
    ) -> RenderShared {
        RenderShared {
            project_name: self.project_name.clone(),
            vars: self.vars.clone(),
            package_vars: self.package_vars.clone(),
            registry: Arc::clone(&self.registry),
            dialect: self.dialect,
            target: self.target_value(),
            target_schema: self.target.schema.clone(),
            relations,
            sources,
            macro_overrides: HashMap::new(),
            env_overrides: HashMap::new(),
            incremental: HashSet::new(),
            full_refresh: false,
            empty: false,
            store_failures: self.store_failures,
            env_read: Arc::clone(&self.env_read),
            printed_database: self.printed_database(),
        }
    }

    fn context(&self, session: RenderSession, node: NodeContext) -> BTreeMap<&'static str, Value> {
        let phase = session.phase;
        let target = session.shared.target.clone();
        let full_refresh = session.shared.full_refresh;
        let empty = session.shared.empty;
        let session = Arc::new(session);
        let execute = introspect::ExecuteFlag {
            value: phase == Phase::Compile,
            session: Arc::clone(&session),
        };
        BTreeMap::from([
            ("__sluice", Value::from_dyn_object(session)),
            ("this", node.this),
            ("model", node.model),
            ("target", target),
            ("execute", Value::from_object(execute)),
            ("project_name", Value::from(self.project_name.clone())),
            ("flags", self.flags.get(full_refresh, empty)),
        ])
    }

    /// Render one template.
    pub fn render(
        &self,
        template: &str,
        phase: Phase,
        shared: &Arc<RenderShared>,
        node: NodeContext,
    ) -> Result<Rendered, Diagnostic> {
        self.render_with(template, phase, shared, node, None)
    }

    /// Render one template; `introspector` answers its warehouse queries.
    pub fn render_with(
        &self,
        template: &str,
        phase: Phase,
        shared: &Arc<RenderShared>,
        node: NodeContext,
        introspector: Option<Arc<dyn Introspector>>,
    ) -> Result<Rendered, Diagnostic> {
        self.render_recording(template, phase, shared, node, introspector)
            .map_err(|f| f.diagnostic)
    }

    /// [`Renderer::render_with`], keeping on failure what the render recorded
    /// before it stopped (a parse render's refs and config so far).
    pub fn render_recording(
        &self,
        template: &str,
        phase: Phase,
        shared: &Arc<RenderShared>,
        node: NodeContext,
        introspector: Option<Arc<dyn Introspector>>,
    ) -> Result<Rendered, Box<RenderFailure>> {
        let (file, offsets) = self.file(template);
        let node_source = self.node_sources.get(template);
        let source = TemplateSource {
            name: template,
            text: node_source.map(|s| s.text.as_deref().unwrap_or(&file.text)),
            file: &file,
            offsets,
            rewritten: node_source.map(|s| &s.rewritten),
        };
        self.render_source(source, phase, shared, node, introspector)
    }

    /// Render SQL given on the command line (`--inline`) as a model's compile
    /// render: refs, sources, macros and vars resolve; errors point into `file`.
    pub fn render_inline(
        &self,
        file: &Arc<SourceFile>,
        shared: &Arc<RenderShared>,
        node: NodeContext,
    ) -> Result<Rendered, Diagnostic> {
        let name = file.path.display().to_string();
        let source = TemplateSource {
            name: &name,
            text: Some(&file.text),
            file,
            offsets: None,
            rewritten: None,
        };
        self.render_source(source, Phase::Compile, shared, node, None)
            .map_err(|f| f.diagnostic)
    }

    fn render_source(
        &self,
        source: TemplateSource<'_>,
        phase: Phase,
        shared: &Arc<RenderShared>,
        node: NodeContext,
        introspector: Option<Arc<dyn Introspector>>,
    ) -> Result<Rendered, Box<RenderFailure>> {
        let TemplateSource {
            name: template,
            text,
            file,
            mut offsets,
            rewritten: kept,
        } = source;
        let env: &Environment<'_> = &self.env;
        let made;
        let tmpl = match text {
            Some(source) => {
                let rewritten = match kept {
                    Some(kept) => kept.get_or_init(|| builtins::rewrite::rewrite(source)),
                    None => {
                        made = builtins::rewrite::rewrite(source);
                        &made
                    }
                };
                match rewritten {
                    Some((text, map)) => {
                        offsets = Some(map.clone());
                        env.template_from_named_str(template, text)
                    }
                    None => env.template_from_named_str(template, source),
                }
            }
            None => env.get_template(template),
        }
        .map_err(|e| {
            Box::new(RenderFailure {
                diagnostic: jinja_diagnostic(file, offsets.as_ref(), &e),
                recorded: Recorded::default(),
            })
        })?;
        // Errors in this template point at `file` when its text is not one the
        // renderer registered (rewritten, or given inline).
        let own_file = offsets.is_some() || !self.files.contains_key(template);
        let session = RenderSession {
            phase,
            shared: Arc::clone(shared),
            config: node.config.clone(),
            is_incremental: builds_incrementally(shared, &node),
            package: node_package(&node, &self.project_name),
            recorded: Default::default(),
            introspection: introspect::RenderIntrospection::new(introspector),
        };
        let ctx = self.context(session, node);
        let session_value = ctx["__sluice"].clone();
        limits::start_node();
        let _rendering = crate::memory::rendering(&file.path);
        let mut out = limits::BoundedOutput::default();
        let sql = match tmpl.render_captured_to(&ctx, &mut out) {
            // minijinja writes whole `str`s, so the bytes are UTF-8.
            Ok(_) => Ok(String::from_utf8(out.text)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())),
            Err(_) if out.overflowed => Err(jinja_diagnostic(file, None, &limits::output_error())
                .with_label(&Span::file_start(file), "rendering this file")),
            Err(e) => Err(match e.name() {
                Some(name) if name == template && own_file => {
                    self.located(&e, file, offsets.as_ref())
                }
                Some(name) if name == template => self.error(&e),
                // The error is in a macro's file: say which node's render
                // reached it, since the call to fix may be in the node.
                _ => self
                    .error(&e)
                    .with_note(format!("reached while rendering {}", file.path.display())),
            }),
        };
        let recorded = session_value
            .downcast_object_ref::<RenderSession>()
            .map(RenderSession::take_recorded)
            .unwrap_or_default();
        match sql {
            Ok(sql) => Ok(Rendered { sql, recorded }),
            Err(d) => Err(Box::new(RenderFailure {
                diagnostic: d,
                recorded,
            })),
        }
    }

    /// Render a template given as text (a hook), in a node's compile context.
    pub fn render_str(
        &self,
        source: &str,
        shared: &Arc<RenderShared>,
        node: NodeContext,
    ) -> Result<String, minijinja::Error> {
        self.render_str_with(source, shared, node, None)
    }

    /// [`Renderer::render_str`] with a warehouse to query (hooks, operations).
    pub fn render_str_with(
        &self,
        source: &str,
        shared: &Arc<RenderShared>,
        node: NodeContext,
        introspector: Option<Arc<dyn Introspector>>,
    ) -> Result<String, minijinja::Error> {
        self.render_str_extra(source, shared, node, introspector, Vec::new())
    }

    /// [`Renderer::render_str_with`] with more names in the context (an
    /// `on-run-end` hook's `results`, `schemas`, `database_schemas`); the macros
    /// it calls see them too.
    pub fn render_str_extra(
        &self,
        source: &str,
        shared: &Arc<RenderShared>,
        node: NodeContext,
        introspector: Option<Arc<dyn Introspector>>,
        extra: Vec<(&'static str, Value)>,
    ) -> Result<String, minijinja::Error> {
        let session = RenderSession {
            phase: Phase::Compile,
            shared: Arc::clone(shared),
            config: node.config.clone(),
            is_incremental: builds_incrementally(shared, &node),
            package: node_package(&node, &self.project_name),
            recorded: Default::default(),
            introspection: introspect::RenderIntrospection::new(introspector),
        };
        let mut ctx = self.context(session, node);
        ctx.extend(extra);
        match builtins::rewrite::rewrite(source) {
            Some((rewritten, _)) => self.env.render_str(&rewritten, &ctx),
            None => self.env.render_str(source, &ctx),
        }
    }

    /// Call a macro by its resolved definition with keyword arguments (generic tests,
    /// `generate_schema_name`), in a node's context. String arguments that are
    /// `ref(...)`/`source(...)` expressions are evaluated first, as dbt does.
    pub fn call_macro(
        &self,
        def: &MacroDef,
        phase: Phase,
        shared: &Arc<RenderShared>,
        node: NodeContext,
        args: Vec<(String, Value)>,
    ) -> Result<Rendered, minijinja::Error> {
        self.call_macro_with(def, phase, shared, node, args, None)
    }

    /// [`Renderer::call_macro`] with a warehouse to query (`run-operation`).
    pub fn call_macro_with(
        &self,
        def: &MacroDef,
        phase: Phase,
        shared: &Arc<RenderShared>,
        node: NodeContext,
        args: Vec<(String, Value)>,
        introspector: Option<Arc<dyn Introspector>>,
    ) -> Result<Rendered, minijinja::Error> {
        let session = RenderSession {
            phase,
            shared: Arc::clone(shared),
            config: node.config.clone(),
            is_incremental: false,
            package: node_package(&node, &self.project_name),
            recorded: Default::default(),
            introspection: introspect::RenderIntrospection::new(introspector),
        };
        let ctx = self.context(session, node);
        let session_value = ctx["__sluice"].clone();
        let tmpl = self.env.template_from_str("")?;
        let captured = tmpl.render_captured(&ctx)?;
        let state = captured.state();
        let mut kwargs = Vec::with_capacity(args.len());
        for (k, v) in args {
            let v = match v.as_str() {
                Some(s) if is_relation_expression(s) => {
                    self.env.compile_expression(s)?.eval(&ctx)?
                }
                _ => v,
            };
            kwargs.push((k, v));
        }
        let value = MacroFn::value(def).call(state, &[Value::from(Kwargs::from_iter(kwargs))])?;
        let recorded = session_value
            .downcast_object_ref::<RenderSession>()
            .map(RenderSession::take_recorded)
            .unwrap_or_default();
        Ok(Rendered {
            sql: value.to_string(),
            recorded,
        })
    }

    fn file(&self, template: &str) -> (Arc<SourceFile>, Option<OffsetMap>) {
        match self.files.get(template) {
            Some((f, o)) => (Arc::clone(f), o.clone()),
            None => (SourceFile::new(template, ""), None),
        }
    }

    /// A minijinja error as a located diagnostic.
    pub fn error(&self, e: &minijinja::Error) -> Diagnostic {
        let (file, offsets) = match e.name() {
            Some(name) => self.file(name),
            None => (SourceFile::new("<template>", ""), None),
        };
        self.located(e, &file, offsets.as_ref())
    }

    fn located(
        &self,
        e: &minijinja::Error,
        file: &Arc<SourceFile>,
        offsets: Option<&OffsetMap>,
    ) -> Diagnostic {
        let mut d = jinja_diagnostic(file, offsets, e);
        if e.kind() == minijinja::ErrorKind::TooManyArguments && d.help.is_none() {
            d.help = Some(
                "the macro or function called here takes fewer arguments: check the call \
                 against its signature (a package macro's signature can change between \
                 package versions)"
                    .to_owned(),
            );
        }
        if e.kind() == minijinja::ErrorKind::UnknownFunction {
            // minijinja says "name is unknown": suggest the closest macro.
            let name = e
                .detail()
                .and_then(|m| m.split_whitespace().next())
                .unwrap_or_default();
            d.help = Some(macro_suggestion(self, name));
        }
        d
    }

    /// The macro a generic test `name` (maybe `namespace.name`) of the root project
    /// runs.
    pub fn test_macro(&self, test_name: &str) -> Option<&MacroDef> {
        self.test_macro_for(test_name, &self.project_name)
    }

    /// The macro a generic test declared in `package`'s YAML runs. Unqualified, it
    /// is looked up as dbt renders it: in that package, then the root project, then
    /// the builtins (dbt-core parses a test named after another package's macro but
    /// fails it at run time with "'test_x' is undefined"; sluice rejects it at parse).
    pub fn test_macro_for(&self, test_name: &str, package: &str) -> Option<&MacroDef> {
        let local = (package != self.project_name).then_some(package);
        match test_name.split_once('.') {
            Some((ns, name)) => self.registry.resolve_in(ns, &format!("test_{name}")),
            None => self
                .registry
                .resolve_local(local, &format!("test_{test_name}")),
        }
    }

    /// Where the `{% materialization name, adapter %}` dbt would use for `adapter`
    /// is written (the root project's, else a package's; `adapter`-specific before
    /// `default`), or `None` when the project and its packages define none.
    pub fn materialization_definition(&self, name: &str, adapter: &str) -> Option<Span> {
        let def = [adapter, "default"].iter().find_map(|a| {
            let macro_name = macros::materialization_macro(name, a);
            self.registry.project(&macro_name).or_else(|| {
                self.registry
                    .packages
                    .iter()
                    .find_map(|p| self.registry.package(p, &macro_name))
            })
        })?;
        let (file, _) = self.file(&def.template);
        let at = Regex::new(&format!(r"materialization\s+{}\b", regex::escape(name)))
            .ok()
            .and_then(|re| re.find(&file.text).map(|m| (m.start(), m.end())));
        Some(match at {
            Some((s, e)) => Span::new(&file, s, e),
            None => Span::file_start(&file),
        })
    }

    pub fn macro_names(&self) -> Vec<&str> {
        self.registry.names().collect()
    }

    /// The installed packages that define generic test `name` (unqualified).
    pub fn packages_with_test(&self, name: &str) -> Vec<&str> {
        let macro_name = format!("test_{name}");
        self.registry
            .packages
            .iter()
            .filter(|p| self.registry.package(p, &macro_name).is_some())
            .map(String::as_str)
            .collect()
    }
}

/// The installed package a node belongs to (`model.package_name`), or `None` for
/// the root project's nodes.
fn node_package(node: &NodeContext, root: &str) -> Option<String> {
    let p = node.model.get_attr("package_name").ok()?;
    let p = p.as_str()?;
    (p != root).then(|| p.to_owned())
}

/// Add the macro files of project `p` (the root project or a package) to the
/// environment and the registry, under `origin`.
fn add_macro_files(
    env: &mut Environment<'static>,
    registry: &mut MacroRegistry,
    files: &mut HashMap<String, (Arc<SourceFile>, Option<OffsetMap>)>,
    errors: &mut Vec<Diagnostic>,
    p: &Project,
    origin: Origin,
) {
    let mut seen: HashMap<String, Span> = HashMap::new();
    for m in &p.macros {
        let pre = macros::preprocess(&m.file.text);
        let template = m.rel_path.display().to_string();
        for (macro_name, internal) in pre.macros {
            let span = find_macro_span(&m.file, &macro_name);
            if let Some(prev) = seen.get(&macro_name) {
                errors.push(
                    Diagnostic::error(format!("macro `{macro_name}` is defined twice"))
                        .with_label(&span, "defined again here")
                        .with_label(prev, "first defined here")
                        .with_help("rename or remove one of the two macros"),
                );
                continue;
            }
            seen.insert(macro_name.clone(), span);
            registry.add(MacroDef {
                extra_args: pre.extra_args.get(&macro_name).cloned(),
                name: macro_name,
                origin: origin.clone(),
                template: template.clone(),
                internal,
            });
        }
        if let Err(e) = env.add_template_owned(template.clone(), pre.source) {
            errors.push(jinja_diagnostic(&m.file, Some(&pre.offsets), &e));
        }
        files.insert(template, (Arc::clone(&m.file), Some(pre.offsets)));
    }
}

/// The vars a node of project `name` sees ([`crate::project::project_yml::merged_vars`]).
fn project_vars(
    layers: &[&Project],
    name: &str,
    cli_vars: &BTreeMap<String, Json>,
) -> BTreeMap<String, Json> {
    let files: Vec<_> = layers.iter().map(|p| &p.file).collect();
    crate::project::project_yml::merged_vars(&files, name, cli_vars)
}

fn is_relation_expression(s: &str) -> bool {
    let t = s.trim_start();
    (t.starts_with("ref(") || t.starts_with("source(")) && t.trim_end().ends_with(')')
}

fn find_macro_span(file: &Arc<SourceFile>, name: &str) -> Span {
    let needle = Regex::new(&format!(
        r"(macro|test)\s+{}\s*\(",
        regex::escape(name.trim_start_matches("test_"))
    ))
    .ok()
    .and_then(|re| re.find(&file.text).map(|m| (m.start(), m.end())));
    match needle {
        Some((s, e)) => Span::new(file, s, e),
        None => Span::file_start(file),
    }
}

/// Turn a minijinja error into a diagnostic pointing at the template line.
pub fn jinja_diagnostic(
    file: &Arc<SourceFile>,
    offsets: Option<&OffsetMap>,
    e: &minijinja::Error,
) -> Diagnostic {
    use minijinja::ErrorKind as K;
    let detail = e.detail().map(str::to_owned);
    let (message, help) = match e.kind() {
        K::SyntaxError => (
            format!("Jinja syntax error: {}", detail.clone().unwrap_or_default()),
            Some(
                "check that every `{{`, `{%` and `{#` is closed and every block has its `end` tag"
                    .to_owned(),
            ),
        ),
        K::UnknownFunction => {
            let d = detail.clone().unwrap_or_default();
            (
                // dbt's own dispatch message says what is missing.
                if d.starts_with("In dispatch:") {
                    d
                } else {
                    format!("unknown function or macro: {d}")
                },
                Some("define the macro under macro-paths, or check its spelling".to_owned()),
            )
        }
        K::UndefinedError => (
            detail
                .clone()
                .unwrap_or_else(|| "undefined value".to_owned()),
            Some(
                "check the variable's spelling, or guard it with `{% if x is defined %}`"
                    .to_owned(),
            ),
        ),
        K::OutOfFuel => (limits::out_of_fuel_message(), limits::help(e)),
        _ => (
            detail.clone().unwrap_or_else(|| e.kind().to_string()),
            limits::help(e),
        ),
    };
    let mut d = Diagnostic::error(message);
    let span = match (e.range(), e.line()) {
        (Some(r), _) if !file.text.is_empty() => {
            let start = offsets.map_or(r.start, |o| o.to_original(r.start));
            let end = offsets.map_or(r.end, |o| o.to_original(r.end));
            Some(Span::new(file, start, end.max(start)))
        }
        (_, Some(line)) if !file.text.is_empty() => Some(Span::line(file, line)),
        _ => None,
    };
    if let Some(span) = span {
        d = d.with_label(&span, "here");
    }
    if let Some(h) = help {
        d = d.with_help(h);
    }
    d
}

/// "did you mean" for a name among macros, for undefined-function errors.
pub fn macro_suggestion(renderer: &Renderer, name: &str) -> String {
    let names = renderer.macro_names();
    match crate::diagnostics::did_you_mean(name, names.iter().copied()) {
        Some(best) => {
            format!("did you mean `{best}`? (macros are defined in files under macro-paths)")
        }
        None => "define the macro in a file under macro-paths, or check its spelling".to_owned(),
    }
}

/// Whether the node being rendered is an incremental model this run builds
/// incrementally (its table exists and it is not being fully refreshed).
fn builds_incrementally(shared: &RenderShared, node: &NodeContext) -> bool {
    !shared.incremental.is_empty()
        && node
            .model
            .get_attr("unique_id")
            .ok()
            .and_then(|id| id.as_str().map(|id| shared.incremental.contains(id)))
            .unwrap_or(false)
}

/// `relation` with `database` filled in where it has none.
pub(crate) fn with_database(relation: &RelationName, database: Option<&str>) -> RelationName {
    match (&relation.database, database) {
        (None, Some(db)) => RelationName {
            database: Some(db.to_owned()),
            ..relation.clone()
        },
        _ => relation.clone(),
    }
}
