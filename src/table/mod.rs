//! The tables: their one definition ([`schema`], the `tables!` list that gives the Arrow
//! schema, the column docs, the builders and typed column indices), the column buffers the
//! decoder fills ([`columns`]), and the two row-level operations every later stage shares:
//! keeping one version of each conversation and document ([`dedup`]) and pseudonymizing
//! emails ([`redact`]). Nothing here reads or writes files.

pub mod columns;
pub mod dedup;
pub mod redact;
pub mod schema;

pub use schema::{col, ColumnDoc, Table, TableBuilders, SCHEMA_VERSION};
