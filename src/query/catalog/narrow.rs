//! A table of which only some columns were kept: it shows the table's whole schema, so that
//! statements, views and `\d` see the table as it is, and scans the kept columns. A
//! one-shot statement over a raw export is planned first against empty tables, and the
//! columns its optimized plan scans ([`scanned_columns`]) are all that is kept while
//! ingesting; a scan that asks for another column is an error that names it, never a
//! silent null.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use super::raw::Columns;
use crate::table::Table;

/// The columns an optimized `plan` scans of each of `tables` (those it names): a table named
/// but never scanned keeps no column, one scanned without projection or whole keeps all
/// (`None`). `table_of` maps a scanned name to its table (`None`: not one of the six).
pub fn scanned_columns(
    plan: &LogicalPlan,
    tables: &BTreeSet<Table>,
    table_of: impl Fn(&str) -> Option<Table>,
) -> crate::error::Result<BTreeMap<Table, Columns>> {
    let mut out: BTreeMap<Table, Columns> = tables.iter().map(|t| (*t, Some(Vec::new()))).collect();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            if let Some(t) = table_of(scan.table_name.table()) {
                merge(
                    out.entry(t).or_insert(Some(Vec::new())),
                    scan.projection.clone(),
                );
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    for (t, cols) in out.iter_mut() {
        if cols
            .as_ref()
            .is_some_and(|c| c.len() == t.schema().fields().len())
        {
            *cols = None;
        }
    }
    Ok(out)
}

/// Widens `into` by `more` (`None`: every column).
pub fn merge(into: &mut Columns, more: Columns) {
    match (into.as_mut(), more) {
        (Some(have), Some(more)) => {
            have.extend(more);
            have.sort_unstable();
            have.dedup();
        }
        _ => *into = None,
    }
}

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
