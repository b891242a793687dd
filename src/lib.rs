//! chatql: an embedded analytics engine over the bulk exports of UIUC.chat / Illinois Chat.
//!
//! Exports (conversation history and documents with embeddings, in every shape they took
//! from 2023 to 2026) are decoded into six normalized Arrow tables ([`schema::Table`]),
//! which can be written as a Parquet lake ([`convert`]) or queried with SQL.
#![warn(missing_docs)]

pub mod catalog;
pub mod columns;
pub mod convert;
pub mod dedup;
pub mod error;
pub mod export;
pub mod functions;
pub mod html;
pub mod ingest;
pub mod inspect;
pub mod model;
pub mod query;
pub mod render;
pub mod report;
pub mod schema;
pub mod shell;
pub mod synthetic;

pub use error::{Error, Result};
