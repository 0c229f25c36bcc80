//! Parse renders: a [`Project`] → [`ParsedNode`]s.
//!
//! Models and singular tests are rendered once with `execute = false`, which records
//! their `ref`/`source`/`config` calls (in parallel, with rayon). Seeds, sources and
//! the generic tests declared in YAML become nodes too, so the graph stage sees one
//! uniform list. Configs are merged with dbt's precedence: project.yml tree < YAML
//! properties < `{{ config() }}`.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use minijinja::value::Value;
use rayon::prelude::*;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::macros::MacroDef;
pub use super::versions::{ref_key, split_ref_key, NodeVersion};
use super::versions::{versioned_fqn, Naming};
use super::{NodeContext, Phase, Relation, RenderShared, Renderer};
use crate::adapter::RelationName;
use crate::diagnostics::{Diagnostic, Diagnostics, SourceFile, Span};
use crate::project::config::check_entry;
use crate::project::incremental::IncrementalConfig;
use crate::project::project_yml::tree_config;
use crate::project::snapshot::{SnapshotBlock, SnapshotConfig};
use crate::project::yaml::Node;
use crate::project::{
    ColumnProps, Config, Materialization, Project, ProjectFileEntry, SqlCheck, TestDef,
};
use crate::testing::generic;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    Seed,
    Model,
    Test,
    Source,
    UnitTest,
    Snapshot,
    Exposure,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Seed => "seed",
            ResourceType::Model => "model",
            ResourceType::Test => "test",
            ResourceType::Source => "source",
            ResourceType::UnitTest => "unit_test",
            ResourceType::Snapshot => "snapshot",
            ResourceType::Exposure => "exposure",
        }
    }
}

/// A call to `ref`/`source` found while parsing, with where it is written.
#[derive(Clone, Debug)]
pub struct Dependency {
    pub target: DependencyTarget,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DependencyTarget {
    Ref(String),
    Source(String, String),
}

/// A generic test declared in YAML.
#[derive(Clone, Debug)]
pub struct GenericTest {
    pub test_name: String,
    pub namespace: Option<String>,
    pub kwargs: Vec<(String, Json)>,
    pub column_name: Option<String>,
    /// The model, seed or source the test is attached to (its unique_id); an
    /// assertion over a query (`kind: equals`) has none.
    pub attached_to: Option<String>,
    /// The relation under test, as a template expression (`ref('x')`).
    pub model_expr: Option<String>,
    /// A metric-accuracy assertion (`assertions:`), not a data test.
    pub is_assertion: bool,
    /// The name used for files and aliases (shortened when long, as dbt does).
    pub short_name: String,
}

/// One node of the project, as the graph stage receives it.
#[derive(Clone, Debug)]
pub struct ParsedNode {
    pub unique_id: String,
    pub resource_type: ResourceType,
    pub name: String,
    pub fqn: Vec<String>,
    /// The file that defines the node (SQL, CSV, or the YAML for tests and sources).
    pub file: Arc<SourceFile>,
    /// Where errors about the node point.
    pub span: Span,
    pub original_file_path: PathBuf,
    pub path: PathBuf,
    /// The minijinja template of a model or singular test.
    pub template: Option<String>,
    pub config: Config,
    pub materialization: Materialization,
    pub sql_check: SqlCheck,
    pub relation: Option<RelationName>,
    pub depends_on: Vec<Dependency>,
    pub description: String,
    pub columns: Vec<ColumnProps>,
    pub generic_test: Option<GenericTest>,
    pub checksum: String,
    /// For sources: the source's name.
    pub source_name: Option<String>,
    /// For unit tests: the definition and the model under test.
    pub unit_test: Option<UnitTestSpec>,
    /// The vars and project macros the node's template reads (state comparison).
    pub reads: Reads,
    /// Why sluice cannot run the node (a Python model, a materialization or a dbt
    /// macro it lacks): selected, it is an error of its own, its descendants are
    /// skipped and the rest builds. `None` for nearly every node.
    pub cannot_run: Option<Box<CannotRun>>,
    /// A version of a versioned model (`versions:` in its YAML); `None` otherwise.
    pub version: Option<Box<NodeVersion>>,
    /// A model's model-level constraints (its columns carry their own).
    pub constraints: Vec<crate::project::contracts::Constraint>,
    /// What only some nodes have: doc blocks, a source's own description, an
    /// exposure's fields.
    pub extra: NodeExtra,
}

/// The parts of a node few nodes have (empty for most: no allocation).
#[derive(Clone, Debug, Default)]
pub struct NodeExtra {
    /// The doc blocks its description uses (`doc.<package>.<name>`).
    pub doc_blocks: Vec<String>,
    /// For a source table: its source's description.
    pub source_description: String,
    /// For an exposure: what dbt records of it.
    pub exposure: Option<Box<super::exposures::ExposureSpec>>,
}

/// A node sluice reads but cannot run.
#[derive(Clone, Debug)]
pub struct CannotRun {
    /// The node's error when it runs (located, saying what is missing).
    pub diagnostic: Diagnostic,
    /// A Python model (dbt's `language: python`), not a SQL one.
    pub python: bool,
}

/// What a node's render read besides refs and sources.
#[derive(Clone, Debug, Default)]
pub struct Reads {
    pub vars: Vec<String>,
    pub macros: Vec<String>,
    /// Why the node is compiled just before it runs: the first introspective call
    /// its parse render made (`run_query`, `execute`, ...); none for most nodes.
    pub introspects: Option<String>,
}

/// A unit test node's definition, and the unique_id of the model it tests.
#[derive(Clone, Debug)]
pub struct UnitTestSpec {
    pub def: crate::project::properties::UnitTestDef,
    pub model_id: String,
}

impl ParsedNode {
    /// Where config `key` is set, else the node itself (for a located error).
    pub fn config_span(&self, key: &str) -> Span {
        self.config
            .span(key)
            .cloned()
            .unwrap_or_else(|| self.span.clone())
    }

    /// The package (the root project or an installed package) the node belongs
    /// to: the second part of its unique id (`model.<package>.<name>`).
    pub fn package_name(&self) -> &str {
        self.unique_id.split('.').nth(1).unwrap_or_default()
    }

    pub fn tags(&self) -> Vec<String> {
        self.config.tags()
    }

    /// The keys `ref()` finds the node by: its name, or for a version of a model
    /// `name.v<version>`, and the bare name for the latest version.
    pub fn ref_keys(&self) -> Vec<String> {
        let mut keys = vec![self.search_name()];
        if self.version.as_ref().is_some_and(|v| v.is_latest()) {
            keys.push(self.name.clone());
        }
        keys
    }

    /// dbt's `search_name`: the name, or `name.v<version>` for a version of a
    /// model (`ls --output name` prints it).
    pub fn search_name(&self) -> String {
        ref_key(&self.name, self.version.as_ref().map(|v| v.text.as_str()))
    }

    /// The name of the CTE an ephemeral model is inlined as (after dbt's
    /// `__dbt__cte__`): its name, or a version's relation name (`name_v2`).
    pub fn cte_name(&self) -> &str {
        match (&self.version, &self.relation) {
            (Some(_), Some(r)) => &r.identifier,
            _ => &self.name,
        }
    }

    /// `materialized` as the config spells it (also for a materialization sluice
    /// does not have).
    pub fn materialized(&self) -> &str {
        match self.materialization {
            Materialization::Other => self.config.get_str("materialized").unwrap_or("other"),
            m => m.as_str(),
        }
    }

    /// dbt's `language`: `python` for a Python model, else `sql`.
    pub fn language(&self) -> &'static str {
        if self.cannot_run.as_ref().is_some_and(|c| c.python) {
            "python"
        } else {
            "sql"
        }
    }

    /// The node's source code: a model's or singular test's SQL file (or a
    /// Python model's file), as written.
    pub fn raw_code(&self) -> &str {
        if self.template.is_some() || self.language() == "python" {
            &self.file.text
        } else {
            ""
        }
    }
}

pub fn checksum(text: &str) -> String {
    // The digest's own hex formatting: one string, not one per byte.
    format!("{:x}", Sha256::digest(text.trim().as_bytes()))
}

fn placeholder_relation(renderer: &Renderer, name: &str) -> Value {
    Relation::value(
        RelationName {
            database: None,
            schema: renderer.target.schema.clone(),
            identifier: name.to_owned(),
        },
        renderer.dialect,
    )
}

/// The `generate_<part>_name` macro dbt calls for one part of a node's relation:
/// the root project's override, else the node's own package's; `None` when
/// neither defines one (dbt's default then applies, computed in Rust).
fn name_override<'r>(
    renderer: &'r Renderer,
    macro_name: &str,
    node: &Value,
) -> Option<&'r MacroDef> {
    let package = node
        .get_attr("package_name")
        .ok()
        .and_then(|p| p.as_str().map(str::to_owned));
    renderer.registry.project(macro_name).or_else(|| {
        package
            .as_deref()
            .and_then(|p| renderer.registry.package(p, macro_name))
    })
}

/// Call a `generate_<part>_name` override with `custom` (the node's `schema`,
/// `alias` or `database` config) as `custom_<part>_name`, and the node.
fn call_name_macro(
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    def: &MacroDef,
    part: &str,
    custom: Option<&str>,
    node: &Value,
) -> Result<String, Diagnostic> {
    let args = vec![
        (
            format!("custom_{part}_name"),
            Value::from(custom.map(str::to_owned)),
        ),
        ("node".to_owned(), node.clone()),
    ];
    let ctx = NodeContext {
        this: Value::UNDEFINED,
        model: node.clone(),
        config: Json::Null,
    };
    let out = renderer
        .call_macro(def, Phase::Compile, shared, ctx, args)
        .map_err(|e| renderer.error(&e))?;
    Ok(out.sql.trim().to_owned())
}

/// An `alias`, `schema` or `database` config that is empty (or blank) names no
/// relation: dbt falls back to the node's name for an empty alias, writes
/// `<target schema>_` for an empty schema and sends `""` to the warehouse for an
/// empty database; sluice refuses all three, located.
fn check_name_parts(config: &Config, at: &Span) -> Result<(), Diagnostic> {
    for key in ["alias", "schema", "database"] {
        if config.get_str(key).is_some_and(|v| v.trim().is_empty()) {
            return Err(Diagnostic::error(format!("`{key}` is empty"))
                .with_label(config.span(key).unwrap_or(at), "an empty name")
                .with_help(format!(
                    "give `{key}` a name, or remove it to use the default"
                )));
        }
    }
    Ok(())
}

/// A node's relation, as dbt names it: `generate_schema_name`,
/// `generate_alias_name` and `generate_database_name`, each the project's (or the
/// node's package's) override when there is one, else dbt's default: the target
/// schema suffixed by a custom `schema`; the `alias` config, else the name; the
/// `database` config, else the target's.
fn relation_for(
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    name: &str,
    config: &Config,
    node: &Value,
    at: &Span,
) -> Result<RelationName, Diagnostic> {
    check_name_parts(config, at)?;
    let custom_schema = config.get_str("schema");
    let schema = match name_override(renderer, "generate_schema_name", node) {
        Some(def) => call_name_macro(renderer, shared, def, "schema", custom_schema, node)?,
        None => match custom_schema {
            Some(c) => format!("{}_{}", renderer.target.schema, c.trim()),
            None => renderer.target.schema.clone(),
        },
    };
    let custom_alias = config.get_str("alias");
    let identifier = match name_override(renderer, "generate_alias_name", node) {
        Some(def) => call_name_macro(renderer, shared, def, "alias", custom_alias, node)?,
        None => custom_alias
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .unwrap_or(name)
            .to_owned(),
    };
    let custom_database = config.get_str("database");
    let database = match name_override(renderer, "generate_database_name", node) {
        Some(def) => {
            let db = call_name_macro(renderer, shared, def, "database", custom_database, node)?;
            // The target's own database is the default one: written as no database,
            // as without an override.
            let default = renderer.target.template_database.as_ref();
            (!db.is_empty() && !db.eq_ignore_ascii_case("none") && Some(&db) != default)
                .then_some(db)
        }
        None => custom_database.map(str::to_owned),
    };
    Ok(RelationName {
        database,
        schema,
        identifier,
    })
}

/// Name a data test's audit relation, where `store_failures` keeps its failing
/// rows, as dbt names every test's: `schema` defaults to `dbt_test__audit` (then
/// through `generate_schema_name`: `<target schema>_dbt_test__audit`), the alias to
/// the test's name (a generic test's hashed short name when its name is too long).
/// The config gains the defaults, as dbt's manifest lists them.
pub(super) fn name_test_relation(
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    node: &mut ParsedNode,
) -> Result<(), Diagnostic> {
    crate::testing::store_failures::check_types(&node.config, &node.span)?;
    if node.config.get_str("schema").is_none() {
        node.config.set(
            "schema",
            Json::from(crate::testing::store_failures::AUDIT_SCHEMA),
            None,
        );
    }
    if let Some(t) = &node.generic_test {
        // dbt's test builder: a hashed name is the alias unless one is configured.
        if t.short_name != node.name && node.config.get_str("alias").is_none() {
            node.config
                .set("alias", Json::from(t.short_name.clone()), None);
        }
    }
    let value = Value::from_serialize(serde_json::json!({
        "name": node.name, "resource_type": "test", "config": node.config.to_json(),
        "package_name": node.package_name(),
        "unique_id": node.unique_id,
        "fqn": node.fqn,
        "path": node.path,
        "original_file_path": node.original_file_path,
    }));
    let relation = relation_for(
        renderer,
        shared,
        &node.name,
        &node.config,
        &value,
        &node.span,
    )?;
    node.relation = Some(relation);
    Ok(())
}

struct ModelParse {
    entry: ProjectFileEntry,
    config: Config,
    deps: Vec<Dependency>,
    reads: Reads,
    /// The render stopped at a `dbt` macro sluice lacks: the node's error.
    cannot_run: Option<Diagnostic>,
    /// A Python model.
    python: bool,
}

fn parse_sql_file(
    owner: Owner<'_>,
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    entry: &ProjectFileEntry,
    template: &str,
    base_config: Config,
) -> Result<ModelParse, Diagnostic> {
    if entry.file.text.trim().is_empty() {
        return Err(
            Diagnostic::error(format!("{} is empty", entry.rel_path.display()))
                .with_label(&Span::file_start(&entry.file), "no SQL here")
                .with_help("write a SELECT statement, or delete the file"),
        );
    }
    let ctx = NodeContext {
        this: placeholder_relation(renderer, &entry.name),
        model: Value::from_serialize(
            serde_json::json!({"name": entry.name, "package_name": owner.project.name()}),
        ),
        config: Json::Null,
    };
    super::macros::take_lacks_builtin();
    let (recorded, cannot_run) =
        match renderer.render_recording(template, Phase::Parse, shared, ctx, None) {
            Ok(r) => (r.recorded, None),
            // One of dbt-core's `dbt` macros that sluice lacks: an error of this
            // node when it runs, not of the project. Its refs are those recorded
            // before the call and those written in the file.
            Err(f) if super::macros::take_lacks_builtin() => {
                let mut recorded = f.recorded;
                let (refs, sources) = super::written_calls(&entry.file);
                for r in refs {
                    if !recorded.refs.contains(&r) {
                        recorded.refs.push(r);
                    }
                }
                for s in sources {
                    if !recorded.sources.contains(&s) {
                        recorded.sources.push(s);
                    }
                }
                let mut d = f.diagnostic.with_note(format!(
                "while parsing {}: sluice cannot run it; the nodes that depend on it are skipped",
                entry.rel_path.display()
            ));
                d.help = Some(
                    "sluice provides part of dbt-core's `dbt` macros (docs/dbt-compatibility.md \
                     lists them): check the name, rewrite the call with a macro sluice has, or \
                     run this model with dbt"
                        .to_owned(),
                );
                (recorded, Some(d))
            }
            Err(f) => return Err(f.diagnostic),
        };
    let mut config = base_config;
    let mut warnings = Vec::new();
    for (key, value) in &recorded.config {
        let span = find_config_span(&entry.file, key);
        check_entry(key, value, &span, &mut warnings)?;
        config.set(key, value.clone(), Some(span));
    }
    let mut deps = Vec::new();
    for r in &recorded.refs {
        deps.push(Dependency {
            target: DependencyTarget::Ref(r.clone()),
            span: super::find_ref_span(&entry.file, r),
        });
    }
    for (s, t) in &recorded.sources {
        deps.push(Dependency {
            target: DependencyTarget::Source(s.clone(), t.clone()),
            span: super::find_call_span(&entry.file, "source", s, Some(t)),
        });
    }
    Ok(ModelParse {
        entry: entry.clone(),
        config,
        deps,
        reads: Reads {
            vars: recorded.vars.iter().cloned().collect(),
            macros: recorded.macros.iter().cloned().collect(),
            introspects: recorded.introspects.clone(),
        },
        cannot_run,
        python: false,
    })
}

/// The span of `key=` inside a `config(...)` call, or the file's first line.
fn find_config_span(file: &Arc<SourceFile>, key: &str) -> Span {
    let text = &file.text;
    let mut search = 0;
    while let Some(pos) = text[search..].find("config(") {
        let start = search + pos;
        let end = text[start..].find(')').map_or(text.len(), |e| start + e);
        if let Some(k) = text[start..end].find(key) {
            let s = start + k;
            return Span::new(file, s, s + key.len());
        }
        search = start + 7;
    }
    Span::file_start(file)
}

/// The data tests of one node: each with the column it is declared on, if any.
pub(super) type TestList<'a> = Vec<(Option<&'a ColumnProps>, &'a TestDef)>;

/// The result of parsing a project.
pub struct ParseOutput {
    pub nodes: Vec<ParsedNode>,
    pub warnings: Vec<Diagnostic>,
    /// Models (unique ids) whose generic tests warned while being built: their
    /// results are not cached, so the warnings show again next time.
    pub warned: HashSet<String>,
}

/// What parsing collects across the root project and its packages.
#[derive(Default)]
struct Acc {
    nodes: Vec<ParsedNode>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    warned: HashSet<String>,
}

/// The project a node comes from (the root project or a package) and the root
/// project, whose config trees also apply to a package's nodes, as in dbt.
#[derive(Clone, Copy)]
pub(super) struct Owner<'a> {
    pub(super) project: &'a Project,
    pub(super) root: &'a Project,
}

impl Owner<'_> {
    fn is_root(&self) -> bool {
        std::ptr::eq(self.project, self.root)
    }

    /// A node's config from the project trees: the package's own `models:` (etc.)
    /// tree, then the root project's (which reaches package nodes through
    /// `models: {package: {...}}` and top-level `+key`s).
    fn tree_config(&self, tree: impl Fn(&Project) -> Option<&Node>, fqn: &[String]) -> Config {
        let mut config = tree_config(tree(self.project), fqn);
        if !self.is_root() {
            config.merge(&tree_config(tree(self.root), fqn));
        }
        config
    }

    pub(super) fn unique_id(&self, kind: &str, name: &str) -> String {
        format!("{kind}.{}.{name}", self.project.name())
    }

    fn file_path(&self, entry: &ProjectFileEntry) -> PathBuf {
        self.project.own_path(&entry.rel_path)
    }
}

/// Parse every node of the project and its packages. `cached` holds, by model file
/// path, the nodes of the root project's model files whose parse the cache already
/// has (the model and its generic tests): those files are not rendered again.
pub fn parse_project(
    project: &Project,
    renderer: &Renderer,
    cached: HashMap<PathBuf, Vec<ParsedNode>>,
) -> Result<ParseOutput, Diagnostics> {
    let shared = renderer.shared(HashMap::new(), HashMap::new());
    let mut acc = Acc::default();
    let root = Owner {
        project,
        root: project,
    };
    parse_one_project(root, renderer, &shared, cached, &mut acc);
    for package in &project.packages {
        let owner = Owner {
            project: package,
            root: project,
        };
        parse_one_project(owner, renderer, &shared, HashMap::new(), &mut acc);
    }
    check_unique_names(&mut acc);
    check_unique_relations(renderer, &mut acc);
    for def in &project.properties.unit_tests {
        match crate::testing::unit::build_unit_test_node(project, &acc.nodes, def) {
            Ok(Some(n)) => acc.nodes.push(n),
            Ok(None) => {}
            Err(e) => acc.errors.push(e),
        }
    }
    assertion_nodes(project, renderer, &mut acc);
    super::exposures::exposure_nodes(project, &mut acc.nodes, &mut acc.errors);
    let errors = super::exposures::check_groups(project, &mut acc.nodes);
    acc.errors.extend(errors);
    let errors = super::docs::render_descriptions(project, &mut acc.nodes, &mut acc.warnings);
    acc.errors.extend(errors);
    warn_unused_properties(project, &mut acc.warnings);
    warn_materialization_overrides(renderer, &mut acc.warnings);
    if !acc.errors.is_empty() {
        return Err(acc.errors.into());
    }
    let mut nodes = acc.nodes;
    nodes.sort_by(|a, b| a.unique_id.cmp(&b.unique_id));
    Ok(ParseOutput {
        nodes,
        warnings: acc.warnings,
        warned: acc.warned,
    })
}

/// The nodes of one project (the root or a package): models, snapshots, seeds,
/// sources, singular tests and the generic tests its YAML declares.
fn parse_one_project(
    owner: Owner<'_>,
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    cached: HashMap<PathBuf, Vec<ParsedNode>>,
    acc: &mut Acc,
) {
    let first = acc.nodes.len();
    let tests_cached = model_nodes(owner, renderer, shared, cached, acc);
    super::contracts::apply(
        owner.project,
        renderer.target.kind,
        &mut acc.nodes[first..],
        &mut acc.errors,
        &mut acc.warnings,
    );
    snapshot_nodes(owner, renderer, shared, acc);
    seed_nodes(owner, renderer, shared, acc);
    source_nodes(owner, acc);
    singular_test_nodes(owner, renderer, shared, acc);
    generic_test_nodes(owner, renderer, shared, first, &tests_cached, acc);
}

/// Render the models (in parallel) and add their nodes; the cached ones are reused.
/// Returns the models whose generic tests came from the cache.
fn model_nodes(
    owner: Owner<'_>,
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    mut cached: HashMap<PathBuf, Vec<ParsedNode>>,
    acc: &mut Acc,
) -> (HashSet<String>, Vec<ParsedNode>) {
    let project = owner.project;
    let model_inputs: Vec<(ProjectFileEntry, Config)> = project
        .models
        .iter()
        .filter(|m| !cached.contains_key(&m.rel_path))
        .map(|m| (m.clone(), model_config(owner, m)))
        .collect();
    let parsed: Vec<Result<ModelParse, Diagnostic>> = model_inputs
        .par_iter()
        .map(|(entry, config)| {
            let template = entry.rel_path.display().to_string();
            parse_sql_file(owner, renderer, shared, entry, &template, config.clone())
        })
        .collect();
    let python = project
        .python_models
        .iter()
        .map(|m| parse_python_file(m, model_config(owner, m)));
    for result in parsed.into_iter().chain(python) {
        match result.and_then(|p| model_node(owner, renderer, shared, p)) {
            Ok(Some(node)) => acc.nodes.push(node),
            Ok(None) => {}
            Err(e) => acc.errors.push(e),
        }
    }

    // Models from the cache; their generic tests too, so they are not built again.
    let mut cached_tests = Vec::new();
    let mut tests_cached: HashSet<String> = HashSet::new();
    for m in &project.models {
        let Some(bundle) = cached.remove(&m.rel_path) else {
            continue;
        };
        for mut node in bundle {
            if node.resource_type == ResourceType::Model {
                if let Some(props) = project.properties.unversioned_model(&node.name) {
                    node.description = props.description.clone();
                    node.columns = props.columns.clone();
                }
                tests_cached.insert(node.unique_id.clone());
                acc.nodes.push(node);
            } else {
                cached_tests.push(node);
            }
        }
    }
    (tests_cached, cached_tests)
}

/// A model file's config from the project trees and its YAML properties (a
/// version's over its model's, under the version's FQN).
fn model_config(owner: Owner<'_>, m: &ProjectFileEntry) -> Config {
    let props = &owner.project.properties;
    let (fqn, yaml) = match props.version_of(&m.name) {
        Some(vo) => (versioned_fqn(&m.fqn, vo), Some(vo.config())),
        None => (
            m.fqn.clone(),
            props.unversioned_model(&m.name).map(|p| p.config.clone()),
        ),
    };
    let mut config = owner.tree_config(|p| p.file.models_tree.as_ref(), &fqn);
    if let Some(yaml) = yaml {
        config.merge(&yaml);
    }
    config
}

/// The node of one parsed model, or `None` when it is disabled.
fn model_node(
    owner: Owner<'_>,
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    p: ModelParse,
) -> Result<Option<ParsedNode>, Diagnostic> {
    if !p.config.enabled() {
        return Ok(None);
    }
    let span = Span::file_start(&p.entry.file);
    // dbt builds a Python model as a table unless configured otherwise.
    let default = if p.python {
        Materialization::Table
    } else {
        Materialization::View
    };
    let materialization = Materialization::of_model(&p.config, &span, default)?;
    let sql_check = SqlCheck::of(&p.config, &span)?;
    let cannot_run = match (p.cannot_run, materialization) {
        (Some(d), _) => Some(d),
        (None, Materialization::Other) => Some(other_materialization(renderer, &p.config, &span)),
        (None, Materialization::Incremental) => {
            IncrementalConfig::of(&p.config, &span)?;
            None
        }
        (None, _) => None,
    };
    let naming = Naming::of_model(owner, &p.entry);
    let node_value = node_value_named(owner, &p.entry, "model", &p.config, &naming);
    let relation = relation_for(
        renderer,
        shared,
        &naming.default_alias(),
        &p.config,
        &node_value,
        &span,
    )?;
    let properties = &owner.project.properties;
    let (description, columns) = match properties.version_of(&p.entry.name) {
        Some(vo) => (vo.description(), vo.columns()),
        None => properties
            .unversioned_model(&p.entry.name)
            .map(|p| (p.description.clone(), p.columns.clone()))
            .unwrap_or_default(),
    };
    Ok(Some(ParsedNode {
        constraints: Vec::new(),
        unique_id: naming.unique_id,
        resource_type: ResourceType::Model,
        name: naming.name,
        fqn: naming.fqn,
        span,
        original_file_path: owner.file_path(&p.entry),
        path: p.entry.path_in_folder.clone(),
        template: (!p.python).then(|| p.entry.rel_path.display().to_string()),
        config: p.config,
        materialization,
        sql_check,
        relation: Some(relation),
        depends_on: p.deps,
        description,
        columns,
        generic_test: None,
        checksum: checksum(&p.entry.file.text),
        file: Arc::clone(&p.entry.file),
        source_name: None,
        unit_test: None,
        reads: p.reads,
        cannot_run: cannot_run.map(|diagnostic| {
            Box::new(CannotRun {
                diagnostic,
                python: p.python,
            })
        }),
        version: naming.version.map(Box::new),
        extra: Default::default(),
    }))
}

/// The error of a model whose `materialized` sluice has no built-in for: a
/// `{% materialization %}` the project (or a package) defines for the target's
/// adapter, which sluice does not run, or a name nobody defines (dbt's message).
fn other_materialization(renderer: &Renderer, config: &Config, fallback: &Span) -> Diagnostic {
    let name = config.get_str("materialized").unwrap_or_default();
    let span = config.span("materialized").unwrap_or(fallback);
    let adapter = renderer.target.kind.as_str();
    match renderer.materialization_definition(name, adapter) {
        Some(defined) => Diagnostic::error(format!(
            "materialization `{name}` is a custom materialization ({}:{}): sluice does not run custom materializations",
            defined.file.path.display(),
            defined.line_col().0
        ))
        .with_label(span, "materialized here")
        .with_label(&defined, "defined here")
        .with_help(
            "build the model with one of sluice's materializations (view, table, incremental, \
             ephemeral), or run it with dbt",
        ),
        None => crate::project::config::missing_materialization(name, adapter, span),
    }
}

/// Parse a Python model (`.py`): its `dbt.ref`/`dbt.source`/`dbt.config` calls
/// (see [`super::python`]); sluice cannot run it.
fn parse_python_file(
    entry: &ProjectFileEntry,
    base_config: Config,
) -> Result<ModelParse, Diagnostic> {
    let mut config = base_config;
    let mut deps = Vec::new();
    let mut warnings = Vec::new();
    for call in super::python::dbt_calls(&entry.file)? {
        let strings: Option<Vec<&str>> = call.args.iter().map(Json::as_str).collect();
        match (call.func, strings.as_deref()) {
            ("config", _) => {
                for (key, value) in call.kwargs {
                    check_entry(&key, &value, &call.span, &mut warnings)?;
                    config.set(&key, value, Some(call.span.clone()));
                }
            }
            // `dbt.ref("model")` or `dbt.ref("package", "model")`.
            // `dbt.ref("model", v=2)` pins a version.
            ("ref", Some([name] | [_, name])) => {
                let version = call
                    .kwargs
                    .iter()
                    .find(|(k, _)| k == "v" || k == "version")
                    .map(|(_, v)| match v {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                deps.push(Dependency {
                    target: DependencyTarget::Ref(ref_key(name, version.as_deref())),
                    span: call.span,
                })
            }
            ("source", Some([source, table])) => deps.push(Dependency {
                target: DependencyTarget::Source((*source).to_owned(), (*table).to_owned()),
                span: call.span,
            }),
            (func, _) => {
                return Err(Diagnostic::error(format!(
                    "`dbt.{func}(...)` takes {}",
                    if func == "ref" {
                        "a model name, or a package and a model name"
                    } else {
                        "a source name and a table name"
                    }
                ))
                .with_label(&call.span, "here")
                .with_help(if func == "ref" {
                    "write `dbt.ref(\"model_name\")`"
                } else {
                    "write `dbt.source(\"source_name\", \"table_name\")`"
                }))
            }
        }
    }
    let at = entry.file.text.find("def model").map_or_else(
        || Span::file_start(&entry.file),
        |i| Span::new(&entry.file, i, i + "def model".len()),
    );
    let diagnostic = Diagnostic::error(format!(
        "{} is a Python model: sluice runs SQL models only",
        entry.rel_path.display()
    ))
    .with_label(&at, "Python model")
    .with_help(
        "rewrite the model in SQL, or run it with dbt; the models that depend on it are skipped",
    );
    Ok(ModelParse {
        entry: entry.clone(),
        config,
        deps,
        reads: Reads::default(),
        cannot_run: Some(diagnostic),
        python: true,
    })
}

/// What `generate_schema_name` and friends see as `node`.
fn node_value(
    owner: Owner<'_>,
    entry: &ProjectFileEntry,
    resource_type: &str,
    config: &Config,
) -> Value {
    let naming = Naming {
        name: entry.name.clone(),
        unique_id: owner.unique_id(resource_type, &entry.name),
        fqn: entry.fqn.clone(),
        version: None,
    };
    node_value_named(owner, entry, resource_type, config, &naming)
}

/// [`node_value`] of a node named by `naming` (a version of a model).
fn node_value_named(
    owner: Owner<'_>,
    entry: &ProjectFileEntry,
    resource_type: &str,
    config: &Config,
    naming: &Naming,
) -> Value {
    Value::from_serialize(serde_json::json!({
        "name": naming.name, "resource_type": resource_type, "config": config.to_json(),
        "package_name": owner.project.name(),
        "unique_id": naming.unique_id,
        "fqn": naming.fqn,
        "path": entry.path_in_folder,
        "original_file_path": owner.file_path(entry),
        "version": naming.version.as_ref().map(|v| v.v.clone()),
        "latest_version": naming.version.as_ref().map(|v| v.latest.clone()),
    }))
}

fn snapshot_nodes(
    owner: Owner<'_>,
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    acc: &mut Acc,
) {
    let project = owner.project;
    let snapshots: Vec<(&SnapshotBlock, Result<ModelParse, Diagnostic>)> = project
        .snapshots
        .par_iter()
        .map(|block| {
            let mut config =
                owner.tree_config(|p| p.file.snapshots_tree.as_ref(), &block.entry.fqn);
            if let Some(props) = project.properties.snapshots.get(&block.entry.name) {
                config.merge(&props.config);
            }
            let parsed = parse_sql_file(
                owner,
                renderer,
                shared,
                &block.entry,
                &block.template,
                config,
            );
            (block, parsed)
        })
        .collect();
    for (block, parsed) in snapshots {
        match parsed.and_then(|p| snapshot_node(owner, renderer, shared, block, p)) {
            Ok(Some(node)) => acc.nodes.push(node),
            Ok(None) => {}
            Err(e) => acc.errors.push(e),
        }
    }
}

fn snapshot_node(
    owner: Owner<'_>,
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    block: &SnapshotBlock,
    p: ModelParse,
) -> Result<Option<ParsedNode>, Diagnostic> {
    if !p.config.enabled() {
        return Ok(None);
    }
    // A snapshot's config comes from its render: without it, nothing is known.
    if let Some(d) = p.cannot_run {
        return Err(d);
    }
    let snapshot_config = SnapshotConfig::of(&p.config, &p.entry.name, &block.span)?;
    let node_value = node_value(owner, &p.entry, "snapshot", &p.config);
    let relation = match &snapshot_config.target_schema {
        Some(schema) => RelationName {
            database: p
                .config
                .get_str("target_database")
                .or(p.config.get_str("database"))
                .map(str::to_owned),
            schema: schema.clone(),
            identifier: p
                .config
                .get_str("alias")
                .unwrap_or(&p.entry.name)
                .to_owned(),
        },
        None => relation_for(
            renderer,
            shared,
            &p.entry.name,
            &p.config,
            &node_value,
            &Span::file_start(&p.entry.file),
        )?,
    };
    let props = owner.project.properties.snapshots.get(&p.entry.name);
    Ok(Some(ParsedNode {
        constraints: Vec::new(),
        unique_id: owner.unique_id("snapshot", &p.entry.name),
        resource_type: ResourceType::Snapshot,
        name: p.entry.name.clone(),
        fqn: p.entry.fqn.clone(),
        span: block.span.clone(),
        original_file_path: owner.file_path(&p.entry),
        path: p.entry.path_in_folder.clone(),
        template: Some(block.template.clone()),
        sql_check: SqlCheck::of(&p.config, &block.span).unwrap_or(SqlCheck::Error),
        config: p.config,
        materialization: Materialization::Snapshot,
        relation: Some(relation),
        depends_on: p.deps,
        description: props.map(|p| p.description.clone()).unwrap_or_default(),
        columns: props.map(|p| p.columns.clone()).unwrap_or_default(),
        generic_test: None,
        checksum: checksum(&p.entry.file.text),
        file: Arc::clone(&p.entry.file),
        source_name: None,
        unit_test: None,
        reads: p.reads,
        cannot_run: None,
        version: None,
        extra: Default::default(),
    }))
}

fn seed_nodes(owner: Owner<'_>, renderer: &Renderer, shared: &Arc<RenderShared>, acc: &mut Acc) {
    let project = owner.project;
    for seed in &project.seeds {
        let mut config = owner.tree_config(|p| p.file.seeds_tree.as_ref(), &seed.fqn);
        let props = project.properties.seeds.get(&seed.name);
        if let Some(props) = props {
            config.merge(&props.config);
        }
        if !config.enabled() {
            continue;
        }
        let node_value = node_value(owner, seed, "seed", &config);
        let at = Span::file_start(&seed.file);
        let relation = match relation_for(renderer, shared, &seed.name, &config, &node_value, &at) {
            Ok(r) => r,
            Err(e) => {
                acc.errors.push(e);
                continue;
            }
        };
        let span = Span::file_start(&seed.file);
        acc.nodes.push(ParsedNode {
            constraints: Vec::new(),
            unique_id: owner.unique_id("seed", &seed.name),
            resource_type: ResourceType::Seed,
            name: seed.name.clone(),
            fqn: seed.fqn.clone(),
            span,
            original_file_path: owner.file_path(seed),
            path: seed.path_in_folder.clone(),
            template: None,
            config,
            materialization: Materialization::Seed,
            sql_check: SqlCheck::Off,
            relation: Some(relation),
            depends_on: Vec::new(),
            description: props.map(|p| p.description.clone()).unwrap_or_default(),
            columns: props.map(|p| p.columns.clone()).unwrap_or_default(),
            generic_test: None,
            checksum: checksum(&seed.file.text),
            file: Arc::clone(&seed.file),
            source_name: None,
            unit_test: None,
            reads: Reads::default(),
            cannot_run: None,
            version: None,
            extra: Default::default(),
        });
    }
}

fn source_nodes(owner: Owner<'_>, acc: &mut Acc) {
    let project = owner.project;
    for source in &project.properties.sources {
        let own_path = project.own_path(&source.file.path);
        for table in source.tables.iter().filter(|t| t.enabled) {
            let yml_folder = own_path
                .parent()
                .map(|p| {
                    p.components()
                        .skip(1)
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let mut fqn = vec![project.name().to_owned()];
            fqn.extend(yml_folder);
            fqn.push(source.name.clone());
            fqn.push(table.name.clone());
            let mut config = Config::default();
            config.set(
                "tags",
                Json::from(
                    source
                        .tags
                        .iter()
                        .chain(&table.tags)
                        .cloned()
                        .collect::<Vec<_>>(),
                ),
                None,
            );
            acc.nodes.push(ParsedNode {
                constraints: Vec::new(),
                unique_id: format!("source.{}.{}.{}", project.name(), source.name, table.name),
                resource_type: ResourceType::Source,
                name: table.name.clone(),
                fqn,
                span: table.span.clone(),
                original_file_path: own_path.clone(),
                path: own_path.clone(),
                template: None,
                config,
                materialization: Materialization::View,
                sql_check: SqlCheck::Off,
                relation: Some(RelationName {
                    database: source.database.clone(),
                    schema: source.schema.clone().unwrap_or_else(|| source.name.clone()),
                    identifier: table.identifier.clone(),
                }),
                depends_on: Vec::new(),
                description: table.description.clone(),
                columns: table.columns.clone(),
                generic_test: None,
                checksum: String::new(),
                file: Arc::clone(&source.file),
                source_name: Some(source.name.clone()),
                unit_test: None,
                reads: Reads::default(),
                cannot_run: None,
                version: None,
                extra: NodeExtra {
                    source_description: source.description.clone(),
                    ..NodeExtra::default()
                },
            });
        }
    }
}

fn singular_test_nodes(
    owner: Owner<'_>,
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    acc: &mut Acc,
) {
    let parsed: Vec<Result<ModelParse, Diagnostic>> = owner
        .project
        .singular_tests
        .par_iter()
        .map(|t| {
            let config = owner.tree_config(|p| p.file.tests_tree.as_ref(), &t.fqn);
            let template = t.rel_path.display().to_string();
            parse_sql_file(owner, renderer, shared, t, &template, config)
        })
        .collect();
    for result in parsed {
        let p = match result {
            Ok(p) => p,
            Err(e) => {
                acc.errors.push(e);
                continue;
            }
        };
        if !p.config.enabled() {
            continue;
        }
        let span = Span::file_start(&p.entry.file);
        let mut node = ParsedNode {
            constraints: Vec::new(),
            unique_id: owner.unique_id("test", &p.entry.name),
            resource_type: ResourceType::Test,
            name: p.entry.name.clone(),
            fqn: p.entry.fqn.clone(),
            span,
            original_file_path: owner.file_path(&p.entry),
            path: p.entry.path_in_folder.clone(),
            template: Some(p.entry.rel_path.display().to_string()),
            config: p.config,
            materialization: Materialization::Test,
            sql_check: SqlCheck::Error,
            relation: None,
            depends_on: p.deps,
            description: String::new(),
            columns: Vec::new(),
            generic_test: None,
            checksum: checksum(&p.entry.file.text),
            file: Arc::clone(&p.entry.file),
            source_name: None,
            unit_test: None,
            reads: p.reads,
            cannot_run: p.cannot_run.map(|diagnostic| {
                Box::new(CannotRun {
                    diagnostic,
                    python: false,
                })
            }),
            version: None,
            extra: Default::default(),
        };
        match name_test_relation(renderer, shared, &mut node) {
            Ok(()) => acc.nodes.push(node),
            Err(e) => acc.errors.push(e),
        }
    }
}

/// The data tests a node's YAML properties declare, and the YAML file.
fn declared_tests<'a>(
    project: &'a Project,
    node: &'a ParsedNode,
) -> Option<(Arc<SourceFile>, TestList<'a>)> {
    if node.version.is_some() {
        return super::versions::declared_tests(project, node);
    }
    match node.resource_type {
        ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot => {
            let p = match node.resource_type {
                ResourceType::Model => project.properties.unversioned_model(&node.name),
                ResourceType::Snapshot => project.properties.snapshots.get(&node.name),
                _ => project.properties.seeds.get(&node.name),
            }?;
            let tests = p
                .tests
                .iter()
                .map(|t| (None, t))
                .chain(
                    p.columns
                        .iter()
                        .flat_map(|c| c.tests.iter().map(move |t| (Some(c), t))),
                )
                .collect();
            Some((Arc::clone(&p.file), tests))
        }
        ResourceType::Source => {
            let s = project
                .properties
                .sources
                .iter()
                .find(|s| Some(&s.name) == node.source_name.as_ref())?;
            let t = s.tables.iter().find(|t| t.name == node.name)?;
            let tests = t
                .tests
                .iter()
                .map(|x| (None, x))
                .chain(
                    t.columns
                        .iter()
                        .flat_map(|c| c.tests.iter().map(move |x| (Some(c), x))),
                )
                .collect();
            Some((Arc::clone(&s.file), tests))
        }
        ResourceType::Test | ResourceType::UnitTest | ResourceType::Exposure => None,
    }
}

/// Generic tests from YAML, attached to the nodes of this project parsed so far
/// (those from `first` on); the cached models' tests come from the cache.
fn generic_test_nodes(
    owner: Owner<'_>,
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    first: usize,
    (tests_cached, cached_tests): &(HashSet<String>, Vec<ParsedNode>),
    acc: &mut Acc,
) {
    let project = owner.project;
    let mut generic_nodes = Vec::new();
    for node in &acc.nodes[first..] {
        if tests_cached.contains(&node.unique_id) {
            continue;
        }
        let warnings_before = acc.warnings.len();
        let Some((yaml_file, tests)) = declared_tests(project, node) else {
            continue;
        };
        for (column, def) in tests {
            match generic::build_test_node(
                project,
                renderer,
                node,
                &yaml_file,
                column,
                def,
                &mut acc.warnings,
            ) {
                Ok(Some(mut n)) => match name_test_relation(renderer, shared, &mut n) {
                    Ok(()) => generic_nodes.push(n),
                    Err(e) => acc.errors.push(e),
                },
                Ok(None) => {}
                Err(e) => acc.errors.push(e),
            }
        }
        if acc.warnings.len() > warnings_before {
            acc.warned.insert(node.unique_id.clone());
        }
    }
    acc.nodes.extend(generic_nodes);
    acc.nodes.extend(cached_tests.iter().cloned());
}

/// `ref('name')` resolves by name, so an enabled model, seed or snapshot name may
/// appear once across the root project and its packages.
fn check_unique_names(acc: &mut Acc) {
    let mut seen: HashMap<&str, &ParsedNode> = HashMap::new();
    for node in &acc.nodes {
        if !matches!(
            node.resource_type,
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
        ) {
            continue;
        }
        match seen.get(node.name.as_str()) {
            Some(prev) if prev.package_name() != node.package_name() => acc.errors.push(
                Diagnostic::error(format!(
                    "`{}` names a node of both `{}` and `{}`",
                    node.name,
                    prev.package_name(),
                    node.package_name()
                ))
                .with_label(&node.span, "defined again here")
                .with_label(&prev.span, "first defined here")
                .with_help(
                    "rename one of them, or disable one with `+enabled: false`: \
                     sluice resolves `ref('name')` by name across packages",
                ),
            ),
            Some(_) => {}
            None => {
                seen.insert(&node.name, node);
            }
        }
    }
}

/// Two nodes that would build the same relation (an `alias` equal to another
/// model's name, names differing only by case where the warehouse folds case):
/// refused at parse time, as dbt does ("dbt found two resources with the database
/// representation ..."), or one would silently overwrite the other.
fn check_unique_relations(renderer: &Renderer, acc: &mut Acc) {
    let dialect = renderer.dialect;
    let mut seen: HashMap<(Option<String>, String, String), &ParsedNode> = HashMap::new();
    let mut errors = Vec::new();
    for node in &acc.nodes {
        let builds = match node.resource_type {
            ResourceType::Model => node.materialization != Materialization::Ephemeral,
            ResourceType::Seed | ResourceType::Snapshot => true,
            _ => false,
        };
        let Some(rel) = node.relation.as_ref().filter(|_| builds) else {
            continue;
        };
        let key = (
            rel.database.as_deref().map(|d| dialect.identifier_key(d)),
            dialect.identifier_key(&rel.schema),
            dialect.identifier_key(&rel.identifier),
        );
        match seen.get(&key) {
            Some(prev) => {
                let (a, b) = (prev.relation.as_ref(), Some(rel));
                let same_case = a == b;
                let mut d = Diagnostic::error(format!(
                    "two resources build the relation {}: {} ({}) and {} ({})",
                    dialect.render_relation(rel),
                    prev.unique_id,
                    prev.original_file_path.display(),
                    node.unique_id,
                    node.original_file_path.display(),
                ))
                .with_label(relation_span(node), "builds it again")
                .with_label(relation_span(prev), "first builds it");
                if !same_case {
                    d = d.with_note(format!(
                        "{} folds the case of these names: {} and {} are one relation",
                        dialect.kind().as_str(),
                        a.map(|r| r.to_string()).unwrap_or_default(),
                        rel
                    ));
                }
                errors.push(d.with_help(
                    "change the `alias` (or `schema`/`database`) of one of them, or rename \
                     one, so that each builds its own relation",
                ));
            }
            None => {
                seen.insert(key, node);
            }
        }
    }
    acc.errors.extend(errors);
}

/// Where a node's relation name comes from: its `alias` config, else the node.
fn relation_span(node: &ParsedNode) -> &Span {
    node.config.span("alias").unwrap_or(&node.span)
}

/// The semantic layer's definitions, checked on every parse; `metric` assertions
/// compile against them.
fn assertion_nodes(project: &Project, renderer: &Renderer, acc: &mut Acc) {
    use crate::testing::assertions::MetricCatalog;
    let mut catalog_broken = false;
    let catalog = if project.properties.semantic_docs.is_empty() {
        None
    } else {
        let names: Vec<&str> = project
            .models
            .iter()
            .chain(&project.python_models)
            .chain(&project.seeds)
            .map(|m| m.name.as_str())
            .chain(project.snapshots.iter().map(|s| s.entry.name.as_str()))
            .collect();
        match crate::metrics::Catalog::load(project, &names) {
            Ok((c, mut w)) => {
                acc.warnings.append(&mut w);
                Some(c)
            }
            Err(e) => {
                acc.errors.extend(e.0);
                catalog_broken = true;
                None
            }
        }
    };
    let metric_catalog = match (&catalog, catalog_broken) {
        (Some(c), _) => MetricCatalog::Loaded(c),
        (None, true) => MetricCatalog::Broken,
        (None, false) => MetricCatalog::Absent,
    };
    for def in &project.properties.assertions {
        match crate::testing::assertions::build_assertion_node(
            project,
            renderer,
            metric_catalog,
            def,
            &mut acc.warnings,
        ) {
            Ok(Some(mut n)) => {
                // The assertion names its model; the test machinery wants its id.
                if let Some(test) = n.generic_test.as_mut() {
                    test.attached_to = test.attached_to.as_ref().and_then(|name| {
                        acc.nodes
                            .iter()
                            .find(|m| {
                                &m.name == name
                                    && matches!(
                                        m.resource_type,
                                        ResourceType::Model
                                            | ResourceType::Seed
                                            | ResourceType::Snapshot
                                    )
                            })
                            .map(|m| m.unique_id.clone())
                    });
                }
                acc.nodes.push(n);
            }
            Ok(None) => {}
            Err(e) => acc.errors.push(e),
        }
    }
}

/// The root project's `{% materialization table %}` (or another one sluice builds
/// itself) would replace dbt's; sluice keeps its own: say so.
fn warn_materialization_overrides(renderer: &Renderer, warnings: &mut Vec<Diagnostic>) {
    let adapter = renderer.target.kind.as_str();
    for name in [
        "view",
        "table",
        "incremental",
        "ephemeral",
        "seed",
        "snapshot",
        "test",
    ] {
        let overridden = [adapter, "default"].iter().any(|a| {
            let macro_name = super::macros::materialization_macro(name, a);
            renderer.registry.project(&macro_name).is_some()
        });
        let Some(span) = overridden
            .then(|| renderer.materialization_definition(name, adapter))
            .flatten()
        else {
            continue;
        };
        warnings.push(
            Diagnostic::warning(format!(
                "the project's `{{% materialization {name} %}}` is not used: sluice builds `{name}` nodes its own way"
            ))
            .with_event(crate::diagnostics::event::MATERIALIZATION_OVERRIDE)
            .with_label(&span, "not used")
            .with_help("sluice runs only its own materializations: remove the block, or run the project with dbt where its models need it"),
        );
    }
}

/// Properties that describe nothing are usually typos: say so.
fn warn_unused_properties(project: &Project, warnings: &mut Vec<Diagnostic>) {
    let model_names: std::collections::HashSet<&str> = project
        .models
        .iter()
        .chain(&project.python_models)
        .map(|m| m.name.as_str())
        .collect();
    for (name, props) in &project.properties.models {
        // A versioned model's files are its versions' (missing ones are warned
        // about on load).
        if !model_names.contains(name.as_str()) && props.versions.is_empty() {
            warnings.push(
                Diagnostic::warning(format!(
                    "properties describe model `{name}`, but no model file has that name"
                ))
                .with_event(crate::diagnostics::event::NO_NODE_FOR_YAML_KEY)
                .with_label(&props.span, "no such model")
                .with_help(crate::diagnostics::suggestion_help(
                    name,
                    project.models.iter().map(|m| m.name.as_str()),
                    || "create the model, or remove the entry".to_owned(),
                )),
            );
        }
    }
}
