//! Snapshots: keeping a type-2 history of a query's rows.
//!
//! The first run creates the table: every row of the query, opened at its
//! `updated_at` (timestamp strategy) or at the snapshot time (check strategy),
//! with dbt's columns `dbt_scd_id`, `dbt_updated_at`, `dbt_valid_from`,
//! `dbt_valid_to` (NULL while current) and, with `hard_deletes: new_record`,
//! `dbt_is_deleted`. Each later run, in one transaction:
//!
//! 1. builds the query into a scratch table and adds to the history any column
//!    the query gained;
//! 2. closes the current version of every key whose row changed (a newer
//!    `updated_at`, or a differing check column) and opens the new version;
//! 3. opens a version for every new key;
//! 4. closes, or marks deleted, current versions whose key left the query
//!    (`hard_deletes: invalidate | new_record`; `ignore` leaves them current).

use crate::adapter::{Dialect, GenericType, RelationKind, RelationName};
use crate::project::snapshot::{CheckCols, HardDeletes, SnapshotConfig, Strategy};

use super::incremental::Column;

/// The columns sluice adds to a snapshot, in order.
pub const META_COLUMNS: [&str; 5] = [
    "dbt_scd_id",
    "dbt_updated_at",
    "dbt_valid_from",
    "dbt_valid_to",
    "dbt_is_deleted",
];

fn is_meta(column: &str) -> bool {
    META_COLUMNS.iter().any(|m| m.eq_ignore_ascii_case(column))
}

/// Builds one snapshot's SQL in a dialect.
pub struct SnapshotSql<'a> {
    pub dialect: &'a dyn Dialect,
    pub target: &'a RelationName,
    pub config: &'a SnapshotConfig,
    /// The snapshot time, as a SQL timestamp literal.
    pub now: String,
}

impl SnapshotSql<'_> {
    fn q(&self, identifier: &str) -> String {
        self.dialect.quote(identifier)
    }

    fn timestamp(&self, expr: &str) -> String {
        format!(
            "cast({expr} as {})",
            self.dialect.type_name(GenericType::Timestamp)
        )
    }

    /// When a row of the query (aliased `alias`) starts to be valid.
    fn valid_from(&self, alias: &str) -> String {
        match &self.config.strategy {
            Strategy::Timestamp { updated_at } => {
                self.timestamp(&format!("{alias}.{}", self.q(updated_at)))
            }
            Strategy::Check { .. } => self.now.clone(),
        }
    }

    /// dbt's `dbt_scd_id`: a hash of the key and the version's start.
    fn scd_id(&self, alias: &str, valid_from: &str) -> String {
        let text = self.dialect.type_name(GenericType::String);
        let parts: Vec<String> = self
            .config
            .unique_key
            .iter()
            .map(|k| format!("coalesce(cast({alias}.{} as {text}), '')", self.q(k)))
            .chain(std::iter::once(format!(
                "coalesce(cast({valid_from} as {text}), '')"
            )))
            .collect();
        self.dialect.md5_hex(&parts.join(" || '|' || "))
    }

    /// The meta columns' values for a new version of a row of `alias`.
    fn meta_values(&self, alias: &str, valid_from: &str, deleted: bool) -> Vec<String> {
        let mut values = vec![
            self.scd_id(alias, valid_from),
            valid_from.to_owned(),
            valid_from.to_owned(),
            self.timestamp("null"),
        ];
        if self.config.hard_deletes == HardDeletes::NewRecord {
            values.push(if deleted { "'True'" } else { "'False'" }.to_owned());
        }
        values
    }

    fn meta_names(&self) -> Vec<String> {
        let n = if self.config.hard_deletes == HardDeletes::NewRecord {
            5
        } else {
            4
        };
        META_COLUMNS[..n].iter().map(|c| self.q(c)).collect()
    }

    fn key_match(&self, left: &str, right: &str) -> String {
        self.config
            .unique_key
            .iter()
            .map(|k| {
                let k = self.q(k);
                format!("{left}.{k} = {right}.{k}")
            })
            .collect::<Vec<_>>()
            .join(" and ")
    }

    /// The first run: the table, from the query `sql`.
    pub fn create(&self, existing: Option<RelationKind>, sql: &str) -> Vec<String> {
        let from = self.valid_from("snapshot_query");
        let select = format!(
            "select snapshot_query.*, {}\nfrom (\n{sql}\n) as snapshot_query",
            self.meta_values("snapshot_query", &from, false)
                .iter()
                .zip(self.meta_names())
                .map(|(v, n)| format!("{v} as {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut out = Vec::new();
        out.extend(self.dialect.assert_unique_keys(
            &format!("(\n{sql}\n)"),
            &self.config.unique_key,
            &format!("snapshot {}", self.target),
        ));
        out.extend(self.dialect.replace_statements(
            self.target,
            existing,
            RelationKind::Table,
            &select,
        ));
        out
    }

    /// A later run, given the history's columns and the query's (from `describe`).
    pub fn update(&self, history: &[Column], query: &[Column], sql: &str) -> Vec<String> {
        let d = self.dialect;
        let target = d.render_relation(self.target);
        let batch_rel = self
            .target
            .with_identifier(format!("{}__sluice_snapshot", self.target.identifier));
        let batch = d.render_relation(&batch_rel);
        let columns: Vec<&str> = query
            .iter()
            .map(|(c, _)| c.as_str())
            .filter(|c| !is_meta(c))
            .collect();
        let mut out = vec![
            d.drop_relation(&batch_rel, RelationKind::Table),
            d.create_table_as(&batch_rel, sql),
        ];
        out.extend(d.assert_unique_keys(
            &batch,
            &self.config.unique_key,
            &format!("snapshot {}", self.target),
        ));
        for (column, data_type) in query {
            let known = history.iter().any(|(c, _)| c.eq_ignore_ascii_case(column));
            if !known && !is_meta(column) {
                out.push(d.add_column(self.target, column, data_type));
            }
        }
        let from = self.valid_from("DBT_INTERNAL_SOURCE");
        let mut changed = match &self.config.strategy {
            Strategy::Timestamp { .. } => format!("{from} > DBT_INTERNAL_DEST.dbt_updated_at"),
            Strategy::Check { columns: checked } => {
                let list: Vec<&str> = match checked {
                    CheckCols::All => columns.clone(),
                    CheckCols::List(l) => l.iter().map(String::as_str).collect(),
                };
                list.iter()
                    .map(|c| {
                        let c = self.q(c);
                        format!("DBT_INTERNAL_SOURCE.{c} is distinct from DBT_INTERNAL_DEST.{c}")
                    })
                    .collect::<Vec<_>>()
                    .join(" or ")
            }
        };
        if self.config.hard_deletes == HardDeletes::NewRecord {
            changed = format!("({changed}) or DBT_INTERNAL_DEST.dbt_is_deleted = 'True'");
        }
        let matches = self.key_match("DBT_INTERNAL_SOURCE", "DBT_INTERNAL_DEST");
        // 2. Close the current version of each changed row.
        out.push(format!(
            "update {target} as DBT_INTERNAL_DEST\nset dbt_valid_to = {from}\nfrom {batch} as DBT_INTERNAL_SOURCE\nwhere {matches}\n  and DBT_INTERNAL_DEST.dbt_valid_to is null\n  and ({changed})"
        ));
        // 4. Keys that left the query.
        let gone = format!(
            "DBT_INTERNAL_DEST.dbt_valid_to is null and not exists (select 1 from {batch} as DBT_INTERNAL_SOURCE where {matches})"
        );
        let quoted: Vec<String> = columns.iter().map(|c| self.q(c)).collect();
        match self.config.hard_deletes {
            HardDeletes::Ignore => {}
            HardDeletes::Invalidate => out.push(format!(
                "update {target} as DBT_INTERNAL_DEST\nset dbt_valid_to = {}\nwhere {gone}",
                self.now
            )),
            HardDeletes::NewRecord => {
                // The deleted version repeats the last known values.
                let history_cols: Vec<String> = history
                    .iter()
                    .filter(|(c, _)| !is_meta(c))
                    .map(|(c, _)| self.q(c))
                    .collect();
                out.push(format!(
                    "insert into {target} ({}, {})\nselect {}, {}\nfrom {target} as DBT_INTERNAL_DEST\nwhere {gone} and DBT_INTERNAL_DEST.dbt_is_deleted = 'False'",
                    history_cols.join(", "),
                    self.meta_names().join(", "),
                    history_cols
                        .iter()
                        .map(|c| format!("DBT_INTERNAL_DEST.{c}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.meta_values("DBT_INTERNAL_DEST", &self.now, true).join(", "),
                ));
                out.push(format!(
                    "update {target} as DBT_INTERNAL_DEST\nset dbt_valid_to = {}\nwhere {gone} and DBT_INTERNAL_DEST.dbt_is_deleted = 'False'",
                    self.now
                ));
            }
        }
        // 2-3. Open a version for every key without a current one.
        out.push(format!(
            "insert into {target} ({}, {})\nselect {}, {}\nfrom {batch} as DBT_INTERNAL_SOURCE\nwhere not exists (select 1 from {target} as DBT_INTERNAL_DEST where {matches} and DBT_INTERNAL_DEST.dbt_valid_to is null)",
            quoted.join(", "),
            self.meta_names().join(", "),
            quoted
                .iter()
                .map(|c| format!("DBT_INTERNAL_SOURCE.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.meta_values("DBT_INTERNAL_SOURCE", &from, false).join(", "),
        ));
        out.push(d.drop_relation(&batch_rel, RelationKind::Table));
        out
    }
}
