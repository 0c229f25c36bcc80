//! `sluice run`, `seed`, `test`, `snapshot` and `build`: select, compile, execute,
//! summarise. `sluice retry` reuses [`execute`] on what failed last time.

use std::collections::HashSet;
use std::time::Instant;

use petgraph::graph::NodeIndex;

use super::{emit_warnings, print_diagnostics, Outcome, RunArgs};
use crate::diagnostics::{event, Diagnostic, Diagnostics};
use crate::execute::{Reporter, Status};
use crate::graph::select::IndirectSelection;
use crate::invocation::Loaded;
use crate::render::parse::ResourceType;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Run,
    Seed,
    Test,
    Snapshot,
    Build,
}

impl Kind {
    /// The command's name, as `run_results.json`'s `args.which` records it.
    pub fn command(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Seed => "seed",
            Kind::Test => "test",
            Kind::Snapshot => "snapshot",
            Kind::Build => "build",
        }
    }

    /// The command `args.which` names, when it is one of these.
    pub fn of_command(which: &str) -> Option<Kind> {
        [
            Kind::Run,
            Kind::Seed,
            Kind::Test,
            Kind::Snapshot,
            Kind::Build,
        ]
        .into_iter()
        .find(|k| k.command() == which)
    }

    /// The node types the command runs.
    fn types(self) -> &'static [ResourceType] {
        match self {
            Kind::Run => &[ResourceType::Model],
            Kind::Seed => &[ResourceType::Seed],
            Kind::Test => &[ResourceType::Test, ResourceType::UnitTest],
            Kind::Snapshot => &[ResourceType::Snapshot],
            Kind::Build => &[
                ResourceType::Seed,
                ResourceType::Model,
                ResourceType::Snapshot,
                ResourceType::Test,
                ResourceType::UnitTest,
            ],
        }
    }
}

/// The flags of a run that `sluice retry` needs to repeat it, recorded in
/// `run_results.json`'s `args` under dbt's names.
#[derive(Clone, Debug, Default)]
pub struct Repeatable {
    pub full_refresh: bool,
    pub empty: bool,
    pub store_failures: bool,
    pub fail_fast: bool,
    pub threads: Option<usize>,
    pub state: Option<String>,
    pub defer: bool,
    pub favor_state: bool,
}

impl Repeatable {
    pub fn record(&self, loaded: &mut Loaded, select: &[String], exclude: &[String]) {
        let args = &mut loaded.invocation.args;
        args["select"] = serde_json::json!(select);
        args["exclude"] = serde_json::json!(exclude);
        args["full_refresh"] = serde_json::json!(self.full_refresh);
        args["empty"] = serde_json::json!(self.empty);
        // dbt records the flag only when it is given.
        if self.store_failures {
            args["store_failures"] = serde_json::json!(true);
        }
        args["fail_fast"] = serde_json::json!(self.fail_fast);
        args["threads"] = serde_json::json!(self.threads);
        args["state"] = serde_json::json!(self.state);
        args["defer"] = serde_json::json!(self.defer);
        args["favor_state"] = serde_json::json!(self.favor_state);
    }
}

pub fn run(args: &RunArgs, kind: Kind) -> Result<Outcome, Diagnostics> {
    let started = Instant::now();
    let select = &args.select;
    if args.empty && matches!(kind, Kind::Seed | Kind::Test) {
        // dbt has no --empty here: seeds load their CSV, and tests over empty
        // relations would pass having checked nothing.
        return Err(Diagnostic::error(format!(
            "`--empty` applies to run, build and snapshot, not to `{}`",
            kind.command()
        ))
        .with_help("`sluice build --empty` builds every model with zero rows and tests them")
        .into());
    }
    if args.store_failures && !matches!(kind, Kind::Test | Kind::Build) {
        // dbt's `run`, `seed` and `snapshot` have no --store-failures.
        return Err(Diagnostic::error(format!(
            "`--store-failures` applies to test and build, not to `{}`",
            kind.command()
        ))
        .with_help("`sluice test --store-failures` keeps the failing rows of every data test")
        .into());
    }
    let mut options = select.common.options();
    options.store_failures = args.store_failures;
    let mut loaded = select.load_with(kind.command(), options)?;
    let repeat = Repeatable {
        full_refresh: args.full_refresh,
        empty: args.empty,
        store_failures: args.store_failures,
        fail_fast: args.fail_fast,
        threads: select.common.threads,
        state: select.state.as_ref().map(|s| s.display().to_string()),
        defer: select.defer,
        favor_state: select.favor_state,
    };
    repeat.record(&mut loaded, &select.select, &select.exclude);
    let default = if kind == Kind::Build {
        IndirectSelection::Buildable
    } else {
        IndirectSelection::Eager
    };
    let selected = loaded.select(
        &select.select,
        &select.exclude,
        kind.types(),
        select.indirect(default),
    )?;
    execute(loaded, &selected, kind, &repeat, &Reporter::new(), started)
}

/// Compile and run `selected` (already restricted to the command's node types),
/// then print the summary.
pub fn execute(
    mut loaded: Loaded,
    selected: &HashSet<NodeIndex>,
    kind: Kind,
    repeat: &Repeatable,
    reporter: &Reporter,
    started: Instant,
) -> Result<Outcome, Diagnostics> {
    loaded.full_refresh = repeat.full_refresh;
    loaded.empty = repeat.empty;
    let compiled = loaded.compile(selected);
    emit_warnings(&loaded.warnings)?;
    loaded.warnings.clear();
    let compiled = compiled?;
    let selected = loaded.runnable(selected);
    if selected.is_empty() {
        loaded.write_manifest(&compiled)?;
        // dbt's NothingToDo: a warning, exit 0, unless --warn-error says otherwise.
        emit_warnings(&[Diagnostic::warning(
            "Nothing to do. Try checking your model configs and model specification args",
        )
        .with_event(event::NOTHING_TO_DO)
        .with_help("`sluice ls -s <selector>` shows what a selector selects")])?;
        return Ok(Outcome::Success);
    }
    let threads = loaded.renderer.target.threads.min(selected.len());
    reporter.event(
        "ConcurrencyLine",
        &format!(
            "Running {} nodes on {} target `{}` with {threads} threads",
            selected.len(),
            loaded.renderer.target.kind.as_str(),
            loaded.renderer.target.name,
        ),
        serde_json::json!({"node_count": selected.len(), "num_threads": threads,
            "target_name": loaded.renderer.target.name}),
    );
    let results = loaded.execute(
        &selected,
        &compiled,
        repeat.fail_fast,
        kind == Kind::Build,
        reporter,
    )?;

    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    let (ok, pass, warn, error, fail, skip) = (
        count(Status::Success),
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Error),
        count(Status::Fail),
        count(Status::Skipped),
    );
    let problems: Vec<_> = results
        .iter()
        .filter_map(|r| r.diagnostic.clone())
        .collect();
    print_diagnostics(&problems);
    // Warnings raised while running (a failed final checkpoint).
    emit_warnings(&loaded.warnings)?;
    for r in results.iter().filter(|r| r.status == Status::Fail) {
        crate::output::info(
            crate::output::Event::new(
                "RunResultFailure",
                crate::output::Level::Error,
                format!("Failure in {}: {}", r.unique_id, r.message),
            )
            .with_data(serde_json::json!({"unique_id": r.unique_id, "msg": r.message})),
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    reporter.event(
        "StatsLine",
        &format!(
            "Finished in {seconds:.2}s. PASS={} WARN={warn} ERROR={error} FAIL={fail} SKIP={skip} TOTAL={}",
            ok + pass,
            results.len()
        ),
        serde_json::json!({"execution_time": seconds, "stats": {"pass": ok + pass, "warn": warn,
            "error": error, "fail": fail, "skip": skip, "total": results.len()}}),
    );
    if results.iter().any(|r| r.invalid_input) {
        return Err(Diagnostics(Vec::new()));
    }
    Ok(if error + fail > 0 {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}
