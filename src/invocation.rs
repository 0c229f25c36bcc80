//! One invocation of sluice: the pipeline stages wired together, so each CLI
//! subcommand is a few calls — load and parse, select, compile and check, execute,
//! write artifacts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use petgraph::graph::NodeIndex;
use rayon::prelude::*;
use serde_json::Value as Json;

use crate::adapter::relation_cache::RelationCache;
use crate::adapter::{self, Adapter};
use crate::artifacts::{self, CompiledInfo, Invocation};
use crate::diagnostics::{Diagnostic, Result, SourceFile};
use crate::execute::materialize::{self, Compiled};
use crate::execute::{self, NodeResult, Reporter};
use crate::graph::select::{IndirectSelection, Selector};
use crate::graph::state::{Changes, State, STATE_FILE};
use crate::graph::Dag;
use crate::project::incremental::IncrementalConfig;
use crate::project::yaml;
use crate::project::{self, Materialization, Project, TargetDef, WarehouseKind};
use crate::render::cache::{self, ParseCache, Reuse};
use crate::render::compile;
use crate::render::parse::{self, ParsedNode, ResourceType};
use crate::render::{RenderShared, Renderer, Resolved, TargetInfo};

/// Options every command shares.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub project_dir: PathBuf,
    pub target: Option<String>,
    pub vars: Option<String>,
    pub threads: Option<usize>,
    /// `--no-partial-parse`: parse every file, ignoring and not writing the cache.
    pub no_partial_parse: bool,
    /// `--profiles-dir`, `--profile`, `--no-version-check` (see [`project::LoadOptions`]).
    pub profiles_dir: Option<PathBuf>,
    pub profile: Option<String>,
    pub no_version_check: bool,
    /// `--store-failures` (`test`, `build`): tests whose config is silent keep
    /// their failing rows in the audit schema.
    pub store_failures: bool,
}

impl Options {
    /// What the load stage needs of these options.
    pub fn load_options(&self, cli_vars: &BTreeMap<String, Json>) -> project::LoadOptions {
        project::LoadOptions {
            project_dir: self.project_dir.clone(),
            profiles_dir: self.profiles_dir.clone(),
            profile: self.profile.clone(),
            target: self.target.clone(),
            cli_vars: cli_vars.clone(),
            no_version_check: self.no_version_check,
            skip_profile: false,
        }
    }
}

/// A loaded, parsed project with its graph.
pub struct Loaded {
    pub project: Project,
    pub target_def: TargetDef,
    pub renderer: Renderer,
    pub dag: Dag,
    pub warnings: Vec<Diagnostic>,
    pub invocation: Invocation,
    /// `--full-refresh`: rebuild incremental models from scratch.
    pub full_refresh: bool,
    /// `--empty`: every `ref`/`source` reads zero rows (schema-only builds).
    pub empty: bool,
    /// `--state DIR`: another run's artifacts.
    pub state: Option<State>,
    /// `--defer` / `--favor-state`.
    pub defer: Defer,
    /// What came from the parse cache, and the manifest entries serialized for it.
    parse_cache: ParseCacheState,
    /// What the nodes compiled during the run need from the compile before it.
    late: execute::compile::LateState,
}

#[derive(Default)]
struct ParseCacheState {
    /// Whether this invocation uses the cache (not `--no-partial-parse`).
    enabled: bool,
    global_key: u128,
    reuse: Reuse,
    /// Models whose generic tests warned: never cached.
    warned: HashSet<String>,
    /// Manifest entries (unique_id → JSON) serialized while writing the cache.
    entries: HashMap<String, String>,
}

pub use crate::graph::state::Defer;

/// Parse `--vars` (YAML or JSON mapping).
pub fn parse_cli_vars(text: &str) -> Result<BTreeMap<String, Json>, Diagnostic> {
    let file = SourceFile::new("--vars", text);
    let node = yaml::parse(&file)?;
    let map = node
        .expect_map("--vars")
        .map_err(|d| d.with_help("pass a mapping: --vars '{start_date: 2024-01-01}'"))?;
    Ok(map
        .entries()
        .map(|(k, _, v)| (k.to_owned(), v.to_json()))
        .collect())
}

pub(crate) fn choose_target(
    project: &Project,
    wanted: Option<&str>,
) -> Result<TargetDef, Diagnostic> {
    project::profiles::choose_target(&project.file, wanted)
}

pub(crate) fn target_info(
    project: &Project,
    def: &TargetDef,
    threads: Option<usize>,
) -> Result<TargetInfo, Diagnostic> {
    let schema_key = if def.kind == WarehouseKind::BigQuery {
        "dataset"
    } else {
        "schema"
    };
    let schema = match def.field(schema_key).or_else(|| def.field("schema")) {
        Some(n) => project::render_field(n, &format!("`{schema_key}`"))?,
        None if def.kind == WarehouseKind::DuckDb => "main".to_owned(),
        None => {
            return Err(
                Diagnostic::error(format!("target `{}` has no `{schema_key}`", def.name))
                    .with_label(&def.span, "this target")
                    .with_help(format!("add `{schema_key}: analytics` to the target")),
            )
        }
    };
    let database = match def.kind {
        // Relations are written without a database on DuckDB; on the others the
        // database is the connection's default unless a model sets one.
        WarehouseKind::DuckDb => None,
        _ => def
            .field("database")
            .filter(|n| n.as_str().is_some_and(|s| !s.contains("{{")))
            .and_then(|n| n.as_str().map(str::to_owned)),
    };
    let threads = match (threads, def.field("threads")) {
        (Some(t), _) => t,
        (None, Some(n)) => project::profiles::threads(n)?,
        (None, None) => 4,
    };
    let template_database = match def.kind {
        // A path that does not render fails where the connection opens.
        WarehouseKind::DuckDb => crate::adapter::connect::duckdb_catalog(project, def).ok(),
        _ => database.clone(),
    };
    Ok(TargetInfo {
        name: def.name.clone(),
        kind: def.kind,
        schema,
        database,
        template_database,
        threads,
    })
}

/// Load, render (parse) and build the graph.
pub fn load(opts: &Options, command: &str) -> Result<Loaded> {
    let started_at = Utc::now();
    let cli_vars = match &opts.vars {
        Some(v) => parse_cli_vars(v)?,
        None => BTreeMap::new(),
    };
    let project = project::load(&opts.load_options(&cli_vars))?;
    crate::output::project_log_dir(&project.file.log_path);
    let target_def = choose_target(&project, opts.target.as_deref())?;
    let target = target_info(&project, &target_def, opts.threads)?;
    let templates = crate::render::templates(&project);
    let adapter_type = target.kind.as_str().to_owned();
    let global_key = cache::global_key(&project, &target, &cli_vars);
    let mut reuse = if opts.no_partial_parse {
        Reuse::none()
    } else {
        ParseCache::open(project.target_path(), global_key)
            .map(Reuse::new)
            .unwrap_or_default()
    };
    let cached = reuse.lookup(&project);
    let mut renderer = Renderer::new(&project, target, &cli_vars, &templates)?;
    let invocation_id = invocation_id();
    renderer.set_run_info(&crate::render::builtins::RunInfo {
        invocation_id: invocation_id.clone(),
        run_started_at: started_at,
        which: command.to_owned(),
        store_failures: opts.store_failures,
    });
    let parsed = parse::parse_project(&project, &renderer, cached)?;
    let dag = Dag::build(parsed.nodes)?;
    crate::graph::access::check(&dag, &project.restricted_packages())?;
    let mut all_warnings = project.warnings.clone();
    all_warnings.extend(parsed.warnings);
    all_warnings.extend(dag.deprecation_warnings(started_at));
    let invocation = Invocation {
        invocation_id,
        started_at,
        project_name: project.name().to_owned(),
        adapter_type,
        command: command.to_owned(),
        args: serde_json::json!({"which": command, "target": opts.target, "vars": opts.vars}),
        database: match target_def.kind {
            WarehouseKind::DuckDb => Some(adapter::connect::duckdb_catalog(&project, &target_def)?),
            _ => renderer.target.database.clone(),
        },
        store_failures: opts.store_failures,
    };
    let mut loaded = Loaded {
        project,
        target_def,
        renderer,
        dag,
        warnings: all_warnings,
        invocation,
        full_refresh: false,
        empty: false,
        state: None,
        defer: Defer::No,
        late: Default::default(),
        parse_cache: ParseCacheState {
            enabled: !opts.no_partial_parse,
            global_key,
            reuse,
            warned: parsed.warned,
            entries: HashMap::new(),
        },
    };
    // `sluice parse` writes the cache with its artifacts (write_parse_artifacts).
    if loaded.parse_cache.enabled && command != "parse" {
        loaded.save_parse_cache();
    }
    Ok(loaded)
}

/// A fresh id for this invocation, a version-4 UUID as dbt writes.
pub(crate) fn invocation_id() -> String {
    // One id per process, shared with the log events.
    crate::output::invocation_id().to_owned()
}

impl Loaded {
    /// Write the parse cache (see [`crate::render::cache`]) when this load parsed
    /// model files the cache does not have. A few misses in a large project are not
    /// worth rewriting tens of megabytes for: they are parsed again next time,
    /// until enough accumulate. A cache that cannot be written is not an error.
    fn save_parse_cache(&mut self) {
        let reuse = &self.parse_cache.reuse;
        let models = &self.project.models;
        let misses = models
            .iter()
            .filter(|m| !reuse.was_reused(&m.rel_path))
            .count();
        let rewrite =
            !reuse.loaded() || (misses > 0 && (models.len() < 2000 || misses * 32 > models.len()));
        // Without manifest entries: this command writes its own manifest (with
        // compiled SQL); `sluice parse` adds them when it needs them.
        if rewrite {
            let _ = self.write_parse_cache(None);
        }
    }

    /// The model files' nodes, as the cache groups them: each model with the
    /// generic tests declared on it (files whose tests warned are left out).
    fn cache_bundles(&self) -> Vec<(&project::ProjectFileEntry, Vec<&ParsedNode>)> {
        let dag = &self.dag;
        let mut tests_of: HashMap<&str, Vec<&ParsedNode>> = HashMap::new();
        for n in &dag.nodes {
            if let Some(t) = n.generic_test.as_ref().filter(|t| !t.is_assertion) {
                if let Some(a) = &t.attached_to {
                    tests_of.entry(a.as_str()).or_default().push(n);
                }
            }
        }
        let project_name = self.project.name();
        let mut bundles = Vec::with_capacity(self.project.models.len());
        for m in &self.project.models {
            let id = format!("model.{project_name}.{}", m.name);
            // A version of a model is parsed each time (its node has another id).
            let versioned = self
                .project
                .properties
                .versioned_files
                .contains_key(&m.name);
            if versioned || self.parse_cache.warned.contains(&id) {
                continue;
            }
            let mut nodes: Vec<&ParsedNode> = dag.get(&id).into_iter().collect();
            nodes.extend(tests_of.get(id.as_str()).into_iter().flatten());
            bundles.push((m, nodes));
        }
        bundles
    }

    /// Serialize the manifest entries of the cache's nodes that the loaded cache
    /// lacks (in parallel); the manifest uses them too.
    fn fill_cache_entries(&mut self) {
        let bundles = self.cache_bundles();
        let dag = &self.dag;
        let reuse = &self.parse_cache.reuse;
        let inv = &self.invocation;
        let nodes: Vec<&ParsedNode> = bundles.iter().flat_map(|(_, n)| n.clone()).collect();
        let fresh: HashMap<String, String> = nodes
            .par_iter()
            .filter(|n| {
                let parents = artifacts::parent_ids(dag, n);
                reuse.manifest_entry(&n.unique_id, &parents).is_none()
            })
            .map(|n| (n.unique_id.clone(), artifacts::entry_text(dag, n, inv)))
            .collect();
        self.parse_cache.entries = fresh;
    }

    /// Write the cache; with the parse command's output for its fast path.
    fn write_parse_cache(&self, fast: Option<cache::FastInput<'_>>) -> std::io::Result<()> {
        let dag = &self.dag;
        let state = &self.parse_cache;
        let now = cache::now_secs();
        let root = &self.project.root;
        let bundles = self.cache_bundles();
        let stats: Vec<Option<cache::Stat>> = bundles
            .par_iter()
            .map(|(m, _)| cache::Stat::for_cache(&root.join(&m.rel_path), now))
            .collect();
        let new_bundles: Vec<cache::NewBundle<'_>> = bundles
            .iter()
            .zip(stats)
            .map(|((m, nodes), stat)| cache::NewBundle {
                path: m.rel_path.to_string_lossy().into_owned(),
                hash: cache::content_hash(&m.file.text),
                stat,
                props_file: self
                    .project
                    .properties
                    .models
                    .get(&m.name)
                    .map(|p| p.file.path.to_string_lossy().into_owned()),
                nodes: nodes
                    .iter()
                    .map(|n| {
                        let p = artifacts::parent_ids(dag, n);
                        let bytes = state
                            .reuse
                            .manifest_entry(&n.unique_id, &p)
                            .or_else(|| state.entries.get(&n.unique_id).map(|s| s.as_bytes()));
                        (*n, p, bytes)
                    })
                    .collect(),
            })
            .collect();
        let env_read = self
            .renderer
            .env_read
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        cache::write(
            self.project.target_path(),
            state.global_key,
            Some(&state.reuse),
            &env_read,
            &new_bundles,
            fast,
        )
    }

    /// `sluice parse`: write sluice_state.json, manifest.json and the parse cache,
    /// with what the next parse's fast path needs.
    pub fn write_parse_artifacts(&mut self) -> Result<()> {
        if !self.parse_cache.enabled {
            return self.write_manifest(&HashMap::new());
        }
        self.fill_cache_entries();
        let state_vars = self.write_state()?;
        let macros = self.macro_list();
        let cache_state = &self.parse_cache;
        let reuse = |node: &ParsedNode, parents: &[String]| {
            cache_state
                .reuse
                .manifest_entry(&node.unique_id, parents)
                .or_else(|| {
                    cache_state
                        .entries
                        .get(&node.unique_id)
                        .map(|s| s.as_bytes())
                })
        };
        let mut m = artifacts::manifest(
            &self.dag,
            &self.invocation,
            &BTreeMap::new(),
            &macros,
            &reuse,
        );
        m.add_project(&self.project);
        m.add_nodes(self.operations(&BTreeMap::new()));
        let parts = m.parts();
        let path = self.target_path().join("manifest.json");
        artifacts::write_manifest_parts(&path, &parts).map_err(|e| {
            Diagnostic::error(format!("cannot write {}: {e}", path.display()))
                .with_help("check that target-path is writable")
        })?;
        let pf = &self.project.file;
        let root = &self.project.root;
        let now = cache::now_secs();
        let mut others = Vec::new();
        for (path, _) in project::fast_path_watched_files(root, pf) {
            let Ok(bytes) = std::fs::read(&path) else {
                return Ok(());
            };
            let rel = path.strip_prefix(root).unwrap_or(&path);
            others.push((
                rel.to_string_lossy().into_owned(),
                xxhash_rust::xxh3::xxh3_128(&bytes),
                cache::Stat::for_cache(&path, now),
            ));
        }
        let mut names = Vec::new();
        let mut sources = Vec::new();
        for n in &self.dag.nodes {
            match n.resource_type {
                ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot => {
                    names.push((n.name.clone(), n.unique_id.clone()))
                }
                ResourceType::Source => {
                    if let Some(s) = &n.source_name {
                        sources.push((s.clone(), n.name.clone(), n.unique_id.clone()));
                    }
                }
                _ => {}
            }
        }
        let fast = cache::FastInput {
            others,
            names,
            sources,
            parts: &parts[1..],
            state: &state_vars,
            node_count: self.dag.nodes.len() as u64,
        };
        // A node sluice cannot run is parsed again each time (its error depends
        // on more than its file).
        let clean = self.warnings.is_empty()
            && parts.first().is_some_and(|p| p.0 == "metadata")
            && self.dag.nodes.iter().all(|n| n.cannot_run.is_none());
        let _ = self.write_parse_cache(clean.then_some(fast));
        Ok(())
    }

    /// Write sluice_state.json; returns its `vars` entries as JSON text.
    fn write_state(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let vars: Vec<(String, Vec<u8>)> = self
            .dag
            .nodes
            .iter()
            .filter(|n| !n.reads.vars.is_empty())
            .map(|n| {
                let text = serde_json::to_vec(&Json::Object(self.vars_read(n)))
                    .expect("a JSON value serializes");
                (n.unique_id.clone(), text)
            })
            .collect();
        let path = self.target_path().join(STATE_FILE);
        write_state_file(&path, vars.iter().map(|(k, v)| (k.as_str(), v.as_slice()))).map_err(
            |e| {
                Diagnostic::error(format!("cannot write {}: {e}", path.display()))
                    .with_help("check that target-path is writable")
            },
        )?;
        Ok(vars)
    }

    /// How many model files this load took from the parse cache.
    pub fn models_from_cache(&self) -> usize {
        self.parse_cache.reuse.reused()
    }

    /// Nodes selected by `--select`/`--exclude`, restricted to `types`; tests of a
    /// selected node are included when tests are wanted (dbt's eager selection).
    pub fn select(
        &mut self,
        select: &[String],
        exclude: &[String],
        types: &[ResourceType],
        indirect: IndirectSelection,
    ) -> Result<HashSet<NodeIndex>> {
        let uses_state = select.iter().chain(exclude).any(|s| s.contains("state:"));
        let changes = if uses_state {
            self.state_changes()?
        } else {
            None
        };
        let dag = &self.dag;
        let mut selected: HashSet<NodeIndex> = if select.is_empty() {
            dag.graph.node_indices().collect()
        } else {
            Selector::parse("--select", select)?.evaluate(
                dag,
                changes.as_ref(),
                &mut self.warnings,
            )?
        };
        if types.contains(&ResourceType::Test) && !select.is_empty() {
            let tests = indirect.tests_of(dag, &selected);
            selected.extend(tests);
        }
        if types.contains(&ResourceType::UnitTest)
            && !select.is_empty()
            && indirect != IndirectSelection::Empty
        {
            // A selected model brings its unit tests along.
            let unit_tests: Vec<NodeIndex> = dag
                .graph
                .node_indices()
                .filter(|i| {
                    dag.node(*i).unit_test.as_ref().is_some_and(|u| {
                        dag.by_id
                            .get(&u.model_id)
                            .is_some_and(|m| selected.contains(m))
                    })
                })
                .collect();
            selected.extend(unit_tests);
        }
        if !exclude.is_empty() {
            let mut excluded = Selector::parse("--exclude", exclude)?.evaluate(
                dag,
                changes.as_ref(),
                &mut self.warnings,
            )?;
            // As in dbt, excluding a node excludes the tests that touch it.
            let tests = IndirectSelection::Eager.tests_of(dag, &excluded);
            excluded.extend(tests);
            selected.retain(|i| !excluded.contains(i));
        }
        selected.retain(|i| types.contains(&dag.node(*i).resource_type));
        Ok(selected)
    }

    /// Apply `--state`, `--defer` and `--favor-state`.
    pub fn use_state(&mut self, dir: Option<&Path>, defer: bool, favor_state: bool) -> Result<()> {
        let Some(dir) = dir else {
            if defer || favor_state {
                let flag = if defer { "--defer" } else { "--favor-state" };
                return Err(Diagnostic::error(format!("{flag} needs --state DIR"))
                    .with_help(format!(
                        "{flag} reads unselected parents from another run: add `--state <its target folder>`, e.g. `--state prod-artifacts/`"
                    ))
                    .into());
            }
            return Ok(());
        };
        // Relative to where sluice runs, like every other path flag.
        self.state = Some(State::load(dir)?);
        self.defer = Defer::from_flags(defer, favor_state);
        Ok(())
    }

    /// How every node differs from the `--state` run (for `state:` selectors).
    fn state_changes(&mut self) -> Result<Option<HashMap<NodeIndex, Changes>>> {
        // Without --state the selector itself reports the problem, at the atom.
        let Some(state) = &self.state else {
            return Ok(None);
        };
        if !state.knows_vars() {
            self.warnings.push(
                Diagnostic::warning(format!(
                    "{} has no {STATE_FILE}: changes to vars are not detected",
                    state.dir.display()
                ))
                .with_event(crate::diagnostics::event::STATE_WITHOUT_VARS)
                .with_help(
                    "save the whole target folder of the production run, not only manifest.json",
                ),
            );
        }
        let macros = self.macro_sources();
        let dag = &self.dag;
        let changes = dag
            .graph
            .node_indices()
            .collect::<Vec<_>>()
            .par_iter()
            .map(|&idx| {
                let node = dag.node(idx);
                let current = artifacts::entry_json(dag, node, &self.invocation);
                (idx, state.compare(&current, &self.vars_read(node), &macros))
            })
            .collect();
        Ok(Some(changes))
    }

    /// The values of the vars a node read (null when unset: its default applies).
    fn vars_read(&self, node: &ParsedNode) -> serde_json::Map<String, Json> {
        node.reads
            .vars
            .iter()
            .map(|v| {
                let value = self.renderer.vars.get(v).cloned().unwrap_or(Json::Null);
                (v.clone(), value)
            })
            .collect()
    }

    /// Every project macro's own source, by unique id.
    fn macro_sources(&self) -> HashMap<String, String> {
        self.macro_list()
            .into_iter()
            .map(|(name, _, sql)| (format!("macro.{}.{name}", self.project.name()), sql))
            .collect()
    }

    /// (name, file, source) of every project macro.
    fn macro_list(&self) -> Vec<(String, String, String)> {
        self.project
            .macros
            .iter()
            .flat_map(|m| {
                crate::render::macros::preprocess(&m.file.text)
                    .macros
                    .into_iter()
                    .map(|(name, _)| {
                        let sql = crate::render::macros::macro_source(&m.file.text, &name);
                        (name, m.rel_path.display().to_string(), sql.to_owned())
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// With `--defer`: point refs to unselected nodes at the state's relations.
    fn defer_relations(
        &self,
        selected: &HashSet<NodeIndex>,
        relations: &mut HashMap<String, Resolved>,
    ) -> Result<()> {
        let Some(state) = self.state.as_ref().filter(|_| self.defer != Defer::No) else {
            return Ok(());
        };
        let candidates = crate::graph::state::deferred_relations(&self.dag, state, selected);
        if candidates.is_empty() {
            return Ok(());
        }
        // Without --favor-state, a node built here is read here.
        let mut session = match self.defer {
            Defer::WhenMissing if self.target_may_hold_relations()? => {
                Some(self.adapter()?.session().map_err(|e| {
                    Diagnostic::error(format!("cannot connect to the warehouse: {e}"))
                })?)
            }
            _ => None,
        };
        let cache = RelationCache::new();
        for (idx, deferred) in candidates {
            let node = self.dag.node(idx);
            if let (Some(s), Some(here)) = (session.as_mut(), &node.relation) {
                if cache
                    .kind(s.as_mut(), here)
                    .map_err(|e| Diagnostic::error(e.0))?
                    .is_some()
                {
                    continue;
                }
            }
            for key in node.ref_keys() {
                relations.insert(key, Resolved::Relation(deferred.clone()));
            }
        }
        Ok(())
    }

    pub fn target_path(&self) -> &Path {
        self.project.target_path()
    }

    /// What the compile renders of `selected` share: every relation (deferred
    /// ones for unselected parents under `--defer`), the flags, the incremental
    /// models that build incrementally; and, under `--defer`, the undeferred state
    /// unit tests type their inputs with.
    fn render_state(
        &mut self,
        selected: &HashSet<NodeIndex>,
    ) -> Result<(Arc<RenderShared>, Option<Arc<RenderShared>>)> {
        let (mut relations, sources) = execute::compile::relations(&self.dag);
        if self.renderer.reads_graph {
            self.renderer.graph.set(|| self.flat_graph());
        }
        // Unit tests type their inputs from this project's own models, never
        // from the deferred ones.
        let undeferred = (self.defer != Defer::No)
            .then(|| self.renderer.shared(relations.clone(), sources.clone()));
        self.defer_relations(selected, &mut relations)?;
        let mut state = self.renderer.shared_state(relations, sources);
        state.full_refresh = self.full_refresh;
        state.empty = self.empty;
        state.incremental = self.existing_incrementals(selected)?;
        Ok((Arc::new(state), undeferred))
    }

    /// dbt's flat graph (the `graph` variable): every node's manifest entry in its
    /// section, keyed by unique id.
    fn flat_graph(&self) -> Json {
        use crate::render::flat_graph;
        let mut graph: serde_json::Map<String, Json> = flat_graph::SECTIONS
            .iter()
            .map(|s| ((*s).to_owned(), Json::Object(Default::default())))
            .collect();
        for node in &self.dag.nodes {
            let entry = artifacts::entry_json(&self.dag, node, &self.invocation);
            if let Some(Json::Object(section)) =
                graph.get_mut(flat_graph::section(node.resource_type))
            {
                section.insert(node.unique_id.clone(), entry);
            }
        }
        Json::Object(graph)
    }

    /// Jinja text of a node's properties (a source's `loaded_at_query`), rendered
    /// in that node's context (`this` is the node's relation).
    pub fn render_text(&mut self, text: &str, idx: NodeIndex) -> Result<String> {
        let (shared, _) = self.render_state(&HashSet::new())?;
        let node = self.dag.node(idx);
        let context = compile::node_context(&self.renderer, node);
        self.renderer
            .render_str(text, &shared, context)
            .map_err(|e| self.renderer.error(&e).into())
    }

    /// SQL given with `--inline`, compiled against this project (its refs read
    /// what a build here would, deferred under `--defer`).
    pub fn compile_inline(&mut self, sql: &str) -> Result<String> {
        let (shared, _) = self.render_state(&HashSet::new())?;
        let file = SourceFile::new("--inline", sql);
        let dag = &self.dag;
        let find = |name: &str| dag.by_name.get(name).and_then(|id| dag.get(id));
        Ok(compile::render_inline(
            &self.renderer,
            &shared,
            &file,
            find,
        )?)
    }

    /// Compile the selected nodes (plus the ephemeral models they inline), write
    /// `target/compiled/**`, and check the SQL (see [`execute::compile`]). Seeds are
    /// parsed from CSV here, so a malformed seed stops the command before anything
    /// runs; a node whose compile or check fails is [`Compiled::Failed`].
    pub fn compile(
        &mut self,
        selected: &HashSet<NodeIndex>,
    ) -> Result<HashMap<NodeIndex, Compiled>> {
        let (shared, undeferred) = self.render_state(selected)?;
        let compiler = execute::compile::Compiler {
            renderer: &self.renderer,
            dag: &self.dag,
            project: &self.project,
            shared,
            undeferred,
        };
        let out = compiler.compile(selected);
        self.late = out.late;
        self.warnings.extend(out.warnings);
        if !out.errors.is_empty() {
            return Err(out.errors.into());
        }
        Ok(out.compiled)
    }

    /// For commands that do not run nodes (`compile`, `show`): compile the late
    /// nodes now, on one session, in DAG order (their parents as the warehouse has
    /// them, as `dbt compile` does), and turn every node's compile error into the
    /// command's error.
    pub fn compile_late_now(&mut self, compiled: &mut HashMap<NodeIndex, Compiled>) -> Result<()> {
        let mut errors: Vec<Diagnostic> = compiled
            .values()
            .filter_map(|c| match c {
                Compiled::Failed(d) => Some(d.clone()),
                _ => None,
            })
            .collect();
        let mut late: Vec<NodeIndex> = compiled
            .iter()
            .filter(|(_, c)| matches!(c, Compiled::Late { .. }))
            .map(|(i, _)| *i)
            .collect();
        if !late.is_empty() {
            let order = petgraph::algo::toposort(&self.dag.graph, None).unwrap_or_default();
            late.sort_by_key(|i| order.iter().position(|o| o == i));
            let adapter = self.adapter()?;
            let mut session = adapter.session().map_err(|e| {
                Diagnostic::error(format!("cannot connect to the warehouse: {e}"))
                    .with_label(&self.target_def.span, "this target")
                    .with_help(
                        "nodes that query the warehouse while they compile need a connection",
                    )
            })?;
            let compiler = execute::compile::Compiler {
                renderer: &self.renderer,
                dag: &self.dag,
                project: &self.project,
                shared: self
                    .late
                    .shared
                    .clone()
                    .unwrap_or_else(|| self.renderer.shared(HashMap::new(), HashMap::new())),
                undeferred: None,
            };
            for idx in late {
                match compiler.compile_late(&self.late, session.as_mut(), idx) {
                    Ok((c, w)) => {
                        self.warnings.extend(w);
                        compiled.insert(idx, c);
                    }
                    Err(d) => errors.push(d),
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.into())
        }
    }

    /// The selected incremental models this run builds incrementally: their table
    /// exists and neither `--full-refresh` nor `full_refresh: true` rebuilds them.
    /// `is_incremental()` is decided here, before rendering, because every model is
    /// compiled before any runs; a run only ever creates the tables it found missing.
    /// Targets sluice cannot connect to yet compile as a first build.
    fn existing_incrementals(&self, selected: &HashSet<NodeIndex>) -> Result<HashSet<String>> {
        let candidates: Vec<&ParsedNode> = selected
            .iter()
            .map(|i| self.dag.node(*i))
            .filter(|n| n.materialization == Materialization::Incremental)
            .filter(|n| {
                IncrementalConfig::of(&n.config, &n.span)
                    .is_ok_and(|c| !c.rebuilds(self.full_refresh))
            })
            .collect();
        if candidates.is_empty() || !self.target_may_hold_relations()? {
            return Ok(HashSet::new());
        }
        let adapter = self.adapter()?;
        let mut session = adapter.session().map_err(|e| {
            Diagnostic::error(format!("cannot connect to the warehouse: {e}"))
                .with_label(&self.target_def.span, "this target")
        })?;
        let cache = RelationCache::new();
        let mut existing = HashSet::new();
        for node in candidates {
            let Some(relation) = &node.relation else {
                continue;
            };
            match cache.kind(session.as_mut(), relation) {
                Ok(Some(adapter::RelationKind::Table)) => {
                    existing.insert(node.unique_id.clone());
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(Diagnostic::error(format!(
                        "cannot look up {relation} in the warehouse: {e}"
                    ))
                    .with_label(&node.span, "this incremental model")
                    .into())
                }
            }
        }
        Ok(existing)
    }

    fn target_may_hold_relations(&self) -> Result<bool> {
        Ok(adapter::connect::may_hold_relations(
            &self.project,
            &self.target_def,
        )?)
    }

    /// The warehouse connection for the target.
    pub fn adapter(&self) -> Result<Box<dyn Adapter>> {
        Ok(adapter::connect::connect(
            &self.project,
            &self.target_def,
            &self.renderer.target.schema,
        )?)
    }

    /// The selected nodes that run: ephemeral models are inlined into their
    /// children, so there is nothing to run for them.
    pub fn runnable(&self, selected: &HashSet<NodeIndex>) -> HashSet<NodeIndex> {
        selected
            .iter()
            .copied()
            .filter(|i| self.dag.node(*i).materialization != Materialization::Ephemeral)
            .collect()
    }

    /// Run the selected nodes and write run_results.json and manifest.json.
    pub fn execute(
        &mut self,
        selected: &HashSet<NodeIndex>,
        compiled: &HashMap<NodeIndex, Compiled>,
        fail_fast: bool,
        tests_gate_children: bool,
        reporter: &Reporter,
    ) -> Result<Vec<NodeResult>> {
        let adapter = self.adapter()?;
        let started = std::time::Instant::now();
        self.create_schemas(adapter.as_ref(), selected)?;
        let deps = execute::dependencies(&self.dag, selected, tests_gate_children);
        let compiler = execute::compile::Compiler {
            renderer: &self.renderer,
            dag: &self.dag,
            project: &self.project,
            shared: self
                .late
                .shared
                .clone()
                .unwrap_or_else(|| self.renderer.shared(HashMap::new(), HashMap::new())),
            undeferred: None,
        };
        let compile_unit_test = |session: &mut dyn adapter::Session, node: &ParsedNode| {
            compiler.compile_unit_test_now(session, node)
        };
        let late_warnings = std::sync::Mutex::new(Vec::new());
        let compile_late = |session: &mut dyn adapter::Session, idx: NodeIndex| {
            let (c, w) = compiler.compile_late(&self.late, session, idx)?;
            late_warnings
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(w);
            Ok(c)
        };
        let render_hooks = |session: &mut dyn adapter::Session, idx: NodeIndex, key: &str| {
            compiler.render_hooks_now(&self.late, session, idx, key)
        };
        let runner = materialize::DagRunner {
            dag: &self.dag,
            compiled,
            compile_unit_test: &compile_unit_test,
            compile_late: &compile_late,
            render_hooks: &render_hooks,
            late: Default::default(),
            dialect: adapter.dialect(),
            run_dir: self.target_path().join("run").join(self.project.name()),
            relations: RelationCache::new(),
            store_failures: self.invocation.store_failures,
            printed_database: self.renderer.printed_database(),
            project_root: self.project.root.clone(),
        };
        let threads = self.renderer.target.threads;
        let hooks = execute::hooks::HookRunner {
            renderer: &self.renderer,
            project: &self.project,
            dag: &self.dag,
            shared: compiler.shared.clone(),
            reporter,
            database: self.invocation.database.clone(),
        };
        let mut hook_sql = Vec::new();
        let (results, hook_error) = hooks.around(adapter.as_ref(), &mut hook_sql, || {
            let dag = &self.dag;
            execute::run(
                dag, selected, &deps, &*adapter, &runner, threads, fail_fast, reporter,
            )
        })?;
        let finishing = std::time::Instant::now();
        match adapter.finish() {
            Ok(Some(what)) => reporter.info(&format!(
                "{what} in {:.2}s",
                finishing.elapsed().as_secs_f64()
            )),
            Ok(None) => {}
            // The results are in the warehouse already (DuckDB's log holds them
            // until the next checkpoint), so this is worth a warning, not a failure.
            Err(e) => self.warnings.push(
                Diagnostic::warning(format!("after the run, the warehouse reported: {e}"))
                    .with_event(crate::diagnostics::event::WAREHOUSE_AFTER_RUN),
            ),
        }
        let elapsed = started.elapsed().as_secs_f64();
        let late = runner.late.into_inner().unwrap_or_else(|p| p.into_inner());
        drop(compiler);
        self.warnings.extend(
            late_warnings
                .into_inner()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let mut all: HashMap<NodeIndex, &Compiled> =
            compiled.iter().map(|(k, v)| (*k, v)).collect();
        all.extend(late.iter().map(|(k, v)| (*k, v)));
        let hook_info = || {
            hook_sql
                .iter()
                .map(|h| (h.unique_id.clone(), CompiledInfo::from(h)))
        };
        let mut info = self.compiled_info(&all);
        info.extend(hook_info());
        self.write_run_results(&results, elapsed, &info)?;
        self.write_manifest_of(&all, hook_info().collect())?;
        match hook_error {
            Some(d) => Err(d.into()),
            None => Ok(results),
        }
    }

    /// The project hooks' manifest nodes.
    fn operations(&self, info: &BTreeMap<String, CompiledInfo>) -> Vec<(String, Json)> {
        let hooks = execute::hooks::all_hooks(&self.project);
        artifacts::operations(&hooks, &self.invocation, &self.renderer.target.schema, info)
    }

    /// Write run_results.json: `results`, with the compiled SQL of `info`.
    pub fn write_run_results(
        &self,
        results: &[NodeResult],
        elapsed: f64,
        info: &BTreeMap<String, CompiledInfo>,
    ) -> Result<()> {
        let rr = artifacts::run_results(results, &self.invocation, elapsed, info);
        self.write_artifact("run_results.json", &rr)
    }

    /// The render state of a command that compiles no node (`run-operation`):
    /// `ref()` and `source()` resolve to every node's relation.
    pub fn render_shared(&self) -> Arc<RenderShared> {
        let (relations, sources) = execute::compile::relations(&self.dag);
        self.renderer.shared(relations, sources)
    }

    /// Create every schema the run writes to, once and up front: concurrent
    /// `create schema` statements in parallel transactions conflict.
    fn create_schemas(&self, adapter: &dyn Adapter, selected: &HashSet<NodeIndex>) -> Result<()> {
        let flag = self.invocation.store_failures;
        let schemas: std::collections::BTreeSet<&str> = selected
            .iter()
            .map(|i| self.dag.node(*i))
            .filter(|n| match n.resource_type {
                ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot => true,
                // A test that keeps its failing rows writes to its audit schema.
                ResourceType::Test => crate::testing::store_failures::should_store(&n.config, flag),
                _ => false,
            })
            .filter_map(|n| n.relation.as_ref().map(|r| r.schema.as_str()))
            .collect();
        adapter
            .session()
            .and_then(|mut session| {
                schemas
                    .iter()
                    .try_for_each(|schema| session.create_schema(schema))
            })
            .map_err(|e| {
                Diagnostic::error(format!("cannot create the schemas {schemas:?}: {e}"))
                    .with_label(&self.target_def.span, "in this target")
                    .into()
            })
    }

    fn compiled_info(
        &self,
        compiled: &HashMap<NodeIndex, &Compiled>,
    ) -> BTreeMap<String, CompiledInfo> {
        artifacts::compiled_info(
            &self.dag,
            &self.project,
            &|r| self.renderer.printed_relation_name(r),
            compiled,
            self.invocation.store_failures,
        )
    }

    fn write_artifact(&self, name: &str, value: &impl serde::Serialize) -> Result<()> {
        let path = self.target_path().join(name);
        artifacts::write_json(&path, value).map_err(|e| {
            Diagnostic::error(format!("cannot write {}: {e}", path.display()))
                .with_help("check that target-path is writable")
                .into()
        })
    }

    /// Write manifest.json (with compiled SQL for the nodes compiled this run).
    pub fn write_manifest(&self, compiled: &HashMap<NodeIndex, Compiled>) -> Result<()> {
        let compiled = compiled.iter().map(|(k, v)| (*k, v)).collect();
        self.write_manifest_of(&compiled, BTreeMap::new())
    }

    /// manifest.json, with the compiled SQL of `compiled` and of the project
    /// hooks that ran (`hooks`).
    fn write_manifest_of(
        &self,
        compiled: &HashMap<NodeIndex, &Compiled>,
        hooks: BTreeMap<String, CompiledInfo>,
    ) -> Result<()> {
        let mut info = self.compiled_info(compiled);
        info.retain(|_, c| !c.compiled_path.is_empty());
        info.extend(hooks);
        let macros = self.macro_list();
        self.write_state()?;
        let state = &self.parse_cache;
        let reuse = |node: &ParsedNode, parents: &[String]| {
            state
                .reuse
                .manifest_entry(&node.unique_id, parents)
                .or_else(|| state.entries.get(&node.unique_id).map(|s| s.as_bytes()))
        };
        let mut m = artifacts::manifest(&self.dag, &self.invocation, &info, &macros, &reuse);
        m.add_project(&self.project);
        m.add_nodes(self.operations(&info));
        let path = self.target_path().join("manifest.json");
        m.write(&path).map_err(|e| {
            Diagnostic::error(format!("cannot write {}: {e}", path.display()))
                .with_help("check that target-path is writable")
                .into()
        })
    }
}

/// Write sluice_state.json (`{"vars": {unique_id: {var: value}}}`) from its
/// entries' JSON text, atomically.
pub fn write_state_file<'e>(
    path: &Path,
    entries: impl Iterator<Item = (&'e str, &'e [u8])>,
) -> std::io::Result<()> {
    let parts = [("vars", artifacts::Part::Entries(entries.collect()))];
    artifacts::write_manifest_parts(path, &parts)
}
