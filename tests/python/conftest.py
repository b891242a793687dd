"""Shared fixtures of the Python package's tests: the shipped testdata, and a lake of it
converted once from Python."""

import pathlib

import pytest

import chatql

ROOT = pathlib.Path(__file__).resolve().parents[2]
TESTDATA = ROOT / "testdata"

# What the shipped testdata holds (the Rust tests assert the same: tests/it/convert.rs).
COUNTS = {
    "conversations": 21,
    "messages": 44,
    "contexts": 20,
    "documents": 4,
    "chunks": 6,
    "rejects": 6,
}
PER_COURSE = [("ECE120", 12), ("ECE110", 7), ("cs101", 2)]


@pytest.fixture(scope="session")
def lake(tmp_path_factory):
    out = tmp_path_factory.mktemp("lakes") / "lake"
    chatql.convert(str(TESTDATA), out, quiet=True)
    return out
