//! Limits on rendering, so that a runaway or hostile template ends as a located
//! exit-2 error instead of a stack overflow, an exhausted memory or a hang.
//!
//! Every number here is in docs/limits.md, which the messages point to. They are
//! far above what real projects use: dbt_utils and the Fivetran packages nest
//! macros a few dozen deep and render a model in well under a million Jinja
//! instructions.

use std::cell::Cell;

use minijinja::value::StringInput;
use minijinja::{Error, ErrorKind, State, Value};

/// How deep macros may call macros (one macro calling itself counts each call).
/// minijinja's own recursion limit does not see these calls: each macro runs in
/// its own render, so sluice counts them.
pub const MAX_MACRO_DEPTH: usize = 200;

/// Jinja instructions one template render (a node's file, or one macro call) may
/// run: ends a `range` nested into a near-endless loop.
pub const TEMPLATE_FUEL: u64 = 50_000_000;

/// Jinja instructions one node may run, its macro calls added up.
pub const NODE_FUEL: u64 = 200_000_000;

/// The largest text a node may render to, and the largest string `replace` may
/// make (128 MiB). minijinja itself refuses a repeated string (`'x' * n`) over
/// 100 MB.
pub const MAX_OUTPUT_BYTES: usize = 128 << 20;

/// The stack of every thread that renders templates or parses SQL (256 MiB of
/// address space, touched only as deep as it is used): deep but legitimate
/// input (a 30,000-branch `union all`, macros nested [`MAX_MACRO_DEPTH`] deep)
/// fits in it, and the limits above end the rest before it is reached.
pub const THREAD_STACK_BYTES: usize = 256 << 20;

thread_local! {
    /// Macro calls in progress on this thread.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Fuel the current node's finished macro calls used.
    static NODE_FUEL_USED: Cell<u64> = const { Cell::new(0) };
}

/// The environment's settings for these limits.
pub fn configure(env: &mut minijinja::Environment<'_>) {
    env.set_fuel(Some(TEMPLATE_FUEL));
}

/// A node's render begins: its fuel count starts from zero (unless this render
/// runs inside another one's macro call, which then counts it).
pub fn start_node() {
    if DEPTH.with(Cell::get) == 0 {
        NODE_FUEL_USED.with(|f| f.set(0));
    }
}

/// One macro call in progress; dropping it ends the call.
pub struct MacroCall(());

impl Drop for MacroCall {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Enter a call of macro `name`, or fail past [`MAX_MACRO_DEPTH`].
pub fn enter_macro(name: &str) -> Result<MacroCall, Error> {
    let depth = DEPTH.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    let call = MacroCall(());
    if depth > MAX_MACRO_DEPTH {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "macro calls nest more than {MAX_MACRO_DEPTH} deep (calling `{name}`): \
                 a macro that calls itself, or macros that call each other, without end"
            ),
        ));
    }
    Ok(call)
}

/// Count the fuel a finished macro call used towards its node's [`NODE_FUEL`].
pub fn charge(state: &State<'_, '_>) -> Result<(), Error> {
    let Some((consumed, _)) = state.fuel_levels() else {
        return Ok(());
    };
    let used = NODE_FUEL_USED.with(|f| {
        f.set(f.get().saturating_add(consumed));
        f.get()
    });
    if used > NODE_FUEL {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "the node's macros ran more than {NODE_FUEL} Jinja instructions: \
                 a loop that does not end, or one far too large"
            ),
        ));
    }
    Ok(())
}

/// `replace`, as a filter: refused before it allocates a result over
/// [`MAX_OUTPUT_BYTES`].
pub fn replace_filter(
    state: &State,
    value: StringInput<'_>,
    from: StringInput<'_>,
    to: StringInput<'_>,
) -> Result<Value, Error> {
    check_replace(value.as_str(), from.as_str(), to.as_str())?;
    minijinja::filters::replace(state, value, from, to)
}

/// Whether `value.replace(from, to)` stays within [`MAX_OUTPUT_BYTES`].
pub fn check_replace(value: &str, from: &str, to: &str) -> Result<(), Error> {
    if to.len() <= from.len() {
        return Ok(());
    }
    // An empty `from` matches between every two characters, as in Python.
    let matches = if from.is_empty() {
        value.chars().count() + 1
    } else {
        value.matches(from).count()
    };
    let grows = matches.saturating_mul(to.len() - from.len());
    if value.len().saturating_add(grows) > MAX_OUTPUT_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "replace() would make a string of more than {} MiB",
                MAX_OUTPUT_BYTES >> 20
            ),
        ));
    }
    Ok(())
}

/// A writer for a node's rendered text that refuses more than
/// [`MAX_OUTPUT_BYTES`].
#[derive(Default)]
pub struct BoundedOutput {
    pub text: Vec<u8>,
    pub overflowed: bool,
}

impl std::io::Write for BoundedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.text.len().saturating_add(buf.len()) > MAX_OUTPUT_BYTES {
            self.overflowed = true;
            return Err(std::io::Error::other("output limit"));
        }
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The error for a render whose output passed [`MAX_OUTPUT_BYTES`].
pub fn output_error() -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "the rendered SQL is larger than {} MiB",
            MAX_OUTPUT_BYTES >> 20
        ),
    )
}

/// Spawn a scoped thread with a [`THREAD_STACK_BYTES`] stack (the default stack
/// where the system refuses that size).
pub fn spawn_scoped<'scope, F>(scope: &'scope std::thread::Scope<'scope, '_>, f: F)
where
    F: FnOnce() + Send + 'scope,
{
    spawn_scoped_named(scope, None, f)
}

/// [`spawn_scoped`] with a thread name (the logs name the command's thread
/// `MainThread`, as dbt's do).
fn spawn_scoped_named<'scope, F>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: Option<&str>,
    f: F,
) where
    F: FnOnce() + Send + 'scope,
{
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(f)));
    let take =
        |slot: &std::sync::Mutex<Option<F>>| slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    let first = std::sync::Arc::clone(&slot);
    let mut builder = std::thread::Builder::new().stack_size(THREAD_STACK_BYTES);
    if let Some(name) = name {
        builder = builder.name(name.to_owned());
    }
    let spawned = builder.spawn_scoped(scope, move || {
        if let Some(f) = take(&first) {
            f();
        }
    });
    if spawned.is_err() {
        scope.spawn(move || {
            if let Some(f) = take(&slot) {
                f();
            }
        });
    }
}

/// Run `f` on a thread with a [`THREAD_STACK_BYTES`] stack, and make rayon's
/// threads as large: the command's renders and SQL parses run on them.
pub fn with_big_stacks<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    // Fails only when the pool exists already (a test calling this twice).
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(THREAD_STACK_BYTES)
        .build_global();
    let mut result = None;
    // Named as the thread it stands in for: the output names it `MainThread`.
    std::thread::scope(|scope| spawn_scoped_named(scope, Some("main"), || result = Some(f())));
    match result {
        Some(r) => r,
        // The thread panicked: its message is printed; end as Rust does.
        None => std::process::exit(101),
    }
}

/// What to tell the user about a limit this error reports, if it is one.
pub fn help(e: &Error) -> Option<String> {
    let detail = e.detail().unwrap_or_default();
    let limit = e.kind() == ErrorKind::OutOfFuel
        || detail.starts_with("macro calls nest more than")
        || detail.starts_with("the node's macros ran more than")
        || detail.starts_with("replace() would make")
        || detail.starts_with("the rendered SQL is larger")
        || detail.contains("repeated string is too large")
        || detail.contains("recursion limit exceeded");
    limit.then(|| {
        "this is one of sluice's limits on rendering (docs/limits.md): check the loop or \
         recursion here; a real model renders far below it"
            .to_owned()
    })
}

/// The message for an error that ran a template out of fuel.
pub fn out_of_fuel_message() -> String {
    format!(
        "the template ran more than {TEMPLATE_FUEL} Jinja instructions: a loop that does \
         not end, or one far too large"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_is_refused_before_it_grows_past_the_limit() {
        assert!(check_replace("abc", "b", "bb").is_ok());
        assert!(check_replace(&"x".repeat(1 << 20), "x", &"y".repeat(200)).is_err());
        assert!(check_replace(&"x".repeat(1 << 20), "", &"y".repeat(200)).is_err());
        // Shrinking never fails, however large.
        assert!(check_replace(&"x".repeat(1 << 20), "x", "").is_ok());
    }

    #[test]
    fn macro_depth_is_counted_and_released() {
        let calls: Vec<_> = (0..MAX_MACRO_DEPTH)
            .map(|_| enter_macro("m").expect("within the limit"))
            .collect();
        assert!(enter_macro("m").is_err());
        drop(calls);
        assert!(enter_macro("m").is_ok());
    }
}
