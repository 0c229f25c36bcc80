//! `exceptions`: `raise_compiler_error`, `warn` (a located sluice warning), and the
//! other raisers of dbt-core's `context/exceptions_jinja.py` packages call.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

use minijinja::value::{Object, Value};
use minijinja::{Error, ErrorKind, State};

use crate::diagnostics::{Diagnostic, SourceFile, Span};

/// Every template's source file, to point a warning at its call.
pub type Files = Arc<HashMap<String, Arc<SourceFile>>>;

#[derive(Debug)]
pub struct Exceptions {
    pub files: Files,
}

/// Warnings already shown: a template renders at parse and at compile, and a
/// macro may run for many nodes; each warning is shown once per invocation.
static SHOWN: LazyLock<Mutex<HashSet<(String, String)>>> =
    LazyLock::new(|| Mutex::new(HashSet::new()));

/// Where `exceptions.warn(` is called in `file`, preferring a call whose
/// argument text holds the message.
fn warn_span(file: &Arc<SourceFile>, msg: &str) -> Span {
    let text = &file.text;
    let calls: Vec<usize> = text.match_indices("warn(").map(|(i, _)| i).collect();
    let head: String = msg.chars().take(20).collect();
    let best = calls
        .iter()
        .find(|&&i| !head.is_empty() && text[i..].lines().next().is_some_and(|l| l.contains(&head)))
        .or(calls.first());
    match best {
        Some(&i) => Span::new(file, i, i + "warn(".len() - 1),
        None => Span::file_start(file),
    }
}

impl Exceptions {
    fn warn(&self, state: &State, msg: &str) {
        let name = state.name().to_owned();
        {
            // Poisoning only means a panic elsewhere; the set is still usable.
            let mut shown = SHOWN.lock().unwrap_or_else(|p| p.into_inner());
            if !shown.insert((name.clone(), msg.to_owned())) {
                return;
            }
        }
        let mut d = Diagnostic::warning(msg.to_owned());
        if let Some(file) = self.files.get(&name) {
            d = d.with_label(&warn_span(file, msg), "exceptions.warn called here");
        }
        crate::output::diagnostics(&[d]);
    }
}

fn raise(msg: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg)
}

impl Object for Exceptions {
    fn call_method(
        self: &Arc<Self>,
        state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let text = |i: usize| args.get(i).map(|v| v.to_string()).unwrap_or_default();
        match method {
            "raise_compiler_error" => Err(raise(text(0))),
            "warn" => {
                self.warn(state, &text(0));
                Ok(Value::from(""))
            }
            // dbt's NotImplementedError, raised by a project's or package's own macro.
            "raise_not_implemented" => Err(raise(format!(
                "{} (raised by exceptions.raise_not_implemented)",
                text(0)
            ))),
            "raise_database_error" => Err(raise(format!("database error: {}", text(0)))),
            "raise_dependency_error" => Err(raise(format!("dependency error: {}", text(0)))),
            "raise_fail_fast_error" => Err(raise(format!("fail fast: {}", text(0)))),
            "column_type_missing" => {
                Err(raise(format!("column types are missing for: {}", text(0))))
            }
            "relation_wrong_type" => {
                Err(raise(format!("relation {} is not a {}", text(0), text(1))))
            }
            "raise_contract_error" => Err(raise(format!(
                "contract error: yaml columns {} do not match sql columns {}",
                text(0),
                text(1)
            ))),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}
