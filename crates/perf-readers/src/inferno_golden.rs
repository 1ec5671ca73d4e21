//! Golden values of the Inferno queue model's per-batch-size service-time primitives
//! (`queue-analysis` `nous/harness/tests/golden_primitives.json`, written by the Go test
//! `TestGeneratePrimitivesGolden`).

use crate::error::Result;
use crate::json::{Cx, Node, parse_json_lenient};
use crate::text;

/// One golden row: the inputs (batch size, α, β, γ, token means) and the primitives the Go
/// analyzer computes for them (float32 values, maxNumTokens 8192, maxQueueSize 128).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct GoldenPrimitive {
    /// `B`: batch size.
    pub batch_size: f64,
    /// `alpha`, ms.
    pub alpha: f64,
    /// `beta`, ms/token.
    pub beta: f64,
    /// `gamma`, ms/token².
    pub gamma: f64,
    /// `AvgInputTokens`.
    pub avg_input_tokens: f64,
    /// `AvgOutputTokens`.
    pub avg_output_tokens: f64,
    /// `nc`: prefill chunks per request.
    pub nc: f64,
    /// `iter_time`: T_iter(B), ms.
    pub iter_time_ms: f64,
    /// `prefill`: prefill time, ms.
    pub prefill_ms: f64,
    /// `itl`: inter-token latency, ms.
    pub itl_ms: f64,
    /// `tau`: per-request service time, ms.
    pub tau_ms: f64,
}

/// Whether `head` (a JSON array) looks like golden primitives.
pub(crate) fn looks_like(head: &str) -> bool {
    head.contains("\"iter_time\"") && head.contains("\"tau\"") && head.contains("\"nc\"")
}

/// Reads the golden primitives: a JSON array of objects with `B`, `alpha`, `beta`, `gamma`,
/// `AvgInputTokens`, `AvgOutputTokens`, `nc`, `iter_time`, `prefill`, `itl`, `tau`.
///
/// # Examples
/// ```
/// let json = br#"[{"B": 1, "alpha": 8, "beta": 0.033, "gamma": 0.000333, "AvgInputTokens": 256,
///   "AvgOutputTokens": 1024, "nc": 1, "iter_time": 8.296954, "prefill": 16.533249,
///   "itl": 8.288911, "tau": 8504.378}]"#;
/// let rows = perf_readers::read_golden_primitives(json, "golden.json")?;
/// assert_eq!(rows[0].tau_ms, 8504.378);
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Field`](crate::ReadError::Field) with the JSON path (`$[3].tau`) of a missing or
/// non-numeric value, or of a root that is not an array.
pub fn read_golden_primitives(bytes: &[u8], path: &str) -> Result<Vec<GoldenPrimitive>> {
    let text = text::decode(bytes, path)?;
    let value = parse_json_lenient(text, path)?;
    let cx = Cx { path, line: 0 };
    let root = Node::root(&value);
    let Some(items) = root.items() else {
        return Err(cx.field_err("$", Some(&value), "expected an array of golden rows"));
    };
    items
        .iter()
        .map(|n| {
            let num = |key: &str| n.req_num(&[key], &cx);
            Ok(GoldenPrimitive {
                batch_size: num("B")?,
                alpha: num("alpha")?,
                beta: num("beta")?,
                gamma: num("gamma")?,
                avg_input_tokens: num("AvgInputTokens")?,
                avg_output_tokens: num("AvgOutputTokens")?,
                nc: num("nc")?,
                iter_time_ms: num("iter_time")?,
                prefill_ms: num("prefill")?,
                itl_ms: num("itl")?,
                tau_ms: num("tau")?,
            })
        })
        .collect()
}
