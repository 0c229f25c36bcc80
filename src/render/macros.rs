//! Macros: the project's `{% macro %}`s, its installed packages' macros and sluice's
//! builtin macro library, callable by bare name, by namespace (`dbt.datediff`,
//! `sluice.safe_divide`, `<project>.my_macro`, `dbt_utils.star`) and through
//! `adapter.dispatch`.
//!
//! Name resolution follows dbt-core 1.11 (`MacroNamespace`, `dispatch`):
//! - a bare name looks in the package of the node being rendered (its "local"
//!   namespace), then the root project, then dbt's builtin namespace (so the root
//!   project overrides `generate_schema_name` and friends), then sluice's;
//! - `pkg.name` looks only in that package;
//! - `adapter.dispatch(name, ns)` tries `<adapter>__name` then `default__name` in each
//!   package of the search order: the root project's `dispatch:` entry for `ns` if it
//!   has one, else `[root, ns]`; with no namespace, the bare-name lookup;
//!
//! Each macro file is one minijinja template. Before it is added, each
//! `{% macro name(` is renamed to an internal name and `{% test x(` becomes a macro
//! `test_x`: a call to `name` inside the same file then goes through the global
//! wrapper too, so dbt's `{{ return(...) }}` (an early exit caught by the wrapper)
//! always ends the macro that issued it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use minijinja::value::{Kwargs, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};
use regex::Regex;

/// Where a macro comes from: the project itself, an installed package, or a builtin
/// namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    Project,
    Package(String),
    Builtin(&'static str),
}

#[derive(Clone, Debug)]
pub struct MacroDef {
    pub name: String,
    pub origin: Origin,
    /// The template (file) that defines it.
    pub template: String,
    /// The name it has inside its template after renaming.
    pub internal: String,
    /// Its parameters, when its body reads Jinja2's `kwargs` or `varargs` (the
    /// arguments a call passes beyond them): see [`extra_args`].
    pub extra_args: Option<Arc<[String]>>,
}

/// The builtin macro library shipped inside the binary.
pub const BUILTIN_FILES: &[(&str, &str, &str)] = &[
    ("dbt", "<sluice>/dbt.sql", include_str!("builtins/dbt.sql")),
    (
        "dbt",
        "<sluice>/tests.sql",
        include_str!("builtins/tests.sql"),
    ),
    (
        "sluice",
        "<sluice>/sluice.sql",
        include_str!("builtins/sluice.sql"),
    ),
    (
        "sluice",
        "<sluice>/assertions.sql",
        include_str!("builtins/assertions.sql"),
    ),
];

static MACRO_DEF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{%(-|\+)?\s*(macro|test)\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(")
        .expect("static regex is valid")
});
/// `{% materialization name, default %}` or `{% materialization name, adapter='x' %}`
/// (maybe with `supported_languages=[...]`): dbt registers it as the macro
/// `materialization_<name>_<adapter>`. sluice keeps it as that macro, never runs it.
static MATERIALIZATION_DEF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\{%(-|\+)?\s*materialization\s+([A-Za-z_][A-Za-z0-9_]*)\s*,\s*(?:default\b|adapter\s*=\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"])[^%]*?((-|\+)?%\})"#,
    )
    .expect("static regex is valid")
});
static END_MATERIALIZATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{%(-|\+)?\s*endmaterialization\s*((-|\+)?%\})").expect("static regex is valid")
});
static END_TEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{%(-|\+)?\s*endtest\s*((-|\+)?%\})").expect("static regex is valid")
});

const INTERNAL_PREFIX: &str = "__sluice_macro__";

/// Maps byte offsets in a rewritten macro file back to the original file.
#[derive(Debug, Default, Clone)]
pub struct OffsetMap {
    /// (offset in the rewritten text where a shift starts, total shift so far).
    shifts: Vec<(usize, isize)>,
}

impl OffsetMap {
    pub fn to_original(&self, offset: usize) -> usize {
        offset.saturating_add_signed(-self.shift_at(offset))
    }

    fn shift_at(&self, offset: usize) -> isize {
        // Shifts are sorted by position: the last one at or before `offset` applies.
        match self.shifts.partition_point(|(at, _)| *at <= offset) {
            0 => 0,
            i => self.shifts[i - 1].1,
        }
    }

    /// A map from sorted `(position in the rewritten text, total shift)` pairs.
    pub fn from_shifts(shifts: Vec<(usize, isize)>) -> Self {
        OffsetMap { shifts }
    }

    /// The map of two rewrites in a row: `self` maps the final text to an
    /// intermediate one, which `earlier` maps to the original.
    pub fn then(&self, earlier: &OffsetMap) -> OffsetMap {
        let mut points: Vec<usize> = vec![0];
        let segments = std::iter::once((0usize, 0isize)).chain(self.shifts.iter().copied());
        let ends = self.shifts.iter().map(|(at, _)| *at).chain([usize::MAX]);
        for ((start, shift), end) in segments.zip(ends) {
            points.push(start);
            // Breakpoints of `earlier` inside this segment, in final coordinates.
            let lo = start.saturating_add_signed(-shift);
            let hi = end.saturating_add_signed(-shift);
            let from = earlier.shifts.partition_point(|(b, _)| *b < lo);
            for (b, _) in earlier.shifts[from..].iter().take_while(|(b, _)| *b < hi) {
                points.push(b.saturating_add_signed(shift));
            }
        }
        points.sort_unstable();
        points.dedup();
        let shifts = points
            .into_iter()
            .map(|x| {
                let original = earlier.to_original(self.to_original(x));
                (x, x as isize - original as isize)
            })
            .collect();
        OffsetMap { shifts }
    }
}

/// A macro file made ready for minijinja.
pub struct Preprocessed {
    pub source: String,
    /// (dbt name, internal name) of each macro the file defines.
    pub macros: Vec<(String, String)>,
    /// dbt name → parameters, for the macros whose body reads `kwargs` or `varargs`.
    pub extra_args: HashMap<String, Arc<[String]>>,
    pub offsets: OffsetMap,
}

static EXTRA_ARGS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(kwargs|varargs)\b").expect("static regex is valid"));
static END_MACRO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{%(-|\+)?\s*end(macro|test)\b").expect("static regex is valid"));

/// The parameter names of a macro signature starting just after its `(`: each
/// top-level comma-separated item up to its `=` (defaults may hold brackets,
/// strings and commas).
fn parameter_names(after_paren: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut item = String::new();
    let mut in_default = false;
    for c in after_paren.chars() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' if depth == 0 => break,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                names.push(std::mem::take(&mut item));
                in_default = false;
            }
            '=' if depth == 0 => in_default = true,
            c if !in_default => item.push(c),
            _ => {}
        }
    }
    names.push(item);
    names
        .into_iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect()
}

/// Rename the macros of one file and list them.
pub fn preprocess(source: &str) -> Preprocessed {
    // Literals and `set` values first (see builtins::rewrite), then the renames.
    let rewritten = super::builtins::rewrite::rewrite(source);
    let mut pre = preprocess_macros(rewritten.as_ref().map_or(source, |(s, _)| s));
    if let Some((_, first)) = rewritten {
        pre.offsets = pre.offsets.then(&first);
    }
    pre
}

fn preprocess_macros(source: &str) -> Preprocessed {
    let mut found = Vec::new();
    let mut extra_args = HashMap::new();
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for caps in MACRO_DEF.captures_iter(source) {
        let whole = caps.get(0).expect("group 0 always matches");
        let ws = caps.get(1).map_or("", |m| m.as_str());
        let name = if &caps[2] == "test" {
            format!("test_{}", &caps[3])
        } else {
            caps[3].to_owned()
        };
        let rest = &source[whole.end()..];
        let body = END_MACRO.find(rest).map_or(rest, |m| &rest[..m.start()]);
        if EXTRA_ARGS.is_match(body) {
            extra_args.insert(name.clone(), parameter_names(rest).into());
        }
        let internal = format!("{INTERNAL_PREFIX}{name}");
        found.push((name, internal.clone()));
        edits.push((
            whole.start(),
            whole.end(),
            format!("{{%{ws} macro {internal}("),
        ));
    }
    for caps in MATERIALIZATION_DEF.captures_iter(source) {
        let whole = caps.get(0).expect("group 0 always matches");
        let ws = caps.get(1).map_or("", |m| m.as_str());
        let adapter = caps.get(3).map_or("default", |m| m.as_str());
        let name = materialization_macro(&caps[2], adapter);
        let internal = format!("{INTERNAL_PREFIX}{name}");
        found.push((name, internal.clone()));
        edits.push((
            whole.start(),
            whole.end(),
            format!("{{%{ws} macro {internal}() {}", &caps[4]),
        ));
    }
    for caps in END_MATERIALIZATION.captures_iter(source) {
        let whole = caps.get(0).expect("group 0 always matches");
        let ws = caps.get(1).map_or("", |m| m.as_str());
        edits.push((
            whole.start(),
            whole.end(),
            format!("{{%{ws} endmacro {}", &caps[2]),
        ));
    }
    for caps in END_TEST.captures_iter(source) {
        let whole = caps.get(0).expect("group 0 always matches");
        let ws = caps.get(1).map_or("", |m| m.as_str());
        edits.push((
            whole.start(),
            whole.end(),
            format!("{{%{ws} endmacro {}", &caps[2]),
        ));
    }
    edits.sort_by_key(|e| e.0);
    let mut out = String::with_capacity(source.len() + edits.len() * 24);
    let mut offsets = OffsetMap::default();
    let mut last = 0;
    let mut shift: isize = 0;
    for (start, end, replacement) in edits {
        out.push_str(&source[last..start]);
        out.push_str(&replacement);
        shift += replacement.len() as isize - (end - start) as isize;
        offsets.shifts.push((out.len(), shift));
        last = end;
    }
    out.push_str(&source[last..]);
    Preprocessed {
        source: out,
        macros: found,
        extra_args,
        offsets,
    }
}

/// The macro name dbt gives `{% materialization name, adapter %}` (`default` when
/// it is for every adapter).
pub fn materialization_macro(name: &str, adapter: &str) -> String {
    format!("materialization_{name}_{adapter}")
}

/// Every macro sluice knows, by origin and name.
#[derive(Debug, Default)]
pub struct MacroRegistry {
    pub project_name: String,
    pub by_key: HashMap<(Origin, String), MacroDef>,
    /// Installed packages' names, in load order.
    pub packages: Vec<String>,
    /// The root project's `dispatch:` entries: macro namespace → search order.
    pub dispatch_orders: HashMap<String, Vec<String>>,
}

impl MacroRegistry {
    pub fn add(&mut self, def: MacroDef) -> Option<MacroDef> {
        self.by_key
            .insert((def.origin.clone(), def.name.clone()), def)
    }

    pub fn project(&self, name: &str) -> Option<&MacroDef> {
        self.by_key.get(&(Origin::Project, name.to_owned()))
    }

    pub fn builtin(&self, namespace: &str, name: &str) -> Option<&MacroDef> {
        let origin = match namespace {
            "dbt" => Origin::Builtin("dbt"),
            "sluice" => Origin::Builtin("sluice"),
            _ => return None,
        };
        self.by_key.get(&(origin, name.to_owned()))
    }

    pub fn package(&self, package: &str, name: &str) -> Option<&MacroDef> {
        self.by_key
            .get(&(Origin::Package(package.to_owned()), name.to_owned()))
    }

    /// Whether `name` is a namespace templates can call macros through.
    pub fn is_namespace(&self, name: &str) -> bool {
        matches!(name, "dbt" | "sluice")
            || name == self.project_name
            || self.packages.iter().any(|p| p == name)
    }

    /// A bare name, rendered for a node of the root project: the project's macro,
    /// else dbt's, else sluice's.
    pub fn resolve_bare(&self, name: &str) -> Option<&MacroDef> {
        self.resolve_local(None, name)
    }

    /// A bare name rendered for a node of `local` (a package; `None`: the root
    /// project): that package's macro, else the root project's, dbt's, sluice's.
    pub fn resolve_local(&self, local: Option<&str>, name: &str) -> Option<&MacroDef> {
        local
            .and_then(|p| self.package(p, name))
            .or_else(|| self.project(name))
            .or_else(|| self.builtin("dbt", name))
            .or_else(|| self.builtin("sluice", name))
    }

    /// `namespace.name`: a builtin namespace, the project's own name, or a package.
    pub fn resolve_in(&self, namespace: &str, name: &str) -> Option<&MacroDef> {
        if namespace == self.project_name {
            self.project(name)
        } else {
            self.builtin(namespace, name)
                .or_else(|| self.package(namespace, name))
        }
    }

    /// The packages `adapter.dispatch(_, namespace)` searches, in order (`None`
    /// entries: the bare-name lookup, dbt's search for a dispatch without a
    /// namespace).
    pub fn search_order(&self, namespace: Option<&str>) -> Vec<Option<String>> {
        let Some(ns) = namespace else {
            return vec![None];
        };
        if let Some(order) = self.dispatch_orders.get(ns) {
            return order.iter().cloned().map(Some).collect();
        }
        if self.is_namespace(ns) && ns != self.project_name {
            vec![Some(self.project_name.clone()), Some(ns.to_owned())]
        } else {
            // dbt searches the bare names when the namespace is no package.
            vec![None]
        }
    }

    /// dbt's dispatch: for each package of the search order, `<adapter>__name`
    /// then `default__name`. `local` is the package of the node being rendered.
    pub fn dispatch(
        &self,
        name: &str,
        namespace: Option<&str>,
        adapter: &str,
        local: Option<&str>,
    ) -> Option<&MacroDef> {
        let candidates = [format!("{adapter}__{name}"), format!("default__{name}")];
        for package in self.search_order(namespace) {
            for c in &candidates {
                let found = match &package {
                    Some(p) => self.resolve_in(p, c),
                    None => self.resolve_local(local, c),
                };
                if found.is_some() {
                    return found;
                }
            }
        }
        None
    }

    /// What a failed dispatch searched, as dbt lists it (`'pkg.duckdb__x', ...`).
    pub fn dispatch_attempts(&self, name: &str, namespace: Option<&str>, adapter: &str) -> String {
        let mut out = Vec::new();
        for package in self.search_order(namespace) {
            for prefix in [adapter, "default"] {
                out.push(match &package {
                    Some(p) => format!("'{p}.{prefix}__{name}'"),
                    None => format!("'{prefix}__{name}'"),
                });
            }
        }
        out.join(", ")
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_key.keys().map(|(_, n)| n.as_str())
    }
}

thread_local! {
    /// Set when a render called one of dbt-core's own `dbt` macros that sluice
    /// does not provide ([`take_lacks_builtin`]).
    static LACKS_BUILTIN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Note that the render in progress called a `dbt` macro sluice lacks.
pub fn note_lacks_builtin() {
    LACKS_BUILTIN.with(|c| c.set(true));
}

/// Whether the last render on this thread stopped at a `dbt` macro sluice lacks
/// (its error is then the node's alone, not the project's); clears the flag.
pub fn take_lacks_builtin() -> bool {
    LACKS_BUILTIN.with(|c| c.take())
}

thread_local! {
    /// Values passed to `return()`, one slot per macro call in progress.
    static RETURN_SLOTS: RefCell<Vec<Option<Value>>> = const { RefCell::new(Vec::new()) };
}

const RETURN_MARKER: &str = "\u{1}sluice-return";

/// dbt's `return(value)`: end the current macro with `value` as its result.
pub fn return_fn(value: Value) -> Result<Value, Error> {
    let inside_macro = RETURN_SLOTS.with(|slots| {
        let mut slots = slots.borrow_mut();
        match slots.last_mut() {
            Some(slot) => {
                *slot = Some(value);
                true
            }
            None => false,
        }
    });
    if !inside_macro {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "return() can only be used inside a macro",
        ));
    }
    Err(Error::new(ErrorKind::InvalidOperation, RETURN_MARKER))
}

/// The names from the calling template's context that a macro also sees.
pub const SHARED_CONTEXT: &[&str] = &[
    "__sluice",
    "this",
    "model",
    "target",
    "execute",
    "project_name",
    "run_started_at",
    "invocation_id",
    "flags",
    // An on-run-end hook's context (see `Renderer::render_str_extra`).
    "results",
    "schemas",
    "database_schemas",
];

/// The context a macro's template runs in: the caller's [`SHARED_CONTEXT`] names.
/// A macro call is hot and the names are few: searched in a list, they need no
/// map built (and hashed) per call, nor serialised into one.
#[derive(Debug)]
struct MacroContext(Vec<(&'static str, Value)>);

impl Object for MacroContext {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Values(self.0.iter().map(|(k, _)| Value::from(*k)).collect())
    }
}

/// A callable macro value: resolves its template and runs it with the caller's context.
#[derive(Debug)]
pub struct MacroFn {
    pub def: MacroDef,
}

impl MacroFn {
    pub fn value(def: &MacroDef) -> Value {
        Value::from_object(MacroFn { def: def.clone() })
    }
}

impl Object for MacroFn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        invoke(&self.def, state, args)
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<macro {}>", self.def.name)
    }
}

/// Run macro `def` with the caller's context.
fn invoke(def: &MacroDef, state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    let overridden = super::context::macro_override(state, &def.name, || match &def.origin {
        Origin::Package(p) => Some(format!("{p}.{}", def.name)),
        Origin::Builtin(_) => Some(format!("dbt.{}", def.name)),
        Origin::Project => None,
    });
    if let Some(value) = overridden {
        return Ok(value);
    }
    if matches!(def.origin, Origin::Project) {
        super::context::record_macro(state, &def.name);
    }
    let _call = super::limits::enter_macro(&def.name)?;
    let template = state.env().get_template(&def.template)?;
    let mut ctx: Vec<(&'static str, Value)> = SHARED_CONTEXT
        .iter()
        .filter_map(|k| state.lookup(k).map(|v| (*k, v)))
        .collect();
    let mut args = std::borrow::Cow::Borrowed(args);
    if let Some(params) = &def.extra_args {
        let (declared, kwargs, varargs) = extra_args(params, &args)?;
        ctx.push(("kwargs", kwargs));
        ctx.push(("varargs", varargs));
        args = std::borrow::Cow::Owned(declared);
    }
    let captured = template.render_captured(Value::from_object(MacroContext(ctx)))?;
    let macro_state = captured.state();
    let callable = macro_state.lookup(&def.internal).ok_or_else(|| {
        Error::new(
            ErrorKind::UndefinedError,
            format!("macro `{}` vanished from its template", def.name),
        )
    })?;
    RETURN_SLOTS.with(|s| s.borrow_mut().push(None));
    let result = callable.call(macro_state, &args);
    let returned = RETURN_SLOTS.with(|s| s.borrow_mut().pop()).flatten();
    super::limits::charge(macro_state)?;
    match (returned, result) {
        (Some(value), _) => Ok(value),
        (None, Ok(output)) => Ok(output),
        (None, Err(e)) => Err(e),
    }
}

/// Jinja2's `kwargs` and `varargs` for a macro whose body reads them: the call's
/// arguments split into those its parameters take (positional ones, then keyword
/// ones; `caller` stays), the other keyword arguments (`kwargs`, a dict) and the
/// other positional ones (`varargs`, a list).
fn extra_args(params: &[String], args: &[Value]) -> Result<(Vec<Value>, Value, Value), Error> {
    let (positional, kwargs) = match args.split_last() {
        Some((last, rest)) if last.is_kwargs() => (rest, Some(Kwargs::try_from(last.clone())?)),
        _ => (args, None),
    };
    let taken = positional.len().min(params.len());
    let mut declared: Vec<Value> = positional[..taken].to_vec();
    let varargs = Value::from(positional[taken..].to_vec());
    let mut keep = Vec::new();
    let mut extra = Vec::new();
    if let Some(kwargs) = &kwargs {
        for key in kwargs.args() {
            let value: Value = kwargs.peek(key)?;
            if key == "caller" || params.iter().any(|p| p == key) {
                keep.push((key.to_owned(), value));
            } else {
                extra.push((key.to_owned(), value));
            }
        }
    }
    if !keep.is_empty() {
        declared.push(Value::from(Kwargs::from_iter(keep)));
    }
    // Collecting pairs makes a map (`Value::from_iter` would make a list).
    Ok((declared, extra.into_iter().collect::<Value>(), varargs))
}

/// A bare macro name in a project with packages: which macro it means depends on
/// the package of the node being rendered (dbt's local namespace), so it is
/// resolved at each call. Projects without packages register [`MacroFn`]s directly.
#[derive(Debug)]
pub struct BareMacro {
    pub name: String,
    pub registry: Arc<MacroRegistry>,
}

impl Object for BareMacro {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let local = super::context::local_package(state);
        match self.registry.resolve_local(local.as_deref(), &self.name) {
            Some(def) => invoke(def, state, args),
            None => {
                let owners: Vec<&str> = self
                    .registry
                    .packages
                    .iter()
                    .filter(|p| self.registry.package(p, &self.name).is_some())
                    .map(String::as_str)
                    .collect();
                Err(Error::new(
                    ErrorKind::UnknownFunction,
                    format!(
                        "macro `{}` is defined in package `{}`, whose macros are called with its name outside it: `{}.{}(...)`",
                        self.name,
                        owners.join("`, `"),
                        owners.first().copied().unwrap_or_default(),
                        self.name
                    ),
                ))
            }
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<macro {}>", self.name)
    }
}

/// `dbt`, `sluice` or `<project>`: attribute access yields that namespace's macros.
#[derive(Debug)]
pub struct Namespace {
    pub name: String,
    pub registry: Arc<MacroRegistry>,
}

impl Object for Namespace {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        self.registry
            .resolve_in(&self.name, name)
            .map(MacroFn::value)
    }

    /// `ns.name(...)`: the macro, or an error naming what is missing (minijinja's
    /// default would be "map has no method named name").
    fn call_method(
        self: &Arc<Self>,
        state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match self.registry.resolve_in(&self.name, method) {
            Some(def) => invoke(def, state, args),
            // Not UnknownMethod: minijinja would replace the message with its own.
            None => Err(Error::new(
                ErrorKind::UnknownFunction,
                if self.name == "dbt" {
                    note_lacks_builtin();
                    format!(
                        "`dbt.{method}` is not one of dbt-core's `dbt` macros that sluice provides \
                         (docs/dbt-compatibility.md lists them)"
                    )
                } else {
                    format!("`{}` has no macro named `{method}`", self.name)
                },
            )),
        }
    }
}

/// The text of one `{% macro name(...) %} ... {% endmacro %}` block in a macro
/// file (its own source, so a change to a neighbour does not count as a change to
/// it), or the whole file when the block cannot be found.
pub fn macro_source<'a>(text: &'a str, name: &str) -> &'a str {
    let mut search = 0;
    while let Some(pos) = text[search..].find("{%") {
        let start = search + pos;
        let inner = text[start + 2..].trim_start_matches('-').trim_start();
        let is_it = inner
            .strip_prefix("macro")
            .map(str::trim_start)
            .and_then(|rest| rest.strip_prefix(name))
            .is_some_and(|rest| rest.trim_start().starts_with('('));
        if is_it {
            if let Some(end) = text[start..].find("endmacro") {
                let close = text[start + end..]
                    .find("%}")
                    .map_or(text.len(), |c| start + end + c + 2);
                return &text[start..close];
            }
        }
        search = start + 2;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_listed_for_macros_that_read_kwargs_or_varargs() {
        let pre = preprocess(
            "{% macro a(x, y=[1, 2], z='(,)') %}{{ kwargs }}{% endmacro %}\n\
             {% macro b(x) %}{{ x }}{% endmacro %}\n\
             {% test c(model) %}{{ varargs }}{% endtest %}",
        );
        let params = |n: &str| pre.extra_args.get(n).map(|p| p.to_vec());
        assert_eq!(params("a"), Some(vec!["x".into(), "y".into(), "z".into()]));
        assert_eq!(params("b"), None);
        assert_eq!(params("test_c"), Some(vec!["model".into()]));
    }
}
