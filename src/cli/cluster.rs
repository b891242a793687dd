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
    use services::{init_logging, run_executor, run_scheduler, ExecutorOptions, SchedulerOptions};
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

/// Ballista's scheduler and executor services, booted by this binary (the library keeps
/// what they are built from: [`session_state`], [`function_registry`], [`LakeCodec`]).
#[cfg(feature = "cluster")]
mod services {
    use std::net::{SocketAddr, ToSocketAddrs};
    use std::sync::Arc;

    use chatql::query::cluster::{function_registry, session_state, LakeCodec};
    use chatql::{Error, Result};
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;

    fn resolve(what: &str, addr: &str) -> Result<SocketAddr> {
        addr.to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| Error::Usage(format!("{what} {addr}: expected HOST:PORT")))
    }

    fn split_host_port(what: &str, addr: &str) -> Result<(String, u16)> {
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| Error::Usage(format!("{what} {addr}: expected HOST:PORT")))?;
        let port = port
            .parse()
            .map_err(|_| Error::Usage(format!("{what} {addr}: bad port {port:?}")))?;
        Ok((host.trim_matches(['[', ']']).to_owned(), port))
    }

    fn cluster_error(e: ballista_core::error::BallistaError) -> Error {
        Error::Query(format!("cluster: {e}"))
    }

    /// Sends Ballista's log to standard error, at the level `RUST_LOG` says (default: warnings).
    pub fn init_logging() {
        let env = env_logger::Env::default().default_filter_or("warn");
        let _ = env_logger::Builder::from_env(env).try_init();
    }

    /// Options of `chatql cluster scheduler`.
    #[derive(Debug, Clone)]
    pub struct SchedulerOptions {
        /// Address to listen on.
        pub bind: String,
        /// Host name executors and clients reach this scheduler by (default: the bind host).
        pub external_host: Option<String>,
    }

    /// Runs a scheduler until the process is stopped.
    pub async fn run_scheduler(opts: &SchedulerOptions) -> Result<()> {
        use ballista_scheduler::cluster::BallistaCluster;
        use ballista_scheduler::config::SchedulerConfig;
        let addr = resolve("--bind", &opts.bind)?;
        let (host, port) = split_host_port("--bind", &opts.bind)?;
        let config = SchedulerConfig {
            bind_host: addr.ip().to_string(),
            bind_port: port,
            external_host: opts.external_host.clone().unwrap_or(host),
            override_logical_codec: Some(Arc::new(LakeCodec::default())),
            ..SchedulerConfig::default()
        }
        .with_override_session_builder(Arc::new(session_state));
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(cluster_error)?;
        eprintln!(
            "chatql scheduler listening on {addr} (clients: --remote df://{}:{port})",
            config.external_host
        );
        ballista_scheduler::scheduler_process::start_server(cluster, addr, Arc::new(config))
            .await
            .map_err(cluster_error)
    }

    /// Options of `chatql cluster executor`.
    #[derive(Debug, Clone)]
    pub struct ExecutorOptions {
        /// The scheduler's `HOST:PORT`.
        pub scheduler: String,
        /// Address of the executor's data (Arrow Flight) service; the task service listens on
        /// the next port unless `grpc_port` says otherwise.
        pub bind: String,
        /// Port of the task service (the scheduler pushes tasks to it).
        pub grpc_port: Option<u16>,
        /// Host name the scheduler and other executors reach this one by.
        pub external_host: Option<String>,
        /// Tasks run at once (default: all cores).
        pub cores: Option<usize>,
        /// Folder for shuffle files (default: a temporary folder).
        pub work_dir: Option<String>,
    }

    /// Runs an executor until the process is stopped.
    pub async fn run_executor(opts: &ExecutorOptions) -> Result<()> {
        use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
        let (scheduler_host, scheduler_port) = split_host_port("--scheduler", &opts.scheduler)?;
        let addr = resolve("--bind", &opts.bind)?;
        let (host, port) = split_host_port("--bind", &opts.bind)?;
        let external = match &opts.external_host {
            Some(h) => h.clone(),
            None if addr.ip().is_unspecified() => {
                return Err(Error::Usage(format!(
                    "--bind {}: give --external-host, the name the scheduler reaches this \
                     executor by",
                    opts.bind
                )))
            }
            None => host,
        };
        let work_dir = opts.work_dir.clone();
        let mut config = ExecutorProcessConfig {
            bind_host: addr.ip().to_string(),
            external_host: Some(external.clone()),
            port,
            grpc_port: opts.grpc_port.unwrap_or(port.wrapping_add(1)),
            scheduler_host,
            scheduler_port,
            work_dir: opts.work_dir.clone(),
            override_function_registry: Some(Arc::new(function_registry()?)),
            override_logical_codec: Some(Arc::new(LakeCodec::default())),
            // Executors read a lake in S3 themselves, with the AWS environment they run in.
            override_runtime_producer: Some(Arc::new(move |_| {
                let mut b =
                    RuntimeEnvBuilder::new().with_object_store_registry(chatql::store::registry());
                if let Some(dir) = &work_dir {
                    b = b.with_temp_file_path(dir.clone());
                }
                b.build_arc()
            })),
            ..ExecutorProcessConfig::default()
        };
        if let Some(c) = opts.cores {
            config.vcores = c.max(1);
        }
        eprintln!(
            "chatql executor {external}:{port} (tasks on port {}), {} task slots, scheduler {}",
            config.grpc_port, config.vcores, opts.scheduler
        );
        start_executor_process(Arc::new(config))
            .await
            .map_err(cluster_error)
    }
}
