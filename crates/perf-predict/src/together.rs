//! Benchmark-level model (the "LLM Benchmark Modeling Tool", `ktenzer/together-benchmark-model`):
//! predict TTFT, per-user tokens/s, E2E and throughput of a deployed model for an
//! (input, output) token shape from earlier benchmark rows, with a confidence level.
//!
//! # Algorithm (specs/predict.md §2)
//! * Points: one per (benchmark, input_avg_len, output_avg_len, traffic_level) group, each
//!   metric averaged over the group; `throughput` = `summary_job_level_tps`.
//! * Method: **average** with one point or no variation (fewer than 2 distinct rounded inputs
//!   *and* fewer than 2 distinct rounded outputs); **linear** `a + b·in + c·out` (closed-form
//!   two-regressor OLS, simple regressions when `|D| ≤ 1e-10`) when asked, or when fewer than 3
//!   points; **polynomial** `[1, in, out, in², out², in·out]` when asked; **auto-detect** fits
//!   both on `ttft_mean` and keeps linear if `R̄²_poly − R̄²_lin < 0.1` or `R²_lin > 0.85`,
//!   where `R̄²` is the *adjusted* R² (see below).
//!   With a traffic level in the query, the linear and polynomial designs gain `qps`
//!   (`[1, in, out, qps]` and the full quadratic in the three).
//! * `e2e_mean` without a traffic level is mechanistic:
//!   `ttft_mean + 1000·out / user_tps_mean` ms.
//! * Every prediction is clamped at ≥ 0.
//! * Confidence from the nearest point in range-normalised (in, out) space (see
//!   [`Confidence`]).
//!
//! Differences from the seed, on purpose: the polynomial and 3-D fits use a real
//! (minimum-norm SVD) least-squares solver instead of 100 Gauss–Seidel sweeps, so their numbers
//! differ; p05/p80/p999 are fitted from the CSV (the seed's database drops them and reads 0).
//! Auto-detect compares **adjusted** R² (`1 − (1 − R²)·(n − 1)/(n − p − 1)`, p regressors)
//! where the seed compares plain R²: with an exact solver the 6-term quadratic always gains
//! in-sample R² (on the 24 real sample rows: 0.163 against 0.020 for linear, so the seed's rule
//! would switch to the quadratic, while its unconverged Gauss–Seidel reported 0.027), and with
//! 3–6 points it interpolates exactly (R² = 1). The seed's 0.1 and 0.85 thresholds are kept;
//! when the quadratic has no residual degrees of freedom, linear is kept.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{PredictError, Result};
use crate::linalg::lstsq_min_norm;

/// The statistics the CSV gives for each of TTFT, user TPS and E2E.
pub const STATS: [&str; 8] = ["mean", "stdev", "p05", "p50", "p80", "p95", "p99", "p999"];

/// All metric names predicted, in response order: `ttft_*`, `user_tps_*`, `e2e_*` (each with
/// [`STATS`]) and `throughput`.
#[must_use]
pub fn metric_names() -> Vec<String> {
    let mut v = Vec::with_capacity(25);
    for family in ["ttft", "user_tps", "e2e"] {
        for s in STATS {
            v.push(format!("{family}_{s}"));
        }
    }
    v.push("throughput".to_owned());
    v
}

/// One CSV row (one traffic level of one benchmark run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkRow {
    /// Which upload the row came from (the seed gives each CSV a uuid; we use the file name).
    pub benchmark_id: String,
    /// `provider_model`.
    pub model: String,
    /// `traffic_level` (target QPS), if given.
    pub traffic_level: Option<f64>,
    /// `input_avg_len`, tokens.
    pub input_avg_len: f64,
    /// `output_avg_len`, tokens.
    pub output_avg_len: f64,
    /// Metric values by name ([`metric_names`]); empty cells are absent.
    pub metrics: BTreeMap<String, f64>,
}

/// Reads a Together-style benchmark CSV (one header row; see specs/predict.md §2 for the
/// columns). `provider_model`, `input_avg_len` and `output_avg_len` are required; metric
/// columns may be missing or empty. `path` is the benchmark id and names the file in errors.
///
/// # Errors
/// [`PredictError::Csv`] for malformed CSV, [`PredictError::Format`] for a missing required
/// column or a cell that is not a finite number.
pub fn read_together_csv<R: Read>(reader: R, path: &Path) -> Result<Vec<BenchmarkRow>> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(reader);
    let csv_err = |source: csv::Error| PredictError::Csv {
        path: path.to_owned(),
        line: source.position().map_or(0, csv::Position::line),
        source,
    };
    let headers = rdr.headers().map_err(csv_err)?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let required = |name: &'static str| {
        col(name).ok_or_else(|| PredictError::Format {
            path: path.to_owned(),
            message: format!("missing column `{name}`"),
        })
    };
    let c_model = required("provider_model")?;
    let c_in = required("input_avg_len")?;
    let c_out = required("output_avg_len")?;
    let c_level = col("traffic_level");
    let metric_cols: Vec<(String, usize)> = metric_names()
        .into_iter()
        .filter_map(|m| {
            let src = if m == "throughput" {
                "summary_job_level_tps"
            } else {
                m.as_str()
            };
            col(src).map(|c| (m.clone(), c))
        })
        .collect();
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(csv_err)?;
        let line = rec.position().map_or(0, csv::Position::line);
        let num = |c: usize, name: &str| -> Result<Option<f64>> {
            let cell = rec.get(c).unwrap_or("");
            if cell.is_empty() {
                return Ok(None);
            }
            match cell.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v)),
                _ => Err(PredictError::Format {
                    path: path.to_owned(),
                    message: format!(
                        "line {line}: column `{name}`: `{cell}` is not a finite number"
                    ),
                }),
            }
        };
        let need = |c: usize, name: &str| -> Result<f64> {
            num(c, name)?.ok_or_else(|| PredictError::Format {
                path: path.to_owned(),
                message: format!("line {line}: column `{name}` is empty"),
            })
        };
        let mut metrics = BTreeMap::new();
        for (name, c) in &metric_cols {
            if let Some(v) = num(*c, name)? {
                metrics.insert(name.clone(), v);
            }
        }
        rows.push(BenchmarkRow {
            benchmark_id: path.display().to_string(),
            model: rec.get(c_model).unwrap_or("").to_owned(),
            traffic_level: match c_level {
                Some(c) => num(c, "traffic_level")?,
                None => None,
            },
            input_avg_len: need(c_in, "input_avg_len")?,
            output_avg_len: need(c_out, "output_avg_len")?,
            metrics,
        });
    }
    Ok(rows)
}

/// How the prediction is computed ([module docs](self)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Linear unless the quadratic fits `ttft_mean` clearly better.
    #[default]
    AutoDetect,
    /// Quadratic in (in, out) (and qps).
    Polynomial,
    /// `a + b·in + c·out` (+ `d·qps`).
    Linear,
    /// Mean of every metric.
    Average,
}

impl Method {
    /// The seed's spelling: `auto_detect`, `polynomial`, `linear`, `average`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Method::AutoDetect => "auto_detect",
            Method::Polynomial => "polynomial",
            Method::Linear => "linear",
            Method::Average => "average",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = PredictError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto_detect" | "auto" => Ok(Method::AutoDetect),
            "polynomial" => Ok(Method::Polynomial),
            "linear" => Ok(Method::Linear),
            "average" => Ok(Method::Average),
            _ => Err(PredictError::UnknownName {
                kind: "method",
                name: s.to_owned(),
                known: ["auto_detect", "polynomial", "linear", "average"]
                    .map(str::to_owned)
                    .to_vec(),
            }),
        }
    }
}

/// Confidence of a prediction.
///
/// With `d` = distance from the query to the nearest point, each coordinate divided by its
/// range over the points (a coordinate with zero range contributes 0), and *extrapolating* =
/// input or output outside its [min, max]:
/// **high** if `d < 0.1` and not extrapolating; **medium** if `d < 0.3` or not
/// extrapolating; else **low**. Average, and polynomial asked for with fewer than 3 points,
/// are always low.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Far from the data or extrapolating.
    Low,
    /// Inside the data's range but not close to a point, or just outside.
    Medium,
    /// Close to a measured point.
    High,
}

/// One question: predict the metrics for this token shape.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EstimateQuery {
    /// Prompt tokens per request (> 0).
    pub input_tokens: f64,
    /// Output tokens per request (> 0).
    pub output_tokens: f64,
    /// Target QPS; when given, the fits include it as a third variable.
    #[serde(default)]
    pub traffic_level: Option<f64>,
    /// The method asked for.
    #[serde(default)]
    pub method: Method,
}

impl EstimateQuery {
    /// Auto-detect, no traffic level.
    #[must_use]
    pub fn new(input_tokens: f64, output_tokens: f64) -> Self {
        Self {
            input_tokens,
            output_tokens,
            traffic_level: None,
            method: Method::AutoDetect,
        }
    }
}

/// The answer, in the shape of the seed's `/modeling/predict` response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The model.
    pub model: String,
    /// Query input tokens.
    pub input_tokens: f64,
    /// Query output tokens.
    pub output_tokens: f64,
    /// Predicted metrics (ms, tok/s), each ≥ 0; a metric absent from all points is absent.
    pub predictions: BTreeMap<String, f64>,
    /// Confidence level.
    pub confidence: Confidence,
    /// Data points (groups of rows) used.
    pub num_benchmarks_used: usize,
    /// The method actually used (auto-detect resolves to linear or polynomial).
    pub interpolation_method: Method,
    /// Distance to the nearest point (range-normalised), as used by the confidence rule.
    pub nearest_distance: f64,
    /// What the estimate could not do as asked, one sentence each: a method the data cannot
    /// support or whose answer is not physical (and what was used instead), a query outside
    /// the measured range. Absent from the JSON when empty (the seed's response shape).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The first prediction that cannot be a measurement of this server: a value ≤ 0 (or not
/// finite) where every measured point is > 0, or a 5th percentile above the mean where every
/// measured point has it below.
fn non_physical(predictions: &BTreeMap<String, f64>, pts: &[Point]) -> Option<String> {
    for (k, v) in predictions {
        if k.ends_with("_stdev") || (v.is_finite() && *v > 0.0) {
            continue;
        }
        if pts
            .iter()
            .filter_map(|p| p.metrics.get(k))
            .all(|m| *m > 0.0)
        {
            return Some(format!("{k} = {v}"));
        }
    }
    for family in ["ttft", "user_tps", "e2e"] {
        let (kp, km) = (format!("{family}_p05"), format!("{family}_mean"));
        let (Some(&p05), Some(&mean)) = (predictions.get(&kp), predictions.get(&km)) else {
            continue;
        };
        let data_ordered = pts
            .iter()
            .all(|p| match (p.metrics.get(&kp), p.metrics.get(&km)) {
                (Some(a), Some(b)) => a <= b,
                _ => true,
            });
        if p05 > mean && data_ordered {
            return Some(format!("{kp} = {p05} above {km} = {mean}"));
        }
    }
    None
}

/// `y = a + b·x1 + c·x2`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Linear2 {
    /// Intercept.
    pub a: f64,
    /// Coefficient of x1 (input tokens).
    pub b: f64,
    /// Coefficient of x2 (output tokens).
    pub c: f64,
}

impl Linear2 {
    /// The seed's closed-form two-regressor least squares on centred sums; if the
    /// determinant `|D| ≤ 1e-10`, each slope comes from its own simple regression. Inputs of
    /// different lengths are truncated to the shortest; an empty input gives zeros.
    #[must_use]
    pub fn fit(x1: &[f64], x2: &[f64], y: &[f64]) -> Self {
        let n = x1.len().min(x2.len()).min(y.len());
        if n == 0 {
            return Self {
                a: 0.0,
                b: 0.0,
                c: 0.0,
            };
        }
        let nf = n as f64;
        let m1 = x1[..n].iter().sum::<f64>() / nf;
        let m2 = x2[..n].iter().sum::<f64>() / nf;
        let my = y[..n].iter().sum::<f64>() / nf;
        let (mut s11, mut s22, mut s12, mut s1y, mut s2y) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in 0..n {
            let (d1, d2, dy) = (x1[i] - m1, x2[i] - m2, y[i] - my);
            s11 += d1 * d1;
            s22 += d2 * d2;
            s12 += d1 * d2;
            s1y += d1 * dy;
            s2y += d2 * dy;
        }
        let d = s11 * s22 - s12 * s12;
        let (b, c) = if d.abs() > 1e-10 {
            ((s1y * s22 - s2y * s12) / d, (s2y * s11 - s1y * s12) / d)
        } else {
            (
                if s11 > 0.0 { s1y / s11 } else { 0.0 },
                if s22 > 0.0 { s2y / s22 } else { 0.0 },
            )
        };
        Self {
            a: my - b * m1 - c * m2,
            b,
            c,
        }
    }

    /// `a + b·x1 + c·x2`.
    #[must_use]
    pub fn eval(&self, x1: f64, x2: f64) -> f64 {
        self.a + self.b * x1 + self.c * x2
    }
}

/// `R² = max(0, 1 − SS_res/SS_tot)`, and 0 when `SS_tot = 0`.
#[must_use]
pub fn r_squared(y: &[f64], fitted: &[f64]) -> f64 {
    if y.is_empty() {
        return 0.0;
    }
    let my = y.iter().sum::<f64>() / y.len() as f64;
    let ss_tot: f64 = y.iter().map(|v| (v - my) * (v - my)).sum();
    if ss_tot <= 0.0 {
        return 0.0;
    }
    let ss_res: f64 = y.iter().zip(fitted).map(|(v, f)| (v - f) * (v - f)).sum();
    (1.0 - ss_res / ss_tot).max(0.0)
}

/// One averaged data point.
#[derive(Clone, Debug, PartialEq)]
struct Point {
    x1: f64,
    x2: f64,
    x3: f64,
    metrics: BTreeMap<String, f64>,
}

fn group_points(rows: &[&BenchmarkRow]) -> Vec<Point> {
    // Key on exact bit patterns, first-seen order.
    let mut order: Vec<(String, u64, u64, Option<u64>)> = Vec::new();
    let mut groups: BTreeMap<(String, u64, u64, Option<u64>), Vec<&BenchmarkRow>> = BTreeMap::new();
    for r in rows {
        let key = (
            r.benchmark_id.clone(),
            r.input_avg_len.to_bits(),
            r.output_avg_len.to_bits(),
            r.traffic_level.map(f64::to_bits),
        );
        let e = groups.entry(key.clone()).or_default();
        if e.is_empty() {
            order.push(key);
        }
        e.push(r);
    }
    order
        .iter()
        .filter_map(|k| groups.get(k))
        .map(|g| {
            let first = g[0];
            let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
            for r in g {
                for (k, v) in &r.metrics {
                    let e = sums.entry(k.clone()).or_insert((0.0, 0));
                    e.0 += v;
                    e.1 += 1;
                }
            }
            Point {
                x1: first.input_avg_len,
                x2: first.output_avg_len,
                x3: first.traffic_level.unwrap_or(0.5),
                metrics: sums
                    .into_iter()
                    .map(|(k, (s, c))| (k, s / c as f64))
                    .collect(),
            }
        })
        .collect()
}

/// Design row of a fit.
fn design(poly: bool, with_qps: bool, x1: f64, x2: f64, x3: f64) -> Vec<f64> {
    match (poly, with_qps) {
        (false, false) => vec![1.0, x1, x2],
        (true, false) => vec![1.0, x1, x2, x1 * x1, x2 * x2, x1 * x2],
        (false, true) => vec![1.0, x1, x2, x3],
        (true, true) => vec![
            1.0,
            x1,
            x2,
            x3,
            x1 * x1,
            x2 * x2,
            x3 * x3,
            x1 * x2,
            x1 * x3,
            x2 * x3,
        ],
    }
}

/// A fitted regression of one metric.
enum Fit {
    Lin2(Linear2),
    Design { poly: bool, coef: Vec<f64> },
}

impl Fit {
    fn new(poly: bool, with_qps: bool, pts: &[(f64, f64, f64, f64)]) -> Self {
        if !poly && !with_qps {
            let x1: Vec<f64> = pts.iter().map(|p| p.0).collect();
            let x2: Vec<f64> = pts.iter().map(|p| p.1).collect();
            let y: Vec<f64> = pts.iter().map(|p| p.3).collect();
            return Fit::Lin2(Linear2::fit(&x1, &x2, &y));
        }
        // Columns are scaled to unit max-abs before the solve (conditioning); the scale is
        // undone on the coefficients.
        let rows: Vec<Vec<f64>> = pts
            .iter()
            .map(|p| design(poly, with_qps, p.0, p.1, p.2))
            .collect();
        let y: Vec<f64> = pts.iter().map(|p| p.3).collect();
        let p = rows.first().map_or(0, Vec::len);
        let scale: Vec<f64> = (0..p)
            .map(|j| {
                let m = rows.iter().map(|r| r[j].abs()).fold(0.0, f64::max);
                if m > 0.0 { m } else { 1.0 }
            })
            .collect();
        let scaled: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| r.iter().zip(&scale).map(|(v, s)| v / s).collect())
            .collect();
        let sol = lstsq_min_norm(&scaled, &y, None);
        let coef = sol.x.iter().zip(&scale).map(|(c, s)| c / s).collect();
        Fit::Design { poly, coef }
    }

    fn eval(&self, with_qps: bool, x1: f64, x2: f64, x3: f64) -> f64 {
        match self {
            Fit::Lin2(l) => l.eval(x1, x2),
            Fit::Design { poly, coef } => design(*poly, with_qps, x1, x2, x3)
                .iter()
                .zip(coef)
                .map(|(a, b)| a * b)
                .sum(),
        }
    }
}

/// Clamps a prediction at 0 (as the seed does); NaN stays NaN so that [`BenchmarkStore::estimate`]
/// reports it instead of passing it off as 0.
fn clamp0(v: f64) -> f64 {
    if v.is_nan() { v } else { v.max(0.0) }
}

/// In-memory store of benchmark rows keyed by model (the seed keeps them in SQLite).
///
/// # Examples
/// ```
/// use perf_predict::together::{BenchmarkStore, Confidence, EstimateQuery, Method};
/// let csv = "provider_model,traffic_level,input_avg_len,output_avg_len,ttft_mean,user_tps_mean,summary_job_level_tps\n\
///            m,0.1,500,100,200,50,900\nm,0.2,1000,200,300,45,950\nm,0.3,2000,100,420,40,1000\nm,0.4,1500,400,390,42,980\n";
/// let mut store = BenchmarkStore::new();
/// store.add_csv(csv.as_bytes(), "a.csv".as_ref())?;
/// let e = store.estimate("m", &EstimateQuery::new(1000.0, 200.0))?;
/// assert_eq!(e.interpolation_method, Method::Linear);
/// assert_eq!(e.confidence, Confidence::High);
/// // Mechanistic E2E: TTFT + 1000·out / TPS.
/// let p = &e.predictions;
/// assert!((p["e2e_mean"] - (p["ttft_mean"] + 1000.0 * 200.0 / p["user_tps_mean"])).abs() < 1e-9);
/// # Ok::<(), perf_predict::PredictError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkStore {
    rows: BTreeMap<String, Vec<BenchmarkRow>>,
}

impl BenchmarkStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds rows (each under its own model).
    pub fn add_rows(&mut self, rows: impl IntoIterator<Item = BenchmarkRow>) {
        for r in rows {
            self.rows.entry(r.model.clone()).or_default().push(r);
        }
    }

    /// Parses a CSV ([`read_together_csv`]) and adds its rows; returns how many.
    ///
    /// # Errors
    /// As [`read_together_csv`].
    pub fn add_csv<R: Read>(&mut self, reader: R, path: &Path) -> Result<usize> {
        let rows = read_together_csv(reader, path)?;
        let n = rows.len();
        self.add_rows(rows);
        Ok(n)
    }

    /// Reads a CSV file and adds its rows; returns how many.
    ///
    /// # Errors
    /// [`PredictError::Io`], then as [`read_together_csv`].
    pub fn add_csv_file(&mut self, path: &Path) -> Result<usize> {
        let f = std::fs::File::open(path).map_err(|source| PredictError::Io {
            path: path.to_owned(),
            source,
        })?;
        self.add_csv(std::io::BufReader::new(f), path)
    }

    /// Models with at least one row.
    #[must_use]
    pub fn models(&self) -> Vec<&str> {
        self.rows.keys().map(String::as_str).collect()
    }

    /// Rows of `model`.
    ///
    /// # Errors
    /// [`PredictError::UnknownName`] if the model has no rows.
    pub fn rows(&self, model: &str) -> Result<&[BenchmarkRow]> {
        self.rows
            .get(model)
            .map(Vec::as_slice)
            .ok_or_else(|| PredictError::UnknownName {
                kind: "model",
                name: model.to_owned(),
                known: self.rows.keys().cloned().collect(),
            })
    }

    /// The linear fit `a + b·in + c·out` of `metric` for `model` (over the averaged points).
    ///
    /// # Errors
    /// [`PredictError::UnknownName`] for an unknown model, [`PredictError::TooFewRows`] if no
    /// point has the metric.
    pub fn linear_fit(&self, model: &str, metric: &str) -> Result<Linear2> {
        let refs: Vec<&BenchmarkRow> = self.rows(model)?.iter().collect();
        let pts = group_points(&refs);
        let sel: Vec<(f64, f64, f64)> = pts
            .iter()
            .filter_map(|p| p.metrics.get(metric).map(|v| (p.x1, p.x2, *v)))
            .collect();
        if sel.is_empty() {
            return Err(PredictError::TooFewRows { needed: 1, got: 0 });
        }
        let x1: Vec<f64> = sel.iter().map(|p| p.0).collect();
        let x2: Vec<f64> = sel.iter().map(|p| p.1).collect();
        let y: Vec<f64> = sel.iter().map(|p| p.2).collect();
        Ok(Linear2::fit(&x1, &x2, &y))
    }

    /// R² (plain and adjusted) of the linear and polynomial fits of `ttft_mean` for `model`,
    /// as auto-detect computes them (without traffic level).
    ///
    /// # Errors
    /// As [`BenchmarkStore::rows`].
    pub fn ttft_r_squared(&self, model: &str) -> Result<FitQuality> {
        let refs: Vec<&BenchmarkRow> = self.rows(model)?.iter().collect();
        let pts = group_points(&refs);
        Ok(r2_pair(&pts, false))
    }

    /// Predicts every metric for `query` from `model`'s rows ([module docs](self)).
    ///
    /// # Errors
    /// [`PredictError::InvalidParam`] if the token counts are not finite and > 0 (or the
    /// traffic level not finite), [`PredictError::UnknownName`] for an unknown model.
    pub fn estimate(&self, model: &str, query: &EstimateQuery) -> Result<Estimate> {
        for (name, v) in [
            ("input_tokens", query.input_tokens),
            ("output_tokens", query.output_tokens),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(PredictError::InvalidParam {
                    name,
                    value: v.to_string(),
                    reason: "must be a finite number > 0",
                });
            }
        }
        if let Some(t) = query.traffic_level
            && !t.is_finite()
        {
            return Err(PredictError::InvalidParam {
                name: "traffic_level",
                value: t.to_string(),
                reason: "must be finite",
            });
        }
        let refs: Vec<&BenchmarkRow> = self.rows(model)?.iter().collect();
        let pts = group_points(&refs);
        let n = pts.len();
        let distinct = |f: fn(&Point) -> f64| {
            pts.iter()
                .map(|p| f(p).round() as i64)
                .collect::<BTreeSet<_>>()
                .len()
        };
        let no_variation = distinct(|p| p.x1) < 2 && distinct(|p| p.x2) < 2;
        let with_qps = query.traffic_level.is_some();
        let method = if n <= 1 || no_variation || query.method == Method::Average {
            Method::Average
        } else if n < 3 {
            Method::Linear
        } else {
            match query.method {
                Method::AutoDetect => {
                    let r = r2_pair(&pts, with_qps);
                    tracing::debug!(?r, "auto-detect R²");
                    let gain = r.polynomial_adjusted - r.linear_adjusted;
                    if gain.is_nan() || gain < 0.1 || r.linear > 0.85 {
                        Method::Linear
                    } else {
                        Method::Polynomial
                    }
                }
                m => m,
            }
        };
        let (q1, q2) = (query.input_tokens, query.output_tokens);
        let q3 = query.traffic_level.unwrap_or(0.5);
        let mut notes = Vec::new();
        // Never a method the data cannot support: a fit needs more points than coefficients.
        let mut method = method;
        let coefficients = |poly: bool| design(poly, with_qps, 0.0, 0.0, 0.0).len();
        if method == Method::Polynomial && n <= coefficients(true) {
            notes.push(format!(
                "polynomial needs more than {} data points, this model has {n}: linear used",
                coefficients(true)
            ));
            method = Method::Linear;
        }
        if method == Method::Linear && n <= coefficients(false) {
            notes.push(format!(
                "linear needs more than {} data points, this model has {n}: average used",
                coefficients(false)
            ));
            method = Method::Average;
        }
        let predict = |method: Method| {
            let mut predictions = BTreeMap::new();
            for name in metric_names() {
                let sel: Vec<(f64, f64, f64, f64)> = pts
                    .iter()
                    .filter_map(|p| p.metrics.get(&name).map(|v| (p.x1, p.x2, p.x3, *v)))
                    .collect();
                if sel.is_empty() {
                    continue;
                }
                let v = if method == Method::Average {
                    sel.iter().map(|p| p.3).sum::<f64>() / sel.len() as f64
                } else {
                    Fit::new(method == Method::Polynomial, with_qps, &sel)
                        .eval(with_qps, q1, q2, q3)
                };
                predictions.insert(name, clamp0(v));
            }
            if method != Method::Average
                && !with_qps
                && let Some(&ttft) = predictions.get("ttft_mean")
            {
                let tps = predictions.get("user_tps_mean").copied().unwrap_or(0.0);
                let gen_ms = if tps > 0.0 && tps.is_finite() {
                    1000.0 * q2 / tps
                } else {
                    q2 * 10.0 * 1000.0
                };
                let mut e2e = ttft + gen_ms;
                if !e2e.is_finite() {
                    e2e = ttft + 10.0 * q2;
                }
                predictions.insert("e2e_mean".to_owned(), clamp0(e2e));
            }
            predictions
        };
        // Never a non-physical answer: fall back to a simpler method and say so.
        let mut predictions = predict(method);
        while let Some(why) = non_physical(&predictions, &pts) {
            let simpler = match method {
                Method::Polynomial => Method::Linear,
                Method::Linear | Method::AutoDetect => Method::Average,
                Method::Average => break,
            };
            notes.push(format!(
                "{} gives {why}, which no server measures: {} used",
                method.as_str(),
                simpler.as_str()
            ));
            method = simpler;
            predictions = predict(method);
        }
        {
            let range = |f: fn(&Point) -> f64| {
                pts.iter()
                    .map(f)
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                        (lo.min(v), hi.max(v))
                    })
            };
            for (what, q, (lo, hi)) in [
                ("input tokens", q1, range(|p| p.x1)),
                ("output tokens", q2, range(|p| p.x2)),
            ] {
                if q < lo || q > hi {
                    notes.push(format!(
                        "{what} {q} are outside the measured {lo}–{hi}: the estimate extrapolates"
                    ));
                }
            }
        }
        let (d, extrapolating) = nearest(&pts, q1, q2);
        let mut confidence = if d < 0.1 && !extrapolating {
            Confidence::High
        } else if d < 0.3 || !extrapolating {
            Confidence::Medium
        } else {
            Confidence::Low
        };
        if method == Method::Average || (query.method == Method::Polynomial && n < 3) {
            confidence = Confidence::Low;
        }
        // A traffic level outside the measured ones is an extrapolation too (the seed's rule
        // looks at the token shape only).
        if let Some(t) = query.traffic_level {
            let (lo, hi) = pts
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                    (lo.min(p.x3), hi.max(p.x3))
                });
            if t < lo || t > hi {
                confidence = Confidence::Low;
            }
        }
        if let Some((metric, value)) = predictions.iter().find(|(_, v)| !v.is_finite()) {
            return Err(PredictError::Degenerate(format!(
                "the fit gives {metric} = {value} at input {q1}, output {q2}: the query is out of the range this data can answer"
            )));
        }
        Ok(Estimate {
            model: model.to_owned(),
            input_tokens: q1,
            output_tokens: q2,
            predictions,
            confidence,
            num_benchmarks_used: n,
            interpolation_method: method,
            nearest_distance: d,
            notes,
        })
    }
}

fn r2_pair(pts: &[Point], with_qps: bool) -> FitQuality {
    let sel: Vec<(f64, f64, f64, f64)> = pts
        .iter()
        .filter_map(|p| p.metrics.get("ttft_mean").map(|v| (p.x1, p.x2, p.x3, *v)))
        .collect();
    let y: Vec<f64> = sel.iter().map(|p| p.3).collect();
    let r2 = |poly: bool| {
        let fit = Fit::new(poly, with_qps, &sel);
        let f: Vec<f64> = sel
            .iter()
            .map(|p| fit.eval(with_qps, p.0, p.1, p.2))
            .collect();
        r_squared(&y, &f)
    };
    let (lin, poly) = (r2(false), r2(true));
    let regressors = |poly: bool| design(poly, with_qps, 0.0, 0.0, 0.0).len() - 1;
    FitQuality {
        points: y.len(),
        linear: lin,
        polynomial: poly,
        linear_adjusted: adjusted_r_squared(lin, y.len(), regressors(false)),
        polynomial_adjusted: adjusted_r_squared(poly, y.len(), regressors(true)),
    }
}

/// Adjusted R² with `n` points and `p` regressors (intercept not counted):
/// `1 − (1 − R²)·(n − 1)/(n − p − 1)`; `−∞` when `n ≤ p + 1` (no residual degrees of freedom).
///
/// # Examples
/// ```
/// use perf_predict::together::adjusted_r_squared;
/// assert!((adjusted_r_squared(0.5, 11, 2) - (1.0 - 0.5 * 10.0 / 8.0)).abs() < 1e-12);
/// assert_eq!(adjusted_r_squared(1.0, 6, 5), f64::NEG_INFINITY);
/// ```
#[must_use]
pub fn adjusted_r_squared(r2: f64, n: usize, p: usize) -> f64 {
    if n <= p + 1 {
        return f64::NEG_INFINITY;
    }
    1.0 - (1.0 - r2) * (n as f64 - 1.0) / ((n - p - 1) as f64)
}

/// In-sample quality of the linear and polynomial fits of `ttft_mean` (what auto-detect
/// compares).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitQuality {
    /// Points with a `ttft_mean`.
    pub points: usize,
    /// R² of the linear fit.
    pub linear: f64,
    /// R² of the polynomial fit.
    pub polynomial: f64,
    /// Adjusted R² of the linear fit.
    pub linear_adjusted: f64,
    /// Adjusted R² of the polynomial fit.
    pub polynomial_adjusted: f64,
}

/// Range-normalised distance to the nearest point, and whether (x1, x2) is outside the
/// data's box.
fn nearest(pts: &[Point], x1: f64, x2: f64) -> (f64, bool) {
    let (mut lo1, mut hi1, mut lo2, mut hi2) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for p in pts {
        lo1 = lo1.min(p.x1);
        hi1 = hi1.max(p.x1);
        lo2 = lo2.min(p.x2);
        hi2 = hi2.max(p.x2);
    }
    let (r1, r2) = (hi1 - lo1, hi2 - lo2);
    let term = |d: f64, r: f64| if r > 0.0 { d.abs() / r } else { 0.0 };
    let d = pts
        .iter()
        .map(|p| term(p.x1 - x1, r1).hypot(term(p.x2 - x2, r2)))
        .fold(f64::INFINITY, f64::min);
    let extrapolating = x1 < lo1 || x1 > hi1 || x2 < lo2 || x2 > hi2;
    (d, extrapolating)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// Hand-written fixture (samples/predict/together-fixture.csv): 8 rows, full 51-column
    /// header, CRLF; ttft_mean = 300 + 0.02·in − 0.01·out, user_tps_mean = 60 − 0.002·in,
    /// throughput = 100 + 0.01·in + 0.05·out, exactly.
    const FIXTURE: &str = include_str!("../../../samples/predict/together-fixture.csv");
    const M: &str = "fixture/model-a";

    fn store() -> BenchmarkStore {
        let mut s = BenchmarkStore::new();
        assert_eq!(
            s.add_csv(FIXTURE.as_bytes(), Path::new("fixture.csv"))
                .unwrap(),
            8
        );
        s
    }

    #[test]
    fn reads_fixture() {
        let rows = read_together_csv(FIXTURE.as_bytes(), Path::new("f.csv")).unwrap();
        assert_eq!(rows.len(), 8);
        assert_eq!(rows[0].model, M);
        assert_eq!(rows[0].metrics.len(), 25);
        assert_relative_eq!(rows[3].traffic_level.unwrap(), 0.4);
        assert_relative_eq!(
            rows[3].metrics["throughput"],
            100.0 + 10.0 + 40.0,
            max_relative = 1e-12
        );
    }

    #[test]
    fn linear_recovers_exact_coefficients_and_auto_picks_linear() {
        let s = store();

        let f = s.linear_fit(M, "ttft_mean").unwrap();
        assert_relative_eq!(f.a, 300.0, max_relative = 1e-10);
        assert_relative_eq!(f.b, 0.02, max_relative = 1e-10);
        assert_relative_eq!(f.c, -0.01, max_relative = 1e-9);
        let q = s.ttft_r_squared(M).unwrap();
        assert_relative_eq!(q.linear, 1.0, max_relative = 1e-12);
        let e = s.estimate(M, &EstimateQuery::new(1000.0, 200.0)).unwrap();
        assert_eq!(e.interpolation_method, Method::Linear);
        assert_eq!(e.num_benchmarks_used, 8);
        assert_relative_eq!(e.predictions["ttft_mean"], 318.0, max_relative = 1e-10);
        assert_relative_eq!(e.predictions["throughput"], 120.0, max_relative = 1e-10);
        // Mechanistic E2E = 318 + 1000·200/58.
        assert_relative_eq!(
            e.predictions["e2e_mean"],
            318.0 + 200_000.0 / 58.0,
            max_relative = 1e-10
        );
        assert_eq!(e.predictions.len(), 25);
    }

    /// R1 = 3500, R2 = 700. (3000, 500): nearest (2000, 400) at √((1000/3500)² + (100/700)²)
    /// = 0.3194 inside the box → medium; (4200, 800): 200/3500 = 0.0571 but outside → medium;
    /// (10000, 100): 6000/3500 > 0.3 and outside → low; a measured point → high.
    #[test]
    fn confidence_rule_by_hand() {
        let s = store();
        let c = |i: f64, o: f64| s.estimate(M, &EstimateQuery::new(i, o)).unwrap();
        let e = c(1000.0, 200.0);
        assert_eq!(e.confidence, Confidence::High);
        assert!(e.nearest_distance.abs() < 1e-15);
        let e = c(3000.0, 500.0);
        assert_eq!(e.confidence, Confidence::Medium);
        assert_relative_eq!(
            e.nearest_distance,
            ((1.0f64 / 3.5).powi(2) + (1.0f64 / 7.0).powi(2)).sqrt(),
            max_relative = 1e-12
        );
        let e = c(4200.0, 800.0);
        assert_eq!(e.confidence, Confidence::Medium);
        assert_relative_eq!(e.nearest_distance, 200.0 / 3500.0, max_relative = 1e-12);
        assert_eq!(c(10_000.0, 100.0).confidence, Confidence::Low);
    }

    #[test]
    fn a_non_physical_answer_falls_back_and_says_so() {
        let s = store();
        // Linear: user_tps_mean = 60 − 0.002·40000 = −20 tok/s, where every measured point is
        // positive: not an answer. The average of the points is used instead, and said.
        let e = s.estimate(M, &EstimateQuery::new(40_000.0, 100.0)).unwrap();
        assert_eq!(e.interpolation_method, Method::Average);
        assert_eq!(
            e.notes,
            [
                "linear gives user_tps_mean = 0, which no server measures: average used",
                "input tokens 40000 are outside the measured 500–4000: the estimate extrapolates",
            ]
        );
        let average = |k: &str| {
            let rows = s.rows(M).unwrap();
            rows.iter().map(|r| r.metrics[k]).sum::<f64>() / rows.len() as f64
        };
        assert_relative_eq!(
            e.predictions["user_tps_mean"],
            average("user_tps_mean"),
            max_relative = 1e-12
        );
        assert!(e.predictions.values().all(|v| *v > 0.0 && v.is_finite()));
        assert_eq!(e.confidence, Confidence::Low);
        // Inside the measured range nothing is said.
        assert!(
            s.estimate(M, &EstimateQuery::new(1000.0, 200.0))
                .unwrap()
                .notes
                .is_empty()
        );
    }

    #[test]
    fn a_method_the_data_cannot_support_is_not_used() {
        let mut rows = read_together_csv(FIXTURE.as_bytes(), Path::new("f.csv")).unwrap();
        rows.truncate(4);
        let mut s = BenchmarkStore::new();
        s.add_rows(rows);
        // 4 points: a 6-coefficient polynomial is underdetermined, linear (3) is not.
        let e = s
            .estimate(
                M,
                &EstimateQuery {
                    method: Method::Polynomial,
                    ..EstimateQuery::new(1000.0, 200.0)
                },
            )
            .unwrap();
        assert_eq!(e.interpolation_method, Method::Linear);
        assert_eq!(
            e.notes,
            ["polynomial needs more than 6 data points, this model has 4: linear used"]
        );
    }

    #[test]
    fn average_fallback() {
        let mut rows = read_together_csv(FIXTURE.as_bytes(), Path::new("f.csv")).unwrap();
        rows.truncate(1);
        let mut s = BenchmarkStore::new();
        s.add_rows(rows.clone());
        let e = s.estimate(M, &EstimateQuery::new(5000.0, 50.0)).unwrap();
        assert_eq!(e.interpolation_method, Method::Average);
        assert_eq!(e.confidence, Confidence::Low);
        assert_relative_eq!(
            e.predictions["ttft_mean"],
            300.0 + 10.0 - 1.0,
            max_relative = 1e-12
        );
        // No variation: two rows, same shape, different QPS → average of both.
        let mut r2 = rows[0].clone();
        r2.traffic_level = Some(0.9);
        r2.metrics.insert("ttft_mean".into(), 409.0);
        s.add_rows([r2]);
        let e = s.estimate(M, &EstimateQuery::new(500.0, 100.0)).unwrap();
        assert_eq!(e.interpolation_method, Method::Average);
        assert_relative_eq!(e.predictions["ttft_mean"], 359.0, max_relative = 1e-12);
        // Explicit average.
        let q = EstimateQuery {
            method: Method::Average,
            ..EstimateQuery::new(1000.0, 200.0)
        };
        assert_eq!(store().estimate(M, &q).unwrap().confidence, Confidence::Low);
    }

    fn synthetic(f: impl Fn(f64, f64, f64) -> f64) -> BenchmarkStore {
        let mut rows = Vec::new();
        for (k, (i, o)) in [
            (100.0, 50.0),
            (400.0, 50.0),
            (900.0, 300.0),
            (1600.0, 100.0),
            (2500.0, 700.0),
            (3600.0, 200.0),
            (300.0, 900.0),
            (2000.0, 1200.0),
        ]
        .into_iter()
        .enumerate()
        {
            let qps = 0.1 * (k % 4 + 1) as f64;
            rows.push(BenchmarkRow {
                benchmark_id: format!("b{}", k / 4),
                model: "syn".into(),
                traffic_level: Some(qps),
                input_avg_len: i,
                output_avg_len: o,
                metrics: [
                    ("ttft_mean".to_owned(), f(i, o, qps)),
                    ("user_tps_mean".to_owned(), 50.0),
                ]
                .into(),
            });
        }
        let mut s = BenchmarkStore::new();
        s.add_rows(rows);
        s
    }

    #[test]
    fn polynomial_recovers_a_quadratic_and_auto_detects_it() {
        let f = |i: f64, o: f64, _q: f64| 50.0 + 0.1 * i + 2e-4 * i * i - 0.05 * o + 1e-5 * i * o;
        let s = synthetic(f);
        let q = s.ttft_r_squared("syn").unwrap();
        assert_relative_eq!(q.polynomial, 1.0, max_relative = 1e-9);
        let e = s
            .estimate("syn", &EstimateQuery::new(1200.0, 400.0))
            .unwrap();
        let expect = if q.polynomial_adjusted - q.linear_adjusted < 0.1 || q.linear > 0.85 {
            Method::Linear
        } else {
            Method::Polynomial
        };
        assert_eq!(e.interpolation_method, expect);
        let e = s
            .estimate(
                "syn",
                &EstimateQuery {
                    method: Method::Polynomial,
                    ..EstimateQuery::new(1200.0, 400.0)
                },
            )
            .unwrap();
        assert_eq!(e.interpolation_method, Method::Polynomial);
        assert_relative_eq!(
            e.predictions["ttft_mean"],
            f(1200.0, 400.0, 0.0),
            max_relative = 1e-8
        );
    }

    #[test]
    fn traffic_level_enters_the_fit() {
        let f = |i: f64, o: f64, q: f64| 100.0 + 0.05 * i + 0.02 * o + 400.0 * q;
        let s = synthetic(f);
        let q = EstimateQuery {
            traffic_level: Some(0.25),
            method: Method::Linear,
            ..EstimateQuery::new(1000.0, 300.0)
        };
        let e = s.estimate("syn", &q).unwrap();
        assert_relative_eq!(
            e.predictions["ttft_mean"],
            f(1000.0, 300.0, 0.25),
            max_relative = 1e-9
        );
    }

    #[test]
    fn collinear_inputs_fall_back_to_simple_regressions() {
        // x2 = 2·x1 → D = 0: b = S1y/S11, c = S2y/S22.
        let x1 = [1.0, 2.0, 3.0, 4.0];
        let x2 = [2.0, 4.0, 6.0, 8.0];
        let y = [3.0, 5.0, 7.0, 9.0];
        let l = Linear2::fit(&x1, &x2, &y);
        assert_relative_eq!(l.b, 2.0, max_relative = 1e-12);
        assert_relative_eq!(l.c, 1.0, max_relative = 1e-12);
        assert_relative_eq!(l.a, 6.0 - 2.0 * 2.5 - 1.0 * 5.0, max_relative = 1e-12);
        assert_eq!(
            r_squared(&[1.0, 1.0], &[0.0, 2.0]).to_bits(),
            0f64.to_bits()
        );
    }

    #[test]
    fn errors_are_typed() {
        let s = store();
        assert!(matches!(
            s.estimate("nope", &EstimateQuery::new(1.0, 1.0)),
            Err(PredictError::UnknownName { kind: "model", .. })
        ));
        for (i, o) in [(0.0, 10.0), (10.0, -1.0), (f64::NAN, 1.0)] {
            assert!(matches!(
                s.estimate(M, &EstimateQuery::new(i, o)),
                Err(PredictError::InvalidParam { .. })
            ));
        }
        let bad = "provider_model,input_avg_len,output_avg_len,ttft_mean\nm,100,10,abc\n";
        match read_together_csv(bad.as_bytes(), Path::new("b.csv")) {
            Err(e @ PredictError::Format { .. }) => {
                assert!(e.to_string().contains("line 2"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        let nan = "provider_model,input_avg_len,output_avg_len\nm,NaN,10\n";
        assert!(matches!(
            read_together_csv(nan.as_bytes(), Path::new("b.csv")),
            Err(PredictError::Format { .. })
        ));
        let missing = "provider_model,input_avg_len\nm,1\n";
        assert!(matches!(
            read_together_csv(missing.as_bytes(), Path::new("b.csv")),
            Err(PredictError::Format { .. })
        ));
        let ragged = "provider_model,input_avg_len,output_avg_len\nm,1\n";
        assert!(matches!(
            read_together_csv(ragged.as_bytes(), Path::new("b.csv")),
            Err(PredictError::Csv { .. })
        ));
        assert!(matches!(
            "x".parse::<Method>(),
            Err(PredictError::UnknownName { .. })
        ));
    }
}
