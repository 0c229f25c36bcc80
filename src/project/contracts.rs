//! Model contracts as written: the `contract` config (`enforced`, `alias_types`)
//! and the `constraints` of a model, a model version or a column, read from YAML
//! with their spans (dbt's `ColumnLevelConstraint` and `ModelLevelConstraint`).
//!
//! This module only reads and validates what is written. What a contract means
//! for a node (its checks, the foreign keys' parents) is the render stage's
//! (`render::contracts`), and the DDL each warehouse gets is the adapters'.

use serde_json::{json, Value as Json};

use super::config::Config;
use super::yaml::{KeySet, Node};
use crate::diagnostics::{Diagnostic, Span};

/// dbt's constraint types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConstraintType {
    Check,
    NotNull,
    Unique,
    PrimaryKey,
    ForeignKey,
    Custom,
}

impl ConstraintType {
    pub const ALL: [ConstraintType; 6] = [
        ConstraintType::Check,
        ConstraintType::NotNull,
        ConstraintType::Unique,
        ConstraintType::PrimaryKey,
        ConstraintType::ForeignKey,
        ConstraintType::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConstraintType::Check => "check",
            ConstraintType::NotNull => "not_null",
            ConstraintType::Unique => "unique",
            ConstraintType::PrimaryKey => "primary_key",
            ConstraintType::ForeignKey => "foreign_key",
            ConstraintType::Custom => "custom",
        }
    }

    fn parse(s: &str) -> Option<ConstraintType> {
        ConstraintType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// dbt's list of valid types, as its messages print it.
    fn valid_list() -> String {
        let quoted: Vec<String> = ConstraintType::ALL
            .iter()
            .map(|t| format!("'{}'", t.as_str()))
            .collect();
        format!("[{}]", quoted.join(", "))
    }
}

/// What a foreign key's `to:` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForeignTarget {
    /// `ref('name')` or `ref('package', 'name')`.
    Ref {
        package: Option<String>,
        name: String,
    },
    /// `source('source', 'table')`.
    Source { source: String, table: String },
}

/// One constraint, at model level (with `columns`) or column level.
#[derive(Clone, Debug)]
pub struct Constraint {
    pub kind: ConstraintType,
    pub name: Option<String>,
    pub expression: Option<String>,
    pub warn_unenforced: bool,
    pub warn_unsupported: bool,
    /// `to:` as written (`ref('customers')`), and what it names.
    pub to: Option<(String, ForeignTarget)>,
    pub to_columns: Vec<String>,
    /// The columns of a model-level constraint (empty at column level).
    pub columns: Vec<String>,
    /// Where the constraint is written (its `type:`).
    pub span: Span,
    /// Where its `to:` is written, if it has one.
    pub to_span: Option<Span>,
}

/// Python's `repr()` of a string, as dbt's contract checksum prints it.
fn py_repr(s: &str) -> String {
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
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn py_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "None".to_owned(), py_repr)
}

fn py_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| py_repr(s)).collect();
    format!("[{}]", inner.join(", "))
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

impl Constraint {
    /// The constraint as dbt's manifest writes it; `to` is the relation it
    /// resolved to, when known (dbt writes the compiled relation).
    pub fn to_json(&self, model_level: bool, to: Option<&str>) -> Json {
        let mut v = json!({
            "type": self.kind.as_str(),
            "name": self.name,
            "expression": self.expression,
            "warn_unenforced": self.warn_unenforced,
            "warn_unsupported": self.warn_unsupported,
            "to": to.map(str::to_owned).or_else(|| self.to.as_ref().map(|(t, _)| t.clone())),
            "to_columns": self.to_columns,
        });
        if model_level {
            v["columns"] = json!(self.columns);
        }
        v
    }

    /// Python's `repr()` of dbt's dataclass for this constraint: the text dbt's
    /// contract checksum hashes.
    pub fn py_repr(&self, model_level: bool) -> String {
        let kind = self.kind.as_str();
        let mut out = format!(
            "{}(type=<ConstraintType.{kind}: '{kind}'>, name={}, expression={}, warn_unenforced={}, warn_unsupported={}, to={}, to_columns={}",
            if model_level {
                "ModelLevelConstraint"
            } else {
                "ColumnLevelConstraint"
            },
            py_opt(self.name.as_deref()),
            py_opt(self.expression.as_deref()),
            py_bool(self.warn_unenforced),
            py_bool(self.warn_unsupported),
            py_opt(self.to.as_ref().map(|(t, _)| t.as_str())),
            py_list(&self.to_columns),
        );
        if model_level {
            out.push_str(&format!(", columns={}", py_list(&self.columns)));
        }
        out.push(')');
        out
    }
}

/// Python's `repr()` of a list of constraints.
pub fn py_repr_list(list: &[Constraint], model_level: bool) -> String {
    let inner: Vec<String> = list.iter().map(|c| c.py_repr(model_level)).collect();
    format!("[{}]", inner.join(", "))
}

/// dbt's contract checksum: the SHA-256 of every column's name, type and
/// constraints (sorted by name), then, for a table or incremental model, the
/// materialization and the model-level constraints, as Python prints them.
pub fn checksum(
    columns: &[super::ColumnProps],
    constraints: &[Constraint],
    materialized: &str,
) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<&super::ColumnProps> = columns.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut state = String::new();
    for c in sorted {
        state.push('|');
        state.push_str(&c.name);
        state.push_str(c.data_type.as_deref().unwrap_or("None"));
        state.push_str(&py_repr_list(&c.constraints, false));
    }
    if matches!(materialized, "table" | "incremental") {
        state.push_str(materialized);
        state.push_str(&py_repr_list(constraints, true));
    }
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A node's `contract` config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contract {
    pub enforced: bool,
    pub alias_types: bool,
}

impl Contract {
    /// Read `contract: {enforced, alias_types}` from a merged config.
    pub fn of(config: &Config, fallback: &Span) -> Result<Contract, Diagnostic> {
        let mut contract = Contract {
            enforced: false,
            alias_types: true,
        };
        let Some(value) = config.get("contract") else {
            return Ok(contract);
        };
        let span = config.span("contract").unwrap_or(fallback);
        let Some(map) = value.as_object() else {
            return Err(Diagnostic::error(format!(
                "`contract` must be a mapping, found `{value}`"
            ))
            .with_label(span, "expected a mapping")
            .with_help("write `contract: {enforced: true}`"));
        };
        for (key, v) in map {
            let slot = match key.as_str() {
                "enforced" => &mut contract.enforced,
                "alias_types" => &mut contract.alias_types,
                other => {
                    return Err(
                        Diagnostic::error(format!("unknown key `{other}` in `contract`"))
                            .with_label(span, "in this contract")
                            .with_help("a contract has `enforced` and `alias_types`"),
                    )
                }
            };
            *slot = v.as_bool().ok_or_else(|| {
                Diagnostic::error(format!(
                    "`contract.{key}` must be true or false, found `{v}`"
                ))
                .with_label(span, "in this contract")
            })?;
        }
        Ok(contract)
    }

    /// The manifest's `contract` of a node.
    pub fn to_json(self, checksum: Option<&str>) -> Json {
        json!({"enforced": self.enforced, "alias_types": self.alias_types, "checksum": checksum})
    }
}

const CONSTRAINT_KEYS: &[&str] = &[
    "type",
    "name",
    "expression",
    "warn_unenforced",
    "warn_unsupported",
    "to",
    "to_columns",
];
const MODEL_CONSTRAINT_KEYS: &[&str] = &[
    "type",
    "name",
    "expression",
    "warn_unenforced",
    "warn_unsupported",
    "to",
    "to_columns",
    "columns",
];

/// Parse a foreign key's `to:`: `ref('x')`, `ref('pkg', 'x')` or
/// `source('s', 't')`, each argument a quoted string.
pub fn parse_foreign_target(text: &str) -> Option<ForeignTarget> {
    let text = text.trim();
    let (func, rest) = text.split_once('(')?;
    let args = rest.trim_end().strip_suffix(')')?;
    let mut parts = Vec::new();
    for arg in args.split(',') {
        let arg = arg.trim();
        let unquoted = arg
            .strip_prefix('\'')
            .and_then(|a| a.strip_suffix('\''))
            .or_else(|| arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')))?;
        if unquoted.is_empty() || unquoted.contains(['\'', '"']) {
            return None;
        }
        parts.push(unquoted.to_owned());
    }
    match (func.trim(), parts.as_slice()) {
        ("ref", [name]) => Some(ForeignTarget::Ref {
            package: None,
            name: name.clone(),
        }),
        ("ref", [package, name]) => Some(ForeignTarget::Ref {
            package: Some(package.clone()),
            name: name.clone(),
        }),
        ("source", [source, table]) => Some(ForeignTarget::Source {
            source: source.clone(),
            table: table.clone(),
        }),
        _ => None,
    }
}

/// Read a `constraints:` list. `owner` names what it belongs to in messages
/// (`model m`, `column id`); `model_level`: whether entries may list `columns`.
pub fn read_constraints(
    list: Option<&Node>,
    owner: &str,
    model: &str,
    model_level: bool,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Vec<Constraint>, Diagnostic> {
    let Some(list) = list.filter(|n| !n.is_null()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in list.expect_seq("`constraints`")? {
        let map = entry.expect_map("a constraint")?;
        KeySet {
            what: "a constraint",
            known: if model_level {
                MODEL_CONSTRAINT_KEYS
            } else {
                CONSTRAINT_KEYS
            },
            ignored: &[],
        }
        .check(map, warnings)?;
        let invalid_type = |span: &Span| {
            let message = if model_level {
                format!(
                    "Invalid constraint type on {owner}: Type must be one of {}",
                    ConstraintType::valid_list()
                )
            } else {
                format!("Invalid constraint type on {owner}")
            };
            Diagnostic::error(message)
                .with_label(span, "not a constraint type")
                .with_help(format!("`type` is one of {}", ConstraintType::valid_list()))
        };
        let type_node = map.get("type").ok_or_else(|| invalid_type(&entry.span))?;
        let kind = ConstraintType::parse(type_node.expect_str("`type`")?)
            .ok_or_else(|| invalid_type(&type_node.span))?;
        let opt_str = |key: &str| -> Result<Option<String>, Diagnostic> {
            map.get(key)
                .filter(|n| !n.is_null())
                .map(|n| n.expect_scalar_text(&format!("`{key}`")))
                .transpose()
        };
        let flag = |key: &str| -> Result<bool, Diagnostic> {
            map.get(key)
                .map(|n| n.expect_bool(&format!("`{key}`")))
                .transpose()
                .map(|b| b.unwrap_or(true))
        };
        let list_of = |key: &str| -> Result<Vec<String>, Diagnostic> {
            map.get(key)
                .filter(|n| !n.is_null())
                .map(|n| n.expect_str_list(&format!("`{key}`")))
                .transpose()
                .map(Option::unwrap_or_default)
        };
        let to_node = map.get("to").filter(|n| !n.is_null());
        let to = match to_node {
            Some(n) => {
                let text = n.expect_str("`to`")?.to_owned();
                let target = parse_foreign_target(&text).ok_or_else(|| {
                    Diagnostic::error(format!(
                        "Invalid 'ref' or 'source' syntax on foreign key constraint 'to' on model {model}: {text}."
                    ))
                    .with_label(&n.span, "not a ref() or source()")
                    .with_help("write `to: ref('model')` or `to: source('source', 'table')`, with `to_columns: [...]`")
                })?;
                Some((text, target))
            }
            None => None,
        };
        out.push(Constraint {
            kind,
            name: opt_str("name")?,
            expression: opt_str("expression")?,
            warn_unenforced: flag("warn_unenforced")?,
            warn_unsupported: flag("warn_unsupported")?,
            to,
            to_columns: list_of("to_columns")?,
            columns: if model_level {
                list_of("columns")?
            } else {
                Vec::new()
            },
            span: type_node.span.clone(),
            to_span: to_node.map(|n| n.span.clone()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_targets_parse_as_dbt_reads_them() {
        assert_eq!(
            parse_foreign_target("ref('customers')"),
            Some(ForeignTarget::Ref {
                package: None,
                name: "customers".into()
            })
        );
        assert_eq!(
            parse_foreign_target(" source(\"raw\", 'orders') "),
            Some(ForeignTarget::Source {
                source: "raw".into(),
                table: "orders".into()
            })
        );
        assert_eq!(parse_foreign_target("reff('x')"), None);
        assert_eq!(parse_foreign_target("ref(x)"), None);
        assert_eq!(parse_foreign_target("customers"), None);
    }

    #[test]
    fn python_reprs_match_dbt_checksum_text() {
        assert_eq!(py_repr("amount >= 0"), "'amount >= 0'");
        assert_eq!(py_repr("ref('customers')"), "\"ref('customers')\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
    }
}
