"""chatql: SQL, reports, topic maps and migrations over UIUC.chat / Illinois Chat exports.

Results are Arrow record batches handed over through the Arrow PyCapsule interface, so
pyarrow, Polars and DuckDB read them without copies::

    import chatql
    con = chatql.connect("lake/")                      # or exports, zips, s3:// URLs
    r = con.sql("select course_name, count(*) n from conversations group by 1")
    r.pl()                                             # polars.DataFrame
    r.arrow()                                          # pyarrow.Table
    r.df()                                             # pandas.DataFrame

Keyword arguments are the command line's long flags with ``_`` for ``-``:
``chatql.report("lake/", since="2025-01-01", tz="America/Chicago")`` is
``chatql report lake/ --since 2025-01-01 --tz America/Chicago``.
"""

from chatql._chatql import (
    Connection,
    Report,
    Result,
    Section,
    Topics,
    __version__,
    connect,
    convert,
    export,
    inspect,
    report,
    sql,
    topics,
)
from chatql.errors import (
    Error,
    InputError,
    InputNotFoundError,
    InternalError,
    LakeError,
    OutputExistsError,
    QueryError,
    StoreError,
    UsageError,
)

__all__ = [
    "Connection",
    "Report",
    "Result",
    "Section",
    "Topics",
    "connect",
    "convert",
    "export",
    "inspect",
    "report",
    "sql",
    "topics",
    "Error",
    "InputError",
    "InputNotFoundError",
    "InternalError",
    "LakeError",
    "OutputExistsError",
    "QueryError",
    "StoreError",
    "UsageError",
    "__version__",
]
