//! Execute stage: run the selected DAG on an [`Adapter`].
//!
//! A scheduler hands ready nodes to `--threads` workers; a node is ready when every
//! selected node it waits for has finished. A failure does not stop unrelated
//! branches: its descendants are reported as skipped (`--fail-fast` stops
//! everything instead). Each worker holds its own warehouse session.

pub mod compile;
pub mod contract;
pub mod freshness;
pub mod hooks;
pub mod incremental;
pub mod introspect;
pub mod materialize;
pub mod operation;
pub mod report;
pub mod snapshot;
mod timed;

use std::collections::{HashMap, HashSet};
use std::sync::{Condvar, Mutex};

use chrono::{DateTime, Utc};
use petgraph::graph::NodeIndex;

use crate::adapter::{Adapter, Session};
use crate::diagnostics::Diagnostic;
use crate::graph::Dag;
use crate::render::parse::ResourceType;
pub use report::Reporter;

/// How a node ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Success,
    Error,
    Skipped,
    Pass,
    Warn,
    Fail,
}

impl Status {
    /// The status string dbt writes in run_results.json.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Error => "error",
            Status::Skipped => "skipped",
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }

    /// Whether dependents may run after this.
    pub fn blocks_dependents(self) -> bool {
        matches!(self, Status::Error | Status::Skipped | Status::Fail)
    }
}

/// What running one node produced.
#[derive(Clone, Debug)]
pub struct NodeResult {
    pub unique_id: String,
    pub status: Status,
    pub message: String,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub execution_time: f64,
    pub rows_affected: Option<u64>,
    pub failures: Option<u64>,
    pub thread_id: String,
    /// A located error for the user (a bad seed value, a warehouse error).
    pub diagnostic: Option<Diagnostic>,
    /// The error comes from invalid input (exit code 2), not from a failed model.
    pub invalid_input: bool,
    /// Seconds spent waiting on the warehouse (the rest of `execution_time` is
    /// sluice's own).
    pub warehouse_seconds: f64,
}

impl NodeResult {
    pub fn skipped(unique_id: &str, message: String) -> NodeResult {
        NodeResult {
            unique_id: unique_id.to_owned(),
            status: Status::Skipped,
            message,
            started_at: None,
            completed_at: None,
            execution_time: 0.0,
            rows_affected: None,
            failures: None,
            thread_id: String::new(),
            diagnostic: None,
            invalid_input: false,
            warehouse_seconds: 0.0,
        }
    }
}

/// Runs one node in a session; provided by the caller (it knows compiled SQL).
pub trait NodeRunner: Sync {
    fn run(&self, session: &mut dyn Session, idx: NodeIndex) -> NodeResult;
}

struct SchedulerState {
    /// Nodes each node waits for that have not finished.
    pending: HashMap<NodeIndex, usize>,
    waiters: HashMap<NodeIndex, Vec<NodeIndex>>,
    ready: Vec<NodeIndex>,
    blocked_by: HashMap<NodeIndex, String>,
    results: Vec<NodeResult>,
    remaining: usize,
    started: usize,
    stop: bool,
}

/// What each node waits for: its selected parents and, in `build`, the tests of
/// those parents (a failing test on a model skips the model's children).
pub fn dependencies(
    dag: &Dag,
    selected: &HashSet<NodeIndex>,
    tests_gate_children: bool,
) -> HashMap<NodeIndex, Vec<NodeIndex>> {
    let mut deps: HashMap<NodeIndex, Vec<NodeIndex>> = HashMap::new();
    for &idx in selected {
        let mut d = effective_parents(dag, idx, selected);
        if tests_gate_children && dag.node(idx).resource_type != ResourceType::Test {
            // All of a node's ancestors are walked only for a test with a parent
            // besides the node's own parents (a relationships test): walking them
            // for every node made this quadratic in the number of nodes.
            let mut ancestors = None;
            let parents = d.clone();
            for &p in &parents {
                for t in dag.children(p) {
                    let is_test = dag.node(t).resource_type == ResourceType::Test;
                    if is_test
                        && selected.contains(&t)
                        && dag.parents(t).all(|tp| {
                            parents.contains(&tp)
                                || ancestors
                                    .get_or_insert_with(|| dag.ancestors(idx, None))
                                    .contains(&tp)
                        })
                    {
                        d.push(t);
                    }
                }
            }
        }
        d.sort();
        d.dedup();
        deps.insert(idx, d);
    }
    deps
}

/// The selected nodes `idx` must wait for: its selected parents, looking through
/// ephemeral models (inlined, never run) to the nodes they read.
fn effective_parents(dag: &Dag, idx: NodeIndex, selected: &HashSet<NodeIndex>) -> Vec<NodeIndex> {
    let mut out = Vec::new();
    let mut stack: Vec<NodeIndex> = dag.parents(idx).collect();
    let mut seen = HashSet::new();
    while let Some(p) = stack.pop() {
        if !seen.insert(p) {
            continue;
        }
        if selected.contains(&p) {
            out.push(p);
        } else if dag.node(p).materialization == crate::project::Materialization::Ephemeral {
            stack.extend(dag.parents(p));
        }
    }
    out
}

/// Run one node, counting the time it spends inside the warehouse.
fn run_timed(runner: &dyn NodeRunner, session: &mut dyn Session, idx: NodeIndex) -> NodeResult {
    let mut timed = timed::TimedSession::new(session);
    let mut result = runner.run(&mut timed, idx);
    result.warehouse_seconds = timed.spent().as_secs_f64();
    result
}

/// Run `selected` nodes in dependency order on `threads` workers.
#[allow(clippy::too_many_arguments)]
pub fn run(
    dag: &Dag,
    selected: &HashSet<NodeIndex>,
    deps: &HashMap<NodeIndex, Vec<NodeIndex>>,
    adapter: &dyn Adapter,
    runner: &dyn NodeRunner,
    threads: usize,
    fail_fast: bool,
    reporter: &Reporter,
) -> Vec<NodeResult> {
    let mut pending = HashMap::new();
    let mut waiters: HashMap<NodeIndex, Vec<NodeIndex>> = HashMap::new();
    let mut ready = Vec::new();
    for &idx in selected {
        let d = &deps[&idx];
        pending.insert(idx, d.len());
        for p in d {
            waiters.entry(*p).or_default().push(idx);
        }
        if d.is_empty() {
            ready.push(idx);
        }
    }
    // Start in a stable order: by name, so output is deterministic with one thread.
    ready.sort_by(|a, b| dag.node(*b).unique_id.cmp(&dag.node(*a).unique_id));
    let state = Mutex::new(SchedulerState {
        pending,
        waiters,
        ready,
        blocked_by: HashMap::new(),
        results: Vec::with_capacity(selected.len()),
        remaining: selected.len(),
        started: 0,
        stop: false,
    });
    let wake = Condvar::new();
    let total = selected.len();
    let threads = threads.max(1).min(total.max(1));
    crate::output::progress_start(total as u64);

    std::thread::scope(|scope| {
        for worker in 0..threads {
            let state = &state;
            let wake = &wake;
            // Late nodes render and parse their SQL here: a big stack.
            crate::render::limits::spawn_scoped(scope, move || {
                let thread_id = format!("Thread-{} (worker)", worker + 1);
                let mut session: Option<Box<dyn Session>> = None;
                loop {
                    let (idx, number, skip_reason) = {
                        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                        loop {
                            if s.remaining == 0 || (s.stop && s.ready.is_empty()) {
                                return;
                            }
                            if let Some(idx) = s.ready.pop() {
                                s.started += 1;
                                let reason = s.blocked_by.get(&idx).cloned();
                                let reason = reason.or_else(|| {
                                    s.stop.then(|| "--fail-fast stopped the run".to_owned())
                                });
                                break (idx, s.started, reason);
                            }
                            s = wake.wait(s).unwrap_or_else(|p| p.into_inner());
                        }
                    };
                    let node = dag.node(idx);
                    let result = match skip_reason {
                        Some(reason) => NodeResult::skipped(&node.unique_id, reason),
                        None => match session.as_mut() {
                            Some(sess) => run_timed(runner, sess.as_mut(), idx),
                            None => match adapter.session() {
                                Ok(new) => {
                                    let sess = session.insert(new);
                                    run_timed(runner, sess.as_mut(), idx)
                                }
                                Err(e) => NodeResult {
                                    message: e.to_string(),
                                    status: Status::Error,
                                    ..NodeResult::skipped(&node.unique_id, String::new())
                                },
                            },
                        },
                    };
                    let mut result = result;
                    if result.status != Status::Skipped {
                        result.thread_id = thread_id.clone();
                    }
                    reporter.node_finished(dag, idx, number, total, &result);
                    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                    if fail_fast && matches!(result.status, Status::Error | Status::Fail) {
                        s.stop = true;
                    }
                    let blocked = result.status.blocks_dependents();
                    for w in s.waiters.get(&idx).cloned().unwrap_or_default() {
                        if blocked && !s.blocked_by.contains_key(&w) {
                            s.blocked_by.insert(
                                w,
                                format!("skipped because `{}` did not succeed", node.name),
                            );
                        }
                        let p = s
                            .pending
                            .get_mut(&w)
                            .expect("every waiter has a pending count");
                        *p -= 1;
                        if *p == 0 {
                            s.ready.push(w);
                        }
                    }
                    s.results.push(result);
                    s.remaining -= 1;
                    drop(s);
                    wake.notify_all();
                }
            });
        }
    });
    crate::output::progress_finish();
    let mut results = state
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .results;
    // With --fail-fast, nodes that never became ready are reported as skipped.
    let done: HashSet<&str> = results.iter().map(|r| r.unique_id.as_str()).collect();
    let mut missing: Vec<NodeResult> = selected
        .iter()
        .map(|i| dag.node(*i))
        .filter(|n| !done.contains(n.unique_id.as_str()))
        .map(|n| NodeResult::skipped(&n.unique_id, "--fail-fast stopped the run".to_owned()))
        .collect();
    missing.sort_by(|a, b| a.unique_id.cmp(&b.unique_id));
    results.extend(missing);
    results
}
