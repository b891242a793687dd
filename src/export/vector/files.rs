//! The file layouts: Pinecone's bulk import (Parquet with `id`, `values`, `metadata` as a JSON
//! string, a folder per namespace: `OUT/INDEX/NAMESPACE/part-00000.parquet`, one index per
//! dimension, the course as namespace) and LanceDB's (a Parquet table per dimension,
//! `OUT/TABLE.parquet`, with the vector as a non-null `FixedSizeList<Float32, N>` so that
//! `lancedb` takes it as the vector column). The folder is written beside its target and
//! renamed into place at the end, so a failed run leaves nothing half-written. `-o` may be
//! a prefix in an object store (`s3://bucket/import`, where Pinecone's import reads): the
//! folder is then written in the system's temporary folder and each finished file uploaded
//! whole (a multipart upload: an object appears complete or not at all); a failed upload
//! removes the files it had put, and `--force` removes what the prefix held that this run
//! did not write, so an import sees exactly this run's files.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, FixedSizeListArray, Float32Array, Int64Builder, ListBuilder, RecordBatch,
    StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

use super::{Group, Point, Put, Store, VectorOptions};
use crate::error::{Error, Result};
use crate::lake::fs::TempDir;
use crate::store::Remote;

/// Pinecone's limit on a record's metadata.
const PINECONE_METADATA_BYTES: usize = 40 * 1024;

/// Which file layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Pinecone's bulk import.
    Pinecone,
    /// LanceDB tables.
    LanceDb,
}

/// Where the finished folder goes.
enum Place {
    /// Renamed to this path.
    Folder(PathBuf),
    /// Uploaded under this prefix.
    Store(Remote),
}

/// The writer of a file layout.
pub struct FileStore {
    layout: Layout,
    out: PathBuf,
    place: Place,
    tmp: TempDir,
    writers: HashMap<PathBuf, ArrowWriter<File>>,
    truncated: u64,
}

impl FileStore {
    /// Starts the folder `o.url` (refused when it exists, unless `o.force`).
    pub fn open(o: &VectorOptions, layout: Layout) -> Result<FileStore> {
        let out = PathBuf::from(o.url.trim_end_matches('/'));
        let (place, tmp) = if crate::store::is_remote(&out) {
            let r = Remote::open(&out)?;
            if !o.force && !r.list("")?.is_empty() {
                return Err(Error::OutputExists(out));
            }
            let staging = std::env::temp_dir().join("chatql-export");
            (Place::Store(r), TempDir::beside(&staging)?)
        } else {
            if out.exists() && !o.force {
                return Err(Error::OutputExists(out));
            }
            (Place::Folder(out.clone()), TempDir::beside(&out)?)
        };
        Ok(FileStore {
            layout,
            place,
            tmp,
            out,
            writers: HashMap::new(),
            truncated: 0,
        })
    }

    fn file_of(&self, g: &Group) -> PathBuf {
        match self.layout {
            Layout::Pinecone => {
                let ns = g.course.as_deref().map_or("__default__".into(), file_part);
                PathBuf::from(file_part(&g.name))
                    .join(ns)
                    .join("part-00000.parquet")
            }
            Layout::LanceDb => PathBuf::from(format!("{}.parquet", file_part(&g.name))),
        }
    }

    fn batch(&mut self, g: &Group, points: &[Point]) -> Result<RecordBatch> {
        match self.layout {
            Layout::Pinecone => {
                let (b, truncated) = pinecone_batch(points)?;
                self.truncated += truncated;
                Ok(b)
            }
            Layout::LanceDb => lance_batch(g.dims, points),
        }
    }
}

impl Store for FileStore {
    fn put(&mut self, g: &Group, points: &[Point]) -> Result<Put> {
        let rel = self.file_of(g);
        let batch = self.batch(g, points)?;
        let path = self.tmp.path().join(&rel);
        if !self.writers.contains_key(&rel) {
            let dir = crate::lake::fs::parent_dir(&path);
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("level 3")))
                .build();
            let w = ArrowWriter::try_new(file, batch.schema(), Some(props))
                .map_err(|e| Error::write(&path, e))?;
            self.writers.insert(rel.clone(), w);
        }
        let w = self.writers.get_mut(&rel).expect("inserted above");
        w.write(&batch).map_err(|e| Error::write(&path, e))?;
        Ok(Put {
            inserted: points.len() as u64,
            ..Put::default()
        })
    }

    fn finish(mut self: Box<Self>, _groups: &[Group]) -> Result<Vec<String>> {
        let mut notes = Vec::new();
        let mut files: Vec<_> = std::mem::take(&mut self.writers).into_iter().collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let mut written = Vec::with_capacity(files.len());
        for (rel, w) in files {
            let path = self.tmp.path().join(&rel);
            let meta = w.close().map_err(|e| Error::write(&path, e))?;
            notes.push(format!(
                "{}: {} row(s)",
                self.out.join(&rel).display(),
                meta.file_metadata().num_rows()
            ));
            written.push(rel);
        }
        if self.truncated > 0 {
            notes.push(format!(
                "{} chunk text(s) shortened to keep the metadata within Pinecone's 40 KB",
                self.truncated
            ));
        }
        match &self.place {
            Place::Folder(out) => self.tmp.commit(out)?,
            Place::Store(r) => upload(r, self.tmp.path(), &written)?,
        }
        Ok(notes)
    }
}

/// Puts the finished files (paths relative to `dir`) under the prefix; on a failure removes
/// those already put; then removes the prefix's other objects (there only with `--force`).
fn upload(r: &Remote, dir: &Path, files: &[PathBuf]) -> Result<()> {
    let keys: Vec<String> = files.iter().map(|rel| key_of(rel)).collect();
    for (i, (rel, key)) in files.iter().zip(&keys).enumerate() {
        if let Err(e) = r.upload(&dir.join(rel), key) {
            for put in &keys[..i] {
                let _ = r.delete(put);
            }
            return Err(e);
        }
    }
    for (old, _) in r.list("")? {
        if !keys.contains(&old) {
            r.delete(&old)?;
        }
    }
    Ok(())
}

/// A relative path as an object key (`/` between its parts on every system).
fn key_of(rel: &Path) -> String {
    let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
    parts.join("/")
}

fn strings<'a>(items: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    let mut b = StringBuilder::new();
    for s in items {
        b.append_option(s);
    }
    Arc::new(b.finish())
}

/// Pinecone's rows; the second value counts texts shortened to fit the metadata limit.
fn pinecone_batch(points: &[Point]) -> Result<(RecordBatch, u64)> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("values", DataType::List(item.clone()), false),
        Field::new("metadata", DataType::Utf8, true),
    ]));
    let mut values =
        ListBuilder::new(datafusion::arrow::array::Float32Builder::new()).with_field(item);
    let mut metas = Vec::with_capacity(points.len());
    let mut truncated = 0;
    for p in points {
        values.values().append_slice(&p.embedding);
        values.append(true);
        let (meta, cut) = pinecone_metadata(p);
        truncated += u64::from(cut);
        metas.push(meta);
    }
    let cols: Vec<ArrayRef> = vec![
        strings(points.iter().map(|p| Some(p.id.as_str()))),
        Arc::new(values.finish()),
        strings(metas.iter().map(|m| Some(m.as_str()))),
    ];
    Ok((RecordBatch::try_new(schema, cols)?, truncated))
}

/// The metadata JSON with the text under `text` (LangChain's key), shortened when the
/// whole would pass Pinecone's limit; and whether it was.
fn pinecone_metadata(p: &Point) -> (String, bool) {
    let mut m = p.metadata();
    m.retain(|_, v| !v.is_null());
    let without = serde_json::to_string(&m).map_or(0, |s| s.len());
    let room = PINECONE_METADATA_BYTES.saturating_sub(without + 64);
    let mut text = p.text.as_str();
    let mut cut = false;
    while serde_json::to_string(text).map_or(0, |s| s.len()) > room {
        cut = true;
        let mut end = text.len() * 9 / 10;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text = &text[..end];
    }
    m.insert("text".into(), serde_json::Value::String(text.to_owned()));
    (serde_json::Value::Object(m).to_string(), cut)
}

/// LanceDB's rows: the vector as `FixedSizeList<Float32, dims>`, then text and metadata.
fn lance_batch(dims: usize, points: &[Point]) -> Result<RecordBatch> {
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let flat: Vec<f32> = points
        .iter()
        .flat_map(|p| p.embedding.iter().copied())
        .collect();
    let vector =
        FixedSizeListArray::try_new(item, dims as i32, Arc::new(Float32Array::from(flat)), None)?;
    let int = |f: fn(&Point) -> Option<i64>| -> ArrayRef {
        let mut b = Int64Builder::new();
        for p in points {
            b.append_option(f(p));
        }
        Arc::new(b.finish())
    };
    let mut groups = ListBuilder::new(StringBuilder::new());
    for p in points {
        for g in &p.doc_groups {
            groups.values().append_value(g);
        }
        groups.append(true);
    }
    let text = |f: fn(&Point) -> Option<&str>| strings(points.iter().map(f));
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("id", text(|p| Some(&p.id))),
        ("vector", Arc::new(vector)),
        ("text", text(|p| Some(&p.text))),
        ("course_name", text(|p| Some(&p.course_name))),
        ("s3_path", text(|p| Some(&p.s3_path))),
        ("url", text(|p| Some(&p.url))),
        ("readable_filename", text(|p| Some(&p.readable_filename))),
        ("base_url", text(|p| Some(&p.base_url))),
        ("pagenumber", int(|p| p.pagenumber)),
        ("timestamp", int(|p| p.timestamp)),
        ("chunk_index", int(|p| Some(p.chunk_index))),
        ("doc_groups", Arc::new(groups.finish())),
        ("text_sha256", text(|p| Some(&p.text_sha256))),
        ("embedding_model", text(|p| p.embedding_model)),
    ];
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), !matches!(*n, "id" | "vector")))
        .collect();
    let arrays = cols.into_iter().map(|(_, a)| a).collect();
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// A name safe as one path component.
fn file_part(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    match s.as_str() {
        "" | "." | ".." => format!("_{s}"),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parts_cannot_climb() {
        assert_eq!(file_part("../x"), ".._x");
        assert_eq!(file_part(".."), "_..");
        assert_eq!(file_part("ECE 120/a"), "ECE_120_a");
    }
}
