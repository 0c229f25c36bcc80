//! Unit-test fixture files: the `.csv` and `.sql` files in a project's
//! test-paths' `fixtures/` folders (at any depth), which a unit test's `given`
//! or `expect` names with `fixture: <file name without extension>` instead of
//! writing `rows:` inline, as dbt-core 1.8+ reads them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::diagnostics::{defined_twice, Diagnostic, SourceFile, Span};

use super::project_yml::ProjectFile;

/// One project's fixture files by name.
#[derive(Clone, Debug, Default)]
pub struct FixtureFiles {
    files: BTreeMap<String, Arc<SourceFile>>,
}

impl FixtureFiles {
    /// Read the fixtures of the project in `dir`; paths are shown relative to
    /// `display_root`. Two fixtures of one name are an error, as in dbt.
    pub fn load(
        display_root: &Path,
        dir: &Path,
        pf: &ProjectFile,
        errors: &mut Vec<Diagnostic>,
    ) -> FixtureFiles {
        let folders: Vec<String> = pf
            .test_paths
            .iter()
            .map(|p| format!("{}/fixtures", p.trim_end_matches('/')))
            .collect();
        let mut files = BTreeMap::new();
        for extension in ["csv", "sql"] {
            for (path, _) in super::walk(dir, &folders, extension) {
                let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                let file = match super::read_source(display_root, &path) {
                    Ok(f) => f,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                };
                if let Some(first) = files.get(name) {
                    errors.push(defined_twice(
                        "unit test fixture",
                        name,
                        &Span::file_start(&file),
                        &Span::file_start(first),
                    ));
                    continue;
                }
                files.insert(name.to_owned(), file);
            }
        }
        FixtureFiles { files }
    }

    /// The fixture file `name` in `format` (`csv` or `sql`), or a located error
    /// at the `fixture:` value.
    pub fn get(&self, name: &str, format: &str, at: &Span) -> Result<&Arc<SourceFile>, Diagnostic> {
        let wanted = format!("{name}.{format}");
        match self.files.get(name) {
            Some(f) if f.path.file_name().and_then(|n| n.to_str()) == Some(wanted.as_str()) => Ok(f),
            Some(f) => Err(Diagnostic::error(format!(
                "fixture `{name}` is {}, not a {format} file",
                f.path.display()
            ))
            .with_label(at, "this fixture")
            .with_help(format!("set the `format:` that matches the file, or add {wanted}"))),
            None => Err(Diagnostic::error(format!("no fixture file named `{name}`"))
                .with_label(at, "not found")
                .with_help(format!(
                    "unit test fixtures are files in a test-paths folder's `fixtures/` (for example tests/fixtures/{wanted}){}",
                    crate::diagnostics::did_you_mean(name, self.files.keys().map(String::as_str))
                        .map(|n| format!("; did you mean `{n}`?"))
                        .unwrap_or_default()
                ))),
        }
    }
}
