//! Composition of `perf-readers` and `perf-sim`: a Hugging Face `config.json` named by a
//! simulation config's roofline cost model is read here (the two crates do not depend on
//! each other, DESIGN.md §2), so any model can be simulated, not only catalogue ones.

use std::path::Path;

use perf_sim::{CostModelConfig, SimConfig};

use crate::Result;

/// Reads the `cost_model.model_config` file of `config` (relative paths from `base_dir`, the
/// configuration file's directory) into its inline `spec`. Returns how many files were read
/// (0 or 1).
///
/// # Examples
/// ```
/// use llm_perf::sim::{CostModelConfig, SimConfig, Simulation};
/// let dir = std::env::temp_dir().join(format!("llm-perf-doc-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("My-8B"))?;
/// std::fs::write(dir.join("My-8B/config.json"), r#"{"model_type": "llama",
///   "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
///   "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256}"#)?;
/// let mut cfg: SimConfig = serde_json::from_value(serde_json::json!({
///   "max_requests": 50,
///   "cluster": { "cost_model": { "kind": "roofline", "model": "My-8B", "accelerator": "H100",
///                                "model_config": "My-8B/config.json" } },
///   "workload": { "rate": 5.0, "clients": [ { "arrival": { "kind": "poisson" },
///       "input": { "kind": "fixed", "value": 512 }, "output": { "kind": "fixed", "value": 64 } } ] }
/// }))?;
/// assert_eq!(llm_perf::resolve_model_configs(&mut cfg, &dir)?, 1);
/// let CostModelConfig::Roofline { spec: Some(spec), .. } = &cfg.cluster.cost_model else { panic!() };
/// assert_eq!((spec.layers, spec.kv_heads), (32, 8));
/// assert_eq!(Simulation::new(cfg)?.run(std::io::sink())?.requests.completed, 50);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`crate::Error::Read`] for a file that is missing, unreadable or not a supported model
/// config (the message names the file and the field).
pub fn resolve_model_configs(config: &mut SimConfig, base_dir: &Path) -> Result<usize> {
    let CostModelConfig::Roofline {
        spec,
        model_config: Some(file),
        ..
    } = &mut config.cluster.cost_model
    else {
        return Ok(0);
    };
    let path = base_dir.join(&*file);
    let shown = path.display().to_string();
    let bytes = std::fs::read(&path).map_err(|source| perf_readers::ReadError::Io {
        path: shown.clone(),
        source,
    })?;
    *spec = Some(Box::new(perf_readers::read_hf_config(&bytes, &shown)?));
    Ok(1)
}
