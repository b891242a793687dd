//! The question list: a typed [`ListQuery`] read from the URL (every state of the page is
//! in it), the questions it selects (facets combined, then the search), facet counts over
//! the selection, the order (time or relevance) and the page.

use std::collections::BTreeMap;

use super::http::{query_string, Refusal, Target};
use super::search::Query;
use super::store::{Facets, Store, NONE};
use super::topics::TopicsView;

/// The parameters of the list (and of the pages opened from it, for previous and next).
pub const LIST_PARAMS: &[&str] = &[
    "q", "course", "model", "month", "feedback", "comment", "document", "topic", "week", "day",
    "sort", "page", "per_page",
];

/// A span of days the list is narrowed to (`week=` or `day=`, a date in the zone served).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// `week` or `day`.
    pub unit: &'static str,
    /// The first day, as given (`YYYY-MM-DD`).
    pub first: String,
    /// Wall-clock µs of its start.
    pub from: i64,
    /// Wall-clock µs of its end (excluded).
    pub until: i64,
}

const DAY_US: i64 = 86_400_000_000;

impl Span {
    fn read(t: &Target) -> Result<Option<Span>, Refusal> {
        let mut found = None;
        for (unit, days) in [("week", 7), ("day", 1)] {
            let Some(v) = t.param(unit) else { continue };
            if found.is_some() {
                return Err(Refusal::new(400, "give week or day, not both"));
            }
            let from = (v.len() == 10)
                .then(|| crate::model::parse_timestamp(v))
                .flatten()
                .ok_or_else(|| Refusal::new(400, format!("{unit} {v:?}: use YYYY-MM-DD")))?;
            found = Some(Span {
                unit,
                first: v.to_owned(),
                from,
                until: from + days * DAY_US,
            });
        }
        Ok(found)
    }
}

/// Rows a page shows by default, and at most.
pub const PER_PAGE: usize = 25;
/// The most rows a page may ask for.
pub const MAX_PER_PAGE: usize = 100;

/// What the list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// The search text, as typed.
    pub q: String,
    /// Facets chosen: course, model, month (`YYYY-MM`), feedback (`up|down|none`),
    /// comment (`yes|no`), document.
    pub facets: BTreeMap<&'static str, String>,
    /// Only the questions of this topic (its 1-based id on the topic map).
    pub topic: Option<usize>,
    /// Only the questions of conversations created in this week or day.
    pub span: Option<Span>,
    /// Order by relevance (with a search) rather than time.
    pub by_relevance: bool,
    /// 1-based page.
    pub page: usize,
    /// Rows per page.
    pub per_page: usize,
}

/// The facets, in the order the page shows them.
pub const FACETS: &[&str] = &[
    "course", "model", "month", "feedback", "comment", "document",
];

impl ListQuery {
    /// Whether the list is every question in the store's order (no search, facet, topic or
    /// span).
    pub fn selects_all(&self) -> bool {
        self.facets.is_empty()
            && self.topic.is_none()
            && self.span.is_none()
            && Query::parse(&self.q).is_empty()
    }

    /// Reads and checks the list's parameters.
    pub fn from_target(t: &Target) -> Result<ListQuery, Refusal> {
        let mut l = ListQuery {
            q: t.param("q").unwrap_or("").to_owned(),
            page: 1,
            per_page: PER_PAGE,
            ..Default::default()
        };
        if l.q.chars().count() > 1000 {
            return Err(Refusal::new(
                400,
                "the search is longer than 1000 characters",
            ));
        }
        for f in FACETS {
            if let Some(v) = t.param(f) {
                l.facets.insert(f, v.to_owned());
            }
        }
        if let Some(m) = l.facets.get("month") {
            let ok = m.len() == 7
                && m.as_bytes()[4] == b'-'
                && m.bytes()
                    .enumerate()
                    .all(|(i, b)| i == 4 || b.is_ascii_digit());
            if !ok {
                return Err(Refusal::new(400, format!("month {m:?}: use YYYY-MM")));
            }
        }
        check_choice(&l.facets, "feedback", &["up", "down", "none"])?;
        check_choice(&l.facets, "comment", &["yes", "no"])?;
        l.by_relevance = match t.param("sort") {
            None => !l.q.trim().is_empty(),
            Some("relevance") => true,
            Some("time") => false,
            Some(s) => {
                return Err(Refusal::new(
                    400,
                    format!("sort {s:?}: use time or relevance"),
                ))
            }
        };
        l.topic = number(t, "topic", 1, 1000)?;
        l.span = Span::read(t)?;
        l.page = number(t, "page", 1, usize::MAX)?.unwrap_or(1);
        l.per_page = number(t, "per_page", 1, MAX_PER_PAGE)?.unwrap_or(PER_PAGE);
        Ok(l)
    }

    /// The URL parameters of this state, with `change` applied (a facet set, cleared with
    /// `""`, or the page).
    pub fn params_with(&self, change: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = Vec::new();
        p.push(("q".into(), self.q.clone()));
        for (k, v) in &self.facets {
            p.push(((*k).into(), v.clone()));
        }
        if let Some(t) = self.topic {
            p.push(("topic".into(), t.to_string()));
        }
        if let Some(s) = &self.span {
            p.push((s.unit.into(), s.first.clone()));
        }
        // The order is given when it is not the default for this search.
        let default_relevance = !self.q.trim().is_empty();
        if self.by_relevance != default_relevance {
            let s = if self.by_relevance {
                "relevance"
            } else {
                "time"
            };
            p.push(("sort".into(), s.into()));
        }
        if self.per_page != PER_PAGE {
            p.push(("per_page".into(), self.per_page.to_string()));
        }
        if self.page != 1 {
            p.push(("page".into(), self.page.to_string()));
        }
        for (k, v) in change {
            p.retain(|(pk, _)| pk != k);
            // A new filter or search starts again at page 1.
            if *k != "page" {
                p.retain(|(pk, _)| pk != "page");
            }
            p.push(((*k).into(), (*v).into()));
        }
        p
    }

    /// The query string of this state with `change` applied.
    pub fn url_with(&self, change: &[(&str, &str)]) -> String {
        let p = self.params_with(change);
        query_string(p.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

fn check_choice(
    f: &BTreeMap<&'static str, String>,
    name: &str,
    choices: &[&str],
) -> Result<(), Refusal> {
    match f.get(name) {
        Some(v) if !choices.contains(&v.as_str()) => Err(Refusal::new(
            400,
            format!("{name} {v:?}: use {}", choices.join(", ")),
        )),
        _ => Ok(()),
    }
}

fn number(t: &Target, name: &str, min: usize, max: usize) -> Result<Option<usize>, Refusal> {
    let Some(v) = t.param(name) else {
        return Ok(None);
    };
    match v.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(Refusal::new(
            400,
            format!("{name} {v:?}: a whole number from {min} to {max}"),
        )),
    }
}

/// The selection of a [`ListQuery`]: every matching question in order, and facet counts.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Indexes into [`Store::questions`] of every match, in the list's order (with
    /// [`Order::ToPage`], up to the end of the page asked for).
    pub rows: Vec<usize>,
    /// Per facet: value → questions of the selection with it, most first.
    pub facets: Facets,
    /// The search's words, for highlighting.
    pub terms: Vec<String>,
    /// The topic chosen, with its label (when the map has it).
    pub topic: Option<(usize, Option<String>)>,
}

/// How much of a selection must be in the list's order.
#[derive(Debug, Clone, Copy)]
pub enum Order {
    /// Every row (an export, a thread's neighbours).
    All,
    /// The rows up to the end of the page asked for: a search in relevance order then picks
    /// the best rows and orders only those, the rest left unordered behind them.
    ToPage,
}

/// Selects, orders and counts. `topics` gives each question's topic id, for `l.topic`
/// (without it, a topic selects nothing).
pub fn select(
    store: &Store,
    l: &ListQuery,
    topics: Option<&TopicsView>,
    order: Order,
) -> Selection {
    let mut sel = select_rows(store, l, topics, order);
    sel.facets = if sel.rows.len() == store.questions.len() {
        // Every question (the first page anyone sees): the store's counts, made once.
        store
            .whole_list_facets
            .get_or_init(|| count_facets(store, &sel.rows))
            .clone()
    } else {
        count_facets(store, &sel.rows)
    };
    sel
}

/// Selects and orders, without facet counts (for a thread's previous and next).
pub fn select_rows(
    store: &Store,
    l: &ListQuery,
    topics: Option<&TopicsView>,
    order: Order,
) -> Selection {
    let query = Query::parse(&l.q);
    let fc = &store.facets;
    // The facets chosen, as codes; a value no question has selects nothing.
    let wanted: Option<Vec<(usize, u32)>> = l
        .facets
        .iter()
        .map(|(f, v)| {
            let k = FACETS.iter().position(|x| x == f)?;
            Some((k, fc.code(k, v)?))
        })
        .collect();
    let in_topic = |i: usize| match l.topic {
        None => true,
        Some(t) => topics.is_some_and(|v| v.of_question[i] == Some(t as u32)),
    };
    let in_span = |i: usize| match &l.span {
        None => true,
        Some(s) => store.questions[i]
            .created_at
            .is_some_and(|at| (s.from..s.until).contains(&at)),
    };
    let keep = |i: usize| {
        in_topic(i)
            && in_span(i)
            && wanted
                .as_ref()
                .is_some_and(|w| w.iter().all(|&(k, c)| fc.has(i, k, c)))
    };
    let mut rows: Vec<usize> = Vec::new();
    if query.is_empty() {
        rows.extend((0..store.questions.len()).filter(|&i| keep(i)));
    } else {
        let mut hits = store.index.search(&query);
        hits.retain(|(d, _)| keep(*d as usize));
        if l.by_relevance {
            order_by_score(&mut hits, order, l);
        }
        rows.extend(hits.into_iter().map(|(d, _)| d as usize));
    }
    Selection {
        rows,
        facets: Vec::new(),
        terms: query.terms,
        topic: l
            .topic
            .map(|t| (t, topics.and_then(|v| v.label(t)).map(str::to_owned))),
    }
}

/// Per facet, its values among `rows` with their counts, most first.
fn count_facets(store: &Store, rows: &[usize]) -> Facets {
    let fc = &store.facets;
    let n = store.questions.len();
    let mut counts: Vec<Vec<usize>> = fc.names.iter().map(|n| vec![0; n.len()]).collect();
    let mut count = |i: usize| {
        for (k, &c) in fc.codes[i].iter().enumerate() {
            if c != NONE {
                counts[k][c as usize] += 1;
            }
        }
        for &c in fc.docs(i) {
            counts[5][c as usize] += 1;
        }
    };
    if rows.len() * 8 >= n {
        // Much of the store (a search in relevance order, say): counted in the store's
        // order, so that its arrays are read from start to end rather than at random.
        let mut chosen = vec![false; n];
        for &i in rows {
            chosen[i] = true;
        }
        (0..n).filter(|&i| chosen[i]).for_each(&mut count);
    } else {
        rows.iter().for_each(|&i| count(i));
    }
    FACETS
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let mut v: Vec<(String, usize)> = counts[k]
                .iter()
                .enumerate()
                .filter(|(_, &n)| n > 0)
                .map(|(c, &n)| (fc.names[k][c].clone(), n))
                .collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            (*f, v)
        })
        .collect()
}

/// Orders search hits best first, equal scores in time order (the store's, which the hits
/// come in), as far as `order` asks. A word in most questions hits tens of thousands of
/// them, and sorting them all was a third of a search's time for a page of 25.
fn order_by_score(hits: &mut [(u32, f64)], order: Order, l: &ListQuery) {
    let upto = match order {
        Order::All => hits.len(),
        Order::ToPage => l.page.saturating_mul(l.per_page).min(hits.len()),
    };
    if upto < hits.len() {
        let by_score = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        hits.select_nth_unstable_by(upto, by_score);
        hits[..upto].sort_unstable_by(by_score);
    } else {
        // Stable, so equal scores keep the time order; also the faster for a whole list
        // (many hits share a score).
        hits.sort_by(|a, b| b.1.total_cmp(&a.1));
    }
}

/// The rows of page `l.page`; a page past the end (of a selection that has rows) is 404.
pub fn page<'a>(sel: &'a Selection, l: &ListQuery) -> Result<&'a [usize], Refusal> {
    let pages = sel.rows.len().div_ceil(l.per_page).max(1);
    if l.page > pages {
        return Err(Refusal::new(
            404,
            format!("page {} of {pages}: there is no such page", l.page),
        ));
    }
    let start = (l.page - 1) * l.per_page;
    Ok(&sel.rows[start..(start + l.per_page).min(sel.rows.len())])
}
