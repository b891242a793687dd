//! Querying: [`catalog`] owns the one DataFusion session (tables from lakes or raw exports,
//! chatql's [`functions`], the views); [`run`] executes statements and renders their
//! results; [`session`] handles the lines of the interactive shell (whose terminal is the
//! binary's); `cluster` (feature `cluster`, in the catalog whose lake tables it carries to
//! the scheduler) runs the same session on a Ballista cluster. Reports and exports build on
//! this module.

pub mod catalog;
pub mod functions;
pub mod run;
pub mod session;

#[cfg(feature = "cluster")]
pub use catalog::cluster;
pub use catalog::{Catalog, CatalogOptions, Restriction};
pub use run::{run_statements, QueryOptions, QueryReport};
