//! A model contract's DDL: the column list with the constraints the warehouse
//! supports (dbt's `CONSTRAINT_SUPPORT` of each adapter), rendered as dbt's
//! adapters render them, and the "empty schema" query a contract's declared
//! types are described with.

use super::Dialect;
use crate::project::contracts::{Constraint, ConstraintType};

/// What a warehouse does with a constraint type (dbt's `ConstraintSupport`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstraintSupport {
    /// Written in the DDL and checked by the warehouse.
    Enforced,
    /// Written in the DDL, but the warehouse does not check it.
    NotEnforced,
    /// Left out of the DDL.
    NotSupported,
}

/// dbt's base adapter's support table (Snowflake keeps it as is).
pub fn default_support(t: ConstraintType) -> ConstraintSupport {
    match t {
        ConstraintType::Check => ConstraintSupport::NotSupported,
        ConstraintType::NotNull | ConstraintType::Custom => ConstraintSupport::Enforced,
        ConstraintType::Unique | ConstraintType::PrimaryKey | ConstraintType::ForeignKey => {
            ConstraintSupport::NotEnforced
        }
    }
}

/// One contracted column: its name as written in DDL, its type and constraints.
pub struct SpecColumn<'a> {
    pub name: String,
    pub data_type: String,
    pub constraints: &'a [Constraint],
}

/// A column-level constraint as dbt's base adapter writes it; `to`: the relation a
/// foreign key's `to:` resolved to.
pub fn base_column_constraint(c: &Constraint, to: Option<&str>) -> Option<String> {
    let expr = c.expression.as_deref().unwrap_or_default();
    let text = match c.kind {
        ConstraintType::Check if !expr.is_empty() => format!("check ({expr})"),
        ConstraintType::NotNull => format!("not null {expr}"),
        ConstraintType::Unique => format!("unique {expr}"),
        ConstraintType::PrimaryKey => format!("primary key {expr}"),
        ConstraintType::ForeignKey => match to {
            Some(to) if !c.to_columns.is_empty() => {
                format!("references {to} ({})", c.to_columns.join(", "))
            }
            _ if !expr.is_empty() => format!("references {expr}"),
            _ => return None,
        },
        ConstraintType::Custom if !expr.is_empty() => expr.to_owned(),
        _ => return None,
    };
    Some(text.trim().to_owned())
}

/// A model-level constraint as dbt's base adapter writes it.
pub fn base_model_constraint(c: &Constraint, to: Option<&str>) -> Option<String> {
    let prefix = c
        .name
        .as_ref()
        .map_or(String::new(), |n| format!("constraint {n} "));
    let columns = c.columns.join(", ");
    let expr = c.expression.as_deref().filter(|e| !e.is_empty());
    let with_expr = |e: Option<&str>| e.map_or(String::new(), |e| format!(" {e}"));
    Some(match c.kind {
        ConstraintType::Check => format!("{prefix}check ({})", expr?),
        ConstraintType::Unique => format!("{prefix}unique{} ({columns})", with_expr(expr)),
        ConstraintType::PrimaryKey => {
            format!("{prefix}primary key{} ({columns})", with_expr(expr))
        }
        ConstraintType::ForeignKey => match to {
            Some(to) if !c.to_columns.is_empty() => format!(
                "{prefix}foreign key ({columns}) references {to} ({})",
                c.to_columns.join(", ")
            ),
            _ => format!("{prefix}foreign key ({columns}) references {}", expr?),
        },
        ConstraintType::Custom => format!("{prefix}{}", expr?),
        ConstraintType::NotNull => return None,
    })
}

/// The parenthesized column list of a contracted table: each column with its type
/// and supported constraints, then the model-level constraints. `to` resolves a
/// foreign key's `to:` to the relation it names.
pub fn table_spec(
    dialect: &dyn Dialect,
    columns: &[SpecColumn<'_>],
    model_constraints: &[Constraint],
    to: &dyn Fn(&Constraint) -> Option<String>,
) -> String {
    let supported = |c: &Constraint| {
        c.kind == ConstraintType::Custom
            || dialect.constraint_support(c.kind) != ConstraintSupport::NotSupported
    };
    let mut lines: Vec<String> = columns
        .iter()
        .map(|col| {
            let mut line = format!("{} {}", col.name, col.data_type);
            for c in col.constraints.iter().filter(|c| supported(c)) {
                if let Some(text) = dialect.render_column_constraint(c, to(c).as_deref()) {
                    line.push(' ');
                    line.push_str(&text);
                }
            }
            line
        })
        .collect();
    lines.extend(
        model_constraints
            .iter()
            .filter(|c| supported(c))
            .filter_map(|c| dialect.render_model_constraint(c, to(c).as_deref())),
    );
    format!("(\n    {}\n)", lines.join(",\n    "))
}

/// A query with no rows whose columns have the contract's declared types
/// (dbt's `get_empty_schema_sql`): the warehouse describes it, so the declared
/// types are compared in the warehouse's own spelling.
pub fn empty_schema_sql(columns: &[(String, String)]) -> String {
    let items: Vec<String> = columns
        .iter()
        .map(|(name, t)| format!("cast(null as {t}) as {name}"))
        .collect();
    format!("select\n    {}", items.join(",\n    "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::{dialect, RelationName};
    use crate::diagnostics::{SourceFile, Span};
    use crate::project::contracts::ForeignTarget;
    use crate::project::WarehouseKind;

    fn constraint(kind: ConstraintType, span: &Span) -> Constraint {
        Constraint {
            kind,
            name: None,
            expression: None,
            warn_unenforced: true,
            warn_unsupported: true,
            to: None,
            to_columns: Vec::new(),
            columns: Vec::new(),
            span: span.clone(),
            to_span: None,
        }
    }

    /// The DDL each warehouse gets for one contracted table with every kind of
    /// constraint: what sluice sends where a stand-in lacks the feature.
    #[test]
    fn each_dialect_writes_a_contracted_table() {
        let file = SourceFile::new("m.yml", "");
        let span = Span::file_start(&file);
        let mut check = constraint(ConstraintType::Check, &span);
        check.expression = Some("amount >= 0".into());
        check.name = Some("positive".into());
        let mut fk = constraint(ConstraintType::ForeignKey, &span);
        fk.columns = vec!["customer_id".into()];
        fk.to = Some((
            "ref('customers')".into(),
            ForeignTarget::Ref {
                package: None,
                name: "customers".into(),
            },
        ));
        fk.to_columns = vec!["id".into()];
        let mut custom = constraint(ConstraintType::Custom, &span);
        custom.expression = Some("default 0".into());
        let id = [
            constraint(ConstraintType::NotNull, &span),
            constraint(ConstraintType::PrimaryKey, &span),
        ];
        let unique = [constraint(ConstraintType::Unique, &span), custom];
        let model = [check, fk];
        let target = RelationName {
            database: Some("analytics_db".into()),
            schema: "marts".into(),
            identifier: "orders".into(),
        };
        let customers = target.with_identifier("customers".into());
        let mut out = String::new();
        for kind in [
            WarehouseKind::DuckDb,
            WarehouseKind::Snowflake,
            WarehouseKind::BigQuery,
        ] {
            let d = dialect(kind);
            let columns = [
                SpecColumn {
                    name: "order_id".into(),
                    data_type: d.translate_type("integer"),
                    constraints: &id,
                },
                SpecColumn {
                    name: "customer_id".into(),
                    data_type: d.translate_type("integer"),
                    constraints: &unique,
                },
            ];
            let spec = table_spec(d, &columns, &model, &|_| {
                Some(d.foreign_key_target(&customers))
            });
            out.push_str(&format!("-- {}\n", kind.as_str()));
            for s in d.contracted_table_statements(
                &target,
                Some(crate::adapter::RelationKind::View),
                &spec,
                "order_id, customer_id",
                "select 1 as order_id, 2 as customer_id",
            ) {
                out.push_str(&s);
                out.push_str(";\n");
            }
        }
        insta::assert_snapshot!(out);
    }
}
