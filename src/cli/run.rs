//! `sluice run`, `seed`, `test` and `build`: select, compile, execute, summarise.

use super::{emit_warnings, print_diagnostics, Outcome, RunArgs};
use crate::diagnostics::{event, Diagnostic, Diagnostics};
use crate::execute::{Reporter, Status};
use crate::graph::select::IndirectSelection;
use crate::render::parse::ResourceType;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Run,
    Seed,
    Test,
    Snapshot,
    Build,
}

pub fn run(args: &RunArgs, kind: Kind) -> Result<Outcome, Diagnostics> {
    let common = &args.select.common;
    let (name, types): (&str, &[ResourceType]) = match kind {
        Kind::Run => ("run", &[ResourceType::Model]),
        Kind::Seed => ("seed", &[ResourceType::Seed]),
        Kind::Test => ("test", &[ResourceType::Test, ResourceType::UnitTest]),
        Kind::Snapshot => ("snapshot", &[ResourceType::Snapshot]),
        Kind::Build => (
            "build",
            &[
                ResourceType::Seed,
                ResourceType::Model,
                ResourceType::Snapshot,
                ResourceType::Test,
                ResourceType::UnitTest,
            ],
        ),
    };
    let started = std::time::Instant::now();
    let mut loaded = args.select.load(name)?;
    loaded.full_refresh = args.full_refresh;
    let default = if kind == Kind::Build {
        IndirectSelection::Buildable
    } else {
        IndirectSelection::Eager
    };
    let selected = loaded.select(
        &args.select.select,
        &args.select.exclude,
        types,
        args.select.indirect(default),
    )?;
    let compiled = loaded.compile(&selected);
    emit_warnings(&loaded.warnings)?;
    loaded.warnings.clear();
    let compiled = compiled?;
    let reporter = Reporter::new(common.log_format());
    let selected = loaded.runnable(&selected);
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
    reporter.info(&format!(
        "Running {} nodes on {} target `{}` with {} threads",
        selected.len(),
        loaded.renderer.target.kind.as_str(),
        loaded.renderer.target.name,
        loaded.renderer.target.threads.min(selected.len())
    ));
    let results = loaded.execute(
        &selected,
        &compiled,
        args.fail_fast,
        kind == Kind::Build,
        &reporter,
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
        reporter.info(&format!("Failure in {}: {}", r.unique_id, r.message));
    }
    reporter.info(&format!(
        "Finished in {:.2}s. PASS={} WARN={warn} ERROR={error} FAIL={fail} SKIP={skip} TOTAL={}",
        started.elapsed().as_secs_f64(),
        ok + pass,
        results.len()
    ));
    if results.iter().any(|r| r.invalid_input) {
        return Err(Diagnostics(Vec::new()));
    }
    Ok(if error + fail > 0 {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}
