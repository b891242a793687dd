//! Raw exports as tables, in bounded memory: one ingest pass keeps only the tables a
//! statement reads, and of those only the columns it reads (a `count(*)` of contexts keeps
//! no text at all). Their batches stay in memory while they are small; past a budget every
//! kept table goes to Arrow IPC files in a temporary folder, which DataFusion then scans
//! batch by batch, so a 30 GB export is queried without holding it.
//!
//! Deduplication needs no parent table in full: the parents' keys are ranked as they stream
//! by ([`Dedup`]), and of each level between a chain's parent and the deepest table read only
//! the child counts are kept, which is all [`LevelFilter`] needs to drop a lost version's
//! rows below. Kept rows are then filtered in their ingest order; a spooled table is
//! rewritten once, and only when a duplicate turned up.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{AsArray, PrimitiveArray, RecordBatch};
use datafusion::arrow::datatypes::{Int32Type, Schema, SchemaRef};
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::{FileWriter, IpcWriteOptions};
use datafusion::arrow::ipc::CompressionType;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::ingest::{ingest, IngestOptions, IngestSummary, Inputs};
use crate::table::dedup::{
    child_count_column, Dedup, LevelFilter, CONVERSATION_CHAIN, DOCUMENT_CHAIN,
};
use crate::table::Table;

/// Batches of the kept tables held in memory before all of them go to files.
pub const DEFAULT_BUDGET: usize = 64 << 20;

/// Which columns of a table to keep, by index, ascending: `None` keeps all.
pub type Columns = Option<Vec<usize>>;

/// The rows of one table read from raw exports.
pub enum Held {
    /// In memory, in ingest order.
    Memory(Vec<RecordBatch>),
    /// In Arrow IPC files (`part-N.arrow`) of a folder; batch `i` is in file `i % N`.
    Files(Spool),
}

/// One table's Arrow IPC files: batches dealt round-robin over a few files, so a scan
/// reads them in parallel and a reader taking one batch from each in turn gets them back
/// in ingest order.
pub struct Spool {
    /// The folder of the files.
    pub dir: PathBuf,
    writers: Vec<FileWriter<BufWriter<File>>>,
    paths: Vec<PathBuf>,
    next: usize,
}

/// Spool files are LZ4-compressed: text compresses 3-4x, so a 30 GB export needs a
/// fraction of that in `TMPDIR`, for about as long as writing it plain took.
fn spool_options() -> IpcWriteOptions {
    IpcWriteOptions::default()
        .try_with_compression(Some(CompressionType::LZ4_FRAME))
        .expect("the IPC format supports LZ4 frames")
}

impl Spool {
    fn create(dir: PathBuf, schema: &Schema, files: usize) -> Result<Spool> {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut writers = Vec::new();
        let mut paths = Vec::new();
        for i in 0..files.max(1) {
            let path = dir.join(format!("part-{i}.arrow"));
            let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
            writers.push(
                FileWriter::try_new_with_options(BufWriter::new(f), schema, spool_options())
                    .map_err(|e| Error::write(&path, e))?,
            );
            paths.push(path);
        }
        Ok(Spool {
            dir,
            writers,
            paths,
            next: 0,
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let i = self.next % self.writers.len();
        self.next += 1;
        self.writers[i]
            .write(batch)
            .map_err(|e| Error::write(&self.paths[i], e))
    }

    /// Finishes the files; they can be read from then on.
    fn finish(&mut self) -> Result<()> {
        for (w, p) in self.writers.iter_mut().zip(&self.paths) {
            w.finish().map_err(|e| Error::write(p, e))?;
        }
        Ok(())
    }

    /// Reads the finished files back in the order the batches were written.
    fn read(&self, mut each: impl FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        let mut readers = self
            .paths
            .iter()
            .map(|p| {
                let f = File::open(p).map_err(|e| Error::io(p, e))?;
                FileReader::try_new(std::io::BufReader::new(f), None).map_err(|e| Error::read(p, e))
            })
            .collect::<Result<Vec<_>>>()?;
        for i in 0..self.next {
            let k = i % readers.len();
            let b = readers[k]
                .next()
                .ok_or_else(|| Error::Internal(format!("{} ended early", self.paths[k].display())))?
                .map_err(|e| Error::read(&self.paths[k], e))?;
            each(b)?;
        }
        Ok(())
    }
}

impl Spool {
    /// The files as a table DataFusion scans one batch at a time, a file per partition.
    /// (DataFusion's own Arrow file scan splits large files into ranges and reads a range's
    /// batches all at once, which would hold the table in memory again.)
    pub fn table(&self, schema: SchemaRef) -> Result<StreamingTable> {
        let parts = self
            .paths
            .iter()
            .map(|p| {
                Arc::new(SpoolFile {
                    schema: schema.clone(),
                    path: p.clone(),
                }) as Arc<dyn PartitionStream>
            })
            .collect();
        Ok(StreamingTable::try_new(schema, parts)?)
    }
}

/// One spool file as a stream of its batches.
#[derive(Debug)]
struct SpoolFile {
    schema: SchemaRef,
    path: PathBuf,
}

impl PartitionStream for SpoolFile {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let path = self.path.clone();
        let batches: Box<dyn Iterator<Item = DfResult<RecordBatch>> + Send> =
            match File::open(&path)
                .map_err(|e| Error::io(&path, e))
                .and_then(|f| {
                    FileReader::try_new(std::io::BufReader::new(f), None)
                        .map_err(|e| Error::read(&path, e))
                }) {
                Ok(r) => Box::new(r.map(|b| b.map_err(Into::into))),
                Err(e) => Box::new(std::iter::once(Err(DataFusionError::External(Box::new(e))))),
            };
        Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            futures::stream::iter(batches),
        ))
    }
}

/// The kept rows of one table.
pub struct KeptTable {
    /// The columns kept (all when `None`); `schema` is the table's schema of just these.
    pub columns: Columns,
    /// The schema of the rows.
    pub schema: SchemaRef,
    /// The rows.
    pub rows: Held,
}

/// What one pass over raw exports kept.
pub struct Kept {
    /// The rows of each table asked for, deduplicated unless told otherwise.
    pub tables: HashMap<Table, KeptTable>,
    /// What was read.
    pub summary: IngestSummary,
}

/// Reads `inputs` once, keeping the given columns of the tables of `wanted`: in memory up
/// to `budget` bytes of batches, else in files under `spool` (spread over `files` files per
/// table). When deduplicating, a table also keeps its child count column.
pub fn read_tables(
    inputs: &Inputs,
    opts: &IngestOptions,
    wanted: &BTreeMap<Table, Columns>,
    dedup: bool,
    budget: usize,
    spool: &Path,
) -> Result<Kept> {
    let files = opts.threads.max(1);
    // Of each chain, the levels above the deepest table read, whose counts filter it.
    let mut counted: HashSet<Table> = HashSet::new();
    if dedup {
        for chain in [CONVERSATION_CHAIN, DOCUMENT_CHAIN] {
            if let Some(deepest) = chain.iter().rposition(|t| wanted.contains_key(t)) {
                counted.extend(chain[..deepest].iter().copied());
            }
        }
    }
    let mut held: HashMap<Table, KeptTable> = wanted
        .iter()
        .map(|(t, cols)| {
            let columns = cols.as_ref().map(|c| {
                let mut c: BTreeSet<usize> = c.iter().copied().collect();
                if dedup {
                    c.extend(child_count_column(*t));
                }
                c.into_iter().collect::<Vec<usize>>()
            });
            let schema = match &columns {
                Some(c) => Arc::new(t.schema().project(c)?),
                None => t.schema(),
            };
            Ok((
                *t,
                KeptTable {
                    columns,
                    schema,
                    rows: Held::Memory(Vec::new()),
                },
            ))
        })
        .collect::<Result<_>>()?;
    let mut counts: HashMap<Table, Vec<PrimitiveArray<Int32Type>>> = HashMap::new();
    let mut dedups: HashMap<Table, Dedup> = HashMap::new();
    let mut in_memory = 0usize;
    let summary = ingest(inputs, opts, |d| {
        for (t, b) in d.batches {
            if dedup && (t == CONVERSATION_CHAIN[0] || t == DOCUMENT_CHAIN[0]) {
                let parent_read = counted.contains(&t) || wanted.contains_key(&t);
                if parent_read {
                    dedups.entry(t).or_default().offer_batch(t, &b);
                }
            }
            if counted.contains(&t) && !wanted.contains_key(&t) {
                if let Some(c) = child_count_column(t) {
                    counts
                        .entry(t)
                        .or_default()
                        .push(b.column(c).as_primitive::<Int32Type>().clone());
                }
            }
            let Some(k) = held.get_mut(&t) else {
                continue;
            };
            let b = match &k.columns {
                Some(c) => b.project(c)?,
                None => b,
            };
            match &mut k.rows {
                Held::Memory(v) => {
                    in_memory += b.get_array_memory_size();
                    v.push(b);
                }
                Held::Files(s) => s.write(&b)?,
            }
        }
        if in_memory > budget {
            in_memory = 0;
            for (t, k) in held.iter_mut() {
                if let Held::Memory(batches) = &mut k.rows {
                    let mut s = Spool::create(spool.join(t.name()), &k.schema, files)?;
                    for b in batches.drain(..) {
                        s.write(&b)?;
                    }
                    k.rows = Held::Files(s);
                }
            }
        }
        Ok(())
    })?;
    for k in held.values_mut() {
        if let Held::Files(s) = &mut k.rows {
            s.finish()?;
        }
    }
    if dedup {
        for chain in [CONVERSATION_CHAIN, DOCUMENT_CHAIN] {
            let Some(d) = dedups.get(&chain[0]) else {
                continue;
            };
            if d.losers().is_empty() {
                continue;
            }
            let mut filter = LevelFilter::top(chain[0], d.losers());
            for (level, t) in chain.iter().enumerate() {
                if level > 0 {
                    filter = LevelFilter::child(*t, filter);
                }
                if let Some(k) = held.get_mut(t) {
                    if let Some(c) = &k.columns {
                        filter = filter.over(c);
                    }
                    k.rows = drop_lost(&mut k.rows, &mut filter, t, &k.schema, spool, files)?;
                } else if let Some(list) = counts.get(t) {
                    for c in list {
                        filter.pass(c);
                    }
                } else {
                    break;
                }
            }
        }
    }
    Ok(Kept {
        tables: held,
        summary,
    })
}

/// The rows of `held` without those `filter` drops.
fn drop_lost(
    held: &mut Held,
    filter: &mut LevelFilter<'_>,
    t: &Table,
    schema: &Schema,
    spool: &Path,
    files: usize,
) -> Result<Held> {
    match held {
        Held::Memory(batches) => Ok(Held::Memory(
            batches
                .iter()
                .map(|b| filter.filter(b).map_err(Error::from))
                .collect::<Result<_>>()?,
        )),
        Held::Files(old) => {
            let mut new = Spool::create(
                spool.join(format!("{}-deduplicated", t.name())),
                schema,
                files,
            )?;
            old.read(|b| new.write(&filter.filter(&b)?))?;
            new.finish()?;
            std::fs::remove_dir_all(&old.dir).map_err(|e| Error::io(&old.dir, e))?;
            Ok(Held::Files(new))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::compute::concat_batches;

    fn rows(k: &KeptTable) -> RecordBatch {
        let mut all = Vec::new();
        match &k.rows {
            Held::Memory(v) => all.extend(v.iter().cloned()),
            Held::Files(s) => s
                .read(|b| {
                    all.push(b);
                    Ok(())
                })
                .unwrap(),
        }
        concat_batches(&k.schema, &all).unwrap()
    }

    /// The testdata folder holds overlapping exports: held in files (a budget of 0) or in
    /// memory, with or without the parents read, every table gets the same rows.
    #[test]
    fn tables_in_files_equal_tables_in_memory() {
        let data = format!("{}/testdata", env!("CARGO_MANIFEST_DIR"));
        let inputs = Inputs::expand(&[data]).unwrap();
        let opts = IngestOptions {
            threads: 2,
            chunk_bytes: 512,
            ..Default::default()
        };
        let spool = tempfile::tempdir().unwrap();
        let all: BTreeMap<Table, Columns> = Table::ALL.iter().map(|t| (*t, None)).collect();
        let memory = read_tables(&inputs, &opts, &all, true, usize::MAX, spool.path()).unwrap();
        let kept_everything =
            read_tables(&inputs, &opts, &all, false, usize::MAX, spool.path()).unwrap();
        let convos = |k: &Kept| rows(&k.tables[&Table::Conversations]);
        assert!(
            convos(&kept_everything).num_rows() > convos(&memory).num_rows(),
            "the testdata has duplicates to drop"
        );
        for t in [Table::Contexts, Table::Messages, Table::Chunks] {
            let dir = tempfile::tempdir().unwrap();
            let alone: BTreeMap<Table, Columns> = [(t, None)].into_iter().collect();
            let files = read_tables(&inputs, &opts, &alone, true, 0, dir.path()).unwrap();
            assert!(matches!(files.tables[&t].rows, Held::Files(_)));
            assert_eq!(files.tables.len(), 1);
            let want = rows(&memory.tables[&t]);
            assert!(want.num_rows() > 0, "{t:?}");
            assert_eq!(rows(&files.tables[&t]), want, "{t:?}");
        }
    }

    /// Keeping some columns keeps exactly those columns of the same deduplicated rows (and
    /// the child count column a lower table's deduplication needs), in memory or in files.
    #[test]
    fn kept_columns_are_the_same_rows_narrowed() {
        use crate::table::col;
        let data = format!("{}/testdata", env!("CARGO_MANIFEST_DIR"));
        let inputs = Inputs::expand(&[data]).unwrap();
        let opts = IngestOptions {
            threads: 2,
            chunk_bytes: 512,
            ..Default::default()
        };
        let spool = tempfile::tempdir().unwrap();
        let all: BTreeMap<Table, Columns> = Table::ALL.iter().map(|t| (*t, None)).collect();
        let whole = read_tables(&inputs, &opts, &all, true, usize::MAX, spool.path()).unwrap();
        let narrow: BTreeMap<Table, Columns> = [
            (Table::Messages, Some(vec![col::messages::role])),
            (Table::Contexts, Some(vec![])),
        ]
        .into_iter()
        .collect();
        for budget in [usize::MAX, 0] {
            let dir = tempfile::tempdir().unwrap();
            let kept = read_tables(&inputs, &opts, &narrow, true, budget, dir.path()).unwrap();
            let messages = &kept.tables[&Table::Messages];
            let cols = vec![col::messages::role, col::messages::context_count];
            assert_eq!(messages.columns.as_ref(), Some(&cols));
            assert_eq!(
                rows(messages),
                rows(&whole.tables[&Table::Messages])
                    .project(&cols)
                    .unwrap()
            );
            let contexts = &kept.tables[&Table::Contexts];
            assert_eq!(contexts.schema.fields().len(), 0);
            assert_eq!(
                rows(contexts).num_rows(),
                rows(&whole.tables[&Table::Contexts]).num_rows()
            );
            assert!(rows(contexts).num_rows() > 0);
        }
    }
}
