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

use super::{NodeContext, Phase, Relation, RenderShared, Renderer};
use crate::adapter::RelationName;
use crate::diagnostics::{Diagnostic, Diagnostics, SourceFile, Span};
use crate::project::config::check_key;
use crate::project::incremental::IncrementalConfig;
use crate::project::project_yml::tree_config;
use crate::project::snapshot::{SnapshotBlock, SnapshotConfig};
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
    pub fn tags(&self) -> Vec<String> {
        self.config.tags()
    }

    /// The node's source code: a model's or singular test's SQL file, as written.
    pub fn raw_code(&self) -> &str {
        if self.template.is_some() {
            &self.file.text
        } else {
            ""
        }
    }
}

pub fn checksum(text: &str) -> String {
    let digest = Sha256::digest(text.trim().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
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

/// dbt's default `generate_schema_name`: the target schema, suffixed by a custom one.
fn schema_name(
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    custom: Option<&str>,
    node: &Value,
) -> Result<String, Diagnostic> {
    if let Some(def) = renderer.registry.project("generate_schema_name") {
        let args = vec![
            (
                "custom_schema_name".to_owned(),
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
        return Ok(out.sql.trim().to_owned());
    }
    Ok(match custom {
        Some(c) => format!("{}_{}", renderer.target.schema, c.trim()),
        None => renderer.target.schema.clone(),
    })
}

fn relation_for(
    renderer: &Renderer,
    shared: &Arc<RenderShared>,
    name: &str,
    config: &Config,
    node: &Value,
) -> Result<RelationName, Diagnostic> {
    let schema = schema_name(renderer, shared, config.get_str("schema"), node)?;
    Ok(RelationName {
        database: config.get_str("database").map(str::to_owned),
        schema,
        identifier: config.get_str("alias").unwrap_or(name).to_owned(),
    })
}

struct ModelParse {
    entry: ProjectFileEntry,
    config: Config,
    deps: Vec<Dependency>,
    reads: Reads,
}

fn parse_sql_file(
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
        model: Value::from_serialize(serde_json::json!({"name": entry.name})),
        config: Json::Null,
    };
    let rendered = renderer.render(template, Phase::Parse, shared, ctx)?;
    let mut config = base_config;
    let mut warnings = Vec::new();
    for (key, value) in &rendered.recorded.config {
        let span = find_config_span(&entry.file, key);
        check_key(key, &span, &mut warnings)?;
        config.set(key, value.clone(), Some(span));
    }
    let mut deps = Vec::new();
    for r in &rendered.recorded.refs {
        deps.push(Dependency {
            target: DependencyTarget::Ref(r.clone()),
            span: super::find_call_span(&entry.file, "ref", r, None),
        });
    }
    for (s, t) in &rendered.recorded.sources {
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
            vars: rendered.recorded.vars.iter().cloned().collect(),
            macros: rendered.recorded.macros.iter().cloned().collect(),
            introspects: rendered.recorded.introspects.clone(),
        },
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
type TestList<'a> = Vec<(Option<&'a ColumnProps>, &'a TestDef)>;

/// The result of parsing a project.
pub struct ParseOutput {
    pub nodes: Vec<ParsedNode>,
    pub warnings: Vec<Diagnostic>,
    /// Models (unique ids) whose generic tests warned while being built: their
    /// results are not cached, so the warnings show again next time.
    pub warned: HashSet<String>,
}

/// Parse every node of the project. `cached` holds, by model file path, the nodes
/// of model files whose parse the cache already has (the model and its generic
/// tests): those files are not rendered again.
pub fn parse_project(
    project: &Project,
    renderer: &Renderer,
    mut cached: HashMap<PathBuf, Vec<ParsedNode>>,
) -> Result<ParseOutput, Diagnostics> {
    let shared = renderer.shared(HashMap::new(), HashMap::new());
    let pf = &project.file;
    let mut warnings = Vec::new();

    let model_inputs: Vec<(ProjectFileEntry, Config)> = project
        .models
        .iter()
        .filter(|m| !cached.contains_key(&m.rel_path))
        .map(|m| {
            let mut config = tree_config(pf.models_tree.as_ref(), &m.fqn);
            if let Some(props) = project.properties.models.get(&m.name) {
                config.merge(&props.config);
            }
            (m.clone(), config)
        })
        .collect();
    let parsed: Vec<Result<ModelParse, Diagnostic>> = model_inputs
        .par_iter()
        .map(|(entry, config)| {
            let template = entry.rel_path.display().to_string();
            parse_sql_file(renderer, &shared, entry, &template, config.clone())
        })
        .collect();
    let test_inputs: Vec<Result<ModelParse, Diagnostic>> = project
        .singular_tests
        .par_iter()
        .map(|t| {
            let config = tree_config(pf.tests_tree.as_ref(), &t.fqn);
            let template = t.rel_path.display().to_string();
            parse_sql_file(renderer, &shared, t, &template, config)
        })
        .collect();

    let mut errors = Vec::new();
    let mut nodes = Vec::new();
    for result in parsed {
        let p = match result {
            Ok(p) => p,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if !p.config.enabled() {
            continue;
        }
        let span = Span::file_start(&p.entry.file);
        let (materialization, sql_check) = match (
            Materialization::of_model(&p.config, &span),
            SqlCheck::of(&p.config, &span),
        ) {
            (Ok(m), Ok(s)) => (m, s),
            (Err(e), _) | (_, Err(e)) => {
                errors.push(e);
                continue;
            }
        };
        if materialization == Materialization::Incremental {
            if let Err(e) = IncrementalConfig::of(&p.config, &span) {
                errors.push(e);
                continue;
            }
        }
        let node_value = Value::from_serialize(serde_json::json!({
            "name": p.entry.name, "resource_type": "model", "config": p.config.to_json(),
        }));
        let relation = match relation_for(renderer, &shared, &p.entry.name, &p.config, &node_value)
        {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let props = project.properties.models.get(&p.entry.name);
        nodes.push(ParsedNode {
            unique_id: format!("model.{}.{}", pf.name, p.entry.name),
            resource_type: ResourceType::Model,
            name: p.entry.name.clone(),
            fqn: p.entry.fqn.clone(),
            span,
            original_file_path: p.entry.rel_path.clone(),
            path: p.entry.path_in_folder.clone(),
            template: Some(p.entry.rel_path.display().to_string()),
            config: p.config,
            materialization,
            sql_check,
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
        });
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
                if let Some(props) = project.properties.models.get(&node.name) {
                    node.description = props.description.clone();
                    node.columns = props.columns.clone();
                }
                tests_cached.insert(node.unique_id.clone());
                nodes.push(node);
            } else {
                cached_tests.push(node);
            }
        }
    }

    let snapshots: Vec<(&SnapshotBlock, Result<ModelParse, Diagnostic>)> = project
        .snapshots
        .par_iter()
        .map(|block| {
            let mut config = tree_config(pf.snapshots_tree.as_ref(), &block.entry.fqn);
            if let Some(props) = project.properties.snapshots.get(&block.entry.name) {
                config.merge(&props.config);
            }
            let parsed = parse_sql_file(renderer, &shared, &block.entry, &block.template, config);
            (block, parsed)
        })
        .collect();
    for (block, parsed) in snapshots {
        let p = match parsed {
            Ok(p) if !p.config.enabled() => continue,
            Ok(p) => p,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let snapshot_config = match SnapshotConfig::of(&p.config, &p.entry.name, &block.span) {
            Ok(c) => c,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let node_value = Value::from_serialize(serde_json::json!({
            "name": p.entry.name, "resource_type": "snapshot", "config": p.config.to_json(),
        }));
        let relation = match &snapshot_config.target_schema {
            Some(schema) => Ok(RelationName {
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
            }),
            None => relation_for(renderer, &shared, &p.entry.name, &p.config, &node_value),
        };
        let relation = match relation {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let props = project.properties.snapshots.get(&p.entry.name);
        nodes.push(ParsedNode {
            unique_id: format!("snapshot.{}.{}", pf.name, p.entry.name),
            resource_type: ResourceType::Snapshot,
            name: p.entry.name.clone(),
            fqn: p.entry.fqn.clone(),
            span: block.span.clone(),
            original_file_path: p.entry.rel_path.clone(),
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
        });
    }

    for seed in &project.seeds {
        let mut config = tree_config(pf.seeds_tree.as_ref(), &seed.fqn);
        let props = project.properties.seeds.get(&seed.name);
        if let Some(props) = props {
            config.merge(&props.config);
        }
        if !config.enabled() {
            continue;
        }
        let node_value = Value::from_serialize(serde_json::json!({
            "name": seed.name, "resource_type": "seed", "config": config.to_json(),
        }));
        let relation = match relation_for(renderer, &shared, &seed.name, &config, &node_value) {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let span = Span::file_start(&seed.file);
        nodes.push(ParsedNode {
            unique_id: format!("seed.{}.{}", pf.name, seed.name),
            resource_type: ResourceType::Seed,
            name: seed.name.clone(),
            fqn: seed.fqn.clone(),
            span,
            original_file_path: seed.rel_path.clone(),
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
        });
    }

    for source in &project.properties.sources {
        for table in &source.tables {
            let yml_folder = source
                .file
                .path
                .parent()
                .map(|p| {
                    p.components()
                        .skip(1)
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let mut fqn = vec![pf.name.clone()];
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
            nodes.push(ParsedNode {
                unique_id: format!("source.{}.{}.{}", pf.name, source.name, table.name),
                resource_type: ResourceType::Source,
                name: table.name.clone(),
                fqn,
                span: table.span.clone(),
                original_file_path: source.file.path.clone(),
                path: source.file.path.clone(),
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
            });
        }
    }

    for result in test_inputs {
        let p = match result {
            Ok(p) => p,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if !p.config.enabled() {
            continue;
        }
        let span = Span::file_start(&p.entry.file);
        nodes.push(ParsedNode {
            unique_id: format!("test.{}.{}", pf.name, p.entry.name),
            resource_type: ResourceType::Test,
            name: p.entry.name.clone(),
            fqn: p.entry.fqn.clone(),
            span,
            original_file_path: p.entry.rel_path.clone(),
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
        });
    }

    // Generic tests from YAML, attached to the nodes parsed above.
    let mut generic_nodes = Vec::new();
    let mut warned = HashSet::new();
    for node in &nodes {
        if tests_cached.contains(&node.unique_id) {
            continue;
        }
        let warnings_before = warnings.len();
        let (yaml_file, tests): (Option<Arc<SourceFile>>, TestList<'_>) = match node.resource_type {
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot => {
                let props = match node.resource_type {
                    ResourceType::Model => project.properties.models.get(&node.name),
                    ResourceType::Snapshot => project.properties.snapshots.get(&node.name),
                    _ => project.properties.seeds.get(&node.name),
                };
                match props {
                    Some(p) => (
                        Some(Arc::clone(&p.file)),
                        p.tests
                            .iter()
                            .map(|t| (None, t))
                            .chain(
                                p.columns
                                    .iter()
                                    .flat_map(|c| c.tests.iter().map(move |t| (Some(c), t))),
                            )
                            .collect(),
                    ),
                    None => (None, Vec::new()),
                }
            }
            ResourceType::Source => {
                let src = project
                    .properties
                    .sources
                    .iter()
                    .find(|s| Some(&s.name) == node.source_name.as_ref());
                let table = src.and_then(|s| s.tables.iter().find(|t| t.name == node.name));
                match (src, table) {
                    (Some(s), Some(t)) => (
                        Some(Arc::clone(&s.file)),
                        t.tests
                            .iter()
                            .map(|x| (None, x))
                            .chain(
                                t.columns
                                    .iter()
                                    .flat_map(|c| c.tests.iter().map(move |x| (Some(c), x))),
                            )
                            .collect(),
                    ),
                    _ => (None, Vec::new()),
                }
            }
            ResourceType::Test | ResourceType::UnitTest => (None, Vec::new()),
        };
        let Some(yaml_file) = yaml_file else { continue };
        for (column, def) in tests {
            match generic::build_test_node(
                project,
                renderer,
                node,
                &yaml_file,
                column,
                def,
                &mut warnings,
            ) {
                Ok(Some(n)) => generic_nodes.push(n),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        if warnings.len() > warnings_before {
            warned.insert(node.unique_id.clone());
        }
    }
    nodes.extend(generic_nodes);
    nodes.extend(cached_tests);

    for def in &project.properties.unit_tests {
        match crate::testing::unit::build_unit_test_node(project, &nodes, def) {
            Ok(Some(n)) => nodes.push(n),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }

    // The semantic layer's definitions, checked on every parse; `metric`
    // assertions compile against them.
    use crate::testing::assertions::MetricCatalog;
    let mut catalog_broken = false;
    let catalog = if project.properties.semantic_docs.is_empty() {
        None
    } else {
        let names: Vec<&str> = project
            .models
            .iter()
            .chain(&project.seeds)
            .map(|m| m.name.as_str())
            .chain(project.snapshots.iter().map(|s| s.entry.name.as_str()))
            .collect();
        match crate::metrics::Catalog::load(project, &names) {
            Ok((c, mut w)) => {
                warnings.append(&mut w);
                Some(c)
            }
            Err(e) => {
                errors.extend(e.0);
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
            &mut warnings,
        ) {
            Ok(Some(mut n)) => {
                // The assertion names its model; the test machinery wants its id.
                if let Some(test) = n.generic_test.as_mut() {
                    test.attached_to = test.attached_to.as_ref().and_then(|name| {
                        nodes
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
                nodes.push(n);
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }

    // Properties that describe nothing are usually typos: say so.
    let model_names: std::collections::HashSet<&str> =
        project.models.iter().map(|m| m.name.as_str()).collect();
    for (name, props) in &project.properties.models {
        if !model_names.contains(name.as_str()) {
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
    if !errors.is_empty() {
        return Err(errors.into());
    }
    nodes.sort_by(|a, b| a.unique_id.cmp(&b.unique_id));
    Ok(ParseOutput {
        nodes,
        warnings,
        warned,
    })
}
