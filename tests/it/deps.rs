//! `sluice deps` against packages of every kind: a local folder, a git
//! repository (a bare repository made on disk, cloned over `file://`), hub
//! packages (a small HTTP server in this file that speaks the hub's JSON API:
//! `api/v1/index.json`, `api/v1/<org>/<name>.json`, and the tarballs its
//! `downloads.tarball` URLs point at) and a `tarball:` URL on the same server.
//! Then real `dbt deps` on the same packages writes the same package-lock.yml,
//! byte for byte, and installs the same files.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::json;

use crate::common::{copy_dir, fixture, sluice, stderr, stdout};

/// The hub stand-in: serves index.json, each package's JSON (its versions with
/// `downloads.tarball` pointing back here) and gzip tarballs built from the
/// fixture folders (one top folder `<name>-<version>/`, as GitHub's are).
struct HubServer {
    url: String,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
    handle: Option<JoinHandle<()>>,
    requests: Arc<Mutex<Vec<String>>>,
}

/// `(package, version, require_dbt_version, its packages)` served by the hub.
fn hub_versions() -> Vec<(
    &'static str,
    &'static str,
    serde_json::Value,
    serde_json::Value,
)> {
    let dep = json!([{"package": "sluice-test/hub_dep", "version": [">=0.1.0", "<1.0.0"]}]);
    let any = json!([">=1.0.0", "<3.0.0"]);
    vec![
        ("hub_pkg", "1.0.0", any.clone(), dep.clone()),
        ("hub_pkg", "1.1.0", any.clone(), dep.clone()),
        ("hub_pkg", "1.2.0", any.clone(), dep.clone()),
        ("hub_pkg", "1.3.0-b1", any.clone(), dep.clone()),
        // Not installable: it needs a dbt that does not exist yet.
        ("hub_pkg", "1.9.0", json!([">=2.0.0"]), dep.clone()),
        ("hub_pkg", "2.0.0", any.clone(), dep),
        ("hub_dep", "0.1.0", any.clone(), json!([])),
        ("hub_dep", "0.2.0", any.clone(), json!([])),
        ("hub_dep", "1.0.0", any, json!([])),
    ]
}

/// A gzip tarball of `dir` under `top/`, with `VERSION` in files replaced.
fn tarball(dir: &Path, top: &str, version: &str) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_size(0);
    header.set_mtime(1_700_000_000);
    header.set_cksum();
    builder
        .append_data(&mut header, format!("{top}/"), std::io::empty())
        .expect("tar dir entry");
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    for f in files {
        let rel = f.strip_prefix(dir).expect("under dir");
        let text = std::fs::read_to_string(&f)
            .expect("fixture text")
            .replace("VERSION", version);
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(text.len() as u64);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        builder
            .append_data(
                &mut header,
                format!("{top}/{}", rel.display()),
                text.as_bytes(),
            )
            .expect("tar file entry");
    }
    builder.into_inner().expect("tar").finish().expect("gzip")
}

impl HubServer {
    fn start() -> HubServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        let addr = listener.local_addr().expect("local addr");
        let url = format!("http://{addr}/");
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop2, requests2, base) = (Arc::clone(&stop), Arc::clone(&requests), url.clone());
        let handle = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (requests, base) = (Arc::clone(&requests2), base.clone());
                std::thread::spawn(move || serve(stream, &base, &requests));
            }
        });
        HubServer {
            url,
            stop,
            addr,
            handle: Some(handle),
            requests,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

impl Drop for HubServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn route(path: &str, base: &str) -> Option<(&'static str, Vec<u8>)> {
    let fixtures = fixture("deps");
    if path == "/api/v1/index.json" {
        let body = json!([
            "sluice-test/hub_pkg",
            "sluice-test/hub_dep",
            "other-org/unrelated"
        ]);
        return Some(("application/json", body.to_string().into_bytes()));
    }
    if let Some(name) = path
        .strip_prefix("/api/v1/sluice-test/")
        .and_then(|p| p.strip_suffix(".json"))
    {
        let mut versions = serde_json::Map::new();
        for (pkg, v, req, packages) in hub_versions().into_iter().filter(|(p, ..)| *p == name) {
            // The shape of hub.getdbt.com's api/v1/<org>/<name>.json.
            versions.insert(
                v.to_owned(),
                json!({
                    "id": format!("sluice-test/{pkg}/{v}"),
                    "name": pkg,
                    "version": v,
                    "published_at": "1970-01-01T00:00:00.000000+00:00",
                    "packages": packages,
                    "require_dbt_version": req,
                    "works_with": [],
                    "_source": {"type": "github", "url": "", "readme": ""},
                    "downloads": {
                        "tarball": format!("{base}tarballs/{pkg}-{v}.tar.gz"),
                        "format": "tgz",
                        "sha1": "0000000000000000000000000000000000000000"
                    }
                }),
            );
        }
        if versions.is_empty() {
            return None;
        }
        let body = json!({
            "name": name, "namespace": "sluice-test", "description": "", "latest": "2.0.0",
            "assets": {}, "versions": versions
        });
        return Some(("application/json", body.to_string().into_bytes()));
    }
    let file = path.strip_prefix("/tarballs/")?.strip_suffix(".tar.gz")?;
    if file == "tar_pkg" {
        return Some((
            "application/gzip",
            tarball(&fixtures.join("tar_pkg"), "tar_pkg-main", ""),
        ));
    }
    let (name, version) = file.split_once('-')?;
    hub_versions()
        .iter()
        .find(|(p, v, ..)| *p == name && *v == version)?;
    Some((
        "application/gzip",
        tarball(&fixtures.join(name), &format!("{name}-{version}"), version),
    ))
}

fn serve(mut stream: TcpStream, base: &str, requests: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    requests.lock().expect("lock").push(path.clone());
    let (status, ctype, body) = match route(&path, base) {
        Some((ctype, body)) => ("200 OK", ctype, body),
        None => ("404 Not Found", "text/plain", b"not found".to_vec()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

fn git(cwd: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A bare repository holding the git fixture package, tagged v1.0.0; its
/// `file://` URL.
fn bare_repo(dir: &Path) -> String {
    let work = dir.join("git_work");
    let bare = dir.join("git_pkg.git");
    copy_dir(&fixture("deps/git_repo"), &work);
    git(
        dir,
        &[
            "init",
            "--bare",
            "-q",
            "-b",
            "main",
            bare.to_str().expect("utf-8"),
        ],
    );
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "git_pkg 1.0.0"]);
    git(&work, &["tag", "v1.0.0"]);
    git(
        &work,
        &[
            "push",
            "-q",
            bare.to_str().expect("utf-8"),
            "main",
            "--tags",
        ],
    );
    format!("file://{}", bare.display())
}

/// A test world: the server, the bare repository and a copy of the fixtures.
struct World {
    dir: tempfile::TempDir,
    server: HubServer,
    git_url: String,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = HubServer::start();
        let git_url = bare_repo(dir.path());
        World {
            dir,
            server,
            git_url,
        }
    }

    /// A fresh copy of the root project and the local package, side by side.
    fn project(&self, name: &str) -> PathBuf {
        let base = self.dir.path().join(name);
        copy_dir(&fixture("deps/root"), &base.join("root"));
        copy_dir(&fixture("deps/local_pkg"), &base.join("local_pkg"));
        base.join("root")
    }

    fn envs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DBT_PACKAGE_HUB_URL", self.server.url.clone()),
            (
                "DEPS_SERVER_URL",
                self.server.url.trim_end_matches('/').to_owned(),
            ),
            ("DEPS_GIT_URL", self.git_url.clone()),
        ]
    }

    fn sluice_deps(&self, project: &Path, extra: &[&str]) -> Output {
        let mut cmd = sluice();
        cmd.arg("deps")
            .args(extra)
            .arg("--project-dir")
            .arg(project);
        cmd.env_remove("DBT_DOWNLOADS_DIR");
        for (k, v) in self.envs() {
            cmd.env(k, v);
        }
        cmd.output().expect("sluice runs")
    }
}

const INSTALLED: &[&str] = &[
    "local_pkg",
    "git_pkg",
    "git_sub_pkg",
    "hub_pkg",
    "hub_dep",
    "tar_pkg",
];

fn lock_of(project: &Path) -> String {
    std::fs::read_to_string(project.join("package-lock.yml")).expect("package-lock.yml written")
}

fn installed_version(project: &Path, name: &str) -> String {
    std::fs::read_to_string(
        project
            .join("dbt_packages")
            .join(name)
            .join("dbt_project.yml"),
    )
    .expect("installed dbt_project.yml")
    .lines()
    .find_map(|l| l.strip_prefix("version: "))
    .unwrap_or_default()
    .trim_matches('"')
    .to_owned()
}

#[test]
fn deps_installs_every_kind_and_writes_the_lock() {
    let world = World::new();
    let project = world.project("a");
    let out = world.sluice_deps(&project, &[]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    for name in INSTALLED {
        let p = project
            .join("dbt_packages")
            .join(name)
            .join("dbt_project.yml");
        assert!(
            p.is_file(),
            "{} missing; stdout:\n{}",
            p.display(),
            stdout(&out)
        );
    }
    // Local packages are symlinked, as dbt 1.11 does.
    let link = std::fs::read_link(project.join("dbt_packages/local_pkg")).expect("a symlink");
    assert_eq!(link, project.parent().unwrap().join("local_pkg"));
    // The git package with `subdirectory:` is that folder only.
    assert!(project
        .join("dbt_packages/git_sub_pkg/macros/hello.sql")
        .is_file());
    assert!(!project.join("dbt_packages/git_sub_pkg/sub").exists());
    // Root's [>=1.0.0, <2.0.0] intersected with git_pkg's <1.2.0: 1.1.0, not 1.2.0;
    // hub_pkg's own requirement on hub_dep (<1.0.0) picks 0.2.0.
    assert_eq!(installed_version(&project, "hub_pkg"), "1.1.0");
    assert_eq!(installed_version(&project, "hub_dep"), "0.2.0");
    let lock = lock_of(&project);
    let sha = {
        let out = Command::new("git")
            .args(["ls-remote", &world.git_url, "refs/tags/v1.0.0"])
            .output()
            .expect("git");
        String::from_utf8_lossy(&out.stdout)[..40].to_owned()
    };
    let expected_head = format!(
        "packages:
  - local: ../local_pkg
    name: local_pkg
  - git: '{{{{ env_var(''DEPS_GIT_URL'') }}}}'
    name: git_pkg
    revision: {sha}
  - git: '{{{{ env_var(''DEPS_GIT_URL'') }}}}'
    name: git_sub_pkg
    revision: {sha}
    subdirectory: sub
  - name: hub_pkg
    package: sluice-test/hub_pkg
    version: 1.1.0
  - name: tar_pkg
    tarball: '{{{{ env_var(''DEPS_SERVER_URL'') }}}}/tarballs/tar_pkg.tar.gz'
  - name: hub_dep
    package: sluice-test/hub_dep
    version: 0.2.0
sha1_hash: "
    );
    assert!(lock.starts_with(&expected_head), "lock:\n{lock}");
    let text = stdout(&out);
    assert!(text.contains("Installing sluice-test/hub_pkg\nInstalled from version 1.1.0\nUpdated version available: 2.0.0"), "{text}");
    assert!(
        text.contains("Installed from <local @ ../local_pkg>"),
        "{text}"
    );

    // An unchanged packages.yml installs exactly what the lock says, even an
    // older version pinned there by hand (the hash still matches).
    let pinned = lock.replace("version: 1.1.0", "version: 1.0.0");
    std::fs::write(project.join("package-lock.yml"), &pinned).unwrap();
    let out = world.sluice_deps(&project, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(installed_version(&project, "hub_pkg"), "1.0.0");
    assert_eq!(
        lock_of(&project),
        pinned,
        "a matching lock is not rewritten"
    );

    // --upgrade resolves again and rewrites it.
    let out = world.sluice_deps(&project, &["--upgrade"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lock_of(&project), lock);
    assert_eq!(installed_version(&project, "hub_pkg"), "1.1.0");

    // A changed packages.yml (another hash) is resolved again: --lock writes
    // the lock and installs nothing.
    let yml = std::fs::read_to_string(project.join("packages.yml")).unwrap();
    std::fs::write(
        project.join("packages.yml"),
        yml.replace("\"<2.0.0\"", "\"<1.1.0\""),
    )
    .unwrap();
    std::fs::remove_dir_all(project.join("dbt_packages")).unwrap();
    let out = world.sluice_deps(&project, &["--lock"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(lock_of(&project).contains("package: sluice-test/hub_pkg\n    version: 1.0.0\n"));
    assert_ne!(lock_of(&project), lock);
    assert!(
        !project.join("dbt_packages").exists(),
        "--lock installs nothing"
    );
    assert!(world
        .server
        .requests()
        .iter()
        .any(|r| r == "/api/v1/index.json"));
}

fn error_case(world: &World, name: &str, packages_yml: &str, envs: &[(&str, &str)]) -> String {
    let project = world.project(name);
    std::fs::write(project.join("packages.yml"), packages_yml).unwrap();
    let mut cmd = sluice();
    cmd.arg("deps").arg("--project-dir").arg(&project);
    for (k, v) in world.envs() {
        cmd.env(k, v);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("sluice runs");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    stderr(&out)
}

#[test]
fn deps_errors_name_the_entry() {
    let world = World::new();
    let e = error_case(
        &world,
        "unknown",
        "packages:\n  - package: sluice-test/hub_pk\n    version: 1.0.0\n",
        &[],
    );
    assert!(
        e.contains("package `sluice-test/hub_pk` is not on the package hub"),
        "{e}"
    );
    assert!(e.contains("packages.yml:2:14"), "{e}");
    assert!(e.contains("did you mean `sluice-test/hub_pkg`?"), "{e}");

    let e = error_case(
        &world,
        "range",
        "packages:\n  - package: sluice-test/hub_pkg\n    version: [\">=3.0.0\"]\n",
        &[],
    );
    assert!(
        e.contains("no version of `sluice-test/hub_pkg` on the hub satisfies >=3.0.0"),
        "{e}"
    );
    assert!(e.contains("packages.yml:3:15"), "{e}");
    assert!(
        e.contains("versions available (compatible with dbt 1.11.0): 1.0.0, 1.1.0, 1.2.0, 2.0.0"),
        "{e}"
    );

    let e = error_case(
        &world,
        "clash",
        "packages:\n  - package: sluice-test/hub_pkg\n    version: [\">=1.5.0\", \"<1.2.0\"]\n",
        &[],
    );
    assert!(
        e.contains("no version satisfies all of >=1.5.0, <1.2.0"),
        "{e}"
    );

    let missing = format!("file://{}/nope.git", world.dir.path().display());
    let e = error_case(
        &world,
        "git",
        &format!("packages:\n  - git: \"{missing}\"\n    revision: v1\n"),
        &[],
    );
    assert!(e.contains("cannot clone"), "{e}");
    assert!(
        e.contains("does not appear to be a git repository") || e.contains("not found"),
        "git's stderr is shown: {e}"
    );
    assert!(e.contains("packages.yml:2:10"), "{e}");

    // Nothing listens on port 9 of 127.0.0.1 (discard): a network failure.
    let e = error_case(
        &world,
        "net",
        "packages:\n  - package: sluice-test/hub_pkg\n    version: 1.0.0\n",
        &[("DBT_PACKAGE_HUB_URL", "http://127.0.0.1:9/")],
    );
    assert!(e.contains("cannot read the package hub's index"), "{e}");
    assert!(e.contains("http://127.0.0.1:9/api/v1/index.json"), "{e}");

    let e = error_case(
        &world,
        "badkey",
        "packages:\n  - package: sluice-test/hub_pkg\n    versoin: 1.0.0\n",
        &[],
    );
    assert!(e.contains("unknown key `versoin`"), "{e}");
    assert!(e.contains("did you mean `version`?"), "{e}");
}

/// Every file under `dir` (links as their target relative to `base`), without
/// git's own folders: what dbt and sluice must both install.
fn tree(dir: &Path, base: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git")
    {
        let e = e.expect("readable");
        let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
        let ft = e.file_type();
        let v = if ft.is_symlink() {
            let t = std::fs::read_link(e.path()).unwrap();
            format!("-> {}", t.strip_prefix(base).unwrap_or(&t).display())
        } else if ft.is_dir() {
            "dir".to_owned()
        } else {
            std::fs::read_to_string(e.path()).unwrap_or_else(|_| "<binary>".to_owned())
        };
        out.insert(rel, v);
    }
    out
}

#[test]
fn dbt_deps_writes_the_same_lock_and_files() {
    let Some(dbt) = crate::dbt_compare::dbt_binary() else {
        return;
    };
    let world = World::new();
    let ours = world.project("sluice");
    let out = world.sluice_deps(&ours, &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    let theirs = world.project("dbt");
    let mut cmd = Command::new(&dbt);
    cmd.args(["deps", "--project-dir"])
        .arg(&theirs)
        .current_dir(&theirs);
    cmd.env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("DO_NOT_TRACK", "1")
        .env("DBT_PROFILES_DIR", &theirs);
    for (k, v) in world.envs() {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("dbt runs");
    assert!(
        out.status.success(),
        "dbt deps failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        lock_of(&ours),
        lock_of(&theirs),
        "package-lock.yml differs from dbt's"
    );
    let a = tree(&ours.join("dbt_packages"), ours.parent().unwrap());
    let b = tree(&theirs.join("dbt_packages"), theirs.parent().unwrap());
    assert_eq!(a, b, "installed files differ from dbt's");
    for name in INSTALLED {
        assert!(
            a.contains_key(&format!("{name}/dbt_project.yml")) || a.contains_key(*name),
            "{name} not installed"
        );
    }

    // dbt honours the lock sluice wrote (and the reverse): same hash, no rewrite.
    let before = lock_of(&theirs);
    std::fs::copy(
        ours.join("package-lock.yml"),
        theirs.join("package-lock.yml"),
    )
    .unwrap();
    let out = cmd.output().expect("dbt runs");
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Updating lock file"));
    assert_eq!(lock_of(&theirs), before);
}
