//! chatql: an embedded analytics engine over the bulk exports of UIUC.chat / Illinois Chat.
//!
//! Exports (conversation history and documents with embeddings, in every shape they took
//! from 2023 to 2026) are decoded into six normalized Arrow tables ([`table::Table`]),
//! which can be written as a Parquet lake ([`lake::convert`]) or queried with SQL.
//!
//! The modules follow the data: [`model`] (what the export formats look like) →
//! [`table`] (the tables, defined once) → [`ingest`] (files in, rows out) → [`lake`]
//! (Parquet folders, written atomically) → [`query`] (the DataFusion session) →
//! [`report`], [`export`] and [`topics`] (what users take away) → [`render`] (batches to text, a leaf
//! every stage may use). Dependencies point one way, down this list; [`error`] is shared.
//!
//! Three export lines of different eras, queried with SQL and rendered as CSV:
//!
//! ```
//! # fn main() -> chatql::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let file = dir.path().join("export.jsonl");
//! std::fs::write(&file, concat!(
//!     r#"{"id":1,"created_at":"2023-08-14T16:35:40.5-07:00","convo":{"id":"a","messages":[{"role":"user","content":"hi","contexts":[]},{"role":"assistant","content":"hello","contexts":[{"text":"t","course_name ":"ECE120"}]}]},"convo_id":"a","course_name":"ECE120","user_email":null}"#, "\n",
//!     r#"{"id": "b", "messages": [{"role": "user", "content": [{"type": "text", "text": "q"}], "contexts": []}], "projectName": "ECE110"}"#, "\n",
//!     r#"{"id":7,"created_at":1762463977000,"s3_path":"x.pdf","readable_filename":"x.pdf","course_name":"ECE110","url":"","contexts":[{"text":"","embedding":"","timestamp":"","pagenumber":""}],"base_url":""}"#, "\n",
//! )).unwrap();
//! let rt = tokio::runtime::Runtime::new().unwrap();
//! let out = rt.block_on(async {
//!     let inputs = [file.to_string_lossy().into_owned()];
//!     let mut cat = chatql::query::Catalog::open(&inputs, &Default::default()).await?;
//!     let sql = "select course_name, count(*) as n from conversations group by 1 order by 1";
//!     let (schema, batches) = cat.run_sql(sql).await?.remove(0);
//!     let opts = chatql::render::RenderOptions { format: chatql::render::Format::Csv, ..Default::default() };
//!     let mut out = Vec::new();
//!     chatql::render::write_batches(&schema, &batches, &opts, &mut out).unwrap();
//!     Ok::<_, chatql::Error>(String::from_utf8(out).unwrap())
//! })?;
//! assert_eq!(out, "course_name,n\nECE110,1\nECE120,1\n");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod error;
pub mod export;
pub mod ingest;
pub mod lake;
pub mod model;
pub mod query;
pub mod render;
pub mod report;
pub mod serve;
pub mod store;
pub mod table;
pub mod topics;

pub use error::{Error, Result};
