//! The seed-compatibility loader: LLMPerfOracle's YAML configuration onto a [`SimConfig`]
//! (specs/simulator.md §1.1, §1.2).
//!
//! Every seed key is accepted and mapped, and each choice is reported as a [`Decision`]: a
//! default applied (the seed's defaults fill missing figures: 100 TFLOPS, 80e9 bytes,
//! 1000 GB/s; links 10e9 bit/s and 0.1 ms), a key ignored (`lod`,
//! `scheduler_iteration_delay_s`, conversations, network transfers), a unit converted. Keys the
//! seed does not have are errors naming their path. The mapping:
//!
//! | seed | simulator |
//! |---|---|
//! | `simulation.random_seed` (else `workload.random_seed`) | `seed` |
//! | `simulation.max_simulation_time` | `max_simulation_time_s` |
//! | `workload.total_duration`, `total_requests_to_generate` | `horizon_s`, `max_requests` |
//! | `metrics_config.warm_up_duration_s` (> 0) | `warm_up_s` |
//! | `compute_devices[]` | an inline [`perf_model_core::Accelerator`] (fp16 peak, bytes → GiB, GB/s) |
//! | each target of `frameworks_to_test` | one replica with a roofline of the catalogue model `model_profile_id` in fp16 on its device; with several targets each is a pool of its own named after the framework ([`crate::pool`]: own engine, limits, device, model), reported per framework in the summary's `pools` |
//! | `type` | `VLLM`, `ParallelVLLM` → `vllm_v1`; `SGLang` → `sglang`; `TensorRTLLM` (`TRTLLM`, `TensorRT-LLM`) → `trtllm` |
//! | `parallelism.tp_degree` | `tensor_parallel`; the slowest link between the TP devices sets the interconnect |
//! | `max_num_seqs`, `max_num_batched_tokens`, `block_size`, `enable_chunked_prefill`, `enable_prefix_caching` | the engine's limits |
//! | `load_balancing_strategy` | `round_robin`, `random`; `least_loaded` = least outstanding requests; `weighted_random` with `framework_weights` (default 1 each) = the `weighted_random` router over the frameworks' pools (`random` when the weights are equal) |
//! | `client_profiles[]` | one client each; Exponential gaps = Poisson, Constant = constant rate, Gamma = Gamma renewal; lengths Constant/Fixed, Uniform, Normal, LogNormal (`mean`, `sigma` in log space; implausible log-space values read as a linear mean and std, reported), Exponential (mean 1/rate), Pareto, Weibull, Gamma, Mixture |
//!
//! Distributions without an equivalent (Pareto, Weibull or Mixture gaps; Uniform, Normal or
//! LogNormal gaps) and pipeline parallelism are errors naming the path. Semantics follow the simulator (KV blocks after the weights, vLLM V1 scheduling), not
//! the seed's shortcuts. Numbers are read as the seed's PyYAML reads them (`80_000_000_000`
//! included).

mod convert;
mod decision;
mod dist;
mod framework;
mod hardware;
mod lenient;
mod schema;

use std::path::PathBuf;

use serde_json::Value;

pub use decision::{Decision, DecisionKind};

use crate::config::SimConfig;
use crate::error::Result;

/// Where the seed's `metrics_config` asks for its output files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeedOutputs {
    /// `output_summary_json_path`.
    pub summary_json: Option<PathBuf>,
    /// `output_requests_csv_path`.
    pub requests_csv: Option<PathBuf>,
}

/// A configuration loaded with [`SimConfig::load_path`] or [`SimConfig::load_yaml_str`]: the
/// configuration, and for a seed configuration the loader's decisions and output paths.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedConfig {
    /// The configuration to simulate.
    pub config: SimConfig,
    /// Whether the text was a seed (LLMPerfOracle) configuration.
    pub seed: bool,
    /// What the seed loader did with each key, in order (empty for a native configuration).
    pub decisions: Vec<Decision>,
    /// The seed's output file paths (none for a native configuration).
    pub outputs: SeedOutputs,
}

/// Whether a parsed configuration tree is a seed configuration: a mapping with a top-level
/// `frameworks_to_test` or `hardware_profile` key.
///
/// # Examples
/// ```
/// let tree: serde_json::Value = serde_json::json!({"frameworks_to_test": []});
/// assert!(perf_sim::seed::is_seed_config(&tree));
/// assert!(!perf_sim::seed::is_seed_config(&serde_json::json!({"cluster": {}})));
/// ```
#[must_use]
pub fn is_seed_config(tree: &Value) -> bool {
    tree.as_object()
        .is_some_and(|m| is_seed_key_set(m.keys().map(String::as_str)))
}

/// True when a document's top-level keys are a seed config's (`frameworks_to_test` or
/// `hardware_profile`).
pub(crate) fn is_seed_key_set<'k>(mut keys: impl Iterator<Item = &'k str>) -> bool {
    keys.any(|k| k == "frameworks_to_test" || k == "hardware_profile")
}

/// Converts a parsed seed file.
pub(crate) fn convert(file: &schema::SeedFile) -> Result<(SimConfig, Vec<Decision>, SeedOutputs)> {
    let mut log = decision::Log::default();
    let (config, outputs) = convert::convert(file, &mut log)?;
    Ok((config, log.0, outputs))
}

pub(crate) use schema::SeedFile;

#[cfg(test)]
mod tests;
