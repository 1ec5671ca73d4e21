//! Dry run (`npu.md` §7.3): prepare engine and benchmark plans, launch nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::benchmark::{Benchmark, Pass};
use crate::config::DecodedConfig;
use crate::engine::Engine;
use crate::error::{NpuError, Result};
use crate::plan::{ConfigChange, Plan};

/// The rendered plans of one candidate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DryRun {
    /// The engine's plan.
    pub engine: Plan,
    /// The benchmark's plan.
    pub benchmark: Plan,
}

/// Prepares both plans for `cfg` and `pass`; no process, no socket, no file written.
///
/// # Examples
/// ```
/// use npu_backends::{dry_run, DecodedConfig, Pass};
/// use npu_backends::mindie::{Mindie, MindieConfig};
/// use npu_backends::vllm_bench::{VllmBench, VllmBenchConfig};
/// let original = r#"{"BackendConfig": {"ScheduleConfig": {"maxBatchSize": 200}}}"#;
/// let engine = Mindie::with_original(MindieConfig::default(), original.to_string())?;
/// let bench = VllmBench::new(VllmBenchConfig { model: "m".into(), ..Default::default() });
/// let cfg = DecodedConfig::new().with_path("BackendConfig.ScheduleConfig.maxBatchSize", 256);
/// let d = dry_run(&engine, &bench, &cfg, &Pass::default())?;
/// assert!(d.render().contains("BackendConfig.ScheduleConfig.maxBatchSize: 200 -> 256"));
/// # Ok::<(), npu_backends::NpuError>(())
/// ```
///
/// # Errors
/// The engine's or benchmark's `prepare` errors.
pub fn dry_run(
    engine: &dyn Engine,
    bench: &dyn Benchmark,
    cfg: &DecodedConfig,
    pass: &Pass,
) -> Result<DryRun> {
    Ok(DryRun {
        engine: engine.prepare(cfg)?,
        benchmark: bench.prepare(cfg, pass)?,
    })
}

fn show(v: Option<&serde_json::Value>) -> String {
    v.map_or_else(|| "(absent)".to_owned(), ToString::to_string)
}

impl DryRun {
    /// Every changed value, engine first.
    #[must_use]
    pub fn changes(&self) -> Vec<&ConfigChange> {
        self.engine
            .changes
            .iter()
            .chain(&self.benchmark.changes)
            .collect()
    }

    /// The files of §7.3 as (file name, content), in a fixed order: `config.json` (when the
    /// engine rewrites a file), `config.diff.json`, `env.txt`, `command.txt`,
    /// `benchmark.txt`, then each file the benchmark rewrites (AisBench's model config).
    #[must_use]
    pub fn files(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(f) = self.engine.files.first() {
            out.push(("config.json".to_owned(), f.new_text.clone()));
        }
        let diff: Vec<serde_json::Value> = self
            .changes()
            .iter()
            .map(|c| {
                serde_json::json!({
                    "file": c.file.display().to_string(),
                    "path": c.path,
                    "old": c.old,
                    "new": c.new,
                })
            })
            .collect();
        let diff_text = serde_json::to_string_pretty(&diff).unwrap_or_default() + "\n";
        out.push(("config.diff.json".to_owned(), diff_text));
        out.push(("env.txt".to_owned(), self.engine.env_text()));
        out.push(("command.txt".to_owned(), self.engine.command_text() + "\n"));
        out.push((
            "benchmark.txt".to_owned(),
            self.benchmark.command_text() + "\n",
        ));
        for f in &self.benchmark.files {
            let name = f.path.file_name().map_or_else(
                || "model_config.py".to_owned(),
                |n| n.to_string_lossy().into_owned(),
            );
            out.push((name, f.new_text.clone()));
        }
        out
    }

    /// Writes [`DryRun::files`] into `dir` (created) and returns their paths.
    ///
    /// # Errors
    /// [`NpuError::Io`].
    pub fn write_to(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| NpuError::io(dir, e))?;
        let mut paths = Vec::new();
        for (name, text) in self.files() {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|e| NpuError::io(&p, e))?;
            paths.push(p);
        }
        Ok(paths)
    }

    /// A human-readable summary: diff, env, commands, warnings.
    #[must_use]
    pub fn render(&self) -> String {
        let mut s = String::new();
        for plan in [&self.engine, &self.benchmark] {
            s.push_str(&format!("== {} ==\n", plan.name));
            for f in &plan.files {
                s.push_str(&format!("file: {}\n", f.path.display()));
            }
            for c in &plan.changes {
                let same = c.old.as_ref() == Some(&c.new);
                s.push_str(&format!(
                    "  {}: {} -> {}{}\n",
                    c.path,
                    show(c.old.as_ref()),
                    c.new,
                    if same { " (unchanged)" } else { "" }
                ));
            }
            if !plan.env.is_empty() {
                s.push_str("env:\n");
                for (k, v) in &plan.env {
                    s.push_str(&format!("  {k}={v}\n"));
                }
            }
            if let Some(cwd) = &plan.cwd {
                s.push_str(&format!("cwd: {}\n", cwd.display()));
            }
            s.push_str(&format!("command: {}\n", plan.command_text()));
            s.push_str(&format!("log: {}\n", plan.log_path.display()));
            for w in &plan.warnings {
                s.push_str(&format!("warning: {w}\n"));
            }
        }
        s
    }
}
