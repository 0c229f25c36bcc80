//! `project.yml`: dbt's `dbt_project.yml` and `profiles.yml` in one file, read with
//! dbt's key names.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value as Json;

use super::config::{check_key, check_value, Config};
use super::yaml::{self, Node};
use crate::diagnostics::{suggestion_help, Diagnostic, SourceFile, Span};

/// The warehouse kinds sluice knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WarehouseKind {
    DuckDb,
    Snowflake,
    BigQuery,
}

impl WarehouseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WarehouseKind::DuckDb => "duckdb",
            WarehouseKind::Snowflake => "snowflake",
            WarehouseKind::BigQuery => "bigquery",
        }
    }
}

/// One entry of `targets:`. Connection fields stay unrendered templates until a
/// connection is opened, so compiling never needs credentials.
#[derive(Clone, Debug)]
pub struct TargetDef {
    pub name: String,
    pub span: Span,
    pub kind: WarehouseKind,
    pub node: Node,
}

impl TargetDef {
    pub fn field(&self, key: &str) -> Option<&Node> {
        self.node.get(key)
    }

    /// A field's rendered text, if the target sets it to something non-empty
    /// (`"{{ env_var('X', '') }}"` leaves an optional field unset).
    pub fn rendered(&self, key: &str) -> Result<Option<String>, Diagnostic> {
        Ok(self
            .field(key)
            .filter(|n| !n.is_null())
            .map(|n| render_field(n, &format!("`{key}`")))
            .transpose()?
            .filter(|v| !v.trim().is_empty()))
    }

    /// A field the connection cannot do without.
    pub fn required(&self, key: &str, example: &str) -> Result<String, Diagnostic> {
        self.rendered(key)?.ok_or_else(|| {
            Diagnostic::error(format!(
                "target `{}` ({}) has no `{key}`",
                self.name,
                self.kind.as_str()
            ))
            .with_label(&self.span, "this target")
            .with_help(format!("add `{key}: {example}` to the target"))
        })
    }

    /// A whole-number field (timeouts, retries).
    pub fn number(&self, key: &str) -> Result<Option<u64>, Diagnostic> {
        let Some(text) = self.rendered(key)? else {
            return Ok(None);
        };
        text.trim().parse::<u64>().map(Some).map_err(|_| {
            Diagnostic::error(format!("`{key}` must be a whole number, not `{text}`"))
                .with_label(&self.span_of(key), "here")
                .with_help(format!("write e.g. `{key}: 30`"))
        })
    }

    /// The span of a field, or of the target when it is not set.
    pub fn span_of(&self, key: &str) -> Span {
        self.field(key)
            .map_or_else(|| self.span.clone(), |n| n.span.clone())
    }
}

/// The default passed to `var(name, default)`, if one was passed. An explicit `none`
/// is a default (dbt's `var('x', none)` is common in packages); minijinja's
/// `Option<Value>` argument would read it as "not passed". (`env_var(name, none)`
/// is "no default" in dbt too, so env_var keeps `Option`.)
pub fn passed_default(rest: &[minijinja::Value]) -> Option<minijinja::Value> {
    rest.first().cloned()
}

/// Jinja instructions one YAML value's render may run (docs/limits.md: the
/// same as a template's in the render stage).
pub const YML_JINJA_FUEL: u64 = 50_000_000;

/// `env_var(name, default)` and dbt's type filters (`as_number`, `as_bool`,
/// `as_text`, `as_native`: in a single-field render they are identities).
pub fn add_env_var(env: &mut minijinja::Environment<'_>) {
    env.add_function(
        "env_var",
        |name: String, default: Option<minijinja::Value>| match std::env::var(&name) {
            Ok(v) => Ok(minijinja::Value::from(v)),
            Err(_) => default.ok_or_else(|| {
                minijinja::Error::new(
                    minijinja::ErrorKind::UndefinedError,
                    format!("environment variable `{name}` is not set: export it, or give env_var() a default"),
                )
            }),
        },
    );
    for filter in ["as_number", "as_bool", "as_text", "as_native"] {
        env.add_filter(filter, |v: minijinja::Value| v);
    }
}

/// A target field's value with `{{ env_var(...) }}` rendered. Connection fields
/// are rendered only when a connection opens, so compiling needs no secrets.
pub fn render_field(node: &Node, what: &str) -> Result<String, Diagnostic> {
    let text = node.expect_scalar_text(what)?;
    if !text.contains("{{") {
        return Ok(text);
    }
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(YML_JINJA_FUEL));
    add_env_var(&mut env);
    env.render_str(&text, ()).map_err(|e| {
        Diagnostic::error(e.detail().unwrap_or("cannot render this value").to_owned())
            .with_label(&node.span, format!("in {what}"))
            .with_help("set the environment variable before running sluice")
    })
}

/// A hook of `on-run-start`/`on-run-end`: SQL kept unrendered (dbt renders it when
/// it runs).
#[derive(Clone, Debug)]
pub struct RunHook {
    pub sql: String,
    pub span: Span,
}

/// One entry of `dispatch:`: where `adapter.dispatch(..., macro_namespace=...)`
/// looks for implementations, in order.
#[derive(Clone, Debug)]
pub struct Dispatch {
    pub macro_namespace: String,
    pub search_order: Vec<String>,
    pub span: Span,
}

/// A project's settings, read from `project.yml` or from `dbt_project.yml` and
/// `profiles.yml`: the same type whichever file they came from.
#[derive(Debug)]
pub struct ProjectFile {
    /// The project file (project.yml or dbt_project.yml).
    pub file: Arc<SourceFile>,
    /// Other files the settings came from (profiles.yml), for cache keys.
    pub extra_files: Vec<Arc<SourceFile>>,
    /// Rendered Jinja values of the project file (for cache keys: they may read
    /// environment variables).
    pub rendered_values: String,
    /// What the project file's Jinja saw (`--vars`, the target): packages'
    /// dbt_project.yml files render with the same ([`super::dbt_project::parse_rendered`]).
    pub yml_context: super::YmlContext,
    pub name: String,
    pub name_span: Span,
    pub version: Option<String>,
    pub config_version: Option<i64>,
    /// `profile:` (dbt layout): the profiles.yml entry the targets come from.
    pub profile: Option<(String, Span)>,
    pub model_paths: Vec<String>,
    pub seed_paths: Vec<String>,
    pub macro_paths: Vec<String>,
    pub test_paths: Vec<String>,
    pub snapshot_paths: Vec<String>,
    pub analysis_paths: Vec<String>,
    pub docs_paths: Vec<String>,
    /// `restrict-access: true`: the project's protected models may not be
    /// referenced from other packages, nor its private ones from other packages'
    /// nodes of the same group.
    pub restrict_access: bool,
    pub asset_paths: Vec<String>,
    /// Absolute: resolved against the project directory.
    pub target_path: PathBuf,
    /// Absolute: resolved against the project directory.
    pub log_path: PathBuf,
    /// Absolute: where `deps` installs packages (`dbt_packages` by default).
    pub packages_install_path: PathBuf,
    /// `clean-targets`, relative to the project directory as written.
    pub clean_targets: Vec<String>,
    /// `vars:` as written: global vars, and package-scoped ones under a package's
    /// name (`vars: {my_pkg: {x: 1}}`); see [`ProjectFile::vars_for`].
    pub vars: BTreeMap<String, Json>,
    pub models_tree: Option<Node>,
    pub seeds_tree: Option<Node>,
    pub snapshots_tree: Option<Node>,
    pub tests_tree: Option<Node>,
    pub sources_tree: Option<Node>,
    pub unit_tests_tree: Option<Node>,
    pub semantic_models_tree: Option<Node>,
    pub dispatch: Vec<Dispatch>,
    pub on_run_start: Vec<RunHook>,
    pub on_run_end: Vec<RunHook>,
    /// `require-dbt-version`, one specifier per entry (`>=1.0.0`).
    pub require_dbt_version: Vec<(String, Span)>,
    pub flags: BTreeMap<String, Json>,
    pub quoting: BTreeMap<String, Json>,
    pub default_target: Option<(String, Span)>,
    pub targets: Vec<TargetDef>,
    /// Outputs of profiles.yml sluice cannot use (an unknown `type`), with the
    /// error to give if one is chosen.
    pub unusable_targets: Vec<(String, Diagnostic)>,
}

impl ProjectFile {
    /// The vars a node of `package` sees, as dbt scopes them: every var of the
    /// root project, overlaid with the ones under the package's name.
    pub fn vars_for(&self, package: &str) -> BTreeMap<String, Json> {
        let mut vars = self.vars.clone();
        if let Some(Json::Object(scoped)) = self.vars.get(package) {
            for (k, v) in scoped {
                vars.insert(k.clone(), v.clone());
            }
        }
        vars
    }

    /// Everything the settings were read from, as one text (the parse cache's key).
    pub fn cache_text(&self) -> String {
        let mut text = self.file.text.clone();
        for f in &self.extra_files {
            text.push('\0');
            text.push_str(&f.text);
        }
        text.push('\0');
        text.push_str(&self.rendered_values);
        text
    }
}

/// The vars a node of project `name` sees, as dbt merges them (later wins): for
/// each project in `layers` (the node's package, then the root project) its global
/// vars and then those scoped to `name` (`vars: {name: {x: 1}}`); then `--vars`.
pub fn merged_vars(
    layers: &[&ProjectFile],
    name: &str,
    cli_vars: &BTreeMap<String, Json>,
) -> BTreeMap<String, Json> {
    let mut vars = BTreeMap::new();
    for p in layers {
        let mut own = p.vars.clone();
        let scoped = own.remove(name);
        vars.extend(own);
        if let Some(Json::Object(scoped)) = scoped {
            vars.extend(scoped);
        }
    }
    vars.extend(cli_vars.clone());
    vars
}

/// A name and where it is written.
pub type NamedAt = (String, Span);

/// The `targets:` of project.yml and its default `target:`.
pub fn targets_of(doc: &Node) -> Result<(Vec<TargetDef>, Option<NamedAt>), Diagnostic> {
    let mut targets = Vec::new();
    if let Some(t) = doc.get("targets") {
        for (tname, key, tnode) in t.expect_map("`targets`")?.entries() {
            targets.push(target_def(tname, key, tnode)?);
        }
    }
    let default_target = doc
        .get("target")
        .map(|n| {
            n.expect_str("`target`")
                .map(|s| (s.to_owned(), n.span.clone()))
        })
        .transpose()?;
    Ok((targets, default_target))
}

/// One target (a project.yml `targets:` entry or a profiles.yml output).
pub fn target_def(tname: &str, key: &Node, tnode: &Node) -> Result<TargetDef, Diagnostic> {
    let tnode = tnode.expect_map(&format!("target `{tname}`"))?;
    let type_node = tnode.get("type").ok_or_else(|| {
        Diagnostic::error(format!("target `{tname}` has no `type`"))
            .with_label(&key.span, "this target")
            .with_help("add `type: duckdb` (or snowflake, bigquery)")
    })?;
    let type_text = render_field(type_node, "`type`")?;
    let kind = match type_text.as_str() {
        "duckdb" => WarehouseKind::DuckDb,
        "snowflake" => WarehouseKind::Snowflake,
        "bigquery" => WarehouseKind::BigQuery,
        other => {
            let help = suggestion_help(other, ["duckdb", "snowflake", "bigquery"], || {
                "sluice supports the types duckdb, snowflake and bigquery".to_owned()
            });
            return Err(Diagnostic::error(format!("unknown target type `{other}`"))
                .with_label(&type_node.span, "unknown warehouse type")
                .with_help(help));
        }
    };
    Ok(TargetDef {
        name: tname.to_owned(),
        span: key.span.clone(),
        kind,
        node: tnode.clone(),
    })
}

/// Read the config a `models:`/`seeds:` tree of project.yml gives a node whose fqn is
/// `fqn` (project name, folders, node name).
pub fn tree_config(tree: Option<&Node>, fqn: &[String]) -> Config {
    let mut config = Config::default();
    let Some(mut level) = tree else {
        return config;
    };
    let mut depth = 0;
    loop {
        for (key, _, value) in level.entries() {
            let config_key = key.strip_prefix('+').or_else(|| {
                // dbt also accepts a config key without `+` when its value is not a
                // mapping (a mapping would be a folder).
                (!matches!(value.value, yaml::Value::Map(_))
                    && super::config::IMPLEMENTED_KEYS
                        .iter()
                        .chain(super::config::IGNORED_KEYS)
                        .any(|k| *k == super::config::canonical_key(key)))
                .then_some(key)
            });
            if let Some(ck) = config_key {
                config.set(ck, value.to_json(), Some(value.span.clone()));
            }
        }
        let Some(part) = fqn.get(depth) else { break };
        match level.get(part) {
            Some(next) if matches!(next.value, yaml::Value::Map(_)) => {
                level = next;
                depth += 1;
            }
            _ => break,
        }
    }
    config
}

/// Check every `+key` of a `models:`/`seeds:`/`data_tests:` tree once, wherever it is.
pub fn validate_tree(tree: &Node, warnings: &mut Vec<Diagnostic>) -> Result<(), Diagnostic> {
    for (key, key_node, value) in tree.entries() {
        if let Some(ck) = key.strip_prefix('+') {
            check_key(ck, &key_node.span, warnings)?;
            check_value(ck, &value.to_json(), &value.span)?;
        } else if matches!(value.value, yaml::Value::Map(_)) {
            validate_tree(value, warnings)?;
        }
    }
    Ok(())
}
