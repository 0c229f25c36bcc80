//! DuckDB: the embedded default warehouse (the `duckdb` crate, bundled).
//!
//! One database file per target; each worker thread gets its own connection
//! (`try_clone`), and every materialization runs in one transaction so a failed
//! build leaves the previous relation untouched.

use std::path::Path;
use std::sync::Mutex;

use duckdb::Connection;

use super::contract::ConstraintSupport;
use super::duckdb_icu::IcuDatabase;
use super::seed_types;
use super::{
    Adapter, BatchWrite, Dialect, GenericType, RelationKind, RelationName, Rows, SeedError,
    SeedLoad, Session, WarehouseError,
};
use crate::diagnostics::Diagnostic;
use crate::project::contracts::ConstraintType;
use crate::project::incremental::IncrementalConfig;
use crate::project::yaml::Value;
use crate::project::{TargetDef, WarehouseKind};

pub struct DuckDbDialect;

impl Dialect for DuckDbDialect {
    fn kind(&self) -> WarehouseKind {
        WarehouseKind::DuckDb
    }

    fn quote(&self, identifier: &str) -> String {
        format!("\"{}\"", identifier.replace('"', "\"\""))
    }

    /// DuckDB compares identifiers case-insensitively, quoted or not.
    fn identifier_key(&self, identifier: &str) -> String {
        identifier.to_lowercase()
    }

    fn type_name(&self, t: GenericType) -> &'static str {
        match t {
            GenericType::String => "varchar",
            GenericType::Int => "integer",
            GenericType::BigInt => "bigint",
            GenericType::Float => "double",
            GenericType::Numeric => "numeric(28,6)",
            GenericType::Boolean => "boolean",
            GenericType::Date => "date",
            GenericType::Timestamp => "timestamp",
        }
    }

    fn parser_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::DuckDbDialect {})
    }

    fn foreign_functions(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("iff", "a case expression"),
            ("to_timestamp_ntz", "dbt.safe_cast"),
            ("generate_date_array", "sluice.date_spine"),
            ("timestamp_diff", "dbt.datediff"),
            ("datetime_diff", "dbt.datediff"),
            ("safe_divide", "sluice.safe_divide"),
            ("div0", "sluice.safe_divide"),
            ("zeroifnull", "coalesce(x, 0)"),
            ("countif", "count_if"),
        ]
    }

    /// DuckDB 1.2 has no `MERGE`: a merge is an `update ... from` of the matched
    /// rows and an insert of the others, after checking that no key repeats in the
    /// batch (where a warehouse's `MERGE` fails too, rather than pick a row).
    fn merge(
        &self,
        target: &RelationName,
        w: &BatchWrite,
        config: &IncrementalConfig,
    ) -> Vec<String> {
        let mut out: Vec<String> = self
            .assert_unique_keys(
                &w.batch,
                &config.unique_key,
                &format!("merge into {target}"),
            )
            .into_iter()
            .collect();
        if !w.updates.is_empty() {
            out.push(format!(
                "update {} as DBT_INTERNAL_DEST\nset {}\nfrom {} as DBT_INTERNAL_SOURCE\nwhere {}",
                w.target, w.updates, w.batch, w.matches
            ));
        }
        out.push(format!(
            "insert into {} ({})\nselect {} from {} as DBT_INTERNAL_SOURCE\nwhere not exists (select 1 from {} as DBT_INTERNAL_DEST where {})",
            w.target, w.columns, w.source_columns, w.batch, w.target, w.matches
        ));
        out
    }

    fn assert_unique_keys(&self, from: &str, keys: &[String], what: &str) -> Option<String> {
        Some(super::raise_on_repeated_keys(self, from, keys, what))
    }

    /// DuckDB enforces every constraint type (dbt-duckdb's support table).
    fn constraint_support(&self, _t: ConstraintType) -> ConstraintSupport {
        ConstraintSupport::Enforced
    }

    /// DuckDB refuses to drop (or replace) a table another table's foreign key
    /// references; foreign keys stay within one schema.
    fn foreign_key_dependents_sql(&self, target: &RelationName) -> Option<String> {
        let lit = |s: &str| self.string_literal(&s.to_lowercase());
        Some(format!(
            "with recursive fk as (\n  select lower(table_name) as t, lower(referenced_table) as r\n  from duckdb_constraints()\n  where constraint_type = 'FOREIGN KEY' and lower(schema_name) = {schema}\n    and lower(table_name) <> lower(referenced_table)\n),\ndeps(t, depth) as (\n  select t, 1 from fk where r = {table}\n  union\n  select fk.t, deps.depth + 1 from fk join deps on fk.r = deps.t\n)\nselect t, max(depth) as depth from deps group by t order by depth desc, t",
            schema = lit(&target.schema),
            table = lit(&target.identifier),
        ))
    }

    /// DuckDB's foreign keys cannot cross databases: the target is written
    /// without its database, as dbt-duckdb writes it.
    fn foreign_key_target(&self, relation: &RelationName) -> String {
        self.render_relation(&RelationName {
            database: None,
            ..relation.clone()
        })
    }

    /// Create the table from its contract, then insert the query's rows, as
    /// dbt-duckdb does (DuckDB has no column list in `create table ... as`).
    fn contracted_table_statements(
        &self,
        target: &RelationName,
        existing: Option<RelationKind>,
        spec: &str,
        columns: &str,
        sql: &str,
    ) -> Vec<String> {
        let relation = self.render_relation(target);
        let mut out = Vec::new();
        if existing == Some(RelationKind::View) {
            out.push(self.drop_relation(target, RelationKind::View));
        }
        out.push(format!("create or replace table {relation} {spec}"));
        out.push(format!(
            "insert into {relation} ({columns})\nselect {columns}\nfrom (\n{sql}\n) as model_subq"
        ));
        out
    }

    fn foreign_types(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("timestamp_ntz", "dbt.type_timestamp()"),
            ("float64", "dbt.type_float()"),
            ("variant", "json"),
        ]
    }
}

/// An open DuckDB database.
pub struct DuckDbAdapter {
    connection: Mutex<Connection>,
    /// Owns the database the connection (and every session cloned from it) uses,
    /// with DuckDB's ICU extension loaded. Declared after
    /// `connection` so it is dropped after it.
    _database: IcuDatabase,
}

fn warehouse_error(e: duckdb::Error) -> WarehouseError {
    WarehouseError(e.to_string())
}

impl DuckDbAdapter {
    /// Open (or create) the database file; its folder is created when missing.
    pub fn open(path: &Path) -> Result<DuckDbAdapter, WarehouseError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| WarehouseError(format!("cannot create {}: {e}", dir.display())))?;
        }
        DuckDbAdapter::open_database(Some(path))
    }

    /// Attach another database file as catalog `alias` (read-only, or writable
    /// and created when missing); every session opened afterwards sees it.
    pub fn attach(&self, path: &Path, alias: &str, read_only: bool) -> Result<(), WarehouseError> {
        let guard = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .execute_batch(&format!(
                "attach {} as {}{}",
                DuckDbDialect.string_literal(&path.display().to_string()),
                DuckDbDialect.quote(alias),
                if read_only { " (read_only)" } else { "" }
            ))
            .map_err(warehouse_error)
    }

    /// dbt-duckdb's `extensions:` (names, or `{name, repo}`) and `settings:` of
    /// the target: each extension installed and loaded, each setting `SET GLOBAL`,
    /// on the connection every session is cloned from.
    pub fn apply_target_setup(&self, def: &TargetDef) -> Result<(), Diagnostic> {
        let guard = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        let run = |sql: &str, span: &crate::diagnostics::Span, what: &str| {
            guard.execute_batch(sql).map_err(|e| {
                Diagnostic::error(format!("cannot {what}: {e}"))
                    .with_label(span, "in this target")
                    .with_help("check the name and value against DuckDB's documentation")
            })
        };
        if let Some(list) = def.field("extensions").filter(|n| !n.is_null()) {
            for item in list.expect_seq("`extensions`")? {
                let (name, repo) = match item.get("name") {
                    Some(n) => (
                        n.expect_str("`name`")?.to_owned(),
                        item.get("repo")
                            .map(|r| r.expect_str("`repo`"))
                            .transpose()?,
                    ),
                    None => (item.expect_str("an extension")?.to_owned(), None),
                };
                let ident = DuckDbDialect.quote(&name);
                let install = match repo {
                    Some(r) => format!("install {ident} from {}", DuckDbDialect.string_literal(r)),
                    None => format!("install {ident}"),
                };
                run(
                    &install,
                    &item.span,
                    &format!("install the DuckDB extension `{name}`"),
                )?;
                run(
                    &format!("load {ident}"),
                    &item.span,
                    &format!("load the DuckDB extension `{name}`"),
                )?;
            }
        }
        if let Some(settings) = def.field("settings").filter(|n| !n.is_null()) {
            for (key, key_node, value) in settings.expect_map("`settings`")?.entries() {
                let literal = match &value.value {
                    Value::Str(_) => DuckDbDialect
                        .string_literal(&crate::project::render_field(value, &format!("`{key}`"))?),
                    Value::Bool(b) => b.to_string(),
                    Value::Int(i) => i.to_string(),
                    Value::Float(f) => f.to_string(),
                    _ => {
                        return Err(Diagnostic::error(format!(
                            "setting `{key}` must be a string, number or boolean"
                        ))
                        .with_label(&value.span, "here"))
                    }
                };
                run(
                    &format!("set global {} = {literal}", DuckDbDialect.quote(key)),
                    &key_node.span,
                    &format!("set the DuckDB setting `{key}`"),
                )?;
            }
        }
        Ok(())
    }

    pub fn open_in_memory() -> Result<DuckDbAdapter, WarehouseError> {
        DuckDbAdapter::open_database(None)
    }

    fn open_database(path: Option<&Path>) -> Result<DuckDbAdapter, WarehouseError> {
        let database = IcuDatabase::open(path).map_err(|e| match path {
            Some(p) => WarehouseError(format!("cannot open {}: {e}", p.display())),
            None => WarehouseError(format!("cannot open an in-memory DuckDB: {e}")),
        })?;
        let connection = database.connect().map_err(warehouse_error)?;
        Ok(DuckDbAdapter {
            connection: Mutex::new(connection),
            _database: database,
        })
    }
}

/// The seed's cells as dbt-duckdb loads them, when that differs from the CSV
/// as written. dbt-duckdb infers the column types from the file read by Python's
/// csv module (quote `"`), as sluice does, but fills the table with DuckDB's
/// `COPY ... (FORMAT CSV, HEADER TRUE, DELIMITER ...)`, whose sniffer may pick
/// another quote character: in a file without `"` but with `''`, `'` quotes, and
/// `''` loads as NULL. Only then are the rows read again, by DuckDB itself, with
/// the same options; `None` keeps the rows as parsed (also when DuckDB reads a
/// different shape, which dbt-duckdb would fail to load).
fn rows_as_duckdb_reads_them(
    conn: &Connection,
    path: &Path,
    delimiter: u8,
    seed: &SeedLoad<'_>,
) -> Option<Vec<Vec<Option<String>>>> {
    let file = path.to_str()?.replace('\'', "''");
    let delimiter = char::from(delimiter).to_string().replace('\'', "''");
    let options = format!("'{file}', delim = '{delimiter}', header = true");
    let quote: String = conn
        .query_row(
            &format!("select Quote from sniff_csv({options})"),
            [],
            |r| r.get(0),
        )
        .ok()?;
    if quote == "\"" {
        return None;
    }
    let mut stmt = conn
        .prepare(&format!(
            "select * from read_csv({options}, all_varchar = true)"
        ))
        .ok()?;
    let width = seed.columns.len();
    let rows: Vec<Vec<Option<String>>> = stmt
        .query_map([], |r| {
            (0..width).map(|i| r.get::<_, Option<String>>(i)).collect()
        })
        .ok()?
        .collect::<Result<_, _>>()
        .ok()?;
    (stmt.column_count() == width && rows.len() == seed.rows.len()).then_some(rows)
}

impl Adapter for DuckDbAdapter {
    fn dialect(&self) -> &'static dyn Dialect {
        &DuckDbDialect
    }

    /// Write the run's changes from the write-ahead log into the database file
    /// now, as DuckDB would when the file closes, so the time shows up here.
    fn finish(&self) -> Result<Option<&'static str>, WarehouseError> {
        let guard = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        guard.execute_batch("checkpoint").map_err(warehouse_error)?;
        Ok(Some("Checkpointed the DuckDB file"))
    }

    fn session(&self) -> Result<Box<dyn Session>, WarehouseError> {
        // A poisoned lock only means another thread panicked while cloning; the
        // connection itself is still valid.
        let guard = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        let conn = guard.try_clone().map_err(warehouse_error)?;
        Ok(Box::new(DuckDbSession { conn }))
    }
}

struct DuckDbSession {
    conn: Connection,
}

impl DuckDbSession {
    fn in_transaction<T>(
        &mut self,
        work: impl FnOnce(&Connection) -> Result<T, SeedError>,
    ) -> Result<T, SeedError> {
        self.conn
            .execute_batch("begin transaction")
            .map_err(warehouse_error)?;
        match work(&self.conn) {
            Ok(v) => {
                self.conn.execute_batch("commit").map_err(warehouse_error)?;
                Ok(v)
            }
            Err(e) => {
                // Rolling back can only fail if the transaction is already gone.
                let _ = self.conn.execute_batch("rollback");
                Err(e)
            }
        }
    }
}

impl DuckDbSession {
    /// The relations of a schema (only `identifier`, when given), from the
    /// catalog; `database` defaults to the current one.
    fn catalog_relations(
        &self,
        database: Option<&str>,
        schema: &str,
        identifier: Option<&str>,
    ) -> Result<Vec<(String, RelationKind)>, WarehouseError> {
        let d = DuckDbDialect;
        let catalog = database.map_or("current_database()".to_owned(), |db| d.string_literal(db));
        let mut sql = format!(
            "select table_name, table_type from information_schema.tables \
             where table_catalog = {catalog} and table_schema = {}",
            d.string_literal(schema)
        );
        if let Some(name) = identifier {
            sql.push_str(&format!(" and table_name = {}", d.string_literal(name)));
        }
        let mut stmt = self.conn.prepare(&sql).map_err(warehouse_error)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(warehouse_error)?;
        rows.map(|row| {
            let (name, table_type) = row.map_err(warehouse_error)?;
            Ok((name, RelationKind::from_table_type(&table_type)))
        })
        .collect()
    }
}

impl Session for DuckDbSession {
    fn execute_atomic(&mut self, statements: &[String]) -> Result<(), WarehouseError> {
        if let [statement] = statements {
            // One statement commits atomically on its own (a `;` may separate
            // several, which need the transaction).
            if !statement.contains(';') {
                return self.conn.execute_batch(statement).map_err(warehouse_error);
            }
        }
        self.in_transaction(|conn| {
            for s in statements {
                conn.execute_batch(s).map_err(warehouse_error)?;
            }
            Ok(())
        })
        .map_err(|e| match e {
            SeedError::Warehouse(w) => w,
            SeedError::BadValue { .. } => WarehouseError("unexpected seed error".into()),
        })
    }

    fn query(&mut self, sql: &str) -> Result<Rows, WarehouseError> {
        // Casting every column to text in DuckDB keeps its own formatting of dates,
        // decimals and nested types.
        let wrapped = format!("select columns(*)::varchar from (\n{sql}\n) as sluice_q");
        let mut stmt = self.conn.prepare(&wrapped).map_err(warehouse_error)?;
        let mut result = stmt.query([]).map_err(warehouse_error)?;
        let mut rows = Vec::new();
        while let Some(row) = result.next().map_err(warehouse_error)? {
            let n = row.as_ref().column_count();
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(row.get::<_, Option<String>>(i).map_err(warehouse_error)?);
            }
            rows.push(values);
        }
        drop(result);
        let columns = stmt.column_names();
        Ok(Rows { columns, rows })
    }

    fn describe(&mut self, sql: &str) -> Result<Vec<(String, String)>, WarehouseError> {
        let rows = self.query(&format!(
            "select column_name, column_type from (describe select * from (\n{sql}\n) as described)"
        ))?;
        Ok(rows
            .rows
            .into_iter()
            .map(|r| {
                let mut cells = r.into_iter().map(Option::unwrap_or_default);
                (
                    cells.next().unwrap_or_default(),
                    cells.next().unwrap_or_default(),
                )
            })
            .collect())
    }

    fn relation_kind(
        &mut self,
        relation: &RelationName,
    ) -> Result<Option<RelationKind>, WarehouseError> {
        let found = self.catalog_relations(
            relation.database.as_deref(),
            &relation.schema,
            Some(&relation.identifier),
        )?;
        Ok(found.into_iter().next().map(|(_, kind)| kind))
    }

    fn list_relations(
        &mut self,
        database: Option<&str>,
        schema: &str,
    ) -> Result<Option<Vec<(String, RelationKind)>>, WarehouseError> {
        self.catalog_relations(database, schema, None).map(Some)
    }

    fn create_schema(&mut self, schema: &str) -> Result<(), WarehouseError> {
        self.execute_atomic(&[DuckDbDialect.create_schema(schema)])
    }

    fn load_seed(&mut self, seed: &SeedLoad<'_>) -> Result<u64, SeedError> {
        let d = DuckDbDialect;
        let existing = self.relation_kind(seed.relation)?;
        let staging = "__sluice_seed_rows";
        // dbt's inferred type of each undeclared column, and its cells as that
        // type casts them (`1.0` of an integer column staged as `1`).
        let inferred: Vec<Option<GenericType>> = seed
            .columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let declared = seed
                    .declared
                    .iter()
                    .any(|(c, _)| c.eq_ignore_ascii_case(column));
                (!declared).then(|| {
                    seed_types::infer(
                        seed.rows
                            .iter()
                            .map(|r| r.get(i).and_then(|v| v.as_deref())),
                    )
                })
            })
            .collect();
        self.in_transaction(|conn| {
            let exec = |sql: &str| conn.execute_batch(sql).map_err(warehouse_error);
            let sniffed = seed.csv_file.and_then(|(path, delimiter)| {
                rows_as_duckdb_reads_them(conn, path, delimiter, seed)
            });
            let cell_rows = sniffed.as_deref().unwrap_or(seed.rows);
            let mut cols = vec![format!("{} bigint", d.quote("__line"))];
            cols.extend(
                seed.columns
                    .iter()
                    .map(|c| format!("{} varchar", d.quote(c))),
            );
            exec(&format!("drop table if exists temp.{staging}"))?;
            exec(&format!(
                "create temp table {staging} ({})",
                cols.join(", ")
            ))?;
            {
                let mut appender = conn
                    .appender_to_catalog_and_db(staging, "temp", "main")
                    .map_err(warehouse_error)?;
                for (row, line) in cell_rows.iter().zip(seed.lines) {
                    let cells: Vec<Option<String>> = row
                        .iter()
                        .zip(&inferred)
                        .map(|(v, kind)| match (v, kind) {
                            (Some(v), Some(kind)) => {
                                seed_types::cell(*kind, v).map(|c| c.into_owned())
                            }
                            (v, _) => v.clone(),
                        })
                        .collect();
                    let mut values: Vec<&dyn duckdb::ToSql> = Vec::with_capacity(row.len() + 1);
                    values.push(line);
                    for v in &cells {
                        values.push(v);
                    }
                    appender
                        .append_row(values.as_slice())
                        .map_err(warehouse_error)?;
                }
                appender.flush().map_err(warehouse_error)?;
            }
            let mut types = Vec::with_capacity(seed.columns.len());
            for (column, kind) in seed.columns.iter().zip(&inferred) {
                let declared = seed
                    .declared
                    .iter()
                    .find(|(c, _)| c.eq_ignore_ascii_case(column))
                    .map(|(_, t)| t.clone());
                let q = d.quote(column);
                let data_type = match declared {
                    Some(t) => {
                        let bad = format!(
                            "select __line, {q} from temp.{staging} \
                             where {q} is not null and try_cast({q} as {t}) is null \
                             order by __line limit 1"
                        );
                        let found: Option<(u64, String)> =
                            match conn.query_row(&bad, [], |r| Ok((r.get(0)?, r.get(1)?))) {
                                Ok(v) => Some(v),
                                Err(duckdb::Error::QueryReturnedNoRows) => None,
                                Err(e) => return Err(warehouse_error(e).into()),
                            };
                        if let Some((line, value)) = found {
                            return Err(SeedError::BadValue {
                                line,
                                column: column.clone(),
                                value,
                                data_type: t,
                            });
                        }
                        t
                    }
                    None => d.type_name(kind.unwrap_or(GenericType::String)).to_owned(),
                };
                types.push(data_type);
            }
            let select = seed
                .columns
                .iter()
                .zip(&types)
                .map(|(c, t)| format!("cast({q} as {t}) as {q}", q = d.quote(c)))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("select {select} from temp.{staging} order by __line");
            for statement in
                d.replace_statements(seed.relation, existing, RelationKind::Table, &sql)
            {
                exec(&statement)?;
            }
            exec(&format!("drop table temp.{staging}"))?;
            Ok(seed.rows.len() as u64)
        })
    }
}
