//! Hive-partitioned layout: `convert --partition-by course,month`. How partition values
//! become folder names, and the split of a flat conversion into partitions (appending a run
//! to an existing lake is [`super::append`]).
//!
//! A partitioned lake holds each table in a folder of its own, split by the conversation's
//! (or document's) course and month: `conversations/course=ECE120/month=2024-03/
//! part-r00001-00001.parquet`. DuckDB, Spark, Ballista and DataFusion read that layout as it
//! is, and prune partitions on `course` and `month` predicates.
//!
//! Files keep every column of the table (the partition values are also in the path, but the
//! columns stay the truth: a path cannot hold `NULL` apart from `""`), so a partitioned
//! table is the flat table plus the virtual columns `course` and `month`.
//!
//! Child rows follow their parent by the `*_count` columns (see [`crate::table::dedup`]); within a
//! partition, the files of every table of a family are in the same order, so reading them in
//! name order keeps children behind their parents. Each run writes files named after its
//! number, so names sort by run, and a run only adds files to the partitions it touches.
//! When an append brings a newer version of a conversation already in the lake, only the
//! partition holding the old version is rewritten; every other old file stays as it was.
//!
//! Each file's partition values also go into its Delta `add` action
//! ([`super::commit`]), which is what Delta readers and chatql take them from; the folder
//! names are for plain Parquet readers of the folder.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::{Int32Type, TimestampMicrosecondType};
use datafusion::parquet::file::properties::WriterProperties;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use super::commit::PartitionValues;
use super::parquet::{file_rows, open_reader, TableWriter};
use crate::error::{Error, Result};
use crate::table::dedup::{child_count_column, CONVERSATION_CHAIN, DOCUMENT_CHAIN};
use crate::table::{col, Table};

/// A column a lake can be partitioned by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Key {
    /// The conversation's (document's) `course_name`.
    Course,
    /// The month (`YYYY-MM`, UTC) of the conversation's (document's) `created_at`.
    Month,
}

impl Key {
    /// The partition column's name.
    pub fn name(self) -> &'static str {
        match self {
            Key::Course => "course",
            Key::Month => "month",
        }
    }
}

/// Parses `course,month` (any order, either alone) into partition keys.
pub fn parse_keys(s: &str) -> Result<Vec<Key>> {
    let mut keys = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let k = match part.to_ascii_lowercase().as_str() {
            "course" | "course_name" => Key::Course,
            "month" => Key::Month,
            other => {
                return Err(Error::Usage(format!(
                    "--partition-by: unknown key {other:?} (keys: course, month)"
                )))
            }
        };
        if keys.contains(&k) {
            return Err(Error::Usage(format!(
                "--partition-by: {} given twice",
                k.name()
            )));
        }
        keys.push(k);
    }
    if keys.is_empty() {
        return Err(Error::Usage(
            "--partition-by needs course, month or both".into(),
        ));
    }
    Ok(keys)
}

/// The value Hive, Spark and DuckDB use for a null partition; chatql also uses it for `""`.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Bytes that cannot stand in a path segment, or that readers treat specially (the set
/// Spark escapes, which DataFusion and DuckDB decode).
const ESCAPE: &AsciiSet = &CONTROLS
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'\'')
    .add(b'*')
    .add(b'/')
    .add(b':')
    .add(b'=')
    .add(b'?')
    .add(b'\\')
    .add(b'{')
    .add(b'}')
    .add(b'[')
    .add(b']')
    .add(b'^')
    .add(b'<')
    .add(b'>')
    .add(b'|');

/// A partition value as a path segment value.
pub fn encode_value(v: Option<&str>) -> String {
    match v {
        None | Some("") => NULL_PARTITION.to_owned(),
        Some(v) => {
            let mut s: String = utf8_percent_encode(v, ESCAPE).collect();
            // A leading dot or underscore would hide the folder from most readers.
            if s.starts_with('.') || s.starts_with('_') {
                s = format!("%{:02X}{}", s.as_bytes()[0], &s[1..]);
            }
            // Path segments are limited to 255 bytes; course names are short, but be safe.
            if s.len() > 180 {
                use sha2::Digest;
                let digest = hex::encode(sha2::Sha256::digest(v.as_bytes()));
                let mut cut = 160;
                while !s.is_char_boundary(cut) || s[..cut].ends_with('%') {
                    cut -= 1;
                }
                s = format!("{}~{}", &s[..cut], &digest[..16]);
            }
            s
        }
    }
}

/// The `month` partition value (`YYYY-MM`, UTC) of a timestamp in microseconds.
pub fn month_of(us: Option<i64>) -> Option<String> {
    us.map(crate::model::format_month)
}

/// The relative folder of one partition (`course=X/month=Y`) and its values (an empty
/// course is null, as its folder says).
fn partition_of(
    keys: &[Key],
    course: Option<&str>,
    created: Option<i64>,
) -> (String, PartitionValues) {
    let month = month_of(created);
    let mut values = PartitionValues::new();
    let dir = keys
        .iter()
        .map(|k| {
            let v = match k {
                Key::Course => course.filter(|c| !c.is_empty()).map(str::to_owned),
                Key::Month => month.clone(),
            };
            let seg = format!("{}={}", k.name(), encode_value(v.as_deref()));
            values.insert(k.name().to_owned(), v);
            seg
        })
        .collect::<Vec<_>>()
        .join("/");
    (dir, values)
}

/// A file a run wrote, with what its `add` action needs.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    /// The table.
    pub table: Table,
    /// Where it is.
    pub path: PathBuf,
    /// Rows in it.
    pub rows: u64,
    /// Its number in the run's files of its partition (0: a rewrite of older rows).
    pub seq: u32,
    /// Its partition values.
    pub partition: PartitionValues,
}

/// Bytes of rows buffered across all partitions before the largest buffers are written.
const BUFFER_BUDGET: usize = 256 << 20;

/// One partition file to encode and write, by a thread of the writer pool.
struct FileJob {
    path: PathBuf,
    table: Table,
    seq: u32,
    partition: PartitionValues,
    batches: Vec<RecordBatch>,
}

/// Files a writer wrote.
type Written = Vec<WrittenFile>;

/// Encodes and compresses [`FileJob`]s on all cores (a file's name, and so its place in
/// the partition's order, is fixed before it is handed over), collecting what was written.
struct WriterPool<'scope> {
    jobs: crossbeam_channel::Sender<FileJob>,
    workers: Vec<std::thread::ScopedJoinHandle<'scope, Result<Written>>>,
}

impl<'scope> WriterPool<'scope> {
    fn start<'env>(
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
                        let mut w = TableWriter::create(&job.path, job.table, props.clone())?;
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
    fn finish(self) -> Result<Written> {
        let WriterPool { jobs, workers } = self;
        // No more jobs: the writers stop when the queue is empty.
        drop(jobs);
        let mut all = Vec::new();
        let mut first_error = None;
        for w in workers {
            match w.join() {
                Ok(Ok(written)) => all.extend(written),
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(_) => {
                    first_error
                        .get_or_insert(Error::Internal("a partition writer panicked".into()));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => {
                all.sort_by(|a, b| a.path.cmp(&b.path));
                Ok(all)
            }
        }
    }
}

/// Routes the rows of one table to per-partition files, buffering in bounded memory; full
/// buffers go to the writer pool.
struct Router<'a, 'p> {
    table: Table,
    root: &'a Path,
    run: u32,
    pool: &'a WriterPool<'p>,
    buffers: HashMap<u32, (Vec<RecordBatch>, usize)>,
    buffered: usize,
    seq: HashMap<u32, u32>,
}

impl<'a, 'p> Router<'a, 'p> {
    fn new(table: Table, root: &'a Path, run: u32, pool: &'a WriterPool<'p>) -> Self {
        Router {
            table,
            root,
            run,
            pool,
            buffers: HashMap::new(),
            buffered: 0,
            seq: HashMap::new(),
        }
    }

    /// Adds a batch whose row `i` goes to partition `pids[i]` (a folder of `parts`).
    fn push(&mut self, batch: &RecordBatch, pids: &[u32], parts: &[Part]) -> Result<()> {
        let mut groups: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for (i, p) in pids.iter().enumerate() {
            groups.entry(*p).or_default().push(i as u32);
        }
        for (pid, rows) in groups {
            let part = if rows.len() == batch.num_rows() {
                batch.clone()
            } else {
                take_record_batch(batch, &UInt32Array::from(rows))?
            };
            let size = part.get_array_memory_size();
            let slot = self.buffers.entry(pid).or_default();
            slot.0.push(part);
            slot.1 += size;
            self.buffered += size;
        }
        while self.buffered > BUFFER_BUDGET {
            let largest = *self
                .buffers
                .iter()
                .max_by_key(|(_, (_, size))| *size)
                .expect("buffered bytes imply a buffer")
                .0;
            self.flush(largest, parts)?;
        }
        Ok(())
    }

    fn flush(&mut self, pid: u32, parts: &[Part]) -> Result<()> {
        let Some((batches, size)) = self.buffers.remove(&pid) else {
            return Ok(());
        };
        self.buffered -= size;
        let seq = self.seq.entry(pid).or_insert(0);
        *seq += 1;
        let part = &parts[pid as usize];
        let dir = self.root.join(self.table.name()).join(&part.0);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        self.pool.send(FileJob {
            path: dir.join(part_name(self.run, *seq)),
            table: self.table,
            seq: *seq,
            partition: part.1.clone(),
            batches,
        })
    }

    fn finish(mut self, parts: &[Part]) -> Result<()> {
        let mut pids: Vec<u32> = self.buffers.keys().copied().collect();
        pids.sort_unstable();
        for p in pids {
            self.flush(p, parts)?;
        }
        Ok(())
    }
}

/// File name of the `seq`th file a run writes into a partition (0 is a rewrite of the
/// partition's older rows, which must sort before the run's new rows).
pub(super) fn part_name(run: u32, seq: u32) -> String {
    format!("part-r{run:05}-{seq:05}.parquet")
}

/// A partition's folder and values.
type Part = (String, PartitionValues);

/// Splits the flat table files of `flat` (a folder `convert` wrote) into partitions under
/// `root`, as files of run `run` (with no keys, one folder per table). Returns the files
/// written.
pub(super) fn split_flat(
    flat: &Path,
    root: &Path,
    keys: &[Key],
    run: u32,
    props: &WriterProperties,
) -> Result<Vec<WrittenFile>> {
    let mut written = std::thread::scope(|scope| {
        let pool = WriterPool::start(scope, props);
        let routed = route_chains(flat, root, keys, run, &pool);
        // A writer's own error says more than the routing's "a writer stopped".
        let files = pool.finish()?;
        routed?;
        Ok::<_, Error>(files)
    })?;
    let rejects = flat.join("rejects.parquet");
    if rejects.is_file() {
        let dir = root.join("rejects");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let to = dir.join(part_name(run, 1));
        std::fs::rename(&rejects, &to).map_err(|e| Error::io(&to, e))?;
        let rows = file_rows(&to)?;
        written.push(WrittenFile {
            table: Table::Rejects,
            path: to,
            rows,
            seq: 1,
            partition: PartitionValues::new(),
        });
    }
    Ok(written)
}

/// Reads the flat tables of each family and hands their rows, partition by partition, to
/// `pool`.
fn route_chains(
    flat: &Path,
    root: &Path,
    keys: &[Key],
    run: u32,
    pool: &WriterPool<'_>,
) -> Result<()> {
    for chain in [CONVERSATION_CHAIN, DOCUMENT_CHAIN] {
        // Partition ids of the rows of the level above, with how many children each owns.
        let mut parts: Vec<Part> = Vec::new();
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut above: Vec<(u32, u64)> = Vec::new();
        for (level, t) in chain.iter().enumerate() {
            let path = flat.join(t.file_name());
            if !path.is_file() {
                break;
            }
            let count_col = child_count_column(*t);
            let mut next: Vec<(u32, u64)> = Vec::new();
            let mut owners = above.iter().copied().filter(|(_, n)| *n > 0);
            let mut current: (u32, u64) = (0, 0);
            let mut router = Router::new(*t, root, run, pool);
            for batch in open_reader(&path, None)? {
                let batch = batch.map_err(|e| Error::read(&path, e))?;
                let mut pids = Vec::with_capacity(batch.num_rows());
                if level == 0 {
                    let (course_col, created_col) = match t {
                        Table::Documents => {
                            (col::documents::course_name, col::documents::created_at)
                        }
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
                        let pid = match index.get(&dir) {
                            Some(p) => *p,
                            None => {
                                let p = parts.len() as u32;
                                index.insert(dir.clone(), p);
                                parts.push((dir, values));
                                p
                            }
                        };
                        pids.push(pid);
                    }
                } else {
                    for _ in 0..batch.num_rows() {
                        while current.1 == 0 {
                            current = owners.next().ok_or_else(|| {
                                Error::read(
                                    &path,
                                    format!(
                                        "more {} rows than their parents' counts say",
                                        t.name()
                                    ),
                                )
                            })?;
                        }
                        current.1 -= 1;
                        pids.push(current.0);
                    }
                }
                if let Some(c) = count_col {
                    let counts = batch.column(c).as_primitive::<Int32Type>();
                    for (i, p) in pids.iter().enumerate() {
                        let n = if counts.is_valid(i) {
                            counts.value(i).max(0) as u64
                        } else {
                            0
                        };
                        next.push((*p, n));
                    }
                }
                router.push(&batch, &pids, &parts)?;
            }
            router.finish(&parts)?;
            above = next;
        }
    }
    Ok(())
}
