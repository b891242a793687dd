//! The PostgreSQL side of `export --to pgvector`, on a thread of its own: it owns the
//! connection, creates the tables, and loads each batch of COPY data the export sends it,
//! while the export reads and encodes the next batch (the server's work and the client's
//! overlap, as a streamed COPY's would).
//!
//! Each batch is a binary `COPY` into a temporary stage, then one `INSERT ... ON CONFLICT
//! (id) DO UPDATE ... WHERE IS DISTINCT FROM` into the target, in its own transaction. So a
//! rerun rewrites nothing, a run killed midway keeps the batches it committed, and the next
//! run ends with the same rows. A target that was empty when the run started (the usual
//! first load) takes a batch by a `COPY` straight into it instead, as a plain bulk load
//! would: no stage, no second write per row; the export says when a batch may go so (no id
//! repeats one written before), and a unique violation (another run wrote first) rolls the
//! batch back and sends it, and the rest, through the stage. The stage has the target's
//! columns, so the same bytes serve both ways.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use super::pg::{first_row, ident, is_unique_violation, Conn};
use super::{PgLayout, Put};
use crate::error::{Error, Result};

/// The advisory lock key under which a run creates the extension and the tables.
const DDL_LOCK: i64 = 0x6368_6174_716c; // "chatql"

/// What the export asks of the loader.
pub enum Job {
    /// A statement whose rows are sent back (the collections' uuids).
    Query(String, SyncSender<Result<Vec<Vec<Option<String>>>>>),
    /// A batch of `points` rows as COPY data; `direct` when it may go straight in.
    Batch {
        /// The rows, in the target's columns.
        data: Vec<u8>,
        /// How many.
        points: u64,
        /// Whether none of their ids was sent before (see the file's note).
        direct: bool,
    },
}

/// The loader thread: jobs in, each batch's outcome out, the connection back at the end.
pub struct Loader {
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Put>,
    thread: Option<JoinHandle<Result<Conn>>>,
}

/// The connection and the target, on the loader's thread.
struct Target {
    conn: Conn,
    layout: PgLayout,
    table: String,
    /// Cleared at the first unique violation of a direct batch.
    direct: bool,
}

/// Creates the extension and the tables on `conn`; whether the target is empty.
pub fn prepare(conn: &mut Conn, layout: PgLayout, table: &str) -> Result<bool> {
    conn.query("SET client_min_messages = warning")?;
    let ddl = match layout {
        PgLayout::Langchain => LANGCHAIN_DDL.to_owned(),
        PgLayout::Table => table_ddl(&ident(table)),
    };
    // One string is one transaction: under the lock, runs at once do not race to create
    // the extension and the tables (`IF NOT EXISTS` alone does not make that safe).
    conn.query(&format!(
        "SELECT pg_advisory_xact_lock({DDL_LOCK}); CREATE EXTENSION IF NOT EXISTS vector; {ddl}"
    ))?;
    let empty = conn.query(&format!(
        "SELECT NOT EXISTS (SELECT 1 FROM {})",
        ident(table)
    ))?;
    Ok(first_row(&empty, 0) == Some("t"))
}

impl Loader {
    /// Starts the loader of `table` on a prepared connection.
    pub fn start(conn: Conn, layout: PgLayout, table: String) -> Loader {
        let (jobs, inbox) = sync_channel::<Job>(1);
        let (outcome, done) = sync_channel::<Put>(1024);
        let mut target = Target {
            conn,
            layout,
            table,
            direct: true,
        };
        let thread = std::thread::spawn(move || {
            for job in inbox {
                match job {
                    Job::Query(sql, reply) => {
                        let _ = reply.send(target.conn.query(&sql));
                    }
                    Job::Batch {
                        data,
                        points,
                        direct,
                    } => {
                        let put = target.load(&data, points, direct)?;
                        crate::lake::commit::pause_point("pgvector-batch");
                        let _ = outcome.send(put);
                    }
                }
            }
            Ok(target.conn)
        });
        Loader {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
        }
    }

    /// Sends a job; the loader's error when it has stopped.
    pub fn send(&mut self, job: Job) -> Result<()> {
        let sent = self.jobs.as_ref().map(|j| j.send(job));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(self.stop().err().unwrap_or_else(|| {
                Error::Internal("the pgvector loader stopped without an error".into())
            })),
        }
    }

    /// Runs a statement on the loader's connection; its rows.
    pub fn query(&mut self, sql: String) -> Result<Vec<Vec<Option<String>>>> {
        let (reply, answer) = sync_channel(1);
        self.send(Job::Query(sql, reply))?;
        match answer.recv() {
            Ok(rows) => rows,
            Err(_) => Err(self.stop().err().unwrap_or_else(|| {
                Error::Internal("the pgvector loader stopped without an answer".into())
            })),
        }
    }

    /// The outcomes of the batches loaded since the last call.
    pub fn loaded(&self) -> Put {
        let mut put = Put::default();
        while let Ok(p) = self.done.try_recv() {
            put += p;
        }
        put
    }

    /// Waits for every batch; their outcomes and the connection.
    pub fn finish(mut self) -> Result<(Put, Conn)> {
        let conn = self.stop()?;
        Ok((self.loaded(), conn))
    }

    fn stop(&mut self) -> Result<Conn> {
        self.jobs = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(Error::Internal("the pgvector loader panicked".into())),
            None => Err(Error::Internal(
                "the pgvector loader was stopped before".into(),
            )),
        }
    }
}

impl Target {
    fn load(&mut self, data: &[u8], points: u64, direct: bool) -> Result<Put> {
        if direct && self.direct {
            match self.copy_direct(data) {
                Ok(n) => {
                    return Ok(Put {
                        inserted: n,
                        ..Put::default()
                    })
                }
                Err(e) if is_unique_violation(&e) => self.direct = false,
                Err(e) => return Err(e),
            }
        }
        self.copy_staged(data, points)
    }

    /// One COPY into the target, its own transaction.
    fn copy_direct(&mut self, data: &[u8]) -> Result<u64> {
        let sql = format!(
            "COPY {}{} FROM STDIN (FORMAT binary)",
            ident(&self.table),
            self.columns()
        );
        self.conn.copy_in(&sql, data)
    }

    /// COPY into the stage, then the upsert, in one transaction.
    fn copy_staged(&mut self, data: &[u8], points: u64) -> Result<Put> {
        self.conn.query("BEGIN")?;
        let columns = self.columns();
        let rows = self
            .conn
            .copy_in(
                &format!("COPY chatql_stage{columns} FROM STDIN (FORMAT binary)"),
                data,
            )
            .and_then(|_| self.conn.query(&self.upsert_sql()));
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                let _ = self.conn.query("ROLLBACK");
                return Err(e);
            }
        };
        let n = |i| {
            first_row(&rows, i)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0u64)
        };
        let (inserted, updated) = (n(0), n(1));
        Ok(Put {
            inserted,
            updated,
            unchanged: points - inserted - updated,
        })
    }

    /// The COPY column list of the layout.
    fn columns(&self) -> &'static str {
        match self.layout {
            PgLayout::Langchain => " (id, collection_id, embedding, document, cmetadata)",
            PgLayout::Table => "",
        }
    }

    /// Moves the stage into the target, rewriting only rows that differ; returns
    /// (inserted, updated).
    fn upsert_sql(&self) -> String {
        let t = ident(&self.table);
        let body = match self.layout {
            PgLayout::Langchain => format!(
                "INSERT INTO {t} AS t (id, collection_id, embedding, document, cmetadata) \
                 SELECT id, collection_id, embedding, document, cmetadata FROM chatql_stage \
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
  id varchar, collection_id uuid, embedding vector, document varchar, cmetadata jsonb)";

/// The plain table's columns, in COPY order.
pub const TABLE_COLUMNS: [(&str, &str); 16] = [
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
