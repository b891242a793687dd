//! PostgreSQL with pgvector: the points of each batch encoded as binary COPY data
//! (PostgreSQL's `FORMAT binary`, pgvector's binary `vector`) and handed to the loader
//! ([`super::pg_load`]: the stage and upsert, or the direct COPY of a first load, on a
//! thread of its own). The HNSW indexes (cosine, one partial expression index per dimension,
//! since an index needs a fixed size) are built after the load, as pgvector's documentation
//! advises.
//!
//! Layouts: LangChain's (`langchain_pg_collection`, `langchain_pg_embedding` with `document`
//! and `cmetadata`, as `langchain-postgres` creates them; one collection per course), or one
//! plain table with a column per field.

use std::collections::{HashMap, HashSet};

use super::pg::{first_row, ident, Conn, PgUrl};
use super::pg_load::{prepare, Job, Loader};
use super::{Group, PgLayout, Point, Put, Store, VectorOptions};
use crate::error::{Error, Result};
use crate::query::catalog::sql_str;

/// The default table of `--layout table`.
const DEFAULT_TABLE: &str = "chatql_chunks";
/// Seconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// A binary COPY stream being built (PostgreSQL's `FORMAT binary`).
#[derive(Default)]
struct CopyBuf(Vec<u8>);

impl CopyBuf {
    fn new() -> CopyBuf {
        let mut b = CopyBuf(Vec::with_capacity(1 << 20));
        b.0.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        b.0.extend_from_slice(&0i32.to_be_bytes()); // flags
        b.0.extend_from_slice(&0i32.to_be_bytes()); // header extension
        b
    }
    fn row(&mut self, fields: i16) {
        self.0.extend_from_slice(&fields.to_be_bytes());
    }
    fn field(&mut self, bytes: &[u8]) {
        self.0
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.0.extend_from_slice(bytes);
    }
    fn null(&mut self) {
        self.0.extend_from_slice(&(-1i32).to_be_bytes());
    }
    fn text(&mut self, s: &str) {
        self.field(s.as_bytes());
    }
    fn i64(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.field(&v.to_be_bytes()),
            None => self.null(),
        }
    }
    fn jsonb(&mut self, v: &serde_json::Value) {
        let text = v.to_string();
        self.0
            .extend_from_slice(&(text.len() as i32 + 1).to_be_bytes());
        self.0.push(1); // jsonb's binary format version
        self.0.extend_from_slice(text.as_bytes());
    }
    fn uuid(&mut self, id: &str) {
        match uuid::Uuid::try_parse(id) {
            Ok(u) => self.field(u.as_bytes()),
            Err(_) => self.null(),
        }
    }
    /// pgvector's binary `vector`: dimension (u16), zero (u16), then big-endian f32s.
    fn vector(&mut self, v: &[f32]) {
        self.0
            .extend_from_slice(&((4 + 4 * v.len()) as i32).to_be_bytes());
        self.0.extend_from_slice(&(v.len() as u16).to_be_bytes());
        self.0.extend_from_slice(&0u16.to_be_bytes());
        for x in v {
            self.0.extend_from_slice(&x.to_be_bytes());
        }
    }
    /// A one-dimensional `text[]`.
    fn text_array(&mut self, items: &[String]) {
        const TEXT_OID: i32 = 25;
        let mut body = Vec::new();
        body.extend_from_slice(&i32::from(!items.is_empty()).to_be_bytes()); // dimensions
        body.extend_from_slice(&0i32.to_be_bytes()); // no nulls
        body.extend_from_slice(&TEXT_OID.to_be_bytes());
        if !items.is_empty() {
            body.extend_from_slice(&(items.len() as i32).to_be_bytes());
            body.extend_from_slice(&1i32.to_be_bytes()); // lower bound
            for s in items {
                body.extend_from_slice(&(s.len() as i32).to_be_bytes());
                body.extend_from_slice(s.as_bytes());
            }
        }
        self.field(&body);
    }
    fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&(-1i16).to_be_bytes());
        self.0
    }
}

/// The loader.
pub struct PgStore {
    loader: Option<Loader>,
    /// The connection again, once every batch is loaded.
    conn: Option<Conn>,
    index: bool,
    layout: PgLayout,
    table: String,
    /// LangChain's collection uuid of each group name met.
    collections: HashMap<String, String>,
    /// While the target was empty at the start: the ids sent, so that a batch goes straight
    /// into the table only when none of its ids was sent before. `None` once one was.
    direct: Option<HashSet<String>>,
}

impl PgStore {
    /// Connects, creates the extension, the tables and the session's stage.
    pub fn open(o: &VectorOptions) -> Result<PgStore> {
        let mut conn = Conn::connect(&PgUrl::parse(&o.url)?)?;
        let table = match o.settings.layout {
            PgLayout::Langchain => "langchain_pg_embedding".to_owned(),
            PgLayout::Table => o
                .settings
                .collection
                .clone()
                .unwrap_or_else(|| DEFAULT_TABLE.into()),
        };
        let empty = prepare(&mut conn, o.settings.layout, &table)?;
        Ok(PgStore {
            loader: Some(Loader::start(conn, o.settings.layout, table.clone())),
            conn: None,
            index: o.settings.index,
            layout: o.settings.layout,
            table,
            collections: HashMap::new(),
            direct: empty.then(HashSet::new),
        })
    }

    fn loader(&mut self) -> Result<&mut Loader> {
        self.loader
            .as_mut()
            .ok_or_else(|| Error::Internal("pgvector: a batch after the last".into()))
    }

    /// LangChain's collection row of a group (its uuid is a UUIDv5 of the name, unless
    /// LangChain made the collection first: rows name it by its uuid).
    fn ensure_collection(&mut self, g: &Group) -> Result<()> {
        if self.collections.contains_key(&g.name) {
            return Ok(());
        }
        let id = super::chunk_id("collection", &g.name, 0);
        let meta =
            serde_json::json!({"source": "chatql", "dimensions": g.dims, "course_name": g.course});
        let rows = self.loader()?.query(format!(
            "INSERT INTO langchain_pg_collection (uuid, name, cmetadata) VALUES ({}, {}, {}) \
             ON CONFLICT DO NOTHING; \
             SELECT uuid FROM langchain_pg_collection WHERE name = {}",
            sql_str(&id),
            sql_str(&g.name),
            sql_str(&meta.to_string()),
            sql_str(&g.name),
        ))?;
        let uuid = first_row(&rows, 0).map_or(id, str::to_owned);
        self.collections.insert(g.name.clone(), uuid);
        Ok(())
    }

    /// Whether the batch may go straight into the table; notes its ids.
    fn may_go_direct(&mut self, points: &[Point]) -> bool {
        let Some(sent) = &mut self.direct else {
            return false;
        };
        let before = sent.len();
        sent.extend(points.iter().map(|p| p.id.clone()));
        if sent.len() == before + points.len() {
            return true;
        }
        self.direct = None;
        false
    }

    /// The batch as COPY data in the target's columns.
    fn copy(&self, g: &Group, points: &[Point]) -> Vec<u8> {
        let mut b = CopyBuf::new();
        for p in points {
            match self.layout {
                PgLayout::Langchain => {
                    b.row(5);
                    b.text(&p.id);
                    match self.collections.get(&g.name) {
                        Some(uuid) => b.uuid(uuid),
                        None => b.null(),
                    }
                    b.vector(&p.embedding);
                    b.text(&p.text);
                    b.jsonb(&serde_json::Value::Object(p.metadata()));
                }
                PgLayout::Table => table_row(&mut b, p),
            }
        }
        b.finish()
    }
}

/// A row of the plain table, in its columns' order.
fn table_row(b: &mut CopyBuf, p: &Point) {
    b.row(16);
    b.uuid(&p.id);
    for s in [
        &p.course_name,
        &p.s3_path,
        &p.url,
        &p.readable_filename,
        &p.base_url,
    ] {
        b.text(s);
    }
    b.i64(p.pagenumber);
    b.i64(p.timestamp);
    b.i64(Some(p.chunk_index));
    b.text_array(&p.doc_groups);
    b.text(&p.text);
    b.text(&p.text_sha256);
    match p.embedding_model {
        Some(m) => b.text(m),
        None => b.null(),
    }
    b.field(&(p.dims() as i32).to_be_bytes());
    b.i64(p.created_at.map(|t| t - PG_EPOCH_US));
    b.vector(&p.embedding);
}

impl Store for PgStore {
    fn put(&mut self, g: &Group, points: &[Point]) -> Result<Put> {
        if g.dims > u16::MAX as usize {
            return Err(Error::Usage(format!(
                "a {}-dimension vector is too long for pgvector",
                g.dims
            )));
        }
        if self.layout == PgLayout::Langchain {
            self.ensure_collection(g)?;
        }
        let direct = self.may_go_direct(points);
        let data = self.copy(g, points);
        let loader = self.loader()?;
        loader.send(Job::Batch {
            data,
            points: points.len() as u64,
            direct,
        })?;
        Ok(loader.loaded())
    }

    fn flush(&mut self) -> Result<Put> {
        match self.loader.take() {
            Some(l) => {
                let (put, conn) = l.finish()?;
                self.conn = Some(conn);
                Ok(put)
            }
            None => Ok(Put::default()),
        }
    }

    fn finish(mut self: Box<Self>, groups: &[Group]) -> Result<Vec<String>> {
        self.flush()?;
        let mut conn = self
            .conn
            .take()
            .ok_or_else(|| Error::Internal("pgvector: no connection to finish".into()))?;
        let mut dims: Vec<usize> = groups.iter().map(|g| g.dims).collect();
        dims.sort_unstable();
        dims.dedup();
        let mut notes = Vec::new();
        if !self.index {
            conn.close();
            return Ok(vec!["no HNSW index built (--no-index)".into()]);
        }
        conn.query("SET maintenance_work_mem = '512MB'")?;
        for d in dims {
            // HNSW indexes take vectors of at most 2,000 dimensions.
            if d > 2000 {
                notes.push(format!(
                    "no HNSW index for {d}-dimension vectors (pgvector's limit is 2,000)"
                ));
                continue;
            }
            let name = format!("{}_hnsw_{d}", self.table);
            conn.query(&format!(
                "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw ((embedding::vector({d})) vector_cosine_ops) \
                 WHERE vector_dims(embedding) = {d}",
                ident(&name),
                ident(&self.table)
            ))?;
            notes.push(format!(
                "HNSW index {name} (cosine): ORDER BY embedding::vector({d}) <=> $1 with WHERE vector_dims(embedding) = {d}"
            ));
        }
        conn.close();
        Ok(notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_pgvector_binary() {
        let mut b = CopyBuf::default();
        b.vector(&[1.0, -2.5]);
        assert_eq!(
            b.0,
            [0, 0, 0, 12, 0, 2, 0, 0, 0x3f, 0x80, 0, 0, 0xc0, 0x20, 0, 0]
        );
    }

    #[test]
    fn text_arrays_are_postgres_binary() {
        let mut b = CopyBuf::default();
        b.text_array(&["a".into()]);
        let want: Vec<u8> = [
            &25i32.to_be_bytes()[..],
            &1i32.to_be_bytes(),
            &0i32.to_be_bytes(),
            &25i32.to_be_bytes(),
            &1i32.to_be_bytes(),
            &1i32.to_be_bytes(),
            &1i32.to_be_bytes(),
            b"a",
        ]
        .concat();
        assert_eq!(b.0, want);
    }
}
