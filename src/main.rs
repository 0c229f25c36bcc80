// Parsing and compiling allocate many small strings from several threads, where
// mimalloc is markedly faster than the system allocator. The budget turns running
// out of memory into an error (exit 2) instead of an abort.
#[global_allocator]
static GLOBAL: sluice::memory::Budgeted<mimalloc::MiMalloc> =
    sluice::memory::Budgeted(mimalloc::MiMalloc);

fn main() -> std::process::ExitCode {
    sluice::cli::main()
}
