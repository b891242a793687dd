//! `chatql report`: every report's numbers on testdata, checked against values worked out
//! by hand from testdata/generate.py; the HTML page has every report, chart and axis label.

use crate::common::*;
use predicates::prelude::*;

fn report(args: &[&str]) -> String {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    stdout_of(&all)
}

/// The CSV block of one section of `report NAME testdata --format csv`.
fn section(name: &str, title: &str, extra: &[&str]) -> String {
    report_section(&testdata(""), name, title, extra)
}

#[test]
fn list_names_every_report() {
    let text = report(&["--list"]);
    for name in [
        "overview",
        "activity",
        "users",
        "courses",
        "shape",
        "retrieval",
        "feedback",
        "multimodal",
    ] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name}");
    }
}

#[test]
fn overview() {
    // 23 conversations decoded, 2 duplicates; 11 anonymous of 21; courses ECE110, ECE120, cs101.
    assert_eq!(
        section("overview", "Totals", &[]),
        "conversations,messages,questions,users,anonymous_pct,courses,first_activity,last_activity\n\
         21,44,22,7,52.4,3,2023-08-14 23:35,2025-11-20 09:00\n"
    );
}

#[test]
fn activity_per_month() {
    // 2023-08: conversation 101 (grown, 4 messages) and 3001 (2), both alice.
    // 2023-09: 102, 104, 3002, 6001, 6002, all anonymous, 2 messages each.
    let csv = section("activity", "Per month", &[]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "month,conversations,messages,active_users");
    assert_eq!(lines[1], "2023-08,2,6,1");
    assert_eq!(lines[2], "2023-09,5,10,0");
    assert_eq!(lines.len(), 12);
    assert_eq!(lines[11], "2025-11,1,2,0");
}

#[test]
fn users() {
    let csv = section("users", "Top users", &[]);
    assert_eq!(
        csv.lines().nth(1).unwrap(),
        "alice@illinois.edu,2,3,2023-08-14,2023-08-14"
    );
    assert_eq!(csv.lines().count(), 8, "header + 7 users");
    let csv = section("users", "New and returning users per month", &[]);
    // dave: new in 2024-10, returning in 2025-02.
    assert!(csv.contains("2024-10,1,1,0\n"), "{csv}");
    assert!(csv.contains("2025-02,1,0,1\n"), "{csv}");
}

#[test]
fn courses_and_models() {
    assert_eq!(
        section("courses", "By course", &[]),
        "course,conversations,questions,users,first_seen,last_seen\n\
         ECE120,12,12,4,2023-08-14,2024-05-01\n\
         ECE110,7,8,2,2024-06-26,2025-11-20\n\
         cs101,2,2,1,2025-10-24,2025-10-25\n"
    );
    let temps = section("courses", "Temperatures", &[]);
    assert!(
        temps.contains("0.5,6\n") && temps.contains("1.0,2\n"),
        "{temps}"
    );
}

#[test]
fn conversation_shape() {
    assert_eq!(
        section("shape", "Questions per conversation", &[]),
        "questions,conversations\n0,2\n1,16\n2,3\n"
    );
}

#[test]
fn retrieval() {
    assert_eq!(
        section("retrieval", "Questions and contexts", &[]),
        "questions,contexts,avg_contexts,without_context,without_context_pct\n22,20,0.91,8,36.4\n"
    );
    let top = section("retrieval", "Most cited documents", &[]);
    assert_eq!(top.lines().nth(1).unwrap(), "ECE120_Notes.pdf,7,3");
    // Chunk 0 of ECE120_Notes.pdf is quoted by conversation 2001's first context.
    let cov = section("retrieval", "Retrieval coverage per document", &[]);
    assert_eq!(cov.lines().nth(1).unwrap(), "ECE120_Notes.pdf,2,1,50.0");
    let never = section("retrieval", "Documents never retrieved", &[]);
    assert_eq!(
        never,
        "document,course,chunks\nOhm's law - ECE110,ECE110,1\nlec1.mp4,ECE120,2\nsyllabus.pdf,my-project,1\n"
    );
}

#[test]
fn feedback() {
    assert_eq!(
        section("feedback", "Totals", &[]),
        "answers,positive,negative,rated_pct,positive_pct\n22,2,1,13.6,66.7\n"
    );
    assert_eq!(
        section("feedback", "Negative rate by model", &[]),
        "model,rated,negative,negative_pct\ngpt-4o-mini,2,1,50.0\ngpt-4o,1,0,0.0\n"
    );
}

#[test]
fn multimodal_and_tools() {
    assert_eq!(
        section("multimodal", "Questions with images or files", &[]),
        "questions,with_images,images,with_files,files\n22,1,1,1,1\n"
    );
    assert_eq!(
        section("multimodal", "Tool calls", &[]),
        "tool,calls\ncalc,1\n"
    );
}

#[test]
fn filters_narrow_every_table() {
    let cs101 = section("overview", "Totals", &["--course", "cs101"]);
    assert!(
        cs101.lines().nth(1).unwrap().starts_with("2,4,2,1,50.0,1,"),
        "{cs101}"
    );
    let since = section("overview", "Totals", &["--since", "2025-01-01"]);
    // c1 (dave), c3 (anonymous), 900001 (carol), 900002 (anonymous).
    assert!(
        since.lines().nth(1).unwrap().starts_with("4,8,4,2,50.0,2,"),
        "{since}"
    );
    let until = section(
        "overview",
        "Totals",
        &["--since", "2023-09-01", "--until", "2023-09-02"],
    );
    assert!(
        until
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("5,10,5,0,100.0,1,"),
        "{until}"
    );
    let alice = section("users", "Top users", &["--user", "ALICE@illinois.edu"]);
    assert_eq!(alice.lines().count(), 2);
    // Documents follow the course too.
    let never = section(
        "retrieval",
        "Documents never retrieved",
        &["--course", "ECE120"],
    );
    assert_eq!(never, "document,course,chunks\nlec1.mp4,ECE120,2\n");
}

#[test]
fn redacted_reports_name_no_one() {
    let td = testdata("");
    let out = chatql()
        .args([
            "report",
            "users",
            &td,
            "--format",
            "csv",
            "--redact-emails",
            "--redact-key",
            "k",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains("illinois.edu") && !text.contains("gmail.com"),
        "{text}"
    );
    assert_eq!(text.matches("@redacted.invalid").count(), 7, "{text}");
}

#[test]
fn html_page_has_every_report_chart_and_axis_label() {
    let dir = scratch("html");
    let page = dir.join("usage.html");
    chatql()
        .args([
            "report",
            &testdata(""),
            "--format",
            "html",
            "-o",
            page.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout("");
    let html = std::fs::read_to_string(&page).unwrap();
    let defs = chatql::report::registry(None).unwrap();
    for d in &defs {
        assert!(
            html.contains(&format!("<h2>{}</h2>", d.title)),
            "{}",
            d.title
        );
        for s in d.sections.iter().filter(|s| !s.setup) {
            assert!(
                html.contains(&format!("<h3>{}</h3>", s.title.replace('&', "&amp;"))),
                "{}",
                s.title
            );
        }
    }
    // Self-contained: no scripts, styles or images fetched from anywhere.
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("src="));
    // One SVG chart per section charted with lines or bars (all have rows on testdata);
    // tiles, trends and the heatmap are drawn as HTML.
    use chatql::report::ChartKind;
    let charted: usize = defs
        .iter()
        .flat_map(|d| &d.sections)
        .filter(|s| {
            s.chart.as_ref().is_some_and(|c| {
                matches!(c.kind, ChartKind::Line | ChartKind::Bar | ChartKind::HBar)
            })
        })
        .count();
    // ... and the topics' bar chart, which every page ends with.
    assert_eq!(html.matches("<svg").count(), charted + 1);
    // Axis labels: every month of the activity chart, every top document.
    let activity = &html[html.find("<h3>Per month</h3>").unwrap()..];
    let labels = svg_texts(&activity[..activity.find("</svg>").unwrap()]);
    for month in ["2023-08", "2023-09", "2024-06", "2025-11"] {
        assert!(
            labels.iter().any(|l| l == month),
            "axis label {month}: {labels:?}"
        );
    }
    for series in ["conversations", "messages", "active_users"] {
        assert!(labels.iter().any(|l| l == series), "legend {series}");
    }
    // The y axis says what it counts, in whole steps.
    assert!(
        labels
            .iter()
            .any(|l| l == "conversations, messages, active_users"),
        "{labels:?}"
    );
    assert!(
        labels.iter().any(|l| l == "10") && !labels.iter().any(|l| l.contains('.')),
        "{labels:?}"
    );
    let docs = &html[html.find("<h3>Most cited documents</h3>").unwrap()..];
    let labels = svg_texts(&docs[..docs.find("</svg>").unwrap()]);
    for doc in ["ECE120_Notes.pdf", "Lecture 9.pdf", "syllabus.pdf"] {
        assert!(labels.iter().any(|l| l == doc), "axis label {doc}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&page).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }
}

/// The text of every `<text>` element of an SVG.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_owned())
        })
        .collect()
}

#[test]
fn chart_numbers_are_the_table_numbers() {
    use chatql::query::catalog::CatalogOptions;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let results = rt.block_on(async {
        let opts = chatql::report::ReportOptions {
            names: vec!["courses".into()],
            catalog: CatalogOptions::default(),
            ..Default::default()
        };
        chatql::report::generate(&[testdata("")], &opts, |_, _| {})
            .await
            .unwrap()
    });
    let s = results[0]
        .sections
        .iter()
        .find(|s| s.title == "Models per month")
        .unwrap();
    let (cats, series) = chatql::report::html::chart_data(s, s.chart.as_ref().unwrap()).unwrap();
    assert_eq!(cats.len(), 11, "months");
    let gpt4o = series.iter().find(|(n, _)| n == "gpt-4o").unwrap();
    let at = |m: &str| gpt4o.1[cats.iter().position(|c| c == m).unwrap()];
    assert_eq!(at("2024-06"), Some(3.0));
    assert_eq!(at("2023-08"), None);
    let total: f32 = series.iter().flat_map(|(_, v)| v.iter().flatten()).sum();
    assert_eq!(total, 20.0, "conversations with a created_at (all but c4)");
}

#[test]
fn unknown_report_lists_the_reports() {
    chatql()
        .args(["report", "nope", &testdata("")])
        .assert()
        .failure()
        .stderr(predicate::str::contains("nope"));
}

#[test]
fn users_add_their_own_reports_and_replace_builtins() {
    let dir = scratch("queries");
    std::fs::write(
        dir.join("busiest.sql"),
        "-- title: Busiest courses\n-- description: Questions per course.\n-- params: course\n\n\
         -- section: Questions\n-- chart: hbar course questions\n\
         SELECT c.course_name AS course, count(*) AS questions FROM messages m\n\
         JOIN conversations c USING (convo_id) WHERE m.role = 'user'\n\
         GROUP BY 1 ORDER BY 2 DESC, 1;\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("overview.sql"),
        "-- title: My overview\n-- description: Just a count.\n\n-- section: Count\nSELECT count(*) AS n FROM conversations;\n",
    )
    .unwrap();
    let q = dir.to_str().unwrap();
    let list = report(&["--list", "--queries", q]);
    assert!(list.contains("busiest      Busiest courses: Questions per course."));
    assert!(list.contains("overview     My overview: Just a count."));
    let td = testdata("");
    assert_eq!(
        report(&["busiest", &td, "--queries", q, "--format", "csv"]),
        "# busiest / Questions\ncourse,questions\nECE120,12\nECE110,8\ncs101,2\n\n"
    );
    assert_eq!(
        report(&["overview", &td, "--queries", q, "--format", "csv"]),
        "# overview / Count\nn\n21\n\n"
    );
}

#[test]
fn sections_run_side_by_side_keep_their_order_and_a_failing_one_is_named() {
    let dir = scratch("queries-order");
    // Five sections and a setup view between them: sections run several at a time, the
    // setup waits for those before it, and the output keeps the file's order.
    std::fs::write(
        dir.join("order.sql"),
        "-- title: Order\n-- description: Sections in order.\n\n\
         -- section: A\nSELECT count(*) AS n FROM conversations;\n\n\
         -- section: B\nSELECT count(*) AS n FROM messages WHERE role = 'user';\n\n\
         -- setup\nCREATE VIEW per_course AS SELECT course_name, count(*) AS n FROM conversations GROUP BY 1;\n\n\
         -- section: C\nSELECT course_name, n FROM per_course ORDER BY n DESC, course_name;\n\n\
         -- section: D\nSELECT sum(n) AS n FROM per_course;\n\n\
         -- section: E\nSELECT 5 AS n;\n",
    )
    .unwrap();
    let q = dir.to_str().unwrap();
    let td = testdata("");
    assert_eq!(
        report(&["order", &td, "--queries", q, "--format", "csv"]),
        "# order / A\nn\n21\n\n# order / B\nn\n22\n\n\
         # order / C\ncourse_name,n\nECE120,12\nECE110,7\ncs101,2\n\n\
         # order / D\nn\n21\n\n# order / E\nn\n5\n\n"
    );
    // A section that fails only when it runs (a cast of text to a number), between two
    // that succeed: the error names it, and nothing is printed.
    std::fs::write(
        dir.join("broken.sql"),
        "-- title: Broken\n-- description: The second section fails.\n\n\
         -- section: First\nSELECT count(*) AS n FROM conversations;\n\n\
         -- section: Second\nSELECT CAST(course_name AS INT) AS n FROM conversations;\n\n\
         -- section: Third\nSELECT 3 AS n;\n",
    )
    .unwrap();
    let out = chatql()
        .args(["report", "broken", &td, "--queries", q, "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("report broken, Second:"), "{err}");
}
