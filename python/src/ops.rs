//! The one-shot calls: `convert`, `report`, `topics`, `export`, `inspect`. Each parses its
//! arguments as its command's flags (see [`crate::flags`]), runs the library as the command
//! does, and returns what the command would print as Python values: a summary dict, or
//! objects whose parts are [`QueryResult`]s.

use chatql::export::{export, export_vectors};
use chatql::lake::convert::convert;
use chatql::report::ReportResult;
use chatql::topics::{table, TopicMap};
use datafusion::arrow::array::RecordBatch;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::cli;
use crate::errors::{chatql_error, IntoPy};
use crate::flags::{inputs, parse};
use crate::result::QueryResult;
use crate::runtime::{wait, Cancel};

/// A serializable value as Python's `json.loads` makes it.
fn to_py<'py>(py: Python<'py>, v: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(v).map_err(|e| crate::errors::internal(e.to_string()))?;
    py.import("json")?.getattr("loads")?.call1((text,))
}

/// Words of a command line: positionals after `--`, so an input named like a flag stays one.
fn words(flags: &[(&str, String)], positionals: Vec<String>) -> Vec<String> {
    let mut w: Vec<String> = flags
        .iter()
        .flat_map(|(f, v)| [(*f).to_owned(), v.clone()])
        .collect();
    w.push("--".into());
    w.extend(positionals);
    w
}

/// `chatql.convert(inputs, out, **flags)`: a lake from exports; returns the run's summary.
#[pyfunction(name = "convert")]
#[pyo3(signature = (inputs, out, **flags))]
pub fn convert_lake<'py>(
    py: Python<'py>,
    inputs: &Bound<'py, PyAny>,
    out: &Bound<'py, PyAny>,
    flags: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let out = crate::flags::inputs(out)?.remove(0);
    let ins = crate::flags::inputs(inputs)?;
    let a: cli::convert::ConvertArgs = parse(words(&[("--output", out)], ins), flags)?;
    let (ins, opts) = a.options().py_err()?;
    let cancel = Cancel::writer(&opts.ingest.progress);
    let report = wait(py, cancel, async move {
        tokio::task::spawn_blocking(move || convert(&ins, &opts)).await
    })?
    .map_err(|e| crate::errors::internal(e.to_string()))?
    .py_err()?;
    let d = PyDict::new(py);
    let tables = PyDict::new(py);
    for t in &report.tables {
        tables.set_item(&t.name, t.rows)?;
    }
    d.set_item("tables", tables)?;
    d.set_item("read", to_py(py, &report.reading.read)?)?;
    d.set_item("duplicates", to_py(py, &report.reading.duplicates)?)?;
    d.set_item("inputs", to_py(py, &report.reading.inputs)?)?;
    d.set_item("skipped", report.reading.skipped.clone())?;
    d.set_item("output", report.output.display().to_string())?;
    d.set_item("seconds", report.seconds)?;
    if let Some(p) = &report.partitioned {
        d.set_item("run", p.run)?;
        d.set_item("already_in_lake", to_py(py, &p.already_in_lake)?)?;
        d.set_item("replaced", to_py(py, &p.replaced)?)?;
        let rows = PyDict::new(py);
        for (t, n) in &p.lake_rows {
            rows.set_item(t, n)?;
        }
        d.set_item("lake_rows", rows)?;
    }
    Ok(d.into_any())
}

/// One section of a report: its title and its rows.
#[pyclass(module = "chatql", name = "Section", frozen, get_all)]
pub struct Section {
    /// The report it belongs to (`activity`, `users`, ...).
    report: String,
    /// Heading.
    title: String,
    /// Its rows.
    result: Py<QueryResult>,
}

#[pymethods]
impl Section {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let rows = self.result.bind(py).len()?;
        Ok(format!(
            "<chatql.Section {} / {}: {rows} rows>",
            self.report, self.title
        ))
    }
}

/// The reports asked for, as `chatql report --format html` shows them.
#[pyclass(module = "chatql", name = "Report", frozen)]
pub struct Report {
    results: Vec<ReportResult>,
    sections: Vec<Py<Section>>,
    subtitle: String,
}

#[pymethods]
impl Report {
    /// Every section, in order.
    #[getter]
    fn sections(&self, py: Python<'_>) -> Vec<Py<Section>> {
        self.sections.iter().map(|s| s.clone_ref(py)).collect()
    }

    /// The names of the reports it holds.
    #[getter]
    fn names(&self) -> Vec<String> {
        self.results.iter().map(|r| r.name.clone()).collect()
    }

    /// A section's rows by title (as printed), or the sections of a report by name.
    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        let of_report: Vec<Py<Section>> = self
            .sections
            .iter()
            .filter(|s| s.get().report == key)
            .map(|s| s.clone_ref(py))
            .collect();
        if !of_report.is_empty() {
            return Ok(PyList::new(py, of_report)?.into_any());
        }
        match self.sections.iter().find(|s| s.get().title == key) {
            Some(s) => Ok(s.get().result.bind(py).clone().into_any()),
            None => Err(pyo3::exceptions::PyKeyError::new_err(key.to_owned())),
        }
    }

    /// The dashboard page (as `chatql report --format html` writes it).
    fn to_html(&self) -> String {
        chatql::report::html::report_page(&self.results, &self.subtitle)
    }

    fn _repr_html_(&self) -> String {
        framed(&self.to_html(), 720)
    }

    fn __repr__(&self) -> String {
        let titles: Vec<String> = self
            .sections
            .iter()
            .map(|s| format!("  {} / {}", s.get().report, s.get().title))
            .collect();
        format!(
            "<chatql.Report: {} sections>\n{}",
            titles.len(),
            titles.join("\n")
        )
    }
}

/// A whole page inside a notebook cell: in an iframe, so that its styles stay its own.
fn framed(page: &str, height: u32) -> String {
    format!(
        "<iframe srcdoc=\"{}\" style=\"width:100%;height:{height}px;border:1px solid #d0d7de\" \
         sandbox=\"allow-scripts\"></iframe>",
        chatql::render::html_escape(page)
    )
}

/// `chatql.report(inputs, name=None, **flags)`: usage reports as Results.
#[pyfunction]
#[pyo3(signature = (inputs, name=None, **flags))]
pub fn report<'py>(
    py: Python<'py>,
    inputs: &Bound<'py, PyAny>,
    name: Option<String>,
    flags: Option<&Bound<'py, PyDict>>,
) -> PyResult<Report> {
    let mut positionals: Vec<String> = name.into_iter().collect();
    positionals.extend(crate::flags::inputs(inputs)?);
    let a: cli::report::ReportArgs = parse(words(&[], positionals), flags)?;
    let defs = chatql::report::registry(a.queries()).py_err()?;
    let (ins, mut opts) = a.options(&defs).py_err()?;
    // The dashboard holds the topics, as the page does.
    opts.topics = true;
    let tz = opts.catalog.tz;
    let cancel = Cancel::query(&opts.catalog.ingest.progress);
    let subtitle = format!("{} · times in {tz}", ins.join(", "));
    let results = wait(py, cancel, async move {
        chatql::report::generate(&ins, &opts, |_, _| {}).await
    })?
    .py_err()?;
    let mut sections = Vec::new();
    for r in &results {
        for s in &r.sections {
            let result = Py::new(py, QueryResult::new(s.schema.clone(), s.batches.clone()))?;
            sections.push(Py::new(
                py,
                Section {
                    report: r.name.clone(),
                    title: s.title.clone(),
                    result,
                },
            )?);
        }
    }
    Ok(Report {
        results,
        sections,
        subtitle,
    })
}

/// A topic map: the topics, each question's topic, representative questions, the page.
#[pyclass(module = "chatql", name = "Topics", frozen)]
pub struct Topics {
    map: TopicMap,
    subtitle: String,
    #[pyo3(get)]
    topics: Py<QueryResult>,
    #[pyo3(get)]
    assignments: Py<QueryResult>,
    #[pyo3(get)]
    examples: Py<QueryResult>,
}

fn result_of(py: Python<'_>, b: chatql::Result<RecordBatch>) -> PyResult<Py<QueryResult>> {
    let b = b.py_err()?;
    Py::new(py, QueryResult::new(b.schema(), vec![b]))
}

#[pymethods]
impl Topics {
    /// The clustering's mean silhouette (-1 to 1: how well questions sit in their topic).
    #[getter]
    fn silhouette(&self) -> f64 {
        self.map.silhouette
    }

    /// Number of topics.
    #[getter]
    fn k(&self) -> usize {
        self.map.topics.len()
    }

    /// Whether questions were placed by the chunks they retrieved (else by their words).
    #[getter]
    fn by_retrieval(&self) -> bool {
        self.map.by_retrieval
    }

    /// The map page (as `chatql topics --format html` writes it).
    fn to_html(&self) -> String {
        chatql::topics::html::page(&self.map, &self.subtitle)
    }

    fn _repr_html_(&self) -> String {
        framed(&self.to_html(), 760)
    }

    fn __repr__(&self) -> String {
        format!("<chatql.Topics: {}>", self.subtitle)
    }
}

/// `chatql.topics(inputs, k=None, **flags)`: what students ask about. `None` when the
/// inputs hold no user questions.
#[pyfunction]
#[pyo3(signature = (inputs, k=None, **flags))]
pub fn topics<'py>(
    py: Python<'py>,
    inputs: &Bound<'py, PyAny>,
    k: Option<usize>,
    flags: Option<&Bound<'py, PyDict>>,
) -> PyResult<Option<Topics>> {
    let k: Vec<(&str, String)> = k.map(|k| ("-k", k.to_string())).into_iter().collect();
    let a: cli::topics::TopicsArgs = parse(words(&k, crate::flags::inputs(inputs)?), flags)?;
    let plan = a.plan();
    let cancel = Cancel::query(&plan.catalog.ingest.progress);
    let ins = plan.inputs.clone();
    let map = wait(py, cancel, async move {
        chatql::topics::from_inputs(&plan.inputs, &plan.catalog, &plan.restriction, &plan.opts)
            .await
    })?
    .py_err()?;
    let Some(map) = map else { return Ok(None) };
    Ok(Some(Topics {
        subtitle: format!("{} · {}", ins.join(", "), cli::topics::summary(&map)),
        topics: result_of(py, table::topics_batch(&map))?,
        assignments: result_of(py, table::assignments_batch(&map))?,
        examples: result_of(py, table::examples_batch(&map))?,
        map,
    }))
}

/// `chatql.export(inputs, to=..., out=..., **flags)`: training files, the original formats,
/// a ChatGPT file, or documents into a vector store; returns what was written.
#[pyfunction(name = "export")]
#[pyo3(signature = (inputs, to, out, **flags))]
pub fn export_to<'py>(
    py: Python<'py>,
    inputs: &Bound<'py, PyAny>,
    to: String,
    out: &Bound<'py, PyAny>,
    flags: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let out = crate::flags::inputs(out)?.remove(0);
    let positionals = crate::flags::inputs(inputs)?;
    let a: cli::export::ExportArgs = parse(
        words(&[("--to", to), ("--output", out)], positionals.clone()),
        flags,
    )?;
    let opts = a.options().py_err()?;
    let cancel = Cancel::writer(&opts.ingest.progress);
    let d = PyDict::new(py);
    if opts.target.destination().is_some() {
        let r = wait(py, cancel, async move {
            export_vectors(&positionals, &opts).await
        })?
        .py_err()?;
        d.set_item("inserted", r.put.inserted)?;
        d.set_item("updated", r.put.updated)?;
        d.set_item("unchanged", r.put.unchanged)?;
        d.set_item("no_embedding", r.no_embedding)?;
        d.set_item("filtered", r.filtered)?;
        let groups = PyDict::new(py);
        for (g, n) in &r.groups {
            groups.set_item(&g.name, n)?;
        }
        d.set_item("collections", groups)?;
        d.set_item("notes", r.notes.clone())?;
        return Ok(d.into_any());
    }
    if chatql::export::is_stdout(&opts.output) {
        return Err(chatql_error(
            "UsageError",
            "export from Python writes a file: give out= a path, not '-'".into(),
        ));
    }
    let r = wait(py, cancel, async move { export(&positionals, &opts).await })?.py_err()?;
    d.set_item("written", r.written)?;
    d.set_item("validation", r.validation)?;
    d.set_item("filtered", r.filtered)?;
    d.set_item("sampled", r.sampled)?;
    d.set_item("cells", r.cells)?;
    let skipped = PyDict::new(py);
    for (reason, n) in &r.skipped {
        skipped.set_item(reason, n)?;
    }
    d.set_item("skipped", skipped)?;
    let files: Vec<String> = r.files.iter().map(|f| f.display().to_string()).collect();
    d.set_item("files", files)?;
    Ok(d.into_any())
}

/// `chatql.inspect(paths)`: what input files hold, one dict per file (as `--format json`).
#[pyfunction]
pub fn inspect<'py>(py: Python<'py>, paths: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let a: cli::inspect::InspectArgs = parse(words(&[], inputs(paths)?), None)?;
    let ins = a.inputs();
    let files = wait(py, Cancel::default(), async move {
        tokio::task::spawn_blocking(move || chatql::ingest::inspect::inspect(&ins)).await
    })?
    .map_err(|e| crate::errors::internal(e.to_string()))?
    .py_err()?;
    to_py(py, &files)
}
