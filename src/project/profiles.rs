//! `profiles.yml`: where a dbt-layout project's targets come from, found as dbt
//! 1.11 finds it (`--profiles-dir` / `DBT_PROFILES_DIR`, then the current working
//! directory, then `~/.dbt/`), and the choice of one target (`--target`, else the
//! profile's or project.yml's `target:`).
//!
//! Outputs become the same [`TargetDef`]s project.yml's `targets:` give. Only
//! `type` and `threads` render at load time; every other field (secrets included)
//! stays a template until a connection opens, so compiling needs no credentials.
//! A DuckDB output's `path` resolves against the project directory (dbt-duckdb
//! resolves it against the working directory dbt runs in, which is normally the
//! project directory).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value as Json};

use super::project_yml::{
    render_field, target_def, NamedAt, ProjectFile, TargetDef, WarehouseKind,
};
use super::yaml::{self, Node, Value};
use crate::diagnostics::{suggestion_help, Diagnostic, SourceFile, Span};

pub const PROFILES_FILE: &str = "profiles.yml";

/// dbt-duckdb output keys sluice honours.
const DUCKDB_KEYS: &[&str] = &[
    "type",
    "path",
    "schema",
    "database",
    "threads",
    "attach",
    "extensions",
    "settings",
];

/// Where profiles.yml is, as dbt looks for it.
pub fn find(explicit: Option<&Path>, root: &Path) -> Result<PathBuf, Diagnostic> {
    if let Some(dir) = explicit {
        let path = dir.join(PROFILES_FILE);
        if path.is_file() {
            return Ok(path);
        }
        return Err(Diagnostic::error(format!(
            "no {PROFILES_FILE} in {} (--profiles-dir or DBT_PROFILES_DIR)",
            dir.display()
        ))
        .with_help("point --profiles-dir at the folder holding profiles.yml"));
    }
    let mut looked = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        let path = cwd.join(PROFILES_FILE);
        if path.is_file() {
            return Ok(path);
        }
        looked.push(cwd.display().to_string());
    }
    if let Some(home) = std::env::var_os("HOME") {
        let path = PathBuf::from(home).join(".dbt").join(PROFILES_FILE);
        if path.is_file() {
            return Ok(path);
        }
        looked.push(path.parent().unwrap_or(&path).display().to_string());
    }
    let mut d = Diagnostic::error(format!("no {PROFILES_FILE} found"))
        .with_note(format!(
            "looked, as dbt does, in --profiles-dir / DBT_PROFILES_DIR (not set), then {}",
            looked.join(", then ")
        ))
        .with_help("pass --profiles-dir DIR (or set DBT_PROFILES_DIR), or run sluice from the folder holding profiles.yml");
    if root.join(PROFILES_FILE).is_file() {
        d = d.with_note(format!(
            "{} has a profiles.yml: dbt reads it only when run from there; so does sluice",
            root.display()
        ));
    }
    Err(d)
}

/// The name given on the command line, as a tiny source for located errors.
fn cli_span(flag: &str, value: &str) -> Span {
    Span::file_start(&SourceFile::new(flag, value.to_owned()))
}

/// The targets of the project's profile, its default target and profiles.yml.
pub struct Profile {
    pub targets: Vec<TargetDef>,
    pub default_target: Option<NamedAt>,
    /// Outputs sluice cannot use (`type: postgres`): an error only when chosen,
    /// as dbt reads only the chosen output.
    pub unusable: Vec<(String, Diagnostic)>,
    pub file: Arc<SourceFile>,
}

/// Read the targets of the project's profile.
pub fn load(
    project_doc: &Node,
    project_file: &Arc<SourceFile>,
    root: &Path,
    profiles_dir: Option<&Path>,
    profile_override: Option<&str>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Profile, Diagnostic> {
    let (profile, profile_span) = match (profile_override, project_doc.get("profile")) {
        (Some(p), _) => (p.to_owned(), cli_span("--profile", p)),
        (None, Some(n)) if !n.is_null() => (render_field(n, "`profile`")?, n.span.clone()),
        _ => {
            return Err(Diagnostic::error("dbt_project.yml names no `profile`")
                .with_label(&Span::file_start(project_file), "in this file")
                .with_help(
                    "add `profile: my_profile` (an entry of profiles.yml), or pass --profile",
                ))
        }
    };
    let path = find(profiles_dir, root)?;
    let shown = path
        .strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.clone());
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Diagnostic::error(format!("cannot read {}: {e}", path.display()))
            .with_help("check that the file is readable")
    })?;
    let file = SourceFile::new(shown, text);
    let doc = yaml::parse(&file)?;
    let doc = doc.expect_map("profiles.yml")?;
    if let Some(span) = doc.key_span("config") {
        warnings.push(
            Diagnostic::warning(
                "`config:` in profiles.yml is dbt's deprecated user config; sluice ignores it",
            )
            .with_label(span, "ignored")
            .with_help("set these under `flags:` in dbt_project.yml"),
        );
    }
    let Some(pnode) = doc.get(&profile) else {
        let names: Vec<&str> = doc
            .entries()
            .map(|(k, _, _)| k)
            .filter(|k| *k != "config")
            .collect();
        let help = suggestion_help(&profile, names.iter().copied(), || {
            let all = &names;
            if all.is_empty() {
                "profiles.yml defines no profile".to_owned()
            } else {
                format!("the profiles in profiles.yml are: {}", all.join(", "))
            }
        });
        return Err(Diagnostic::error(format!(
            "profile `{profile}` is not in {}",
            file.path.display()
        ))
        .with_label(&profile_span, "this profile")
        .with_note(format!("profiles.yml read from {}", path.display()))
        .with_help(help));
    };
    let pnode = pnode.expect_map(&format!("profile `{profile}`"))?;
    for (key, key_node, _) in pnode.entries() {
        if !matches!(key, "target" | "outputs") {
            warnings.push(
                Diagnostic::warning(format!(
                    "unknown key `{key}` in profile `{profile}`; it is ignored"
                ))
                .with_label(&key_node.span, "unknown key")
                .with_help("a profile has `target:` and `outputs:`"),
            );
        }
    }
    let outputs = pnode.get("outputs").ok_or_else(|| {
        Diagnostic::error(format!("profile `{profile}` has no `outputs`"))
            .with_label(
                doc.key_span(&profile).unwrap_or(&pnode.span),
                "this profile",
            )
            .with_help("add `outputs: {dev: {type: duckdb, path: dev.duckdb}}`")
    })?;
    let mut targets = Vec::new();
    let mut unusable = Vec::new();
    for (name, key, onode) in outputs.expect_map("`outputs`")?.entries() {
        let mut def = match target_def(name, key, onode) {
            Ok(def) => def,
            Err(e) => {
                unusable.push((name.to_owned(), e));
                continue;
            }
        };
        render_threads(&mut def)?;
        if def.kind == WarehouseKind::DuckDb {
            check_duckdb_keys(&def, warnings);
        }
        targets.push(def);
    }
    if targets.is_empty() {
        return Err(
            Diagnostic::error(format!("profile `{profile}` has no outputs"))
                .with_label(&outputs.span, "empty")
                .with_help("add an output, e.g. `dev: {type: duckdb, path: dev.duckdb}`"),
        );
    }
    // dbt's default target name is `default`.
    let default_target = match pnode.get("target") {
        Some(n) => Some((render_field(n, "`target`")?, n.span.clone())),
        None => Some((
            "default".to_owned(),
            doc.key_span(&profile)
                .cloned()
                .unwrap_or_else(|| pnode.span.clone()),
        )),
    };
    Ok(Profile {
        targets,
        default_target,
        unusable,
        file,
    })
}

/// A target's `threads`: a whole number of at least one. dbt-core crashes on 0 or
/// less (`max_workers must be greater than 0`); sluice refuses it, located.
/// A string (`"{{ env_var('THREADS') }}"`) is rendered first.
pub fn threads(node: &Node) -> Result<usize, Diagnostic> {
    let n = match &node.value {
        Value::Str(_) => {
            let text = render_field(node, "`threads`")?;
            text.trim().parse::<i64>().map_err(|_| {
                Diagnostic::error(format!("`threads` must be a whole number, not `{text}`"))
                    .with_label(&node.span, "here")
                    .with_help("write e.g. `threads: 4`")
            })?
        }
        _ => node.expect_int("`threads`")?,
    };
    usize::try_from(n).ok().filter(|t| *t >= 1).ok_or_else(|| {
        Diagnostic::error(format!("`threads` must be at least 1, not {n}"))
            .with_label(&node.span, "not a number of threads")
            .with_help("write e.g. `threads: 4` (1 runs one node at a time)")
    })
}

/// `threads: "{{ env_var('DBT_THREADS', 4) | as_number }}"`: rendered now, as dbt does.
fn render_threads(def: &mut TargetDef) -> Result<(), Diagnostic> {
    let Value::Map(entries) = &mut def.node.value else {
        return Ok(());
    };
    for (k, v) in entries.iter_mut() {
        if k.as_str() == Some("threads") && matches!(v.value, Value::Str(_)) {
            let text = render_field(v, "`threads`")?;
            let n = text.trim().parse::<i64>().map_err(|_| {
                Diagnostic::error(format!("`threads` must be a whole number, not `{text}`"))
                    .with_label(&v.span, "here")
                    .with_help("write e.g. `threads: 4`")
            })?;
            v.value = Value::Int(n);
        }
    }
    Ok(())
}

fn check_duckdb_keys(def: &TargetDef, warnings: &mut Vec<Diagnostic>) {
    for (key, key_node, _) in def.node.entries() {
        if !DUCKDB_KEYS.contains(&key) {
            warnings.push(
                Diagnostic::warning(format!(
                    "dbt-duckdb setting `{key}` of output `{}` is not supported by sluice; it is ignored",
                    def.name
                ))
                .with_label(&key_node.span, "ignored")
                .with_note(format!("sluice honours: {}", DUCKDB_KEYS.join(", "))),
            );
        }
    }
}

/// Pick the target: `--target` (or `DBT_TARGET`), else the default `target:`,
/// else the only/first one.
pub fn choose_target(pf: &ProjectFile, wanted: Option<&str>) -> Result<TargetDef, Diagnostic> {
    choose_from(
        &pf.targets,
        &pf.unusable_targets,
        pf.default_target.as_ref(),
        &pf.file,
        wanted,
    )
}

/// [`choose_target`] from the targets and the file they were read with.
pub fn choose_from(
    targets: &[TargetDef],
    unusable: &[(String, Diagnostic)],
    default_target: Option<&(String, Span)>,
    project_file: &Arc<SourceFile>,
    wanted: Option<&str>,
) -> Result<TargetDef, Diagnostic> {
    let (name, span) = match (wanted, default_target) {
        (Some(n), _) => (n.to_owned(), None),
        (None, Some((n, s))) => (n.clone(), Some(s.clone())),
        (None, None) => match targets.first() {
            // (An unusable first output is reported when named.)
            Some(t) => return Ok(t.clone()),
            None => {
                return Err(Diagnostic::error(format!(
                    "{} defines no target",
                    project_file.path.display()
                ))
                .with_label(&Span::file_start(project_file), "in this file")
                .with_help("add `targets: {dev: {type: duckdb, path: dev.duckdb, schema: main}}`"))
            }
        },
    };
    if let Some(t) = targets.iter().find(|t| t.name == name) {
        return Ok(t.clone());
    }
    if let Some((_, e)) = unusable.iter().find(|(n, _)| *n == name) {
        return Err(e.clone());
    }
    let from = targets
        .first()
        .map(|t| t.span.file.path.display().to_string())
        .unwrap_or_else(|| project_file.path.display().to_string());
    let help = suggestion_help(&name, targets.iter().map(|t| t.name.as_str()), || {
        format!(
            "the targets in {from} are: {}",
            targets
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    let mut d = Diagnostic::error(format!("unknown target `{name}`")).with_help(help);
    let section = if from.ends_with(PROFILES_FILE) {
        "under the profile's `outputs:`"
    } else {
        "under `targets:`"
    };
    match span {
        Some(s) => d = d.with_label(&s, "named here"),
        None => {
            d = d.with_label(
                &cli_span("--target", &name),
                format!("not defined {section} in {from}"),
            );
        }
    }
    Err(d)
}

/// The `target` the project file's Jinja sees: the non-secret fields.
pub fn target_context(def: &TargetDef) -> Result<Json, Diagnostic> {
    let text = |key: &str| -> Result<Option<String>, Diagnostic> {
        def.field(key)
            .filter(|n| !n.is_null())
            .map(|n| render_field(n, &format!("`{key}`")))
            .transpose()
    };
    let schema = match def.kind {
        WarehouseKind::BigQuery => text("dataset")?.or(text("schema")?),
        _ => text("schema")?,
    }
    .unwrap_or_else(|| "main".to_owned());
    let threads = def
        .field("threads")
        .and_then(|n| match n.value {
            Value::Int(i) => Some(i),
            _ => None,
        })
        .unwrap_or(4);
    let mut ctx = json!({
        "name": def.name,
        "target_name": def.name,
        "type": def.kind.as_str(),
        "schema": schema,
        "threads": threads,
    });
    let database = match def.kind {
        // A database the Jinja cannot see is left out: a template that reads it
        // fails there, naming it.
        WarehouseKind::BigQuery => text("project").ok().flatten(),
        WarehouseKind::DuckDb => text("database").ok().flatten().or_else(|| {
            text("path").ok().flatten().map(|p| {
                Path::new(&p)
                    .file_stem()
                    .map_or_else(|| "memory".to_owned(), |s| s.to_string_lossy().into_owned())
            })
        }),
        WarehouseKind::Snowflake => text("database").ok().flatten(),
    };
    if let (Some(db), Json::Object(m)) = (database, &mut ctx) {
        m.insert("database".into(), Json::String(db));
    }
    Ok(ctx)
}
