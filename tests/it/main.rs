//! The integration tests, one crate (DataFusion is linked once): a module per area, each
//! running the real binary or the library on the shipped testdata. The cluster tests are
//! `tests/cluster.rs`, built with the `cluster` feature.

#[path = "../common/mod.rs"]
mod common;
#[path = "../../benches/synthetic/mod.rs"]
#[allow(dead_code)]
mod synthetic;

/// A generated conversations export of about `bytes` bytes written twice into `dir`
/// (`NAME.jsonl` and `NAME-again.jsonl`): every conversation of the second copy is a
/// duplicate to drop.
fn export_twice(
    dir: &std::path::Path,
    name: &str,
    bytes: u64,
    seed: u64,
) -> [std::path::PathBuf; 2] {
    let first = dir.join(format!("{name}.jsonl"));
    let mut f = std::fs::File::create(&first).unwrap();
    synthetic::write_conversations(&mut f, bytes, seed, synthetic::ConvoLayout::Mixed).unwrap();
    drop(f);
    let again = dir.join(format!("{name}-again.jsonl"));
    std::fs::copy(&first, &again).unwrap();
    [first, again]
}

mod cli;
mod convert;
mod datasets;
mod decoder;
mod delta;
mod export;
mod hardening;
mod hostile;
mod ingest;
mod insight;
mod inspect;
mod migrate;
mod partition;
mod properties;
mod report;
mod serve;
mod shell;
mod sql;
mod tls;
mod tokens;
mod topics;
