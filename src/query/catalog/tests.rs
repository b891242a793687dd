//! The catalog's loading of raw exports: only the columns statements read are kept, and
//! answers do not change.

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
            assert_eq!(narrow.loaded.get(t), Some(&cols), "{sql}: {t:?}");
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
        narrow.loaded.get(&Table::Conversations),
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
        narrow.loaded.get(&Table::Contexts),
        Some(&Some({
            let mut c = vec![col::contexts::readable_filename, col::contexts::text];
            c.sort_unstable();
            c
        }))
    );
}
