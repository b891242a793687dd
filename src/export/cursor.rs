//! Reading a lake in order: a conversation row, then its `message_count` message rows, each
//! followed by its `context_count` context rows (documents and `chunk_count` chunks
//! likewise), across the files of a flat or partitioned lake. Memory stays bounded by one
//! batch per table.

use std::path::PathBuf;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader;

use crate::error::{Error, Result};
use crate::lake::parquet::open_reader_by;
use crate::lake::LakeSnapshot;
use crate::table::col::{conversations as cv, documents as dc, messages as ms};
use crate::table::Table;

/// Reads one table of a lake row by row, across its files in order (one file for a flat
/// lake, every partition's files for a partitioned one).
struct Cursor {
    files: std::vec::IntoIter<PathBuf>,
    reader: Option<ParquetRecordBatchReader>,
    batch: Option<RecordBatch>,
    row: usize,
    path: PathBuf,
}

impl Cursor {
    fn open(lake: &LakeSnapshot, t: Table) -> Result<Cursor> {
        let files = lake.files(t)?;
        let mut c = Cursor {
            files: files.into_iter(),
            reader: None,
            batch: None,
            row: 0,
            path: PathBuf::from(lake.location()).join(t.name()),
        };
        c.open_next()?;
        Ok(c)
    }

    /// Moves to the next file; false when there is none.
    fn open_next(&mut self) -> Result<bool> {
        let Some(path) = self.files.next() else {
            self.reader = None;
            return Ok(false);
        };
        // Rows in order are walked one by one: small batches keep memory low (a chunk row
        // holds its embedding, a context row its text).
        self.reader = Some(open_reader_by(&path, None, 1024)?);
        self.path = path;
        Ok(true)
    }

    /// The next row, as (batch, index).
    fn next(&mut self) -> Result<Option<Row>> {
        loop {
            if let Some(b) = &self.batch {
                if self.row < b.num_rows() {
                    self.row += 1;
                    return Ok(Some(Row {
                        b: b.clone(),
                        i: self.row - 1,
                    }));
                }
            }
            let Some(reader) = self.reader.as_mut() else {
                return Ok(None);
            };
            match reader.next() {
                Some(b) => {
                    self.batch = Some(b.map_err(|e| Error::read(&self.path, e))?);
                    self.row = 0;
                }
                None => {
                    if !self.open_next()? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The next `n` rows; an error if the table ends first (an inconsistent lake).
    fn take(&mut self, n: usize) -> Result<Vec<Row>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            match self.next()? {
                Some(r) => out.push(r),
                None => {
                    return Err(Error::read(
                        &self.path,
                        "fewer rows than the parent table's counts say",
                    ))
                }
            }
        }
        Ok(out)
    }
}

/// One row of a batch of a lake table, read by typed column position
/// ([`crate::table::col`]).
#[derive(Clone)]
pub struct Row {
    b: RecordBatch,
    i: usize,
}

impl Row {
    fn col(&self, c: usize) -> &dyn Array {
        self.b.column(c).as_ref()
    }
    /// A string column.
    pub fn str(&self, c: usize) -> Option<&str> {
        let a = self.col(c).as_string::<i32>();
        a.is_valid(self.i).then(|| a.value(self.i))
    }
    fn prim<T: ArrowPrimitiveType>(&self, c: usize) -> Option<T::Native> {
        let a = self.col(c).as_primitive::<T>();
        a.is_valid(self.i).then(|| a.value(self.i))
    }
    /// An Int64 column.
    pub fn i64(&self, c: usize) -> Option<i64> {
        self.prim::<Int64Type>(c)
    }
    /// An Int32 column.
    pub fn i32(&self, c: usize) -> Option<i32> {
        self.prim::<Int32Type>(c)
    }
    /// A Float64 column.
    pub fn f64(&self, c: usize) -> Option<f64> {
        self.prim::<Float64Type>(c)
    }
    /// A Boolean column.
    pub fn bool(&self, c: usize) -> Option<bool> {
        let a = self.col(c).as_boolean();
        a.is_valid(self.i).then(|| a.value(self.i))
    }
    /// A timestamp column, in microseconds.
    pub fn ts(&self, c: usize) -> Option<i64> {
        self.prim::<TimestampMicrosecondType>(c)
    }
    /// A `List<Float32>` column.
    pub fn f32s(&self, c: usize) -> Option<Vec<f32>> {
        let a = self.col(c).as_list::<i32>();
        a.is_valid(self.i).then(|| {
            a.value(self.i)
                .as_primitive::<Float32Type>()
                .values()
                .to_vec()
        })
    }
    /// A `List<Utf8>` column.
    pub fn strs(&self, c: usize) -> Option<Vec<String>> {
        let a = self.col(c).as_list::<i32>();
        a.is_valid(self.i).then(|| {
            let v = a.value(self.i);
            let s = v.as_string::<i32>();
            (0..s.len()).map(|j| s.value(j).to_owned()).collect()
        })
    }
}

/// A conversation with its messages and their contexts.
pub struct Conversation {
    /// The `conversations` row.
    pub row: Row,
    /// Each `messages` row with its `contexts` rows.
    pub messages: Vec<(Row, Vec<Row>)>,
}

/// A document with its chunks.
pub struct Document {
    /// The `documents` row.
    pub row: Row,
    /// Its `chunks` rows.
    pub chunks: Vec<Row>,
}

/// Walks the conversations of a lake in order, calling `f` for each.
pub fn for_each_conversation(
    dir: &LakeSnapshot,
    mut f: impl FnMut(Conversation) -> Result<()>,
) -> Result<()> {
    let mut convos = Cursor::open(dir, Table::Conversations)?;
    let mut messages = Cursor::open(dir, Table::Messages)?;
    let mut contexts = Cursor::open(dir, Table::Contexts)?;
    while let Some(row) = convos.next()? {
        let n = row.i32(cv::message_count).unwrap_or(0).max(0) as usize;
        let mut msgs = Vec::with_capacity(n);
        for m in messages.take(n)? {
            let k = m.i32(ms::context_count).unwrap_or(0).max(0) as usize;
            let ctx = contexts.take(k)?;
            msgs.push((m, ctx));
        }
        f(Conversation {
            row,
            messages: msgs,
        })?;
    }
    Ok(())
}

/// Walks the documents of a lake in order, calling `f` for each.
pub fn for_each_document(
    dir: &LakeSnapshot,
    mut f: impl FnMut(Document) -> Result<()>,
) -> Result<()> {
    let mut docs = Cursor::open(dir, Table::Documents)?;
    let mut chunks = Cursor::open(dir, Table::Chunks)?;
    while let Some(row) = docs.next()? {
        let n = row.i32(dc::chunk_count).unwrap_or(0).max(0) as usize;
        let c = chunks.take(n)?;
        f(Document { row, chunks: c })?;
    }
    Ok(())
}
