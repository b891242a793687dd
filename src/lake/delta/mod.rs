//! The Delta Lake protocol, as much of it as chatql's lakes need: typed log actions
//! ([`action`]), a table's schema in Delta's terms ([`schema`]), file statistics from the
//! Parquet footer ([`stats`]), replaying a log into a snapshot ([`log`]) and committing a
//! version atomically ([`commit()`]).
//!
//! Why not the `deltalake` crate: chatql writes its own Parquet files (their names and
//! order carry the parent/child row order deduplication relies on), so it needs only the
//! log, a few hundred lines; delta-rs would add about 90 crates and a C build (aws-lc) to
//! every build of chatql. Every Delta reader checks these tables in the tests (the
//! `deltalake` Python package and Polars `scan_delta`).

pub mod action;
pub mod commit;
pub mod log;
pub mod schema;
pub mod stats;

pub use action::{Action, Add, CommitInfo, Metadata, Protocol, Remove};
pub use commit::{commit, Committed};
pub use log::Snapshot;

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    crate::model::now_us() / 1000
}
