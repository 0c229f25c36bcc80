//! `sluice debug`: what sluice sees (project, target) and whether it can connect.

use super::{CommonArgs, Outcome};
use crate::diagnostics::Diagnostics;
use crate::invocation;

pub fn run(args: &CommonArgs) -> Result<Outcome, Diagnostics> {
    let loaded = invocation::load(&args.options(), "debug")?;
    let p = &loaded.project;
    crate::output::println(&format!("sluice {}", env!("CARGO_PKG_VERSION")));
    crate::output::println(&format!("project: {} ({})", p.name(), p.root.display()));
    let read: Vec<String> = std::iter::once(&p.file.file)
        .chain(&p.file.extra_files)
        .map(|f| f.path.display().to_string())
        .collect();
    crate::output::println(&format!("  settings from: {}", read.join(", ")));
    crate::output::println(&format!(
        "  models: {}, seeds: {}, macros files: {}, singular tests: {}",
        p.models.len(),
        p.seeds.len(),
        p.macros.len(),
        p.singular_tests.len()
    ));
    let t = &loaded.renderer.target;
    crate::output::println(&format!(
        "target: {} (type {}, schema {}, threads {})",
        t.name,
        t.kind.as_str(),
        t.schema,
        t.threads
    ));
    let adapter = loaded.adapter()?;
    match adapter.connection_facts() {
        Ok(facts) => {
            for (label, value) in facts {
                crate::output::println(&format!("  {label}: {value}"));
            }
            crate::output::println("connection: OK");
            Ok(Outcome::Success)
        }
        Err(e) => {
            crate::output::println(&format!("connection: FAILED: {e}"));
            Ok(Outcome::Failure)
        }
    }
}
