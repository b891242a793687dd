//! A table of a lake as DataFusion sees it: exactly the files of one Delta version
//! ([`LakeSnapshot`]), never a listing of the folder (which also holds files later versions
//! removed, and files of runs that never committed), with each file's partition values
//! from its `add` action as the partition columns.
//!
//! The provider is plain data (file paths, sizes, values) so that it can travel in a
//! Ballista plan: [`LakeTable::encode`] / [`LakeTable::decode`] are what the cluster's
//! logical codec uses, and the scan it plans is DataFusion's own Parquet scan, which
//! executors know.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::ExecutionPlan;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lake::delta::log::decode_path;
use crate::lake::partition::partition_columns;
use crate::lake::LakeSnapshot;
use crate::table::Table;

/// One data file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LakeFile {
    /// Absolute local path.
    path: String,
    size: u64,
    /// Values of the partition columns, in their order.
    partition: Vec<Option<String>>,
}

/// The files of one table of one or more lakes, at fixed versions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LakeTable {
    table: String,
    /// The object store the files are in: empty for the local file system, else
    /// `s3://bucket` (paths are then keys in the bucket).
    #[serde(default)]
    store: String,
    partition_cols: Vec<String>,
    files: Vec<LakeFile>,
    #[serde(skip)]
    schema: Option<SchemaRef>,
}

impl LakeTable {
    /// Table `t` of `lakes` (which share their partition keys).
    pub fn new(lakes: &[LakeSnapshot], t: Table) -> Result<LakeTable> {
        let keys = lakes.first().map(|l| l.keys().to_vec()).unwrap_or_default();
        let partition_cols: Vec<String> = partition_columns(t, &keys)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut files = Vec::new();
        let mut store: Option<String> = None;
        for lake in lakes {
            let snap = lake.table(t);
            let base = lake
                .remote
                .as_ref()
                .map_or_else(String::new, |r| r.remote.base.clone());
            if store.get_or_insert_with(|| base.clone()) != &base {
                return Err(Error::Usage(
                    "the lakes are in different stores (a folder and a bucket, or two \
                     buckets); query them one at a time"
                        .into(),
                ));
            }
            for add in &snap.files {
                let path = match &lake.remote {
                    Some(r) => r
                        .remote
                        .key(&format!("{}/{}", t.name(), decode_path(&add.path)))
                        .to_string(),
                    None => {
                        let path = snap.file_path(add);
                        let abs = std::path::absolute(&path).map_err(|e| Error::io(&path, e))?;
                        abs.to_string_lossy().into_owned()
                    }
                };
                if let Ok(key) = store_key(&base, &path) {
                    crate::store::cache::remember(&base, &key, add.size, add.modification_time);
                }
                files.push(LakeFile {
                    path,
                    size: add.size,
                    partition: partition_cols
                        .iter()
                        .map(|c| add.partition_values.get(c).cloned().flatten())
                        .collect(),
                });
            }
        }
        let mut table = LakeTable {
            table: t.name().to_owned(),
            store: store.unwrap_or_default(),
            partition_cols,
            files,
            schema: None,
        };
        table.schema = Some(table.full_schema()?);
        Ok(table)
    }

    fn table(&self) -> Result<Table> {
        Table::from_name(&self.table)
            .ok_or_else(|| Error::Internal(format!("no table {}", self.table)))
    }

    /// The table's columns, then its partition columns (strings).
    fn full_schema(&self) -> Result<SchemaRef> {
        let mut fields: Vec<Field> = self
            .table()?
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for c in &self.partition_cols {
            fields.push(Field::new(c, DataType::Utf8, true));
        }
        Ok(Arc::new(Schema::new(fields)))
    }

    /// The provider as bytes, for a Ballista plan.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("serializable")
    }

    /// The provider from [`LakeTable::encode`]'s bytes.
    pub fn decode(buf: &[u8]) -> Result<LakeTable> {
        let mut t: LakeTable = serde_json::from_slice(buf)
            .map_err(|e| Error::Internal(format!("a lake table in a plan: {e}")))?;
        t.schema = Some(t.full_schema()?);
        Ok(t)
    }
}

#[async_trait]
impl TableProvider for LakeTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone().expect("set on construction")
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        // The filter stays above the scan; the scan prunes files and row groups with it.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let table = self
            .table()
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        if self.files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema().project(p)?),
                None => self.schema(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let parts: Vec<Arc<Field>> = self
            .partition_cols
            .iter()
            .map(|c| Arc::new(Field::new(c, DataType::Utf8, true)))
            .collect();
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let source = format.file_source(
            TableSchema::builder(table.schema())
                .with_table_partition_cols(parts)
                .build(),
        );
        let groups = state.config().target_partitions().max(1);
        let mut file_groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); groups];
        // Largest files first, each to the lightest group.
        let mut order: Vec<&LakeFile> = self.files.iter().collect();
        order.sort_by_key(|f| std::cmp::Reverse(f.size));
        // Its small files fetched ahead, in the order the groups read them.
        let mut keys = Vec::with_capacity(order.len());
        let mut load = vec![0u64; groups];
        for f in order {
            let g = (0..groups).min_by_key(|g| load[*g]).unwrap_or(0);
            load[g] += f.size;
            let path = store_key(&self.store, &f.path)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            keys.push(path.clone());
            let mut pf = PartitionedFile::new(path, f.size);
            pf.partition_values = f
                .partition
                .iter()
                .map(|v| ScalarValue::Utf8(v.clone()))
                .collect();
            file_groups[g].push(pf);
        }
        let file_groups: Vec<FileGroup> = file_groups
            .into_iter()
            .filter(|g| !g.is_empty())
            .map(FileGroup::new)
            .collect();
        let url = if self.store.is_empty() {
            ObjectStoreUrl::local_filesystem()
        } else {
            ObjectStoreUrl::parse(&self.store)?
        };
        let store = state.runtime_env().object_store(&url)?;
        crate::store::cache::prefetch(&self.store, store, &keys);
        let config = FileScanConfigBuilder::new(url, source)
            .with_file_groups(file_groups)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        format.create_physical_plan(state, config).await
    }
}

/// The object store's key of a lake file's `path`: a key in the bucket already for a lake in a
/// store (`store` its base), the absolute path made a key for a lake on disk.
fn store_key(store: &str, path: &str) -> std::result::Result<String, object_store::path::Error> {
    if store.is_empty() {
        Ok(object_store::path::Path::from_absolute_path(path)?.to_string())
    } else {
        Ok(path.to_owned())
    }
}
