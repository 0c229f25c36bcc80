//! `sluice source freshness`: how long ago each selected source table was loaded,
//! against its `freshness:` rule; writes `sources.json` as dbt does.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use owo_colors::OwoColorize;

use super::{emit_warnings, print_diagnostics, Outcome, SelectArgs};
use crate::diagnostics::{event, Diagnostic, Diagnostics, Span};
use crate::execute::freshness::{self, FreshnessCheck, FreshnessResult, FreshnessStatus};
use crate::graph::select::IndirectSelection;
use crate::render::parse::ResourceType;

#[derive(Args, Debug)]
pub struct SourceArgs {
    #[command(subcommand)]
    pub command: SourceCommand,
}

#[derive(Subcommand, Debug)]
pub enum SourceCommand {
    /// Check the selected sources' freshness rules; write sources.json
    Freshness(FreshnessArgs),
}

#[derive(Args, Debug)]
pub struct FreshnessArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Where to write the results [default: <target-path>/sources.json]
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<PathBuf>,
}

impl SourceArgs {
    pub fn select(&self) -> &SelectArgs {
        match &self.command {
            SourceCommand::Freshness(a) => &a.select,
        }
    }
}

pub fn run(args: &SourceArgs) -> Result<Outcome, Diagnostics> {
    match &args.command {
        SourceCommand::Freshness(a) => run_freshness(a),
    }
}

/// dbt's progress line: `1 of 6 PASS freshness of app.events ..... [PASS in 0.03s]`.
fn progress_line(number: usize, total: usize, name: &str, result: &FreshnessResult) -> String {
    let (word, tag) = match result.status {
        FreshnessStatus::Pass => ("PASS", "PASS"),
        FreshnessStatus::Warn => ("WARN", "WARN"),
        FreshnessStatus::Error => ("ERROR STALE", "ERROR STALE"),
        FreshnessStatus::RuntimeError => ("ERROR", "ERROR"),
    };
    let head =
        crate::execute::report::dotted(&format!("{number} of {total} {word} freshness of {name} "));
    let timing = format!("[{tag} in {:.2}s]", result.execution_time);
    let coloured = match result.status {
        FreshnessStatus::Pass => timing.green().to_string(),
        FreshnessStatus::Warn => timing.yellow().to_string(),
        _ => timing.red().to_string(),
    };
    format!("{head} {coloured}")
}

fn run_freshness(args: &FreshnessArgs) -> Result<Outcome, Diagnostics> {
    let started = Instant::now();
    let mut loaded = args.select.load("freshness")?;
    let selected = loaded.select(
        &args.select.select,
        &args.select.exclude,
        &[ResourceType::Source],
        IndirectSelection::Eager,
    )?;
    // The selected tables with a rule that checks something, in unique-id order.
    let mut tables: Vec<_> = selected
        .iter()
        .filter_map(|idx| {
            let node = loaded.dag.node(*idx);
            let table = loaded.project.source_table(
                node.package_name(),
                node.source_name.as_deref()?,
                &node.name,
            )?;
            let active = table
                .freshness
                .freshness
                .as_ref()
                .is_some_and(|f| f.is_active());
            active.then(|| (*idx, table.freshness.clone()))
        })
        .collect();
    tables.sort_by(|a, b| {
        loaded
            .dag
            .node(a.0)
            .unique_id
            .cmp(&loaded.dag.node(b.0).unique_id)
    });
    if tables.is_empty() {
        loaded.warnings.push(
            Diagnostic::warning("Nothing to do: no selected source has a freshness rule")
                .with_event(event::NOTHING_TO_DO)
                .with_help("give a source `freshness: {warn_after: {count: 12, period: hour}}` and a `loaded_at_field`"),
        );
    }
    emit_warnings(&loaded.warnings)?;
    loaded.warnings.clear();
    if tables.is_empty() {
        return Ok(Outcome::Success);
    }
    let adapter = loaded.adapter()?;
    let dialect = adapter.dialect();
    let mut session = adapter.session().map_err(|e| Diagnostic::error(e.0))?;
    let total = tables.len();
    let mut results = Vec::new();
    let mut problems = Vec::new();
    for (number, (idx, rule)) in tables.iter().enumerate() {
        let loaded_at_query = match &rule.loaded_at_query {
            Some(q) if q.contains("{{") || q.contains("{%") => Some(loaded.render_text(q, *idx)?),
            other => other.clone(),
        };
        let node = loaded.dag.node(*idx);
        let Some(relation) = &node.relation else {
            continue;
        };
        let check = FreshnessCheck {
            unique_id: &node.unique_id,
            relation,
            rule,
            loaded_at_query,
        };
        let result = freshness::check_one(session.as_mut(), dialect, &check);
        let name = format!(
            "{}.{}",
            node.source_name.as_deref().unwrap_or_default(),
            node.name
        );
        crate::output::progress(&progress_line(number + 1, total, &name, &result));
        let span = rule
            .span
            .clone()
            .unwrap_or_else(|| Span::file_start(&node.file));
        match (result.status, &result.error) {
            (FreshnessStatus::RuntimeError, Some(error)) => problems.push(
                Diagnostic::error(format!(
                    "freshness of source {name} could not be checked: {error}"
                ))
                .with_label(&span, "this source table")
                .with_help("check the table exists and `loaded_at_field` names a timestamp column"),
            ),
            (FreshnessStatus::Error | FreshnessStatus::Warn, _) => {
                let (over, make): (_, fn(String) -> Diagnostic) =
                    if result.status == FreshnessStatus::Error {
                        ("error_after", Diagnostic::error)
                    } else {
                        ("warn_after", Diagnostic::warning)
                    };
                problems.push(
                    make(format!(
                        "source {name} was last loaded {:.0}s ago, longer ago than its `{over}`",
                        result.age_seconds.unwrap_or_default()
                    ))
                    .with_label(&span, "this source table"),
                );
            }
            _ => {}
        }
        results.push(result);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let json = crate::artifacts::sources::sources_json(&results, &loaded.invocation, elapsed);
    let path = match &args.output {
        Some(p) => loaded.project.root.join(p),
        None => loaded.target_path().join("sources.json"),
    };
    crate::artifacts::write_json(&path, &json).map_err(|e| {
        Diagnostic::error(format!("cannot write {}: {e}", path.display()))
            .with_help("check that the folder is writable")
    })?;
    print_diagnostics(&problems);
    let count = |s: FreshnessStatus| results.iter().filter(|r| r.status == s).count();
    crate::output::progress(&format!(
        "Finished in {elapsed:.2}s. PASS={} WARN={} ERROR STALE={} ERROR={} TOTAL={total}; wrote {}",
        count(FreshnessStatus::Pass),
        count(FreshnessStatus::Warn),
        count(FreshnessStatus::Error),
        count(FreshnessStatus::RuntimeError),
        path.display()
    ));
    Ok(
        if count(FreshnessStatus::Error) + count(FreshnessStatus::RuntimeError) > 0 {
            Outcome::Failure
        } else {
            Outcome::Success
        },
    )
}
