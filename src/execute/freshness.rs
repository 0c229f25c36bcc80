//! `sluice source freshness`: for each selected source table with a freshness
//! rule, ask the warehouse when it was last loaded (`max(loaded_at_field)`, or the
//! table's `loaded_at_query`) and when it is now, and compare the age with the
//! rule's thresholds, as dbt's `source freshness` (`collect_freshness`) does.

use std::time::Instant;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::adapter::{Dialect, RelationName, Session};
use crate::project::freshness::{Freshness, TableFreshness};

/// How one table's check ended (dbt's `FreshnessStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreshnessStatus {
    Pass,
    Warn,
    /// Older than `error_after`.
    Error,
    /// The query failed or returned no usable time.
    RuntimeError,
}

impl FreshnessStatus {
    /// The status as sources.json writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            FreshnessStatus::Pass => "pass",
            FreshnessStatus::Warn => "warn",
            FreshnessStatus::Error => "error",
            FreshnessStatus::RuntimeError => "runtime error",
        }
    }
}

/// One table to check.
pub struct FreshnessCheck<'a> {
    pub unique_id: &'a str,
    pub relation: &'a RelationName,
    pub rule: &'a TableFreshness,
    /// `loaded_at_query` with its Jinja rendered.
    pub loaded_at_query: Option<String>,
}

/// One table's outcome.
#[derive(Clone, Debug)]
pub struct FreshnessResult {
    pub unique_id: String,
    pub status: FreshnessStatus,
    pub max_loaded_at: Option<DateTime<Utc>>,
    pub snapshotted_at: Option<DateTime<Utc>>,
    pub age_seconds: Option<f64>,
    pub criteria: Freshness,
    /// Why a runtime error happened.
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
    pub execution_time: f64,
}

/// The query dbt's `default__collect_freshness` (or `_custom_sql`) sends.
pub fn freshness_sql(dialect: &dyn Dialect, check: &FreshnessCheck<'_>) -> Result<String, String> {
    let relation = dialect.render_relation(check.relation);
    if let Some(query) = &check.loaded_at_query {
        return Ok(format!(
            "with source_query as (\n  {query}\n)\nselect\n  (select * from source_query) as max_loaded_at,\n  current_timestamp as snapshotted_at"
        ));
    }
    let Some(field) = &check.rule.loaded_at_field else {
        return Err(
            "this source table has a freshness rule but no `loaded_at_field` (or `loaded_at_query`): \
             sluice cannot read a load time from the warehouse's metadata"
                .to_owned(),
        );
    };
    let filter = check
        .rule
        .freshness
        .as_ref()
        .and_then(|f| f.filter.as_deref())
        .map(|f| format!("\nwhere {f}"))
        .unwrap_or_default();
    Ok(format!(
        "select\n  max({field}) as max_loaded_at,\n  current_timestamp as snapshotted_at\nfrom {relation}{filter}"
    ))
}

/// A timestamp as the warehouses return it as text: ISO 8601 with or without an
/// offset (no offset means UTC, as in dbt), or epoch seconds (BigQuery's REST API).
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        let micros = (seconds * 1e6).round() as i64;
        return DateTime::from_timestamp_micros(micros);
    }
    let normalized = text.replacen('T', " ", 1);
    // DuckDB writes offsets as `+00`, chrono wants `+00:00`.
    let with_minutes = match normalized.rfind(['+', '-']) {
        Some(i) if i > 10 && normalized[i + 1..].len() == 2 => format!("{normalized}:00"),
        _ => normalized.clone(),
    };
    let with_minutes = with_minutes.trim_end_matches(" UTC").replace('Z', "+00:00");
    if let Ok(t) = DateTime::parse_from_str(&with_minutes, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(&normalized, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(&normalized, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Run one table's check on `session`.
pub fn check_one(
    session: &mut dyn Session,
    dialect: &dyn Dialect,
    check: &FreshnessCheck<'_>,
) -> FreshnessResult {
    let started_at = Utc::now();
    let clock = Instant::now();
    let criteria = check.rule.freshness.clone().unwrap_or_default();
    let measured = freshness_sql(dialect, check).and_then(|sql| {
        let rows = session.query(&sql).map_err(|e| e.0)?;
        let row = rows.rows.first().ok_or("the freshness query returned no row")?;
        let cell = |i: usize, name: &str| -> Result<DateTime<Utc>, String> {
            let text = row.get(i).cloned().flatten().ok_or_else(|| {
                format!(
                    "Expected a non-null value when querying field '{name}' of table {}, but received value 'null' instead",
                    dialect.render_relation(check.relation)
                )
            })?;
            parse_timestamp(&text).ok_or_else(|| {
                format!("Expected a timestamp value when querying field '{name}', but received value '{text}' instead")
            })
        };
        Ok((cell(0, "max_loaded_at")?, cell(1, "snapshotted_at")?))
    });
    let completed_at = Utc::now();
    let execution_time = clock.elapsed().as_secs_f64();
    match measured {
        Ok((max_loaded_at, snapshotted_at)) => {
            let age = (snapshotted_at - max_loaded_at)
                .num_microseconds()
                .unwrap_or(i64::MAX) as f64
                / 1e6;
            let exceeded = |t: Option<crate::project::freshness::Threshold>| {
                t.is_some_and(|t| age > t.seconds())
            };
            let status = if exceeded(criteria.error_after) {
                FreshnessStatus::Error
            } else if exceeded(criteria.warn_after) {
                FreshnessStatus::Warn
            } else {
                FreshnessStatus::Pass
            };
            FreshnessResult {
                unique_id: check.unique_id.to_owned(),
                status,
                max_loaded_at: Some(max_loaded_at),
                snapshotted_at: Some(snapshotted_at),
                age_seconds: Some(age),
                criteria,
                error: None,
                started_at,
                completed_at,
                execution_time,
            }
        }
        Err(error) => FreshnessResult {
            unique_id: check.unique_id.to_owned(),
            status: FreshnessStatus::RuntimeError,
            max_loaded_at: None,
            snapshotted_at: None,
            age_seconds: None,
            criteria,
            error: Some(error),
            started_at,
            completed_at,
            execution_time,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::parse_timestamp;

    #[test]
    fn timestamps_parse_as_each_warehouse_writes_them() {
        let utc = |s: &str| parse_timestamp(s).map(|t| t.to_rfc3339());
        let expected = Some("2026-12-02T13:35:12.503622+00:00".to_owned());
        assert_eq!(utc("2026-12-02 13:35:12.503622"), expected);
        assert_eq!(utc("2026-12-02 13:35:12.503622+00"), expected);
        assert_eq!(utc("2026-12-02T14:35:12.503622+01:00"), expected);
        assert_eq!(utc("2026-12-02T13:35:12.503622Z"), expected);
        assert_eq!(
            utc("1.7806905125036221E9").map(|s| s[..19].to_owned()),
            Some("2026-06-05T20:15:12".to_owned())
        );
        assert_eq!(
            utc("2026-12-02"),
            Some("2026-12-02T00:00:00+00:00".to_owned())
        );
        assert_eq!(utc("yesterday"), None);
    }
}
