//! Snowflake: its dialect (unquoted-by-default identifiers, Snowflake type names,
//! the functions of other warehouses that Snowflake lacks, `create or replace`
//! DDL), and the connection over Snowflake's HTTP protocol ([`client`], [`rows`],
//! [`connection`]).

pub mod client;
pub mod connection;
pub mod rows;

pub use connection::SnowflakeAdapter;

use super::{Dialect, GenericType};
use crate::project::WarehouseKind;

pub struct SnowflakeDialect;

impl Dialect for SnowflakeDialect {
    fn kind(&self) -> WarehouseKind {
        WarehouseKind::Snowflake
    }

    /// Snowflake folds unquoted names to upper case; sluice quotes only names that
    /// need it, as dbt-snowflake does by default, so `select * from stg_x` and the
    /// relation sluice created are the same object.
    fn quote(&self, identifier: &str) -> String {
        let plain = identifier
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && identifier
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        if plain {
            identifier.to_owned()
        } else {
            format!("\"{}\"", identifier.replace('"', "\"\""))
        }
    }

    /// A name written unquoted (see `quote`) is folded to upper case; a quoted one
    /// is compared as written.
    fn identifier_key(&self, identifier: &str) -> String {
        if self.quote(identifier) == identifier {
            identifier.to_uppercase()
        } else {
            identifier.to_owned()
        }
    }

    fn type_name(&self, t: GenericType) -> &'static str {
        match t {
            GenericType::String => "varchar",
            GenericType::Int => "integer",
            GenericType::BigInt => "bigint",
            GenericType::Float => "float",
            GenericType::Numeric => "numeric(28,6)",
            GenericType::Boolean => "boolean",
            GenericType::Date => "date",
            GenericType::Timestamp => "timestamp_ntz",
        }
    }

    fn parser_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::SnowflakeDialect {})
    }

    /// Backslash escapes are read inside string literals.
    fn backslash_escapes(&self) -> bool {
        true
    }

    fn foreign_functions(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("date_diff", "dbt.datediff"),
            ("date_add", "dbt.dateadd"),
            ("date_sub", "dbt.dateadd"),
            ("strftime", "to_char"),
            ("strptime", "to_timestamp"),
            ("epoch", "date_part(epoch_second, ...)"),
            ("epoch_ms", "date_part(epoch_millisecond, ...)"),
            ("make_date", "dbt.date"),
            ("list_value", "array_construct"),
            ("struct_pack", "object_construct"),
            ("regexp_matches", "regexp_like"),
            ("generate_series", "sluice.date_spine"),
            ("generate_date_array", "sluice.date_spine"),
            ("timestamp_diff", "dbt.datediff"),
            ("datetime_diff", "dbt.datediff"),
            ("timestamp_trunc", "dbt.date_trunc"),
            ("string_agg", "dbt.listagg"),
            ("safe_divide", "sluice.safe_divide"),
            ("countif", "count_if"),
            ("format_date", "to_char"),
            ("parse_date", "to_date"),
        ]
    }

    fn foreign_types(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("int64", "dbt.type_bigint()"),
            ("float64", "dbt.type_float()"),
            ("hugeint", "dbt.type_numeric()"),
            ("ubigint", "dbt.type_bigint()"),
            ("uinteger", "dbt.type_int()"),
            ("bool", "dbt.type_boolean()"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::{RelationKind, RelationName};

    #[test]
    fn string_literals_escape_backslashes_quotes_and_newlines() {
        assert_eq!(
            SnowflakeDialect.string_literal("it's a\\b\nc"),
            "'it\\'s a\\\\b\\nc'"
        );
    }

    #[test]
    fn a_view_replacing_a_table_drops_the_table_first() {
        let t = RelationName {
            database: Some("GTM".into()),
            schema: "analytics".into(),
            identifier: "fct_x".into(),
        };
        assert_eq!(
            SnowflakeDialect.replace_statements(
                &t,
                Some(RelationKind::Table),
                RelationKind::View,
                "select 1"
            ),
            [
                "drop table if exists GTM.analytics.fct_x",
                "create or replace view GTM.analytics.fct_x as (\nselect 1\n)"
            ]
        );
    }
}
