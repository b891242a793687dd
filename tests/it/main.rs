//! The integration tests, one crate (DataFusion is linked once): a module per area, each
//! running the real binary or the library on the shipped testdata. The cluster tests are
//! `tests/cluster.rs`, built with the `cluster` feature.

#[path = "../common/mod.rs"]
mod common;
#[path = "../../benches/synthetic/mod.rs"]
#[allow(dead_code)]
mod synthetic;

mod cli;
mod convert;
mod datasets;
mod decoder;
mod delta;
mod export;
mod hostile;
mod ingest;
mod insight;
mod inspect;
mod partition;
mod properties;
mod report;
mod shell;
mod sql;
mod tokens;
mod topics;
