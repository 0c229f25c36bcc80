//! The settings half of the load stage: `dbt_project.yml` (and project.yml's
//! dbt keys) → [`ProjectFile`].
//!
//! Both front doors go through [`parse_document`]: project.yml is dbt_project.yml
//! plus `target:`/`targets:`; a dbt layout gets its targets from profiles.yml
//! ([`super::profiles`]). Every key of dbt 1.11's dbt_project.yml reference is
//! accepted; the ones sluice does not act on are warnings, never silence. Package
//! projects (`dbt_packages/*/dbt_project.yml`) are read by [`parse`] too.
//! `require-dbt-version` is checked here against [`DBT_VERSION`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;

use super::project_yml::{Dispatch, ProjectFile, RunHook};
use super::yaml::{self, Node};
use crate::diagnostics::{suggestion_help, Diagnostic, SourceFile, Span};

/// The dbt-core version sluice declares compatibility with: what
/// `require-dbt-version` is checked against, what `dbt_version` renders to and
/// what the artifacts' `metadata.dbt_version` say.
pub const DBT_VERSION: &str = "1.11.0";

/// Which file the settings come from: it decides the keys allowed and the names
/// used in messages, nothing after loading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    ProjectYml,
    DbtProjectYml,
}

impl Door {
    pub fn file_name(self) -> &'static str {
        match self {
            Door::ProjectYml => "project.yml",
            Door::DbtProjectYml => "dbt_project.yml",
        }
    }
}

/// Keys sluice reads and acts on (or hands to the stage that does).
const ACTED: &[&str] = &[
    "name",
    "version",
    "config-version",
    "profile",
    "model-paths",
    "seed-paths",
    "macro-paths",
    "test-paths",
    "snapshot-paths",
    "analysis-paths",
    "docs-paths",
    "asset-paths",
    "target-path",
    "log-path",
    "clean-targets",
    "packages-install-path",
    "vars",
    "models",
    "seeds",
    "snapshots",
    "data_tests",
    "tests",
    "dispatch",
    "on-run-start",
    "on-run-end",
    "require-dbt-version",
    "flags",
    "quoting",
    "query-comment",
    "restrict-access",
    "sources",
    "unit_tests",
    "semantic-models",
    "source-paths",
    "data-paths",
    "dbt-cloud",
    "project-root",
];

/// Keys of dbt's reference whose settings sluice does not apply: a warning each.
const NOT_APPLIED: &[(&str, &str)] = &[
    (
        "metrics",
        "metric configs from the project file are not applied",
    ),
    ("saved-queries", "saved queries are not supported"),
    (
        "exposures",
        "exposure configs from the project file are not applied",
    ),
    ("functions", "user-defined functions are not supported"),
    ("function-paths", "user-defined functions are not supported"),
    ("analyses", "analyses are not compiled"),
    ("packages", "package settings belong in packages.yml"),
];

/// `flags:` sluice honours or that change nothing in it (output and tracking).
const HARMLESS_FLAGS: &[&str] = &[
    "send_anonymous_usage_stats",
    "use_colors",
    "use_colors_file",
    "printer_width",
    "partial_parse",
    "write_json",
    "log_format",
    "log_format_file",
    "log_level",
    "log_level_file",
    "quiet",
    "version_check",
    "static_parser",
    "use_experimental_parser",
    "introspect",
    "cache_selected_only",
    "populate_cache",
    "indirect_selection",
    "require_model_names_without_spaces",
    "require_resource_names_without_spaces",
];

fn paths(
    doc: &Node,
    key: &str,
    default: &str,
    deprecated: Option<&str>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Vec<String>, Diagnostic> {
    if let Some(n) = doc.get(key) {
        return n.expect_str_list(&format!("`{key}`"));
    }
    if let Some(old) = deprecated {
        if let Some(n) = doc.get(old) {
            // As dbt 1.x: the old name still works, with a deprecation warning.
            warnings.push(
                Diagnostic::warning(format!("the `{old}` config has been renamed to `{key}`"))
                    .with_label(doc.key_span(old).unwrap_or(&n.span), "deprecated name")
                    .with_help(format!("rename `{old}` to `{key}` in the project file")),
            );
            return n.expect_str_list(&format!("`{old}`"));
        }
    }
    Ok(vec![default.to_owned()])
}

/// Read a `dbt_project.yml` (a package's, or the root's before rendering).
pub fn parse(
    root: &Path,
    file: Arc<SourceFile>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<ProjectFile, Diagnostic> {
    let doc = yaml::parse_dbt_file(&file, warnings)?;
    parse_document(root, file, &doc, Door::DbtProjectYml, warnings)
}

/// Read a package's `dbt_project.yml`, its Jinja rendered as the root project's
/// was (`ctx`: the root's [`ProjectFile::yml_context`]), as dbt renders every
/// project with the root's target and `--vars`.
pub fn parse_rendered(
    root: &Path,
    file: Arc<SourceFile>,
    ctx: &super::YmlContext,
    warnings: &mut Vec<Diagnostic>,
) -> Result<ProjectFile, Diagnostic> {
    let mut doc = yaml::parse_dbt_file(&file, warnings)?;
    let mut ctx = ctx.clone();
    ctx.project_name = doc
        .get("name")
        .and_then(Node::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut rendered = String::new();
    super::yml_jinja::render_document(&mut doc, &ctx, &mut rendered)?;
    let mut pf = parse_document(root, file, &doc, Door::DbtProjectYml, warnings)?;
    pf.rendered_values = rendered;
    pf.yml_context = ctx;
    Ok(pf)
}

/// Check the top-level keys: project.yml keeps its strictness (an unknown key is
/// an error); in dbt_project.yml, as in dbt 1.11, it is a warning.
fn check_keys(doc: &Node, door: Door, warnings: &mut Vec<Diagnostic>) -> Result<(), Diagnostic> {
    let what = door.file_name();
    for (key, key_node, value) in doc.entries() {
        if ACTED.contains(&key) || (door == Door::ProjectYml && matches!(key, "target" | "targets"))
        {
            continue;
        }
        if let Some((_, why)) = NOT_APPLIED.iter().find(|(k, _)| *k == key) {
            if !value.is_null() {
                warnings.push(
                    Diagnostic::warning(format!(
                        "`{key}` in {what} is not supported by sluice: {why}; it is ignored"
                    ))
                    .with_label(&key_node.span, "ignored"),
                );
            }
            continue;
        }
        let mut all: Vec<&str> = ACTED.to_vec();
        all.extend(NOT_APPLIED.iter().map(|(k, _)| *k));
        if door == Door::ProjectYml {
            all.extend(["target", "targets"]);
        }
        let help = suggestion_help(key, all.iter().copied(), || {
            "see dbt's dbt_project.yml reference for the keys allowed here".to_owned()
        });
        let d = Diagnostic::warning(format!("unknown key `{key}` in {what}"))
            .with_label(&key_node.span, "unknown key")
            .with_help(help);
        if door == Door::ProjectYml {
            return Err(Diagnostic {
                severity: crate::diagnostics::Severity::Error,
                ..d
            });
        }
        warnings.push(d.with_note("it is ignored"));
    }
    Ok(())
}

fn hooks(doc: &Node, key: &str) -> Result<Vec<RunHook>, Diagnostic> {
    let Some(n) = doc.get(key).filter(|n| !n.is_null()) else {
        return Ok(Vec::new());
    };
    let items: Vec<&Node> = match &n.value {
        yaml::Value::Seq(items) => items.iter().collect(),
        _ => vec![n],
    };
    items
        .into_iter()
        .filter(|i| !i.is_null())
        .map(|i| {
            Ok(RunHook {
                sql: i.expect_scalar_text(&format!("an entry of `{key}`"))?,
                span: i.span.clone(),
            })
        })
        .collect()
}

fn dispatch(doc: &Node) -> Result<Vec<Dispatch>, Diagnostic> {
    let Some(n) = doc.get("dispatch").filter(|n| !n.is_null()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for item in n.expect_seq("`dispatch`")? {
        let item = item.expect_map("an entry of `dispatch`")?;
        let ns = item.get("macro_namespace").ok_or_else(|| {
            Diagnostic::error("a `dispatch` entry has no `macro_namespace`")
                .with_label(&item.span, "this entry")
                .with_help("write `- macro_namespace: dbt_utils` with `search_order: [my_project, dbt_utils]`")
        })?;
        let order = item.get("search_order").ok_or_else(|| {
            Diagnostic::error("a `dispatch` entry has no `search_order`")
                .with_label(&item.span, "this entry")
                .with_help("add `search_order: [my_project, dbt_utils]`")
        })?;
        for (key, key_node, _) in item.entries() {
            if !matches!(key, "macro_namespace" | "search_order") {
                return Err(Diagnostic::error(format!(
                    "unknown key `{key}` in a `dispatch` entry"
                ))
                .with_label(&key_node.span, "unknown key")
                .with_help("a dispatch entry has `macro_namespace` and `search_order`"));
            }
        }
        out.push(Dispatch {
            macro_namespace: ns.expect_str("`macro_namespace`")?.to_owned(),
            search_order: order.expect_str_list("`search_order`")?,
            span: item.span.clone(),
        });
    }
    Ok(out)
}

fn json_map(doc: &Node, key: &str) -> Result<BTreeMap<String, Json>, Diagnostic> {
    let mut out = BTreeMap::new();
    if let Some(n) = doc.get(key).filter(|n| !n.is_null()) {
        for (k, _, v) in n.expect_map(&format!("`{key}`"))?.entries() {
            out.insert(k.to_owned(), v.to_json());
        }
    }
    Ok(out)
}

/// The warnings for settings that are read but not acted on.
fn warn_unapplied(doc: &Node, door: Door, pf: &ProjectFile, warnings: &mut Vec<Diagnostic>) {
    let what = door.file_name();
    let span_of = |key: &str| doc.key_span(key).cloned();
    for (key, value) in &pf.flags {
        if HARMLESS_FLAGS.contains(&key.as_str()) {
            continue;
        }
        if let Some(span) = doc
            .get("flags")
            .and_then(|f| f.key_span(key))
            .or(span_of("flags").as_ref())
        {
            warnings.push(
                Diagnostic::warning(format!(
                    "flag `{key}: {value}` in {what} is not acted on by sluice; it is ignored"
                ))
                .with_label(span, "ignored"),
            );
        }
    }
    let unapplied_trees = [
        (
            "sources",
            &pf.sources_tree,
            "source configs (`+enabled`, `+tags`, ...) from the project file are not applied yet",
        ),
        (
            "unit_tests",
            &pf.unit_tests_tree,
            "unit test configs from the project file are not applied yet",
        ),
        (
            "semantic-models",
            &pf.semantic_models_tree,
            "semantic model configs from the project file are not applied yet",
        ),
    ];
    for (key, tree, why) in unapplied_trees {
        if tree.as_ref().is_some_and(|t| t.entries().next().is_some()) {
            if let Some(span) = span_of(key) {
                warnings.push(
                    Diagnostic::warning(format!("`{key}:` in {what}: {why}; it is ignored"))
                        .with_label(&span, "ignored"),
                );
            }
        }
    }
    if pf.quoting.values().any(|v| !v.is_null()) {
        if let Some(span) = span_of("quoting") {
            warnings.push(
                Diagnostic::warning(format!(
                    "`quoting:` in {what} is not configurable in sluice; it is ignored"
                ))
                .with_label(&span, "ignored")
                .with_note("sluice quotes identifiers only where the warehouse needs it"),
            );
        }
    }
    if doc.get("query-comment").is_some_and(|n| !n.is_null()) {
        if let Some(span) = span_of("query-comment") {
            warnings.push(
                Diagnostic::warning(format!(
                    "`query-comment` in {what}: sluice adds no comment to the queries it runs; it is ignored"
                ))
                .with_label(&span, "ignored"),
            );
        }
    }
}

/// Read the project settings from a parsed (and rendered) project document.
pub fn parse_document(
    root: &Path,
    file: Arc<SourceFile>,
    doc: &Node,
    door: Door,
    warnings: &mut Vec<Diagnostic>,
) -> Result<ProjectFile, Diagnostic> {
    let what = door.file_name();
    let doc = doc.expect_map(what)?;
    check_keys(doc, door, warnings)?;
    let name_node = doc.get("name").ok_or_else(|| {
        Diagnostic::error(format!("{what} has no `name`"))
            .with_label(&Span::file_start(&file), "expected `name: <project name>`")
            .with_help(format!("add `name: my_project` at the top of {what}"))
    })?;
    let name = name_node.expect_str("`name`")?.to_owned();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Diagnostic::error(format!("invalid project name `{name}`"))
            .with_label(&name_node.span, "not a valid identifier")
            .with_help("use letters, digits and underscores only, as dbt does"));
    }
    let version = doc
        .get("version")
        .filter(|v| !v.is_null())
        .map(|v| v.expect_scalar_text("`version`"))
        .transpose()?;
    let config_version = doc
        .get("config-version")
        .map(|v| v.expect_int("`config-version`"))
        .transpose()?;
    if let (Some(v), Some(n)) = (config_version, doc.get("config-version")) {
        if v != 2 {
            return Err(
                Diagnostic::error(format!("`config-version: {v}` is not supported"))
                    .with_label(&n.span, "expected 2")
                    .with_help("dbt 1.x reads `config-version: 2` only; update the project file"),
            );
        }
    }
    let profile = doc
        .get("profile")
        .filter(|n| !n.is_null())
        .map(|n| {
            n.expect_str("`profile`")
                .map(|s| (s.to_owned(), n.span.clone()))
        })
        .transpose()?;
    let dir = |key: &str, default: &str| -> Result<std::path::PathBuf, Diagnostic> {
        Ok(match doc.get(key).filter(|n| !n.is_null()) {
            Some(n) => root.join(n.expect_str(&format!("`{key}`"))?),
            None => root.join(default),
        })
    };
    let target_path = dir("target-path", "target")?;
    let log_path = dir("log-path", "logs")?;
    let packages_install_path = dir("packages-install-path", "dbt_packages")?;
    let clean_targets = match doc.get("clean-targets").filter(|n| !n.is_null()) {
        Some(n) => n.expect_str_list("`clean-targets`")?,
        None => Vec::new(),
    };
    let vars = json_map(doc, "vars")?;
    let tree = |key: &str| -> Result<Option<Node>, Diagnostic> {
        doc.get(key)
            .filter(|n| !n.is_null())
            .map(|n| n.expect_map(&format!("`{key}`")).cloned())
            .transpose()
    };
    let tests_tree = match tree("data_tests")? {
        Some(t) => Some(t),
        None => tree("tests")?,
    };
    let model_paths = paths(doc, "model-paths", "models", Some("source-paths"), warnings)?;
    let seed_paths = paths(doc, "seed-paths", "seeds", Some("data-paths"), warnings)?;
    let macro_paths = paths(doc, "macro-paths", "macros", None, warnings)?;
    let test_paths = paths(doc, "test-paths", "tests", None, warnings)?;
    let snapshot_paths = paths(doc, "snapshot-paths", "snapshots", None, warnings)?;
    let analysis_paths = match doc.get("analysis-paths") {
        Some(n) => n.expect_str_list("`analysis-paths`")?,
        None => vec!["analyses".to_owned()],
    };
    // dbt's default docs-paths are every resource path (functions too), once each.
    let docs_paths = match doc.get("docs-paths") {
        Some(n) => n.expect_str_list("`docs-paths`")?,
        None => {
            let mut all: Vec<String> = Vec::new();
            let functions = ["functions".to_owned()];
            for p in model_paths
                .iter()
                .chain(&seed_paths)
                .chain(&snapshot_paths)
                .chain(&analysis_paths)
                .chain(&macro_paths)
                .chain(&test_paths)
                .chain(&functions)
            {
                if !all.contains(p) {
                    all.push(p.clone());
                }
            }
            all
        }
    };
    let restrict_access = match doc.get("restrict-access").filter(|n| !n.is_null()) {
        Some(n) => n.expect_bool("`restrict-access`")?,
        None => false,
    };
    let asset_paths = match doc.get("asset-paths") {
        Some(n) => n.expect_str_list("`asset-paths`")?,
        None => Vec::new(),
    };
    let mut require_dbt_version = Vec::new();
    if let Some(n) = doc.get("require-dbt-version").filter(|n| !n.is_null()) {
        let items: Vec<&Node> = match &n.value {
            yaml::Value::Seq(items) => items.iter().collect(),
            _ => vec![n],
        };
        for item in items {
            let text = item.expect_str("`require-dbt-version`")?;
            // dbt splits a string on commas: ">=1.0.0,<2.0.0" is two specifiers.
            for part in text.split(',') {
                require_dbt_version.push((part.trim().to_owned(), item.span.clone()));
            }
        }
    }
    let pf = ProjectFile {
        yml_context: super::YmlContext::default(),
        extra_files: Vec::new(),
        rendered_values: String::new(),
        name,
        name_span: name_node.span.clone(),
        version,
        config_version,
        profile,
        model_paths,
        seed_paths,
        macro_paths,
        test_paths,
        snapshot_paths,
        analysis_paths,
        docs_paths,
        restrict_access,
        asset_paths,
        target_path,
        log_path,
        packages_install_path,
        clean_targets,
        vars,
        models_tree: tree("models")?,
        seeds_tree: tree("seeds")?,
        snapshots_tree: tree("snapshots")?,
        tests_tree,
        sources_tree: tree("sources")?,
        unit_tests_tree: tree("unit_tests")?,
        semantic_models_tree: tree("semantic-models")?,
        dispatch: dispatch(doc)?,
        on_run_start: hooks(doc, "on-run-start")?,
        on_run_end: hooks(doc, "on-run-end")?,
        require_dbt_version,
        flags: json_map(doc, "flags")?,
        quoting: json_map(doc, "quoting")?,
        default_target: None,
        targets: Vec::new(),
        unusable_targets: Vec::new(),
        file,
    };
    warn_unapplied(doc, door, &pf, warnings);
    Ok(pf)
}

/// A dbt version: major.minor.patch and an optional prerelease.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Version {
    numbers: (u64, u64, u64),
    /// A prerelease sorts before the release (`1.0.0b1` < `1.0.0`).
    release: bool,
    prerelease: String,
}

fn parse_version(text: &str) -> Option<Version> {
    let mut parts = text.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let rest = parts.next()?;
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let patch = rest[..digits].parse().ok()?;
    let pre = rest[digits..].trim_start_matches(['-', '+']);
    Some(Version {
        numbers: (major, minor, patch),
        release: pre.is_empty(),
        prerelease: pre.to_owned(),
    })
}

/// Check `require-dbt-version` as dbt does: every specifier (`>=1.0.0`, `<2.0.0`,
/// `1.11.0`) must hold for [`DBT_VERSION`].
pub fn check_dbt_version(pf: &ProjectFile, package: &str) -> Result<(), Diagnostic> {
    let current = parse_version(DBT_VERSION).expect("DBT_VERSION is a valid version");
    for (spec, span) in &pf.require_dbt_version {
        let (op, number) = [">=", "<=", ">", "<", "="]
            .iter()
            .find_map(|op| spec.strip_prefix(op).map(|rest| (*op, rest.trim())))
            .unwrap_or(("=", spec.as_str()));
        let Some(wanted) = parse_version(number) else {
            return Err(
                Diagnostic::error(format!("\"{spec}\" is not a valid semantic version"))
                    .with_label(span, "in `require-dbt-version`")
                    .with_help("write full versions with an optional comparison, e.g. [\">=1.0.0\", \"<2.0.0\"]"),
            );
        };
        let holds = match op {
            ">=" => current >= wanted,
            "<=" => current <= wanted,
            ">" => current > wanted,
            "<" => current < wanted,
            _ => current == wanted,
        };
        if !holds {
            let all: Vec<String> = pf
                .require_dbt_version
                .iter()
                .map(|(s, _)| format!("'{s}'"))
                .collect();
            return Err(Diagnostic::error(format!(
                "this version of dbt is not supported with the '{package}' package"
            ))
            .with_label(span, format!("`{spec}` does not hold"))
            .with_note(format!(
                "sluice is compatible with dbt {DBT_VERSION}; '{package}' requires [{}]",
                all.join(", ")
            ))
            .with_help(
                "use a version of the package that supports dbt 1.11, or run again with --no-version-check",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKAGE: &str = "name: my_pkg\nconfig-version: 2\nrequire-dbt-version: \">=1.3.0, <2.0.0\"\nvars:\n  my_pkg: {x: 1}\n  y: \"{{ env_var('NOPE_NOT_SET_X') }}\"\ndispatch:\n  - macro_namespace: dbt_utils\n    search_order: [my_pkg, dbt_utils]\non-run-start: \"create schema if not exists {{ target.schema }}\"\non-run-end:\n  - \"select 1\"\n  - \"select {{ 2 }}\"\nmodels:\n  my_pkg:\n    +schema: \"{{ target.schema }}_pkg\"\n    +post-hook: \"grant select on {{ this }}\"\n";

    #[test]
    fn a_package_project_renders_with_the_root_context_and_exposes_its_settings() {
        let file = SourceFile::new("dbt_project.yml", PACKAGE);
        let ctx = crate::project::YmlContext {
            target: serde_json::json!({"name": "dev", "schema": "analytics", "type": "duckdb"}),
            ..Default::default()
        };
        let mut warnings = Vec::new();
        let pf = parse_rendered(Path::new("/p"), file, &ctx, &mut warnings).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(pf.dispatch.len(), 1);
        assert_eq!(pf.dispatch[0].macro_namespace, "dbt_utils");
        assert_eq!(pf.dispatch[0].search_order, ["my_pkg", "dbt_utils"]);
        // Hooks and vars stay unrendered.
        assert_eq!(
            pf.on_run_start[0].sql,
            "create schema if not exists {{ target.schema }}"
        );
        assert_eq!(pf.on_run_end.len(), 2);
        assert_eq!(pf.vars["y"], "{{ env_var('NOPE_NOT_SET_X') }}");
        assert_eq!(pf.vars_for("my_pkg")["x"], 1);
        let models = pf.models_tree.as_ref().unwrap().get("my_pkg").unwrap();
        assert_eq!(
            models.get("+schema").unwrap().as_str(),
            Some("analytics_pkg")
        );
        assert_eq!(
            models.get("+post-hook").unwrap().as_str(),
            Some("grant select on {{ this }}")
        );
        assert_eq!(pf.require_dbt_version.len(), 2);
        check_dbt_version(&pf, "my_pkg").unwrap();
        assert_eq!(pf.packages_install_path, Path::new("/p/dbt_packages"));
    }

    #[test]
    fn versions_compare_as_dbt() {
        let v = |s| parse_version(s).unwrap();
        assert!(v("1.11.0") > v("1.10.9"));
        assert!(v("1.11.0") > v("1.11.0b1"));
        assert!(v("2.0.0") > v("1.11.0"));
        assert!(parse_version("1.5").is_none());
    }
}
