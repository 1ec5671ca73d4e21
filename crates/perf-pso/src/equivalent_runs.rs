//! Simulations shared by configurations that differ only in a running-request limit that
//! never acted (feature `sim`).
//!
//! A run whose `max_batch_size` never held a request back reports the most requests it ever
//! ran (engines `vllm_v1`, `vllm_v0`, `sarathi`, `orca`, `static`), `peak_running` ([`perf_sim::engine::BatchLimitUse`]). The limit's only use is
//! to stop admissions, so under any `max_batch_size > peak_running` every admission check
//! passes as it did: the run is the same step for step and its summary is the same to the bit.
//! A tuner's particles often sit in such a range (every limit above what the load ever
//! reaches behaves alike), so [`crate::SimEvaluator`] simulates the first of them and gives
//! the others that run's performance index.
//!
//! The class of a run is its whole configuration with `cluster.engine.max_batch_size`
//! blanked (same workload, seed, cost model, every other knob), kept as the SHA-256 of its
//! JSON (a configuration can hold a whole trace), plus the condition on the limit. Clusters
//! with pools are left out (each pool has its own limit).

use std::collections::HashMap;

use perf_model_core::PerformanceIndex;
use perf_sim::{SimConfig, Summary};
use sha2::{Digest, Sha256};

/// A class: SHA-256 of the configuration without its running-request limit.
pub(crate) type Class = [u8; 32];

/// Classes kept before the store starts afresh (a bound on memory over a long tuning run).
const MAX_CLASSES: usize = 4096;

/// Finished runs by class, each with the largest `peak_running` its replicas reached. A class
/// has one: every run of it whose limit never acted is the run without a limit.
#[derive(Debug, Default)]
pub(crate) struct EquivalentRuns {
    classes: HashMap<Class, (u64, PerformanceIndex)>,
    /// Evaluations answered from an equivalent run.
    shared: u64,
}

impl EquivalentRuns {
    /// The class of `cfg`: the digest of its JSON with the running-request limit blanked;
    /// `None` when the cluster has pools (limits per pool) or the configuration does not
    /// serialise.
    pub fn class_of(cfg: &SimConfig) -> Option<Class> {
        if !cfg.cluster.pools.is_empty() {
            return None;
        }
        let mut tree = serde_json::to_value(cfg).ok()?;
        *tree
            .get_mut("cluster")?
            .get_mut("engine")?
            .get_mut("max_batch_size")? = serde_json::Value::Null;
        let json = serde_json::to_vec(&tree).ok()?;
        Some(Sha256::digest(&json).into())
    }

    /// The index of a run of `class` that any `max_batch_size = limit` reproduces exactly.
    pub fn find(&mut self, class: &Class, limit: u32) -> Option<PerformanceIndex> {
        let &(peak, index) = self.classes.get(class)?;
        if u64::from(limit) <= peak {
            return None;
        }
        self.shared += 1;
        Some(index)
    }

    /// Keeps the run of `class` that gave `summary` (and `index`) if its limit never held a
    /// request back on any replica, and every replica's engine says so.
    pub fn insert(&mut self, class: Class, summary: &Summary, index: PerformanceIndex) {
        let mut peak = 0;
        for r in &summary.replicas {
            match r.batch_limit {
                Some(b) if b.held_back == 0 => peak = peak.max(b.peak_running),
                _ => return,
            }
        }
        if summary.replicas.is_empty() || summary.interrupted {
            return;
        }
        if self.classes.len() >= MAX_CLASSES && !self.classes.contains_key(&class) {
            self.classes.clear();
        }
        self.classes.insert(class, (peak, index));
    }

    /// Evaluations answered from an equivalent run so far.
    pub fn shared(&self) -> u64 {
        self.shared
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(max_batch: u32, budget: u32, pools: bool) -> SimConfig {
        let mut v = json!({
            "seed": 1, "max_requests": 10,
            "cluster": { "engine": { "max_batch_size": max_batch,
                                     "max_num_batched_tokens": budget },
                "cost_model": { "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 },
                "kv_cache": { "num_gpu_blocks": 1000 } },
            "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 1.0 },
                "input": { "kind": "fixed", "value": 10 },
                "output": { "kind": "fixed", "value": 5 } } ] }
        });
        if pools {
            v["cluster"]["pools"] = json!([{ "name": "a", "replicas": 1 }]);
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_class_ignores_the_running_request_limit_only() {
        let a = EquivalentRuns::class_of(&config(8, 512, false)).unwrap();
        assert_eq!(
            a,
            EquivalentRuns::class_of(&config(200, 512, false)).unwrap()
        );
        assert_ne!(
            a,
            EquivalentRuns::class_of(&config(8, 1024, false)).unwrap()
        );
        assert_eq!(EquivalentRuns::class_of(&config(8, 512, true)), None);
    }
}
