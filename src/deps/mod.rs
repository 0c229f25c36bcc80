//! `sluice deps`: resolving and installing packages, as `dbt deps` (dbt-core 1.11)
//! does. It runs before the load stage and writes only into the project's
//! packages-install-path (`dbt_packages/`) and `package-lock.yml`.
//!
//! The steps are dbt's: read `packages.yml`/`dependencies.yml` ([`spec`]); when
//! there is no lock, `--upgrade` is given, or the lock's `sha1_hash` differs from
//! the packages' hash, resolve the whole tree (each package's own packages, hub
//! version ranges intersected per package by dbt's [`semver`] rules) and write the
//! lock ([`lock`]); then, unless `--lock`, empty the install path and install
//! exactly what the lock lists ([`sources`]: hub tarballs, `git` clones, tarball
//! downloads, symlinked local folders).

pub mod lock;
pub mod semver;
pub mod sources;
pub mod spec;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use serde_json::Value as Json;

use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics, SourceFile, Span};
use crate::project;
use semver::Spec;
use sources::{Downloads, Http, Hub};
use spec::{Kind, PackageSpec};

pub const LOCK_FILE: &str = "package-lock.yml";

/// What `sluice deps` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct DepsOptions {
    pub project_dir: PathBuf,
    pub cli_vars: BTreeMap<String, Json>,
    /// `--upgrade`: resolve again and rewrite the lock even when it matches.
    pub upgrade: bool,
    /// `--lock`: resolve and write the lock, install nothing.
    pub lock_only: bool,
}

/// Progress lines (dbt's wording) and warnings, reported as they happen.
pub trait Reporter {
    fn line(&mut self, text: &str);
    fn warning(&mut self, d: Diagnostic);
}

/// A package entry being resolved: dbt's `UnpinnedPackage`.
#[derive(Clone, Debug)]
enum Unpinned {
    Local {
        local: String,
    },
    Git {
        git: String,
        git_unrendered: String,
        revisions: Vec<String>,
        warn_unpinned: bool,
        subdirectory: Option<String>,
    },
    Hub {
        package: String,
        versions: Vec<(String, Span)>,
        install_prerelease: bool,
    },
    Tarball {
        tarball: String,
        tarball_unrendered: String,
        name: String,
    },
}

#[derive(Clone, Debug)]
struct Item {
    pkg: Unpinned,
    span: Span,
}

impl Item {
    fn from_spec(s: &PackageSpec) -> Item {
        let pkg = match &s.kind {
            Kind::Local { local } => Unpinned::Local {
                local: local.clone(),
            },
            Kind::Git {
                git,
                git_unrendered,
                revision,
                warn_unpinned,
                subdirectory,
            } => Unpinned::Git {
                git: git.clone(),
                git_unrendered: git_unrendered.clone(),
                revisions: revision.iter().cloned().collect(),
                warn_unpinned: *warn_unpinned,
                subdirectory: subdirectory.clone(),
            },
            Kind::Hub {
                package,
                versions,
                install_prerelease,
            } => Unpinned::Hub {
                package: package.clone(),
                versions: versions.clone(),
                install_prerelease: *install_prerelease,
            },
            Kind::Tarball {
                tarball,
                tarball_unrendered,
                name,
            } => Unpinned::Tarball {
                tarball: tarball.clone(),
                tarball_unrendered: tarball_unrendered.clone(),
                name: name.clone(),
            },
        };
        Item {
            pkg,
            span: s.span.clone(),
        }
    }

    fn name(&self) -> String {
        match &self.pkg {
            Unpinned::Local { local } => local.clone(),
            Unpinned::Git {
                git, subdirectory, ..
            } => match subdirectory {
                Some(s) => format!("{git}/{s}"),
                None => git.clone(),
            },
            Unpinned::Hub { package, .. } => package.clone(),
            Unpinned::Tarball { tarball, .. } => tarball.clone(),
        }
    }

    /// A git URL with and without `.git` names the same package.
    fn all_names(&self) -> Vec<String> {
        match &self.pkg {
            Unpinned::Git {
                git, subdirectory, ..
            } => {
                let other = match git.strip_suffix(".git") {
                    Some(s) => s.to_owned(),
                    None => format!("{git}.git"),
                };
                match subdirectory {
                    Some(s) => vec![format!("{git}/{s}"), format!("{other}/{s}")],
                    None => vec![git.clone(), other],
                }
            }
            _ => vec![self.name()],
        }
    }

    fn type_name(&self) -> &'static str {
        match self.pkg {
            Unpinned::Local { .. } => "local",
            Unpinned::Git { .. } => "git",
            Unpinned::Hub { .. } => "hub",
            Unpinned::Tarball { .. } => "tarball",
        }
    }

    /// dbt's `incorporate`: hub version lists and git revision lists add up;
    /// local and tarball entries keep the first.
    fn incorporate(&self, other: &Item) -> Item {
        let pkg = match (&self.pkg, &other.pkg) {
            (
                Unpinned::Hub {
                    package,
                    versions,
                    install_prerelease,
                },
                Unpinned::Hub { versions: more, .. },
            ) => Unpinned::Hub {
                package: package.clone(),
                versions: versions.iter().chain(more).cloned().collect(),
                install_prerelease: *install_prerelease,
            },
            (
                Unpinned::Git {
                    git,
                    git_unrendered,
                    revisions,
                    warn_unpinned,
                    subdirectory,
                },
                Unpinned::Git {
                    revisions: more,
                    warn_unpinned: w2,
                    ..
                },
            ) => Unpinned::Git {
                git: git.clone(),
                git_unrendered: git_unrendered.clone(),
                revisions: revisions.iter().chain(more).cloned().collect(),
                warn_unpinned: *warn_unpinned && *w2,
                subdirectory: subdirectory.clone(),
            },
            (p, _) => p.clone(),
        };
        Item {
            pkg,
            span: self.span.clone(),
        }
    }
}

/// dbt's `PackageListing`: packages by name, in the order first seen.
#[derive(Default)]
struct Listing {
    keys: Vec<String>,
    items: HashMap<String, Item>,
}

impl Listing {
    fn pick_key(&self, item: &Item) -> String {
        item.all_names()
            .into_iter()
            .find(|n| self.items.contains_key(n))
            .unwrap_or_else(|| item.name())
    }

    fn incorporate(&mut self, item: Item) -> Result<(), Diagnostic> {
        let key = self.pick_key(&item);
        match self.items.get(&key) {
            Some(existing) => {
                if existing.type_name() != item.type_name() {
                    return Err(Diagnostic::error(format!(
                        "cannot incorporate {} ({}) in {} ({}): mismatched types",
                        item.name(),
                        item.type_name(),
                        existing.name(),
                        existing.type_name()
                    ))
                    .with_label(&item.span, "this entry")
                    .with_label(&existing.span, "the same package, another kind of source")
                    .with_help("install each package from one kind of source"));
                }
                let merged = existing.incorporate(&item);
                self.items.insert(key, merged);
            }
            None => {
                self.keys.push(key.clone());
                self.items.insert(key, item);
            }
        }
        Ok(())
    }

    fn from_specs(specs: &[PackageSpec]) -> Result<Listing, Diagnostic> {
        let mut l = Listing::default();
        for s in specs {
            l.incorporate(Item::from_spec(s))?;
        }
        Ok(l)
    }

    fn iter(&self) -> impl Iterator<Item = &Item> {
        self.keys.iter().map(|k| &self.items[k])
    }

    fn get(&self, item: &Item) -> &Item {
        &self.items[&self.pick_key(item)]
    }
}

/// A package pinned to one version: dbt's `PinnedPackage`.
#[derive(Clone, Debug)]
enum Pinned {
    Local {
        local: String,
    },
    Git {
        git: String,
        git_unrendered: String,
        revision: String,
        warn_unpinned: bool,
        subdirectory: Option<String>,
    },
    Hub {
        package: String,
        version: String,
        latest: String,
    },
    Tarball {
        tarball: String,
        tarball_unrendered: String,
        name: String,
    },
}

#[derive(Clone, Debug)]
struct PinnedItem {
    pin: Pinned,
    span: Span,
}

impl PinnedItem {
    /// The name dbt prints (`Installing <name>`).
    fn display_name(&self) -> String {
        match &self.pin {
            Pinned::Local { local } => local.clone(),
            Pinned::Git {
                git, subdirectory, ..
            } => match subdirectory {
                Some(s) => format!("{git}/{s}"),
                None => git.clone(),
            },
            Pinned::Hub { package, .. } => package.clone(),
            Pinned::Tarball { name, .. } => name.clone(),
        }
    }

    fn nice_version_name(&self) -> String {
        match &self.pin {
            Pinned::Local { local } => format!("<local @ {local}>"),
            Pinned::Git { revision, .. } if revision == "HEAD" => {
                "HEAD (default revision)".to_owned()
            }
            Pinned::Git { revision, .. } => format!("revision {revision}"),
            Pinned::Hub { version, .. } => format!("version {version}"),
            Pinned::Tarball { tarball, .. } => format!("tarball (url: {tarball})"),
        }
    }

    /// dbt's `to_dict()` plus `name`: one entry of package-lock.yml.
    fn lock_entry(&self, name: &str) -> Vec<(String, String)> {
        let mut e: Vec<(String, String)> = match &self.pin {
            Pinned::Local { local } => vec![("local".into(), local.clone())],
            Pinned::Git {
                git_unrendered,
                revision,
                subdirectory,
                ..
            } => {
                let mut v = vec![
                    ("git".into(), sources::scrub(git_unrendered)),
                    ("revision".into(), revision.clone()),
                ];
                if let Some(s) = subdirectory {
                    v.push(("subdirectory".into(), s.clone()));
                }
                v
            }
            Pinned::Hub {
                package, version, ..
            } => vec![
                ("package".into(), package.clone()),
                ("version".into(), version.clone()),
            ],
            Pinned::Tarball {
                tarball_unrendered, ..
            } => vec![("tarball".into(), sources::scrub(tarball_unrendered))],
        };
        e.push(("name".into(), name.to_owned()));
        e
    }
}

/// What a pinned package is, once fetched.
#[derive(Clone, Debug)]
struct Meta {
    /// The project name: the install folder's name.
    name: String,
    packages: Vec<PackageSpec>,
    source: Fetched,
}

#[derive(Clone, Debug)]
enum Fetched {
    /// A folder to link (local) or move (git checkout, extracted tarball).
    Dir(PathBuf),
    /// A hub version's tarball URL.
    Url(String),
}

struct Ctx<'r> {
    root: PathBuf,
    root_name: String,
    install_path: PathBuf,
    cli_vars: BTreeMap<String, Json>,
    http: Http,
    hub: Hub,
    downloads: Downloads,
    /// Metadata per pinned package (dbt caches it on the pinned object).
    meta: HashMap<String, Meta>,
    /// The commit a git package's revision resolved to.
    git_sha: HashMap<String, String>,
    warned: HashSet<String>,
    report: &'r mut dyn Reporter,
}

fn failure(message: String, span: &Span, help: &str) -> Diagnostic {
    Diagnostic::error(message)
        .with_label(span, "this package")
        .with_help(help.to_owned())
}

impl Ctx<'_> {
    fn resolved(&mut self, item: &Item) -> Result<PinnedItem, Diagnostic> {
        let pin = match &item.pkg {
            Unpinned::Local { local } => Pinned::Local {
                local: local.clone(),
            },
            Unpinned::Tarball {
                tarball,
                tarball_unrendered,
                name,
            } => Pinned::Tarball {
                tarball: tarball.clone(),
                tarball_unrendered: tarball_unrendered.clone(),
                name: name.clone(),
            },
            Unpinned::Git {
                git,
                git_unrendered,
                revisions,
                warn_unpinned,
                subdirectory,
            } => {
                let mut distinct: Vec<&String> = Vec::new();
                for r in revisions {
                    if !distinct.contains(&r) {
                        distinct.push(r);
                    }
                }
                if distinct.len() > 1 {
                    return Err(Diagnostic::error(format!(
                        "git dependency {} was requested at more than one revision: {}",
                        item.name(),
                        distinct
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    .with_label(&item.span, "this package")
                    .with_help("require one revision of a git package across the whole tree"));
                }
                Pinned::Git {
                    git: git.clone(),
                    git_unrendered: git_unrendered.clone(),
                    revision: distinct
                        .first()
                        .map_or_else(|| "HEAD".to_owned(), |r| (*r).clone()),
                    warn_unpinned: *warn_unpinned,
                    subdirectory: subdirectory.clone(),
                }
            }
            Unpinned::Hub {
                package,
                versions,
                install_prerelease,
            } => self.resolve_hub(item, package, versions, *install_prerelease)?,
        };
        Ok(PinnedItem {
            pin,
            span: item.span.clone(),
        })
    }

    fn resolve_hub(
        &mut self,
        item: &Item,
        package: &str,
        versions: &[(String, Span)],
        install_prerelease: bool,
    ) -> Result<Pinned, Diagnostic> {
        let base = self.hub.base.clone();
        let net_help =
            "check the network connection, or set DBT_PACKAGE_HUB_URL to a reachable hub";
        let index = self.hub.index(&self.http).map_err(|e| {
            failure(
                format!("cannot read the package hub's index: {e}"),
                &item.span,
                net_help,
            )
        })?;
        if !index.iter().any(|p| p == package) {
            let help = match did_you_mean(package, index.iter().map(String::as_str)) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("check the name on {base}, or install it with `git:` or `local:`"),
            };
            return Err(Diagnostic::error(format!(
                "package `{package}` is not on the package hub at {base}"
            ))
            .with_label(&item.span, "unknown hub package")
            .with_help(help));
        }
        let mut specs = Vec::new();
        for (text, span) in versions {
            let Some(s) = Spec::parse(text) else {
                return Err(Diagnostic::error(format!(
                    "\"{text}\" is not a valid semantic version"
                ))
                .with_label(span, "not a version")
                .with_help(
                    "write a full version (`1.2.0`) or a range, e.g. `[\">=1.0.0\", \"<2.0.0\"]`",
                ));
            };
            specs.push(s);
        }
        let range = semver::reduce(&specs).map_err(|_| {
            let mut d = Diagnostic::error(format!(
                "version error for package {package}: no version satisfies all of {}",
                versions
                    .iter()
                    .map(|(t, _)| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            for (i, (_, span)) in versions.iter().enumerate() {
                d = d.with_label(span, if i == 0 { "required here" } else { "and here" });
            }
            d.with_help("loosen one of the ranges so they overlap")
        })?;
        let all = self.hub.versions(&self.http, package).map_err(|e| {
            failure(
                format!("cannot read `{package}` from the package hub: {e}"),
                &item.span,
                net_help,
            )
        })?;
        let dbt = Spec::parse(project::DBT_VERSION);
        let compatible: Vec<String> = all
            .iter()
            .filter(|(_, meta)| dbt_compatible(meta, dbt.as_ref()))
            .map(|(v, _)| v.clone())
            .collect();
        let prerelease = install_prerelease || specs.iter().any(Spec::has_prerelease);
        let installable = semver::filter_installable(&compatible, prerelease);
        let target = semver::resolve(&range, &installable);
        let Some(version) = target else {
            let mut d = Diagnostic::error(format!(
                "no version of `{package}` on the hub satisfies {}",
                range.describe()
            ));
            for (i, (_, span)) in versions.iter().enumerate() {
                d = d.with_label(
                    span,
                    if i == 0 {
                        "the required range"
                    } else {
                        "also required here"
                    },
                );
            }
            return Err(d
                .with_note(format!(
                    "versions available (compatible with dbt {}): {}",
                    project::DBT_VERSION,
                    if installable.is_empty() {
                        "none".to_owned()
                    } else {
                        installable.join(", ")
                    }
                ))
                .with_help("pick a range that includes one of the available versions"));
        };
        let latest = installable
            .last()
            .cloned()
            .unwrap_or_else(|| version.clone());
        Ok(Pinned::Hub {
            package: package.to_owned(),
            version,
            latest,
        })
    }

    fn cache_key(p: &PinnedItem) -> String {
        match &p.pin {
            Pinned::Local { local } => format!("local:{local}"),
            Pinned::Git { revision, .. } => format!("git:{}@{revision}", p.display_name()),
            Pinned::Hub {
                package, version, ..
            } => format!("hub:{package}@{version}"),
            Pinned::Tarball { tarball, .. } => format!("tarball:{tarball}"),
        }
    }

    /// dbt's `fetch_metadata`: the package's project name and its own packages.
    /// A git package's revision becomes the commit it resolved to.
    fn fetch_metadata(&mut self, p: &mut PinnedItem) -> Result<Meta, Diagnostic> {
        let key = Ctx::cache_key(p);
        if let Some(m) = self.meta.get(&key) {
            let m = m.clone();
            if let (Pinned::Git { revision, .. }, Some(sha)) = (&mut p.pin, self.git_sha.get(&key))
            {
                *revision = sha.clone();
            }
            return Ok(m);
        }
        let span = p.span.clone();
        let meta = match &mut p.pin {
            Pinned::Local { local } => {
                let dir = sources::resolve_from(&self.root, local);
                let (name, packages) = self.package_project(&dir, &span, local)?;
                Meta {
                    name,
                    packages,
                    source: Fetched::Dir(dir),
                }
            }
            Pinned::Git {
                git,
                revision,
                warn_unpinned,
                subdirectory,
                ..
            } => {
                let shown = match subdirectory {
                    Some(s) => format!("{git}/{s}"),
                    None => git.clone(),
                };
                let dirname = format!("{:x}", Md5::digest(shown.as_bytes()));
                let (dir, sha) = sources::git_checkout(
                    git,
                    &self.downloads.path,
                    &dirname,
                    revision,
                    subdirectory.as_deref(),
                )
                .map_err(|e| {
                    failure(
                        format!("cannot clone {} at {revision}: {e}", sources::scrub(git)),
                        &span,
                        "check the repository URL and that the revision (a branch, tag or commit) exists",
                    )
                })?;
                let unpinned = revision == "HEAD" || revision == "main" || revision == "master";
                if unpinned && *warn_unpinned && self.warned.insert(shown.clone()) {
                    let how = if revision == "HEAD" {
                        "not pinned, using HEAD (default branch)".to_owned()
                    } else {
                        format!("pinned to the \"{revision}\" branch")
                    };
                    self.report.warning(
                        Diagnostic::warning(format!(
                            "the git package \"{}\" is {how}: this can introduce breaking changes into your project without warning",
                            sources::scrub(git)
                        ))
                        .with_label(&span, "unpinned")
                        .with_help("set `revision:` to a tag or a commit, or `warn-unpinned: false`"),
                    );
                }
                *revision = sha.clone();
                self.git_sha.insert(key.clone(), sha);
                let (name, packages) = self.package_project(&dir, &span, &shown)?;
                Meta {
                    name,
                    packages,
                    source: Fetched::Dir(dir),
                }
            }
            Pinned::Tarball { tarball, name, .. } => {
                let tarball = tarball.clone();
                let name = name.clone();
                let dir = self.fetch_tarball(&tarball, &name, &span)?;
                let (_, packages) = self.package_project(&dir, &span, &tarball)?;
                Meta {
                    name,
                    packages,
                    source: Fetched::Dir(dir),
                }
            }
            Pinned::Hub {
                package, version, ..
            } => {
                let all = self.hub.versions(&self.http, package).map_err(|e| {
                    failure(
                        format!("cannot read `{package}` from the package hub: {e}"),
                        &span,
                        "check the network connection",
                    )
                })?;
                let meta = all.get(version.as_str()).cloned().unwrap_or_default();
                let name = meta
                    .get("name")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let url = meta
                    .get("downloads")
                    .and_then(|d| d.get("tarball"))
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let mut packages = Vec::new();
                if let Some(Json::Array(list)) = meta.get("packages") {
                    for entry in list {
                        let node = spec::node_from_json(entry, &span);
                        packages.push(spec::parse_entry(&node, &node).map_err(|d| {
                            d.with_note(format!("in the hub's metadata of {package} {version}"))
                        })?);
                    }
                }
                Meta {
                    name,
                    packages,
                    source: Fetched::Url(url),
                }
            }
        };
        self.meta.insert(key, meta.clone());
        Ok(meta)
    }

    fn fetch_tarball(&mut self, url: &str, name: &str, span: &Span) -> Result<PathBuf, Diagnostic> {
        let bytes = self.http.get(url).map_err(|e| {
            failure(
                format!("cannot download the tarball: {e}"),
                span,
                "check the URL and the network connection",
            )
        })?;
        let untarred = self.downloads.path.join(format!("{name}_untarred"));
        let _ = sources::remove_path(&untarred);
        sources::untar(&bytes, &untarred, name).map_err(|e| {
            failure(
                format!("cannot extract {}: {e}", sources::scrub(url)),
                span,
                "a package tarball is a gzip tar with one top folder",
            )
        })?;
        let children: Vec<_> = std::fs::read_dir(&untarred)
            .map(|r| r.filter_map(Result::ok).collect())
            .unwrap_or_default();
        if children.len() != 1 {
            return Err(failure(
                format!("incorrect structure for the package extracted from {}: it must hold {name}/<package contents>", sources::scrub(url)),
                span,
                "a package tarball holds one top folder",
            ));
        }
        Ok(children[0].path())
    }

    /// A package's dbt_project.yml name and its declared packages.
    fn package_project(
        &mut self,
        dir: &Path,
        span: &Span,
        what: &str,
    ) -> Result<(String, Vec<PackageSpec>), Diagnostic> {
        let file = dir.join(project::DBT_PROJECT_FILE);
        let text = std::fs::read_to_string(&file).map_err(|_| {
            failure(
                format!(
                    "{} has no dbt_project.yml (looked in {})",
                    sources::scrub(what),
                    dir.display()
                ),
                span,
                "each package (and each of its own packages) needs a dbt_project.yml at its root",
            )
        })?;
        let shown = project::relative_to(dir, &self.root);
        let src = SourceFile::new(shown.join(project::DBT_PROJECT_FILE), text);
        let doc = project::yaml::parse(&src)?;
        let Some(name) = doc.get("name").and_then(|n| n.as_str()).map(str::to_owned) else {
            return Err(Diagnostic::error(format!(
                "the dbt_project.yml of {} has no `name`",
                sources::scrub(what)
            ))
            .with_label(&Span::file_start(&src), "no name")
            .with_help("packages are dbt projects: give it `name: <package_name>`"));
        };
        let mut warnings = Vec::new();
        let declared = spec::declared(dir, &shown, &self.cli_vars, &mut warnings).map_err(|d| {
            d.0.into_iter()
                .next()
                .unwrap_or_else(|| Diagnostic::error("invalid packages"))
        })?;
        for w in warnings {
            self.report.warning(w);
        }
        Ok((name, declared.specs))
    }

    /// dbt's `resolve_packages`: breadth first over the tree, each package's
    /// requirements folded into one listing, then everything pinned.
    fn resolve_tree(
        &mut self,
        specs: &[PackageSpec],
    ) -> Result<Vec<(PinnedItem, Meta)>, Diagnostic> {
        let mut pending = Listing::from_specs(specs)?;
        let mut fin = Listing::default();
        while !pending.keys.is_empty() {
            let mut next = Listing::default();
            for item in pending.iter() {
                fin.incorporate(item.clone())?;
                let current = fin.get(item).clone();
                let mut pinned = self.resolved(&current)?;
                let meta = self.fetch_metadata(&mut pinned)?;
                for s in &meta.packages {
                    next.incorporate(Item::from_spec(s))?;
                }
            }
            pending = next;
        }
        let mut out = Vec::new();
        let mut seen: HashMap<String, Span> = HashMap::new();
        for item in fin.iter() {
            let mut pinned = self.resolved(item)?;
            let meta = self.fetch_metadata(&mut pinned)?;
            if meta.name == self.root_name {
                return Err(Diagnostic::error(format!(
                    "found a dependency with the same name as the root project \"{}\"",
                    meta.name
                ))
                .with_label(&pinned.span, "this package")
                .with_help("package names must be unique in a project: rename one of them"));
            }
            if let Some(first) = seen.get(&meta.name) {
                return Err(Diagnostic::error(format!(
                    "found duplicate project \"{}\": two dependencies have this project name",
                    meta.name
                ))
                .with_label(&pinned.span, "this package")
                .with_label(first, "and this one")
                .with_help("remove one of the two packages"));
            }
            seen.insert(meta.name.clone(), pinned.span.clone());
            out.push((pinned, meta));
        }
        Ok(out)
    }

    fn install(&mut self, p: &PinnedItem, meta: &Meta) -> Result<(), Diagnostic> {
        let name = &meta.name;
        if name.is_empty() || name.contains(['/', '\\']) || name == ".." || name == "." {
            return Err(failure(
                format!(
                    "invalid package name '{name}': resolves outside of the packages-install-path"
                ),
                &p.span,
                "the package's project name must be a plain name",
            ));
        }
        let dest = self.install_path.join(name);
        let fs_err =
            |e: String| failure(e, &p.span, "check the permissions of packages-install-path");
        match (&p.pin, &meta.source) {
            (Pinned::Local { .. }, Fetched::Dir(src)) => {
                sources::link_or_copy(src, &dest).map_err(fs_err)
            }
            (_, Fetched::Dir(src)) => {
                sources::remove_path(&dest).map_err(fs_err)?;
                sources::move_dir(src, &dest).map_err(fs_err)
            }
            (_, Fetched::Url(url)) => {
                let bytes = self.http.get(url).map_err(|e| {
                    failure(
                        format!("cannot download {}: {e}", p.display_name()),
                        &p.span,
                        "check the network connection",
                    )
                })?;
                sources::untar(&bytes, &self.install_path, name).map_err(|e| {
                    failure(
                        format!("cannot extract {}: {e}", p.display_name()),
                        &p.span,
                        "the hub's tarball is damaged; try again",
                    )
                })
            }
        }
    }
}

/// What every [`Ctx`] of a run shares.
struct CtxBase {
    root: PathBuf,
    root_name: String,
    install_path: PathBuf,
    cli_vars: BTreeMap<String, Json>,
}

impl CtxBase {
    /// A context with a fresh downloads folder (dbt uses one for locking and
    /// another for installing).
    fn ctx<'r>(&self, report: &'r mut dyn Reporter) -> Result<Ctx<'r>, Diagnostics> {
        Ok(Ctx {
            root: self.root.clone(),
            root_name: self.root_name.clone(),
            install_path: self.install_path.clone(),
            cli_vars: self.cli_vars.clone(),
            http: Http::new(),
            hub: Hub::from_env(),
            downloads: Downloads::new().map_err(Diagnostic::error)?,
            meta: HashMap::new(),
            git_sha: HashMap::new(),
            warned: HashSet::new(),
            report,
        })
    }
}

fn dbt_compatible(meta: &Json, dbt: Option<&Spec>) -> bool {
    let Some(dbt) = dbt else { return true };
    let required: Vec<String> = match meta.get("require_dbt_version") {
        None | Some(Json::Null) => return true,
        Some(Json::String(s)) if s.is_empty() => return true,
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(a)) if a.is_empty() => return true,
        Some(Json::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(_) => return true,
    };
    let mut specs = vec![dbt.clone()];
    specs.extend(required.iter().filter_map(|r| Spec::parse(r)));
    semver::compatible(&specs)
}

/// Run `sluice deps`.
pub fn run(opts: &DepsOptions, report: &mut dyn Reporter) -> Result<(), Diagnostics> {
    let root = std::path::absolute(&opts.project_dir).unwrap_or_else(|_| opts.project_dir.clone());
    let mut load = project::LoadOptions::new(&root);
    // Installing packages needs no connection: profiles.yml is not read.
    load.skip_profile = true;
    load.cli_vars = opts.cli_vars.clone();
    let mut warnings = Vec::new();
    let pf = project::load_project_file(&load, &mut warnings)?;
    let declared = spec::declared(&root, Path::new(""), &opts.cli_vars, &mut warnings)?;
    for w in warnings {
        report.warning(w);
    }
    let packages_file = declared
        .file
        .as_ref()
        .map_or(spec::PACKAGES_FILE.to_owned(), |f| {
            f.path.display().to_string()
        });
    let install_path = pf.packages_install_path.clone();
    if root.starts_with(&install_path) {
        return Err(Diagnostic::error(format!(
            "refusing to install into {}: deps empties packages-install-path first, and it holds the project",
            install_path.display()
        ))
        .with_help("set `packages-install-path: dbt_packages`")
        .into());
    }
    let base = CtxBase {
        root: root.clone(),
        root_name: pf.name.clone(),
        install_path: install_path.clone(),
        cli_vars: opts.cli_vars.clone(),
    };
    let lock_path = root.join(LOCK_FILE);
    let hash = lock::sha1_hash(
        &declared
            .specs
            .iter()
            .map(|s| s.hash_dict.clone())
            .collect::<Vec<_>>(),
    );
    let relock = !lock_path.is_file()
        || opts.upgrade
        || previous_hash(&lock_path).as_deref() != Some(hash.as_str());
    if relock {
        if declared.specs.is_empty() {
            report.line(&format!(
                "Warning: No packages were found in {packages_file}"
            ));
        } else {
            let mut ctx = base.ctx(report)?;
            let resolved = ctx.resolve_tree(&declared.specs)?;
            let entries: Vec<_> = resolved
                .iter()
                .map(|(p, m)| p.lock_entry(&m.name))
                .collect();
            std::fs::write(&lock_path, lock::render(&entries, &hash)).map_err(|e| {
                Diagnostic::error(format!("cannot write {}: {e}", lock_path.display()))
            })?;
            ctx.report.line(&format!(
                "Updating lock file in file path: {}",
                lock_path.display()
            ));
        }
    }
    if opts.lock_only {
        return Ok(());
    }
    sources::remove_path(&install_path).map_err(Diagnostic::error)?;
    std::fs::create_dir_all(&install_path)
        .map_err(|e| Diagnostic::error(format!("cannot create {}: {e}", install_path.display())))?;
    let locked = read_lock(&lock_path, &opts.cli_vars)?;
    if locked.is_empty() {
        report.line(&format!(
            "Warning: No packages were found in {packages_file}"
        ));
        return Ok(());
    }
    let mut ctx = base.ctx(report)?;
    let listing = Listing::from_specs(&locked)?;
    let mut to_upgrade = Vec::new();
    for item in listing.iter() {
        let mut pinned = ctx.resolved(item)?;
        ctx.report.line(&format!(
            "Installing {}",
            sources::scrub(&pinned.display_name())
        ));
        let meta = ctx.fetch_metadata(&mut pinned)?;
        ctx.install(&pinned, &meta)?;
        ctx.report
            .line(&format!("Installed from {}", pinned.nice_version_name()));
        if let Pinned::Hub {
            package,
            version,
            latest,
        } = &pinned.pin
        {
            if latest != version {
                to_upgrade.push(package.clone());
                ctx.report
                    .line(&format!("Updated version available: {latest}"));
            } else {
                ctx.report.line("Up to date!");
            }
        }
        if let Pinned::Git {
            subdirectory: Some(s),
            ..
        } = &pinned.pin
        {
            ctx.report.line(&format!("and subdirectory {s}"));
        }
    }
    if !to_upgrade.is_empty() {
        ctx.report.line("");
        ctx.report.line(&format!(
            "Updates available for packages: [{}]\nUpdate your versions in packages.yml, then run sluice deps",
            to_upgrade.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(())
}

fn previous_hash(lock_path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(lock_path).ok()?;
    let file = SourceFile::new(LOCK_FILE, text);
    let doc = project::yaml::parse(&file).ok()?;
    doc.get("sha1_hash")
        .and_then(|n| n.as_str())
        .map(str::to_owned)
}

fn read_lock(
    lock_path: &Path,
    cli_vars: &BTreeMap<String, Json>,
) -> Result<Vec<PackageSpec>, Diagnostics> {
    if !lock_path.is_file() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(lock_path)
        .map_err(|e| Diagnostic::error(format!("cannot read {}: {e}", lock_path.display())))?;
    let file = SourceFile::new(LOCK_FILE, text);
    let doc = project::yaml::parse(&file)?;
    spec::parse_doc(&file, doc, cli_vars, &["packages", "sha1_hash"])
}
