//! Descriptions rendered as dbt renders them: a description holding Jinja
//! (`{{ doc('orders') }}`, `{{ doc('pkg', 'orders') }}`) is rendered with `doc()`
//! resolving the project's and packages' doc blocks (`project::docs`); the
//! node's `description` then holds the resolved text and `doc_blocks` the ids
//! of the blocks it used. A description without Jinja is kept as written, as
//! dbt keeps it.
//!
//! `doc('x')` looks in the root project, then the node's package, then any
//! package (dbt's `resolve_doc`); an unknown doc is dbt's error, at the call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use minijinja::{Environment, Error, ErrorKind};
use regex::Regex;

use super::parse::{ParsedNode, ResourceType};
use crate::diagnostics::{Diagnostic, SourceFile, Span};
use crate::project::docs::DocBlock;
use crate::project::Project;

/// The doc blocks of the root project and its packages, by (package, name).
pub struct DocIndex<'p> {
    root: String,
    blocks: HashMap<(String, String), &'p DocBlock>,
    /// Packages in load order (the root first), for "any package".
    packages: Vec<String>,
}

impl<'p> DocIndex<'p> {
    pub fn new(project: &'p Project) -> DocIndex<'p> {
        let mut blocks = HashMap::new();
        let mut packages = Vec::new();
        for p in std::iter::once(project).chain(&project.packages) {
            packages.push(p.name().to_owned());
            for b in &p.docs {
                blocks.insert((p.name().to_owned(), b.name.clone()), b);
            }
        }
        DocIndex {
            root: project.name().to_owned(),
            blocks,
            packages,
        }
    }

    /// dbt's `resolve_doc`: the named package only, else the root project, the
    /// node's package, then any package.
    pub fn resolve(
        &self,
        name: &str,
        package: Option<&str>,
        node_package: &str,
    ) -> Option<(&str, &'p DocBlock)> {
        if let Some(pkg) = package {
            return self.get(self.packages.iter().find(|p| *p == pkg)?, name);
        }
        let root = self.packages.iter().find(|p| **p == self.root);
        root.and_then(|p| self.get(p, name))
            .or_else(|| self.get(self.packages.iter().find(|p| *p == node_package)?, name))
            .or_else(|| self.packages.iter().find_map(|p| self.get(p, name)))
    }

    fn get<'s>(&'s self, package: &'s str, name: &str) -> Option<(&'s str, &'p DocBlock)> {
        let key = (package.to_owned(), name.to_owned());
        self.blocks.get(&key).map(|b| (package, *b))
    }
}

/// Whether dbt would render this text (it holds a Jinja tag).
fn has_jinja(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// A description that uses a doc block that does not exist.
struct Missing {
    name: String,
    package: Option<String>,
}

/// What `doc()` resolves to for the nodes of one package: (package as
/// written, name) → (doc id, contents).
pub type Table = HashMap<(Option<String>, String), (String, String)>;

/// The resolutions of every doc for a node of `node_package`.
fn table(index: &DocIndex<'_>, node_package: &str) -> Table {
    let mut table = Table::new();
    for (pkg, name) in index.blocks.keys() {
        for package in [None, Some(pkg.clone())] {
            let key = (package.clone(), name.clone());
            if table.contains_key(&key) {
                continue;
            }
            if let Some((p, b)) = index.resolve(name, package.as_deref(), node_package) {
                table.insert(key, (format!("doc.{p}.{}", b.name), b.contents.clone()));
            }
        }
    }
    table
}

/// Render one description with `doc()` resolving through `table`: the text and
/// the ids of the doc blocks it used, or the doc it names that does not exist.
fn render(table: &Arc<Table>, text: &str) -> Result<(String, Vec<String>), Result<Missing, Error>> {
    if !has_jinja(text) {
        return Ok((text.to_owned(), Vec::new()));
    }
    let used: Arc<Mutex<Vec<String>>> = Arc::default();
    let missing: Arc<Mutex<Option<Missing>>> = Arc::default();
    let mut env = Environment::new();
    env.set_fuel(Some(super::limits::TEMPLATE_FUEL));
    {
        let used = Arc::clone(&used);
        let missing = Arc::clone(&missing);
        let table = Arc::clone(table);
        env.add_function("doc", move |args: &[minijinja::Value]| {
            let strs: Vec<String> = args.iter().map(ToString::to_string).collect();
            let (package, name) = match strs.as_slice() {
                [name] => (None, name.clone()),
                [package, name] => (Some(package.clone()), name.clone()),
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("doc() takes at most two arguments ({} given)", args.len()),
                    ))
                }
            };
            match table.get(&(package.clone(), name.clone())) {
                Some((id, contents)) => {
                    // Locks are held only for a push or a take: never poisoned.
                    used.lock().expect("not poisoned").push(id.clone());
                    Ok(contents.clone())
                }
                None => {
                    *missing.lock().expect("not poisoned") = Some(Missing { name, package });
                    Err(Error::new(ErrorKind::UndefinedError, "doc not found"))
                }
            }
        });
    }
    let result = env.render_str(text, ());
    if let Some(m) = missing.lock().expect("not poisoned").take() {
        return Err(Ok(m));
    }
    let rendered = result.map_err(Err)?;
    let used = std::mem::take(&mut *used.lock().expect("not poisoned"));
    Ok((rendered, used))
}

/// Where a `doc()` call naming `name` is written: the first after `from` in its
/// file, else in any of `files`, else `fallback`.
fn locate(name: &str, from: Option<&Span>, files: &[Arc<SourceFile>], fallback: &Span) -> Span {
    let pattern = format!(
        r#"doc\s*\(\s*(?:['"][A-Za-z0-9_]+['"]\s*,\s*)?['"]{}['"]"#,
        regex::escape(name)
    );
    let Ok(re) = Regex::new(&pattern) else {
        return fallback.clone();
    };
    if let Some(span) = from {
        if let Some(m) = re.find_at(&span.file.text, span.start) {
            return Span::new(&span.file, m.start(), m.end());
        }
    }
    for f in files {
        if let Some(m) = re.find(&f.text) {
            return Span::new(f, m.start(), m.end());
        }
    }
    fallback.clone()
}

/// What a description belongs to, for errors: the node, and where its YAML
/// entry is written (if known).
pub struct Owner<'a> {
    pub unique_id: &'a str,
    pub package: &'a str,
    pub yaml: Option<&'a Span>,
    pub fallback: &'a Span,
    /// The YAML files of the node's project (to find the call when `yaml` is none).
    pub files: &'a [Arc<SourceFile>],
}

/// Render `text` (a description of `owner`) in place; its doc ids are returned.
fn render_in_place(
    index: &DocIndex<'_>,
    tables: &mut HashMap<String, Arc<Table>>,
    text: &mut String,
    owner: &Owner<'_>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Vec<String>, Diagnostic> {
    if !has_jinja(text) {
        return Ok(Vec::new());
    }
    let table = tables
        .entry(owner.package.to_owned())
        .or_insert_with(|| Arc::new(table(index, owner.package)));
    match render(table, text) {
        Ok((rendered, used)) => {
            *text = rendered;
            Ok(used)
        }
        Err(Ok(missing)) => {
            let span = locate(&missing.name, owner.yaml, owner.files, owner.fallback);
            let in_package = missing
                .package
                .as_ref()
                .map(|p| format!("in package '{p}' "))
                .unwrap_or_default();
            let names = index
                .blocks
                .keys()
                .filter(|(p, _)| missing.package.as_ref().is_none_or(|want| want == p))
                .map(|(_, n)| n.as_str());
            let help = crate::diagnostics::suggestion_help(&missing.name, names, || {
                format!(
                    "write a `{{% docs {} %}}` block in a .md file under the docs-paths",
                    missing.name
                )
            });
            Err(Diagnostic::error(format!(
                "Documentation for '{}' depends on doc '{}' {in_package} which was not found",
                owner.unique_id, missing.name
            ))
            .with_label(&span, "no such doc block")
            .with_help(help))
        }
        Err(Err(e)) => {
            let span = owner.yaml.unwrap_or(owner.fallback);
            warnings.push(
                Diagnostic::warning(format!(
                    "the description of `{}` is kept as written: sluice renders only `doc()` in descriptions ({e})",
                    owner.unique_id
                ))
                .with_label(span, "this entry")
                .with_help("describe it without Jinja, or use `{{ doc('name') }}`"),
            );
            Ok(Vec::new())
        }
    }
}

/// Render the descriptions of every node and column; the errors of unknown docs.
pub fn render_descriptions(
    project: &Project,
    nodes: &mut [ParsedNode],
    warnings: &mut Vec<Diagnostic>,
) -> Vec<Diagnostic> {
    let index = DocIndex::new(project);
    let mut tables = HashMap::new();
    let mut errors = Vec::new();
    let projects: Vec<&Project> = std::iter::once(project).chain(&project.packages).collect();
    for node in nodes.iter_mut() {
        if node.resource_type == ResourceType::UnitTest {
            continue;
        }
        let package = node.package_name().to_owned();
        let own = projects.iter().find(|p| p.name() == package);
        let files: &[Arc<SourceFile>] = own.map_or(&[], |p| p.yaml_files.as_slice());
        // A model's, seed's or snapshot's YAML entry; a source, test or exposure
        // is itself in its YAML file.
        let yaml = own.and_then(|p| {
            let props = &p.properties;
            match node.resource_type {
                ResourceType::Model => props.models.get(&node.name).map(|n| &n.span),
                ResourceType::Seed => props.seeds.get(&node.name).map(|n| &n.span),
                ResourceType::Snapshot => props.snapshots.get(&node.name).map(|n| &n.span),
                _ => Some(&node.span),
            }
        });
        let fallback = node.span.clone();
        let owner = Owner {
            unique_id: &node.unique_id,
            package: &package,
            yaml,
            fallback: &fallback,
            files,
        };
        let mut description = std::mem::take(&mut node.description);
        match render_in_place(&index, &mut tables, &mut description, &owner, warnings) {
            Ok(ids) => node.extra.doc_blocks = ids,
            Err(e) => errors.push(e),
        }
        let mut source_description = std::mem::take(&mut node.extra.source_description);
        if let Err(e) = render_in_place(
            &index,
            &mut tables,
            &mut source_description,
            &owner,
            warnings,
        ) {
            errors.push(e);
        }
        let mut columns = std::mem::take(&mut node.columns);
        for c in &mut columns {
            let col_owner = Owner {
                yaml: Some(&c.span),
                ..owner
            };
            match render_in_place(
                &index,
                &mut tables,
                &mut c.description,
                &col_owner,
                warnings,
            ) {
                Ok(ids) => c.doc_blocks = ids,
                Err(e) => errors.push(e),
            }
        }
        node.description = description;
        node.extra.source_description = source_description;
        node.columns = columns;
    }
    errors
}
