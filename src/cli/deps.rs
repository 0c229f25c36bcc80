//! `sluice deps`: install the packages of packages.yml / dependencies.yml into
//! packages-install-path and write package-lock.yml, as `dbt deps` does.

use clap::Args;

use super::{print_diagnostics, CommonArgs, Outcome};
use crate::deps::{self, DepsOptions, Reporter};
use crate::diagnostics::{Diagnostic, Diagnostics};

#[derive(Args, Debug, Clone)]
pub struct DepsArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Resolve the packages again and rewrite package-lock.yml, even when it matches
    #[arg(long)]
    pub upgrade: bool,
    /// Resolve the packages and write package-lock.yml without installing them
    #[arg(long)]
    pub lock: bool,
}

struct Printer;

impl Reporter for Printer {
    fn line(&mut self, text: &str) {
        crate::output::progress(text);
    }

    fn warning(&mut self, d: Diagnostic) {
        print_diagnostics(&[d]);
    }
}

pub fn run(args: &DepsArgs) -> Result<Outcome, Diagnostics> {
    let cli_vars = match &args.common.vars {
        Some(v) => crate::invocation::parse_cli_vars(v)?,
        None => Default::default(),
    };
    let opts = DepsOptions {
        project_dir: args.common.project_dir(),
        cli_vars,
        upgrade: args.upgrade,
        lock_only: args.lock,
    };
    deps::run(&opts, &mut Printer)?;
    Ok(Outcome::Success)
}
