"""The package with none of pyarrow, Polars or pandas installed (run by .ci/run in a
virtualenv of its own): results still come out, through the Arrow PyCapsule alone, read
here with ctypes as any C consumer reads an ArrowArrayStream, and as Python tuples."""

import ctypes
import importlib.util

import pytest

import chatql
from conftest import COUNTS, PER_COURSE, TESTDATA

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) for m in ("pyarrow", "polars", "pandas")),
    reason="for an environment without pyarrow, Polars and pandas",
)


class ArrowSchema(ctypes.Structure):
    pass


ArrowSchema._fields_ = [
    ("format", ctypes.c_char_p),
    ("name", ctypes.c_char_p),
    ("metadata", ctypes.c_char_p),
    ("flags", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(ArrowSchema))),
    ("dictionary", ctypes.POINTER(ArrowSchema)),
    ("release", ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowSchema))),
    ("private_data", ctypes.c_void_p),
]


class ArrowArray(ctypes.Structure):
    pass


ArrowArray._fields_ = [
    ("length", ctypes.c_int64),
    ("null_count", ctypes.c_int64),
    ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(ArrowArray))),
    ("dictionary", ctypes.POINTER(ArrowArray)),
    ("release", ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowArray))),
    ("private_data", ctypes.c_void_p),
]


class ArrowArrayStream(ctypes.Structure):
    pass


ArrowArrayStream._fields_ = [
    ("get_schema", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ArrowArrayStream), ctypes.POINTER(ArrowSchema))),
    ("get_next", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ArrowArrayStream), ctypes.POINTER(ArrowArray))),
    ("get_last_error", ctypes.CFUNCTYPE(ctypes.c_char_p, ctypes.POINTER(ArrowArrayStream))),
    ("release", ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowArrayStream))),
    ("private_data", ctypes.c_void_p),
]


def read_stream(capsule):
    """(column names and formats, rows per batch, the int64 values of the last column)."""
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    stream = ArrowArrayStream.from_address(get(capsule, b"arrow_array_stream"))
    schema = ArrowSchema()
    assert stream.get_schema(ctypes.byref(stream), ctypes.byref(schema)) == 0
    cols = [
        (schema.children[i].contents.name.decode(), schema.children[i].contents.format.decode())
        for i in range(schema.n_children)
    ]
    schema.release(ctypes.byref(schema))
    lengths, last = [], []
    while True:
        batch = ArrowArray()
        assert stream.get_next(ctypes.byref(stream), ctypes.byref(batch)) == 0
        if not batch.release:
            break  # end of stream
        lengths.append(batch.length)
        col = batch.children[batch.n_children - 1].contents
        values = ctypes.cast(col.buffers[1], ctypes.POINTER(ctypes.c_int64))
        last += [values[col.offset + i] for i in range(batch.length)]
        batch.release(ctypes.byref(batch))
    stream.release(ctypes.byref(stream))
    return cols, lengths, last


def test_the_capsule_alone_carries_the_result():
    con = chatql.connect(str(TESTDATA))
    r = con.sql("select course_name, count(*) as n from conversations group by 1 order by 2 desc")
    cols, lengths, counts = read_stream(r.__arrow_c_stream__())
    assert [name for name, _ in cols] == ["course_name", "n"] and cols[1][1] == "l"
    assert sum(lengths) == len(r) == 3
    assert counts == [n for _, n in PER_COURSE]
    # A second stream over the same batches.
    assert read_stream(r.__arrow_c_stream__())[2] == counts
    assert r.fetchall() == PER_COURSE
    for table, n in COUNTS.items():
        assert con.sql(f"select count(*) from {table}").fetchall() == [(n,)]


def test_what_needs_pyarrow_says_how_to_get_it():
    r = chatql.sql("select 1 as x", str(TESTDATA))
    for method in (r.arrow, r.pl, r.df):
        with pytest.raises(ImportError, match="pip install"):
            method()
    assert "x" in repr(r) and "<table>" in r._repr_html_()
