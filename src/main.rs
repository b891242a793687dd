//! The `chatql` binary: parses arguments, owns the one tokio runtime, runs the command and
//! maps the outcome to an exit code (see [`chatql::Error::exit_code`]). Nothing else lives here.

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
    let args = cli::Cli::parse();
    cli::interrupt::install();
    // Deep query plans recurse deeply when planned (a Ballista scheduler plans reports'
    // joins of views): workers get 16 MiB stacks rather than 2.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads().max(1))
        .thread_stack_size(16 << 20)
        .enable_all()
        .build();
    let outcome = match runtime {
        Ok(rt) => rt.block_on(cli::run(args)),
        Err(e) => Err(anyhow::anyhow!("cannot start the runtime: {e}")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`chatql ... | head`) is not a failure, whatever wrote to it.
        Err(e) if cli::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chatql: {e}");
            ExitCode::from(cli::exit_code(&e))
        }
    }
}
