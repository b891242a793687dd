//! Helpers shared by the integration tests: run the real binary, read what it wrote.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

pub fn testdata(name: &str) -> String {
    format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub fn chatql() -> Command {
    Command::cargo_bin("chatql").unwrap()
}

/// A fresh scratch folder, unique to this call (tests run in parallel).
pub fn scratch(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("chatql-test-{}-{n}-{name}", std::process::id()));
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
        for t in chatql::schema::Table::ALL {
            let file = dir.join(format!("{}.parquet", t.name()));
            if file.exists() {
                ctx.register_parquet(
                    t.name(),
                    file.to_str().unwrap(),
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

pub fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}
