//! The Inferno model-trainer's fit result: the `OptimizationResult` JSON of `POST /train`, or
//! the text its demos print (`experiments/exp2/results/*.txt`).

use crate::error::{Location, ReadError, Result, shorten};
use crate::json::{Cx, Node, parse_json_lenient};
use crate::text;

/// One row of the demo's comparison table (`rps inToken outToken TTFTMeas TTFTPred ITLMeas
/// ITLPred`, times in ms).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct TrainerResultRow {
    /// Request rate, req/s.
    pub rps: f64,
    /// Mean input tokens.
    pub in_tokens: f64,
    /// Mean output tokens.
    pub out_tokens: f64,
    /// Measured TTFT, ms.
    pub ttft_measured_ms: f64,
    /// Predicted TTFT, ms.
    pub ttft_predicted_ms: f64,
    /// Measured ITL, ms.
    pub itl_measured_ms: f64,
    /// Predicted ITL, ms.
    pub itl_predicted_ms: f64,
}

/// Fitted Inferno service parameters and their errors, as the trainer reports them.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct TrainerResult {
    /// `Name of data set: …` (text output only).
    pub dataset: Option<String>,
    /// `Number of data points: …` (text output only).
    pub points: Option<u64>,
    /// `Initial parameters: {"alpha", "beta", "gamma"}` (text output only).
    pub initial: Option<[f64; 3]>,
    /// `Optimization completed. Objective value: …` (text output only).
    pub objective: Option<f64>,
    /// `OptimizedParms.alpha`, ms.
    pub alpha: f64,
    /// `OptimizedParms.beta`, ms/token.
    pub beta: f64,
    /// `OptimizedParms.gamma`, ms/token².
    pub gamma: f64,
    /// `AnalysisResults.avgErrTTFT`: mean absolute TTFT error, ms.
    pub avg_err_ttft_ms: Option<f64>,
    /// `AnalysisResults.avgErrITL`: mean absolute ITL error, ms.
    pub avg_err_itl_ms: Option<f64>,
    /// `AnalysisResults.avgErrWeighted`: the optimiser's objective.
    pub avg_err_weighted: Option<f64>,
    /// The measured-vs-predicted table (text output only).
    pub rows: Vec<TrainerResultRow>,
}

/// Whether `head` holds a trainer result: it starts with the `OptimizedParms` object or with
/// one of the lines the trainer's demos print first, and has a line that starts with the
/// object (so a document quoting such output, like a Markdown page, is not taken for one).
pub(crate) fn looks_like(head: &str) -> bool {
    let first = head.trim_start().lines().next().unwrap_or("");
    let opens = [
        "{\"OptimizedParms\"",
        "Successfully read",
        "Optimization completed",
        "Name of data set:",
    ]
    .iter()
    .any(|p| first.starts_with(p));
    opens
        && head
            .lines()
            .any(|l| l.trim_start().starts_with("{\"OptimizedParms\""))
}

/// Reads a trainer result: the JSON `{"OptimizedParms": {"alpha", "beta", "gamma"},
/// "AnalysisResults": {"avgErrTTFT", "avgErrITL", "avgErrWeighted"}}`, alone or inside the
/// demos' text output, whose other lines (data set name, number of points, initial
/// parameters, objective, the measured-vs-predicted table) are read too.
///
/// # Examples
/// ```
/// let text = b"Name of data set: demo\nNumber of data points: 7\n\
/// {\"OptimizedParms\":{\"alpha\":10.1,\"beta\":0.037,\"gamma\":8e-10},\
/// \"AnalysisResults\":{\"avgErrTTFT\":7.9,\"avgErrITL\":1.3,\"avgErrWeighted\":0.06}}\n";
/// let r = perf_readers::read_trainer_result(text, "result.txt")?;
/// assert_eq!((r.alpha, r.points), (10.1, Some(7)));
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Field`] naming the line of a missing or bad `OptimizedParms` JSON, of a bad
/// table row, or of a bad value after `Number of data points:` / `Objective value:`.
pub fn read_trainer_result(bytes: &[u8], path: &str) -> Result<TrainerResult> {
    let text = text::decode(bytes, path)?;
    let bad = |line: usize, value: &str, message: &str| ReadError::Field {
        path: path.to_owned(),
        location: Location::Line { line, column: 0 },
        value: shorten(value),
        message: message.to_owned(),
    };
    let mut out: Option<TrainerResult> = None;
    let mut dataset = None;
    let mut points = None;
    let mut initial = None;
    let mut objective = None;
    let mut rows = Vec::new();
    let mut in_table = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if let Some(rest) = line.strip_prefix("Name of data set:") {
            dataset = Some(rest.trim().to_owned());
        } else if let Some(rest) = line.strip_prefix("Number of data points:") {
            points = Some(
                rest.trim()
                    .parse::<u64>()
                    .map_err(|_| bad(line_no, rest, "expected a whole number of points"))?,
            );
        } else if let Some(rest) = line.strip_prefix("Initial parameters:") {
            let cx = Cx {
                path,
                line: line_no,
            };
            let v = parse_json_lenient(rest.trim(), path)
                .map_err(|_| bad(line_no, rest, "expected {\"alpha\", \"beta\", \"gamma\"}"))?;
            let n = Node::root(&v);
            initial = Some([
                n.req_num(&["alpha"], &cx)?,
                n.req_num(&["beta"], &cx)?,
                n.req_num(&["gamma"], &cx)?,
            ]);
        } else if let Some((_, rest)) = line
            .starts_with("Optimization completed")
            .then(|| line.split_once("Objective value:"))
            .flatten()
        {
            objective = Some(
                crate::json::parse_number_text(rest)
                    .ok_or_else(|| bad(line_no, rest, "expected a number"))?,
            );
        } else if line.starts_with("rps") && line.contains("TTFTMeas") {
            in_table = true;
        } else if in_table {
            let cells: Vec<&str> = line.split_whitespace().collect();
            let nums: Vec<f64> = cells.iter().filter_map(|c| c.parse::<f64>().ok()).collect();
            if let [rps, i, o, tm, tp, im, ip] = nums[..]
                && cells.len() == 7
            {
                rows.push(TrainerResultRow {
                    rps,
                    in_tokens: i,
                    out_tokens: o,
                    ttft_measured_ms: tm,
                    ttft_predicted_ms: tp,
                    itl_measured_ms: im,
                    itl_predicted_ms: ip,
                });
            } else if cells.first().is_some_and(|c| c.parse::<f64>().is_ok()) {
                return Err(bad(line_no, line, "expected 7 numbers in a table row"));
            } else {
                in_table = false;
            }
        } else if line.starts_with("{\"OptimizedParms\"") {
            out = Some(optimization_result(line, line_no, path)?);
        }
    }
    let Some(mut result) = out else {
        return Err(ReadError::Field {
            path: path.to_owned(),
            location: Location::File,
            value: "nothing".to_owned(),
            message: "no line starts with {\"OptimizedParms\": …}: not a trainer result".to_owned(),
        });
    };
    result.dataset = dataset;
    result.points = points;
    result.initial = initial;
    result.objective = objective;
    result.rows = rows;
    Ok(result)
}

/// The `OptimizationResult` JSON on line `line`.
fn optimization_result(json: &str, line: usize, path: &str) -> Result<TrainerResult> {
    let v = parse_json_lenient(json, path).map_err(|e| match e {
        ReadError::Json {
            path,
            column,
            message,
            ..
        } => ReadError::Json {
            path,
            line,
            column,
            message,
        },
        other => other,
    })?;
    let cx = Cx { path, line };
    let root = Node::root(&v);
    let p = |k: &str| root.req_num(&["OptimizedParms", k], &cx);
    let e = |k: &str| root.opt_num(&["AnalysisResults", k], &cx);
    Ok(TrainerResult {
        alpha: p("alpha")?,
        beta: p("beta")?,
        gamma: p("gamma")?,
        avg_err_ttft_ms: e("avgErrTTFT")?,
        avg_err_itl_ms: e("avgErrITL")?,
        avg_err_weighted: e("avgErrWeighted")?,
        ..TrainerResult::default()
    })
}
