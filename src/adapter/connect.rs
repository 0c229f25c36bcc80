//! Opening the warehouse a target names: the DuckDB file (its settings,
//! extensions and `attach:`ed databases), or a Snowflake or BigQuery client.

use std::path::Path;

use super::bigquery::BigQueryAdapter;
use super::duckdb::DuckDbAdapter;
use super::snowflake::SnowflakeAdapter;
use super::Adapter;
use crate::diagnostics::{Diagnostic, Span};
use crate::project::{self, Project, TargetDef, WarehouseKind};

/// The DuckDB file's path (relative to the project), `:memory:` for none.
fn duckdb_path(project: &Project, def: &TargetDef) -> Result<String, Diagnostic> {
    Ok(match def.field("path") {
        Some(n) => project::render_field(n, "`path`")?,
        None => format!("{}.duckdb", project.name()),
    })
}

/// DuckDB names a database file's catalog after the file's stem.
pub fn duckdb_catalog(project: &Project, def: &TargetDef) -> Result<String, Diagnostic> {
    let path = duckdb_path(project, def)?;
    if path == ":memory:" {
        return Ok("memory".to_owned());
    }
    Ok(Path::new(&path)
        .file_stem()
        .map_or_else(|| "memory".to_owned(), |s| s.to_string_lossy().into_owned()))
}

/// Whether the target can hold relations from an earlier run (a warehouse, or a
/// DuckDB file that exists), so that asking it which ones exist is worth it.
pub fn may_hold_relations(project: &Project, def: &TargetDef) -> Result<bool, Diagnostic> {
    if def.kind != WarehouseKind::DuckDb {
        return Ok(true);
    }
    let path = duckdb_path(project, def)?;
    Ok(path != ":memory:" && project.root.join(path).is_file())
}

/// The warehouse connection for the target; `schema` is its default schema.
pub fn connect(
    project: &Project,
    def: &TargetDef,
    schema: &str,
) -> Result<Box<dyn Adapter>, Diagnostic> {
    match def.kind {
        WarehouseKind::DuckDb => {
            let path = duckdb_path(project, def)?;
            let adapter = if path == ":memory:" {
                DuckDbAdapter::open_in_memory()
            } else {
                DuckDbAdapter::open(&project.root.join(&path))
            };
            let adapter = adapter.map_err(|e| {
                Diagnostic::error(format!("cannot open the DuckDB database {path}: {e}"))
                    .with_label(&def.span, "in this target")
                    .with_help(
                        "check the `path` of the target, and that no other process holds the file",
                    )
            })?;
            adapter.apply_target_setup(def)?;
            // `attach:` (as in dbt-duckdb): other database files, readable under
            // an alias, e.g. production's for `--defer`.
            for (file, alias, read_only, span) in duckdb_attachments(def)? {
                adapter
                    .attach(&project.root.join(&file), &alias, read_only)
                    .map_err(|e| {
                        Diagnostic::error(format!("cannot attach {file} as `{alias}`: {e}"))
                            .with_label(&span, "attached here")
                            .with_help("check the path, and that the alias is not the target's own catalog name")
                    })?;
            }
            Ok(Box::new(adapter))
        }
        WarehouseKind::Snowflake => Ok(Box::new(SnowflakeAdapter::from_target(def, schema)?)),
        WarehouseKind::BigQuery => Ok(Box::new(BigQueryAdapter::from_target(def, schema)?)),
    }
}

/// The target's `attach:` list: (path, alias, read-only (unless `read_only:
/// false`), where it is written).
fn duckdb_attachments(def: &TargetDef) -> Result<Vec<(String, String, bool, Span)>, Diagnostic> {
    let Some(list) = def.field("attach") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for item in list.expect_seq("`attach`")? {
        let path = item
            .get("path")
            .ok_or_else(|| {
                Diagnostic::error("an `attach` entry needs a `path`")
                    .with_label(&item.span, "this entry")
                    .with_help("write `attach: [{path: prod.duckdb, alias: prod}]`")
            })
            .and_then(|n| project::render_field(n, "`path`"))?;
        let alias = match item.get("alias") {
            Some(n) => n.expect_str("`alias`")?.to_owned(),
            None => Path::new(&path)
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
        };
        let read_only = match item.get("read_only") {
            Some(n) => n.expect_bool("`read_only`")?,
            None => true,
        };
        out.push((path, alias, read_only, item.span.clone()));
    }
    Ok(out)
}
