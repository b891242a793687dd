//! Querying: [`catalog`] owns the one DataFusion session (tables from lakes or raw exports,
//! chatql's [`functions`], the views); [`run`] executes statements and renders their
//! results; [`session`] handles the lines of the interactive shell (whose terminal is the
//! binary's); `cluster` (feature `cluster`) runs the same session on a
//! Ballista cluster (feature `cluster`). Reports and exports build on this module.

pub mod catalog;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod functions;
pub mod run;
pub mod session;

pub use catalog::{Catalog, CatalogOptions, Restriction};
pub use run::{run_statements, QueryOptions, QueryReport};
