//! `exposures:` and `groups:` of YAML properties files, read as dbt-core 1.11
//! reads them: an exposure's type, owner, maturity, url, label, tags, meta,
//! `config` and `depends_on` (its `ref()`/`source()`/`metric()` calls, kept as
//! written, with where they are written: the render stage resolves them); a
//! group's name, owner and description. Values dbt's schema refuses are dbt's
//! messages here, located.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::properties::{config_block, name_of, string_field};
use super::yaml::{KeySet, Node};
use crate::diagnostics::{suggestion_help, Diagnostic, SourceFile, Span};

const EXPOSURE_KEYS: KeySet = KeySet {
    what: "an exposure",
    known: &[
        "name",
        "type",
        "owner",
        "description",
        "label",
        "maturity",
        "url",
        "depends_on",
        "tags",
        "meta",
        "config",
    ],
    ignored: &[],
};

const GROUP_KEYS: KeySet = KeySet {
    what: "a group",
    known: &["name", "owner", "description", "config"],
    ignored: &[],
};

const EXPOSURE_TYPES: &[&str] = &["dashboard", "notebook", "analysis", "ml", "application"];
const MATURITIES: &[&str] = &["low", "medium", "high"];

/// A YAML entry's place: the file and its path inside the project folder and
/// inside its resource folder (dbt's `original_file_path` and `path`).
#[derive(Clone, Debug)]
pub struct Declared {
    pub file: Arc<SourceFile>,
    /// The entry's `name:` value.
    pub span: Span,
}

/// One `exposures:` entry.
#[derive(Clone, Debug)]
pub struct ExposureDef {
    pub name: String,
    pub at: Declared,
    pub kind: String,
    /// `{email, name}` and any other keys, as dbt writes the owner.
    pub owner: Json,
    pub description: String,
    pub label: Option<String>,
    pub maturity: Option<String>,
    pub url: Option<String>,
    /// `ref('x')`, `source('s', 't')`, `metric('m')` as written.
    pub depends_on: Vec<(String, Span)>,
    pub tags: Vec<String>,
    pub meta: Json,
    pub enabled: bool,
    /// The `config:` block as written (dbt's `unrendered_config`).
    pub config_written: Json,
}

/// One `groups:` entry.
#[derive(Clone, Debug)]
pub struct GroupDef {
    pub name: String,
    pub at: Declared,
    pub owner: Json,
    pub description: Option<String>,
    pub meta: Json,
}

/// The entry's folder path inside its resource folder, for `fqn` and `path`.
pub fn folders_of(own_path: &std::path::Path) -> Vec<String> {
    own_path
        .parent()
        .map(|p| {
            p.components()
                .skip(1)
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `own_path` (relative to the project folder) relative to its resource folder.
pub fn path_in_folder(own_path: &std::path::Path) -> PathBuf {
    own_path.components().skip(1).collect()
}

/// An owner: a mapping with `name` or `email` (dbt's schema rule), written as
/// dbt writes it (`email` and `name` first, null when absent).
fn owner(entry: &Node, what: &str, name: &str, span: &Span) -> Result<Json, Diagnostic> {
    let Some(node) = entry.get("owner").filter(|n| !n.is_null()) else {
        return Err(Diagnostic::error(format!("{what} `{name}` has no `owner`"))
            .with_label(span, format!("this {}", what.to_lowercase()))
            .with_help("add `owner: {name: ..., email: ...}`"));
    };
    let map = node.expect_map("`owner`")?;
    let mut out = Map::new();
    out.insert("email".into(), Json::Null);
    out.insert("name".into(), Json::Null);
    for (k, _, v) in map.entries() {
        out.insert(k.to_owned(), v.to_json());
    }
    if out["email"].is_null() && out["name"].is_null() {
        let kind = what.split(' ').next_back().unwrap_or(what);
        let kind = format!("{}{}", kind[..1].to_uppercase(), &kind[1..]);
        return Err(Diagnostic::error(format!(
            "{kind} owner must have at least one of 'name' or 'email'."
        ))
        .with_label(&node.span, "no `name` or `email`")
        .with_help("add `name:` or `email:` to the owner"));
    }
    Ok(Json::Object(out))
}

/// One of `allowed`, or dbt's schema message at the value.
fn one_of(node: &Node, key: &str, allowed: &[&str]) -> Result<String, Diagnostic> {
    let value = node.expect_str(&format!("`{key}`"))?;
    if allowed.contains(&value) {
        return Ok(value.to_owned());
    }
    let list = allowed
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(
        Diagnostic::error(format!("'{value}' is not one of [{list}]"))
            .with_label(&node.span, format!("not a valid `{key}`"))
            .with_help(suggestion_help(value, allowed.iter().copied(), || {
                format!("`{key}` is one of: {}", allowed.join(", "))
            })),
    )
}

fn opt_str(entry: &Node, key: &str) -> Result<Option<String>, Diagnostic> {
    entry
        .get(key)
        .filter(|n| !n.is_null())
        .map(|n| n.expect_scalar_text(&format!("`{key}`")))
        .transpose()
}

/// Read one `exposures:` entry.
pub fn exposure_def(
    entry: &Node,
    file: &Arc<SourceFile>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<ExposureDef, Diagnostic> {
    let entry = entry.expect_map("an exposure")?;
    EXPOSURE_KEYS.check(entry, warnings)?;
    let (name, span) = name_of(entry, "exposure")?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Diagnostic::error(format!(
            "exposure name `{name}` must contain only letters, numbers and underscores"
        ))
        .with_label(span, "not a valid name")
        .with_help(
            "give the exposure a name like `weekly_dashboard`; put the display name in `label:`",
        ));
    }
    let kind = match entry.get("type") {
        Some(t) => one_of(t, "type", EXPOSURE_TYPES)?,
        None => {
            return Err(
                Diagnostic::error(format!("exposure `{name}` has no `type`"))
                    .with_label(span, "this exposure")
                    .with_help(format!(
                        "add `type:`, one of: {}",
                        EXPOSURE_TYPES.join(", ")
                    )),
            )
        }
    };
    let maturity = entry
        .get("maturity")
        .filter(|n| !n.is_null())
        .map(|m| one_of(m, "maturity", MATURITIES))
        .transpose()?;
    let mut depends_on = Vec::new();
    if let Some(list) = entry.get("depends_on").filter(|n| !n.is_null()) {
        for d in list.expect_seq("`depends_on`")? {
            depends_on.push((
                d.expect_str("a `depends_on` entry")?.to_owned(),
                d.span.clone(),
            ));
        }
    }
    let config = config_block(entry, warnings)?;
    let config_written = entry
        .get("config")
        .filter(|n| !n.is_null())
        .map_or(Json::Object(Map::new()), Node::to_json);
    Ok(ExposureDef {
        name: name.to_owned(),
        at: Declared {
            file: Arc::clone(file),
            span: span.clone(),
        },
        owner: owner(entry, "exposure", name, span)?,
        kind,
        description: string_field(entry, "description")?,
        label: opt_str(entry, "label")?,
        maturity,
        url: opt_str(entry, "url")?,
        depends_on,
        tags: config.tags(),
        meta: config
            .get("meta")
            .cloned()
            .unwrap_or(Json::Object(Map::new())),
        enabled: config.enabled(),
        config_written,
    })
}

/// Read one `groups:` entry.
pub fn group_def(
    entry: &Node,
    file: &Arc<SourceFile>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<GroupDef, Diagnostic> {
    let entry = entry.expect_map("a group")?;
    GROUP_KEYS.check(entry, warnings)?;
    let (name, span) = name_of(entry, "group")?;
    let config = config_block(entry, warnings)?;
    Ok(GroupDef {
        name: name.to_owned(),
        at: Declared {
            file: Arc::clone(file),
            span: span.clone(),
        },
        owner: owner(entry, "group", name, span)?,
        description: opt_str(entry, "description")?,
        meta: config
            .get("meta")
            .cloned()
            .unwrap_or(Json::Object(Map::new())),
    })
}

/// dbt's error for two groups (or exposures) of one name.
pub fn defined_twice(what: &str, name: &str, again: &Span, first: &Span) -> Diagnostic {
    Diagnostic::error(format!("dbt found two {what}s with the name \"{name}\"."))
        .with_label(again, "defined again here")
        .with_label(first, "first defined here")
        .with_help(format!(
            "rename one of the {what}s: names are unique in a project"
        ))
}
