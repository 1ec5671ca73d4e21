//! BLIS (`inference-sim/inference-sim`) "trained-physics" latency-model coefficients: fitted
//! α and β vectors with the experiments they reproduce (its `testdata/trained_physics_*.json`).

use crate::error::Result;
use crate::json::{Cx, Node, parse_json_lenient};
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
    /// `expected.completed_requests`.
    pub completed_requests: Option<u64>,
    /// `expected.ttft_mean_ms`.
    pub ttft_mean_ms: Option<f64>,
    /// `expected.itl_mean_ms`.
    pub itl_mean_ms: Option<f64>,
    /// `expected.e2e_mean_ms`.
    pub e2e_mean_ms: Option<f64>,
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
/// [...], "beta_coeffs": [...], "experiments": [{"id", "model", "hardware", "tp", …, "expected":
/// {"completed_requests", "ttft_mean_ms", "itl_mean_ms", "e2e_mean_ms", …}}]}`.
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
/// array, a non-numeric coefficient or a bad experiment value.
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
