//! State comparison (`--state DIR`): how each node differs from the same node in
//! another run's artifacts, for the `state:` selector and for `--defer`.
//!
//! `DIR/manifest.json` is required; `DIR/sluice_state.json` (written next to every
//! manifest) adds the values of the vars each node read, so a changed var selects
//! the models that read it. A node is compared field by field with the manifest
//! entry this run would write for it:
//!
//! | sub-selector | what differs |
//! |---|---|
//! | `body` | the file's checksum (a generic test's name and arguments) |
//! | `configs` | the merged config, or the YAML description and columns |
//! | `relation` | the configured database, schema or alias |
//! | `macros` | the source of a project macro the node calls |
//! | `vars` | the value of a var the node reads |
//!
//! `state:modified` is any of them, plus new nodes; `state:new` only new nodes.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use petgraph::graph::NodeIndex;
use serde_json::{Map, Value as Json};

use super::Dag;
use crate::adapter::RelationName;
use crate::diagnostics::Diagnostic;
use crate::project::Materialization;
use crate::render::parse::ResourceType;

/// Where refs to unselected nodes point (`--defer`, `--favor-state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defer {
    /// This target's relations.
    No,
    /// The state's relation when this target lacks the node's.
    WhenMissing,
    /// The state's relation whenever the state has the node.
    FavorState,
}

impl Defer {
    /// `--defer` and `--favor-state` (which implies deferring).
    pub fn from_flags(defer: bool, favor_state: bool) -> Defer {
        match (defer, favor_state) {
            (false, false) => Defer::No,
            (_, true) => Defer::FavorState,
            (true, false) => Defer::WhenMissing,
        }
    }
}

/// With `--defer`: each unselected model, seed or snapshot the state has, and the
/// state's relation for it. Every reader of the node resolves it the same way
/// (models' `ref()`, generic tests' model and arguments, singular tests), as in
/// dbt. The caller drops those this target holds itself unless `FavorState`.
pub fn deferred_relations(
    dag: &Dag,
    state: &State,
    selected: &HashSet<NodeIndex>,
) -> Vec<(NodeIndex, RelationName)> {
    let mut out = Vec::new();
    for idx in dag.graph.node_indices() {
        let node = dag.node(idx);
        let deferrable = matches!(
            node.resource_type,
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
        ) && node.materialization != Materialization::Ephemeral;
        if !deferrable || selected.contains(&idx) {
            continue;
        }
        let Some(old) = state.node(&node.unique_id) else {
            continue;
        };
        let text = |k: &str| old.get(k).and_then(Json::as_str).map(str::to_owned);
        let (Some(schema), Some(identifier)) = (text("schema"), text("alias")) else {
            continue;
        };
        out.push((
            idx,
            RelationName {
                database: text("database"),
                schema,
                identifier,
            },
        ));
    }
    out
}

/// The file next to `manifest.json` with what the manifest has no field for.
pub const STATE_FILE: &str = "sluice_state.json";

/// Another run's artifacts.
#[derive(Debug)]
pub struct State {
    pub dir: PathBuf,
    nodes: Map<String, Json>,
    macros: Map<String, Json>,
    /// unique_id → var → value, when the state has a `sluice_state.json`.
    vars: Option<Map<String, Json>>,
}

/// How one node differs from its counterpart in the state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub new: bool,
    pub body: bool,
    pub configs: bool,
    pub relation: bool,
    pub macros: bool,
    pub vars: bool,
    /// An enforced contract changed (dbt's `same_contract`): enforced or not, or
    /// its checksum (columns, types, constraints, materialization).
    pub contract: bool,
}

impl Changes {
    pub fn modified(&self) -> bool {
        self.new
            || self.body
            || self.configs
            || self.relation
            || self.macros
            || self.vars
            || self.contract
    }

    /// Whether the node matches `state:<value>`.
    pub fn matches(&self, value: &str) -> Option<bool> {
        Some(match value {
            "new" => self.new,
            "old" => !self.new,
            "modified" => self.modified(),
            "unmodified" => !self.modified(),
            "modified.body" => self.new || self.body,
            "modified.configs" => self.new || self.configs,
            "modified.relation" => self.new || self.relation,
            "modified.macros" => self.new || self.macros,
            "modified.vars" => self.new || self.vars,
            "modified.contract" => self.new || self.contract,
            _ => return None,
        })
    }

    pub const VALUES: [&'static str; 10] = [
        "new",
        "old",
        "modified",
        "unmodified",
        "modified.body",
        "modified.configs",
        "modified.relation",
        "modified.macros",
        "modified.vars",
        "modified.contract",
    ];
}

fn read_json(path: &Path) -> Result<Option<Json>, Diagnostic> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Diagnostic::error(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Diagnostic::error(format!("{} is not valid JSON: {e}", path.display()))
            .with_help("point --state at the target folder of a finished sluice or dbt run")
    })
}

impl State {
    /// Read `dir/manifest.json` (and `dir/sluice_state.json` when there).
    pub fn load(dir: &Path) -> Result<State, Diagnostic> {
        let manifest_path = dir.join("manifest.json");
        let Some(manifest) = read_json(&manifest_path)? else {
            let mut d = Diagnostic::error(format!(
                "--state {}: there is no manifest.json in that folder",
                dir.display()
            ))
            .with_help(
                "point --state at the target folder of a production run (its manifest.json), e.g. a copy of `.sluice/` saved after `sluice build`",
            );
            if !dir.is_dir() {
                d = d.with_note(format!("{} does not exist", dir.display()));
            }
            return Err(d);
        };
        let section = |key: &str| match manifest.get(key) {
            Some(Json::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        let vars = read_json(&dir.join(STATE_FILE))?.map(|s| match s.get("vars") {
            Some(Json::Object(m)) => m.clone(),
            _ => Map::new(),
        });
        let mut nodes = section("nodes");
        nodes.extend(section("sources"));
        nodes.extend(section("unit_tests"));
        Ok(State {
            dir: dir.to_path_buf(),
            nodes,
            macros: section("macros"),
            vars,
        })
    }

    /// Whether var values can be compared (the state has a `sluice_state.json`).
    pub fn knows_vars(&self) -> bool {
        self.vars.is_some()
    }

    /// The state's manifest entry for a node.
    pub fn node(&self, unique_id: &str) -> Option<&Json> {
        self.nodes.get(unique_id)
    }

    /// Compare a node's manifest entry (as this run writes it), its current vars
    /// and the current macros' sources with the state's.
    pub fn compare(
        &self,
        current: &Json,
        vars: &Map<String, Json>,
        macros: &HashMap<String, String>,
    ) -> Changes {
        let id = current["unique_id"].as_str().unwrap_or_default();
        let Some(old) = self.nodes.get(id) else {
            return Changes {
                new: true,
                ..Changes::default()
            };
        };
        let differs = |key: &str| current.get(key) != old.get(key);
        let body = if current.get("test_metadata").is_some() {
            differs("test_metadata") || differs("column_name")
        } else {
            current["checksum"]["checksum"] != old["checksum"]["checksum"]
                || differs("given")
                || differs("expect")
        };
        let configs = config_without_noise(current) != config_without_noise(old)
            || differs("description")
            || differs("columns");
        // As dbt does: the configured names, not the target-derived ones, so a
        // production and a CI target with other schemas compare equal.
        let relation = ["database", "schema", "alias"]
            .iter()
            .any(|k| current["config"].get(*k) != old["config"].get(*k));
        let macros_changed = current["depends_on"]["macros"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .any(|m| {
                let old_sql = self.macros.get(m).and_then(|x| x["macro_sql"].as_str());
                macros.get(m).map(String::as_str) != old_sql
            });
        let vars_changed = match &self.vars {
            Some(all) => {
                let empty = Map::new();
                let old_vars = all.get(id).and_then(Json::as_object).unwrap_or(&empty);
                vars.iter().any(|(k, v)| old_vars.get(k) != Some(v))
            }
            None => false,
        };
        let enforced = |n: &Json| n["contract"]["enforced"].as_bool().unwrap_or(false);
        let contract = (enforced(current) || enforced(old))
            && (enforced(current) != enforced(old)
                || current["contract"]["checksum"] != old["contract"]["checksum"]);
        Changes {
            new: false,
            body,
            configs,
            relation,
            macros: macros_changed,
            vars: vars_changed,
            contract,
        }
    }
}

/// A node's config without the keys that never mean a change of definition, and
/// without the relation's names (`state:modified.relation` compares those).
fn config_without_noise(node: &Json) -> Json {
    match node.get("config") {
        Some(Json::Object(m)) => {
            let mut m = m.clone();
            for key in ["enabled", "database", "schema", "alias"] {
                m.remove(key);
            }
            Json::Object(m)
        }
        other => other.cloned().unwrap_or(Json::Null),
    }
}
