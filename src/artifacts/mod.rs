//! Artifacts: `manifest.json` (manifest v12) and `run_results.json` (run-results v6)
//! in dbt's schemas, so tools built for dbt read sluice's output unchanged.
//! Compiled SQL files are written by the compile step; see [`write_json`].

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use petgraph::graph::NodeIndex;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Map, Value as Json};

use crate::adapter::Dialect;
use crate::execute::hooks::{CompiledHook, ProjectHook};
use crate::execute::materialize::{self, Compiled};
use crate::execute::{NodeResult, Status};
use crate::graph::Dag;
use crate::project::contracts::Contract;
use crate::project::Project;
use crate::render::parse::{split_ref_key, DependencyTarget, ParsedNode, ResourceType};

pub use crate::project::DBT_VERSION;
pub mod sources;

const MANIFEST_SCHEMA: &str = "https://schemas.getdbt.com/dbt/manifest/v12.json";
const RUN_RESULTS_SCHEMA: &str = "https://schemas.getdbt.com/dbt/run-results/v6.json";

/// What every artifact's metadata shares.
pub struct Invocation {
    pub invocation_id: String,
    pub started_at: DateTime<Utc>,
    pub project_name: String,
    pub adapter_type: String,
    pub command: String,
    pub args: Json,
    /// The database relations live in when a node names none (DuckDB: the
    /// catalog, named after the file), so another run can `--defer` to them.
    pub database: Option<String>,
}

/// The `metadata` block of run_results.json and sources.json.
fn metadata(schema: &str, inv: &Invocation) -> Json {
    json!({
        "dbt_schema_version": schema,
        "dbt_version": DBT_VERSION,
        "generated_at": iso(Utc::now()),
        "invocation_id": inv.invocation_id,
        "invocation_started_at": iso(inv.started_at),
        "env": {},
    })
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn columns_json(node: &ParsedNode) -> Json {
    Json::Object(
        node.columns
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    json!({
                        "name": c.name,
                        "description": c.description,
                        "data_type": c.data_type,
                        "meta": c.meta,
                        "tags": c.tags,
                        "constraints": c.constraints.iter().map(|k| k.to_json(false, None)).collect::<Vec<_>>(),
                    }),
                )
            })
            .collect(),
    )
}

/// The nodes a node depends on, as dbt records them: a unit test depends on its
/// model (sluice's graph orders it the other way round, so `build` runs it first).
fn depends_on_ids(dag: &Dag, node: &ParsedNode) -> Vec<String> {
    if let Some(u) = &node.unit_test {
        return vec![u.model_id.clone()];
    }
    let mut ids: Vec<String> = dag
        .by_id
        .get(&node.unique_id)
        .map(|i| {
            dag.parents(*i)
                .map(|p| dag.node(p))
                .filter(|p| p.resource_type != ResourceType::UnitTest)
                .map(|p| p.unique_id.clone())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn unit_test_json(node: &ParsedNode, inv: &Invocation) -> Json {
    let Some(u) = &node.unit_test else {
        return Json::Null;
    };
    let rows = |r: &crate::project::properties::RowsDef| json!({"rows": r.raw, "format": r.format});
    let given: Vec<Json> = u
        .def
        .given
        .iter()
        .map(|g| {
            let mut v = rows(&g.rows);
            v["input"] = json!(g.input);
            v
        })
        .collect();
    json!({
        "model": u.def.model,
        "given": given,
        "expect": rows(&u.def.expect),
        "name": node.name,
        "resource_type": "unit_test",
        "package_name": inv.project_name,
        "path": node.path.to_string_lossy(),
        "original_file_path": node.original_file_path.to_string_lossy(),
        "unique_id": node.unique_id,
        "fqn": node.fqn,
        "description": node.description,
        "overrides": {"vars": u.def.vars, "macros": u.def.macros, "env_vars": u.def.env_vars},
        "depends_on": {"macros": [], "nodes": [u.model_id]},
        "config": {"tags": node.tags(), "meta": node.config.get("meta").cloned().unwrap_or(json!({})), "enabled": true},
    })
}

fn node_json(
    dag: &Dag,
    node: &ParsedNode,
    inv: &Invocation,
    compiled: Option<&CompiledInfo>,
) -> Json {
    let attached = node
        .generic_test
        .as_ref()
        .and_then(|t| t.attached_to.as_ref())
        .and_then(|id| dag.get(id));
    node_json_with(node, inv, compiled, depends_on_ids(dag, node), attached)
}

/// A model's, seed's, snapshot's or test's manifest entry, given its parents'
/// unique ids and (for a generic test) the node it is attached to.
pub fn node_json_with(
    node: &ParsedNode,
    inv: &Invocation,
    compiled: Option<&CompiledInfo>,
    parents: Vec<String>,
    attached: Option<&ParsedNode>,
) -> Json {
    let mut config = node.config.to_json();
    if let Json::Object(m) = &mut config {
        m.insert("materialized".into(), Json::from(node.materialized()));
        m.insert("enabled".into(), Json::Bool(true));
        // dbt always lists tags, empty or not.
        m.insert("tags".into(), json!(node.tags()));
        // dbt stores hooks as objects.
        for hook in ["pre-hook", "post-hook"] {
            let list: Vec<Json> = node
                .config
                .hooks(hook)
                .into_iter()
                .enumerate()
                .map(|(i, sql)| json!({"sql": sql, "transaction": true, "index": i}))
                .collect();
            m.insert(hook.into(), Json::Array(list));
        }
        if node.resource_type == ResourceType::Test {
            // As written (dbt keeps `error` from a config), `ERROR` by default.
            let sev = node.config.get_str("severity").unwrap_or("ERROR");
            m.insert("severity".into(), Json::from(sev));
        }
    }
    // Which nodes sluice compiles just before they run, and why (dbt's parser
    // keeps unknown config keys; dbt compiles every node at run time).
    if let (Some(why), Json::Object(m)) = (&node.reads.introspects, &mut config) {
        m.insert(
            LATE_COMPILE_KEY.into(),
            json!({"when": "run", "because": late_reason(why)}),
        );
    }
    let relation = node.relation.as_ref();
    let schema = match node.resource_type {
        ResourceType::Test => format!(
            "{}_dbt_test__audit",
            relation.map_or("main", |r| r.schema.as_str())
        ),
        _ => relation.map_or(String::new(), |r| r.schema.clone()),
    };
    let mut m = Map::new();
    m.insert(
        "database".into(),
        json!(relation
            .and_then(|r| r.database.clone())
            .or_else(|| inv.database.clone())),
    );
    m.insert("schema".into(), json!(schema));
    m.insert("name".into(), json!(node.name));
    m.insert("resource_type".into(), json!(node.resource_type.as_str()));
    m.insert("package_name".into(), json!(node.package_name()));
    m.insert("path".into(), json!(node.path.to_string_lossy()));
    m.insert(
        "original_file_path".into(),
        json!(node.original_file_path.to_string_lossy()),
    );
    m.insert("unique_id".into(), json!(node.unique_id));
    m.insert("fqn".into(), json!(node.fqn));
    m.insert(
        "alias".into(),
        json!(match &node.generic_test {
            Some(t) => t.short_name.clone(),
            None => relation.map_or(node.name.clone(), |r| r.identifier.clone()),
        }),
    );
    let checksum = if node.generic_test.is_some() {
        json!({"name": "none", "checksum": ""})
    } else {
        json!({"name": "sha256", "checksum": node.checksum})
    };
    m.insert("checksum".into(), checksum);
    m.insert("config".into(), config);
    m.insert("tags".into(), json!(node.tags()));
    m.insert("description".into(), json!(node.description));
    m.insert("columns".into(), columns_json(node));
    m.insert(
        "meta".into(),
        node.config.get("meta").cloned().unwrap_or(json!({})),
    );
    m.insert("raw_code".into(), json!(node.raw_code()));
    m.insert(
        "relation_name".into(),
        match (node.resource_type, compiled) {
            (ResourceType::Test, _) => Json::Null,
            (_, Some(c)) => json!(c.relation_name),
            _ => Json::Null,
        },
    );
    let macros: Vec<String> = node
        .reads
        .macros
        .iter()
        .map(|m| format!("macro.{}.{m}", inv.project_name))
        .collect();
    if node.resource_type == ResourceType::Seed {
        m.insert("depends_on".into(), json!({"macros": macros}));
        return Json::Object(m);
    }
    let refs: Vec<Json> = node
        .depends_on
        .iter()
        .filter_map(|d| match &d.target {
            DependencyTarget::Ref(key) => {
                let (name, version) = split_ref_key(key);
                // A whole-number version reads back as a number, as `v=2` does in dbt.
                let version =
                    version.map(|v| v.parse::<i64>().map_or_else(|_| json!(v), Json::from));
                Some(json!({"name": name, "package": null, "version": version}))
            }
            _ => None,
        })
        .collect();
    let sources: Vec<Json> = node
        .depends_on
        .iter()
        .filter_map(|d| match &d.target {
            DependencyTarget::Source(s, t) => Some(json!([s, t])),
            _ => None,
        })
        .collect();
    m.insert("language".into(), json!(node.language()));
    m.insert("refs".into(), Json::Array(refs));
    m.insert("sources".into(), Json::Array(sources));
    m.insert("metrics".into(), json!([]));
    m.insert(
        "depends_on".into(),
        json!({"macros": macros, "nodes": parents}),
    );
    m.insert("compiled".into(), json!(compiled.is_some()));
    if let Some(c) = compiled {
        m.insert("compiled_path".into(), json!(c.compiled_path));
        m.insert("compiled_code".into(), json!(c.sql));
    }
    m.insert("extra_ctes_injected".into(), json!(compiled.is_some()));
    m.insert("extra_ctes".into(), json!([]));
    if node.resource_type == ResourceType::Model {
        let contract = Contract::of(&node.config, &node.span).unwrap_or(Contract {
            enforced: false,
            alias_types: true,
        });
        let checksum = contract.enforced.then(|| {
            crate::project::contracts::checksum(
                &node.columns,
                &node.constraints,
                node.materialized(),
            )
        });
        m.insert("contract".into(), contract.to_json(checksum.as_deref()));
        m.insert(
            "constraints".into(),
            json!(node
                .constraints
                .iter()
                .map(|c| c.to_json(true, None))
                .collect::<Vec<_>>()),
        );
        if let Some(Json::Object(config)) = m.get_mut("config") {
            config.insert(
                "contract".into(),
                json!({"enforced": contract.enforced, "alias_types": contract.alias_types}),
            );
        }
        let v = node.version.as_deref();
        m.insert("version".into(), json!(v.map(|v| &v.v)));
        m.insert("latest_version".into(), json!(v.map(|v| &v.latest)));
        m.insert(
            "deprecation_date".into(),
            json!(v.and_then(|v| v.deprecation_date.as_ref())),
        );
    }
    if let Some(t) = &node.generic_test {
        let mut kwargs: Map<String, Json> = t.kwargs.iter().cloned().collect();
        if let Some(expr) = &t.model_expr {
            kwargs.insert(
                "model".into(),
                json!(format!("{{{{ get_where_subquery({expr}) }}}}")),
            );
        }
        m.insert(
            "test_metadata".into(),
            json!({"name": t.test_name, "kwargs": kwargs, "namespace": t.namespace}),
        );
        m.insert("column_name".into(), json!(t.column_name));
        let attached_is_source = attached.is_some_and(|n| n.resource_type == ResourceType::Source);
        m.insert(
            "attached_node".into(),
            match attached {
                Some(n) if !attached_is_source => json!(n.unique_id),
                _ => Json::Null,
            },
        );
        let file_key = if attached_is_source {
            "sources"
        } else {
            "models"
        };
        let key_name = attached.map_or(String::new(), |n| {
            n.source_name.clone().unwrap_or_else(|| n.name.clone())
        });
        m.insert(
            "file_key_name".into(),
            json!(format!("{file_key}.{key_name}")),
        );
    }
    Json::Object(m)
}

fn source_json(node: &ParsedNode, inv: &Invocation) -> Json {
    let relation = node.relation.as_ref();
    json!({
        "database": relation.and_then(|r| r.database.clone()).or_else(|| inv.database.clone()),
        "schema": relation.map_or(String::new(), |r| r.schema.clone()),
        "name": node.name,
        "resource_type": "source",
        "package_name": node.package_name(),
        "path": node.path.to_string_lossy(),
        "original_file_path": node.original_file_path.to_string_lossy(),
        "unique_id": node.unique_id,
        "fqn": node.fqn,
        "source_name": node.source_name,
        "source_description": "",
        "loader": "",
        "identifier": relation.map_or(node.name.clone(), |r| r.identifier.clone()),
        "description": node.description,
        "columns": columns_json(node),
        "tags": node.tags(),
        "config": {"enabled": true},
    })
}

/// A node's manifest entry as this run writes it, before compiling.
pub fn entry_json(dag: &Dag, node: &ParsedNode, inv: &Invocation) -> Json {
    match node.resource_type {
        ResourceType::Source => source_json(node, inv),
        ResourceType::UnitTest => unit_test_json(node, inv),
        _ => node_json(dag, node, inv, None),
    }
}

/// Per-node compile output the manifest records.
pub struct CompiledInfo {
    pub sql: String,
    pub compiled_path: String,
    pub relation_name: Option<String>,
}

/// What the artifacts record of each compiled node: its SQL, its compiled file
/// (relative to the project, as dbt writes it), its relation in `dialect`.
pub fn compiled_info(
    dag: &Dag,
    project: &Project,
    dialect: &dyn Dialect,
    compiled: &HashMap<NodeIndex, &Compiled>,
) -> BTreeMap<String, CompiledInfo> {
    let target_path = project.target_path();
    let target = target_path
        .strip_prefix(&project.root)
        .unwrap_or(target_path);
    compiled
        .iter()
        .map(|(idx, c)| {
            let node = dag.node(*idx);
            let relation_name = node.relation.as_ref().map(|r| dialect.render_relation(r));
            let path = || {
                materialize::compiled_path(target, project.name(), node)
                    .to_string_lossy()
                    .into_owned()
            };
            let (sql, compiled_path, relation_name) = match c {
                Compiled::Sql { sql, .. } => (sql.clone(), path(), relation_name),
                Compiled::UnitTest { test, .. } => (test.sql.clone(), path(), None),
                Compiled::Seed(_)
                | Compiled::UnitTestPending
                | Compiled::Late { .. }
                | Compiled::Failed(_) => (String::new(), String::new(), relation_name),
            };
            let info = CompiledInfo {
                sql,
                compiled_path,
                relation_name,
            };
            (node.unique_id.clone(), info)
        })
        .collect()
}

/// One node's manifest entry as JSON text: serialized by this run, or taken as is
/// from the parse cache (the same text an earlier run serialized for the node).
pub enum RawEntry<'a> {
    Text(String),
    Bytes(&'a [u8]),
}

impl RawEntry<'_> {
    pub fn bytes(&self) -> &[u8] {
        match self {
            RawEntry::Text(s) => s.as_bytes(),
            RawEntry::Bytes(b) => b,
        }
    }
}

/// manifest.json. Each node is serialized on its own (in parallel) and kept as JSON
/// text, so a 10,000-model manifest never exists as one big value tree, and an
/// unchanged node's text can come from the parse cache. [`Manifest::write_to`]
/// writes the fields in this order.
pub struct Manifest<'a> {
    metadata: Json,
    nodes: BTreeMap<String, RawEntry<'a>>,
    sources: BTreeMap<String, RawEntry<'a>>,
    macros: Map<String, Json>,
    docs: Json,
    exposures: Json,
    metrics: Json,
    groups: Json,
    selectors: Json,
    disabled: Json,
    parent_map: BTreeMap<String, Vec<String>>,
    child_map: BTreeMap<String, Vec<String>>,
    group_map: Json,
    saved_queries: Json,
    semantic_models: Json,
    unit_tests: BTreeMap<String, RawEntry<'a>>,
}

/// A node's manifest entry as JSON text (what the parse cache stores).
pub fn entry_text(dag: &Dag, node: &ParsedNode, inv: &Invocation) -> String {
    // Serializing a serde_json::Value to text cannot fail.
    serde_json::to_string(&entry_json(dag, node, inv)).expect("a JSON value serializes")
}

/// The parents' unique ids a node's manifest entry lists (`depends_on.nodes`).
pub fn parent_ids(dag: &Dag, node: &ParsedNode) -> Vec<String> {
    depends_on_ids(dag, node)
}

/// Gives a node's manifest entry from the parse cache, given its parents.
pub type ReuseEntry<'a> = dyn Fn(&ParsedNode, &[String]) -> Option<&'a [u8]> + Sync + 'a;

/// The manifest of every parsed node. `reuse(node, parents)` may give the entry of
/// a node that is not compiled this run (from the parse cache) instead of
/// serializing it again.
pub fn manifest<'a>(
    dag: &Dag,
    inv: &Invocation,
    compiled: &BTreeMap<String, CompiledInfo>,
    macros: &[(String, String, String)],
    reuse: &ReuseEntry<'a>,
) -> Manifest<'a> {
    let mut nodes = BTreeMap::new();
    let mut sources = BTreeMap::new();
    let mut unit_tests = BTreeMap::new();
    let mut parent_map = BTreeMap::new();
    let mut child_map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let entries: Vec<(Vec<String>, RawEntry<'a>)> = dag
        .nodes
        .par_iter()
        .map(|node| {
            let parents = depends_on_ids(dag, node);
            let compiled = compiled.get(&node.unique_id);
            if compiled.is_none() {
                if let Some(bytes) = reuse(node, &parents) {
                    return (parents, RawEntry::Bytes(bytes));
                }
            }
            let entry = match node.resource_type {
                ResourceType::Source | ResourceType::UnitTest => entry_json(dag, node, inv),
                _ => node_json(dag, node, inv, compiled),
            };
            // Serializing a serde_json::Value to text cannot fail.
            let text = serde_json::to_string(&entry).expect("a JSON value serializes");
            (parents, RawEntry::Text(text))
        })
        .collect();
    for (node, (parents, entry)) in dag.nodes.iter().zip(entries) {
        for p in &parents {
            child_map
                .entry(p.clone())
                .or_default()
                .push(node.unique_id.clone());
        }
        child_map.entry(node.unique_id.clone()).or_default();
        parent_map.insert(node.unique_id.clone(), parents);
        let section = match node.resource_type {
            ResourceType::Source => &mut sources,
            ResourceType::UnitTest => &mut unit_tests,
            _ => &mut nodes,
        };
        section.insert(node.unique_id.clone(), entry);
    }
    for children in child_map.values_mut() {
        children.sort();
    }
    let macros: Map<String, Json> = macros
        .iter()
        .map(|(name, path, sql)| {
            let id = format!("macro.{}.{name}", inv.project_name);
            (
                id.clone(),
                json!({
                    "name": name,
                    "resource_type": "macro",
                    "package_name": inv.project_name,
                    "path": path,
                    "original_file_path": path,
                    "unique_id": id,
                    "macro_sql": sql,
                }),
            )
        })
        .collect();
    let empty = || json!({});
    Manifest {
        metadata: manifest_metadata(inv),
        nodes,
        sources,
        macros,
        docs: empty(),
        exposures: empty(),
        metrics: empty(),
        groups: empty(),
        selectors: empty(),
        disabled: empty(),
        parent_map,
        child_map,
        group_map: empty(),
        saved_queries: empty(),
        semantic_models: empty(),
        unit_tests,
    }
}

impl Manifest<'_> {
    /// Add nodes that are not in the graph (project hooks), with no parents or
    /// children.
    pub fn add_nodes(&mut self, entries: Vec<(String, Json)>) {
        for (id, entry) in entries {
            // Serializing a serde_json::Value to text cannot fail.
            let text = serde_json::to_string(&entry).expect("a JSON value serializes");
            self.parent_map.insert(id.clone(), Vec::new());
            self.child_map.insert(id.clone(), Vec::new());
            self.nodes.insert(id, RawEntry::Text(text));
        }
    }
}

impl From<&CompiledHook> for CompiledInfo {
    fn from(h: &CompiledHook) -> CompiledInfo {
        CompiledInfo {
            sql: h.sql.clone(),
            compiled_path: h.compiled_path.clone(),
            relation_name: None,
        }
    }
}

/// The project hooks' manifest nodes (resource type `operation`), as dbt-core
/// writes them; `schema` is the target's.
pub fn operations(
    hooks: &[ProjectHook<'_>],
    inv: &Invocation,
    schema: &str,
    compiled: &BTreeMap<String, CompiledInfo>,
) -> Vec<(String, Json)> {
    use sha2::{Digest, Sha256};
    hooks
        .iter()
        .map(|h| {
            let id = h.unique_id();
            let name = h.name();
            let c = compiled.get(&id);
            let checksum: String = Sha256::digest(h.file_text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let entry = json!({
                "database": inv.database, "schema": schema, "name": name,
                "resource_type": "operation", "package_name": h.package,
                "path": format!("hooks/{name}.sql"),
                "original_file_path": h.original_file_path,
                "unique_id": id, "fqn": [h.package, "hooks", name], "alias": name,
                "checksum": {"name": "sha256", "checksum": checksum},
                "config": {"enabled": true, "alias": null, "schema": null, "database": null,
                    "tags": [], "meta": {}, "materialized": "view", "post-hook": [],
                    "pre-hook": [], "quoting": {}, "column_types": {}, "persist_docs": {},
                    "full_refresh": null, "unique_key": null, "on_schema_change": "ignore",
                    "on_configuration_change": "apply", "grants": {}, "packages": [],
                    "docs": {"show": true, "node_color": null},
                    "contract": {"enforced": false, "alias_types": true}},
                "tags": [h.kind.as_str()], "description": "", "columns": {}, "meta": {},
                "docs": {"show": true, "node_color": null}, "unrendered_config": {},
                "created_at": inv.started_at.timestamp() as f64,
                "relation_name": null, "raw_code": h.hook.sql, "language": "sql",
                "refs": [], "sources": [], "metrics": [],
                "depends_on": {"macros": [], "nodes": []},
                "compiled_path": c.map(|c| c.compiled_path.clone()),
                "compiled": c.is_some(),
                "compiled_code": c.map(|c| c.sql.clone()),
                "extra_ctes_injected": c.is_some(), "extra_ctes": [],
                "contract": {"enforced": false, "alias_types": true, "checksum": null},
                "index": h.position + 1,
            });
            (id, entry)
        })
        .collect()
}

/// A top-level field of manifest.json, serialized: JSON text, or node entries
/// (unique_id → JSON text) written as an object.
pub enum Part<'p> {
    Text(std::borrow::Cow<'p, [u8]>),
    Entries(Vec<(&'p str, &'p [u8])>),
}

/// Write manifest.json's top-level fields as one compact JSON object.
pub fn write_parts(w: &mut impl Write, parts: &[(&str, Part<'_>)]) -> std::io::Result<()> {
    w.write_all(b"{")?;
    for (i, (key, part)) in parts.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        serde_json::to_writer(&mut *w, key)?;
        w.write_all(b":")?;
        match part {
            Part::Text(t) => w.write_all(t)?,
            Part::Entries(entries) => {
                w.write_all(b"{")?;
                for (j, (id, bytes)) in entries.iter().enumerate() {
                    if j > 0 {
                        w.write_all(b",")?;
                    }
                    serde_json::to_writer(&mut *w, id)?;
                    w.write_all(b":")?;
                    w.write_all(bytes)?;
                }
                w.write_all(b"}")?;
            }
        }
    }
    w.write_all(b"}")
}

/// Write manifest.json atomically from its parts (temp file, then rename).
pub fn write_manifest_parts(path: &Path, parts: &[(&str, Part<'_>)]) -> std::io::Result<()> {
    write_atomically(path, |w| write_parts(w, parts))
}

/// The manifest's metadata for an invocation.
pub fn manifest_metadata(inv: &Invocation) -> Json {
    json!({
        "dbt_schema_version": MANIFEST_SCHEMA,
        "dbt_version": DBT_VERSION,
        "generated_at": iso(Utc::now()),
        "invocation_id": inv.invocation_id,
        "invocation_started_at": iso(inv.started_at),
        "env": {},
        "project_name": inv.project_name,
        "adapter_type": inv.adapter_type,
    })
}

fn text(v: &impl Serialize) -> std::borrow::Cow<'static, [u8]> {
    // Serializing JSON values and string maps to text cannot fail.
    serde_json::to_vec(v).expect("JSON serializes").into()
}

impl Manifest<'_> {
    /// The top-level fields in dbt's order, serialized.
    pub fn parts(&self) -> Vec<(&'static str, Part<'_>)> {
        fn entries<'p>(m: &'p BTreeMap<String, RawEntry<'_>>) -> Part<'p> {
            Part::Entries(m.iter().map(|(k, v)| (k.as_str(), v.bytes())).collect())
        }
        vec![
            ("metadata", Part::Text(text(&self.metadata))),
            ("nodes", entries(&self.nodes)),
            ("sources", entries(&self.sources)),
            ("macros", Part::Text(text(&self.macros))),
            ("docs", Part::Text(text(&self.docs))),
            ("exposures", Part::Text(text(&self.exposures))),
            ("metrics", Part::Text(text(&self.metrics))),
            ("groups", Part::Text(text(&self.groups))),
            ("selectors", Part::Text(text(&self.selectors))),
            ("disabled", Part::Text(text(&self.disabled))),
            ("parent_map", Part::Text(text(&self.parent_map))),
            ("child_map", Part::Text(text(&self.child_map))),
            ("group_map", Part::Text(text(&self.group_map))),
            ("saved_queries", Part::Text(text(&self.saved_queries))),
            ("semantic_models", Part::Text(text(&self.semantic_models))),
            ("unit_tests", entries(&self.unit_tests)),
        ]
    }

    /// Write manifest.json atomically (temp file, then rename).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        write_manifest_parts(path, &self.parts())
    }
}

/// The results of one run.
pub fn run_results(
    results: &[NodeResult],
    inv: &Invocation,
    elapsed: f64,
    compiled: &BTreeMap<String, CompiledInfo>,
) -> Json {
    let results: Vec<Json> = results
        .iter()
        .map(|r| {
            let timing: Vec<Json> = match (r.started_at, r.completed_at) {
                (Some(s), Some(c)) => vec![
                    json!({"name": "compile", "started_at": iso(s), "completed_at": iso(s)}),
                    json!({"name": "execute", "started_at": iso(s), "completed_at": iso(c)}),
                ],
                _ => Vec::new(),
            };
            let mut adapter_response = match (r.status.as_str(), r.rows_affected) {
                ("skipped" | "error", _) => json!({}),
                (_, Some(rows)) => json!({"_message": format!("INSERT {rows}"), "code": "INSERT", "rows_affected": rows}),
                _ => json!({"_message": "OK"}),
            };
            // Operations (project hooks, run-operation's macro) have none, as in dbt.
            let operation = r.unique_id.starts_with("operation.") || r.unique_id.starts_with("macro.");
            if operation {
                adapter_response = json!({});
            } else if r.status != Status::Skipped {
                adapter_response["warehouse_seconds"] = json!(r.warehouse_seconds);
            }
            let c = compiled.get(&r.unique_id);
            json!({
                "status": r.status.as_str(),
                "timing": timing,
                "thread_id": if r.thread_id.is_empty() { "main".to_owned() } else { r.thread_id.clone() },
                "execution_time": r.execution_time,
                "adapter_response": adapter_response,
                "message": if r.message.is_empty() { Json::Null } else { json!(r.message) },
                "failures": r.failures,
                "unique_id": r.unique_id,
                "compiled": c.is_some() && r.status.as_str() != "skipped",
                "compiled_code": c.map(|c| c.sql.clone()),
                "relation_name": c.and_then(|c| c.relation_name.clone()),
            })
        })
        .collect();
    json!({
        "metadata": metadata(RUN_RESULTS_SCHEMA, inv),
        "results": results,
        "elapsed_time": elapsed,
        "args": inv.args,
    })
}

/// Write a JSON artifact atomically (temp file, then rename), so a reader never
/// sees half a file.
pub fn write_json(path: &Path, value: &impl Serialize) -> std::io::Result<()> {
    // Compact, as dbt writes them: a 10,000-model manifest is tens of megabytes.
    write_atomically(path, |w| Ok(serde_json::to_writer(w, value)?))
}

fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    // A large buffer: a 24 MB manifest in 8 KB writes is thousands of system calls.
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    write(&mut out)?;
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, path)
}

/// The node config key that records a node compiled just before it runs.
pub const LATE_COMPILE_KEY: &str = "sluice_compile";

/// Why a node is compiled when it runs, from its first introspective call.
pub fn late_reason(call: &str) -> String {
    if call == "execute" {
        "its Jinja reads `execute` (a guard around warehouse queries)".to_owned()
    } else {
        format!("its Jinja calls `{call}`, which queries the warehouse")
    }
}
