//! A table of which only some columns were kept: it shows the table's whole schema, so that
//! statements, views and `\d` see the table as it is, and scans the kept columns. A
//! one-shot statement over a raw export is planned first against empty tables, and the
//! columns its optimized plan scans ([`scanned`]) are all that is kept while ingesting
//! (with the rows of a `WHERE` every scan of the table applies first, where deduplication
//! allows); a scan that asks for another column is an error that names it, never a silent
//! null.

use std::collections::{BTreeMap, BTreeSet, HashSet};
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

/// What statements read of one table: which columns, and which rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    /// The columns (`None`: all).
    pub columns: Columns,
    /// The rows.
    pub rows: Rows,
}

/// Which rows of a table statements read.
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    /// None: the table is named but never scanned.
    Unscanned,
    /// Those this predicate holds for: every scan of the table filters by it first. (Its
    /// columns are qualified by the name the table is registered under.)
    Where(Expr),
    /// All.
    All,
}

impl Need {
    /// Every column and row.
    pub fn all() -> Need {
        Need {
            columns: None,
            rows: Rows::All,
        }
    }

    fn unscanned() -> Need {
        Need {
            columns: Some(Vec::new()),
            rows: Rows::Unscanned,
        }
    }

    /// What both `self` and `other` read.
    pub fn merge(&mut self, other: Need) {
        merge(&mut self.columns, other.columns);
        self.rows = match (std::mem::replace(&mut self.rows, Rows::All), other.rows) {
            (Rows::Unscanned, r) | (r, Rows::Unscanned) => r,
            (Rows::Where(a), Rows::Where(b)) if a == b => Rows::Where(a),
            _ => Rows::All,
        };
    }

    /// Whether what was loaded for `self` serves `other`.
    pub fn covers(&self, other: &Need) -> bool {
        let columns = match (&self.columns, &other.columns) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(have), Some(want)) => want.iter().all(|c| have.contains(c)),
        };
        let rows = match (&self.rows, &other.rows) {
            (Rows::All, _) | (_, Rows::Unscanned) => true,
            (Rows::Where(a), Rows::Where(b)) => a == b,
            _ => false,
        };
        columns && rows
    }
}

/// What an optimized `plan` reads of each of `tables` (those it names): the columns its
/// scans project (a scan of every column is `None`), and the rows: a predicate when every
/// scan of the table sits right under a filter by the same deterministic predicate, else
/// all. `table_of` maps a scanned name to its table (`None`: not one of the six).
pub fn scanned(
    plan: &LogicalPlan,
    tables: &BTreeSet<Table>,
    table_of: impl Fn(&str) -> Option<Table>,
) -> crate::error::Result<BTreeMap<Table, Need>> {
    let mut out: BTreeMap<Table, Need> = tables.iter().map(|t| (*t, Need::unscanned())).collect();
    let mut under_filter: HashSet<*const LogicalPlan> = HashSet::new();
    plan.apply_with_subqueries(|node| {
        let (scan, rows) = match node {
            LogicalPlan::Filter(f) => match f.input.as_ref() {
                LogicalPlan::TableScan(scan) => {
                    under_filter.insert(f.input.as_ref() as *const LogicalPlan);
                    let rows = if f.predicate.is_volatile() {
                        Rows::All
                    } else {
                        Rows::Where(f.predicate.clone())
                    };
                    (scan, rows)
                }
                _ => return Ok(TreeNodeRecursion::Continue),
            },
            LogicalPlan::TableScan(scan)
                if !under_filter.contains(&(node as *const LogicalPlan)) =>
            {
                (scan, Rows::All)
            }
            _ => return Ok(TreeNodeRecursion::Continue),
        };
        if let Some(t) = table_of(scan.table_name.table()) {
            out.entry(t).or_insert_with(Need::unscanned).merge(Need {
                columns: scan.projection.clone(),
                rows,
            });
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    for (t, need) in out.iter_mut() {
        if need
            .columns
            .as_ref()
            .is_some_and(|c| c.len() == t.schema().fields().len())
        {
            need.columns = None;
        }
    }
    Ok(out)
}

/// Widens `into` by `more` (`None`: every column).
fn merge(into: &mut Columns, more: Columns) {
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
