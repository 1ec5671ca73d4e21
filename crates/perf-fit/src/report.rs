//! Per-point error report and summaries of a fit.

use perf_model_core::inferno::Analysis;
use serde::{Deserialize, Serialize};

use crate::loss::Loss;
use crate::point::FitPoint;

/// Observed and predicted latencies of one training point at the fitted parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointReport {
    /// Request rate, req/s.
    pub rate_rps: f64,
    /// Mean input tokens.
    pub input_tokens: f64,
    /// Mean output tokens.
    pub output_tokens: f64,
    /// Observed TTFT, ms.
    pub obs_ttft_ms: f64,
    /// Predicted TTFT, ms.
    pub pred_ttft_ms: f64,
    /// Observed ITL, ms.
    pub obs_itl_ms: f64,
    /// Predicted ITL, ms.
    pub pred_itl_ms: f64,
    /// `|pred − obs|` TTFT, ms.
    pub abs_err_ttft_ms: f64,
    /// `|pred − obs|` ITL, ms.
    pub abs_err_itl_ms: f64,
    /// `|pred − obs| / obs` TTFT.
    pub rel_err_ttft: f64,
    /// `|pred − obs| / obs` ITL.
    pub rel_err_itl: f64,
    /// This point's loss.
    pub loss: f64,
    /// Largest rate the model serves for this point's shape and limits
    /// (`1000·0.999·μ(N)`), req/s.
    pub max_rate_rps: f64,
}

/// Error summaries over all points.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummary {
    /// Mean absolute TTFT error, ms (upstream `avgErrTTFT`).
    pub avg_err_ttft_ms: f64,
    /// Mean absolute ITL error, ms (upstream `avgErrITL`).
    pub avg_err_itl_ms: f64,
    /// Mean point loss = the loss at the optimum (upstream `avgErrWeighted`; ms for the
    /// weighted-absolute loss, dimensionless for relative squared).
    pub avg_err_weighted: f64,
    /// Mean relative TTFT error `mean(|pred − obs|/obs)`.
    pub mean_rel_err_ttft: f64,
    /// Mean relative ITL error.
    pub mean_rel_err_itl: f64,
    /// Paper metric for TTFT: `mean|pred − meas| / mean(meas)`.
    pub paper_err_ttft: f64,
    /// Paper metric for ITL.
    pub paper_err_itl: f64,
}

/// The per-point table and its summaries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// One row per training point, in input order.
    pub points: Vec<PointReport>,
    /// Summaries.
    pub summary: ErrorSummary,
}

impl FitReport {
    /// Builds the report from the training points and their analyses at the optimum.
    pub(crate) fn new(points: &[FitPoint], analyses: &[Analysis], loss: Loss) -> Self {
        let rows: Vec<PointReport> = points
            .iter()
            .zip(analyses)
            .map(|(p, a)| {
                let e_t = (a.ttft_ms - p.ttft_ms).abs();
                let e_i = (a.itl_ms - p.itl_ms).abs();
                PointReport {
                    rate_rps: p.rate_rps,
                    input_tokens: p.input_tokens,
                    output_tokens: p.output_tokens,
                    obs_ttft_ms: p.ttft_ms,
                    pred_ttft_ms: a.ttft_ms,
                    obs_itl_ms: p.itl_ms,
                    pred_itl_ms: a.itl_ms,
                    abs_err_ttft_ms: e_t,
                    abs_err_itl_ms: e_i,
                    rel_err_ttft: e_t / p.ttft_ms,
                    rel_err_itl: e_i / p.itl_ms,
                    loss: loss.point_loss(p.ttft_ms, p.itl_ms, a.ttft_ms, a.itl_ms),
                    max_rate_rps: a.max_rate_rps,
                }
            })
            .collect();
        #[allow(clippy::cast_precision_loss)]
        let n = rows.len().max(1) as f64;
        let mean = |f: fn(&PointReport) -> f64| rows.iter().map(f).sum::<f64>() / n;
        let avg_err_ttft_ms = mean(|r| r.abs_err_ttft_ms);
        let avg_err_itl_ms = mean(|r| r.abs_err_itl_ms);
        let summary = ErrorSummary {
            avg_err_ttft_ms,
            avg_err_itl_ms,
            avg_err_weighted: mean(|r| r.loss),
            mean_rel_err_ttft: mean(|r| r.rel_err_ttft),
            mean_rel_err_itl: mean(|r| r.rel_err_itl),
            paper_err_ttft: avg_err_ttft_ms / mean(|r| r.obs_ttft_ms),
            paper_err_itl: avg_err_itl_ms / mean(|r| r.obs_itl_ms),
        };
        Self {
            points: rows,
            summary,
        }
    }
}

/// The per-point table as the upstream demos print it (`rps inToken outToken TTFTMeas TTFTPred
/// ITLMeas ITLPred`, ms), followed by the summary errors.
impl std::fmt::Display for FitReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:>10} {:>9} {:>9} {:>10} {:>10} {:>9} {:>9}",
            "rps", "inToken", "outToken", "TTFTMeas", "TTFTPred", "ITLMeas", "ITLPred"
        )?;
        for p in &self.points {
            writeln!(
                f,
                "{:>10.3} {:>9.1} {:>9.1} {:>10.3} {:>10.3} {:>9.3} {:>9.3}",
                p.rate_rps,
                p.input_tokens,
                p.output_tokens,
                p.obs_ttft_ms,
                p.pred_ttft_ms,
                p.obs_itl_ms,
                p.pred_itl_ms
            )?;
        }
        let s = &self.summary;
        writeln!(
            f,
            "mean abs error TTFT {:.4} ms, ITL {:.4} ms; paper error TTFT {:.4}, ITL {:.4}",
            s.avg_err_ttft_ms, s.avg_err_itl_ms, s.paper_err_ttft, s.paper_err_itl
        )
    }
}

/// `OptimizedParms` of the upstream response.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedParams {
    /// α, ms.
    pub alpha: f64,
    /// β, ms per token.
    pub beta: f64,
    /// γ, ms per token².
    pub gamma: f64,
}

/// `AnalysisResults` of the upstream response.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedAnalysis {
    /// Mean absolute TTFT error, ms.
    #[serde(rename = "avgErrTTFT")]
    pub avg_err_ttft: f64,
    /// Mean absolute ITL error, ms.
    #[serde(rename = "avgErrITL")]
    pub avg_err_itl: f64,
    /// The loss at the optimum.
    #[serde(rename = "avgErrWeighted")]
    pub avg_err_weighted: f64,
}

/// The Go trainer's response body,
/// `{"OptimizedParms":{"alpha","beta","gamma"},"AnalysisResults":{"avgErrTTFT","avgErrITL","avgErrWeighted"}}`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedResponse {
    /// Fitted parameters.
    #[serde(rename = "OptimizedParms")]
    pub optimized_parms: SeedParams,
    /// Error summary.
    #[serde(rename = "AnalysisResults")]
    pub analysis_results: SeedAnalysis,
}
