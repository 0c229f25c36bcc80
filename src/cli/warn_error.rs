//! `--warn-error` and `--warn-error-options` → the process's
//! [`WarnErrorPolicy`](crate::diagnostics::WarnErrorPolicy), as dbt reads them:
//! YAML (or JSON) with `error`/`warn`/`silence` (dbt 1.10) or the older
//! `include`/`exclude`; `"all"` or `"*"` for every warning; event names from
//! [`event::ALL`](crate::diagnostics::event::ALL).

use super::CommonArgs;
use crate::diagnostics::{event, suggestion_help, Diagnostic, SourceFile, Span, WarnErrorPolicy};

const FLAG: &str = "--warn-error-options";

pub fn policy(args: &CommonArgs) -> Result<WarnErrorPolicy, Diagnostic> {
    let mut policy = WarnErrorPolicy {
        error_all: args.warn_error,
        ..WarnErrorPolicy::default()
    };
    let Some(text) = &args.warn_error_options else {
        return Ok(policy);
    };
    if args.warn_error {
        // dbt: "Only one of --warn-error or --warn-error-options may be specified".
        return Err(Diagnostic::error(
            "--warn-error and --warn-error-options cannot be used together",
        )
        .with_help(
            "use --warn-error-options '{\"error\": \"all\"}' with the exceptions you need",
        ));
    }
    let file = SourceFile::new(FLAG, text.clone());
    let doc = crate::project::yaml::parse(&file)?;
    if doc.is_null() {
        return Ok(policy);
    }
    let doc = doc.expect_map(FLAG)?;
    for (key, key_node, value) in doc.entries() {
        let (all, list) =
            match key {
                "error" | "include" => (Some(&mut policy.error_all), &mut policy.error),
                "warn" | "exclude" => (None, &mut policy.warn),
                "silence" => (None, &mut policy.silence),
                other => {
                    let keys = ["error", "warn", "silence", "include", "exclude"];
                    return Err(Diagnostic::error(format!("unknown key `{other}` in {FLAG}"))
                    .with_label(&key_node.span, "unknown key")
                    .with_help(suggestion_help(other, keys, || {
                        "the keys are error, warn and silence (or dbt's older include, exclude)"
                            .to_owned()
                    })));
                }
            };
        if let Some(s) = value.as_str() {
            if s == "all" || s == "*" {
                match all {
                    Some(flag) => *flag = true,
                    None => {
                        return Err(Diagnostic::error(format!(
                            "`{key}` takes a list of event names, not `{s}`"
                        ))
                        .with_label(&value.span, "expected a list")
                        .with_help(format!("write `{key}: [NoNodesForSelectionCriteria]`")))
                    }
                }
                continue;
            }
        }
        for item in value.expect_seq(&format!("`{key}`"))? {
            let name = item.expect_str("an event name")?;
            if !event::ALL.contains(&name) {
                return Err(unknown_event(name, &item.span));
            }
            list.push(name.to_owned());
        }
    }
    Ok(policy)
}

fn unknown_event(name: &str, span: &Span) -> Diagnostic {
    Diagnostic::error(format!("`{name}` is not a warning sluice emits"))
        .with_label(span, "unknown event name")
        .with_help(suggestion_help(name, event::ALL.iter().copied(), || {
            format!("the warnings are: {}", event::ALL.join(", "))
        }))
}
