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
//! File layout: magic (8 bytes), body length (u64 LE), the body (postcard), the
//! manifest entries (raw JSON, concatenated), and an xxh3-64 checksum (u64 LE) of
//! everything before it. The file is memory-mapped, so the JSON of unchanged nodes
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
const FORMAT: u32 = 1;

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
    let mut h = Xxh3::new();
    let mut field = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(&FORMAT.to_le_bytes());
    field(project.file.file.text.as_bytes());
    field(format!("{target:?}").as_bytes());
    field(
        serde_json::to_string(cli_vars)
            .unwrap_or_default()
            .as_bytes(),
    );
    for m in &project.macros {
        field(m.file.path.to_string_lossy().as_bytes());
        field(m.file.text.as_bytes());
    }
    field(b"yaml");
    for y in &project.yaml_files {
        field(y.path.to_string_lossy().as_bytes());
        field(y.text.as_bytes());
    }
    h.digest128()
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
}

#[derive(Serialize, Deserialize)]
struct Bundle {
    /// The model file, relative to the project.
    path: String,
    hash: u128,
    nodes: Vec<CNode>,
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
    /// The parents' unique ids the manifest entry was written with.
    parents: Vec<String>,
    /// The manifest entry: (offset, length) in the JSON section.
    json: (u64, u64),
}

// ------------------------------------------------------------------ loading

/// A loaded cache whose global key matches this invocation.
pub struct ParseCache {
    map: Arc<Mmap>,
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
        if body.format != FORMAT || body.build != build || body.global_key != global_key {
            return None;
        }
        if env_values(body.env.iter().map(|(n, _)| n.clone())) != body.env {
            return None;
        }
        let json_len = content.len() - body_end;
        let json_ok = body.bundles.iter().flat_map(|b| &b.nodes).all(|n| {
            n.json
                .0
                .checked_add(n.json.1)
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

    fn json(&self, node: &CNode) -> &[u8] {
        let start = self.json_start + node.json.0 as usize;
        &self.map[start..start + node.json.1 as usize]
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
        let others = span_files(project);
        let found: Vec<(PathBuf, usize, Vec<ParsedNode>)> = project
            .models
            .par_iter()
            .filter_map(|m| {
                let path = m.rel_path.to_string_lossy();
                let i = cache.bundle(&path, content_hash(&m.file.text))?;
                let nodes = restore_bundle(cache, &cache.body.bundles[i], &m.file, &others)?;
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
        (node.parents == parents).then(|| cache.json(node))
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
    own: &Arc<SourceFile>,
    others: &HashMap<PathBuf, Arc<SourceFile>>,
) -> Option<Vec<ParsedNode>> {
    let files = &cache.body.files;
    let span = |s: CSpan| restore_span(s, files, &bundle.path, own, others);
    let mut out = Vec::with_capacity(bundle.nodes.len());
    for n in &bundle.nodes {
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
                Materialization::of_model(&config, &node_span).ok()?,
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
            },
        });
    }
    Some(out)
}

// ------------------------------------------------------------------ writing

/// One model file's parse result, to be cached.
pub struct NewBundle<'a> {
    pub path: String,
    pub hash: u128,
    /// The nodes (model first, then its generic tests), each with its parents'
    /// unique ids and its manifest entry.
    pub nodes: Vec<(&'a ParsedNode, Vec<String>, &'a [u8])>,
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

fn to_cnode(
    files: &mut FileTable,
    node: &ParsedNode,
    parents: Vec<String>,
    json: (u64, u64),
) -> Option<CNode> {
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
        parents,
        json,
    })
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
) -> std::io::Result<()> {
    let mut files = FileTable {
        paths: Vec::new(),
        index: HashMap::new(),
    };
    let mut out_bundles = Vec::with_capacity(bundles.len());
    let mut offset = 0u64;
    let mut written: Vec<&[u8]> = Vec::new();
    for b in bundles {
        let mut nodes = Vec::with_capacity(b.nodes.len());
        let mut ok = true;
        let mark = written.len();
        let start_offset = offset;
        for &(node, ref parents, bytes) in &b.nodes {
            let len = bytes.len() as u64;
            match to_cnode(&mut files, node, parents.clone(), (offset, len)) {
                Some(c) => {
                    nodes.push(c);
                    written.push(bytes);
                    offset += len;
                }
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            // Not cacheable (a span outside the known files, say): parse it next time.
            written.truncate(mark);
            offset = start_offset;
            continue;
        }
        out_bundles.push(Bundle {
            path: b.path.clone(),
            hash: b.hash,
            nodes,
        });
    }
    let mut env: BTreeSet<String> = env_read.clone();
    if let Some(cache) = previous.and_then(|p| p.cache.as_ref()) {
        env.extend(cache.body.env.iter().map(|(n, _)| n.clone()));
    }
    let (build, key) = match previous.and_then(|p| p.cache.as_ref()) {
        Some(c) if c.global_key == global_key => (c.build.clone(), global_key),
        _ => (build_id(), global_key),
    };
    let body = Body {
        format: FORMAT,
        build,
        global_key: key,
        env: env_values(env),
        files: files.paths,
        bundles: out_bundles,
    };
    let body = postcard::to_stdvec(&body).map_err(std::io::Error::other)?;

    std::fs::create_dir_all(target_path)?;
    let path = target_path.join(CACHE_FILE);
    let tmp = target_path.join(format!("{CACHE_FILE}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
        let mut sum = Xxh3::new();
        let mut put = |out: &mut std::io::BufWriter<std::fs::File>, bytes: &[u8]| {
            sum.update(bytes);
            out.write_all(bytes)
        };
        put(&mut out, MAGIC)?;
        put(&mut out, &(body.len() as u64).to_le_bytes())?;
        put(&mut out, &body)?;
        for bytes in &written {
            put(&mut out, bytes)?;
        }
        let digest = sum.digest();
        out.write_all(&digest.to_le_bytes())?;
        out.flush()?;
        drop(out);
        std::fs::rename(&tmp, &path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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
