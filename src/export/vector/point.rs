//! One chunk with its embedding, as every vector store takes it: a stable id, the text, the
//! vector, and the metadata the platform itself keeps (its Qdrant payload) plus the text's
//! SHA-256, the embedding model and the dimension.
//!
//! The id is a UUIDv5, so it is the same on every run and every machine, and a second run
//! upserts the same rows: `uuid5(NAMESPACE, "{course_name}\n{s3_path or url}\n{chunk_index}")`
//! with `NAMESPACE = uuid5(NAMESPACE_URL, "https://github.com/chatql/chatql/chunk")`
//! (Python's `uuid` module computes the same). `doc_id` is not used: it is not unique across
//! deployments.

use serde_json::{json, Map, Value};
use sha1::Digest;

use crate::export::cursor::{Document, Row};
use crate::table::col::{chunks as ch, documents as dc};
use crate::table::redact::Redactor;

/// The ada-002 dimension; the model is recorded for vectors of this size only.
const ADA_002_DIMS: usize = 1536;

/// A chunk ready for a vector store.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// UUIDv5, hyphenated.
    pub id: String,
    /// Project.
    pub course_name: String,
    /// S3 key (`""` for web pages).
    pub s3_path: String,
    /// Source URL (`""` for uploads).
    pub url: String,
    /// Document name.
    pub readable_filename: String,
    /// Base URL of crawls.
    pub base_url: String,
    /// 1-based page.
    pub pagenumber: Option<i64>,
    /// Transcript segment.
    pub timestamp: Option<i64>,
    /// Position of the chunk in its document.
    pub chunk_index: i64,
    /// Chunk text.
    pub text: String,
    /// SHA-256 of `text`, hex.
    pub text_sha256: String,
    /// SHA-256 of the vector's little-endian f32 bytes, hex: stores that normalize vectors
    /// for cosine distance (Chroma, Qdrant) keep the original's fingerprint.
    pub embedding_sha256: String,
    /// `text-embedding-ada-002` for 1536 dimensions, else unknown.
    pub embedding_model: Option<&'static str>,
    /// Document groups (from the document line's `doc_groups`, when present).
    pub doc_groups: Vec<String>,
    /// When the document was ingested (µs, UTC).
    pub created_at: Option<i64>,
    /// The vector, exactly as the lake holds it.
    pub embedding: Vec<f32>,
}

impl Point {
    /// The vector's dimension.
    pub fn dims(&self) -> usize {
        self.embedding.len()
    }

    /// The metadata as one JSON object (nulls kept), in the platform's payload order.
    pub fn metadata(&self) -> Map<String, Value> {
        let v = json!({
            "course_name": self.course_name,
            "s3_path": self.s3_path,
            "readable_filename": self.readable_filename,
            "pagenumber": self.pagenumber,
            "timestamp": self.timestamp,
            "url": self.url,
            "base_url": self.base_url,
            "chunk_index": self.chunk_index,
            "doc_groups": self.doc_groups,
            "text_sha256": self.text_sha256,
            "embedding_sha256": self.embedding_sha256,
            "embedding_model": self.embedding_model,
            "dimensions": self.dims(),
        });
        match v {
            Value::Object(m) => m,
            _ => unreachable!("json! of an object"),
        }
    }
}

/// The namespace of chunk ids.
fn namespace() -> [u8; 16] {
    // RFC 4122's URL namespace, 6ba7b811-9dad-11d1-80b4-00c04fd430c8.
    const URL: [u8; 16] = [
        0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30,
        0xc8,
    ];
    *uuid5(&URL, "https://github.com/chatql/chatql/chunk").as_bytes()
}

fn uuid5(ns: &[u8; 16], name: &str) -> uuid::Uuid {
    let mut h = sha1::Sha1::new();
    h.update(ns);
    h.update(name.as_bytes());
    let digest = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(b).into_uuid()
}

/// The stable id of a chunk.
pub fn chunk_id(course: &str, key: &str, chunk_index: i64) -> String {
    uuid5(&namespace(), &format!("{course}\n{key}\n{chunk_index}"))
        .hyphenated()
        .to_string()
}

/// Why a chunk was not turned into a point.
pub const NO_EMBEDDING: &str = "chunk without an embedding";

/// The points of a document; chunks without an embedding are counted in `skipped`.
pub fn points(d: &Document, redactor: Option<&Redactor>, skipped: &mut u64) -> Vec<Point> {
    let r = &d.row;
    let s = |c| r.str(c).unwrap_or("").to_owned();
    let course = s(dc::course_name);
    let s3_path = s(dc::s3_path);
    let url = s(dc::url);
    let key = match (s3_path.is_empty(), url.is_empty()) {
        (false, _) => s3_path.clone(),
        (true, false) => url.clone(),
        (true, true) => format!("doc:{}", r.i64(dc::doc_id).unwrap_or(-1)),
    };
    let doc_groups = doc_groups(r);
    let mut out = Vec::with_capacity(d.chunks.len());
    for c in &d.chunks {
        let Some(embedding) = c.f32s(ch::embedding).filter(|e| !e.is_empty()) else {
            *skipped += 1;
            continue;
        };
        let chunk_index = c.i64(ch::chunk_index).unwrap_or(0);
        let text = c.str(ch::text).unwrap_or("");
        let text = match redactor {
            Some(red) => red.redact_text(text),
            None => text.to_owned(),
        };
        out.push(Point {
            id: chunk_id(&course, &key, chunk_index),
            course_name: course.clone(),
            s3_path: s3_path.clone(),
            url: url.clone(),
            readable_filename: s(dc::readable_filename),
            base_url: s(dc::base_url),
            pagenumber: c.i64(ch::pagenumber),
            timestamp: c.i64(ch::timestamp),
            chunk_index,
            text_sha256: hex::encode(sha2::Sha256::digest(text.as_bytes())),
            text,
            embedding_sha256: vector_sha256(&embedding),
            embedding_model: (embedding.len() == ADA_002_DIMS).then_some("text-embedding-ada-002"),
            doc_groups: doc_groups.clone(),
            created_at: r.ts(dc::created_at),
            embedding,
        });
    }
    out
}

/// SHA-256 of a vector's little-endian f32 bytes, hex.
pub fn vector_sha256(v: &[f32]) -> String {
    // One update over the bytes (one per float was most of a point's cost).
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    hex::encode(sha2::Sha256::digest(&bytes))
}

/// `doc_groups` from the document's `extra`, when its line had them.
fn doc_groups(r: &Row) -> Vec<String> {
    let Some(extra) = r.str(dc::extra) else {
        return Vec::new();
    };
    match serde_json::from_str::<Value>(extra) {
        Ok(Value::Object(m)) => match m.get("doc_groups") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid5_as_python_computes_them() {
        // python3 -c 'import uuid; ns = uuid.uuid5(uuid.NAMESPACE_URL,
        //   "https://github.com/chatql/chatql/chunk");
        //   print(ns, uuid.uuid5(ns, "ECE120\ncourses/ECE120/a.pdf\n3"))'
        assert_eq!(
            uuid::Uuid::from_bytes(namespace()).to_string(),
            "7efdf2c5-7515-5ee4-b433-6482ee1b06b4"
        );
        assert_eq!(
            chunk_id("ECE120", "courses/ECE120/a.pdf", 3),
            "b5c8f5c3-899e-5b9c-bd73-084754d13d7b"
        );
    }
}
