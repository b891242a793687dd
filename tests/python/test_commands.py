"""convert, report, topics, export and inspect from Python, each checked against an
independent reader or the files written; and the `chatql` console command."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import deltalake
import polars as pl

import chatql
from conftest import COUNTS, TESTDATA


def test_convert_writes_a_lake_deltalake_reads(tmp_path):
    out = tmp_path / "lake"
    s = chatql.convert(str(TESTDATA), out)
    assert s["tables"] == {t: n for t, n in COUNTS.items()} | s["tables"]
    assert s["read"]["conversations"] == 23 and s["read"]["rejects"] == 6
    assert s["duplicates"]["conversations"] == 2
    assert s["output"] == str(out)
    for table, n in COUNTS.items():
        if table == "rejects":
            continue
        assert deltalake.DeltaTable(str(out / table)).to_pyarrow_table().num_rows == n, table


def test_a_partitioned_append_adds_a_version(tmp_path):
    out = tmp_path / "lake"
    first = chatql.convert(TESTDATA / "convos-2023-r.jsonl", out, partition_by="course,month")
    assert first["run"] == 1
    again = chatql.convert(str(TESTDATA), out, append=True, quiet=True)
    assert again["run"] == 2 and again["lake_rows"]["conversations"] == 21
    dt = deltalake.DeltaTable(str(out / "conversations"))
    assert dt.version() == 1 and dt.to_pyarrow_table().num_rows == 21
    assert chatql.sql("select count(*) from conversations", out, as_of=0).fetchall() == [
        (first["tables"]["conversations"],)
    ]


def test_report_sections_are_results(lake):
    rep = chatql.report(lake)
    assert rep.names[:3] == ["overview", "activity", "users"]
    totals = rep["Totals"].pl()
    assert totals["conversations"].to_list() == [21]
    assert totals["messages"].to_list() == [44] and totals["users"].to_list() == [7]
    assert [s.title for s in rep["overview"]][:2] == ["Totals", "Headline"]
    page = rep.to_html()
    assert page.startswith("<!DOCTYPE html>") and "Totals" in page
    assert rep._repr_html_().startswith("<iframe srcdoc=")
    one = chatql.report(lake, name="activity", since="2025-01-01")
    assert one.names == ["activity"]


def test_topics_assign_every_question(lake):
    t = chatql.topics(lake, k=3)
    assert t.k == 3
    a = t.assignments.pl()
    assert a.height == 22  # the questions the overview counts
    assert a["topic"].n_unique() == 3 and a["convo_id"].null_count() == 0
    assert t.topics.pl()["questions"].sum() == 22
    assert "<svg" in t.to_html()


def test_export_writes_what_it_says(lake, tmp_path):
    out = tmp_path / "train.jsonl"
    r = chatql.export(lake, to="openai", out=out)
    lines = out.read_text().splitlines()
    assert r["written"] == len(lines) == 19 and r["files"] == [str(out)]
    assert r["skipped"] == {"no question": 2}
    assert all(json.loads(l)["messages"][0]["role"] == "system" for l in lines)
    r = chatql.export(lake, to="openai", out=out, force=True, course="ECE110", system="none")
    assert r["written"] == len(out.read_text().splitlines()) < 19


def test_inspect_lists_kinds_and_rejects():
    (f,) = chatql.inspect(TESTDATA / "broken.jsonl")
    assert f["file"].endswith("broken.jsonl") and f["lines"] > 0
    assert len(f["rejects"]) >= 1 and all(r["line"] >= 1 for r in f["rejects"])


def test_the_console_command_converts(tmp_path):
    exe = pathlib.Path(sys.executable).parent / "chatql"
    assert exe.exists(), "pip install puts the chatql command beside python"
    out = tmp_path / "lake"
    p = subprocess.run([exe, "convert", str(TESTDATA), "-o", out], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "conversations ┆   21" in p.stdout
    assert pl.read_delta(str(out / "messages")).height == 44
    p = subprocess.run([exe, "convert", str(TESTDATA), "-o", out], capture_output=True, text=True)
    assert p.returncode == 4 and "already exists" in p.stderr
    p = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("chatql ")
    p = subprocess.run([exe, "sql", "--bogus"], capture_output=True, text=True)
    assert p.returncode == 2 and "--bogus" in p.stderr
