//! The insight reports on `tests/data/insight/convos.jsonl`, five conversations whose every
//! number is worked out by hand in its generator: time zones (with daylight saving time),
//! the 7-day trend, the day × hour heatmap, feedback by model, document and query
//! rewriting, tokens and cost; and the readable output (row limits, empty sections, the
//! dashboard page).

use chatql::query::functions::tokens::{count_tokens, Encoding};
use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

fn fixture() -> String {
    data("insight/convos.jsonl")
}

fn run(args: &[&str]) -> String {
    stdout_of(args)
}

/// The CSV block of one section of `report NAME FIXTURE --format csv EXTRA...`.
fn section(name: &str, title: &str, extra: &[&str]) -> String {
    report_section(&fixture(), name, title, extra)
}

const CHICAGO: &[&str] = &["--tz", "America/Chicago"];

#[test]
fn times_follow_the_zone_with_daylight_saving_time() {
    let sql =
        "select convo_id, created_at from conversations where convo_id in ('c1', 'c2') order by 1";
    let input = fixture();
    assert_eq!(
        run(&[
            "sql",
            sql,
            &input,
            "--format",
            "csv",
            "--tz",
            "America/Chicago"
        ]),
        "convo_id,created_at\nc1,2024-03-10T01:30:00\nc2,2024-03-11T08:30:00\n",
        "07:30 UTC is 01:30 CST; the next day 13:30 UTC is 08:30 CDT"
    );
    let env = chatql()
        .args(["sql", sql, &input, "--format", "csv"])
        .env("CHATQL_TZ", "America/Chicago")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(env.stdout).unwrap(),
        "convo_id,created_at\nc1,2024-03-10T01:30:00\nc2,2024-03-11T08:30:00\n"
    );
    assert_eq!(
        run(&["sql", sql, &input, "--format", "csv"]),
        "convo_id,created_at\nc1,2024-03-10T07:30:00Z\nc2,2024-03-11T13:30:00Z\n"
    );
    // A day bucket: c3 is asked on Tuesday 21:00 in Chicago, Wednesday 03:00 UTC.
    let day = "select to_char(date_trunc('day', created_at), '%Y-%m-%d') from conversations where convo_id = 'c3'";
    assert_eq!(
        run(&[
            "sql",
            day,
            &input,
            "--format",
            "csv",
            "--tz",
            "America/Chicago"
        ])
        .lines()
        .nth(1),
        Some("2024-03-05")
    );
    assert_eq!(
        run(&["sql", day, &input, "--format", "csv"]).lines().nth(1),
        Some("2024-03-06")
    );
}

#[test]
fn dates_without_an_offset_are_read_in_the_zone() {
    // c1 is 2024-03-10 01:30 in Chicago (07:30 UTC): after 02:00 UTC, before 02:00 Chicago.
    let count = |args: &[&str]| {
        section("overview", "Totals", args)
            .lines()
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_owned()
    };
    let since = ["--since", "2024-03-10T02:00"];
    assert_eq!(count(&since), "3", "c1, c2 and c4 are after 02:00 UTC");
    let local = ["--since", "2024-03-10T01:00", "--tz", "America/Chicago"];
    assert_eq!(count(&local), "3", "c1 is after 01:00 in Chicago");
    let local = ["--since", "2024-03-10T02:00", "--tz", "America/Chicago"];
    assert_eq!(
        count(&local),
        "2",
        "c1 (01:30) is before 02:00 (03:00 CDT) in Chicago"
    );
    let utc = ["--since", "2024-03-10T02:00Z", "--tz", "America/Chicago"];
    assert_eq!(count(&utc), "3", "an offset names the instant");
}

#[test]
fn hours_weekdays_and_the_heatmap_in_chicago_time() {
    let hours = section("activity", "Questions per hour of day", CHICAGO);
    let nonzero: Vec<&str> = hours
        .lines()
        .skip(1)
        .filter(|l| !l.ends_with(",0"))
        .collect();
    assert_eq!(nonzero, ["1,1", "8,2", "9,1", "11,1", "21,1"]);
    assert_eq!(hours.lines().count(), 25, "every hour listed");
    assert_eq!(
        section("activity", "Questions per weekday", CHICAGO),
        "weekday,questions\nMon,2\nTue,2\nWed,0\nThu,0\nFri,1\nSat,0\nSun,1\n"
    );
    let heat = section("activity", "Questions by weekday and hour", CHICAGO);
    let cell = |day: &str, hour: usize| -> String {
        let row = heat.lines().find(|l| l.starts_with(day)).unwrap();
        row.split(',').nth(hour + 1).unwrap().to_owned()
    };
    assert_eq!(cell("Sun", 1), "1");
    assert_eq!(cell("Mon", 8), "2");
    assert_eq!(cell("Tue", 9), "1");
    assert_eq!(cell("Tue", 21), "1");
    assert_eq!(cell("Fri", 11), "1");
    let total: u32 = heat
        .lines()
        .skip(1)
        .flat_map(|l| l.split(',').skip(1).map(|v| v.parse::<u32>().unwrap()))
        .sum();
    assert_eq!(total, 6, "six questions");
    // In UTC the same questions fall elsewhere: c3 on Wednesday 03:00.
    let utc = section("activity", "Questions by weekday and hour", &[]);
    let wed = utc.lines().find(|l| l.starts_with("Wed")).unwrap();
    assert_eq!(wed.split(',').nth(4), Some("1"));
}

#[test]
fn headline_ratios_model_share_and_the_seven_day_trend() {
    assert_eq!(
        section("overview", "Headline", CHICAGO),
        "conversations,questions,users,conversations_per_user,questions_per_user,questions_per_conversation\n\
         5,6,3,1.67,2.0,1.2\n"
    );
    // The window ends on the last day with activity, 2024-03-15 (c4): 03-09..03-15 against
    // 03-02..03-08.
    assert_eq!(
        section("overview", "Last 7 days against the 7 before", CHICAGO),
        "metric,last_7_days,previous_7_days,change_pct,window_end\n\
         conversations,3,1,200.0,2024-03-15\n\
         questions,4,1,300.0,2024-03-15\n\
         users,3,1,200.0,2024-03-15\n"
    );
    // --until ends it the day before: 03-05..03-11 (c3 on 03-05 in Chicago, c1, c2) against
    // nothing (c5 is in February): no percentage.
    assert_eq!(
        section(
            "overview",
            "Last 7 days against the 7 before",
            &["--tz", "America/Chicago", "--until", "2024-03-12"]
        ),
        "metric,last_7_days,previous_7_days,change_pct,window_end\n\
         conversations,3,0,,2024-03-11\n\
         questions,4,0,,2024-03-11\n\
         users,2,0,,2024-03-11\n"
    );
    assert_eq!(
        section("overview", "Models", &[]),
        "model,conversations,share_pct\ngpt-4o,3,60.0\nclaude-3-5-sonnet,1,20.0\ngpt-4o-mini,1,20.0\n"
    );
}

#[test]
fn feedback_staff_can_act_on() {
    assert_eq!(
        section("feedback", "Negative rate by model", &[]),
        "model,rated,negative,negative_pct\ngpt-4o,3,2,66.7\ngpt-4o-mini,2,1,50.0\n"
    );
    assert_eq!(
        section("feedback", "Documents whose answers are disliked", &[]),
        "document,rated_answers,negative,negative_pct\nlec2.pdf,2,2,100.0\nlec3.pdf,1,1,100.0\nlec1.pdf,3,1,33.3\n"
    );
    assert_eq!(
        section("feedback", "With and without query rewriting", &[]),
        "query,rated,negative,negative_pct\n(not recorded),2,0,0.0\nnot rewritten,1,1,100.0\nrewritten,2,2,100.0\n"
    );
    assert_eq!(
        section("feedback", "Negative rate by month", CHICAGO),
        "month,rated,positive,negative,negative_pct\n2024-02,1,0,1,100.0\n2024-03,4,2,2,50.0\n"
    );
    let latest = section("feedback", "Latest negatively rated answers", CHICAGO);
    assert_eq!(
        latest,
        "asked,course,model,user_email,question,answer,retrieved,category,comment\n\
         2024-03-11 08:30,ECE120,gpt-4o-mini,b@x.edu,How do I use a K-map?,Group the ones.,lec2.pdf p.1,incomplete_request,Too short\n\
         2024-03-10 01:30,ECE120,gpt-4o,a@x.edu,When does a D flip-flop change?,On the falling edge.,lec1.pdf p.3; lec2.pdf p.1,inaccurate,It is the rising edge!\n\
         2024-02-20 09:00,ECE120,gpt-4o,b@x.edu,How are negative numbers stored?,They are stored with a sign.,lec3.pdf p.2,unclear,\n"
    );
    let redacted = section(
        "feedback",
        "Latest negatively rated answers",
        &["--redact-emails", "--redact-key", "k"],
    );
    assert!(!redacted.contains("@x.edu"), "{redacted}");
}

#[test]
fn cost_is_tokens_times_price() {
    let dir = scratch("prices");
    let prices = dir.join("prices.csv");
    std::fs::write(
        &prices,
        "model_pattern,valid_from,input_usd_per_1m,output_usd_per_1m\n\
         ^gpt-4o-mini,2024-01-01,1000,2000\n\
         ^gpt-4o$,2024-01-01,100,300\n",
    )
    .unwrap();
    let input = fixture();
    let out = run(&[
        "report",
        "cost",
        &input,
        "--prices",
        prices.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let reports: Value = serde_json::from_str(&out).unwrap();
    let rows = |title: &str| -> Vec<Value> {
        reports[0]["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["title"] == title)
            .unwrap_or_else(|| panic!("{title}"))["rows"]
            .as_array()
            .unwrap()
            .clone()
    };
    let t = |s: &str| u64::from(count_tokens(s, Encoding::O200kBase));
    let prompt = t("You are a helpful TA.");
    // gpt-4o-mini: c2's two answers. The second carries the first turn as history and the
    // K-map lecture text as context; 4 tokens per message, 3 to prime the answer.
    let l1 = "A D flip-flop samples its input on the rising clock edge.";
    let l2 = "Karnaugh maps group adjacent ones to minimize sum-of-products expressions.";
    let (q1, a1) = (
        "What is a flip-flop?",
        "A one-bit memory element clocked by an edge.",
    );
    let (q2, a2) = ("How do I use a K-map?", "Group the ones.");
    let in1 = prompt + t(q1) + t(l1) + 4 * 2 + 3;
    let in2 = prompt + t(q1) + t(a1) + t(q2) + t(l2) + 4 * 4 + 3;
    let mini = rows("Per model (estimate)")
        .into_iter()
        .find(|r| r["model"] == "gpt-4o-mini")
        .unwrap();
    assert_eq!(mini["answers"], 2);
    assert_eq!(mini["input_tokens"].as_u64(), Some(in1 + in2));
    assert_eq!(mini["output_tokens"].as_u64(), Some(t(a1) + t(a2)));
    let usd = ((in1 + in2) as f64 * 1000.0 + (t(a1) + t(a2)) as f64 * 2000.0) / 1e6;
    assert_eq!(mini["est_usd"].as_f64(), Some((usd * 1e4).round() / 1e4));
    // c5 kept the final prompt: it replaces question and context.
    let final_prompt = "Context: Two's complement represents negative numbers by inverting bits and adding one.\nQuestion: How are negative numbers stored?";
    let c5_in = prompt + t(final_prompt) + 4 * 2 + 3;
    let c1_in = prompt
        + t("When does a D flip-flop change?")
        + t(l1)
        + t("Karnaugh maps group adjacent ones to minimize sum-of-products expressions.")
        + 4 * 2
        + 3;
    let c3_in = prompt + t("Explain edge triggering.") + t(l1) + 4 * 2 + 3;
    let gpt4o = rows("Per model (estimate)")
        .into_iter()
        .find(|r| r["model"] == "gpt-4o")
        .unwrap();
    assert_eq!(gpt4o["input_tokens"].as_u64(), Some(c1_in + c3_in + c5_in));
    // Claude has no price here: listed apart, not counted as free.
    assert_eq!(
        rows("Models without a price (not counted above)"),
        vec![
            serde_json::json!({"model": "claude-3-5-sonnet", "answers": 1,
            "input_tokens": prompt + t("What is recursion?") + 11,
            "output_tokens": t("A function calling itself.")})
        ]
    );
    assert_eq!(rows("Total (estimate)")[0]["unpriced_answers"], 1);
}

#[test]
fn bad_settings_fail_with_file_line_and_reason_and_write_nothing() {
    let dir = scratch("bad-settings");
    let input = fixture();
    let out = dir.join("r.html");
    let prices = dir.join("p.csv");
    std::fs::write(
        &prices,
        "model_pattern,valid_from,input_usd_per_1m,output_usd_per_1m\n^gpt,2024-01-01,1,2\n^x(,2024-01-01,1,2\n",
    )
    .unwrap();
    let p = prices.to_str().unwrap().to_owned();
    let o = out.to_str().unwrap().to_owned();
    chatql()
        .args([
            "report", "cost", &input, "--prices", &p, "-o", &o, "--format", "html",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{p}:3: model_pattern \"^x(\""
        )));
    assert!(!out.exists());
    chatql()
        .args(["report", &input, "--tz", "America/Chicagoo", "-o", &o])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unknown time zone \"America/Chicagoo\"",
        ));
    chatql()
        .args(["report", "costs", &input])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no report \"costs\"; reports are: overview, activity",
        ));
    assert!(!out.exists());
}

#[test]
fn sections_show_a_few_rows_and_say_what_is_left_out() {
    let input = fixture();
    // Hours of the day: 24 rows, shown 12 (the section's own limit) with a note; 15 with
    // --max-rows 15; all with --max-rows 0.
    let text = run(&["report", "activity", &input]);
    let at = text.find("Questions per hour of day").unwrap();
    let part = &text[at..text[at..].find("Questions per weekday").unwrap() + at];
    assert!(
        part.contains("… 12 more rows (--max-rows 0 shows all)"),
        "{part}"
    );
    assert!(part.contains("│   11 ┆"), "{part}");
    assert!(!part.contains("│   12 ┆"), "{part}");
    let more = run(&["report", "activity", &input, "--max-rows", "15"]);
    assert!(
        more.contains("… 9 more rows (--max-rows 0 shows all)"),
        "{more}"
    );
    let all = run(&["report", "activity", &input, "--max-rows", "0"]);
    assert!(!all.contains("more rows"));
    // A time series shows its latest rows.
    let daily = run(&["report", "activity", &input, "--max-rows", "2"]);
    let at = daily.find("Per day").unwrap();
    let part = &daily[at..at + daily[at..].find("Questions per hour").unwrap()];
    assert!(
        part.contains("2024-03-15") && part.contains("2024-03-11"),
        "{part}"
    );
    assert!(!part.contains("2024-02-20"), "{part}");
    assert!(part.contains("… 3 earlier rows"), "{part}");
    // An empty section is one line; JSON keeps every row.
    let cost = run(&["report", "cost", &input, "--until", "2000-01-01"]);
    assert!(
        cost.contains("Models without a price (not counted above)\n(no rows)\n"),
        "{cost}"
    );
    let json: Value =
        serde_json::from_str(&run(&["report", "activity", &input, "--format", "json"])).unwrap();
    let hours = json[0]["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == "Questions per hour of day")
        .unwrap();
    assert_eq!(hours["rows"].as_array().unwrap().len(), 24);
}

#[test]
fn the_dashboard_has_tiles_a_heatmap_and_folded_long_tables() {
    let dir = scratch("dashboard");
    let page = dir.join("r.html");
    let input = fixture();
    run(&[
        "report",
        &input,
        "--format",
        "html",
        "--tz",
        "America/Chicago",
        "-o",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("times in America/Chicago"));
    // Tiles: the headline ratios, then the three 7-day trends, before any report.
    let first_report = html.find("<section class=\"report\"").unwrap();
    let tiles = &html[..first_report];
    assert!(
        tiles.contains(
            "<div class=\"label\">conversations per user</div><div class=\"value\">1.67</div>"
        ),
        "{tiles}"
    );
    assert!(tiles.contains("<div class=\"label\">conversations · last 7 days</div><div class=\"value\">3</div><div class=\"delta up\">+200% vs 1</div>"), "{tiles}");
    // The heatmap: Monday 08:00 (2 questions) is the darkest cell.
    assert!(html.contains("<table class=\"heat\">"));
    assert!(html
        .contains("<td class=\"num\" style=\"background:rgba(5,80,174,1.00);color:#fff\">2</td>"));
    // The 24 hours are charted, so their table is folded; nothing is dropped.
    let hours = &html[html.find("<h3>Questions per hour of day</h3>").unwrap()..];
    let hours = &hours[..hours[4..].find("<h3>").map_or(hours.len(), |e| e + 4)];
    assert!(hours.contains("<details><summary>Show the table (24 rows)</summary>"));
    assert_eq!(hours.matches("<tr>").count(), 25);
}

/// A realistic export: two years (2024-2025), six courses, five models, 1,500
/// conversations of 1-4 turns, a fifth of the answers rated, 30 documents retrieved.
fn realistic_export(path: &std::path::Path) {
    use std::fmt::Write as _;
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let courses = ["ECE120", "ECE220", "CS101", "CS225", "MATH241", "PHYS211"];
    let models = [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "claude-3-5-sonnet",
        "llama3.1:70b",
    ];
    let mut out = String::new();
    for n in 0..1500u64 {
        let day = next(730) as i64; // 2024-01-01 + day
        let us = chatql::model::parse_timestamp("2024-01-01").unwrap()
            + day * 86_400_000_000
            + (next(86_400) as i64) * 1_000_000;
        let at = chatql::model::format_timestamp_pg(us);
        let course = courses[next(6) as usize];
        let model = models[next(5) as usize];
        let user = format!("student{}@illinois.edu", next(300));
        let mut messages = Vec::new();
        for turn in 0..1 + next(4) {
            let docs: Vec<serde_json::Value> = (0..next(4))
                .map(|_| {
                    let d = next(30);
                    serde_json::json!({"text": format!("Lecture {d} says something useful about topic {}.", next(50)),
                        "readable_filename": format!("Lecture_{d:02}.pdf"), "course_name ": course,
                        "s3_path": format!("courses/{course}/Lecture_{d:02}.pdf"), "pagenumber": 1 + next(40),
                        "url": "", "base_url": ""})
                })
                .collect();
            messages.push(serde_json::json!({"role": "user",
                "content": format!("Question {turn} about topic {} in {course}?", next(50)), "contexts": docs}));
            let mut answer = serde_json::json!({"role": "assistant",
                "content": format!("An answer about topic {} with some detail.", next(50))});
            if next(5) == 0 {
                let up = next(3) > 0;
                answer["feedback"] = serde_json::json!({"isPositive": up,
                    "category": if up { serde_json::Value::Null } else { "inaccurate".into() },
                    "details": if up { serde_json::Value::Null } else { "wrong".into() }});
            }
            messages.push(answer);
        }
        let row = serde_json::json!({"id": n, "created_at": at, "convo_id": format!("r{n}"),
            "course_name": course, "user_email": user,
            "convo": {"id": format!("r{n}"), "name": "x", "messages": messages,
                      "model": {"id": model, "name": model}, "prompt": "You are a TA.",
                      "temperature": 0.1, "folderId": null}});
        let _ = writeln!(out, "{row}");
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn a_two_year_six_course_report_reads_at_a_glance() {
    let dir = scratch("realistic");
    let export = dir.join("export.jsonl");
    realistic_export(&export);
    let lake = dir.join("lake");
    chatql()
        .args(["convert", "-q"])
        .arg(&export)
        .arg("-o")
        .arg(&lake)
        .assert()
        .success();
    let text = run(&["report", lake.to_str().unwrap(), "--tz", "America/Chicago"]);
    let lines = text.lines().count();
    assert!(lines <= 400, "{lines} lines");
    assert!(text.contains("more rows (--max-rows 0 shows all)"));
    let page = dir.join("report.html");
    run(&[
        "report",
        lake.to_str().unwrap(),
        "--tz",
        "America/Chicago",
        "--format",
        "html",
        "-o",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    // Rows a reader sees before a click: those outside <details>.
    let mut visible = 0;
    let mut rest = html.as_str();
    while let Some(open) = rest.find("<details>") {
        visible += rest[..open].matches("<tr>").count();
        let close = rest[open..].find("</details>").unwrap() + open;
        rest = &rest[close..];
    }
    visible += rest.matches("<tr>").count();
    let total = html.matches("<tr>").count();
    assert!(visible <= 300, "{visible} rows visible");
    assert!(total > 1000, "every row is still on the page ({total})");
    eprintln!(
        "{lines} lines of text; {visible} of {total} table rows visible; {}",
        page.display()
    );
}
