//! The one tokio runtime of the Python process, and the one way Python waits on it.
//!
//! Every call that does work runs as a task on this runtime while the calling thread
//! waits *without the GIL* (other Python threads run), waking every 100 ms to let Python
//! handle signals: Ctrl-C raises `KeyboardInterrupt` within a second, the task is aborted
//! (a query's streams are dropped) and ingest is told to stop (see [`Cancel`]), and the
//! library's staging is removed as on any error, so no half-written output is left.
//!
//! A tokio runtime does not survive `fork()` (its threads are gone in the child), so the
//! runtime remembers the process it was built in and a child gets a clear error instead of
//! a deadlock (delta-rs #2744 had the deadlock).

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use chatql::ingest::Progress;
use pyo3::prelude::*;

use crate::errors::{chatql_error, internal};

struct Runtime {
    pid: u32,
    rt: tokio::runtime::Runtime,
}

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The runtime, built on first use in this process.
pub fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    let built = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            // Deep plans recurse deeply when planned, as in the binary.
            .thread_stack_size(16 << 20)
            .thread_name("chatql")
            .enable_all()
            .build()
            .map(|rt| Runtime {
                pid: std::process::id(),
                rt,
            })
            .map_err(|e| format!("cannot start the runtime: {e}"))
    });
    match built {
        Err(e) => Err(internal(e.clone())),
        Ok(r) if r.pid != std::process::id() => Err(chatql_error(
            "Error",
            "chatql was used before this process was forked, and its threads did not \
             survive the fork: use chatql in the parent only, or start workers with \
             multiprocessing's 'spawn' or 'forkserver' method"
                .into(),
        )),
        Ok(r) => Ok(&r.rt),
    }
}

/// How interrupted work is stopped (by default: waited for until it returns).
#[derive(Clone, Default)]
pub struct Cancel {
    /// The counters of the work's input readers: they stop at their next read.
    progress: Option<Progress>,
    /// Whether the task is dropped at once (a query: dropping its streams stops it).
    /// Otherwise the wait goes on until the work has returned, so that nothing it
    /// writes outlives the call (a conversion, which stops at its next read).
    abort: bool,
}

impl Cancel {
    /// A query: dropped at once; raw exports it reads through `progress` stop too.
    pub fn query(progress: &Progress) -> Cancel {
        Cancel {
            progress: Some(progress.clone()),
            abort: true,
        }
    }

    /// Work that writes: its readers stop, and it is waited for until it has returned.
    pub fn writer(progress: &Progress) -> Cancel {
        Cancel {
            progress: Some(progress.clone()),
            abort: false,
        }
    }
}

/// Runs `work` on the runtime and waits for it without the GIL, raising
/// `KeyboardInterrupt` (or whatever Python's signal handlers raise) within 100 ms of a
/// signal, once the work is stopped as `cancel` says.
pub fn wait<T, F>(py: Python<'_>, cancel: Cancel, work: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let rt = runtime()?;
    if let Some(p) = &cancel.progress {
        p.reset_cancel();
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    let task = rt.spawn(async move {
        let _ = tx.send(work.await);
    });
    loop {
        match py.detach(|| rx.recv_timeout(Duration::from_millis(100))) {
            Ok(v) => return Ok(v),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(internal(
                    "a task of chatql ended without an answer (a panic)",
                ))
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    if let Some(p) = &cancel.progress {
                        p.cancel();
                    }
                    if cancel.abort {
                        task.abort();
                    }
                    // Aborted or not, the task has let go of what it held when this
                    // returns; a writer has removed its staging.
                    py.detach(|| {
                        let _ = rx.recv();
                        let _ = rt.block_on(task);
                    });
                    return Err(e);
                }
            }
        }
    }
}
