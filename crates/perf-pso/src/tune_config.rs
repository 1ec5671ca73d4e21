//! Our own tuning file (TOML): search space, constraints, PSO parameters, fitness (SLOs in ms),
//! run limits and, for the simulator evaluator, the `perf_sim::SimConfig` (workload included).
//!
//! ```toml
//! compat = "fixed"              # or "seed" (the seed's codec quirks)
//! [pso]                         # PsoParams; unknown keys are errors
//! n_particles = 10
//! iters = 20
//! seed = 7
//! [fitness]                     # Fitness; SLOs in ms
//! ttft_slo_ms = 200.0
//! [run]
//! max_evaluations = 100
//! jobs = 2
//! [surrogate]                   # optional: the Gaussian-process pre-filter (crate::surrogate)
//! initial_points = 5
//! strategy = "conservative"     # or "aggressive"
//! feasibility_threshold = -1.2
//! [[field]]                     # FieldSpec, as in the seed's target_field
//! name = "MAX_NUM_SEQS"
//! config_position = "env"
//! min = 8
//! max = 256
//! dtype = "int"
//! [[constraint]]
//! kind = "at_most"
//! field = "MAX_NUM_SEQS"
//! limit = "MAX_NUM_BATCHED_TOKENS"
//! [simulator]                   # a perf_sim::SimConfig
//! # …
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, io_err, toml_error};
use crate::fitness::Fitness;
use crate::pso::PsoParams;
use crate::space::{Constraint, ConstraintMode, FieldSpec, SearchSpace, SeedCompat};
use crate::surrogate::SurrogateSettings;

/// Run limits and execution options.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunOptions {
    /// Evaluation budget (see [`crate::Tuner::max_evaluations`]).
    pub max_evaluations: Option<usize>,
    /// Evaluation threads (default 1).
    pub jobs: Option<usize>,
    /// Re-run identical configurations (noisy benchmarks); default false (memoise).
    pub reevaluate_duplicates: bool,
}

/// A complete tuning file.
///
/// # Examples
/// ```
/// let cfg = perf_pso::TuneConfig::parse(r#"
/// [pso]
/// n_particles = 4
/// iters = 3
/// seed = 1
/// [[field]]
/// name = "MAX_NUM_SEQS"
/// config_position = "env"
/// min = 8
/// max = 64
/// dtype = "int"
/// "#, "tune.toml")?;
/// assert_eq!(cfg.search_space()?.dimensions(), 1);
/// # Ok::<(), perf_pso::PsoError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuneConfig {
    /// Codec variant.
    #[serde(default)]
    pub compat: SeedCompat,
    /// PSO parameters (ours by default).
    #[serde(default)]
    pub pso: PsoParams,
    /// Fitness settings.
    #[serde(default)]
    pub fitness: Fitness,
    /// Run options.
    #[serde(default)]
    pub run: RunOptions,
    /// Search-space fields, in order.
    #[serde(default)]
    pub field: Vec<FieldSpec>,
    /// Constraints.
    #[serde(default)]
    pub constraint: Vec<Constraint>,
    /// Penalise or repair constraint violations.
    #[serde(default)]
    pub constraint_mode: ConstraintMode,
    /// The surrogate pre-filter; absent = every particle is evaluated.
    #[serde(default)]
    pub surrogate: Option<SurrogateSettings>,
    /// The simulator configuration (a `perf_sim::SimConfig` table), for the simulator evaluator.
    #[serde(default)]
    pub simulator: Option<serde_json::Value>,
}

impl TuneConfig {
    /// Parses TOML text; `file` names it in errors.
    ///
    /// # Errors
    /// [`crate::PsoError::Toml`] with the line of a syntax error, unknown key or wrong type;
    /// [`crate::PsoError::InvalidParam`] for out-of-range PSO or fitness parameters.
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        let cfg: Self = toml::from_str(text).map_err(|e| toml_error(file, text, &e))?;
        cfg.pso.check()?;
        cfg.fitness.check()?;
        if let Some(s) = &cfg.surrogate {
            s.check()?;
        }
        Ok(cfg)
    }

    /// Reads and parses a file.
    ///
    /// # Errors
    /// [`crate::PsoError::Io`], or as [`TuneConfig::parse`].
    pub fn from_path(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The validated search space with its constraints.
    ///
    /// # Errors
    /// As [`SearchSpace::new`] and [`SearchSpace::with_constraints`].
    pub fn search_space(&self) -> Result<SearchSpace> {
        SearchSpace::new(&self.field, self.compat)?
            .with_constraints(self.constraint.clone(), self.constraint_mode)
    }

    /// The simulator configuration.
    ///
    /// # Errors
    /// [`crate::PsoError::Config`] when `[simulator]` is missing or not a valid `SimConfig`.
    #[cfg(feature = "sim")]
    pub fn sim_config(&self) -> Result<perf_sim::SimConfig> {
        let cfg = self.sim_config_unchecked()?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The `[simulator]` section as parsed, not yet validated: for callers that first turn
    /// its `trace_file` arrivals into requests (`llm_perf::resolve_trace_files`); validation
    /// then happens when the evaluator is built.
    ///
    /// # Errors
    /// [`crate::PsoError::Config`] when the section is missing or does not parse.
    pub fn sim_config_unchecked(&self) -> Result<perf_sim::SimConfig> {
        let v = self
            .simulator
            .clone()
            .ok_or_else(|| crate::error::config_err("simulator", "section missing"))?;
        serde_json::from_value(v).map_err(|e| crate::error::config_err("simulator", e.to_string()))
    }
}
