//! Progress output as work proceeds: dbt's `3 of 42 OK created ... [OK in 0.12s]`
//! lines, colour only on a terminal (anstream strips it when piped), or one JSON
//! object per event with `--log-format json`.

use std::sync::Mutex;

use owo_colors::OwoColorize;

use super::{NodeResult, Status};
use crate::graph::Dag;
use crate::render::parse::ResourceType;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Prints progress; shared by the worker threads.
pub struct Reporter {
    pub format: LogFormat,
    lock: Mutex<()>,
}

const LINE_WIDTH: usize = 80;

impl Reporter {
    pub fn new(format: LogFormat) -> Reporter {
        Reporter {
            format,
            lock: Mutex::new(()),
        }
    }

    /// A free-form line (headers, summaries).
    pub fn info(&self, message: &str) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        match self.format {
            LogFormat::Text => {
                crate::output::progress(message);
            }
            LogFormat::Json => {
                let line = serde_json::json!({"level": "info", "msg": message});
                crate::output::progress(&line.to_string());
            }
        }
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
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.format == LogFormat::Json {
            let line = serde_json::json!({
                "level": if matches!(result.status, Status::Error | Status::Fail) { "error" } else { "info" },
                "event": "node_finished",
                "index": number,
                "total": total,
                "unique_id": result.unique_id,
                "resource_type": node.resource_type.as_str(),
                "status": result.status.as_str(),
                "message": result.message,
                "execution_time": result.execution_time,
                "failures": result.failures,
            });
            crate::output::progress(&line.to_string());
            return;
        }
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
        crate::output::progress(&status_line(number, total, &what, result));
    }

    /// `1 of 2 START hook: pkg.on-run-start.0 ..... [RUN]`, as dbt prints it.
    pub fn hook_started(&self, number: usize, total: usize, label: &str) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.format == LogFormat::Json {
            let line = serde_json::json!({"level": "info", "event": "hook_started",
                "index": number, "total": total, "hook": label});
            crate::output::progress(&line.to_string());
            return;
        }
        let head = dotted(&format!("{number} of {total} START hook: {label} "));
        crate::output::progress(&format!("{head} [RUN]"));
    }

    /// `1 of 2 OK hook: pkg.on-run-start.0 ..... [OK in 0.03s]`.
    pub fn hook_finished(&self, number: usize, total: usize, label: &str, result: &NodeResult) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.format == LogFormat::Json {
            let line = serde_json::json!({
                "level": if result.status == Status::Error { "error" } else { "info" },
                "event": "hook_finished", "index": number, "total": total,
                "unique_id": result.unique_id, "hook": label,
                "status": result.status.as_str(), "message": result.message,
                "execution_time": result.execution_time,
            });
            crate::output::progress(&line.to_string());
            return;
        }
        let what = format!("hook: {label}");
        crate::output::progress(&status_line(number, total, &what, result));
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

/// Rows as an aligned text table (for `show`).
pub fn format_table(rows: &crate::adapter::Rows) -> String {
    let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "NULL".to_owned());
    let mut widths: Vec<usize> = rows.columns.iter().map(|c| c.chars().count()).collect();
    for r in &rows.rows {
        for (i, v) in r.iter().enumerate() {
            widths[i] = widths[i].max(cell(v).chars().count());
        }
    }
    let line = |values: Vec<String>| -> String {
        let cells: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}", w = *w))
            .collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut out = line(rows.columns.clone());
    out.push_str(&format!(
        "|{}|\n",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    ));
    for r in &rows.rows {
        out.push_str(&line(r.iter().map(cell).collect()));
    }
    out
}
