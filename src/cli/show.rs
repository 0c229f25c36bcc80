//! `sluice show -s model --limit N`: compile one model (or `--inline` SQL) and print
//! its first rows.

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
    #[arg(
        short = 's',
        long = "select",
        value_name = "MODEL",
        required_unless_present = "inline",
        conflicts_with = "inline"
    )]
    pub select: Option<String>,
    /// Preview this SQL instead (Jinja, refs and macros resolved):
    /// --inline "select * from {{ ref('orders') }}"
    #[arg(long, value_name = "SQL")]
    pub inline: Option<String>,
    /// How many rows to print
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
}

pub fn run(args: &ShowArgs) -> Result<Outcome, Diagnostics> {
    let mut loaded = invocation::load(&args.common.options(), "show")?;
    let (sql, name) = match (&args.inline, &args.select) {
        (Some(inline), _) => {
            let sql = loaded.compile_inline(inline);
            super::emit_warnings(&loaded.warnings)?;
            (sql?, "the --inline SQL".to_owned())
        }
        (None, Some(select)) => model_sql(&mut loaded, select)?,
        // clap requires one of the two.
        (None, None) => return Err(Diagnostic::error("show needs -s MODEL or --inline SQL").into()),
    };
    let adapter = loaded.adapter()?;
    let mut session = adapter.session().map_err(|e| Diagnostic::error(e.0))?;
    let rows = session
        .query(&format!(
            "select * from (\n{sql}\n) as sluice_show limit {}",
            args.limit
        ))
        .map_err(|e| Diagnostic::error(format!("{name} failed in the warehouse: {}", e.0)))?;
    // Integer columns stay as written (ids, years), as dbt's `show` leaves them.
    let table = crate::output::table::human(&rows, &|_| false);
    crate::output::result(
        crate::output::Event::new(
            "ShowNode",
            crate::output::Level::Info,
            table.trim_end().to_owned(),
        )
        .with_data(serde_json::json!({
            "node_name": name, "preview": table, "is_inline": args.inline.is_some(),
            "output_format": "text", "quiet": crate::output::quiet(),
        })),
    );
    Ok(Outcome::Success)
}

/// The SQL of the one model or seed `select` names, and its name.
fn model_sql(
    loaded: &mut invocation::Loaded,
    select: &str,
) -> Result<(String, String), Diagnostics> {
    let selected = loaded.select(
        &[select.to_owned()],
        &[],
        &[ResourceType::Model, ResourceType::Seed],
        IndirectSelection::Empty,
    )?;
    super::emit_warnings(&loaded.warnings)?;
    let mut nodes: Vec<_> = selected.iter().copied().collect();
    nodes.sort();
    let [idx] = nodes.as_slice() else {
        return Err(Diagnostic::error(format!(
            "`show` previews one model, but `{select}` selects {}",
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
    Ok((sql, format!("model `{}`", node.name)))
}
