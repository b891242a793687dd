//! `chatql serve`'s app driven request by request, without a socket (the app is a function
//! from request to response), on the shipped testdata: exact totals, facet counts and
//! search hits (worked out from testdata/generate.py's 22 user questions), every refusal a
//! 4xx, a hostile export proven inert; and the real binary on a port.

use std::sync::OnceLock;

use chatql::serve::http::{Request, Response};
use chatql::serve::{App, ServeOptions};

use crate::common::{data, testdata_lake};

const HOST: &str = "127.0.0.1:8001";

fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Runtime::new().unwrap())
}

fn open(inputs: &[String]) -> App {
    let opts = ServeOptions {
        redact_key: Some("test-key".into()),
        hosts: vec![HOST.into()],
        ..Default::default()
    };
    rt().block_on(App::open(inputs, opts)).unwrap()
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| open(&[testdata_lake().to_string_lossy().into_owned()]))
}

fn get_from(app: &App, target: &str) -> Response {
    rt().block_on(app.handle(&Request::get(target, HOST)))
}

fn get(target: &str) -> Response {
    get_from(app(), target)
}

fn json(target: &str) -> serde_json::Value {
    let r = get(target);
    assert_eq!(
        r.status,
        200,
        "{target}: {}",
        String::from_utf8_lossy(&r.body)
    );
    serde_json::from_slice(&r.body).unwrap()
}

fn html(target: &str) -> String {
    let r = get(target);
    assert_eq!(r.status, 200, "{target}");
    String::from_utf8(r.body).unwrap()
}

#[test]
fn the_list_counts_every_question_and_its_facets() {
    let v = json("/api/questions?per_page=1");
    assert_eq!(v["total"], 22);
    assert_eq!(v["rows"].as_array().unwrap().len(), 1);
    let f = &v["facets"];
    assert_eq!(
        f["course"],
        serde_json::json!({"ECE120": 12, "ECE110": 8, "cs101": 2})
    );
    assert_eq!(
        f["feedback"],
        serde_json::json!({"none": 19, "up": 2, "down": 1})
    );
    assert_eq!(f["comment"], serde_json::json!({"no": 21, "yes": 1}));
    assert_eq!(f["model"]["gpt-3.5-turbo"], 5);
    assert_eq!(f["month"]["2023-09"], 5);
    assert_eq!(f["document"]["Lecture 9.pdf"], 5);
    // Facets combine, and count within the selection.
    let v = json("/api/questions?course=ECE120&model=gpt-3.5-turbo");
    assert_eq!(v["total"], 5);
    assert_eq!(
        v["facets"]["document"],
        serde_json::json!({"Lecture 9.pdf": 5})
    );
    let v = json("/api/questions?feedback=down");
    assert_eq!(v["total"], 1);
    // A selection of few questions is counted row by row, a large one in the store's order.
    assert_eq!(v["facets"]["feedback"], serde_json::json!({"down": 1}));
    assert_eq!(v["facets"]["comment"], serde_json::json!({"yes": 1}));
    assert_eq!(v["rows"][0]["question"], "What is the late policy?");
    assert_eq!(v["rows"][0]["feedback_comment"], "It is 5%.");
    assert_eq!(
        json("/api/questions?month=2024-06&course=ECE110")["total"],
        3
    );
    assert_eq!(json("/api/questions?comment=yes")["total"], 1);
    assert_eq!(json("/api/questions?document=syllabus.pdf")["total"], 1);
    // Newest first; pages of the same selection cover it once.
    let all = json("/api/questions?per_page=100");
    assert_eq!(all["rows"][0]["created_at"], "2025-11-20T09:00:00+00:00");
    let (p1, p2) = (
        json("/api/questions?per_page=20"),
        json("/api/questions?per_page=20&page=2"),
    );
    assert_eq!(
        p1["rows"].as_array().unwrap().len() + p2["rows"].as_array().unwrap().len(),
        22
    );
}

#[test]
fn search_ranks_matches_phrases_and_marks_words() {
    // "resistor": three answers "Replace the network with a source and a resistor." and
    // one question "Explain this circuit ... A resistor network".
    let v = json("/api/questions?q=resistor&per_page=100");
    assert_eq!(v["total"], 4);
    assert_eq!(v["facets"]["course"], serde_json::json!({"ECE110": 4}));
    let v = json("/api/questions?q=%22source+and+a+resistor%22");
    assert_eq!(v["total"], 3);
    assert_eq!(json("/api/questions?q=%22resistor+and%22")["total"], 0);
    // Every word must be there.
    assert_eq!(json("/api/questions?q=thevenin+resistor")["total"], 4);
    assert_eq!(json("/api/questions?q=thevenin+flip")["total"], 0);
    // Feedback comments are searched too.
    assert_eq!(json("/api/questions?q=5")["total"], 1);
    let page = html("/?q=resistor");
    assert!(page.contains("<mark>resistor</mark>"), "{page}");
    assert!(page.contains("<strong>4</strong> questions · sorted by relevance"));
    let page = html("/?q=resistor&sort=time");
    assert!(page.contains("sorted by time"));
}

/// A question's place: its conversation and message index.
fn question_key(r: &serde_json::Value) -> (String, i64) {
    (
        r["convo_id"].as_str().unwrap().to_owned(),
        r["message_index"].as_i64().unwrap(),
    )
}

#[test]
fn pages_of_a_search_in_relevance_order_are_the_whole_order_cut() {
    // A page orders only the best rows up to its end; the export orders them all. Page by
    // page, one row each, they must agree, ties (equal scores) in time order included.
    for q in ["resistor", "thevenin", "what", "the"] {
        let r = get(&format!("/questions.jsonl?q={q}"));
        assert_eq!(r.status, 200);
        let whole: Vec<(String, i64)> = String::from_utf8(r.body)
            .unwrap()
            .lines()
            .map(|l| question_key(&serde_json::from_str(l).unwrap()))
            .collect();
        assert!(whole.len() >= 2, "{q}: {}", whole.len());
        let paged: Vec<(String, i64)> = (1..=whole.len())
            .map(|p| {
                question_key(&json(&format!("/api/questions?q={q}&per_page=1&page={p}"))["rows"][0])
            })
            .collect();
        assert_eq!(paged, whole, "{q}");
        // And pages of 3 are the same cut.
        let v = json(&format!("/api/questions?q={q}&per_page=3&page=2"));
        let rows: Vec<(String, i64)> = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(question_key)
            .collect();
        assert_eq!(rows, whole[3.min(whole.len())..6.min(whole.len())], "{q}");
    }
}

#[test]
fn a_thread_shows_every_message_its_contexts_and_neighbours() {
    let page = html("/c/2b000000-0000-4000-8000-000000002001?course=ECE120");
    assert!(
        page.contains("id=\"m0\"") && page.contains("id=\"m1\""),
        "{page}"
    );
    assert!(page.contains("What is a finite state machine?"));
    // Three contexts on the question, shown as the first five (no <cite> tags here).
    assert!(page.contains("3 contexts; cited first"), "{page}");
    assert!(page.contains("page 19"));
    assert!(page.contains("← the list"));
    assert!(page.contains("previous") || page.contains("next"));
    let v = json("/api/conversations/2b000000-0000-4000-8000-000000002001");
    assert_eq!(v["course_name"], "ECE120");
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["contexts"].as_array().unwrap().len(), 3);
    assert_eq!(msgs[0]["cited"], serde_json::json!([1, 2, 3]));
    let r = get("/api/conversations/no-such-id");
    assert_eq!(r.status, 404);
    assert_eq!(r.content_type, "application/json");
    let e: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(e["error"], "no conversation \"no-such-id\"");
}

/// The previous and next conversations a thread page links to.
fn neighbours_on(page: &str) -> [Option<String>; 2] {
    ["previous", "next"].map(|label| {
        let end = page.find(&format!("\">{label}</a>"))?;
        let start = page[..end].rfind("href=\"/c/")? + "href=\"/c/".len();
        Some(page[start..end].split('?').next().unwrap().to_owned())
    })
}

#[test]
fn a_thread_links_the_conversations_before_and_after_it_in_its_list() {
    // For the whole list, a course, a search and a month: each conversation's neighbours
    // are the ones next to it in the API's order of that list (a conversation once).
    for params in [
        "",
        "course=ECE120",
        "q=resistor",
        "month=2024-06&course=ECE110",
    ] {
        let v = json(&format!("/api/questions?per_page=100&{params}"));
        let mut order: Vec<String> = Vec::new();
        for r in v["rows"].as_array().unwrap() {
            let c = r["convo_id"].as_str().unwrap().to_owned();
            if order.last() != Some(&c) {
                order.push(c);
            }
        }
        assert!(order.len() >= 2, "{params}: {order:?}");
        for (k, c) in order.iter().enumerate() {
            let page = html(&format!("/c/{c}?{params}"));
            let want = [
                k.checked_sub(1).map(|j| order[j].clone()),
                order.get(k + 1).cloned(),
            ];
            assert_eq!(neighbours_on(&page), want, "{params}, conversation {k}");
        }
    }
    // A conversation outside the list has no neighbours in it.
    let page = html("/c/2b000000-0000-4000-8000-000000002001?course=ECE110");
    assert_eq!(neighbours_on(&page), [None, None]);
}

#[test]
fn a_document_lists_the_questions_that_cite_it() {
    let page = html("/d?name=Lecture%209.pdf");
    assert!(
        page.contains("5 questions cite it · 0 rated, 0 down"),
        "{page}"
    );
    let page = html("/d?name=syllabus.pdf");
    assert!(
        page.contains("1 question cites it · 1 rated, 1 down (100% negative)"),
        "{page}"
    );
    assert_eq!(get("/d?name=nothing.pdf").status, 404);
    assert_eq!(get("/d").status, 400);
}

#[test]
fn exports_hold_exactly_the_selection() {
    let r = get("/questions.csv?course=ECE110&q=thevenin");
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body).unwrap();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| &r[3] == "ECE110"));
    let r = get("/questions.jsonl?feedback=up");
    let lines: Vec<serde_json::Value> = String::from_utf8(r.body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["feedback"] == "up"));
}

/// The served report links its rows to the list: a course, a month, a model's negative
/// feedback; the lists those links open hold exactly the questions the row counts.
#[test]
fn report_rows_link_to_the_filtered_list() {
    let page = html("/report");
    assert!(
        page.contains("<a href=\"/?course=ECE120\">ECE120</a>"),
        "no course link"
    );
    let month = page.find("<a href=\"/?month=").expect("no month link");
    assert!(page[month..].starts_with("<a href=\"/?month=20"));
    // Every negative-feedback link opens a list of down-rated answers only, as many as the
    // cell says.
    let mut checked = 0;
    for part in page.split("<a href=\"").skip(1) {
        let (url, rest) = part.split_once("\">").unwrap();
        if !url.contains("feedback=down") {
            continue;
        }
        let shown: usize = rest.split('<').next().unwrap().parse().unwrap();
        let api = json(&format!(
            "/api/questions{}",
            &url[1..].replace("&amp;", "&")
        ));
        assert_eq!(api["total"], shown as u64, "{url}");
        checked += 1;
    }
    assert!(checked >= 2, "{checked} negative-feedback links");
}

/// The report's weeks and days link to the list of their questions: every question whose
/// conversation has a time (20 of the 22) is in exactly one week and one day.
#[test]
fn report_weeks_and_days_link_to_their_questions() {
    let page = html("/report");
    for unit in ["week", "day"] {
        let mut links: Vec<&str> = page
            .split(&format!("<a href=\"/?{unit}="))
            .skip(1)
            .map(|p| p.split('"').next().unwrap())
            .collect();
        links.sort();
        links.dedup();
        assert!(links.len() >= 5, "{} {unit} links", links.len());
        let total: u64 = links
            .iter()
            .map(|d| {
                let list = html(&format!("/?{unit}={d}"));
                assert!(
                    list.contains(&format!("{d} · <a href=")),
                    "{unit} {d} shown"
                );
                json(&format!("/api/questions?{unit}={d}"))["total"]
                    .as_u64()
                    .unwrap()
            })
            .sum();
        assert_eq!(total, 20, "{unit}s");
    }
    // The week of 2023-08-28 (a Monday) holds five questions, as SQL counts them.
    assert_eq!(json("/api/questions?week=2023-08-28")["total"], 5);
    assert_eq!(get("/?week=2025-13-01").status, 400);
    assert_eq!(get("/?week=2025-03-03&day=2025-03-04").status, 400);
}

/// Each topic's question count links to the list of that topic's questions, which holds
/// exactly that many; the topics' lists partition the 22 questions.
#[test]
fn topic_rows_link_to_their_questions() {
    let page = html("/topics");
    assert!(
        page.contains("<nav><a href=\"/\">← Questions</a>"),
        "the app's navigation"
    );
    let mut seen = 0;
    let mut topics = 0;
    for part in page.split("<a href=\"/?topic=").skip(1) {
        let (id, rest) = part.split_once("\" title=\"these questions\">").unwrap();
        let shown: u64 = rest.split('<').next().unwrap().parse().unwrap();
        let api = json(&format!("/api/questions?topic={id}&per_page=100"));
        assert_eq!(api["total"], shown, "topic {id}");
        let list = html(&format!("/?topic={id}"));
        assert!(
            list.contains(&format!("topic {id}: ")),
            "topic {id}'s label"
        );
        assert!(
            list.contains("name=\"topic\" value=\""),
            "the search keeps the topic"
        );
        seen += shown;
        topics += 1;
    }
    assert!(topics >= 2, "{topics} topic links");
    assert_eq!(seen, 22);
    // A topic the map does not have selects nothing; a malformed one is refused.
    assert_eq!(json("/api/questions?topic=999")["total"], 0);
    assert_eq!(get("/?topic=first").status, 400);
}

/// "Annotate these" is the annotation CSV of the selection, and the filled file joins the
/// tables as `annotations` with every row naming a message.
#[test]
fn annotate_these_gives_an_annotation_file_the_tables_take() {
    let r = get("/annotate.csv?course=ECE110");
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body).unwrap();
    let header = text.lines().next().unwrap();
    assert_eq!(
        header,
        "\u{feff}convo_id,message_index,sample_cell,course_name,created_at,user_email,model,\
         question,answer,sources,feedback,feedback_category,feedback_details,correct,helpful,\
         question_type,notes"
    );
    let dir = crate::common::scratch("annotate");
    let file = dir.join("annotate.csv");
    std::fs::write(&file, &text).unwrap();
    let lake = testdata_lake();
    let out = crate::common::chatql()
        .args([
            "sql",
            "SELECT (SELECT count(*) FROM annotations) AS rows, (SELECT count(*) FROM \
             annotations a JOIN messages m ON m.convo_id = a.convo_id \
             AND m.message_index = CAST(a.message_index AS INT) WHERE m.role = 'assistant') \
             AS answers, (SELECT count(*) FROM rejects WHERE source_file LIKE '%annotate.csv') \
             AS rejected",
            lake.to_str().unwrap(),
            file.to_str().unwrap(),
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    crate::common::assert_ok(&out, "sql over the annotation file");
    // ECE110's 8 questions, each row naming its answer, none rejected.
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().nth(1),
        Some("8,8,0")
    );
}

#[test]
fn bad_requests_are_4xx_and_the_app_keeps_answering() {
    let cases: &[(&str, u16)] = &[
        ("/?page=99", 404),
        ("/?page=0", 400),
        ("/?per_page=1000", 400),
        ("/?bogus=1", 400),
        ("/?q=%zz", 400),
        ("/?q=%C3", 400),
        ("/?month=2024-13x", 400),
        ("/?feedback=maybe", 400),
        ("/?q=a&q=b", 400),
        ("/nowhere", 404),
        ("/../etc/passwd", 404),
        ("/c/x/y", 404),
        ("/api/questions?page=abc", 400),
    ];
    for (t, status) in cases {
        let r = get(t);
        assert_eq!(r.status, *status, "{t}");
        assert!(!String::from_utf8_lossy(&r.body).contains("panicked"));
    }
    let long = format!("/?q={}", "a".repeat(100 << 10));
    assert_eq!(get(&long).status, 414);
    let r = rt().block_on(app().handle(&Request {
        method: "POST".into(),
        target: "/".into(),
        host: Some(HOST.into()),
    }));
    assert_eq!(r.status, 405);
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| *k == "Allow" && v == "GET, HEAD"));
    // DNS rebinding: a page asked for under another name is refused.
    let r = rt().block_on(app().handle(&Request::get("/", "attacker.example:8001")));
    assert_eq!(r.status, 421);
    assert_eq!(get("/").status, 200);
}

#[test]
fn a_hostile_export_is_shown_inert_everywhere() {
    // The checker itself sees an injected element and handler.
    let found = tags("<p>a<script>x</script><img src=x onerror='y'>");
    assert_eq!(found[1].0, "script");
    assert_eq!(found[2].1[1], ("onerror".into(), "y".into()));
    let app = open(&[data("serve/hostile.jsonl")]);
    let pages = [
        "/",
        "/?q=alert",
        "/c/evil-1%22'%3E%3Cscript%3Ealert(2)%3C%2Fscript%3E",
        "/d?name=doc%22%3E%3Cscript%3Ealert(10)%3C%2Fscript%3E.pdf",
    ];
    for p in pages {
        let r = get_from(&app, p);
        assert_eq!(r.status, 200, "{p}");
        let page = String::from_utf8(r.body).unwrap();
        // No element or attribute came from the export: every payload is text.
        for (tag, attrs) in tags(&page) {
            assert!(ALLOWED.contains(&tag.as_str()), "{p}: <{tag}> in the page");
            for (name, value) in attrs {
                assert!(!name.starts_with("on"), "{p}: <{tag} {name}=...>");
                let v = value.to_ascii_lowercase();
                assert!(
                    !v.trim_start().starts_with("javascript:"),
                    "{p}: {name}={value}"
                );
            }
        }
        assert!(
            page.contains("&lt;script&gt;alert("),
            "{p}: the payload is shown as text"
        );
    }
    let thread = String::from_utf8(get_from(&app, pages[2]).body).unwrap();
    // The http link is a link, the javascript one is text.
    assert!(
        thread.contains("<a href=\"https://example.org/?a=1&amp;b=&#39;2&#39;\""),
        "{thread}"
    );
    assert!(thread.contains("click (javascript:alert(8))"));
    // Emails are pseudonyms by default.
    assert!(!thread.contains("mallory"), "{thread}");
    let v: serde_json::Value =
        serde_json::from_slice(&get_from(&app, "/api/questions").body).unwrap();
    // The API gives texts as they are: escaping is the reader's business in JSON.
    assert!(v["rows"][0]["question"]
        .as_str()
        .unwrap()
        .contains("<script>"));
    assert!(!v["rows"][0]["user"].as_str().unwrap().contains("mallory"));
}

#[test]
fn the_binary_serves_on_a_free_port_and_keeps_serving() {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("chatql"))
        .args([
            "serve",
            testdata_lake().to_str().unwrap(),
            "--port",
            "0",
            "-q",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
        "{url}"
    );
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let ask = |req: String| -> String {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let get = |path: &str, host: &str| {
        ask(format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        ))
    };
    let ok = get("/api/questions?per_page=1", &addr);
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(
        ok.contains("Content-Security-Policy: default-src 'none'"),
        "{ok}"
    );
    assert!(ok.contains("\"total\": 22"));
    assert!(get("/", "evil.example").starts_with("HTTP/1.1 421"));
    let post = ask(format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ));
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");
    assert!(ask("garbage\r\n\r\n".into()).starts_with("HTTP/1.1 4"));
    assert!(get("/", &addr).starts_with("HTTP/1.1 200"), "still serving");
    // Ctrl-C stops it.
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
}

/// The elements the app writes; anything else in a page came from an export.
const ALLOWED: &[&str] = &[
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "h4", "p", "nav",
    "a", "main", "div", "aside", "ul", "ol", "li", "section", "form", "input", "button", "strong",
    "span", "details", "summary", "mark", "code", "pre", "br", "em",
];

/// Every start tag of `page` with its attributes (names lower-cased, values unquoted).
fn tags(page: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    let b = page.as_bytes();
    let mut i = 0;
    while let Some(at) = page[i..].find('<') {
        let start = i + at + 1;
        i = start;
        if !b.get(start).is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        let end = page[start..].find('>').map_or(page.len(), |e| start + e);
        let inner = &page[start..end];
        let name: String = inner
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let mut attrs = Vec::new();
        let mut rest = &inner[name.len()..];
        loop {
            rest = rest.trim_start();
            let n: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '=' && *c != '>' && *c != '/')
                .collect();
            if n.is_empty() {
                break;
            }
            rest = &rest[n.len()..];
            let mut value = String::new();
            if let Some(r) = rest.strip_prefix('=') {
                let (v, tail) = match r.chars().next() {
                    Some(q @ ('"' | '\'')) => {
                        let close = r[1..].find(q).map_or(r.len(), |e| e + 1);
                        (&r[1..close], r.get(close + 1..).unwrap_or(""))
                    }
                    _ => {
                        let e = r.find(char::is_whitespace).unwrap_or(r.len());
                        (&r[..e], &r[e..])
                    }
                };
                value = v.to_owned();
                rest = tail;
            }
            attrs.push((n.to_ascii_lowercase(), value));
        }
        out.push((name, attrs));
        i = end;
    }
    out
}

/// A thread read straight from the lake's files is the thread SQL reads, for every
/// conversation of the testdata, in UTC and in a zone with daylight saving time.
#[test]
fn threads_from_the_lake_files_equal_threads_from_sql() {
    use chatql::lake::LakeSnapshot;
    use chatql::model::Zone;
    use chatql::query::{Catalog, CatalogOptions};
    use chatql::serve::rows::RowIndex;
    use chatql::serve::thread::{Source, Thread};
    use chatql::table::Table;
    use datafusion::arrow::array::{Array, AsArray};

    let lake = testdata_lake().to_string_lossy().into_owned();
    let index = RowIndex::build(&LakeSnapshot::load(&testdata_lake(), None).unwrap()).unwrap();
    for zone in ["UTC", "America/Chicago"] {
        let tz = Zone::parse(zone).unwrap();
        let opts = CatalogOptions {
            tz,
            ..Default::default()
        };
        rt().block_on(async {
            let mut cat = Catalog::open(std::slice::from_ref(&lake), &opts)
                .await
                .unwrap();
            cat.load(&Table::ALL.iter().copied().collect())
                .await
                .unwrap();
            let ids = cat
                .run_sql("select convo_id from conversations order by convo_id")
                .await
                .unwrap();
            let ids: Vec<String> = ids[0]
                .1
                .iter()
                .flat_map(|b| {
                    let c = datafusion::arrow::compute::cast(
                        b.column(0),
                        &datafusion::arrow::datatypes::DataType::Utf8,
                    )
                    .unwrap();
                    let c = c.as_string::<i32>().clone();
                    (0..c.len()).map(move |i| c.value(i).to_owned())
                })
                .collect();
            assert_eq!(ids.len(), 21);
            let mut contexts = 0;
            for id in &ids {
                let sql = Thread::load(&Source::Sql(cat.ctx()), id, None)
                    .await
                    .unwrap();
                let direct = Thread::load(&Source::Lake(&index, tz), id, None)
                    .await
                    .unwrap();
                let (sql, direct) = (sql.unwrap().json(), direct.unwrap().json());
                assert_eq!(sql, direct, "{id} in {zone}");
                contexts += direct["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["contexts"].as_array().unwrap().len())
                    .sum::<usize>();
            }
            assert_eq!(contexts, 20, "every context on its message");
            assert!(Thread::load(&Source::Lake(&index, tz), "no-such-id", None)
                .await
                .unwrap()
                .is_none());
        });
    }
}
