//! Graph stage: parsed nodes → a petgraph DAG, and node selection on it.
//!
//! Edges run from a dependency to its dependent. Building the graph is where an
//! unknown `ref`/`source` is reported (at its call, with the nearest name) and where
//! a cycle is reported (every node of it, in order).

pub mod access;
pub mod select;
pub mod state;

use std::collections::{HashMap, HashSet};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::diagnostics::{suggestion_help, Diagnostic, Diagnostics};
use crate::render::parse::{split_ref_key, DependencyTarget, ParsedNode, ResourceType};

pub struct Dag {
    pub nodes: Vec<ParsedNode>,
    pub graph: DiGraph<usize, ()>,
    pub by_id: HashMap<String, NodeIndex>,
    /// Model and seed names → unique_id (what `ref` resolves).
    pub by_name: HashMap<String, String>,
}

/// dbt's error for a ref to a version that does not exist (or to a model
/// without versions), at the call.
fn unknown_version(node: &ParsedNode, key: &str, at: &crate::diagnostics::Span) -> Diagnostic {
    let (name, version) = split_ref_key(key);
    let version = version.unwrap_or_default();
    let what = match node.resource_type {
        ResourceType::Seed => "Seed",
        ResourceType::Snapshot => "Snapshot",
        ResourceType::Test => "Test",
        ResourceType::UnitTest => "Unit test",
        _ => "Model",
    };
    Diagnostic::error(format!(
        "{what} '{}' ({}) depends on a node named '{name}' with version '{version}' which was not found",
        node.unique_id,
        node.original_file_path.display()
    ))
    .with_label(at, "no such version")
    .with_help(format!(
        "pin one of the versions listed under `versions:` of model `{name}`, or write `ref('{name}')` for its latest version"
    ))
}

/// dbt's error for an exposure's ref to a node that does not exist, at the call.
fn unknown_node(node: &ParsedNode, name: &str, at: &crate::diagnostics::Span) -> Diagnostic {
    Diagnostic::error(format!(
        "Exposure '{}' ({}) depends on a node named '{name}' which was not found",
        node.unique_id,
        node.original_file_path.display()
    ))
    .with_label(at, "unknown ref")
    .with_help("create the model, or fix the name in ref()")
}

impl Dag {
    pub fn build(nodes: Vec<ParsedNode>) -> Result<Dag, Diagnostics> {
        let mut graph = DiGraph::with_capacity(nodes.len(), nodes.len() * 2);
        let mut by_id = HashMap::with_capacity(nodes.len());
        let mut by_name = HashMap::new();
        let mut sources = HashMap::new();
        for (i, n) in nodes.iter().enumerate() {
            let idx = graph.add_node(i);
            by_id.insert(n.unique_id.clone(), idx);
            match n.resource_type {
                ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot => {
                    for key in n.ref_keys() {
                        by_name.insert(key, n.unique_id.clone());
                    }
                }
                ResourceType::Source => {
                    if let Some(s) = &n.source_name {
                        sources.insert((s.clone(), n.name.clone()), n.unique_id.clone());
                    }
                }
                ResourceType::Test | ResourceType::UnitTest | ResourceType::Exposure => {}
            }
        }
        let mut errors = Vec::new();
        let mut edges = HashSet::new();
        for (i, n) in nodes.iter().enumerate() {
            for dep in &n.depends_on {
                let found = match &dep.target {
                    DependencyTarget::Ref(key) if split_ref_key(key).1.is_some() => by_name
                        .get(key)
                        .ok_or_else(|| unknown_version(n, key, &dep.span)),
                    DependencyTarget::Ref(name) if n.resource_type == ResourceType::Exposure => {
                        by_name
                            .get(name)
                            .ok_or_else(|| unknown_node(n, name, &dep.span))
                    }
                    DependencyTarget::Ref(name) => by_name.get(name).ok_or_else(|| {
                        let help =
                            suggestion_help(name, by_name.keys().map(String::as_str), || {
                                "create the model, or fix the name in ref()".to_owned()
                            });
                        Diagnostic::error(format!(
                            "`{}` refers to `{name}`, which is not a model, seed or snapshot",
                            n.name
                        ))
                        .with_label(&dep.span, "unknown ref")
                        .with_help(help)
                    }),
                    DependencyTarget::Source(s, t) => {
                        sources.get(&(s.clone(), t.clone())).ok_or_else(|| {
                            let names: Vec<String> =
                                sources.keys().map(|(a, b)| format!("{a}.{b}")).collect();
                            let wanted = format!("{s}.{t}");
                            let help =
                                suggestion_help(&wanted, names.iter().map(String::as_str), || {
                                    "declare it under `sources:` in a YAML properties file"
                                        .to_owned()
                                });
                            Diagnostic::error(format!(
                                "`{}` uses source `{s}.{t}`, which is not defined",
                                n.name
                            ))
                            .with_label(&dep.span, "unknown source")
                            .with_help(help)
                        })
                    }
                };
                match found {
                    Ok(id) => {
                        let from = by_id[id];
                        let to = NodeIndex::new(i);
                        if edges.insert((from, to)) {
                            graph.add_edge(from, to, ());
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        // A model waits for its unit tests: `build` runs them first and skips the
        // model when one fails. A unit test waits for its model's parents, as in
        // dbt: on Snowflake and BigQuery its inputs are typed from them.
        for (i, n) in nodes.iter().enumerate() {
            if let Some(model) = n.unit_test.as_ref().and_then(|u| by_id.get(&u.model_id)) {
                let parents: Vec<NodeIndex> = graph
                    .neighbors_directed(*model, petgraph::Direction::Incoming)
                    .filter(|p| nodes[graph[*p]].resource_type != ResourceType::UnitTest)
                    .collect();
                let test = NodeIndex::new(i);
                for p in parents {
                    graph.update_edge(p, test, ());
                }
                graph.add_edge(test, *model, ());
            }
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let dag = Dag {
            nodes,
            graph,
            by_id,
            by_name,
        };
        dag.check_cycles()?;
        Ok(dag)
    }

    /// dbt's deprecation warnings for versions with a `deprecation_date`: one
    /// for a version past it, and one for each model that refs such a version
    /// (at its ref).
    pub fn deprecation_warnings(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<Diagnostic> {
        use crate::diagnostics::event;
        let mut out = Vec::new();
        for idx in self.graph.node_indices() {
            let node = self.node(idx);
            let Some((v, date)) = node
                .version
                .as_deref()
                .and_then(|v| Some((v, v.deprecation_date.as_deref()?)))
            else {
                continue;
            };
            let past = chrono::DateTime::parse_from_rfc3339(date).is_ok_and(|d| d < now);
            let name = format!("{}.v{}", node.name, v.text);
            if past {
                out.push(
                    Diagnostic::warning(format!(
                        "Model {name} has passed its deprecation date of {date}. This model should be disabled or removed."
                    ))
                    .with_event(event::DEPRECATED_MODEL)
                    .with_label(&node.span, "deprecated")
                    .with_help("disable or remove this version, once nothing refs it"),
                );
            }
            let keys = node.ref_keys();
            let mut children: Vec<NodeIndex> = self
                .graph
                .neighbors_directed(idx, Direction::Outgoing)
                .filter(|c| self.node(*c).resource_type == ResourceType::Model)
                .collect();
            children.sort_by_key(|c| &self.node(*c).unique_id);
            children.dedup();
            for c in children {
                let child = self.node(c);
                let span = child
                    .depends_on
                    .iter()
                    .find(|d| matches!(&d.target, DependencyTarget::Ref(k) if keys.contains(k)))
                    .map_or(&child.span, |d| &d.span);
                let (what, event_name, coda) = if past {
                    (
                        "which was deprecated on",
                        event::DEPRECATED_REFERENCE,
                        "Migrate now",
                    )
                } else {
                    (
                        "which is slated for deprecation on",
                        event::UPCOMING_REFERENCE_DEPRECATION,
                        "Try it out",
                    )
                };
                let mut message = format!(
                    "While compiling '{}': Found a reference to {name}, {what} '{date}'. ",
                    child.name
                );
                if !v.is_latest() {
                    message.push_str(&format!(
                        "A new version of '{}' is available. {coda}: {{{{ ref('{}', '{}', v='{}') }}}}.",
                        node.name,
                        node.package_name(),
                        node.name,
                        v.latest_text
                    ));
                }
                out.push(
                    Diagnostic::warning(message.trim_end().to_owned())
                        .with_event(event_name)
                        .with_label(span, "refs a deprecated version")
                        .with_help(if v.is_latest() {
                            format!("move `{}` off this version before the date", child.name)
                        } else {
                            format!("ref the latest version: `ref('{}')`", node.name)
                        }),
                );
            }
        }
        out
    }

    fn check_cycles(&self) -> Result<(), Diagnostics> {
        let mut errors = Vec::new();
        for scc in tarjan_scc(&self.graph) {
            let self_loop = scc.len() == 1 && self.graph.contains_edge(scc[0], scc[0]);
            if scc.len() < 2 && !self_loop {
                continue;
            }
            let cycle = self.cycle_path(&scc);
            let names: Vec<&str> = cycle.iter().map(|i| self.node(*i).name.as_str()).collect();
            let mut listing = names.join(" → ");
            listing.push_str(" → ");
            listing.push_str(names[0]);
            let mut d = Diagnostic::error(format!("dependency cycle: {listing}"));
            for (k, idx) in cycle.iter().enumerate() {
                let next = cycle[(k + 1) % cycle.len()];
                let node = self.node(next);
                let dep_name = &self.node(*idx).name;
                let span = node
                    .depends_on
                    .iter()
                    .find(|d| matches!(&d.target, DependencyTarget::Ref(r) if r == dep_name))
                    .map_or(node.span.clone(), |d| d.span.clone());
                d = d.with_label(&span, format!("`{}` depends on `{dep_name}`", node.name));
            }
            errors.push(d.with_help("remove one of these refs to break the cycle"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.into())
        }
    }

    /// One cycle through the strongly connected component, in dependency order.
    fn cycle_path(&self, scc: &[NodeIndex]) -> Vec<NodeIndex> {
        let members: HashSet<NodeIndex> = scc.iter().copied().collect();
        let start = *scc
            .iter()
            .min_by_key(|i| &self.node(**i).name)
            .unwrap_or(&scc[0]);
        // Depth-first search for a path back to `start` within the component.
        let mut path = vec![start];
        let mut visited = HashSet::from([start]);
        fn dfs(
            dag: &Dag,
            members: &HashSet<NodeIndex>,
            start: NodeIndex,
            path: &mut Vec<NodeIndex>,
            visited: &mut HashSet<NodeIndex>,
        ) -> bool {
            let Some(&current) = path.last() else {
                return false;
            };
            let mut next: Vec<NodeIndex> = dag
                .graph
                .edges_directed(current, Direction::Outgoing)
                .map(|e| e.target())
                .filter(|t| members.contains(t))
                .collect();
            next.sort_by_key(|i| &dag.node(*i).name);
            for t in next {
                if t == start {
                    return true;
                }
                if visited.insert(t) {
                    path.push(t);
                    if dfs(dag, members, start, path, visited) {
                        return true;
                    }
                    path.pop();
                }
            }
            false
        }
        dfs(self, &members, start, &mut path, &mut visited);
        path
    }

    pub fn node(&self, idx: NodeIndex) -> &ParsedNode {
        &self.nodes[self.graph[idx]]
    }

    pub fn get(&self, unique_id: &str) -> Option<&ParsedNode> {
        self.by_id.get(unique_id).map(|i| self.node(*i))
    }

    pub fn parents(&self, idx: NodeIndex) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph.neighbors_directed(idx, Direction::Incoming)
    }

    pub fn children(&self, idx: NodeIndex) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph.neighbors_directed(idx, Direction::Outgoing)
    }

    /// Nodes in an order where every node follows its dependencies.
    pub fn topological(&self) -> Vec<NodeIndex> {
        // The graph was checked acyclic in `build`, so toposort cannot fail.
        petgraph::algo::toposort(&self.graph, None).unwrap_or_default()
    }

    /// Ancestors up to `depth` generations (`None` = all).
    pub fn ancestors(&self, idx: NodeIndex, depth: Option<usize>) -> HashSet<NodeIndex> {
        self.walk(idx, depth, Direction::Incoming)
    }

    pub fn descendants(&self, idx: NodeIndex, depth: Option<usize>) -> HashSet<NodeIndex> {
        self.walk(idx, depth, Direction::Outgoing)
    }

    fn walk(&self, idx: NodeIndex, depth: Option<usize>, dir: Direction) -> HashSet<NodeIndex> {
        let mut seen = HashSet::new();
        let mut frontier = vec![idx];
        let mut level = 0;
        while !frontier.is_empty() && depth.is_none_or(|d| level < d) {
            let mut next = Vec::new();
            for n in frontier {
                for m in self.graph.neighbors_directed(n, dir) {
                    if seen.insert(m) {
                        next.push(m);
                    }
                }
            }
            frontier = next;
            level += 1;
        }
        seen
    }
}
