//! Generic data tests declared in YAML (`data_tests: [unique, not_null, ...]`) as
//! graph nodes, named exactly as dbt names them so tools that read `manifest.json`
//! find the ids they expect.

use std::sync::{Arc, LazyLock};

use md5::{Digest, Md5};
use serde_json::Value as Json;

use crate::diagnostics::{suggestion_help, Diagnostic, SourceFile};
use crate::project::config::check_key;
use crate::project::project_yml::tree_config;
use crate::project::{ColumnProps, Materialization, Project, SqlCheck, TestDef};
use crate::render::parse::{
    ref_key, Dependency, DependencyTarget, GenericTest, ParsedNode, ResourceType,
};
use crate::render::Renderer;

/// Keys of a test entry that configure it rather than feed its macro.
const CONFIG_ARGS: &[&str] = &[
    "severity",
    "tags",
    "enabled",
    "where",
    "limit",
    "warn_if",
    "error_if",
    "fail_calc",
    "store_failures",
    "store_failures_as",
    "meta",
    "database",
    "schema",
    "alias",
    "config",
    "name",
    "description",
];

/// Python's `str()` of a JSON value, as dbt applies it to test arguments.
fn python_str(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => python_repr(other),
    }
}

/// Python's `repr()` of a JSON value (dicts and lists as Python prints them).
fn python_repr(v: &Json) -> String {
    match v {
        Json::Null => "None".to_owned(),
        Json::Bool(true) => "True".to_owned(),
        Json::Bool(false) => "False".to_owned(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => python_repr_str(s),
        Json::Array(items) => format!(
            "[{}]",
            items.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Json::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", python_repr_str(k), python_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn python_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// dbt's normalisation before hashing: sorted dicts, every leaf a string.
fn normalise(v: &Json) -> Json {
    match v {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Json::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), normalise(&map[k])))
                    .collect(),
            )
        }
        Json::Array(items) => Json::Array(items.iter().map(normalise).collect()),
        leaf => Json::String(python_str(leaf)),
    }
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// dbt's `synthesize_generic_test_names`: (full name, short name).
pub fn test_names(test_type: &str, target: &str, args: &[(String, Json)]) -> (String, String) {
    let mut sorted: Vec<&(String, Json)> = args
        .iter()
        .filter(|(k, _)| k != "model" && !CONFIG_ARGS.contains(&k.as_str()))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut flat = Vec::new();
    for (_, v) in sorted {
        match v {
            Json::Object(map) => flat.extend(map.values().map(python_str)),
            Json::Array(items) => flat.extend(items.iter().map(python_str)),
            other => flat.push(python_str(other)),
        }
    }
    let clean: Vec<String> = flat
        .iter()
        .map(|a| {
            let mut out = String::new();
            let mut in_run = false;
            for c in a.chars() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    out.push(c);
                    in_run = false;
                } else if !in_run {
                    out.push('_');
                    in_run = true;
                }
            }
            out
        })
        .collect();
    let full = format!("{test_type}_{target}_{}", clean.join("__"));
    if full.len() >= 64 {
        let prefix: String = format!("{test_type}_{target}").chars().take(30).collect();
        let short = format!("{prefix}_{}", md5_hex(&full));
        (full, short)
    } else {
        (full.clone(), full)
    }
}

/// The 10-character hash at the end of a generic test's unique_id.
pub fn test_hash(
    name: &str,
    test_name: &str,
    namespace: Option<&str>,
    kwargs: &[(String, Json)],
) -> String {
    let kwargs_obj: serde_json::Map<String, Json> = kwargs.iter().cloned().collect();
    let metadata = serde_json::json!({
        "kwargs": Json::Object(kwargs_obj),
        "name": test_name,
        "namespace": namespace,
    });
    let hex = md5_hex(&format!("{name}{}", python_repr(&normalise(&metadata))));
    hex[hex.len() - 10..].to_owned()
}

/// A test's config: project.yml's `data_tests:` tree under its fqn, then its own
/// `config:`, every key checked (unknown keys are errors at `span` or where set).
pub fn test_config(
    project: &Project,
    fqn: &[String],
    own: &crate::project::Config,
    span: &crate::diagnostics::Span,
    warnings: &mut Vec<Diagnostic>,
) -> Result<crate::project::Config, Diagnostic> {
    let mut config = tree_config(project.file.tests_tree.as_ref(), fqn);
    config.merge(own);
    for key in config.keys().map(str::to_owned).collect::<Vec<_>>() {
        let at = config.span(&key).cloned().unwrap_or_else(|| span.clone());
        check_key(&key, &at, warnings)?;
    }
    Ok(config)
}

/// Build the node for one test entry of a model, seed or source.
pub fn build_test_node(
    project: &Project,
    renderer: &Renderer,
    attached: &ParsedNode,
    yaml_file: &Arc<SourceFile>,
    column: Option<&ColumnProps>,
    def: &TestDef,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Option<ParsedNode>, Diagnostic> {
    let (namespace, bare) = match def.test_name.split_once('.') {
        Some((ns, n)) => (Some(ns.to_owned()), n.to_owned()),
        None => (None, def.test_name.clone()),
    };
    if renderer
        .test_macro_for(&def.test_name, project.name())
        .is_none()
    {
        let candidates: Vec<String> = renderer
            .macro_names()
            .into_iter()
            .filter_map(|n| n.strip_prefix("test_").map(str::to_owned))
            .collect();
        let owners = renderer.packages_with_test(&bare);
        let help = match owners.first() {
            // dbt-core only fails this at run time ("'test_x' is undefined").
            Some(pkg) if namespace.is_none() => format!(
                "`{bare}` is a test of package `{pkg}`, and another package's tests are called with its name: write `{pkg}.{bare}`"
            ),
            _ => suggestion_help(&bare, candidates.iter().map(String::as_str), || {
                "define it with `{% test name(model, column_name) %}` under macro-paths".to_owned()
            }),
        };
        return Err(
            Diagnostic::error(format!("unknown data test `{}`", def.test_name))
                .with_label(&def.span, "no test macro with this name")
                .with_help(help),
        );
    }
    let is_source = attached.resource_type == ResourceType::Source;
    let (target, model_expr) = match &attached.source_name {
        Some(src) if is_source => (
            format!("{src}_{}", attached.name),
            format!("source('{src}', '{}')", attached.name),
        ),
        // A version of a model: dbt names the test after `<name>_v<version>`
        // and pins the ref.
        _ => match &attached.version {
            Some(v) => (
                format!("{}_v{}", attached.name, v.text),
                format!("ref('{}', version='{}')", attached.name, v.text),
            ),
            None => (attached.name.clone(), format!("ref('{}')", attached.name)),
        },
    };
    let mut args: Vec<(String, Json)> = def
        .args
        .iter()
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect();
    if let Some(c) = column {
        args.push(("column_name".to_owned(), Json::String(c.name.clone())));
    }
    let mut test_type = bare.clone();
    if is_source {
        test_type = format!("source_{test_type}");
    }
    if let Some(ns) = &namespace {
        test_type = format!("{ns}_{test_type}");
    }
    let (full, short) = match &def.custom_name {
        Some(custom) => (custom.clone(), custom.clone()),
        None => test_names(&test_type, &target, &args),
    };
    let mut kwargs = args.clone();
    kwargs.push((
        "model".to_owned(),
        Json::String(format!("{{{{ get_where_subquery({model_expr}) }}}}")),
    ));
    kwargs.sort_by(|a, b| a.0.cmp(&b.0));
    let hash = test_hash(&full, &bare, namespace.as_deref(), &kwargs);

    // fqn: project, the YAML file's folders under its resource path, the name.
    let mut fqn = vec![project.name().to_owned()];
    let own_path = project.own_path(&yaml_file.path);
    if let Some(parent) = own_path.parent() {
        fqn.extend(
            parent
                .components()
                .skip(1)
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        );
    }
    fqn.push(full.clone());
    let config = test_config(project, &fqn, &def.config, &def.span, warnings)?;
    if !config.enabled() {
        return Ok(None);
    }
    if let Some(sev) = config.get("severity") {
        let ok = sev
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("warn") || s.eq_ignore_ascii_case("error"));
        if !ok {
            let span = config
                .span("severity")
                .cloned()
                .unwrap_or_else(|| def.span.clone());
            return Err(Diagnostic::error(format!(
                "`severity` must be warn or error, found {sev}"
            ))
            .with_label(&span, "invalid severity")
            .with_help("use `severity: warn` to report failures without failing the run"));
        }
    }

    let mut depends_on = vec![Dependency {
        target: match &attached.source_name {
            Some(src) if is_source => DependencyTarget::Source(src.clone(), attached.name.clone()),
            _ => DependencyTarget::Ref(ref_key(
                &attached.name,
                attached.version.as_ref().map(|v| v.text.as_str()),
            )),
        },
        span: def.span.clone(),
    }];
    for (v, span) in def.args.values() {
        if let Some(s) = v.as_str() {
            for dep in relation_calls(s) {
                depends_on.push(Dependency {
                    target: dep,
                    span: span.clone(),
                });
            }
        }
    }
    Ok(Some(ParsedNode {
        constraints: Vec::new(),
        unique_id: format!("test.{}.{full}.{hash}", project.name()),
        resource_type: ResourceType::Test,
        name: full,
        fqn,
        file: Arc::clone(yaml_file),
        span: def.span.clone(),
        original_file_path: own_path.clone(),
        path: format!("{short}.sql").into(),
        template: None,
        config,
        materialization: Materialization::Test,
        sql_check: SqlCheck::Error,
        relation: None,
        depends_on,
        description: String::new(),
        columns: Vec::new(),
        generic_test: Some(GenericTest {
            test_name: bare,
            namespace,
            kwargs: args,
            column_name: column.map(|c| c.name.clone()),
            attached_to: Some(attached.unique_id.clone()),
            model_expr: Some(model_expr),
            is_assertion: false,
            short_name: short,
        }),
        checksum: String::new(),
        source_name: None,
        unit_test: None,
        reads: Default::default(),
        cannot_run: None,
        version: None,
        extra: Default::default(),
    }))
}

/// The `ref('x')`/`source('s', 't')` calls in a test argument such as `to: ref('x')`.
pub fn relation_calls(s: &str) -> Vec<DependencyTarget> {
    static CALL: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r#"\b(ref|source)\s*\(\s*['"]([^'"]+)['"]\s*(,\s*['"]([^'"]+)['"])?\s*\)"#,
        )
        .expect("static regex is valid")
    });
    let mut out = Vec::new();
    for c in CALL.captures_iter(s) {
        match (&c[1], c.get(4)) {
            ("ref", _) => out.push(DependencyTarget::Ref(c[2].to_owned())),
            ("source", Some(t)) => out.push(DependencyTarget::Source(
                c[2].to_owned(),
                t.as_str().to_owned(),
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names and hashes dbt-core 1.10 produced for the same tests.
    #[test]
    fn names_and_hashes_match_dbt() {
        let args = vec![("column_name".to_owned(), Json::from("id"))];
        let (full, short) = test_names("not_null", "customers", &args);
        assert_eq!(full, "not_null_customers_id");
        assert_eq!(short, full);
        let kwargs = vec![
            ("column_name".to_owned(), Json::from("id")),
            (
                "model".to_owned(),
                Json::from("{{ get_where_subquery(ref('customers')) }}"),
            ),
        ];
        assert_eq!(test_hash(&full, "not_null", None, &kwargs), "422908bfae");
    }

    #[test]
    fn relationships_name_flattens_the_ref_expression() {
        let args = vec![
            ("column_name".to_owned(), Json::from("order_id")),
            ("field".to_owned(), Json::from("id")),
            ("to".to_owned(), Json::from("ref('customers')")),
        ];
        let (full, _) = test_names("relationships", "stg_orders", &args);
        assert_eq!(
            full,
            "relationships_stg_orders_order_id__id__ref_customers_"
        );
    }

    #[test]
    fn python_repr_quotes_like_python() {
        assert_eq!(python_repr_str("a'b"), "\"a'b\"");
        assert_eq!(python_repr_str("a\"b'"), "'a\"b\\''");
        assert_eq!(
            python_repr(&serde_json::json!({"a": [1, null]})),
            "{'a': [1, None]}"
        );
    }
}
