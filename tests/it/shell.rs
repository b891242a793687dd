//! The interactive shell's command handling, driven line by line as a user would type.

use crate::common::*;
use chatql::query::catalog::{Catalog, CatalogOptions};
use chatql::query::session::{Action, Session};

#[test]
fn shell_runs_multiline_sql_and_backslash_commands() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cat = Catalog::open(
            &[testdata("convos-2023-r.jsonl")],
            &CatalogOptions::default(),
        )
        .await
        .unwrap();
        let mut s = Session::new(cat, Default::default());
        let mut out = Vec::new();
        assert_eq!(
            s.line("select count(*) as n", &mut out).await.unwrap(),
            Action::Continue
        );
        assert!(s.in_statement());
        assert!(out.is_empty());
        s.line("  from conversations;", &mut out).await.unwrap();
        assert!(!s.in_statement());
        let text = String::from_utf8(std::mem::take(&mut out)).unwrap();
        assert!(text.contains("│ n │") && text.contains("│ 3 │"), "{text}");

        s.line("\\d", &mut out).await.unwrap();
        let text = String::from_utf8(std::mem::take(&mut out)).unwrap();
        assert!(text.contains("table  contexts"));
        assert!(text.contains("view   turns"));

        s.line("\\d contexts", &mut out).await.unwrap();
        let text = String::from_utf8(std::mem::take(&mut out)).unwrap();
        assert!(
            text.contains("doc_groups") && text.contains("List"),
            "{text}"
        );

        s.line("\\d nope", &mut out).await.unwrap();
        let text = String::from_utf8(std::mem::take(&mut out)).unwrap();
        assert!(text.contains("no table or view \"nope\""));

        s.line("\\timing", &mut out).await.unwrap();
        s.line("select nosuch from conversations;", &mut out)
            .await
            .unwrap();
        let text = String::from_utf8(std::mem::take(&mut out)).unwrap();
        assert!(
            text.contains("error: Schema error: No field named nosuch"),
            "{text}"
        );
        assert!(text.contains("time: "), "{text}");

        assert_eq!(s.line("\\q", &mut out).await.unwrap(), Action::Quit);
    });
}
