//! Everything sluice writes to stdout goes through here, so a closed pipe
//! (`sluice ls | head`) ends the command quietly instead of panicking the way
//! `println!` does ("failed printing to stdout: Broken pipe", exit 101).
//!
//! Listing commands (`ls`, `show`, `metrics`, `compile`) use [`print`]/[`println`]:
//! when the reader has gone there is nobody left to answer, so the process exits
//! with status 0, as ripgrep does. Progress lines during a build use [`progress`]:
//! the build's outcome does not depend on who reads its log, so a closed pipe only
//! stops the output and the exit code still says whether the build succeeded.
//! Colour is stripped when stdout is not a terminal (anstream).

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Write `text` to stdout; a closed pipe exits the process with status 0.
pub fn print(text: &str) {
    if let Err(e) = write_out(text) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        // Any other write error (a full disk behind a redirect) is reported once,
        // to stderr, and the output stops; it is not a reason to panic.
        if !CLOSED.swap(true, Ordering::SeqCst) {
            let _ = writeln!(std::io::stderr(), "sluice: cannot write to stdout: {e}");
        }
    }
}

/// [`print`] with a newline.
pub fn println(text: &str) {
    print(&format!("{text}\n"));
}

/// A progress line: after the reader has gone, further lines are dropped and the
/// command carries on to its real exit status.
pub fn progress(line: &str) {
    if CLOSED.load(Ordering::SeqCst) {
        return;
    }
    if write_out(&format!("{line}\n")).is_err() {
        CLOSED.store(true, Ordering::SeqCst);
    }
}

fn write_out(text: &str) -> std::io::Result<()> {
    let mut out = anstream::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// A line to stderr; a closed stderr is ignored (there is nowhere left to say so).
pub fn eprintln(text: &str) {
    let _ = writeln!(anstream::stderr(), "{text}");
}
