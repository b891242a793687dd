//! The parallel ingest pipeline: the same rows whatever the chunk size and thread count,
//! including lines far longer than a chunk.

use crate::common::*;
use chatql::ingest::{ingest, IngestOptions, Inputs};
use chatql::table::Table;
use datafusion::arrow::compute::concat_batches;

fn run(chunk_bytes: usize, threads: usize) -> Vec<(Table, datafusion::arrow::array::RecordBatch)> {
    let inputs = Inputs::expand(&[testdata("")]).unwrap();
    let mut parts: Vec<(Table, Vec<datafusion::arrow::array::RecordBatch>)> =
        Table::ALL.iter().map(|t| (*t, Vec::new())).collect();
    let opts = IngestOptions {
        threads,
        chunk_bytes,
        ..Default::default()
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

/// The benchmark generator's output is valid input: no rejects, and the same seed gives
/// the same bytes.
#[test]
fn generated_lines_decode_without_rejects() {
    let mut conv = Vec::new();
    crate::synthetic::write_conversations(
        &mut conv,
        3_000_000,
        7,
        crate::synthetic::ConvoLayout::Mixed,
    )
    .unwrap();
    let mut docs = Vec::new();
    crate::synthetic::write_documents(&mut docs, 300_000, 7, 1536).unwrap();
    let mut again = Vec::new();
    crate::synthetic::write_documents(&mut again, 300_000, 7, 1536).unwrap();
    assert_eq!(docs, again, "same seed, same bytes");
    for (bytes, conversations) in [(conv, true), (docs, false)] {
        let mut d = chatql::ingest::Decoder::new("gen".into(), 1, 0);
        d.finish(&bytes);
        let s = d.stats();
        assert_eq!(s.rejects, 0);
        if conversations {
            assert!(s.conversations > 10 && s.documents == 0, "{s:?}");
        } else {
            assert!(s.documents >= 1 && s.conversations == 0, "{s:?}");
        }
    }
}
