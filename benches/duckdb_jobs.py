"""DuckDB doing chatql's jobs by hand, for benches/compare.sh.

python duckdb_jobs.py convert-conversations FILE OUTDIR THREADS
python duckdb_jobs.py convert-documents FILE OUTDIR THREADS
python duckdb_jobs.py query LAKE THREADS NAME
python duckdb_jobs.py query-hive LAKE THREADS NAME   (a lake written with --partition-by)
python duckdb_jobs.py copy LAKE THREADS OUT  (the whole contexts table out, CSV or Parquet by
                                       OUT's extension, with COPY)
python duckdb_jobs.py columns FILE    (untimed: FILE.duckdb-columns, the schema read_json_auto
                                       infers from the whole file)

DuckDB's fastest honest formulation of the conversion: `read_json` with the file's schema given
as `columns` (inferred once beforehand by the `columns` job, not timed), so the timed job parses
the file once instead of scanning it for inference first.
"""
import sys
import duckdb

QUERIES = {
    "count_contexts": "SELECT count(*) FROM {contexts}",
    "activity_per_month": """
        SELECT strftime(date_trunc('month', c.created_at), '%Y-%m') AS month,
               count(DISTINCT c.convo_id), count(m.message_index), count(DISTINCT c.user_email)
        FROM {conversations} c LEFT JOIN {messages} m ON m.convo_id = c.convo_id
        WHERE c.created_at IS NOT NULL GROUP BY 1 ORDER BY 1""",
    "top_documents": """
        SELECT readable_filename, count(*) FROM {contexts}
        GROUP BY 1 ORDER BY 2 DESC LIMIT 20""",
    "feedback_by_model": """
        SELECT coalesce(c.model_id, '(unknown)'), sum(CASE WHEN m.feedback_positive THEN 1 ELSE 0 END),
               sum(CASE WHEN NOT m.feedback_positive THEN 1 ELSE 0 END)
        FROM {messages} m JOIN {conversations} c ON c.convo_id = m.convo_id
        WHERE m.feedback_positive IS NOT NULL GROUP BY 1 ORDER BY 1""",
    "like_scan": "SELECT count(*) FROM {contexts} WHERE text LIKE '%transistor resistor%'",
    "course_contexts": "SELECT count(*) FROM {contexts} WHERE course = 'course03'",
}

TABLES = ("conversations", "messages", "contexts")


def tables(lake, hive):
    """Each table of a chatql lake as DuckDB reads its Parquet files: `LAKE/<table>/` holds
    them (a one-shot conversion removes none, so the folder is the table), in partition
    folders when the lake was written with --partition-by."""
    if hive:
        return {t: f"read_parquet('{lake}/{t}/**/*.parquet', hive_partitioning=true)" for t in TABLES}
    return {t: f"read_parquet('{lake}/{t}/*.parquet')" for t in TABLES}


def main():
    job = sys.argv[1]
    con = duckdb.connect()
    if job in ("query", "query-hive"):
        lake, threads, name = sys.argv[2], sys.argv[3], sys.argv[4]
        con.execute(f"SET threads={threads}")
        con.execute(QUERIES[name].format(**tables(lake, job == "query-hive"))).fetchall()
        return
    if job == "copy":
        lake, threads, out = sys.argv[2], sys.argv[3], sys.argv[4]
        con.execute(f"SET threads={threads}")
        fmt = "(FORMAT parquet, COMPRESSION zstd)" if out.endswith(".parquet") else "(FORMAT csv, HEADER)"
        con.execute(f"COPY (SELECT * FROM {tables(lake, False)['contexts']}) TO '{out}' {fmt}")
        return
    opts = "format='newline_delimited', maximum_object_size=1000000000, sample_size=-1"
    if job == "columns":
        src = sys.argv[2]
        rows = con.execute(f"DESCRIBE SELECT * FROM read_json_auto('{src}', {opts})").fetchall()
        cols = ", ".join(f"'{name}': '{typ}'" for name, typ, *_ in rows)
        with open(src + ".duckdb-columns", "w") as f:
            f.write("{" + cols + "}")
        return
    src, out, threads = sys.argv[2], sys.argv[3], sys.argv[4]
    con.execute(f"SET threads={threads}")
    con.execute("SET preserve_insertion_order=false")
    try:
        with open(src + ".duckdb-columns") as f:
            opts = f"format='newline_delimited', maximum_object_size=1000000000, columns={f.read()}"
    except FileNotFoundError:
        pass
    z = "(FORMAT parquet, COMPRESSION zstd)"
    if job == "convert-conversations":
        con.execute(f"CREATE TEMP TABLE raw AS SELECT * FROM read_json('{src}', {opts})")
        con.execute(f"""COPY (SELECT convo_id, id AS row_id, course_name, user_email, created_at,
                 convo.name AS name, convo.model.id AS model_id, convo.model.name AS model_name,
                 convo.prompt AS prompt, convo.temperature AS temperature, convo.folderId AS folder_id,
                 len(convo.messages) AS message_count FROM raw) TO '{out}/conversations.parquet' {z}""")
        con.execute("""CREATE TEMP TABLE msgs AS SELECT convo_id,
                 generate_subscripts(convo.messages, 1) - 1 AS message_index,
                 unnest(convo.messages) AS m FROM raw""")
        con.execute(f"""COPY (SELECT convo_id, message_index, m.role AS role, m.content::VARCHAR AS content,
                 m.id AS message_id, m.feedback.isPositive AS feedback_positive,
                 len(m.contexts) AS context_count FROM msgs) TO '{out}/messages.parquet' {z}""")
        con.execute(f"""COPY (SELECT convo_id, message_index,
                 generate_subscripts(m.contexts, 1) - 1 AS context_index,
                 unnest(m.contexts, recursive := true) FROM msgs) TO '{out}/contexts.parquet' {z}""")
    elif job == "convert-documents":
        con.execute(f"CREATE TEMP TABLE raw AS SELECT * FROM read_json('{src}', {opts})")
        con.execute(f"""COPY (SELECT id AS doc_id, created_at, course_name, s3_path, readable_filename, url,
                 base_url, len(contexts) AS chunk_count FROM raw) TO '{out}/documents.parquet' {z}""")
        con.execute(f"""COPY (SELECT doc_id, chunk_position,
                 c.text AS text, TRY_CAST(c.embedding AS FLOAT[]) AS embedding,
                 TRY_CAST(c.pagenumber AS BIGINT) AS pagenumber, c.chunk_index AS chunk_index
                 FROM (SELECT id AS doc_id, generate_subscripts(contexts, 1) - 1 AS chunk_position,
                              unnest(contexts) AS c FROM raw))
                 TO '{out}/chunks.parquet' {z}""")
    else:
        raise SystemExit(f"unknown job {job}")


main()
