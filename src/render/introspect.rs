//! Jinja that queries the warehouse: `run_query`, `{% call statement(...) %}` with
//! `load_result`, `adapter.get_columns_in_relation`, `adapter.get_relation`,
//! `load_relation`, `adapter.get_missing_columns`,
//! `adapter.list_relations_without_caching`, `api.Relation`, `api.Column`, and the
//! agate-like tables these return.
//!
//! The render stage knows nothing of connections: it calls an [`Introspector`],
//! which the execute stage implements over a warehouse session. As in dbt, a parse
//! render has none: `execute` is false, `run_query` returns none, the adapter's
//! lookups return nothing, and the node is recorded as introspective
//! ([`super::Recorded::introspects`]) so the scheduler compiles it just before it
//! runs, once its parents are built.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use minijinja::value::{from_args, Enumerator, Kwargs, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use super::context::{self, Phase, Relation, RenderSession};
use crate::adapter::{Dialect, RelationKind, RelationName};
use crate::project::WarehouseKind;

/// A query's result as the warehouse returned it: values as text, typed by the
/// warehouse's column types.
#[derive(Debug, Clone, Default)]
pub struct QueryResult {
    pub columns: Vec<String>,
    /// The warehouse's type name of each column ("INTEGER", "VARCHAR", "NUMBER(38,0)").
    pub types: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// What the warehouse said (dbt's `adapter_response._message`).
    pub message: String,
}

/// What introspective Jinja asks of the warehouse. Implemented by the execute stage
/// over a live session; errors are the warehouse's own message.
pub trait Introspector: Send + Sync {
    /// Run one SQL statement; a query returns its rows.
    fn run_query(&self, sql: &str) -> Result<QueryResult, String>;
    /// A relation's columns: (name, warehouse type).
    fn columns(&self, relation: &RelationName) -> Result<Vec<(String, String)>, String>;
    /// Whether a relation exists, and as what.
    fn relation_kind(&self, relation: &RelationName) -> Result<Option<RelationKind>, String>;
    /// The relations of one schema.
    fn list_relations(
        &self,
        database: Option<&str>,
        schema: &str,
    ) -> Result<Vec<(String, RelationKind)>, String>;
}

/// The introspection state of one render: its warehouse (none at parse time, or
/// when the node was compiled before anything ran) and its named statement results.
#[derive(Default)]
pub struct RenderIntrospection {
    pub introspector: Option<Arc<dyn Introspector>>,
    results: Mutex<HashMap<String, Value>>,
}

impl RenderIntrospection {
    pub fn new(introspector: Option<Arc<dyn Introspector>>) -> RenderIntrospection {
        RenderIntrospection {
            introspector,
            results: Mutex::default(),
        }
    }
}

thread_local! {
    /// Set when a compile render without a warehouse reached an introspective call:
    /// the node is compiled again just before it runs ([`take_needs_warehouse`]).
    static NEEDS_WAREHOUSE: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Whether the last render on this thread needed the warehouse it did not have
/// (and the call that needed it); clears the flag.
pub fn take_needs_warehouse() -> Option<&'static str> {
    NEEDS_WAREHOUSE.with(|c| c.take())
}

/// The message of the error a render without a warehouse stops with.
pub const NEEDS_WAREHOUSE_MESSAGE: &str = "needs the warehouse";

enum Access {
    /// Parse time: `execute` is false; return nothing.
    Parse,
    Live(Arc<dyn Introspector>),
}

/// The warehouse for an introspective call `what`, noting the call on the render.
fn access(state: &State, what: &'static str) -> Result<(Arc<RenderSession>, Access), Error> {
    let s = context::session(state)?;
    if s.phase == Phase::Parse {
        s.note_introspection(what);
        return Ok((s, Access::Parse));
    }
    match s.introspection.introspector.clone() {
        Some(i) => Ok((s, Access::Live(i))),
        None => {
            NEEDS_WAREHOUSE.with(|c| c.set(Some(what)));
            Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "`{what}` {NEEDS_WAREHOUSE_MESSAGE}, and this command does not connect to it \
                     for this node"
                ),
            ))
        }
    }
}

fn warehouse_error(what: &str, e: String) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("{what} failed in the warehouse: {e}"),
    )
}

// ------------------------------------------------------------------ execute

/// `execute`: false in a parse render, true in a compile render. Reading it while
/// parsing marks the node as introspective: dbt projects and packages guard their
/// warehouse queries with `{% if execute %}`, so the parse render never reaches them.
#[derive(Debug)]
pub struct ExecuteFlag {
    pub value: bool,
    pub session: Arc<RenderSession>,
}

impl Object for ExecuteFlag {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn is_true(self: &Arc<Self>) -> bool {
        if !self.value {
            self.session.note_introspection("execute");
        }
        self.value
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // As Python prints it.
        f.write_str(if self.value { "True" } else { "False" })
    }
}

// ------------------------------------------------------------------ run_query, statement

/// `run_query(sql)`: an agate-like table, or none at parse time.
fn run_query_fn(state: &State, sql: String) -> Result<Value, Error> {
    let (_, access) = access(state, "run_query")?;
    match access {
        Access::Parse => Ok(Value::from(())),
        Access::Live(i) => {
            let result = i
                .run_query(&sql)
                .map_err(|e| warehouse_error("run_query", e))?;
            Ok(Table::value(result))
        }
    }
}

/// `{% call statement('name', fetch_result=True) %}sql{% endcall %}`: runs the body
/// (at run time only) and keeps its result for `load_result('name')`.
#[derive(Debug)]
struct StatementFn;

impl Object for StatementFn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (name, kwargs): (Option<String>, Kwargs) = from_args(args)?;
        let name = match name {
            Some(n) => Some(n),
            None => kwargs.get::<Option<String>>("name")?,
        };
        let fetch = kwargs.get::<Option<bool>>("fetch_result")?.unwrap_or(false);
        let _ = kwargs.get::<Option<Value>>("auto_begin")?;
        let language = kwargs.get::<Option<String>>("language")?;
        let caller: Option<Value> = kwargs.get("caller")?;
        kwargs.assert_all_used()?;
        if language.as_deref().is_some_and(|l| l != "sql") {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "statement(language=...): sluice runs SQL statements only",
            ));
        }
        let (s, access) = access(state, "statement")?;
        let Access::Live(i) = access else {
            // The body is rendered at parse time too (and thrown away), so the refs
            // in it are dependencies.
            if let Some(caller) = &caller {
                caller.call(state, &[])?;
            }
            return Ok(Value::from(""));
        };
        let Some(caller) = caller else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "statement() is called with a body: {% call statement('name') %}select ...{% endcall %}",
            ));
        };
        let sql = caller.call(state, &[])?.to_string();
        let result = i
            .run_query(&sql)
            .map_err(|e| warehouse_error("statement", e))?;
        if let Some(name) = name {
            let response = response_value(&result);
            let table = if fetch {
                Table::value(result)
            } else {
                Table::value(QueryResult::default())
            };
            store(&s, &name, response, table);
        }
        Ok(Value::from(""))
    }
}

fn response_value(result: &QueryResult) -> Value {
    Value::from_serialize(serde_json::json!({
        "_message": result.message,
        "code": result.message.split_whitespace().next().unwrap_or_default(),
        "rows_affected": result.rows.len(),
    }))
}

fn store(s: &RenderSession, name: &str, response: Value, table: Value) {
    let data = table
        .downcast_object_ref::<Table>()
        .map(|t| {
            Value::from(
                t.rows
                    .iter()
                    .map(|r| Value::from(r.values.clone()))
                    .collect::<Vec<_>>(),
            )
        })
        .unwrap_or_default();
    let entry = Value::from(BTreeMap::from([
        ("response", response),
        ("data", data),
        ("table", table),
    ]));
    let mut results = s
        .introspection
        .results
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    results.insert(name.to_owned(), entry);
}

/// `load_result('name')`: what `statement('name')` stored, or none.
fn load_result_fn(state: &State, name: String) -> Result<Value, Error> {
    let s = context::session(state)?;
    let results = s
        .introspection
        .results
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    Ok(results.get(&name).cloned().unwrap_or_default())
}

/// `store_result(name, response, agate_table)`, as dbt's materializations use it.
fn store_result_fn(state: &State, name: String, response: Value, table: Option<Value>) -> Value {
    if let Ok(s) = context::session(state) {
        let table = table.unwrap_or_else(|| Table::value(QueryResult::default()));
        store(&s, &name, response, table);
    }
    Value::from("")
}

// ------------------------------------------------------------------ agate-like tables

/// A typed cell: numbers and booleans as such (agate types them), the rest as text.
fn cell(text: Option<&String>, warehouse_type: &str) -> Value {
    let Some(text) = text else {
        return Value::from(());
    };
    match ColumnClass::of(warehouse_type) {
        ColumnClass::Integer => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(text.clone())),
        ColumnClass::Float | ColumnClass::Numeric => {
            if let Ok(i) = text.parse::<i64>() {
                Value::from(i)
            } else {
                text.parse::<f64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::from(text.clone()))
            }
        }
        ColumnClass::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" => Value::from(true),
            "false" => Value::from(false),
            _ => Value::from(text.clone()),
        },
        _ => Value::from(text.clone()),
    }
}

/// A query result as agate's `Table`: `.rows`, `.columns`, `.column_names`,
/// `.print_table()`, iteration over rows, `length`.
#[derive(Debug)]
pub struct Table {
    names: Arc<Vec<String>>,
    types: Vec<String>,
    rows: Vec<Arc<Row>>,
}

impl Table {
    pub fn value(result: QueryResult) -> Value {
        let names = Arc::new(result.columns);
        let rows = result
            .rows
            .iter()
            .map(|r| {
                Arc::new(Row {
                    names: Arc::clone(&names),
                    values: r
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            cell(v.as_ref(), result.types.get(i).map_or("", String::as_str))
                        })
                        .collect(),
                })
            })
            .collect();
        Value::from_object(Table {
            names,
            types: result.types,
            rows,
        })
    }

    fn rows_value(&self) -> Value {
        Value::from(
            self.rows
                .iter()
                .map(|r| Value::from_dyn_object(Arc::clone(r)))
                .collect::<Vec<_>>(),
        )
    }

    fn column(self: &Arc<Self>, i: usize) -> Value {
        Value::from_object(TableColumn {
            table: Arc::clone(self),
            index: i,
        })
    }
}

impl Object for Table {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return self
                .rows
                .get(i)
                .map(|r| Value::from_dyn_object(Arc::clone(r)));
        }
        match key.as_str()? {
            "rows" => Some(self.rows_value()),
            "columns" => Some(Value::from_object(Columns(Arc::clone(self)))),
            "column_names" => Some(Value::from(self.names.to_vec())),
            "column_types" => Some(Value::from(self.types.clone())),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.rows.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            // Printing to the console is dbt's debugging aid; sluice's output is its own.
            "print_table" | "print_csv" | "print_json" => Ok(Value::from("")),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<agate.Table: {} rows, columns {}>",
            self.rows.len(),
            self.names.join(", ")
        )
    }
}

/// agate's `Row`: indexable by position and by column name.
#[derive(Debug)]
pub struct Row {
    names: Arc<Vec<String>>,
    values: Vec<Value>,
}

impl Row {
    fn by_name(&self, name: &str) -> Option<Value> {
        self.names
            .iter()
            .position(|n| n == name)
            .or_else(|| self.names.iter().position(|n| n.eq_ignore_ascii_case(name)))
            .map(|i| self.values[i].clone())
    }
}

impl Object for Row {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_i64() {
            let i = if i < 0 {
                self.values.len() as i64 + i
            } else {
                i
            };
            return self.values.get(usize::try_from(i).ok()?).cloned();
        }
        self.by_name(key.as_str()?)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.values.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "keys" => Ok(Value::from(self.names.to_vec())),
            "values" => Ok(Value::from(self.values.clone())),
            "items" => Ok(Value::from(
                self.names
                    .iter()
                    .zip(&self.values)
                    .map(|(n, v)| Value::from(vec![Value::from(n.clone()), v.clone()]))
                    .collect::<Vec<_>>(),
            )),
            "get" => {
                let (key, default): (String, Option<Value>) = from_args(args)?;
                Ok(self.by_name(&key).or(default).unwrap_or_default())
            }
            "dict" => Ok(Value::from(
                self.names
                    .iter()
                    .cloned()
                    .zip(self.values.iter().cloned())
                    .collect::<BTreeMap<String, Value>>(),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `table.columns`: by position or name, iterable.
#[derive(Debug)]
struct Columns(Arc<Table>);

impl Object for Columns {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let t = &self.0;
        if let Some(i) = key.as_usize() {
            return (i < t.names.len()).then(|| t.column(i));
        }
        let name = key.as_str()?;
        t.names.iter().position(|n| n == name).map(|i| t.column(i))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.names.len())
    }

    /// agate's `MappedSequence` methods: `keys()`, `values()`, `items()`, `get()`
    /// (dbt_utils' `get_query_results_as_dict` iterates `columns.items()`).
    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let t = &self.0;
        let columns = || (0..t.names.len()).map(|i| t.column(i));
        match method {
            "keys" => Ok(Value::from(t.names.to_vec())),
            "values" => Ok(Value::from(columns().collect::<Vec<_>>())),
            "items" => Ok(Value::from(
                t.names
                    .iter()
                    .zip(columns())
                    .map(|(n, c)| Value::from(vec![Value::from(n.clone()), c]))
                    .collect::<Vec<_>>(),
            )),
            "get" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                Ok(self.get_value(&key).or(default).unwrap_or_default())
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// One column of a table: `.name`, `.values()`, `.values_distinct()`.
#[derive(Debug)]
struct TableColumn {
    table: Arc<Table>,
    index: usize,
}

impl TableColumn {
    fn values(&self) -> Vec<Value> {
        self.table
            .rows
            .iter()
            .map(|r| r.values[self.index].clone())
            .collect()
    }
}

/// agate's `Column` is also a sequence of its values: `columns[0][0]` is the first
/// row's value (Fivetran's `run_query(q).columns[0][0]`), and it iterates them.
impl Object for TableColumn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.table.rows.len())
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return self.table.rows.get(i).map(|r| r.values[self.index].clone());
        }
        match key.as_str()? {
            "name" => Some(Value::from(self.table.names[self.index].clone())),
            "data_type" => Some(Value::from(self.table.types[self.index].clone())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "values" => Ok(Value::from(self.values())),
            "values_distinct" => {
                let mut out: Vec<Value> = Vec::new();
                for v in self.values() {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                Ok(Value::from(out))
            }
            "values_without_nulls" => Ok(Value::from(
                self.values()
                    .into_iter()
                    .filter(|v| !v.is_none())
                    .collect::<Vec<_>>(),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

// ------------------------------------------------------------------ columns

/// How dbt's `Column` classifies a warehouse type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ColumnClass {
    String,
    Integer,
    Float,
    Numeric,
    Boolean,
    Other,
}

impl ColumnClass {
    fn of(data_type: &str) -> ColumnClass {
        let base = data_type
            .split('(')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match base.as_str() {
            "text" | "character varying" | "character" | "varchar" | "string" | "char"
            | "bpchar" | "nvarchar" | "nchar" => ColumnClass::String,
            "smallint" | "integer" | "bigint" | "smallserial" | "serial" | "bigserial" | "int2"
            | "int4" | "int8" | "int" | "int64" | "tinyint" | "hugeint" | "ubigint"
            | "uinteger" | "usmallint" | "utinyint" | "uhugeint" | "byteint" => {
                ColumnClass::Integer
            }
            "real" | "float4" | "float" | "double precision" | "float8" | "double" | "float64" => {
                ColumnClass::Float
            }
            "numeric" | "decimal" | "number" | "bignumeric" => {
                // Snowflake's NUMBER(38,0) is its integer.
                if data_type.replace(' ', "").ends_with(",0)") {
                    ColumnClass::Integer
                } else {
                    ColumnClass::Numeric
                }
            }
            "boolean" | "bool" => ColumnClass::Boolean,
            _ => ColumnClass::Other,
        }
    }
}

/// dbt's `Column`: `.name`, `.column`, `.dtype`, `.data_type`, `.quoted`,
/// `.char_size`, `.numeric_precision`, `.numeric_scale`, `is_string()`,
/// `is_number()`, `is_numeric()`, `is_integer()`, `is_float()`, `literal(v)`.
#[derive(Debug, Clone)]
pub struct Column {
    name: String,
    dtype: String,
    char_size: Option<i64>,
    precision: Option<i64>,
    scale: Option<i64>,
    quote: &'static str,
}

impl Column {
    /// A column from its warehouse description: `DECIMAL(18,3)` → dtype `DECIMAL`,
    /// precision 18, scale 3 (as dbt's `Column.from_description`).
    fn from_description(name: &str, data_type: &str, dialect: &dyn Dialect) -> Column {
        let (base, args) = match data_type.split_once('(') {
            Some((b, rest)) => (b.trim(), rest.trim_end_matches(')')),
            None => (data_type.trim(), ""),
        };
        let nums: Vec<i64> = args
            .split(',')
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        let class = ColumnClass::of(data_type);
        let (char_size, precision, scale) = match class {
            ColumnClass::String => (nums.first().copied(), None, None),
            _ => (None, nums.first().copied(), nums.get(1).copied()),
        };
        Column {
            name: name.to_owned(),
            dtype: base.to_owned(),
            char_size,
            precision,
            scale,
            quote: quote_char(dialect),
        }
    }

    fn class(&self) -> ColumnClass {
        ColumnClass::of(&self.dtype)
    }

    /// dbt's `data_type`: the type with its size, as a DDL would write it.
    fn data_type(&self) -> String {
        match (self.class(), self.char_size, self.precision, self.scale) {
            (ColumnClass::String, Some(n), _, _) => format!("{}({n})", self.dtype),
            (ColumnClass::Numeric | ColumnClass::Integer, _, Some(p), Some(s)) => {
                format!("{}({p},{s})", self.dtype)
            }
            _ => self.dtype.clone(),
        }
    }

    pub fn value(self) -> Value {
        Value::from_object(self)
    }
}

/// The character dbt's `Column.quoted` wraps a name in (BigQuery's backtick).
fn quote_char(dialect: &dyn Dialect) -> &'static str {
    if dialect.quote("x").starts_with('`') {
        "`"
    } else {
        "\""
    }
}

impl Object for Column {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "name" | "column" => Value::from(self.name.clone()),
            "dtype" => Value::from(self.dtype.clone()),
            "data_type" => Value::from(self.data_type()),
            "quoted" => Value::from(format!("{q}{}{q}", self.name, q = self.quote)),
            "char_size" => Value::from(self.char_size),
            "numeric_precision" => Value::from(self.precision),
            "numeric_scale" => Value::from(self.scale),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let class = self.class();
        let yes = |b: bool| Ok(Value::from(b));
        match method {
            "is_string" => yes(class == ColumnClass::String),
            "is_integer" => yes(class == ColumnClass::Integer),
            "is_float" => yes(class == ColumnClass::Float),
            "is_numeric" => yes(class == ColumnClass::Numeric),
            "is_number" => yes(matches!(
                class,
                ColumnClass::Integer | ColumnClass::Float | ColumnClass::Numeric
            )),
            "string_size" => Ok(Value::from(self.char_size.unwrap_or(256))),
            "literal" => {
                let (v,): (Value,) = from_args(args)?;
                Ok(Value::from(format!("{v}::{}", self.data_type())))
            }
            "can_expand_to" => {
                let (other,): (Value,) = from_args(args)?;
                let Some(other) = other.downcast_object_ref::<Column>() else {
                    return yes(false);
                };
                yes(class == ColumnClass::String
                    && other.class() == ColumnClass::String
                    && self.char_size.unwrap_or(0) < other.char_size.unwrap_or(0))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Column {} ({})>", self.name, self.data_type())
    }
}

// ------------------------------------------------------------------ adapter methods

/// A relation argument: a relation object, or a string naming one.
fn relation_arg(value: &Value, what: &str) -> Result<RelationName, Error> {
    if let Some(r) = value.downcast_object_ref::<Relation>() {
        return Ok(r.name.clone());
    }
    Err(Error::new(
        ErrorKind::InvalidOperation,
        format!("{what} takes a relation (from ref(), source() or api.Relation.create()), not `{value}`"),
    ))
}

fn columns_of(
    i: &Arc<dyn Introspector>,
    relation: &RelationName,
    dialect: &dyn Dialect,
) -> Result<Vec<Column>, Error> {
    let cols = i
        .columns(relation)
        .map_err(|e| warehouse_error("get_columns_in_relation", e))?;
    Ok(cols
        .iter()
        .map(|(n, t)| Column::from_description(n, t, dialect))
        .collect())
}

/// The introspective methods of `adapter`; `None` when `method` is not one.
pub fn adapter_method(
    state: &State,
    dialect: &'static dyn Dialect,
    method: &str,
    args: &[Value],
) -> Option<Result<Value, Error>> {
    let result = match method {
        "get_columns_in_relation" => get_columns_in_relation(state, dialect, args),
        "get_relation" => get_relation(state, dialect, args),
        "get_missing_columns" => get_missing_columns(state, dialect, args),
        "list_relations_without_caching" | "list_relations" => list_relations(state, dialect, args),
        "execute" => adapter_execute(state, args),
        "drop_relation" => drop_relation(state, dialect, args),
        _ => return None,
    };
    Some(result)
}

fn get_columns_in_relation(
    state: &State,
    dialect: &'static dyn Dialect,
    args: &[Value],
) -> Result<Value, Error> {
    let (relation,): (Value,) = from_args(args)?;
    let relation = relation_arg(&relation, "adapter.get_columns_in_relation")?;
    let (_, access) = access(state, "adapter.get_columns_in_relation")?;
    let Access::Live(i) = access else {
        return Ok(Value::from(Vec::<Value>::new()));
    };
    Ok(Value::from(
        columns_of(&i, &relation, dialect)?
            .into_iter()
            .map(Column::value)
            .collect::<Vec<_>>(),
    ))
}

fn get_relation(
    state: &State,
    dialect: &'static dyn Dialect,
    args: &[Value],
) -> Result<Value, Error> {
    let (database, schema, identifier, kwargs): (
        Option<Value>,
        Option<Value>,
        Option<Value>,
        Kwargs,
    ) = from_args(args)?;
    let pick = |v: Option<Value>, key: &str| -> Result<Option<String>, Error> {
        let v = match v {
            Some(v) => Some(v),
            None => kwargs.get::<Option<Value>>(key)?,
        };
        Ok(v.filter(|v| !v.is_none() && !v.is_undefined())
            .map(|v| v.to_string()))
    };
    let database = pick(database, "database")?;
    let schema = pick(schema, "schema")?;
    let identifier = pick(identifier, "identifier")?;
    kwargs.assert_all_used()?;
    let (Some(schema), Some(identifier)) = (schema, identifier) else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "adapter.get_relation(database, schema, identifier) needs a schema and an identifier",
        ));
    };
    let (_, access) = access(state, "adapter.get_relation")?;
    let Access::Live(i) = access else {
        return Ok(Value::from(()));
    };
    lookup(
        &i,
        dialect,
        RelationName {
            database,
            schema,
            identifier,
        },
    )
}

fn lookup(
    i: &Arc<dyn Introspector>,
    dialect: &'static dyn Dialect,
    name: RelationName,
) -> Result<Value, Error> {
    match i
        .relation_kind(&name)
        .map_err(|e| warehouse_error("get_relation", e))?
    {
        Some(kind) => Ok(Relation::with_kind(name, Some(kind), dialect)),
        None => Ok(Value::from(())),
    }
}

/// `load_relation(relation)`: the relation if it exists in the warehouse, else none.
fn load_relation_fn(state: &State, relation: Value) -> Result<Value, Error> {
    let name = relation_arg(&relation, "load_relation")?;
    let s = context::session(state)?;
    let dialect = s.shared.dialect;
    let (_, access) = access(state, "load_relation")?;
    match access {
        Access::Parse => Ok(Value::from(())),
        Access::Live(i) => lookup(&i, dialect, name),
    }
}

/// `adapter.get_missing_columns(from, to)`: the columns of `from` that `to` lacks.
fn get_missing_columns(
    state: &State,
    dialect: &'static dyn Dialect,
    args: &[Value],
) -> Result<Value, Error> {
    let (from, to): (Value, Value) = from_args(args)?;
    let from = relation_arg(&from, "adapter.get_missing_columns")?;
    let to = relation_arg(&to, "adapter.get_missing_columns")?;
    let (_, access) = access(state, "adapter.get_missing_columns")?;
    let Access::Live(i) = access else {
        return Ok(Value::from(Vec::<Value>::new()));
    };
    let have: Vec<String> = columns_of(&i, &to, dialect)?
        .into_iter()
        .map(|c| c.name.to_ascii_lowercase())
        .collect();
    Ok(Value::from(
        columns_of(&i, &from, dialect)?
            .into_iter()
            .filter(|c| !have.contains(&c.name.to_ascii_lowercase()))
            .map(Column::value)
            .collect::<Vec<_>>(),
    ))
}

fn list_relations(
    state: &State,
    dialect: &'static dyn Dialect,
    args: &[Value],
) -> Result<Value, Error> {
    let (schema_relation, kwargs): (Option<Value>, Kwargs) = from_args(args)?;
    let schema_relation = match schema_relation {
        Some(v) => Some(v),
        None => kwargs.get::<Option<Value>>("schema_relation")?,
    };
    kwargs.assert_all_used()?;
    let Some(schema_relation) = schema_relation else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "adapter.list_relations_without_caching(schema_relation) needs a relation naming the schema",
        ));
    };
    let r = relation_arg(&schema_relation, "adapter.list_relations_without_caching")?;
    let (_, access) = access(state, "adapter.list_relations_without_caching")?;
    let Access::Live(i) = access else {
        return Ok(Value::from(Vec::<Value>::new()));
    };
    let found = i
        .list_relations(r.database.as_deref(), &r.schema)
        .map_err(|e| warehouse_error("list_relations_without_caching", e))?;
    Ok(Value::from(
        found
            .into_iter()
            .map(|(identifier, kind)| {
                Relation::with_kind(
                    RelationName {
                        database: r.database.clone(),
                        schema: r.schema.clone(),
                        identifier,
                    },
                    Some(kind),
                    dialect,
                )
            })
            .collect::<Vec<_>>(),
    ))
}

/// `adapter.drop_relation(relation)`: drops it if it exists (a table unless the
/// relation says it is a view), as dbt's `drop_relation` macro does.
fn drop_relation(
    state: &State,
    dialect: &'static dyn Dialect,
    args: &[Value],
) -> Result<Value, Error> {
    let (relation,): (Value,) = from_args(args)?;
    let name = relation_arg(&relation, "adapter.drop_relation")?;
    let kind = relation
        .downcast_object_ref::<Relation>()
        .and_then(|r| r.kind)
        .unwrap_or(RelationKind::Table);
    let (_, access) = access(state, "adapter.drop_relation")?;
    let Access::Live(i) = access else {
        return Ok(Value::from(()));
    };
    i.run_query(&dialect.drop_relation(&name, kind))
        .map_err(|e| warehouse_error("adapter.drop_relation", e))?;
    Ok(Value::from(()))
}

/// `adapter.execute(sql, fetch=False)`: `(response, table)`.
fn adapter_execute(state: &State, args: &[Value]) -> Result<Value, Error> {
    let (sql, fetch, kwargs): (String, Option<bool>, Kwargs) = from_args(args)?;
    let fetch = fetch
        .or(kwargs.get::<Option<bool>>("fetch")?)
        .unwrap_or(false);
    let _ = kwargs.get::<Option<Value>>("auto_begin")?;
    kwargs.assert_all_used()?;
    let (_, access) = access(state, "adapter.execute")?;
    let Access::Live(i) = access else {
        return Ok(Value::from(vec![Value::from(()), Value::from(())]));
    };
    let result = i
        .run_query(&sql)
        .map_err(|e| warehouse_error("adapter.execute", e))?;
    let response = response_value(&result);
    let table = if fetch {
        Table::value(result)
    } else {
        Table::value(QueryResult::default())
    };
    Ok(Value::from(vec![response, table]))
}

// ------------------------------------------------------------------ api

/// `api`: `api.Relation.create(...)` and `api.Column.create(name, dtype)`.
#[derive(Debug)]
struct Api {
    dialect: &'static dyn Dialect,
}

impl Object for Api {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let dialect = self.dialect;
        match key.as_str()? {
            "Relation" => Some(Value::from_object(ApiRelation { dialect })),
            "Column" => Some(Value::from_object(ApiColumn { dialect })),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct ApiRelation {
    dialect: &'static dyn Dialect,
}

impl Object for ApiRelation {
    fn call_method(
        self: &Arc<Self>,
        state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if method != "create" {
            return Err(Error::from(ErrorKind::UnknownMethod));
        }
        let (kwargs,): (Kwargs,) = from_args(args)?;
        let text = |k: &str| -> Result<Option<String>, Error> {
            Ok(kwargs
                .get::<Option<Value>>(k)?
                .filter(|v| !v.is_none() && !v.is_undefined())
                .map(|v| v.to_string()))
        };
        let database = text("database")?;
        let schema = text("schema")?;
        let identifier = text("identifier")?;
        let kind = match text("type")?.as_deref() {
            None => None,
            Some("table") => Some(RelationKind::Table),
            Some("view") => Some(RelationKind::View),
            Some(other) => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("api.Relation.create(type='{other}'): sluice knows `table` and `view`"),
                ))
            }
        };
        let _ = kwargs.get::<Option<Value>>("quote_policy")?;
        kwargs.assert_all_used()?;
        // Like dbt, a missing schema is the target's.
        let schema = match schema {
            Some(s) => s,
            None => context::session(state)
                .map(|s| s.shared.target_schema.clone())
                .unwrap_or_default(),
        };
        let Some(identifier) = identifier else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "api.Relation.create() needs an identifier",
            ));
        };
        Ok(Relation::with_kind(
            RelationName {
                database,
                schema,
                identifier,
            },
            kind,
            self.dialect,
        ))
    }
}

#[derive(Debug)]
struct ApiColumn {
    dialect: &'static dyn Dialect,
}

impl ApiColumn {
    fn create(&self, args: &[Value]) -> Result<Value, Error> {
        let (name, dtype, kwargs): (Option<String>, Option<String>, Kwargs) = from_args(args)?;
        let name = match name {
            Some(n) => n,
            None => kwargs.get::<String>("column")?,
        };
        let dtype = match dtype {
            Some(d) => d,
            None => kwargs
                .get::<Option<String>>("dtype")?
                .or(kwargs.get::<Option<String>>("data_type")?)
                .unwrap_or_default(),
        };
        let mut col = Column::from_description(&name, &dtype, self.dialect);
        if let Some(n) = kwargs.get::<Option<i64>>("char_size")? {
            col.char_size = Some(n);
        }
        if let Some(n) = kwargs.get::<Option<i64>>("numeric_precision")? {
            col.precision = Some(n);
        }
        if let Some(n) = kwargs.get::<Option<i64>>("numeric_scale")? {
            col.scale = Some(n);
        }
        kwargs.assert_all_used()?;
        Ok(col.value())
    }
}

impl Object for ApiColumn {
    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        self.create(args)
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "create" => self.create(args),
            "translate_type" => {
                let (dtype,): (String,) = from_args(args)?;
                Ok(Value::from(translate_type(self.dialect.kind(), &dtype)))
            }
            "numeric_type" => {
                let (dtype, precision, scale): (String, Value, Value) = from_args(args)?;
                let given = |v: &Value| !v.is_none() && !v.is_undefined();
                Ok(Value::from(
                    if self.dialect.kind() == WarehouseKind::BigQuery
                        || !given(&precision)
                        || !given(&scale)
                    {
                        // BigQuery's Column drops precision and scale, as dbt-bigquery does.
                        dtype
                    } else {
                        format!("{dtype}({precision},{scale})")
                    },
                ))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// dbt's `Column.translate_type`: the adapter's `TYPE_LABELS` (dbt-adapters'
/// `STRING -> TEXT`; dbt-bigquery's `TEXT -> STRING`, `FLOAT -> FLOAT64`,
/// `INTEGER -> INT64`), else the type as given.
fn translate_type(kind: WarehouseKind, dtype: &str) -> String {
    let labels: &[(&str, &str)] = match kind {
        WarehouseKind::BigQuery => &[
            ("TEXT", "STRING"),
            ("FLOAT", "FLOAT64"),
            ("INTEGER", "INT64"),
        ],
        _ => &[("STRING", "TEXT")],
    };
    let upper = dtype.to_ascii_uppercase();
    labels
        .iter()
        .find(|(from, _)| *from == upper)
        .map_or_else(|| dtype.to_owned(), |(_, to)| (*to).to_owned())
}

/// Install the introspective functions and `api` into `env`.
pub fn install(env: &mut minijinja::Environment<'static>, dialect: &'static dyn Dialect) {
    env.add_function("run_query", run_query_fn);
    env.add_function("load_result", load_result_fn);
    env.add_function("store_result", store_result_fn);
    env.add_function("load_relation", load_relation_fn);
    env.add_global("statement", Value::from_object(StatementFn));
    env.add_global("api", Value::from_object(Api { dialect }));
}
