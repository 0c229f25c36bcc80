//! Where packages come from: the hub's JSON API, tarball downloads, `git`
//! clones (the `git` CLI, run with dbt's arguments), and the file-system moves
//! and links that put a package into packages-install-path.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value as Json;

/// A failure, as text; the caller attaches the location.
pub type Failure = String;

/// Replace the values of `DBT_ENV_SECRET_*` variables, as dbt scrubs them.
pub fn scrub(text: &str) -> String {
    let mut out = text.to_owned();
    for (k, v) in std::env::vars() {
        if k.starts_with("DBT_ENV_SECRET_") && !v.is_empty() {
            out = out.replace(&v, "*****");
        }
    }
    out
}

/// A blocking HTTP client for the hub and tarballs, retrying transport
/// failures as dbt does (`connection_exception_retry`, 5 attempts).
pub struct Http {
    agent: ureq::Agent,
}

const ATTEMPTS: u32 = 5;
const MAX_BYTES: u64 = 1024 * 1024 * 1024;

impl Default for Http {
    fn default() -> Http {
        Http::new()
    }
}

impl Http {
    pub fn new() -> Http {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Http { agent }
    }

    pub fn get(&self, url: &str) -> Result<Vec<u8>, Failure> {
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
            }
            match self.agent.get(url).call() {
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    if !(200..300).contains(&status) {
                        return Err(format!("GET {} returned HTTP {status}", scrub(url)));
                    }
                    match resp.body_mut().with_config().limit(MAX_BYTES).read_to_vec() {
                        Ok(body) => return Ok(body),
                        Err(e) => last = e.to_string(),
                    }
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(format!(
            "GET {} failed after {ATTEMPTS} attempts: {}",
            scrub(url),
            scrub(&last)
        ))
    }

    pub fn get_json(&self, url: &str) -> Result<Json, Failure> {
        let body = self.get(url)?;
        serde_json::from_slice(&body)
            .map_err(|e| format!("GET {} did not return JSON: {e}", scrub(url)))
    }
}

/// The hub's JSON API at `DBT_PACKAGE_HUB_URL` (default https://hub.getdbt.com/),
/// with dbt's URL scheme and response checks; responses are cached per run.
pub struct Hub {
    pub base: String,
    index: Option<Vec<String>>,
    packages: HashMap<String, serde_json::Map<String, Json>>,
}

impl Hub {
    pub fn from_env() -> Hub {
        let base = std::env::var("DBT_PACKAGE_HUB_URL")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "https://hub.getdbt.com/".to_owned());
        Hub {
            base,
            index: None,
            packages: HashMap::new(),
        }
    }

    fn url(&self, name: &str) -> String {
        // dbt concatenates: the base URL ends with a slash.
        format!("{}api/v1/{name}.json", self.base)
    }

    pub fn index(&mut self, http: &Http) -> Result<&[String], Failure> {
        if self.index.is_none() {
            let url = self.url("index");
            let Json::Array(items) = http.get_json(&url)? else {
                return Err(format!("{url} is not a list of packages"));
            };
            self.index = Some(
                items
                    .into_iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            );
        }
        Ok(self.index.as_deref().unwrap_or_default())
    }

    /// The `versions` of a package: version string → that version's metadata.
    pub fn versions(
        &mut self,
        http: &Http,
        package: &str,
    ) -> Result<&serde_json::Map<String, Json>, Failure> {
        if !self.packages.contains_key(package) {
            let url = self.url(package);
            let json = http.get_json(&url)?;
            let Json::Object(obj) = json else {
                return Err(format!("{url} is not a JSON object"));
            };
            if obj.get("name").is_none() {
                return Err(format!("{url} has no `name`"));
            }
            let Some(Json::Object(versions)) = obj.get("versions") else {
                return Err(format!("{url} has no `versions`"));
            };
            for (v, meta) in versions {
                for key in ["name", "packages", "downloads"] {
                    if meta.get(key).is_none() {
                        return Err(format!("{url}: version {v} has no `{key}`"));
                    }
                }
            }
            self.packages.insert(package.to_owned(), versions.clone());
        }
        Ok(&self.packages[package])
    }
}

/// A per-run downloads folder (`DBT_DOWNLOADS_DIR`, else a temporary one that is
/// removed when dropped), as dbt's `downloads_directory()`.
pub struct Downloads {
    pub path: PathBuf,
    remove: bool,
}

impl Downloads {
    pub fn new() -> Result<Downloads, Failure> {
        if let Some(dir) = std::env::var_os("DBT_DOWNLOADS_DIR") {
            let path = PathBuf::from(dir);
            std::fs::create_dir_all(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            return Ok(Downloads {
                path,
                remove: false,
            });
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("sluice-downloads-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(Downloads { path, remove: true })
    }
}

impl Drop for Downloads {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// `os.path.abspath(os.path.join(base, path))`: absolute and `..`-free, without
/// resolving symlinks (dbt links to this path).
pub fn resolve_from(base: &Path, path: &str) -> PathBuf {
    let expanded = match path.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map_or_else(|| PathBuf::from(path), |h| PathBuf::from(h).join(rest)),
        None => PathBuf::from(path),
    };
    let joined = base.join(expanded);
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Remove whatever is at `path` (a link, a file or a folder).
pub fn remove_path(path: &Path) -> Result<(), Failure> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let r = if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    r.map_err(|e| format!("cannot remove {}: {e}", path.display()))
}

fn copy_dir(src: &Path, dest: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dest)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let to = dest.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &to)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(entry.path())?;
            symlink(&target, &to)?;
        } else {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(target, link)
}

/// `shutil.move`: a rename, or a copy and delete across file systems.
pub fn move_dir(src: &Path, dest: &Path) -> Result<(), Failure> {
    if std::fs::rename(src, dest).is_ok() {
        return Ok(());
    }
    copy_dir(src, dest)
        .and_then(|()| std::fs::remove_dir_all(src))
        .map_err(|e| format!("cannot move {} to {}: {e}", src.display(), dest.display()))
}

/// A local package: a symlink to its folder, or a copy where links fail (dbt).
pub fn link_or_copy(src: &Path, dest: &Path) -> Result<(), Failure> {
    remove_path(dest)?;
    if symlink(src, dest).is_ok() {
        return Ok(());
    }
    copy_dir(src, dest)
        .map_err(|e| format!("cannot copy {} to {}: {e}", src.display(), dest.display()))
}

/// dbt's `untar_package`: extract a gzip tarball into `dest_dir` (refusing paths
/// that leave it), then rename the members' common prefix to `rename_to`.
pub fn untar(bytes: &[u8], dest_dir: &Path, rename_to: &str) -> Result<(), Failure> {
    std::fs::create_dir_all(dest_dir)
        .map_err(|e| format!("cannot create {}: {e}", dest_dir.display()))?;
    let mut names: Vec<String> = Vec::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let entries = archive
        .entries()
        .map_err(|e| format!("not a gzip tarball: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("a corrupt tarball: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("a corrupt tarball: {e}"))?
            .to_string_lossy()
            .trim_end_matches('/')
            .to_owned();
        // pax headers and the like carry no file.
        if matches!(
            entry.header().entry_type(),
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let ok = entry
            .unpack_in(dest_dir)
            .map_err(|e| format!("cannot extract {path}: {e}"))?;
        if !ok {
            return Err(format!(
                "the tarball member {path} would be written outside its folder"
            ));
        }
        names.push(path);
    }
    // os.path.commonprefix: a character prefix, not a path one.
    let prefix = names
        .iter()
        .skip(1)
        .fold(names.first().cloned().unwrap_or_default(), |acc, n| {
            acc.chars()
                .zip(n.chars())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect()
        });
    let from = dest_dir.join(&prefix);
    let to = dest_dir.join(rename_to);
    if from != to {
        remove_path(&to)?;
        std::fs::rename(&from, &to).map_err(|e| {
            format!(
                "cannot rename {} to {}: {e} (a package tarball holds one top folder)",
                from.display(),
                to.display()
            )
        })?;
    }
    Ok(())
}

fn git(cwd: &Path, args: &[&str]) -> Result<String, Failure> {
    let out = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| format!("cannot run git: {e} (is git installed and on PATH?)"))?;
    if !out.status.success() {
        return Err(format!(
            "`git {}` failed: {}",
            scrub(&args.join(" ")),
            scrub(String::from_utf8_lossy(&out.stderr).trim())
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn is_commit(revision: &str) -> bool {
    revision.len() == 40
        && revision
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// dbt's `clone_and_checkout`: a shallow clone into `downloads/dirname`
/// (sparse for a subdirectory), then fetch and hard-reset to the revision
/// (a tag before a branch of the same name). Returns the checkout folder
/// (with the subdirectory) and the commit it is at.
pub fn git_checkout(
    repo: &str,
    downloads: &Path,
    dirname: &str,
    revision: &str,
    subdirectory: Option<&str>,
) -> Result<(PathBuf, String), Failure> {
    let dir = downloads.join(dirname);
    if !dir.exists() {
        let mut args = vec!["clone", "--depth", "1"];
        if subdirectory.is_some() {
            args.extend(["--filter=blob:none", "--sparse"]);
        }
        // dbt clones the default branch and fetches the revision afterwards.
        args.extend([repo, dirname]);
        git(downloads, &args)?;
        if let Some(sub) = subdirectory {
            git(&dir, &["sparse-checkout", "set", sub])?;
        }
    }
    if is_commit(revision) {
        git(&dir, &["fetch", "origin", "--depth", "1", revision])?;
    } else {
        git(&dir, &["remote", "set-branches", "origin", revision])?;
        git(
            &dir,
            &["fetch", "origin", "--depth", "1", "--tags", revision],
        )?;
    }
    let tags = git(&dir, &["tag", "--list"])?;
    let spec = if is_commit(revision) {
        revision.to_owned()
    } else if tags.lines().any(|t| t.trim() == revision) {
        format!("tags/{revision}")
    } else {
        format!("origin/{revision}")
    };
    git(&dir, &["reset", "--hard", &spec])?;
    let sha = git(&dir, &["rev-parse", "HEAD"])?.trim().to_owned();
    let path = match subdirectory {
        Some(sub) => dir.join(sub),
        None => dir,
    };
    Ok((path, sha))
}
