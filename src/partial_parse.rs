//! The `parse` command's fast path: when only a few model files changed since the
//! last `sluice parse` and nothing else did, re-parse just those files and patch
//! the previous manifest.json, without loading the rest of the project.
//!
//! It reads `project.yml`, the macro and YAML properties files (small), compares
//! the global key of the parse cache (see [`crate::render::cache`]), `stat`s the
//! model, seed, test and snapshot files, and reads only the ones whose stat changed.
//! The changed model files are parsed by the same code as a full parse (a project
//! of just those files, with their YAML properties), and their manifest entries
//! replace the cached ones.
//!
//! It gives up (and the full parse runs) whenever the result could differ from a
//! full parse's: a cache without the fast path's data (written by another command,
//! or by a parse with warnings), a changed global key or environment variable, a
//! model file added or removed, a seed, singular test or snapshot file changed,
//! more than [`MAX_CHANGED`] changed model files, a changed file whose nodes, parents
//! or warnings differ from before (a new `ref`, a model disabled), or any error.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use rayon::prelude::*;
use serde_json::Value as Json;

use crate::artifacts::{self, Invocation};
use crate::graph::state::STATE_FILE;
use crate::invocation::{self, Options};
use crate::project::{self, Project, Properties, WarehouseKind};
use crate::render::cache::{self, ParseCache, Stat};
use crate::render::parse::{self, DependencyTarget, ParsedNode};
use crate::render::Renderer;

/// More changed files than this go through the full parse (which also rewrites
/// the cache, so the next parse is fast again).
pub const MAX_CHANGED: usize = 64;

/// What the fast path did.
pub struct FastParse {
    pub nodes: usize,
    pub models: usize,
    pub reused: usize,
    pub manifest: PathBuf,
}

/// Re-parse the changed model files and rewrite manifest.json and
/// sluice_state.json, or `None` when only a full parse can give the right result.
pub fn parse(opts: &Options) -> Option<FastParse> {
    if opts.no_partial_parse {
        return None;
    }
    let started_at = Utc::now();
    let root = std::path::absolute(&opts.project_dir).ok()?;
    let cli_vars = match &opts.vars {
        Some(v) => invocation::parse_cli_vars(v).ok()?,
        None => BTreeMap::new(),
    };
    let mut load_opts = opts.load_options(&cli_vars);
    load_opts.project_dir = root.clone();
    let mut warnings = Vec::new();
    let pf = project::load_project_file(&load_opts, &mut warnings).ok()?;
    if !warnings.is_empty() {
        return None;
    }
    let pname = pf.name.clone();
    let read = |path: &std::path::Path| project::read_source(&root, path).ok();
    let mut macros = Vec::new();
    for (path, in_folder) in project::walk_macros(&root, &pf) {
        macros.push(project::file_entry(&pname, &path, in_folder, read(&path)?));
    }
    let mut yaml = Vec::new();
    for (path, _) in project::yaml_paths(&root, &pf) {
        yaml.push(read(&path)?);
    }
    // Doc blocks are in the cache key as the YAML is (render::cache::global_key).
    for path in project::docs::files(&root, &pf.docs_paths) {
        yaml.push(read(&path)?);
    }
    let model_paths = project::walk(&root, &pf.model_paths, "sql");
    let others = project::fast_path_watched_files(&root, &pf);
    let target_path = pf.target_path.clone();
    let project_yml = pf.cache_text();
    let mut project = Project::partial(root.clone(), pf, Vec::new(), macros, Properties::default());
    let target_def = invocation::choose_target(&project, opts.target.as_deref()).ok()?;
    let target = invocation::target_info(&project, &target_def, opts.threads).ok()?;
    let key = cache::global_key_of(
        &project_yml,
        &target,
        &cli_vars,
        project.macros.iter().map(|m| &*m.file),
        yaml.iter().map(|f| &**f),
    );
    let cache = ParseCache::open(&target_path, key)?;
    let fast = cache.fast()?;

    // Seeds, singular tests, snapshots: the same files with the same content.
    if others.len() != fast.others.len() {
        return None;
    }
    let others_same =
        others
            .par_iter()
            .zip(&fast.others)
            .all(|((path, _), (cached_path, hash, stat))| {
                project::relative_to(path, &root).to_string_lossy() == cached_path.as_str()
                    && (stat.is_some() && Stat::of(path) == *stat
                        || std::fs::read(path)
                            .is_ok_and(|b| xxhash_rust::xxh3::xxh3_128(&b) == *hash))
            });
    if !others_same {
        return None;
    }

    // Model files: the same paths; the changed ones are read.
    let files: Vec<cache::CachedFile<'_>> = cache.files().collect();
    if files.len() != model_paths.len() {
        return None;
    }
    enum Seen {
        Same,
        Changed(Arc<crate::diagnostics::SourceFile>),
        Different,
    }
    let seen: Vec<Seen> = model_paths
        .par_iter()
        .zip(&files)
        .map(|((path, _), cached)| {
            if project::relative_to(path, &root).to_string_lossy() != cached.path {
                return Seen::Different;
            }
            if cached.stat.is_some() && Stat::of(path) == cached.stat {
                return Seen::Same;
            }
            match project::read_source(&root, path) {
                Ok(f) if cache::content_hash(&f.text) == cached.hash => Seen::Same,
                Ok(f) => Seen::Changed(f),
                Err(_) => Seen::Different,
            }
        })
        .collect();
    let mut changed = Vec::new();
    for (i, s) in seen.into_iter().enumerate() {
        match s {
            Seen::Same => {}
            Seen::Changed(f) => changed.push((i, f)),
            Seen::Different => return None,
        }
    }
    if changed.len() > MAX_CHANGED {
        return None;
    }

    let mut replaced: HashMap<String, Vec<u8>> = HashMap::new();
    let mut state = cache.state_entries()?;
    let mut state_texts: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    if !changed.is_empty() {
        // A project of the changed files, with their YAML properties.
        let mut props_files = BTreeSet::new();
        let mut entries = Vec::new();
        for (i, file) in &changed {
            let (path, in_folder) = &model_paths[*i];
            if let Some(p) = files[*i].props_file {
                props_files.insert(p);
            }
            entries.push(project::file_entry(
                &pname,
                path,
                in_folder.clone(),
                Arc::clone(file),
            ));
        }
        let mut properties = Properties::default();
        let mut ignored = Vec::new();
        for f in yaml
            .iter()
            .filter(|f| props_files.contains(f.path.to_string_lossy().as_ref()))
        {
            let doc = crate::project::yaml::parse(f).ok()?;
            properties.add_document(f, &doc, &mut ignored).ok()?;
        }
        let names: BTreeSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        let models = std::mem::take(&mut properties.models)
            .into_iter()
            .filter(|(name, _)| names.contains(name.as_str()))
            .collect();
        project.models = entries;
        project.properties = Properties {
            models,
            ..Properties::default()
        };
        let templates: Vec<crate::render::Template> = project
            .models
            .iter()
            .map(|e| (e.rel_path.display().to_string(), Arc::clone(&e.file), None))
            .collect();
        let renderer = Renderer::new(&project, target.clone(), &cli_vars, &templates).ok()?;
        let out = parse::parse_project(&project, &renderer, HashMap::new()).ok()?;
        if !out.warnings.is_empty() || !out.warned.is_empty() {
            return None;
        }
        // Access rules are checked on the whole graph (graph::access).
        if out
            .nodes
            .iter()
            .any(|n| n.config.get("access").is_some() || n.config.get("group").is_some())
        {
            return None;
        }
        let inv = invocation_for(&project, &target_def, &renderer, opts, started_at)?;
        let by_id: HashMap<&str, &ParsedNode> = out
            .nodes
            .iter()
            .map(|n| (n.unique_id.as_str(), n))
            .collect();
        let names: HashMap<&str, &str> = fast
            .names
            .iter()
            .map(|(n, id)| (n.as_str(), id.as_str()))
            .collect();
        let sources: HashMap<(&str, &str), &str> = fast
            .sources
            .iter()
            .map(|(s, t, id)| ((s.as_str(), t.as_str()), id.as_str()))
            .collect();
        let mut expected = 0;
        for (i, _) in &changed {
            for (id, cached_parents) in &files[*i].nodes {
                expected += 1;
                let node = by_id.get(id)?;
                let mut parents = Vec::new();
                for d in &node.depends_on {
                    let parent = match &d.target {
                        DependencyTarget::Ref(n) => names.get(n.as_str())?,
                        DependencyTarget::Source(s, t) => sources.get(&(s.as_str(), t.as_str()))?,
                    };
                    parents.push((*parent).to_owned());
                }
                parents.sort();
                parents.dedup();
                if parents != *cached_parents {
                    return None;
                }
                let attached = node
                    .generic_test
                    .as_ref()
                    .and_then(|t| t.attached_to.as_deref())
                    .and_then(|a| by_id.get(a).copied());
                let entry = artifacts::node_json_with(node, &inv, None, parents, attached);
                replaced.insert((*id).to_owned(), serde_json::to_vec(&entry).ok()?);
                let vars = (!node.reads.vars.is_empty()).then(|| {
                    let read: serde_json::Map<String, Json> = node
                        .reads
                        .vars
                        .iter()
                        .map(|v| {
                            (
                                v.clone(),
                                renderer.vars.get(v).cloned().unwrap_or(Json::Null),
                            )
                        })
                        .collect();
                    serde_json::to_vec(&Json::Object(read)).unwrap_or_default()
                });
                state_texts.push(((*id).to_owned(), vars));
            }
        }
        // Exactly the same nodes as before (none appeared, none disappeared).
        if expected != out.nodes.len() {
            return None;
        }
    }
    for (id, text) in &state_texts {
        match text {
            Some(t) => {
                state.insert(id.as_str(), t.as_slice());
            }
            None => {
                state.remove(id.as_str());
            }
        }
    }

    let inv = invocation_for_metadata(&project, &target_def, &target, opts, started_at)?;
    let mut parts = vec![(
        "metadata",
        artifacts::Part::Text(
            serde_json::to_vec(&artifacts::manifest_metadata(&inv))
                .ok()?
                .into(),
        ),
    )];
    parts.extend(cache.manifest_parts(&replaced)?);
    invocation::write_state_file(&target_path.join(STATE_FILE), state.into_iter()).ok()?;
    let manifest = target_path.join("manifest.json");
    artifacts::write_manifest_parts(&manifest, &parts).ok()?;
    Some(FastParse {
        nodes: fast.node_count as usize,
        models: files.len(),
        reused: files.len() - changed.len(),
        manifest,
    })
}

/// The invocation as a full parse would describe it (its `database` is written
/// into node entries).
fn invocation_for(
    project: &Project,
    target_def: &project::TargetDef,
    renderer: &Renderer,
    opts: &Options,
    started_at: chrono::DateTime<Utc>,
) -> Option<Invocation> {
    invocation_for_metadata(project, target_def, &renderer.target, opts, started_at)
}

fn invocation_for_metadata(
    project: &Project,
    target_def: &project::TargetDef,
    target: &crate::render::TargetInfo,
    opts: &Options,
    started_at: chrono::DateTime<Utc>,
) -> Option<Invocation> {
    Some(Invocation {
        invocation_id: invocation::invocation_id(),
        started_at,
        project_name: project.name().to_owned(),
        adapter_type: target.kind.as_str().to_owned(),
        command: "parse".to_owned(),
        args: serde_json::json!({"which": "parse", "target": opts.target, "vars": opts.vars}),
        database: match target_def.kind {
            WarehouseKind::DuckDb => {
                Some(crate::adapter::connect::duckdb_catalog(project, target_def).ok()?)
            }
            _ => target.database.clone(),
        },
        store_failures: false,
    })
}
