//! `sources.json` (dbt's sources/v3 schema): the outcome of `source freshness`.
//! As dbt 1.11 writes it, tables whose check failed to run are left out of
//! `results` (their error is printed instead).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value as Json};

use super::{iso, metadata, Invocation};
use crate::execute::freshness::{FreshnessResult, FreshnessStatus};

const SOURCES_SCHEMA: &str = "https://schemas.getdbt.com/dbt/sources/v3.json";

/// A time as dbt writes `max_loaded_at`/`snapshotted_at` (`+00:00`, microseconds).
fn with_offset(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

pub fn sources_json(results: &[FreshnessResult], inv: &Invocation, elapsed: f64) -> Json {
    let results: Vec<Json> = results
        .iter()
        .filter(|r| r.status != FreshnessStatus::RuntimeError)
        .map(|r| {
            json!({
                "unique_id": r.unique_id,
                "max_loaded_at": r.max_loaded_at.map(with_offset),
                "snapshotted_at": r.snapshotted_at.map(with_offset),
                "max_loaded_at_time_ago_in_s": r.age_seconds,
                "status": r.status.as_str(),
                "criteria": r.criteria.to_json(),
                "adapter_response": {"_message": "OK"},
                "timing": [
                    {"name": "compile", "started_at": iso(r.started_at), "completed_at": iso(r.started_at)},
                    {"name": "execute", "started_at": iso(r.started_at), "completed_at": iso(r.completed_at)},
                ],
                "thread_id": "Thread-1",
                "execution_time": r.execution_time,
            })
        })
        .collect();
    json!({
        "metadata": metadata(SOURCES_SCHEMA, inv),
        "results": results,
        "elapsed_time": elapsed,
    })
}
