//! The configuration of an incremental model: `incremental_strategy`,
//! `unique_key`, `on_schema_change`, `incremental_predicates` and `full_refresh`,
//! read from a model's merged [`Config`] and checked when the project is parsed, so
//! a bad setting stops the command before anything runs.
//!
//! The defaults follow dbt's warehouse adapters: `merge` when a `unique_key` is
//! set, `append` otherwise; `on_schema_change: ignore`.

use serde_json::Value as Json;

use super::config::Config;
use crate::diagnostics::{suggestion_help, Diagnostic, Span};

/// How a new batch is written into the existing table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Insert every row of the batch.
    Append,
    /// Update rows whose `unique_key` matches a batch row; insert the others.
    Merge,
    /// Delete rows whose `unique_key` matches a batch row, then insert the batch.
    DeleteInsert,
}

impl Strategy {
    pub const NAMES: [&'static str; 3] = ["append", "merge", "delete+insert"];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Append => "append",
            Strategy::Merge => "merge",
            Strategy::DeleteInsert => "delete+insert",
        }
    }
}

/// What to do when the batch's columns differ from the existing table's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnSchemaChange {
    /// Keep the table's columns; new batch columns are not written.
    Ignore,
    /// Stop with an error naming the differences.
    Fail,
    /// Add the batch's new columns to the table; keep removed ones (NULL from now on).
    AppendNewColumns,
    /// Make the table's columns the batch's: add, drop and retype.
    SyncAllColumns,
}

impl OnSchemaChange {
    pub const NAMES: [&'static str; 4] =
        ["ignore", "fail", "append_new_columns", "sync_all_columns"];
}

/// An incremental model's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncrementalConfig {
    pub strategy: Strategy,
    pub unique_key: Vec<String>,
    pub on_schema_change: OnSchemaChange,
    /// Conditions on the existing rows (`DBT_INTERNAL_DEST`) a merge or delete may touch.
    pub predicates: Vec<String>,
    /// `full_refresh: false` ignores `--full-refresh`; `true` always rebuilds.
    pub full_refresh: Option<bool>,
}

impl IncrementalConfig {
    /// Read and check the settings; `fallback` is where errors point when a key
    /// has no recorded position.
    pub fn of(config: &Config, fallback: &Span) -> Result<IncrementalConfig, Diagnostic> {
        let span = |key: &str| config.span(key).unwrap_or(fallback).clone();
        let unique_key = match config.get("unique_key") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::String(s)) => s
                .split(',')
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty())
                .collect(),
            Some(Json::Array(items)) => {
                let mut keys = Vec::with_capacity(items.len());
                for item in items {
                    match item.as_str() {
                        Some(k) if !k.trim().is_empty() => keys.push(k.trim().to_owned()),
                        _ => {
                            return Err(Diagnostic::error("`unique_key` must list column names")
                                .with_label(
                                    &span("unique_key"),
                                    format!("`{item}` is not a column name"),
                                )
                                .with_help(
                                    "write `unique_key: id` or `unique_key: [account_id, month]`",
                                ))
                        }
                    }
                }
                keys
            }
            Some(other) => {
                return Err(Diagnostic::error(format!(
                    "`unique_key` must be a column name or a list of them, found `{other}`"
                ))
                .with_label(&span("unique_key"), "expected a column name")
                .with_help("write `unique_key: id` or `unique_key: [account_id, month]`"))
            }
        };
        let strategy = match config.get("incremental_strategy") {
            None | Some(Json::Null) if unique_key.is_empty() => Strategy::Append,
            None | Some(Json::Null) => Strategy::Merge,
            Some(Json::String(s)) => match s.as_str() {
                "append" => Strategy::Append,
                "merge" => Strategy::Merge,
                "delete+insert" => Strategy::DeleteInsert,
                other => {
                    let help = suggestion_help(other, Strategy::NAMES, || {
                        format!(
                            "incremental_strategy must be one of: {}",
                            Strategy::NAMES.join(", ")
                        )
                    });
                    return Err(Diagnostic::error(format!(
                        "unknown incremental_strategy `{other}`"
                    ))
                    .with_label(&span("incremental_strategy"), "unknown strategy")
                    .with_help(help));
                }
            },
            Some(other) => {
                return Err(Diagnostic::error(format!(
                    "`incremental_strategy` must be a string, found `{other}`"
                ))
                .with_label(&span("incremental_strategy"), "expected a strategy name")
                .with_help(format!("use one of: {}", Strategy::NAMES.join(", "))))
            }
        };
        if strategy != Strategy::Append && unique_key.is_empty() {
            let at = config
                .span("incremental_strategy")
                .unwrap_or(fallback)
                .clone();
            return Err(Diagnostic::error(format!(
                "incremental_strategy `{}` needs a `unique_key`",
                strategy.as_str()
            ))
            .with_label(&at, "this strategy matches rows by their unique key")
            .with_help(
                "add `unique_key: <column>` (or a list of columns) to the model's config, \
                 or use `incremental_strategy: append`",
            ));
        }
        let on_schema_change = match config.get_str("on_schema_change") {
            None | Some("ignore") => OnSchemaChange::Ignore,
            Some("fail") => OnSchemaChange::Fail,
            Some("append_new_columns") => OnSchemaChange::AppendNewColumns,
            Some("sync_all_columns") => OnSchemaChange::SyncAllColumns,
            Some(other) => {
                let help = suggestion_help(other, OnSchemaChange::NAMES, || {
                    format!(
                        "on_schema_change must be one of: {}",
                        OnSchemaChange::NAMES.join(", ")
                    )
                });
                return Err(
                    Diagnostic::error(format!("unknown on_schema_change `{other}`"))
                        .with_label(&span("on_schema_change"), "unknown value")
                        .with_help(help),
                );
            }
        };
        let predicates = match config.get("incremental_predicates") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::String(s)) => vec![s.clone()],
            Some(Json::Array(items)) if items.iter().all(Json::is_string) => items
                .iter()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect(),
            Some(_) => {
                return Err(Diagnostic::error(
                    "`incremental_predicates` must be a list of SQL conditions",
                )
                .with_label(&span("incremental_predicates"), "expected a list of strings")
                .with_help(
                    "write e.g. `incremental_predicates: [\"DBT_INTERNAL_DEST.day > current_date - 7\"]`",
                ))
            }
        };
        if !predicates.is_empty() && strategy == Strategy::Append {
            return Err(Diagnostic::error(
                "`incremental_predicates` limit which existing rows a merge or delete+insert touches; `append` touches none",
            )
            .with_label(&span("incremental_predicates"), "has no effect with append")
            .with_help("remove them, or set `unique_key` and `incremental_strategy: merge`"));
        }
        let full_refresh = match config.get("full_refresh") {
            None | Some(Json::Null) => None,
            Some(Json::Bool(b)) => Some(*b),
            Some(other) => {
                return Err(Diagnostic::error(format!(
                    "`full_refresh` must be true or false, found `{other}`"
                ))
                .with_label(&span("full_refresh"), "expected a boolean"))
            }
        };
        Ok(IncrementalConfig {
            strategy,
            unique_key,
            on_schema_change,
            predicates,
            full_refresh,
        })
    }

    /// Whether this run rebuilds the table from scratch, given `--full-refresh`.
    pub fn rebuilds(&self, full_refresh_flag: bool) -> bool {
        self.full_refresh.unwrap_or(full_refresh_flag)
    }
}
