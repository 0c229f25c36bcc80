//! `sluice show -s model --limit N`: compile one model and print its first rows.

use clap::Args;

use super::{CommonArgs, Outcome};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::execute::materialize::Compiled;
use crate::graph::select::IndirectSelection;
use crate::invocation;
use crate::render::parse::ResourceType;

#[derive(Args, Debug)]
pub struct ShowArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The model to preview
    #[arg(short = 's', long = "select", value_name = "MODEL")]
    pub select: String,
    /// How many rows to print
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
}

pub fn run(args: &ShowArgs) -> Result<Outcome, Diagnostics> {
    let mut loaded = invocation::load(&args.common.options(), "show")?;
    let selected = loaded.select(
        std::slice::from_ref(&args.select),
        &[],
        &[ResourceType::Model, ResourceType::Seed],
        IndirectSelection::Empty,
    )?;
    super::emit_warnings(&loaded.warnings)?;
    let mut nodes: Vec<_> = selected.iter().copied().collect();
    nodes.sort();
    let [idx] = nodes.as_slice() else {
        return Err(Diagnostic::error(format!(
            "`show` previews one model, but `{}` selects {}",
            args.select,
            nodes.len()
        ))
        .with_help("select a single model by name: sluice show -s my_model")
        .into());
    };
    let node = loaded.dag.node(*idx).clone();
    let sql = if node.resource_type == ResourceType::Seed {
        let dialect = crate::adapter::dialect(loaded.target_def.kind);
        format!(
            "select * from {}",
            node.relation
                .as_ref()
                .map(|r| dialect.render_relation(r))
                .unwrap_or_default()
        )
    } else {
        let mut compiled = loaded.compile(&selected)?;
        loaded.compile_late_now(&mut compiled)?;
        match compiled.get(idx) {
            Some(Compiled::Sql { sql, .. }) => sql.clone(),
            _ => return Err(Diagnostic::error("nothing to show").into()),
        }
    };
    let adapter = loaded.adapter()?;
    let mut session = adapter.session().map_err(|e| Diagnostic::error(e.0))?;
    let rows = session
        .query(&format!(
            "select * from (\n{sql}\n) as sluice_show limit {}",
            args.limit
        ))
        .map_err(|e| {
            Diagnostic::error(format!(
                "model `{}` failed in the warehouse: {}",
                node.name, e.0
            ))
        })?;
    crate::output::print(&crate::execute::report::format_table(&rows));
    Ok(Outcome::Success)
}
