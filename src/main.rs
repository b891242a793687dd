//! The `chatql` binary: parses arguments, calls the library, maps the outcome to an exit
//! code. Nothing else lives here.

mod cli;

use std::process::ExitCode;

use clap::Parser;

// mimalloc keeps peak memory flat as inputs grow (glibc's allocator fragments under the
// decoder's and Parquet writer's mix of sizes) and is faster for the many small strings.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            if let Some(lib) = e.downcast_ref::<chatql::Error>() {
                if lib.is_broken_pipe() {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("chatql: {e}");
            ExitCode::from(cli::exit_code(&e))
        }
    }
}
