//! Reader of the seed's `config.toml` (LLMServingTuner / msserviceprofiler, specs/tuning.md §8),
//! in both the layout its code reads (`[[<engine>.target_field]]`) and its README's sketch
//! (`[optimizer_engine]`, `[[optimizer_config_field]]`).
//!
//! Seed seconds become our milliseconds at load (`ttft_slo = 1` → 1000 ms).

use std::path::Path;

use serde_json::Value;
use toml::Table;

use crate::error::{PsoError, Result, config_err, io_err, toml_error};
use crate::fitness::Fitness;
use crate::pso::PsoParams;
use crate::space::{FieldSpec, SearchSpace, SeedCompat};

const TOP_KEYS: &[&str] = &[
    "n_particles",
    "iters",
    "ttft_penalty",
    "tpot_penalty",
    "success_rate_penalty",
    "ttft_slo",
    "tpot_slo",
    "success_rate_slo",
    "slo_coefficient",
    "generate_speed_target",
    "sample_size",
    "particles_time_out",
    "ftol",
    "ftol_iter",
    "mem_coefficient",
    "scaling_coefficient",
    "theory_guided_enable",
    "max_fine_tune",
    "step_size",
    "service",
    "output",
    "simulator_output",
    "use_surrogate",
];
const SECTIONS: &[&str] = &[
    "pso_options",
    "pso_strategy",
    "cbo",
    "suggrogate",
    "data_storage",
    "communication",
    "latency_model",
    "mindie",
    "vllm",
    "ais_bench",
    "vllm_benchmark",
    "kubectl",
    "parallel",
    "health_check",
    "optimizer_engine",
    "optimizer_config_field",
];
/// Engine sections that may hold `target_field`s.
pub const ENGINES: &[&str] = &["mindie", "vllm"];
/// Benchmark sections that may hold `target_field`s.
pub const BENCHMARKS: &[&str] = &["ais_bench", "vllm_benchmark"];

/// A parsed seed configuration: typed settings plus the raw table.
#[derive(Clone, Debug)]
pub struct SeedConfig {
    /// The whole document.
    pub raw: Table,
    /// Unknown keys and renamed aliases (the seed only warns about them).
    pub warnings: Vec<String>,
    file: String,
}

fn get_f64(t: &Table, key: &str) -> Option<f64> {
    match t.get(key)? {
        toml::Value::Integer(i) =>
        {
            #[allow(clippy::cast_precision_loss)]
            Some(*i as f64)
        }
        toml::Value::Float(f) => Some(*f),
        toml::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl SeedConfig {
    /// Parses TOML text; `file` names it in errors.
    ///
    /// # Errors
    /// [`PsoError::Toml`] with the line (a duplicate key, bad syntax).
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        let raw: Table = text
            .parse::<Table>()
            .map_err(|e| toml_error(file, text, &e))?;
        let mut warnings = Vec::new();
        for (k, v) in &raw {
            let known = if v.is_table() || (v.is_array() && k == "optimizer_config_field") {
                SECTIONS.contains(&k.as_str())
            } else {
                TOP_KEYS.contains(&k.as_str())
            };
            if !known {
                warnings.push(format!("{file}: unknown key `{k}`"));
            }
        }
        for w in &warnings {
            tracing::warn!("{w}");
        }
        Ok(Self {
            raw,
            warnings,
            file: file.to_owned(),
        })
    }

    /// Reads and parses a file.
    ///
    /// # Errors
    /// [`PsoError::Io`], or as [`SeedConfig::parse`].
    pub fn from_path(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// What a real-benchmark run does with each key and section of the file, one line each:
    /// `used: …` or `ignored: … (why)`, so no seed key is dropped silently. `engine` and
    /// `benchmark` are the sections being tuned.
    #[must_use]
    pub fn decisions(&self, engine: &str, benchmark: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (key, value) in &self.raw {
            let k = key.as_str();
            let name = if value.is_table() {
                format!("[{k}]")
            } else {
                k.to_owned()
            };
            let line = match k {
                "n_particles" | "iters" | "ftol" | "ftol_iter" | "pso_options" => {
                    format!("used: {name} (particle swarm settings)")
                }
                "ttft_penalty"
                | "tpot_penalty"
                | "success_rate_penalty"
                | "ttft_slo"
                | "tpot_slo"
                | "success_rate_slo"
                | "generate_speed_target" => {
                    format!("used: {k} = {value} (fitness)")
                }
                _ if k == engine => format!("used: [{k}] (the engine tuned)"),
                _ if k == benchmark => format!("used: [{k}] (the benchmark run)"),
                "mindie" | "vllm" | "vllm_ascend" => {
                    format!("ignored: [{k}] (tuning [{engine}]; --engine {k} tunes this one)")
                }
                "ais_bench" | "vllm_benchmark" => format!(
                    "ignored: [{k}] (benchmarking with [{benchmark}]; --benchmark {k} uses this one)"
                ),
                "optimizer_engine" | "optimizer_config_field" => {
                    format!("used: {name} (README layout)")
                }
                "pso_strategy" => "ignored: [pso_strategy] (coefficient schedules are not \
                     implemented yet: c1, c2 and w stay constant)"
                    .to_owned(),
                "cbo" | "suggrogate" | "use_surrogate" => format!(
                    "ignored: {name} (the surrogate pre-filter is not implemented yet: every \
                     particle is measured)"
                ),
                "data_storage" => "ignored: [data_storage] (results go to --out DIR as \
                     results.jsonl and checkpoint.json, not data_storage_<time>.csv)"
                    .to_owned(),
                "theory_guided_enable" | "mem_coefficient" | "scaling_coefficient" => format!(
                    "ignored: {name} (theory-guided max_batch_size bounds are not implemented \
                     yet: the fields' own ranges are searched)"
                ),
                "max_fine_tune" | "step_size" | "slo_coefficient" => format!(
                    "ignored: {name} (fine-tuning of REQUESTRATE / CONCURRENCY against the SLOs \
                     is not implemented yet)"
                ),
                "sample_size" => "ignored: sample_size (the benchmark's own dataset settings \
                     decide what is sent)"
                    .to_owned(),
                "particles_time_out" => "ignored: particles_time_out (each service start \
                     and benchmark has its own timeout in its section)"
                    .to_owned(),
                "latency_model" | "simulator_output" => format!(
                    "ignored: {name} (the seed's simulator mode: use `llm-perf tune` with a \
                     [simulator] config)"
                ),
                "kubectl" | "communication" | "parallel" | "service" | "health_check" => format!(
                    "ignored: {name} (multi-node and Kubernetes orchestration are not part of \
                     this evaluator)"
                ),
                "output" => "ignored: output (results go to --out DIR)".to_owned(),
                _ => format!("ignored: {name} (not a seed key)"),
            };
            out.push(line);
        }
        out
    }

    /// `[optimizer_engine] engine` / `benchmark` of the README layout, if present.
    #[must_use]
    pub fn optimizer_engine(&self) -> (Option<String>, Option<String>) {
        let t = self
            .raw
            .get("optimizer_engine")
            .and_then(toml::Value::as_table);
        let s = |k: &str| {
            t.and_then(|t| t.get(k))
                .and_then(toml::Value::as_str)
                .map(str::to_owned)
        };
        (s("engine"), s("benchmark"))
    }

    /// The raw `target_field` entries of `section` (`mindie`, `vllm`, `ais_bench`, …); for the
    /// README layout, `[[optimizer_config_field]]` belongs to its `[optimizer_engine] engine`.
    ///
    /// # Errors
    /// [`PsoError::Config`] naming the entry and key when an entry does not fit the schema.
    pub fn target_fields(&self, section: &str) -> Result<Vec<FieldSpec>> {
        let mut entries: Vec<(String, &toml::Value)> = Vec::new();
        if let Some(list) = self
            .raw
            .get(section)
            .and_then(|s| s.get("target_field"))
            .and_then(toml::Value::as_array)
        {
            entries.extend(
                list.iter()
                    .enumerate()
                    .map(|(i, v)| (format!("{section}.target_field[{i}]"), v)),
            );
        }
        if entries.is_empty()
            && self.optimizer_engine().0.as_deref() == Some(section)
            && let Some(list) = self
                .raw
                .get("optimizer_config_field")
                .and_then(toml::Value::as_array)
        {
            entries.extend(
                list.iter()
                    .enumerate()
                    .map(|(i, v)| (format!("optimizer_config_field[{i}]"), v)),
            );
        }
        let mut out = Vec::with_capacity(entries.len());
        for (path, v) in entries {
            let t = v
                .as_table()
                .ok_or_else(|| config_err(format!("{}: {path}", self.file), "not a table"))?;
            let name = t
                .get("name")
                .and_then(toml::Value::as_str)
                .unwrap_or("?")
                .to_owned();
            let at = format!("{}: {path} ({name})", self.file);
            for key in ["name", "config_position", "dtype"] {
                if !t.get(key).is_some_and(toml::Value::is_str) {
                    return Err(config_err(format!("{at}.{key}"), "missing or not a string"));
                }
            }
            for key in t.keys() {
                if ![
                    "name",
                    "config_position",
                    "min",
                    "max",
                    "dtype",
                    "value",
                    "dtype_param",
                    "constant",
                ]
                .contains(&key.as_str())
                {
                    tracing::warn!("{at}: unknown key `{key}`");
                }
            }
            let mut spec = v
                .clone()
                .try_into::<FieldSpec>()
                .map_err(|e| config_err(at.clone(), e.message().trim().to_owned()))?;
            if spec.name == "max_queue_deloy_mircroseconds" {
                spec.name = "max_queue_delay_microseconds".into();
            }
            // the seed tests `constant` for truthiness; we honour 0 (specs/tuning.md §1.1)
            if let Some(c) = &spec.constant
                && c.is_null()
            {
                spec.constant = None;
            }
            if !t.contains_key("min") || !t.contains_key("max") {
                let dt = spec.dtype.as_str();
                if !(matches!(dt, "bool" | "enum" | "factories" | "str") || spec.constant.is_some())
                {
                    return Err(config_err(format!("{at}.min"), "min and max are required"));
                }
                if dt == "bool" && !t.contains_key("max") {
                    spec.max = 1.0;
                }
                if dt == "enum" && !t.contains_key("max") {
                    spec.max = 1.0;
                }
            }
            out.push(spec);
        }
        Ok(out)
    }

    /// The search space of `engine` (then `benchmark`) fields, in file order. With
    /// `freeze_load`, the benchmark knobs are frozen as during the seed's PSO (§3.1):
    /// `CONCURRENCY`/`MAXCONCURRENCY` at their max, `REQUESTRATE` without a value (unthrottled).
    ///
    /// # Errors
    /// As [`SeedConfig::target_fields`] and [`SearchSpace::new`] (field paths prefixed by the file).
    pub fn search_space(
        &self,
        engine: &str,
        benchmark: Option<&str>,
        freeze_load: bool,
        compat: SeedCompat,
    ) -> Result<SearchSpace> {
        let mut specs = self.target_fields(engine)?;
        if let Some(b) = benchmark {
            specs.extend(self.target_fields(b)?);
        }
        if freeze_load {
            for s in &mut specs {
                match s.name.trim().to_uppercase().as_str() {
                    "CONCURRENCY" | "MAXCONCURRENCY" => {
                        #[allow(clippy::cast_possible_truncation)]
                        let m = s.max.trunc() as i64;
                        s.constant = Some(Value::from(m));
                    }
                    "REQUESTRATE" => s.constant = Some(Value::Null),
                    _ => {}
                }
            }
        }
        SearchSpace::new(&specs, compat).map_err(|e| match e {
            PsoError::Config { path, reason } => PsoError::Config {
                path: format!("{}: {engine}.{path}", self.file),
                reason,
            },
            other => other,
        })
    }

    /// PSO parameters: the seed's defaults overridden by the file (`n_particles`, `iters` capped
    /// at 200, `[pso_options] c1, c2, w`, `ftol`, `ftol_iter`), with `seed`.
    ///
    /// # Errors
    /// [`PsoError::Config`] for a non-numeric value.
    pub fn pso_params(&self, seed: u64) -> Result<PsoParams> {
        let mut p = PsoParams {
            seed,
            ..PsoParams::seed_defaults()
        };
        let count = |key: &str, default: usize| -> Result<usize> {
            match self.raw.get(key) {
                None => Ok(default),
                Some(toml::Value::Integer(i)) if (1..=999).contains(i) => {
                    Ok(usize::try_from((*i).min(200)).unwrap_or(default))
                }
                Some(v) => Err(config_err(
                    format!("{}: {key}", self.file),
                    format!("must be an integer in 1..=999, got {v}"),
                )),
            }
        };
        p.n_particles = count("n_particles", p.n_particles)?;
        p.iters = count("iters", p.iters)?;
        p.ftol_iter = count("ftol_iter", p.ftol_iter)?;
        if let Some(f) = get_f64(&self.raw, "ftol") {
            p.ftol = f;
        }
        if let Some(o) = self.raw.get("pso_options").and_then(toml::Value::as_table) {
            p.c1 = get_f64(o, "c1").unwrap_or(p.c1);
            p.c2 = get_f64(o, "c2").unwrap_or(p.c2);
            p.w = get_f64(o, "w").unwrap_or(p.w);
        }
        p.check()?;
        Ok(p)
    }

    /// Fitness settings: penalties, SLOs (s → ms) and `generate_speed_target` (default 5000, the
    /// seed's settings).
    ///
    /// # Errors
    /// [`PsoError::InvalidParam`] when a value is out of range.
    pub fn fitness(&self) -> Result<Fitness> {
        let d = Fitness::default();
        let g = |k: &str, dflt: f64| get_f64(&self.raw, k).unwrap_or(dflt);
        let f = Fitness {
            ttft_penalty: g("ttft_penalty", d.ttft_penalty),
            tpot_penalty: g("tpot_penalty", d.tpot_penalty),
            success_rate_penalty: g("success_rate_penalty", d.success_rate_penalty),
            ttft_slo_ms: g("ttft_slo", d.ttft_slo_ms / 1000.0) * 1000.0,
            tpot_slo_ms: g("tpot_slo", d.tpot_slo_ms / 1000.0) * 1000.0,
            success_rate_slo: g("success_rate_slo", d.success_rate_slo),
            generate_speed_target: g("generate_speed_target", 5000.0),
            ..d
        };
        f.check()?;
        Ok(f)
    }
}
