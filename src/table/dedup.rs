//! Keeping one version of each conversation and document when exports overlap.
//!
//! Users re-export a project every few weeks and pass all the files at once. A conversation
//! (by `convo_id`) or document (by `doc_id`, `course_name`, `s3_path`, `url`) seen more than
//! once is kept once: the version with the most messages (chunks), then the latest
//! (`updated_at`, else `created_at`), then the one read last. Row ids are never used: they
//! are not unique across deployments.
//!
//! Versions are numbered by their position in the parent table (the "ordinal"). Child rows
//! carry no version key; they follow their parent because a parent's `message_count`,
//! `context_count` or `chunk_count` says how many child rows it owns, in order.

use std::collections::{HashMap, HashSet};

use datafusion::arrow::array::{Array, AsArray, BooleanArray, PrimitiveArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, Int32Type, Int64Type, TimestampMicrosecondType,
};
use datafusion::arrow::error::ArrowError;

use super::schema::{col, Table};

/// The ranking of one version: more children first, then the latest time, then the last read.
type Rank = (i32, i64, u64);

/// Tracks the best version of each key of one family (conversations or documents).
#[derive(Default, Debug)]
pub struct Dedup {
    best: HashMap<String, (Rank, u64)>,
    losers: HashSet<u64>,
    next: u64,
}

fn opt<T: ArrowPrimitiveType>(a: &PrimitiveArray<T>, i: usize) -> Option<T::Native> {
    a.is_valid(i).then(|| a.value(i))
}

fn opt_str(batch: &RecordBatch, col: usize, i: usize) -> Option<&str> {
    let a = batch.column(col).as_string::<i32>();
    a.is_valid(i).then(|| a.value(i))
}

impl Dedup {
    fn offer(&mut self, key: String, children: i32, time: i64) {
        let ordinal = self.next;
        self.next += 1;
        let rank = (children, time, ordinal);
        match self.best.get_mut(&key) {
            None => {
                self.best.insert(key, (rank, ordinal));
            }
            Some(cur) if rank > cur.0 => {
                self.losers.insert(cur.1);
                *cur = (rank, ordinal);
            }
            Some(_) => {
                self.losers.insert(ordinal);
            }
        }
    }

    /// Takes note of the next batch of the parent table `table` (conversations or documents;
    /// other tables are ignored). Only the [`key_columns`] of the batch are read; the batch
    /// has the table's schema.
    pub fn offer_batch(&mut self, table: Table, batch: &RecordBatch) {
        match table {
            Table::Conversations => {
                use col::conversations as c;
                let created = batch
                    .column(c::created_at)
                    .as_primitive::<TimestampMicrosecondType>();
                let updated = batch
                    .column(c::updated_at)
                    .as_primitive::<TimestampMicrosecondType>();
                let count = batch.column(c::message_count).as_primitive::<Int32Type>();
                for i in 0..batch.num_rows() {
                    let time = opt(updated, i).or(opt(created, i)).unwrap_or(i64::MIN);
                    let n = opt(count, i).unwrap_or(-1);
                    match opt_str(batch, c::convo_id, i) {
                        Some(key) => self.offer(key.to_owned(), n, time),
                        None => self.next += 1, // no id: nothing to compare it with
                    }
                }
            }
            Table::Documents => {
                use col::documents as d;
                let id = batch.column(d::doc_id).as_primitive::<Int64Type>();
                let created = batch
                    .column(d::created_at)
                    .as_primitive::<TimestampMicrosecondType>();
                let count = batch.column(d::chunk_count).as_primitive::<Int32Type>();
                for i in 0..batch.num_rows() {
                    // \u{1} separates the parts; \u{0} marks a null apart from "".
                    let part = |c| opt_str(batch, c, i).unwrap_or("\u{0}");
                    let key = format!(
                        "{}\u{1}{}\u{1}{}\u{1}{}",
                        opt(id, i).map_or("\u{0}".into(), |v| v.to_string()),
                        part(d::course_name),
                        part(d::s3_path),
                        part(d::url)
                    );
                    let time = opt(created, i).unwrap_or(i64::MIN);
                    let n = opt(count, i).unwrap_or(-1);
                    self.offer(key, n, time);
                }
            }
            _ => {}
        }
    }

    /// Ordinals of the versions that lost.
    pub fn losers(&self) -> &HashSet<u64> {
        &self.losers
    }
}

/// The parent and child tables of each family, parent first.
pub const CONVERSATION_CHAIN: &[Table] = &[Table::Conversations, Table::Messages, Table::Contexts];
/// See [`CONVERSATION_CHAIN`].
pub const DOCUMENT_CHAIN: &[Table] = &[Table::Documents, Table::Chunks];

/// The columns of a parent table that [`Dedup::offer_batch`] reads: the key and the rank.
pub fn key_columns(parent: Table) -> &'static [usize] {
    use col::{conversations as c, documents as d};
    match parent {
        Table::Conversations => &[c::convo_id, c::created_at, c::updated_at, c::message_count],
        Table::Documents => &[
            d::doc_id,
            d::created_at,
            d::course_name,
            d::s3_path,
            d::url,
            d::chunk_count,
        ],
        _ => &[],
    }
}

/// The column of a table that says how many rows of the next table each row owns.
pub fn child_count_column(table: Table) -> Option<usize> {
    match table {
        Table::Conversations => Some(col::conversations::message_count),
        Table::Messages => Some(col::messages::context_count),
        Table::Documents => Some(col::documents::chunk_count),
        _ => None,
    }
}

/// Walks a family's chain of tables (parent first: conversations, messages, contexts; or
/// documents, chunks) dropping the rows of the `losers` parent ordinals and of their
/// children: `visit` is called once per table, in order, with its level's filter, which it
/// applies to that table's batches in order. It returns whether to go on down the chain
/// (false: the tables below are not there). Every rewrite of a family (a flat stage, a
/// lake's partitions, routed files, raw tables) is this one walk.
pub fn walk_chain<E>(
    chain: &[Table],
    losers: &HashSet<u64>,
    mut visit: impl FnMut(usize, Table, &mut LevelFilter<'_>) -> Result<bool, E>,
) -> Result<(), E> {
    let Some(&top) = chain.first() else {
        return Ok(());
    };
    let mut filter = LevelFilter::top(top, losers);
    for (level, t) in chain.iter().enumerate() {
        if level > 0 {
            filter = LevelFilter::child(*t, filter);
        }
        if !visit(level, *t, &mut filter)? {
            break;
        }
    }
    Ok(())
}

/// Filters the batches of one table of a chain, in order, dropping the rows of lost
/// versions; collects how many rows of the next table each row owns.
pub struct LevelFilter<'a> {
    /// At the top of a chain: the losing ordinals. Below: None, and `runs` decide.
    losers: Option<&'a HashSet<u64>>,
    runs: std::vec::IntoIter<(bool, u64)>,
    current: (bool, u64),
    ordinal: u64,
    count_col: Option<usize>,
    next_runs: Vec<(bool, u64)>,
}

impl<'a> LevelFilter<'a> {
    /// The filter of a chain's parent table.
    pub fn top(table: Table, losers: &'a HashSet<u64>) -> LevelFilter<'a> {
        Self::new(table, Some(losers), Vec::new())
    }

    /// The filter of the table below the one `parent` filtered.
    pub fn child(table: Table, parent: LevelFilter<'_>) -> LevelFilter<'a> {
        Self::new(table, None, parent.next_runs)
    }

    fn new(table: Table, losers: Option<&'a HashSet<u64>>, runs: Vec<(bool, u64)>) -> Self {
        LevelFilter {
            losers,
            runs: runs.into_iter(),
            current: (true, 0),
            ordinal: 0,
            count_col: child_count_column(table),
            next_runs: Vec::new(),
        }
    }

    /// For batches that hold only `columns` of the table, in this order (they must include
    /// its child count column, [`child_count_column`]).
    pub fn over(&mut self, columns: &[usize]) {
        self.count_col = self
            .count_col
            .and_then(|c| columns.iter().position(|&k| k == c));
    }

    /// The next batch of the table, without the rows of lost versions.
    pub fn filter(&mut self, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let counts = self
            .count_col
            .map(|c| batch.column(c).as_primitive::<Int32Type>());
        let mask = self.mask(batch.num_rows(), counts);
        filter_record_batch(batch, &BooleanArray::from(mask))
    }

    /// Passes the next rows of the table when only their child counts were kept (`counts`,
    /// the table's count column): the rows of the table below are then filtered as if these
    /// had been.
    pub fn pass(&mut self, counts: &PrimitiveArray<Int32Type>) {
        self.mask(counts.len(), Some(counts));
    }

    /// Which of the next `rows` rows of the table to keep, when they were not kept as rows
    /// (an earlier filter dropped some); for the deepest table read, as it records no
    /// child counts.
    pub fn keep_next(&mut self, rows: usize) -> Vec<bool> {
        self.mask(rows, None)
    }

    /// Which of the next `rows` rows to keep; records how many children each owns.
    fn mask(&mut self, rows: usize, counts: Option<&PrimitiveArray<Int32Type>>) -> Vec<bool> {
        let mut mask = Vec::with_capacity(rows);
        for _ in 0..rows {
            let keep = match self.losers {
                Some(l) => !l.contains(&self.ordinal),
                None => {
                    while self.current.1 == 0 {
                        // Past the parents' rows (should not happen): keep.
                        self.current = self.runs.next().unwrap_or((true, u64::MAX));
                    }
                    self.current.1 -= 1;
                    self.current.0
                }
            };
            mask.push(keep);
            self.ordinal += 1;
        }
        if let Some(counts) = counts {
            for (i, keep) in mask.iter().enumerate() {
                let n = if counts.is_valid(i) {
                    counts.value(i).max(0) as u64
                } else {
                    0
                };
                self.next_runs.push((*keep, n));
            }
        }
        mask
    }
}
