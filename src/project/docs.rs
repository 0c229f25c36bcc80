//! Doc blocks: the `{% docs name %} ... {% enddocs %}` blocks of the `.md` files
//! under a project's `docs-paths` (dbt's default: every resource path), which
//! descriptions reference with `{{ doc('name') }}`.
//!
//! This module finds the blocks and checks that a project names each once; the
//! render stage (`render::docs`) resolves `doc()` calls against them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::snapshot::find_tag;
use crate::diagnostics::{Diagnostic, SourceFile, Span};

/// One `{% docs %}` block.
#[derive(Clone, Debug)]
pub struct DocBlock {
    pub name: String,
    /// The block's name where it is written.
    pub span: Span,
    /// The text between the tags, trimmed (dbt's `block_contents`).
    pub contents: String,
    /// The `.md` file relative to its docs path (dbt's `path`).
    pub path: PathBuf,
    /// The `.md` file relative to its project's folder (`original_file_path`).
    pub original_file_path: PathBuf,
}

/// The `{% docs %}` blocks of one file (`path`: relative to its docs path;
/// `original`: relative to its project's folder).
pub fn blocks(
    file: &Arc<SourceFile>,
    path: &Path,
    original: &Path,
) -> Result<Vec<DocBlock>, Diagnostic> {
    let text = &file.text;
    let mut out = Vec::new();
    let mut at = 0;
    while let Some((open_start, open_end, name_range)) = find_tag(text, at, "docs") {
        let name = &text[name_range.clone()];
        let name_span = Span::new(file, name_range.start, name_range.end);
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Diagnostic::error("a docs block needs a name")
                .with_label(&Span::new(file, open_start, open_end), "here")
                .with_help(
                    "write `{% docs orders %}` and reference it with `{{ doc('orders') }}`",
                ));
        }
        let Some((close_start, close_end, _)) = find_tag(text, open_end, "enddocs") else {
            return Err(
                Diagnostic::error(format!("docs block `{name}` has no `{{% enddocs %}}`"))
                    .with_label(&name_span, "this block is not closed")
                    .with_help("end the block with `{% enddocs %}`"),
            );
        };
        out.push(DocBlock {
            name: name.to_owned(),
            span: name_span,
            contents: text[open_end..close_start].trim().to_owned(),
            path: path.to_path_buf(),
            original_file_path: original.to_path_buf(),
        });
        at = close_end;
    }
    Ok(out)
}

/// Every doc block under `docs_paths` of the project in `dir` (files shown
/// relative to `display_root`), and every `.md` file read; two blocks of one
/// name are dbt's error.
pub fn load(
    display_root: &Path,
    dir: &Path,
    docs_paths: &[String],
    errors: &mut Vec<Diagnostic>,
) -> (Vec<DocBlock>, Vec<Arc<SourceFile>>) {
    let mut out: Vec<DocBlock> = Vec::new();
    let mut files = Vec::new();
    let mut seen_files = std::collections::HashSet::new();
    for folder in docs_paths {
        for (full, in_folder) in super::walk(dir, std::slice::from_ref(folder), "md") {
            // Overlapping docs paths (`models` and `models/docs`) read a file once.
            if !seen_files.insert(full.clone()) {
                continue;
            }
            let file = match super::read_source(display_root, &full) {
                Ok(f) => f,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            files.push(Arc::clone(&file));
            let original = super::relative_to(&full, dir);
            match blocks(&file, &in_folder, &original) {
                Ok(found) => {
                    for b in found {
                        if let Some(first) = out.iter().find(|d| d.name == b.name) {
                            errors.push(duplicate(&b, first));
                        } else {
                            out.push(b);
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
    }
    (out, files)
}

/// The `.md` files under `docs_paths`, in load order (for cache keys).
pub fn files(dir: &Path, docs_paths: &[String]) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    docs_paths
        .iter()
        .flat_map(|f| super::walk(dir, std::slice::from_ref(f), "md"))
        .map(|(full, _)| full)
        .filter(|full| seen.insert(full.clone()))
        .collect()
}

/// dbt's error for two doc blocks of one name in a project.
fn duplicate(again: &DocBlock, first: &DocBlock) -> Diagnostic {
    Diagnostic::error(format!(
        "dbt found two docs with the name \"{}\".",
        again.name
    ))
    .with_label(&again.span, "defined again here")
    .with_label(&first.span, "first defined here")
    .with_help(format!(
        "rename one of them: `doc(\"{}\")` must find one block",
        again.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_trimmed_and_whitespace_control_is_read() {
        let file = SourceFile::new(
            "models/docs.md",
            "intro\n{% docs a %}\n# A\n{% enddocs %}\n{%- docs b_2 -%} two {%- enddocs -%}\n",
        );
        let found =
            blocks(&file, Path::new("docs.md"), Path::new("models/docs.md")).expect("two blocks");
        let got: Vec<(&str, &str)> = found
            .iter()
            .map(|b| (b.name.as_str(), b.contents.as_str()))
            .collect();
        assert_eq!(got, vec![("a", "# A"), ("b_2", "two")]);
        assert_eq!(found[0].span.location(), "models/docs.md:2:9");
    }

    #[test]
    fn an_unclosed_block_is_located() {
        let file = SourceFile::new("models/docs.md", "{% docs a %}\nno end\n");
        let err =
            blocks(&file, Path::new("docs.md"), Path::new("models/docs.md")).expect_err("unclosed");
        assert!(
            err.render(false).contains("models/docs.md:1:9"),
            "{}",
            err.render(false)
        );
    }
}
