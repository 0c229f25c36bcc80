//! Exposures and groups become what the graph stage needs: each enabled
//! exposure a node (`exposure.<package>.<name>`) whose `depends_on` calls
//! (`ref()`, `source()`, `metric()`, evaluated as Jinja expressions) are its
//! dependencies; and every node's `group` and `access` checked as dbt-core 1.11
//! checks them at parse time (a known group, a valid access, no public
//! ephemeral model), generic tests taking the group of the node they test.
//! The ref rules of access are the graph stage's (`graph::access`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use minijinja::value::{Kwargs, Rest, Value};
use minijinja::{Environment, Error, ErrorKind};
use serde_json::{json, Value as Json};

use super::parse::{
    ref_key, Dependency, DependencyTarget, NodeExtra, ParsedNode, Reads, ResourceType,
};
use crate::diagnostics::Diagnostic;
use crate::project::exposures::{folders_of, path_in_folder, ExposureDef};
use crate::project::{Config, Materialization, Project, SqlCheck};

/// What dbt records of an exposure besides what every node has.
#[derive(Clone, Debug)]
pub struct ExposureSpec {
    pub kind: String,
    pub owner: Json,
    pub label: Option<String>,
    pub maturity: Option<String>,
    pub url: Option<String>,
    /// `{name, package, version}` of each `ref()`, as written.
    pub refs: Vec<Json>,
    /// `(source, table)` of each `source()`.
    pub sources: Vec<(String, String)>,
    /// The metrics of its `metric()` calls.
    pub metrics: Vec<String>,
    /// Its `config:` as written.
    pub config_written: Json,
    /// When it was parsed (seconds since the epoch), as dbt's `created_at`.
    pub created_at: f64,
}

/// One call of a `depends_on` entry.
enum Call {
    Ref {
        name: String,
        package: Option<String>,
        version: Option<String>,
    },
    Source(String, String),
    Metric(String),
}

fn text_args(what: &str, args: &[Value]) -> Result<Vec<String>, Error> {
    args.iter()
        .map(|a| {
            a.as_str().map(str::to_owned).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("{what}() takes names as strings, not `{a}`"),
                )
            })
        })
        .collect()
}

/// The calls of one `depends_on` entry (`ref('x')`, `source('s', 't')`,
/// `metric('m')`), evaluated as a Jinja expression.
fn calls(text: &str) -> Result<Vec<Call>, String> {
    let found: Arc<Mutex<Vec<Call>>> = Arc::default();
    let mut env = Environment::new();
    env.set_fuel(Some(super::limits::TEMPLATE_FUEL));
    let sink = Arc::clone(&found);
    env.add_function("ref", move |args: Rest<Value>, kwargs: Kwargs| {
        let version = super::context::ref_version(&kwargs)?;
        let call = match text_args("ref", &args)?.as_slice() {
            [name] => Call::Ref {
                name: name.clone(),
                package: None,
                version,
            },
            [package, name] => Call::Ref {
                name: name.clone(),
                package: Some(package.clone()),
                version,
            },
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    "ref() takes one or two names: ref('model') or ref('package', 'model')",
                ))
            }
        };
        // Locks are held only for a push or a take: never poisoned.
        sink.lock().expect("not poisoned").push(call);
        Ok(Value::from(""))
    });
    let sink = Arc::clone(&found);
    env.add_function("source", move |args: Rest<Value>| {
        match text_args("source", &args)?.as_slice() {
            [s, t] => {
                sink.lock()
                    .expect("not poisoned")
                    .push(Call::Source(s.clone(), t.clone()));
                Ok(Value::from(""))
            }
            _ => Err(Error::new(
                ErrorKind::InvalidOperation,
                "source() takes two names: source('source', 'table')",
            )),
        }
    });
    let sink = Arc::clone(&found);
    env.add_function("metric", move |args: Rest<Value>| {
        match text_args("metric", &args)?.as_slice() {
            [m] | [_, m] => {
                sink.lock()
                    .expect("not poisoned")
                    .push(Call::Metric(m.clone()));
                Ok(Value::from(""))
            }
            _ => Err(Error::new(
                ErrorKind::InvalidOperation,
                "metric() takes a name: metric('revenue')",
            )),
        }
    });
    let expr = env
        .compile_expression(text)
        .map_err(|e| e.detail().unwrap_or("not an expression").to_owned())?;
    expr.eval(())
        .map_err(|e| e.detail().map_or_else(|| e.to_string(), str::to_owned))?;
    let calls = std::mem::take(&mut *found.lock().expect("not poisoned"));
    if calls.is_empty() {
        return Err("it calls none of ref(), source(), metric()".to_owned());
    }
    Ok(calls)
}

/// The metric names the project's and packages' semantic-layer YAML defines.
fn metric_names(project: &Project) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for p in std::iter::once(project).chain(&project.packages) {
        for (_, doc) in &p.properties.semantic_docs {
            let Some(list) = doc
                .get("metrics")
                .and_then(|m| m.expect_seq("`metrics`").ok())
            else {
                continue;
            };
            for m in list {
                if let Some(name) = m.get("name").and_then(|n| n.as_str()) {
                    names.insert(name.to_owned());
                }
            }
        }
    }
    names
}

/// One enabled exposure's node.
fn exposure_node(
    project: &Project,
    def: &ExposureDef,
    metrics: &BTreeSet<String>,
    created_at: f64,
) -> Result<ParsedNode, Diagnostic> {
    let package = project.name();
    let unique_id = format!("exposure.{package}.{}", def.name);
    let own = project.own_path(&def.at.file.path);
    let mut depends_on = Vec::new();
    let mut refs = Vec::new();
    let mut sources = Vec::new();
    let mut metric_calls = Vec::new();
    for (text, span) in &def.depends_on {
        let found = calls(text).map_err(|why| {
            Diagnostic::error(format!(
                "exposure `{}`: `{text}` is not a ref(), source() or metric() call: {why}",
                def.name
            ))
            .with_label(span, "here")
            .with_help(
                "write `- ref('model')`, `- source('source', 'table')` or `- metric('name')`",
            )
        })?;
        for call in found {
            match call {
                Call::Ref {
                    name,
                    package,
                    version,
                } => {
                    let v = version
                        .as_deref()
                        .map(|v| v.parse::<i64>().map_or_else(|_| json!(v), Json::from));
                    refs.push(json!({"name": name, "package": package, "version": v}));
                    depends_on.push(Dependency {
                        target: DependencyTarget::Ref(ref_key(&name, version.as_deref())),
                        span: span.clone(),
                    });
                }
                Call::Source(s, t) => {
                    sources.push((s.clone(), t.clone()));
                    depends_on.push(Dependency {
                        target: DependencyTarget::Source(s, t),
                        span: span.clone(),
                    });
                }
                Call::Metric(m) => {
                    if !metrics.contains(&m) {
                        return Err(Diagnostic::error(format!(
                            "Exposure '{unique_id}' ({}) depends on a metric named '{m}' which was not found",
                            own.display()
                        ))
                        .with_label(span, "no such metric")
                        .with_help(crate::diagnostics::suggestion_help(
                            &m,
                            metrics.iter().map(String::as_str),
                            || "define the metric under `metrics:` in a YAML file".to_owned(),
                        )));
                    }
                    metric_calls.push(m);
                }
            }
        }
    }
    let mut config = Config::default();
    config.set("tags", json!(def.tags), None);
    config.set("meta", def.meta.clone(), None);
    let mut fqn = vec![package.to_owned()];
    fqn.extend(folders_of(&own));
    fqn.push(def.name.clone());
    Ok(ParsedNode {
        constraints: Vec::new(),
        unique_id,
        resource_type: ResourceType::Exposure,
        name: def.name.clone(),
        fqn,
        file: Arc::clone(&def.at.file),
        span: def.at.span.clone(),
        path: path_in_folder(&own),
        original_file_path: own,
        template: None,
        config,
        materialization: Materialization::View,
        sql_check: SqlCheck::Off,
        relation: None,
        depends_on,
        description: def.description.clone(),
        columns: Vec::new(),
        generic_test: None,
        checksum: String::new(),
        source_name: None,
        unit_test: None,
        reads: Reads::default(),
        cannot_run: None,
        version: None,
        extra: NodeExtra {
            exposure: Some(Box::new(ExposureSpec {
                kind: def.kind.clone(),
                owner: def.owner.clone(),
                label: def.label.clone(),
                maturity: def.maturity.clone(),
                url: def.url.clone(),
                refs,
                sources,
                metrics: metric_calls,
                config_written: def.config_written.clone(),
                created_at,
            })),
            ..NodeExtra::default()
        },
    })
}

/// The nodes of the enabled exposures of the project and its packages.
pub fn exposure_nodes(
    project: &Project,
    nodes: &mut Vec<ParsedNode>,
    errors: &mut Vec<Diagnostic>,
) {
    let metrics = metric_names(project);
    let created_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    for p in std::iter::once(project).chain(&project.packages) {
        for def in p.properties.exposures.iter().filter(|e| e.enabled) {
            match exposure_node(p, def, &metrics, created_at) {
                Ok(n) => nodes.push(n),
                Err(e) => errors.push(e),
            }
        }
    }
}

const ACCESS: &[&str] = &["private", "protected", "public"];

/// dbt's parse-time checks of `group` and `access`: each group a node names is
/// defined (`groups:`), a model's access is private, protected or public, and
/// an ephemeral model is not public. Generic tests take the group of the node
/// they test first, as in dbt.
pub fn check_groups(project: &Project, nodes: &mut [ParsedNode]) -> Vec<Diagnostic> {
    let groups: BTreeSet<&str> = std::iter::once(project)
        .chain(&project.packages)
        .flat_map(|p| &p.properties.groups)
        .map(|g| g.name.as_str())
        .collect();
    let group_of: HashMap<String, Json> = nodes
        .iter()
        .filter_map(|n| Some((n.unique_id.clone(), n.config.get("group")?.clone())))
        .collect();
    let mut errors = Vec::new();
    for node in nodes.iter_mut() {
        if let Some(attached) = node
            .generic_test
            .as_ref()
            .and_then(|t| t.attached_to.as_ref())
            .and_then(|id| group_of.get(id))
        {
            node.config.set("group", attached.clone(), None);
        }
        let span = |key: &str| node.config.span(key).unwrap_or(&node.span).clone();
        match node.config.get("group") {
            None | Some(Json::Null) => {}
            Some(Json::String(g)) if groups.contains(g.as_str()) => {}
            Some(other) => {
                let name = other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_owned);
                let list = groups
                    .iter()
                    .map(|g| format!("'{g}'"))
                    .collect::<Vec<_>>()
                    .join(", ");
                errors.push(
                    Diagnostic::error(format!(
                        "Invalid group '{name}', expected one of [{list}]"
                    ))
                    .with_label(&span("group"), format!("`{}` is in no group of that name", node.name))
                    .with_help(crate::diagnostics::suggestion_help(
                        &name,
                        groups.iter().copied(),
                        || "define the group under `groups:` in a YAML properties file (name and owner)".to_owned(),
                    )),
                );
            }
        }
        if node.resource_type != ResourceType::Model {
            continue;
        }
        match node.config.get("access") {
            None | Some(Json::Null) => {}
            Some(Json::String(a)) if ACCESS.contains(&a.as_str()) => {
                if a == "public" && node.materialization == Materialization::Ephemeral {
                    errors.push(
                        Diagnostic::error(format!(
                            "Node {} with 'ephemeral' materialization has an invalid value (public) for the access field",
                            node.unique_id
                        ))
                        .with_label(&span("access"), "an ephemeral model cannot be public")
                        .with_help("make it `access: protected`, or materialize it as a view or table"),
                    );
                }
            }
            Some(other) => {
                let value = other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_owned);
                errors.push(
                    Diagnostic::error(format!(
                        "Node {} has an invalid value ({value}) for the access field",
                        node.unique_id
                    ))
                    .with_label(&span("access"), "not an access level")
                    .with_help(crate::diagnostics::suggestion_help(
                        &value,
                        ACCESS.iter().copied(),
                        || "use `access: private`, `protected` or `public`".to_owned(),
                    )),
                );
            }
        }
    }
    errors
}

/// A model's access (`protected` unless configured), as dbt defaults it.
pub fn access_of(node: &ParsedNode) -> Option<&str> {
    (node.resource_type == ResourceType::Model)
        .then(|| node.config.get_str("access").unwrap_or("protected"))
}
