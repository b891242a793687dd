//! The pieces of work the reader thread hands the decoder threads ([`Work`]), and the
//! CSV rows some of them carry: the vocabulary that the readers (`lines.rs`, `csv.rs`)
//! produce and the pipeline (`pipeline.rs`) consumes, kept apart so that the files form a
//! one-way chain: work <- lines, csv <- pipeline.

use std::sync::Arc;

use super::source::Inputs;

/// Column positions of a CSV export's header.
#[derive(Debug, Default)]
pub struct CsvHeader {
    /// (name, index) of each named column; pandas' unnamed index column is left out.
    pub(super) columns: Vec<(String, usize)>,
    pub(super) has_convo: bool,
}

/// One CSV record as read: its cells, or why it could not be read.
#[derive(Debug)]
pub struct CsvRow {
    pub(super) line: u64,
    pub(super) offset: u64,
    pub(super) cells: std::result::Result<Vec<String>, String>,
}

/// The bytes of a chunk of lines: read into a buffer, or a window of a local file's pages
/// mapped by [`super::mapped::map_json_chunks`] (unmapped when the decoder drops it).
pub(crate) enum Bytes {
    Owned(Vec<u8>),
    Mapped {
        map: memmap2::Mmap,
        /// Where the chunk starts in `map` (a mapping starts at a page boundary).
        start: usize,
        len: usize,
    },
}

impl Bytes {
    /// The first `n` bytes.
    pub(crate) fn truncated(self, n: usize) -> Bytes {
        match self {
            Bytes::Owned(mut v) => {
                v.truncate(n);
                Bytes::Owned(v)
            }
            Bytes::Mapped { map, start, len } => Bytes::Mapped {
                map,
                start,
                len: len.min(n),
            },
        }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped { map, start, len } => &map[*start..*start + *len],
        }
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Bytes {
        Bytes::Owned(v)
    }
}

/// Work for a decoder thread.
pub(crate) enum Work {
    Lines {
        source: usize,
        bytes: Bytes,
        first_line: u64,
        offset: u64,
        last: bool,
    },
    /// A whole file holding one multi-line JSON document (a pretty-printed array).
    Document { source: usize, bytes: Vec<u8> },
    /// The rest of a source could not be read (vanished file, truncated or corrupt
    /// compression, zip bomb): one reject, and ingest goes on with the next source.
    Unreadable {
        source: usize,
        line: u64,
        offset: u64,
        reason: String,
    },
    Csv {
        source: usize,
        rows: Vec<CsvRow>,
        header: Arc<CsvHeader>,
    },
    /// A record longer than the limit, skipped: one reject (with its first bytes), counted
    /// as a line read.
    TooLong {
        source: usize,
        line: u64,
        offset: u64,
        reason: String,
        head: Vec<u8>,
    },
}

impl Work {
    /// The input and line a piece starts at, for an error about it.
    pub(crate) fn place(&self, inputs: &Inputs) -> String {
        let (source, line) = match self {
            Work::Lines {
                source, first_line, ..
            } => (*source, *first_line),
            Work::Document { source, .. } | Work::Csv { source, .. } => (*source, 1),
            Work::Unreadable { source, line, .. } | Work::TooLong { source, line, .. } => {
                (*source, *line)
            }
        };
        let name = inputs
            .sources
            .get(source)
            .map_or_else(|| format!("input #{source}"), |s| s.name.to_string());
        format!("{name}, line {line}")
    }
}
