//! How far ingest has read: bytes of input files read of their total, shared between the
//! reader thread that counts and whoever shows it (the command line's progress bar). No
//! I/O and no terminal here: two counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Bytes read from input files, and the size of all input files met so far.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<[AtomicU64; 2]>);

impl Progress {
    /// Counts `n` more bytes read.
    pub fn read(&self, n: u64) {
        self.0[0].fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` more bytes to read (the files of an ingest run about to start).
    pub fn expect(&self, n: u64) {
        self.0[1].fetch_add(n, Ordering::Relaxed);
    }

    /// (bytes read, bytes to read in all).
    pub fn get(&self) -> (u64, u64) {
        (
            self.0[0].load(Ordering::Relaxed),
            self.0[1].load(Ordering::Relaxed),
        )
    }
}
