//! Unit tests (dbt 1.8's `unit_tests:`): a model's logic run on hand-written rows.
//!
//! Compiling a unit test renders the model with every `ref`/`source` it reads
//! replaced by a CTE of the given rows, so nothing upstream has to exist: the query
//! runs on the warehouse without touching a table. The result is compared with the
//! expected rows as a multiset (or in order with `ordered: true`), numbers within a
//! tolerance, and a failure shows the missing and unexpected rows as a table.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use minijinja::Value;
use serde_json::Value as Json;

use petgraph::graph::NodeIndex;

use crate::adapter::duckdb::DuckDbAdapter;
use crate::adapter::{Adapter, Dialect, Rows as WarehouseRows, SeedLoad, Session};
use crate::diagnostics::{suggestion_help, Diagnostic, Span};
use crate::graph::Dag;
use crate::project::properties::{Rows, RowsDef, UnitTestDef};
use crate::project::{Materialization, Project, SqlCheck};
use crate::render::compile::render_with_ephemerals;
use crate::render::parse::{DependencyTarget, ParsedNode, ResourceType, UnitTestSpec};
use crate::render::{NodeContext, Phase, RenderShared, Renderer, Resolved};

/// A unit test compiled to SQL, ready to run.
#[derive(Debug)]
pub struct CompiledUnitTest {
    /// The model's SQL with the given rows inlined as CTEs.
    pub sql: String,
    pub expect: RowsDef,
    pub ordered: bool,
    pub tolerance: Option<f64>,
}

/// Parse `ref('x')` / `source('s', 't')` as written in `input:`.
fn parse_input(input: &str) -> Option<DependencyTarget> {
    let calls = super::generic::relation_calls(input);
    match calls.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

fn cte_name(target: &DependencyTarget) -> String {
    let raw = match target {
        DependencyTarget::Ref(n) => n.clone(),
        DependencyTarget::Source(s, t) => format!("{s}__{t}"),
    };
    format!("__unit_given__{raw}")
}

fn describe(target: &DependencyTarget) -> String {
    match target {
        DependencyTarget::Ref(n) => format!("ref('{n}')"),
        DependencyTarget::Source(s, t) => format!("source('{s}', '{t}')"),
    }
}

/// Build the node of one unit test, checking its inputs against the model's refs.
pub fn build_unit_test_node(
    project: &Project,
    nodes: &[ParsedNode],
    def: &UnitTestDef,
) -> Result<Option<ParsedNode>, Diagnostic> {
    let model = nodes
        .iter()
        .find(|n| n.resource_type == ResourceType::Model && n.name == def.model)
        .ok_or_else(|| {
            let names = nodes
                .iter()
                .filter(|n| n.resource_type == ResourceType::Model)
                .map(|n| n.name.as_str());
            Diagnostic::error(format!(
                "unit test `{}` tests `{}`, which is not a model",
                def.name, def.model
            ))
            .with_label(&def.model_span, "unknown model")
            .with_help(suggestion_help(&def.model, names, || {
                "name the model under test".to_owned()
            }))
        })?;
    if model.materialization == Materialization::Ephemeral {
        return Err(Diagnostic::error(format!(
            "unit test `{}` tests an ephemeral model",
            def.name
        ))
        .with_label(&def.model_span, "ephemeral")
        .with_help("unit-test the models that use it, or make it a view"));
    }
    let mut given_targets = Vec::new();
    for g in &def.given {
        let target = parse_input(&g.input).ok_or_else(|| {
            Diagnostic::error(format!("cannot read the input `{}`", g.input))
                .with_label(
                    &g.input_span,
                    "expected ref('model') or source('source', 'table')",
                )
                .with_help("write `input: ref('stg_orders')` or `input: source('app', 'orders')`")
        })?;
        if !model.depends_on.iter().any(|d| d.target == target) {
            let reads: Vec<String> = model
                .depends_on
                .iter()
                .map(|d| describe(&d.target))
                .collect();
            return Err(Diagnostic::error(format!(
                "model `{}` does not read {}",
                model.name,
                describe(&target)
            ))
            .with_label(&g.input_span, "not an input of the model")
            .with_help(if reads.is_empty() {
                "the model reads no ref or source: remove this input".to_owned()
            } else {
                format!("the model reads: {}", reads.join(", "))
            }));
        }
        given_targets.push(target);
    }
    for dep in &model.depends_on {
        if !given_targets.contains(&dep.target) {
            return Err(Diagnostic::error(format!(
                "unit test `{}` gives no rows for {}, which model `{}` reads",
                def.name,
                describe(&dep.target),
                model.name
            ))
            .with_label(&def.span, "in this unit test")
            .with_label(&dep.span, "read here")
            .with_help(format!(
                "add `- input: {}` with `rows: []` (or the rows the case needs) under `given:`",
                describe(&dep.target)
            )));
        }
    }
    let mut config = crate::project::Config::default();
    config.merge(&def.config);
    if !config.enabled() {
        return Ok(None);
    }
    let mut fqn = vec![project.name().to_owned()];
    if let Some(parent) = def.file.path.parent() {
        fqn.extend(
            parent
                .components()
                .skip(1)
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        );
    }
    fqn.push(model.name.clone());
    fqn.push(def.name.clone());
    Ok(Some(ParsedNode {
        constraints: Vec::new(),
        unique_id: format!("unit_test.{}.{}.{}", project.name(), model.name, def.name),
        resource_type: ResourceType::UnitTest,
        name: def.name.clone(),
        fqn,
        file: Arc::clone(&def.file),
        span: def.span.clone(),
        original_file_path: def.file.path.clone(),
        path: def.file.path.clone(),
        template: None,
        config,
        materialization: Materialization::Test,
        sql_check: SqlCheck::Off,
        relation: None,
        depends_on: Vec::new(),
        description: def.description.clone(),
        columns: Vec::new(),
        generic_test: None,
        checksum: crate::render::parse::checksum(&format!("{}{}", def.name, def.model)),
        source_name: None,
        unit_test: Some(UnitTestSpec {
            def: def.clone(),
            model_id: model.unique_id.clone(),
        }),
        reads: Default::default(),
        cannot_run: None,
        version: None,
        extra: Default::default(),
    }))
}

/// The model, seed, snapshot or source a unit test's input names.
fn input_node<'a>(dag: &'a Dag, target: &DependencyTarget) -> Option<&'a ParsedNode> {
    match target {
        DependencyTarget::Ref(name) => dag.by_name.get(name).and_then(|id| dag.get(id)),
        DependencyTarget::Source(s, t) => dag
            .nodes
            .iter()
            .find(|n| n.source_name.as_ref() == Some(s) && &n.name == t),
    }
}

/// An input's columns and types as the warehouse has them (its relation built
/// earlier in the run, or before), or nothing when it does not exist.
pub fn warehouse_types(
    session: &mut dyn Session,
    dag: &Dag,
    dialect: &dyn crate::adapter::Dialect,
    target: &DependencyTarget,
) -> Vec<(String, String)> {
    let Some(relation) = input_node(dag, target).and_then(|n| n.relation.as_ref()) else {
        return Vec::new();
    };
    session
        .describe(&format!(
            "select * from {}",
            dialect.render_relation(relation)
        ))
        .unwrap_or_default()
}

/// Column types known for an input: its YAML `data_type`s, or a seed's `column_types`.
fn known_types(dag: &Dag, target: &DependencyTarget) -> Vec<(String, String)> {
    let Some(node) = input_node(dag, target) else {
        return Vec::new();
    };
    let mut types: Vec<(String, String)> = node
        .columns
        .iter()
        .filter_map(|c| c.data_type.clone().map(|t| (c.name.clone(), t)))
        .collect();
    if let Some(Json::Object(declared)) = node.config.get("column_types") {
        for (c, t) in declared {
            if let Some(t) = t.as_str() {
                if !types.iter().any(|(k, _)| k.eq_ignore_ascii_case(c)) {
                    types.push((c.clone(), t.to_owned()));
                }
            }
        }
    }
    types
}

fn literal(value: &Json) -> Result<String, String> {
    Ok(match value {
        Json::Null => "null".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => format!("'{}'", s.replace('\'', "''")),
        other => {
            return Err(format!(
                "`{other}` is not a plain value (use a string, number, boolean or null)"
            ));
        }
    })
}

fn typed(lit: String, data_type: Option<&String>) -> String {
    match data_type {
        Some(t) => format!("cast({lit} as {t})"),
        None => lit,
    }
}

/// A CSV cell as a YAML-like value: empty is null, numbers stay numbers.
fn csv_value(cell: &str) -> Json {
    if cell.is_empty() {
        return Json::Null;
    }
    if let Ok(i) = cell.parse::<i64>() {
        return Json::from(i);
    }
    if let Ok(f) = cell.parse::<f64>() {
        if let Some(n) = serde_json::Number::from_f64(f) {
            return Json::Number(n);
        }
    }
    Json::String(cell.to_owned())
}

/// The rows of a `given`/`expect` block as (columns, rows of values).
fn table_of(def: &RowsDef) -> Result<(Vec<String>, Vec<Vec<Json>>), Diagnostic> {
    match &def.rows {
        Rows::Dict(rows) => {
            let mut columns: Vec<String> = Vec::new();
            for r in rows {
                for k in r.keys() {
                    if !columns.contains(k) {
                        columns.push(k.clone());
                    }
                }
            }
            let values = rows
                .iter()
                .map(|r| {
                    columns
                        .iter()
                        .map(|c| r.get(c).cloned().unwrap_or(Json::Null))
                        .collect()
                })
                .collect();
            Ok((columns, values))
        }
        Rows::Csv(text) => {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(text.trim().as_bytes());
            let bad = |e: csv::Error| {
                Diagnostic::error(format!("invalid CSV rows: {e}"))
                    .with_label(&def.span, "in these rows")
                    .with_help("every row needs one value per header column")
            };
            let columns: Vec<String> = reader
                .headers()
                .map_err(bad)?
                .iter()
                .map(str::to_owned)
                .collect();
            let mut rows = Vec::new();
            for record in reader.records() {
                rows.push(record.map_err(bad)?.iter().map(csv_value).collect());
            }
            Ok((columns, rows))
        }
        Rows::Sql(_) => Ok((Vec::new(), Vec::new())),
    }
}

/// SQL returning `def`'s rows, cast to `types` where a column's type is known.
/// `extra` columns (known for the input but not given) are added as typed nulls.
pub fn rows_sql(
    def: &RowsDef,
    types: &[(String, String)],
    add_missing: bool,
    dialect: &dyn Dialect,
) -> Result<String, Diagnostic> {
    if let Rows::Sql(sql) = &def.rows {
        return Ok(sql.clone());
    }
    let (mut columns, rows) = table_of(def)?;
    let type_of = |c: &str| {
        types
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(c))
            .map(|(_, t)| t)
    };
    let given_count = columns.len();
    if add_missing {
        for (c, _) in types {
            if !columns.iter().any(|k| k.eq_ignore_ascii_case(c)) {
                columns.push(c.clone());
            }
        }
    }
    if columns.is_empty() {
        return Err(Diagnostic::error(
            "these rows name no column, and the input's columns are unknown",
        )
        .with_label(&def.span, "no columns")
        .with_help(
            "give at least one row, or declare the input's columns with `data_type` in its YAML",
        ));
    }
    let bad_value = |msg: String| Diagnostic::error(msg).with_label(&def.span, "in these rows");
    let select_row = |values: &[Json]| -> Result<String, Diagnostic> {
        let mut parts = Vec::with_capacity(columns.len());
        for (i, c) in columns.iter().enumerate() {
            let v = if i < given_count {
                &values[i]
            } else {
                &Json::Null
            };
            let lit = literal(v).map_err(bad_value)?;
            parts.push(format!(
                "{} as {}",
                typed(lit, type_of(c)),
                dialect.quote(c)
            ));
        }
        Ok(format!("select {}", parts.join(", ")))
    };
    if rows.is_empty() {
        let nulls = vec![Json::Null; columns.len()];
        return Ok(format!("{} where false", select_row(&nulls)?));
    }
    let selects: Result<Vec<String>, Diagnostic> = rows.iter().map(|r| select_row(r)).collect();
    Ok(selects?.join("\nunion all\n"))
}

/// Column types of upstream nodes, found by building them empty in a scratch
/// in-memory DuckDB: seeds loaded from their CSV, models created from their compiled
/// SQL with zero rows, recursively. Nothing touches the target warehouse.
pub struct Scratch<'a> {
    renderer: &'a Renderer,
    dag: &'a Dag,
    shared: Arc<RenderShared>,
    session: Box<dyn Session>,
    built: HashMap<NodeIndex, bool>,
}

impl<'a> Scratch<'a> {
    /// `None` when the scratch database cannot be opened.
    pub fn new(
        renderer: &'a Renderer,
        dag: &'a Dag,
        shared: Arc<RenderShared>,
    ) -> Option<Scratch<'a>> {
        let mut session = DuckDbAdapter::open_in_memory().ok()?.session().ok()?;
        // Rendered relations name the target's catalog (`"dev"."main"."x"`, as
        // dbt-duckdb prints them): the scratch database answers to that name too.
        if let Some(catalog) = shared
            .printed_database
            .as_deref()
            .filter(|c| !c.eq_ignore_ascii_case("memory"))
        {
            let d = renderer.dialect;
            let quoted = d.quote(catalog);
            session
                .execute_atomic(&[
                    format!("attach ':memory:' as {quoted}"),
                    format!("use {quoted}"),
                ])
                .ok()?;
        }
        Some(Scratch {
            renderer,
            dag,
            shared,
            session,
            built: HashMap::new(),
        })
    }

    /// The columns and types of an input, or nothing when they cannot be found.
    pub fn types(&mut self, target: &DependencyTarget) -> Vec<(String, String)> {
        let DependencyTarget::Ref(name) = target else {
            return Vec::new();
        };
        let Some(&idx) = self
            .dag
            .by_name
            .get(name)
            .and_then(|id| self.dag.by_id.get(id))
        else {
            return Vec::new();
        };
        if !self.ensure(idx) {
            return Vec::new();
        }
        let Some(relation) = &self.dag.node(idx).relation else {
            return Vec::new();
        };
        let sql = format!(
            "select * from {}",
            self.renderer.dialect.render_relation(relation)
        );
        self.session.describe(&sql).unwrap_or_default()
    }

    /// Build `idx` (and what it reads) empty in the scratch database.
    fn ensure(&mut self, idx: NodeIndex) -> bool {
        if let Some(done) = self.built.get(&idx) {
            return *done;
        }
        // Marked first, so a failure is not retried for every input that needs it.
        self.built.insert(idx, false);
        let dag = self.dag;
        let node = dag.node(idx);
        let parents: Vec<NodeIndex> = dag
            .parents(idx)
            .filter(|p| dag.node(*p).resource_type != ResourceType::UnitTest)
            .collect();
        if !parents.into_iter().all(|p| self.ensure(p)) {
            return false;
        }
        let d = self.renderer.dialect;
        let ok = match (node.resource_type, &node.relation) {
            (ResourceType::Seed, Some(relation)) => {
                let Ok(data) = crate::execute::materialize::read_seed(node) else {
                    return false;
                };
                let load = SeedLoad {
                    relation,
                    columns: &data.columns,
                    rows: &data.rows,
                    lines: &data.lines,
                    declared: &data.declared,
                    csv_file: None,
                };
                self.session.create_schema(&relation.schema).is_ok()
                    && self.session.load_seed(&load).is_ok()
            }
            (ResourceType::Model, _) if node.materialization == Materialization::Ephemeral => true,
            (ResourceType::Model, Some(relation)) => {
                let find = |name: &str| {
                    dag.by_name
                        .get(name)
                        .and_then(|id| dag.get(id))
                        .or_else(|| dag.nodes.iter().find(|n| n.cte_name() == name))
                };
                match render_with_ephemerals(self.renderer, &self.shared, node, find) {
                    Ok(sql) => {
                        let empty = format!("select * from (\n{sql}\n) as empty limit 0");
                        let statements = [
                            d.create_schema(&relation.schema),
                            d.create_table_as(relation, &empty),
                        ];
                        self.session.execute_atomic(&statements).is_ok()
                    }
                    Err(_) => false,
                }
            }
            _ => false,
        };
        self.built.insert(idx, ok);
        ok
    }
}

/// The relations a unit test's `given` inputs stand in for.
pub fn input_targets(node: &ParsedNode) -> Vec<DependencyTarget> {
    node.unit_test
        .as_ref()
        .map(|spec| {
            spec.def
                .given
                .iter()
                .filter_map(|g| parse_input(&g.input))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the unit test's model reads the warehouse while it renders
/// (`run_query`, `adapter.get_columns_in_relation`, ...): then, as in dbt, the
/// test is compiled when it runs, with the warehouse at hand.
pub fn model_introspects(dag: &Dag, node: &ParsedNode) -> bool {
    node.unit_test
        .as_ref()
        .and_then(|spec| dag.get(&spec.model_id))
        .is_some_and(|model| model.reads.introspects.is_some())
}

/// Compile a unit test: the model rendered with its inputs replaced by given rows.
/// `upstream_types` finds an input's column types when its YAML declares none;
/// `introspector` answers the model's introspective calls (at run time).
pub fn compile(
    renderer: &Renderer,
    dag: &Dag,
    node: &ParsedNode,
    upstream_types: &mut dyn FnMut(&DependencyTarget) -> Vec<(String, String)>,
    introspector: Option<Arc<dyn crate::render::introspect::Introspector>>,
) -> Result<CompiledUnitTest, Diagnostic> {
    let spec = node
        .unit_test
        .as_ref()
        .ok_or_else(|| Diagnostic::error("not a unit test"))?;
    let def = &spec.def;
    let model = dag.get(&spec.model_id).ok_or_else(|| {
        Diagnostic::error("unit test of an unknown model").with_label(&node.span, "here")
    })?;
    let template = model
        .template
        .as_ref()
        .ok_or_else(|| Diagnostic::error("the model has no SQL"))?;
    let mut relations = HashMap::new();
    let mut sources = HashMap::new();
    let mut ctes: HashMap<String, (String, Vec<String>)> = HashMap::new();
    for g in &def.given {
        let target = parse_input(&g.input)
            .ok_or_else(|| Diagnostic::error("bad input").with_label(&g.input_span, "here"))?;
        let cte = cte_name(&target);
        let mut types = known_types(dag, &target);
        if types.is_empty() {
            types = upstream_types(&target);
        }
        let sql = rows_sql(&g.rows, &types, true, renderer.dialect)?;
        ctes.insert(cte.clone(), (sql, Vec::new()));
        match target {
            DependencyTarget::Ref(name) => {
                relations.insert(name, Resolved::Cte(cte));
            }
            DependencyTarget::Source(s, t) => {
                sources.insert((s, t), Resolved::Cte(cte));
            }
        }
    }
    let mut shared = renderer.shared_state(relations, sources);
    shared.vars.extend(def.vars.clone());
    shared.macro_overrides = def.macros.clone().into_iter().collect();
    shared.env_overrides = def
        .env_vars
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            )
        })
        .collect();
    let shared = Arc::new(shared);
    let this = match &model.relation {
        Some(r) => renderer.relation_value(r),
        None => Value::UNDEFINED,
    };
    let ctx = NodeContext {
        this,
        model: Value::from_serialize(
            serde_json::json!({"name": model.name, "unique_id": model.unique_id}),
        ),
        config: model.config.to_json(),
    };
    let rendered = renderer
        .render_with(template, Phase::Compile, &shared, ctx, introspector)
        .map_err(|d| {
            d.with_note(format!(
                "while compiling unit test `{}` declared at {}",
                def.name,
                def.span.location()
            ))
        })?;
    let sql =
        crate::render::compile::inject_ctes(&rendered.sql, &rendered.recorded.ephemerals, &ctes);
    Ok(CompiledUnitTest {
        sql,
        expect: def.expect.clone(),
        ordered: def.ordered,
        tolerance: def.tolerance,
    })
}

/// Two cells equal, numbers within the tolerance (exact for integers, 1e-9
/// relative for other numbers, or the test's absolute `tolerance`).
fn cells_equal(a: &Option<String>, b: &Option<String>, tolerance: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) if x == y => true,
        (Some(x), Some(y)) => match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(p), Ok(q)) => {
                let both_integers = x.parse::<i128>().is_ok() && y.parse::<i128>().is_ok();
                match tolerance {
                    Some(t) => (p - q).abs() <= t,
                    None if both_integers => false,
                    None => (p - q).abs() <= 1e-9 * p.abs().max(q.abs()),
                }
            }
            _ => false,
        },
        _ => false,
    }
}

/// One row as text cells (NULL is `None`).
pub type Row = Vec<Option<String>>;

/// The rows only one side has: (missing = expected, not produced; unexpected).
pub fn diff(
    expected: &[Vec<Option<String>>],
    actual: &[Vec<Option<String>>],
    ordered: bool,
    tolerance: Option<f64>,
) -> (Vec<Row>, Vec<Row>) {
    let row_eq = |a: &[Option<String>], b: &[Option<String>]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| cells_equal(x, y, tolerance))
    };
    if ordered {
        let mut missing = Vec::new();
        let mut unexpected = Vec::new();
        for i in 0..expected.len().max(actual.len()) {
            match (expected.get(i), actual.get(i)) {
                (Some(e), Some(a)) if row_eq(e, a) => {}
                (e, a) => {
                    missing.extend(e.cloned());
                    unexpected.extend(a.cloned());
                }
            }
        }
        return (missing, unexpected);
    }
    let mut used = vec![false; actual.len()];
    let mut missing = Vec::new();
    for e in expected {
        match (0..actual.len()).find(|&i| !used[i] && row_eq(e, &actual[i])) {
            Some(i) => used[i] = true,
            None => missing.push(e.clone()),
        }
    }
    let unexpected = actual
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(r, _)| r.clone())
        .collect();
    (missing, unexpected)
}

/// The diff as an aligned table: `-` rows expected but missing, `+` rows unexpected.
pub fn diff_table(
    columns: &[String],
    missing: &[Vec<Option<String>>],
    unexpected: &[Vec<Option<String>>],
) -> String {
    let mut rows = WarehouseRows {
        columns: std::iter::once(String::new())
            .chain(columns.iter().cloned())
            .collect(),
        rows: Vec::new(),
    };
    for (mark, set) in [("-", missing), ("+", unexpected)] {
        for r in set {
            rows.rows.push(
                std::iter::once(Some(mark.to_owned()))
                    .chain(r.iter().cloned())
                    .collect(),
            );
        }
    }
    crate::output::table::plain(&rows)
}

/// The diagnostic of a failed unit test.
pub fn failure(
    node: &ParsedNode,
    model: &str,
    columns: &[String],
    missing: &[Vec<Option<String>>],
    unexpected: &[Vec<Option<String>>],
) -> Diagnostic {
    let span: &Span = &node.span;
    Diagnostic::error(format!(
        "unit test `{}` of model `{model}` failed: {} expected row{} missing, {} unexpected",
        node.name,
        missing.len(),
        if missing.len() == 1 { "" } else { "s" },
        unexpected.len()
    ))
    .with_label(span, "unit test declared here")
    .with_note(format!(
        "- rows were expected but not returned, + rows were returned but not expected:\n{}",
        diff_table(columns, missing, unexpected).trim_end()
    ))
}

/// Expected columns with their actual types, for casting the expected rows.
pub fn expected_types(
    expected_columns: &[String],
    actual: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    expected_columns
        .iter()
        .filter_map(|c| {
            actual
                .get(&c.to_lowercase())
                .map(|t| (c.clone(), t.clone()))
        })
        .collect()
}

/// The expected columns (empty for `format: sql`, whose columns come from running it).
pub fn expected_columns(def: &RowsDef) -> Result<Vec<String>, Diagnostic> {
    table_of(def).map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[Option<&str>]) -> Vec<Option<String>> {
        cells.iter().map(|c| c.map(str::to_owned)).collect()
    }

    #[test]
    fn multiset_diff_ignores_order_and_counts_duplicates() {
        let expected = vec![row(&[Some("1")]), row(&[Some("1")]), row(&[Some("2")])];
        let actual = vec![row(&[Some("2")]), row(&[Some("1")]), row(&[Some("3")])];
        let (missing, unexpected) = diff(&expected, &actual, false, None);
        assert_eq!(missing, vec![row(&[Some("1")])]);
        assert_eq!(unexpected, vec![row(&[Some("3")])]);
        let (missing, unexpected) = diff(&expected[..1], &actual[1..2], true, None);
        assert!(missing.is_empty() && unexpected.is_empty());
    }

    #[test]
    fn numbers_compare_with_tolerance() {
        let s = |x: &str| Some(x.to_owned());
        assert!(cells_equal(&s("100"), &s("100.00"), None));
        assert!(!cells_equal(&s("1"), &s("2"), None));
        assert!(cells_equal(&s("0.30000000000000004"), &s("0.3"), None));
        assert!(!cells_equal(&s("0.31"), &s("0.3"), None));
        assert!(cells_equal(&s("0.31"), &s("0.3"), Some(0.02)));
        assert!(!cells_equal(&s("10"), &s("11"), Some(0.5)));
        assert!(cells_equal(&None, &None, None));
        assert!(!cells_equal(&None, &s("0"), None));
    }
}
