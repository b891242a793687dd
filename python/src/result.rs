//! `chatql.Result`: a query's result, held as Arrow record batches and handed to Python
//! through the Arrow PyCapsule interface (`__arrow_c_stream__`), so that pyarrow, Polars
//! and DuckDB take the same buffers without a copy. Reading it again reads the same batches:
//! the query is not run again (Jupyter asks for `__repr__` and `_repr_html_` both).

use std::sync::Arc;

use chatql::render::{write_batches, Format, RenderOptions};
use datafusion::arrow::array::{RecordBatch, RecordBatchIterator};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ffi::FFI_ArrowSchema;
use datafusion::arrow::ffi_stream::FFI_ArrowArrayStream;
use pyo3::exceptions::PyImportError;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyList};

use crate::errors::internal;
use crate::values::Converter;

/// Rows `repr()` and `_repr_html_()` show, like the command line's table.
const SHOWN_ROWS: usize = 40;

/// The result of a query.
#[pyclass(module = "chatql", name = "Result", frozen)]
pub struct QueryResult {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    rows: usize,
}

impl QueryResult {
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        QueryResult {
            schema,
            batches,
            rows,
        }
    }

    fn render(&self, format: Format) -> PyResult<String> {
        let opts = RenderOptions {
            format,
            max_rows: Some(SHOWN_ROWS),
            ..Default::default()
        };
        let mut out = Vec::new();
        let r = write_batches(&self.schema, &self.batches, &opts, &mut out)
            .map_err(|e| internal(e.to_string()))?;
        let mut text = String::from_utf8_lossy(&out).into_owned();
        let footer = if r.hidden > 0 {
            format!("{} rows ({} shown)", r.rows, r.rows - r.hidden)
        } else {
            format!("{} row{}", r.rows, if r.rows == 1 { "" } else { "s" })
        };
        match format {
            Format::Html => text.push_str(&format!("<p>{footer}</p>\n")),
            _ => text.push_str(&footer),
        }
        Ok(text)
    }

    /// Calls `module.function(self)` of an optional dependency, saying which to install.
    fn hand_to<'py>(
        slf: &Bound<'py, Self>,
        module: &str,
        function: &str,
        extra: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let m = slf.py().import(module).map_err(|_| {
            PyImportError::new_err(format!(
                "this needs {module}: pip install {module} (or the package's [{extra}] extra)"
            ))
        })?;
        m.getattr(function)?.call1((slf,))
    }
}

#[pymethods]
impl QueryResult {
    /// The Arrow C stream of the result (the Arrow PyCapsule interface): each call a new
    /// stream over the same batches. `requested_schema` is not applied: the result's
    /// types are its own.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let batches = self.batches.clone().into_iter().map(Ok);
        let reader = RecordBatchIterator::new(batches, self.schema.clone());
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    /// The Arrow C schema of the result.
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let schema =
            FFI_ArrowSchema::try_from(self.schema.as_ref()).map_err(|e| internal(e.to_string()))?;
        PyCapsule::new_with_value(py, schema, c"arrow_schema")
    }

    /// The result as a `pyarrow.Table` (the same buffers).
    fn arrow<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::hand_to(slf, "pyarrow", "table", "pyarrow")
    }

    /// The result as a `polars.DataFrame` (the same buffers).
    fn pl<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::hand_to(slf, "polars", "DataFrame", "polars")
    }

    /// The result as a `pandas.DataFrame` (through pyarrow).
    fn df<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::hand_to(slf, "pyarrow", "table", "pandas")?.call_method0("to_pandas")
    }

    /// Every row as a tuple of Python values (no pyarrow needed).
    fn fetchall<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let c = Converter::new(py)?;
        let out = PyList::empty(py);
        for b in &self.batches {
            c.rows(b, &out)?;
        }
        Ok(out)
    }

    /// The schema as a `pyarrow.Schema`.
    #[getter]
    fn schema<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::hand_to(slf, "pyarrow", "schema", "pyarrow")
    }

    /// Column names.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// Column types, as Arrow names them (`Int64`, `Utf8View`, ...).
    #[getter]
    fn types(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.data_type().to_string())
            .collect()
    }

    /// Rows in the result.
    fn __len__(&self) -> usize {
        self.rows
    }

    fn __repr__(&self) -> PyResult<String> {
        self.render(Format::Table)
    }

    fn _repr_html_(&self) -> PyResult<String> {
        self.render(Format::Html)
    }
}

/// The schema of a capsule-less empty result, for statements that return nothing.
pub fn empty() -> QueryResult {
    QueryResult::new(
        Arc::new(datafusion::arrow::datatypes::Schema::empty()),
        vec![],
    )
}
