//! YAML property files (`version: 2`): descriptions, columns, data tests and configs
//! of models and seeds, and source definitions.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value as Json;

use super::config::{check_key, check_value, Config};
use super::freshness::{Declared, TableFreshness};
use super::yaml::{KeySet, Node};
use crate::diagnostics::{defined_twice, Diagnostic, SourceFile, Span};

const FILE_KEYS: KeySet = KeySet {
    what: "a properties file",
    known: &[
        "version",
        "models",
        "seeds",
        "snapshots",
        "sources",
        "assertions",
        "unit_tests",
        "semantic_models",
        "metrics",
        "dashboards",
        "exposures",
        "groups",
    ],
    ignored: &["macros", "saved_queries", "analyses", "data_tests"],
};

const NODE_KEYS: KeySet = KeySet {
    what: "a model or seed entry",
    known: &[
        "name",
        "description",
        "columns",
        "data_tests",
        "tests",
        "config",
        "docs",
        "meta",
        "tags",
        "versions",
        "latest_version",
        "deprecation_date",
        "constraints",
        "access",
        "group",
    ],
    ignored: &["time_spine"],
};

const SNAPSHOT_KEYS: KeySet = KeySet {
    what: "a snapshot entry",
    known: &[
        "name",
        "relation",
        "description",
        "columns",
        "data_tests",
        "tests",
        "config",
        "docs",
        "meta",
        "tags",
    ],
    ignored: &[],
};

const COLUMN_KEYS: KeySet = KeySet {
    what: "a column entry",
    known: &[
        "name",
        "description",
        "data_type",
        "data_tests",
        "tests",
        "meta",
        "tags",
        "quote",
        "config",
        "constraints",
    ],
    ignored: &["policy_tags", "granularity", "tests_config"],
};

const SOURCE_KEYS: KeySet = KeySet {
    what: "a source entry",
    known: &[
        "name",
        "description",
        "database",
        "schema",
        "tables",
        "meta",
        "tags",
        "config",
        "loader",
        "loaded_at_field",
        "loaded_at_query",
        "freshness",
    ],
    ignored: &["overrides", "quoting", "project", "dataset"],
};

const SOURCE_TABLE_KEYS: KeySet = KeySet {
    what: "a source table entry",
    known: &[
        "name",
        "description",
        "identifier",
        "columns",
        "data_tests",
        "tests",
        "meta",
        "tags",
        "config",
        "loaded_at_field",
        "loaded_at_query",
        "freshness",
    ],
    ignored: &["external", "quoting", "loader"],
};

/// A column's documented properties.
#[derive(Clone, Debug)]
pub struct ColumnProps {
    pub name: String,
    pub span: Span,
    pub description: String,
    pub data_type: Option<String>,
    pub tests: Vec<TestDef>,
    pub meta: Json,
    pub tags: Vec<String>,
    /// `quote: true`: the name is quoted in a contract's DDL.
    pub quote: bool,
    /// Its `constraints:` (dbt's column-level constraints).
    pub constraints: Vec<super::contracts::Constraint>,
    /// The doc blocks its description uses (set when descriptions are rendered).
    pub doc_blocks: Vec<String>,
}

/// One entry of a `data_tests:` list: `- unique`, `- accepted_values: {values: [..]}`.
#[derive(Clone, Debug)]
pub struct TestDef {
    /// The test's macro name, maybe namespaced (`dbt_utils.expression_is_true`).
    pub test_name: String,
    pub span: Span,
    /// An explicit `name:` for the test node.
    pub custom_name: Option<String>,
    pub args: BTreeMap<String, (Json, Span)>,
    pub config: Config,
}

/// Properties of a model or seed.
#[derive(Clone, Debug)]
pub struct NodeProps {
    pub name: String,
    pub span: Span,
    pub file: Arc<SourceFile>,
    pub description: String,
    pub columns: Vec<ColumnProps>,
    pub tests: Vec<TestDef>,
    pub config: Config,
    /// A YAML snapshot's `relation:` (`ref('x')`), with where it is written.
    pub relation: Option<(String, Span)>,
    /// A model's `versions:` and `latest_version` (empty for an unversioned one).
    pub versions: super::versions::Versions,
    /// A model's model-level `constraints:`.
    pub constraints: Vec<super::contracts::Constraint>,
}

#[derive(Clone, Debug)]
pub struct SourceTable {
    pub name: String,
    pub span: Span,
    pub identifier: String,
    pub description: String,
    pub columns: Vec<ColumnProps>,
    pub tests: Vec<TestDef>,
    pub meta: Json,
    pub tags: Vec<String>,
    /// Its freshness rule, merged over its source's.
    pub freshness: TableFreshness,
    /// `config: {enabled: ...}` of the table, else of its source (default true):
    /// a disabled table is no node, and its tests none either, as in dbt.
    pub enabled: bool,
}

#[derive(Clone, Debug)]
pub struct SourceDef {
    pub name: String,
    pub span: Span,
    pub file: Arc<SourceFile>,
    pub description: String,
    pub database: Option<String>,
    pub schema: Option<String>,
    pub loader: String,
    pub tables: Vec<SourceTable>,
    pub meta: Json,
    pub tags: Vec<String>,
}

/// A metric-accuracy assertion (`assertions:` in a properties file).
#[derive(Clone, Debug)]
pub struct AssertionDef {
    pub name: String,
    pub span: Span,
    pub file: Arc<SourceFile>,
    pub description: String,
    /// The model it checks (`fct_arr` or `ref('fct_arr')`), and where that is written.
    pub model: Option<(String, Span)>,
    pub kind: String,
    pub kind_span: Span,
    /// The kind's arguments: every key besides name, description, model, kind, config.
    pub args: BTreeMap<String, (Json, Span)>,
    pub config: Config,
}

const UNIT_TEST_KEYS: KeySet = KeySet {
    what: "a unit test",
    known: &[
        "name",
        "description",
        "model",
        "given",
        "expect",
        "overrides",
        "config",
        "tolerance",
    ],
    ignored: &["versions"],
};

/// How rows are written in a unit test: YAML mappings, inline CSV, or a SELECT.
#[derive(Clone, Debug)]
pub enum Rows {
    Dict(Vec<serde_json::Map<String, Json>>),
    Csv(String),
    Sql(String),
}

/// Rows plus where they are written.
#[derive(Clone, Debug)]
pub struct RowsDef {
    pub rows: Rows,
    pub span: Span,
    /// As written, for manifest.json.
    pub raw: Json,
    pub format: &'static str,
    /// The fixture file the rows were read from (`fixture:`), if any.
    pub fixture: Option<String>,
}

/// One `given:` input: `ref('x')` or `source('s', 't')`.
#[derive(Clone, Debug)]
pub struct GivenDef {
    pub input: String,
    pub input_span: Span,
    pub rows: RowsDef,
}

/// A unit test (dbt 1.8's `unit_tests:`).
#[derive(Clone, Debug)]
pub struct UnitTestDef {
    pub name: String,
    pub span: Span,
    pub file: Arc<SourceFile>,
    pub description: String,
    pub model: String,
    pub model_span: Span,
    pub given: Vec<GivenDef>,
    pub expect: RowsDef,
    pub ordered: bool,
    pub tolerance: Option<f64>,
    pub vars: BTreeMap<String, Json>,
    pub macros: BTreeMap<String, Json>,
    pub env_vars: BTreeMap<String, Json>,
    pub config: Config,
}

fn rows_def(
    node: &Node,
    what: &str,
    extra_keys: &[&str],
    fixtures: &super::unit_fixtures::FixtureFiles,
    warnings: &mut Vec<Diagnostic>,
) -> Result<RowsDef, Diagnostic> {
    let map = node.expect_map(what)?;
    let mut known = vec!["rows", "format", "fixture"];
    known.extend_from_slice(extra_keys);
    KeySet {
        what,
        known: &known,
        ignored: &[],
    }
    .check(map, warnings)?;
    let format =
        match map.get("format") {
            None => "dict",
            Some(f) => match f.expect_str("`format`")? {
                "dict" => "dict",
                "csv" => "csv",
                "sql" => "sql",
                other => return Err(Diagnostic::error(format!("unknown rows format `{other}`"))
                    .with_label(&f.span, "unknown format")
                    .with_help(
                        "use `format: dict` (YAML rows), `csv` (inline CSV) or `sql` (a SELECT)",
                    )),
            },
        };
    if let Some(fixture) = map.get("fixture") {
        let name = fixture.expect_str("`fixture`")?;
        if let Some(rows) = map.get("rows") {
            return Err(
                Diagnostic::error(format!("{what} has both `rows` and `fixture`"))
                    .with_label(&rows.span, "rows here")
                    .with_label(&fixture.span, "and a fixture file here")
                    .with_help("keep one of them"),
            );
        }
        if format == "dict" {
            return Err(
                Diagnostic::error("a fixture file needs `format: csv` or `format: sql`")
                    .with_label(&fixture.span, "this fixture")
                    .with_help(
                        "add `format: csv` (a .csv fixture) or `format: sql` (a .sql fixture)",
                    ),
            );
        }
        let file = fixtures.get(name, format, &fixture.span)?;
        let text = file.text.clone();
        return Ok(RowsDef {
            rows: if format == "csv" {
                Rows::Csv(text)
            } else {
                Rows::Sql(text)
            },
            span: Span::new(file, 0, file.text.len()),
            raw: Json::Null,
            format,
            fixture: Some(name.to_owned()),
        });
    }
    let rows_node = map.get("rows").ok_or_else(|| {
        Diagnostic::error(format!("{what} has no `rows`"))
            .with_label(&node.span, "here")
            .with_help("add `rows:` (an empty list `[]` for no rows)")
    })?;
    let rows = match format {
        "dict" => {
            let mut out = Vec::new();
            if !rows_node.is_null() {
                for r in rows_node.expect_seq("`rows`")? {
                    match r.expect_map("a row")?.to_json() {
                        Json::Object(m) => out.push(m),
                        _ => unreachable!("expect_map checked the node is a mapping"),
                    }
                }
            }
            Rows::Dict(out)
        }
        "csv" => Rows::Csv(rows_node.expect_str("`rows` (CSV text)")?.to_owned()),
        _ => Rows::Sql(rows_node.expect_str("`rows` (a SELECT)")?.to_owned()),
    };
    Ok(RowsDef {
        rows,
        span: rows_node.span.clone(),
        raw: rows_node.to_json(),
        format,
        fixture: None,
    })
}

fn unit_test_def(
    entry: &Node,
    file: &Arc<SourceFile>,
    fixtures: &super::unit_fixtures::FixtureFiles,
    warnings: &mut Vec<Diagnostic>,
) -> Result<UnitTestDef, Diagnostic> {
    let entry = entry.expect_map("a unit test")?;
    UNIT_TEST_KEYS.check(entry, warnings)?;
    let (name, span) = name_of(entry, "unit test")?;
    let model_node = entry.get("model").ok_or_else(|| {
        Diagnostic::error(format!("unit test `{name}` has no `model`"))
            .with_label(span, "this unit test")
            .with_help("add `model: <the model under test>`")
    })?;
    let mut given = Vec::new();
    if let Some(list) = entry.get("given").filter(|n| !n.is_null()) {
        for g in list.expect_seq("`given`")? {
            let input_node = g.expect_map("a given input")?.get("input").ok_or_else(|| {
                Diagnostic::error("a given input has no `input`")
                    .with_label(&g.span, "here")
                    .with_help("write `input: ref('model')` or `input: source('source', 'table')`")
            })?;
            given.push(GivenDef {
                input: input_node.expect_str("`input`")?.trim().to_owned(),
                input_span: input_node.span.clone(),
                rows: rows_def(g, "a given input", &["input"], fixtures, warnings)?,
            });
        }
    }
    let expect_node = entry.get("expect").ok_or_else(|| {
        Diagnostic::error(format!("unit test `{name}` has no `expect`"))
            .with_label(span, "this unit test")
            .with_help("add `expect: {rows: [...]}` with the rows the model must return")
    })?;
    let expect = rows_def(expect_node, "`expect`", &["ordered"], fixtures, warnings)?;
    let ordered = expect_node
        .get("ordered")
        .map(|o| o.expect_bool("`ordered`"))
        .transpose()?
        .unwrap_or(false);
    let tolerance = match entry.get("tolerance") {
        Some(t) => match t.value {
            super::yaml::Value::Int(i) => Some(i as f64),
            super::yaml::Value::Float(f) => Some(f),
            _ => {
                return Err(Diagnostic::error("`tolerance` must be a number")
                    .with_label(&t.span, "expected a number"))
            }
        },
        None => None,
    };
    let mut vars = BTreeMap::new();
    let mut macros = BTreeMap::new();
    let mut env_vars = BTreeMap::new();
    if let Some(o) = entry.get("overrides").filter(|n| !n.is_null()) {
        let o = o.expect_map("`overrides`")?;
        KeySet {
            what: "`overrides`",
            known: &["vars", "macros", "env_vars"],
            ignored: &[],
        }
        .check(o, warnings)?;
        for (key, target) in [
            ("vars", &mut vars),
            ("macros", &mut macros),
            ("env_vars", &mut env_vars),
        ] {
            if let Some(m) = o.get(key).filter(|n| !n.is_null()) {
                for (k, _, v) in m.expect_map(&format!("`{key}`"))?.entries() {
                    target.insert(k.to_owned(), v.to_json());
                }
            }
        }
    }
    Ok(UnitTestDef {
        name: name.to_owned(),
        span: span.clone(),
        file: Arc::clone(file),
        description: string_field(entry, "description")?,
        model: model_node.expect_str("`model`")?.to_owned(),
        model_span: model_node.span.clone(),
        given,
        expect,
        ordered,
        tolerance,
        vars,
        macros,
        env_vars,
        config: config_block(entry, warnings)?,
    })
}

#[derive(Debug, Default)]
pub struct Properties {
    /// Documents with semantic-layer definitions (`semantic_models:`, `metrics:`,
    /// `dashboards:`), read by the `semantic` module.
    pub semantic_docs: Vec<(Arc<SourceFile>, Node)>,
    pub models: BTreeMap<String, NodeProps>,
    pub seeds: BTreeMap<String, NodeProps>,
    pub snapshots: BTreeMap<String, NodeProps>,
    pub sources: Vec<SourceDef>,
    pub assertions: Vec<AssertionDef>,
    pub unit_tests: Vec<UnitTestDef>,
    /// Model files that are versions of a model: file name → (model name, index
    /// in its `versions:`), set once the model files are known.
    pub versioned_files: HashMap<String, (String, usize)>,
    /// `exposures:` entries, enabled or not, in file order.
    pub exposures: Vec<super::exposures::ExposureDef>,
    /// `groups:` entries, in file order.
    pub groups: Vec<super::exposures::GroupDef>,
    /// The project's unit-test fixture files, which `fixture:` names.
    pub fixtures: super::unit_fixtures::FixtureFiles,
}

impl Properties {
    /// The model and version a model file (by name) defines, if it is a version.
    pub fn version_of(&self, file_name: &str) -> Option<super::versions::VersionOf<'_>> {
        let (model, i) = self.versioned_files.get(file_name)?;
        let props = self.models.get(model)?;
        Some(super::versions::VersionOf {
            props,
            version: props.versions.list.get(*i)?,
        })
    }

    /// The properties of an unversioned model file (by name).
    pub fn unversioned_model(&self, file_name: &str) -> Option<&NodeProps> {
        if self.versioned_files.contains_key(file_name) {
            return None;
        }
        self.models.get(file_name).filter(|p| p.versions.is_empty())
    }
}

fn assertion_def(
    entry: &Node,
    file: &Arc<SourceFile>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<AssertionDef, Diagnostic> {
    let entry = entry.expect_map("an assertion")?;
    let (name, span) = name_of(entry, "assertion")?;
    let kind_node = entry.get("kind").ok_or_else(|| {
        Diagnostic::error(format!("assertion `{name}` has no `kind`"))
            .with_label(span, "this assertion")
            .with_help("add e.g. `kind: expression_is_true`")
    })?;
    let kind = kind_node.expect_str("`kind`")?.to_owned();
    let model = match entry.get("model") {
        Some(m) => {
            let text = m.expect_str("`model`")?.trim();
            // `ref('x')` and plain `x` both name model x.
            let bare = text
                .strip_prefix("ref(")
                .and_then(|r| r.strip_suffix(')'))
                .map(|r| r.trim().trim_matches(|c| c == '\'' || c == '"'))
                .unwrap_or(text);
            Some((bare.to_owned(), m.span.clone()))
        }
        None => None,
    };
    let config = config_block(entry, warnings)?;
    let mut args = BTreeMap::new();
    for (k, _, v) in entry.entries() {
        if !matches!(
            k,
            "name" | "description" | "model" | "kind" | "config" | "tags" | "meta"
        ) {
            args.insert(k.to_owned(), (v.to_json(), v.span.clone()));
        }
    }
    Ok(AssertionDef {
        name: name.to_owned(),
        span: span.clone(),
        file: Arc::clone(file),
        description: string_field(entry, "description")?,
        model,
        kind,
        kind_span: kind_node.span.clone(),
        args,
        config,
    })
}

/// A text field (`description`, `loader`): a string, as dbt requires ("3 is not
/// of type 'string'"); absent or null is empty.
pub(super) fn string_field(map: &Node, key: &str) -> Result<String, Diagnostic> {
    map.get(key)
        .filter(|n| !n.is_null())
        .map(|n| n.expect_str(&format!("`{key}`")).map(str::to_owned))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// A `meta` field: a mapping, as dbt requires ("3 is not of type 'object'");
/// absent or null is empty.
fn meta_field(map: &Node) -> Result<Json, Diagnostic> {
    match map.get("meta").filter(|n| !n.is_null()) {
        Some(m) => Ok(m.expect_map("`meta`")?.to_json()),
        None => Ok(Json::Object(Default::default())),
    }
}

pub(super) fn name_of<'a>(entry: &'a Node, what: &str) -> Result<(&'a str, &'a Span), Diagnostic> {
    let node = entry.get("name").ok_or_else(|| {
        Diagnostic::error(format!("{what} has no `name`"))
            .with_label(&entry.span, format!("this {what}"))
            .with_help("add `name: <name>` to the entry")
    })?;
    let name = node.expect_str("`name`")?;
    // Columns and sources name warehouse objects, which quoting lets hold any
    // character; the other entries name nodes, whose names become file names.
    if !matches!(what, "column" | "source" | "source table") {
        check_node_name(name, &node.span, what)?;
    }
    Ok((name, &node.span))
}

/// A node's name from YAML becomes part of a file name under the target path
/// (`compiled/.../<name>.sql`): no path separator, no `..`, no NUL, not empty.
pub fn check_node_name(name: &str, span: &Span, what: &str) -> Result<(), Diagnostic> {
    let bad = if name.trim().is_empty() {
        Some("is empty")
    } else if name.contains(['/', '\\']) {
        Some("contains a path separator")
    } else if name.contains("..") {
        Some("contains `..`")
    } else if name.contains('\0') {
        Some("contains a NUL character")
    } else {
        None
    };
    match bad {
        None => Ok(()),
        Some(why) => Err(Diagnostic::error(format!(
            "the name of this {what}, `{}`, {why}",
            name.escape_debug()
        ))
        .with_label(span, "not a valid name")
        .with_help(
            "a name becomes a file name under the target path: use letters, digits and \
             underscores, e.g. `test_orders_total`",
        )),
    }
}

pub(super) fn config_block(
    map: &Node,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Config, Diagnostic> {
    let mut config = Config::default();
    if let Some(c) = map.get("config").filter(|n| !n.is_null()) {
        for (k, key_node, v) in c.expect_map("`config`")?.entries() {
            check_key(k, &key_node.span, warnings)?;
            check_value(k, &v.to_json(), &v.span)?;
            config.set(k, v.to_json(), Some(v.span.clone()));
        }
    }
    // dbt also accepts `tags`, `meta` (and a model's `access` and `group`)
    // beside `config`.
    for key in ["tags", "meta", "docs", "access", "group"] {
        if let Some(v) = map.get(key) {
            check_value(key, &v.to_json(), &v.span)?;
            config.set(key, v.to_json(), Some(v.span.clone()));
        }
    }
    Ok(config)
}

pub(super) fn tests_of(
    map: &Node,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Vec<TestDef>, Diagnostic> {
    let list = match (map.get("data_tests"), map.get("tests")) {
        (Some(a), Some(_)) => {
            return Err(Diagnostic::error("both `data_tests` and `tests` are set")
                .with_label(&a.span, "`data_tests` here")
                .with_help("`tests` is the old name of `data_tests`: keep one"))
        }
        (Some(n), None) | (None, Some(n)) => n,
        (None, None) => return Ok(Vec::new()),
    };
    if list.is_null() {
        return Ok(Vec::new());
    }
    list.expect_seq("`data_tests`")?
        .iter()
        .map(|t| test_def(t, warnings))
        .collect()
}

fn test_def(node: &Node, warnings: &mut Vec<Diagnostic>) -> Result<TestDef, Diagnostic> {
    if let Some(name) = node.as_str() {
        return Ok(TestDef {
            test_name: name.to_owned(),
            span: node.span.clone(),
            custom_name: None,
            args: BTreeMap::new(),
            config: Config::default(),
        });
    }
    let map = node.expect_map("a data test")?;
    let mut entries = map.entries();
    let (test_name, key, body) = match (entries.next(), entries.next()) {
        (Some(one), None) => one,
        _ => {
            return Err(Diagnostic::error(
                "a data test must be a name or a mapping with one key (the test's name)",
            )
            .with_label(&node.span, "this test")
            .with_help("write e.g. `- accepted_values: {values: [a, b]}`"))
        }
    };
    let mut def = TestDef {
        test_name: test_name.to_owned(),
        span: key.span.clone(),
        custom_name: None,
        args: BTreeMap::new(),
        config: Config::default(),
    };
    if body.is_null() {
        return Ok(def);
    }
    for (k, key_node, v) in body.expect_map(&format!("test `{test_name}`"))?.entries() {
        match k {
            "config" => {
                for (ck, ck_node, cv) in v.expect_map("`config`")?.entries() {
                    check_key(ck, &ck_node.span, warnings)?;
                    check_value(ck, &cv.to_json(), &cv.span)?;
                    def.config.set(ck, cv.to_json(), Some(cv.span.clone()));
                }
            }
            "arguments" => {
                for (ak, _, av) in v.expect_map("`arguments`")?.entries() {
                    def.args
                        .insert(ak.to_owned(), (av.to_json(), av.span.clone()));
                }
            }
            "name" => {
                let name = v.expect_str("`name`")?;
                check_node_name(name, &v.span, "data test")?;
                def.custom_name = Some(name.to_owned());
            }
            "description" => {}
            // Before dbt 1.10, config keys sat beside the arguments.
            "severity" | "where" | "limit" | "warn_if" | "error_if" | "tags" | "meta"
            | "enabled" | "store_failures" | "store_failures_as" | "fail_calc" | "alias"
            | "schema" | "database" => {
                check_key(k, &key_node.span, warnings)?;
                check_value(k, &v.to_json(), &v.span)?;
                def.config.set(k, v.to_json(), Some(v.span.clone()));
            }
            _ => {
                def.args.insert(k.to_owned(), (v.to_json(), v.span.clone()));
            }
        }
    }
    Ok(def)
}

pub(super) fn columns_of(
    map: &Node,
    owner: &str,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Vec<ColumnProps>, Diagnostic> {
    let Some(cols) = map.get("columns").filter(|n| !n.is_null()) else {
        return Ok(Vec::new());
    };
    column_list(cols.expect_seq("`columns`")?, owner, warnings)
}

/// The entries of a `columns:` list; `owner`: the model (or source) they belong to.
pub(super) fn column_list(
    cols: &[Node],
    owner: &str,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Vec<ColumnProps>, Diagnostic> {
    let mut out = Vec::new();
    for c in cols {
        let c = c.expect_map("a column")?;
        COLUMN_KEYS.check(c, warnings)?;
        let (name, span) = name_of(c, "column")?;
        let data_type = c
            .get("data_type")
            .filter(|n| !n.is_null())
            .map(|n| n.expect_str("`data_type`").map(str::to_owned))
            .transpose()?;
        out.push(ColumnProps {
            name: name.to_owned(),
            span: span.clone(),
            description: string_field(c, "description")?,
            data_type,
            tests: tests_of(c, warnings)?,
            meta: meta_field(c)?,
            tags: c
                .get("tags")
                .map(|t| t.expect_str_list("`tags`"))
                .transpose()?
                .unwrap_or_default(),
            quote: c
                .get("quote")
                .filter(|n| !n.is_null())
                .map(|q| q.expect_bool("`quote`"))
                .transpose()?
                .unwrap_or(false),
            constraints: super::contracts::read_constraints(
                c.get("constraints"),
                &format!("column {name}"),
                owner,
                false,
                warnings,
            )?,
            doc_blocks: Vec::new(),
        });
    }
    Ok(out)
}

fn node_props(
    entry: &Node,
    file: &Arc<SourceFile>,
    snapshot: bool,
    warnings: &mut Vec<Diagnostic>,
) -> Result<NodeProps, Diagnostic> {
    let entry = entry.expect_map("an entry")?;
    let relation = if snapshot {
        SNAPSHOT_KEYS.check(entry, warnings)?;
        entry
            .get("relation")
            .map(|n| {
                n.expect_str("`relation`")
                    .map(|r| (r.to_owned(), n.span.clone()))
            })
            .transpose()?
    } else {
        NODE_KEYS.check(entry, warnings)?;
        None
    };
    let (name, span) = name_of(entry, "entry")?;
    let versions = if snapshot {
        super::versions::Versions::default()
    } else {
        super::versions::Versions::read(entry, name, warnings)?
    };
    Ok(NodeProps {
        versions,
        relation,
        name: name.to_owned(),
        span: span.clone(),
        file: Arc::clone(file),
        description: string_field(entry, "description")?,
        columns: columns_of(entry, name, warnings)?,
        tests: tests_of(entry, warnings)?,
        config: config_block(entry, warnings)?,
        constraints: super::contracts::read_constraints(
            entry.get("constraints"),
            &format!("model {name}"),
            name,
            true,
            warnings,
        )?,
    })
}

/// A source's or source table's `config: {enabled: ...}` (Fivetran's packages
/// write `enabled: "{{ var('using_x', True) }}"`, rendered to a boolean at parse).
fn config_enabled(map: &Node) -> Result<Option<bool>, Diagnostic> {
    map.get("config")
        .filter(|n| !n.is_null())
        .map(|c| c.expect_map("`config`"))
        .transpose()?
        .and_then(|c| c.get("enabled"))
        .filter(|n| !n.is_null())
        .map(|n| n.expect_bool("`enabled`"))
        .transpose()
}

fn source_def(
    entry: &Node,
    file: &Arc<SourceFile>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<SourceDef, Diagnostic> {
    let entry = entry.expect_map("a source")?;
    SOURCE_KEYS.check(entry, warnings)?;
    let (name, span) = name_of(entry, "source")?;
    let source_freshness = Declared::read(entry, "source")?;
    let source_enabled = config_enabled(entry)?;
    let mut tables = Vec::new();
    if let Some(ts) = entry.get("tables").filter(|n| !n.is_null()) {
        for t in ts.expect_seq("`tables`")? {
            let t = t.expect_map("a source table")?;
            SOURCE_TABLE_KEYS.check(t, warnings)?;
            let (tname, tspan) = name_of(t, "source table")?;
            let identifier = match t.get("identifier") {
                Some(i) => i.expect_str("`identifier`")?.to_owned(),
                None => tname.to_owned(),
            };
            tables.push(SourceTable {
                name: tname.to_owned(),
                span: tspan.clone(),
                identifier,
                description: string_field(t, "description")?,
                columns: columns_of(t, tname, warnings)?,
                tests: tests_of(t, warnings)?,
                meta: meta_field(t)?,
                tags: t
                    .get("tags")
                    .map(|x| x.expect_str_list("`tags`"))
                    .transpose()?
                    .unwrap_or_default(),
                freshness: TableFreshness::merge(
                    &source_freshness,
                    &Declared::read(t, "table")?,
                    tspan,
                ),
                enabled: config_enabled(t)?.or(source_enabled).unwrap_or(true),
            });
        }
    }
    let opt = |key: &str| -> Result<Option<String>, Diagnostic> {
        entry
            .get(key)
            .filter(|n| !n.is_null())
            .map(|n| n.expect_str(&format!("`{key}`")).map(str::to_owned))
            .transpose()
    };
    Ok(SourceDef {
        name: name.to_owned(),
        span: span.clone(),
        file: Arc::clone(file),
        description: string_field(entry, "description")?,
        database: opt("database")?,
        schema: opt("schema")?,
        loader: string_field(entry, "loader")?,
        tables,
        meta: meta_field(entry)?,
        tags: entry
            .get("tags")
            .map(|x| x.expect_str_list("`tags`"))
            .transpose()?
            .unwrap_or_default(),
    })
}

fn insert_unique(
    map: &mut BTreeMap<String, NodeProps>,
    props: NodeProps,
    what: &str,
) -> Result<(), Diagnostic> {
    if let Some(prev) = map.get(&props.name) {
        return Err(
            Diagnostic::error(format!("{what} `{}` is described twice", props.name))
                .with_label(&props.span, "described again here")
                .with_label(&prev.span, "first described here")
                .with_help("merge the two entries into one"),
        );
    }
    map.insert(props.name.clone(), props);
    Ok(())
}

impl Properties {
    /// Add one parsed properties file to the collection.
    pub fn add_document(
        &mut self,
        file: &Arc<SourceFile>,
        doc: &Node,
        warnings: &mut Vec<Diagnostic>,
    ) -> Result<(), Diagnostic> {
        let doc = doc.expect_map("a properties file")?;
        FILE_KEYS.check(doc, warnings)?;
        if ["semantic_models", "metrics", "dashboards"]
            .iter()
            .any(|k| doc.get(k).is_some())
        {
            self.semantic_docs.push((Arc::clone(file), doc.clone()));
        }
        for key in ["models", "seeds", "snapshots"] {
            let Some(entries) = doc.get(key).filter(|n| !n.is_null()) else {
                continue;
            };
            for entry in entries.expect_seq(&format!("`{key}`"))? {
                let props = node_props(entry, file, key == "snapshots", warnings)?;
                match key {
                    "models" => insert_unique(&mut self.models, props, "model")?,
                    "seeds" => insert_unique(&mut self.seeds, props, "seed")?,
                    _ => insert_unique(&mut self.snapshots, props, "snapshot")?,
                }
            }
        }
        if let Some(list) = doc.get("unit_tests").filter(|n| !n.is_null()) {
            for entry in list.expect_seq("`unit_tests`")? {
                let def = unit_test_def(entry, file, &self.fixtures, warnings)?;
                if let Some(prev) = self
                    .unit_tests
                    .iter()
                    .find(|u| u.name == def.name && u.model == def.model)
                {
                    return Err(Diagnostic::error(format!(
                        "unit test `{}` of model `{}` is defined twice",
                        def.name, def.model
                    ))
                    .with_label(&def.span, "defined again here")
                    .with_label(&prev.span, "first defined here"));
                }
                self.unit_tests.push(def);
            }
        }
        if let Some(list) = doc.get("assertions").filter(|n| !n.is_null()) {
            for entry in list.expect_seq("`assertions`")? {
                let def = assertion_def(entry, file, warnings)?;
                if let Some(prev) = self.assertions.iter().find(|a| a.name == def.name) {
                    return Err(defined_twice("assertion", &def.name, &def.span, &prev.span)
                        .with_help("assertion names are unique across the project"));
                }
                self.assertions.push(def);
            }
        }
        if let Some(list) = doc.get("exposures").filter(|n| !n.is_null()) {
            for entry in list.expect_seq("`exposures`")? {
                let def = super::exposures::exposure_def(entry, file, warnings)?;
                if let Some(prev) = self.exposures.iter().find(|e| e.name == def.name) {
                    return Err(super::exposures::defined_twice(
                        "exposure",
                        &def.name,
                        &def.at.span,
                        &prev.at.span,
                    ));
                }
                self.exposures.push(def);
            }
        }
        if let Some(list) = doc.get("groups").filter(|n| !n.is_null()) {
            for entry in list.expect_seq("`groups`")? {
                let def = super::exposures::group_def(entry, file, warnings)?;
                if let Some(prev) = self.groups.iter().find(|g| g.name == def.name) {
                    return Err(super::exposures::defined_twice(
                        "group",
                        &def.name,
                        &def.at.span,
                        &prev.at.span,
                    ));
                }
                self.groups.push(def);
            }
        }
        if let Some(sources) = doc.get("sources").filter(|n| !n.is_null()) {
            for entry in sources.expect_seq("`sources`")? {
                let def = source_def(entry, file, warnings)?;
                if let Some(prev) = self.sources.iter().find(|s| s.name == def.name) {
                    return Err(defined_twice("source", &def.name, &def.span, &prev.span));
                }
                self.sources.push(def);
            }
        }
        Ok(())
    }
}
