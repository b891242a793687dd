//! What the topic map reads: every user question (`queries/topics/questions.sql`), the
//! documents its contexts cite, and, when the inputs hold a document export, a vector per
//! question placed in the course material's embedding space: the mean of the embeddings of
//! the chunks it retrieved (a context matches a chunk on its text and its `s3_path` or
//! `url`, as the retrieval report's coverage does).
//!
//! Embeddings are projected once, chunk by chunk, to [`DIM`] dimensions by a fixed random
//! Gaussian matrix (Johnson-Lindenstrauss: cosine similarities are kept to a few percent),
//! so 100,000 questions cost 100,000 × 96 floats, and a mean of projections is the
//! projection of the mean. Contexts and chunks are streamed, never held whole.

use std::collections::HashMap;
use std::hash::BuildHasher;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::arrow::datatypes::{Float32Type, Int32Type};
use foldhash::fast::FixedState;
use futures::StreamExt;

use super::kmeans::Rng;
use crate::error::{Error, Result};
use crate::query::Catalog;

/// Dimensions embeddings are projected to.
pub const DIM: usize = 96;

/// One user question.
#[derive(Debug, Clone)]
pub struct Question {
    /// Conversation.
    pub convo_id: String,
    /// The question's `message_index`.
    pub message_index: i32,
    /// Course.
    pub course: Option<String>,
    /// User.
    pub user: Option<String>,
    /// `YYYY-MM` in the zone of `--tz`.
    pub month: Option<String>,
    /// The text.
    pub text: String,
    /// The answer's thumbs.
    pub positive: Option<bool>,
    /// Documents its contexts cite (names, once each).
    pub documents: Vec<String>,
}

/// The questions, and per question the projected sum of its matched chunks (if any).
pub struct Loaded {
    /// Questions in time order.
    pub questions: Vec<Question>,
    /// Per question: sum of projected chunk embeddings, and how many chunks matched.
    pub vectors: Vec<Option<Vec<f32>>>,
    /// Chunks with an embedding, by dimension (the dominant one is used).
    pub chunk_dims: Vec<(usize, usize)>,
    /// Whether the inputs hold chunks with embeddings at all.
    pub has_documents: bool,
    /// The text of each chunk of the dominant dimension, and its projected embedding
    /// (`DIM` values each, in the same order): course material the word classifier learns from.
    pub chunk_texts: Vec<String>,
    /// See `chunk_texts`.
    pub chunk_vectors: Vec<f32>,
}

fn text_key(text: &str) -> u64 {
    FixedState::default().hash_one(text)
}

async fn stream(
    cat: &mut Catalog,
    sql: &str,
    mut f: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<()> {
    let tables = cat.tables_in(sql)?;
    cat.load(&tables).await?;
    let mut s = cat.ctx().sql(sql).await?.execute_stream().await?;
    while let Some(b) = s.next().await {
        f(&b?)?;
    }
    Ok(())
}

/// Column `c` of `b` as Utf8 (views and large strings cast), read with [`opt`].
fn utf8(b: &RecordBatch, name: &str) -> Result<ArrayRef> {
    Ok(cast(column(b, name)?, &DataType::Utf8)?)
}

/// The column `name` of a query's result: read by name, so that the SQL files may list
/// their columns in any order.
fn column<'b>(b: &'b RecordBatch, name: &str) -> Result<&'b ArrayRef> {
    b.column_by_name(name)
        .ok_or_else(|| Error::Internal(format!("a topics query has no column {name:?}")))
}

/// Row `i` of a Utf8 array, none when null.
fn opt(a: &ArrayRef, i: usize) -> Option<&str> {
    let s = a.as_string::<i32>();
    s.is_valid(i).then(|| s.value(i))
}

/// Reads the questions and, with chunks present, their retrieval vectors.
pub async fn load(cat: &mut Catalog, seed: u64) -> Result<Loaded> {
    let (mut questions, slot) = load_questions(cat).await?;
    let chunk_dims = chunk_dims(cat).await?;
    let has_documents = !chunk_dims.is_empty();
    let chunks = match chunk_dims.first() {
        Some(&(dim, _)) => load_chunks(cat, dim, seed).await?,
        None => Chunks::default(),
    };
    let vectors = match_contexts(cat, &mut questions, &slot, &chunks).await?;
    Ok(Loaded {
        questions,
        vectors,
        chunk_dims,
        has_documents,
        chunk_texts: chunks.texts,
        chunk_vectors: chunks.projected,
    })
}

/// Per conversation: (message index of a question or of its answer, question number),
/// looked up by `&str` so that a context row costs no allocation.
type Slots = HashMap<String, Vec<(i32, usize)>>;

/// Every user question (queries/topics/questions.sql), with where its contexts sit.
async fn load_questions(cat: &mut Catalog) -> Result<(Vec<Question>, Slots)> {
    let mut questions = Vec::new();
    let mut slot: Slots = HashMap::new();
    let sql = include_str!("../../queries/topics/questions.sql");
    stream(cat, sql, |b| {
        let (convo, course, user) = (
            utf8(b, "convo_id")?,
            utf8(b, "course_name")?,
            utf8(b, "user_email")?,
        );
        let (month, text) = (utf8(b, "month")?, utf8(b, "question")?);
        let qi = column(b, "question_index")?.as_primitive::<Int32Type>();
        let ai = column(b, "answer_index")?.as_primitive::<Int32Type>();
        let pos = column(b, "feedback_positive")?.as_boolean();
        let owned = |a: &ArrayRef, i: usize| opt(a, i).map(str::to_owned);
        for i in 0..b.num_rows() {
            let n = questions.len();
            let id = opt(&convo, i).unwrap_or_default().to_owned();
            let slots = slot.entry(id.clone()).or_default();
            slots.push((qi.value(i), n));
            if ai.is_valid(i) {
                slots.push((ai.value(i), n));
            }
            questions.push(Question {
                convo_id: id,
                message_index: qi.value(i),
                course: owned(&course, i),
                user: owned(&user, i),
                month: owned(&month, i),
                text: opt(&text, i).unwrap_or_default().to_owned(),
                positive: pos.is_valid(i).then(|| pos.value(i)),
                documents: Vec::new(),
            });
        }
        Ok(())
    })
    .await?;
    Ok((questions, slot))
}

/// Chunks with an embedding by dimension, the most common first.
async fn chunk_dims(cat: &mut Catalog) -> Result<Vec<(usize, usize)>> {
    let mut dims: HashMap<usize, usize> = HashMap::new();
    stream(
        cat,
        "SELECT array_length(embedding, 1) AS d, count(*) AS n FROM chunks \
         WHERE embedding IS NOT NULL GROUP BY 1",
        |b| {
            let d = cast(column(b, "d")?, &DataType::Int64)?;
            let d = d.as_primitive::<Int64Type>();
            let n = cast(column(b, "n")?, &DataType::Int64)?;
            let n = n.as_primitive::<Int64Type>();
            for i in 0..b.num_rows() {
                if d.is_valid(i) && d.value(i) > 0 {
                    dims.insert(d.value(i) as usize, n.value(i) as usize);
                }
            }
            Ok(())
        },
    )
    .await?;
    let mut chunk_dims: Vec<(usize, usize)> = dims.into_iter().collect();
    chunk_dims.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    Ok(chunk_dims)
}

/// Where a chunk is: its `s3_path`, `url`, and number among the chunks read.
type ChunkPlace = (Option<String>, Option<String>, usize);

/// The chunks of one embedding dimension, projected to [`DIM`].
#[derive(Default)]
struct Chunks {
    /// Text hash → (s3_path, url, chunk number) of the chunks with that text.
    by_text: HashMap<u64, Vec<ChunkPlace>>,
    /// The projected embeddings, [`DIM`] numbers per chunk.
    projected: Vec<f32>,
    /// Each chunk's text.
    texts: Vec<String>,
}

/// Reads the chunks whose embeddings have `dim` numbers, each projected to [`DIM`] by one
/// seeded random matrix.
async fn load_chunks(cat: &mut Catalog, dim: usize, seed: u64) -> Result<Chunks> {
    let mut rng = Rng::new(seed ^ 0x7075_6e6b);
    let scale = (1.0 / DIM as f64).sqrt();
    let matrix: Vec<f32> = (0..dim * DIM)
        .map(|_| (rng.normal() * scale) as f32)
        .collect();
    let mut c = Chunks::default();
    let sql = format!(
        "SELECT s3_path, url, text, embedding FROM chunks \
         WHERE array_length(embedding, 1) = {dim} AND text IS NOT NULL"
    );
    stream(cat, &sql, |b| {
        let (s3, url) = (utf8(b, "s3_path")?, utf8(b, "url")?);
        let text = column(b, "text")?.as_string::<i32>();
        let emb = column(b, "embedding")?.as_list::<i32>();
        for i in 0..b.num_rows() {
            let e = emb.value(i);
            let e = e.as_primitive::<Float32Type>().values();
            let mut out = [0f32; DIM];
            for (j, &x) in e.iter().enumerate() {
                if x != 0.0 {
                    let row = &matrix[j * DIM..(j + 1) * DIM];
                    for (o, m) in out.iter_mut().zip(row) {
                        *o += x * m;
                    }
                }
            }
            let n = c.projected.len() / DIM;
            c.projected.extend_from_slice(&out);
            c.texts.push(text.value(i).to_owned());
            let given = |a: &ArrayRef| opt(a, i).filter(|s| !s.is_empty()).map(str::to_owned);
            c.by_text.entry(text_key(text.value(i))).or_default().push((
                given(&s3),
                given(&url),
                n,
            ));
        }
        Ok(())
    })
    .await?;
    Ok(c)
}

/// Reads the contexts: the documents each question cites, and the sum of the projected
/// embeddings of the chunks it retrieved (found by text, then path or url).
async fn match_contexts(
    cat: &mut Catalog,
    questions: &mut [Question],
    slot: &Slots,
    chunks: &Chunks,
) -> Result<Vec<Option<Vec<f32>>>> {
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; questions.len()];
    // Without chunks to match, the contexts' text (most of an export's bytes) is not read.
    let by_text = !chunks.by_text.is_empty();
    let sql = if by_text {
        "SELECT convo_id, message_index, readable_filename, s3_path, url, text FROM contexts"
    } else {
        "SELECT convo_id, message_index, readable_filename FROM contexts"
    };
    stream(cat, sql, |b| {
        let convo = column(b, "convo_id")?.as_string::<i32>();
        let mi = column(b, "message_index")?.as_primitive::<Int32Type>();
        let name = utf8(b, "readable_filename")?;
        let matching = if by_text {
            let text = column(b, "text")?.as_string::<i32>();
            Some((text, utf8(b, "s3_path")?, utf8(b, "url")?))
        } else {
            None
        };
        for i in 0..b.num_rows() {
            if !mi.is_valid(i) {
                continue;
            }
            let q = slot
                .get(convo.value(i))
                .and_then(|s| s.iter().find(|(m, _)| *m == mi.value(i)));
            let Some(&(_, q)) = q else {
                continue;
            };
            if let Some(n) = opt(&name, i).filter(|n| !n.is_empty()) {
                let docs = &mut questions[q].documents;
                if !docs.iter().any(|d| d == n) {
                    docs.push(n.to_owned());
                }
            }
            let Some((text, s3, url)) = &matching else {
                continue;
            };
            if !text.is_valid(i) {
                continue;
            }
            let Some(cands) = chunks.by_text.get(&text_key(text.value(i))) else {
                continue;
            };
            let hit = cands.iter().find(|(cs, cu, _)| {
                (cs.is_some() && cs.as_deref() == opt(s3, i))
                    || (cu.is_some() && cu.as_deref() == opt(url, i))
            });
            if let Some(&(_, _, n)) = hit {
                let v = vectors[q].get_or_insert_with(|| vec![0f32; DIM]);
                for (o, x) in v.iter_mut().zip(&chunks.projected[n * DIM..(n + 1) * DIM]) {
                    *o += x;
                }
            }
        }
        Ok(())
    })
    .await?;
    Ok(vectors)
}
