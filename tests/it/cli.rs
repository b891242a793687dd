//! The command line as a user meets it: completions, man pages, typed flags refused early.

use crate::common::*;
use predicates::prelude::*;

#[test]
fn completions_name_every_command_and_flag() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = chatql().args(["completions", shell]).output().unwrap();
        assert_ok(&out, shell);
        let text = String::from_utf8(out.stdout).unwrap();
        for word in [
            "convert",
            "report",
            "export",
            "partition-by",
            "redact-emails",
        ] {
            assert!(text.contains(word), "{shell}: {word}");
        }
    }
    chatql()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value 'tcsh'"));
}

#[test]
fn man_pages_for_the_tool_and_each_command() {
    let dir = scratch("man");
    chatql().arg("man").arg(&dir).assert().success();
    let page = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
    assert!(page("chatql.1").starts_with(".ie \\n(.g .ds Aq"));
    assert!(page("chatql.1").contains(".TH chatql 1"));
    let report = page("chatql-report.1");
    assert!(report.contains(".TH chatql-report 1"), "{report}");
    assert!(report.contains("redact\\-emails"), "{report}");
    for cmd in [
        "convert",
        "sql",
        "export",
        "inspect",
        "schema",
        "cluster",
        "completions",
    ] {
        assert!(dir.join(format!("chatql-{cmd}.1")).is_file(), "{cmd}");
    }
}

#[test]
fn the_redact_key_comes_from_the_environment_and_is_never_shown() {
    let out = chatql()
        .args(["report", "--help"])
        .env("CHATQL_REDACT_KEY", "s3cret")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("CHATQL_REDACT_KEY"), "{help}");
    assert!(!help.contains("s3cret"), "{help}");
}

#[test]
fn bad_flag_values_are_usage_errors_before_any_work() {
    let input = testdata("convos-2023-r.jsonl");
    for (args, needle) in [
        (vec!["report", "--since", "2024-13-01", &input], "bad date"),
        (
            vec![
                "export", &input, "--to", "openai", "-o", "x.jsonl", "--split", "1.5",
            ],
            "between 0 and 1",
        ),
        (
            vec![
                "convert",
                &input,
                "-o",
                "x",
                "--partition-by",
                "course,course",
            ],
            "given twice",
        ),
        (
            vec!["export", &input, "--to", "open-ai", "-o", "x.jsonl"],
            "invalid value",
        ),
    ] {
        chatql()
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
    }
}

/// Runs `args` with stderr on a terminal (`script` gives the command a pseudo-terminal);
/// everything it printed, carriage returns as newlines.
fn on_a_terminal(args: &[&str]) -> Option<String> {
    let bin = assert_cmd::cargo::cargo_bin("chatql");
    let mut line = bin.to_string_lossy().into_owned();
    for a in args {
        line.push_str(&format!(" '{a}'"));
    }
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .output()
        .ok()?;
    assert_ok(&out, line);
    Some(String::from_utf8_lossy(&out.stdout).replace('\r', "\n"))
}

/// A vector export shows the chunks it loaded of the total on a terminal.
#[test]
fn a_vector_export_counts_its_chunks_on_a_terminal() {
    let dir = scratch("vector-progress");
    let path = dir.join("docs.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    crate::synthetic::write_documents(&mut f, 64 << 20, 5, 1536).unwrap();
    drop(f);
    let lake = dir.join("lake");
    crate::common::stdout_of(&[
        "convert",
        path.to_str().unwrap(),
        "-o",
        lake.to_str().unwrap(),
        "-q",
    ]);
    let total = crate::common::scalar(&lake, "SELECT count(*) FROM chunks");
    let out = dir.join("lance");
    let Some(shown) = on_a_terminal(&[
        "export",
        lake.to_str().unwrap(),
        "--to",
        "lancedb",
        "-o",
        out.to_str().unwrap(),
    ]) else {
        assert!(
            std::env::var_os("CHATQL_REQUIRE_TERMINAL").is_none(),
            "no `script`"
        );
        return;
    };
    let want = format!("/{total} chunks");
    assert!(
        shown
            .lines()
            .any(|l| l.contains(" load ") && l.contains(&want) && l.contains("/s")),
        "no bar with {want}: {shown}"
    );
}

/// Long reads show bytes read of the total and a rate on a terminal (convert, and raw-input
/// sql), and nothing on a pipe or with `--quiet`.
#[test]
fn progress_is_drawn_on_a_terminal_and_never_on_a_pipe() {
    let dir = scratch("progress");
    let path = dir.join("gen.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    crate::synthetic::write_conversations(
        &mut f,
        48 << 20,
        3,
        crate::synthetic::ConvoLayout::Mixed,
    )
    .unwrap();
    drop(f);
    let gen = path.to_str().unwrap();
    let total = format!(
        "/{:.2} MiB",
        std::fs::metadata(gen).unwrap().len() as f64 / 1048576.0
    );
    let lake = dir.join("lake");
    let Some(shown) = on_a_terminal(&["convert", gen, "-o", lake.to_str().unwrap()]) else {
        // CI has `script` (util-linux) and sets this: there a skip is a failure.
        assert!(
            std::env::var_os("CHATQL_REQUIRE_TERMINAL").is_none(),
            "no `script` to give a terminal, and CHATQL_REQUIRE_TERMINAL is set"
        );
        eprintln!("skipped: no `script` to give a terminal");
        return;
    };
    let bar = shown
        .lines()
        .find(|l| l.contains(" convert ") && l.contains(&total))
        .unwrap_or_else(|| panic!("no bar with {total}: {shown}"));
    assert!(bar.contains("/s") && bar.contains("left"), "{bar}");
    let shown = on_a_terminal(&["sql", "select count(*) from contexts", gen]).unwrap();
    assert!(
        shown
            .lines()
            .any(|l| l.contains(" read ") && l.contains(&total)),
        "{shown}"
    );
    // On a pipe (and with --quiet on a terminal), nothing but the answer.
    let out = chatql()
        .args([
            "sql",
            "select count(*) n from contexts",
            gen,
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert_ok(&out, "out");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let quiet = dir.join("quiet");
    let shown = on_a_terminal(&["convert", gen, "-o", quiet.to_str().unwrap(), "-q"]).unwrap();
    assert!(!shown.contains(" convert "), "{shown}");
    let shown = on_a_terminal(&["sql", "select count(*) as n from contexts", gen, "-q"]).unwrap();
    assert!(!shown.contains(" read "), "{shown}");
    assert!(
        shown.contains("│ n "),
        "the answer is still printed: {shown}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without the object-store features, a URL is a clear usage error naming the feature to
/// build with (not "no such file").
#[cfg(not(feature = "s3"))]
#[test]
fn object_store_urls_name_the_feature_they_need() {
    for (url, feature) in [
        ("s3://bucket/lake", "s3"),
        ("gs://bucket/lake", "gcs"),
        ("az://container/lake", "azure"),
    ] {
        chatql()
            .args(["sql", "select 1", url])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "{url}: this chatql was built without the `{feature}` feature"
            )));
    }
}
