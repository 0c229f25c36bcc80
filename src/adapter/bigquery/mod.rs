//! BigQuery: its dialect (backtick quoting, BigQuery type names, the functions of
//! other warehouses that BigQuery lacks, `create or replace` DDL), and the
//! connection over BigQuery's REST API ([`client`], [`token`], [`connection`]).

pub mod client;
pub mod connection;
pub mod token;

pub use connection::BigQueryAdapter;

use super::contract::{self, ConstraintSupport};
use super::{Dialect, GenericType};
use crate::project::contracts::{Constraint, ConstraintType};
use crate::project::WarehouseKind;

pub struct BigQueryDialect;

impl Dialect for BigQueryDialect {
    fn kind(&self) -> WarehouseKind {
        WarehouseKind::BigQuery
    }

    fn quote(&self, identifier: &str) -> String {
        format!("`{}`", identifier.replace('`', "\\`"))
    }

    fn type_name(&self, t: GenericType) -> &'static str {
        match t {
            GenericType::String => "string",
            GenericType::Int | GenericType::BigInt => "int64",
            GenericType::Float => "float64",
            // NUMERIC is (38, 9); written out for the emulator (see type_numeric).
            GenericType::Numeric => "numeric(38, 9)",
            GenericType::Boolean => "bool",
            GenericType::Date => "date",
            GenericType::Timestamp => "timestamp",
        }
    }

    fn parser_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::BigQueryDialect {})
    }

    /// Backslash escapes are read inside string literals.
    fn backslash_escapes(&self) -> bool {
        true
    }

    fn foreign_functions(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("iff", "if() or a case expression"),
            ("datediff", "dbt.datediff"),
            ("dateadd", "dbt.dateadd"),
            ("to_timestamp_ntz", "dbt.safe_cast"),
            ("nvl", "coalesce"),
            ("nvl2", "a case expression"),
            ("zeroifnull", "coalesce(x, 0)"),
            ("listagg", "dbt.listagg"),
            ("div0", "sluice.safe_divide"),
            ("count_if", "countif"),
            ("strftime", "format_timestamp"),
            ("strptime", "parse_timestamp"),
            ("epoch", "unix_seconds"),
            ("epoch_ms", "unix_millis"),
            ("list_value", "an array literal [..]"),
            ("struct_pack", "struct(..)"),
            ("regexp_matches", "regexp_contains"),
            ("generate_series", "sluice.date_spine"),
            ("make_date", "dbt.date"),
            ("median", "percentile_cont(x, 0.5) over ()"),
            ("len", "length"),
            ("convert_timezone", "datetime(timestamp, zone)"),
        ]
    }

    fn assert_unique_keys(&self, from: &str, keys: &[String], what: &str) -> Option<String> {
        Some(super::raise_on_repeated_keys(self, from, keys, what))
    }

    fn md5_hex(&self, expr: &str) -> String {
        format!("to_hex(md5({expr}))")
    }

    /// dbt-bigquery's support table: no check or unique constraints; keys are
    /// informational.
    fn constraint_support(&self, t: ConstraintType) -> ConstraintSupport {
        match t {
            ConstraintType::Check | ConstraintType::Unique => ConstraintSupport::NotSupported,
            ConstraintType::NotNull | ConstraintType::Custom => ConstraintSupport::Enforced,
            ConstraintType::PrimaryKey | ConstraintType::ForeignKey => {
                ConstraintSupport::NotEnforced
            }
        }
    }

    /// dbt-bigquery's `Column.TYPE_LABELS`.
    fn translate_type(&self, data_type: &str) -> String {
        match data_type.to_ascii_uppercase().as_str() {
            "TEXT" => "STRING".to_owned(),
            "FLOAT" => "FLOAT64".to_owned(),
            "INTEGER" => "INT64".to_owned(),
            _ => data_type.to_owned(),
        }
    }

    /// Keys are written `not enforced`, as BigQuery requires.
    fn render_column_constraint(&self, c: &Constraint, to: Option<&str>) -> Option<String> {
        let text = contract::base_column_constraint(c, to)?;
        Some(match c.kind {
            ConstraintType::PrimaryKey | ConstraintType::ForeignKey => {
                format!("{text} not enforced")
            }
            _ => text,
        })
    }

    fn render_model_constraint(&self, c: &Constraint, to: Option<&str>) -> Option<String> {
        let text = contract::base_model_constraint(c, to)?;
        Some(match c.kind {
            ConstraintType::PrimaryKey | ConstraintType::ForeignKey => {
                format!("{text} not enforced")
            }
            _ => text,
        })
    }

    fn foreign_types(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("varchar", "dbt.type_string()"),
            ("text", "dbt.type_string()"),
            ("double", "dbt.type_float()"),
            ("real", "dbt.type_float()"),
            ("float", "dbt.type_float()"),
            ("timestamp_ntz", "dbt.type_timestamp()"),
            ("timestamptz", "dbt.type_timestamp()"),
            ("hugeint", "dbt.type_numeric()"),
            ("ubigint", "dbt.type_bigint()"),
            ("number", "dbt.type_numeric()"),
            ("variant", "json"),
        ]
    }
}
