//! The app's pages as HTML strings, from what the handlers read: the question list with
//! its facets and search, a thread, a document, an error. Server-rendered, no script;
//! every text from an export goes through [`esc`] or the markdown renderer.

use std::fmt::Write;

use super::list::{ListQuery, Selection};
use super::markdown::{esc, link, marked, render};
use super::store::Store;
use super::thread::{Thread, ThreadMessage};
use crate::model::format_timestamp_pg;

/// The app's own rules, on top of the shared page shell.
const STYLE: &str = "
a{color:#0550ae}
.layout{display:flex;gap:24px;align-items:flex-start}
.facets{flex:0 0 220px;font-size:13px}
.facets h3{font-size:13px;margin:14px 0 4px;text-transform:uppercase;color:#57606a}
.facets ul{list-style:none;padding:0;margin:0}
.facets li{margin:2px 0;overflow-wrap:anywhere}
.facets .on{font-weight:600}
.results{flex:1;min-width:0}
form.search{display:flex;gap:8px;margin:12px 0}
form.search input[type=search]{flex:1;min-width:0;font-size:15px;padding:6px 8px}
.row{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:10px 14px;margin:10px 0}
.row .meta,.meta{color:#57606a;font-size:12px}
.row .q{font-weight:600;margin:4px 0;overflow-wrap:anywhere}
.row .a{font-size:14px;color:#24292f;overflow-wrap:anywhere}
mark{background:#fff3b0}
.up{color:#1a7f37}.down{color:#cf222e}
.pager{margin:16px 0;display:flex;gap:16px;flex-wrap:wrap}
.msg{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:8px 16px;margin:12px 0;overflow-wrap:anywhere}
.msg.user{border-left:4px solid #0550ae}.msg.assistant{border-left:4px solid #1a7f37}
.msg pre{background:#f6f8fa;padding:8px;overflow-x:auto}
.ctx{border-top:1px solid #eaeef2;padding:6px 0;font-size:13px}
.ctx .text{white-space:pre-wrap;color:#24292f}
details{margin:6px 0}summary{cursor:pointer;color:#0550ae}
.error{background:#fff;border:1px solid #cf222e;border-radius:8px;padding:12px 16px}
@media (max-width:700px){.layout{flex-direction:column}.facets{flex:none;width:100%;order:2}
.results{order:1;width:100%}nav{padding:8px 12px}}
";

/// The page shell around `body`.
fn page(title: &str, subtitle: &str, body: &str) -> String {
    let mut out = crate::render::page::head(&format!("{title} · chatql"), title, subtitle, STYLE);
    out.push_str(
        "<nav><a href=\"/\">Questions</a><a href=\"/report\">Report</a>\
         <a href=\"/topics\">Topics</a></nav>\n<main>\n",
    );
    out.push_str(body);
    out.push_str("</main>\n</body></html>\n");
    out
}

/// An error page.
pub fn error(status: u16, message: &str) -> String {
    page(
        &format!("Error {status}"),
        "",
        &format!(
            "<div class=\"error\"><p>{}</p><p><a href=\"/\">All questions</a></p></div>",
            esc(message)
        ),
    )
}

fn time(us: Option<i64>) -> String {
    us.map(|u| format_timestamp_pg(u)[..16].to_owned())
        .unwrap_or_default()
}

/// At most `n` characters of `s`, with an ellipsis when cut.
pub fn cut(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_owned(); // no more bytes than n, so no more characters
    }
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// An excerpt of `s` around its first match of `terms` (or its start).
fn excerpt(s: &str, terms: &[String], n: usize) -> String {
    let first = super::search::matches(s, terms).first().map(|r| r.start);
    let start = match first {
        Some(i) if i > n / 3 => {
            let mut at = i - n / 3;
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            at
        }
        _ => 0,
    };
    let text = cut(&s[start..], n);
    let lead = if start > 0 { "…" } else { "" };
    format!("{lead}{}", marked(&text, terms))
}

/// The badge of a thumbs up or down.
fn feedback_badge(feedback: Option<bool>) -> &'static str {
    match feedback {
        Some(true) => "<span class=\"up\">▲ up</span>",
        Some(false) => "<span class=\"down\">▼ down</span>",
        None => "",
    }
}

/// The facets with their counts, each value a link that sets or clears it.
fn facets_html(b: &mut String, l: &ListQuery, sel: &Selection) {
    for (f, counts) in &sel.facets {
        if counts.is_empty() {
            continue;
        }
        let _ = write!(b, "<h3>{f}</h3><ul>");
        let chosen = l.facets.get(f);
        for (v, n) in counts.iter().take(if *f == "document" { 15 } else { 12 }) {
            let on = chosen == Some(v);
            let href = if on {
                l.url_with(&[(f, "")])
            } else {
                l.url_with(&[(f, v)])
            };
            let _ = write!(
                b,
                "<li{}><a href=\"/{}\">{}{}</a> {n}</li>",
                if on { " class=\"on\"" } else { "" },
                esc(&href),
                if on { "✕ " } else { "" },
                esc(v)
            );
        }
        b.push_str("</ul>");
    }
}

/// The search box, keeping the filters chosen.
fn search_form(b: &mut String, l: &ListQuery) {
    let _ = write!(
        b,
        "<form class=\"search\" method=\"get\" action=\"/\">\
         <input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"Search questions, answers, comments; &quot;a phrase&quot;\" aria-label=\"Search\">",
        esc(&l.q)
    );
    for (k, v) in &l.facets {
        let _ = write!(
            b,
            "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
            esc(v)
        );
    }
    if let Some(t) = l.topic {
        let _ = write!(b, "<input type=\"hidden\" name=\"topic\" value=\"{t}\">");
    }
    if let Some(s) = &l.span {
        let _ = write!(
            b,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            s.unit,
            esc(&s.first)
        );
    }
    b.push_str("<button type=\"submit\">Search</button></form>");
}

/// The topic and the span chosen, each with a link that clears it.
fn filter_notes(b: &mut String, l: &ListQuery, sel: &Selection) {
    if let Some((t, label)) = &sel.topic {
        let _ = write!(
            b,
            "<p class=\"meta\">topic {t}{}{} · <a href=\"/{}\">✕ every topic</a> · \
             <a href=\"/topics\">the map</a></p>",
            if label.is_some() { ": " } else { "" },
            esc(label.as_deref().unwrap_or("")),
            esc(&l.url_with(&[("topic", "")])),
        );
    }
    if let Some(s) = &l.span {
        let _ = write!(
            b,
            "<p class=\"meta\">{} {} · <a href=\"/{}\">✕ any time</a></p>",
            if s.unit == "week" {
                "the week of"
            } else {
                "the day"
            },
            esc(&s.first),
            esc(&l.url_with(&[(s.unit, "")])),
        );
    }
}

/// The question list.
pub fn list(
    store: &Store,
    l: &ListQuery,
    sel: &Selection,
    rows: &[usize],
    subtitle: &str,
) -> String {
    let mut b = String::new();
    b.push_str("<div class=\"layout\"><aside class=\"facets\">");
    facets_html(&mut b, l, sel);
    b.push_str("</aside><section class=\"results\">");
    search_form(&mut b, l);
    filter_notes(&mut b, l, sel);
    let total = sel.rows.len();
    let _ = write!(
        b,
        "<p class=\"meta\"><strong>{total}</strong> question{} · sorted by {} · \
         <a href=\"/{}\">by {}</a> · export <a href=\"/questions.csv{}\">CSV</a> \
         <a href=\"/questions.jsonl{}\">JSONL</a> · <a href=\"/api/questions{}\">JSON</a> · \
         <a href=\"/annotate.csv{}\">annotate these</a></p>",
        if total == 1 { "" } else { "s" },
        if l.by_relevance { "relevance" } else { "time" },
        esc(&l.url_with(&[("sort", if l.by_relevance { "time" } else { "relevance" })])),
        if l.by_relevance { "time" } else { "relevance" },
        esc(&l.url_with(&[])),
        esc(&l.url_with(&[])),
        esc(&l.url_with(&[])),
        esc(&l.url_with(&[])),
    );
    for &i in rows {
        let q = &store.questions[i];
        let thread = format!("/c/{}{}", super::http::encode(&q.convo_id), l.url_with(&[]));
        let _ = write!(
            b,
            "<div class=\"row\"><div class=\"meta\">{} · {} · {} · {} {}</div>\
             <div class=\"q\"><a href=\"{}#m{}\">{}</a></div><div class=\"a\">{}</div>",
            esc(&time(q.created_at)),
            esc(q.course.as_deref().unwrap_or("")),
            esc(q.user.as_deref().unwrap_or("(no user)")),
            esc(q.model.as_deref().unwrap_or("")),
            feedback_badge(q.feedback),
            esc(&thread),
            q.message_index,
            excerpt(&q.question, &sel.terms, 300),
            excerpt(q.answer.as_deref().unwrap_or(""), &sel.terms, 240),
        );
        if let Some(c) = &q.comment {
            let _ = write!(
                b,
                "<div class=\"meta\">comment: {}</div>",
                marked(c, &sel.terms)
            );
        }
        if !q.documents.is_empty() {
            b.push_str("<div class=\"meta\">cites: ");
            for (k, d) in q.documents.iter().enumerate() {
                let _ = write!(
                    b,
                    "{}<a href=\"/d{}\">{}</a>",
                    if k > 0 { ", " } else { "" },
                    esc(&super::http::query_string([("name", d.as_str())])),
                    esc(d)
                );
            }
            b.push_str("</div>");
        }
        b.push_str("</div>");
    }
    if total == 0 {
        b.push_str("<p>No question matches.</p>");
    }
    let pages = total.div_ceil(l.per_page).max(1);
    b.push_str("<div class=\"pager\">");
    if l.page > 1 {
        let prev = (l.page - 1).to_string();
        let _ = write!(
            b,
            "<a href=\"/{}\">← previous</a>",
            esc(&l.url_with(&[("page", &prev)]))
        );
    }
    let _ = write!(b, "<span>page {} of {pages}</span>", l.page);
    if l.page < pages {
        let next = (l.page + 1).to_string();
        let _ = write!(
            b,
            "<a href=\"/{}\">next →</a>",
            esc(&l.url_with(&[("page", &next)]))
        );
    }
    b.push_str("</div></section></div>");
    page("Questions", subtitle, &b)
}

/// Where the previous and next conversations of the list are, for a thread's links.
pub struct Neighbours {
    /// The list's URL parameters.
    pub list: String,
    /// The conversation before, and after, in the list.
    pub prev: Option<String>,
    /// The next.
    pub next: Option<String>,
}

/// A conversation.
pub fn thread(t: &Thread, terms: &[String], near: &Neighbours, subtitle: &str) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<p class=\"meta\"><a href=\"/{}\">← the list</a>",
        esc(&near.list)
    );
    for (label, id) in [("previous", &near.prev), ("next", &near.next)] {
        if let Some(id) = id {
            let _ = write!(
                b,
                " · <a href=\"/c/{}{}\">{label}</a>",
                esc(&super::http::encode(id)),
                esc(&near.list)
            );
        }
    }
    b.push_str("</p>");
    let _ = write!(
        b,
        "<p class=\"meta\">{} · {} · {} · {} messages</p>",
        esc(&time(t.created_at)),
        esc(t.course.as_deref().unwrap_or("")),
        esc(t.user.as_deref().unwrap_or("(no user)")),
        t.messages.len()
    );
    let _ = write!(
        b,
        "<details><summary>model, prompt and temperature</summary><p class=\"meta\">model: {}\
         · temperature: {}</p><div class=\"meta\">{}</div></details>",
        esc(t.model.as_deref().unwrap_or("")),
        t.temperature.map(|x| x.to_string()).unwrap_or_default(),
        render(t.prompt.as_deref().unwrap_or(""), &[], None)
    );
    for m in &t.messages {
        message_html(&mut b, m, terms);
    }
    page(
        &cut(t.name.as_deref().unwrap_or("Conversation"), 80),
        subtitle,
        &b,
    )
}

fn message_html(b: &mut String, m: &ThreadMessage, terms: &[String]) {
    let role = if m.role == "user" || m.role == "assistant" {
        m.role.as_str()
    } else {
        "other"
    };
    let _ = write!(
        b,
        "<div class=\"msg {role}\" id=\"m{}\"><div class=\"meta\">#{} {}</div>",
        m.index,
        m.index,
        esc(&m.role)
    );
    let anchor = |n: usize| format!("m{}-c{n}", m.index);
    b.push_str(&render(&m.content, terms, Some(&anchor)));
    if m.feedback.is_some() || m.comment.is_some() {
        let _ = write!(
            b,
            "<p class=\"meta\">feedback: {} {} {}</p>",
            feedback_badge(m.feedback),
            esc(m.category.as_deref().unwrap_or("")),
            marked(m.comment.as_deref().unwrap_or(""), terms)
        );
    }
    if !m.contexts.is_empty() {
        let cited = m.cited();
        let _ = write!(
            b,
            "<div class=\"meta\">{} contexts; cited first</div>",
            m.contexts.len()
        );
        for (n, c) in m.contexts.iter().enumerate() {
            if cited.contains(&(n + 1)) {
                context_html(b, m.index, n + 1, c, terms);
            }
        }
        let rest: Vec<usize> = (1..=m.contexts.len())
            .filter(|n| !cited.contains(n))
            .collect();
        if !rest.is_empty() {
            let _ = write!(
                b,
                "<details><summary>{} more contexts</summary>",
                rest.len()
            );
            for n in rest {
                context_html(b, m.index, n, &m.contexts[n - 1], terms);
            }
            b.push_str("</details>");
        }
    }
    b.push_str("</div>");
}

fn context_html(
    b: &mut String,
    message: i32,
    n: usize,
    c: &super::thread::Context,
    terms: &[String],
) {
    let name = c.name.as_deref().unwrap_or("(no name)");
    let doc = super::http::query_string([("name", name)]);
    let _ = write!(
        b,
        "<div class=\"ctx\" id=\"m{message}-c{n}\"><strong>[{n}]</strong> <a href=\"/d{}\">{}</a>{} {}\
         <div class=\"text\">{}</div></div>",
        esc(&doc),
        esc(name),
        c.page.map(|p| format!(", page {p}")).unwrap_or_default(),
        c.url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .map(|u| link(u, "source"))
            .unwrap_or_default(),
        marked(&cut(c.text.as_deref().unwrap_or(""), 1500), terms)
    );
}

/// One document: the questions that cited it, their negative rate, and its chunks.
pub fn document(
    name: &str,
    store: &Store,
    rows: &[usize],
    chunks: &[(Option<i64>, String)],
    subtitle: &str,
) -> String {
    let mut b = String::new();
    let rated: Vec<bool> = rows
        .iter()
        .filter_map(|&i| store.questions[i].feedback)
        .collect();
    let down = rated.iter().filter(|p| !**p).count();
    let _ = write!(
        b,
        "<p class=\"meta\">{} question{} cite{} it · {} rated, {} down{}</p>",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        if rows.len() == 1 { "s" } else { "" },
        rated.len(),
        down,
        if rated.is_empty() {
            String::new()
        } else {
            format!(
                " ({:.0}% negative)",
                100.0 * down as f64 / rated.len() as f64
            )
        }
    );
    let _ = write!(
        b,
        "<p><a href=\"/{}\">These questions in the list</a></p>",
        esc(&super::http::query_string([("document", name)]))
    );
    for &i in rows.iter().take(50) {
        let q = &store.questions[i];
        let _ = write!(
            b,
            "<div class=\"row\"><div class=\"meta\">{} {}</div><div class=\"q\"><a href=\"/c/{}#m{}\">{}</a></div></div>",
            esc(&time(q.created_at)),
            feedback_badge(q.feedback),
            esc(&super::http::encode(&q.convo_id)),
            q.message_index,
            esc(&cut(&q.question, 300))
        );
    }
    if !chunks.is_empty() {
        let _ = write!(b, "<details><summary>{} chunks</summary>", chunks.len());
        for (page, text) in chunks {
            let _ = write!(
                b,
                "<div class=\"ctx\"><span class=\"meta\">{}</span><div class=\"text\">{}</div></div>",
                page.map(|p| format!("page {p}")).unwrap_or_default(),
                esc(&cut(text, 1500))
            );
        }
        b.push_str("</details>");
    }
    page(&cut(name, 80), subtitle, &b)
}
