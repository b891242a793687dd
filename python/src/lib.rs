//! The Python extension module `chatql._chatql`: the notebook API over Arrow
//! (`connect`, `sql`, `convert`, `report`, `topics`, `export`, `inspect`) and the
//! `chatql` console command, in one artifact. It is an edge like `src/main.rs`: the
//! command line's code (src/cli) is compiled in, so the command is the same program and the
//! functions take the same flags; the library below knows nothing of Python.
//!
//! Unlike the binary it installs no global allocator and does not change the process's
//! memory settings: the process is Python's, shared with pyarrow and the rest.

#[path = "../../src/cli/mod.rs"]
mod cli;
mod connection;
mod errors;
mod flags;
mod ops;
mod result;
mod runtime;
mod values;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use connection::Connection;
use result::QueryResult;

/// Inputs of `connect` and `sql`, each a path or a list of paths.
fn all_inputs(args: &Bound<'_, PyTuple>) -> PyResult<Vec<String>> {
    let mut out = Vec::new();
    for a in args.iter() {
        out.extend(flags::inputs(&a)?);
    }
    Ok(out)
}

/// `chatql.connect(*inputs, **flags)`: a connection over lakes, exports, zips or URLs.
#[pyfunction]
#[pyo3(signature = (*inputs, **flags))]
fn connect(
    py: Python<'_>,
    inputs: &Bound<'_, PyTuple>,
    flags: Option<&Bound<'_, PyDict>>,
) -> PyResult<Connection> {
    Connection::open(py, all_inputs(inputs)?, flags)
}

/// `chatql.sql(query, *inputs, **flags)`: one query over inputs, then the connection closes.
#[pyfunction]
#[pyo3(signature = (query, *inputs, **flags))]
fn sql(
    py: Python<'_>,
    query: String,
    inputs: &Bound<'_, PyTuple>,
    flags: Option<&Bound<'_, PyDict>>,
) -> PyResult<QueryResult> {
    let con = Connection::open(py, all_inputs(inputs)?, flags)?;
    let r = con.run(py, query);
    con.shut();
    r
}

/// The `chatql` console command: runs the command line on `argv` (its first item, the
/// program, is ignored) and returns the exit code.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>) -> PyResult<u8> {
    use clap::Parser;
    let args = std::iter::once("chatql".to_owned()).chain(argv.into_iter().skip(1));
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return Ok(e.exit_code() as u8);
        }
    };
    // The process runs the command and nothing else: Ctrl-C removes staging and exits
    // 130, as the binary does.
    Ok(py.detach(move || cli::execute(cli)))
}

#[pymodule]
fn _chatql(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Connection>()?;
    m.add_class::<QueryResult>()?;
    m.add_class::<ops::Report>()?;
    m.add_class::<ops::Section>()?;
    m.add_class::<ops::Topics>()?;
    m.add_function(wrap_pyfunction!(connect, m)?)?;
    m.add_function(wrap_pyfunction!(sql, m)?)?;
    m.add_function(wrap_pyfunction!(ops::convert_lake, m)?)?;
    m.add_function(wrap_pyfunction!(ops::report, m)?)?;
    m.add_function(wrap_pyfunction!(ops::topics, m)?)?;
    m.add_function(wrap_pyfunction!(ops::export_to, m)?)?;
    m.add_function(wrap_pyfunction!(ops::inspect, m)?)?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
