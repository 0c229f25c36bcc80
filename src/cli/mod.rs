//! The command line (clap derive). Thin by design: each subcommand module parses
//! its flags, calls the library, and prints. Exit codes: 0 success, 1 a model or
//! test failed, 2 the project or the command line is invalid.

mod clean;
mod compile;
mod debug;
mod deps;
mod init;
mod ls;
mod metrics;
mod retry;
mod run;
mod run_operation;
mod show;
mod source;
mod warn_error;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::graph::select::IndirectSelection;
use crate::invocation::Options;

#[derive(Parser, Debug)]
#[command(
    name = "sluice",
    version,
    about = "A dbt-style SQL transformation compiler"
)]
pub struct Cli {
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// How sluice reports, as dbt's global flags (before or after the subcommand).
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Print only errors and what the command prints as its result (`ls`'s lines)
    #[arg(short = 'q', long, global = true, env = "DBT_QUIET")]
    pub quiet: bool,
    /// The folder of the log file sluice.log [default: logs/ in the project]
    #[arg(long, global = true, env = "DBT_LOG_PATH", value_name = "DIR")]
    pub log_path: Option<PathBuf>,
    /// Console output: text, debug (timestamped lines) or json (one event per line)
    #[arg(
        long,
        global = true,
        value_enum,
        env = "DBT_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormatArg,
    /// The log file's format [default: debug, as dbt's]
    #[arg(long, global = true, value_enum, env = "DBT_LOG_FORMAT_FILE")]
    pub log_format_file: Option<LogFormatArg>,
}

impl OutputArgs {
    /// The reporter's settings; `project_dir` holds `logs/` unless --log-path says.
    fn settings(&self, project_dir: Option<&std::path::Path>) -> crate::output::Settings {
        let format = |f: LogFormatArg| match f {
            LogFormatArg::Text => crate::output::Format::Text,
            LogFormatArg::Debug => crate::output::Format::Debug,
            LogFormatArg::Json => crate::output::Format::Json,
        };
        // No project folder (a mistyped --project-dir): no logs/ is made for it.
        let log_dir = match &self.log_path {
            Some(dir) => Some(crate::output::LogDir::Given(dir.clone())),
            None => project_dir
                .filter(|d| crate::project::has_project_file(d))
                .map(|d| crate::output::LogDir::Project(d.join("logs"))),
        };
        crate::output::Settings {
            quiet: self.quiet,
            format: format(self.log_format),
            log_dir,
            file_format: self
                .log_format_file
                .map_or(crate::output::Format::Debug, format),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new project in a new directory
    Init(init::InitArgs),
    /// Show the project and target, and check the connection
    Debug(CommonArgs),
    /// Install the packages of packages.yml into dbt_packages/ and write package-lock.yml
    Deps(deps::DepsArgs),
    /// Parse the project and write manifest.json
    Parse(CommonArgs),
    /// Render and check the SQL of the selected nodes, without running it
    Compile(compile::CompileArgs),
    /// Build the selected models
    Run(RunArgs),
    /// Load the selected seeds
    Seed(RunArgs),
    /// Run the selected data tests, unit tests and assertions
    Test(RunArgs),
    /// Take the selected snapshots (type-2 history of a query's rows)
    Snapshot(RunArgs),
    /// Seeds, models, snapshots, unit tests, data tests and assertions in DAG order
    Build(RunArgs),
    /// List the selected nodes
    #[command(visible_alias = "list")]
    Ls(ls::LsArgs),
    /// Preview the rows of a model
    Show(show::ShowArgs),
    /// The semantic layer: list, query and export governed metrics
    Metrics(metrics::MetricsArgs),
    /// Remove the project's clean-targets (default: its target-path)
    Clean(clean::CleanArgs),
    /// Re-run what failed, erred or was skipped in the last run (its run_results.json)
    Retry(retry::RetryArgs),
    /// Source commands: `sluice source freshness`
    Source(source::SourceArgs),
    /// Call a macro against the target's warehouse: `run-operation MACRO --args '{...}'`
    RunOperation(run_operation::RunOperationArgs),
}

impl Command {
    /// The flags every project command shares (`init` has none).
    fn common(&self) -> Option<&CommonArgs> {
        match self {
            Command::Init(_) => None,
            Command::Debug(a) | Command::Parse(a) => Some(a),
            Command::Deps(a) => Some(&a.common),
            Command::Compile(a) => Some(&a.select.common),
            Command::Run(a)
            | Command::Seed(a)
            | Command::Test(a)
            | Command::Snapshot(a)
            | Command::Build(a) => Some(&a.select.common),
            Command::Ls(a) => Some(&a.select.common),
            Command::Show(a) => Some(&a.common),
            Command::Metrics(a) => Some(a.common()),
            Command::Clean(a) => Some(&a.common),
            Command::Retry(a) => Some(&a.common),
            Command::Source(a) => Some(&a.select().common),
            Command::RunOperation(a) => Some(&a.common),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Debug,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// The project directory (holding project.yml or dbt_project.yml) [default: the
    /// nearest folder at or above the working directory that holds one]
    #[arg(long, env = "DBT_PROJECT_DIR")]
    pub project_dir: Option<PathBuf>,
    /// The folder holding profiles.yml (dbt layout) [default: the working
    /// directory if it has one, else ~/.dbt]
    #[arg(long, env = "DBT_PROFILES_DIR")]
    pub profiles_dir: Option<PathBuf>,
    /// The profiles.yml profile to use, instead of dbt_project.yml's `profile:`
    #[arg(long, env = "DBT_PROFILE")]
    pub profile: Option<String>,
    /// The target to use (from `targets:` in project.yml, or the profile's `outputs:`)
    #[arg(short = 't', long, env = "DBT_TARGET")]
    pub target: Option<String>,
    /// Do not check the project's `require-dbt-version`
    #[arg(long)]
    pub no_version_check: bool,
    /// Variables as YAML: --vars '{start_date: 2024-01-01}'
    #[arg(long)]
    pub vars: Option<String>,
    /// How many nodes run at once (at least 1)
    #[arg(long, value_parser = positive_threads)]
    pub threads: Option<usize>,
    /// Parse every file, ignoring the parse cache (target-path/partial_parse.bin)
    #[arg(long)]
    pub no_partial_parse: bool,
    /// Treat every warning as an error (exit 2), as dbt's --warn-error
    #[arg(long)]
    pub warn_error: bool,
    /// Which warnings are errors, as dbt's: '{"error": ["NoNodesForSelectionCriteria"]}'
    /// (keys error|warn|silence, or include|exclude; "all" for every warning)
    #[arg(long, value_name = "YAML")]
    pub warn_error_options: Option<String>,
}

impl CommonArgs {
    pub fn options(&self) -> Options {
        Options {
            project_dir: self.project_dir(),
            target: self.target.clone(),
            vars: self.vars.clone(),
            threads: self.threads,
            no_partial_parse: self.no_partial_parse,
            // dbt 1.11 also reads the DBT_ENGINE_ spelling.
            profiles_dir: self
                .profiles_dir
                .clone()
                .or_else(|| std::env::var_os("DBT_ENGINE_PROFILES_DIR").map(PathBuf::from)),
            profile: self.profile.clone(),
            no_version_check: self.no_version_check,
            store_failures: false,
        }
    }

    /// `--project-dir` (or `DBT_PROJECT_DIR`), else found by walking up as dbt does.
    pub fn project_dir(&self) -> PathBuf {
        self.project_dir
            .clone()
            .or_else(|| std::env::var_os("DBT_ENGINE_PROJECT_DIR").map(PathBuf::from))
            .unwrap_or_else(crate::project::discover_root)
    }
}

#[derive(Args, Debug, Clone)]
pub struct SelectArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Nodes to include (dbt selector syntax)
    #[arg(short = 's', long = "select", num_args = 1.., value_name = "SELECTOR")]
    pub select: Vec<String>,
    /// Nodes to leave out
    #[arg(long, num_args = 1.., value_name = "SELECTOR")]
    pub exclude: Vec<String>,
    /// Which tests come along with selected models [default: buildable for build, eager otherwise]
    #[arg(long, value_enum)]
    pub indirect_selection: Option<IndirectArg>,
    /// Another run's artifacts (its target folder), for `state:` selectors and --defer
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Read unselected parents from the --state run's relations when they are not built here
    #[arg(long)]
    pub defer: bool,
    /// With --defer: read unselected parents from the --state run even when built here
    #[arg(long)]
    pub favor_state: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IndirectArg {
    Eager,
    Buildable,
    Cautious,
    Empty,
}

impl SelectArgs {
    /// Load the project and apply `--state`/`--defer`/`--favor-state`.
    pub fn load(&self, command: &str) -> Result<crate::invocation::Loaded, Diagnostics> {
        self.load_with(command, self.common.options())
    }

    /// [`SelectArgs::load`] with options the command has adjusted.
    pub fn load_with(
        &self,
        command: &str,
        options: crate::invocation::Options,
    ) -> Result<crate::invocation::Loaded, Diagnostics> {
        let mut loaded = crate::invocation::load(&options, command)?;
        loaded.use_state(self.state.as_deref(), self.defer, self.favor_state)?;
        Ok(loaded)
    }

    /// The indirect selection to use, `default` unless the flag is given.
    pub fn indirect(&self, default: IndirectSelection) -> IndirectSelection {
        match self.indirect_selection {
            None => default,
            Some(IndirectArg::Eager) => IndirectSelection::Eager,
            Some(IndirectArg::Buildable) => IndirectSelection::Buildable,
            Some(IndirectArg::Cautious) => IndirectSelection::Cautious,
            Some(IndirectArg::Empty) => IndirectSelection::Empty,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Stop at the first failure
    #[arg(short = 'x', long)]
    pub fail_fast: bool,
    /// Rebuild incremental models from scratch (unless a model sets `full_refresh: false`)
    #[arg(long)]
    pub full_refresh: bool,
    /// Read zero rows from every ref and source: build the schema only, as dbt's --empty
    #[arg(long)]
    pub empty: bool,
    /// Keep every data test's failing rows in the audit schema, unless its config says
    /// otherwise (`test`, `build`), as dbt's --store-failures
    #[arg(long)]
    pub store_failures: bool,
}

/// How a command ended.
pub enum Outcome {
    Success,
    Failure,
}

/// Print warnings after `--warn-error`/`--warn-error-options` have had their say:
/// silenced ones are dropped, and any made an error ends the command (exit 2).
pub fn emit_warnings(warnings: &[Diagnostic]) -> Result<(), Diagnostics> {
    let (shown, errors) = crate::diagnostics::policy().apply(warnings);
    print_diagnostics(&shown);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(errors))
    }
}

/// Print diagnostics through the reporter (stderr, or JSON events).
pub fn print_diagnostics(diagnostics: &[Diagnostic]) {
    crate::output::diagnostics(diagnostics);
}

pub fn main() -> ExitCode {
    crate::memory::set_budget();
    crate::render::limits::with_big_stacks(run_cli)
}

fn run_cli() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let project_dir = cli.command.common().map(CommonArgs::project_dir);
    crate::output::init(cli.output.settings(project_dir.as_deref()));
    if let Some(common) = cli.command.common() {
        match warn_error::policy(common) {
            Ok(policy) => crate::diagnostics::set_policy(policy),
            Err(d) => {
                print_diagnostics(&[d]);
                crate::output::finish();
                return ExitCode::from(2);
            }
        }
    }
    let result: Result<Outcome, Diagnostics> = match &cli.command {
        Command::Init(args) => init::run(args),
        Command::Debug(args) => debug::run(args),
        Command::Deps(args) => deps::run(args),
        Command::Parse(args) => compile::parse(args),
        Command::Compile(args) => compile::run(args),
        Command::Run(args) => run::run(args, run::Kind::Run),
        Command::Seed(args) => run::run(args, run::Kind::Seed),
        Command::Test(args) => run::run(args, run::Kind::Test),
        Command::Snapshot(args) => run::run(args, run::Kind::Snapshot),
        Command::Build(args) => run::run(args, run::Kind::Build),
        Command::Ls(args) => ls::run(args),
        Command::Metrics(args) => metrics::run(args),
        Command::Show(args) => show::run(args),
        Command::Clean(args) => clean::run(args),
        Command::Retry(args) => retry::run(args),
        Command::Source(args) => source::run(args),
        Command::RunOperation(args) => run_operation::run(args),
    };
    let code = match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::from(1),
        Err(diagnostics) => {
            print_diagnostics(&diagnostics.0);
            ExitCode::from(2)
        }
    };
    crate::output::finish();
    code
}

/// `--threads`: a whole number of at least 1 (dbt-core crashes on 0 or less).
fn positive_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if n >= 1 => usize::try_from(n).map_err(|e| e.to_string()),
        Ok(n) => Err(format!(
            "{n} is not a number of threads: give at least 1, e.g. --threads 4"
        )),
        Err(_) => Err(format!(
            "`{s}` is not a whole number: give e.g. --threads 4"
        )),
    }
}
