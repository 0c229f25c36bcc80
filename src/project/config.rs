//! Node configuration: the `+key` settings of `project.yml`, `config:` blocks in YAML
//! properties, and `{{ config(...) }}` calls, merged with dbt's precedence.
//!
//! A [`Config`] is an ordered map of key → JSON value, each remembering where it was
//! set so a bad value is reported at its source. Merging follows dbt: `tags` are a
//! union, `meta` is merged key by key, hooks accumulate, everything else overrides.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::diagnostics::{suggestion_help, Diagnostic, Span};

/// Config keys sluice implements, for models, seeds and tests.
pub const IMPLEMENTED_KEYS: &[&str] = &[
    "materialized",
    "schema",
    "alias",
    "database",
    "tags",
    "enabled",
    "meta",
    "docs",
    "pre-hook",
    "post-hook",
    "sql_check",
    "column_types",
    "delimiter",
    "severity",
    "where",
    "limit",
    "warn_if",
    "error_if",
    "fail_calc",
    "store_failures",
    "store_failures_as",
    "description",
    "unique_key",
    "incremental_strategy",
    "on_schema_change",
    "incremental_predicates",
    "full_refresh",
    "strategy",
    "updated_at",
    "check_cols",
    "target_schema",
    "target_database",
    "invalidate_hard_deletes",
    "hard_deletes",
    "contract",
    "access",
    "group",
];

/// Config keys dbt knows that sluice accepts and ignores (with a warning).
pub const IGNORED_KEYS: &[&str] = &[
    "persist_docs",
    "grants",
    "on_configuration_change",
    "event_time",
    "batch_size",
    "lookback",
    "begin",
    "concurrent_batches",
    "quote_columns",
    "quoting",
    "packages",
    "docs_blocks",
    "labels",
    "cluster_by",
    "partition_by",
    "transient",
    "copy_grants",
    "snowflake_warehouse",
    "query_tag",
    "deprecation_date",
    "freshness",
    "loaded_at_field",
    "unique_id",
    "snapshot_meta_column_names",
    "dbt_valid_to_current",
    "indexes",
    "file_format",
    "location_root",
    "merge_update_columns",
    "merge_exclude_columns",
];

/// dbt spells hooks `pre-hook` in YAML and `pre_hook` in `config()`: one name inside.
pub fn canonical_key(key: &str) -> &str {
    match key {
        "pre_hook" => "pre-hook",
        "post_hook" => "post-hook",
        "data_tests" => "tests",
        other => other,
    }
}

#[derive(Clone, Debug)]
pub struct ConfigEntry {
    pub value: Json,
    pub span: Option<Span>,
}

#[derive(Clone, Debug, Default)]
pub struct Config {
    entries: BTreeMap<String, ConfigEntry>,
}

impl Config {
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.entries.get(key).map(|e| &e.value)
    }

    pub fn span(&self, key: &str) -> Option<&Span> {
        self.entries.get(key).and_then(|e| e.span.as_ref())
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Json::as_str)
    }

    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Json::as_bool)
    }

    pub fn tags(&self) -> Vec<String> {
        string_list(self.get("tags"))
    }

    pub fn hooks(&self, key: &str) -> Vec<String> {
        string_list(self.get(key))
    }

    pub fn enabled(&self) -> bool {
        self.get_bool("enabled").unwrap_or(true)
    }

    /// Set one key, merging with dbt's rules for the additive keys.
    pub fn set(&mut self, key: &str, value: Json, span: Option<Span>) {
        let key = canonical_key(key).to_owned();
        let merged = match (key.as_str(), self.entries.get(&key)) {
            ("tags", Some(old)) => {
                let mut all = string_list(Some(&old.value));
                for t in string_list(Some(&value)) {
                    if !all.contains(&t) {
                        all.push(t);
                    }
                }
                Json::from(all)
            }
            ("pre-hook" | "post-hook", Some(old)) => {
                let mut all = string_list(Some(&old.value));
                all.extend(string_list(Some(&value)));
                Json::from(all)
            }
            // dbt merges these mappings key by key (`+contract: {enforced: true}` in
            // the project, `contract: {alias_types: false}` in YAML; a folder's
            // `+column_types` and a seed's own), its `MergeBehavior.Update`.
            (
                "meta" | "contract" | "column_types" | "quoting" | "persist_docs" | "docs",
                Some(old),
            ) => match (&old.value, &value) {
                (Json::Object(a), Json::Object(b)) => {
                    let mut m = a.clone();
                    m.extend(b.clone());
                    Json::Object(m)
                }
                _ => value,
            },
            _ => value,
        };
        self.entries.insert(
            key,
            ConfigEntry {
                value: merged,
                span,
            },
        );
    }

    /// Apply every entry of `other` on top of this config.
    pub fn merge(&mut self, other: &Config) {
        for (k, e) in &other.entries {
            self.set(k, e.value.clone(), e.span.clone());
        }
    }

    pub fn to_json(&self) -> Json {
        Json::Object(
            self.entries
                .iter()
                .map(|(k, e)| (k.clone(), e.value.clone()))
                .collect(),
        )
    }

    /// Every entry with its key, in key order (the parse cache stores them).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &ConfigEntry)> {
        self.entries.iter().map(|(k, e)| (k.as_str(), e))
    }

    /// Put an entry back as it was stored, without merging (the parse cache).
    pub fn insert_entry(&mut self, key: String, entry: ConfigEntry) {
        self.entries.insert(key, entry);
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

fn string_list(v: Option<&Json>) -> Vec<String> {
    match v {
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Validate one config key (from any source) and warn about ignored dbt keys.
///
/// A key sluice does not know is an error only when it is a near miss of one it
/// knows (`+materialised`: dbt would silently keep the model a view). Any other
/// key is a custom or another adapter's config (`+bind` for Redshift, a key a
/// package's macro reads with `config.get`): dbt-core keeps it in the node's
/// config, and so does sluice, with a warning saying it has no effect of its own.
pub fn check_key(key: &str, span: &Span, warnings: &mut Vec<Diagnostic>) -> Result<(), Diagnostic> {
    let key = canonical_key(key);
    if IMPLEMENTED_KEYS.contains(&key) {
        return Ok(());
    }
    if IGNORED_KEYS.contains(&key) {
        warnings.push(
            Diagnostic::warning(format!(
                "config `{key}` is a dbt setting sluice does not support yet; it is ignored"
            ))
            .with_event(crate::diagnostics::event::UNSUPPORTED_CONFIG)
            .with_label(span, "ignored"),
        );
        return Ok(());
    }
    let candidates = IMPLEMENTED_KEYS.iter().chain(IGNORED_KEYS).copied();
    // Closer than a suggestion, so short custom keys (`bind`, `sort`, `dist`)
    // are not taken for typos.
    if let Some(near) = crate::diagnostics::closest_within(key, candidates, 0.9) {
        return Err(Diagnostic::error(format!("unknown config `{key}`"))
            .with_label(span, "unknown config key")
            .with_help(format!("did you mean `{near}`?")));
    }
    warnings.push(
        Diagnostic::warning(format!(
            "config `{key}` is not a dbt config sluice knows; it is kept in the node's config \
             (`config.get('{key}')` reads it) and has no other effect"
        ))
        .with_event(crate::diagnostics::event::CUSTOM_KEY_IN_CONFIG)
        .with_label(span, "custom config key")
        .with_help("custom settings belong under `meta:`, as dbt recommends"),
    );
    Ok(())
}

/// The JSON type a config key takes, as dbt-core 1.11's config schema has it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Bool,
    Str,
    Int,
    /// A string or a list of strings (`tags`, `unique_key`, `check_cols`).
    Strings,
    /// A string or a list of strings or `{sql: ..., transaction: ...}` mappings.
    Hooks,
    Map,
}

fn value_kind(key: &str) -> Option<ValueKind> {
    use ValueKind::*;
    Some(match key {
        "enabled" | "full_refresh" | "invalidate_hard_deletes" => Bool,
        "materialized"
        | "schema"
        | "alias"
        | "database"
        | "sql_check"
        | "delimiter"
        | "severity"
        | "where"
        | "warn_if"
        | "error_if"
        | "fail_calc"
        | "description"
        | "incremental_strategy"
        | "on_schema_change"
        | "strategy"
        | "updated_at"
        | "target_schema"
        | "target_database"
        | "hard_deletes" => Str,
        "limit" => Int,
        "tags" | "unique_key" | "check_cols" | "incremental_predicates" => Strings,
        "pre-hook" | "post-hook" => Hooks,
        "meta" | "docs" | "column_types" | "contract" => Map,
        _ => return None,
    })
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a mapping",
    }
}

/// Validate one config key and its value (from any source): an unknown key is an
/// error, an ignored dbt key a warning, and a value of the wrong type (`enabled:
/// "yes"`, `tags: {a: 1}`, `materialized: 3`) a located error, as dbt-core
/// refuses them ("'yes' is not of type 'boolean'"). `null` unsets a key, and a
/// string holding Jinja is typed once rendered.
pub fn check_entry(
    key: &str,
    value: &Json,
    span: &Span,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), Diagnostic> {
    check_key(key, span, warnings)?;
    check_value(key, value, span)
}

/// The type check of [`check_entry`] alone, for a key already checked.
pub fn check_value(key: &str, value: &Json, span: &Span) -> Result<(), Diagnostic> {
    let key = canonical_key(key);
    let Some(kind) = value_kind(key) else {
        return Ok(());
    };
    let jinja = |s: &str| s.contains("{{") || s.contains("{%");
    let ok = match (kind, value) {
        (_, Json::Null) => true,
        (_, Json::String(s)) if jinja(s) => true,
        (ValueKind::Bool, v) => v.is_boolean(),
        (ValueKind::Str, v) => v.is_string(),
        (ValueKind::Int, v) => v.is_i64() || v.is_u64(),
        (ValueKind::Strings, Json::String(_)) => true,
        (ValueKind::Strings, Json::Array(items)) => items.iter().all(Json::is_string),
        (ValueKind::Hooks, Json::String(_)) => true,
        (ValueKind::Hooks, Json::Array(items)) => {
            items.iter().all(|i| i.is_string() || i.is_object())
        }
        (ValueKind::Hooks, Json::Object(_)) => true,
        (ValueKind::Map, v) => v.is_object(),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let (expected, example) = match kind {
        ValueKind::Bool => ("true or false", format!("`{key}: true`")),
        ValueKind::Str => ("a string", format!("`{key}: \"...\"` (quoted)")),
        ValueKind::Int => ("a whole number", format!("`{key}: 10`")),
        ValueKind::Strings => ("a string or a list of strings", format!("`{key}: [a, b]`")),
        ValueKind::Hooks => (
            "SQL: a string or a list of strings",
            format!("`{key}: \"grant select on {{{{ this }}}} to role reporter\"`"),
        ),
        ValueKind::Map => ("a mapping", format!("`{key}: {{...}}`")),
    };
    let found = match value {
        Json::Array(items) => match items.iter().find(|i| !i.is_string()) {
            Some(item) if kind != ValueKind::Bool => {
                format!("a list holding {}", json_kind(item))
            }
            _ => "a list".to_owned(),
        },
        Json::String(s) => format!("the string {s:?}"),
        v => format!("{} ({v})", json_kind(v)),
    };
    Err(
        Diagnostic::error(format!("config `{key}` must be {expected}, found {found}"))
            .with_label(span, format!("expected {expected}"))
            .with_help(format!("write e.g. {example}")),
    )
}

/// How a model is built in the warehouse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Materialization {
    View,
    Table,
    Incremental,
    Ephemeral,
    Seed,
    Snapshot,
    Test,
    /// A `materialized` sluice has no built-in for (a custom `{% materialization %}`,
    /// an adapter's, or a misspelt name): the node's config says which, and it is
    /// an error of that node when it runs (see `render::parse`).
    Other,
}

impl Materialization {
    /// The name, as `materialized` spells it; `other` for [`Materialization::Other`]
    /// (whose name is the config's: `ParsedNode::materialized`).
    pub fn as_str(self) -> &'static str {
        match self {
            Materialization::View => "view",
            Materialization::Table => "table",
            Materialization::Incremental => "incremental",
            Materialization::Ephemeral => "ephemeral",
            Materialization::Seed => "seed",
            Materialization::Snapshot => "snapshot",
            Materialization::Test => "test",
            Materialization::Other => "other",
        }
    }

    /// Read `materialized` from a model's merged config; `default` when unset
    /// (view for SQL models, table for Python ones, as in dbt). A name sluice does
    /// not build is [`Materialization::Other`]: not a project error, as in dbt,
    /// where only the node that uses it fails.
    pub fn of_model(
        config: &Config,
        fallback: &Span,
        default: Materialization,
    ) -> Result<Materialization, Diagnostic> {
        let span = config.span("materialized").unwrap_or(fallback);
        match config.get("materialized") {
            None => Ok(default),
            Some(Json::String(s)) => Ok(match s.as_str() {
                "view" => Materialization::View,
                "table" => Materialization::Table,
                "ephemeral" => Materialization::Ephemeral,
                "incremental" => Materialization::Incremental,
                _ => Materialization::Other,
            }),
            Some(other) => Err(Diagnostic::error(format!(
                "`materialized` must be a string, found `{other}`"
            ))
            .with_label(span, "expected view, table, incremental or ephemeral")),
        }
    }
}

/// Why a model whose `materialized` is `name` cannot be built by sluice, when
/// the project defines no `{% materialization %}` of that name for the adapter
/// (`adapter`: the target's type): dbt's message for an unknown one, or sluice's
/// for a dbt materialization it does not have.
pub fn missing_materialization(name: &str, adapter: &str, span: &Span) -> Diagnostic {
    match name {
        "snapshot" => Diagnostic::error("`snapshot` is not a model materialization")
            .with_label(span, "set here")
            .with_help("snapshots are `{% snapshot %}` blocks in snapshot-paths (or YAML `snapshots:`); use `incremental` or `table` for a model"),
        "materialized_view" | "dynamic_table" => Diagnostic::error(format!(
            "materialization `{name}` is not available in this version of sluice"
        ))
        .with_label(span, format!("`{name}` set here"))
        .with_help("use `table` or `incremental`"),
        other => {
            let help = suggestion_help(other, ["view", "table", "incremental", "ephemeral"], || {
                "materialized must be one of: view, table, incremental, ephemeral, or a `{% materialization %}` the project defines".to_owned()
            });
            Diagnostic::error(format!(
                "No materialization '{other}' was found for adapter {adapter}! (searched types 'default' and '{adapter}')"
            ))
            .with_label(span, "unknown materialization")
            .with_help(help)
        }
    }
}

/// What to do when sqlparser cannot parse a model (`sql_check` config).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlCheck {
    Error,
    Warn,
    Off,
}

impl SqlCheck {
    pub fn of(config: &Config, fallback: &Span) -> Result<SqlCheck, Diagnostic> {
        match config.get_str("sql_check") {
            None | Some("error") => Ok(SqlCheck::Error),
            Some("warn") => Ok(SqlCheck::Warn),
            Some("off") => Ok(SqlCheck::Off),
            Some(other) => Err(Diagnostic::error(format!(
                "`sql_check` must be error, warn or off, found `{other}`"
            ))
            .with_label(
                config.span("sql_check").unwrap_or(fallback),
                "invalid value",
            )),
        }
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;

    fn check(key: &str) -> (Result<(), Diagnostic>, Vec<Diagnostic>) {
        let mut warnings = Vec::new();
        let file = crate::diagnostics::SourceFile::new("dbt_project.yml", key);
        let r = check_key(key, &Span::new(&file, 0, key.len()), &mut warnings);
        (r, warnings)
    }

    #[test]
    fn other_adapters_and_custom_keys_are_kept_with_a_warning() {
        for key in [
            "bind",
            "dist",
            "sort",
            "sort_type",
            "backup",
            "unlogged",
            "secure",
            "options",
            "tblproperties",
            "require_partition_filter",
            "kms_key_name",
            "automatic_clustering",
            "table_format",
            "target_lag",
            "my_custom_key",
        ] {
            let (r, warnings) = check(key);
            assert!(r.is_ok(), "`{key}` was refused");
            assert_eq!(warnings.len(), 1, "`{key}` gave no warning");
            assert!(warnings[0].message.contains("kept in the node's config"));
        }
    }

    #[test]
    fn near_misses_of_known_keys_stay_errors() {
        for (key, near) in [
            ("materialised", "materialized"),
            ("enable", "enabled"),
            ("uniqe_key", "unique_key"),
        ] {
            let (r, _) = check(key);
            let err = r.expect_err(key);
            assert!(format!("{err:?}").contains(near), "{key}: {err:?}");
        }
    }
}
