//! The package entries of `packages.yml` / `dependencies.yml` (and of
//! `package-lock.yml`, which uses the same shapes), read as dbt 1.11 reads them:
//! which file wins, the keys each kind of entry takes, Jinja rendered with
//! `env_var`/`var`, and the dict each entry hashes to for `sha1_hash`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::diagnostics::{suggestion_help, Diagnostic, Diagnostics, SourceFile, Span};
use crate::project::yaml::{self, Node, Value};
use crate::project::YmlContext;

pub const PACKAGES_FILE: &str = "packages.yml";
pub const DEPENDENCIES_FILE: &str = "dependencies.yml";

/// What an entry installs.
#[derive(Clone, Debug)]
pub enum Kind {
    Local {
        local: String,
    },
    Git {
        git: String,
        /// As written, before Jinja: what the lock records (no secrets).
        git_unrendered: String,
        revision: Option<String>,
        warn_unpinned: bool,
        subdirectory: Option<String>,
    },
    Hub {
        package: String,
        /// Each specifier as written (`>=1.0.0`), and where.
        versions: Vec<(String, Span)>,
        install_prerelease: bool,
    },
    Tarball {
        tarball: String,
        tarball_unrendered: String,
        name: String,
    },
}

/// One package entry.
#[derive(Clone, Debug)]
pub struct PackageSpec {
    pub kind: Kind,
    /// The entry (its first key), for errors about it.
    pub span: Span,
    /// `PackageSpec.to_dict()` as dbt computes it (rendered fields plus the
    /// `unrendered` entry): the input of `sha1_hash`.
    pub hash_dict: Json,
}

/// The packages a project declares and the file they came from.
pub struct Declared {
    pub specs: Vec<PackageSpec>,
    /// packages.yml or dependencies.yml (the one holding `packages:`), if any.
    pub file: Option<Arc<SourceFile>>,
}

fn read_yaml(
    dir: &Path,
    shown: &Path,
    name: &str,
) -> Result<Option<(Arc<SourceFile>, Node)>, Diagnostic> {
    let path = dir.join(name);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Diagnostic::error(format!("cannot read {}: {e}", path.display())))?;
    let file = SourceFile::new(shown.join(name), text);
    let node = yaml::parse(&file)?;
    Ok(Some((file, node)))
}

/// dbt's `package_and_project_data_from_root`: `packages:` from dependencies.yml
/// if it has one, else packages.yml; both having it is an error. `shown` is the
/// folder as printed in messages (relative to the root project).
pub fn declared(
    dir: &Path,
    shown: &Path,
    cli_vars: &BTreeMap<String, Json>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Declared, Diagnostics> {
    let packages = read_yaml(dir, shown, PACKAGES_FILE)?;
    let dependencies = read_yaml(dir, shown, DEPENDENCIES_FILE)?;
    if let (Some((_, p)), Some((_, d))) = (&packages, &dependencies) {
        if let (Some(pk), Some(dk)) = (p.key_span("packages"), d.key_span("packages")) {
            return Err(Diagnostic::error(
                "the `packages` key cannot be in both packages.yml and dependencies.yml",
            )
            .with_label(dk, "here")
            .with_label(pk, "and here")
            .with_help("keep the packages in one of the two files, as dbt requires")
            .into());
        }
    }
    if let Some((_, p)) = &packages {
        if let Some(span) = p.key_span("projects") {
            return Err(
                Diagnostic::error("the `projects` key cannot be in packages.yml")
                    .with_label(span, "here")
                    .with_help("cross-project dependencies go in dependencies.yml")
                    .into(),
            );
        }
    }
    if let Some(span) = dependencies
        .as_ref()
        .and_then(|(_, d)| d.key_span("projects"))
    {
        warnings.push(
            Diagnostic::warning(
                "`projects:` (dbt Mesh cross-project references) is not installed by deps",
            )
            .with_label(span, "ignored")
            .with_note("dbt-core ignores it too; dbt Cloud reads it"),
        );
    }
    let dependencies_win = dependencies
        .as_ref()
        .is_some_and(|(_, d)| d.get("packages").is_some());
    let (chosen, allowed): (_, &[&str]) = if dependencies_win {
        (dependencies, &["packages", "projects"])
    } else {
        (packages, &["packages"])
    };
    let Some((file, doc)) = chosen else {
        return Ok(Declared {
            specs: Vec::new(),
            file: None,
        });
    };
    let specs = parse_doc(&file, doc, cli_vars, allowed)?;
    Ok(Declared {
        specs,
        file: Some(file),
    })
}

/// The entries of a packages document (or a lock, whose other key is
/// `sha1_hash`), rendered.
pub fn parse_doc(
    file: &Arc<SourceFile>,
    doc: Node,
    cli_vars: &BTreeMap<String, Json>,
    allowed_top: &[&str],
) -> Result<Vec<PackageSpec>, Diagnostics> {
    let map = doc.expect_map(&file.path.display().to_string())?;
    for (k, key, _) in map.entries() {
        if !allowed_top.contains(&k) {
            let help = suggestion_help(k, allowed_top.iter().copied(), || {
                format!("{} holds a `packages:` list", file.path.display())
            });
            return Err(
                Diagnostic::error(format!("unknown key `{k}` in {}", file.path.display()))
                    .with_label(&key.span, "unknown key")
                    .with_help(help)
                    .into(),
            );
        }
    }
    let unrendered = doc.clone();
    let mut rendered = doc;
    // dbt's PackageRenderer: env_var() and --vars, no target.
    let ctx = YmlContext {
        cli_vars: cli_vars.clone(),
        target: Json::Null,
        project_name: String::new(),
    };
    let mut sink = String::new();
    crate::project::yml_jinja::render_document(&mut rendered, &ctx, &mut sink)?;
    let (Some(list), Some(raw)) = (rendered.get("packages"), unrendered.get("packages")) else {
        return Ok(Vec::new());
    };
    if list.is_null() {
        return Ok(Vec::new());
    }
    let items = list.expect_seq("`packages`")?;
    let raw_items = raw.expect_seq("`packages`")?;
    let mut specs = Vec::new();
    let mut errors = Vec::new();
    for (item, raw) in items.iter().zip(raw_items) {
        match parse_entry(item, raw) {
            Ok(s) => specs.push(s),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(errors.into())
    }
}

/// A JSON value (a hub version's `packages`) as a YAML node located at `span`.
pub fn node_from_json(value: &Json, span: &Span) -> Node {
    let v = match value {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(a) => Value::Seq(a.iter().map(|v| node_from_json(v, span)).collect()),
        Json::Object(m) => Value::Map(
            m.iter()
                .map(|(k, v)| {
                    (
                        node_from_json(&Json::String(k.clone()), span),
                        node_from_json(v, span),
                    )
                })
                .collect(),
        ),
    };
    Node {
        value: v,
        span: span.clone(),
    }
}

/// The kinds of entry and the keys each takes (dbt's dataclasses, by alias).
const KINDS: &[(&str, &[&str])] = &[
    ("local", &["local", "name"]),
    ("tarball", &["tarball", "name"]),
    (
        "git",
        &["git", "revision", "warn-unpinned", "subdirectory", "name"],
    ),
    (
        "package",
        &["package", "version", "install_prerelease", "name"],
    ),
    (
        "private",
        &[
            "private",
            "provider",
            "revision",
            "warn-unpinned",
            "subdirectory",
            "name",
        ],
    ),
];

/// Python's `str()` of a YAML scalar (`1.0` for a float, `True` for a boolean).
fn py_str(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(if f.fract() == 0.0 && f.abs() < 1e16 {
            format!("{f:.1}")
        } else {
            f.to_string()
        }),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
        _ => None,
    }
}

pub fn parse_entry(item: &Node, raw: &Node) -> Result<PackageSpec, Diagnostic> {
    let map = item.expect_map("a package entry")?;
    let span = map
        .entries()
        .next()
        .map_or_else(|| item.span.clone(), |(_, k, _)| k.span.clone());
    let Some((kind, keys)) = KINDS.iter().find(|(k, _)| map.get(k).is_some()) else {
        return Err(Diagnostic::error(
            "a package entry needs `package:`, `git:`, `local:` or `tarball:`",
        )
        .with_label(&span, "this entry")
        .with_help(
            "e.g. `- package: dbt-labs/dbt_utils` with `version: [\">=1.0.0\", \"<2.0.0\"]`",
        ));
    };
    for (k, key, _) in map.entries() {
        if !keys.contains(&k) {
            let help = suggestion_help(k, keys.iter().copied(), || {
                format!("a `{kind}:` entry takes {}", keys.join(", "))
            });
            return Err(Diagnostic::error(format!(
                "unknown key `{k}` in a `{kind}:` package entry"
            ))
            .with_label(&key.span, "unknown key")
            .with_help(help));
        }
    }
    let str_of = |key: &str| -> Result<Option<String>, Diagnostic> {
        map.get(key)
            .filter(|n| !n.is_null())
            .map(|n| n.expect_str(&format!("`{key}`")).map(str::to_owned))
            .transpose()
    };
    let main = map.get(kind).map_or(&span, |n| &n.span).clone();
    let required = |key: &str| -> Result<String, Diagnostic> {
        match str_of(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(Diagnostic::error(format!(
                "this package entry is missing the value of `{key}`"
            ))
            .with_label(map.get(key).map_or(&main, |n| &n.span), "required")
            .with_help(format!(
                "give `{key}:` a value (an unset variable renders empty)"
            ))),
        }
    };
    let raw_str = |key: &str| raw.get(key).and_then(|n| n.as_str()).map(str::to_owned);
    let name = str_of("name")?;
    let mut dict = serde_json::Map::new();
    let field = |key: &str| map.get(key).map_or(Json::Null, Node::to_json);
    let kind = match *kind {
        "local" => {
            let local = required("local")?;
            dict.insert("local".into(), Json::String(local.clone()));
            Kind::Local { local }
        }
        "tarball" => {
            let tarball = required("tarball")?;
            let Some(name) = name.clone() else {
                return Err(Diagnostic::error("a `tarball:` package needs a `name:`")
                    .with_label(&main, "no name")
                    .with_help("add `name: <the package's project name>`, as dbt requires"));
            };
            dict.insert("tarball".into(), Json::String(tarball.clone()));
            Kind::Tarball {
                tarball_unrendered: raw_str("tarball").unwrap_or_else(|| tarball.clone()),
                tarball,
                name,
            }
        }
        "git" => {
            let git = required("git")?;
            let revision = match map.get("revision").filter(|n| !n.is_null()) {
                None => None,
                Some(n) => Some(py_str(n).ok_or_else(|| {
                    Diagnostic::error("`revision` must be a branch, tag or commit")
                        .with_label(&n.span, "not a string")
                })?),
            };
            let warn_unpinned = match map.get("warn-unpinned").filter(|n| !n.is_null()) {
                None => None,
                Some(n) => Some(n.expect_bool("`warn-unpinned`")?),
            };
            let subdirectory = str_of("subdirectory")?;
            dict.insert("git".into(), Json::String(git.clone()));
            dict.insert("revision".into(), field("revision"));
            dict.insert("subdirectory".into(), field("subdirectory"));
            dict.insert("warn-unpinned".into(), field("warn-unpinned"));
            Kind::Git {
                git_unrendered: raw_str("git").unwrap_or_else(|| git.clone()),
                git,
                revision,
                warn_unpinned: warn_unpinned != Some(false),
                subdirectory,
            }
        }
        "package" => {
            let package = required("package")?;
            let Some(vnode) = map.get("version").filter(|n| !n.is_null()) else {
                return Err(Diagnostic::error(format!("{package} is missing the version: when installing from the Hub package index, version is a required property"))
                    .with_label(&main, "no version")
                    .with_help("add e.g. `version: [\">=1.0.0\", \"<2.0.0\"]`"));
            };
            if !package.contains('/') {
                return Err(Diagnostic::error(format!("{package} was not found in the package index: packages on the index require a namespace, e.g dbt-labs/dbt_utils"))
                    .with_label(&map.get("package").map_or(&main, |n| &n.span).clone(), "no namespace")
                    .with_help("write the hub name as `org/package`"));
            }
            let items: Vec<&Node> = match &vnode.value {
                Value::Seq(items) => items.iter().collect(),
                _ => vec![vnode],
            };
            let mut versions = Vec::new();
            for n in items {
                let text = py_str(n).ok_or_else(|| {
                    Diagnostic::error("`version` must be a version string or a list of them")
                        .with_label(&n.span, "not a version")
                })?;
                versions.push((text, n.span.clone()));
            }
            let install_prerelease = match map.get("install_prerelease").filter(|n| !n.is_null()) {
                None => false,
                Some(n) => n.expect_bool("`install_prerelease`")?,
            };
            dict.insert("package".into(), Json::String(package.clone()));
            dict.insert("version".into(), field("version"));
            dict.insert(
                "install_prerelease".into(),
                map.get("install_prerelease")
                    .map_or(Json::Bool(false), Node::to_json),
            );
            Kind::Hub {
                package,
                versions,
                install_prerelease,
            }
        }
        _ => {
            return Err(Diagnostic::error(
                "`private:` packages need dbt Cloud's git provider integration",
            )
            .with_label(&main, "private package")
            .with_help("use a `git:` entry with the repository's URL instead, as dbt-core says"));
        }
    };
    if let Some(n) = &name {
        dict.insert("name".into(), Json::String(n.clone()));
    }
    dict.insert("unrendered".into(), raw.to_json());
    Ok(PackageSpec {
        kind,
        span: main,
        hash_dict: Json::Object(dict),
    })
}
