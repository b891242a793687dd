//! The one Parquet writer and reader of chatql's lakes: table files are zstd-compressed,
//! flushed by row-group size so memory stays bounded on wide rows (embeddings), and read
//! back in batches with errors that name the file. Also the file-level rewrite that drops
//! the rows of lost versions from a family of tables.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::{
    ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use datafusion::parquet::arrow::{ArrowWriter, ProjectionMask};
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{
    EnabledStatistics, WriterProperties, WriterPropertiesBuilder,
};

use crate::error::{Error, Result};
use crate::table::dedup::walk_chain;
use crate::table::Table;

/// Bytes buffered before a row group is flushed.
pub(super) const ROW_GROUP_BYTES: usize = 8 << 20;
/// Most rows of a row group.
pub(super) const MAX_GROUP_ROWS: usize = 1 << 20;

/// Writer settings of lake files at a zstd `level` (1-22).
pub fn writer_props(level: i32) -> Result<WriterProperties> {
    let level = ZstdLevel::try_new(level).map_err(|e| Error::Usage(format!("zstd level: {e}")))?;
    Ok(props(Compression::ZSTD(level)))
}

/// Writer settings of files that are read back once and then replaced (the flat stage a
/// partitioned run splits): uncompressed, since compressing twice was most of the cost of a
/// partitioned conversion.
pub fn staging_props() -> WriterProperties {
    props(Compression::UNCOMPRESSED)
}

/// Most rows of a data page.
const PAGE_ROWS: usize = 8192;
/// Most bytes of a data page (checked every [`PAGE_CHECK_ROWS`] rows).
const PAGE_BYTES: usize = 256 << 10;
/// Rows written between checks of a page's size.
const PAGE_CHECK_ROWS: usize = 256;

/// Columns of long, mostly distinct text, written without a dictionary. A dictionary page
/// fills up (1 MB) within the first few thousand rows and the writer falls back to plain
/// pages, so it saves next to nothing, but every read of the column's first pages must
/// decode the whole of it first: 1-2 ms for each of a thread's text columns.
const LONG_TEXT: &[&str] = &[
    "text",
    "content",
    "name",
    "prompt",
    "final_prompt",
    "system_message",
];

/// Columns of prose (a context's or chunk's text, a message, the prompts), of leftover
/// JSON and of a document's addresses, written without min/max statistics. Nothing prunes
/// on their bounds: a Delta add leaves out string bounds past 64 characters anyway, `LIKE
/// '%…%'` cannot use them, and the documents cited in a row group span the whole range of
/// names and paths, so `s3_path = '…'` finds none to skip. But computing them compared every
/// value with the page's minimum and maximum, on the writer thread, the conversion's
/// critical path: 6% of its CPU time for the prose, then 12% in `memcmp` for the addresses,
/// long strings that share their first tens of bytes.
const NO_STATISTICS: &[&str] = &[
    "text",
    "content",
    "prompt",
    "final_prompt",
    "system_message",
    "extra",
    "url",
    "s3_path",
    "readable_filename",
    "base_url",
    "chunk_ref",
];

/// Every lake file's settings but the compression. `convo_id` gets a Bloom filter per row
/// group (about 0.5 KB each): a conversation's rows are looked up by it (`chatql serve`'s
/// threads, `WHERE convo_id = ...`), and where min/max statistics cannot skip row groups
/// (real exports' ids are random UUIDs) the filter can. Generated benchmark ids happen to
/// ascend, so there statistics already prune and the filter shows no gain.
fn props(compression: Compression) -> WriterProperties {
    use datafusion::parquet::schema::types::ColumnPath;
    let convo = ColumnPath::from("convo_id");
    let b = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(MAX_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_data_page_size_limit(PAGE_BYTES)
        .set_write_batch_size(PAGE_CHECK_ROWS)
        .set_column_bloom_filter_enabled(convo.clone(), true)
        .set_column_bloom_filter_fpp(convo, 0.01);
    by_name(b).build()
}

/// The settings each column gets by its name, in a lake's files and in query results
/// written as Parquet (`select * from contexts -o contexts.parquet` writes the same prose
/// columns): no dictionary for [`LONG_TEXT`], no statistics for [`NO_STATISTICS`].
fn by_name(mut b: WriterPropertiesBuilder) -> WriterPropertiesBuilder {
    use datafusion::parquet::schema::types::ColumnPath;
    for c in LONG_TEXT {
        b = b.set_column_dictionary_enabled(ColumnPath::from(*c), false);
    }
    for c in NO_STATISTICS {
        b = b.set_column_statistics_enabled(ColumnPath::from(*c), EnabledStatistics::None);
    }
    b
}

/// `props` for a file of at most `rows` rows. A Bloom filter is allocated for the most
/// distinct values it may meet (by default a full row group's, 2 MiB at 1%) and folded down
/// to its fill when the row group ends; a partitioned run writes thousands of small files,
/// and zeroing and folding those filters was a tenth of its time.
fn sized_for(props: WriterProperties, rows: u64) -> WriterProperties {
    use datafusion::parquet::schema::types::ColumnPath;
    if rows >= 1 << 20 {
        return props;
    }
    props
        .into_builder()
        .set_column_bloom_filter_max_ndv(ColumnPath::from("convo_id"), rows.max(1))
        .build()
}

/// Bytes of Arrow data under which a column of a file is written uncompressed.
const SMALL_COLUMN: usize = 8 << 10;

/// `props` for a file of exactly `batches`: its columns of less than [`SMALL_COLUMN`] bytes
/// are left uncompressed. A codec is made for every compressed column chunk, and parquet's
/// zstd codec creates a compression and a decompression context each time: in a
/// partitioned run's hundreds of small files (a partition's conversations are a few dozen
/// rows) that was 8% of the CPU time, to save a few bytes per column.
pub fn for_batches(props: WriterProperties, batches: &[RecordBatch]) -> WriterProperties {
    use datafusion::parquet::schema::types::ColumnPath;
    let Some(first) = batches.first() else {
        return props;
    };
    let mut b = props.into_builder();
    for (i, field) in first.schema().fields().iter().enumerate() {
        let bytes: usize = batches
            .iter()
            .map(|batch| batch.column(i).get_array_memory_size())
            .sum();
        if bytes < SMALL_COLUMN && !field.data_type().is_nested() {
            b = b.set_column_compression(
                ColumnPath::from(field.name().as_str()),
                Compression::UNCOMPRESSED,
            );
        }
    }
    b.build()
}

/// Writes one table to a Parquet file, flushing row groups by size so that memory stays
/// bounded for wide rows (embeddings).
pub struct TableWriter {
    writer: ArrowWriter<File>,
    rows: u64,
}

impl TableWriter {
    /// Creates `path` for rows of `table`; `rows`, when the caller knows it, is the most the
    /// file will hold.
    pub fn create(
        path: &Path,
        table: Table,
        props: WriterProperties,
        rows: Option<u64>,
    ) -> Result<TableWriter> {
        let props = match rows {
            Some(n) => sized_for(props, n),
            None => props,
        };
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let writer = ArrowWriter::try_new(file, table.schema(), Some(props))
            .map_err(|e| Error::write(path, e))?;
        Ok(TableWriter { writer, rows: 0 })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch, path: &Path) -> Result<()> {
        self.writer
            .write(batch)
            .map_err(|e| Error::write(path, e))?;
        if self.writer.in_progress_size() > ROW_GROUP_BYTES {
            self.writer.flush().map_err(|e| Error::write(path, e))?;
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Finishes the file; returns the rows written.
    pub fn close(self, path: &Path) -> Result<u64> {
        self.writer.close().map_err(|e| Error::write(path, e))?;
        Ok(self.rows)
    }
}

/// Reads a Parquet file of a lake in batches, optionally only some columns; errors name the
/// file.
pub fn open_reader(path: &Path, columns: Option<&[&str]>) -> Result<ParquetRecordBatchReader> {
    open_reader_by(path, columns, 8192)
}

/// [`open_reader`] with `rows` rows per batch (fewer for wide rows: a batch of 8,192 chunks
/// with ada-002 embeddings is 50 MB).
pub fn open_reader_by(
    path: &Path,
    columns: Option<&[&str]>,
    rows: usize,
) -> Result<ParquetRecordBatchReader> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::read(path, e))?;
    if let Some(cols) = columns {
        let schema = builder.schema().clone();
        let idx: Vec<usize> = cols
            .iter()
            .filter_map(|c| schema.index_of(c).ok())
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), idx);
        builder = builder.with_projection(mask);
    }
    builder
        .with_batch_size(rows)
        .build()
        .map_err(|e| Error::read(path, e))
}

/// Rows of a Parquet file, from its footer.
pub fn file_rows(path: &Path) -> Result<u64> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::read(path, e))?;
    Ok(b.metadata().file_metadata().num_rows().max(0) as u64)
}

/// Writer settings of query results written as Parquet: zstd at the peers' level (3), and
/// the lake's settings for the columns a result shares with it by name ([`by_name`]).
pub fn result_props() -> Result<WriterProperties> {
    let level = ZstdLevel::try_new(3).map_err(|e| Error::Internal(e.to_string()))?;
    let props = WriterProperties::builder().set_compression(Compression::ZSTD(level));
    Ok(by_name(props).build())
}

/// Rewrites the flat files of a parent table and its descendants (`chain`, parent first) in
/// `dir` without the rows of the `losers` parent ordinals. Returns the rows kept per table.
pub fn drop_versions(
    dir: &Path,
    chain: &[Table],
    losers: &HashSet<u64>,
    props: &WriterProperties,
) -> Result<Vec<(Table, u64)>> {
    let mut kept = Vec::new();
    walk_chain(chain, losers, |_, table, filter| -> Result<bool> {
        let path = dir.join(table.file_name());
        if !path.exists() {
            kept.push((table, 0));
            return Ok(true);
        }
        let tmp = dir.join(format!("{}.dedup", table.file_name()));
        let reader = open_reader(&path, None)?;
        let mut writer = TableWriter::create(&tmp, table, props.clone(), None)?;
        for batch in reader {
            let filtered = filter.filter(&batch.map_err(|e| Error::read(&path, e))?)?;
            if filtered.num_rows() > 0 {
                writer.write(&filtered, &tmp)?;
            }
        }
        let n = writer.close(&tmp)?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        kept.push((table, n));
        Ok(true)
    })?;
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    use std::sync::Arc;

    /// In a file written with `for_batches`, a column of a few rows is stored uncompressed
    /// and a column of many kilobytes with zstd, and both read back whole.
    #[test]
    fn small_columns_of_a_file_are_left_uncompressed() {
        let n = 500;
        let batch = RecordBatch::try_new(
            Table::Rejects.schema(),
            vec![
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|_| "exports/course-a/conversations.jsonl"),
                )) as ArrayRef,
                Arc::new(Int64Array::from_iter_values(0..n)),
                Arc::new(Int64Array::from_iter_values(0..n)),
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("a reason long enough to fill kilobytes, {i}")),
                )),
                Arc::new(StringArray::from_iter_values((0..n).map(|_| "{}"))),
            ],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.parquet");
        let props = for_batches(writer_props(3).unwrap(), std::slice::from_ref(&batch));
        let mut w = TableWriter::create(&path, Table::Rejects, props, Some(n as u64)).unwrap();
        w.write(&batch, &path).unwrap();
        assert_eq!(w.close(&path).unwrap(), n as u64);
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let group = reader.metadata().row_group(0);
        let codecs: Vec<String> = (0..5)
            // The file keeps the codec, not its level.
            .map(|i| format!("{:?}", group.column(i).compression()))
            .collect();
        // source_file: 500 × 36 bytes and offsets, over 8 KiB; source_line and byte_offset:
        // 4,000 bytes each; reason: over 8 KiB; snippet: 3,000 bytes.
        assert_eq!(
            codecs,
            [
                "ZSTD(ZstdLevel(1))",
                "UNCOMPRESSED",
                "UNCOMPRESSED",
                "ZSTD(ZstdLevel(1))",
                "UNCOMPRESSED"
            ]
        );
        let back: Vec<RecordBatch> = open_reader(&path, None)
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        assert_eq!(back, vec![batch]);
    }
}
