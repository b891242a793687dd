//! Committing a run to a lake: each table's new files as Delta `add` actions (with partition
//! values and statistics) and the files the run replaced as `remove`s, one commit per
//! table that changed, children first and the root ([`ROOT`]) last with chatql's record of
//! the run and of every table's version ([`LakeCommit`]). A new lake's tables all get a
//! version 0, empty ones too, so that every reader sees every table with its schema.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;

use datafusion::parquet::file::metadata::ParquetMetaDataReader;
use serde_json::{json, Map};

use super::delta::log::{encode_path, versions};
use super::delta::schema::schema_string;
use super::delta::stats::file_stats;
use super::delta::{
    commit, now_ms, Action, Add, CommitInfo, Committed, Metadata, Protocol, Remove,
};
use super::partition::{partition_columns, Key, PartitionValues};
use super::record::{LakeCommit, RECORD_KEY, ROOT};
use super::record::{Operation, Run};
use crate::error::{Error, Result};
use crate::table::{Table, SCHEMA_VERSION};

/// What a run does to one table.
#[derive(Debug, Default, Clone)]
pub struct TableChange {
    /// Files added.
    pub adds: Vec<Add>,
    /// Files removed (rewritten without the versions the run replaced).
    pub removes: Vec<Remove>,
}

/// The `add` action of `file`, a finished Parquet file of table `t` under `table_dir`.
pub fn add_for(table_dir: &Path, file: &Path, t: Table, partition: PartitionValues) -> Result<Add> {
    let f = File::open(file).map_err(|e| Error::io(file, e))?;
    let meta = f.metadata().map_err(|e| Error::io(file, e))?;
    let footer = ParquetMetaDataReader::new()
        .parse_and_finish(&f)
        .map_err(|e| Error::read(file, e))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or_else(now_ms, |d| d.as_millis() as i64);
    let rel = file
        .strip_prefix(table_dir)
        .map_err(|_| Error::Internal(format!("{} is outside its table", file.display())))?;
    Ok(Add {
        path: encode_path(&rel.to_string_lossy()),
        partition_values: partition,
        size: meta.len(),
        modification_time: modified,
        data_change: true,
        stats: Some(file_stats(&t.schema(), &footer)),
        extra: Map::new(),
    })
}

/// A new table's id: unique per lake, table and moment, in UUID form.
fn table_id(lake: &Path, t: Table) -> String {
    use sha2::Digest;
    let seed = format!(
        "{}\0{}\0{}\0{}",
        lake.display(),
        t.name(),
        crate::model::now_us(),
        std::process::id()
    );
    let h = hex::encode(&sha2::Sha256::digest(seed.as_bytes())[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn commit_info(
    operation: &str,
    mode: &str,
    t: Table,
    keys: &[Key],
    change: &TableChange,
) -> CommitInfo {
    let parts: Vec<&str> = partition_columns(t, keys);
    let mut params = Map::new();
    params.insert("mode".into(), json!(mode));
    params.insert(
        "partitionBy".into(),
        json!(serde_json::to_string(&parts).expect("strings")),
    );
    CommitInfo {
        timestamp: Some(now_ms()),
        operation: Some(operation.into()),
        operation_parameters: Some(params),
        engine_info: Some(format!("chatql/{}", env!("CARGO_PKG_VERSION"))),
        is_blind_append: Some(change.removes.is_empty()),
        extra: Map::new(),
    }
}

/// The crash points of a run, for tests: with `CHATQL_CRASH_AT=POINT` in its environment a
/// writer sends itself SIGKILL there (no destructors, no cleanup). Points:
/// `moved` (files in the lake, nothing committed), `commit:TABLE` (that table committed),
/// `committed` (the root committed, the lease still held).
pub fn crash_point(point: &str) {
    if std::env::var("CHATQL_CRASH_AT").is_ok_and(|p| p == point) {
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
        std::process::abort();
    }
}

/// A pause point of a run, for tests: with `CHATQL_PAUSE_AT=POINT` a writer stops there
/// for good, after saying `paused at POINT` on standard error once, so that a test can
/// interrupt it at a known place. Points: `staged` (the first batch written to staging).
pub fn pause_point(point: &str) {
    static PAUSE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let at = PAUSE.get_or_init(|| std::env::var("CHATQL_PAUSE_AT").ok());
    if at.as_deref() == Some(point) {
        eprintln!("paused at {point}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}

/// Commits a run to the lake in `lake`: a new lake (`create`, every table's version 0)
/// or the next version of each table that changed. The caller holds the lake's lease (or,
/// for a new lake, is the only one who can see the folder). Returns the record committed.
pub fn commit_run(
    lake: &Path,
    create: bool,
    keys: &[Key],
    mut changes: HashMap<Table, TableChange>,
    run: Run,
) -> Result<LakeCommit> {
    let mut record = LakeCommit {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version: SCHEMA_VERSION,
        partition_by: keys.to_vec(),
        tables: BTreeMap::new(),
        run,
    };
    // Children before parents, the root last.
    for t in Table::ALL.iter().rev() {
        let dir = lake.join(t.name());
        let change = changes.remove(t).unwrap_or_default();
        let latest = if create {
            None
        } else {
            versions(&dir)?.last().copied()
        };
        if latest.is_some() && change.adds.is_empty() && change.removes.is_empty() && *t != ROOT {
            record
                .tables
                .insert(t.name().to_owned(), latest.unwrap_or(0));
            continue;
        }
        let version = latest.map_or(0, |v| v + 1);
        let mode = if create { "ErrorIfExists" } else { "Append" };
        // Delta's name of what the version did: new rows, or the same rows in new files.
        let operation = match record.run.operation {
            None => "WRITE",
            Some(Operation::Compact) => "OPTIMIZE",
        };
        let mut info = commit_info(operation, mode, *t, keys, &change);
        let mut actions = Vec::new();
        if create {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            actions.push(Action::Protocol(Protocol::chatql()));
            let parts = partition_columns(*t, keys);
            actions.push(Action::Metadata(Metadata {
                id: table_id(lake, *t),
                name: Some(t.name().to_owned()),
                description: Some(t.doc().lines().next().unwrap_or_default().to_owned()),
                format: super::delta::action::Format {
                    provider: "parquet".into(),
                    options: BTreeMap::new(),
                },
                schema_string: schema_string(t.schema().fields(), &parts)?,
                partition_columns: parts.iter().map(|p| (*p).to_owned()).collect(),
                configuration: BTreeMap::new(),
                created_time: Some(now_ms()),
            }));
        }
        record.tables.insert(t.name().to_owned(), version);
        if *t == ROOT {
            info.extra.insert(
                RECORD_KEY.into(),
                serde_json::to_value(&record).expect("serializable"),
            );
        }
        let mut all = vec![Action::CommitInfo(info)];
        all.append(&mut actions);
        all.extend(change.removes.into_iter().map(Action::Remove));
        all.extend(change.adds.into_iter().map(Action::Add));
        if commit(&dir, version, &all)? == Committed::Conflict {
            return Err(Error::Write {
                path: dir.clone(),
                source: format!(
                    "version {version} was committed by another writer while this run held \
                     the lake's lease (a writer other than chatql?); nothing of this run is \
                     visible to chatql, run it again"
                )
                .into(),
            });
        }
        if !create {
            crash_point(&format!("commit:{}", t.name()));
        }
    }
    Ok(record)
}
