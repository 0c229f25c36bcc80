//! `sluice debug`: what sluice sees (project, target) and whether it can connect.

use super::{CommonArgs, Outcome};
use crate::diagnostics::Diagnostics;
use crate::invocation;

pub fn run(args: &CommonArgs) -> Result<Outcome, Diagnostics> {
    let loaded = invocation::load(&args.options(), "debug")?;
    let p = &loaded.project;
    println!("sluice {}", env!("CARGO_PKG_VERSION"));
    println!("project: {} ({})", p.name(), p.root.display());
    println!(
        "  models: {}, seeds: {}, macros files: {}, singular tests: {}",
        p.models.len(),
        p.seeds.len(),
        p.macros.len(),
        p.singular_tests.len()
    );
    let t = &loaded.renderer.target;
    println!(
        "target: {} (type {}, schema {}, threads {})",
        t.name,
        t.kind.as_str(),
        t.schema,
        t.threads
    );
    let adapter = loaded.adapter()?;
    match adapter.connection_facts() {
        Ok(facts) => {
            for (label, value) in facts {
                println!("  {label}: {value}");
            }
            println!("connection: OK");
            Ok(Outcome::Success)
        }
        Err(e) => {
            println!("connection: FAILED: {e}");
            Ok(Outcome::Failure)
        }
    }
}
