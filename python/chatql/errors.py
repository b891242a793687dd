"""chatql's exceptions, one class per kind of error of the library.

Every message is the one the command line prints: it names the file and, where there is
one, the line. ``InputNotFoundError`` is also a ``FileNotFoundError``, and
``OutputExistsError`` also a ``FileExistsError``, so ``except FileNotFoundError`` works.
"""


class Error(Exception):
    """Any error of chatql."""


class UsageError(Error, ValueError):
    """Options that cannot work together, or a value a flag refuses."""


class OutputExistsError(UsageError, FileExistsError):
    """The output exists and ``force=True`` was not given."""


class InputError(Error):
    """An input file, folder, glob or archive that cannot be read (or a record rejected
    under ``strict=True``)."""


class InputNotFoundError(InputError, FileNotFoundError):
    """An input path or glob that matches nothing."""


class QueryError(Error):
    """A query that cannot be planned or run (unknown table or column, bad SQL)."""


class LakeError(Error):
    """A lake's files that cannot be read or written."""


class StoreError(Error):
    """Object storage, a database or a vector store refused or failed a request."""


class InternalError(Error):
    """A fault of chatql itself: please report it."""


__all__ = [
    "Error",
    "UsageError",
    "OutputExistsError",
    "InputError",
    "InputNotFoundError",
    "QueryError",
    "LakeError",
    "StoreError",
    "InternalError",
]
