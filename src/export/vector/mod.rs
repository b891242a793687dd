//! Documents and their embeddings into a vector store, nothing re-embedded: PostgreSQL with
//! pgvector, Chroma and Qdrant over their network APIs, and Pinecone's bulk-import and
//! LanceDB's Parquet layouts as files.
//!
//! The walk is the same for every destination: documents in lake order, each chunk with an
//! embedding becomes a [`Point`] with a stable id, points are grouped by (course,
//! dimension), and a group is handed to the destination's [`Store`] in batches. Chunks
//! without an embedding are counted and skipped. Every destination upserts by id, so a
//! second run, or a run after one killed midway, ends with the same rows.

pub mod chroma;
pub mod files;
pub mod http;
pub mod pg;
pub mod pg_load;
pub mod pgvector;
pub mod point;
pub mod qdrant;
pub mod tls;

use std::collections::HashMap;

use crate::error::Result;
use crate::export::cursor::for_each_document;
use crate::lake::LakeSnapshot;
use crate::table::col::documents as dc;
use crate::table::redact::Redactor;

pub use point::{chunk_id, Point};

/// The dimension of OpenAI's ada-002, whose collections keep their plain name.
const PLAIN_DIMS: usize = 1536;

/// Which vector store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// PostgreSQL with pgvector.
    Pgvector,
    /// A Chroma server.
    Chroma,
    /// A Qdrant server.
    Qdrant,
    /// Pinecone's bulk-import Parquet layout.
    Pinecone,
    /// Parquet tables with fixed-size vectors for LanceDB.
    LanceDb,
}

/// pgvector's table layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PgLayout {
    /// LangChain's `langchain_pg_collection` and `langchain_pg_embedding`.
    #[default]
    Langchain,
    /// One plain table with a column per field.
    Table,
}

/// The settings of the vector-store targets (`export`'s options carry them as they are).
#[derive(Debug, Clone)]
pub struct VectorSettings {
    /// One collection (table, index) for all courses instead of one per course.
    pub collection: Option<String>,
    /// pgvector's layout.
    pub layout: PgLayout,
    /// Points per request or COPY.
    pub batch: usize,
    /// pgvector: build the HNSW indexes after the load (`--no-index` leaves it to you).
    pub index: bool,
    /// Chroma's tenant.
    pub tenant: String,
    /// Chroma's database.
    pub database: String,
    /// Counts chunks walked of the chunks to walk (a caller may draw it).
    pub progress: crate::ingest::Progress,
}

impl Default for VectorSettings {
    fn default() -> Self {
        VectorSettings {
            collection: None,
            layout: PgLayout::default(),
            batch: 1000,
            index: true,
            tenant: "default_tenant".into(),
            database: "default_database".into(),
            progress: Default::default(),
        }
    }
}

/// Options of a vector export.
#[derive(Debug, Clone)]
pub struct VectorOptions {
    /// Which store.
    pub destination: Destination,
    /// Its URL, or the output folder of the file layouts.
    pub url: String,
    /// Collection, layout, batch size, Chroma's tenant and database, progress.
    pub settings: VectorSettings,
    /// Only these courses.
    pub courses: Vec<String>,
    /// Documents created at or after (µs, UTC).
    pub since: Option<i64>,
    /// Documents created before (µs, UTC).
    pub until: Option<i64>,
    /// Key for email pseudonyms in chunk texts.
    pub redact_key: Option<String>,
    /// Replace an existing output folder (file layouts).
    pub force: bool,
}

/// A collection's worth of points: one course (or all, with `--collection`) at one dimension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Group {
    /// The collection, table or index name.
    pub name: String,
    /// The course, when the collection holds one.
    pub course: Option<String>,
    /// The vector dimension.
    pub dims: usize,
}

impl Group {
    /// `base` for ada-002's 1536 dimensions, `base_DIMS` for any other size (a collection
    /// holds vectors of one size).
    pub fn new(base: &str, course: Option<String>, dims: usize) -> Group {
        let name = if dims == PLAIN_DIMS {
            base.to_owned()
        } else {
            format!("{base}_{dims}")
        };
        Group { name, course, dims }
    }
}

/// What a store did with a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Put {
    /// Points new to the store.
    pub inserted: u64,
    /// Points that replaced a different version of themselves.
    pub updated: u64,
    /// Points already there as they are (a rerun).
    pub unchanged: u64,
}

impl Put {
    /// A batch of `total` points of which `found` were in the store, `same` of those as
    /// they are.
    pub fn of(total: usize, found: u64, same: u64) -> Put {
        Put {
            inserted: total as u64 - found,
            updated: found - same,
            unchanged: same,
        }
    }
}

impl std::ops::AddAssign for Put {
    fn add_assign(&mut self, o: Put) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
    }
}

/// A destination: takes batches of one group's points, then finishes (indexes, commits).
pub trait Store {
    /// Loads one batch (all of `group`).
    fn put(&mut self, group: &Group, points: &[Point]) -> Result<Put>;
    /// Waits for batches still being loaded (a store may load while the next is read);
    /// their outcomes.
    fn flush(&mut self) -> Result<Put> {
        Ok(Put::default())
    }
    /// Finishes after the last batch; returns lines for the summary.
    fn finish(self: Box<Self>, groups: &[Group]) -> Result<Vec<String>>;
}

/// What a vector export did.
#[derive(Debug, Clone, Default)]
pub struct VectorReport {
    /// Points by outcome.
    pub put: Put,
    /// Chunks without an embedding, skipped.
    pub no_embedding: u64,
    /// Documents left out by the filters.
    pub filtered: u64,
    /// The collections written, with their point counts.
    pub groups: Vec<(Group, u64)>,
    /// What the store adds (indexes built, files written).
    pub notes: Vec<String>,
}

/// The default collection base name of a destination (when not one per course).
fn base_name(o: &VectorOptions, course: &str) -> (String, Option<String>) {
    match (&o.settings.collection, o.destination) {
        (Some(c), _) => (c.clone(), None),
        // The platform keeps every course in one Qdrant collection and filters on course_name.
        (None, Destination::Qdrant) => ("uiuc-chat".into(), None),
        // One Pinecone index per dimension, a namespace per course.
        (None, Destination::Pinecone) => ("chunks".into(), Some(course.to_owned())),
        (None, Destination::LanceDb) => ("chunks".into(), None),
        (None, _) => (course.to_owned(), Some(course.to_owned())),
    }
}

/// Opens the destination.
fn open(o: &VectorOptions) -> Result<Box<dyn Store>> {
    Ok(match o.destination {
        Destination::Pgvector => Box::new(pgvector::PgStore::open(o)?),
        Destination::Chroma => Box::new(chroma::ChromaStore::open(o)?),
        Destination::Qdrant => Box::new(qdrant::QdrantStore::open(o)?),
        Destination::Pinecone => Box::new(files::FileStore::open(o, files::Layout::Pinecone)?),
        Destination::LanceDb => Box::new(files::FileStore::open(o, files::Layout::LanceDb)?),
    })
}

/// Loads the documents of `lakes` into the destination.
pub fn load(lakes: &[LakeSnapshot], o: &VectorOptions) -> Result<VectorReport> {
    let redactor = o.redact_key.as_deref().map(Redactor::new);
    let mut store = open(o)?;
    let mut report = VectorReport::default();
    let mut pending: HashMap<Group, Vec<Point>> = HashMap::new();
    let mut counts: HashMap<Group, u64> = HashMap::new();
    let batch = o.settings.batch.max(1);
    for lake in lakes {
        for f in lake.files(crate::table::Table::Chunks)? {
            o.settings
                .progress
                .expect(crate::lake::parquet::file_rows(&f)?);
        }
    }
    for lake in lakes {
        for_each_document(lake, |d| {
            o.settings.progress.read(d.chunks.len() as u64);
            let r = &d.row;
            let course = r.str(dc::course_name).unwrap_or("");
            let created = r.ts(dc::created_at);
            let keep = (o.courses.is_empty() || o.courses.iter().any(|c| c == course))
                && o.since.is_none_or(|s| created.is_some_and(|t| t >= s))
                && o.until.is_none_or(|u| created.is_some_and(|t| t < u));
            if !keep {
                report.filtered += 1;
                return Ok(());
            }
            for p in point::points(&d, redactor.as_ref(), &mut report.no_embedding) {
                let (base, course) = base_name(o, &p.course_name);
                let g = Group::new(&base, course, p.dims());
                *counts.entry(g.clone()).or_default() += 1;
                let buf = pending.entry(g.clone()).or_default();
                buf.push(p);
                if buf.len() >= batch {
                    let full = std::mem::take(buf);
                    report.put += store.put(&g, &full)?;
                }
            }
            Ok(())
        })?;
    }
    let mut rest: Vec<_> = pending.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    for (g, points) in rest {
        report.put += store.put(&g, &points)?;
    }
    let mut groups: Vec<_> = counts.into_iter().collect();
    groups.sort();
    let names: Vec<Group> = groups.iter().map(|(g, _)| g.clone()).collect();
    report.put += store.flush()?;
    report.notes = store.finish(&names)?;
    report.groups = groups;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_name_other_dimensions_apart() {
        assert_eq!(Group::new("ECE120", None, 1536).name, "ECE120");
        assert_eq!(Group::new("ECE120", None, 768).name, "ECE120_768");
    }
}
