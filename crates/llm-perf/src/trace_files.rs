//! Composition of `perf-readers` and `perf-sim`: trace files named in a simulation config are
//! read here, since the two crates do not depend on each other (DESIGN.md §2).

use std::path::Path;

use perf_sim::{ArrivalConfig, SimConfig, TraceRequest};

use crate::Result;

/// Replaces every `kind: trace_file` arrival process of `config` by the requests of its file
/// (any request-trace format `perf-readers` detects), keeping its time scale, target rate and
/// window. Relative paths are taken from `base_dir` (the configuration file's directory).
/// Returns how many files were read.
///
/// # Examples
/// ```
/// use llm_perf::sim::{ArrivalConfig, SimConfig, Simulation};
/// let mut cfg: SimConfig = serde_json::from_value(serde_json::json!({
///   "cluster": { "cost_model": { "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 },
///                "kv_cache": { "num_gpu_blocks": 100000 } },
///   "workload": { "clients": [ { "arrival": { "kind": "trace_file",
///       "path": "readers/traces/AzureLLMInferenceTrace_code.csv", "end_s": 30.0 } } ] }
/// }))?;
/// let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples");
/// assert_eq!(llm_perf::resolve_trace_files(&mut cfg, &samples)?, 1);
/// assert!(matches!(cfg.workload.clients[0].arrival, ArrivalConfig::Trace { .. }));
/// let summary = Simulation::new(cfg)?.run(std::io::sink())?;
/// assert!(summary.requests.completed > 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`crate::Error::Read`] for a file that is missing, unreadable, not a request trace or
/// without requests (the message names the file).
pub fn resolve_trace_files(config: &mut SimConfig, base_dir: &Path) -> Result<usize> {
    let mut read = 0;
    for client in &mut config.workload.clients {
        let ArrivalConfig::TraceFile {
            path,
            time_scale,
            target_rate,
            start_s,
            end_s,
        } = &client.arrival
        else {
            continue;
        };
        let file = base_dir.join(path);
        let (_, records) = perf_readers::read_requests_any(&file)?;
        if records.is_empty() {
            // A header and no rows: nothing to replay.
            return Err(perf_readers::ReadError::Empty {
                path: file.display().to_string(),
            }
            .into());
        }
        client.arrival = ArrivalConfig::Trace {
            requests: records.iter().map(TraceRequest::from).collect(),
            time_scale: *time_scale,
            target_rate: *target_rate,
            start_s: *start_s,
            end_s: *end_s,
        };
        read += 1;
    }
    Ok(read)
}
