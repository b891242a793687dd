//! `chatql cluster scheduler|executor`: Ballista's services in this binary (feature
//! `cluster`); without the feature, a usage error that says how to build it.

use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
#[command(after_help = "Examples:
  chatql cluster scheduler --bind 0.0.0.0:50050 --external-host head
  chatql cluster executor --scheduler head:50050 --bind 0.0.0.0:50051 --external-host node1
  chatql report /shared/lake --remote df://head:50050")]
pub enum ClusterCommand {
    /// Plan queries and hand out their tasks.
    Scheduler {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
        bind: String,
        /// Name executors and clients reach the scheduler by (default: the bind host).
        #[arg(long, value_name = "HOST")]
        external_host: Option<String>,
    },
    /// Run tasks: reads the lake's files and exchanges intermediate data.
    Executor {
        /// The scheduler.
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
        scheduler: String,
        /// Data (Arrow Flight) service address; the task service takes the next port.
        #[arg(long, default_value = "127.0.0.1:50051", value_name = "HOST:PORT")]
        bind: String,
        /// Port of the task service (default: the --bind port + 1).
        #[arg(long, value_name = "PORT")]
        grpc_port: Option<u16>,
        /// Name the scheduler and other executors reach this one by (default: the bind host).
        #[arg(long, value_name = "HOST")]
        external_host: Option<String>,
        /// Tasks run at once (default: all cores).
        #[arg(long, value_name = "N")]
        cores: Option<usize>,
        /// Folder for intermediate (shuffle) files (default: a temporary folder).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<String>,
    },
}

#[cfg(feature = "cluster")]
pub async fn run(c: ClusterCommand) -> Result<()> {
    use chatql::query::cluster::{
        init_logging, run_executor, run_scheduler, ExecutorOptions, SchedulerOptions,
    };
    init_logging();
    match c {
        ClusterCommand::Scheduler {
            bind,
            external_host,
        } => {
            run_scheduler(&SchedulerOptions {
                bind,
                external_host,
            })
            .await?
        }
        ClusterCommand::Executor {
            scheduler,
            bind,
            grpc_port,
            external_host,
            cores,
            work_dir,
        } => {
            run_executor(&ExecutorOptions {
                scheduler,
                bind,
                grpc_port,
                external_host,
                cores,
                work_dir,
            })
            .await?
        }
    }
    Ok(())
}

#[cfg(not(feature = "cluster"))]
pub async fn run(_: ClusterCommand) -> Result<()> {
    Err(chatql::Error::Usage(
        "this chatql was built without the `cluster` feature \
         (cargo install --path . --features cluster)"
            .into(),
    )
    .into())
}
