//! `sluice ls`: the selected nodes, as names, paths or JSON.

use clap::{Args, ValueEnum};

use super::{Outcome, SelectArgs};
use crate::diagnostics::Diagnostics;
use crate::graph::select::IndirectSelection;
use crate::render::parse::ResourceType;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LsOutput {
    Name,
    Path,
    Json,
    Selector,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// What to print for each node
    #[arg(long, short = 'o', value_enum, default_value = "selector")]
    pub output: LsOutput,
    /// Only these resource types
    #[arg(long = "resource-type", value_name = "TYPE")]
    pub resource_type: Vec<String>,
}

pub fn run(args: &LsArgs) -> Result<Outcome, Diagnostics> {
    let mut loaded = args.select.load("ls")?;
    let all = [
        ResourceType::Seed,
        ResourceType::Model,
        ResourceType::Snapshot,
        ResourceType::Test,
        ResourceType::UnitTest,
        ResourceType::Source,
    ];
    let types: Vec<ResourceType> = all
        .into_iter()
        .filter(|t| {
            args.resource_type.is_empty() || args.resource_type.iter().any(|r| r == t.as_str())
        })
        .collect();
    let selected = loaded.select(
        &args.select.select,
        &args.select.exclude,
        &types,
        args.select.indirect(IndirectSelection::Eager),
    )?;
    super::emit_warnings(&loaded.warnings)?;
    let mut nodes: Vec<_> = selected.iter().map(|i| loaded.dag.node(*i)).collect();
    nodes.sort_by(|a, b| a.unique_id.cmp(&b.unique_id));
    for n in nodes {
        let line = match args.output {
            LsOutput::Name => n.name.clone(),
            LsOutput::Path => n.original_file_path.display().to_string(),
            LsOutput::Selector => n.fqn.join("."),
            LsOutput::Json => serde_json::json!({
                "name": n.name,
                "resource_type": n.resource_type.as_str(),
                "unique_id": n.unique_id,
                "original_file_path": n.original_file_path.display().to_string(),
                "config": {"materialized": n.materialization.as_str(), "tags": n.tags()},
                "depends_on": {"nodes": loaded.dag.by_id.get(&n.unique_id).map(|i| loaded.dag.parents(*i).map(|p| loaded.dag.node(p).unique_id.clone()).collect::<Vec<_>>()).unwrap_or_default()},
            })
            .to_string(),
        };
        crate::output::println(&line);
    }
    Ok(Outcome::Success)
}
