//! Running chatql's SQL on a Ballista cluster (the `cluster` feature).
//!
//! Ballista is DataFusion's own distributed engine: a scheduler plans a query into stages
//! and executors run them, reading the lake's Parquet files themselves. So that a user needs
//! nothing else installed, this binary is also the scheduler and the executor; both carry
//! chatql's functions, which the client's plans refer to by name:
//! - the scheduler turns the client's logical plan into a physical one, so its sessions are
//!   built with the functions registered ([`session_state`]);
//! - executors decode the physical plan's function calls from their registry
//!   ([`function_registry`]).
//!
//! The client side is the parent [`crate::query::catalog`]: a catalog opened with a remote URL registers
//! the same tables and views, and its queries run on the cluster.
//!
//! A lake's tables are [`LakeTable`]s (exactly the files of one Delta version, with their
//! partition values), which Ballista's own codec does not know: [`LakeCodec`] carries them
//! in the client's logical plan to the scheduler, which plans DataFusion's Parquet scan
//! over those files; executors read the files themselves.

use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::{FunctionRegistry, SessionState};
use datafusion::prelude::{SessionConfig, SessionContext};

use ballista_core::extension::SessionConfigExt;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion_proto::logical_plan::LogicalExtensionCodec;

use super::lake::LakeTable;
use crate::error::{Error, Result};

/// Registers chatql's functions (vector math, `email_domain`, JSON access) in `registry`.
pub fn register_functions(registry: &mut dyn FunctionRegistry) -> datafusion::error::Result<()> {
    datafusion_functions_json::register_all(registry)?;
    for f in crate::query::functions::udfs() {
        registry.register_udf(Arc::new(f))?;
    }
    Ok(())
}

/// A scheduler session: Ballista's defaults plus chatql's functions, and object stores made
/// on first use (a lake in S3 is planned here: its files' store must be known).
pub fn session_state(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    let state = default_session_builder(config)?;
    let runtime = RuntimeEnvBuilder::from_runtime_env(state.runtime_env())
        .with_object_store_registry(crate::store::registry())
        .build_arc()?;
    let mut state = SessionStateBuilder::new_from_existing(state)
        .with_runtime_env(runtime)
        .build();
    register_functions(&mut state)?;
    Ok(state)
}

/// The functions an executor can run: Ballista's defaults plus chatql's.
pub fn function_registry() -> datafusion::error::Result<BallistaFunctionRegistry> {
    let state = session_state(ballista_core::utils::default_config_producer())?;
    Ok(BallistaFunctionRegistry::from(&state))
}

/// Ballista's logical codec, plus chatql's lake tables.
#[derive(Debug, Default)]
pub struct LakeCodec {
    inner: ballista_core::serde::BallistaLogicalExtensionCodec,
}

/// The first byte of an encoded [`LakeTable`] (JSON never starts with it).
const LAKE_TAG: u8 = 0xC7;

impl LogicalExtensionCodec for LakeCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> datafusion::error::Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> datafusion::error::Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> datafusion::error::Result<Arc<dyn TableProvider>> {
        match buf.split_first() {
            Some((&LAKE_TAG, rest)) => {
                Ok(Arc::new(LakeTable::decode(rest).map_err(|e| {
                    datafusion::error::DataFusionError::External(Box::new(e))
                })?))
            }
            _ => self
                .inner
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> datafusion::error::Result<()> {
        if let Some(lake) = node.downcast_ref::<LakeTable>() {
            buf.push(LAKE_TAG);
            buf.extend(lake.encode());
            return Ok(());
        }
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> datafusion::error::Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> datafusion::error::Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }
}

/// Turns `state` (a local session with the tables, views and functions) into one whose
/// queries run on the scheduler at `url` (`df://HOST:PORT`).
pub async fn remote_context(url: &str, mut state: SessionState) -> Result<SessionContext> {
    use ballista::prelude::SessionContextExt;
    if !url.starts_with("df://") {
        return Err(Error::Usage(format!(
            "--remote {url}: expected df://HOST:PORT (the scheduler's address)"
        )));
    }
    // A dynamic filter is filled by one operator (a join's build side, a TopK, an aggregate)
    // and awaited by a scan; when Ballista puts the two in different stages the scan can
    // wait forever (apache/datafusion-ballista#1900). Only the umbrella switch holds: the
    // scheduler applies the settings as key-value pairs, and the umbrella's resets the rest.
    let opt = &mut state.config_mut().options_mut().optimizer;
    opt.enable_dynamic_filter_pushdown = false;
    opt.enable_join_dynamic_filter_pushdown = false;
    opt.enable_aggregate_dynamic_filter_pushdown = false;
    opt.enable_topk_dynamic_filter_pushdown = false;
    let config = state
        .config()
        .clone()
        .with_ballista_logical_extension_codec(Arc::new(LakeCodec::default()));
    *state.config_mut() = config;
    let mut ctx = SessionContext::remote_with_state(url, state).await?;
    // Ballista's upgrade replaces the session's function list with its own defaults.
    register_functions(&mut ctx)?;
    // Ballista 55's adaptive planner loses track of a stage it replans (a union of semi
    // joins, as a report's restricted views make, hangs with "stages to be cancelled but
    // its not implemented"); the static planner runs the same plans correctly.
    ctx.sql("SET ballista.planner.adaptive.enabled = false")
        .await?
        .collect()
        .await?;
    Ok(ctx)
}
