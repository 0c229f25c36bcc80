//! The memory budget: the global allocator's guard against running out of memory.
//!
//! A template can build ever larger values in ways no render limit sees (`s ~ s`
//! in a loop doubles a string with one instruction a step). Rust aborts when an
//! allocation fails; sluice instead stops with exit 2 and a message naming the
//! file being rendered. Only large allocations (1 MiB and more) are counted, so
//! the many small ones cost nothing: the budget is three quarters of the
//! memory available at start, for the large ones together (docs/limits.md).

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Allocations at least this large are counted.
const LARGE: usize = 1 << 20;

/// Bytes held by live large allocations.
static LIVE_LARGE: AtomicUsize = AtomicUsize::new(0);

/// The most bytes large allocations may hold together; set by [`set_budget`].
static BUDGET: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The longest file name kept for the message.
const NAME_BYTES: usize = 240;

thread_local! {
    /// The file this thread renders, for the message (fixed size: the allocator
    /// must not allocate to record or print it).
    static RENDERING: Cell<([u8; NAME_BYTES], usize)> = const { Cell::new(([0; NAME_BYTES], 0)) };
}

/// An allocator that counts large allocations against the budget.
pub struct Budgeted<A>(pub A);

/// Set the budget to three quarters of the memory available when sluice starts
/// (Linux: /proc/meminfo's MemAvailable); elsewhere there is none beyond the
/// system's.
pub fn set_budget() {
    let available_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
    });
    if let Some(kib) = available_kib {
        BUDGET.store(kib.saturating_mul(1024) / 4 * 3, Ordering::Relaxed);
    }
    // A smaller budget, in MiB, for a machine shared with other work (and tests).
    if let Some(mib) = std::env::var("SLUICE_MEMORY_LIMIT_MIB")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        let bytes = mib.saturating_mul(1 << 20);
        BUDGET.fetch_min(bytes, Ordering::Relaxed);
    }
}

/// While the returned guard lives, a failure names `file` as being rendered.
pub fn rendering(file: &std::path::Path) -> Rendering {
    let text = file.to_string_lossy();
    let mut buf = [0; NAME_BYTES];
    let n = text.len().min(NAME_BYTES);
    buf[..n].copy_from_slice(&text.as_bytes()[..n]);
    let previous = RENDERING.with(|r| r.replace((buf, n)));
    Rendering(previous)
}

/// Restores what was being rendered before (renders nest: a macro's render
/// within a node's).
pub struct Rendering(([u8; NAME_BYTES], usize));

impl Drop for Rendering {
    fn drop(&mut self) {
        let _ = RENDERING.try_with(|r| r.set(self.0));
    }
}

extern "C" {
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
    fn _exit(status: i32) -> !;
}

/// Out of budget: say so and end with exit 2, without unwinding or
/// running exit handlers (nothing may allocate now).
#[cold]
fn out_of_memory(size: usize) -> ! {
    let mut msg = [0u8; 1024];
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        let n = bytes.len().min(msg.len() - len);
        msg[len..len + n].copy_from_slice(&bytes[..n]);
        len += n;
    };
    put(b"error: sluice ran out of memory (its budget: 3/4 of the memory available at start, or SLUICE_MEMORY_LIMIT_MIB; ");
    put(digits(size >> 20).as_slice());
    put(b" MiB more were asked for)");
    let (name, n) = RENDERING
        .try_with(Cell::get)
        .unwrap_or(([0; NAME_BYTES], 0));
    if n > 0 {
        put(b" while rendering ");
        put(&name[..n]);
    }
    put(
        b"\n  = help: a template that builds ever larger values (`s ~ s` in a loop) \
          or a result far too large; see docs/limits.md\n",
    );
    // SAFETY: `msg[..len]` is initialised memory; fd 2 is stderr. `_exit` ends
    // the process at once, which is the point: nothing else may run.
    unsafe {
        write(2, msg.as_ptr(), len);
        _exit(2)
    }
}

/// A number's decimal digits, without allocating.
fn digits(mut n: usize) -> DigitBuf {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    DigitBuf(buf, i)
}

struct DigitBuf([u8; 20], usize);

impl DigitBuf {
    fn as_slice(&self) -> &[u8] {
        &self.0[self.1..]
    }
}

fn charge(size: usize) {
    let live = LIVE_LARGE.fetch_add(size, Ordering::Relaxed) + size;
    if live > BUDGET.load(Ordering::Relaxed) {
        out_of_memory(size);
    }
}

fn release(size: usize) {
    LIVE_LARGE.fetch_sub(size, Ordering::Relaxed);
}

// SAFETY: every call is passed to the inner allocator unchanged; the wrapper
// only counts sizes and never returns memory the inner one did not give.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Budgeted<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            charge(layout.size());
        }
        self.0.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            charge(layout.size());
        }
        self.0.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= LARGE {
            release(layout.size());
        }
        self.0.dealloc(ptr, layout);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= LARGE {
            charge(new_size);
        }
        let p = self.0.realloc(ptr, layout, new_size);
        if layout.size() >= LARGE {
            release(layout.size());
        }
        p
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn digits_are_written_without_allocating() {
        assert_eq!(super::digits(0).as_slice(), b"0");
        assert_eq!(super::digits(1234).as_slice(), b"1234");
    }
}
