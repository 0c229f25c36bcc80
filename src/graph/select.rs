//! Node selection with dbt's syntax: `name`, `+name`, `name+`, `2+name`, `name+1`,
//! `@name`, `tag:x`, `path:models/marts`, `config.materialized:table`,
//! `resource_type:seed`, `source:s`, `test_type:generic`, `version:latest`, globs (`stg_*`); spaces
//! make a union, commas an intersection; `--exclude` uses the same grammar.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use petgraph::graph::NodeIndex;
use serde_json::Value as Json;

use super::state::Changes;
use super::Dag;
use crate::diagnostics::{suggestion_help, Diagnostic, SourceFile, Span};
use crate::render::parse::ResourceType;

const METHODS: &[&str] = &[
    "fqn",
    "tag",
    "path",
    "file",
    "resource_type",
    "source",
    "test_type",
    "test_name",
    "package",
    "config",
    "state",
    "version",
    "exposure",
    "group",
    "access",
];

/// Which tests a selection of models brings along (dbt's `--indirect-selection`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndirectSelection {
    /// Tests with any selected parent.
    Eager,
    /// Tests whose parents are all selected or built before the selection.
    Buildable,
    /// Tests whose parents are all selected.
    Cautious,
    /// No tests besides those selected by name.
    Empty,
}

impl IndirectSelection {
    pub fn tests_of(self, dag: &Dag, selected: &HashSet<NodeIndex>) -> Vec<NodeIndex> {
        let ancestors: HashSet<NodeIndex> = match self {
            IndirectSelection::Buildable => selected
                .iter()
                .flat_map(|i| dag.ancestors(*i, None))
                .collect(),
            _ => HashSet::new(),
        };
        dag.graph
            .node_indices()
            .filter(|i| dag.node(*i).resource_type == ResourceType::Test)
            .filter(|i| {
                let mut parents = dag.parents(*i);
                match self {
                    IndirectSelection::Eager => parents.any(|p| selected.contains(&p)),
                    IndirectSelection::Cautious => parents.all(|p| selected.contains(&p)),
                    IndirectSelection::Buildable => {
                        let parents: Vec<NodeIndex> = parents.collect();
                        parents.iter().any(|p| selected.contains(p))
                            && parents
                                .iter()
                                .all(|p| selected.contains(p) || ancestors.contains(p))
                    }
                    IndirectSelection::Empty => false,
                }
            })
            .collect()
    }
}

#[derive(Debug)]
struct Atom {
    span: (usize, usize),
    at: bool,
    parents: Option<Option<usize>>,
    children: Option<Option<usize>>,
    method: String,
    value: String,
}

/// A parsed `--select`/`--exclude` expression.
pub struct Selector {
    file: Arc<SourceFile>,
    /// A union of intersections.
    terms: Vec<Vec<Atom>>,
}

fn parse_depth(s: &str, span: &Span) -> Result<Option<usize>, Diagnostic> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<usize>().map(Some).map_err(|_| {
        Diagnostic::error(format!("invalid graph depth `{s}`"))
            .with_label(span, "expected a number of generations")
            .with_help("write e.g. `2+model` or `model+1`")
    })
}

impl Selector {
    /// Parse the words of `--select` (or `--exclude`); `flag` names it in errors.
    pub fn parse(flag: &str, words: &[String]) -> Result<Selector, Diagnostic> {
        let text = words.join(" ");
        let file = SourceFile::new(flag, text.clone());
        let mut terms = Vec::new();
        let mut offset = 0;
        for word in text.split(' ') {
            let word_start = offset;
            offset += word.len() + 1;
            if word.is_empty() {
                continue;
            }
            let mut atoms = Vec::new();
            let mut atom_offset = word_start;
            for part in word.split(',') {
                let start = atom_offset;
                atom_offset += part.len() + 1;
                let span = Span::new(&file, start, start + part.len());
                if part.is_empty() {
                    return Err(Diagnostic::error("empty selector")
                        .with_label(&span, "nothing between the commas")
                        .with_help(
                            "commas intersect two selectors: `tag:nightly,path:models/marts`",
                        ));
                }
                atoms.push(parse_atom(part, start, &span)?);
            }
            terms.push(atoms);
        }
        Ok(Selector { file, terms })
    }

    /// The nodes the expression selects, and warnings for atoms that matched nothing.
    /// `changes` says how each node differs from `--state` (for `state:` atoms).
    pub fn evaluate(
        &self,
        dag: &Dag,
        changes: Option<&HashMap<NodeIndex, Changes>>,
        warnings: &mut Vec<Diagnostic>,
    ) -> Result<HashSet<NodeIndex>, Diagnostic> {
        let mut union = HashSet::new();
        for term in &self.terms {
            let mut intersection: Option<HashSet<NodeIndex>> = None;
            for atom in term {
                let matched = self.evaluate_atom(dag, atom, changes)?;
                intersection = Some(match intersection {
                    None => matched,
                    Some(acc) => acc.intersection(&matched).copied().collect(),
                });
            }
            let matched = intersection.unwrap_or_default();
            // dbt warns once per space-separated term that selects nothing.
            if let (true, Some(first), Some(last)) = (matched.is_empty(), term.first(), term.last())
            {
                let span = Span::new(&self.file, first.span.0, last.span.1);
                let names: Vec<&str> = dag.nodes.iter().map(|n| n.name.as_str()).collect();
                let help = suggestion_help(&first.value, names.iter().copied(), || {
                    "`sluice ls` lists every node; a folder selects by its path under the \
                     model folder (`marts`, `marts.revenue`) or `path:models/marts`"
                        .to_owned()
                });
                warnings.push(
                    Diagnostic::warning(format!(
                        "The selection criterion '{}' does not match any enabled nodes",
                        span.text()
                    ))
                    .with_event(crate::diagnostics::event::NO_NODES_FOR_SELECTION_CRITERIA)
                    .with_label(&span, "matches nothing")
                    .with_help(help),
                );
            }
            union.extend(matched);
        }
        Ok(union)
    }

    fn evaluate_atom(
        &self,
        dag: &Dag,
        atom: &Atom,
        changes: Option<&HashMap<NodeIndex, Changes>>,
    ) -> Result<HashSet<NodeIndex>, Diagnostic> {
        let span = Span::new(&self.file, atom.span.0, atom.span.1);
        let mut base = HashSet::new();
        if atom.method == "state" {
            let Some(changes) = changes else {
                return Err(Diagnostic::error("`state:` selectors need --state DIR")
                    .with_label(&span, "compares with another run")
                    .with_help("add `--state <the target folder of the run to compare with>`, e.g. `--state prod-artifacts/`"));
            };
            if Changes::default().matches(&atom.value).is_none() {
                return Err(Diagnostic::error(format!(
                    "unknown state selector `state:{}`",
                    atom.value
                ))
                .with_label(&span, "here")
                .with_help(suggestion_help(&atom.value, Changes::VALUES, || {
                    format!("use one of: {}", Changes::VALUES.join(", "))
                })));
            }
            for (idx, c) in changes {
                if c.matches(&atom.value) == Some(true) {
                    base.insert(*idx);
                }
            }
        } else {
            for idx in dag.graph.node_indices() {
                if matches(dag, idx, &atom.method, &atom.value, &span)? {
                    base.insert(idx);
                }
            }
        }
        let mut out = base.clone();
        for &idx in &base {
            if let Some(depth) = atom.parents {
                out.extend(dag.ancestors(idx, depth));
            }
            if let Some(depth) = atom.children {
                out.extend(dag.descendants(idx, depth));
            }
            if atom.at {
                for d in dag.descendants(idx, None) {
                    out.insert(d);
                    out.extend(dag.ancestors(d, None));
                }
            }
        }
        Ok(out)
    }
}

fn parse_atom(part: &str, start: usize, span: &Span) -> Result<Atom, Diagnostic> {
    let mut s = part;
    let mut at = false;
    if let Some(rest) = s.strip_prefix('@') {
        at = true;
        s = rest;
    }
    let mut parents = None;
    if let Some(plus) = s.find('+') {
        let prefix = &s[..plus];
        if prefix.chars().all(|c| c.is_ascii_digit()) {
            parents = Some(parse_depth(prefix, span)?);
            s = &s[plus + 1..];
        }
    }
    let mut children = None;
    if let Some(plus) = s.rfind('+') {
        let suffix = &s[plus + 1..];
        if suffix.chars().all(|c| c.is_ascii_digit()) {
            children = Some(parse_depth(suffix, span)?);
            s = &s[..plus];
        }
    }
    if at && (parents.is_some() || children.is_some()) {
        return Err(Diagnostic::error("`@` cannot be combined with `+`")
            .with_label(span, "here")
            .with_help("`@model` already includes the model's descendants and their parents"));
    }
    let (method, value) = match s.split_once(':') {
        Some((m, v)) => {
            let known = METHODS.contains(&m) || m.starts_with("config.");
            if !known {
                let help = suggestion_help(m, METHODS.iter().copied(), || {
                    format!("selector methods are: {}", METHODS.join(", "))
                });
                let m_span = Span::new(
                    &span.file,
                    start + part.find(m).unwrap_or(0),
                    start + part.find(m).unwrap_or(0) + m.len(),
                );
                return Err(Diagnostic::error(format!("unknown selector method `{m}`"))
                    .with_label(&m_span, "unknown method")
                    .with_help(help));
            }
            (m.to_owned(), v.to_owned())
        }
        None if s.contains('/') || s.ends_with(".sql") || s.ends_with(".csv") => {
            ("path".to_owned(), s.to_owned())
        }
        None => ("fqn".to_owned(), s.to_owned()),
    };
    if value.contains('+') {
        return Err(Diagnostic::error(format!("invalid graph operator in `{part}`"))
            .with_label(span, "`+` can only start or end a selector")
            .with_help("write `+model` (parents), `model+` (children), or with a depth: `2+model`, `model+1`"));
    }
    if value.is_empty() {
        return Err(Diagnostic::error("selector has no value")
            .with_label(span, "nothing to match")
            .with_help("write e.g. `tag:nightly` or a model name"));
    }
    Ok(Atom {
        span: (start, start + part.len()),
        at,
        parents,
        children,
        method,
        value,
    })
}

/// dbt's `QualifiedNameSelectorMethod` (dbt-core 1.11's `is_selected_node`): the
/// selector matches the node's FQN with its package name in front, or without it
/// (so `marts`, `gtm_analytics.marts` and `marts.revenue` select those folders).
/// A version of a model (`versioned`) has an FQN ending in the model's name and
/// `v<version>`: the model's name selects every version, `name.v2` and `name_v2`
/// that one.
pub(crate) fn fqn_matches_node(fqn: &[String], selector: &str, versioned: bool) -> bool {
    selected_node(fqn, selector, versioned)
        || fqn
            .get(1..)
            .is_some_and(|rest| selected_node(rest, selector, versioned))
}

fn selected_node(fqn: &[String], selector: &str, versioned: bool) -> bool {
    let Some(last) = fqn.last() else {
        return false;
    };
    // A version's "leaf" is its model's name (the FQN's last part is `v2`).
    let leaf = match fqn.len() {
        n if versioned && n >= 2 => &fqn[n - 2],
        _ => last,
    };
    if versioned {
        let parts: Vec<&str> = selector.split('.').collect();
        let tail = &parts[parts.len().saturating_sub(2)..];
        if leaf == selector || format!("{leaf}_{last}") == tail.join("_") {
            return true;
        }
    } else if leaf == selector {
        return true;
    }
    // Dots in node names act as namespace separators, as in dbt.
    let flat: Vec<&str> = fqn.iter().flat_map(|s| s.split('.')).collect();
    let parts: Vec<&str> = selector.split('.').collect();
    if flat.len() < parts.len() {
        return false;
    }
    for (i, part) in parts.iter().enumerate() {
        if part.contains(['*', '?', '[', ']']) {
            // From the first wildcard on, the rest of the FQN is matched as one
            // dotted string; a bare wildcard also matches the node's own name.
            return glob(&parts[i..].join("."), &flat[i..].join("."))
                || (!selector.contains('.') && glob(selector, leaf));
        }
        if flat[i] != *part {
            return false;
        }
    }
    true
}

/// Python's `fnmatch` (case-sensitive, as on POSIX): `*`, `?`, `[seq]`, `[!seq]`;
/// `*` crosses dots.
fn glob(pattern: &str, text: &str) -> bool {
    if !pattern.contains(['*', '?', '[']) {
        return pattern == text;
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Backtracking over the last `*` only: linear in practice, like fnmatch's regex.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        let step = (pi < p.len()).then(|| one_char(&p[pi..], t[ti])).flatten();
        if let Some(len) = step {
            pi += len;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// If the pattern's first element (not `*`) matches `c`, how many pattern chars it
/// used.
fn one_char(p: &[char], c: char) -> Option<usize> {
    match p[0] {
        '*' => None,
        '?' => Some(1),
        '[' => {
            // fnmatch: `[` without a closing `]` is a literal `[`; a `]` right after
            // `[` or `[!` is part of the set.
            let negate = p.get(1) == Some(&'!');
            let first = if negate { 2 } else { 1 };
            let close = (first + 1..p.len()).find(|&i| p[i] == ']');
            let Some(close) = close else {
                return (c == '[').then_some(1);
            };
            let set = &p[first..close];
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            (hit != negate).then_some(close + 1)
        }
        other => (other == c).then_some(1),
    }
}

fn matches(
    dag: &Dag,
    idx: NodeIndex,
    method: &str,
    value: &str,
    span: &Span,
) -> Result<bool, Diagnostic> {
    let node = dag.node(idx);
    Ok(match method {
        // dbt's FQN method skips sources (`source:` selects them).
        "fqn" => {
            node.resource_type != ResourceType::Source
                && fqn_matches_node(&node.fqn, value, node.version.is_some())
        }
        // dbt's `VersionSelectorMethod`: models only.
        "version" => {
            let v = node
                .version
                .as_deref()
                .filter(|_| node.resource_type == ResourceType::Model);
            match value {
                "latest" => v.is_some_and(|v| v.is_latest()),
                "prerelease" => v.is_some_and(|v| v.is_prerelease()),
                "old" => v.is_some_and(|v| v.is_old()),
                "none" => node.resource_type == ResourceType::Model && v.is_none(),
                other => {
                    return Err(Diagnostic::error(format!(
                        "Invalid version type selector {other}: expected one of: \"latest\", \"prerelease\", \"old\", or \"none\""
                    ))
                    .with_label(span, "unknown version type")
                    .with_help(suggestion_help(other, ["latest", "prerelease", "old", "none"], || {
                        "use version:latest, version:prerelease, version:old or version:none".to_owned()
                    })))
                }
            }
        }
        "package" => value == node.fqn[0],
        // dbt's `exposure:name` (or `exposure:package.name`).
        "exposure" => {
            node.resource_type == ResourceType::Exposure
                && match value.split_once('.') {
                    Some((p, n)) => glob(p, node.package_name()) && glob(n, &node.name),
                    None => glob(value, &node.name),
                }
        }
        // Tests carry the group of the node they test (render::exposures).
        "group" => node.config.get_str("group").is_some_and(|g| glob(value, g)),
        // As in dbt, an unknown access level matches nothing (and `ls` says so).
        "access" => {
            crate::render::exposures::access_of(node) == Some(value)
        }
        "tag" => node.tags().iter().any(|t| glob(value, t)),
        "path" | "file" => {
            let path = node.original_file_path.to_string_lossy().replace('\\', "/");
            let v = value.trim_end_matches('/');
            if method == "file" {
                let file_name = node
                    .original_file_path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                glob(v, &file_name)
            } else {
                path == v || path.starts_with(&format!("{v}/")) || glob(v, &path)
            }
        }
        "resource_type" => {
            let known = [
                "model",
                "seed",
                "snapshot",
                "test",
                "unit_test",
                "source",
                "exposure",
            ];
            if !known.contains(&value) {
                return Err(
                    Diagnostic::error(format!("unknown resource type `{value}`"))
                        .with_label(span, "here")
                        .with_help(suggestion_help(value, known, || {
                            "use model, seed, snapshot, test, unit_test, source or exposure".to_owned()
                        })),
                );
            }
            node.resource_type.as_str() == value
        }
        "source" => {
            node.resource_type == ResourceType::Source
                && match value.split_once('.') {
                    Some((s, t)) => node.source_name.as_deref() == Some(s) && glob(t, &node.name),
                    None => node.source_name.as_deref().is_some_and(|s| glob(value, s)),
                }
        }
        "test_type" => match value {
            "generic" | "schema" => node.generic_test.as_ref().is_some_and(|t| !t.is_assertion),
            "assertion" => node.generic_test.as_ref().is_some_and(|t| t.is_assertion),
            "unit" => node.resource_type == ResourceType::UnitTest,
            "singular" | "data" => {
                node.resource_type == ResourceType::Test && node.generic_test.is_none()
            }
            other => {
                return Err(Diagnostic::error(format!("unknown test type `{other}`"))
                    .with_label(span, "here")
                    .with_help("use test_type:generic, test_type:singular, test_type:unit or test_type:assertion"))
            }
        },
        "test_name" => node
            .generic_test
            .as_ref()
            .is_some_and(|t| glob(value, &t.test_name)),
        m => {
            let key = m.strip_prefix("config.").unwrap_or(m);
            let found = if key == "materialized" {
                Some(Json::from(node.materialized()))
            } else {
                node.config.get(key).cloned()
            };
            match found {
                Some(Json::String(s)) => glob(value, &s),
                Some(Json::Array(items)) => items
                    .iter()
                    .any(|i| i.as_str().is_some_and(|s| glob(value, s))),
                // Booleans and numbers compare by their YAML spelling.
                Some(other) => serde_json::to_string(&other).is_ok_and(|s| s == value),
                None => false,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{fqn_matches_node, glob};

    fn fqn_matches(fqn: &[String], selector: &str) -> bool {
        fqn_matches_node(fqn, selector, false)
    }

    #[test]
    fn glob_matches_like_fnmatch() {
        assert!(glob("stg_*", "stg_accounts"));
        assert!(!glob("stg_*", "fct_mrr"));
        assert!(glob("*_mrr", "fct_mrr"));
        assert!(glob("f?t_*", "fct_mrr"));
        assert!(glob("exact", "exact"));
        assert!(glob("[ms]ta*", "staging.stg_a"));
        assert!(!glob("[ms]ta*", "marts.x"));
        assert!(glob("[!x]ab", "cab"));
        assert!(glob("a[b", "a[b"));
        assert!(glob("m*s.r*", "marts.revenue.fct_arr"));
    }

    /// Each case checked by hand with dbt-core 1.11.16 (`dbt ls -s ...`) on a
    /// project `scratch` with models/marts/revenue/fct_arr.sql and
    /// models/staging/stg_a.sql.
    #[test]
    fn fqn_matches_as_dbt_does() {
        let arr: Vec<String> = ["scratch", "marts", "revenue", "fct_arr"]
            .map(String::from)
            .to_vec();
        let stg: Vec<String> = ["scratch", "staging", "stg_a"].map(String::from).to_vec();
        for (selector, want_arr, want_stg) in [
            ("marts", true, false),
            ("scratch.marts", true, false),
            ("marts.revenue", true, false),
            ("revenue", false, false),
            ("marts.*", true, false),
            ("scratch.marts.rev*", true, false),
            ("*arr", true, false),
            ("fct_arr", true, false),
            ("scratch", true, true),
            ("mar*", true, false),
            ("stg_*", false, true),
            ("fct_ar?", true, false),
            ("marts.revenue.fct_arr", true, false),
            ("scratch.fct_arr", false, false),
            ("marts.fct_arr", false, false),
            ("[ms]ta*", false, true),
        ] {
            assert_eq!(
                fqn_matches(&arr, selector),
                want_arr,
                "{selector} vs fct_arr"
            );
            assert_eq!(fqn_matches(&stg, selector), want_stg, "{selector} vs stg_a");
        }
    }

    /// Checked with dbt-core 1.11.16 on tests/fixtures/versions.
    #[test]
    fn versions_match_as_dbt_does() {
        let v1: Vec<String> = ["versions", "marts", "dim_customers", "v1"]
            .map(String::from)
            .to_vec();
        for (selector, want) in [
            ("dim_customers", true),
            ("dim_customers.v1", true),
            ("dim_customers_v1", true),
            ("dim_customers.v2", false),
            ("marts.dim_customers", true),
            ("versions.dim_customers.v1", true),
            ("dim_*", true),
            ("v1", false),
        ] {
            assert_eq!(fqn_matches_node(&v1, selector, true), want, "{selector}");
        }
    }
}
