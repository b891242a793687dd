//! Topics as record batches, so that the terminal, Markdown, CSV and JSON formats and the
//! `--assignments` file come from the one renderer and Parquet writer: the topic table, the
//! representative questions, and one row per question with its topic.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use super::TopicMap;
use crate::error::Result;

fn batch(fields: Vec<(&str, DataType)>, cols: Vec<ArrayRef>) -> Result<RecordBatch> {
    let schema = Schema::new(
        fields
            .into_iter()
            .map(|(n, t)| Field::new(n, t, true))
            .collect::<Vec<_>>(),
    );
    Ok(RecordBatch::try_new(Arc::new(schema), cols)?)
}

fn pct(x: f64) -> f64 {
    (x * 1000.0).round() / 10.0
}

/// One row per topic, largest first.
pub fn topics_batch(m: &TopicMap) -> Result<RecordBatch> {
    let t = &m.topics;
    let ints = |f: &dyn Fn(&super::Topic) -> usize| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(t.iter().map(|x| f(x) as i64)))
    };
    batch(
        vec![
            ("topic", DataType::Int64),
            ("label", DataType::Utf8),
            ("questions", DataType::Int64),
            ("share_pct", DataType::Float64),
            ("conversations", DataType::Int64),
            ("users", DataType::Int64),
            ("negative_pct", DataType::Float64),
            ("rated", DataType::Int64),
            ("top_documents", DataType::Utf8),
            ("per_month", DataType::Utf8),
        ],
        vec![
            ints(&|x| x.id),
            Arc::new(StringArray::from_iter_values(
                t.iter().map(|x| x.label.as_str()),
            )),
            ints(&|x| x.questions),
            Arc::new(Float64Array::from_iter_values(
                t.iter().map(|x| pct(x.share)),
            )),
            ints(&|x| x.conversations),
            ints(&|x| x.users),
            Arc::new(Float64Array::from_iter(
                t.iter().map(|x| x.negative_rate.map(pct)),
            )),
            ints(&|x| x.rated),
            Arc::new(StringArray::from_iter_values(t.iter().map(|x| {
                x.documents
                    .iter()
                    .map(|(d, n)| format!("{d} ({n})"))
                    .collect::<Vec<_>>()
                    .join("; ")
            }))),
            Arc::new(StringArray::from_iter_values(t.iter().map(|x| {
                x.months
                    .iter()
                    .map(|(m, n)| format!("{m}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }))),
        ],
    )
}

/// The representative questions: topic, rank (1 = closest to the centre), question.
pub fn examples_batch(m: &TopicMap) -> Result<RecordBatch> {
    let mut topic = Vec::new();
    let mut rank = Vec::new();
    let mut text = Vec::new();
    for t in &m.topics {
        for (i, q) in t.examples.iter().enumerate() {
            topic.push(t.id as i64);
            rank.push(i as i64 + 1);
            text.push(q.as_str());
        }
    }
    batch(
        vec![
            ("topic", DataType::Int64),
            ("rank", DataType::Int64),
            ("question", DataType::Utf8),
        ],
        vec![
            Arc::new(Int64Array::from(topic)),
            Arc::new(Int64Array::from(rank)),
            Arc::new(StringArray::from(text)),
        ],
    )
}

/// One row per user question: `convo_id`, `message_index`, `topic`, `topic_label`,
/// `distance` (1 − cosine similarity to the topic's centre), `placed_by`.
pub fn assignments_batch(m: &TopicMap) -> Result<RecordBatch> {
    let a = &m.assignments;
    let q = |i: usize| &m.questions[a[i].question];
    batch(
        vec![
            ("convo_id", DataType::Utf8),
            ("message_index", DataType::Int32),
            ("topic", DataType::Int64),
            ("topic_label", DataType::Utf8),
            ("distance", DataType::Float64),
            ("placed_by", DataType::Utf8),
        ],
        vec![
            Arc::new(StringArray::from_iter_values(
                (0..a.len()).map(|i| q(i).convo_id.as_str()),
            )),
            Arc::new(datafusion::arrow::array::Int32Array::from_iter_values(
                (0..a.len()).map(|i| q(i).message_index),
            )),
            Arc::new(Int64Array::from_iter_values(
                a.iter().map(|x| m.topics[x.topic].id as i64),
            )),
            Arc::new(StringArray::from_iter_values(
                a.iter().map(|x| m.topics[x.topic].label.as_str()),
            )),
            Arc::new(Float64Array::from_iter_values(
                a.iter().map(|x| ((x.distance as f64) * 1e4).round() / 1e4),
            )),
            Arc::new(StringArray::from_iter_values(
                a.iter().map(|x| x.placed_by.name()),
            )),
        ],
    )
}
