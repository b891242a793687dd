//! Filled annotation samples given to a catalog (`chatql sql lake sample.csv`): their rows
//! whose ids name a message become the table `annotations`; the others, and rows that cannot
//! be read, are added to `rejects` (a view over the tables' rejects and these).

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::catalog::MemTable;

use super::Catalog;
use crate::error::{Error, Result};
use crate::ingest::annotation::{read_annotations, BadRow};
use crate::table::Table;

/// Where the rejects of annotation files are registered (beneath the `rejects` view).
pub(super) const ANNOTATION_REJECTS: &str = "__annotation_rejects";

impl Catalog {
    /// Registers the rows of filled annotation files as `annotations`: those whose
    /// (`convo_id`, `message_index`) is a message of the tables; the others, and rows that
    /// cannot be read, become rejects with their file and line.
    pub(super) async fn read_annotations(&mut self, files: &[String]) -> Result<()> {
        self.load(&[Table::Messages, Table::Rejects].into_iter().collect())
            .await?;
        let mut batches = Vec::new();
        let mut rejects = Vec::new();
        for f in files {
            let (batch, bad) = tokio::task::spawn_blocking({
                let f = PathBuf::from(f);
                move || read_annotations(&f)
            })
            .await
            .map_err(|e| Error::Internal(format!("annotation reader failed: {e}")))??;
            rejects.extend(bad.into_iter().map(|b| (f.clone(), b)));
            batches.push(batch);
        }
        let rows = unify(batches)?;
        let schema = rows.schema();
        self.ctx.register_table(
            "__annotation_rows",
            Arc::new(MemTable::try_new(schema.clone(), vec![vec![rows]])?),
        )?;
        let known = "EXISTS (SELECT 1 FROM messages m WHERE m.convo_id = a.convo_id \
                     AND m.message_index = a.message_index)";
        let pick = |cond: String| format!("SELECT a.* FROM __annotation_rows a WHERE {cond}");
        let good = self
            .ctx
            .sql(&pick(known.to_owned()))
            .await?
            .collect()
            .await?;
        let unknown = self
            .ctx
            .sql(&pick(format!("NOT {known}")))
            .await?
            .collect()
            .await?;
        self.ctx.deregister_table("__annotation_rows")?;
        self.ctx.register_table(
            "annotations",
            Arc::new(MemTable::try_new(schema, vec![good])?),
        )?;
        for b in unknown {
            let file = b.column(0).as_string::<i32>();
            let line = b
                .column(1)
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            let id = b.column(2).as_string::<i32>();
            let index = b
                .column(3)
                .as_primitive::<datafusion::arrow::datatypes::Int32Type>();
            for i in 0..b.num_rows() {
                rejects.push((
                    file.value(i).to_owned(),
                    BadRow {
                        line: line.value(i),
                        byte: -1,
                        reason: format!(
                            "annotation of convo_id {:?}, message_index {}: no such message",
                            id.value(i),
                            index.value(i)
                        ),
                        snippet: format!("{},{}", id.value(i), index.value(i)),
                    },
                ));
            }
        }
        rejects.sort_by(|a, b| (&a.0, a.1.line).cmp(&(&b.0, b.1.line)));
        let batch = reject_batch(&rejects)?;
        self.ctx.deregister_table(ANNOTATION_REJECTS)?;
        self.ctx.register_table(
            ANNOTATION_REJECTS,
            Arc::new(MemTable::try_new(
                Table::Rejects.schema(),
                vec![vec![batch]],
            )?),
        )?;
        self.localize(&[Table::Rejects]).await
    }
}

/// One batch of annotation rows from several files, whose headers may differ: the columns
/// of all in order of first appearance, null where a file has no such column.
fn unify(batches: Vec<RecordBatch>) -> Result<RecordBatch> {
    use datafusion::arrow::array::new_null_array;
    use datafusion::arrow::datatypes::{Field, Schema};
    let mut fields: Vec<Field> = Vec::new();
    for b in &batches {
        for f in b.schema().fields() {
            if !fields.iter().any(|x| x.name() == f.name()) {
                fields.push(f.as_ref().clone().with_nullable(true));
            }
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let mut parts = Vec::new();
    for b in &batches {
        let cols = schema
            .fields()
            .iter()
            .map(|f| match b.column_by_name(f.name()) {
                Some(c) => c.clone(),
                None => new_null_array(f.data_type(), b.num_rows()),
            })
            .collect();
        parts.push(RecordBatch::try_new(schema.clone(), cols)?);
    }
    Ok(datafusion::arrow::compute::concat_batches(&schema, &parts)?)
}

/// `rejects` rows for annotation rows.
fn reject_batch(rows: &[(String, BadRow)]) -> Result<RecordBatch> {
    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.0.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1.line))),
        Arc::new(Int64Array::from_iter(
            rows.iter().map(|r| (r.1.byte >= 0).then_some(r.1.byte)),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.1.reason.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.1.snippet.as_str()),
        )),
    ];
    Ok(RecordBatch::try_new(Table::Rejects.schema(), cols)?)
}
