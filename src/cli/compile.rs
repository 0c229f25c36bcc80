//! `sluice parse` and `sluice compile` (`--inline` for SQL given on the command line).

use clap::Args;

use super::{emit_warnings, CommonArgs, Outcome, SelectArgs};
use crate::diagnostics::Diagnostics;
use crate::graph::select::IndirectSelection;
use crate::invocation;
use crate::render::parse::ResourceType;

pub fn parse(args: &CommonArgs) -> Result<Outcome, Diagnostics> {
    let started = std::time::Instant::now();
    // SLUICE_PARSE_TRACE=1 says which way the parse went (for tests and benchmarks).
    let trace = std::env::var_os("SLUICE_PARSE_TRACE").is_some();
    if let Some(fast) = crate::partial_parse::parse(&args.options()) {
        if trace {
            crate::output::eprintln(&format!(
                "parse: fast path ({} model files parsed)",
                fast.models - fast.reused
            ));
        }
        crate::output::println(&format!(
            "Parsed {} nodes in {:.2}s ({} of {} model files from the parse cache); wrote {}",
            fast.nodes,
            started.elapsed().as_secs_f64(),
            fast.reused,
            fast.models,
            fast.manifest.display()
        ));
        return Ok(Outcome::Success);
    }
    if trace {
        crate::output::eprintln("parse: full");
    }
    let mut loaded = invocation::load(&args.options(), "parse")?;
    emit_warnings(&loaded.warnings)?;
    loaded.write_parse_artifacts()?;
    crate::output::println(&format!(
        "Parsed {} nodes in {:.2}s ({} of {} model files from the parse cache); wrote {}",
        loaded.dag.nodes.len(),
        started.elapsed().as_secs_f64(),
        loaded.models_from_cache(),
        loaded.project.models.len(),
        loaded.target_path().join("manifest.json").display()
    ));
    // Freeing a 10,000-model project node by node takes longer than the whole warm
    // re-parse; the process ends here, and the OS takes the memory back at once.
    std::mem::forget(loaded);
    Ok(Outcome::Success)
}

#[derive(Args, Debug)]
pub struct CompileArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Compile this SQL (Jinja, refs and macros resolved) and print it, instead of
    /// the project's nodes: --inline "select * from {{ ref('orders') }}"
    #[arg(long, value_name = "SQL", conflicts_with_all = ["select", "exclude"])]
    pub inline: Option<String>,
}

pub fn run(args: &CompileArgs) -> Result<Outcome, Diagnostics> {
    if let Some(sql) = &args.inline {
        let mut loaded = args.select.load("compile")?;
        let compiled = loaded.compile_inline(sql);
        emit_warnings(&loaded.warnings)?;
        crate::output::println(compiled?.trim());
        return Ok(Outcome::Success);
    }
    let args = &args.select;
    let started = std::time::Instant::now();
    let mut loaded = args.load("compile")?;
    let selected = loaded.select(
        &args.select,
        &args.exclude,
        &[
            ResourceType::Model,
            ResourceType::Snapshot,
            ResourceType::Test,
        ],
        args.indirect(IndirectSelection::Eager),
    )?;
    let compiled = loaded
        .compile(&selected)
        .and_then(|mut c| loaded.compile_late_now(&mut c).map(|()| c));
    emit_warnings(&loaded.warnings)?;
    let compiled = compiled?;
    loaded.write_manifest(&compiled)?;
    crate::output::println(&format!(
        "Compiled {} nodes for {} in {:.2}s into {}",
        compiled.len(),
        loaded.renderer.target.kind.as_str(),
        started.elapsed().as_secs_f64(),
        loaded.target_path().join("compiled").display()
    ));
    // As in `parse`: the OS takes the memory back faster than freeing it node by node.
    std::mem::forget(compiled);
    std::mem::forget(loaded);
    Ok(Outcome::Success)
}
