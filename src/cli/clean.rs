//! `sluice clean`: remove the project's target-path, and nothing else.

use super::{CommonArgs, Outcome};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::project;

pub fn run(args: &CommonArgs) -> Result<Outcome, Diagnostics> {
    let mut opts = project::LoadOptions::new(args.project_dir());
    // Removing files needs no connection: profiles.yml is not read.
    opts.skip_profile = true;
    let project = project::load(&opts)?;
    let target = project.target_path();
    // Refuse to delete the project itself (target-path: ".") or anything outside it.
    if !target.starts_with(&project.root) || target == project.root {
        return Err(Diagnostic::error(format!(
            "refusing to remove {}: target-path must be a folder inside the project",
            target.display()
        ))
        .with_help("set `target-path: .sluice` in project.yml")
        .into());
    }
    if target.exists() {
        std::fs::remove_dir_all(target)
            .map_err(|e| Diagnostic::error(format!("cannot remove {}: {e}", target.display())))?;
        println!("Removed {}", target.display());
    } else {
        println!("Nothing to clean: {} does not exist", target.display());
    }
    Ok(Outcome::Success)
}
