"""Each error class, with the message naming what is wrong, and the connection still
usable after a failed statement."""

import os

import pytest

import chatql
from conftest import TESTDATA


def test_a_missing_input_is_also_file_not_found(tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(chatql.InputNotFoundError) as e:
        chatql.connect(missing)
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, chatql.InputError)
    assert str(missing) in str(e.value)
    with pytest.raises(FileNotFoundError):
        chatql.convert(missing, tmp_path / "lake")
    assert not (tmp_path / "lake").exists()


def test_bad_sql_is_a_query_error_and_the_connection_goes_on(lake):
    con = chatql.connect(lake)
    with pytest.raises(chatql.QueryError, match="tables and views: conversations"):
        con.sql("select * from conversation")
    with pytest.raises(chatql.QueryError):
        con.sql("selec 1")
    assert con.sql("select count(*) from conversations").fetchall() == [(21,)]


def test_flags_refused_as_the_command_line_refuses_them(lake, tmp_path):
    with pytest.raises(chatql.UsageError, match="Mars/Olympus"):
        chatql.connect(lake, tz="Mars/Olympus")
    with pytest.raises(chatql.UsageError, match="--bogus"):
        chatql.connect(lake, bogus=1)
    with pytest.raises(ValueError, match="year"):
        chatql.convert(str(TESTDATA), tmp_path / "p", partition_by="year")
    with pytest.raises(chatql.UsageError, match="--redact-emails needs a key"):
        chatql.report(lake, redact_emails=True)
    with pytest.raises(chatql.UsageError, match="no report"):
        chatql.report([lake, lake], name="costs")


def test_an_existing_output_is_also_file_exists(lake, tmp_path):
    out = tmp_path / "lake"
    out.mkdir()
    with pytest.raises(chatql.OutputExistsError) as e:
        chatql.convert(str(TESTDATA), out)
    assert isinstance(e.value, FileExistsError) and isinstance(e.value, chatql.UsageError)
    assert "use --force" in str(e.value)
    summary = chatql.convert(str(TESTDATA), out, force=True)
    assert summary["tables"]["conversations"] == 21


def test_strict_names_the_file_and_line_of_the_first_reject(tmp_path):
    with pytest.raises(chatql.InputError) as e:
        chatql.convert(TESTDATA / "broken.jsonl", tmp_path / "lake", strict=True)
    assert "broken.jsonl:" in str(e.value) and "rejected (byte offset" in str(e.value)
    assert not (tmp_path / "lake").exists()
    assert [p for p in os.listdir(tmp_path) if ".tmp-" in p] == []


def test_a_damaged_lake_is_a_lake_error(lake, tmp_path):
    import shutil

    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    part = next((copy / "messages").glob("*.parquet"))
    part.write_bytes(part.read_bytes()[:100])
    with pytest.raises(chatql.LakeError) as e:
        chatql.sql("select count(*) from messages", copy)
    assert part.name in str(e.value)


def test_a_refused_database_is_a_store_error():
    with pytest.raises(chatql.StoreError, match="127.0.0.1:1"):
        chatql.export(
            str(TESTDATA), to="pgvector", out="postgresql://u:secret@127.0.0.1:1/db"
        )


def test_every_class_is_a_chatql_error():
    for name in ["UsageError", "OutputExistsError", "InputError", "InputNotFoundError",
                 "QueryError", "LakeError", "StoreError", "InternalError"]:
        assert issubclass(getattr(chatql, name), chatql.Error)
