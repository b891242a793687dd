"""The Python package's jobs for benches/python.sh: a query's result into a Polars
DataFrame through chatql and through DuckDB, on the same lake.

python python_jobs.py chatql LAKE THREADS NAME     (chatql.connect(LAKE).sql(Q).pl())
python python_jobs.py duckdb LAKE THREADS NAME     (duckdb.sql(Q over read_parquet).pl())
python python_jobs.py nocopy LAKE THREADS NAME     (untimed: peak memory before and after
                                                    handing the result to Polars and pyarrow)

The timed jobs print the rows and the seconds of the work itself (after the interpreter
started and imported its modules), as a notebook cell would take.
"""
import resource
import sys
import time

QUERIES = {
    "all_contexts": "SELECT * FROM {contexts}",
    "context_text": "SELECT convo_id, message_index, readable_filename, text FROM {contexts}",
    "text_million": "SELECT convo_id, text FROM {contexts} LIMIT 1000000",
    "top_documents": """
        SELECT readable_filename, count(*) AS n FROM {contexts}
        GROUP BY 1 ORDER BY 2 DESC LIMIT 20""",
    "activity_per_month": """
        SELECT date_trunc('month', c.created_at) AS month,
               count(DISTINCT c.convo_id) AS conversations, count(m.message_index) AS messages
        FROM {conversations} c LEFT JOIN {messages} m ON m.convo_id = c.convo_id
        WHERE c.created_at IS NOT NULL GROUP BY 1 ORDER BY 1""",
}
TABLES = ("conversations", "messages", "contexts")


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    job, lake, threads, name = sys.argv[1:5]
    if job == "duckdb":
        import duckdb

        import polars  # noqa: F401  (imported before the clock starts, as for chatql)

        start = time.perf_counter()
        con = duckdb.connect(config={"threads": int(threads)})
        tables = {t: f"read_parquet('{lake}/{t}/*.parquet')" for t in TABLES}
        df = con.sql(QUERIES[name].format(**tables)).pl()
        print(df.height, f"{time.perf_counter() - start:.3f}")
        return
    import chatql
    import polars as pl
    import pyarrow as pa

    query = QUERIES[name].format(**{t: t for t in TABLES})
    if job == "chatql":
        start = time.perf_counter()
        df = chatql.connect(lake, threads=threads).sql(query).pl()
        print(df.height, f"{time.perf_counter() - start:.3f}")
        return
    # nocopy: the result in memory, then handed over twice; no copy means no growth.
    con = chatql.connect(lake, threads=threads)
    r = con.sql(query)
    held, peak_held = rss_mib(), peak_mib()
    df = pl.DataFrame(r)
    t = pa.table(r)
    print(
        f"result {t.nbytes / 2**20:.0f} MiB in Arrow ({len(r)} rows); RSS holding it "
        f"{held:.0f} MiB (peak {peak_held:.0f}); after pl.DataFrame(r) and pa.table(r) "
        f"{rss_mib():.0f} MiB (peak {peak_mib():.0f}); polars estimates its frame at "
        f"{df.estimated_size() / 2**20:.0f} MiB"
    )


if __name__ == "__main__":
    main()
