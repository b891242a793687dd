//! Lakes: folders of Delta tables that `chatql convert` writes and every later stage reads.
//!
//! [`delta`] is the Delta protocol (log actions, snapshots, atomic commits); [`fs`] the
//! atomic-write primitives; [`parquet`] the one Parquet writer and reader, [`encode`] its row
//! groups encoded on all cores; [`record`] what a
//! run read and did. [`snapshot`] reads a consistent version of every table of a lake,
//! [`commit`] commits a run to it, [`lease`] lets one writer at a time in. One file per
//! operation: [`convert`] (exports in, a lake out), [`partition`] (the Hive layout),
//! [`split`] (rows routed to partition files), [`append`] (a run added to a lake, and repair after a crash),
//! [`history`] (the versions), [`compact`] (a partition's many small files rewritten into
//! one), [`vacuum`] (deleting files no version needs),
//! [`upgrade`] (a lake of an older chatql made a Delta lake). A lake knows nothing of SQL
//! or reports.

pub mod append;
pub mod commit;
pub mod compact;
pub mod convert;
pub mod delta;
pub mod encode;
pub mod fs;
pub mod history;
pub mod lease;
pub mod parquet;
pub mod partition;
pub mod record;
pub mod remote;
pub mod sink;
pub mod snapshot;
pub mod split;
pub mod upgrade;
pub mod vacuum;

pub use snapshot::{is_lake, AsOf, InputKind, LakeSnapshot, Opened};
