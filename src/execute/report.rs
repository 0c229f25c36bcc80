//! Progress as work proceeds: dbt's `3 of 42 OK created ... [OK in 0.12s]` lines,
//! each sent to [`crate::output`] as dbt's event (`LogModelResult`, ...) with its
//! data, so `--log-format json` and the log file carry the same.

use owo_colors::OwoColorize;
use serde_json::json;

use super::{NodeResult, Status};
use crate::graph::Dag;
use crate::output::{Event, Level};
use crate::render::parse::ResourceType;

/// Says what the scheduler does, through [`crate::output`] (which decides text or
/// JSON, quiet, the log file and the progress bar); shared by the worker threads.
#[derive(Default)]
pub struct Reporter;

const LINE_WIDTH: usize = 80;

impl Reporter {
    pub fn new() -> Reporter {
        Reporter
    }

    /// A free-form line (headers, summaries): dbt's `Note`.
    pub fn info(&self, message: &str) {
        crate::output::progress(message);
    }

    /// A line under dbt's event name (`ConcurrencyLine`, `StatsLine`) with its data.
    pub fn event(&self, name: &'static str, message: &str, data: serde_json::Value) {
        crate::output::info(Event::new(name, Level::Info, message).with_data(data));
    }

    pub fn node_finished(
        &self,
        dag: &Dag,
        idx: petgraph::graph::NodeIndex,
        number: usize,
        total: usize,
        result: &NodeResult,
    ) {
        let node = dag.node(idx);
        let what = match (node.resource_type, result.status) {
            (ResourceType::Test, _)
                if node.generic_test.as_ref().is_some_and(|t| t.is_assertion) =>
            {
                format!("assertion {}", node.name)
            }
            (ResourceType::Test, _) => format!("test {}", node.name),
            (ResourceType::UnitTest, _) => format!("unit test {}", node.name),
            (ResourceType::Seed, Status::Success) => format!("loaded seed file {}", relation(node)),
            (ResourceType::Seed, _) => format!("seed file {}", relation(node)),
            (ResourceType::Snapshot, Status::Success) => format!("snapshotted {}", relation(node)),
            (ResourceType::Snapshot, _) => format!("snapshot {}", relation(node)),
            (_, Status::Success) => format!(
                "created {} {} model {}",
                node.language(),
                node.materialized(),
                relation(node)
            ),
            (_, _) => format!(
                "{} {} model {}",
                node.language(),
                node.materialized(),
                relation(node)
            ),
        };
        let name = match node.resource_type {
            ResourceType::Test | ResourceType::UnitTest => "LogTestResult",
            ResourceType::Seed => "LogSeedResult",
            ResourceType::Snapshot => "LogSnapshotResult",
            _ => "LogModelResult",
        };
        let data = json!({
            "description": what,
            "index": number,
            "total": total,
            "status": result.status.as_str(),
            "execution_time": result.execution_time,
            "failures": result.failures,
            "message": result.message,
            "node_info": {
                "unique_id": result.unique_id,
                "node_name": node.name,
                "resource_type": node.resource_type.as_str(),
                "materialized": node.materialized(),
                "node_status": result.status.as_str(),
                "node_relation": node.relation.as_ref().map(ToString::to_string),
            },
        });
        let event = Event::new(
            name,
            level(result.status),
            status_line(number, total, &what, result),
        )
        .with_data(data);
        crate::output::info(event);
        crate::output::progress_advance(&node.name);
    }

    /// `1 of 2 START hook: pkg.on-run-start.0 ..... [RUN]`, as dbt prints it.
    pub fn hook_started(&self, number: usize, total: usize, label: &str) {
        let head = dotted(&format!("{number} of {total} START hook: {label} "));
        self.event(
            "LogHookStartLine",
            &format!("{head} [RUN]"),
            json!({"index": number, "total": total, "statement": label}),
        );
    }

    /// `1 of 2 OK hook: pkg.on-run-start.0 ..... [OK in 0.03s]`.
    pub fn hook_finished(&self, number: usize, total: usize, label: &str, result: &NodeResult) {
        let what = format!("hook: {label}");
        let data = json!({
            "index": number, "total": total, "statement": label,
            "unique_id": result.unique_id, "status": result.status.as_str(),
            "message": result.message, "execution_time": result.execution_time,
        });
        crate::output::info(
            Event::new(
                "LogHookEndLine",
                level(result.status),
                status_line(number, total, &what, result),
            )
            .with_data(data),
        );
    }
}

/// A result's log level, as dbt's: failures and errors are errors.
fn level(status: Status) -> Level {
    match status {
        Status::Error | Status::Fail => Level::Error,
        Status::Warn => Level::Warn,
        _ => Level::Info,
    }
}

/// `3 of 42 OK created ... [OK in 0.12s]`: a finished node's progress line.
fn status_line(number: usize, total: usize, what: &str, result: &NodeResult) -> String {
    let (word, tag) = match result.status {
        Status::Success => (
            "OK",
            result
                .rows_affected
                .map_or("OK".to_owned(), |r| format!("INSERT {r}")),
        ),
        Status::Pass => ("PASS", "PASS".to_owned()),
        Status::Warn => ("WARN", format!("WARN {}", result.failures.unwrap_or(0))),
        Status::Fail => ("FAIL", format!("FAIL {}", result.failures.unwrap_or(0))),
        Status::Error => ("ERROR", "ERROR".to_owned()),
        Status::Skipped => ("SKIP", "SKIP".to_owned()),
    };
    let head = dotted(&format!("{number} of {total} {word} {what} "));
    let timing = if result.status == Status::Skipped {
        format!("[{tag}]")
    } else {
        format!("[{tag} in {:.2}s]", result.execution_time)
    };
    let coloured = match result.status {
        Status::Success | Status::Pass => timing.green().to_string(),
        Status::Warn | Status::Skipped => timing.yellow().to_string(),
        Status::Error | Status::Fail => timing.red().to_string(),
    };
    format!("{head} {coloured}")
}

/// A progress line's head padded with dots to dbt's 80 columns.
pub fn dotted(head: &str) -> String {
    let dots = ".".repeat(LINE_WIDTH.saturating_sub(head.len()).max(3));
    format!("{head}{dots}")
}

fn relation(node: &crate::render::parse::ParsedNode) -> String {
    node.relation
        .as_ref()
        .map_or_else(|| node.name.clone(), ToString::to_string)
}
