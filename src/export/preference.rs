//! Feedback as tuning data, in the shapes TRL's trainers read:
//! - KTO (`KTOTrainer`): one line per rated answer, `prompt` (the conversation up to and
//!   including the question, as messages), `completion` (the answer, one assistant message)
//!   and `label` (the thumbs). Thumbs are unpaired binary feedback, which is KTO's input.
//! - DPO (`DPOTrainer`): `prompt`, `chosen`, `rejected`, where the same question (same course,
//!   same normalized text, asked first in its conversation) got one answer rated up and
//!   another rated down. Pairs are only known once every conversation was read, so the
//!   candidates (rated first answers only) are kept until the end.
//!
//! Contents are plain text (`content` a string in every message), so that `datasets` reads
//! each file as one table with one type per column.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::cursor::Conversation;
use super::openai::{alternates, messages, Msg};
use super::{ExportOptions, ExportReport};
use crate::model::normalize_question;
use crate::table::col::conversations as cv;

/// A KTO line per rated answer of `c`; answers left out are counted in `report` by reason.
pub(crate) fn kto_lines(
    c: &Conversation,
    opts: &ExportOptions,
    report: &mut ExportReport,
) -> Vec<Value> {
    let msgs = messages(c, opts, false);
    let convo_id = c.row.str(cv::convo_id).unwrap_or("");
    let mut out = Vec::new();
    for (j, m) in msgs.iter().enumerate() {
        if m.role != "assistant" {
            continue;
        }
        let Some(label) = m.positive else {
            report.skip("answers not rated");
            continue;
        };
        let prompt = &msgs[..j];
        if prompt.last().is_none_or(|p| p.role != "user") || alternates(prompt).is_err() {
            report.skip("rated answers not after a question");
            continue;
        }
        out.push(json!({
            "prompt": prompt.iter().map(Msg::json).collect::<Vec<_>>(),
            "completion": [m.json()],
            "label": label,
            "convo_id": convo_id,
            "message_index": m.index,
        }));
    }
    out
}

/// A rated answer to a conversation's first question.
struct Candidate {
    created_at: i64,
    convo_id: String,
    prompt: Vec<Value>,
    answer: Value,
}

/// Rated first answers grouped by (course, normalized question), positive and negative.
#[derive(Default)]
pub(crate) struct Pairs {
    groups: BTreeMap<(String, String), (Vec<Candidate>, Vec<Candidate>)>,
}

impl Pairs {
    /// Takes the rated answer to `c`'s first question, if any; other rated answers are
    /// counted in `report`.
    pub(crate) fn add(
        &mut self,
        c: &Conversation,
        opts: &ExportOptions,
        report: &mut ExportReport,
    ) {
        let msgs = messages(c, opts, false);
        let Some(q) = msgs.iter().position(|m| m.role == "user") else {
            return;
        };
        for (j, m) in msgs.iter().enumerate() {
            if m.role != "assistant" || m.positive.is_none() {
                continue;
            }
            if j != q + 1 {
                report.skip("rated answers not to a conversation's first question");
                continue;
            }
            let question = msgs[q].content.as_str().unwrap_or("");
            let key = (
                c.row.str(cv::course_name).unwrap_or("").to_owned(),
                normalize_question(question),
            );
            let cand = Candidate {
                created_at: c.row.ts(cv::created_at).unwrap_or(i64::MIN),
                convo_id: c.row.str(cv::convo_id).unwrap_or("").to_owned(),
                prompt: msgs[..=q].iter().map(Msg::json).collect(),
                answer: m.json(),
            };
            let group = self.groups.entry(key).or_default();
            match m.positive {
                Some(true) => group.0.push(cand),
                _ => group.1.push(cand),
            }
        }
    }

    /// The pairs, in course and question order: per question the answers rated up and down,
    /// each in time order, zipped (so no answer is used twice). The prompt is the chosen
    /// answer's conversation's. Unpaired answers are counted in `report` by reason.
    pub(crate) fn finish(self, report: &mut ExportReport) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for ((course, _), (mut up, mut down)) in self.groups {
            let n = up.len() + down.len();
            if n == 1 {
                report.skip("rated answers to a question asked once");
                continue;
            }
            if up.is_empty() || down.is_empty() {
                for _ in 0..n {
                    report.skip("rated answers to a question rated one way only");
                }
                continue;
            }
            let order = |a: &Candidate, b: &Candidate| {
                (a.created_at, &a.convo_id).cmp(&(b.created_at, &b.convo_id))
            };
            up.sort_by(order);
            down.sort_by(order);
            for _ in 0..up.len().abs_diff(down.len()) {
                report.skip("rated answers left over after pairing");
            }
            for (chosen, rejected) in up.into_iter().zip(down) {
                let line = json!({
                    "prompt": chosen.prompt,
                    "chosen": [chosen.answer],
                    "rejected": [rejected.answer],
                    "course_name": course,
                    "chosen_convo_id": chosen.convo_id,
                    "rejected_convo_id": rejected.convo_id,
                });
                out.push((chosen.convo_id, line));
            }
        }
        out
    }
}
