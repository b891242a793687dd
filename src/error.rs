//! The library's one error type. Every variant names the file (and line, where there is
//! one) it is about, because a user with a dozen exports needs to know which one is wrong.

use std::path::PathBuf;

/// Errors of chatql operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input path, glob or archive could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A stream broke while being read (truncated compression, a vanished file, a zip bomb).
    #[error("{file}:{line}: {message}")]
    ReadFailed {
        /// The source.
        file: String,
        /// The line reading stopped at.
        line: u64,
        /// The byte offset reading stopped at.
        offset: u64,
        /// What happened.
        message: String,
    },
    /// An input argument matched nothing readable.
    #[error("{0}: no such file, folder or matching glob")]
    NotFound(String),
    /// A glob pattern was malformed.
    #[error("bad glob pattern {pattern:?}: {message}")]
    Glob {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// A zip archive could not be read.
    #[error("{path}: {message}")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// `--strict` and a record was rejected.
    #[error("{file}:{line}: rejected (byte offset {offset}): {reason}")]
    Rejected {
        /// Input file.
        file: String,
        /// 1-based line.
        line: u64,
        /// Byte offset.
        offset: u64,
        /// Why.
        reason: String,
    },
    /// The output folder exists and `--force` was not given.
    #[error("{0}: output already exists (use --force to replace it)")]
    OutputExists(PathBuf),
    /// Writing the output failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The output being written.
        path: PathBuf,
        /// What went wrong (its own chain kept: an I/O error inside a Parquet error).
        source: Cause,
    },
    /// Reading a file chatql wrote (a lake's Parquet files or manifest) failed.
    #[error("reading {path}: {source}")]
    Read {
        /// The file being read.
        path: PathBuf,
        /// What went wrong (its own chain kept).
        source: Cause,
    },
    /// A file of settings the user gave (a price table) is malformed.
    #[error("{file}:{line}: {message}")]
    Config {
        /// The file.
        file: String,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// Object storage refused or failed a request (missing bucket, refused key, a server
    /// gone): fatal, never a reject, since the data is there but out of reach.
    #[error("{url}: {message}")]
    Store {
        /// The object or prefix (`s3://bucket/key`).
        url: String,
        /// What happened.
        message: String,
    },
    /// A database or vector store an export loads into refused or failed a request (a
    /// refused login, a missing extension, a server gone), with what it said.
    #[error("{url}: {message}")]
    Service {
        /// The service, without its password (`postgresql://user@host:5432/db`).
        url: String,
        /// What happened.
        message: String,
    },
    /// The work was asked to stop (its ingest progress was cancelled: Ctrl-C in Python).
    #[error("interrupted")]
    Interrupted,
    /// A fault of chatql itself, not of the input or the options (please report it).
    #[error("internal error: {0}")]
    Internal(String),
    /// An Arrow or Parquet error not tied to a file.
    #[error("{0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// A query failed.
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// A query could not be planned (unknown table or column, bad SQL), with the hint.
    #[error("{0}")]
    Query(String),
    /// Invalid options.
    #[error("{0}")]
    Usage(String),
    /// Writing to stdout failed (a closed pipe is reported separately so it can exit 0).
    #[error("{0}")]
    Output(std::io::Error),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A failure to read `path`, a file chatql wrote: `cause` is an error (kept, with
    /// its chain) or a message.
    pub fn read(path: impl Into<PathBuf>, cause: impl Into<Cause>) -> Error {
        Error::Read {
            path: path.into(),
            source: cause.into(),
        }
    }

    /// A failure to write `path`: `cause` is an error (kept, with its chain) or a message.
    pub fn write(path: impl Into<PathBuf>, cause: impl Into<Cause>) -> Error {
        Error::Write {
            path: path.into(),
            source: cause.into(),
        }
    }

    /// The process exit code of this error, a contract documented in the README:
    /// 1 error (unreadable input, write failure, bad query, internal fault); 2 usage error;
    /// 3 data rejected under `--strict`; 4 the output exists (no `--force`); 130
    /// interrupted.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Rejected { .. } => 3,
            Error::OutputExists(_) => 4,
            Error::Usage(_) | Error::Config { .. } => 2,
            Error::Interrupted => 130,
            _ => 1,
        }
    }

    /// Whether this is a write to a closed pipe (`chatql ... | head`), which is not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Error::Output(e) | Error::Io { source: e, .. } => {
                e.kind() == std::io::ErrorKind::BrokenPipe
            }
            _ => false,
        }
    }
}

/// What a read or write failed of: an error, kept whole so that its chain can be walked
/// (a full disk under a Parquet error), or a message.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_readme_table() {
        let io = || std::io::Error::other("x");
        assert_eq!(Error::Usage("u".into()).exit_code(), 2);
        assert_eq!(Error::Internal("i".into()).exit_code(), 1);
        assert_eq!(Error::read("lake/a.parquet", "bad footer").exit_code(), 1);
        assert_eq!(Error::io("f", io()).exit_code(), 1);
        assert_eq!(Error::OutputExists("o".into()).exit_code(), 4);
        let rejected = Error::Rejected {
            file: "f".into(),
            line: 3,
            offset: 9,
            reason: "r".into(),
        };
        assert_eq!(rejected.exit_code(), 3);
        assert_eq!(
            Error::read("lake/a.parquet", "bad footer").to_string(),
            "reading lake/a.parquet: bad footer"
        );
        // The cause of a write keeps its own chain.
        let full = std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full");
        let e = Error::write(
            "lake/a.parquet",
            datafusion::parquet::errors::ParquetError::External(Box::new(full)),
        );
        let mut chain = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source());
        assert!(chain.any(|c| c
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::StorageFull)));
        assert_eq!(
            Error::Internal("lost".into()).to_string(),
            "internal error: lost"
        );
    }
}
