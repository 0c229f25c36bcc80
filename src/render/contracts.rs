//! Model contracts at parse time. For every model: its model-level constraints
//! from its YAML (a version's own, else its model's), a foreign key's `to:` as a
//! parent of the model (dbt adds it to the model's refs, enforced or not), and
//! dbt's parse-time checks of an enforced contract — primary keys declared once,
//! columns in YAML, a SQL model, `on_schema_change` of an incremental one — with
//! the warnings dbt gives for constraints a materialization or a warehouse does
//! not apply. Checking a contract against the warehouse is the execute stage's.

use super::parse::{Dependency, DependencyTarget, ParsedNode, ResourceType};
use crate::adapter::contract::ConstraintSupport;
use crate::diagnostics::{event, Diagnostic, Span};
use crate::project::contracts::{Constraint, ConstraintType, Contract, ForeignTarget};
use crate::project::incremental::{IncrementalConfig, OnSchemaChange};
use crate::project::{Materialization, Project, WarehouseKind};

/// Apply the contracts of `project`'s models among `nodes`.
pub(super) fn apply(
    project: &Project,
    target: WarehouseKind,
    nodes: &mut [ParsedNode],
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) {
    for node in nodes
        .iter_mut()
        .filter(|n| n.resource_type == ResourceType::Model)
    {
        if let Err(e) = apply_one(project, target, node, warnings) {
            errors.push(e);
        }
    }
}

fn apply_one(
    project: &Project,
    target: WarehouseKind,
    node: &mut ParsedNode,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), Diagnostic> {
    let file_name = node
        .original_file_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let properties = &project.properties;
    let (props, constraints) = match properties.version_of(&file_name) {
        Some(vo) => (Some(vo.props), vo.constraints().to_vec()),
        None => match properties.unversioned_model(&file_name) {
            Some(p) => (Some(p), p.constraints.clone()),
            None => (None, Vec::new()),
        },
    };
    node.constraints = constraints;
    add_foreign_key_parents(node);
    check_primary_keys(node)?;
    let contract = Contract::of(&node.config, &node.span)?;
    if !contract.enforced {
        return Ok(());
    }
    let path = node.original_file_path.display().to_string();
    let yaml_span = props.map_or_else(|| node.span.clone(), |p| p.span.clone());
    if props.is_some() {
        let mut problems = Vec::new();
        if node.columns.is_empty() {
            problems.push(
                "Constraints must be defined in a `yml` schema configuration file like `schema.yml`."
                    .to_owned(),
            );
        }
        if node.language() != "sql" {
            problems.push(format!(
                "Language Error: Expected 'sql' but found '{}'",
                node.language()
            ));
        }
        if !problems.is_empty() {
            return Err(Diagnostic::error(format!(
                "Contract enforcement failed for: ({path})\n{}",
                problems.join("\n")
            ))
            .with_label(&yaml_span, "this model's contract is enforced")
            .with_help(
                "declare the columns the model returns under `columns:`, each with its `data_type`",
            ));
        }
    }
    let all: Vec<&Constraint> = node
        .constraints
        .iter()
        .chain(node.columns.iter().flat_map(|c| &c.constraints))
        .collect();
    match node.materialization {
        Materialization::Table | Materialization::Incremental => {}
        Materialization::Ephemeral => warnings.push(
            Diagnostic::warning(format!(
                "model `{}` is ephemeral: its contract is not checked (dbt ignores it too)",
                node.name
            ))
            .with_event(event::CONTRACT_NOT_CHECKED)
            .with_label(
                node.config.span("contract").unwrap_or(&yaml_span),
                "contract enforced here",
            )
            .with_help(
                "materialize the model as a view, table or incremental model, or remove `contract`",
            ),
        ),
        _ => {}
    }
    if !matches!(
        node.materialization,
        Materialization::Table | Materialization::Incremental
    ) {
        if let Some(first) = all.iter().find(|c| c.warn_unsupported) {
            warnings.push(
                Diagnostic::warning(format!(
                    "Constraint types are not supported for {} materializations and will be ignored.  Set 'warn_unsupported: false' on this constraint to ignore this warning.",
                    node.materialized()
                ))
                .with_event(event::UNSUPPORTED_CONSTRAINT_MATERIALIZATION)
                .with_label(&first.span, format!("model `{}` is a {}", node.name, node.materialized())),
            );
        }
    }
    if node.materialization == Materialization::Incremental {
        let config = IncrementalConfig::of(&node.config, &node.span)?;
        if !matches!(
            config.on_schema_change,
            OnSchemaChange::AppendNewColumns | OnSchemaChange::Fail
        ) {
            let name = node.config.get_str("on_schema_change").unwrap_or("ignore");
            return Err(Diagnostic::error(format!(
                "Invalid value for on_schema_change: {name}. Models materialized as incremental with contracts enabled must set on_schema_change to 'append_new_columns' or 'fail'"
            ))
            .with_label(
                node.config
                    .span("on_schema_change")
                    .or_else(|| node.config.span("materialized"))
                    .unwrap_or(&yaml_span),
                "this incremental model's contract is enforced",
            )
            .with_help("set `on_schema_change: append_new_columns` or `on_schema_change: fail`"));
        }
    }
    if matches!(
        node.materialization,
        Materialization::Table | Materialization::Incremental
    ) {
        warn_support(target, &all, warnings);
    }
    let naked: Vec<&crate::project::ColumnProps> = node
        .columns
        .iter()
        .filter(|c| {
            c.data_type.as_deref().is_some_and(|t| {
                matches!(
                    t.trim().to_ascii_lowercase().as_str(),
                    "numeric" | "decimal" | "number"
                )
            })
        })
        .collect();
    if let Some(first) = naked.first() {
        let names: Vec<String> = naked.iter().map(|c| format!("'{}'", c.name)).collect();
        warnings.push(
            Diagnostic::warning(format!(
                "Detected columns with numeric type and unspecified precision/scale, this can lead to unintended rounding: [{}]`",
                names.join(", ")
            ))
            .with_event(event::JINJA_LOG_WARNING)
            .with_label(&first.span, "no precision or scale")
            .with_help("give the type its precision and scale, e.g. `data_type: numeric(18, 2)`"),
        );
    }
    Ok(())
}

/// dbt's warnings for constraints the warehouse writes but does not check, or
/// leaves out.
fn warn_support(target: WarehouseKind, all: &[&Constraint], warnings: &mut Vec<Diagnostic>) {
    let dialect = crate::adapter::dialect(target);
    let adapter = target.as_str();
    for c in all.iter().filter(|c| c.kind != ConstraintType::Custom) {
        let kind = c.kind.as_str();
        match dialect.constraint_support(c.kind) {
            ConstraintSupport::NotSupported if c.warn_unsupported => warnings.push(
                Diagnostic::warning(format!(
                    "The constraint type {kind} is not supported by {adapter}, and will be ignored. Set 'warn_unsupported: false' on this constraint to ignore this warning."
                ))
                .with_event(event::CONSTRAINT_NOT_SUPPORTED)
                .with_label(&c.span, "left out of the table's DDL"),
            ),
            ConstraintSupport::NotEnforced if c.warn_unenforced => warnings.push(
                Diagnostic::warning(format!(
                    "The constraint type {kind} is not enforced by {adapter}. The constraint will be included in this model's DDL statement, but it will not guarantee anything about the underlying data. Set 'warn_unenforced: false' on this constraint to ignore this warning."
                ))
                .with_event(event::CONSTRAINT_NOT_ENFORCED)
                .with_label(&c.span, "written in the DDL, not checked"),
            ),
            _ => {}
        }
    }
}

/// A foreign key's `to:` is a parent of the model (once).
fn add_foreign_key_parents(node: &mut ParsedNode) {
    let targets: Vec<(DependencyTarget, Span)> = node
        .constraints
        .iter()
        .chain(node.columns.iter().flat_map(|c| &c.constraints))
        .filter(|c| c.kind == ConstraintType::ForeignKey)
        .filter_map(|c| {
            let (_, target) = c.to.as_ref()?;
            let span = c.to_span.clone().unwrap_or_else(|| c.span.clone());
            Some(match target {
                ForeignTarget::Ref { name, .. } => (DependencyTarget::Ref(name.clone()), span),
                ForeignTarget::Source { source, table } => (
                    DependencyTarget::Source(source.clone(), table.clone()),
                    span,
                ),
            })
        })
        .collect();
    for (target, span) in targets {
        if !node.depends_on.iter().any(|d| d.target == target) {
            node.depends_on.push(Dependency { target, span });
        }
    }
}

/// dbt's primary key rules: at most one column declares `primary_key`, and not
/// both a column and the model.
fn check_primary_keys(node: &ParsedNode) -> Result<(), Diagnostic> {
    let pk_columns: Vec<(&str, &Constraint)> = node
        .columns
        .iter()
        .flat_map(|col| {
            col.constraints
                .iter()
                .filter(|c| c.kind == ConstraintType::PrimaryKey)
                .map(move |c| (col.name.as_str(), c))
        })
        .collect();
    let model_pk = node
        .constraints
        .iter()
        .find(|c| c.kind == ConstraintType::PrimaryKey);
    let mut problems = Vec::new();
    if pk_columns.len() > 1 {
        let names: Vec<String> = pk_columns.iter().map(|(n, _)| format!("'{n}'")).collect();
        problems.push(format!(
            "Found {} columns ([{}]) with primary key constraints defined. Primary keys for multiple columns must be defined as a model level constraint.",
            pk_columns.len(),
            names.join(", ")
        ));
    }
    if !pk_columns.is_empty() && model_pk.is_some() {
        problems.push(
            "Primary key constraints defined at the model level and the columns level. Primary keys can be defined at the model level or the column level, not both."
                .to_owned(),
        );
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut d = Diagnostic::error(format!(
        "Primary key constraint error: ({})\n{}",
        node.original_file_path.display(),
        problems.join("\n")
    ));
    for (name, c) in &pk_columns {
        d = d.with_label(&c.span, format!("primary key on column `{name}`"));
    }
    if let Some(c) = model_pk {
        d = d.with_label(&c.span, "primary key of the model");
    }
    Err(d.with_help(
        "declare one model-level constraint instead: `constraints: [{type: primary_key, columns: [a, b]}]`",
    ))
}
