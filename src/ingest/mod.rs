//! Ingest: export files in, rows of the six tables out.
//!
//! [`source`] finds and opens the inputs (files, folders, globs, zip members, gzip, zstd);
//! [`pipeline`] decodes their bytes in parallel and in order, from chunks that `lines` cuts
//! at newlines (rejecting records that are too long); [`decode`] turns JSON lines into rows
//! without any I/O; [`csv`] and [`pyrepr`] read the 2023-24 CSV era; [`progress`] counts the
//! bytes read for a progress bar; [`annotation`] reads hand-coded annotation samples back;
//! [`inspect`] describes what files hold without converting them.
//! Ingest knows nothing of lakes, SQL or output formats.

pub mod annotation;
pub mod csv;
pub mod decode;
pub mod inspect;
mod lines;
mod mapped;
pub mod pipeline;
pub mod progress;
pub mod pyrepr;
pub mod source;
mod work;

pub use decode::{DecodeStats, Decoder, RecordFormat};
pub use pipeline::{ingest, Decoded, IngestOptions, IngestSummary};
pub use progress::Progress;
pub use source::{InputFile, Inputs, Layout, Source};
