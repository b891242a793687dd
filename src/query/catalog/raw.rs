//! Raw exports as tables, in bounded memory: one ingest pass keeps only the tables a
//! statement reads, and of those only the columns it reads (a `count(*)` of contexts keeps
//! no text at all). Their batches stay in memory while they are small; past a budget every
//! kept table goes to Arrow IPC files in a temporary folder, which DataFusion then scans
//! batch by batch, so a 30 GB export is queried without holding it.
//!
//! Deduplication needs no parent table in full: the parents' keys are ranked as they stream
//! by ([`Dedup`]), and of each level between a chain's parent and the deepest table read only
//! the child counts are kept, which is all [`crate::table::dedup::LevelFilter`] needs to drop a lost version's
//! rows below. Kept rows are then filtered in their ingest order; a spooled table is
//! rewritten once, and only when a duplicate turned up.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, BooleanArray, PrimitiveArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{Int32Type, Schema, SchemaRef};
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::{FileWriter, IpcWriteOptions};
use datafusion::arrow::ipc::CompressionType;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::physical_plan::PhysicalExpr;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::ingest::{ingest, IngestOptions, IngestSummary, Inputs};
use crate::table::dedup::{
    child_count_column, walk_chain, Dedup, CONVERSATION_CHAIN, DOCUMENT_CHAIN,
};
use crate::table::Table;

/// Batches of the kept tables held in memory before all of them go to files.
pub const DEFAULT_BUDGET: usize = 64 << 20;

/// Which columns of a table to keep, by index, ascending: `None` keeps all.
pub type Columns = Option<Vec<usize>>;

/// What to keep of one table: some columns, and only the rows a predicate holds for. The
/// predicate is applied only where deduplication does not need the rows it drops: to the
/// deepest table read of its family (or to any table without deduplication); elsewhere it
/// is ignored and [`KeptTable::filtered`] says so.
///
/// It is the reader's form of a `Need` (narrow.rs), which says what statements read in
/// terms of the logical plan: here the predicate is planned against the table's own schema
/// (a physical expression evaluated on decoded batches), so the two stay two types.
#[derive(Clone, Default)]
pub struct Wanted {
    /// The columns.
    pub columns: Columns,
    /// A predicate over the table's full schema (a `WHERE` every scan of the table has).
    pub filter: Option<Arc<dyn PhysicalExpr>>,
}

impl Wanted {
    /// Every column, every row.
    pub fn all() -> Wanted {
        Wanted::default()
    }

    /// These columns, every row.
    pub fn columns(columns: Columns) -> Wanted {
        Wanted {
            columns,
            filter: None,
        }
    }
}

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
    /// Whether only the rows the wanted predicate holds for were kept.
    pub filtered: bool,
    /// The schema of the rows.
    pub schema: SchemaRef,
    /// The rows.
    pub rows: Held,
    filter: Option<Arc<dyn PhysicalExpr>>,
    /// With a filter and deduplication: per decoded batch, its row count and the rows the
    /// filter kept, so that deduplication can still drop rows by their place.
    positions: Option<Vec<(usize, Vec<u32>)>>,
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
    wanted: &BTreeMap<Table, Wanted>,
    dedup: bool,
    budget: usize,
    spool: &Path,
) -> Result<Kept> {
    let files = opts.threads.max(1);
    let counted = counted_levels(wanted, dedup);
    let mut held = plan_tables(wanted, dedup)?;
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
            if let Some(k) = held.get_mut(&t) {
                in_memory += k.keep(b)?;
            }
        }
        if in_memory > budget {
            in_memory = 0;
            spill(&mut held, spool, files)?;
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
            match dedups.get(&chain[0]) {
                Some(d) if !d.losers().is_empty() => {
                    drop_losers(&mut held, chain, d, &counts, spool, files)?
                }
                _ => {}
            }
        }
    }
    Ok(Kept {
        tables: held,
        summary,
    })
}

/// Of each chain, the levels above the deepest table read: their child counts filter it
/// when deduplicating.
fn counted_levels(wanted: &BTreeMap<Table, Wanted>, dedup: bool) -> HashSet<Table> {
    let mut counted: HashSet<Table> = HashSet::new();
    if dedup {
        for chain in [CONVERSATION_CHAIN, DOCUMENT_CHAIN] {
            if let Some(deepest) = chain.iter().rposition(|t| wanted.contains_key(t)) {
                counted.extend(chain[..deepest].iter().copied());
            }
        }
    }
    counted
}

/// What is kept of each wanted table: its columns (with the child count column when
/// deduplicating), and its predicate where nothing below needs the rows it drops.
fn plan_tables(wanted: &BTreeMap<Table, Wanted>, dedup: bool) -> Result<HashMap<Table, KeptTable>> {
    let deepest = |t: Table| {
        [CONVERSATION_CHAIN, DOCUMENT_CHAIN]
            .iter()
            .find_map(|chain| {
                let at = chain.iter().position(|c| *c == t)?;
                Some(!chain[at + 1..].iter().any(|c| wanted.contains_key(c)))
            })
            .unwrap_or(true)
    };
    wanted
        .iter()
        .map(|(t, w)| {
            let filter = w.filter.clone().filter(|_| !dedup || deepest(*t));
            let columns = w.columns.as_ref().map(|c| {
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
                    filtered: filter.is_some(),
                    schema,
                    rows: Held::Memory(Vec::new()),
                    positions: (dedup && filter.is_some()).then(Vec::new),
                    filter,
                },
            ))
        })
        .collect()
}

impl KeptTable {
    /// Keeps what is wanted of the next decoded batch of the table (its filter's rows,
    /// its columns); returns the bytes it added in memory.
    fn keep(&mut self, b: RecordBatch) -> Result<usize> {
        let b = match &self.filter {
            Some(f) => {
                let n = b.num_rows();
                let mask = f.evaluate(&b)?.into_array(n)?;
                let mask = mask.as_boolean();
                if let Some(p) = &mut self.positions {
                    let kept = (0..n)
                        .filter(|i| mask.is_valid(*i) && mask.value(*i))
                        .map(|i| i as u32)
                        .collect();
                    p.push((n, kept));
                }
                let b = filter_record_batch(&b, mask)?;
                if b.num_rows() == 0 {
                    return Ok(0);
                }
                b
            }
            None => b,
        };
        let b = match &self.columns {
            Some(c) => b.project(c)?,
            None => b,
        };
        match &mut self.rows {
            Held::Memory(v) => {
                let size = b.get_array_memory_size();
                v.push(b);
                Ok(size)
            }
            Held::Files(s) => {
                s.write(&b)?;
                Ok(0)
            }
        }
    }
}

/// Moves every table still in memory into spool files.
fn spill(held: &mut HashMap<Table, KeptTable>, spool: &Path, files: usize) -> Result<()> {
    for (t, k) in held.iter_mut() {
        if let Held::Memory(batches) = &mut k.rows {
            let mut s = Spool::create(spool.join(t.name()), &k.schema, files)?;
            for b in batches.drain(..) {
                s.write(&b)?;
            }
            k.rows = Held::Files(s);
        }
    }
    Ok(())
}

/// Drops the rows of the versions `d` lost from the kept tables of `chain`: a table read
/// is rewritten, a level only counted passes its counts down.
fn drop_losers(
    held: &mut HashMap<Table, KeptTable>,
    chain: &[Table],
    d: &Dedup,
    counts: &HashMap<Table, Vec<PrimitiveArray<Int32Type>>>,
    spool: &Path,
    files: usize,
) -> Result<()> {
    walk_chain(chain, d.losers(), |_, t, filter| -> Result<bool> {
        let t = &t;
        if let Some(k) = held.get_mut(t) {
            if let Some(c) = &k.columns {
                filter.over(c);
            }
            k.rows = match k.positions.take() {
                None => drop_lost(&mut k.rows, t, &k.schema, spool, files, |b| {
                    Ok(filter.filter(b)?)
                })?,
                // Rows a predicate dropped are not there: each kept batch is masked by
                // the places its rows had.
                Some(places) => {
                    let mut places = places.into_iter();
                    drop_lost(&mut k.rows, t, &k.schema, spool, files, |b| loop {
                        let (n, kept) = places.next().ok_or_else(|| {
                            Error::Internal("more batches than were decoded".into())
                        })?;
                        let keep = filter.keep_next(n);
                        if kept.is_empty() {
                            continue;
                        }
                        let mask: BooleanArray =
                            kept.iter().map(|i| Some(keep[*i as usize])).collect();
                        return Ok(filter_record_batch(b, &mask)?);
                    })?
                }
            };
        } else if let Some(list) = counts.get(t) {
            for c in list {
                filter.pass(c);
            }
        } else {
            return Ok(false);
        }
        Ok(true)
    })
}

/// The rows of `held`, each batch passed through `keep` (in order).
fn drop_lost(
    held: &mut Held,
    t: &Table,
    schema: &Schema,
    spool: &Path,
    files: usize,
    mut keep: impl FnMut(&RecordBatch) -> Result<RecordBatch>,
) -> Result<Held> {
    match held {
        Held::Memory(batches) => Ok(Held::Memory(
            batches.iter().map(&mut keep).collect::<Result<_>>()?,
        )),
        Held::Files(old) => {
            let mut new = Spool::create(
                spool.join(format!("{}-deduplicated", t.name())),
                schema,
                files,
            )?;
            old.read(|b| new.write(&keep(&b)?))?;
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

    /// The testdata folder, read in small pieces on two threads.
    fn testdata() -> (Inputs, IngestOptions) {
        let data = format!("{}/testdata", env!("CARGO_MANIFEST_DIR"));
        let opts = IngestOptions {
            threads: 2,
            chunk_bytes: 512,
            ..Default::default()
        };
        (Inputs::expand(&[data]).unwrap(), opts)
    }

    /// The testdata folder holds overlapping exports: held in files (a budget of 0) or in
    /// memory, with or without the parents read, every table gets the same rows.
    #[test]
    fn tables_in_files_equal_tables_in_memory() {
        let (inputs, opts) = testdata();
        let spool = tempfile::tempdir().unwrap();
        let all: BTreeMap<Table, Wanted> = Table::ALL.iter().map(|t| (*t, Wanted::all())).collect();
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
            let alone: BTreeMap<Table, Wanted> = [(t, Wanted::all())].into_iter().collect();
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
        let (inputs, opts) = testdata();
        let spool = tempfile::tempdir().unwrap();
        let all: BTreeMap<Table, Wanted> = Table::ALL.iter().map(|t| (*t, Wanted::all())).collect();
        let whole = read_tables(&inputs, &opts, &all, true, usize::MAX, spool.path()).unwrap();
        let narrow: BTreeMap<Table, Wanted> = [
            (
                Table::Messages,
                Wanted::columns(Some(vec![col::messages::role])),
            ),
            (Table::Contexts, Wanted::columns(Some(vec![]))),
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

    /// A filter on the deepest table read keeps its rows, deduplicated by the places they
    /// had among all rows: the same rows as filtering the deduplicated table afterwards,
    /// in memory or in files. The first file's one batch holds two conversations that lose
    /// to the second file's versions, then one that is kept, so the places matter.
    #[test]
    fn filtered_rows_are_deduplicated_by_their_places() {
        use datafusion::common::DFSchema;
        use datafusion::prelude::{col, lit, SessionContext};
        let lines = |name: &str| -> Vec<String> {
            let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
            std::fs::read_to_string(path)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect()
        };
        let (old, new) = (
            lines("convos-2023-r.jsonl"),
            lines("reexport/ECE120-convos-2023-11.jsonl"),
        );
        let dir = tempfile::tempdir().unwrap();
        let a = [old[0].as_str(), old[1].as_str(), new[2].as_str()].join("\n");
        let b = [new[0].as_str(), new[1].as_str()].join("\n");
        std::fs::write(dir.path().join("a.jsonl"), a).unwrap();
        std::fs::write(dir.path().join("b.jsonl"), b).unwrap();
        let inputs = Inputs::expand(&[dir.path().to_str().unwrap().to_owned()]).unwrap();
        let opts = IngestOptions {
            threads: 2,
            ..Default::default()
        };
        let t = Table::Contexts;
        let schema = DFSchema::try_from(t.schema().as_ref().clone()).unwrap();
        let predicate = SessionContext::new()
            .create_physical_expr(col("context_index").eq(lit(0)), &schema)
            .unwrap();
        let spool = tempfile::tempdir().unwrap();
        let read = |w: Wanted, dedup: bool, budget: usize| {
            let alone: BTreeMap<Table, Wanted> = [(t, w)].into_iter().collect();
            read_tables(&inputs, &opts, &alone, dedup, budget, spool.path()).unwrap()
        };
        let every = rows(&read(Wanted::all(), false, usize::MAX).tables[&t]);
        let whole = rows(&read(Wanted::all(), true, usize::MAX).tables[&t]);
        assert!(every.num_rows() > whole.num_rows(), "duplicates to drop");
        let mask = predicate
            .evaluate(&whole)
            .unwrap()
            .into_array(whole.num_rows())
            .unwrap();
        let want = filter_record_batch(&whole, mask.as_boolean()).unwrap();
        assert!(want.num_rows() > 0 && want.num_rows() < whole.num_rows());
        for budget in [usize::MAX, 0] {
            let w = Wanted {
                columns: None,
                filter: Some(predicate.clone()),
            };
            let kept = read(w, true, budget);
            assert!(kept.tables[&t].filtered);
            assert_eq!(rows(&kept.tables[&t]), want, "budget {budget}");
        }
    }
}
