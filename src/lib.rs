//! sluice: a dbt-style SQL transformation compiler.
//!
//! The pipeline runs one way, one module per stage:
//! [`project`] (load) → [`render`] (Jinja) → [`graph`] (DAG, selection) →
//! [`sql`] (check) → [`execute`] on an [`adapter`] → [`testing`] → [`artifacts`].
//! [`invocation`] wires the stages together for the [`cli`].

pub mod adapter;
pub mod artifacts;
pub mod atomic_file;
pub mod cli;
pub mod confine;
pub mod deps;
pub mod diagnostics;
pub mod execute;
pub mod graph;
pub mod invocation;
pub mod memory;
pub mod metrics;
pub mod output;
pub mod partial_parse;
pub mod project;
pub mod render;
pub mod sql;
pub mod testing;
