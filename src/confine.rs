//! Confinement: every file sluice writes under the target path stays inside it.
//!
//! A path made from a node's name (`compiled/<project>/<file>/<test name>.sql`)
//! must not climb out with `..`, and a symlink inside the target path must not
//! lead a write elsewhere. Checked lexically on every write, and by resolving
//! symlinks once per folder (cached: a 10,000-model compile writes into a few
//! hundred folders).

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::{LazyLock, Mutex};

/// Folders already resolved to lie inside their root: (root, folder).
static CHECKED: LazyLock<Mutex<HashSet<(PathBuf, PathBuf)>>> =
    LazyLock::new(|| Mutex::new(HashSet::new()));

/// Whether `path` lies inside `root`: under it lexically with no `..`, and
/// with its nearest existing folder resolving (symlinks followed) inside the
/// resolved `root`. The error says why not.
pub fn check(root: &Path, path: &Path) -> Result<(), String> {
    let Ok(rel) = path.strip_prefix(root) else {
        return Err(format!("{} is outside {}", path.display(), root.display()));
    };
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(format!(
            "{} climbs out of {} (`..` in the path)",
            path.display(),
            root.display()
        ));
    }
    let Some(mut dir) = path.parent() else {
        return Ok(());
    };
    while !dir.exists() {
        match dir.parent() {
            Some(up) if up.starts_with(root) => dir = up,
            // Nothing under the root exists yet: what is made is made inside it.
            _ => return Ok(()),
        }
    }
    let key = (root.to_path_buf(), dir.to_path_buf());
    let mut checked = CHECKED.lock().unwrap_or_else(|p| p.into_inner());
    if checked.contains(&key) {
        return Ok(());
    }
    let resolved_root =
        std::fs::canonicalize(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let resolved = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !resolved.starts_with(&resolved_root) {
        return Err(format!(
            "{} leads through a symlink to {}, outside {}",
            dir.display(),
            resolved.display(),
            root.display()
        ));
    }
    checked.insert(key);
    Ok(())
}

/// `path` resolved as far as it exists (symlinks followed), with the rest
/// appended: where a write or a delete of `path` would land.
pub fn resolve(path: &Path) -> PathBuf {
    let mut existing = path;
    let mut rest = Vec::new();
    loop {
        if let Ok(resolved) = std::fs::canonicalize(existing) {
            return rest.iter().rev().fold(resolved, |p, c| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(up), Some(name)) => {
                rest.push(name.to_owned());
                existing = up;
            }
            _ => return path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside_pass_and_paths_that_climb_out_fail() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("target");
        std::fs::create_dir_all(root.join("compiled")).expect("mkdir");
        assert!(check(&root, &root.join("compiled/a.sql")).is_ok());
        assert!(check(&root, &root.join("compiled/new/folder/a.sql")).is_ok());
        assert!(check(&root, &root.join("compiled/../../x.sql")).is_err());
        assert!(check(&root, &dir.path().join("x.sql")).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_of_the_root_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outside = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("target");
        std::fs::create_dir_all(&root).expect("mkdir");
        std::os::unix::fs::symlink(outside.path(), root.join("compiled")).expect("symlink");
        let err = check(&root, &root.join("compiled/a.sql")).expect_err("refused");
        assert!(err.contains("symlink"), "{err}");
        assert_eq!(
            resolve(&root.join("compiled/new/a.sql")),
            std::fs::canonicalize(outside.path())
                .expect("exists")
                .join("new/a.sql")
        );
    }
}
