//! How big a run will be, before it starts: the number of requests a configuration will
//! generate (an upper bound where one is known), for guardrails such as refusing a run whose
//! `requests.csv` would not fit on the disk.

use crate::config::{ArrivalConfig, SimConfig};

impl SimConfig {
    /// The number of requests this configuration generates, or an upper bound:
    /// * `max_requests` when given (the run stops there);
    /// * else, over `horizon_s`, each client's expected arrivals: rate × horizon for Poisson,
    ///   Gamma and constant arrivals (its own rate, or its weight's share of the workload's
    ///   `rate`), the integral of the rate for stages, the kept requests for a trace;
    /// * `None` when that cannot be known beforehand (a closed loop without `max_requests`,
    ///   a trace file not yet resolved, a rate that is missing).
    ///
    /// A finite client (stages, traces) contributes at most its own total even without a
    /// horizon.
    ///
    /// # Examples
    /// ```
    /// let mut cfg: perf_sim::SimConfig = serde_json::from_value(serde_json::json!({
    ///     "seed": 1, "horizon_s": 60.0,
    ///     "cluster": { "cost_model": { "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 },
    ///                  "kv_cache": { "num_gpu_blocks": 4096 } },
    ///     "workload": { "rate": 20.0, "clients": [
    ///         { "arrival": { "kind": "poisson" }, "input": { "kind": "fixed", "value": 100 },
    ///           "output": { "kind": "fixed", "value": 10 } } ] } }))?;
    /// assert_eq!(cfg.expected_requests(), Some(1200.0));
    /// cfg.max_requests = Some(500);
    /// assert_eq!(cfg.expected_requests(), Some(500.0));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use]
    pub fn expected_requests(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        if let Some(n) = self.max_requests {
            return Some(n as f64);
        }
        let clients = &self.workload.clients;
        let total_weight: f64 = clients.iter().map(|c| c.weight).sum();
        let horizon = self.horizon_s;
        let mut total = 0.0;
        for c in clients {
            let share = |own: Option<f64>| {
                own.or_else(|| {
                    self.workload
                        .rate
                        .filter(|_| total_weight > 0.0)
                        .map(|r| r * c.weight / total_weight)
                })
            };
            let n = match &c.arrival {
                ArrivalConfig::Poisson { rate }
                | ArrivalConfig::Gamma { rate, .. }
                | ArrivalConfig::Constant { rate } => share(*rate)? * horizon?,
                ArrivalConfig::Stages { stages, .. } => {
                    let mut left = horizon.unwrap_or(f64::INFINITY);
                    let mut n = 0.0;
                    for s in stages {
                        let d = s.duration_s.min(left);
                        n += s.rate * d;
                        left -= d;
                    }
                    n
                }
                #[allow(clippy::cast_precision_loss)]
                ArrivalConfig::Trace { requests, .. } => requests.len() as f64,
                ArrivalConfig::ClosedLoop { .. } | ArrivalConfig::TraceFile { .. } => {
                    return None;
                }
            };
            total += n;
        }
        Some(total)
    }
}
