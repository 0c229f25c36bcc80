//! Load stage: files on disk → [`Project`].
//!
//! Two front doors, one output: `project.yml`, or dbt's own `dbt_project.yml` with
//! `profiles.yml` (see [`dbt_project`], [`profiles`]); when both exist project.yml
//! wins, with a note. Nothing after this stage knows which door was used.
//! Then it walks the model, seed, macro and test paths it names
//! (walkdir, sorted, so every run sees the same order). Each file is read once and
//! kept as a [`SourceFile`] so any later stage can quote it in a diagnostic. Nothing
//! here renders Jinja or touches a warehouse.

pub mod config;
pub mod contracts;
pub mod dbt_project;
pub mod docs;
pub mod exposures;
pub mod freshness;
pub mod incremental;
pub mod packages;
pub mod profiles;
pub mod project_yml;
pub mod properties;
pub mod properties_jinja;
pub mod snapshot;
pub mod unit_fixtures;
pub mod versions;
pub mod yaml;
pub mod yml_jinja;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value as Json;

use rayon::prelude::*;
use walkdir::WalkDir;

pub use config::{Config, Materialization, SqlCheck};
pub use dbt_project::DBT_VERSION;
pub use project_yml::{render_field, Dispatch, ProjectFile, RunHook, TargetDef, WarehouseKind};
pub use properties::{ColumnProps, NodeProps, Properties, SourceDef, TestDef};
pub use yml_jinja::YmlContext;

use crate::diagnostics::{Diagnostic, Diagnostics, SourceFile, Span};

pub const PROJECT_FILE: &str = "project.yml";
pub const DBT_PROJECT_FILE: &str = "dbt_project.yml";

/// What loading needs besides the files: the command line's and environment's
/// choices (`--profiles-dir`, `--profile`, `--target`, `--vars`, ...).
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub project_dir: PathBuf,
    /// `--profiles-dir` or `DBT_PROFILES_DIR`.
    pub profiles_dir: Option<PathBuf>,
    /// `--profile` or `DBT_PROFILE`: overrides dbt_project.yml's `profile:`.
    pub profile: Option<String>,
    /// `--target`/`-t` or `DBT_TARGET`.
    pub target: Option<String>,
    /// `--vars`: the only vars the project file's Jinja sees, as in dbt.
    pub cli_vars: BTreeMap<String, Json>,
    /// `--no-version-check`: skip `require-dbt-version`.
    pub no_version_check: bool,
    /// Load without reading profiles.yml (commands that open no connection and
    /// need no target, like `clean`).
    pub skip_profile: bool,
}

impl LoadOptions {
    pub fn new(project_dir: impl Into<PathBuf>) -> LoadOptions {
        LoadOptions {
            project_dir: project_dir.into(),
            ..LoadOptions::default()
        }
    }
}

/// The project directory when none is given: the working directory or the
/// nearest folder above it that holds project.yml or dbt_project.yml, as dbt
/// walks up; the working directory itself when none does (loading then says so).
pub fn discover_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    cwd.ancestors()
        .find(|d| has_project_file(d))
        .map_or_else(|| cwd.clone(), Path::to_path_buf)
}

/// Does `dir` hold project.yml or dbt_project.yml?
pub fn has_project_file(dir: &Path) -> bool {
    dir.join(PROJECT_FILE).is_file() || dir.join(DBT_PROJECT_FILE).is_file()
}

/// A SQL or CSV file of the project: a model, seed, macro file or singular test.
#[derive(Clone, Debug)]
pub struct ProjectFileEntry {
    /// The node name: the file stem.
    pub name: String,
    pub file: Arc<SourceFile>,
    /// The path relative to the project directory (`models/staging/stg_x.sql`).
    pub rel_path: PathBuf,
    /// The path relative to the resource folder (`staging/stg_x.sql`).
    pub path_in_folder: PathBuf,
    /// dbt's fully qualified name: project, folders, name.
    pub fqn: Vec<String>,
}

#[derive(Debug)]
pub struct Project {
    /// Absolute project directory.
    pub root: PathBuf,
    pub file: ProjectFile,
    pub models: Vec<ProjectFileEntry>,
    /// Python models (`.py` in the model paths): nodes sluice cannot run.
    pub python_models: Vec<ProjectFileEntry>,
    pub seeds: Vec<ProjectFileEntry>,
    pub macros: Vec<ProjectFileEntry>,
    pub singular_tests: Vec<ProjectFileEntry>,
    /// Snapshot blocks from the snapshot paths, and YAML snapshots (`relation:`).
    pub snapshots: Vec<snapshot::SnapshotBlock>,
    pub properties: Properties,
    /// The `{% docs %}` blocks of the `.md` files under its docs-paths.
    pub docs: Vec<docs::DocBlock>,
    /// The `.md` files under its docs-paths (for the parse cache's key).
    pub doc_files: Vec<Arc<SourceFile>>,
    /// The YAML properties files, in the order they were read.
    pub yaml_files: Vec<Arc<SourceFile>>,
    pub warnings: Vec<Diagnostic>,
    /// The installed packages (`dbt_packages/*`), each loaded as a project of its
    /// own; empty for a package itself (dbt installs dependencies flat).
    pub packages: Vec<Project>,
    /// For a package: its folder relative to the root project's folder (its
    /// files' paths start with it); empty for the root project.
    pub prefix: PathBuf,
}

impl Project {
    pub fn name(&self) -> &str {
        &self.file.name
    }

    /// `path` (relative to the root project's folder) relative to this project's
    /// own folder: dbt's `original_file_path` of a package's file.
    pub fn own_path(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.prefix)
            .unwrap_or(path)
            .to_path_buf()
    }

    pub fn target_path(&self) -> &Path {
        &self.file.target_path
    }

    /// The names of this project and its packages that set `restrict-access: true`.
    pub fn restricted_packages(&self) -> std::collections::HashSet<String> {
        std::iter::once(self)
            .chain(&self.packages)
            .filter(|p| p.file.restrict_access)
            .map(|p| p.name().to_owned())
            .collect()
    }

    /// A source table declared by this project or one of its packages.
    pub fn source_table(
        &self,
        package: &str,
        source: &str,
        table: &str,
    ) -> Option<&properties::SourceTable> {
        std::iter::once(self)
            .chain(&self.packages)
            .filter(|p| p.name() == package)
            .flat_map(|p| &p.properties.sources)
            .filter(|s| s.name == source)
            .flat_map(|s| &s.tables)
            .find(|t| t.name == table)
    }
}

/// Read a file as UTF-8, or explain where it is not.
pub fn read_source(root: &Path, path: &Path) -> Result<Arc<SourceFile>, Diagnostic> {
    let display = path.strip_prefix(root).unwrap_or(path).to_path_buf();
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::error(format!("cannot read {}: {e}", display.display()))
            .with_help("check that the file exists and is readable")
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile::new(display, text)),
        Err(e) => {
            let valid_up_to = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // The lossy text has the same bytes up to the first invalid one.
            let file = SourceFile::new(display.clone(), lossy);
            let span = Span::new(&file, valid_up_to, valid_up_to + 1);
            Err(
                Diagnostic::error(format!("{} is not valid UTF-8", display.display()))
                    .with_label(&span, "invalid byte here")
                    .with_help("save the file as UTF-8"),
            )
        }
    }
}

/// `path` relative to `base` (a prefix of it): by slicing the text when both are
/// UTF-8, which is much cheaper than comparing path components for 10,000 files.
pub fn relative_to(path: &Path, base: &Path) -> PathBuf {
    if let (Some(p), Some(b)) = (path.to_str(), base.to_str()) {
        if let Some(rest) = p.strip_prefix(b).and_then(|r| r.strip_prefix('/')) {
            return PathBuf::from(rest);
        }
    }
    path.strip_prefix(base).unwrap_or(path).to_path_buf()
}

/// The files under `folders` with this extension, sorted, skipping hidden ones:
/// (path, path relative to its folder).
pub fn walk(root: &Path, folders: &[String], extension: &str) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for folder in folders {
        let base = root.join(folder);
        if !base.is_dir() {
            continue;
        }
        let entries = WalkDir::new(&base)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file());
        for entry in entries {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) == Some(extension) {
                let in_folder = relative_to(path, &base);
                out.push((path.to_path_buf(), in_folder));
            }
        }
    }
    out
}

/// The macro files of a project: its macro-paths' `.sql` files, then the generic
/// tests in its test-paths' `generic/` folders (dbt's `generic_test_paths`).
pub fn walk_macros(root: &Path, pf: &ProjectFile) -> Vec<(PathBuf, PathBuf)> {
    let generic: Vec<String> = pf
        .test_paths
        .iter()
        .map(|p| format!("{}/generic", p.trim_end_matches('/')))
        .collect();
    let mut files = walk(root, &pf.macro_paths, "sql");
    files.extend(walk(root, &generic, "sql"));
    files
}

/// The files besides models, macros and YAML whose change the parse command's
/// fast path cannot patch in (it gives up): seeds, test-paths' SQL and unit-test
/// fixtures, snapshots, Python models.
pub fn fast_path_watched_files(root: &Path, pf: &ProjectFile) -> Vec<(PathBuf, PathBuf)> {
    let mut files = Vec::new();
    for (folders, ext) in [
        (&pf.seed_paths, "csv"),
        (&pf.test_paths, "sql"),
        (&pf.test_paths, "csv"),
        (&pf.snapshot_paths, "sql"),
        (&pf.model_paths, "py"),
    ] {
        files.extend(walk(root, folders, ext));
    }
    files
}

/// A seed described under `models:` in a properties file: dbt warns
/// (`WrongResourceSchemaFile`) and applies the properties, tests included, to the
/// seed; so does sluice, when no model has that name and the seed has no other
/// entry.
fn move_misfiled_properties(
    properties: &mut Properties,
    models: &[ProjectFileEntry],
    seeds: &[ProjectFileEntry],
    warnings: &mut Vec<Diagnostic>,
) {
    let misfiled: Vec<String> = properties
        .models
        .keys()
        .filter(|name| {
            !models.iter().any(|m| &m.name == *name)
                && seeds.iter().any(|s| &s.name == *name)
                && !properties.seeds.contains_key(*name)
        })
        .cloned()
        .collect();
    for name in misfiled {
        let Some(props) = properties.models.remove(&name) else {
            continue;
        };
        warnings.push(
            Diagnostic::warning(format!(
                "`{name}` is a seed, but {} describes it under `models:`; its properties apply to the seed",
                props.file.path.display()
            ))
            .with_event(crate::diagnostics::event::WRONG_RESOURCE_SCHEMA_FILE)
            .with_label(&props.span, "a seed")
            .with_help(format!("move the `{name}` entry under `seeds:`")),
        );
        properties.seeds.insert(name, props);
    }
}

/// The singular tests of a project: its test-paths' `.sql` files except those in
/// their `generic/` (generic tests, read as macros) and `fixtures/` (unit test
/// fixtures) folders, as dbt skips them.
pub fn walk_singular_tests(root: &Path, pf: &ProjectFile) -> Vec<(PathBuf, PathBuf)> {
    let mut files = walk(root, &pf.test_paths, "sql");
    files.retain(|(_, in_folder)| {
        let mut parts = in_folder.components().map(|c| c.as_os_str().to_str());
        let first = parts.next().flatten();
        // A file directly in the folder (`tests/generic.sql`) is a singular test.
        parts.next().is_none() || !matches!(first, Some("generic" | "fixtures"))
    });
    files
}

/// `display_root`: the folder file paths are shown relative to (the root project's,
/// also for a package's files); `dir`: the project's folder the paths are in.
fn entries(
    at: (&Path, &Path),
    project: &str,
    folders: &[String],
    extension: &str,
    errors: &mut Vec<Diagnostic>,
) -> Vec<ProjectFileEntry> {
    entries_of(at, project, walk(at.1, folders, extension), errors)
}

/// The entries of the files `walked` (path, path in its folder), read in parallel.
fn entries_of(
    (display_root, _dir): (&Path, &Path),
    project: &str,
    walked: Vec<(PathBuf, PathBuf)>,
    errors: &mut Vec<Diagnostic>,
) -> Vec<ProjectFileEntry> {
    // Reading is the slow part for big projects: read the files in parallel.
    let read: Vec<_> = walked
        .into_par_iter()
        .map(|(path, in_folder)| (read_source(display_root, &path), path, in_folder))
        .collect();
    let mut out = Vec::with_capacity(read.len());
    for (file, path, in_folder) in read {
        let file = match file {
            Ok(f) => f,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        out.push(file_entry(project, &path, in_folder, file));
    }
    out
}

/// The entry of a file read from `path` (`in_folder`: relative to its folder).
pub fn file_entry(
    project: &str,
    path: &Path,
    in_folder: PathBuf,
    file: Arc<SourceFile>,
) -> ProjectFileEntry {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut fqn = vec![project.to_owned()];
    if let Some(parent) = in_folder.parent() {
        fqn.extend(
            parent
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        );
    }
    fqn.push(name.clone());
    ProjectFileEntry {
        name,
        rel_path: file.path.clone(),
        path_in_folder: in_folder,
        fqn,
        file,
    }
}

impl Project {
    /// A project of a few model files, for re-parsing only those (the parse
    /// command's fast path): no seeds, tests or snapshots, and only the given
    /// properties.
    pub fn partial(
        root: PathBuf,
        file: ProjectFile,
        models: Vec<ProjectFileEntry>,
        macros: Vec<ProjectFileEntry>,
        properties: Properties,
    ) -> Project {
        Project {
            root,
            file,
            models,
            python_models: Vec::new(),
            seeds: Vec::new(),
            macros,
            singular_tests: Vec::new(),
            snapshots: Vec::new(),
            properties,
            docs: Vec::new(),
            doc_files: Vec::new(),
            yaml_files: Vec::new(),
            warnings: Vec::new(),
            packages: Vec::new(),
            prefix: PathBuf::new(),
        }
    }
}

/// The YAML properties files of a project, in load order.
pub fn yaml_paths(root: &Path, pf: &ProjectFile) -> Vec<(PathBuf, PathBuf)> {
    let mut yaml_folders: Vec<String> = pf.model_paths.clone();
    yaml_folders.extend(pf.seed_paths.iter().cloned());
    yaml_folders.extend(pf.macro_paths.iter().cloned());
    yaml_folders.extend(pf.snapshot_paths.iter().cloned());
    let mut yaml_files = walk(root, &yaml_folders, "yml");
    yaml_files.extend(walk(root, &yaml_folders, "yaml"));
    yaml_files
}

/// Reject two files that define the same node name, naming both.
fn check_unique(kind: &str, files: &[ProjectFileEntry], errors: &mut Vec<Diagnostic>) {
    let mut seen: std::collections::HashMap<&str, &ProjectFileEntry> = Default::default();
    for f in files {
        if let Some(prev) = seen.insert(&f.name, f) {
            errors.push(
                Diagnostic::error(format!(
                    "two {kind}s are named `{}`: {} and {}",
                    f.name,
                    prev.rel_path.display(),
                    f.rel_path.display()
                ))
                .with_label(&Span::file_start(&f.file), "second definition")
                .with_label(&Span::file_start(&prev.file), "first definition")
                .with_help(format!(
                    "rename one of the files: {kind} names must be unique"
                )),
            );
        }
    }
}

/// Read and check the project settings of the (absolute) project directory in
/// `opts`: project.yml, or dbt_project.yml with profiles.yml.
pub fn load_project_file(
    opts: &LoadOptions,
    warnings: &mut Vec<Diagnostic>,
) -> Result<ProjectFile, Diagnostics> {
    let root = std::path::absolute(&opts.project_dir).unwrap_or_else(|_| opts.project_dir.clone());
    let has_project_yml = root.join(PROJECT_FILE).is_file();
    let has_dbt = root.join(DBT_PROJECT_FILE).is_file();
    let door = match (has_project_yml, has_dbt) {
        (true, _) => dbt_project::Door::ProjectYml,
        (false, true) => dbt_project::Door::DbtProjectYml,
        (false, false) => {
            return Err(Diagnostic::error(format!(
                "no {PROJECT_FILE} or {DBT_PROJECT_FILE} in {}",
                root.display()
            ))
            .with_help("run sluice from a project directory, pass --project-dir, or create one with `sluice init NAME` (or `sluice init --dbt NAME`)")
            .into())
        }
    };
    let file = read_source(&root, &root.join(door.file_name()))?;
    if has_project_yml && has_dbt {
        warnings.push(
            Diagnostic::warning(format!("both {PROJECT_FILE} and {DBT_PROJECT_FILE} are here: using {PROJECT_FILE}"))
                .with_label(&Span::file_start(&file), "read")
                .with_note(format!("{DBT_PROJECT_FILE} and profiles.yml are not read; remove {PROJECT_FILE} to use them")),
        );
    }
    let mut doc = match door {
        dbt_project::Door::ProjectYml => yaml::parse(&file)?,
        dbt_project::Door::DbtProjectYml => yaml::parse_dbt_file(&file, warnings)?,
    };
    let (targets, default_target, unusable, extra_files) = match door {
        dbt_project::Door::ProjectYml => {
            let (t, d) = project_yml::targets_of(doc.expect_map(PROJECT_FILE)?)?;
            (t, d, Vec::new(), Vec::new())
        }
        dbt_project::Door::DbtProjectYml if opts.skip_profile => {
            (Vec::new(), None, Vec::new(), Vec::new())
        }
        dbt_project::Door::DbtProjectYml => {
            let profile = profiles::load(
                doc.expect_map(DBT_PROJECT_FILE)?,
                &file,
                &root,
                opts.profiles_dir.as_deref(),
                opts.profile.as_deref(),
                warnings,
            )?;
            (
                profile.targets,
                profile.default_target,
                profile.unusable,
                vec![profile.file],
            )
        }
    };
    let mut rendered = String::new();
    // Always computed when there are targets: packages' project files render
    // with it too.
    let target = if targets.is_empty() && unusable.is_empty() {
        Json::Null
    } else {
        let def = profiles::choose_from(
            &targets,
            &unusable,
            default_target.as_ref(),
            &file,
            opts.target.as_deref(),
        )?;
        profiles::target_context(&def)?
    };
    let ctx = YmlContext {
        cli_vars: opts.cli_vars.clone(),
        target,
        project_name: doc
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or_default()
            .to_owned(),
    };
    yml_jinja::render_document(&mut doc, &ctx, &mut rendered)?;
    let mut pf = dbt_project::parse_document(&root, file, &doc, door, warnings)?;
    pf.targets = targets;
    pf.default_target = default_target;
    pf.unusable_targets = unusable;
    pf.extra_files = extra_files;
    pf.rendered_values = rendered;
    pf.yml_context = ctx;
    for tree in [
        &pf.models_tree,
        &pf.seeds_tree,
        &pf.snapshots_tree,
        &pf.tests_tree,
    ]
    .into_iter()
    .flatten()
    {
        project_yml::validate_tree(tree, warnings)?;
    }
    if !opts.no_version_check {
        dbt_project::check_dbt_version(&pf, &pf.name)?;
    }
    Ok(pf)
}

/// Load the project in `opts.project_dir` (the `--project-dir`).
pub fn load(opts: &LoadOptions) -> Result<Project, Diagnostics> {
    let root = std::path::absolute(&opts.project_dir).unwrap_or_else(|_| opts.project_dir.clone());
    let mut warnings = Vec::new();
    let pf = load_project_file(opts, &mut warnings)?;
    let mut packages = packages::load_all(&root, &pf, !opts.no_version_check, &mut warnings)?;
    let vars = project_yml::merged_vars(&[&pf], &pf.name, &opts.cli_vars);
    let mut project = load_files(&root, &root, pf, &vars, warnings)?;
    for p in &mut packages {
        project.warnings.append(&mut p.warnings);
    }
    project.packages = packages;
    Ok(project)
}

/// Walk and read the files of the project in `dir` whose settings are `pf`: its
/// models, seeds, macros, tests, snapshots and YAML properties. File paths are
/// shown relative to `display_root` (the root project's folder).
/// `vars` are those the project's nodes see: its properties files' Jinja reads them.
pub fn load_files(
    display_root: &Path,
    dir: &Path,
    mut pf: ProjectFile,
    vars: &BTreeMap<String, Json>,
    mut warnings: Vec<Diagnostic>,
) -> Result<Project, Diagnostics> {
    let root = dir.to_path_buf();
    let at = (display_root, dir);
    let mut errors = Vec::new();
    let models = entries(at, &pf.name, &pf.model_paths, "sql", &mut errors);
    let seeds = entries(at, &pf.name, &pf.seed_paths, "csv", &mut errors);
    let macros = entries_of(at, &pf.name, walk_macros(dir, &pf), &mut errors);
    let singular_tests = entries_of(at, &pf.name, walk_singular_tests(dir, &pf), &mut errors);
    let mut snapshots = Vec::new();
    for file in entries(at, &pf.name, &pf.snapshot_paths, "sql", &mut errors) {
        match snapshot::blocks(&file) {
            Ok(b) => snapshots.extend(b),
            Err(e) => errors.push(e),
        }
    }
    // dbt's Python models: nodes sluice reads but cannot run (render::python).
    let python_models = entries(at, &pf.name, &pf.model_paths, "py", &mut errors);
    let all_models: Vec<ProjectFileEntry> = models.iter().chain(&python_models).cloned().collect();
    check_unique("model", &all_models, &mut errors);
    check_unique("seed", &seeds, &mut errors);
    for m in &all_models {
        if let Some(s) = seeds.iter().find(|s| s.name == m.name) {
            errors.push(
                Diagnostic::error(format!("a model and a seed are both named `{}`", m.name))
                    .with_label(&Span::file_start(&m.file), "the model")
                    .with_help(format!(
                        "rename the model or the seed {}: `ref('{}')` must name one node",
                        s.rel_path.display(),
                        m.name
                    )),
            );
        }
    }

    let mut properties = Properties {
        fixtures: unit_fixtures::FixtureFiles::load(display_root, dir, &pf, &mut errors),
        ..Properties::default()
    };
    let yaml_files = yaml_paths(&root, &pf);
    // Parse in parallel; add in file order, so "defined twice" errors are stable.
    let parsed: Vec<_> = yaml_files
        .into_par_iter()
        .map(|(path, _)| {
            let f = read_source(display_root, &path)?;
            let mut found = Vec::new();
            let mut doc = yaml::parse_dbt_file(&f, &mut found)?;
            let mut rendered = String::new();
            properties_jinja::render_document(&mut doc, &pf.yml_context, vars, &mut rendered)?;
            Ok((f, doc, rendered, found))
        })
        .collect();
    let mut yaml_sources = Vec::with_capacity(parsed.len());
    for result in parsed {
        let result = result.map(|(f, doc, rendered, found)| {
            warnings.extend(found);
            yaml_sources.push(Arc::clone(&f));
            // Rendered values may read environment variables: the parse cache
            // keys on them.
            pf.rendered_values.push_str(&rendered);
            (f, doc)
        });
        match result.and_then(|(f, doc)| properties.add_document(&f, &doc, &mut warnings)) {
            Ok(()) => {}
            Err(e) => errors.push(e),
        }
    }
    move_misfiled_properties(&mut properties, &all_models, &seeds, &mut warnings);
    properties.versioned_files = versions::files_of(&properties.models, &all_models, &mut warnings);
    for (name, props) in &properties.snapshots {
        let Some((relation, span)) = &props.relation else {
            continue;
        };
        let own = root
            .strip_prefix(display_root)
            .map(|prefix| {
                props
                    .file
                    .path
                    .strip_prefix(prefix)
                    .unwrap_or(&props.file.path)
            })
            .unwrap_or(&props.file.path);
        let folder = own.parent().map(|p| {
            p.components()
                .skip(1)
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        });
        let mut fqn = vec![pf.name.clone()];
        fqn.extend(folder.unwrap_or_default());
        fqn.push(name.clone());
        match snapshot::yaml_block(name, relation, span, &props.file, fqn) {
            Ok(b) => snapshots.push(b),
            Err(e) => errors.push(e),
        }
    }
    let named: Vec<(&str, &Span)> = snapshots
        .iter()
        .map(|s| (s.entry.name.as_str(), &s.span))
        .collect();
    for (i, (name, span)) in named.iter().enumerate() {
        if let Some((_, first)) = named[..i].iter().find(|(n, _)| n == name) {
            errors.push(crate::diagnostics::defined_twice(
                "snapshot", name, span, first,
            ));
        } else if all_models.iter().chain(&seeds).any(|m| m.name == *name) {
            errors.push(
                Diagnostic::error(format!(
                    "a snapshot and a model or seed are both named `{name}`"
                ))
                .with_label(span, "the snapshot")
                .with_help(format!(
                    "rename one of them: `ref('{name}')` must name one node"
                )),
            );
        }
    }
    let (docs, doc_files) = docs::load(display_root, dir, &pf.docs_paths, &mut errors);
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let prefix = relative_to(&root, display_root);
    Ok(Project {
        root,
        file: pf,
        models,
        python_models,
        seeds,
        macros,
        singular_tests,
        snapshots,
        properties,
        docs,
        doc_files,
        yaml_files: yaml_sources,
        warnings,
        packages: Vec::new(),
        prefix,
    })
}
