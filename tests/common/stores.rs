//! The object-store tests every store runs (`tests/s3.rs` against moto, `tests/azure.rs`
//! against Azurite): a lake in the store answers like the same lake on disk, appends at once
//! keep every conversation once (the stores' conditional puts), raw exports are read from
//! the store in place, a cluster reads the lake itself, a missing bucket is a clear error.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{scratch, testdata};

/// The tests every store runs, as `#[test]` functions in the store's test file: `$start` is
/// an expression giving `Option<impl Server>` (`None` skips, as when the server is not
/// installed here).
#[macro_export]
macro_rules! store_tests {
    ($start:expr) => {
        #[test]
        fn a_lake_answers_like_the_same_lake_on_disk() {
            let Some(m) = $start else { return };
            $crate::common::stores::a_lake_answers_like_the_same_lake_on_disk(&m);
        }

        #[test]
        fn appends_at_once_keep_every_conversation_once() {
            let Some(m) = $start else { return };
            $crate::common::stores::appends_at_once_keep_every_conversation_once(&m);
        }

        #[test]
        fn raw_exports_are_read_from_the_store() {
            let Some(m) = $start else { return };
            $crate::common::stores::raw_exports_are_read_from_the_store(&m);
        }

        #[test]
        fn a_missing_bucket_is_a_clear_error() {
            let Some(m) = $start else { return };
            $crate::common::stores::a_missing_bucket_is_a_clear_error(&m);
        }

        #[test]
        fn a_held_lease_makes_an_append_wait() {
            let Some(m) = $start else { return };
            $crate::common::stores::a_held_lease_makes_an_append_wait(&m);
        }

        #[test]
        fn vector_files_are_written_to_the_store() {
            let Some(m) = $start else { return };
            $crate::common::stores::vector_files_are_written_to_the_store(&m);
        }

        #[test]
        fn reports_make_few_requests() {
            let Some(m) = $start else { return };
            $crate::common::stores::reports_make_few_requests(&m);
        }

        #[cfg(feature = "cluster")]
        #[test]
        fn a_cluster_reads_the_lake_itself() {
            let Some(m) = $start else { return };
            $crate::common::stores::a_cluster_reads_the_lake_itself(&m);
        }
    };
}

/// An object-store server on loopback, and chatql set up to reach it.
pub trait Server {
    /// The URL scheme (`s3`, `az`).
    fn scheme(&self) -> &'static str;
    /// chatql with the environment that reaches this server.
    fn chatql(&self) -> Command;
    /// Creates bucket (or container) `name`.
    fn bucket(&self, name: &str);
    /// Uploads the local `file` as `key` in `bucket`.
    fn upload(&self, bucket: &str, key: &str, file: &str);

    /// `scheme://bucket/key`.
    fn url(&self, bucket: &str, key: &str) -> String {
        format!("{}://{bucket}/{key}", self.scheme())
    }

    /// Runs chatql with `args`; asserts success; stdout.
    fn run(&self, args: &[&str]) -> String {
        let out = self.chatql().args(args).output().unwrap();
        super::assert_ok(&out, format_args!("{args:?}"));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs chatql with `args`; asserts failure; what it printed and how long it took.
    fn fails(&self, args: &[&str]) -> (Output, Duration) {
        let started = Instant::now();
        let out = self.chatql().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        (out, started.elapsed())
    }

    /// `sql` over `input` as CSV.
    fn csv(&self, sql: &str, input: &str, extra: &[&str]) -> String {
        let mut args = vec!["sql", sql, input, "--format", "csv"];
        args.extend(extra);
        self.run(&args)
    }
}

pub const QUERIES: &[&str] = &[
    "select count(*), count(distinct convo_id), sum(message_count) from conversations",
    "select convo_id, message_index, role, content from messages order by 1, 2",
    "select doc_id, chunk_index, vector_norm(embedding) from chunks order by 1, 2",
    "select course, month, count(*) from conversations group by 1, 2 order by 1, 2",
];

/// Convert (partitioned), append, sql, time travel, report, export, history and compact on
/// a lake in the store give exactly the answers of the same lake on disk.
pub fn a_lake_answers_like_the_same_lake_on_disk(m: &impl Server) {
    m.bucket("lakes");
    let dir = scratch("lake");
    let local = dir.join("local");
    let l = local.to_str().unwrap();
    let remote = m.url("lakes", "course-lake");
    let r = remote.as_str();
    let run1 = testdata("convos-2023-r.jsonl");
    let all = testdata("");
    for out in [l, r] {
        m.run(&[
            "convert",
            "-q",
            &run1,
            "-o",
            out,
            "--partition-by",
            "course,month",
        ]);
        m.run(&["convert", "-q", &all, "-o", out, "--append"]);
    }
    for sql in QUERIES {
        assert_eq!(m.csv(sql, r, &[]), m.csv(sql, l, &[]), "{sql}");
    }
    assert_eq!(
        m.csv("select count(*) n from conversations", r, &[]),
        "n\n21\n"
    );
    // Time travel reads the first version from the store.
    assert_eq!(
        m.csv("select count(*) n from conversations", r, &["--as-of", "0"]),
        "n\n3\n"
    );
    // Reports and exports read the same.
    let report = |lake: &str| m.run(&["report", lake, "--format", "json"]);
    assert_eq!(report(r), report(l));
    let e_local = dir.join("local.jsonl");
    let e_remote = dir.join("remote.jsonl");
    for (lake, out) in [(l, &e_local), (r, &e_remote)] {
        m.run(&[
            "export",
            lake,
            "--to",
            "uiuc-rows",
            "-o",
            out.to_str().unwrap(),
        ]);
    }
    assert_eq!(
        std::fs::read_to_string(&e_remote).unwrap(),
        std::fs::read_to_string(&e_local).unwrap()
    );
    // An export into the store is the same file.
    let e_in_store = m.url("lakes", "exports/rows.jsonl");
    m.run(&["export", l, "--to", "uiuc-rows", "-o", &e_in_store]);
    let back = dir.join("back");
    m.run(&["convert", "-q", &e_in_store, "-o", back.to_str().unwrap()]);
    assert_eq!(
        m.csv(QUERIES[1], back.to_str().unwrap(), &[]),
        m.csv(QUERIES[1], l, &[])
    );
    // A query's result as Parquet, into the store (encoded on the writer's pool, then
    // uploaded whole): the same rows as the lake's, read back from the object.
    let pq = m.url("lakes", "results/contexts.parquet");
    m.run(&["sql", "select * from contexts", l, "-o", &pq]);
    let sums = "select count(*) n, sum(length(text)) chars, count(distinct convo_id) convos";
    let of_object = m.run(&["sql", &format!("{sums} from '{pq}'"), "--format", "csv"]);
    assert_eq!(of_object, m.csv(&format!("{sums} from contexts"), l, &[]));
    assert!(!of_object.contains("\n0,"), "{of_object}");
    // The history is the lake's, runs and all.
    let h = m.run(&["history", r, "--json"]);
    let h: serde_json::Value = serde_json::from_str(&h).unwrap();
    assert_eq!(h["version"], 1);
    assert_eq!(h["runs"][1]["already_in_lake"]["conversations"], 2);
    // An append of the same again adds nothing.
    m.run(&["convert", "-q", &all, "-o", r, "--append"]);
    assert_eq!(
        m.csv(
            "select count(*) n, count(distinct convo_id) d from conversations",
            r,
            &[]
        ),
        "n,d\n21,21\n"
    );
    // A new lake over an existing one is refused.
    let (out, _) = m.fails(&["convert", "-q", &run1, "-o", r]);
    assert_eq!(out.status.code(), Some(4));
    // Compacted in the store as on disk: the same rows, a version that says so. (The
    // store's lake had one append more, which added the rejects again: one more partition.)
    for (lake, want) in [
        (l, "rewrote 2 partition(s): 8 file(s) into 4, 22 rows"),
        (r, "rewrote 3 partition(s): 10 file(s) into 5, 34 rows"),
    ] {
        let said = m.run(&["compact", lake]);
        assert!(said.contains(want), "{said}");
    }
    for sql in QUERIES {
        assert_eq!(m.csv(sql, r, &[]), m.csv(sql, l, &[]), "{sql}");
    }
    let h = m.run(&["history", r, "--json"]);
    let h: serde_json::Value = serde_json::from_str(&h).unwrap();
    assert_eq!(h["version"], 3);
    assert_eq!(h["runs"][3]["operation"], "compact");
    assert_eq!(
        m.csv("select count(*) n from messages", r, &["--as-of", "2"]),
        m.csv("select count(*) n from messages", r, &[])
    );
}

/// Three appends at once: the store's put-if-absent decides each commit, and every
/// conversation is in the lake once.
pub fn appends_at_once_keep_every_conversation_once(m: &impl Server) {
    m.bucket("race");
    let lake = m.url("race", "lake");
    let inputs = [
        testdata("convos-2023-r.jsonl"),
        testdata("ECE110-convos.zip"),
        testdata(""),
    ];
    let children: Vec<_> = inputs
        .iter()
        .map(|i| {
            m.chatql()
                .args(["convert", "-q", i, "-o", &lake, "--append"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        super::assert_ok(&out, "");
    }
    assert_eq!(
        m.csv(
            "select count(*) n, count(distinct convo_id) d from conversations",
            &lake,
            &[]
        ),
        "n,d\n21,21\n"
    );
}

/// Raw exports (plain, gzip, zstd, a zip read in place) under a prefix read like the same
/// files on disk; one object converts from the store into the store.
pub fn raw_exports_are_read_from_the_store(m: &impl Server) {
    m.bucket("raw");
    let files = [
        "convos-2023-r.jsonl",
        "ECE110-convos.zip",
        "convos-2025-r-epoch.jsonl.gz",
        "my-project_documents.jsonl.zst",
        "ECE120_documents.jsonl",
    ];
    let local = scratch("raw");
    for f in files {
        m.upload("raw", &format!("exports/{f}"), &testdata(f));
        std::fs::copy(testdata(f), local.join(f)).unwrap();
    }
    let prefix = m.url("raw", "exports/");
    let local = local.to_str().unwrap();
    let sql = "select count(*), count(distinct convo_id), sum(message_count) from conversations";
    assert_eq!(m.csv(sql, &prefix, &[]), m.csv(sql, local, &[]));
    let docs = "select count(*), sum(chunk_count) from documents";
    assert_eq!(m.csv(docs, &prefix, &[]), m.csv(docs, local, &[]));
    // Rows name the object they came from.
    let names = m.csv(
        "select distinct source_file from conversations order by 1",
        &prefix,
        &[],
    );
    let zip = m.url("raw", "exports/ECE110-convos.zip!");
    assert!(names.contains(&zip), "{names}");
    // And a single object, converted from the store into the store.
    m.bucket("out");
    let lake = m.url("out", "lake");
    let one = m.url("raw", "exports/convos-2023-r.jsonl");
    m.run(&["convert", "-q", &one, "-o", &lake]);
    assert_eq!(
        m.csv("select count(*) n from conversations", &lake, &[]),
        "n\n3\n"
    );
}

/// A missing bucket fails soon, names the place, and leaves nothing.
pub fn a_missing_bucket_is_a_clear_error(m: &impl Server) {
    let input = testdata("convos-2023-r.jsonl");
    let lake = m.url("no-such-bucket", "lake");
    let (out, took) = m.fails(&["convert", "-q", &input, "-o", &lake]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains(&lake), "{e}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let raw = m.url("no-such-bucket", "raw.jsonl");
    let (out, _) = m.fails(&["sql", "select 1", &raw]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("no-such-bucket"), "{e}");
}

/// A Ballista cluster reads a lake in the store with no shared file system: the scheduler
/// plans from the lake's files in the store, executors read them from it, the client sends
/// no data.
#[cfg(feature = "cluster")]
pub fn a_cluster_reads_the_lake_itself(m: &impl Server) {
    m.bucket("cluster");
    let lake = m.url("cluster", "lake");
    m.run(&[
        "convert",
        "-q",
        &testdata(""),
        "-o",
        &lake,
        "--partition-by",
        "course,month",
    ]);
    let cluster = super::procs::Cluster::start(|| m.chatql(), 1, 2);
    let remote = cluster.url.clone();
    for sql in QUERIES {
        assert_eq!(
            m.csv(sql, &lake, &["--remote", &remote]),
            m.csv(sql, &lake, &[]),
            "{sql}"
        );
    }
}

/// The store's put-if-absent is what keeps writers apart: while another writer's lease
/// object is there (fresh), an append waits and commits nothing. A store that overwrote
/// instead would let it through at once.
pub fn a_held_lease_makes_an_append_wait(m: &impl Server) {
    m.bucket("held");
    let lake = m.url("held", "lake");
    m.run(&[
        "convert",
        "-q",
        &testdata("convos-2023-r.jsonl"),
        "-o",
        &lake,
    ]);
    let dir = scratch("lease");
    let lease = dir.join("lease.json");
    std::fs::write(
        &lease,
        r#"{"host":"elsewhere","pid":1,"since":"2026-11-28 12:00:00"}"#,
    )
    .unwrap();
    m.upload("held", "lake/_chatql_lease.json", lease.to_str().unwrap());
    let mut append = m
        .chatql()
        .args(["convert", "-q", &testdata(""), "-o", &lake, "--append"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let waiting = append.try_wait().unwrap().is_none();
    let _ = append.kill();
    let _ = append.wait();
    assert!(waiting, "the append went past a held lease");
    assert_eq!(
        m.csv("select count(*) n from conversations", &lake, &[]),
        "n\n3\n"
    );
}

/// Pinecone's import layout written under a prefix in the store holds the same files as
/// the same export into a folder; a prefix that holds objects is refused without `--force`,
/// and with it keeps only this run's files.
pub fn vector_files_are_written_to_the_store(m: &impl Server) {
    m.bucket("vectors");
    let dir = super::scratch(&format!("{}-pinecone", m.scheme()));
    let docs = super::testdata("ECE120_documents.jsonl");
    let local = dir.join("pinecone");
    let remote = m.url("vectors", "import");
    for out in [local.to_str().unwrap(), &remote] {
        m.run(&["export", &docs, "--to", "pinecone", "-o", out]);
    }
    let mut files: Vec<String> = files_under(&local)
        .iter()
        .map(|p| p.strip_prefix(&local).unwrap().to_str().unwrap().to_owned())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let rows = |table: &str| {
        let sql = format!("select id, values, metadata from '{table}' order by id");
        m.run(&["sql", &sql, "--format", "csv"])
    };
    for f in &files {
        let here = rows(local.join(f).to_str().unwrap());
        assert!(here.lines().count() > 1, "{f}: {here}");
        assert_eq!(rows(&format!("{remote}/{f}")), here, "{f}");
    }
    // A stale object under the prefix: refused, then removed by --force.
    let stale = m.url("vectors", "import/chunks/OLD/part-00000.parquet");
    m.upload(
        "vectors",
        "import/chunks/OLD/part-00000.parquet",
        local.join(&files[0]).to_str().unwrap(),
    );
    let (out, _) = m.fails(&["export", &docs, "--to", "pinecone", "-o", &remote]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(rows(&stale), rows(local.join(&files[0]).to_str().unwrap()));
    m.run(&[
        "export", &docs, "--to", "pinecone", "-o", &remote, "--force",
    ]);
    let (out, _) = m.fails(&[
        "sql",
        &format!("select * from '{stale}'"),
        "--format",
        "csv",
    ]);
    assert!(!out.status.success());
    assert_eq!(
        rows(&format!("{remote}/{}", files[0])),
        rows(local.join(&files[0]).to_str().unwrap())
    );
}

/// The requests a report makes of a lake in the store, as chatql counts them
/// (`CHATQL_STORE_REQUESTS=1`): bounded by the lake's files, since each costs a round trip
/// (moto's on loopback, a cloud's across a region), and whole reports read each footer once.
pub fn reports_make_few_requests(m: &impl Server) {
    m.bucket("counted");
    let lake = m.url("counted", "lake");
    m.run(&[
        "convert",
        "-q",
        &super::testdata(""),
        "-o",
        &lake,
        "--partition-by",
        "course,month",
    ]);
    // The same lake on disk, for its number of data files.
    let dir = super::scratch(&format!("{}-counted", m.scheme()));
    let local = dir.join("lake");
    m.run(&[
        "convert",
        "-q",
        &super::testdata(""),
        "-o",
        local.to_str().unwrap(),
        "--partition-by",
        "course,month",
    ]);
    let files = files_under(&local)
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .count() as u64;
    let commits = files_under(&local)
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .count() as u64;
    // GETs and LISTs of a run, keeping copies of files in `kept` (or none: "off").
    let requests = |args: &[&str], kept: &str| -> (u64, u64, String) {
        let out = m
            .chatql()
            .args(args)
            .env("CHATQL_STORE_REQUESTS", "1")
            .env("CHATQL_STORE_CACHE_DIR", kept)
            .output()
            .unwrap();
        super::assert_ok(&out, format_args!("{args:?}"));
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err
            .lines()
            .find(|l| l.starts_with("object store requests:"))
            .unwrap_or_else(|| panic!("{err}"));
        let n = |after: &str| -> u64 {
            let i = line.find(after).unwrap();
            line[..i]
                .trim_end()
                .rsplit([' ', ','])
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let stdout = String::from_utf8(out.stdout).unwrap();
        (n(" GET"), n(" LIST"), stdout)
    };
    let overview = ["report", "overview", &lake, "--format", "json"];
    let every = ["report", &lake, "--format", "json"];
    let one = requests(&overview, "off");
    let all = requests(&every, "off");
    // Every report (dozens of queries) reads each small file once: before the cache it
    // made 1,237 GETs on this lake of 40 files, 31 per file; the listing is not repeated.
    assert!(all.0 <= 3 * files, "{all:?} GETs for {files} files");
    assert!(
        one.0 <= all.0 && all.0 - one.0 <= files,
        "{:?} then {:?}",
        (one.0, one.1),
        (all.0, all.1)
    );
    assert_eq!(one.1, all.1, "LISTs");
    // Copies kept on disk: the next process lists the logs (one LIST per table, as before)
    // and fetches nothing: the commits it lists and the data files they name are the
    // copies' (a commit file, like a data file, never changes once written); it answers the
    // same. The listing also tells it the place is a lake: no request of its own for that.
    let kept = dir.join("kept");
    let kept = kept.to_str().unwrap();
    let cold = requests(&every, kept);
    let warm = requests(&every, kept);
    assert_eq!(cold.0, all.0, "a cold copy fetches what no copy does");
    assert_eq!(
        warm.0, 0,
        "warm: every commit and data file from the copies"
    );
    assert_eq!((warm.1, &warm.2), (all.1, &all.2));
    // A copy cut short (a disk filled up mid-write by something else) is fetched again.
    let copies: Vec<_> = files_under(std::path::Path::new(kept));
    let of = |ext: &str| -> Vec<&std::path::PathBuf> {
        copies
            .iter()
            .filter(|p| p.to_string_lossy().contains(ext))
            .collect()
    };
    let rejects = files_under(&local.join("rejects"))
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .count() as u64;
    // Every data file the reports read: all but the rejects table's, which none reads; and
    // every commit.
    assert_eq!(of(".parquet.").len() as u64, files - rejects, "{copies:?}");
    assert_eq!(of(".json.").len() as u64, commits, "{copies:?}");
    assert_eq!(copies.len() as u64, files - rejects + commits, "{copies:?}");
    std::fs::write(of(".parquet.")[0], b"PAR1").unwrap();
    std::fs::write(of(".json.")[0], b"{}").unwrap();
    let mended = requests(&every, kept);
    assert_eq!(mended.0, 2, "the two copies cut short fetched again");
    assert_eq!(mended.2, all.2);
    // And the same answers as the lake on disk.
    let report = |l: &str| m.run(&["report", l, "--format", "json"]);
    assert_eq!(all.2, report(local.to_str().unwrap()));
}

/// Every file under `dir`, at any depth.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files
}
