//! Installed packages: the dbt projects under the root project's
//! `packages-install-path` (`dbt_packages/`, filled by `dbt deps` or `sluice deps`),
//! each read from its own `dbt_project.yml` and loaded beside the root project.
//!
//! dbt installs a project's dependencies (and theirs) flat into that one folder, so
//! a package's own `dbt_packages/` is never read. Every folder with a
//! `dbt_project.yml` is a package, named by that file's `name:` (dbt's rule: the
//! folder name does not matter). Folders without one are skipped with a warning,
//! never silently.

use std::path::{Path, PathBuf};

use super::{dbt_project, load_files, read_source, Project, ProjectFile};
use crate::diagnostics::{Diagnostic, Diagnostics};

/// Load every package installed for the root project in `root` (absolute);
/// `version_check`: check each package's `require-dbt-version`, as dbt does.
pub fn load_all(
    root: &Path,
    pf: &ProjectFile,
    version_check: bool,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Vec<Project>, Diagnostics> {
    let dir = &pf.packages_install_path;
    let Ok(read) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut dirs: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    dirs.sort();
    let mut packages: Vec<Project> = Vec::new();
    let mut errors = Vec::new();
    for pkg_dir in dirs {
        let project_file = pkg_dir.join("dbt_project.yml");
        if !project_file.is_file() {
            warnings.push(
                Diagnostic::warning(format!(
                    "{} has no dbt_project.yml: it is not loaded as a package",
                    super::relative_to(&pkg_dir, root).display()
                ))
                .with_help("run `sluice deps` (or `dbt deps`) again to reinstall packages"),
            );
            continue;
        }
        match load_one(root, pf, &pkg_dir, &project_file, version_check) {
            Ok(p) => {
                if let Some(prev) = packages.iter().find(|q| q.name() == p.name()) {
                    errors.push(
                        Diagnostic::error(format!(
                            "two installed packages are both named `{}`: {} and {}",
                            p.name(),
                            prev.prefix.display(),
                            p.prefix.display()
                        ))
                        .with_label(&p.file.name_span, "second package")
                        .with_label(&prev.file.name_span, "first package")
                        .with_help("remove one of the two folders, then run `sluice deps`"),
                    );
                    continue;
                }
                packages.push(p);
            }
            Err(e) => errors.extend(e.0),
        }
    }
    if let Some(p) = packages.iter().find(|p| p.name() == pf.name) {
        errors.push(
            Diagnostic::error(format!(
                "installed package {} has the root project's name `{}`",
                p.prefix.display(),
                pf.name
            ))
            .with_label(&p.file.name_span, "package named here")
            .with_label(&pf.name_span, "root project named here")
            .with_help(
                "a project cannot depend on itself: remove it from packages.yml and dbt_packages/",
            ),
        );
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    Ok(packages)
}

fn load_one(
    root: &Path,
    root_pf: &ProjectFile,
    pkg_dir: &Path,
    project_file: &Path,
    version_check: bool,
) -> Result<Project, Diagnostics> {
    let mut warnings = Vec::new();
    let file = read_source(root, project_file)?;
    // dbt renders every project's Jinja with the root's target and `--vars`.
    let pf = dbt_project::parse_rendered(pkg_dir, file, &root_pf.yml_context, &mut warnings)?;
    if version_check {
        dbt_project::check_dbt_version(&pf, &pf.name)?;
    }
    let vars =
        super::project_yml::merged_vars(&[&pf, root_pf], &pf.name, &root_pf.yml_context.cli_vars);
    let mut project = load_files(root, pkg_dir, pf, &vars, Vec::new())?;
    // A package's own settings warnings (keys sluice ignores) are the package
    // author's, not the user's: keep them on the package, reported with it.
    project.warnings.extend(warnings);
    Ok(project)
}
