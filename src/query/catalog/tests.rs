//! The catalog's loading of raw exports: only the columns statements read are kept, and
//! answers do not change.

use super::raw::Columns;
use super::*;
use datafusion::arrow::util::pretty::pretty_format_batches;

async fn open(columns_as_needed: bool) -> Catalog {
    open_in(columns_as_needed, "UTC").await
}

async fn open_in(columns_as_needed: bool, zone: &str) -> Catalog {
    let data = format!("{}/testdata", env!("CARGO_MANIFEST_DIR"));
    let opts = CatalogOptions {
        ingest: IngestOptions {
            threads: 2,
            ..Default::default()
        },
        columns_as_needed,
        tz: Zone::parse(zone).unwrap(),
        ..Default::default()
    };
    Catalog::open(&[data], &opts).await.unwrap()
}

async fn text(cat: &mut Catalog, sql: &str) -> String {
    let mut out = String::new();
    for (_, batches) in cat.run_sql(sql).await.unwrap() {
        out.push_str(&pretty_format_batches(&batches).unwrap().to_string());
    }
    out
}

/// Statements loaded with only the columns they read give what full tables give, and
/// keep only those columns: a count no column, a view and subqueries theirs, a
/// statement after a `CREATE TABLE` (unplannable up front) and `SELECT *` all of them;
/// a later statement reading more columns reads the export again.
#[tokio::test]
async fn only_the_columns_read_are_kept_and_results_do_not_change() {
    use crate::table::col;
    let cases: &[(&str, &[(Table, Columns)])] = &[
        (
            "select count(*) from contexts",
            &[(Table::Contexts, Some(vec![]))],
        ),
        (
            "select readable_filename, count(*) from contexts group by 1 order by 2 desc, 1 limit 5",
            &[(Table::Contexts, Some(vec![col::contexts::readable_filename]))],
        ),
        (
            "select course_name, count(*), sum(length(answer)) from turns group by 1 order by 1",
            &[],
        ),
        (
            "select count(*) from messages where convo_id in (select convo_id from conversations where user_email is not null); select role, count(*) from messages group by 1 order by 1",
            &[],
        ),
        (
            "create table t as select convo_id from conversations; select count(*) from t join messages using (convo_id)",
            &[(Table::Messages, None)],
        ),
        ("select * from chunks order by 1, 2 limit 3", &[(Table::Chunks, None)]),
    ];
    for (sql, loaded) in cases {
        let mut full = open(false).await;
        let want = text(&mut full, sql).await;
        let mut narrow = open(true).await;
        narrow.load_for(sql).await.unwrap();
        for (t, cols) in *loaded {
            let mut cols = cols.clone();
            if let Some(c) = &mut cols {
                c.extend(crate::table::dedup::child_count_column(*t));
            }
            assert_eq!(
                narrow.loaded.get(t).map(|n| &n.columns),
                Some(&cols),
                "{sql}: {t:?}"
            );
        }
        assert_eq!(text(&mut narrow, sql).await, want, "{sql}");
    }
    // In a time zone the tables are views over differently named ones.
    let sql =
        "select date_trunc('hour', created_at), count(*) from conversations group by 1 order by 1";
    let mut full = open_in(false, "America/Chicago").await;
    let mut narrow = open_in(true, "America/Chicago").await;
    narrow.load_for(sql).await.unwrap();
    assert_eq!(
        narrow.loaded.get(&Table::Conversations).map(|n| &n.columns),
        Some(&Some(vec![
            col::conversations::created_at,
            col::conversations::message_count
        ]))
    );
    assert_eq!(text(&mut narrow, sql).await, text(&mut full, sql).await);
    // More columns later: the table is read again, with the union.
    let mut narrow = open(true).await;
    narrow
        .load_for("select count(*) from contexts")
        .await
        .unwrap();
    let mut full = open(false).await;
    let sql = "select max(length(text)), count(distinct readable_filename) from contexts";
    assert_eq!(text(&mut narrow, sql).await, text(&mut full, sql).await);
    assert_eq!(
        narrow.loaded.get(&Table::Contexts).map(|n| &n.columns),
        Some(&Some({
            let mut c = vec![col::contexts::readable_filename, col::contexts::text];
            c.sort_unstable();
            c
        }))
    );
}

/// A `WHERE` every scan of the deepest table read applies keeps only its rows while
/// ingesting, deduplicated by their places as if all were there; on a table whose rows a
/// lower one's deduplication needs, or when scans differ, every row is kept.
#[tokio::test]
async fn rows_of_a_filter_on_the_deepest_table_are_all_that_is_kept() {
    let cases: &[(&str, Table, bool)] = &[
        (
            "select convo_id, context_index, readable_filename from contexts \
             where text like '%the%' order by 1, 2",
            Table::Contexts,
            true,
        ),
        (
            "select count(*), sum(length(text)) from contexts where readable_filename = 'week1.pdf'",
            Table::Contexts,
            true,
        ),
        (
            "select convo_id, message_index from messages where role = 'user' order by 1, 2",
            Table::Messages,
            true,
        ),
        (
            "select count(*) from messages m join contexts c using (convo_id, message_index) \
             where m.role = 'assistant'",
            Table::Messages,
            false,
        ),
        (
            "select (select count(*) from contexts where text like '%a%') a, \
                    (select count(*) from contexts) b",
            Table::Contexts,
            false,
        ),
        ("select count(*) from contexts where random() < 2", Table::Contexts, false),
    ];
    for (sql, t, filtered) in cases {
        let mut full = open(false).await;
        let want = text(&mut full, sql).await;
        let mut narrow = open(true).await;
        narrow.load_for(sql).await.unwrap();
        let rows = &narrow.loaded[t].rows;
        assert_eq!(matches!(rows, Rows::Where(_)), *filtered, "{sql}: {rows:?}");
        assert_eq!(text(&mut narrow, sql).await, want, "{sql}");
        assert!(want.lines().count() > 4, "{sql}: {want}");
    }
    // A later statement with another filter reads the export again, every row this time.
    let mut narrow = open(true).await;
    narrow
        .load_for("select count(*) from contexts where text like '%the%'")
        .await
        .unwrap();
    let mut full = open(false).await;
    let sql = "select count(*) from contexts where text not like '%the%'";
    assert_eq!(text(&mut narrow, sql).await, text(&mut full, sql).await);
    assert_eq!(narrow.loaded[&Table::Contexts].rows, Rows::All);
}
