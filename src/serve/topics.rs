//! The topic map as the app serves it: its page, with each topic's questions linked to the
//! list, and each question's topic for the list's `topic` filter. Made once, on the first
//! request that needs it (clustering every question takes seconds on a large export).

use std::collections::HashMap;

use super::store::Store;
use crate::topics::TopicMap;

/// The map's page and the topic (1-based id) of each of the store's questions.
pub struct TopicsView {
    /// The page.
    pub page: String,
    /// Per [`Store::questions`] index, its topic's id.
    pub of_question: Vec<Option<u32>>,
    /// Per topic id − 1, its label.
    pub labels: Vec<String>,
}

impl TopicsView {
    /// The view of `m` over the questions of `store`.
    pub fn new(m: &TopicMap, store: &Store, subtitle: &str) -> TopicsView {
        let at: HashMap<(&str, i32), usize> = store
            .questions
            .iter()
            .enumerate()
            .map(|(i, q)| ((q.convo_id.as_str(), q.message_index), i))
            .collect();
        let mut of_question = vec![None; store.questions.len()];
        for a in &m.assignments {
            let q = &m.questions[a.question];
            if let Some(&i) = at.get(&(q.convo_id.as_str(), q.message_index)) {
                of_question[i] = Some(m.topics[a.topic].id as u32);
            }
        }
        let link = |id: usize| format!("/?topic={id}");
        TopicsView {
            page: crate::topics::html::page_linked(m, subtitle, Some(&link)),
            of_question,
            labels: m.topics.iter().map(|t| t.label.clone()).collect(),
        }
    }

    /// The label of topic `id`.
    pub fn label(&self, id: usize) -> Option<&str> {
        id.checked_sub(1)
            .and_then(|i| self.labels.get(i))
            .map(String::as_str)
    }
}
