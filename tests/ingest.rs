//! The parallel ingest pipeline: the same rows whatever the chunk size and thread count,
//! including lines far longer than a chunk.

mod common;

use chatql::ingest::{ingest, IngestOptions, Inputs};
use chatql::schema::Table;
use common::*;
use datafusion::arrow::compute::concat_batches;

fn run(chunk_bytes: usize, threads: usize) -> Vec<(Table, datafusion::arrow::array::RecordBatch)> {
    let inputs = Inputs::expand(&[testdata("")]).unwrap();
    let mut parts: Vec<(Table, Vec<datafusion::arrow::array::RecordBatch>)> =
        Table::ALL.iter().map(|t| (*t, Vec::new())).collect();
    let opts = IngestOptions {
        threads,
        chunk_bytes,
    };
    let summary = ingest(&inputs, &opts, |d| {
        for (t, b) in d.batches {
            parts.iter_mut().find(|(k, _)| *k == t).unwrap().1.push(b);
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(summary.stats.conversations, 23);
    assert_eq!(summary.stats.documents, 4);
    assert_eq!(summary.stats.rejects, 6);
    parts
        .into_iter()
        .map(|(t, bs)| (t, concat_batches(&t.schema(), &bs).unwrap()))
        .collect()
}

#[test]
fn chunk_size_and_threads_do_not_change_the_rows() {
    let reference = run(8 << 20, 2);
    // 1 KiB chunks: every document line (about 30 KiB) is longer than a chunk.
    for (chunk, threads) in [(1024, 1), (1024, 3), (4096, 2), (100_000, 4)] {
        assert_eq!(
            run(chunk, threads),
            reference,
            "chunk {chunk}, threads {threads}"
        );
    }
}
