//! Qdrant over its REST API, with the payload the platform itself writes (ai-ta-backend's
//! ingest: `page_content, course_name, s3_path, readable_filename, pagenumber, timestamp,
//! url, base_url, chunk_index, doc_groups`), so a self-hosted UIUC.chat or any Qdrant
//! application uses the points as they are. One collection for every course, as on the
//! platform (filtered on `course_name`, which gets a keyword index), per dimension; cosine
//! distance (Qdrant normalizes vectors for it; the original's SHA-256 is in the payload as
//! `embedding_sha256`, and a rerun compares payloads). `QDRANT_API_KEY` is sent as `api-key` when set.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use super::http::{ok, refused, segment, Client};
use super::{Group, Point, Put, Store, VectorOptions};
use crate::error::{Error, Result};

/// The loader.
pub struct QdrantStore {
    client: Client,
    ready: HashSet<String>,
}

impl QdrantStore {
    /// A client of the server (checked at the first collection).
    pub fn open(o: &VectorOptions) -> Result<QdrantStore> {
        let headers = match std::env::var("QDRANT_API_KEY") {
            Ok(k) if !k.is_empty() => vec![("api-key".to_owned(), k)],
            _ => Vec::new(),
        };
        Ok(QdrantStore {
            client: Client::new(&o.url, headers)?,
            ready: HashSet::new(),
        })
    }

    /// Creates the collection unless it exists; an existing one must hold this dimension.
    fn ensure(&mut self, g: &Group) -> Result<()> {
        if self.ready.contains(&g.name) {
            return Ok(());
        }
        let path = format!("/collections/{}", segment(&g.name));
        let r = self.client.get(&path)?;
        match r.status {
            200 => {
                let size = &r.body["result"]["config"]["params"]["vectors"]["size"];
                if size.as_u64() != Some(g.dims as u64) {
                    return Err(Error::Service {
                        url: self.client.base().to_owned(),
                        message: format!(
                            "collection {} holds vectors of size {size}, these have {}",
                            g.name, g.dims
                        ),
                    });
                }
            }
            404 => {
                let body = json!({"vectors": {"size": g.dims, "distance": "Cosine"}});
                let r = self.client.put(&path, &body)?;
                ok(&self.client, &format!("creating collection {}", g.name), &r)?;
                let index = json!({"field_name": "course_name", "field_schema": "keyword"});
                let r = self
                    .client
                    .put(&format!("{path}/index?wait=true"), &index)?;
                ok(&self.client, "indexing course_name", &r)?;
            }
            _ => {
                return Err(refused(
                    &self.client,
                    &format!("opening collection {}", g.name),
                    &r,
                ))
            }
        }
        self.ready.insert(g.name.clone());
        Ok(())
    }

    /// Of `points`, how many exist already, and how many of those as they are.
    fn existing(&self, g: &Group, points: &[Point]) -> Result<(u64, u64)> {
        let body = json!({
            "ids": points.iter().map(|p| &p.id).collect::<Vec<_>>(),
            "with_payload": true,
            "with_vector": false,
        });
        let r = self
            .client
            .post(&format!("/collections/{}/points", segment(&g.name)), &body)?;
        ok(&self.client, "reading points back", &r)?;
        let by_id: HashMap<&str, &Point> = points.iter().map(|p| (p.id.as_str(), p)).collect();
        let (mut found, mut same) = (0, 0);
        for got in r.body["result"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let Some(p) = got["id"].as_str().and_then(|id| by_id.get(id)) else {
                continue;
            };
            found += 1;
            if got["payload"] == Value::Object(payload(p)) {
                same += 1;
            }
        }
        Ok((found, same))
    }
}

impl Store for QdrantStore {
    fn put(&mut self, g: &Group, points: &[Point]) -> Result<Put> {
        self.ensure(g)?;
        let (found, same) = self.existing(g, points)?;
        if same < points.len() as u64 {
            let body = json!({"points": points.iter().map(|p| json!({
                "id": p.id,
                "vector": p.embedding,
                "payload": Value::Object(payload(p)),
            })).collect::<Vec<_>>()});
            let path = format!("/collections/{}/points?wait=true", segment(&g.name));
            let r = self.client.put(&path, &body)?;
            ok(&self.client, &format!("upserting into {}", g.name), &r)?;
        }
        Ok(Put::of(points.len(), found, same))
    }

    fn finish(self: Box<Self>, groups: &[Group]) -> Result<Vec<String>> {
        let mut notes = Vec::new();
        let mut names: Vec<&String> = self.ready.iter().collect();
        names.sort();
        names.dedup();
        for name in names {
            let r = self.client.post(
                &format!("/collections/{}/points/count", segment(name)),
                &json!({"exact": true}),
            )?;
            ok(&self.client, &format!("counting {name}"), &r)?;
            let dims = groups
                .iter()
                .find(|g| &g.name == name)
                .map_or(0, |g| g.dims);
            notes.push(format!(
                "Qdrant collection {name} ({dims} dimensions, cosine): {} point(s)",
                r.body["result"]["count"]
            ));
        }
        Ok(notes)
    }
}

/// The platform's payload of a point, and chatql's additions.
pub fn payload(p: &Point) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("page_content".into(), Value::String(p.text.clone()));
    m.extend(p.metadata());
    m
}
