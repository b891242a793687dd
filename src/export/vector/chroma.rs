//! Chroma over its v2 HTTP API: a collection per course and dimension (cosine space), points
//! upserted by id in batches within the server's `max_batch_size`. Before each upsert the
//! batch's ids are read back, so the summary tells new points from changed and unchanged
//! ones. Chroma's metadata holds scalars only: nulls are left out and `doc_groups` is kept as
//! JSON text. Vectors go as base64 of their f32 bytes, as Chroma's clients send them. In
//! cosine space Chroma stores each vector scaled to unit length (ada-002's already nearly
//! are): the original's SHA-256 stays in the metadata as `embedding_sha256`.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::http::{ok, refused, segment, Client};
use super::{Group, Point, Put, Store, VectorOptions};
use crate::error::Result;

/// The loader.
pub struct ChromaStore {
    client: Client,
    prefix: String,
    max_batch: usize,
    base64: bool,
    collections: HashMap<String, String>,
}

impl ChromaStore {
    /// Checks the server and the database (created when missing).
    pub fn open(o: &VectorOptions) -> Result<ChromaStore> {
        let client = Client::new(&o.url, Vec::new())?;
        let r = client.get("/api/v2/pre-flight-checks")?;
        if r.status != 200 {
            return Err(refused(
                &client,
                "this does not look like a Chroma server (v2 API)",
                &r,
            ));
        }
        let max_batch = r.body["max_batch_size"].as_u64().unwrap_or(1000).max(1) as usize;
        let base64 = r.body["supports_base64_encoding"].as_bool() == Some(true);
        let db = format!("/api/v2/tenants/{}/databases", segment(&o.settings.tenant));
        let r = client.get(&format!("{db}/{}", segment(&o.settings.database)))?;
        if r.status == 404 {
            let r = client.post(&db, &json!({"name": o.settings.database}))?;
            ok(&client, "creating the database", &r)?;
        } else {
            ok(&client, "opening the database", &r)?;
        }
        Ok(ChromaStore {
            client,
            prefix: format!("{db}/{}/collections", segment(&o.settings.database)),
            max_batch,
            base64,
            collections: HashMap::new(),
        })
    }

    fn collection(&mut self, g: &Group) -> Result<String> {
        let name = collection_name(&g.name);
        if let Some(id) = self.collections.get(&name) {
            return Ok(id.clone());
        }
        let body = json!({
            "name": name,
            "get_or_create": true,
            "metadata": {"source": "chatql", "dimensions": g.dims, "hnsw:space": "cosine"},
        });
        let r = self.client.post(&self.prefix, &body)?;
        let id = match r.body["id"].as_str() {
            Some(id) if r.status < 300 => id.to_owned(),
            _ => {
                return Err(refused(
                    &self.client,
                    &format!("creating collection {name}"),
                    &r,
                ))
            }
        };
        self.collections.insert(name, id.clone());
        Ok(id)
    }

    /// Of `points`, how many exist already, and how many of those as they are (text and
    /// metadata, which holds the vector's fingerprint: Chroma normalizes stored vectors in
    /// cosine space, so their bits cannot be compared).
    fn existing(&self, coll: &str, points: &[Point]) -> Result<(u64, u64)> {
        let ids: Vec<&str> = points.iter().map(|p| p.id.as_str()).collect();
        let body = json!({"ids": ids, "include": ["documents", "metadatas"]});
        let r = self
            .client
            .post(&format!("{}/{coll}/get", self.prefix), &body)?;
        ok(&self.client, "reading points back", &r)?;
        let by_id: HashMap<&str, &Point> = points.iter().map(|p| (p.id.as_str(), p)).collect();
        let (mut found, mut same) = (0, 0);
        let got = r.body["ids"].as_array().cloned().unwrap_or_default();
        for (i, id) in got.iter().enumerate() {
            let Some(p) = id.as_str().and_then(|id| by_id.get(id)) else {
                continue;
            };
            found += 1;
            let doc = r.body["documents"][i].as_str();
            let meta = &r.body["metadatas"][i];
            if doc == Some(p.text.as_str()) && *meta == Value::Object(metadata(p)) {
                same += 1;
            }
        }
        Ok((found, same))
    }
}

impl ChromaStore {
    /// A vector as the server takes it exactly: base64 of little-endian f32s where the server
    /// supports it (as Chroma's own clients send them), else JSON numbers.
    fn vector(&self, v: &[f32]) -> Value {
        if !self.base64 {
            return json!(v);
        }
        use base64::Engine;
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

impl Store for ChromaStore {
    fn put(&mut self, g: &Group, points: &[Point]) -> Result<Put> {
        let coll = self.collection(g)?;
        let mut put = Put::default();
        for part in points.chunks(self.max_batch) {
            let (found, same) = self.existing(&coll, part)?;
            let body = json!({
                "ids": part.iter().map(|p| &p.id).collect::<Vec<_>>(),
                "embeddings": part.iter().map(|p| self.vector(&p.embedding)).collect::<Vec<_>>(),
                "documents": part.iter().map(|p| &p.text).collect::<Vec<_>>(),
                "metadatas": part.iter().map(|p| Value::Object(metadata(p))).collect::<Vec<_>>(),
            });
            // A batch already there as it is is not sent again.
            if same < part.len() as u64 {
                let r = self
                    .client
                    .post(&format!("{}/{coll}/upsert", self.prefix), &body)?;
                ok(&self.client, &format!("upserting into {}", g.name), &r)?;
            }
            put += Put::of(part.len(), found, same);
        }
        Ok(put)
    }

    fn finish(self: Box<Self>, _groups: &[Group]) -> Result<Vec<String>> {
        let mut notes = Vec::new();
        let mut names: Vec<_> = self.collections.iter().collect();
        names.sort();
        for (name, id) in names {
            let r = self.client.get(&format!("{}/{id}/count", self.prefix))?;
            match r.body.as_u64() {
                Some(n) if r.status == 200 => {
                    notes.push(format!("Chroma collection {name}: {n} point(s)"))
                }
                _ => return Err(refused(&self.client, &format!("counting {name}"), &r)),
            }
        }
        Ok(notes)
    }
}

/// A point's metadata as Chroma keeps it: scalars, no nulls.
fn metadata(p: &Point) -> Map<String, Value> {
    p.metadata()
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            Value::Array(_) | Value::Object(_) => (k, Value::String(v.to_string())),
            v => (k, v),
        })
        .collect()
}

/// A name Chroma accepts: 3-512 of `[A-Za-z0-9._-]`, starting and ending with a letter or digit.
pub fn collection_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(500)
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        s.insert(0, 'c');
    }
    if !s.ends_with(|c: char| c.is_ascii_alphanumeric()) || s.len() < 3 {
        s.push_str("_chunks");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_names_follow_chromas_rules() {
        assert_eq!(collection_name("ECE120"), "ECE120");
        assert_eq!(collection_name("my project!"), "my_project__chunks");
        assert_eq!(collection_name("ab"), "ab_chunks");
        assert_eq!(collection_name("_x"), "c_x");
    }
}
