//! The one harness of the integration tests (`tests/it`) and the cluster tests: run the real
//! binary in scratch folders, read what it wrote with a second reader (plain DataFusion over
//! the Parquet files), run SQL through the binary, decode bytes in pieces.
#![allow(dead_code)]

pub mod moto;
pub mod procs;
pub mod stores;

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;
use std::sync::Arc;

use assert_cmd::Command;
use chatql::ingest::Decoder;
use chatql::table::Table;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

pub fn testdata(name: &str) -> String {
    format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub fn chatql() -> Command {
    Command::cargo_bin("chatql").unwrap()
}

/// The folder of this test process's scratch folders, `TMP/chatql-tests/PID`: removed when
/// the process exits, and on first use the folders of test processes no longer running
/// (a crashed or killed run) are removed, so that runs leave nothing behind.
fn scratch_root() -> &'static Path {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let all = std::env::temp_dir().join("chatql-tests");
        for e in std::fs::read_dir(&all).into_iter().flatten().flatten() {
            let pid = e.file_name().to_string_lossy().parse::<u32>().ok();
            if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let root = all.join(std::process::id().to_string());
        std::fs::create_dir_all(&root).unwrap();
        extern "C" fn remove_root() {
            if let Some(root) = ROOT.get() {
                let _ = std::fs::remove_dir_all(root);
            }
        }
        extern "C" {
            fn atexit(f: extern "C" fn()) -> std::ffi::c_int;
        }
        // SAFETY: registers a function without arguments to run at exit; it touches only
        // the folder's path, set before.
        unsafe { atexit(remove_root) };
        root
    })
}

/// Where the binary keeps copies of a store's files in tests (`CHATQL_STORE_CACHE_DIR`):
/// in this process's scratch, never the home folder.
pub fn store_copies() -> PathBuf {
    scratch_root().join("store-copies")
}

/// A fresh scratch folder, unique to this call (tests run in parallel), removed with the
/// process's [`scratch_root`].
pub fn scratch(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = scratch_root().join(format!("{n}-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs SQL over the Parquet files of a converted folder; rows as display strings.
pub fn query(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let ctx = SessionContext::new();
        for t in Table::ALL {
            // The table's folder as plain Parquet, as a reader that knows nothing of Delta
            // sees it (a one-shot convert removes no file).
            let folder = dir.join(t.name());
            let has_files = std::fs::read_dir(&folder).is_ok_and(|mut d| {
                d.any(|e| {
                    e.unwrap()
                        .file_name()
                        .to_string_lossy()
                        .ends_with(".parquet")
                })
            });
            if has_files {
                ctx.register_parquet(
                    t.name(),
                    &format!("{}/", folder.to_str().unwrap()),
                    ParquetReadOptions::default(),
                )
                .await
                .unwrap();
            }
        }
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut rows = Vec::new();
        for b in batches {
            for i in 0..b.num_rows() {
                rows.push(
                    b.columns()
                        .iter()
                        .map(|c| {
                            if c.is_null(i) {
                                "NULL".to_owned()
                            } else {
                                array_value_to_string(c, i).unwrap()
                            }
                        })
                        .collect(),
                );
            }
        }
        rows
    })
}

/// The single value of a one-row, one-column query.
pub fn scalar(dir: &Path, sql: &str) -> String {
    let rows = query(dir, sql);
    assert_eq!(rows.len(), 1, "{sql}");
    rows[0][0].clone()
}

/// `chatql history --json` of a lake, with the last run's reading (inputs, counts,
/// skipped files) also at the top level.
pub fn manifest(dir: &Path) -> serde_json::Value {
    let out = chatql()
        .args(["history", dir.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_ok(&out, "");
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let last = v["runs"].as_array().unwrap().last().unwrap().clone();
    for k in ["read", "skipped", "inputs", "duplicates", "created_at"] {
        v[k] = last[k].clone();
    }
    v
}

/// Runs `chatql sql QUERY INPUT --format csv` and returns its output (asserts success).
pub fn sql_csv(sql: &str, input: &Path) -> String {
    let out = chatql()
        .args(["sql", sql, input.to_str().unwrap(), "--format", "csv"])
        .output()
        .unwrap();
    assert_ok(&out, format_args!("{sql}"));
    String::from_utf8(out.stdout).unwrap()
}

/// Decodes `bytes` handing the decoder `read` bytes at a time and cutting a batch every
/// `cut` reads (0: only at the end); returns one concatenated batch per table.
pub fn decode_in_pieces(bytes: &[u8], read: usize, cut: usize) -> BTreeMap<Table, RecordBatch> {
    let mut d = Decoder::new(Arc::from("test.jsonl"), 1, 0);
    let mut pending: Vec<u8> = Vec::new();
    let mut parts: BTreeMap<Table, Vec<RecordBatch>> = BTreeMap::new();
    let mut take = |d: &mut Decoder| {
        for (t, b) in d.take_batches() {
            parts.entry(t).or_default().push(b);
        }
    };
    for (i, piece) in bytes.chunks(read.max(1)).enumerate() {
        pending.extend_from_slice(piece);
        let used = d.decode(&pending);
        pending.drain(..used);
        if cut > 0 && i % cut == 0 {
            take(&mut d);
        }
    }
    d.finish(&pending);
    take(&mut d);
    parts
        .into_iter()
        .map(|(t, bs)| (t, concat_batches(&t.schema(), &bs).unwrap()))
        .collect()
}

/// A file of `tests/data/` (fixtures of single features, kept out of `testdata/` so that
/// converting `testdata/` stays the clean first run).
pub fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary with `args`, asserts success, returns standard output.
pub fn stdout_of(args: &[&str]) -> String {
    let out = chatql().args(args).output().unwrap();
    assert_ok(&out, format_args!("{args:?}"));
    String::from_utf8(out.stdout).unwrap()
}

/// The CSV block of one section of `report NAME INPUT --format csv EXTRA...`.
pub fn report_section(input: &str, name: &str, title: &str, extra: &[&str]) -> String {
    let mut args = vec!["report", name, input, "--format", "csv"];
    args.extend_from_slice(extra);
    let text = stdout_of(&args);
    let marker = format!("# {name} / {title}\n");
    let start = text
        .find(&marker)
        .unwrap_or_else(|| panic!("no section {title}: {text}"))
        + marker.len();
    let end = text[start..]
        .find("\n\n")
        .map_or(text.len(), |e| start + e + 1);
    text[start..end].to_owned()
}

/// The lake of the whole shipped testdata, converted once per test binary and shared by
/// the tests that only read it (never write into it).
pub fn testdata_lake() -> PathBuf {
    static LAKE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    LAKE.get_or_init(|| {
        let dir = scratch("shared-lake");
        let lake = dir.join("lake");
        stdout_of(&["convert", &testdata(""), "-o", lake.to_str().unwrap(), "-q"]);
        lake
    })
    .clone()
}

/// Runs the binary with `args` and asserts it fails with `code`; returns standard error.
pub fn stderr_of_failure(args: &[&str], code: i32) -> String {
    let out = chatql().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    stderr
}

/// Asserts that a run of the binary succeeded; the panic shows `what` and its stderr.
pub fn assert_ok(out: &std::process::Output, what: impl std::fmt::Display) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Reads `r` until it has said `marker` (a process's `paused at POINT`); returns what it
/// said. Panics if it ends first.
pub fn read_until(r: &mut impl std::io::Read, marker: &str) -> Vec<u8> {
    let mut said = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&said).contains(marker) {
        match r.read(&mut byte) {
            Ok(1) => said.push(byte[0]),
            _ => panic!(
                "ended before {marker:?}: {}",
                String::from_utf8_lossy(&said)
            ),
        }
    }
    said
}
