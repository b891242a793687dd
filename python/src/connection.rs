//! `chatql.connect(...)`: one catalog (a DataFusion session over the six tables and the
//! views) kept open for many queries, as DuckDB's and datafusion-python's connections are.
//! Its options are `chatql sql`'s flags (see [`crate::flags`]).

use std::sync::Arc;

use chatql::ingest::Progress;
use chatql::query::Catalog;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use tokio::sync::Mutex;

use crate::errors::{chatql_error, IntoPy};
use crate::result::{empty, QueryResult};
use crate::runtime::{wait, Cancel};

/// An open catalog over inputs (lakes, raw exports, zips, object-store URLs).
#[pyclass(module = "chatql", name = "Connection", frozen)]
pub struct Connection {
    catalog: std::sync::Mutex<Option<Arc<Mutex<Catalog>>>>,
    progress: Progress,
    inputs: Vec<String>,
}

impl Connection {
    /// Opens a catalog over `inputs` with `chatql sql`'s flags as keyword arguments.
    pub fn open(
        py: Python<'_>,
        inputs: Vec<String>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Connection> {
        let args: crate::cli::sql::SqlArgs = crate::flags::parse(
            std::iter::once("--".to_owned())
                .chain(inputs.iter().cloned())
                .collect(),
            kwargs,
        )?;
        let mut opts = args.catalog_options(false);
        let progress = opts.ingest.progress.clone();
        // A connection answers many statements: raw exports are read whole, once.
        opts.columns_as_needed = false;
        let cancel = Cancel::query(&progress);
        let ins = inputs.clone();
        let catalog =
            wait(py, cancel, async move { Catalog::open(&ins, &opts).await })?.py_err()?;
        Ok(Connection {
            catalog: std::sync::Mutex::new(Some(Arc::new(Mutex::new(catalog)))),
            progress,
            inputs,
        })
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Arc<Mutex<Catalog>>>> {
        self.catalog.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn catalog(&self) -> PyResult<Arc<Mutex<Catalog>>> {
        self.slot()
            .clone()
            .ok_or_else(|| chatql_error("UsageError", "this connection is closed".into()))
    }

    /// Runs `query`: see [`Connection::sql`].
    pub fn run(&self, py: Python<'_>, query: String) -> PyResult<QueryResult> {
        let catalog = self.catalog()?;
        let results = wait(py, Cancel::query(&self.progress), async move {
            catalog.lock_owned().await.run_sql(&query).await
        })?
        .py_err()?;
        Ok(results
            .into_iter()
            .next_back()
            .map_or_else(empty, |(schema, batches)| QueryResult::new(schema, batches)))
    }

    /// Drops the catalog.
    pub fn shut(&self) {
        self.slot().take();
    }
}

#[pymethods]
impl Connection {
    /// Runs `query` (one or more statements separated by `;`) and returns the last
    /// statement's result, read into memory.
    fn sql(&self, py: Python<'_>, query: String) -> PyResult<QueryResult> {
        self.run(py, query)
    }

    /// The names of the tables and views.
    fn tables(&self) -> PyResult<Vec<&'static str>> {
        let catalog = self.catalog()?;
        let names = catalog.blocking_lock().relation_names();
        Ok(names)
    }

    /// Closes the catalog (its memory and spool files go now, not when collected).
    fn close(&self) {
        self.shut();
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        let state = if self.slot().is_some() {
            "open"
        } else {
            "closed"
        };
        format!(
            "<chatql.Connection {state} over {}>",
            self.inputs.join(", ")
        )
    }
}
