//! How far ingest has read: bytes of input files read of their total, shared between the
//! reader thread that counts and whoever shows it (the command line's progress bar); and a
//! request to stop, which the readers honour at their next read (the Python package's
//! Ctrl-C). No I/O and no terminal here: two counters and a flag.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Bytes read from input files, the size of all input files met so far, and whether
/// reading was asked to stop.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    read: AtomicU64,
    total: AtomicU64,
    cancelled: AtomicBool,
}

/// The error a read returns once [`Progress::cancel`] was called: the run ends as on any
/// failed read, removing its staging.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Cancelled;

impl Progress {
    /// Counts `n` more bytes read.
    pub fn read(&self, n: u64) {
        self.0.read.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` more bytes to read (the files of an ingest run about to start).
    pub fn expect(&self, n: u64) {
        self.0.total.fetch_add(n, Ordering::Relaxed);
    }

    /// (bytes read, bytes to read in all).
    pub fn get(&self) -> (u64, u64) {
        (
            self.0.read.load(Ordering::Relaxed),
            self.0.total.load(Ordering::Relaxed),
        )
    }

    /// Asks every reader counting here to stop at its next read.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::Relaxed);
    }

    /// Lets reading go on again (for the next run with these counters).
    pub fn reset_cancel(&self) {
        self.0.cancelled.store(false, Ordering::Relaxed);
    }

    /// An error once [`Progress::cancel`] was called.
    pub fn check(&self) -> std::io::Result<()> {
        if self.0.cancelled.load(Ordering::Relaxed) {
            Err(std::io::Error::other(Cancelled))
        } else {
            Ok(())
        }
    }
}
