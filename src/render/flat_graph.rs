//! dbt's `graph` context variable: the manifest's flat graph (`graph.nodes`,
//! `graph.sources`, `graph.exposures`, ...), keyed by unique id, which packages
//! walk to find a node or a source by name (Fivetran's `does_table_exist` loops
//! over `graph.sources.values()`).
//!
//! dbt fills it once parsing is done, so a parse render sees an empty graph (its
//! keys undefined, as in dbt) and compile renders the whole one. sluice builds it
//! once per invocation from the nodes' manifest entries, and only for projects
//! whose templates mention `graph` at all: it costs a manifest's worth of values.

use std::sync::{Arc, OnceLock};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};

/// The `graph` global: empty until [`FlatGraph::set`] fills it.
#[derive(Debug, Default)]
pub struct FlatGraph {
    cell: OnceLock<Value>,
}

impl FlatGraph {
    /// Fill the graph (once: later calls keep the first value) with `build()`'s
    /// mapping of sections (`nodes`, `sources`, ...) to their entries.
    pub fn set(&self, build: impl FnOnce() -> serde_json::Value) {
        self.cell.get_or_init(|| Value::from_serialize(build()));
    }

    pub fn is_set(&self) -> bool {
        self.cell.get().is_some()
    }
}

impl Object for FlatGraph {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.cell
            .get()?
            .get_item(key)
            .ok()
            .filter(|v| !v.is_undefined())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.cell.get().and_then(|v| v.try_iter().ok()) {
            Some(keys) => Enumerator::Values(keys.collect()),
            None => Enumerator::Empty,
        }
    }
}

/// Whether a template's text uses the word `graph` (not `geography`): the
/// project needs the flat graph built.
pub fn mentions_graph(text: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    text.match_indices("graph").any(|(i, m)| {
        !word(text[..i].chars().next_back()) && !word(text[i + m.len()..].chars().next())
    })
}

/// The section of the flat graph a node of this resource type belongs to.
pub fn section(resource_type: super::parse::ResourceType) -> &'static str {
    use super::parse::ResourceType;
    match resource_type {
        ResourceType::Source => "sources",
        ResourceType::Exposure => "exposures",
        ResourceType::UnitTest => "unit_tests",
        _ => "nodes",
    }
}

/// The sections dbt's flat graph always has, empty or not.
pub const SECTIONS: &[&str] = &[
    "exposures",
    "groups",
    "metrics",
    "nodes",
    "saved_queries",
    "semantic_models",
    "sources",
    "unit_tests",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_word_graph_counts() {
        assert!(mentions_graph("{% for n in graph.nodes.values() %}"));
        assert!(mentions_graph("graph"));
        assert!(!mentions_graph("to_geography(x) and graphs and my_graph"));
    }

    #[test]
    fn empty_until_set_then_its_sections() {
        let g = Arc::new(FlatGraph::default());
        let v = Value::from_dyn_object(Arc::clone(&g));
        assert!(v.get_attr("nodes").expect("lookup").is_undefined());
        g.set(|| serde_json::json!({"nodes": {"model.p.a": {"name": "a"}}}));
        let a = v
            .get_attr("nodes")
            .expect("lookup")
            .get_item(&Value::from("model.p.a"));
        assert_eq!(
            a.expect("node").get_attr("name").expect("name").as_str(),
            Some("a")
        );
    }
}
