//! Parquet files whose row groups are encoded and compressed on a pool of threads.
//!
//! A flat conversion has one thread that takes the decoders' batches in input order and
//! writes them to the table files; encoding and zstd on that thread made it the critical
//! path of the whole pipeline while the decoders waited (docs/performance.md). Here that
//! thread only cuts each file's rows into row groups (by bytes, as [`super::parquet`]'s
//! writer flushes) and hands each group out whole. A worker encodes every column of a group
//! into compressed column chunks, then appends it to its file if it is the next group in
//! the file's order, or leaves it for the worker that finishes the group before it. So rows
//! keep their order within a file, and what waits in memory is bounded: a group pending per
//! file, one in the queue, one being encoded per worker.
//!
//! A group is cut at [`ROW_GROUP_BYTES`] of Arrow data, before encoding; the Arrow writer
//! cuts at that many bytes *encoded*, so its groups held about five times the rows. Groups
//! as large as those would hold five times the memory while they wait; the smaller ones
//! measured no slower to query (docs/performance.md).
//!
//! A query's result written as Parquet (`chatql sql ... -o out.parquet`) goes through the
//! same pool, one file on any writer ([`write_one`]): encoded on the one task that read
//! the stream, a whole table out was slower than DuckDB's `COPY` on a 3 GB lake.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowRowGroupWriterFactory,
};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::file::writer::SerializedFileWriter;

use super::parquet::{result_props, MAX_GROUP_ROWS, ROW_GROUP_BYTES};
use crate::error::{Error, Result};
use crate::table::Table;

/// A file of the pool, by the order it was created in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId(usize);

/// One row group of one file, to encode.
struct Job<W: Write + Send> {
    file: Arc<Assembly<W>>,
    index: usize,
    batches: Vec<RecordBatch>,
}

/// A file being written: its row groups are appended in order as they are encoded.
struct Assembly<W: Write + Send> {
    path: PathBuf,
    schema: SchemaRef,
    factory: ArrowRowGroupWriterFactory,
    state: Mutex<Assembled<W>>,
}

/// What a file's workers share: the writer, the next group it takes, and groups encoded
/// ahead of their turn.
struct Assembled<W: Write + Send> {
    writer: SerializedFileWriter<W>,
    next: usize,
    ready: BTreeMap<usize, Vec<ArrowColumnChunk>>,
}

/// A file's rows not yet handed out, on the calling thread.
struct Pending<W: Write + Send> {
    file: Arc<Assembly<W>>,
    batches: Vec<RecordBatch>,
    bytes: usize,
    rows: usize,
    groups: usize,
    /// Rows of every group handed out.
    written: u64,
}

/// Encodes the row groups of any number of Parquet files, each written to a `W` (a file
/// by default), on all cores; see the module's documentation.
pub struct EncoderPool<'scope, W: Write + Send + 'scope = File> {
    jobs: crossbeam_channel::Sender<Job<W>>,
    workers: Vec<std::thread::ScopedJoinHandle<'scope, Result<()>>>,
    files: Vec<Pending<W>>,
    group_bytes: usize,
}

impl<'scope> EncoderPool<'scope, File> {
    /// Creates `path` for rows of `table`.
    pub fn create(&mut self, path: &Path, table: Table, props: WriterProperties) -> Result<FileId> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        self.create_on(file, path, table.schema(), props)
    }
}

impl<'scope, W: Write + Send + 'scope> EncoderPool<'scope, W> {
    /// Starts one worker per core in `scope`.
    pub fn start<'env>(scope: &'scope std::thread::Scope<'scope, 'env>) -> Self {
        Self::start_with(scope, ROW_GROUP_BYTES)
    }

    /// [`EncoderPool::start`], cutting row groups at `group_bytes` bytes of rows.
    fn start_with<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        group_bytes: usize,
    ) -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        // Groups waiting for a worker hold their rows: one is enough to keep the workers
        // busy (a longer queue measured no faster and 5-10% more memory).
        let (tx, rx) = crossbeam_channel::bounded::<Job<W>>(1);
        let workers = (0..threads)
            .map(|_| {
                let rx = rx.clone();
                scope.spawn(move || {
                    for job in rx.iter() {
                        let chunks = encode(&job).map_err(|e| Error::write(&job.file.path, e))?;
                        job.file.deliver(job.index, chunks)?;
                    }
                    Ok(())
                })
            })
            .collect();
        EncoderPool {
            jobs: tx,
            workers,
            files: Vec::new(),
            group_bytes,
        }
    }

    /// Starts a file of `schema` on `w`; errors name `path`.
    pub fn create_on(
        &mut self,
        w: W,
        path: &Path,
        schema: SchemaRef,
        props: WriterProperties,
    ) -> Result<FileId> {
        // The Arrow writer's own set-up: the Parquet schema, and the Arrow schema kept in the
        // footer so that readers get back the same types.
        let (writer, factory) = ArrowWriter::try_new(w, schema.clone(), Some(props))
            .and_then(|w| w.into_serialized_writer())
            .map_err(|e| Error::write(path, e))?;
        let assembly = Arc::new(Assembly {
            path: path.to_owned(),
            schema,
            factory,
            state: Mutex::new(Assembled {
                writer,
                next: 0,
                ready: BTreeMap::new(),
            }),
        });
        self.files.push(Pending {
            file: assembly,
            batches: Vec::new(),
            bytes: 0,
            rows: 0,
            groups: 0,
            written: 0,
        });
        Ok(FileId(self.files.len() - 1))
    }

    /// Appends `batch` to a file (an empty one adds nothing); a full row group goes to the
    /// workers.
    pub fn write(&mut self, id: FileId, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(()); // an empty result's batches: nothing to encode
        }
        let p = &mut self.files[id.0];
        p.bytes += batch.get_array_memory_size();
        p.rows += batch.num_rows();
        p.batches.push(batch);
        if p.bytes > self.group_bytes || p.rows >= MAX_GROUP_ROWS {
            self.hand_out(id)?;
        }
        Ok(())
    }

    /// Sends a file's pending rows as its next row group.
    fn hand_out(&mut self, id: FileId) -> Result<()> {
        let p = &mut self.files[id.0];
        if p.batches.is_empty() {
            return Ok(());
        }
        let job = Job {
            file: p.file.clone(),
            index: p.groups,
            batches: std::mem::take(&mut p.batches),
        };
        p.groups += 1;
        p.written += p.rows as u64;
        p.bytes = 0;
        p.rows = 0;
        self.jobs
            .send(job)
            .map_err(|_| Error::Internal("a Parquet encoder stopped".into()))
    }

    /// Hands out every file's last rows, waits for the workers and writes each file's footer;
    /// returns the rows of each file and its writer. The first error of any worker, which
    /// says more than "an encoder stopped", wins.
    pub fn finish(mut self) -> Result<Vec<(FileId, u64, W)>> {
        let handed_out = (0..self.files.len()).try_for_each(|i| self.hand_out(FileId(i)));
        let EncoderPool {
            jobs,
            workers,
            files,
            ..
        } = self;
        drop(jobs);
        join_workers(workers, "a Parquet encoder")?;
        handed_out?;
        files
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let w = p.file.close(p.groups)?;
                Ok((FileId(i), p.written, w))
            })
            .collect()
    }
}

/// Joins every worker of a pool (the queue's sender dropped first, so that they stop):
/// their results, or the first error of any, a panic becoming "`what` panicked".
pub(super) fn join_workers<T>(
    workers: Vec<std::thread::ScopedJoinHandle<'_, Result<T>>>,
    what: &str,
) -> Result<Vec<T>> {
    let mut done = Vec::with_capacity(workers.len());
    let mut first = None;
    for w in workers {
        match w.join() {
            Ok(Ok(t)) => done.push(t),
            Ok(Err(e)) => {
                first.get_or_insert(e);
            }
            Err(_) => {
                first.get_or_insert(Error::Internal(format!("{what} panicked")));
            }
        }
    }
    first.map_or(Ok(done), Err)
}

/// Writes `batches` as one Parquet file of `schema` to `w`, row groups encoded on all
/// cores; returns the rows written and the writer, every byte of the file handed to it.
/// Errors name `path`.
pub fn write_one<W: Write + Send>(
    w: W,
    path: &Path,
    schema: SchemaRef,
    props: WriterProperties,
    mut batches: impl Iterator<Item = Result<RecordBatch>>,
) -> Result<(u64, W)> {
    std::thread::scope(|scope| {
        let mut pool = EncoderPool::start(scope);
        let written = pool
            .create_on(w, path, schema, props)
            .and_then(|id| batches.try_for_each(|b| pool.write(id, b?)));
        // The workers are joined whatever happened. A worker's own error (a full disk) says
        // more than the "an encoder stopped" a write then met; otherwise the batches' error
        // (the query's) is the one.
        let files = pool.finish()?;
        written?;
        let (_, rows, w) = files
            .into_iter()
            .next()
            .ok_or_else(|| Error::Internal("a Parquet file was not written".into()))?;
        Ok((rows, w))
    })
}

/// Writes query results as a zstd Parquet file, atomically (temporary file, then rename);
/// returns the rows written.
pub fn write_results(schema: &SchemaRef, batches: &[RecordBatch], path: &Path) -> Result<u64> {
    let sink = super::sink::Sink::create(path, false)?;
    let batches = batches.iter().cloned().map(Ok);
    let (rows, sink) = write_one(sink, path, schema.clone(), result_props()?, batches)?;
    sink.commit()?;
    Ok(rows)
}

/// Encodes and compresses every column of one row group.
fn encode<W: Write + Send>(
    job: &Job<W>,
) -> datafusion::parquet::errors::Result<Vec<ArrowColumnChunk>> {
    let mut writers = job.file.factory.create_column_writers(job.index)?;
    for batch in &job.batches {
        let mut leaves_to = writers.iter_mut();
        for (field, array) in job.file.schema.fields().iter().zip(batch.columns()) {
            for leaf in compute_leaves(field, array)? {
                let w = leaves_to.next().ok_or_else(|| {
                    datafusion::parquet::errors::ParquetError::General(
                        "more leaf columns than the schema has".into(),
                    )
                })?;
                w.write(&leaf)?;
            }
        }
    }
    writers.into_iter().map(|w| w.close()).collect()
}

impl<W: Write + Send> Assembly<W> {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Assembled<W>>> {
        self.state
            .lock()
            .map_err(|_| Error::Internal("a Parquet encoder panicked".into()))
    }

    /// Takes row group `index`, encoded, and appends every group now next in order.
    fn deliver(&self, index: usize, chunks: Vec<ArrowColumnChunk>) -> Result<()> {
        let mut guard = self.lock()?;
        let s = &mut *guard;
        s.ready.insert(index, chunks);
        while let Some(chunks) = s.ready.remove(&s.next) {
            let append = |w: &mut SerializedFileWriter<W>| {
                let mut group = w.next_row_group()?;
                for c in chunks {
                    c.append_to_row_group(&mut group)?;
                }
                group.close().map(|_| ())
            };
            append(&mut s.writer).map_err(|e| Error::write(&self.path, e))?;
            s.next += 1;
        }
        Ok(())
    }

    /// Writes the footer once all `groups` are in; returns the writer.
    fn close(self: Arc<Self>, groups: usize) -> Result<W> {
        let assembly = Arc::try_unwrap(self)
            .map_err(|_| Error::Internal("a Parquet file is still being encoded".into()))?;
        let s = assembly
            .state
            .into_inner()
            .map_err(|_| Error::Internal("a Parquet encoder panicked".into()))?;
        if s.next != groups || !s.ready.is_empty() {
            return Err(Error::Internal(format!(
                "{}: {} of {groups} row groups written",
                assembly.path.display(),
                s.next
            )));
        }
        s.writer
            .into_inner()
            .map_err(|e| Error::write(&assembly.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::parquet::{open_reader, writer_props};
    use datafusion::arrow::array::{AsArray, Int64Array, StringArray};
    use datafusion::arrow::datatypes::Int64Type;

    fn rejects(from: i64, n: i64) -> RecordBatch {
        let lines: Vec<i64> = (from..from + n).collect();
        let text = |p: &str| StringArray::from_iter_values(lines.iter().map(|i| format!("{p}{i}")));
        RecordBatch::try_new(
            Table::Rejects.schema(),
            vec![
                std::sync::Arc::new(text("f")),
                std::sync::Arc::new(Int64Array::from(lines.clone())),
                std::sync::Arc::new(Int64Array::from(lines.clone())),
                std::sync::Arc::new(text("reason ")),
                std::sync::Arc::new(text("{\"line\": ")),
            ],
        )
        .unwrap()
    }

    fn lines_of(path: &Path) -> (Vec<i64>, usize) {
        let groups = datafusion::parquet::file::reader::FileReader::metadata(
            &datafusion::parquet::file::serialized_reader::SerializedFileReader::new(
                File::open(path).unwrap(),
            )
            .unwrap(),
        )
        .num_row_groups();
        let lines = open_reader(path, None)
            .unwrap()
            .flat_map(|b| {
                let b = b.unwrap();
                let c = b.column(1).as_primitive::<Int64Type>().clone();
                assert_eq!(
                    b.column(0).as_string::<i32>().value(0),
                    format!("f{}", c.value(0))
                );
                c.values().to_vec()
            })
            .collect();
        (lines, groups)
    }

    /// Two files written in turns, every batch its own row group, encoded by several
    /// workers that finish out of order: each file holds its rows in the order written.
    #[test]
    fn row_groups_keep_their_order_within_each_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        let written = std::thread::scope(|scope| {
            let mut pool = EncoderPool::start_with(scope, 1);
            let props = writer_props(3).unwrap();
            let fa = pool.create(&a, Table::Rejects, props.clone()).unwrap();
            let fb = pool.create(&b, Table::Rejects, props).unwrap();
            for i in 0..60 {
                // Groups of very different sizes, so that workers overtake each other.
                let n = if i % 7 == 0 { 20_000 } else { 1 + i };
                pool.write(fa, rejects(i * 100_000, n)).unwrap();
                pool.write(fb, rejects(i * 100_000 + 50_000, 3)).unwrap();
            }
            pool.finish().unwrap()
        });
        let (la, ga) = lines_of(&a);
        let (lb, gb) = lines_of(&b);
        assert_eq!((ga, gb), (60, 60));
        let want_a: Vec<i64> = (0..60)
            .flat_map(|i| {
                let n = if i % 7 == 0 { 20_000 } else { 1 + i };
                i * 100_000..i * 100_000 + n
            })
            .collect();
        assert_eq!(la, want_a);
        assert_eq!(lb.len(), 180);
        assert!(lb.windows(2).all(|w| w[0] < w[1]));
        let rows: Vec<u64> = written.iter().map(|(_, n, _)| *n).collect();
        assert_eq!(rows, vec![want_a.len() as u64, 180]);
    }

    /// A result's batches through `write_one` to an in-memory writer: every row back in
    /// order; an error among the batches is returned, with no footer written.
    #[test]
    fn write_one_keeps_order_and_returns_the_streams_error() {
        let batches = (0..40).map(|i| Ok(rejects(i * 1000, 1 + (i % 5) * 700)));
        let schema = Table::Rejects.schema();
        let (rows, bytes) = write_one(
            Vec::new(),
            Path::new("r.parquet"),
            schema.clone(),
            result_props().unwrap(),
            batches,
        )
        .unwrap();
        let want: Vec<i64> = (0..40)
            .flat_map(|i| i * 1000..i * 1000 + 1 + (i % 5) * 700)
            .collect();
        assert_eq!(rows, want.len() as u64);
        let reader = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
            bytes::Bytes::from(bytes),
            1024,
        )
        .unwrap();
        let got: Vec<i64> = reader
            .flat_map(|b| {
                let b = b.unwrap();
                b.column(1).as_primitive::<Int64Type>().values().to_vec()
            })
            .collect();
        assert_eq!(got, want);

        let failing = (0..3).map(|i| {
            if i == 2 {
                Err(Error::Internal("the scan failed".into()))
            } else {
                Ok(rejects(i * 10, 10))
            }
        });
        let err = write_one(
            Vec::new(),
            Path::new("r.parquet"),
            schema,
            result_props().unwrap(),
            failing,
        )
        .unwrap_err();
        assert!(err.to_string().contains("the scan failed"), "{err}");
    }

    /// A writer that takes `.0` bytes more, then fails as a full disk does.
    #[derive(Debug)]
    struct Full(usize);

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if buf.len() > self.0 {
                return Err(std::io::Error::other("no space left on device"));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A writer failing under the workers: its error, naming the file, is the one returned.
    #[test]
    fn write_one_returns_the_writers_error() {
        let batches = (0..30).map(|i| Ok(rejects(i * 20_000, 20_000)));
        let err = write_one(
            Full(64 << 10),
            Path::new("out/r.parquet"),
            Table::Rejects.schema(),
            result_props().unwrap(),
            batches,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("no space left on device"), "{err}");
        assert!(err.contains("out/r.parquet"), "{err}");
    }

    /// Rows below the group size stay pending and are written, as one group, by `finish`.
    #[test]
    fn the_last_rows_are_written_at_finish() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.parquet");
        let written = std::thread::scope(|scope| {
            let mut pool = EncoderPool::start(scope);
            let fa = pool
                .create(&a, Table::Rejects, writer_props(3).unwrap())
                .unwrap();
            pool.write(fa, rejects(0, 5)).unwrap();
            pool.write(fa, rejects(5, 5)).unwrap();
            pool.finish().unwrap()
        });
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].1, 10);
        assert_eq!(lines_of(&a), ((0..10).collect(), 1));
    }
}
