//! The Inferno queue analyzer's REST documents (`llm-inferno/queue-analysis`): the problem
//! posted to `/solve`, `/target` and `/optimize`, and the answers they return.

use crate::error::Result;
use crate::json::{Cx, Node, parse_json_lenient};
use crate::text;

/// A queue-analysis REST problem (`ProblemData`). Keys match ignoring ASCII case, as Go's
/// JSON decoder does (`AvgInputTokens` binds to `avgInputTokens`); absent fields are `None`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct AnalyzerProblem {
    /// `RPS`: arrival rate, req/s.
    pub rps: Option<f64>,
    /// `maxBatchSize` (the search ceiling for `/optimize`).
    pub max_batch_size: Option<f64>,
    /// `avgInputTokens`.
    pub avg_input_tokens: Option<f64>,
    /// `avgOutputTokens`.
    pub avg_output_tokens: Option<f64>,
    /// `alpha`: base iteration time, ms.
    pub alpha: Option<f64>,
    /// `beta`: compute slope, ms/token.
    pub beta: Option<f64>,
    /// `gamma`: memory-access slope, ms/token².
    pub gamma: Option<f64>,
    /// `maxQueueSize`.
    pub max_queue_size: Option<f64>,
    /// `targetTTFT`, ms.
    pub target_ttft_ms: Option<f64>,
    /// `targetITL`, ms.
    pub target_itl_ms: Option<f64>,
}

/// An answer of the queue analyzer: `/solve` and `/target` (`AnalysisData`) or `/optimize`
/// (`OptimizeData`, which adds `concurrency`, `M_ITL`, `M_TPF`, `oracleCalls`, `feasible`).
/// Times are ms (the upstream comments say seconds, the values are ms), rates req/s.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct AnalyzerSolution {
    /// `offeredRPS` (current servers only).
    pub offered_rps: Option<f64>,
    /// `throughput`, req/s.
    pub throughput: Option<f64>,
    /// `avgRespTime`, ms.
    pub avg_resp_time_ms: Option<f64>,
    /// `avgWaitTime`, ms.
    pub avg_wait_time_ms: Option<f64>,
    /// `avgNumInServ`: mean requests in service.
    pub avg_num_in_serv: Option<f64>,
    /// `avgTTFT`, ms.
    pub avg_ttft_ms: Option<f64>,
    /// `avgITL`, ms.
    pub avg_itl_ms: Option<f64>,
    /// `maxRPS`: the largest stable arrival rate, req/s.
    pub max_rps: Option<f64>,
    /// `RPSTargetTTFT`: the rate meeting the TTFT target (0 from `/solve`).
    pub rps_target_ttft: Option<f64>,
    /// `RPSTargetITL`: the rate meeting the ITL target (0 from `/solve`).
    pub rps_target_itl: Option<f64>,
    /// `concurrency`: the chosen max batch size (`/optimize`).
    pub concurrency: Option<f64>,
    /// `M_ITL`: the closed-form bracket from the ITL target (`/optimize`).
    pub m_itl: Option<f64>,
    /// `M_TPF`: the closed-form bracket from the TTFT target (`/optimize`).
    pub m_tpf: Option<f64>,
    /// `oracleCalls`: analyzer evaluations used (`/optimize`).
    pub oracle_calls: Option<f64>,
    /// `feasible`: whether the targets can be met (`/optimize`).
    pub feasible: Option<bool>,
}

impl AnalyzerSolution {
    /// Whether this is an `/optimize` answer (it has `concurrency`).
    #[must_use]
    pub fn is_optimize(&self) -> bool {
        self.concurrency.is_some()
    }
}

/// Whether the lower-cased `head` of a JSON object looks like a problem: `maxBatchSize`,
/// `avgInputTokens` and `alpha`.
pub(crate) fn looks_like_problem(lower: &str) -> bool {
    lower.contains("\"maxbatchsize\"")
        && lower.contains("\"avginputtokens\"")
        && lower.contains("\"alpha\"")
}

/// Whether the lower-cased `head` of a JSON object looks like an answer: `avgTTFT`, `avgITL`
/// and `maxRPS`.
pub(crate) fn looks_like_solution(lower: &str) -> bool {
    lower.contains("\"avgttft\"") && lower.contains("\"avgitl\"") && lower.contains("\"maxrps\"")
}

/// Reads a queue-analysis REST problem (`examples/problem-data.json`).
///
/// # Examples
/// ```
/// let p = perf_readers::read_analyzer_problem(br#"{"RPS": 3.0, "maxBatchSize": 48,
///   "AvgInputTokens": 128, "alpha": 12}"#, "problem.json")?;
/// assert_eq!(p.avg_input_tokens, Some(128.0));
/// assert_eq!(p.gamma, None);
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Json`](crate::ReadError::Json) for bad JSON; [`ReadError::Field`](crate::ReadError::Field)
/// with the JSON path of a value that is not a number or of a root that is not an object.
pub fn read_analyzer_problem(bytes: &[u8], path: &str) -> Result<AnalyzerProblem> {
    let text = text::decode(bytes, path)?;
    let value = parse_json_lenient(text, path)?;
    let cx = Cx { path, line: 0 };
    let root = Node::root(&value);
    if !value.is_object() {
        return Err(cx.field_err("$", Some(&value), "expected a JSON object"));
    }
    let num = |key: &str| root.get_ci(key).map(|n| n.num(&cx)).transpose();
    Ok(AnalyzerProblem {
        rps: num("RPS")?,
        max_batch_size: num("maxBatchSize")?,
        avg_input_tokens: num("avgInputTokens")?,
        avg_output_tokens: num("avgOutputTokens")?,
        alpha: num("alpha")?,
        beta: num("beta")?,
        gamma: num("gamma")?,
        max_queue_size: num("maxQueueSize")?,
        target_ttft_ms: num("targetTTFT")?,
        target_itl_ms: num("targetITL")?,
    })
}

/// Reads a queue-analysis answer (`examples/solution-{solve,target,optimize}.json`).
///
/// # Examples
/// ```
/// let s = perf_readers::read_analyzer_solution(br#"{"throughput": 3, "avgTTFT": 75.3,
///   "avgITL": 20.5, "maxRPS": 3.82}"#, "solution.json")?;
/// assert_eq!(s.max_rps, Some(3.82));
/// assert!(!s.is_optimize());
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// As [`read_analyzer_problem`]; `feasible` must be a boolean.
pub fn read_analyzer_solution(bytes: &[u8], path: &str) -> Result<AnalyzerSolution> {
    let text = text::decode(bytes, path)?;
    let value = parse_json_lenient(text, path)?;
    let cx = Cx { path, line: 0 };
    let root = Node::root(&value);
    if !value.is_object() {
        return Err(cx.field_err("$", Some(&value), "expected a JSON object"));
    }
    let num = |key: &str| root.get_ci(key).map(|n| n.num(&cx)).transpose();
    let feasible = match root.get_ci("feasible") {
        None => None,
        Some(n) => Some(
            n.v.as_bool()
                .ok_or_else(|| cx.field_err(&n.path, Some(n.v), "expected true or false"))?,
        ),
    };
    Ok(AnalyzerSolution {
        offered_rps: num("offeredRPS")?,
        throughput: num("throughput")?,
        avg_resp_time_ms: num("avgRespTime")?,
        avg_wait_time_ms: num("avgWaitTime")?,
        avg_num_in_serv: num("avgNumInServ")?,
        avg_ttft_ms: num("avgTTFT")?,
        avg_itl_ms: num("avgITL")?,
        max_rps: num("maxRPS")?,
        rps_target_ttft: num("RPSTargetTTFT")?,
        rps_target_itl: num("RPSTargetITL")?,
        concurrency: num("concurrency")?,
        m_itl: num("M_ITL")?,
        m_tpf: num("M_TPF")?,
        oracle_calls: num("oracleCalls")?,
        feasible,
    })
}
