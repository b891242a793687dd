//! PostgreSQL with pgvector: each batch is a binary `COPY` into a temporary stage, then one
//! `INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE IS DISTINCT FROM` into the target, in
//! its own transaction. So a rerun rewrites nothing, a run killed midway keeps the batches it
//! committed, and the next run ends with the same rows. The HNSW indexes (cosine, one partial
//! expression index per dimension, since an index needs a fixed size) are built after the
//! load, as pgvector's documentation advises.
//!
//! A target table that is empty when the run starts (the usual first load) takes each batch
//! by a `COPY` straight into it, as a plain bulk load would: no stage, no second write per
//! row. The run keeps the ids it wrote, and goes back to the stage when an id repeats or
//! another writer put a row first (a unique violation: the batch is rolled back and redone
//! through the stage), so the outcome is the upsert's in every case.
//!
//! Layouts: LangChain's (`langchain_pg_collection`, `langchain_pg_embedding` with `document`
//! and `cmetadata`, as `langchain-postgres` creates them; one collection per course), or one
//! plain table with a column per field.

use super::pg::{ident, Conn, PgUrl};
use super::{Group, PgLayout, Point, Put, Store, VectorOptions};
use crate::error::{Error, Result};
use crate::query::catalog::sql_str;

/// The advisory lock key under which a run creates the extension and the tables.
const DDL_LOCK: i64 = 0x6368_6174_716c; // "chatql"
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
    conn: Conn,
    index: bool,
    layout: PgLayout,
    table: String,
    /// LangChain's collection uuid of each group name met.
    collections: std::collections::HashMap<String, String>,
    /// While the target was empty at the start and only this run wrote to it: the ids
    /// written (batches are copied straight into the table).
    direct: Option<std::collections::HashSet<String>>,
}

impl PgStore {
    /// Connects, creates the extension, the tables and the session's stage.
    pub fn open(o: &VectorOptions) -> Result<PgStore> {
        let mut conn = Conn::connect(&PgUrl::parse(&o.url)?)?;
        conn.query("SET client_min_messages = warning")?;
        let table = match o.settings.layout {
            PgLayout::Langchain => "langchain_pg_embedding".to_owned(),
            PgLayout::Table => o
                .settings
                .collection
                .clone()
                .unwrap_or_else(|| DEFAULT_TABLE.into()),
        };
        let ddl = match o.settings.layout {
            PgLayout::Langchain => LANGCHAIN_DDL.to_owned(),
            PgLayout::Table => table_ddl(&ident(&table)),
        };
        // One string is one transaction: under the lock, runs at once do not race to create
        // the extension and the tables (`IF NOT EXISTS` alone does not make that safe).
        conn.query(&format!(
            "SELECT pg_advisory_xact_lock({DDL_LOCK}); CREATE EXTENSION IF NOT EXISTS vector; {ddl}"
        ))?;
        let empty = conn.query(&format!(
            "SELECT NOT EXISTS (SELECT 1 FROM {})",
            ident(&table)
        ))?;
        let empty = empty.first().and_then(|r| r.first()).cloned().flatten();
        Ok(PgStore {
            conn,
            index: o.settings.index,
            layout: o.settings.layout,
            table,
            collections: Default::default(),
            direct: (empty.as_deref() == Some("t")).then(Default::default),
        })
    }

    /// LangChain's collection row of a group (its uuid is a UUIDv5 of the name, unless
    /// LangChain made the collection first: rows join on the name).
    fn ensure_collection(&mut self, g: &Group) -> Result<()> {
        if self.collections.contains_key(&g.name) {
            return Ok(());
        }
        let id = super::chunk_id("collection", &g.name, 0);
        let meta =
            serde_json::json!({"source": "chatql", "dimensions": g.dims, "course_name": g.course});
        let rows = self.conn.query(&format!(
            "INSERT INTO langchain_pg_collection (uuid, name, cmetadata) VALUES ({}, {}, {}) \
             ON CONFLICT (name) DO NOTHING; \
             SELECT uuid FROM langchain_pg_collection WHERE name = {}",
            sql_str(&id),
            sql_str(&g.name),
            sql_str(&meta.to_string()),
            sql_str(&g.name),
        ))?;
        let uuid = rows.first().and_then(|r| r.first()).cloned().flatten();
        self.collections.insert(g.name.clone(), uuid.unwrap_or(id));
        Ok(())
    }

    /// The batch as COPY data: for the stage, or (`direct`) for the target itself, whose
    /// LangChain rows name their collection by uuid.
    fn copy(&self, g: &Group, points: &[Point], direct: bool) -> Vec<u8> {
        let mut b = CopyBuf::new();
        for p in points {
            match self.layout {
                PgLayout::Langchain => {
                    b.row(5);
                    b.text(&p.id);
                    match self.collections.get(&g.name).filter(|_| direct) {
                        Some(uuid) => b.uuid(uuid),
                        None => b.text(&g.name),
                    }
                    b.vector(&p.embedding);
                    b.text(&p.text);
                    b.jsonb(&serde_json::Value::Object(p.metadata()));
                }
                PgLayout::Table => {
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
            }
        }
        b.finish()
    }
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
        if let Some(put) = self.put_direct(g, points)? {
            return Ok(put);
        }
        let data = self.copy(g, points, false);
        self.conn.query("BEGIN")?;
        let copied = self
            .conn
            .copy_in("COPY chatql_stage FROM STDIN (FORMAT binary)", &data);
        let rows = copied.and_then(|_| self.conn.query(&self.upsert_sql()));
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                let _ = self.conn.query("ROLLBACK");
                return Err(e);
            }
        };
        let n = |i: usize| -> u64 {
            rows.first()
                .and_then(|r| r.get(i))
                .and_then(|v| v.as_deref())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let (inserted, updated) = (n(0), n(1));
        crate::lake::commit::pause_point("pgvector-batch");
        Ok(Put {
            inserted,
            updated,
            unchanged: points.len() as u64 - inserted - updated,
        })
    }

    fn finish(mut self: Box<Self>, groups: &[Group]) -> Result<Vec<String>> {
        let mut dims: Vec<usize> = groups.iter().map(|g| g.dims).collect();
        dims.sort_unstable();
        dims.dedup();
        let mut notes = Vec::new();
        if !self.index {
            self.conn.close();
            return Ok(vec!["no HNSW index built (--no-index)".into()]);
        }
        self.conn.query("SET maintenance_work_mem = '512MB'")?;
        for d in dims {
            // HNSW indexes take vectors of at most 2,000 dimensions.
            if d > 2000 {
                notes.push(format!(
                    "no HNSW index for {d}-dimension vectors (pgvector's limit is 2,000)"
                ));
                continue;
            }
            let name = format!("{}_hnsw_{d}", self.table);
            self.conn.query(&format!(
                "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw ((embedding::vector({d})) vector_cosine_ops) \
                 WHERE vector_dims(embedding) = {d}",
                ident(&name),
                ident(&self.table)
            ))?;
            notes.push(format!(
                "HNSW index {name} (cosine): ORDER BY embedding::vector({d}) <=> $1 with WHERE vector_dims(embedding) = {d}"
            ));
        }
        self.conn.close();
        Ok(notes)
    }
}

impl PgStore {
    /// Copies the batch straight into the target while the run may (see the file's note);
    /// `None` when the batch is to go through the stage.
    fn put_direct(&mut self, g: &Group, points: &[Point]) -> Result<Option<Put>> {
        let Some(seen) = &self.direct else {
            return Ok(None);
        };
        let mut ids = std::collections::HashSet::with_capacity(points.len());
        if points
            .iter()
            .any(|p| seen.contains(&p.id) || !ids.insert(p.id.as_str()))
        {
            self.direct = None;
            return Ok(None);
        }
        let data = self.copy(g, points, true);
        let columns = match self.layout {
            PgLayout::Langchain => " (id, collection_id, embedding, document, cmetadata)",
            PgLayout::Table => "",
        };
        let sql = format!(
            "COPY {}{columns} FROM STDIN (FORMAT binary)",
            ident(&self.table)
        );
        self.conn.query("BEGIN")?;
        match self
            .conn
            .copy_in(&sql, &data)
            .and_then(|n| self.conn.query("COMMIT").map(|_| n))
        {
            Ok(n) => {
                let seen = self.direct.as_mut().expect("checked above");
                seen.extend(points.iter().map(|p| p.id.clone()));
                crate::lake::commit::pause_point("pgvector-batch");
                Ok(Some(Put {
                    inserted: n,
                    ..Put::default()
                }))
            }
            Err(e) => {
                let _ = self.conn.query("ROLLBACK");
                if !e.to_string().contains("(SQLSTATE 23505)") {
                    return Err(e);
                }
                // Another writer was there first: this batch and the rest upsert.
                self.direct = None;
                Ok(None)
            }
        }
    }

    /// Moves the stage into the target, rewriting only rows that differ; returns
    /// (inserted, updated).
    fn upsert_sql(&self) -> String {
        let t = ident(&self.table);
        let body = match self.layout {
            PgLayout::Langchain => format!(
                "INSERT INTO {t} AS t (id, collection_id, embedding, document, cmetadata) \
                 SELECT s.id, c.uuid, s.embedding, s.document, s.cmetadata FROM chatql_stage s \
                 JOIN langchain_pg_collection c ON c.name = s.collection \
                 ON CONFLICT (id) DO UPDATE SET collection_id = excluded.collection_id, \
                 embedding = excluded.embedding, document = excluded.document, cmetadata = excluded.cmetadata \
                 WHERE (t.collection_id, t.embedding, t.document, t.cmetadata) IS DISTINCT FROM \
                 (excluded.collection_id, excluded.embedding, excluded.document, excluded.cmetadata)"
            ),
            PgLayout::Table => {
                let set = TABLE_COLUMNS
                    .iter()
                    .skip(1)
                    .map(|(c, _)| format!("{c} = excluded.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "INSERT INTO {t} AS t SELECT * FROM chatql_stage \
                     ON CONFLICT (id) DO UPDATE SET {set} WHERE t IS DISTINCT FROM excluded"
                )
            }
        };
        format!(
            "WITH up AS ({body} RETURNING (xmax = 0) AS inserted) \
             SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up; \
             TRUNCATE chatql_stage; COMMIT"
        )
    }
}

/// LangChain's tables as `langchain-postgres` creates them, and the stage.
const LANGCHAIN_DDL: &str = "\
CREATE TABLE IF NOT EXISTS langchain_pg_collection (
  uuid uuid PRIMARY KEY, name varchar NOT NULL UNIQUE, cmetadata json);
CREATE TABLE IF NOT EXISTS langchain_pg_embedding (
  id varchar PRIMARY KEY,
  collection_id uuid REFERENCES langchain_pg_collection (uuid) ON DELETE CASCADE,
  embedding vector, document varchar, cmetadata jsonb);
CREATE INDEX IF NOT EXISTS ix_cmetadata_gin ON langchain_pg_embedding USING gin (cmetadata jsonb_path_ops);
CREATE TEMP TABLE IF NOT EXISTS chatql_stage (
  id varchar, collection varchar, embedding vector, document varchar, cmetadata jsonb)";

/// The plain table's columns, in COPY order.
const TABLE_COLUMNS: [(&str, &str); 16] = [
    ("id", "uuid PRIMARY KEY"),
    ("course_name", "text"),
    ("s3_path", "text"),
    ("url", "text"),
    ("readable_filename", "text"),
    ("base_url", "text"),
    ("pagenumber", "bigint"),
    ("\"timestamp\"", "bigint"),
    ("chunk_index", "bigint"),
    ("doc_groups", "text[]"),
    ("text", "text"),
    ("text_sha256", "text"),
    ("embedding_model", "text"),
    ("dimensions", "integer"),
    ("created_at", "timestamptz"),
    ("embedding", "vector"),
];

fn table_ddl(t: &str) -> String {
    let cols = TABLE_COLUMNS
        .iter()
        .map(|(c, ty)| format!("{c} {ty}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "CREATE TABLE IF NOT EXISTS {t} ({cols}); \
         CREATE TEMP TABLE IF NOT EXISTS chatql_stage (LIKE {t})"
    )
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
