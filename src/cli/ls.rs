//! `sluice ls` (and its dbt spelling `sluice list`): the selected nodes, as
//! selectors, names, paths or JSON.

use clap::{Args, ValueEnum};

use super::{Outcome, SelectArgs};
use crate::diagnostics::{event, Diagnostic, Diagnostics};
use crate::graph::select::IndirectSelection;
use crate::render::parse::{ParsedNode, ResourceType};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LsOutput {
    Name,
    Path,
    Json,
    Selector,
}

/// A `--resource-type` value: dbt's choices, including the kinds sluice does not
/// list, so that asking for one is a warning rather than a command-line error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ResourceTypeArg {
    Model,
    Seed,
    Snapshot,
    Test,
    UnitTest,
    Source,
    Analysis,
    Exposure,
    Metric,
    SemanticModel,
    SavedQuery,
    Function,
    /// Every type `ls` lists by default (all but analyses).
    Default,
    /// Every type.
    All,
}

impl ResourceTypeArg {
    /// The node type this value names, when sluice's graph holds such nodes.
    fn node_type(self) -> Option<ResourceType> {
        match self {
            ResourceTypeArg::Model => Some(ResourceType::Model),
            ResourceTypeArg::Seed => Some(ResourceType::Seed),
            ResourceTypeArg::Snapshot => Some(ResourceType::Snapshot),
            ResourceTypeArg::Test => Some(ResourceType::Test),
            ResourceTypeArg::UnitTest => Some(ResourceType::UnitTest),
            ResourceTypeArg::Source => Some(ResourceType::Source),
            ResourceTypeArg::Exposure => Some(ResourceType::Exposure),
            _ => None,
        }
    }
}

/// The node types `ls` lists when no `--resource-type` is given.
const LISTED: [ResourceType; 7] = [
    ResourceType::Seed,
    ResourceType::Model,
    ResourceType::Snapshot,
    ResourceType::Test,
    ResourceType::UnitTest,
    ResourceType::Source,
    ResourceType::Exposure,
];

#[derive(Args, Debug)]
pub struct LsArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// What to print for each node
    #[arg(long, short = 'o', value_enum, default_value = "selector")]
    pub output: LsOutput,
    /// Only these resource types (dbt's `--resource-types`; `default`, `all`)
    #[arg(
        long = "resource-type",
        visible_alias = "resource-types",
        value_name = "TYPE",
        value_enum,
        num_args = 1..,
        env = "DBT_RESOURCE_TYPES",
        value_delimiter = ' '
    )]
    pub resource_type: Vec<ResourceTypeArg>,
    /// Leave out these resource types
    #[arg(
        long = "exclude-resource-type",
        visible_alias = "exclude-resource-types",
        value_name = "TYPE",
        value_enum,
        num_args = 1..,
        env = "DBT_EXCLUDE_RESOURCE_TYPES",
        value_delimiter = ' '
    )]
    pub exclude_resource_type: Vec<ResourceTypeArg>,
}

/// The node types to list, as dbt's `resource_types_from_args` decides them, and a
/// warning for each requested type sluice has no nodes of.
fn listed_types(args: &LsArgs) -> (Vec<ResourceType>, Vec<Diagnostic>) {
    let mut warnings = Vec::new();
    let mut types: Vec<ResourceType> = if args.resource_type.is_empty() {
        LISTED.to_vec()
    } else {
        let mut types = Vec::new();
        for arg in &args.resource_type {
            match (arg, arg.node_type()) {
                (ResourceTypeArg::Default | ResourceTypeArg::All, _) => types.extend(LISTED),
                (_, Some(t)) => types.push(t),
                (_, None) => warnings.push(
                    Diagnostic::warning(format!(
                        "`sluice ls` does not list {} resources: sluice's graph has none",
                        arg.to_possible_value()
                            .map(|v| v.get_name().to_owned())
                            .unwrap_or_default()
                    ))
                    .with_event(event::RESOURCE_TYPE_NOT_LISTED)
                    .with_help("`sluice metrics list` lists the semantic layer's metrics"),
                ),
            }
        }
        types
    };
    let excluded: Vec<ResourceType> = args
        .exclude_resource_type
        .iter()
        .flat_map(|arg| match arg {
            ResourceTypeArg::Default | ResourceTypeArg::All => LISTED.to_vec(),
            other => other.node_type().into_iter().collect(),
        })
        .collect();
    types.retain(|t| !excluded.contains(t));
    types.dedup();
    (types, warnings)
}

/// How dbt's `ls` names a node in its default (selector) output.
fn selector(node: &ParsedNode) -> String {
    let fqn = node.fqn.join(".");
    match node.resource_type {
        // dbt: `source:<package>.<source>.<table>`, without the file's folders.
        ResourceType::Source => format!(
            "source:{}.{}.{}",
            node.package_name(),
            node.source_name.as_deref().unwrap_or_default(),
            node.name
        ),
        ResourceType::UnitTest => {
            // dbt: `unit_test:<package>.<test name>`, without the model's folders.
            let package = node.fqn.first().map(String::as_str).unwrap_or_default();
            format!("unit_test:{package}.{}", node.name)
        }
        ResourceType::Exposure => format!("exposure:{}.{}", node.package_name(), node.name),
        _ => fqn,
    }
}

pub fn run(args: &LsArgs) -> Result<Outcome, Diagnostics> {
    let mut loaded = args.select.load("ls")?;
    let (types, type_warnings) = listed_types(args);
    let selected = loaded.select(
        &args.select.select,
        &args.select.exclude,
        &types,
        args.select.indirect(IndirectSelection::Eager),
    )?;
    loaded.warnings.extend(type_warnings);
    if selected.is_empty() {
        loaded.warnings.push(
            Diagnostic::warning("No nodes selected!")
                .with_event(event::NO_NODES_SELECTED)
                .with_help("`sluice ls` with no selector lists every node"),
        );
    }
    super::emit_warnings(&loaded.warnings)?;
    let mut nodes: Vec<_> = selected.iter().map(|i| loaded.dag.node(*i)).collect();
    nodes.sort_by(|a, b| a.unique_id.cmp(&b.unique_id));
    for n in nodes {
        let line = match args.output {
            LsOutput::Name => n.search_name(),
            LsOutput::Path => n.original_file_path.display().to_string(),
            LsOutput::Selector => selector(n),
            LsOutput::Json => serde_json::json!({
                "name": n.name,
                "resource_type": n.resource_type.as_str(),
                "unique_id": n.unique_id,
                "original_file_path": n.original_file_path.display().to_string(),
                "config": {"materialized": n.materialized(), "tags": n.tags()},
                "depends_on": {"nodes": loaded.dag.by_id.get(&n.unique_id).map(|i| loaded.dag.parents(*i).map(|p| loaded.dag.node(p).unique_id.clone()).collect::<Vec<_>>()).unwrap_or_default()},
            })
            .to_string(),
        };
        crate::output::println(&line);
    }
    Ok(Outcome::Success)
}
