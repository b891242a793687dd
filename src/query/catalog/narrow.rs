//! A table of which only some columns were kept: it shows the table's whole schema, so that
//! statements, views and `\d` see the table as it is, and scans the kept columns. A
//! one-shot statement over a raw export is planned first to learn which columns it reads
//! ([`super::Catalog::columns_in`]), and only those are kept while ingesting; a scan that
//! asks for another column is an error that names it, never a silent null.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

/// `inner` holds columns `columns` (ascending indices into `schema`) of a table.
#[derive(Debug)]
pub struct Narrowed {
    schema: SchemaRef,
    columns: Vec<usize>,
    inner: Arc<dyn TableProvider>,
}

impl Narrowed {
    /// `inner`'s schema must be `schema` projected to `columns`.
    pub fn new(schema: SchemaRef, columns: Vec<usize>, inner: Arc<dyn TableProvider>) -> Self {
        Narrowed {
            schema,
            columns,
            inner,
        }
    }
}

#[async_trait]
impl TableProvider for Narrowed {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let all: Vec<usize> = (0..self.schema.fields().len()).collect();
        let inner = projection
            .unwrap_or(&all)
            .iter()
            .map(|c| {
                self.columns.iter().position(|k| k == c).ok_or_else(|| {
                    DataFusionError::Internal(format!(
                        "column {} was not kept when the export was read",
                        self.schema.field(*c).name()
                    ))
                })
            })
            .collect::<Result<Vec<usize>>>()?;
        self.inner.scan(state, Some(&inner), filters, limit).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![
            TableProviderFilterPushDown::Unsupported;
            filters.len()
        ])
    }
}
