//! Model versions (dbt's `versions:` in a model's YAML properties): each version
//! is a model file of its own (`<name>_v<v>.sql`, or the file `defined_in`
//! names), with the top-level columns it keeps (`include`/`exclude`), its own
//! columns, config, data tests and `deprecation_date`; `latest_version` (else the
//! greatest `v`) is what an unpinned `ref('name')` resolves to.
//!
//! Versions compare as dbt's `UnparsedVersion` does: as numbers when both parse
//! as numbers, else as text.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use serde_json::Value as Json;

use super::config::Config;
use super::properties::{column_list, config_block, string_field, tests_of};
use super::properties::{ColumnProps, NodeProps, TestDef};
use super::yaml::{KeySet, Node, Value};
use super::ProjectFileEntry;
use crate::diagnostics::{Diagnostic, Span};

const VERSION_KEYS: KeySet = KeySet {
    what: "a model version",
    known: &[
        "v",
        "defined_in",
        "description",
        "config",
        "columns",
        "data_tests",
        "tests",
        "deprecation_date",
        "docs",
        "meta",
        "tags",
        "constraints",
    ],
    ignored: &["access"],
};

/// Which of the model's top-level columns a version keeps (dbt's `IncludeExclude`).
#[derive(Clone, Debug)]
pub struct IncludeExclude {
    /// `None`: `include: all` (or `*`); else the listed names.
    pub include: Option<Vec<String>>,
    pub exclude: Vec<String>,
}

impl IncludeExclude {
    pub fn includes(&self, column: &str) -> bool {
        self.include
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == column))
            && !self.exclude.iter().any(|n| n == column)
    }
}

/// One entry of `versions:`.
#[derive(Clone, Debug)]
pub struct Version {
    /// `v` as written (a number or a string).
    pub v: Json,
    /// `v` as Python's `str()` prints it: ids, names and refs use it.
    pub text: String,
    pub span: Span,
    pub defined_in: Option<String>,
    pub description: Option<String>,
    pub config: Config,
    pub include: IncludeExclude,
    pub columns: Vec<ColumnProps>,
    /// Its own `data_tests:`; `None`: the model's.
    pub tests: Option<Vec<TestDef>>,
    pub deprecation_date: Option<String>,
    /// Its own model-level `constraints:`; `None`: the model's.
    pub constraints: Option<Vec<super::contracts::Constraint>>,
}

impl Version {
    /// The model file this version is defined in, by name (no extension).
    pub fn file_name(&self, model: &str) -> String {
        self.defined_in
            .clone()
            .unwrap_or_else(|| format!("{model}_v{}", self.text))
    }
}

/// A model's versions and its latest one.
#[derive(Clone, Debug, Default)]
pub struct Versions {
    pub list: Vec<Version>,
    /// `latest_version`, else the greatest `v`: its text and its value as written.
    pub latest: Option<(String, Json)>,
}

/// dbt's order of versions: numeric when both are numbers, else as text.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    }
}

/// A scalar's text as Python's `str()` prints what YAML parsed (`2`, `1.5`, `2.0`).
fn version_text(node: &Node, what: &str) -> Result<(String, Json), Diagnostic> {
    match &node.value {
        Value::Int(i) => Ok((i.to_string(), Json::from(*i))),
        Value::Float(f) => {
            let text = if f.fract() == 0.0 && f.abs() < 1e16 {
                format!("{f:.1}")
            } else {
                f.to_string()
            };
            Ok((text, node.to_json()))
        }
        Value::Str(s) if !s.trim().is_empty() => Ok((s.clone(), Json::from(s.clone()))),
        _ => Err(
            Diagnostic::error(format!("{what} must be a number or a string"))
                .with_label(&node.span, "expected e.g. `2`")
                .with_help("write the version as a number (`v: 2`) or a string (`v: \"2.1\"`)"),
        ),
    }
}

/// `deprecation_date` in dbt's normalised form: a date is midnight UTC
/// (`2027-01-01T00:00:00+00:00`); a date-time is kept as written.
pub fn deprecation_date(map: &Node) -> Result<Option<String>, Diagnostic> {
    let Some(node) = map.get("deprecation_date").filter(|n| !n.is_null()) else {
        return Ok(None);
    };
    let text = node.expect_scalar_text("`deprecation_date`")?;
    let text = text.trim();
    if chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
        return Ok(Some(format!("{text}T00:00:00+00:00")));
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(Some(dt.format("%Y-%m-%dT%H:%M:%S%:z").to_string()));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(Some(format!("{}+00:00", dt.format("%Y-%m-%dT%H:%M:%S"))));
        }
    }
    Err(
        Diagnostic::error(format!("`deprecation_date` `{text}` is not a date"))
            .with_label(&node.span, "expected a date")
            .with_help("write a date (`2027-01-01`) or a date and time (`2027-01-01 12:00:00`)"),
    )
}

fn include_exclude(node: &Node) -> Result<IncludeExclude, Diagnostic> {
    let list = |key: &str| -> Result<Option<Vec<String>>, Diagnostic> {
        node.get(key)
            .filter(|n| !n.is_null())
            .map(|n| n.expect_str_list(&format!("`{key}`")))
            .transpose()
    };
    let include = match node.get("include") {
        Some(n) if matches!(n.as_str(), Some("all" | "*")) => None,
        Some(n) if n.as_str().is_some() => {
            return Err(Diagnostic::error(
                "include must be one of ('all', '*') or a list of strings",
            )
            .with_label(&n.span, "here")
            .with_help("write `include: all`, or list the columns: `include: [id, name]`"))
        }
        Some(_) => list("include")?,
        None => None,
    };
    let exclude = list("exclude")?.unwrap_or_default();
    if include.is_some() && !exclude.is_empty() {
        let at = node.key_span("exclude").unwrap_or(&node.span);
        return Err(Diagnostic::error(
            "exclude can only be specified if include is one of ('all', '*')",
        )
        .with_label(at, "here")
        .with_help(
            "write `include: all` with the `exclude:` list, or list only the columns to include",
        ));
    }
    Ok(IncludeExclude { include, exclude })
}

fn version(
    entry: &Node,
    model: &str,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Version, Diagnostic> {
    let entry = entry.expect_map("a model version")?;
    VERSION_KEYS.check(entry, warnings)?;
    let v_node = entry.get("v").ok_or_else(|| {
        Diagnostic::error(format!("a version of model `{model}` has no `v`"))
            .with_label(&entry.span, "this version")
            .with_help("add `v: <version>`, e.g. `- v: 2`")
    })?;
    let (text, v) = version_text(v_node, "`v`")?;
    // The include/exclude element, and the version's own columns.
    let mut include = None;
    let mut plain = Vec::new();
    if let Some(cols) = entry.get("columns").filter(|n| !n.is_null()) {
        for c in cols.expect_seq("`columns`")? {
            let is_rule = c.get("include").is_some() || c.get("exclude").is_some();
            if !is_rule {
                plain.push(c.clone());
                continue;
            }
            if include.is_some() {
                return Err(Diagnostic::error(
                    "version can have at most one include/exclude element",
                )
                .with_label(&c.span, "a second one")
                .with_help("merge the two into one `include:`/`exclude:` entry"));
            }
            include = Some(include_exclude(c)?);
        }
    }
    let has_tests = entry.get("data_tests").is_some() || entry.get("tests").is_some();
    Ok(Version {
        v,
        text,
        span: v_node.span.clone(),
        defined_in: entry
            .get("defined_in")
            .filter(|n| !n.is_null())
            .map(|n| n.expect_str("`defined_in`").map(str::to_owned))
            .transpose()?,
        description: entry
            .get("description")
            .is_some()
            .then(|| string_field(entry, "description"))
            .transpose()?,
        config: config_block(entry, warnings)?,
        include: include.unwrap_or(IncludeExclude {
            include: None,
            exclude: Vec::new(),
        }),
        columns: column_list(&plain, model, warnings)?,
        constraints: entry
            .get("constraints")
            .map(|c| {
                super::contracts::read_constraints(
                    Some(c),
                    &format!("model {model}"),
                    model,
                    true,
                    warnings,
                )
            })
            .transpose()?,
        tests: has_tests.then(|| tests_of(entry, warnings)).transpose()?,
        deprecation_date: deprecation_date(entry)?,
    })
}

impl Versions {
    /// Read `versions:` and `latest_version` of a model entry.
    pub fn read(
        entry: &Node,
        model: &str,
        warnings: &mut Vec<Diagnostic>,
    ) -> Result<Versions, Diagnostic> {
        let mut list: Vec<Version> = Vec::new();
        if let Some(vs) = entry.get("versions").filter(|n| !n.is_null()) {
            for v in vs.expect_seq("`versions`")? {
                let v = version(v, model, warnings)?;
                if let Some(prev) = list.iter().find(|p| p.text == v.text) {
                    return Err(Diagnostic::error(format!(
                        "Found duplicate version: '{}' in versions list of model '{model}'",
                        v.text
                    ))
                    .with_label(&v.span, "again here")
                    .with_label(&prev.span, "first here")
                    .with_help("each version of a model has its own `v`"));
                }
                list.push(v);
            }
        }
        if let Some(at) = entry.key_span("deprecation_date") {
            // dbt reads a model's own `deprecation_date` only without versions
            // (each version has its own); sluice reads it on versions only.
            warnings.push(
                Diagnostic::warning(format!(
                    "`deprecation_date` of model `{model}` is ignored: sluice reads it on a model's versions only"
                ))
                .with_event(crate::diagnostics::event::UNSUPPORTED_CONFIG)
                .with_label(at, "not read")
                .with_help("set `deprecation_date:` on an entry of the model's `versions:`"),
            );
        }
        let latest = match entry.get("latest_version").filter(|n| !n.is_null()) {
            Some(node) => {
                let (text, json) = version_text(node, "`latest_version`")?;
                if !list.iter().any(|v| v.text == text) {
                    let listed: Vec<String> = list.iter().map(|v| v.v.to_string()).collect();
                    return Err(Diagnostic::error(format!(
                        "latest_version: {text} is not one of model '{model}' versions: [{}]",
                        listed.join(", ")
                    ))
                    .with_label(&node.span, "no such version")
                    .with_help(
                        "name one of the versions listed under `versions:`, or add it there",
                    ));
                }
                Some((text, json))
            }
            None => list
                .iter()
                .max_by(|a, b| compare(&a.text, &b.text))
                .map(|v| (v.text.clone(), v.v.clone())),
        };
        Ok(Versions { list, latest })
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// A versioned model's file: the model's properties and which version it is.
#[derive(Clone, Copy, Debug)]
pub struct VersionOf<'a> {
    pub props: &'a NodeProps,
    pub version: &'a Version,
}

impl<'a> VersionOf<'a> {
    pub fn is_latest(&self) -> bool {
        self.props
            .versions
            .latest
            .as_ref()
            .is_some_and(|(t, _)| *t == self.version.text)
    }

    /// The latest version as written in YAML.
    pub fn latest(&self) -> Json {
        self.props
            .versions
            .latest
            .as_ref()
            .map_or(Json::Null, |(_, j)| j.clone())
    }

    /// The version's columns: the model's it includes, then its own.
    pub fn columns(&self) -> Vec<ColumnProps> {
        self.props
            .columns
            .iter()
            .filter(|c| self.version.include.includes(&c.name))
            .chain(&self.version.columns)
            .cloned()
            .collect()
    }

    /// The version's model-level data tests: its own, else the model's.
    pub fn tests(&self) -> &'a [TestDef] {
        self.version.tests.as_deref().unwrap_or(&self.props.tests)
    }

    /// The version's model-level constraints: its own, else the model's (dbt:
    /// `version.constraints or model.constraints`, so an empty list is the model's).
    pub fn constraints(&self) -> &'a [super::contracts::Constraint] {
        match self.version.constraints.as_deref() {
            Some(c) if !c.is_empty() => c,
            _ => &self.props.constraints,
        }
    }

    /// The model's config with the version's over it.
    pub fn config(&self) -> Config {
        let mut config = self.props.config.clone();
        config.merge(&self.version.config);
        config
    }

    pub fn description(&self) -> String {
        self.version
            .description
            .clone()
            .unwrap_or_else(|| self.props.description.clone())
    }
}

/// Which model files are versions: file name → (model name, index in its
/// `versions:`), with a warning for each version whose file does not exist (dbt's
/// `NoNodeForYamlKey`). The latest version may be defined in a file named as the
/// model itself.
pub fn files_of(
    models: &BTreeMap<String, NodeProps>,
    files: &[ProjectFileEntry],
    warnings: &mut Vec<Diagnostic>,
) -> HashMap<String, (String, usize)> {
    let names: std::collections::HashSet<&str> = files.iter().map(|f| f.name.as_str()).collect();
    let mut out = HashMap::new();
    for props in models.values() {
        for (i, v) in props.versions.list.iter().enumerate() {
            let file = v.file_name(&props.name);
            let is_latest = props
                .versions
                .latest
                .as_ref()
                .is_some_and(|(t, _)| *t == v.text);
            let found = if names.contains(file.as_str()) {
                Some(file.clone())
            } else if is_latest && names.contains(props.name.as_str()) {
                Some(props.name.clone())
            } else {
                None
            };
            match found {
                Some(f) => {
                    out.insert(f, (props.name.clone(), i));
                }
                None => warnings.push(
                    Diagnostic::warning(format!(
                        "Did not find matching node for patch with name '{file}' in the 'models' section of file '{}'",
                        props.file.path.display()
                    ))
                    .with_event(crate::diagnostics::event::NO_NODE_FOR_YAML_KEY)
                    .with_label(&v.span, format!("version {} of `{}`", v.text, props.name))
                    .with_help(format!(
                        "create {file}.sql, or name the file with `defined_in:`"
                    )),
                ),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering;

    #[test]
    fn versions_compare_as_dbt() {
        assert_eq!(compare("2", "10"), Ordering::Less);
        assert_eq!(compare("1.5", "1"), Ordering::Greater);
        assert_eq!(compare("beta", "alpha"), Ordering::Greater);
        assert_eq!(compare("2", "2.0"), Ordering::Equal);
    }
}
