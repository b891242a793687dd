//! chatql's errors as Python exceptions: one class per kind of the library's error
//! (`chatql.UsageError`, `InputError`, `QueryError`, `LakeError`, `StoreError`,
//! `InternalError`, all under `chatql.Error`, defined in python/chatql/errors.py), with the
//! message the command line prints, which names the file and line. A path that is not
//! there is also a `FileNotFoundError`, an existing output also a `FileExistsError`.

use chatql::Error;
use datafusion::error::DataFusionError;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// An exception of class `name` of `chatql.errors` carrying `message`.
pub fn chatql_error(name: &str, message: String) -> PyErr {
    Python::attach(|py| {
        let class = py
            .import("chatql.errors")
            .and_then(|m| m.getattr(name))
            .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
        match class {
            Ok(c) => PyErr::from_type(c, message),
            // Only when the package is broken: still an error with the message.
            Err(_) => PyRuntimeError::new_err(message),
        }
    })
}

/// A fault of chatql itself.
pub fn internal(message: impl Into<String>) -> PyErr {
    chatql_error("InternalError", message.into())
}

/// The class of a library error.
fn class_of(e: &Error) -> &'static str {
    match e {
        Error::NotFound(_) => "InputNotFoundError",
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            "InputNotFoundError"
        }
        Error::Io { .. }
        | Error::ReadFailed { .. }
        | Error::Glob { .. }
        | Error::Archive { .. }
        | Error::Rejected { .. } => "InputError",
        Error::OutputExists(_) => "OutputExistsError",
        Error::Usage(_) | Error::Config { .. } => "UsageError",
        // A query that failed reading a lake's files failed on the lake, not on its SQL.
        Error::DataFusion(d) => match d.find_root() {
            DataFusionError::ParquetError(_)
            | DataFusionError::ObjectStore(_)
            | DataFusionError::IoError(_) => "LakeError",
            _ => "QueryError",
        },
        Error::Query(_) | Error::Arrow(_) => "QueryError",
        Error::Read { .. } | Error::Write { .. } | Error::Output(_) => "LakeError",
        Error::Store { .. } | Error::Service { .. } => "StoreError",
        Error::Internal(_) | Error::Interrupted => "InternalError",
    }
}

/// A library error as its Python exception.
pub fn from_chatql(e: &Error) -> PyErr {
    if matches!(e, Error::Interrupted) {
        return pyo3::exceptions::PyKeyboardInterrupt::new_err("interrupted");
    }
    chatql_error(class_of(e), e.to_string())
}

/// An error of the command-line layer (anyhow, wrapping the library's error or not).
pub fn from_anyhow(e: &anyhow::Error) -> PyErr {
    match e.downcast_ref::<Error>() {
        Some(c) => from_chatql(c),
        None => chatql_error("Error", format!("{e:#}")),
    }
}

/// Keyword arguments the command's flags refuse: the first line of clap's message, in
/// Python's terms.
pub fn from_clap(e: &clap::Error) -> PyErr {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("bad arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    chatql_error("UsageError", first.to_owned())
}

/// The conversion for `?` on the library's results.
pub trait IntoPy<T> {
    /// The value, or the error as a Python exception.
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for Result<T, Error> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(|e| from_chatql(&e))
    }
}

impl<T> IntoPy<T> for anyhow::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(|e| from_anyhow(&e))
    }
}
