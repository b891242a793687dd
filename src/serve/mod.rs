//! `chatql serve`: course staff read and search every conversation in a local web app.
//!
//! The app is a function from [`http::Request`] to [`http::Response`] ([`App::handle`]):
//! no socket, no server framework, so that tests call it directly and the binary's server
//! (`src/cli/serve.rs`) only moves bytes. At start the questions are read into memory with
//! a search index ([`store`]); a conversation ([`thread`]) and a document are read on
//! demand with SQL from the same session, whose lake versions were fixed when it opened, so
//! a concurrent append never tears a page. The report and the topic map are made on first
//! request and kept.
//!
//! Pages: `/` (the list, [`list`]), `/c/{id}`, `/d?name=`, `/report`, `/topics`; exports
//! `/questions.csv`, `/questions.jsonl` and `/annotate.csv` (the annotation CSV) of the
//! list as filtered; the JSON API
//! `/api/questions` and `/api/conversations/{id}`. Safety is in [`http`].

pub mod http;
pub mod list;
pub mod markdown;
pub mod pages;
pub mod rows;
pub mod search;
pub mod store;
pub mod thread;
pub mod topics;

use datafusion::prelude::SessionContext;

use crate::error::Result;
use crate::query::catalog::sql_str;
use crate::query::{Catalog, CatalogOptions};
use crate::table::redact::Redactor;
use crate::table::Table;
use http::{Refusal, Request, Response, Target};
use list::{ListQuery, LIST_PARAMS};
use store::Store;

/// How the app is served.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// How the inputs are read.
    pub catalog: CatalogOptions,
    /// Show real emails (default: keyed pseudonyms).
    pub show_emails: bool,
    /// The pseudonyms' key (default: random for this run).
    pub redact_key: Option<String>,
    /// The `HOST:PORT` names a request's Host header may have.
    pub hosts: Vec<String>,
}

/// The app: the questions in memory and the session that reads the rest.
pub struct App {
    /// The session's owner: raw exports' spooled tables live as long as it does.
    _catalog: Catalog,
    ctx: SessionContext,
    /// Where each conversation's rows are in a local lake's files (threads read them
    /// without SQL); `None` for other inputs.
    rows: Option<rows::RowIndex>,
    tz: crate::model::Zone,
    store: Store,
    redactor: Option<Redactor>,
    /// The pseudonyms' key, so that the report names users as the list does.
    key: Option<String>,
    hosts: Vec<String>,
    subtitle: String,
    inputs: Vec<String>,
    opts: ServeOptions,
    report: tokio::sync::OnceCell<std::result::Result<String, String>>,
    topics: tokio::sync::OnceCell<std::result::Result<topics::TopicsView, String>>,
}

/// A random key for this run's pseudonyms.
fn random_key() -> String {
    use sha2::Digest;
    use std::io::Read;
    let mut b = [0u8; 16];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
        b.copy_from_slice(&sha2::Sha256::digest(seed.as_bytes())[..16]);
    }
    hex::encode(b)
}

impl App {
    /// Opens `inputs` (every table read now) and reads the questions.
    pub async fn open(inputs: &[String], opts: ServeOptions) -> Result<App> {
        let mut cat = Catalog::open(inputs, &opts.catalog).await?;
        cat.load(&Table::ALL.iter().copied().collect()).await?;
        let key = (!opts.show_emails).then(|| opts.redact_key.clone().unwrap_or_else(random_key));
        let redactor = key.as_deref().map(Redactor::new);
        let store = Store::load(&mut cat, redactor.as_ref()).await?;
        // A thread's queries select one conversation's rows: with the filter pushed into the
        // Parquet scan, only the pages holding them are decoded (a thread of the 3 GB lake's
        // contexts: 120 ms to 30 ms).
        cat.ctx()
            .sql("SET datafusion.execution.parquet.pushdown_filters = true")
            .await?;
        let rows = match cat.lakes() {
            [lake] if lake.remote.is_none() && lake.keys().is_empty() => {
                let lake = lake.clone();
                let built = tokio::task::spawn_blocking(move || rows::RowIndex::build(&lake)).await;
                Some(built.map_err(|e| crate::Error::Internal(e.to_string()))??)
            }
            _ => None,
        };
        let subtitle = format!(
            "{} · {} questions · times in {}{}",
            inputs.join(", "),
            store.questions.len(),
            opts.catalog.tz,
            if opts.show_emails {
                " · real emails shown"
            } else {
                ""
            }
        );
        Ok(App {
            ctx: cat.ctx().clone(),
            rows,
            tz: cat.tz(),
            _catalog: cat,
            store,
            redactor,
            key,
            hosts: opts.hosts.clone(),
            subtitle,
            inputs: inputs.to_vec(),
            opts,
            report: Default::default(),
            topics: Default::default(),
        })
    }

    /// The questions, for tests and benchmarks.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Answers one request; never fails: a refusal is a 4xx page or JSON error, a fault
    /// of reading a 500 with the reason.
    pub async fn handle(&self, req: &Request) -> Response {
        let api = req.target.starts_with("/api/");
        let outcome = match http::check(req, &self.hosts) {
            Ok(t) => self.route(&t).await,
            Err(r) => Err(r),
        };
        let mut resp = match outcome {
            Ok(r) => r,
            Err(r) if api => Response::json(r.status, &serde_json::json!({"error": r.message})),
            Err(r) => Response::html(r.status, pages::error(r.status, &r.message)),
        };
        if resp.status == 405 {
            resp.headers.push(("Allow", "GET, HEAD".into()));
        }
        resp
    }

    async fn route(&self, t: &Target) -> std::result::Result<Response, Refusal> {
        let seg: Vec<&str> = t.segments.iter().map(String::as_str).collect();
        match seg.as_slice() {
            [] => self.list_page(t).await,
            ["c", id] => self.thread_page(t, id).await,
            ["d"] => self.document_page(t).await,
            ["api", "questions"] => self.api_questions(t).await,
            ["api", "conversations", id] => self.api_thread(t, id).await,
            ["questions.csv"] => self.export(t, false).await,
            ["questions.jsonl"] => self.export(t, true).await,
            ["annotate.csv"] => self.annotate(t).await,
            ["report"] => self.report_page(t).await,
            ["topics"] => self.topics_page(t).await,
            _ => Err(Refusal::new(404, "no such page")),
        }
    }

    async fn list_page(&self, t: &Target) -> std::result::Result<Response, Refusal> {
        http::only(t, LIST_PARAMS)?;
        let l = ListQuery::from_target(t)?;
        let sel = self.select(&l, list::Order::ToPage).await?;
        let rows = list::page(&sel, &l)?;
        Ok(Response::html(
            200,
            pages::list(&self.store, &l, &sel, rows, &self.subtitle),
        ))
    }

    async fn thread_page(&self, t: &Target, id: &str) -> std::result::Result<Response, Refusal> {
        http::only(t, LIST_PARAMS)?;
        let l = ListQuery::from_target(t)?;
        let thread = self.thread(id).await?;
        // Previous and next need the list's order, not its facet counts; the whole list is
        // the store's order, where the conversation's neighbours sit next to its questions.
        let want = self.store.convo_number(id);
        let (near, terms) = if l.selects_all() {
            let from = want.map_or(0, |n| self.store.convo_first[n as usize].saturating_sub(1));
            let rows = from..self.store.questions.len();
            (self.neighbours(rows, &l, want), Vec::new())
        } else {
            let topics = self.topic_filter(&l).await?;
            let sel = list::select_rows(&self.store, &l, topics, list::Order::All);
            (
                self.neighbours(sel.rows.iter().copied(), &l, want),
                sel.terms,
            )
        };
        Ok(Response::html(
            200,
            pages::thread(&thread, &terms, &near, &self.subtitle),
        ))
    }

    async fn thread(&self, id: &str) -> std::result::Result<thread::Thread, Refusal> {
        let src = match &self.rows {
            Some(index) => thread::Source::Lake(index, self.tz),
            None => thread::Source::Sql(&self.ctx),
        };
        match thread::Thread::load(&src, id, self.redactor.as_ref()).await {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err(Refusal::new(404, format!("no conversation {id:?}"))),
            Err(e) => Err(Refusal::new(500, e.to_string())),
        }
    }

    /// The conversations before and after conversation number `want` in the list whose
    /// `rows` (question indexes, in the list's order) are given; a conversation's questions
    /// are next to each other in it, so each counts once.
    fn neighbours(
        &self,
        rows: impl Iterator<Item = usize>,
        l: &ListQuery,
        want: Option<u32>,
    ) -> pages::Neighbours {
        let s = &self.store;
        let (mut prev, mut next) = (None, None);
        if let Some(want) = want {
            let (mut last, mut found) = (None::<usize>, false);
            for i in rows {
                let c = s.convo_of[i];
                if last.is_some_and(|j| s.convo_of[j] == c) {
                    continue;
                }
                if found {
                    next = Some(i);
                    break;
                }
                if c == want {
                    found = true;
                    prev = last;
                }
                last = Some(i);
            }
        }
        let id_of = |i: usize| s.questions[i].convo_id.clone();
        pages::Neighbours {
            list: l.url_with(&[]),
            prev: prev.map(id_of),
            next: next.map(id_of),
        }
    }

    async fn document_page(&self, t: &Target) -> std::result::Result<Response, Refusal> {
        http::only(t, &["name"])?;
        let name = t
            .param("name")
            .ok_or_else(|| Refusal::new(400, "which document? give ?name="))?;
        let rows: Vec<usize> = (0..self.store.questions.len())
            .filter(|&i| self.store.questions[i].documents.iter().any(|d| d == name))
            .collect();
        let chunks = self
            .chunks_of(name)
            .await
            .map_err(|e| Refusal::new(500, e.to_string()))?;
        if rows.is_empty() && chunks.is_empty() {
            return Err(Refusal::new(
                404,
                format!("no document {name:?} is cited or loaded"),
            ));
        }
        Ok(Response::html(
            200,
            pages::document(name, &self.store, &rows, &chunks, &self.subtitle),
        ))
    }

    /// The chunks of the document export whose file name is `name` (by its `s3_path`'s
    /// last part, as the contexts name them), in order.
    async fn chunks_of(&self, name: &str) -> Result<Vec<(Option<i64>, String)>> {
        use datafusion::arrow::array::{Array, AsArray};
        use datafusion::arrow::datatypes::Int64Type;
        let sql = format!(
            "SELECT pagenumber, text FROM chunks WHERE text IS NOT NULL AND \
             (s3_path LIKE {pat} OR url = {exact}) ORDER BY chunk_index LIMIT 500",
            pat = sql_str(&format!("%{}", name.replace(['%', '_'], ""))),
            exact = sql_str(name)
        );
        let mut out = Vec::new();
        for b in self.ctx.sql(&sql).await?.collect().await? {
            let p = datafusion::arrow::compute::cast(
                b.column(0),
                &datafusion::arrow::datatypes::DataType::Int64,
            )?;
            let p = p.as_primitive::<Int64Type>();
            let txt = datafusion::arrow::compute::cast(
                b.column(1),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )?;
            let txt = txt.as_string::<i32>();
            for i in 0..b.num_rows() {
                out.push((p.is_valid(i).then(|| p.value(i)), txt.value(i).to_owned()));
            }
        }
        Ok(out)
    }

    async fn api_questions(&self, t: &Target) -> std::result::Result<Response, Refusal> {
        http::only(t, LIST_PARAMS)?;
        let l = ListQuery::from_target(t)?;
        let sel = self.select(&l, list::Order::ToPage).await?;
        let rows = list::page(&sel, &l)?;
        let facets: serde_json::Map<String, serde_json::Value> = sel
            .facets
            .iter()
            .map(|(f, counts)| {
                let m: serde_json::Map<String, serde_json::Value> = counts
                    .iter()
                    .map(|(v, n)| (v.clone(), (*n).into()))
                    .collect();
                ((*f).to_owned(), m.into())
            })
            .collect();
        Ok(Response::json(
            200,
            &serde_json::json!({
                "total": sel.rows.len(),
                "page": l.page,
                "per_page": l.per_page,
                "rows": rows.iter().map(|&i| question_json(&self.store.questions[i])).collect::<Vec<_>>(),
                "facets": facets,
            }),
        ))
    }

    async fn api_thread(&self, t: &Target, id: &str) -> std::result::Result<Response, Refusal> {
        http::only(t, &[])?;
        Ok(Response::json(200, &self.thread(id).await?.json()))
    }

    /// Every question the list selects (all pages), as CSV or JSON lines.
    async fn export(&self, t: &Target, jsonl: bool) -> std::result::Result<Response, Refusal> {
        http::only(t, LIST_PARAMS)?;
        let l = ListQuery::from_target(t)?;
        let sel = self.select(&l, list::Order::All).await?;
        if jsonl {
            let mut body = Vec::new();
            for &i in &sel.rows {
                body.extend(
                    serde_json::to_vec(&question_json(&self.store.questions[i]))
                        .unwrap_or_default(),
                );
                body.push(b'\n');
            }
            return Ok(Response::download(
                "application/x-ndjson",
                "questions.jsonl",
                body,
            ));
        }
        let mut w = csv::Writer::from_writer(Vec::new());
        let header = [
            "convo_id",
            "message_index",
            "created_at",
            "course_name",
            "user",
            "model",
            "question",
            "answer",
            "feedback",
            "feedback_category",
            "feedback_comment",
            "documents",
        ];
        let _ = w.write_record(header);
        for &i in &sel.rows {
            let q = &self.store.questions[i];
            let _ = w.write_record([
                q.convo_id.as_str(),
                &q.message_index.to_string(),
                &q.created_at
                    .map(crate::model::format_timestamp_pg)
                    .unwrap_or_default(),
                q.course.as_deref().unwrap_or(""),
                q.user.as_deref().unwrap_or(""),
                q.model.as_deref().unwrap_or(""),
                &q.question,
                q.answer.as_deref().unwrap_or(""),
                q.feedback_name(),
                q.category.as_deref().unwrap_or(""),
                q.comment.as_deref().unwrap_or(""),
                &q.documents.join("; "),
            ]);
        }
        let body = w.into_inner().unwrap_or_default();
        Ok(Response::download(
            "text/csv; charset=utf-8",
            "questions.csv",
            body,
        ))
    }

    /// "Annotate these": the selected questions as `export --to annotation`'s CSV, so the
    /// filled file joins the tables as `annotations` (its cell is `serve`, and the sources
    /// are the documents the list shows).
    async fn annotate(&self, t: &Target) -> std::result::Result<Response, Refusal> {
        http::only(t, LIST_PARAMS)?;
        let l = ListQuery::from_target(t)?;
        let sel = self.select(&l, list::Order::All).await?;
        let mut body = crate::export::annotation::header_line();
        body.push('\n');
        for &i in &sel.rows {
            let q = &self.store.questions[i];
            // Rated answers only: the annotation file leaves the unrated cell empty.
            let feedback = q.feedback.map_or("", |_| q.feedback_name());
            let at = q
                .created_at
                .map(crate::model::format_timestamp_pg)
                .unwrap_or_default();
            body.push_str(&crate::export::annotation::line([
                &q.convo_id,
                &q.answer_index.unwrap_or(q.message_index).to_string(),
                "serve",
                q.course.as_deref().unwrap_or(""),
                &at,
                q.user.as_deref().unwrap_or(""),
                q.model.as_deref().unwrap_or(""),
                &q.question,
                q.answer.as_deref().unwrap_or(""),
                &q.documents.join("; "),
                feedback,
                q.category.as_deref().unwrap_or(""),
                q.comment.as_deref().unwrap_or(""),
            ]));
            body.push('\n');
        }
        Ok(Response::download(
            "text/csv; charset=utf-8",
            "annotate.csv",
            body.into_bytes(),
        ))
    }

    async fn report_page(&self, t: &Target) -> std::result::Result<Response, Refusal> {
        http::only(t, &[])?;
        let page = self
            .report
            .get_or_init(|| async {
                let opts = crate::report::ReportOptions {
                    catalog: self.opts.catalog.clone(),
                    redact_key: self.key.clone(),
                    ..Default::default()
                };
                crate::report::generate(&self.inputs, &opts, |_, _| {})
                    .await
                    .map(|r| {
                        crate::report::html::report_page_linked(
                            &r,
                            &self.subtitle,
                            &report_link,
                            Some("/"),
                        )
                    })
                    .map_err(|e| e.to_string())
            })
            .await;
        page.clone()
            .map(|p| Response::html(200, p))
            .map_err(|e| Refusal::new(500, e))
    }

    async fn topics_page(&self, t: &Target) -> std::result::Result<Response, Refusal> {
        http::only(t, &[])?;
        match self.topics().await {
            Ok(v) => Ok(Response::html(200, v.page.clone())),
            Err(e) => Err(Refusal::new(500, e.clone())),
        }
    }

    /// The topic map, made on first use.
    async fn topics(&self) -> &std::result::Result<topics::TopicsView, String> {
        self.topics
            .get_or_init(|| async {
                let opts = crate::topics::TopicOptions::default();
                let restriction = crate::query::Restriction::default();
                match crate::topics::from_inputs(
                    &self.inputs,
                    &self.opts.catalog,
                    &restriction,
                    &opts,
                )
                .await
                {
                    Ok(Some(m)) => Ok(topics::TopicsView::new(&m, &self.store, &self.subtitle)),
                    Ok(None) => Err("no user questions to find topics in".to_owned()),
                    Err(e) => Err(e.to_string()),
                }
            })
            .await
    }

    /// The questions `l` selects, with facet counts; a topic filter makes the topic map
    /// first.
    async fn select(
        &self,
        l: &ListQuery,
        order: list::Order,
    ) -> std::result::Result<list::Selection, Refusal> {
        Ok(list::select(
            &self.store,
            l,
            self.topic_filter(l).await?,
            order,
        ))
    }

    /// The topic map when `l` filters by topic.
    async fn topic_filter(
        &self,
        l: &ListQuery,
    ) -> std::result::Result<Option<&topics::TopicsView>, Refusal> {
        match l.topic {
            None => Ok(None),
            Some(_) => match self.topics().await {
                Ok(v) => Ok(Some(v)),
                Err(e) => Err(Refusal::new(500, e.clone())),
            },
        }
    }
}

/// A question as the API and the JSON lines export give it.
fn question_json(q: &store::Question) -> serde_json::Value {
    serde_json::json!({
        "convo_id": q.convo_id,
        "message_index": q.message_index,
        "created_at": q.created_at.map(crate::model::format_timestamp_pg),
        "course_name": q.course,
        "user": q.user,
        "question": q.question,
        "answer": q.answer,
        "model": q.model,
        "feedback": q.feedback_name(),
        "feedback_category": q.category,
        "feedback_comment": q.comment,
        "documents": q.documents,
    })
}

/// Where a report cell leads in the app: a course, model or month to the list filtered by it,
/// a document to its page, a count of negative feedback to the list of those answers (with the
/// row's course, model, month or document).
fn report_link(col: &str, text: &str, row: &[(&str, String)]) -> Option<String> {
    let month_like = |t: &str| t.len() == 7 && t.as_bytes()[4] == b'-';
    let date_like = |t: &str| t.len() == 10 && crate::model::parse_timestamp(t).is_some();
    if text.is_empty() {
        return None;
    }
    match col {
        "course" | "model" => Some(format!("/?{col}={}", http::encode(text))),
        "month" if month_like(text) => Some(format!("/?month={text}")),
        "week" | "day" if date_like(text) => Some(format!("/?{col}={text}")),
        "document" => Some(format!("/d?name={}", http::encode(text))),
        "negative" if text != "0" => {
            let mut q: Vec<String> = row
                .iter()
                .filter(|(n, v)| {
                    !v.is_empty()
                        && (matches!(*n, "course" | "model" | "document")
                            || (*n == "month" && month_like(v)))
                })
                .map(|(n, v)| format!("{n}={}", http::encode(v)))
                .collect();
            if q.is_empty() {
                return None;
            }
            q.push("feedback=down".into());
            Some(format!("/?{}", q.join("&")))
        }
        _ => None,
    }
}
