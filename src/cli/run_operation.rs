//! `sluice run-operation MACRO [--args '{...}']`: call one macro against the
//! target's warehouse (see [`crate::execute::operation`]), write run_results.json
//! and manifest.json. Exit 1 when the macro raises or its SQL fails, 2 when the
//! macro does not exist or the arguments are not a mapping, as dbt-core.

use std::collections::{BTreeMap, HashMap};

use clap::Args;

use super::{emit_warnings, print_diagnostics, CommonArgs, Outcome};
use crate::diagnostics::Diagnostics;
use crate::execute::{operation, Reporter};

#[derive(Args, Debug)]
pub struct RunOperationArgs {
    /// The macro to call: `name`, or `package.name` for a package's macro
    #[arg(value_name = "MACRO")]
    pub macro_name: String,
    /// The macro's keyword arguments as YAML: --args '{table: orders, days: 7}'
    #[arg(long, value_name = "YAML")]
    pub args: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(a: &RunOperationArgs) -> Result<Outcome, Diagnostics> {
    let started = std::time::Instant::now();
    let args = operation::parse_args(a.args.as_deref())?;
    let loaded = crate::invocation::load(&a.common.options(), "run-operation")?;
    emit_warnings(&loaded.warnings)?;
    let def = operation::find_macro(&loaded.renderer, &a.macro_name)?;
    let adapter = loaded.adapter()?;
    let shared = loaded.render_shared();
    let outcome = operation::run(&loaded.renderer, &shared, adapter.as_ref(), def, args);
    // DuckDB's checkpoint; a failure here only delays it to the next run.
    let _ = adapter.finish();
    let elapsed = started.elapsed().as_secs_f64();
    loaded.write_run_results(&[outcome.result], elapsed, &BTreeMap::new())?;
    loaded.write_manifest(&HashMap::new())?;
    match outcome.error {
        Some(d) => {
            let reporter = Reporter::new();
            reporter.info(&format!(
                "Encountered an error while running operation `{}`",
                a.macro_name
            ));
            print_diagnostics(&[d]);
            Ok(Outcome::Failure)
        }
        None => Ok(Outcome::Success),
    }
}
