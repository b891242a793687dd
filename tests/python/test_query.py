"""Queries from Python: exact counts on the testdata through every reader, results read
twice without a copy or a rerun, the notebook's views, and Python values."""

import datetime

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import chatql
from conftest import COUNTS, PER_COURSE, TESTDATA

PER_COURSE_SQL = (
    "select course_name, count(*) as n from conversations group by 1 order by 2 desc"
)


@pytest.mark.parametrize("source", ["raw", "lake"])
def test_counts_through_pyarrow_polars_pandas_and_duckdb(source, lake):
    con = chatql.connect(str(TESTDATA) if source == "raw" else lake)
    for table, n in COUNTS.items():
        r = con.sql(f"select count(*) as n from {table}")
        assert pa.table(r).column("n").to_pylist() == [n], table
        assert pl.DataFrame(r)["n"].to_list() == [n], table
        assert r.df()["n"].tolist() == [n], table
        assert duckdb.sql("select n from r").fetchall() == [(n,)], table
    r = con.sql(PER_COURSE_SQL)
    assert len(r) == 3
    assert r.columns == ["course_name", "n"]
    assert r.fetchall() == PER_COURSE
    assert list(zip(*pl.DataFrame(r).to_dict(as_series=False).values())) == PER_COURSE
    assert list(r.df().itertuples(index=False, name=None)) == PER_COURSE
    assert duckdb.sql("select * from r order by n desc").fetchall() == PER_COURSE
    con.close()


def test_text_columns_reach_every_reader(lake):
    with chatql.connect(lake) as con:
        r = con.sql(
            "select convo_id, role, content from messages order by convo_id, message_index"
        )
        t = pa.table(r)
        assert t.num_rows == COUNTS["messages"]
        first = t.slice(0, 1).to_pylist()[0]
        assert pl.DataFrame(r).row(0) == (first["convo_id"], first["role"], first["content"])
        df = r.df()
        assert isinstance(df, pd.DataFrame)
        assert df.iloc[0]["content"] == first["content"]
        # Two of the 21 conversations have no messages.
        assert duckdb.sql("select count(distinct convo_id) from r").fetchall() == [(19,)]


def test_a_result_is_read_twice_without_running_again_or_copying(lake):
    con = chatql.connect(lake)
    # random() differs on every run: equal reads prove the query did not run again.
    r = con.sql("select random() as x, course_name from conversations")
    a, b = pa.table(r), pa.table(r)
    assert a.equals(b)
    assert pl.DataFrame(r).equals(pl.DataFrame(r))
    assert r.fetchall() == r.fetchall()
    # Both tables sit on the very same buffers: the stream hands them over, never a copy.
    addr = lambda t: [buf.address for buf in t.column("x").chunks[0].buffers() if buf]
    assert addr(a) == addr(b)
    assert a.column("x").to_pylist() == [row[0] for row in r.fetchall()]


def test_repr_is_the_table_and_html_is_bounded_and_escaped(lake):
    con = chatql.connect(lake)
    r = con.sql(PER_COURSE_SQL)
    text = repr(r)
    assert "course_name" in text and "ECE120" in text and text.endswith("3 rows")
    html = r._repr_html_()
    assert html.startswith("<table>") and "<th>course_name</th>" in html
    assert "<td>ECE110</td>" in html and "<p>3 rows</p>" in html
    big = con.sql("select value from range(100)")
    assert big._repr_html_().count("<tr>") == 41  # the header and 40 rows
    assert "100 rows (40 shown)" in big._repr_html_()
    assert "100 rows (40 shown)" in repr(big)
    tricky = con.sql("""select '<script>alert(1)</script>' as "a<b" """)
    h = tricky._repr_html_()
    assert "<script>" not in h and "&lt;script&gt;" in h and "<th>a&lt;b</th>" in h


def test_fetchall_gives_python_values():
    r = chatql.sql(
        """select 1 as i, 2.5 as f, 'x' as s, true as b, null as n,
                  to_timestamp_micros(1700000000123456) as t,
                  arrow_cast(to_timestamp_micros(1700000000123456), 'Timestamp(Microsecond, Some("UTC"))') as tz,
                  to_date('2025-03-01') as d,
                  [1, 2, 3] as l, named_struct('a', 1, 'b', 'two') as st""",
        str(TESTDATA),
    )
    (row,) = r.fetchall()
    i, f, s, b, n, t, tz, d, l, st = row
    assert (i, f, s, b, n) == (1, 2.5, "x", True, None)
    assert t == datetime.datetime(2023, 11, 14, 22, 13, 20, 123456)
    assert tz == datetime.datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=datetime.timezone.utc)
    assert d == datetime.date(2025, 3, 1)
    assert l == [1, 2, 3] and st == {"a": 1, "b": "two"}
    assert pa.table(r).to_pylist()[0]["tz"] == tz


def test_many_statements_return_the_last_and_views_persist(lake):
    con = chatql.connect(lake)
    r = con.sql(
        "create view busy as select course_name from conversations where course_name = 'ECE120';"
        "select count(*) as n from busy"
    )
    assert r.fetchall() == [(12,)]
    assert con.sql("select count(*) from busy").fetchall() == [(12,)]
    assert "conversations" in con.tables() and "rejects" in con.tables()


def test_flags_are_keywords(lake):
    utc = chatql.sql("select min(created_at) as t from conversations", lake)
    chicago = chatql.sql(
        "select min(created_at) as t from conversations", lake, tz="America/Chicago"
    )
    assert utc.fetchall()[0][0].hour == 23  # 2023-08-14 23:35 UTC
    assert chicago.fetchall()[0][0].hour == 18  # 18:35 in Chicago (CDT)
    first = chatql.sql("select count(*) from conversations", lake, as_of=0)
    assert first.fetchall() == [(21,)]


def test_a_closed_connection_says_so(lake):
    with chatql.connect(lake) as con:
        assert len(con.sql("select 1")) == 1
    with pytest.raises(chatql.UsageError, match="closed"):
        con.sql("select 1")


def test_other_threads_run_while_a_query_runs(lake):
    import threading
    import time

    con = chatql.connect(lake)
    done = threading.Event()
    ticks = 0

    def work():
        con.sql("select count(*) from range(30000000) a where a.value % 7 = 3")
        done.set()

    th = threading.Thread(target=work)
    th.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    th.join()
    assert ticks > 20  # the GIL was free while the query ran
