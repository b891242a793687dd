//! The `chatql` binary: installs the allocator, parses arguments and hands them to
//! `cli::execute`, which owns the one tokio runtime, runs the command and maps the outcome
//! to an exit code (see [`chatql::Error::exit_code`]). Nothing else lives here.

mod cli;

use std::process::ExitCode;

use clap::Parser;

// mimalloc keeps peak memory flat as inputs grow (glibc's allocator fragments under the
// decoder's and Parquet writer's mix of sizes) and is faster for the many small strings.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process. mimalloc asks for them, and every
/// fresh one is zeroed whole (2 MiB) on first touch: a profile of `convert` spent 23% of its
/// CPU in the kernel zeroing pages, mostly for growing column buffers. Without them
/// `convert` took half the system time and 10% less peak memory (benches/compare.sh).
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        // The C library's prctl(2), declared here rather than through a crate.
        extern "C" {
            fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
        }
        const PR_SET_THP_DISABLE: std::ffi::c_int = 41;
        // SAFETY: PR_SET_THP_DISABLE takes integer arguments and touches no memory of
        // ours; a failure (an old kernel) only leaves huge pages on.
        unsafe {
            prctl(
                PR_SET_THP_DISABLE,
                1 as std::ffi::c_ulong,
                0 as std::ffi::c_ulong,
                0 as std::ffi::c_ulong,
                0 as std::ffi::c_ulong,
            );
        }
    }
}

fn main() -> ExitCode {
    no_huge_pages();
    let code = cli::execute(cli::Cli::parse());
    if std::env::var_os("CHATQL_STORE_REQUESTS").is_some_and(|v| v == "1" || v == "trace") {
        for line in chatql::store::counting::trace() {
            eprintln!("{line}");
        }
        if let Some(line) = chatql::store::counting::summary() {
            eprintln!("{line}");
        }
    }
    ExitCode::from(code)
}
