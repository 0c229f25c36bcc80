//! Incremental models: writing a new batch into the model's existing table.
//!
//! A run that finds the table (and no `--full-refresh`) compiles the model with
//! `is_incremental()` true, so its SQL selects only the new batch. Running it:
//!
//! 1. compare the batch's columns with the table's ([`plan`]) and apply
//!    `on_schema_change` — stop, ignore, add columns, or sync them;
//! 2. build the batch into a scratch table next to the target, then write it with
//!    the strategy (`append`, `merge`, `delete+insert`) in the target's dialect;
//! 3. all of it, hooks included, in one transaction: a batch that fails half-way
//!    leaves the table exactly as it was.

use crate::adapter::{Dialect, RelationKind, RelationName};
use crate::project::incremental::{IncrementalConfig, OnSchemaChange};

/// A column: its name and warehouse type, as the warehouse describes it.
pub type Column = (String, String);

/// How the table's columns change before the batch is written, and which columns
/// the write fills.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub add: Vec<Column>,
    pub drop: Vec<String>,
    pub retype: Vec<Column>,
    /// The columns written from the batch (every other table column gets NULL).
    pub columns: Vec<String>,
}

/// Why a batch cannot be written: a message and how to fix it.
#[derive(Debug, PartialEq, Eq)]
pub struct PlanError {
    pub message: String,
    pub help: String,
}

fn find<'a>(columns: &'a [Column], name: &str) -> Option<&'a Column> {
    columns.iter().find(|(c, _)| c.eq_ignore_ascii_case(name))
}

fn names(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Compare the table's columns with the batch's and decide what to do.
pub fn plan(
    config: &IncrementalConfig,
    table: &[Column],
    batch: &[Column],
) -> Result<Plan, PlanError> {
    for key in &config.unique_key {
        if find(batch, key).is_none() {
            return Err(PlanError {
                message: format!(
                    "unique_key column `{key}` is not among the columns the model returns"
                ),
                help: format!(
                    "select `{key}` in the model, or change `unique_key`; the model returns: {}",
                    names(&batch.iter().map(|c| c.0.clone()).collect::<Vec<_>>())
                ),
            });
        }
    }
    let added: Vec<Column> = batch
        .iter()
        .filter(|(c, _)| find(table, c).is_none())
        .cloned()
        .collect();
    let removed: Vec<String> = table
        .iter()
        .filter(|(c, _)| find(batch, c).is_none())
        .map(|(c, _)| c.clone())
        .collect();
    let retyped: Vec<Column> = batch
        .iter()
        .filter(|(c, t)| find(table, c).is_some_and(|(_, old)| !old.eq_ignore_ascii_case(t)))
        .cloned()
        .collect();
    let batch_names = || batch.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>();
    match config.on_schema_change {
        OnSchemaChange::Ignore => {
            if !removed.is_empty() {
                return Err(PlanError {
                    message: format!(
                        "the model no longer returns {} of its existing table",
                        names(&removed)
                    ),
                    help: "with `on_schema_change: ignore` the table keeps its columns, so the \
                           batch must return them: set `on_schema_change: append_new_columns` \
                           (keep them, NULL from now on) or `sync_all_columns` (drop them), or \
                           rebuild with `--full-refresh`"
                        .into(),
                });
            }
            // New columns are left out; the table's columns are filled by name.
            Ok(Plan {
                columns: table.iter().map(|(c, _)| c.clone()).collect(),
                ..Plan::default()
            })
        }
        OnSchemaChange::Fail => {
            if added.is_empty() && removed.is_empty() && retyped.is_empty() {
                return Ok(Plan {
                    columns: batch_names(),
                    ..Plan::default()
                });
            }
            let mut changes = Vec::new();
            if !added.is_empty() {
                changes.push(format!(
                    "new: {}",
                    names(&added.iter().map(|c| c.0.clone()).collect::<Vec<_>>())
                ));
            }
            if !removed.is_empty() {
                changes.push(format!("removed: {}", names(&removed)));
            }
            for (c, t) in &retyped {
                let old = find(table, c).map_or("", |(_, t)| t.as_str());
                changes.push(format!("`{c}` {old} → {t}"));
            }
            Err(PlanError {
                message: format!(
                    "the model's columns changed and `on_schema_change` is `fail` ({})",
                    changes.join("; ")
                ),
                help: "rebuild the table with `--full-refresh`, or set `on_schema_change` to \
                       `append_new_columns` or `sync_all_columns`"
                    .into(),
            })
        }
        OnSchemaChange::AppendNewColumns => Ok(Plan {
            add: added,
            columns: batch_names(),
            ..Plan::default()
        }),
        OnSchemaChange::SyncAllColumns => Ok(Plan {
            add: added,
            drop: removed,
            retype: retyped,
            columns: batch_names(),
        }),
    }
}

/// The scratch table a batch is built into, next to the target.
pub fn batch_relation(target: &RelationName) -> RelationName {
    target.with_identifier(format!("{}__sluice_batch", target.identifier))
}

/// Every statement of one incremental run, to run in one transaction: build the
/// batch, change the table's columns, write the batch, drop the scratch table.
pub fn statements(
    dialect: &dyn Dialect,
    target: &RelationName,
    config: &IncrementalConfig,
    plan: &Plan,
    sql: &str,
) -> Vec<String> {
    let batch = batch_relation(target);
    let mut out = vec![
        dialect.drop_relation(&batch, RelationKind::Table),
        dialect.create_table_as(&batch, sql),
    ];
    for (column, data_type) in &plan.add {
        out.push(dialect.add_column(target, column, data_type));
    }
    for column in &plan.drop {
        out.push(dialect.drop_column(target, column));
    }
    for (column, data_type) in &plan.retype {
        out.push(dialect.alter_column_type(target, column, data_type));
    }
    out.extend(dialect.write_batch(target, &batch, config, &plan.columns));
    out.push(dialect.drop_relation(&batch, RelationKind::Table));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::incremental::Strategy;

    fn config(on_schema_change: OnSchemaChange) -> IncrementalConfig {
        IncrementalConfig {
            strategy: Strategy::Merge,
            unique_key: vec!["id".into()],
            on_schema_change,
            predicates: Vec::new(),
            full_refresh: None,
        }
    }

    fn cols(list: &[(&str, &str)]) -> Vec<Column> {
        list.iter()
            .map(|(c, t)| (c.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn each_on_schema_change_mode_plans_its_columns() {
        let table = cols(&[("id", "INTEGER"), ("amount", "INTEGER"), ("old", "VARCHAR")]);
        let batch = cols(&[("id", "INTEGER"), ("amount", "DOUBLE"), ("new", "DATE")]);
        let err = plan(&config(OnSchemaChange::Ignore), &table, &batch).unwrap_err();
        assert!(err.message.contains("`old`"), "{err:?}");
        let err = plan(&config(OnSchemaChange::Fail), &table, &batch).unwrap_err();
        assert!(
            err.message
                .contains("new: `new`; removed: `old`; `amount` INTEGER → DOUBLE"),
            "{err:?}"
        );
        let p = plan(&config(OnSchemaChange::AppendNewColumns), &table, &batch).unwrap();
        assert_eq!(p.add, cols(&[("new", "DATE")]));
        assert!(p.drop.is_empty() && p.retype.is_empty());
        assert_eq!(p.columns, ["id", "amount", "new"]);
        let p = plan(&config(OnSchemaChange::SyncAllColumns), &table, &batch).unwrap();
        assert_eq!(p.drop, ["old"]);
        assert_eq!(p.retype, cols(&[("amount", "DOUBLE")]));
    }

    #[test]
    fn ignore_writes_the_table_columns_and_leaves_new_ones_out() {
        let table = cols(&[("id", "INTEGER"), ("amount", "INTEGER")]);
        let batch = cols(&[("amount", "INTEGER"), ("id", "INTEGER"), ("new", "DATE")]);
        let p = plan(&config(OnSchemaChange::Ignore), &table, &batch).unwrap();
        assert_eq!(p.columns, ["id", "amount"]);
        assert!(p.add.is_empty());
    }

    #[test]
    fn a_unique_key_the_batch_lacks_is_an_error() {
        let table = cols(&[("id", "INTEGER")]);
        let batch = cols(&[("other", "INTEGER")]);
        let err = plan(&config(OnSchemaChange::SyncAllColumns), &table, &batch).unwrap_err();
        assert!(err.message.contains("unique_key column `id`"), "{err:?}");
    }

    #[test]
    fn each_dialect_writes_each_strategy() {
        use crate::adapter::dialect;
        use crate::project::WarehouseKind;
        let target = RelationName {
            database: None,
            schema: "analytics".into(),
            identifier: "events".into(),
        };
        let plan = Plan {
            add: cols(&[("new_col", "varchar")]),
            columns: vec!["id".into(), "day".into(), "amount".into()],
            ..Plan::default()
        };
        let mut out = String::new();
        for kind in [
            WarehouseKind::DuckDb,
            WarehouseKind::Snowflake,
            WarehouseKind::BigQuery,
        ] {
            for strategy in [Strategy::Append, Strategy::Merge, Strategy::DeleteInsert] {
                let mut c = config(OnSchemaChange::AppendNewColumns);
                c.strategy = strategy;
                c.unique_key = vec!["id".into(), "day".into()];
                c.predicates = vec!["DBT_INTERNAL_DEST.day >= '2024-01-01'".into()];
                if strategy == Strategy::Append {
                    c.unique_key.clear();
                    c.predicates.clear();
                }
                out.push_str(&format!("-- {} {}\n", kind.as_str(), strategy.as_str()));
                for s in statements(dialect(kind), &target, &c, &plan, "select 1") {
                    out.push_str(&s);
                    out.push_str(";\n");
                }
            }
        }
        insta::assert_snapshot!(out);
    }
}
