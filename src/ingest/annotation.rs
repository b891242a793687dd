//! Filled annotation files (`chatql export --to annotation`, coded by hand) read back as rows
//! of the `annotations` table: `source_file`, `source_line`, `convo_id`, `message_index`, then
//! every other column of the file's header as text (an empty cell is null), so columns a
//! coder added come along. A row that cannot be read (a different number of cells than the
//! header, a `message_index` that is not a whole number, no `convo_id`) is a reject with its
//! line; whether the ids name a real answer is the catalog's check.
//!
//! A file is taken for an annotation file when it is a `.csv` whose header has `convo_id` and
//! `message_index` and no `convo` (which conversation exports of the CSV era have).

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};

/// A row of a file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// 1-based line where the row starts.
    pub line: i64,
    /// Byte offset where it starts.
    pub byte: i64,
    /// Why.
    pub reason: String,
    /// The first 200 characters of the row.
    pub snippet: String,
}

fn header_of(text: &str) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    match r.records().next() {
        Some(Ok(h)) => h.iter().map(|s| s.trim().to_owned()).collect(),
        _ => Vec::new(),
    }
}

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Whether `path` is an annotation file (see the module text).
pub fn is_annotation_file(path: &Path) -> bool {
    let csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if !csv || !path.is_file() {
        return false;
    }
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let mut first = String::new();
    use std::io::BufRead;
    if std::io::BufReader::new(f).read_line(&mut first).is_err() {
        return false;
    }
    let h = header_of(strip_bom(&first));
    let has = |c: &str| h.iter().any(|x| x == c);
    has("convo_id") && has("message_index") && !has("convo")
}

/// The rows of an annotation file, and the rows that could not be read.
pub fn read_annotations(path: &Path) -> Result<(RecordBatch, Vec<BadRow>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| Error::Config {
        file: path.display().to_string(),
        line: 0,
        message: format!("not UTF-8 text: {e}"),
    })?;
    let text = strip_bom(&text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::Config {
            file: path.display().to_string(),
            line: 1,
            message: format!("no CSV header: {e}"),
        })?
        .iter()
        .map(|s| s.trim().to_owned())
        .collect();
    for (i, name) in header.iter().enumerate() {
        let reserved = name == "source_file" || name == "source_line";
        if name.is_empty() || reserved || header[..i].contains(name) {
            return Err(Error::Config {
                file: path.display().to_string(),
                line: 1,
                message: format!(
                    "column {} of the header is {name:?}: columns need distinct names, and \
                     source_file and source_line are chatql's",
                    i + 1
                ),
            });
        }
    }
    let at = |c: &str| {
        header
            .iter()
            .position(|x| x == c)
            .expect("checked by the caller")
    };
    let (id_col, index_col) = (at("convo_id"), at("message_index"));
    let others: Vec<usize> = (0..header.len())
        .filter(|&i| i != id_col && i != index_col)
        .collect();

    let mut lines = Vec::new();
    let mut ids = Vec::new();
    let mut indices = Vec::new();
    let mut cols: Vec<Vec<Option<String>>> = vec![Vec::new(); others.len()];
    let mut bad = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| Error::Config {
            file: path.display().to_string(),
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?;
        let pos = rec
            .position()
            .expect("records read from a reader have positions");
        let (line, byte) = (pos.line() as i64, pos.byte() as i64);
        let reject = |reason: String| BadRow {
            line,
            byte,
            reason,
            snippet: rec
                .iter()
                .collect::<Vec<_>>()
                .join(",")
                .chars()
                .take(200)
                .collect(),
        };
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rec.len() != header.len() {
            bad.push(reject(format!(
                "annotation row has {} cells, the header {}",
                rec.len(),
                header.len()
            )));
            continue;
        }
        let id = rec[id_col].trim();
        if id.is_empty() {
            bad.push(reject("annotation row without a convo_id".into()));
            continue;
        }
        let Ok(index) = rec[index_col].trim().parse::<i32>() else {
            bad.push(reject(format!(
                "annotation row's message_index {:?} is not a whole number",
                &rec[index_col]
            )));
            continue;
        };
        lines.push(line);
        ids.push(id.to_owned());
        indices.push(index);
        for (k, &c) in others.iter().enumerate() {
            let v = rec[c].trim();
            cols[k].push((!v.is_empty()).then(|| v.to_owned()));
        }
    }
    let n = ids.len();
    let mut fields = vec![
        Field::new("source_file", DataType::Utf8, false),
        Field::new("source_line", DataType::Int64, false),
        Field::new("convo_id", DataType::Utf8, false),
        Field::new("message_index", DataType::Int32, false),
    ];
    let file = path.to_string_lossy();
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![file.as_ref(); n])),
        Arc::new(Int64Array::from(lines)),
        Arc::new(StringArray::from(ids)),
        Arc::new(Int32Array::from(indices)),
    ];
    for (k, &c) in others.iter().enumerate() {
        fields.push(Field::new(&header[c], DataType::Utf8, true));
        arrays.push(Arc::new(StringArray::from(std::mem::take(&mut cols[k]))));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
    Ok((batch, bad))
}
