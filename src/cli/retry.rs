//! `sluice retry`: re-run the nodes of the last run that failed, erred or were
//! skipped, with that run's command and flags, as dbt's `retry` does. The last run
//! is the `run_results.json` in the target path (or `--state DIR`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde_json::Value as Json;

use super::run::{self, Kind, Repeatable};
use super::{CommonArgs, Outcome};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::execute::Reporter;

#[derive(Args, Debug)]
pub struct RetryArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The folder holding the run_results.json to retry [default: the target path]
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
}

/// dbt's RETRYABLE_STATUSES (`warn` too under `--warn-error`).
fn retryable(status: &str, warn_error: bool) -> bool {
    matches!(
        status,
        "error" | "fail" | "skipped" | "runtime error" | "partial success"
    ) || (warn_error && status == "warn")
}

/// The last run, as its `run_results.json` records it.
struct PreviousRun {
    kind: Kind,
    args: Json,
    /// Nodes to run again, by unique id.
    retry: HashSet<String>,
}

fn read_previous(dir: &Path, warn_error: bool) -> Result<PreviousRun, Diagnostic> {
    let path = dir.join("run_results.json");
    let text = std::fs::read_to_string(&path).map_err(|_| {
        Diagnostic::error(format!(
            "Could not find previous run in '{}' target directory",
            dir.display()
        ))
        .with_help("retry re-runs what failed in the last `sluice build` (or run, seed, test, snapshot): run one first")
    })?;
    let results: Json = serde_json::from_str(&text).map_err(|e| {
        Diagnostic::error(format!("{} is not valid JSON: {e}", path.display()))
            .with_help("run the command again: retry needs the run_results.json it wrote")
    })?;
    let args = results.get("args").cloned().unwrap_or(Json::Null);
    let which = args.get("which").and_then(Json::as_str).unwrap_or("");
    let kind = Kind::of_command(which).ok_or_else(|| {
        Diagnostic::error(format!(
            "the last run in {} was `{}`, which `sluice retry` cannot repeat",
            path.display(),
            if which.is_empty() { "unknown" } else { which }
        ))
        .with_help("retry repeats run, seed, test, snapshot and build")
    })?;
    let retry = results
        .get("results")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter(|r| {
            r.get("status")
                .and_then(Json::as_str)
                .is_some_and(|s| retryable(s, warn_error))
        })
        .filter_map(|r| r.get("unique_id").and_then(Json::as_str))
        // As in dbt: operation nodes (hooks) are retried only by run-operation.
        .filter(|id| !id.starts_with("operation."))
        .map(str::to_owned)
        .collect();
    Ok(PreviousRun { kind, args, retry })
}

/// `--vars` as the last run recorded it: sluice keeps the text, dbt a mapping.
fn recorded_vars(args: &Json) -> Option<String> {
    match args.get("vars")? {
        Json::String(s) => Some(s.clone()),
        Json::Object(m) if m.is_empty() => None,
        v @ Json::Object(_) => Some(v.to_string()),
        _ => None,
    }
}

pub fn run(args: &RetryArgs) -> Result<Outcome, Diagnostics> {
    let started = Instant::now();
    let mut opts = args.common.options();
    let dir = match &args.state {
        Some(dir) => dir.clone(),
        None => {
            let cli_vars = match &opts.vars {
                Some(v) => crate::invocation::parse_cli_vars(v)?,
                None => Default::default(),
            };
            let mut warnings = Vec::new();
            crate::project::load_project_file(&opts.load_options(&cli_vars), &mut warnings)?
                .target_path
        }
    };
    let previous = read_previous(&dir, crate::diagnostics::policy().error_all)?;
    let prev = &previous.args;
    let flag = |key: &str| prev.get(key).and_then(Json::as_bool).unwrap_or(false);
    // dbt's retry keeps the last run's flags; only --vars and --threads given here
    // override them.
    let recorded_target = prev.get("target").and_then(Json::as_str).map(str::to_owned);
    let mut warnings = Vec::new();
    if opts.target.is_some() && opts.target != recorded_target {
        warnings.push(
            Diagnostic::warning(format!(
                "retry repeats the last run's target ({}); --target is ignored",
                recorded_target.as_deref().unwrap_or("the default")
            ))
            .with_help("to build on another target, run `sluice build -t <target>`"),
        );
    }
    opts.target = recorded_target;
    if opts.vars.is_none() {
        opts.vars = recorded_vars(prev);
    }
    if opts.threads.is_none() {
        opts.threads = prev
            .get("threads")
            .and_then(Json::as_u64)
            .and_then(|t| usize::try_from(t).ok());
    }
    let repeat = Repeatable {
        full_refresh: flag("full_refresh"),
        empty: flag("empty"),
        store_failures: flag("store_failures"),
        fail_fast: flag("fail_fast"),
        threads: opts.threads,
        state: prev.get("state").and_then(Json::as_str).map(str::to_owned),
        defer: flag("defer"),
        favor_state: flag("favor_state"),
    };
    let kind = previous.kind;
    opts.store_failures = repeat.store_failures;
    let mut loaded = crate::invocation::load(&opts, kind.command())?;
    loaded.warnings.extend(warnings);
    loaded.use_state(
        repeat.state.as_deref().map(Path::new),
        repeat.defer,
        repeat.favor_state,
    )?;
    let select: Vec<String> = string_list(prev, "select");
    let exclude: Vec<String> = string_list(prev, "exclude");
    repeat.record(&mut loaded, &select, &exclude);
    // Nodes removed from the project since the last run are not retried.
    let selected = previous
        .retry
        .iter()
        .filter_map(|id| loaded.dag.by_id.get(id).copied())
        .collect();
    run::execute(loaded, &selected, kind, &repeat, &Reporter::new(), started)
}

fn string_list(args: &Json, key: &str) -> Vec<String> {
    args.get(key)
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}
