//! Versions of a model as nodes (dbt's model versions): their names, unique
//! ids and FQNs, the keys `ref()` finds them by (dbt's `search_name`,
//! `name.v<version>`), and the data tests each version has. What the YAML says
//! is read by [`crate::project::versions`].

use std::sync::Arc;

use serde_json::Value as Json;

use super::parse::{Owner, ParsedNode, TestList};
use crate::diagnostics::SourceFile;
use crate::project::versions::VersionOf;
use crate::project::{Project, ProjectFileEntry};

/// Which version of a versioned model a node is.
#[derive(Clone, Debug)]
pub struct NodeVersion {
    /// `v` as written in YAML (a number or a string), for manifest.json.
    pub v: Json,
    /// `v` as text (`2`, `1.5`): in the unique id, the FQN, refs and selectors.
    pub text: String,
    /// The model's latest version, as written and as text.
    pub latest: Json,
    pub latest_text: String,
    /// dbt's normalised `deprecation_date` of this version.
    pub deprecation_date: Option<String>,
}

impl NodeVersion {
    pub fn is_latest(&self) -> bool {
        self.text == self.latest_text
    }

    /// A version newer than the latest one (`version:prerelease`).
    pub fn is_prerelease(&self) -> bool {
        crate::project::versions::compare(&self.text, &self.latest_text).is_gt()
    }

    /// A version older than the latest one (`version:old`).
    pub fn is_old(&self) -> bool {
        crate::project::versions::compare(&self.text, &self.latest_text).is_lt()
    }
}

/// What `ref()` looks a node up by, as dbt's `search_name`: the name, or
/// `name.v<version>` for a pinned ref to a versioned model.
pub fn ref_key(name: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{name}.v{v}"),
        None => name.to_owned(),
    }
}

/// A ref key's name and version.
pub fn split_ref_key(key: &str) -> (&str, Option<&str>) {
    match key.rsplit_once(".v") {
        Some((name, v)) if !name.is_empty() && !v.is_empty() => (name, Some(v)),
        _ => (key, None),
    }
}

/// A version's FQN, as dbt writes it: the file's, with the model's name last,
/// then `v<version>`.
pub(super) fn versioned_fqn(file_fqn: &[String], vo: VersionOf<'_>) -> Vec<String> {
    let mut fqn = file_fqn.to_vec();
    if let Some(last) = fqn.last_mut() {
        last.clone_from(&vo.props.name);
    }
    fqn.push(format!("v{}", vo.version.text));
    fqn
}

/// How a model node is named: its name, unique id and FQN, and its version.
pub(super) struct Naming {
    pub(super) name: String,
    pub(super) unique_id: String,
    pub(super) fqn: Vec<String>,
    pub(super) version: Option<NodeVersion>,
}

impl Naming {
    pub(super) fn of_model(owner: Owner<'_>, entry: &ProjectFileEntry) -> Naming {
        match owner.project.properties.version_of(&entry.name) {
            Some(vo) => {
                let name = vo.props.name.clone();
                Naming {
                    unique_id: format!(
                        "model.{}.{name}.v{}",
                        owner.project.name(),
                        vo.version.text
                    ),
                    fqn: versioned_fqn(&entry.fqn, vo),
                    name,
                    version: Some(NodeVersion {
                        v: vo.version.v.clone(),
                        text: vo.version.text.clone(),
                        latest: vo.latest(),
                        latest_text: vo
                            .props
                            .versions
                            .latest
                            .as_ref()
                            .map(|(t, _)| t.clone())
                            .unwrap_or_default(),
                        deprecation_date: vo.version.deprecation_date.clone(),
                    }),
                }
            }
            None => Naming {
                name: entry.name.clone(),
                unique_id: owner.unique_id("model", &entry.name),
                fqn: entry.fqn.clone(),
                version: None,
            },
        }
    }

    /// The relation's name without an `alias`: dbt's `generate_alias_name`
    /// writes a version's as `<name>_v<version>` (dots as underscores).
    pub(super) fn default_alias(&self) -> String {
        match &self.version {
            Some(v) => format!("{}_v{}", self.name, v.text.replace('.', "_")),
            None => self.name.clone(),
        }
    }
}

/// A version's data tests: its own (else its model's) and those of the
/// columns it has.
pub(super) fn declared_tests<'a>(
    project: &'a Project,
    node: &'a ParsedNode,
) -> Option<(Arc<SourceFile>, TestList<'a>)> {
    let v = node.version.as_ref()?;
    let props = project.properties.models.get(&node.name)?;
    let version = props.versions.list.iter().find(|x| x.text == v.text)?;
    let vo = VersionOf { props, version };
    let tests = vo
        .tests()
        .iter()
        .map(|t| (None, t))
        .chain(
            node.columns
                .iter()
                .flat_map(|c| c.tests.iter().map(move |t| (Some(c), t))),
        )
        .collect();
    Some((Arc::clone(&props.file), tests))
}
