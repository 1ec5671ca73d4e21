//! BLIS (`inference-sim/inference-sim`) "trained-physics" latency-model coefficients: fitted
//! α and β vectors with the experiments they reproduce (its `testdata/trained_physics_*.json`).

use crate::error::Result;
use crate::json::{Cx, Node, parse_json_lenient};
use crate::run::LoadStage;
use crate::text;

/// One experiment of a coefficient file and the metrics the simulator must reproduce.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct PhysicsExperiment {
    /// `id`.
    pub id: String,
    /// `model`.
    pub model: Option<String>,
    /// `hardware` (`H100`, …).
    pub hardware: Option<String>,
    /// `tp`: tensor parallelism.
    pub tp: Option<u64>,
    /// `max_num_seqs`.
    pub max_num_seqs: Option<u64>,
    /// `max_num_batched_tokens`.
    pub max_num_batched_tokens: Option<u64>,
    /// `total_kv_blocks`: GPU KV blocks (of 16 tokens in BLIS).
    pub total_kv_blocks: Option<u64>,
    /// `cpu_kv_blocks`: the CPU (offloaded) KV blocks BLIS models, 0 for none.
    pub cpu_kv_blocks: Option<u64>,
    /// `workload`: the offered workload, when the experiment describes one.
    pub workload: Option<PhysicsWorkload>,
    /// `expected.completed_requests`.
    pub completed_requests: Option<u64>,
    /// `expected.ttft_mean_ms`.
    pub ttft_mean_ms: Option<f64>,
    /// `expected.itl_mean_ms`.
    pub itl_mean_ms: Option<f64>,
    /// `expected.e2e_mean_ms`.
    pub e2e_mean_ms: Option<f64>,
}

/// The offered workload of an experiment (`workload`): an inference-perf profile in short.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct PhysicsWorkload {
    /// `inference_perf.shared_prefix`: the prompt set.
    pub shared_prefix: Option<PhysicsSharedPrefix>,
    /// `inference_perf.stages`: constant-rate load stages (`rate` req/s, `duration` s).
    pub stages: Vec<LoadStage>,
    /// `num_requests`: the requests BLIS generates (Σ rate × duration).
    pub num_requests: Option<u64>,
    /// `seed`.
    pub seed: Option<u64>,
}

/// An inference-perf `shared_prefix` prompt set as a trained-physics experiment gives it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PhysicsSharedPrefix {
    /// `num_unique_system_prompts`.
    pub num_unique_system_prompts: Option<u64>,
    /// `num_users_per_system_prompt`.
    pub num_users_per_system_prompt: Option<u64>,
    /// `system_prompt_len`, tokens.
    pub system_prompt_len: Option<u64>,
    /// `question_len`, tokens.
    pub question_len: Option<u64>,
    /// `output_len`, tokens.
    pub output_len: Option<u64>,
    /// `enable_multi_turn_chat`.
    pub enable_multi_turn_chat: Option<bool>,
}

/// A trained-physics coefficient file: fitted model parameters, not measurements.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct TrainedPhysics {
    /// `backend` (`trained-physics`).
    pub backend: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `alpha_coeffs`: the request-level (queueing/overhead) coefficients.
    pub alpha_coeffs: Vec<f64>,
    /// `beta_coeffs`: the step-time coefficients.
    pub beta_coeffs: Vec<f64>,
    /// `experiments`.
    pub experiments: Vec<PhysicsExperiment>,
}

/// Whether `head` (a JSON object) holds `alpha_coeffs` and `beta_coeffs`.
pub(crate) fn looks_like(head: &str) -> bool {
    head.contains("\"alpha_coeffs\"") && head.contains("\"beta_coeffs\"")
}

/// Reads a BLIS trained-physics coefficient file: `{"backend", "description", "alpha_coeffs":
/// [...], "beta_coeffs": [...], "experiments": [{"id", "model", "hardware", "tp", "max_num_seqs",
/// "max_num_batched_tokens", "total_kv_blocks", "cpu_kv_blocks", "workload": {"inference_perf":
/// {"shared_prefix": {…}, "stages": [{"rate", "duration"}]}, "num_requests", "seed"},
/// "expected": {"completed_requests", "ttft_mean_ms", "itl_mean_ms", "e2e_mean_ms", …}}]}`.
///
/// The `expected` block is what BLIS predicts for the experiment (a regression golden file),
/// not a measurement; the measurements of BLIS's trainval experiments are read with their
/// `error_records.csv` as [`RunLayout::BlisTrainval`](crate::RunLayout::BlisTrainval) runs.
///
/// # Examples
/// ```
/// let json = br#"{"backend": "trained-physics", "alpha_coeffs": [15563.2, 777.3],
///   "beta_coeffs": [0.152, 0], "experiments": []}"#;
/// let c = perf_readers::read_trained_physics(json, "iter29.json")?;
/// assert_eq!(c.alpha_coeffs, vec![15563.2, 777.3]);
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Field`](crate::ReadError::Field) with the JSON path of a missing coefficient
/// array, a non-numeric coefficient or a bad experiment value (a count that is not a whole
/// number, a load stage without a finite `rate` or `duration`, …).
pub fn read_trained_physics(bytes: &[u8], path: &str) -> Result<TrainedPhysics> {
    let text = text::decode(bytes, path)?;
    let value = parse_json_lenient(text, path)?;
    let cx = Cx { path, line: 0 };
    let root = Node::root(&value);
    let coeffs = |key: &str| -> Result<Vec<f64>> {
        let Some(items) = root.get(key).and_then(|n| n.items()) else {
            return Err(cx.field_err(
                &format!("$.{key}"),
                root.get(key).map(|n| n.v),
                "expected an array of coefficients",
            ));
        };
        items.iter().map(|n| n.num(&cx)).collect()
    };
    let string = |n: &Node<'_>, key: &str| n.get(key).and_then(|v| v.as_str().map(str::to_owned));
    let mut experiments = Vec::new();
    if let Some(items) = root.get("experiments").and_then(|n| n.items()) {
        for e in &items {
            let id = match e.get("id") {
                Some(n) => n
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| n.v.to_string()),
                None => String::new(),
            };
            experiments.push(PhysicsExperiment {
                id,
                model: string(e, "model"),
                hardware: string(e, "hardware"),
                tp: e.opt_count(&["tp"], &cx)?,
                max_num_seqs: e.opt_count(&["max_num_seqs"], &cx)?,
                max_num_batched_tokens: e.opt_count(&["max_num_batched_tokens"], &cx)?,
                total_kv_blocks: e.opt_count(&["total_kv_blocks"], &cx)?,
                cpu_kv_blocks: e.opt_count(&["cpu_kv_blocks"], &cx)?,
                workload: e.get("workload").map(|w| workload(&w, &cx)).transpose()?,
                completed_requests: e.opt_count(&["expected", "completed_requests"], &cx)?,
                ttft_mean_ms: e.opt_num(&["expected", "ttft_mean_ms"], &cx)?,
                itl_mean_ms: e.opt_num(&["expected", "itl_mean_ms"], &cx)?,
                e2e_mean_ms: e.opt_num(&["expected", "e2e_mean_ms"], &cx)?,
            });
        }
    }
    Ok(TrainedPhysics {
        backend: string(&root, "backend"),
        description: string(&root, "description"),
        alpha_coeffs: coeffs("alpha_coeffs")?,
        beta_coeffs: coeffs("beta_coeffs")?,
        experiments,
    })
}

/// An experiment's `workload` block.
fn workload(w: &Node<'_>, cx: &Cx<'_>) -> Result<PhysicsWorkload> {
    let shared_prefix = w
        .at(&["inference_perf", "shared_prefix"])
        .map(|sp| -> Result<PhysicsSharedPrefix> {
            let multi_turn =
                match sp.get("enable_multi_turn_chat") {
                    None => None,
                    Some(n) => Some(n.v.as_bool().ok_or_else(|| {
                        cx.field_err(&n.path, Some(n.v), "expected true or false")
                    })?),
                };
            Ok(PhysicsSharedPrefix {
                num_unique_system_prompts: sp.opt_count(&["num_unique_system_prompts"], cx)?,
                num_users_per_system_prompt: sp.opt_count(&["num_users_per_system_prompt"], cx)?,
                system_prompt_len: sp.opt_count(&["system_prompt_len"], cx)?,
                question_len: sp.opt_count(&["question_len"], cx)?,
                output_len: sp.opt_count(&["output_len"], cx)?,
                enable_multi_turn_chat: multi_turn,
            })
        })
        .transpose()?;
    let mut stages = Vec::new();
    if let Some(list) = w.at(&["inference_perf", "stages"]) {
        let Some(items) = list.items() else {
            return Err(cx.field_err(&list.path, Some(list.v), "expected a list of load stages"));
        };
        for item in &items {
            let positive = |key: &str, what: &str| -> Result<f64> {
                let x = item.req_num(&[key], cx)?;
                if x.is_finite() && x > 0.0 {
                    Ok(x)
                } else {
                    Err(cx.field_err(
                        &format!("{}.{key}", item.path),
                        item.v.get(key),
                        &format!("expected {what}"),
                    ))
                }
            };
            stages.push(LoadStage {
                rate: positive("rate", "a rate > 0 (requests per second)")?,
                duration_s: positive("duration", "a duration > 0 (seconds)")?,
            });
        }
    }
    Ok(PhysicsWorkload {
        shared_prefix,
        stages,
        num_requests: w.opt_count(&["num_requests"], cx)?,
        seed: w.opt_count(&["seed"], cx)?,
    })
}
