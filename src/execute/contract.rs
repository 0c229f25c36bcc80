//! Enforcing a model's contract when it runs, before its relation is replaced:
//! the model's query and an "empty schema" query of the declared types are both
//! described by the warehouse and compared by name and type, as dbt does
//! (`assert_columns_equivalent`); a mismatch is the node's error, with dbt's
//! table of mismatches. A contracted table is then created from its contract
//! (columns, types, the constraints the warehouse supports) and filled.

use crate::adapter::contract::{empty_schema_sql, table_spec, SpecColumn};
use crate::adapter::{Dialect, RelationKind, RelationName, Session, WarehouseError};
use crate::diagnostics::{Diagnostic, Span};
use crate::graph::Dag;
use crate::project::contracts::{Constraint, Contract, ForeignTarget};
use crate::render::parse::{ParsedNode, ResourceType};

/// Why a contract check stopped the model.
pub enum Failure {
    /// The warehouse could not describe the model's own query.
    Sql(WarehouseError),
    /// The contract does not hold, or cannot be checked as written.
    Contract(Diagnostic),
}

/// The node's enforced contract, if it has one.
pub fn enforced(node: &ParsedNode) -> Option<Contract> {
    Contract::of(&node.config, &node.span)
        .ok()
        .filter(|c| c.enforced)
}

/// The contract's columns: their names as DDL writes them and their types (with
/// `alias_types`, as the adapter translates them).
fn declared(
    node: &ParsedNode,
    contract: Contract,
    dialect: &dyn Dialect,
) -> Result<Vec<(String, String)>, Diagnostic> {
    let yaml = node.span.clone();
    if node.columns.is_empty() {
        return Err(Diagnostic::error(
            "This model has an enforced contract, and its 'columns' specification is missing",
        )
        .with_label(
            node.config.span("contract").unwrap_or(&yaml),
            "contract enforced here",
        )
        .with_help(format!(
            "describe model `{}` in a YAML properties file with `columns:`, each with its `data_type`",
            node.name
        )));
    }
    let untyped: Vec<&crate::project::ColumnProps> = node
        .columns
        .iter()
        .filter(|c| c.data_type.is_none())
        .collect();
    if let Some(first) = untyped.first() {
        let names: Vec<String> = untyped.iter().map(|c| format!("'{}'", c.name)).collect();
        return Err(Diagnostic::error(format!(
            "Contracted models require data_type to be defined for each column. Please ensure that the column name and data_type are defined within the YAML configuration for the [{}] column(s).",
            names.join(", ")
        ))
        .with_label(&first.span, "no `data_type`")
        .with_help("add `data_type:` to every column of the contract"));
    }
    Ok(node
        .columns
        .iter()
        .map(|c| {
            let name = if c.quote {
                dialect.quote(&c.name)
            } else {
                c.name.clone()
            };
            // Checked above: every column has a data_type.
            let t = c.data_type.clone().unwrap_or_default();
            let t = if contract.alias_types {
                dialect.translate_type(&t)
            } else {
                t
            };
            (name, t)
        })
        .collect())
}

/// One column as the warehouse describes it: its name, its type, and dbt's
/// `formatted` (`name type`, the name lower-cased) that is compared.
struct Described {
    name: String,
    data_type: String,
}

impl Described {
    fn formatted(&self) -> String {
        format!("{} {}", self.name.to_lowercase(), self.data_type)
    }
}

fn described(cols: Vec<(String, String)>) -> Vec<Described> {
    cols.into_iter()
        .map(|(name, data_type)| Described { name, data_type })
        .collect()
}

/// Check the model's query against its contract.
pub fn check(
    session: &mut dyn Session,
    dialect: &dyn Dialect,
    node: &ParsedNode,
    contract: Contract,
    sql: &str,
) -> Result<(), Failure> {
    let declared = declared(node, contract, dialect).map_err(Failure::Contract)?;
    let actual = described(session.describe(sql).map_err(Failure::Sql)?);
    let expected = match session.describe(&empty_schema_sql(&declared)) {
        Ok(cols) => described(cols),
        Err(e) => return Err(Failure::Contract(bad_type(session, node, &declared, &e))),
    };
    let equivalent = actual.len() == expected.len()
        && actual.iter().all(|a| {
            expected
                .iter()
                .find(|e| e.name == a.name)
                .is_some_and(|e| e.formatted() == a.formatted())
        });
    if equivalent {
        return Ok(());
    }
    Err(Failure::Contract(mismatch(node, &actual, &expected)))
}

/// The declared type the warehouse rejects, found column by column.
fn bad_type(
    session: &mut dyn Session,
    node: &ParsedNode,
    declared: &[(String, String)],
    e: &WarehouseError,
) -> Diagnostic {
    let culprit = declared.iter().zip(&node.columns).find(|((name, t), _)| {
        session
            .describe(&empty_schema_sql(&[(name.clone(), t.clone())]))
            .is_err()
    });
    let first = e.0.lines().next().unwrap_or_default();
    let mut d = Diagnostic::error(format!(
        "the contract of model `{}` declares a type the warehouse does not know: {first}",
        node.name
    ));
    if let Some(((_, t), col)) = culprit {
        d = d.with_label(&col.span, format!("`{t}` is not a type of this warehouse"));
    }
    d.with_help("write each `data_type` as the warehouse names the type")
}

/// dbt's mismatch rows: (column_name, definition_type, contract_type, reason),
/// sorted by column name.
fn mismatch_rows(actual: &[Described], expected: &[Described]) -> Vec<[String; 4]> {
    let mut rows = Vec::new();
    for a in actual {
        match expected.iter().find(|e| e.name == a.name) {
            Some(e) if e.data_type == a.data_type => {}
            Some(e) => rows.push([
                a.name.clone(),
                a.data_type.clone(),
                e.data_type.clone(),
                "data type mismatch".to_owned(),
            ]),
            None => rows.push([
                a.name.clone(),
                a.data_type.clone(),
                String::new(),
                "missing in contract".to_owned(),
            ]),
        }
    }
    for e in expected {
        if !actual.iter().any(|a| a.name == e.name) {
            rows.push([
                e.name.clone(),
                String::new(),
                e.data_type.clone(),
                "missing in definition".to_owned(),
            ]);
        }
    }
    rows.sort_by(|a, b| a[0].cmp(&b[0]));
    rows
}

/// A table as agate's `print_table` prints it (dbt's error shows one): cells
/// padded to the widest, at most 50 characters.
fn print_table(header: &[&str; 4], rows: &[[String; 4]]) -> String {
    const MAX: usize = 50;
    let cell = |s: &str| {
        if s.chars().count() > MAX {
            format!("{}...", s.chars().take(MAX - 3).collect::<String>())
        } else {
            s.to_owned()
        }
    };
    let rows: Vec<[String; 4]> = rows
        .iter()
        .map(|r| [cell(&r[0]), cell(&r[1]), cell(&r[2]), cell(&r[3])])
        .collect();
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 4]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |", padded.join(" | "))
    };
    let mut out = vec![line(*header)];
    let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push(format!("| {} |", dashes.join(" | ")));
    for r in &rows {
        out.push(line([&r[0], &r[1], &r[2], &r[3]]));
    }
    out.join("\n")
}

/// dbt's contract error, with its table of mismatches, located at the YAML
/// columns that differ.
fn mismatch(node: &ParsedNode, actual: &[Described], expected: &[Described]) -> Diagnostic {
    let rows = mismatch_rows(actual, expected);
    let table = print_table(
        &[
            "column_name",
            "definition_type",
            "contract_type",
            "mismatch_reason",
        ],
        &rows,
    );
    let mut d = Diagnostic::error(format!(
        "model `{}`: This model has an enforced contract that failed.",
        node.name
    ))
    .with_note(format!(
        "Please ensure the name, data_type, and number of columns in your contract match the columns in your model's definition.\n\n{table}"
    ));
    let mut labelled = false;
    for r in &rows {
        if let Some(col) = node
            .columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&r[0]))
        {
            let text = match r[3].as_str() {
                "data type mismatch" => {
                    format!("the contract says {}, the model returns {}", r[2], r[1])
                }
                _ => "the model does not return this column".to_owned(),
            };
            d = d.with_label(&col.span, text);
            labelled = true;
        }
    }
    if !labelled {
        d = d.with_label(
            &Span::file_start(&node.file),
            "this model's columns differ from its contract",
        );
    }
    d.with_help(
        "cast the model's columns to the contract's types and return exactly its columns, or change `columns:` in YAML",
    )
}

/// The relation a foreign key's `to:` names, as the DDL writes it.
fn foreign_target(dag: &Dag, dialect: &dyn Dialect, c: &Constraint) -> Option<String> {
    let (_, target) = c.to.as_ref()?;
    let node = match target {
        ForeignTarget::Ref { name, .. } => dag.get(dag.by_name.get(name)?)?,
        ForeignTarget::Source { source, table } => dag.nodes.iter().find(|n| {
            n.resource_type == ResourceType::Source
                && n.source_name.as_deref() == Some(source.as_str())
                && n.name == *table
        })?,
    };
    node.relation
        .as_ref()
        .map(|r| dialect.foreign_key_target(r))
}

/// Statements to run around the replacement of `relation` when other tables'
/// foreign keys reference it (DuckDB will not drop a referenced table): each such
/// table is kept in a backup and dropped before, and its rows put back under its
/// name after, to be rebuilt later in this run with its constraints, as
/// dbt-duckdb does. Only tables this run rebuilds from scratch (selected table
/// models downstream of this one) may be dropped; anything else is an error, so
/// no data is lost. `selected`: whether a node runs in this run.
pub fn foreign_key_dependents(
    session: &mut dyn Session,
    dag: &Dag,
    dialect: &dyn Dialect,
    node: &ParsedNode,
    relation: &RelationName,
    selected: &dyn Fn(petgraph::graph::NodeIndex) -> bool,
) -> Result<(Vec<String>, Vec<String>), Failure> {
    let Some(sql) = dialect.foreign_key_dependents_sql(relation) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let rows = session.query(&sql).map_err(Failure::Sql)?;
    if rows.rows.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let me = dag.by_id.get(&node.unique_id).copied();
    let below = me.map(|i| dag.descendants(i, None)).unwrap_or_default();
    let mut problems = Vec::new();
    let mut tables = Vec::new();
    for row in &rows.rows {
        let table = row.first().cloned().flatten().unwrap_or_default();
        let builder = dag.graph.node_indices().find(|i| {
            let n = dag.node(*i);
            n.resource_type == ResourceType::Model
                && n.relation.as_ref().is_some_and(|r| {
                    r.schema.eq_ignore_ascii_case(&relation.schema)
                        && r.identifier.eq_ignore_ascii_case(&table)
                })
        });
        match builder {
            None => problems.push(format!("{table} (not built by a model of this project)")),
            Some(i) if !selected(i) => problems.push(format!(
                "{table} (model {} is not selected in this run)",
                dag.node(i).name
            )),
            Some(i) if !below.contains(&i) => problems.push(format!(
                "{table} (model {} does not ref() the table its foreign key points at; use `to: ref(...)` in the constraint)",
                dag.node(i).name
            )),
            Some(i) if dag.node(i).materialization != crate::project::Materialization::Table => {
                problems.push(format!(
                    "{table} (model {} is materialized as {} and would lose its data)",
                    dag.node(i).name,
                    dag.node(i).materialized()
                ))
            }
            Some(_) => tables.push(table),
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Contract(
            Diagnostic::error(format!(
                "cannot replace {relation}: DuckDB does not replace a table another table's foreign key references, and sluice only drops referencing tables this run rebuilds"
            ))
            .with_label(&Span::file_start(&node.file), "this model")
            .with_note(format!("Problem tables: {}", problems.join("; ")))
            .with_help("select the referencing models too (e.g. `-s model+`), or drop their foreign keys"),
        ));
    }
    let mut before = Vec::new();
    let mut after = Vec::new();
    for table in &tables {
        let dependent = relation.with_identifier(table.clone());
        let backup = relation.with_identifier(format!("{table}__sluice_fk_backup"));
        before.push(dialect.drop_relation(&backup, RelationKind::Table));
        before.push(dialect.create_table_as(
            &backup,
            &format!("select * from {}", dialect.render_relation(&dependent)),
        ));
        before.push(dialect.drop_relation(&dependent, RelationKind::Table));
        after.push(format!(
            "alter table {} rename to {}",
            dialect.render_relation(&backup),
            dialect.quote(table)
        ));
    }
    after.reverse();
    Ok((before, after))
}

/// The statements that replace `relation` with the model's contracted table.
pub fn table_statements(
    dag: &Dag,
    dialect: &dyn Dialect,
    node: &ParsedNode,
    contract: Contract,
    relation: &RelationName,
    existing: Option<RelationKind>,
    sql: &str,
) -> Result<Vec<String>, Diagnostic> {
    let declared = declared(node, contract, dialect)?;
    let columns: Vec<SpecColumn<'_>> = declared
        .iter()
        .zip(&node.columns)
        .map(|((name, t), col)| SpecColumn {
            name: name.clone(),
            data_type: t.clone(),
            constraints: &col.constraints,
        })
        .collect();
    let spec = table_spec(dialect, &columns, &node.constraints, &|c| {
        foreign_target(dag, dialect, c)
    });
    let names: Vec<&str> = declared.iter().map(|(n, _)| n.as_str()).collect();
    Ok(dialect.contracted_table_statements(relation, existing, &spec, &names.join(", "), sql))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(list: &[(&str, &str)]) -> Vec<Described> {
        described(
            list.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn mismatches_print_as_dbt_prints_them() {
        let actual = cols(&[
            ("id", "INTEGER"),
            ("amount", "DOUBLE"),
            ("extra", "VARCHAR"),
        ]);
        let expected = cols(&[
            ("id", "INTEGER"),
            ("amount", "DECIMAL(18,2)"),
            ("gone", "DATE"),
        ]);
        let rows = mismatch_rows(&actual, &expected);
        let table = print_table(
            &[
                "column_name",
                "definition_type",
                "contract_type",
                "mismatch_reason",
            ],
            &rows,
        );
        assert_eq!(
            table,
            "| column_name | definition_type | contract_type | mismatch_reason       |\n\
             | ----------- | --------------- | ------------- | --------------------- |\n\
             | amount      | DOUBLE          | DECIMAL(18,2) | data type mismatch    |\n\
             | extra       | VARCHAR         |               | missing in contract   |\n\
             | gone        |                 | DATE          | missing in definition |"
        );
    }
}
