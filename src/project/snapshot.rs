//! Snapshots (type-2 slowly changing dimensions), as dbt declares them: a
//! `{% snapshot name %} ... {% endsnapshot %}` block in a file under the snapshot
//! paths, or a YAML entry under `snapshots:` naming a `relation:` (dbt 1.9).
//!
//! This module finds the blocks and reads a snapshot's config (`strategy`,
//! `unique_key`, `updated_at`, `check_cols`, `hard_deletes`, `target_schema`);
//! `execute::snapshot` writes the SQL that maintains the history.

use std::sync::Arc;

use serde_json::Value as Json;

use super::config::Config;
use super::ProjectFileEntry;
use crate::diagnostics::{suggestion_help, Diagnostic, SourceFile, Span};

/// One snapshot to parse: its template (the block's body) and where it is written.
#[derive(Clone, Debug)]
pub struct SnapshotBlock {
    /// `name` is the snapshot's; `file` is the snapshot file (or the YAML file).
    pub entry: ProjectFileEntry,
    /// The template's source: the file with everything outside the block's body
    /// blanked (same offsets, so errors point at the right line), or for a YAML
    /// snapshot `select * from <relation>`.
    pub source: String,
    /// The template's name in the renderer (`snapshots/x.sql::name`).
    pub template: String,
    /// The block's name in the file, or the YAML entry's name.
    pub span: Span,
}

/// The `{% snapshot %}` blocks of one file.
pub fn blocks(entry: &ProjectFileEntry) -> Result<Vec<SnapshotBlock>, Diagnostic> {
    let text = &entry.file.text;
    let mut out = Vec::new();
    let mut at = 0;
    while let Some((open_start, open_end, name_range)) = find_tag(text, at, "snapshot") {
        let name = text[name_range.clone()].to_owned();
        let name_span = Span::new(&entry.file, name_range.start, name_range.end);
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Diagnostic::error("a snapshot block needs a name")
                .with_label(&Span::new(&entry.file, open_start, open_end), "here")
                .with_help("write `{% snapshot opportunities_snapshot %}`"));
        }
        let Some((close_start, close_end, _)) = find_tag(text, open_end, "endsnapshot") else {
            return Err(Diagnostic::error(format!(
                "snapshot `{name}` has no `{{% endsnapshot %}}`"
            ))
            .with_label(&name_span, "this block is not closed")
            .with_help("end the block with `{% endsnapshot %}`"));
        };
        // Keep the body; blank the rest but its newlines, so offsets stay true.
        let blanked: String = text
            .char_indices()
            .map(|(i, c)| {
                if (open_end..close_start).contains(&i) || c == '\n' {
                    c
                } else {
                    ' '
                }
            })
            .collect();
        let mut fqn = entry.fqn.clone();
        fqn.pop();
        fqn.push(name.clone());
        out.push(SnapshotBlock {
            template: format!("{}::{name}", entry.rel_path.display()),
            source: blanked,
            entry: ProjectFileEntry {
                name,
                file: Arc::clone(&entry.file),
                rel_path: entry.rel_path.clone(),
                path_in_folder: entry.path_in_folder.clone(),
                fqn,
            },
            span: name_span,
        });
        at = close_end;
    }
    if out.is_empty() {
        return Err(Diagnostic::error(format!(
            "{} has no snapshot block",
            entry.rel_path.display()
        ))
        .with_label(&Span::file_start(&entry.file), "expected `{% snapshot name %}`")
        .with_help(
            "wrap the snapshot's SELECT in `{% snapshot name %} ... {% endsnapshot %}`, or move the file out of the snapshot paths",
        ));
    }
    Ok(out)
}

/// The next `{% tag args %}` from `from`: (start, end, range of its first argument).
pub(super) fn find_tag(
    text: &str,
    from: usize,
    tag: &str,
) -> Option<(usize, usize, std::ops::Range<usize>)> {
    let mut search = from;
    while let Some(pos) = text[search..].find("{%") {
        let start = search + pos;
        let end = text[start..].find("%}").map(|e| start + e + 2)?;
        let inner_start = start + 2 + usize::from(text[start + 2..].starts_with('-'));
        let inner = &text[inner_start..end - 2];
        let inner = inner.strip_suffix('-').unwrap_or(inner);
        let trimmed = inner.trim_start();
        let lead = inner.len() - trimmed.len();
        if let Some(rest) = trimmed.strip_prefix(tag) {
            if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                let arg = rest.trim_start();
                let arg_start = inner_start + lead + tag.len() + (rest.len() - arg.len());
                let arg_len = arg.find(char::is_whitespace).unwrap_or(arg.len());
                return Some((start, end, arg_start..arg_start + arg_len));
            }
        }
        search = end;
    }
    None
}

/// A YAML snapshot (`relation: ref('x')`): its template selects the relation.
pub fn yaml_block(
    name: &str,
    relation: &str,
    relation_span: &Span,
    yaml: &Arc<SourceFile>,
    fqn: Vec<String>,
) -> Result<SnapshotBlock, Diagnostic> {
    let r = relation.trim();
    let shape_ok = (r.starts_with("ref(") || r.starts_with("source(")) && r.ends_with(')');
    if !shape_ok {
        return Err(Diagnostic::error(format!(
            "snapshot `{name}`: `relation` must be a ref() or source() call"
        ))
        .with_label(relation_span, "not a ref() or source()")
        .with_help("write `relation: ref('stg_opportunities')` or `relation: source('crm', 'opportunities')`"));
    }
    Ok(SnapshotBlock {
        template: format!("{}::{name}", yaml.path.display()),
        source: format!("select * from {{{{ {r} }}}}\n"),
        entry: ProjectFileEntry {
            name: name.to_owned(),
            file: Arc::clone(yaml),
            rel_path: yaml.path.clone(),
            // Its compiled file goes in a folder named after the YAML file.
            path_in_folder: format!("{name}.sql").into(),
            fqn,
        },
        span: relation_span.clone(),
    })
}

/// How a snapshot decides that a row changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// A newer `updated_at` than the current version's.
    Timestamp { updated_at: String },
    /// Any of these columns differs (`All`: every column the query returns).
    Check { columns: CheckCols },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckCols {
    All,
    List(Vec<String>),
}

/// What happens to a current version whose key left the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HardDeletes {
    /// It stays current.
    Ignore,
    /// Its `dbt_valid_to` is set to the snapshot time.
    Invalidate,
    /// It is closed, and a version with `dbt_is_deleted = 'True'` opens.
    NewRecord,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotConfig {
    pub strategy: Strategy,
    pub unique_key: Vec<String>,
    pub hard_deletes: HardDeletes,
    /// dbt's legacy `target_schema`: the schema, used verbatim.
    pub target_schema: Option<String>,
}

fn strings(value: &Json) -> Option<Vec<String>> {
    match value {
        Json::String(s) => Some(
            s.split(',')
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty())
                .collect(),
        ),
        Json::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(|s| s.trim().to_owned()))
            .collect(),
        _ => None,
    }
}

impl SnapshotConfig {
    pub fn of(config: &Config, name: &str, fallback: &Span) -> Result<SnapshotConfig, Diagnostic> {
        let span = |key: &str| config.span(key).unwrap_or(fallback).clone();
        let unique_key =
            match config.get("unique_key").and_then(strings) {
                Some(k) if !k.is_empty() => k,
                _ => return Err(Diagnostic::error(format!(
                    "snapshot `{name}` has no `unique_key`"
                ))
                .with_label(&span("unique_key"), "a snapshot tracks each row by its key")
                .with_help(
                    "add `unique_key='id'` (or a list of columns) to the snapshot's config",
                )),
            };
        let strategy = match config.get_str("strategy") {
            Some("timestamp") => {
                match config.get_str("updated_at") {
                    Some(u) if !u.trim().is_empty() => Strategy::Timestamp {
                        updated_at: u.trim().to_owned(),
                    },
                    _ => return Err(Diagnostic::error(format!(
                        "snapshot `{name}` uses the timestamp strategy but names no `updated_at`"
                    ))
                    .with_label(&span("strategy"), "timestamp strategy")
                    .with_help(
                        "add `updated_at='<column>'`: the column that says when a row last changed",
                    )),
                }
            }
            Some("check") => {
                let columns = match config.get("check_cols") {
                    Some(Json::String(s)) if s == "all" => CheckCols::All,
                    Some(v) => match strings(v) {
                        Some(list) if !list.is_empty() => CheckCols::List(list),
                        _ => {
                            return Err(Diagnostic::error(format!(
                            "snapshot `{name}`: `check_cols` must be \"all\" or a list of columns"
                        ))
                            .with_label(&span("check_cols"), "invalid value"))
                        }
                    },
                    None => {
                        return Err(Diagnostic::error(format!(
                            "snapshot `{name}` uses the check strategy but names no `check_cols`"
                        ))
                        .with_label(&span("strategy"), "check strategy")
                        .with_help("add `check_cols=['stage', 'amount']` (or `'all'`)"))
                    }
                };
                Strategy::Check { columns }
            }
            other => {
                let found = other.unwrap_or("");
                let help = suggestion_help(found, ["timestamp", "check"], || {
                    "set `strategy='timestamp'` (with `updated_at`) or `strategy='check'` (with `check_cols`)".to_owned()
                });
                return Err(Diagnostic::error(match other {
                    Some(s) => format!("snapshot `{name}`: unknown strategy `{s}`"),
                    None => format!("snapshot `{name}` has no `strategy`"),
                })
                .with_label(&span("strategy"), "strategy")
                .with_help(help));
            }
        };
        let hard_deletes = match (
            config.get_str("hard_deletes"),
            config.get_bool("invalidate_hard_deletes"),
        ) {
            (Some("ignore"), _) | (None, None | Some(false)) => HardDeletes::Ignore,
            (Some("invalidate"), _) | (None, Some(true)) => HardDeletes::Invalidate,
            (Some("new_record"), _) => HardDeletes::NewRecord,
            (Some(other), _) => {
                let help = suggestion_help(other, ["ignore", "invalidate", "new_record"], || {
                    "hard_deletes must be ignore, invalidate or new_record".to_owned()
                });
                return Err(Diagnostic::error(format!(
                    "snapshot `{name}`: unknown hard_deletes `{other}`"
                ))
                .with_label(&span("hard_deletes"), "unknown value")
                .with_help(help));
            }
        };
        Ok(SnapshotConfig {
            strategy,
            unique_key,
            hard_deletes,
            target_schema: config.get_str("target_schema").map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn entry(text: &str) -> ProjectFileEntry {
        let path = PathBuf::from("snapshots/s.sql");
        ProjectFileEntry {
            name: "s".into(),
            file: SourceFile::new(path.clone(), text.to_owned()),
            rel_path: path.clone(),
            path_in_folder: "s.sql".into(),
            fqn: vec!["p".into(), "s".into()],
        }
    }

    #[test]
    fn blocks_keep_their_body_at_the_same_offsets() {
        let text = "-- history\n{% snapshot opp_history %}\nselect 1\n{%- endsnapshot %}\n{% snapshot b %}select 2{% endsnapshot %}";
        let found = blocks(&entry(text)).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].entry.name, "opp_history");
        assert_eq!(found[0].template, "snapshots/s.sql::opp_history");
        let body = &found[0].source;
        assert_eq!(body.len(), text.len());
        assert_eq!(body.find("select 1"), text.find("select 1"));
        assert!(!body.contains("snapshot"));
        assert_eq!(found[1].source.trim(), "select 2");
    }

    #[test]
    fn an_unclosed_block_is_an_error() {
        let err = blocks(&entry("{% snapshot x %}\nselect 1")).unwrap_err();
        assert!(
            err.message.contains("no `{% endsnapshot %}`"),
            "{}",
            err.message
        );
    }
}
