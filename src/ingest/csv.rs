//! The 2023-11 to 2024-02 conversation export: a pandas `to_csv` of the conversation table
//! whose `convo` cell is a Python dict repr. Each CSV row is rewritten as the format-R JSON
//! row it stands for and decoded like any other.

use std::cell::Cell;
use std::io::Read;
use std::sync::Arc;

use crate::error::Result;
use crate::ingest::decode::{Decoder, RecordFormat};
use crate::ingest::pyrepr;
use crate::ingest::work::{CsvHeader, CsvRow, Work};
use crate::model::{json_str, push_json_str};

/// Reads through to the CSV parser, failing once the record being parsed has grown past
/// the longest allowed (a quote never closed would otherwise make the rest of the file one
/// record held in memory).
struct RecordLimit<'a, R> {
    inner: R,
    read: &'a Cell<u64>,
    record_start: &'a Cell<u64>,
    max_record: u64,
}

impl<R: Read> Read for RecordLimit<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // The parser reads ahead by its buffer (8 KiB): allow for it.
        if self.read.get() > self.record_start.get() + self.max_record + (64 << 10) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "record longer than --max-record-size ({} bytes): the rest of the file is skipped",
                    self.max_record
                ),
            ));
        }
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Cuts a CSV stream into batches of records; a record longer than `max_record` ends the
/// stream with a reject. Returns Ok(false) if the consumer stopped.
pub(crate) fn read_csv_chunks(
    r: &mut dyn Read,
    chunk: usize,
    max_record: usize,
    source: usize,
    send: &mut dyn FnMut(Work) -> bool,
) -> Result<bool> {
    let (read, record_start) = (Cell::new(0u64), Cell::new(0u64));
    let limited = RecordLimit {
        inner: r,
        read: &read,
        record_start: &record_start,
        max_record: max_record as u64,
    };
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(limited);
    let mut header: Option<Arc<CsvHeader>> = None;
    let mut record = ::csv::ByteRecord::new();
    let mut rows = Vec::new();
    let mut bytes = 0usize;
    loop {
        let pos = rdr.position().clone();
        record_start.set(pos.byte());
        let more = match rdr.read_byte_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                let io = matches!(e.kind(), ::csv::ErrorKind::Io(_));
                rows.push(CsvRow {
                    line: pos.line(),
                    offset: pos.byte(),
                    cells: Err(format!("CSV: {e}")),
                });
                !io
            }
        };
        if more && !record.is_empty() {
            if header.is_none() {
                header = Some(Arc::new(CsvHeader::from_record(&record)));
                continue;
            }
            let cells = record
                .iter()
                .map(|c| String::from_utf8(c.to_vec()))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| {
                    format!(
                        "invalid UTF-8 in a cell at byte {}",
                        e.utf8_error().valid_up_to()
                    )
                });
            bytes += record.as_slice().len();
            rows.push(CsvRow {
                line: pos.line(),
                offset: pos.byte(),
                cells,
            });
        }
        if (!more || bytes >= chunk) && !rows.is_empty() {
            let work = Work::Csv {
                source,
                rows: std::mem::take(&mut rows),
                header: header.clone().unwrap_or_default(),
            };
            if !send(work) {
                return Ok(false);
            }
            bytes = 0;
        }
        if !more {
            return Ok(true);
        }
    }
}

impl CsvHeader {
    fn from_record(record: &::csv::ByteRecord) -> CsvHeader {
        let mut header = CsvHeader::default();
        for (i, name) in record.iter().enumerate() {
            let name = String::from_utf8_lossy(name);
            let name = name.trim_start_matches('\u{feff}').trim();
            if !name.is_empty() && name != "Unnamed: 0" {
                header.has_convo |= name == "convo";
                header.columns.push((name.to_owned(), i));
            }
        }
        header
    }
}

/// Decodes CSV rows: each becomes a format-R JSON row, or a reject.
pub(crate) fn decode_rows(d: &mut Decoder, header: &CsvHeader, rows: Vec<CsvRow>) {
    let mut json = String::new();
    for row in rows {
        let cells = match row.cells {
            Ok(c) => c,
            Err(reason) => {
                d.reject_record(row.line, row.offset, &reason, b"");
                continue;
            }
        };
        if !header.has_convo {
            let snippet = cells.join(",");
            d.reject_record(
                row.line,
                row.offset,
                "CSV without a `convo` column",
                snippet.as_bytes(),
            );
            continue;
        }
        json.clear();
        json.push('{');
        let mut bad = None;
        for (i, (name, idx)) in header.columns.iter().enumerate() {
            let cell = cells.get(*idx).map_or("", String::as_str);
            if i > 0 {
                json.push(',');
            }
            push_json_str(&mut json, name);
            json.push(':');
            match name.as_str() {
                "convo" => match pyrepr::to_json(cell) {
                    Ok(v) => json.push_str(&v),
                    Err(e) => {
                        bad = Some((format!("`convo` cell: {e}"), cell));
                        break;
                    }
                },
                "id" => match cell.parse::<i64>() {
                    Ok(v) => json.push_str(&v.to_string()),
                    Err(_) => json.push_str(&json_str(cell)),
                },
                // pandas writes None as an empty cell.
                _ if cell.is_empty() => json.push_str("null"),
                _ => push_json_str(&mut json, cell),
            }
        }
        json.push('}');
        match bad {
            Some((reason, cell)) => d.reject_record(row.line, row.offset, &reason, cell.as_bytes()),
            None => d.decode_json_record(&json, row.line, row.offset, RecordFormat::Csv),
        }
    }
}
