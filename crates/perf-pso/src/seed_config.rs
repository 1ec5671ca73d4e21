//! Reader of the seed's `config.toml` (LLMServingTuner / msserviceprofiler, specs/tuning.md §8),
//! in both the layout its code reads (`[[<engine>.target_field]]`) and its README's sketch
//! (`[optimizer_engine]`, `[[optimizer_config_field]]`).
//!
//! Seed seconds become our milliseconds at load (`ttft_slo = 1` → 1000 ms).

use std::path::Path;

use serde_json::Value;
use toml::Table;

use crate::error::{PsoError, Result, config_err, io_err, toml_error};
use crate::fine_tune::FineTuneSettings;
use crate::fitness::Fitness;
use crate::pso::PsoParams;
use crate::schedule::{Coefficient, Schedule};
use crate::space::{FieldSpec, SearchSpace, SeedCompat};
use crate::store::StoreSettings;
use crate::surrogate::{SurrogateSettings, SurrogateStrategy};
use crate::theory_bound::TheorySettings;

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

fn value_number(v: &toml::Value) -> Option<f64> {
    match v {
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

/// `exp_decay → li_gao 1.8 → 0.4`-style text of a schedule from `start`.
fn describe(s: &Schedule, start: f64) -> String {
    match *s {
        Schedule::Constant => format!("constant {start}"),
        Schedule::LiGao { end, .. } => format!("exp_decay (Li & Gao, anchored) {start} → {end}"),
        Schedule::NonlinMod { end, n } => format!("nonlin_mod (n = {n}) {start} → {end}"),
        Schedule::LinVariation { end } => format!("lin_variation {start} → {end}"),
        Schedule::Random { end } => format!("random in [{start}, {end})"),
        Schedule::LinDecay { end } => format!("lin_decay {start} → {end}"),
        Schedule::ExpDecay { end } => format!("geometric {start} → {end}"),
        Schedule::PyswarmsExpDecay { end, d1, d2 } => {
            format!("pyswarms exp_decay (end {end}, d1 {d1}, d2 {d2}) from {start}")
        }
    }
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
                "pso_strategy" => match self.pso_params(0) {
                    Ok(p) => format!(
                        "used: [pso_strategy] (coefficient schedules, applied every iteration: \
                         w {}, c1 {}, c2 {})",
                        describe(&p.inertia, p.w),
                        describe(&p.c1_schedule, p.c1),
                        describe(&p.c2_schedule, p.c2)
                    ),
                    Err(e) => format!("used: [pso_strategy] (invalid: {e})"),
                },
                "cbo" => match self.surrogate_settings() {
                    Ok(Some(st)) => format!(
                        "used: [cbo] (surrogate pre-filter: after {} measured particles, skip \
                         those with log P(feasible) <= {} ({:?}); skipped ones are recorded as \
                         predicted)",
                        st.initial_points, st.feasibility_threshold, st.strategy
                    ),
                    Ok(None) => {
                        "used: [cbo] enabled = false (every particle is measured)".to_owned()
                    }
                    Err(e) => format!("used: [cbo] (invalid: {e})"),
                },
                "suggrogate" | "use_surrogate" => format!(
                    "ignored: {name} (an old spelling the seed's code never reads; the \
                     surrogate is configured in [cbo])"
                ),
                "data_storage" => match self.store_settings() {
                    Ok(st) => format!(
                        "used: [data_storage] pso_top_k = {} (top-k rows fine-tuned after the \
                         swarm), store_dir = {} (seed-compatible data_storage_<time>.csv)",
                        st.pso_top_k,
                        st.store_dir.map_or_else(
                            || "<output>/store".to_owned(),
                            |d| d.display().to_string()
                        )
                    ),
                    Err(e) => format!("used: [data_storage] (invalid: {e})"),
                },
                "theory_guided_enable" | "mem_coefficient" | "scaling_coefficient" => {
                    let what = match k {
                        "theory_guided_enable" => {
                            "MindIE: narrow max_batch_size from the KV-cache capacity before the \
                             swarm, specs/tuning.md §5"
                        }
                        "mem_coefficient" => {
                            "theory bound: share of the free device memory for KV cache, \
                             weights and activations"
                        }
                        _ => "theory bound: factor on the upper end of max_batch_size",
                    };
                    match self.theory_settings() {
                        Ok(_) => format!("used: {k} = {value} ({what})"),
                        Err(e) => format!("used: {k} (invalid: {e})"),
                    }
                }
                "max_fine_tune" | "step_size" | "slo_coefficient" => {
                    let what = match k {
                        "max_fine_tune" => "fine-tuning steps per top-k row",
                        "step_size" => "fine-tuning step on CONCURRENCY / REQUESTRATE",
                        _ => "SLO band of the fine-tuning and slack of the top-k selection",
                    };
                    match self.fine_tune_settings() {
                        Ok(_) => format!("used: {k} = {value} ({what})"),
                        Err(e) => format!("used: {k} (invalid: {e})"),
                    }
                }
                "sample_size" => match self.sample_size() {
                    Ok(Some(n)) => format!(
                        "used: sample_size = {n} (prompts per swarm run when fewer than the \
                         benchmark's num_prompts; fine-tuning uses all)"
                    ),
                    Ok(None) => "used: sample_size = 0 (no sampling: every run sends all \
                         prompts)"
                        .to_owned(),
                    Err(e) => format!("used: sample_size (invalid: {e})"),
                },
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
                let derived = matches!(
                    dt,
                    "factories" | "times" | "ternary_factories" | "ternary_times"
                );
                if !(matches!(dt, "bool" | "enum" | "str") || derived || spec.constant.is_some()) {
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
        let [w, c1, c2] = self.pso_schedules(p.w, p.c1, p.c2)?;
        p.inertia = w;
        p.c1_schedule = c1;
        p.c2_schedule = c2;
        p.check()?;
        Ok(p)
    }

    /// The `[pso_strategy] w, c1, c2` schedules from the start values `w`, `c1`, `c2`
    /// ([`Schedule::from_seed_name`]: `exp_decay` → [`Schedule::LiGao`], `nonlin_mod`,
    /// `lin_variation`, `random`, with pyswarms' default ends). Constant when the section (or
    /// a key) is absent: the seed's defaults name `exp_decay` but were never applied, so only an
    /// explicit section changes the coefficients.
    ///
    /// # Errors
    /// [`PsoError::Config`] naming `pso_strategy.<key>`: not a table, not a string, an unknown
    /// name or key.
    pub fn pso_schedules(&self, w: f64, c1: f64, c2: f64) -> Result<[Schedule; 3]> {
        let mut out = [Schedule::Constant; 3];
        let Some(v) = self.raw.get("pso_strategy") else {
            return Ok(out);
        };
        let at = |key: &str| format!("{}: pso_strategy.{key}", self.file);
        let t = v
            .as_table()
            .ok_or_else(|| config_err(format!("{}: pso_strategy", self.file), "not a table"))?;
        for key in t.keys() {
            if !["w", "c1", "c2"].contains(&key.as_str()) {
                return Err(config_err(at(key), "unknown key (expected w, c1, c2)"));
            }
        }
        for (slot, (coef, start)) in out.iter_mut().zip([
            (Coefficient::W, w),
            (Coefficient::C1, c1),
            (Coefficient::C2, c2),
        ]) {
            match t.get(coef.key()) {
                None => {}
                Some(toml::Value::String(name)) => {
                    *slot = Schedule::from_seed_name(name, coef, start).map_err(|e| match e {
                        PsoError::Config { reason, .. } => config_err(at(coef.key()), reason),
                        other => other,
                    })?;
                }
                Some(other) => {
                    return Err(config_err(
                        at(coef.key()),
                        format!("must be a strategy name, got {other}"),
                    ));
                }
            }
        }
        Ok(out)
    }

    fn number(&self, key: &str) -> Result<Option<f64>> {
        match self.raw.get(key) {
            None => Ok(None),
            Some(v) => value_number(v).map(Some).ok_or_else(|| {
                config_err(
                    format!("{}: {key}", self.file),
                    format!("not a number: {v}"),
                )
            }),
        }
    }

    fn count_of(&self, table: Option<&Table>, key: &str, at: &str) -> Result<Option<usize>> {
        let Some(v) = table.and_then(|t| t.get(key)) else {
            return Ok(None);
        };
        let n = match v {
            toml::Value::Integer(i) => usize::try_from(*i).ok(),
            toml::Value::String(s) => s.trim().parse::<usize>().ok(),
            _ => None,
        };
        n.map(Some).ok_or_else(|| {
            config_err(
                format!("{}: {at}", self.file),
                format!("must be an integer >= 0, got {v}"),
            )
        })
    }

    /// `theory_guided_enable` (default true), `mem_coefficient` (0.8, in (0, 1]) and
    /// `scaling_coefficient` (1.3, > 0): the theory-guided `max_batch_size` bound (§5).
    ///
    /// # Errors
    /// [`PsoError::Config`] naming the key for a wrong type or a value out of range.
    pub fn theory_settings(&self) -> Result<TheorySettings> {
        let d = TheorySettings::default();
        let enabled = match self.raw.get("theory_guided_enable") {
            None => d.enabled,
            Some(toml::Value::Boolean(b)) => *b,
            Some(toml::Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => true,
            Some(toml::Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => false,
            Some(other) => {
                return Err(config_err(
                    format!("{}: theory_guided_enable", self.file),
                    format!("must be true or false, got {other}"),
                ));
            }
        };
        let mem_coefficient = self.number("mem_coefficient")?.unwrap_or(d.mem_coefficient);
        if !(mem_coefficient > 0.0 && mem_coefficient <= 1.0) {
            return Err(config_err(
                format!("{}: mem_coefficient", self.file),
                format!("{mem_coefficient} is not in (0, 1]"),
            ));
        }
        let scaling_coefficient = self
            .number("scaling_coefficient")?
            .unwrap_or(d.scaling_coefficient);
        if !(scaling_coefficient.is_finite() && scaling_coefficient > 0.0) {
            return Err(config_err(
                format!("{}: scaling_coefficient", self.file),
                format!("{scaling_coefficient} is not finite and > 0"),
            ));
        }
        Ok(TheorySettings {
            enabled,
            mem_coefficient,
            scaling_coefficient,
        })
    }

    /// `max_fine_tune` (10, capped at 200 as the seed does), `step_size` (0.6) and
    /// `slo_coefficient` (0.1): fine-tuning after the swarm (§6).
    ///
    /// # Errors
    /// [`PsoError::Config`] naming the key for a wrong type; [`PsoError::InvalidParam`] for a
    /// value out of range ([`FineTuneSettings::check`]).
    pub fn fine_tune_settings(&self) -> Result<FineTuneSettings> {
        let d = FineTuneSettings::default();
        let s = FineTuneSettings {
            max_fine_tune: self
                .count_of(Some(&self.raw), "max_fine_tune", "max_fine_tune")?
                .map_or(d.max_fine_tune, |n| n.min(200)),
            step_size: self.number("step_size")?.unwrap_or(d.step_size),
            slo_coefficient: self.number("slo_coefficient")?.unwrap_or(d.slo_coefficient),
        };
        s.check()?;
        Ok(s)
    }

    /// `[data_storage] pso_top_k` (default 3) and `store_dir` (or the README's `base_path`;
    /// default `None` = `<output>/store`).
    ///
    /// # Errors
    /// [`PsoError::Config`] naming the key: not a table, a negative or non-integer
    /// `pso_top_k`, a directory that is not a string, an unknown key.
    pub fn store_settings(&self) -> Result<StoreSettings> {
        let mut s = StoreSettings::default();
        let Some(v) = self.raw.get("data_storage") else {
            return Ok(s);
        };
        let t = v
            .as_table()
            .ok_or_else(|| config_err(format!("{}: data_storage", self.file), "not a table"))?;
        for key in t.keys() {
            if !["pso_top_k", "store_dir", "base_path"].contains(&key.as_str()) {
                return Err(config_err(
                    format!("{}: data_storage.{key}", self.file),
                    "unknown key (expected pso_top_k, store_dir or base_path)",
                ));
            }
        }
        if let Some(k) = self.count_of(Some(t), "pso_top_k", "data_storage.pso_top_k")? {
            s.pso_top_k = k;
        }
        for key in ["base_path", "store_dir"] {
            match t.get(key) {
                None => {}
                Some(toml::Value::String(d)) => s.store_dir = Some(d.into()),
                Some(other) => {
                    return Err(config_err(
                        format!("{}: data_storage.{key}", self.file),
                        format!("must be a directory path, got {other}"),
                    ));
                }
            }
        }
        Ok(s)
    }

    /// `[cbo]`: the surrogate pre-filter (`enabled` (default true, as the seed's optimizer),
    /// `initial_points`, `strategy`, `feasibility_threshold`); `None` without the table or when
    /// `enabled = false`.
    ///
    /// # Errors
    /// [`PsoError::Config`] naming the key: not a table, a wrong type, an unknown key;
    /// [`PsoError::InvalidParam`] for values out of range.
    pub fn surrogate_settings(&self) -> Result<Option<SurrogateSettings>> {
        let Some(v) = self.raw.get("cbo") else {
            return Ok(None);
        };
        let at = |k: &str| format!("{}: cbo.{k}", self.file);
        let t = v
            .as_table()
            .ok_or_else(|| config_err(format!("{}: cbo", self.file), "not a table"))?;
        let mut s = SurrogateSettings::default();
        for (key, value) in t {
            match key.as_str() {
                "enabled" => match value.as_bool() {
                    Some(false) => return Ok(None),
                    Some(true) => {}
                    None => return Err(config_err(at(key), format!("not a boolean: {value}"))),
                },
                "initial_points" => {
                    if let Some(n) = self.count_of(Some(t), key, &at(key))? {
                        s.initial_points = n;
                    }
                }
                "strategy" => {
                    let text = value
                        .as_str()
                        .ok_or_else(|| config_err(at(key), format!("not a string: {value}")))?;
                    s.strategy = SurrogateStrategy::parse(text)?;
                }
                "feasibility_threshold" => {
                    s.feasibility_threshold = value_number(value)
                        .ok_or_else(|| config_err(at(key), format!("not a number: {value}")))?;
                }
                _ => {
                    return Err(config_err(
                        at(key),
                        "unknown key (expected enabled, initial_points, strategy or \
                         feasibility_threshold)",
                    ));
                }
            }
        }
        s.check()?;
        Ok(Some(s))
    }

    /// `sample_size`: prompts per swarm run when fewer than the benchmark's `num_prompts`
    /// (fine-tuning uses all); `None` when absent or 0 (the seed tests it for truthiness).
    ///
    /// # Errors
    /// [`PsoError::Config`] for a value that is not an integer ≥ 0.
    pub fn sample_size(&self) -> Result<Option<usize>> {
        Ok(self
            .count_of(Some(&self.raw), "sample_size", "sample_size")?
            .filter(|n| *n > 0))
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

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values: integers, SLO bounds, parsed literals
mod tests {
    use super::*;

    const SEED: &str = r#"
n_particles = 10
iters = 5
ttft_penalty = 1
tpot_penalty = 0
slo_coefficient = 0.2
sample_size = 500
mem_coefficient = 0.75
scaling_coefficient = 1.5
theory_guided_enable = false
max_fine_tune = 4
step_size = 0.5

[pso_options]
c1 = 2.0
c2 = 2.0
w = 1.8
[pso_strategy]
w = "exp_decay"
c1 = "nonlin_mod"
c2 = "random"

[data_storage]
pso_top_k = 2
base_path = "/srv/tune/store"

[[mindie.target_field]]
name = "tp"
config_position = "BackendConfig.ModelDeployConfig.ModelConfig.0.tp"
dtype = "enum"
dtype_param = [1, 2, 4, 8]
[[mindie.target_field]]
name = "pp"
config_position = "BackendConfig.ModelDeployConfig.ModelConfig.0.pp"
min = 1
max = 4
dtype = "int"
[[mindie.target_field]]
name = "dp"
config_position = "BackendConfig.ModelDeployConfig.ModelConfig.0.dp"
dtype = "ternary_factories"
dtype_param = { target_names = ["tp", "pp"], product = 16, dtype = "int" }
[[mindie.target_field]]
name = "world"
config_position = "env"
dtype = "times"
dtype_param = { target_name = "tp", product = 2, dtype = "int" }
"#;

    fn cfg(text: &str) -> SeedConfig {
        SeedConfig::parse(text, "config.toml").unwrap()
    }

    #[test]
    fn typed_settings_of_the_features() {
        let c = cfg(SEED);
        let p = c.pso_params(7).unwrap();
        assert_eq!((p.w, p.c1, p.c2), (1.8, 2.0, 2.0));
        assert_eq!(p.inertia, Schedule::LiGao { end: 0.4, d2: 7.0 });
        assert_eq!(p.c1_schedule, Schedule::NonlinMod { end: 1.6, n: 1.2 });
        assert_eq!(p.c2_schedule, Schedule::Random { end: 2.0 });
        assert_eq!(
            c.theory_settings().unwrap(),
            TheorySettings {
                enabled: false,
                mem_coefficient: 0.75,
                scaling_coefficient: 1.5
            }
        );
        assert_eq!(
            c.fine_tune_settings().unwrap(),
            FineTuneSettings {
                max_fine_tune: 4,
                step_size: 0.5,
                slo_coefficient: 0.2
            }
        );
        assert_eq!(
            c.store_settings().unwrap(),
            StoreSettings {
                pso_top_k: 2,
                store_dir: Some("/srv/tune/store".into())
            }
        );
        assert_eq!(c.sample_size().unwrap(), Some(500));
        let space = c
            .search_space("mindie", None, true, SeedCompat::Fixed)
            .unwrap();
        assert_eq!(space.dimensions(), 2);
        assert_eq!(space.fields().len(), 4);
    }

    #[test]
    fn defaults_when_absent() {
        let c = cfg("n_particles = 4\n");
        assert_eq!(c.theory_settings().unwrap(), TheorySettings::default());
        assert_eq!(c.fine_tune_settings().unwrap(), FineTuneSettings::default());
        assert_eq!(c.store_settings().unwrap(), StoreSettings::default());
        assert_eq!(c.sample_size().unwrap(), None);
        let p = c.pso_params(0).unwrap();
        assert!(p.inertia.is_constant() && p.c1_schedule.is_constant());
        assert_eq!(
            cfg("max_fine_tune = 500\n")
                .fine_tune_settings()
                .unwrap()
                .max_fine_tune,
            200
        );
        assert_eq!(
            cfg("[data_storage]\nstore_dir = \"out\"\n")
                .store_settings()
                .unwrap()
                .store_dir,
            Some("out".into())
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = |text: &str, f: &dyn Fn(&SeedConfig) -> Option<PsoError>| {
            f(&cfg(text)).map(|e| e.to_string()).unwrap_or_default()
        };
        let msg = e("[pso_strategy]\nw = \"cosine\"\n", &|c| {
            c.pso_params(0).err()
        });
        assert!(
            msg.contains("config.toml: pso_strategy.w") && msg.contains("cosine"),
            "{msg}"
        );
        let msg = e("[pso_strategy]\nw = 3\n", &|c| c.pso_params(0).err());
        assert!(
            msg.contains("pso_strategy.w") && msg.contains("strategy name"),
            "{msg}"
        );
        let msg = e("[pso_strategy]\ninertia = \"lin_variation\"\n", &|c| {
            c.pso_params(0).err()
        });
        assert!(msg.contains("pso_strategy.inertia"), "{msg}");
        let msg = e("mem_coefficient = \"most\"\n", &|c| {
            c.theory_settings().err()
        });
        assert!(msg.contains("config.toml: mem_coefficient"), "{msg}");
        let msg = e("mem_coefficient = 1.5\n", &|c| c.theory_settings().err());
        assert!(msg.contains("not in (0, 1]"), "{msg}");
        let msg = e("theory_guided_enable = 3\n", &|c| c.theory_settings().err());
        assert!(msg.contains("theory_guided_enable"), "{msg}");
        let msg = e("[data_storage]\npso_top_k = -1\n", &|c| {
            c.store_settings().err()
        });
        assert!(msg.contains("data_storage.pso_top_k"), "{msg}");
        let msg = e("[data_storage]\nkeep = 1\n", &|c| c.store_settings().err());
        assert!(msg.contains("data_storage.keep"), "{msg}");
        let msg = e("step_size = 0\n", &|c| c.fine_tune_settings().err());
        assert!(msg.contains("step_size"), "{msg}");
        let msg = e("sample_size = 1.5\n", &|c| c.sample_size().err());
        assert!(msg.contains("sample_size"), "{msg}");
    }

    #[test]
    fn decisions_say_what_each_key_does() {
        let c = cfg(SEED);
        let d = c.decisions("mindie", "ais_bench");
        assert!(
            d.iter()
                .all(|l| l.starts_with("used: ") || l.starts_with("ignored: "))
        );
        let find = |p: &str| {
            d.iter()
                .find(|l| l.contains(p))
                .unwrap_or_else(|| panic!("{p}: {d:#?}"))
                .clone()
        };
        assert!(find("[pso_strategy]").starts_with("used: [pso_strategy]"));
        assert!(find("[pso_strategy]").contains("w exp_decay (Li & Gao, anchored) 1.8 → 0.4"));
        assert!(find("[data_storage]").contains("pso_top_k = 2"));
        assert!(find("[data_storage]").contains("/srv/tune/store"));
        for key in [
            "theory_guided_enable",
            "mem_coefficient",
            "scaling_coefficient",
            "max_fine_tune",
            "step_size",
            "slo_coefficient",
            "sample_size",
        ] {
            assert!(
                find(key).starts_with(&format!("used: {key}")),
                "{}",
                find(key)
            );
        }
        assert!(find("sample_size").contains("fine-tuning uses all"));
    }

    #[test]
    fn cbo_table_configures_the_surrogate() {
        // the seed's shipped [cbo]
        let c = cfg(
            "[cbo]\nenabled = true\ninitial_points = 5\nstrategy = \"conservative\"\n\
             feasibility_threshold = -1.2\n",
        );
        let s = c.surrogate_settings().unwrap().unwrap();
        assert_eq!(s, SurrogateSettings::default());
        let d = c.decisions("vllm", "vllm_benchmark");
        assert!(
            d[0].starts_with("used: [cbo] (surrogate pre-filter: after 5"),
            "{d:?}"
        );
        let c = cfg("[cbo]\ninitial_points = 8\nstrategy = \"aggressive\"\n");
        let s = c.surrogate_settings().unwrap().unwrap();
        assert_eq!(
            (s.initial_points, s.strategy),
            (8, SurrogateStrategy::Aggressive)
        );
        assert_eq!(
            cfg("[cbo]\nenabled = false\n")
                .surrogate_settings()
                .unwrap(),
            None
        );
        assert_eq!(cfg("n_particles = 3\n").surrogate_settings().unwrap(), None);
        for (text, key) in [
            ("[cbo]\nenabled = 1\n", "cbo.enabled"),
            ("[cbo]\nstrategy = \"bold\"\n", "surrogate strategy"),
            (
                "[cbo]\nfeasibility_threshold = 0.5\n",
                "feasibility_threshold",
            ),
            ("[cbo]\nthreshold = -1\n", "cbo.threshold"),
        ] {
            let msg = cfg(text).surrogate_settings().unwrap_err().to_string();
            assert!(msg.contains(key), "{text}: {msg}");
        }
    }
}
