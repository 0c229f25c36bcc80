//! The Jinja context dbt projects expect: `ref`, `source`, `config`, `var`,
//! `env_var`, `this`, `target`, `adapter`, `exceptions`, `log`, `return` and friends.
//!
//! Global functions find the render in progress through the `__sluice` context
//! value (a [`RenderSession`]), which records what a parse render sees (refs,
//! sources, config calls) and resolves relations in a compile render.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use minijinja::value::{Kwargs, Object, ObjectRepr, Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State};
use serde_json::Value as Json;

use super::macros::{self, BareMacro, MacroFn, MacroRegistry, Namespace};
use crate::adapter::{Dialect, RelationKind, RelationName};
use crate::project::project_yml::passed_default;
use crate::project::WarehouseKind;

/// Parse renders discover dependencies and config; compile renders produce SQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Parse,
    Compile,
}

/// How `ref('x')` or `source('s', 't')` resolves in a compile render.
#[derive(Clone, Debug)]
pub enum Resolved {
    Relation(RelationName),
    /// A CTE of this name, injected at the top of the compiled SQL: an ephemeral
    /// model (`__dbt__cte__<name>`) or a unit test's given rows.
    Cte(String),
}

/// What every render of one invocation shares.
pub struct RenderShared {
    pub project_name: String,
    pub vars: BTreeMap<String, Json>,
    /// The vars a package's nodes see, by package (dbt's order: the package's own
    /// vars, then the root project's global and package-scoped ones, then `--vars`).
    pub package_vars: HashMap<String, BTreeMap<String, Json>>,
    pub registry: Arc<MacroRegistry>,
    pub dialect: &'static dyn Dialect,
    pub target: Value,
    pub target_schema: String,
    /// Model and seed relations, filled in once the graph is known.
    pub relations: HashMap<String, Resolved>,
    /// `(source, table)` → relation.
    pub sources: HashMap<(String, String), Resolved>,
    /// Unit tests' `overrides: {macros: ...}`: a macro's name → the value it returns.
    pub macro_overrides: HashMap<String, Json>,
    /// Unit tests' `overrides: {env_vars: ...}`.
    pub env_overrides: HashMap<String, String>,
    /// Incremental models (unique ids) whose table exists and that this run builds
    /// incrementally: `is_incremental()` is true while rendering them.
    pub incremental: HashSet<String>,
    /// `--full-refresh` (`flags.FULL_REFRESH`).
    pub full_refresh: bool,
    /// `--empty` (`flags.EMPTY`): every `ref`/`source` reads zero rows.
    pub empty: bool,
    /// `--store-failures` (`flags.STORE_FAILURES`).
    pub store_failures: bool,
    /// Every environment variable a render read (the parse cache depends on them).
    pub env_read: super::cache::EnvRead,
    /// The database relations without one are printed with (DuckDB's catalog).
    pub printed_database: Option<String>,
}

impl RenderShared {
    /// A relation as templates see it, printed with its database.
    pub fn relation_value(&self, relation: &RelationName) -> Value {
        Relation::value(
            super::with_database(relation, self.printed_database.as_deref()),
            self.dialect,
        )
    }
}

impl RenderSession {
    /// A relation or CTE as templates see it; a CTE is recorded for injection.
    /// Under `--empty` it renders as a subquery of no rows, as dbt's
    /// `render_limited` does (unit tests never set it: their inputs are CTEs).
    fn resolve(&self, resolved: &Resolved) -> Value {
        let relation = match resolved {
            Resolved::Relation(r) => self.shared.relation_value(r),
            Resolved::Cte(cte) => {
                self.record(|r| {
                    if !r.ephemerals.contains(cte) {
                        r.ephemerals.push(cte.clone())
                    }
                });
                Relation::cte(cte.clone())
            }
        };
        if self.shared.empty {
            if let Some(r) = relation.downcast_object_ref::<Relation>() {
                return r.limited_to_no_rows();
            }
        }
        relation
    }
}

/// What a parse render recorded.
#[derive(Debug, Default, Clone)]
pub struct Recorded {
    pub refs: Vec<String>,
    pub sources: Vec<(String, String)>,
    pub config: Vec<(String, Json)>,
    pub vars: BTreeSet<String>,
    pub env_vars: BTreeSet<String>,
    /// Project macros called (directly or through other macros).
    pub macros: BTreeSet<String>,
    /// The CTEs (by name) a compile render used.
    pub ephemerals: Vec<String>,
    /// The first introspective call a parse render made (`run_query`, reading
    /// `execute`, ...): the node is compiled just before it runs.
    pub introspects: Option<String>,
}

/// The render in progress, reachable from every function through `__sluice`.
pub struct RenderSession {
    pub phase: Phase,
    pub shared: Arc<RenderShared>,
    /// The node's merged config (compile phase), for `config.get`.
    pub config: Json,
    /// `is_incremental()` for this render.
    pub is_incremental: bool,
    /// The installed package the node belongs to (`None`: the root project).
    pub package: Option<String>,
    pub recorded: Mutex<Recorded>,
    /// The warehouse this render may query, and its statements' results.
    pub introspection: super::introspect::RenderIntrospection,
}

impl std::fmt::Debug for RenderSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RenderSession")
    }
}

impl Object for RenderSession {}

impl RenderSession {
    fn record(&self, f: impl FnOnce(&mut Recorded)) {
        // The lock is only held for a push; poisoning would mean a panic mid-push.
        let mut r = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut r);
    }

    /// Note an introspective call (the first one is kept: it says why).
    pub fn note_introspection(&self, what: &str) {
        self.record(|r| {
            if r.introspects.is_none() {
                r.introspects = Some(what.to_owned());
            }
        });
    }

    pub fn take_recorded(&self) -> Recorded {
        std::mem::take(&mut *self.recorded.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

pub(crate) fn session(state: &State) -> Result<Arc<RenderSession>, Error> {
    state
        .lookup("__sluice")
        .and_then(|v| v.downcast_object::<RenderSession>())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                "this function is only available while rendering a node",
            )
        })
}

/// A relation as templates see it: prints as its quoted name, and has `.schema`,
/// `.identifier`, `.database`, `.name`, `.type`, `render()`, `include(...)`,
/// `quote(...)`.
#[derive(Debug)]
pub struct Relation {
    pub name: RelationName,
    pub rendered: String,
    /// A table or a view, when known (from the warehouse, or `api.Relation.create`).
    pub kind: Option<RelationKind>,
    /// The dialect that renders it (none for a CTE).
    pub dialect: Option<&'static dyn Dialect>,
    /// What `{{ relation }}` prints when it is not `rendered`: `--empty`'s
    /// zero-row subquery (`.render()` still gives the name, as in dbt).
    pub printed: Option<String>,
}

impl Relation {
    pub fn value(name: RelationName, dialect: &'static dyn Dialect) -> Value {
        Relation::with_kind(name, None, dialect)
    }

    pub fn with_kind(
        name: RelationName,
        kind: Option<RelationKind>,
        dialect: &'static dyn Dialect,
    ) -> Value {
        let rendered = dialect.render_relation(&name);
        Value::from_object(Relation {
            name,
            rendered,
            kind,
            dialect: Some(dialect),
            printed: None,
        })
    }

    /// dbt's `render_limited()` with limit 0, for `--empty`: no subquery alias, as
    /// dbt-duckdb, dbt-snowflake and dbt-bigquery render it (`require_alias`
    /// false), so a model's own `from {{ ref('x') }} as x` stays valid.
    fn limited_to_no_rows(&self) -> Value {
        Value::from_object(Relation {
            name: self.name.clone(),
            rendered: self.rendered.clone(),
            kind: self.kind,
            dialect: self.dialect,
            printed: Some(format!(
                "(select * from {} where false limit 0)",
                self.rendered
            )),
        })
    }

    pub fn cte(cte: String) -> Value {
        Value::from_object(Relation {
            name: RelationName {
                database: None,
                schema: String::new(),
                identifier: cte.clone(),
            },
            rendered: cte,
            kind: None,
            dialect: None,
            printed: None,
        })
    }

    /// The adapter's relation class in dbt (`DuckDBRelation`, ...).
    fn class_name(&self) -> &'static str {
        match self.dialect.map(|d| d.kind()) {
            Some(WarehouseKind::DuckDb) => "DuckDBRelation",
            Some(WarehouseKind::Snowflake) => "SnowflakeRelation",
            Some(WarehouseKind::BigQuery) => "BigQueryRelation",
            None => "BaseRelation",
        }
    }

    /// dbt's `incorporate(path={...}, type=...)`: a copy with other name parts or
    /// another kind (`this.incorporate(type='table')` before `drop_relation`).
    fn incorporate(&self, args: &[Value]) -> Result<Value, Error> {
        let (kwargs,): (Kwargs,) = minijinja::value::from_args(args)?;
        let mut name = self.name.clone();
        if let Some(path) = kwargs.get::<Option<Value>>("path")? {
            for (key, slot) in [
                ("schema", &mut name.schema),
                ("identifier", &mut name.identifier),
            ] {
                if let Some(v) = path
                    .get_attr(key)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                {
                    *slot = v;
                }
            }
            if let Ok(v) = path.get_attr("database") {
                if !v.is_undefined() {
                    name.database = v.as_str().map(str::to_owned);
                }
            }
        }
        let kind = match kwargs.get::<Option<String>>("type")? {
            Some(t) => Some(RelationKind::from_table_type(&t)),
            None => self.kind,
        };
        kwargs.assert_all_used()?;
        Ok(match self.dialect {
            Some(dialect) => Relation::with_kind(name, kind, dialect),
            None => Value::from_object(Relation {
                name,
                rendered: self.rendered.clone(),
                kind,
                dialect: None,
                printed: None,
            }),
        })
    }

    /// `include(database=False, ...)`: the relation rendered without some parts.
    fn include(&self, args: &[Value]) -> Result<Value, Error> {
        let (kwargs,): (Kwargs,) = minijinja::value::from_args(args)?;
        let mut parts = [true; 3];
        for (i, key) in ["database", "schema", "identifier"].iter().enumerate() {
            if let Some(b) = kwargs.get::<Option<bool>>(key)? {
                parts[i] = b;
            }
        }
        kwargs.assert_all_used()?;
        let Some(dialect) = self.dialect else {
            return Ok(Value::from(self.rendered.clone()));
        };
        let mut out = Vec::new();
        if let (true, Some(db)) = (parts[0], &self.name.database) {
            out.push(dialect.quote(db));
        }
        if parts[1] && !self.name.schema.is_empty() {
            out.push(dialect.quote(&self.name.schema));
        }
        if parts[2] {
            out.push(dialect.quote(&self.name.identifier));
        }
        Ok(Value::from_object(Relation {
            name: self.name.clone(),
            rendered: out.join("."),
            kind: self.kind,
            dialect: self.dialect,
            printed: None,
        }))
    }
}

impl Object for Relation {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "database" => Some(Value::from(self.name.database.clone())),
            "schema" => Some(Value::from(self.name.schema.clone())),
            "identifier" | "name" | "table" => Some(Value::from(self.name.identifier.clone())),
            "type" => Some(Value::from(self.kind.map(RelationKind::as_sql))),
            "is_table" => Some(Value::from(self.kind == Some(RelationKind::Table))),
            "is_view" => Some(Value::from(self.kind == Some(RelationKind::View))),
            "is_cte" => Some(Value::from(self.dialect.is_none())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "render" => Ok(Value::from(self.rendered.clone())),
            "include" => self.include(args),
            // dbt's `BaseRelation.get`: a relation is a mapping of its fields, and
            // `get('metadata')` names its class (dbt_utils' `_is_relation` checks
            // that it ends with `Relation`).
            "get" => {
                let (key, default): (Value, Option<Value>) = minijinja::value::from_args(args)?;
                if key.as_str() == Some("metadata") {
                    return Ok(Value::from_serialize(
                        serde_json::json!({"type": self.class_name()}),
                    ));
                }
                Ok(self
                    .get_value(&key)
                    .unwrap_or_else(|| default.unwrap_or(Value::from(()))))
            }
            // sluice always quotes; the policy does not change the rendering.
            "quote" => Ok(Value::from_dyn_object(Arc::clone(self))),
            "incorporate" => self.incorporate(args),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.printed.as_deref().unwrap_or(&self.rendered))
    }
}

/// The version a `ref()` pins with `v=` or `version=`, as text (`2`, `1.5`).
pub(super) fn ref_version(kwargs: &Kwargs) -> Result<Option<String>, Error> {
    let mut version = None;
    for key in kwargs.args() {
        if !matches!(key, "v" | "version") {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("ref() takes no argument `{key}`: pin a version with `v=` (or `version=`)"),
            ));
        }
        let value: Value = kwargs.get(key)?;
        if !value.is_none() && !value.is_undefined() {
            version = Some(value.to_string());
        }
    }
    Ok(version)
}

fn ref_fn(state: &State, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let s = session(state)?;
    let version = ref_version(&kwargs)?;
    let (name, kwargs_ok) = match args.as_slice() {
        [name] => (name.as_str(), true),
        // ref('package', 'model'): the root project or an installed package (node
        // names are unique across packages, so the name alone resolves it).
        [package, name]
            if package.as_str() == Some(s.shared.project_name.as_str())
                || package
                    .as_str()
                    .is_some_and(|p| s.shared.registry.packages.iter().any(|q| q == p)) =>
        {
            (name.as_str(), true)
        }
        [package, _] => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "ref() names package `{}`, which is neither this project (`{}`) nor an installed package",
                    package, s.shared.project_name
                ),
            ))
        }
        _ => (None, false),
    };
    let name = match (name, kwargs_ok) {
        (Some(n), true) => n.to_owned(),
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "ref() takes a model name: ref('my_model')",
            ))
        }
    };
    let key = super::parse::ref_key(&name, version.as_deref());
    match s.phase {
        Phase::Parse => {
            s.record(|r| r.refs.push(key.clone()));
            let placeholder = RelationName {
                database: None,
                schema: s.shared.target_schema.clone(),
                identifier: name,
            };
            Ok(Relation::value(placeholder, s.shared.dialect))
        }
        Phase::Compile => match s.shared.relations.get(&key) {
            Some(resolved) => Ok(s.resolve(resolved)),
            None => Err(Error::new(
                ErrorKind::InvalidOperation,
                match version {
                    Some(v) => format!("ref('{name}', v='{v}') names no version of a model"),
                    None => format!("ref('{name}') names no model or seed"),
                },
            )),
        },
    }
}

fn source_fn(state: &State, source_name: String, table: String) -> Result<Value, Error> {
    let s = session(state)?;
    match s.phase {
        Phase::Parse => {
            s.record(|r| r.sources.push((source_name.clone(), table.clone())));
            let placeholder = RelationName {
                database: None,
                schema: source_name,
                identifier: table,
            };
            Ok(Relation::value(placeholder, s.shared.dialect))
        }
        Phase::Compile => match s.shared.sources.get(&(source_name.clone(), table.clone())) {
            Some(resolved) => Ok(s.resolve(resolved)),
            None => Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("source('{source_name}', '{table}') is not defined"),
            )),
        },
    }
}

/// `config(...)` records settings while parsing; `config.get(k, default)` reads them.
#[derive(Debug)]
struct ConfigFn;

impl Object for ConfigFn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let s = session(state)?;
        let (positional, kwargs): (Rest<Value>, Kwargs) = minijinja::value::from_args(args)?;
        if !positional.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "config() takes keyword arguments only: config(materialized='table')",
            ));
        }
        // Recorded in a compile render too: a generic test's macro sets
        // `fail_calc` with it (the test's wrapper reads it).
        for key in kwargs.args() {
            let value: Value = kwargs.get(key)?;
            let json = serde_json::to_value(&value).unwrap_or(Json::Null);
            s.record(|r| r.config.push((key.to_owned(), json)));
        }
        Ok(Value::from(""))
    }

    fn call_method(
        self: &Arc<Self>,
        state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let s = session(state)?;
        let (key, default): (String, Option<Value>) = minijinja::value::from_args(args)?;
        let found = match s.phase {
            Phase::Compile => s.config.get(&key).cloned(),
            Phase::Parse => {
                let r = s.recorded.lock().unwrap_or_else(|p| p.into_inner());
                r.config
                    .iter()
                    .rev()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.clone())
            }
        };
        match (method, found) {
            ("get", Some(v)) | ("require", Some(v)) => Ok(Value::from_serialize(&v)),
            ("get", None) => Ok(default.unwrap_or_default()),
            ("require", None) => Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("config `{key}` is required but not set"),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

fn var_fn(state: &State, name: String, rest: Rest<Value>) -> Result<Value, Error> {
    let default = passed_default(&rest);
    let s = session(state)?;
    s.record(|r| {
        r.vars.insert(name.clone());
    });
    let vars = match &s.package {
        Some(p) => s.shared.package_vars.get(p).unwrap_or(&s.shared.vars),
        None => &s.shared.vars,
    };
    match (vars.get(&name), default) {
        (Some(Json::String(raw)), _) if raw.contains("{{") || raw.contains("{%") => {
            render_var(state, &name, raw)
        }
        (Some(v), _) => Ok(Value::from_serialize(v)),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "required var `{name}` is not set: define it under `vars:` in project.yml, \
                 pass --vars '{{{name}: ...}}', or give var() a default"
            ),
        )),
    }
}

thread_local! {
    /// How many var renders are in progress on this thread (a var's Jinja may read
    /// other vars).
    static VAR_RENDER_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Deeper than this, a var's Jinja reads itself (directly or through others).
const VAR_RENDER_LIMIT: usize = 16;

/// A string var with Jinja is rendered where `var()` is called, in the caller's
/// context, as dbt-core's `get_rendered_var` does: Fivetran's packages set
/// `ticket: "{{ source('zendesk', 'ticket') }}"` and read `var('ticket')`.
fn render_var(state: &State, name: &str, raw: &str) -> Result<Value, Error> {
    let depth = VAR_RENDER_DEPTH.with(|d| d.get());
    if depth >= VAR_RENDER_LIMIT {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("var `{name}` reads itself: its Jinja reads vars {VAR_RENDER_LIMIT} deep"),
        ));
    }
    let ctx: BTreeMap<&str, Value> = macros::SHARED_CONTEXT
        .iter()
        .filter_map(|k| state.lookup(k).map(|v| (*k, v)))
        .collect();
    VAR_RENDER_DEPTH.with(|d| d.set(depth + 1));
    let rendered = state.env().render_str(raw, ctx);
    VAR_RENDER_DEPTH.with(|d| d.set(depth));
    rendered.map(Value::from).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "cannot render var `{name}` (`{raw}`): {}",
                e.detail().unwrap_or("template error")
            ),
        )
    })
}

fn env_var_fn(state: &State, name: String, default: Option<Value>) -> Result<Value, Error> {
    if let Ok(s) = session(state) {
        s.record(|r| {
            r.env_vars.insert(name.clone());
        });
        s.shared
            .env_read
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.clone());
        if let Some(v) = s.shared.env_overrides.get(&name) {
            return Ok(Value::from(v.clone()));
        }
    }
    match (std::env::var(&name), default) {
        (Ok(v), _) => Ok(Value::from(v)),
        (Err(_), Some(d)) => Ok(d),
        (Err(_), None) => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "environment variable `{name}` is not set: export it, or give env_var() a default"
            ),
        )),
    }
}

fn log_fn(state: &State, msg: Value, info: Option<bool>, kwargs: Kwargs) -> Result<Value, Error> {
    let info = info
        .or(kwargs.get::<Option<bool>>("info")?)
        .unwrap_or(false);
    let compiling = session(state)
        .map(|s| s.phase == Phase::Compile)
        .unwrap_or(false);
    if compiling && info {
        crate::output::note(crate::output::Event::new(
            "JinjaLogInfo",
            crate::output::Level::Info,
            msg.to_string(),
        ));
    }
    Ok(Value::from(""))
}

fn is_incremental_fn(state: &State) -> bool {
    // A unit test's override wins; otherwise the run decided before rendering
    // (the model's table exists and is not being fully refreshed).
    session(state)
        .ok()
        .map(|s| {
            s.shared
                .macro_overrides
                .get("is_incremental")
                .and_then(Json::as_bool)
                .unwrap_or(s.is_incremental)
        })
        .unwrap_or(false)
}

/// `should_store_failures()`: the test's `store_failures` config (after
/// `store_failures_as`, as dbt's), else `--store-failures`. Test macros pick
/// their column list with it (dbt_utils' `expression_is_true`).
fn should_store_failures_fn(state: &State) -> bool {
    session(state).ok().is_some_and(|s| {
        crate::testing::store_failures::configured_in(|key| s.config.get(key))
            .unwrap_or(s.shared.store_failures)
    })
}

/// Note that the render in progress called project macro `name`.
/// The installed package of the node being rendered (`None`: the root project).
pub fn local_package(state: &State) -> Option<String> {
    session(state).ok().and_then(|s| s.package.clone())
}

pub fn record_macro(state: &State, name: &str) {
    if let Ok(s) = session(state) {
        s.record(|r| {
            r.macros.insert(name.to_owned());
        });
    }
}

/// A unit test's override for macro `name`, or for its `namespace.name`
/// (`audit_helper._get_comparison_bounds`, `dbt.current_timestamp`), if the render
/// in progress has one. The qualified name is built only when there are overrides:
/// this runs on every macro call.
pub fn macro_override(
    state: &State,
    name: &str,
    qualified: impl FnOnce() -> Option<String>,
) -> Option<Value> {
    let s = session(state).ok()?;
    let overrides = &s.shared.macro_overrides;
    if overrides.is_empty() {
        return None;
    }
    overrides
        .get(name)
        .or_else(|| qualified().and_then(|q| overrides.get(&q)))
        .map(Value::from_serialize)
}

/// `adapter`: `dispatch(name, macro_namespace)` and `quote(identifier)`.
#[derive(Debug)]
struct AdapterObject {
    registry: Arc<MacroRegistry>,
    dialect: &'static dyn Dialect,
}

impl std::fmt::Debug for dyn Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind().as_str())
    }
}

impl Object for AdapterObject {
    fn call_method(
        self: &Arc<Self>,
        state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if let Some(result) = super::introspect::adapter_method(state, self.dialect, method, args) {
            return result;
        }
        match method {
            "dispatch" => {
                let (name, namespace, kwargs): (String, Option<String>, Kwargs) =
                    minijinja::value::from_args(args)?;
                let namespace = match namespace {
                    Some(ns) => Some(ns),
                    None => kwargs.get::<Option<String>>("macro_namespace")?,
                };
                kwargs.assert_all_used()?;
                let adapter = self.dialect.kind().as_str();
                let local = local_package(state);
                let found =
                    self.registry
                        .dispatch(&name, namespace.as_deref(), adapter, local.as_deref());
                match found {
                    Some(def) => Ok(MacroFn::value(def)),
                    None => {
                        // One of dbt-core's own macros: sluice lacks it, and only
                        // the nodes calling it fail.
                        let builtin = namespace.as_deref() == Some("dbt");
                        if builtin {
                            super::macros::note_lacks_builtin();
                        }
                        // dbt's message; UnknownFunction (for a macro the project
                        // lacks) adds the help to define it.
                        Err(Error::new(
                            if builtin {
                                ErrorKind::InvalidOperation
                            } else {
                                ErrorKind::UnknownFunction
                            },
                            format!(
                                "In dispatch: No macro named '{name}' found within namespace: '{}' (searched for: {})",
                                namespace.as_deref().unwrap_or("None"),
                                self.registry.dispatch_attempts(&name, namespace.as_deref(), adapter),
                            ),
                        ))
                    }
                }
            }
            "quote" => {
                let (identifier,): (String,) = minijinja::value::from_args(args)?;
                Ok(Value::from(self.dialect.quote(&identifier)))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `exceptions`: `raise_compiler_error(msg)` and `warn(msg)`.
#[derive(Debug)]
struct Exceptions;

impl Object for Exceptions {
    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let (msg,): (String,) = minijinja::value::from_args(args)?;
        match method {
            "raise_compiler_error" => Err(Error::new(ErrorKind::InvalidOperation, msg)),
            "warn" => {
                use crate::diagnostics::{event, policy, WarningFate};
                // dbt's warn_or_error: under --warn-error it raises instead.
                match policy().fate(Some(event::JINJA_LOG_WARNING)) {
                    WarningFate::Error => Err(Error::new(ErrorKind::InvalidOperation, msg)),
                    WarningFate::Silence => Ok(Value::from("")),
                    WarningFate::Warn => {
                        crate::output::note(crate::output::Event::new(
                            event::JINJA_LOG_WARNING,
                            crate::output::Level::Warn,
                            format!("warning[{}]: {msg}", event::JINJA_LOG_WARNING),
                        ));
                        Ok(Value::from(""))
                    }
                }
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A bare macro name: the global function that finds and runs the macro.
fn register_macro_globals(env: &mut Environment<'static>, registry: &Arc<MacroRegistry>) {
    let mut names: Vec<&str> = registry.names().collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        if !registry.packages.is_empty() {
            env.add_global(
                name.to_owned(),
                Value::from_object(BareMacro {
                    name: name.to_owned(),
                    registry: Arc::clone(registry),
                }),
            );
        } else if let Some(def) = registry.resolve_bare(name) {
            env.add_global(name.to_owned(), MacroFn::value(def));
        }
    }
}

/// `x is mapping`: a dict, or a relation (a Mapping in dbt, so packages tell
/// relations from strings with it).
fn is_mapping(v: &Value) -> bool {
    v.kind() == minijinja::value::ValueKind::Map || v.downcast_object_ref::<Relation>().is_some()
}

/// Install every dbt context function into `env`.
pub fn install(
    env: &mut Environment<'static>,
    registry: &Arc<MacroRegistry>,
    dialect: &'static dyn Dialect,
) {
    register_macro_globals(env, registry);
    env.add_function("ref", ref_fn);
    env.add_function("source", source_fn);
    env.add_function("var", var_fn);
    env.add_function("env_var", env_var_fn);
    env.add_function("log", log_fn);
    env.add_function("return", macros::return_fn);
    env.add_function("is_incremental", is_incremental_fn);
    env.add_function("should_store_failures", should_store_failures_fn);
    env.add_global("config", Value::from_object(ConfigFn));
    env.add_global(
        "adapter",
        Value::from_object(AdapterObject {
            registry: Arc::clone(registry),
            dialect,
        }),
    );
    env.add_global("exceptions", Value::from_object(Exceptions));
    super::introspect::install(env, dialect);
    env.add_test("mapping", is_mapping);
    let packages = registry.packages.iter().map(String::as_str);
    for ns in ["dbt", "sluice", registry.project_name.as_str()]
        .into_iter()
        .chain(packages)
    {
        env.add_global(
            ns.to_owned(),
            Value::from_object(Namespace {
                name: ns.to_owned(),
                registry: Arc::clone(registry),
            }),
        );
    }
}
