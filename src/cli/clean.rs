//! `sluice clean`: remove the project's `clean-targets` (dbt's default:
//! `[target-path]`), and nothing else.
//!
//! As dbt does, it refuses to remove a source path (model, seed, macro, test or
//! snapshot paths) and, unless `--no-clean-project-files-only`, anything outside
//! the project. Beyond dbt, it refuses to remove a folder holding a target's DuckDB
//! file (the warehouse and its snapshot history) unless `--force` says so.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{CommonArgs, Outcome};
use crate::diagnostics::{Diagnostic, Diagnostics, Span};
use crate::project::{self, Project, WarehouseKind};

#[derive(Args, Debug)]
pub struct CleanArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Only remove paths inside the project (the default, as in dbt)
    #[arg(long, overrides_with = "no_clean_project_files_only")]
    pub clean_project_files_only: bool,
    /// Also remove clean-targets outside the project directory
    #[arg(long, overrides_with = "clean_project_files_only")]
    pub no_clean_project_files_only: bool,
    /// Remove a folder even when it holds a target's database file
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &CleanArgs) -> Result<Outcome, Diagnostics> {
    // The target's database files come from profiles.yml for a dbt project; a
    // profile that cannot be read (no connection is needed to clean) leaves none
    // to protect, so load without it then.
    let opts = args.common.options().load_options(&Default::default());
    let project = match project::load(&opts) {
        Ok(p) => p,
        Err(_) => {
            let mut opts = opts;
            opts.skip_profile = true;
            project::load(&opts)?
        }
    };
    let targets = clean_targets(&project)?;
    let root = normalize(&project.root);
    let mut errors = Vec::new();
    let sources: Vec<PathBuf> = [
        &project.file.model_paths,
        &project.file.seed_paths,
        &project.file.macro_paths,
        &project.file.test_paths,
        &project.file.snapshot_paths,
    ]
    .into_iter()
    .flatten()
    .map(|p| crate::confine::resolve(&normalize(&project.root.join(p))))
    .collect();
    // Compared as they resolve, symlinks followed: a target path that is a
    // symlink (or lies under one) is where it leads.
    let resolved_root = crate::confine::resolve(&root);
    let databases = database_files(&project);
    for (path, span) in &targets {
        let label = |d: Diagnostic| match span {
            Some(s) => d.with_label(s, "listed here"),
            None => d,
        };
        let resolved = crate::confine::resolve(path);
        // dbt clean removes any folder but the project's sources; removing the
        // project itself would take the sources with it.
        if *path == root
            || resolved == resolved_root
            || resolved_root.starts_with(&resolved)
            || sources
                .iter()
                .any(|s| *s == resolved || s.starts_with(&resolved))
        {
            errors.push(label(
                Diagnostic::error(format!(
                    "sluice will not clean {}: it holds the project's sources",
                    path.display()
                ))
                .with_help(
                    "list only generated folders in `clean-targets`, e.g. `[target, dbt_packages]`",
                ),
            ));
            continue;
        }
        if !path.starts_with(&root) && !args.no_clean_project_files_only {
            errors.push(label(
                Diagnostic::error(format!(
                    "sluice will not clean {}: it is outside the project",
                    path.display()
                ))
                .with_help("pass --no-clean-project-files-only to remove it anyway, as dbt does"),
            ));
            continue;
        }
        if !resolved.starts_with(&resolved_root) && !args.no_clean_project_files_only {
            errors.push(label(
                Diagnostic::error(format!(
                    "sluice will not clean {}: a symlink leads it out of the project, to {}",
                    path.display(),
                    resolved.display()
                ))
                .with_help(
                    "remove the symlink, or pass --no-clean-project-files-only to delete \
                     what it leads to, as dbt does",
                ),
            ));
            continue;
        }
        let held: Vec<&(String, PathBuf)> = databases
            .iter()
            .filter(|(_, db)| db.starts_with(path) && db.exists())
            .collect();
        if !held.is_empty() && !args.force {
            let mut d = label(Diagnostic::error(format!(
                "sluice will not clean {}: it holds the warehouse of {}",
                path.display(),
                held.iter()
                    .map(|(t, db)| format!("target `{t}` ({})", db.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
            .with_help(
                "keep the DuckDB `path:` outside the target-path (e.g. `path: my_project.duckdb`), \
                 or pass --force to delete the database and its snapshot history too",
            );
            if let Some(t) = project.file.targets.iter().find(|t| t.name == held[0].0) {
                if let Some(n) = t.field("path") {
                    d = d.with_label(&n.span, "the database file is set here");
                }
            }
            errors.push(d);
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    for (path, _) in &targets {
        if path.exists() {
            // The folder a symlink leads to (checked above), not the link: what
            // dbt's rmtree would remove, had it not refused symlinks.
            std::fs::remove_dir_all(crate::confine::resolve(path))
                .map_err(|e| Diagnostic::error(format!("cannot remove {}: {e}", path.display())))?;
            crate::output::println(&format!("Removed {}", path.display()));
        } else {
            crate::output::println(&format!(
                "Nothing to clean: {} does not exist",
                path.display()
            ));
        }
    }
    Ok(Outcome::Success)
}

/// `clean-targets` from the project file (either door: both spell the key as dbt
/// does), absolute, with the span that names each; `[target-path]` if unset.
fn clean_targets(project: &Project) -> Result<Vec<(PathBuf, Option<Span>)>, Diagnostic> {
    let doc = project::yaml::parse(&project.file.file)?;
    let Some(list) = doc.get("clean-targets").filter(|n| !n.is_null()) else {
        return Ok(vec![(normalize(project.target_path()), None)]);
    };
    let mut out = Vec::new();
    for item in list.expect_seq("`clean-targets`")? {
        let p = item.expect_str("a `clean-targets` entry")?;
        out.push((normalize(&project.root.join(p)), Some(item.span.clone())));
    }
    Ok(out)
}

/// Every DuckDB file a target (or its `attach:` list) names, absolute.
fn database_files(project: &Project) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for t in &project.file.targets {
        if t.kind != WarehouseKind::DuckDb {
            continue;
        }
        let mut paths = Vec::new();
        match t.field("path") {
            // A path that cannot be rendered here (an unset env var) cannot be checked.
            Some(n) => paths.extend(project::render_field(n, "`path`").ok()),
            None => paths.push(format!("{}.duckdb", project.name())),
        }
        if let Some(Ok(list)) = t.field("attach").map(|n| n.expect_seq("`attach`")) {
            for item in list {
                if let Some(n) = item.get("path") {
                    paths.extend(project::render_field(n, "`path`").ok());
                }
            }
        }
        for p in paths {
            if p != ":memory:" && !p.starts_with("md:") {
                out.push((t.name.clone(), normalize(&project.root.join(p))));
            }
        }
    }
    out
}

/// `a/./b/../c` → `a/c`, without touching the filesystem (the path may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
