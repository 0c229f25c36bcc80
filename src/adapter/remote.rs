//! What the HTTP warehouses (Snowflake, BigQuery) share: loading a seed as SQL.
//!
//! A seed becomes a typed scratch table filled by multi-row `insert ... values`
//! statements (a thousand rows or half a megabyte each, never one round trip per
//! row), then replaces the seed's table in one `create or replace ... as select`.
//! Undeclared column types are inferred as dbt infers them (`seed_types`, shared
//! with the DuckDB adapter); declared `column_types` are checked here when
//! their kind is recognisable, so a bad value is reported with its CSV line
//! before anything is written.

use std::sync::LazyLock;

use regex::Regex;

use super::{seed_types, Dialect, GenericType, RelationKind, SeedError, SeedLoad, WarehouseError};

/// A seed load as statements: create the scratch table, fill it, replace the
/// target, drop the scratch table.
pub struct SeedStatements {
    pub create_scratch: String,
    pub inserts: Vec<String>,
    pub replace: Vec<String>,
    pub drop_scratch: String,
}

/// Load a seed by running its statements one at a time with `run`; the scratch
/// table is dropped whether the load worked or not (a failed drop leaves only
/// scratch behind, never a half-written seed).
pub fn load_seed(
    dialect: &dyn Dialect,
    seed: &SeedLoad<'_>,
    existing: Option<RelationKind>,
    mut run: impl FnMut(&str) -> Result<(), WarehouseError>,
) -> Result<u64, SeedError> {
    let plan = seed_statements(dialect, seed, existing)?;
    let outcome = std::iter::once(&plan.create_scratch)
        .chain(&plan.inserts)
        .chain(&plan.replace)
        .try_for_each(|statement| run(statement));
    let _ = run(&plan.drop_scratch);
    outcome?;
    Ok(seed.rows.len() as u64)
}

const MAX_ROWS_PER_INSERT: usize = 1000;
const MAX_INSERT_BYTES: usize = 512 * 1024;

pub fn seed_statements(
    dialect: &dyn Dialect,
    seed: &SeedLoad<'_>,
    existing: Option<RelationKind>,
) -> Result<SeedStatements, SeedError> {
    let scratch = seed
        .relation
        .with_identifier(format!("{}__sluice_seed", seed.relation.identifier));
    let mut types = Vec::with_capacity(seed.columns.len());
    // The inferred kind of each undeclared column: its cells are written for it.
    let mut inferred: Vec<Option<GenericType>> = vec![None; seed.columns.len()];
    for (i, column) in seed.columns.iter().enumerate() {
        let values = || {
            seed.rows
                .iter()
                .map(move |r| r.get(i).and_then(|v| v.as_deref()))
        };
        let declared = seed
            .declared
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(column))
            .map(|(_, t)| t.clone());
        let data_type = match declared {
            Some(t) => match classify(&t) {
                Some(kind) => {
                    if let Some((row, value)) = values()
                        .enumerate()
                        .find(|(_, v)| v.is_some_and(|v| !fits(kind, v)))
                    {
                        return Err(SeedError::BadValue {
                            line: seed.lines.get(row).copied().unwrap_or(0),
                            column: column.clone(),
                            value: value.unwrap_or_default().to_owned(),
                            data_type: t,
                        });
                    }
                    // A portable name is written in this warehouse's own words
                    // (`varchar` → BigQuery's `string`); a numeric keeps its
                    // precision and scale as written.
                    if kind == GenericType::Numeric {
                        t
                    } else {
                        dialect.type_name(kind).to_owned()
                    }
                }
                None => t,
            },
            None => {
                let kind = seed_types::infer(values());
                inferred[i] = Some(kind);
                dialect.type_name(kind).to_owned()
            }
        };
        types.push(data_type);
    }
    let quoted: Vec<String> = seed.columns.iter().map(|c| dialect.quote(c)).collect();
    let scratch_sql = dialect.render_relation(&scratch);
    let create_scratch = format!(
        "create or replace table {scratch_sql} ({})",
        quoted
            .iter()
            .zip(&types)
            .map(|(c, t)| format!("{c} {t}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let head = format!("insert into {scratch_sql} ({}) values\n", quoted.join(", "));
    let string_type = dialect.type_name(GenericType::String);
    let mut inserts = Vec::new();
    let mut current = String::new();
    let mut in_current = 0;
    for row in seed.rows {
        let cells: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(i, t)| match row.get(i).and_then(|v| v.as_deref()) {
                None => "null".to_owned(),
                Some(v) if inferred[i].is_some() => {
                    match inferred[i].and_then(|k| seed_types::cell(k, v)) {
                        None => "null".to_owned(),
                        Some(v) if t == string_type => dialect.string_literal(&v),
                        Some(v) => format!("cast({} as {t})", dialect.string_literal(&v)),
                    }
                }
                Some(v) if t == string_type => dialect.string_literal(v),
                Some(v) => format!("cast({} as {t})", dialect.string_literal(v)),
            })
            .collect();
        let tuple = format!("({})", cells.join(", "));
        if in_current > 0
            && (in_current == MAX_ROWS_PER_INSERT || current.len() + tuple.len() > MAX_INSERT_BYTES)
        {
            inserts.push(std::mem::take(&mut current));
            in_current = 0;
        }
        if in_current == 0 {
            current.push_str(&head);
        } else {
            current.push_str(",\n");
        }
        current.push_str(&tuple);
        in_current += 1;
    }
    if in_current > 0 {
        inserts.push(current);
    }
    let replace = dialect.replace_statements(
        seed.relation,
        existing,
        RelationKind::Table,
        &format!("select * from {scratch_sql}"),
    );
    Ok(SeedStatements {
        create_scratch,
        inserts,
        replace,
        drop_scratch: dialect.drop_relation(&scratch, RelationKind::Table),
    })
}

/// A string literal for warehouses that read backslash escapes (Snowflake,
/// BigQuery): backslashes and quotes escaped, line breaks written as `\n`.
pub(crate) fn escaped_string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// One step of a statement list, as Snowflake and BigQuery can run it.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// A statement on its own: DDL (Snowflake commits it by itself; BigQuery
    /// cannot put it in a transaction), or a lone DML statement.
    Alone(&'a str),
    /// Consecutive DML statements, to run in one transaction.
    Together(&'a [String]),
}

/// Split statements into steps: each run of two or more consecutive DML
/// statements (and queries) becomes one transaction; everything else runs
/// alone, in order. A delete+insert is then atomic even though the batch table
/// it reads was created just before.
pub fn transaction_steps(statements: &[String]) -> Vec<Step<'_>> {
    let transactional = |sql: &str| {
        matches!(
            first_keyword(sql).as_str(),
            "insert" | "update" | "delete" | "merge" | "select" | "with"
        )
    };
    let mut steps = Vec::new();
    let mut i = 0;
    while i < statements.len() {
        let run = statements[i..]
            .iter()
            .take_while(|s| transactional(s))
            .count();
        if run >= 2 {
            steps.push(Step::Together(&statements[i..i + run]));
            i += run;
        } else {
            steps.push(Step::Alone(&statements[i]));
            i += 1;
        }
    }
    steps
}

/// A statement's first keyword, lowercase, after comments and parentheses.
pub fn first_keyword(sql: &str) -> String {
    let mut rest = sql.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else if let Some(r) = rest.strip_prefix('(') {
            rest = r.trim_start();
        } else {
            break;
        }
    }
    rest.chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_lowercase()
}

/// A decimal or scientific number.
static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
        .expect("static regex is valid")
});

/// A date, with an optional time of day.
static DATE_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?$")
        .expect("static regex is valid")
});

/// Whether `value` is a valid `kind`: it looks like one and, for numbers and
/// dates, is one (fits the width, names a real day).
fn fits(kind: GenericType, value: &str) -> bool {
    // DATE_TIME matched, so the first ten bytes are ASCII `YYYY-MM-DD`.
    let real_day = || chrono::NaiveDate::parse_from_str(&value[..10], "%Y-%m-%d").is_ok();
    match kind {
        GenericType::Int => value.parse::<i32>().is_ok(),
        GenericType::BigInt => value.parse::<i64>().is_ok(),
        GenericType::Float | GenericType::Numeric => NUMBER.is_match(value),
        GenericType::Boolean => {
            value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
        }
        GenericType::Date => value.len() == 10 && DATE_TIME.is_match(value) && real_day(),
        GenericType::Timestamp => DATE_TIME.is_match(value) && real_day(),
        GenericType::String => true,
    }
}

/// The kind of a declared type name, when sluice recognises it.
fn classify(data_type: &str) -> Option<GenericType> {
    let t = data_type.trim().to_lowercase();
    let base: String = t
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let zero_scale = t.contains(',') && t.replace(' ', "").ends_with(",0)");
    Some(match base.as_str() {
        "tinyint" | "smallint" | "byteint" => GenericType::Int,
        "int" | "integer" | "bigint" | "int64" => GenericType::BigInt,
        "number" | "numeric" | "decimal" | "bignumeric" if zero_scale => GenericType::BigInt,
        "number" | "numeric" | "decimal" | "bignumeric" => GenericType::Numeric,
        "float" | "float4" | "float8" | "float64" | "double" | "real" => GenericType::Float,
        "bool" | "boolean" => GenericType::Boolean,
        "date" => GenericType::Date,
        "varchar" | "string" | "text" | "char" | "character" => GenericType::String,
        "timestamp" | "timestamp_ntz" | "datetime" => GenericType::Timestamp,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::snowflake::SnowflakeDialect;
    use crate::adapter::RelationName;

    #[test]
    fn a_declared_type_is_checked_with_the_line_of_the_bad_value() {
        let relation = RelationName {
            database: Some("GTM".into()),
            schema: "analytics".into(),
            identifier: "accounts".into(),
        };
        let rows = vec![
            vec![Some("1".to_owned()), Some("a".to_owned())],
            vec![Some("x2".to_owned()), None],
        ];
        let seed = SeedLoad {
            relation: &relation,
            columns: &["id".to_owned(), "name".to_owned()],
            rows: &rows,
            lines: &[2, 3],
            declared: &[("id".to_owned(), "number(38,0)".to_owned())],
            csv_file: None,
        };
        match seed_statements(&SnowflakeDialect, &seed, None) {
            Err(SeedError::BadValue {
                line,
                column,
                value,
                ..
            }) => {
                assert_eq!((line, column.as_str(), value.as_str()), (3, "id", "x2"));
            }
            _ => panic!("expected a bad value"),
        }
    }

    #[test]
    fn dml_runs_are_grouped_and_ddl_stands_alone() {
        let statements: Vec<String> = [
            "drop table if exists b",
            "create table b as (select 1)",
            "delete from t where exists (select 1 from b)",
            "insert into t select * from b",
            "drop table if exists b",
            "merge into t using b on true when matched then delete",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            transaction_steps(&statements),
            [
                Step::Alone("drop table if exists b"),
                Step::Alone("create table b as (select 1)"),
                Step::Together(&statements[2..4]),
                Step::Alone("drop table if exists b"),
                Step::Alone("merge into t using b on true when matched then delete"),
            ]
        );
    }

    #[test]
    fn rows_are_batched_into_multi_row_inserts() {
        let relation = RelationName {
            database: None,
            schema: "s".into(),
            identifier: "t".into(),
        };
        let rows: Vec<Vec<Option<String>>> = (0..2500)
            .map(|i| vec![Some(i.to_string()), Some(format!("it's {i}"))])
            .collect();
        let lines: Vec<u64> = (2..2502).collect();
        let seed = SeedLoad {
            relation: &relation,
            columns: &["id".to_owned(), "label".to_owned()],
            rows: &rows,
            lines: &lines,
            declared: &[],
            csv_file: None,
        };
        let s = seed_statements(&SnowflakeDialect, &seed, None)
            .ok()
            .unwrap();
        assert_eq!(
            s.create_scratch,
            "create or replace table s.t__sluice_seed (id integer, label varchar)"
        );
        assert_eq!(s.inserts.len(), 3);
        assert!(
            s.inserts[0].contains("(cast('0' as integer), 'it\\'s 0')"),
            "{}",
            &s.inserts[0][..200]
        );
        let tuples: usize = s
            .inserts
            .iter()
            .map(|i| i.matches("),\n(").count() + 1)
            .sum();
        assert_eq!(tuples, 2500);
    }
}
