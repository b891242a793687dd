"""Polars doing chatql's conversion by hand, for benches/compare.sh.

python polars_jobs.py convert-conversations FILE OUTDIR THREADS
python polars_jobs.py convert-documents FILE OUTDIR THREADS

The same normalization as the DuckDB job (benches/duckdb_jobs.py): `read_ndjson`, then each
nested list exploded (with its index) and its structs unnested into a table, each table
written as zstd Parquet. The schema is inferred from the first 1,000 lines (the generated
files are uniform), so the file is parsed once. Threads: POLARS_MAX_THREADS, which must be set
before Polars is imported, so this script sets it from THREADS first.
"""
import os
import sys

os.environ["POLARS_MAX_THREADS"] = sys.argv[4]

import polars as pl  # noqa: E402


def indexed(df, col, index):
    """`col` (a list) exploded, with each item's position as `index`."""
    return (
        df.with_columns(pl.int_ranges(pl.col(col).list.len()).alias(index))
        .explode([col, index])
        .drop_nulls(col)
    )


def write(df, out, name):
    df.write_parquet(f"{out}/{name}.parquet", compression="zstd", compression_level=3)


def conversations(src, out):
    raw = pl.read_ndjson(src, infer_schema_length=1000)
    convo = pl.col("convo").struct
    write(
        raw.select(
            pl.col("convo").struct.field("id").alias("convo_id"),
            pl.col("id").alias("row_id"),
            "course_name",
            "user_email",
            "created_at",
            convo.field("name").alias("name"),
            convo.field("model").struct.field("id").alias("model_id"),
            convo.field("prompt").alias("prompt"),
            convo.field("temperature").alias("temperature"),
            convo.field("messages").list.len().alias("message_count"),
        ),
        out,
        "conversations",
    )
    msgs = indexed(
        raw.select(
            pl.col("convo").struct.field("id").alias("convo_id"),
            convo.field("messages").alias("m"),
        ),
        "m",
        "message_index",
    ).unnest("m")
    write(
        msgs.select(
            "convo_id",
            "message_index",
            "role",
            pl.col("content").cast(pl.Utf8, strict=False),
            pl.col("contexts").list.len().alias("context_count"),
        ),
        out,
        "messages",
    )
    ctx = indexed(
        msgs.select("convo_id", "message_index", "contexts"), "contexts", "context_index"
    ).unnest("contexts")
    write(ctx, out, "contexts")


def documents(src, out):
    raw = pl.read_ndjson(src, infer_schema_length=1000)
    write(
        raw.select(
            pl.col("id").alias("doc_id"),
            "created_at",
            "course_name",
            "s3_path",
            "readable_filename",
            "url",
            pl.col("contexts").list.len().alias("chunk_count"),
        ),
        out,
        "documents",
    )
    chunks = indexed(
        raw.select(pl.col("id").alias("doc_id"), "contexts"), "contexts", "chunk_position"
    ).unnest("contexts")
    if "embedding" in chunks.columns:
        # The export writes each vector as JSON text (a string), as the platform does.
        e = pl.col("embedding")
        vector = pl.List(pl.Float32)
        if chunks.schema["embedding"] in (pl.Utf8, pl.String):
            # A chunk without one has "" (chatql: null, as DuckDB's TRY_CAST).
            e = pl.when(e.str.len_bytes() > 0).then(e).str.json_decode(vector)
        chunks = chunks.with_columns(e.cast(vector, strict=False))
    write(chunks, out, "chunks")


def main():
    job, src, out = sys.argv[1], sys.argv[2], sys.argv[3]
    if job == "convert-conversations":
        conversations(src, out)
    elif job == "convert-documents":
        documents(src, out)
    else:
        raise SystemExit(f"unknown job {job}")


main()
