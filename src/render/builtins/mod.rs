//! The Jinja context dbt packages rely on beyond `ref`/`source`/`config`: Python's
//! mutable lists and dicts ([`mutable`], [`rewrite`]), the base-context functions
//! ([`functions`]), `modules` ([`modules`], [`datetime`]), `exceptions`,
//! `builtins`, `flags`, `invocation_id`, `run_started_at`, `dbt_version`.
//!
//! The `*.sql` files beside this module are the builtin macro library
//! (see `macros::BUILTIN_FILES`).

pub mod datetime;
pub mod exceptions;
pub mod functions;
pub mod modules;
pub mod mutable;
pub mod rewrite;
pub mod strings;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use minijinja::value::{Object, Value};
use minijinja::Environment;
use serde_json::json;

use super::macros::{MacroFn, MacroRegistry};

/// What one invocation's renders share about the run itself.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub invocation_id: String,
    pub run_started_at: DateTime<Utc>,
    /// The command (`flags.WHICH`): `run`, `build`, `compile`, …
    pub which: String,
    /// `--store-failures` (`flags.STORE_FAILURES`).
    pub store_failures: bool,
}

impl Default for RunInfo {
    fn default() -> Self {
        RunInfo {
            invocation_id: crate::adapter::auth::uuid_v4(),
            run_started_at: Utc::now(),
            which: "compile".to_owned(),
            store_failures: false,
        }
    }
}

/// `flags` for a render, prebuilt for every combination of `--full-refresh` and
/// `--empty`.
#[derive(Clone, Debug)]
pub struct Flags([Value; 4]);

impl Flags {
    pub fn new(run: &RunInfo) -> Flags {
        let make = |full_refresh: bool, empty: bool| {
            Value::from_serialize(json!({
                "FULL_REFRESH": full_refresh,
                "WHICH": run.which,
                "STORE_FAILURES": run.store_failures,
                "FAIL_FAST": false,
                "WARN_ERROR": false,
                "WARN_ERROR_OPTIONS": {},
                "DEBUG": false,
                "QUIET": false,
                "NO_PRINT": false,
                "LOG_FORMAT": "default",
                "USE_COLORS": true,
                "PARTIAL_PARSE": true,
                "STATIC_PARSER": true,
                "INTROSPECT": true,
                "EMPTY": empty,
                "VERSION_CHECK": true,
                "SEND_ANONYMOUS_USAGE_STATS": false,
                "PRINTER_WIDTH": 80,
                "WRITE_JSON": true,
                "INDIRECT_SELECTION": "eager",
                "CACHE_SELECTED_ONLY": false,
                "USE_EXPERIMENTAL_PARSER": false,
                "STATE_MODIFIED_COMPARE_MORE_UNRENDERED_VALUES": false,
                "REQUIRE_EXPLICIT_PACKAGE_OVERRIDES_FOR_BUILTIN_MATERIALIZATIONS": true,
                "INVOCATION_COMMAND": format!("dbt {}", run.which),
            }))
        };
        Flags([
            make(false, false),
            make(true, false),
            make(false, true),
            make(true, true),
        ])
    }

    pub fn get(&self, full_refresh: bool, empty: bool) -> Value {
        self.0[usize::from(full_refresh) + 2 * usize::from(empty)].clone()
    }
}

impl Default for Flags {
    fn default() -> Self {
        Flags::new(&RunInfo::default())
    }
}

/// Early: mutable literals and Python's methods (before other functions).
pub fn install(env: &mut Environment<'static>) {
    mutable::install(env);
}

/// `builtins`: dbt's own `ref`, `source` and `config`, for project macros that
/// override them (`{% macro ref(name) %}{{ return(builtins.ref(name)) }}`).
#[derive(Debug)]
struct Builtins(BTreeMap<&'static str, Value>);

impl Object for Builtins {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get(key.as_str()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Values(self.0.keys().map(|k| Value::from(*k)).collect())
    }
}

/// Late: after `context::install`, whose entries some of these replace.
pub fn install_context(
    env: &mut Environment<'static>,
    registry: &Arc<MacroRegistry>,
    files: exceptions::Files,
) {
    functions::install(env);
    env.add_global("modules", Value::from_object(modules::Modules));
    env.add_global(
        "exceptions",
        Value::from_object(exceptions::Exceptions { files }),
    );
    env.add_global("dbt_version", Value::from(crate::project::DBT_VERSION));
    let originals: BTreeMap<&'static str, Value> = ["ref", "source", "config"]
        .into_iter()
        .filter_map(|name| {
            env.globals()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (name, v))
        })
        .collect();
    env.add_global("builtins", Value::from_object(Builtins(originals)));
    // A project macro named like a builtin replaces it, as in dbt.
    for name in ["ref", "source"] {
        if let Some(def) = registry.project(name) {
            env.add_global(name, MacroFn::value(def));
        }
    }
    set_run_globals(env, &RunInfo::default());
}

/// `invocation_id` and `run_started_at`.
pub fn set_run_globals(env: &mut Environment<'static>, run: &RunInfo) {
    env.add_global("invocation_id", Value::from(run.invocation_id.clone()));
    env.add_global(
        "run_started_at",
        datetime::DateTime::value(datetime::DateTime::utc(run.run_started_at)),
    );
}
