//! Rows to partition files: each row of a family (conversations → messages → contexts,
//! documents → chunks) goes to the partition of its parent, by the course and month of the
//! conversation or document ([`super::partition`]).
//!
//! A one-shot `convert --partition-by` routes rows as ingest decodes them (`Splitter` fed
//! chunk by chunk, a chunk holding whole families); an append splits the flat stage it
//! deduplicated against the lake (fed table by table, `split_flat`). Either way rows are
//! buffered per partition within one budget, the largest buffer is written out when the
//! budget is full, and files are encoded and compressed on a pool of threads. Children
//! follow their parent by the `*_count` columns, so a file of messages holds the messages of
//! the conversations of the same partition's conversation files, in the same order.
//!
//! Versions a one-shot run finds twice are dropped afterwards, only from the partitions that
//! hold a losing version (`Splitter::finish`): the parent ordinals each partition received
//! say which of its rows lost.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::{Int32Type, TimestampMicrosecondType};
use datafusion::parquet::file::properties::WriterProperties;

use super::encode::join_workers;
use super::parquet::{file_rows, for_batches, open_reader, TableWriter};
use super::partition::{part_name, partition_of, Key, PartitionValues, WrittenFile};
use crate::error::{Error, Result};
use crate::table::dedup::{child_count_column, walk_chain, CONVERSATION_CHAIN, DOCUMENT_CHAIN};
use crate::table::{col, Table};

/// Bytes of rows buffered across all partitions before the largest buffers are written.
const BUFFER_BUDGET: usize = 128 << 20;

/// One partition file to encode and write, by a thread of the writer pool.
struct FileJob {
    path: PathBuf,
    table: Table,
    seq: u32,
    partition: PartitionValues,
    batches: Vec<RecordBatch>,
}

/// Encodes and compresses [`FileJob`]s on all cores (a file's name, and so its place in
/// the partition's order, is fixed before it is handed over), collecting what was written.
pub(super) struct WriterPool<'scope> {
    jobs: crossbeam_channel::Sender<FileJob>,
    workers: Vec<std::thread::ScopedJoinHandle<'scope, Result<Vec<WrittenFile>>>>,
}

impl<'scope> WriterPool<'scope> {
    pub(super) fn start<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        props: &'env WriterProperties,
    ) -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        // Files waiting for a writer hold their rows: keep the queue short.
        let (tx, rx) = crossbeam_channel::bounded::<FileJob>(threads);
        let workers = (0..threads)
            .map(|_| {
                let rx = rx.clone();
                scope.spawn(move || {
                    let mut written = Vec::new();
                    for job in rx.iter() {
                        let rows = job.batches.iter().map(|b| b.num_rows() as u64).sum();
                        let props = for_batches(props.clone(), &job.batches);
                        let mut w = TableWriter::create(&job.path, job.table, props, Some(rows))?;
                        for b in &job.batches {
                            w.write(b, &job.path)?;
                        }
                        let rows = w.close(&job.path)?;
                        written.push(WrittenFile {
                            table: job.table,
                            path: job.path,
                            rows,
                            seq: job.seq,
                            partition: job.partition,
                        });
                    }
                    Ok(written)
                })
            })
            .collect();
        WriterPool { jobs: tx, workers }
    }

    fn send(&self, job: FileJob) -> Result<()> {
        self.jobs
            .send(job)
            .map_err(|_| Error::Internal("a partition writer stopped".into()))
    }

    /// Waits for every file; the first error of any writer.
    pub(super) fn finish(self) -> Result<Vec<WrittenFile>> {
        let WriterPool { jobs, workers } = self;
        // No more jobs: the writers stop when the queue is empty.
        drop(jobs);
        let mut all: Vec<WrittenFile> = join_workers(workers, "a partition writer")?
            .into_iter()
            .flatten()
            .collect();
        all.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(all)
    }
}

/// A partition's folder and values.
type Part = (String, PartitionValues);

/// The rows of one table waiting for their partition files.
struct Buffers {
    table: Table,
    by_part: HashMap<u32, (Vec<RecordBatch>, usize)>,
    seq: HashMap<u32, u32>,
}

impl Buffers {
    fn new(table: Table) -> Self {
        Buffers {
            table,
            by_part: HashMap::new(),
            seq: HashMap::new(),
        }
    }

    /// Adds a batch whose row `i` goes to partition `pids[i]`; returns the bytes added.
    fn push(&mut self, batch: &RecordBatch, pids: &[u32]) -> Result<usize> {
        let mut groups: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for (i, p) in pids.iter().enumerate() {
            groups.entry(*p).or_default().push(i as u32);
        }
        let mut added = 0;
        for (pid, rows) in groups {
            let part = if rows.len() == batch.num_rows() {
                batch.clone()
            } else {
                take_record_batch(batch, &UInt32Array::from(rows))?
            };
            let size = part.get_array_memory_size();
            let slot = self.by_part.entry(pid).or_default();
            slot.0.push(part);
            slot.1 += size;
            added += size;
        }
        Ok(added)
    }

    /// The partition with the most bytes buffered.
    fn largest(&self) -> Option<(u32, usize)> {
        self.by_part
            .iter()
            .map(|(p, (_, size))| (*p, *size))
            .max_by_key(|(_, size)| *size)
    }

    /// Hands the rows buffered for `pid` to the pool as the partition's next file; the
    /// bytes freed.
    fn flush(
        &mut self,
        pid: u32,
        parts: &[Part],
        root: &Path,
        run: u32,
        pool: &WriterPool<'_>,
    ) -> Result<usize> {
        let Some((batches, size)) = self.by_part.remove(&pid) else {
            return Ok(0);
        };
        let seq = self.seq.entry(pid).or_insert(0);
        *seq += 1;
        let part = &parts[pid as usize];
        let dir = root.join(self.table.name()).join(&part.0);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        pool.send(FileJob {
            path: dir.join(part_name(run, *seq)),
            table: self.table,
            seq: *seq,
            partition: part.1.clone(),
            batches,
        })?;
        Ok(size)
    }
}

/// Where the rows of one family go.
struct Family {
    chain: &'static [Table],
    parts: Vec<Part>,
    index: HashMap<String, u32>,
    /// Per level: the buffered rows.
    levels: Vec<Buffers>,
    /// Per level below the parent: (partition, children left) of the rows above, in order.
    owners: Vec<VecDeque<(u32, u64)>>,
    /// Per partition: the parent ordinals it received, in order.
    ordinals: Vec<Vec<u64>>,
    next_ordinal: u64,
}

impl Family {
    fn new(chain: &'static [Table]) -> Self {
        Family {
            chain,
            parts: Vec::new(),
            index: HashMap::new(),
            levels: chain.iter().map(|t| Buffers::new(*t)).collect(),
            owners: chain.iter().map(|_| VecDeque::new()).collect(),
            ordinals: Vec::new(),
            next_ordinal: 0,
        }
    }

    /// Routes the next batch of level `level`; returns the bytes buffered.
    fn push(&mut self, keys: &[Key], level: usize, batch: &RecordBatch) -> Result<usize> {
        let t = self.chain[level];
        let mut pids = Vec::with_capacity(batch.num_rows());
        if level == 0 {
            let (course_col, created_col) = match t {
                Table::Documents => (col::documents::course_name, col::documents::created_at),
                _ => (
                    col::conversations::course_name,
                    col::conversations::created_at,
                ),
            };
            let course = batch.column(course_col).as_string::<i32>();
            let created = batch
                .column(created_col)
                .as_primitive::<TimestampMicrosecondType>();
            for i in 0..batch.num_rows() {
                let c = course.is_valid(i).then(|| course.value(i));
                let at = created.is_valid(i).then(|| created.value(i));
                let (dir, values) = partition_of(keys, c, at);
                let pid = match self.index.get(&dir) {
                    Some(p) => *p,
                    None => {
                        let p = self.parts.len() as u32;
                        self.index.insert(dir.clone(), p);
                        self.parts.push((dir, values));
                        self.ordinals.push(Vec::new());
                        p
                    }
                };
                self.ordinals[pid as usize].push(self.next_ordinal);
                self.next_ordinal += 1;
                pids.push(pid);
            }
        } else {
            let owners = &mut self.owners[level];
            for _ in 0..batch.num_rows() {
                loop {
                    match owners.front_mut() {
                        Some((_, 0)) => {
                            owners.pop_front();
                        }
                        Some((pid, left)) => {
                            *left -= 1;
                            pids.push(*pid);
                            break;
                        }
                        None => {
                            return Err(Error::Internal(format!(
                                "more {} rows than their parents' counts say",
                                t.name()
                            )))
                        }
                    }
                }
            }
        }
        if let (Some(c), true) = (child_count_column(t), level + 1 < self.chain.len()) {
            let counts = batch.column(c).as_primitive::<Int32Type>();
            let below = &mut self.owners[level + 1];
            for (i, p) in pids.iter().enumerate() {
                let n = if counts.is_valid(i) {
                    counts.value(i).max(0) as u64
                } else {
                    0
                };
                if n > 0 {
                    below.push_back((*p, n));
                }
            }
        }
        self.levels[level].push(batch, &pids)
    }
}

/// Routes the rows of both families to partition files under `root`, as files of run
/// `run`, in bounded memory.
pub(super) struct Splitter<'a, 'p> {
    keys: &'a [Key],
    root: &'a Path,
    run: u32,
    pool: &'a WriterPool<'p>,
    families: [Family; 2],
    buffered: usize,
}

impl<'a, 'p> Splitter<'a, 'p> {
    pub(super) fn new(keys: &'a [Key], root: &'a Path, run: u32, pool: &'a WriterPool<'p>) -> Self {
        Splitter {
            keys,
            root,
            run,
            pool,
            families: [Family::new(CONVERSATION_CHAIN), Family::new(DOCUMENT_CHAIN)],
            buffered: 0,
        }
    }

    /// Routes the next batch of `table` (a table of one of the families); every row of a
    /// level must come after the rows of the level above that own it.
    pub(super) fn push(&mut self, table: Table, batch: &RecordBatch) -> Result<()> {
        for f in &mut self.families {
            if let Some(level) = f.chain.iter().position(|t| *t == table) {
                self.buffered += f.push(self.keys, level, batch)?;
            }
        }
        while self.buffered > BUFFER_BUDGET {
            let (fi, level, pid) = self
                .families
                .iter()
                .enumerate()
                .flat_map(|(fi, f)| {
                    f.levels
                        .iter()
                        .enumerate()
                        .filter_map(move |(l, b)| b.largest().map(|(p, s)| (s, fi, l, p)))
                })
                .max()
                .map(|(_, fi, l, p)| (fi, l, p))
                .expect("buffered bytes imply a buffer");
            let f = &mut self.families[fi];
            self.buffered -=
                f.levels[level].flush(pid, &f.parts, self.root, self.run, self.pool)?;
        }
        Ok(())
    }

    /// Routes the batches of one decoded chunk (whole families), parents first.
    pub(super) fn push_chunk(&mut self, batches: &[(Table, RecordBatch)]) -> Result<()> {
        for chain in [CONVERSATION_CHAIN, DOCUMENT_CHAIN] {
            for t in chain {
                for (_, b) in batches.iter().filter(|(bt, _)| bt == t) {
                    self.push(*t, b)?;
                }
            }
        }
        Ok(())
    }

    /// Writes every buffer out; returns, per family, the partitions and the parent ordinals
    /// each received (for [`drop_lost`]).
    pub(super) fn finish(mut self) -> Result<Vec<Routed>> {
        let mut out = Vec::new();
        for f in &mut self.families {
            for level in &mut f.levels {
                let mut pids: Vec<u32> = level.by_part.keys().copied().collect();
                pids.sort_unstable();
                for p in pids {
                    level.flush(p, &f.parts, self.root, self.run, self.pool)?;
                }
            }
            out.push(Routed {
                chain: f.chain,
                parts: std::mem::take(&mut f.parts),
                ordinals: std::mem::take(&mut f.ordinals),
            });
        }
        Ok(out)
    }
}

/// Where one family's parents went.
pub(super) struct Routed {
    chain: &'static [Table],
    parts: Vec<Part>,
    ordinals: Vec<Vec<u64>>,
}

/// Drops the rows of the parents in `losers` (ordinals in ingest order) and of their
/// children from the partition files of `written`: each partition holding a loser is
/// rewritten as one file per table.
pub(super) fn drop_lost(
    routed: &Routed,
    losers: &HashSet<u64>,
    root: &Path,
    run: u32,
    props: &WriterProperties,
    written: &mut Vec<WrittenFile>,
) -> Result<()> {
    for (pid, ordinals) in routed.ordinals.iter().enumerate() {
        let local: HashSet<u64> = ordinals
            .iter()
            .enumerate()
            .filter(|(_, o)| losers.contains(o))
            .map(|(i, _)| i as u64)
            .collect();
        if local.is_empty() {
            continue;
        }
        let (folder, values) = &routed.parts[pid];
        walk_chain(routed.chain, &local, |_, t, filter| -> Result<bool> {
            let dir = root.join(t.name()).join(folder);
            let (old, rest): (Vec<WrittenFile>, Vec<WrittenFile>) = std::mem::take(written)
                .into_iter()
                .partition(|f| f.table == t && f.path.parent() == Some(dir.as_path()));
            *written = rest;
            if old.is_empty() {
                return Ok(false);
            }
            let tmp = dir.join("rewrite.parquet.tmp");
            let rows = old.iter().map(|f| f.rows).sum();
            let mut w = TableWriter::create(&tmp, t, props.clone(), Some(rows))?;
            for f in &old {
                for b in open_reader(&f.path, None)? {
                    let kept = filter.filter(&b.map_err(|e| Error::read(&f.path, e))?)?;
                    if kept.num_rows() > 0 {
                        w.write(&kept, &tmp)?;
                    }
                }
                std::fs::remove_file(&f.path).map_err(|e| Error::io(&f.path, e))?;
            }
            let rows = w.close(&tmp)?;
            if rows == 0 {
                std::fs::remove_file(&tmp).map_err(|e| Error::io(&tmp, e))?;
                return Ok(true);
            }
            let to = dir.join(part_name(run, 1));
            std::fs::rename(&tmp, &to).map_err(|e| Error::io(&to, e))?;
            written.push(WrittenFile {
                table: t,
                path: to,
                rows,
                seq: 1,
                partition: values.clone(),
            });
            Ok(true)
        })?;
    }
    written.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(())
}

/// Splits the flat table files of `flat` (a folder `convert` wrote) into partitions under
/// `root`, as files of run `run`. Returns the files written.
pub(super) fn split_flat(
    flat: &Path,
    root: &Path,
    keys: &[Key],
    run: u32,
    props: &WriterProperties,
) -> Result<Vec<WrittenFile>> {
    let mut written = std::thread::scope(|scope| {
        let pool = WriterPool::start(scope, props);
        let routed = (|| {
            let mut s = Splitter::new(keys, root, run, &pool);
            for chain in [CONVERSATION_CHAIN, DOCUMENT_CHAIN] {
                for t in chain {
                    let path = flat.join(t.file_name());
                    if !path.is_file() {
                        break;
                    }
                    for batch in open_reader(&path, None)? {
                        s.push(*t, &batch.map_err(|e| Error::read(&path, e))?)?;
                    }
                }
            }
            s.finish()
        })();
        // A writer's own error says more than the routing's "a writer stopped".
        let files = pool.finish()?;
        routed?;
        Ok::<_, Error>(files)
    })?;
    let rejects = flat.join("rejects.parquet");
    if rejects.is_file() {
        written.push(move_rejects(&rejects, root, run)?);
    }
    Ok(written)
}

/// Moves a run's rejects file (never partitioned) into the lake's `rejects/` folder.
pub(super) fn move_rejects(from: &Path, root: &Path, run: u32) -> Result<WrittenFile> {
    let dir = root.join("rejects");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let to = dir.join(part_name(run, 1));
    std::fs::rename(from, &to).map_err(|e| Error::io(&to, e))?;
    let rows = file_rows(&to)?;
    Ok(WrittenFile {
        table: Table::Rejects,
        path: to,
        rows,
        seq: 1,
        partition: PartitionValues::new(),
    })
}
