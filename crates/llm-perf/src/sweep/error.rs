//! The sweep module's error type: every variant names the file, key, flag or program it is
//! about, so a message can be shown to a user as it is.

/// What can go wrong when loading, running, merging or submitting a sweep.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// The sweep file (or a frozen plan) cannot be read or does not parse.
    #[error("{file}: {message}")]
    File {
        /// The file.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// A key of the sweep file is unknown, or its value is invalid.
    #[error("{file}: {key}: {message}")]
    Key {
        /// The sweep file.
        file: String,
        /// The key, by its path in the sweep file (`grid.cluster.engine.max_batch_size`).
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A shard given by a flag or by the scheduler's environment is invalid.
    #[error("{source_text}: {message}")]
    Shard {
        /// Where the shard came from, with its value (`--shard 4/4`,
        /// `SLURM_ARRAY_TASK_ID=7`).
        source_text: String,
        /// What is wrong.
        message: String,
    },
    /// The results directory (or a file in it) cannot be created, written or read, or holds
    /// another sweep's results.
    #[error("{path}: {message}")]
    Store {
        /// The directory or file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A scheduler option is invalid, or a scheduler command (`sbatch`, `squeue`, `kubectl`)
    /// failed.
    #[error("{what}: {message}")]
    Scheduler {
        /// The option (`--partition`) or command (`sbatch`).
        what: String,
        /// What went wrong (with the command's stderr).
        message: String,
    },
}

impl SweepError {
    /// A [`SweepError::Store`] for `path`.
    pub(crate) fn store(path: &std::path::Path, message: impl std::fmt::Display) -> Self {
        Self::Store {
            path: path.display().to_string(),
            message: message.to_string(),
        }
    }
}
