//! Ctrl-C and SIGTERM: a watcher thread (the signal handler itself only wakes it) removes
//! every temporary file and folder of the process ([`chatql::lake::fs::remove_staging`]:
//! a conversion's staging, a temporary lake, spools) and exits with 130, the shell's code
//! for an interrupted command. Output under its final name is only ever complete, so
//! nothing else needs undoing; a lake's lease left behind is taken over as a dead writer's.

/// Starts watching for SIGINT and SIGTERM.
pub fn install() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return; // signals stay as they were: the process ends without cleaning up
        };
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                chatql::lake::fs::remove_staging();
                eprintln!("chatql: interrupted");
                std::process::exit(130);
            }
        });
    }
}
