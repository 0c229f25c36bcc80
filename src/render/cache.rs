//! Partial parsing: a content-hash cache of parse results, so that a re-parse after
//! editing a few model files renders only those files.
//!
//! The cache is `<target-path>/partial_parse.bin`, written after a successful load.
//! It holds, for every model file, a *bundle*: the file's content hash, the nodes its
//! parse produced (the model and the generic tests declared on it in YAML) and each
//! node's `manifest.json` entry, so an unchanged node is neither rendered nor
//! serialized again.
//!
//! A bundle is reused when all of these hold, otherwise the file is parsed again:
//! - the **global key** matches: a hash of the sluice build (version and executable),
//!   `project.yml`, the target (name, type, schema, database, threads), `--vars`, every
//!   macro file and every YAML properties file (paths and contents);
//! - every environment variable any cached render read with `env_var()` still has
//!   the value it had (any difference invalidates the whole cache);
//! - the model file's content hash matches the bundle's;
//! - (for its manifest entry) the node's parents resolve to the same unique ids.
//!
//! Everything else (seeds, sources, snapshots, singular tests, unit tests,
//! assertions, the graph) is rebuilt on every load; it is cheap. A bundle whose
//! parse produced warnings is never cached, so warnings show on every run.
//!
//! File layout: magic (8 bytes), body length (u64 LE), the body (postcard: keys,
//! file hashes and stats, node ids and parents), details length (u64 LE), the
//! details (postcard: the nodes' other fields, decoded only when nodes are
//! restored), the manifest entries (raw JSON, concatenated), and an xxh3-64
//! checksum (u64 LE) of everything before it. The file is memory-mapped, so the JSON of unchanged nodes
//! goes from the page cache into `manifest.json` without being copied onto the heap.
//! A cache from another build of sluice, from another project state, or one that is
//! truncated or corrupt is ignored: the load falls back to a full parse.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use memmap2::Mmap;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use xxhash_rust::xxh3::{xxh3_128, xxh3_64, Xxh3};

use super::parse::{Dependency, DependencyTarget, GenericTest, ParsedNode, Reads, ResourceType};
use super::TargetInfo;
use crate::adapter::RelationName;
use crate::diagnostics::{SourceFile, Span};
use crate::project::config::ConfigEntry;
use crate::project::{Config, Materialization, Project, SqlCheck};

/// The cache's file name under the target path.
pub const CACHE_FILE: &str = "partial_parse.bin";
const MAGIC: &[u8; 8] = b"SLUICEPP";
/// Bump when the body's layout or the meaning of a cached field changes.
const FORMAT: u32 = 4;

/// The content hash of a file's text.
pub fn content_hash(text: &str) -> u128 {
    xxh3_128(text.as_bytes())
}

/// This build of sluice: its version and its executable (size and modification
/// time), so a rebuilt binary never trusts a cache written by another build.
fn build_id() -> String {
    let exe = std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}:{modified}", m.len())
        })
        .unwrap_or_default();
    format!("{} {exe}", env!("CARGO_PKG_VERSION"))
}

/// Everything a cached parse depends on besides the model file itself.
pub fn global_key(
    project: &Project,
    target: &TargetInfo,
    cli_vars: &BTreeMap<String, Json>,
) -> u128 {
    global_key_of(
        &project.file.cache_text(),
        target,
        cli_vars,
        project.macros.iter().map(|m| &*m.file),
        // Doc blocks change descriptions as the YAML does.
        project
            .yaml_files
            .iter()
            .chain(&project.doc_files)
            .map(|f| &**f),
    )
}

/// [`global_key`] from its inputs: project.yml's text, the target, `--vars`, and
/// the macro and YAML properties files in load order.
pub fn global_key_of<'f>(
    project_yml: &str,
    target: &TargetInfo,
    cli_vars: &BTreeMap<String, Json>,
    macros: impl Iterator<Item = &'f SourceFile>,
    yaml: impl Iterator<Item = &'f SourceFile>,
) -> u128 {
    let mut h = Xxh3::new();
    let mut field = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(&FORMAT.to_le_bytes());
    field(project_yml.as_bytes());
    field(format!("{target:?}").as_bytes());
    field(
        serde_json::to_string(cli_vars)
            .unwrap_or_default()
            .as_bytes(),
    );
    for m in macros {
        field(m.path.to_string_lossy().as_bytes());
        field(m.text.as_bytes());
    }
    field(b"yaml");
    for y in yaml {
        field(y.path.to_string_lossy().as_bytes());
        field(y.text.as_bytes());
    }
    h.digest128()
}

/// What `stat` says about a file: when it matches the cached one, the file's
/// content is taken to be the cached content without reading it (as git's index
/// does). A file changed within two seconds before the cache was written is
/// "racy" (a later change could keep its size and timestamps) and gets no stat,
/// so it is always read and hashed.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
pub struct Stat {
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
}

impl Stat {
    /// The file's stat now, or `None` when it cannot be read.
    #[cfg(unix)]
    pub fn of(path: &Path) -> Option<Stat> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(Stat {
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            ino: m.ino(),
        })
    }

    #[cfg(not(unix))]
    pub fn of(_path: &Path) -> Option<Stat> {
        None
    }

    /// The stat to store for a cache written at `now` (seconds since the epoch).
    pub fn for_cache(path: &Path, now: i64) -> Option<Stat> {
        Stat::of(path).filter(|s| s.mtime.0.max(s.ctime.0) < now - 2)
    }
}

/// Seconds since the epoch, for [`Stat::for_cache`].
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The environment variables renders read (`env_var()`), shared by one invocation.
pub type EnvRead = Arc<Mutex<BTreeSet<String>>>;

fn env_values(names: impl IntoIterator<Item = String>) -> Vec<(String, Option<String>)> {
    names
        .into_iter()
        .map(|n| {
            let v = std::env::var(&n).ok();
            (n, v)
        })
        .collect()
}

// ------------------------------------------------------------------ the body

#[derive(Serialize, Deserialize)]
struct Body {
    format: u32,
    build: String,
    global_key: u128,
    /// Environment variables read by cached renders, with their values then.
    env: Vec<(String, Option<String>)>,
    /// Paths of the files spans point into (index = `CSpan::file`).
    files: Vec<String>,
    bundles: Vec<Bundle>,
    /// What the parse command's fast path needs (written by `sluice parse` only).
    fast: Option<Fast>,
}

/// The rest of a parse's output, so `sluice parse` can rewrite manifest.json when
/// only a few model files changed, without loading the whole project.
#[derive(Serialize, Deserialize)]
pub struct Fast {
    /// Seed, singular test and snapshot files: (path, content hash, stat).
    pub others: Vec<(String, u128, Option<Stat>)>,
    /// What `ref(name)` resolves to: (name, unique_id).
    pub names: Vec<(String, String)>,
    /// What `source(s, t)` resolves to: (s, t, unique_id).
    pub sources: Vec<(String, String, String)>,
    /// manifest.json's fields after `metadata`, serialized.
    parts: Vec<(String, CPart)>,
    /// sluice_state.json's `vars`: (unique_id, the JSON text of the node's vars).
    state: Vec<(String, (u64, u64))>,
    pub node_count: u64,
}

#[derive(Serialize, Deserialize)]
enum CPart {
    Text((u64, u64)),
    Entries(Vec<(String, (u64, u64))>),
}

#[derive(Serialize, Deserialize)]
struct Bundle {
    /// The model file, relative to the project.
    path: String,
    hash: u128,
    stat: Option<Stat>,
    /// The YAML file with the model's properties, if any.
    props_file: Option<String>,
    nodes: Vec<IndexEntry>,
}

/// A cached node as the fast path and the manifest need it; the rest of it
/// ([`CNode`]) is in a separate section, decoded only when nodes are restored.
#[derive(Serialize, Deserialize)]
struct IndexEntry {
    unique_id: String,
    /// The parents' unique ids the manifest entry was written with.
    parents: Vec<String>,
    /// The manifest entry: (offset, length) in the JSON section; none when the
    /// cache was written by a command other than `parse`, which did not need it.
    json: Option<(u64, u64)>,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
struct CSpan {
    file: u32,
    start: u32,
    end: u32,
}

#[derive(Serialize, Deserialize)]
struct CGenericTest {
    test_name: String,
    namespace: Option<String>,
    /// (name, JSON text)
    kwargs: Vec<(String, String)>,
    column_name: Option<String>,
    attached_to: Option<String>,
    model_expr: Option<String>,
    short_name: String,
}

#[derive(Serialize, Deserialize)]
struct CNode {
    unique_id: String,
    /// A model (false) or a generic test (true).
    test: bool,
    name: String,
    fqn: Vec<String>,
    file: u32,
    span: CSpan,
    original_file_path: String,
    path: String,
    template: Option<String>,
    /// (key, JSON text, where it was set)
    config: Vec<(String, String, Option<CSpan>)>,
    relation: Option<(Option<String>, String, String)>,
    /// (source name for `source()`, ref name or table, where it is written)
    depends_on: Vec<(Option<String>, String, CSpan)>,
    generic_test: Option<CGenericTest>,
    checksum: String,
    vars: Vec<String>,
    macros: Vec<String>,
    introspects: Option<String>,
}

// ------------------------------------------------------------------ loading

/// A loaded cache whose global key matches this invocation.
pub struct ParseCache {
    map: Arc<Mmap>,
    /// The [`CNode`]s of every bundle (postcard), decoded on first use.
    details: std::ops::Range<usize>,
    decoded: std::sync::OnceLock<Option<Vec<Vec<CNode>>>>,
    json_start: usize,
    body: Body,
    by_path: HashMap<String, usize>,
    build: String,
    global_key: u128,
}

/// Where a loaded cache's bundle's nodes came from, for the manifest and the rewrite.
#[derive(Default)]
pub struct Reuse {
    cache: Option<ParseCache>,
    /// Model file path → bundle index, for the bundles used this load.
    used: HashMap<PathBuf, usize>,
    /// unique_id → (bundle, node) of every reused node.
    nodes: HashMap<String, (usize, usize)>,
}

impl ParseCache {
    /// Open the cache of `target_path` if it was written by this build for this
    /// global key and the environment variables it depends on are unchanged.
    /// Any problem (missing, truncated, corrupt, stale) gives `None`.
    pub fn open(target_path: &Path, global_key: u128) -> Option<ParseCache> {
        let build = build_id();
        let file = std::fs::File::open(target_path.join(CACHE_FILE)).ok()?;
        // SAFETY: sluice replaces the cache by renaming a new file over it, never
        // by writing into it, so the mapped file does not change under us.
        let map = unsafe { Mmap::map(&file) }.ok()?;
        if map.len() < 24 || &map[..8] != MAGIC {
            return None;
        }
        let (content, sum) = map.split_at(map.len() - 8);
        if xxh3_64(content) != u64::from_le_bytes(sum.try_into().ok()?) {
            return None;
        }
        let body_len = usize::try_from(u64::from_le_bytes(map[8..16].try_into().ok()?)).ok()?;
        let body_end = 16usize.checked_add(body_len)?;
        if body_end > content.len() {
            return None;
        }
        let body: Body = postcard::from_bytes(&map[16..body_end]).ok()?;
        let details_len = usize::try_from(u64::from_le_bytes(
            map.get(body_end..body_end + 8)?.try_into().ok()?,
        ))
        .ok()?;
        let details = body_end + 8..(body_end + 8).checked_add(details_len)?;
        if details.end > content.len() {
            return None;
        }
        let body_end = details.end;
        if body.format != FORMAT || body.build != build || body.global_key != global_key {
            return None;
        }
        if env_values(body.env.iter().map(|(n, _)| n.clone())) != body.env {
            return None;
        }
        let json_len = content.len() - body_end;
        let json_ok = body
            .bundles
            .iter()
            .flat_map(|b| &b.nodes)
            .filter_map(|n| n.json)
            .all(|(offset, len)| {
                offset
                    .checked_add(len)
                    .is_some_and(|end| end <= json_len as u64)
            });
        if !json_ok {
            return None;
        }
        let by_path = body
            .bundles
            .iter()
            .enumerate()
            .map(|(i, b)| (b.path.clone(), i))
            .collect();
        Some(ParseCache {
            map: Arc::new(map),
            details,
            decoded: std::sync::OnceLock::new(),
            json_start: body_end,
            body,
            by_path,
            build,
            global_key,
        })
    }

    /// The bundle of a model file whose text hashes to `hash`.
    fn bundle(&self, path: &str, hash: u128) -> Option<usize> {
        self.by_path
            .get(path)
            .copied()
            .filter(|&i| self.body.bundles[i].hash == hash)
    }

    /// Every bundle's nodes, decoded once.
    fn details(&self) -> Option<&Vec<Vec<CNode>>> {
        self.decoded
            .get_or_init(|| {
                let d: Vec<Vec<CNode>> =
                    postcard::from_bytes(&self.map[self.details.clone()]).ok()?;
                let ok = d.len() == self.body.bundles.len()
                    && d.iter()
                        .zip(&self.body.bundles)
                        .all(|(n, b)| n.len() == b.nodes.len());
                ok.then_some(d)
            })
            .as_ref()
    }

    fn json(&self, node: &IndexEntry) -> Option<&[u8]> {
        let (offset, len) = node.json?;
        let start = self.json_start + offset as usize;
        self.map.get(start..start + len as usize)
    }
}

/// The files spans of cached nodes may point into, by path: `project.yml` and the
/// YAML properties files (a model's own file is passed separately).
pub fn span_files(project: &Project) -> HashMap<PathBuf, Arc<SourceFile>> {
    let mut out: HashMap<PathBuf, Arc<SourceFile>> = project
        .yaml_files
        .iter()
        .map(|f| (f.path.clone(), Arc::clone(f)))
        .collect();
    out.insert(
        project.file.file.path.clone(),
        Arc::clone(&project.file.file),
    );
    out
}

fn json_text(v: &Json) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

impl Reuse {
    /// No cache: every file is parsed.
    pub fn none() -> Reuse {
        Reuse::default()
    }

    pub fn new(cache: ParseCache) -> Reuse {
        Reuse {
            cache: Some(cache),
            ..Reuse::default()
        }
    }

    /// The cached nodes of every model file whose content is unchanged, by the
    /// file's path; a file missing here is parsed.
    pub fn lookup(&mut self, project: &Project) -> HashMap<PathBuf, Vec<ParsedNode>> {
        use rayon::prelude::*;
        let Some(cache) = &self.cache else {
            return HashMap::new();
        };
        let Some(details) = cache.details() else {
            return HashMap::new();
        };
        let others = span_files(project);
        let found: Vec<(PathBuf, usize, Vec<ParsedNode>)> = project
            .models
            .par_iter()
            .filter_map(|m| {
                let path = m.rel_path.to_string_lossy();
                let i = cache.bundle(&path, content_hash(&m.file.text))?;
                let bundle = &cache.body.bundles[i];
                let nodes = restore_bundle(cache, bundle, &details[i], &m.file, &others)?;
                Some((m.rel_path.clone(), i, nodes))
            })
            .collect();
        let mut out = HashMap::with_capacity(found.len());
        for (path, i, nodes) in found {
            for (j, n) in cache.body.bundles[i].nodes.iter().enumerate() {
                self.nodes.insert(n.unique_id.clone(), (i, j));
            }
            self.used.insert(path.clone(), i);
            out.insert(path, nodes);
        }
        out
    }

    /// A reused node's cached manifest entry, if its parents are the same as when
    /// the entry was written.
    pub fn manifest_entry(&self, unique_id: &str, parents: &[String]) -> Option<&[u8]> {
        let cache = self.cache.as_ref()?;
        let &(b, n) = self.nodes.get(unique_id)?;
        let node = &cache.body.bundles[b].nodes[n];
        if node.parents != parents {
            return None;
        }
        cache.json(node)
    }

    /// How many model files were reused from the cache.
    pub fn reused(&self) -> usize {
        self.used.len()
    }
}

fn restore_span(
    s: CSpan,
    files: &[String],
    own_path: &str,
    own: &Arc<SourceFile>,
    others: &HashMap<PathBuf, Arc<SourceFile>>,
) -> Option<Span> {
    let path = files.get(s.file as usize)?;
    let file = if path == own_path {
        own
    } else {
        others.get(Path::new(path))?
    };
    Some(Span::new(file, s.start as usize, s.end as usize))
}

fn restore_bundle(
    cache: &ParseCache,
    bundle: &Bundle,
    cnodes: &[CNode],
    own: &Arc<SourceFile>,
    others: &HashMap<PathBuf, Arc<SourceFile>>,
) -> Option<Vec<ParsedNode>> {
    let files = &cache.body.files;
    let span = |s: CSpan| restore_span(s, files, &bundle.path, own, others);
    let mut out = Vec::with_capacity(cnodes.len());
    for n in cnodes {
        let node_span = span(n.span)?;
        let mut config = Config::default();
        for (key, value, at) in &n.config {
            let value: Json = serde_json::from_str(value).ok()?;
            let at = match at {
                Some(s) => Some(span(*s)?),
                None => None,
            };
            config.insert_entry(key.clone(), ConfigEntry { value, span: at });
        }
        let mut depends_on = Vec::with_capacity(n.depends_on.len());
        for (source, name, at) in &n.depends_on {
            depends_on.push(Dependency {
                target: match source {
                    Some(s) => DependencyTarget::Source(s.clone(), name.clone()),
                    None => DependencyTarget::Ref(name.clone()),
                },
                span: span(*at)?,
            });
        }
        let generic_test = match &n.generic_test {
            Some(t) => {
                let mut kwargs = Vec::with_capacity(t.kwargs.len());
                for (k, v) in &t.kwargs {
                    kwargs.push((k.clone(), serde_json::from_str(v).ok()?));
                }
                Some(GenericTest {
                    test_name: t.test_name.clone(),
                    namespace: t.namespace.clone(),
                    kwargs,
                    column_name: t.column_name.clone(),
                    attached_to: t.attached_to.clone(),
                    model_expr: t.model_expr.clone(),
                    is_assertion: false,
                    short_name: t.short_name.clone(),
                })
            }
            None => None,
        };
        let (resource_type, materialization, sql_check) = if n.test {
            (ResourceType::Test, Materialization::Test, SqlCheck::Error)
        } else {
            (
                ResourceType::Model,
                // A node sluice cannot run is never cached (`to_cnode`).
                Materialization::of_model(&config, &node_span, Materialization::View)
                    .ok()
                    .filter(|m| *m != Materialization::Other)?,
                SqlCheck::of(&config, &node_span).ok()?,
            )
        };
        let file = {
            let path = files.get(n.file as usize)?;
            if *path == bundle.path {
                Arc::clone(own)
            } else {
                Arc::clone(others.get(Path::new(path))?)
            }
        };
        out.push(ParsedNode {
            constraints: Vec::new(),
            unique_id: n.unique_id.clone(),
            resource_type,
            name: n.name.clone(),
            fqn: n.fqn.clone(),
            file,
            span: node_span,
            original_file_path: PathBuf::from(&n.original_file_path),
            path: PathBuf::from(&n.path),
            template: n.template.clone(),
            config,
            materialization,
            sql_check,
            relation: n.relation.as_ref().map(|(d, s, i)| RelationName {
                database: d.clone(),
                schema: s.clone(),
                identifier: i.clone(),
            }),
            depends_on,
            // A model's description and columns come from the YAML properties,
            // which the caller fills in (they are parsed on every load).
            description: String::new(),
            columns: Vec::new(),
            generic_test,
            checksum: n.checksum.clone(),
            source_name: None,
            unit_test: None,
            reads: Reads {
                vars: n.vars.clone(),
                macros: n.macros.clone(),
                introspects: n.introspects.clone(),
            },
            cannot_run: None,
            version: None,
            extra: Default::default(),
        });
    }
    Some(out)
}

// ------------------------------------------------------------------ writing

/// A node to cache: the node, its parents' unique ids, its manifest entry.
pub type NewNode<'a> = (&'a ParsedNode, Vec<String>, Option<&'a [u8]>);

/// One model file's parse result, to be cached.
pub struct NewBundle<'a> {
    pub path: String,
    pub hash: u128,
    pub stat: Option<Stat>,
    pub props_file: Option<String>,
    /// The nodes (model first, then its generic tests), each with its parents'
    /// unique ids and its manifest entry.
    pub nodes: Vec<NewNode<'a>>,
}

struct FileTable {
    paths: Vec<String>,
    index: HashMap<String, u32>,
}

impl FileTable {
    fn id(&mut self, file: &SourceFile) -> u32 {
        let path = file.path.to_string_lossy();
        if let Some(&i) = self.index.get(path.as_ref()) {
            return i;
        }
        let i = self.paths.len() as u32;
        self.paths.push(path.clone().into_owned());
        self.index.insert(path.into_owned(), i);
        i
    }

    fn span(&mut self, s: &Span) -> Option<CSpan> {
        Some(CSpan {
            file: self.id(&s.file),
            start: u32::try_from(s.start).ok()?,
            end: u32::try_from(s.end).ok()?,
        })
    }
}

fn to_cnode(files: &mut FileTable, node: &ParsedNode) -> Option<CNode> {
    // Its error depends on more than its file (the macros, the target): parse it
    // again each time.
    if node.cannot_run.is_some() {
        return None;
    }
    // A version's node depends on its model's YAML as much as on its file.
    if node.version.is_some() {
        return None;
    }
    let test = match node.resource_type {
        ResourceType::Model => false,
        ResourceType::Test if node.generic_test.as_ref().is_some_and(|t| !t.is_assertion) => true,
        _ => return None,
    };
    let mut config = Vec::new();
    for (key, entry) in node.config.entries() {
        let at = match &entry.span {
            Some(s) => Some(files.span(s)?),
            None => None,
        };
        config.push((key.to_owned(), json_text(&entry.value), at));
    }
    let mut depends_on = Vec::with_capacity(node.depends_on.len());
    for d in &node.depends_on {
        let (source, name) = match &d.target {
            DependencyTarget::Ref(n) => (None, n.clone()),
            DependencyTarget::Source(s, t) => (Some(s.clone()), t.clone()),
        };
        depends_on.push((source, name, files.span(&d.span)?));
    }
    Some(CNode {
        unique_id: node.unique_id.clone(),
        test,
        name: node.name.clone(),
        fqn: node.fqn.clone(),
        file: files.id(&node.file),
        span: files.span(&node.span)?,
        original_file_path: node.original_file_path.to_string_lossy().into_owned(),
        path: node.path.to_string_lossy().into_owned(),
        template: node.template.clone(),
        config,
        relation: node
            .relation
            .as_ref()
            .map(|r| (r.database.clone(), r.schema.clone(), r.identifier.clone())),
        depends_on,
        generic_test: node.generic_test.as_ref().map(|t| CGenericTest {
            test_name: t.test_name.clone(),
            namespace: t.namespace.clone(),
            kwargs: t
                .kwargs
                .iter()
                .map(|(k, v)| (k.clone(), json_text(v)))
                .collect(),
            column_name: t.column_name.clone(),
            attached_to: t.attached_to.clone(),
            model_expr: t.model_expr.clone(),
            short_name: t.short_name.clone(),
        }),
        checksum: node.checksum.clone(),
        vars: node.reads.vars.clone(),
        macros: node.reads.macros.clone(),
        introspects: node.reads.introspects.clone(),
    })
}

/// The parse command's output, for [`Fast`].
pub struct FastInput<'a> {
    pub others: Vec<(String, u128, Option<Stat>)>,
    pub names: Vec<(String, String)>,
    pub sources: Vec<(String, String, String)>,
    /// manifest.json's fields after `metadata`.
    pub parts: &'a [(&'a str, crate::artifacts::Part<'a>)],
    pub state: &'a [(String, Vec<u8>)],
    pub node_count: u64,
}

/// The JSON section being assembled: chunks of bytes, each written once.
struct Blob<'a> {
    chunks: Vec<&'a [u8]>,
    offset: u64,
    seen: HashMap<(usize, usize), (u64, u64)>,
}

impl<'a> Blob<'a> {
    fn add(&mut self, bytes: &'a [u8]) -> (u64, u64) {
        let key = (bytes.as_ptr() as usize, bytes.len());
        if let Some(&r) = self.seen.get(&key) {
            return r;
        }
        let r = (self.offset, bytes.len() as u64);
        self.chunks.push(bytes);
        self.offset += r.1;
        self.seen.insert(key, r);
        r
    }
}

/// Write a new cache (atomically: a temporary file renamed over the old one).
/// `env_read` are the environment variables this load's renders read; the ones the
/// previous cache depended on are kept, since its reused results still depend on them.
pub fn write(
    target_path: &Path,
    global_key: u128,
    previous: Option<&Reuse>,
    env_read: &BTreeSet<String>,
    bundles: &[NewBundle<'_>],
    fast: Option<FastInput<'_>>,
) -> std::io::Result<()> {
    let mut files = FileTable {
        paths: Vec::new(),
        index: HashMap::new(),
    };
    let mut out_bundles = Vec::with_capacity(bundles.len());
    let mut details: Vec<Vec<CNode>> = Vec::with_capacity(bundles.len());
    let mut blob = Blob {
        chunks: Vec::new(),
        offset: 0,
        seen: HashMap::new(),
    };
    let mut complete = true;
    for b in bundles {
        let mut nodes = Vec::with_capacity(b.nodes.len());
        for (node, _, _) in &b.nodes {
            match to_cnode(&mut files, node) {
                Some(c) => nodes.push(c),
                None => break,
            }
        }
        if nodes.len() != b.nodes.len() {
            // Not cacheable (a span outside the known files, say): parse it next time.
            complete = false;
            continue;
        }
        details.push(nodes);
        let nodes = b
            .nodes
            .iter()
            .map(|&(node, ref parents, bytes)| IndexEntry {
                unique_id: node.unique_id.clone(),
                parents: parents.clone(),
                json: bytes.map(|b| blob.add(b)),
            })
            .collect();
        out_bundles.push(Bundle {
            path: b.path.clone(),
            hash: b.hash,
            stat: b.stat,
            props_file: b.props_file.clone(),
            nodes,
        });
    }
    let fast = match fast {
        Some(f) if complete => {
            let parts = f
                .parts
                .iter()
                .map(|(name, part)| {
                    let part = match part {
                        crate::artifacts::Part::Text(t) => CPart::Text(blob.add(t)),
                        crate::artifacts::Part::Entries(e) => CPart::Entries(
                            e.iter()
                                .map(|(id, bytes)| ((*id).to_owned(), blob.add(bytes)))
                                .collect(),
                        ),
                    };
                    ((*name).to_owned(), part)
                })
                .collect();
            let state = f
                .state
                .iter()
                .map(|(id, text)| (id.clone(), blob.add(text)))
                .collect();
            Some(Fast {
                others: f.others,
                names: f.names,
                sources: f.sources,
                parts,
                state,
                node_count: f.node_count,
            })
        }
        _ => None,
    };
    let mut env: BTreeSet<String> = env_read.clone();
    if let Some(cache) = previous.and_then(|p| p.cache.as_ref()) {
        env.extend(cache.body.env.iter().map(|(n, _)| n.clone()));
    }
    let build = match previous.and_then(|p| p.cache.as_ref()) {
        Some(c) if c.global_key == global_key => c.build.clone(),
        _ => build_id(),
    };
    let body = Body {
        format: FORMAT,
        build,
        global_key,
        env: env_values(env),
        files: files.paths,
        bundles: out_bundles,
        fast,
    };
    let body = postcard::to_stdvec(&body).map_err(std::io::Error::other)?;
    let details = postcard::to_stdvec(&details).map_err(std::io::Error::other)?;

    std::fs::create_dir_all(target_path)?;
    let path = target_path.join(CACHE_FILE);
    crate::atomic_file::write_with(&path, |out| {
        let mut sum = Xxh3::new();
        let mut put = |out: &mut dyn Write, bytes: &[u8]| {
            sum.update(bytes);
            out.write_all(bytes)
        };
        put(out, MAGIC)?;
        put(out, &(body.len() as u64).to_le_bytes())?;
        put(out, &body)?;
        put(out, &(details.len() as u64).to_le_bytes())?;
        put(out, &details)?;
        for bytes in &blob.chunks {
            put(out, bytes)?;
        }
        let digest = sum.digest();
        out.write_all(&digest.to_le_bytes())
    })
}

// ------------------------------------------------------------------ the fast path

/// One model file as the cache knows it.
pub struct CachedFile<'c> {
    pub path: &'c str,
    pub hash: u128,
    pub stat: Option<Stat>,
    pub props_file: Option<&'c str>,
    /// Its nodes: (unique_id, parents).
    pub nodes: Vec<(&'c str, &'c [String])>,
}

impl ParseCache {
    /// The fast path's data, when the cache has it.
    pub fn fast(&self) -> Option<&Fast> {
        self.body.fast.as_ref()
    }

    /// Every model file of the cached parse, in load order.
    pub fn files(&self) -> impl Iterator<Item = CachedFile<'_>> {
        self.body.bundles.iter().map(|b| CachedFile {
            path: &b.path,
            hash: b.hash,
            stat: b.stat,
            props_file: b.props_file.as_deref(),
            nodes: b
                .nodes
                .iter()
                .map(|n| (n.unique_id.as_str(), n.parents.as_slice()))
                .collect(),
        })
    }

    fn range(&self, (offset, len): (u64, u64)) -> Option<&[u8]> {
        let start = self.json_start.checked_add(usize::try_from(offset).ok()?)?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        // The JSON section ends where the checksum starts.
        if end > self.map.len() - 8 {
            return None;
        }
        self.map.get(start..end)
    }

    /// manifest.json's fields after `metadata`, with the entries of `replaced`
    /// nodes swapped for the given text.
    pub fn manifest_parts<'s>(
        &'s self,
        replaced: &'s HashMap<String, Vec<u8>>,
    ) -> Option<Vec<(&'s str, crate::artifacts::Part<'s>)>> {
        use crate::artifacts::Part;
        let fast = self.fast()?;
        let mut out = Vec::with_capacity(fast.parts.len());
        for (name, part) in &fast.parts {
            let part = match part {
                CPart::Text(r) => Part::Text(std::borrow::Cow::Borrowed(self.range(*r)?)),
                CPart::Entries(entries) => {
                    let mut list = Vec::with_capacity(entries.len());
                    for (id, r) in entries {
                        let bytes = match replaced.get(id) {
                            Some(t) => t.as_slice(),
                            None => self.range(*r)?,
                        };
                        list.push((id.as_str(), bytes));
                    }
                    Part::Entries(list)
                }
            };
            out.push((name.as_str(), part));
        }
        Some(out)
    }

    /// sluice_state.json's `vars` entries, by unique_id.
    pub fn state_entries(&self) -> Option<BTreeMap<&str, &[u8]>> {
        let fast = self.fast()?;
        let mut out = BTreeMap::new();
        for (id, r) in &fast.state {
            out.insert(id.as_str(), self.range(*r)?);
        }
        Some(out)
    }
}

/// The bundle index of a model file reused this load, for the rewrite.
impl Reuse {
    /// Whether the model file at `path` was reused (its nodes came from the cache).
    pub fn was_reused(&self, path: &Path) -> bool {
        self.used.contains_key(path)
    }

    /// Whether a cache was loaded at all.
    pub fn loaded(&self) -> bool {
        self.cache.is_some()
    }
}
