"""Type stubs of the extension module: what editors complete and type checkers check."""

import os
from typing import Any, Literal, Sequence

import pandas
import polars
import pyarrow

_Path = str | os.PathLike[str]
_Inputs = _Path | Sequence[_Path]

__version__: str

class Result:
    """A query's result, held as Arrow record batches; read it any number of times."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The Arrow C stream (PyCapsule interface): pa.table(r), pl.DataFrame(r), DuckDB."""
    def __arrow_c_schema__(self) -> object: ...
    def arrow(self) -> pyarrow.Table:
        """The result as a pyarrow.Table, on the same buffers (needs pyarrow)."""
    def pl(self) -> polars.DataFrame:
        """The result as a polars.DataFrame, on the same buffers (needs polars)."""
    def df(self) -> pandas.DataFrame:
        """The result as a pandas.DataFrame, through pyarrow (needs pandas and pyarrow)."""
    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every row as a tuple of Python values (needs nothing else)."""
    @property
    def schema(self) -> pyarrow.Schema:
        """The schema as a pyarrow.Schema (needs pyarrow)."""
    @property
    def columns(self) -> list[str]:
        """Column names."""
    @property
    def types(self) -> list[str]:
        """Column types as Arrow names them (Int64, Utf8View, ...)."""
    def __len__(self) -> int: ...
    def _repr_html_(self) -> str: ...

class Connection:
    """An open catalog over lakes, raw exports, zips or object-store URLs."""

    def sql(self, query: str) -> Result:
        """Runs one or more statements (separated by ';'); returns the last one's result."""
    def tables(self) -> list[str]:
        """The names of the tables and views."""
    def close(self) -> None:
        """Frees the catalog now; later calls raise UsageError."""
    def __enter__(self) -> Connection: ...
    def __exit__(self, *exc: object) -> Literal[False]: ...

class Section:
    """One section of a report."""

    report: str
    title: str
    result: Result

class Report:
    """Reports as `chatql report` makes them; each section's rows a Result."""

    @property
    def sections(self) -> list[Section]: ...
    @property
    def names(self) -> list[str]: ...
    def __getitem__(self, key: str) -> Result | list[Section]:
        """A section's rows by its title, or a report's sections by its name."""
    def to_html(self) -> str:
        """The dashboard page, as `chatql report --format html` writes it."""
    def _repr_html_(self) -> str: ...

class Topics:
    """A topic map of the questions."""

    topics: Result
    assignments: Result
    examples: Result
    @property
    def k(self) -> int: ...
    @property
    def silhouette(self) -> float: ...
    @property
    def by_retrieval(self) -> bool: ...
    def to_html(self) -> str:
        """The map page, as `chatql topics --format html` writes it."""
    def _repr_html_(self) -> str: ...

def connect(
    *inputs: _Inputs,
    tz: str | None = None,
    as_of: int | str | None = None,
    memory_limit: str | int | None = None,
    threads: int | None = None,
    keep_duplicates: bool = False,
    max_record_size: str | int | None = None,
    remote: str | None = None,
) -> Connection:
    """A connection over inputs; keywords are `chatql sql`'s flags."""

def sql(query: str, *inputs: _Inputs, **flags: Any) -> Result:
    """One query over inputs (then the connection closes); keywords are `chatql sql`'s flags."""

def convert(
    inputs: _Inputs,
    out: _Path,
    *,
    append: bool = False,
    partition_by: str | None = None,
    force: bool = False,
    strict: bool = False,
    keep_duplicates: bool = False,
    zstd_level: int = 3,
    redact_emails: bool = False,
    redact_key: str | None = None,
    threads: int | None = None,
    max_record_size: str | int | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Converts exports into a lake (as `chatql convert`); returns the run's summary."""

def report(inputs: _Inputs, name: str | None = None, **flags: Any) -> Report:
    """Usage reports (as `chatql report`); keywords are its flags (since, until, tz, course, ...)."""

def topics(inputs: _Inputs, k: int | None = None, **flags: Any) -> Topics | None:
    """A topic map (as `chatql topics`); None when the inputs hold no user questions."""

def export(inputs: _Inputs, to: str, out: _Path | str, **flags: Any) -> dict[str, Any]:
    """Exports (as `chatql export`): training files, original formats, ChatGPT, vector stores."""

def inspect(paths: _Inputs) -> list[dict[str, Any]]:
    """What input files hold, one dict per file (as `chatql inspect --format json`)."""

def main(argv: list[str]) -> int:
    """The `chatql` command on argv (argv[0] is ignored); returns the exit code."""
