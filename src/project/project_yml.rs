//! `project.yml`: dbt's `dbt_project.yml` and `profiles.yml` in one file, read with
//! dbt's key names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value as Json;

use super::config::{check_key, Config};
use super::yaml::{self, KeySet, Node};
use crate::diagnostics::{suggestion_help, Diagnostic, SourceFile, Span};

const PROJECT_KEYS: KeySet = KeySet {
    what: "project.yml",
    known: &[
        "name",
        "version",
        "config-version",
        "profile",
        "model-paths",
        "seed-paths",
        "macro-paths",
        "test-paths",
        "snapshot-paths",
        "target-path",
        "clean-targets",
        "vars",
        "models",
        "seeds",
        "snapshots",
        "data_tests",
        "tests",
        "target",
        "targets",
        "require-dbt-version",
    ],
    ignored: &[
        "analysis-paths",
        "docs-paths",
        "asset-paths",
        "packages-install-path",
        "log-path",
        "sources",
        "on-run-start",
        "on-run-end",
        "dispatch",
        "query-comment",
        "quoting",
        "flags",
        "restrict-access",
        "metrics",
        "semantic-models",
        "saved-queries",
        "exposures",
        "unit_tests",
        "analyses",
    ],
};

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

/// A target field's value with `{{ env_var(...) }}` rendered. Connection fields
/// are rendered only when a connection opens, so compiling needs no secrets.
pub fn render_field(node: &Node, what: &str) -> Result<String, Diagnostic> {
    let text = node.expect_scalar_text(what)?;
    if !text.contains("{{") {
        return Ok(text);
    }
    let mut env = minijinja::Environment::new();
    env.add_function("env_var", |name: String, default: Option<String>| {
        std::env::var(&name).ok().or(default).ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::UndefinedError,
                format!("environment variable `{name}` is not set: export it, or give env_var() a default"),
            )
        })
    });
    env.render_str(&text, ()).map_err(|e| {
        Diagnostic::error(e.detail().unwrap_or("cannot render this value").to_owned())
            .with_label(&node.span, format!("in {what}"))
            .with_help("set the environment variable before running sluice")
    })
}

#[derive(Debug)]
pub struct ProjectFile {
    pub file: Arc<SourceFile>,
    pub name: String,
    pub name_span: Span,
    pub version: Option<String>,
    pub model_paths: Vec<String>,
    pub seed_paths: Vec<String>,
    pub macro_paths: Vec<String>,
    pub test_paths: Vec<String>,
    pub snapshot_paths: Vec<String>,
    /// Absolute: resolved against the project directory.
    pub target_path: PathBuf,
    pub vars: BTreeMap<String, Json>,
    pub models_tree: Option<Node>,
    pub seeds_tree: Option<Node>,
    pub snapshots_tree: Option<Node>,
    pub tests_tree: Option<Node>,
    pub default_target: Option<(String, Span)>,
    pub targets: Vec<TargetDef>,
}

fn paths(node: Option<&Node>, key: &str, default: &str) -> Result<Vec<String>, Diagnostic> {
    match node {
        None => Ok(vec![default.to_owned()]),
        Some(n) => n.expect_str_list(&format!("`{key}`")),
    }
}

pub fn parse(
    root: &Path,
    file: Arc<SourceFile>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<ProjectFile, Diagnostic> {
    let doc = yaml::parse(&file)?;
    let doc = doc.expect_map("project.yml")?;
    PROJECT_KEYS.check(doc, warnings)?;
    let name_node = doc.get("name").ok_or_else(|| {
        Diagnostic::error("project.yml has no `name`")
            .with_label(&Span::file_start(&file), "expected `name: <project name>`")
            .with_help("add `name: my_project` at the top of project.yml")
    })?;
    let name = name_node.expect_str("`name`")?.to_owned();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Diagnostic::error(format!("invalid project name `{name}`"))
            .with_label(&name_node.span, "not a valid identifier")
            .with_help("use letters, digits and underscores only, as dbt does"));
    }
    let version = doc
        .get("version")
        .map(|v| v.expect_scalar_text("`version`"))
        .transpose()?;
    let target_path = match doc.get("target-path") {
        Some(n) => root.join(n.expect_str("`target-path`")?),
        None => root.join("target"),
    };
    let mut vars = BTreeMap::new();
    if let Some(v) = doc.get("vars") {
        for (k, _, value) in v.expect_map("`vars`")?.entries() {
            vars.insert(k.to_owned(), value.to_json());
        }
    }
    let tree = |key: &str| -> Result<Option<Node>, Diagnostic> {
        doc.get(key)
            .filter(|n| !n.is_null())
            .map(|n| n.expect_map(&format!("`{key}`")).cloned())
            .transpose()
    };
    let mut targets = Vec::new();
    if let Some(t) = doc.get("targets") {
        for (tname, key, tnode) in t.expect_map("`targets`")?.entries() {
            let tnode = tnode.expect_map(&format!("target `{tname}`"))?;
            let type_node = tnode.get("type").ok_or_else(|| {
                Diagnostic::error(format!("target `{tname}` has no `type`"))
                    .with_label(&key.span, "this target")
                    .with_help("add `type: duckdb` (or snowflake, bigquery)")
            })?;
            let kind = match type_node.expect_str("`type`")? {
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
            targets.push(TargetDef {
                name: tname.to_owned(),
                span: key.span.clone(),
                kind,
                node: tnode.clone(),
            });
        }
    }
    let default_target = doc
        .get("target")
        .map(|n| {
            n.expect_str("`target`")
                .map(|s| (s.to_owned(), n.span.clone()))
        })
        .transpose()?;
    let tests_tree = match tree("data_tests")? {
        Some(t) => Some(t),
        None => tree("tests")?,
    };
    Ok(ProjectFile {
        name,
        name_span: name_node.span.clone(),
        version,
        model_paths: paths(doc.get("model-paths"), "model-paths", "models")?,
        seed_paths: paths(doc.get("seed-paths"), "seed-paths", "seeds")?,
        macro_paths: paths(doc.get("macro-paths"), "macro-paths", "macros")?,
        test_paths: paths(doc.get("test-paths"), "test-paths", "tests")?,
        snapshot_paths: paths(doc.get("snapshot-paths"), "snapshot-paths", "snapshots")?,
        target_path,
        vars,
        models_tree: tree("models")?,
        seeds_tree: tree("seeds")?,
        snapshots_tree: tree("snapshots")?,
        tests_tree,
        default_target,
        targets,
        file,
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
        } else if matches!(value.value, yaml::Value::Map(_)) {
            validate_tree(value, warnings)?;
        }
    }
    Ok(())
}
