//! [`Plan`]: everything a launch needs, as plain data (what dry-run writes out).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{NpuError, Result};

/// A file to write before launch and to restore afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileWrite {
    /// Where.
    pub path: PathBuf,
    /// The rendered content.
    pub new_text: String,
    /// The content before (restored afterwards); `None` when the file did not exist.
    pub original_text: Option<String>,
}

/// One value changed in a config file (the dry-run diff).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigChange {
    /// The file.
    pub file: PathBuf,
    /// Dotted path (or the assignment name in a Python config).
    pub path: String,
    /// Previous value, `None` when created.
    pub old: Option<Value>,
    /// New value.
    pub new: Value,
}

/// An HTTP probe: `GET http://host:port/path` answering 200 (loopback only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpProbe {
    /// Host (must be a loopback address or `localhost`).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path, e.g. `/health`.
    pub path: String,
}

/// How to tell that a started service is ready: every probe given must succeed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthProbe {
    /// A substring the captured log must contain (MindIE: `Daemon start success!`).
    pub log_contains: Option<String>,
    /// An HTTP endpoint that must answer 200.
    pub http: Option<HttpProbe>,
}

/// Time limits, seconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timeouts {
    /// Start → ready (engines) or start → exit (benchmarks).
    pub run_s: f64,
    /// Poll interval.
    pub poll_s: f64,
    /// SIGTERM → SIGKILL grace period.
    pub stop_grace_s: f64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            run_s: 1800.0,
            poll_s: 1.0,
            stop_grace_s: 10.0,
        }
    }
}

/// A launch, rendered: files, environment, argv, health probe, log file and time limits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Engine or benchmark name.
    pub name: String,
    /// Files to write (and restore).
    pub files: Vec<FileWrite>,
    /// Values changed in those files.
    pub changes: Vec<ConfigChange>,
    /// Environment added to the inherited one.
    pub env: BTreeMap<String, String>,
    /// The command line.
    pub argv: Vec<String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Readiness test (engines).
    pub health: HealthProbe,
    /// Where stdout and stderr go.
    pub log_path: PathBuf,
    /// Time limits.
    pub timeouts: Timeouts,
    /// Address the service will listen on (checked free before start).
    pub listen: Option<(String, u16)>,
    /// Directory emptied before the run and holding its results (benchmarks).
    pub output_dir: Option<PathBuf>,
    /// Warnings found while rendering (duplicate flags, overriding settings, …).
    pub warnings: Vec<String>,
    /// The benchmark pass this plan runs (benchmarks only).
    pub pass: Option<crate::benchmark::Pass>,
}

impl Plan {
    /// Writes the plan's files.
    ///
    /// # Errors
    /// [`NpuError::Io`] naming the file.
    pub fn write_files(&self) -> Result<()> {
        for f in &self.files {
            if let Some(dir) = f.path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| NpuError::io(dir, e))?;
            }
            std::fs::write(&f.path, &f.new_text).map_err(|e| NpuError::io(&f.path, e))?;
        }
        Ok(())
    }

    /// Puts the original files back (removes files that did not exist), last written first.
    ///
    /// # Errors
    /// [`NpuError::Io`] naming the first file that could not be restored (all are tried).
    pub fn restore_files(&self) -> Result<()> {
        let mut first = None;
        for f in self.files.iter().rev() {
            let r = match &f.original_text {
                Some(text) => std::fs::write(&f.path, text),
                None => match std::fs::remove_file(&f.path) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    other => other,
                },
            };
            if let Err(e) = r {
                tracing::warn!(path = %f.path.display(), error = %e, "cannot restore file");
                first.get_or_insert(NpuError::io(&f.path, e));
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// `K=V` lines of the added environment, sorted.
    #[must_use]
    pub fn env_text(&self) -> String {
        self.env.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }

    /// The command line, shell-quoted.
    #[must_use]
    pub fn command_text(&self) -> String {
        crate::config::shell_join(&self.argv)
    }

    /// The program (argv\[0\]) or `?`.
    #[must_use]
    pub fn program(&self) -> &str {
        self.argv.first().map_or("?", String::as_str)
    }
}

/// Reads a text file, naming it on error.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| NpuError::io(path, e))
}

/// The last `n` lines of a log file (empty when unreadable).
#[must_use]
pub fn log_tail(path: &Path, n: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
