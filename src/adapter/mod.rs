//! Adapters: everything that differs between warehouses.
//!
//! A [`Dialect`] owns what compiling needs — identifier quoting, relation names,
//! type names, DDL, the sqlparser dialect and the functions foreign to the
//! warehouse — so `sluice compile -t snowflake` works with no connection at all.
//! An [`Adapter`] adds a live connection: it opens [`Session`]s that run SQL. DuckDB
//! is embedded ([`duckdb::DuckDbAdapter`]); Snowflake and BigQuery are reached over
//! HTTP ([`snowflake::SnowflakeAdapter`], [`bigquery::BigQueryAdapter`]), with the
//! shared plumbing in [`http`], [`auth`] and [`remote`].

pub mod auth;
pub mod bigquery;
pub mod connect;
pub mod contract;
pub mod duckdb;
pub mod duckdb_icu;
pub mod http;
pub mod relation_cache;
pub mod remote;
pub mod seed_types;
pub mod snowflake;

use std::fmt;

use crate::project::contracts::{Constraint, ConstraintType};
use crate::project::incremental::{IncrementalConfig, Strategy};
use crate::project::WarehouseKind;

/// A relation's name in the warehouse: `[database.]schema.identifier`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelationName {
    pub database: Option<String>,
    pub schema: String,
    pub identifier: String,
}

impl RelationName {
    /// The same relation under another identifier (for build-then-swap).
    pub fn with_identifier(&self, identifier: String) -> RelationName {
        RelationName {
            identifier,
            ..self.clone()
        }
    }
}

impl fmt::Display for RelationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(db) = &self.database {
            write!(f, "{db}.")?;
        }
        write!(f, "{}.{}", self.schema, self.identifier)
    }
}

/// The portable type names the cross-database macros and seed loading ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenericType {
    String,
    Int,
    BigInt,
    Float,
    Numeric,
    Boolean,
    Date,
    Timestamp,
}

/// What a warehouse's SQL looks like. One implementation per warehouse.
pub trait Dialect: Send + Sync {
    fn kind(&self) -> WarehouseKind;

    /// Quote an identifier for this warehouse.
    fn quote(&self, identifier: &str) -> String;

    /// The relation as it is written in SQL.
    fn render_relation(&self, relation: &RelationName) -> String {
        let mut parts = Vec::with_capacity(3);
        if let Some(db) = &relation.database {
            parts.push(self.quote(db));
        }
        parts.push(self.quote(&relation.schema));
        parts.push(self.quote(&relation.identifier));
        parts.join(".")
    }

    /// An identifier as the warehouse compares it: two names with one key are
    /// one object. Exact by default (BigQuery's tables and datasets).
    fn identifier_key(&self, identifier: &str) -> String {
        identifier.to_owned()
    }

    fn type_name(&self, t: GenericType) -> &'static str;

    /// Whether string literals read backslash escapes (Snowflake, BigQuery).
    fn backslash_escapes(&self) -> bool {
        false
    }

    /// A string literal: standard SQL's (quotes doubled), or with backslash
    /// escapes where the warehouse reads them.
    fn string_literal(&self, s: &str) -> String {
        if self.backslash_escapes() {
            remote::escaped_string_literal(s)
        } else {
            format!("'{}'", s.replace('\'', "''"))
        }
    }

    /// The sqlparser dialect used to check compiled SQL before it runs.
    fn parser_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect>;

    /// Functions that belong to other warehouses and that this one lacks (lowercase
    /// name, and the portable macro to use instead).
    fn foreign_functions(&self) -> &'static [(&'static str, &'static str)];

    /// Type names this warehouse does not accept, with the macro to use instead.
    fn foreign_types(&self) -> &'static [(&'static str, &'static str)];

    fn create_schema(&self, schema: &str) -> String {
        format!("create schema if not exists {}", self.quote(schema))
    }

    fn create_table_as(&self, relation: &RelationName, sql: &str) -> String {
        format!(
            "create table {} as (\n{sql}\n)",
            self.render_relation(relation)
        )
    }

    fn drop_relation(&self, relation: &RelationName, kind: RelationKind) -> String {
        format!(
            "drop {} if exists {}",
            kind.as_sql(),
            self.render_relation(relation)
        )
    }

    /// The statements that replace `target` with the result of `sql`, run as one
    /// unit: a relation of the other kind under the same name is dropped, then one
    /// `create or replace` builds the new one. Until they take effect, readers see
    /// the previous version (DuckDB runs them in one transaction; Snowflake and
    /// BigQuery swap an object atomically, and their DDL cannot join a transaction).
    fn replace_statements(
        &self,
        target: &RelationName,
        existing: Option<RelationKind>,
        new_kind: RelationKind,
        sql: &str,
    ) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(kind) = existing.filter(|k| *k != new_kind) {
            out.push(self.drop_relation(target, kind));
        }
        out.push(format!(
            "create or replace {} {} as (\n{sql}\n)",
            new_kind.as_sql(),
            self.render_relation(target)
        ));
        out
    }

    /// How this warehouse treats each constraint type (dbt's `CONSTRAINT_SUPPORT`).
    fn constraint_support(&self, t: ConstraintType) -> contract::ConstraintSupport {
        contract::default_support(t)
    }

    /// A contract's `data_type` with `alias_types` on (dbt's `Column.TYPE_LABELS`).
    fn translate_type(&self, data_type: &str) -> String {
        if data_type.eq_ignore_ascii_case("string") {
            "TEXT".to_owned()
        } else {
            data_type.to_owned()
        }
    }

    /// A column-level constraint's DDL; `to`: a foreign key's referenced relation.
    fn render_column_constraint(&self, c: &Constraint, to: Option<&str>) -> Option<String> {
        contract::base_column_constraint(c, to)
    }

    /// A model-level constraint's DDL.
    fn render_model_constraint(&self, c: &Constraint, to: Option<&str>) -> Option<String> {
        contract::base_model_constraint(c, to)
    }

    /// A query listing the tables whose foreign keys reference `target`, directly
    /// or through others, one row each (`table_name`, `depth`), deepest first;
    /// `None` where replacing a referenced table needs no care.
    fn foreign_key_dependents_sql(&self, _target: &RelationName) -> Option<String> {
        None
    }

    /// The relation a foreign key references, as the DDL writes it.
    fn foreign_key_target(&self, relation: &RelationName) -> String {
        self.render_relation(relation)
    }

    /// The statements that replace `target` with a table created from its
    /// contract (`spec`: the column list with constraints, [`contract::table_spec`])
    /// and filled with `sql`'s `columns` (a comma-separated list), run as one unit.
    /// The default creates and fills it in one statement, as dbt-snowflake and
    /// dbt-bigquery do.
    fn contracted_table_statements(
        &self,
        target: &RelationName,
        existing: Option<RelationKind>,
        spec: &str,
        columns: &str,
        sql: &str,
    ) -> Vec<String> {
        let mut out = Vec::new();
        if existing == Some(RelationKind::View) {
            out.push(self.drop_relation(target, RelationKind::View));
        }
        out.push(format!(
            "create or replace table {} {spec} as (\nselect {columns}\nfrom (\n{sql}\n) as model_subq\n)",
            self.render_relation(target)
        ));
        out
    }

    fn add_column(&self, table: &RelationName, column: &str, data_type: &str) -> String {
        format!(
            "alter table {} add column {} {data_type}",
            self.render_relation(table),
            self.quote(column)
        )
    }

    fn drop_column(&self, table: &RelationName, column: &str) -> String {
        format!(
            "alter table {} drop column {}",
            self.render_relation(table),
            self.quote(column)
        )
    }

    fn alter_column_type(&self, table: &RelationName, column: &str, data_type: &str) -> String {
        format!(
            "alter table {} alter column {} set data type {data_type}",
            self.render_relation(table),
            self.quote(column)
        )
    }

    /// The statements that write an incremental batch (already built into `batch`)
    /// into `target` with the model's strategy, filling `columns`.
    fn write_batch(
        &self,
        target: &RelationName,
        batch: &RelationName,
        config: &IncrementalConfig,
        columns: &[String],
    ) -> Vec<String> {
        let w = BatchWrite::new(self, target, batch, config, columns);
        match config.strategy {
            Strategy::Append => vec![w.insert_all()],
            Strategy::DeleteInsert => vec![w.delete_matching(), w.insert_all()],
            Strategy::Merge => self.merge(target, &w, config),
        }
    }

    /// A statement that fails when a key repeats in `from` (a relation, or a
    /// parenthesized query), naming the key; `what` says what was being written.
    /// `None` where the warehouse has no way to raise an error from a query.
    fn assert_unique_keys(&self, _from: &str, _keys: &[String], _what: &str) -> Option<String> {
        None
    }

    /// The MD5 of a string expression, as 32 hex digits.
    fn md5_hex(&self, expr: &str) -> String {
        format!("md5({expr})")
    }

    /// A merge: update the rows whose key matches, insert the others. The default
    /// is standard SQL's `MERGE`.
    fn merge(
        &self,
        _target: &RelationName,
        w: &BatchWrite,
        _config: &IncrementalConfig,
    ) -> Vec<String> {
        let mut merge = format!(
            "merge into {} as DBT_INTERNAL_DEST\nusing {} as DBT_INTERNAL_SOURCE\non {}",
            w.target, w.batch, w.matches
        );
        if !w.updates.is_empty() {
            merge.push_str(&format!("\nwhen matched then update set {}", w.updates));
        }
        merge.push_str(&format!(
            "\nwhen not matched then insert ({}) values ({})",
            w.columns, w.source_columns
        ));
        vec![merge]
    }
}

/// A query that raises an error naming the first key that repeats in `from`, for
/// warehouses with an `error()` function (DuckDB, BigQuery). The message carries
/// the key, so the warehouse cannot fold the call away as a constant.
pub fn raise_on_repeated_keys<D: Dialect + ?Sized>(
    dialect: &D,
    from: &str,
    keys: &[String],
    what: &str,
) -> String {
    let text = dialect.type_name(GenericType::String);
    let quoted: Vec<String> = keys.iter().map(|k| dialect.quote(k)).collect();
    let key_text = quoted
        .iter()
        .map(|k| format!("coalesce(cast({k} as {text}), 'NULL')"))
        .collect::<Vec<_>>()
        .join(" || ', ' || ");
    format!(
        "select error('{}: more than one row has unique_key ({}) = (' || {key_text} || '); make the key unique')\nfrom {from} as keyed group by {} having count(*) > 1 limit 1",
        what.replace('\'', "''"),
        keys.join(", ").replace('\'', "''"),
        quoted.join(", ")
    )
}

/// The pieces of an incremental write, quoted for one dialect. The target is
/// aliased `DBT_INTERNAL_DEST` and the batch `DBT_INTERNAL_SOURCE`, as in dbt, so
/// `incremental_predicates` written for dbt work unchanged.
pub struct BatchWrite {
    pub target: String,
    pub batch: String,
    /// `c1, c2`
    pub columns: String,
    /// `DBT_INTERNAL_SOURCE.c1, DBT_INTERNAL_SOURCE.c2`
    pub source_columns: String,
    /// `c2 = DBT_INTERNAL_SOURCE.c2` for every non-key column.
    pub updates: String,
    /// Key equality between the two aliases, and the incremental predicates.
    pub matches: String,
}

impl BatchWrite {
    pub fn new<D: Dialect + ?Sized>(
        dialect: &D,
        target: &RelationName,
        batch: &RelationName,
        config: &IncrementalConfig,
        columns: &[String],
    ) -> BatchWrite {
        let quoted: Vec<String> = columns.iter().map(|c| dialect.quote(c)).collect();
        let is_key = |c: &str| config.unique_key.iter().any(|k| k.eq_ignore_ascii_case(c));
        let mut conditions: Vec<String> = config
            .unique_key
            .iter()
            .map(|k| {
                let k = dialect.quote(k);
                format!("DBT_INTERNAL_SOURCE.{k} = DBT_INTERNAL_DEST.{k}")
            })
            .collect();
        conditions.extend(config.predicates.iter().map(|p| format!("({p})")));
        BatchWrite {
            target: dialect.render_relation(target),
            batch: dialect.render_relation(batch),
            columns: quoted.join(", "),
            source_columns: quoted
                .iter()
                .map(|c| format!("DBT_INTERNAL_SOURCE.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            updates: columns
                .iter()
                .zip(&quoted)
                .filter(|(c, _)| !is_key(c))
                .map(|(_, q)| format!("{q} = DBT_INTERNAL_SOURCE.{q}"))
                .collect::<Vec<_>>()
                .join(", "),
            matches: conditions.join(" and "),
        }
    }

    pub fn insert_all(&self) -> String {
        format!(
            "insert into {} ({})\nselect {} from {} as DBT_INTERNAL_SOURCE",
            self.target, self.columns, self.source_columns, self.batch
        )
    }

    /// Delete the target rows a batch row matches (delete+insert).
    pub fn delete_matching(&self) -> String {
        format!(
            "delete from {} as DBT_INTERNAL_DEST\nwhere exists (select 1 from {} as DBT_INTERNAL_SOURCE where {})",
            self.target, self.batch, self.matches
        )
    }
}

/// Tables and views: what exists in the warehouse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelationKind {
    Table,
    View,
}

impl RelationKind {
    /// The kind a catalog's table type names (`VIEW`, `MATERIALIZED_VIEW`, `BASE
    /// TABLE`, `TABLE`, …): views are views, everything else holds rows.
    pub fn from_table_type(table_type: &str) -> RelationKind {
        if table_type.to_ascii_uppercase().ends_with("VIEW") {
            RelationKind::View
        } else {
            RelationKind::Table
        }
    }

    pub fn as_sql(self) -> &'static str {
        match self {
            RelationKind::Table => "table",
            RelationKind::View => "view",
        }
    }
}

/// The dialect of a warehouse kind.
pub fn dialect(kind: WarehouseKind) -> &'static dyn Dialect {
    match kind {
        WarehouseKind::DuckDb => &duckdb::DuckDbDialect,
        WarehouseKind::Snowflake => &snowflake::SnowflakeDialect,
        WarehouseKind::BigQuery => &bigquery::BigQueryDialect,
    }
}

/// A warehouse error: the warehouse's own message, passed on verbatim.
#[derive(Debug, Clone)]
pub struct WarehouseError(pub String);

impl fmt::Display for WarehouseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Rows read back from the warehouse, as text (for `show`, tests, and checks).
#[derive(Debug, Clone, Default)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// A live connection to a warehouse.
pub trait Adapter: Send + Sync {
    fn dialect(&self) -> &'static dyn Dialect;

    /// A session for one worker thread; sessions run statements one at a time.
    fn session(&self) -> Result<Box<dyn Session>, WarehouseError>;

    /// Work the warehouse does once all nodes ran (DuckDB's checkpoint), named
    /// for the run's summary; `None` when there is none.
    fn finish(&self) -> Result<Option<&'static str>, WarehouseError> {
        Ok(None)
    }

    /// What `sluice debug` reports about the connection: (label, value) pairs,
    /// found by asking the warehouse. Never a secret.
    fn connection_facts(&self) -> Result<Vec<(String, String)>, WarehouseError> {
        let rows = self.session()?.query("select 1 as ok")?;
        Ok(vec![(
            "query".to_owned(),
            format!("select 1 returned {} row", rows.rows.len()),
        )])
    }
}

/// One connection's worth of work.
pub trait Session: Send {
    /// Run statements in one transaction: all of them take effect or none does.
    fn execute_atomic(&mut self, statements: &[String]) -> Result<(), WarehouseError>;

    /// Run one query and return its rows as text.
    fn query(&mut self, sql: &str) -> Result<Rows, WarehouseError>;

    /// The columns a query returns, with their warehouse types, without running it.
    fn describe(&mut self, sql: &str) -> Result<Vec<(String, String)>, WarehouseError>;

    /// Which of `relation` exists: a table, a view, or nothing.
    fn relation_kind(
        &mut self,
        relation: &RelationName,
    ) -> Result<Option<RelationKind>, WarehouseError>;

    /// Every relation in one schema, when this warehouse lists a schema more
    /// cheaply than it looks up its relations one by one (names compare
    /// case-insensitively); `None` to be asked per relation instead.
    fn list_relations(
        &mut self,
        _database: Option<&str>,
        _schema: &str,
    ) -> Result<Option<Vec<(String, RelationKind)>>, WarehouseError> {
        Ok(None)
    }

    /// Load a CSV seed into `relation`, replacing it atomically.
    fn load_seed(&mut self, seed: &SeedLoad<'_>) -> Result<u64, SeedError>;

    /// Create a schema (a BigQuery dataset) unless it exists.
    fn create_schema(&mut self, schema: &str) -> Result<(), WarehouseError>;

    /// Label the statements that follow with the node they build (Snowflake's
    /// `QUERY_TAG`, BigQuery's job labels), so the warehouse's history names it.
    fn set_query_tag(&mut self, _tag: &str) {}
}

/// A seed to load: its parsed rows and the declared column types.
pub struct SeedLoad<'a> {
    pub relation: &'a RelationName,
    pub columns: &'a [String],
    pub rows: &'a [Vec<Option<String>>],
    /// 1-based CSV line of each row, for error messages.
    pub lines: &'a [u64],
    /// Declared `column_types` (column name → warehouse type).
    pub declared: &'a [(String, String)],
    /// The CSV file and its delimiter, for a warehouse that reads the file the
    /// way dbt's adapter for it does (DuckDB's CSV sniffer: see duckdb.rs).
    pub csv_file: Option<(&'a std::path::Path, u8)>,
}

/// Why a seed did not load.
#[derive(Debug)]
pub enum SeedError {
    /// A value does not fit its declared type: row line, column, value, type.
    BadValue {
        line: u64,
        column: String,
        value: String,
        data_type: String,
    },
    Warehouse(WarehouseError),
}

impl From<WarehouseError> for SeedError {
    fn from(e: WarehouseError) -> SeedError {
        SeedError::Warehouse(e)
    }
}
