//! The seed's linear step-time predictor: four features, one model per stage, fitted by
//! minimum-norm least squares.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{PredictError, Result, ensure_finite_row};
use crate::linalg::lstsq_with_intercept;

/// Names of the seed's four features, in weight order.
pub const FEATURE_NAMES: [&str; 4] = [
    "num_new_tokens",
    "prod_ext_ctx",
    "num_context_tokens",
    "batch_size",
];

/// Number of features of the linear predictor.
pub const NUM_FEATURES: usize = FEATURE_NAMES.len();

/// Which half of a request's life a model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// One forward pass over whole prompts (the seed's `prefill_latency`).
    Prefill,
    /// One decode step (the seed's `median_decode_latency`).
    Decode,
}

impl Stage {
    /// Both stages, prefill first.
    pub const ALL: [Stage; 2] = [Stage::Prefill, Stage::Decode];

    /// The stage's key in predictor files: `prefill` or `decode`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Prefill => "prefill",
            Stage::Decode => "decode",
        }
    }

    /// The seed's features for a uniform batch of `batch_size` requests of `input_len` tokens.
    ///
    /// # Formula
    /// ```text
    ///            num_new_tokens  prod_ext_ctx  num_context_tokens  batch_size
    /// prefill    bs·L            bs·L²         bs·L                bs
    /// decode     bs              bs·L          bs·L                bs
    /// ```
    ///
    /// # Examples
    /// ```
    /// use perf_predict::Stage;
    /// assert_eq!(Stage::Prefill.features(4.0, 512.0), [2048.0, 1_048_576.0, 2048.0, 4.0]);
    /// assert_eq!(Stage::Decode.features(8.0, 1024.0), [8.0, 8192.0, 8192.0, 8.0]);
    /// ```
    #[must_use]
    pub fn features(self, batch_size: f64, input_len: f64) -> [f64; NUM_FEATURES] {
        let bs = batch_size;
        let l = input_len;
        match self {
            Stage::Prefill => [bs * l, bs * l * l, bs * l, bs],
            Stage::Decode => [bs, bs * l, bs * l, bs],
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = PredictError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "prefill" => Ok(Stage::Prefill),
            "decode" => Ok(Stage::Decode),
            _ => Err(PredictError::UnknownName {
                kind: "stage",
                name: s.to_owned(),
                known: vec!["prefill".into(), "decode".into()],
            }),
        }
    }
}

/// A fitted linear model `t = w·x + b`, in **seconds** (the seed's unit).
///
/// # Examples
/// ```
/// use perf_predict::LinearModel;
/// // y = 0.5 + 2·x0 (x1 is a copy of x0, so min-norm splits the weight 1 / 1).
/// let x: Vec<Vec<f64>> = (1..=6).map(|i| vec![f64::from(i), f64::from(i)]).collect();
/// let y: Vec<f64> = (1..=6).map(|i| 0.5 + 2.0 * f64::from(i)).collect();
/// let m = LinearModel::fit(&x, &y)?;
/// assert!((m.weights()[0] - 1.0).abs() < 1e-12 && (m.weights()[1] - 1.0).abs() < 1e-12);
/// assert!((m.predict(&[10.0, 10.0])? - 20.5).abs() < 1e-9);
/// # Ok::<(), perf_predict::PredictError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    weights: Vec<f64>,
    bias: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mse: Option<f64>,
    /// Keys of a seed stage object other than weights/bias/model_type/mse, kept so that a seed
    /// file is written back unchanged.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    seed_extra: Map<String, Value>,
}

impl LinearModel {
    /// A model from its weights and bias (seconds). `mse` is the training MSE in s², if known.
    ///
    /// # Errors
    /// [`PredictError::NonFinite`] if a weight, the bias or the MSE is not finite.
    pub fn new(weights: Vec<f64>, bias: f64, mse: Option<f64>) -> Result<Self> {
        ensure_finite_row(0, &[], &weights)?;
        ensure_finite_row(0, &["bias", "mse"], &[bias, mse.unwrap_or(0.0)])?;
        Ok(Self {
            weights,
            bias,
            mse,
            seed_extra: Map::new(),
        })
    }

    /// Fits `y ≈ X·w + b` by minimum-norm least squares with an intercept (scikit-learn's
    /// `LinearRegression`): the columns and `y` are centred, the centred system is solved
    /// through the SVD pseudo-inverse (identical columns get identical weights) and
    /// `b = ȳ − w·x̄`. The training MSE is stored.
    ///
    /// # Errors
    /// * [`PredictError::LengthMismatch`] if `x` and `y` differ in length;
    /// * [`PredictError::TooFewRows`] with fewer rows than features (or fewer than 2);
    /// * [`PredictError::FeatureCount`] if rows differ in width;
    /// * [`PredictError::NonFinite`] for a NaN or infinite value (with its row);
    /// * [`PredictError::Degenerate`] if every row has the same features, or if values are
    ///   so large that the solution overflows.
    pub fn fit(x: &[Vec<f64>], y: &[f64]) -> Result<Self> {
        if x.len() != y.len() {
            return Err(PredictError::LengthMismatch {
                rows: x.len(),
                targets: y.len(),
            });
        }
        let p = x.first().map_or(0, Vec::len);
        let needed = p.max(2);
        if x.len() < needed {
            return Err(PredictError::TooFewRows {
                needed,
                got: x.len(),
            });
        }
        for (i, (row, target)) in x.iter().zip(y).enumerate() {
            if row.len() != p {
                return Err(PredictError::FeatureCount {
                    row: i,
                    expected: p,
                    got: row.len(),
                });
            }
            ensure_finite_row(i, &FEATURE_NAMES, row)?;
            ensure_finite_row(i, &["target"], &[*target])?;
        }
        if x.iter().all(|r| r == &x[0]) {
            return Err(PredictError::Degenerate(format!(
                "all {} rows have the same features",
                x.len()
            )));
        }
        let (weights, bias, rank) = lstsq_with_intercept(x, y);
        if !weights.iter().all(|w| w.is_finite()) || !bias.is_finite() {
            return Err(PredictError::Degenerate(
                "the least-squares solution overflowed (values too large)".into(),
            ));
        }
        let mut m = Self {
            weights,
            bias,
            mse: None,
            seed_extra: Map::new(),
        };
        let mut sse = 0.0;
        for (row, target) in x.iter().zip(y) {
            let r = m.predict_unchecked(row) - target;
            sse += r * r;
        }
        m.mse = Some(sse / x.len() as f64);
        tracing::debug!(rank, mse = m.mse, "linear fit");
        Ok(m)
    }

    /// The weights, in feature order.
    #[must_use]
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The intercept.
    #[must_use]
    pub fn bias(&self) -> f64 {
        self.bias
    }

    /// Training MSE (s² for step-time models), if recorded.
    #[must_use]
    pub fn mse(&self) -> Option<f64> {
        self.mse
    }

    /// Number of features the model takes.
    #[must_use]
    pub fn num_features(&self) -> usize {
        self.weights.len()
    }

    /// `w·x + b` (not clamped).
    ///
    /// # Errors
    /// [`PredictError::FeatureCount`] if `x` has the wrong width, [`PredictError::NonFinite`]
    /// for a NaN or infinite feature.
    pub fn predict(&self, x: &[f64]) -> Result<f64> {
        if x.len() != self.weights.len() {
            return Err(PredictError::FeatureCount {
                row: 0,
                expected: self.weights.len(),
                got: x.len(),
            });
        }
        ensure_finite_row(0, &FEATURE_NAMES, x)?;
        Ok(self.predict_unchecked(x))
    }

    pub(crate) fn predict_unchecked(&self, x: &[f64]) -> f64 {
        self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>() + self.bias
    }

    pub(crate) fn seed_extra(&self) -> &Map<String, Value> {
        &self.seed_extra
    }

    pub(crate) fn set_seed_extra(&mut self, extra: Map<String, Value>) {
        self.seed_extra = extra;
    }
}

/// One measured point of a profiling sweep: a uniform batch of `batch_size` requests of
/// `input_len` prompt tokens, with its stage latencies in seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileRow {
    /// Requests in the batch.
    pub batch_size: f64,
    /// Prompt tokens per request.
    pub input_len: f64,
    /// Wall time of the prefill pass, s (absent in some files).
    #[serde(default)]
    pub prefill_latency: Option<f64>,
    /// Median decode step time, s (absent when `output_len == 1`).
    #[serde(default)]
    pub median_decode_latency: Option<f64>,
}

impl ProfileRow {
    /// The stage's target, if measured.
    #[must_use]
    pub fn target(&self, stage: Stage) -> Option<f64> {
        match stage {
            Stage::Prefill => self.prefill_latency,
            Stage::Decode => self.median_decode_latency,
        }
    }
}

/// A profiling sweep as written by the seed's `profile` command (`benchmark_data_*.json`):
/// `{"metadata": {…}, "results": [{batch_size, input_len, prefill_latency,
/// median_decode_latency, …}]}`; other keys are ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileData {
    /// The file's `metadata` object, kept verbatim (copied into trained predictors).
    #[serde(default)]
    pub metadata: Value,
    /// The measured points.
    pub results: Vec<ProfileRow>,
}

impl ProfileData {
    /// Parses a sweep from JSON text; `path` names the source in errors.
    ///
    /// # Errors
    /// [`PredictError::Json`] if the text is not a sweep document.
    pub fn from_json_str(text: &str, path: &Path) -> Result<Self> {
        serde_json::from_str(text).map_err(|source| PredictError::Json {
            path: path.to_owned(),
            source,
        })
    }

    /// Reads a sweep file.
    ///
    /// # Errors
    /// [`PredictError::Io`] or [`PredictError::Json`].
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| PredictError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json_str(&text, path)
    }

    /// Feature rows and targets of one stage. Rows whose target is absent are skipped (the
    /// seed drops incomplete rows); NaN values are kept so that the fit reports them.
    #[must_use]
    pub fn dataset(&self, stage: Stage) -> (Vec<Vec<f64>>, Vec<f64>) {
        self.results
            .iter()
            .filter_map(|r| {
                r.target(stage)
                    .map(|t| (stage.features(r.batch_size, r.input_len).to_vec(), t))
            })
            .unzip()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// A design with the decode collinearity (x0 ≡ x3, x1 ≡ x2) and y = 1 + 2·bs + 4·bs·L.
    /// The centred problem has rank 2 with directions u = (1,0,0,1)/√2 and v = (0,1,1,0)/√2;
    /// y only depends on those, so the minimum-norm solution puts half of each coefficient on
    /// each copy: w = [1, 2, 2, 1], b = 1.
    #[test]
    fn collinear_min_norm_by_hand() {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for bs in [1.0, 2.0, 4.0, 8.0] {
            for l in [16.0, 64.0, 256.0] {
                x.push(Stage::Decode.features(bs, l).to_vec());
                y.push(1.0 + 2.0 * bs + 4.0 * bs * l);
            }
        }
        let m = LinearModel::fit(&x, &y).unwrap();
        for (w, e) in m.weights().iter().zip([1.0, 2.0, 2.0, 1.0]) {
            assert_relative_eq!(*w, e, max_relative = 1e-10);
        }
        assert_relative_eq!(m.bias(), 1.0, max_relative = 1e-9);
        assert!(m.mse().unwrap() < 1e-15);
    }

    #[test]
    fn nan_row_is_error_with_index() {
        let mut x: Vec<Vec<f64>> = (0..6)
            .map(|i| Stage::Prefill.features(1.0, f64::from(i + 1)).to_vec())
            .collect();
        x[3][1] = f64::NAN;
        let y = vec![1.0; 6];
        match LinearModel::fit(&x, &y) {
            Err(PredictError::NonFinite { row: 3, field, .. }) => assert_eq!(field, "prod_ext_ctx"),
            other => panic!("{other:?}"),
        }
        let x: Vec<Vec<f64>> = (0..6)
            .map(|i| Stage::Prefill.features(1.0, f64::from(i + 1)).to_vec())
            .collect();
        let mut y = vec![1.0; 6];
        y[5] = f64::INFINITY;
        assert!(matches!(
            LinearModel::fit(&x, &y),
            Err(PredictError::NonFinite { row: 5, .. })
        ));
    }

    #[test]
    fn too_few_rows_single_shape_and_width() {
        let x = vec![vec![1.0, 2.0, 3.0, 4.0]; 3];
        assert!(matches!(
            LinearModel::fit(&x, &[1.0, 2.0, 3.0]),
            Err(PredictError::TooFewRows { needed: 4, got: 3 })
        ));
        let x = vec![vec![1.0, 2.0, 3.0, 4.0]; 8];
        assert!(matches!(
            LinearModel::fit(&x, &[1.0; 8]),
            Err(PredictError::Degenerate(_))
        ));
        let mut x = vec![vec![1.0, 2.0, 3.0, 4.0]; 8];
        x[2].pop();
        assert!(matches!(
            LinearModel::fit(&x, &[1.0; 8]),
            Err(PredictError::FeatureCount {
                row: 2,
                expected: 4,
                got: 3
            })
        ));
        assert!(matches!(
            LinearModel::fit(&x, &[1.0; 7]),
            Err(PredictError::LengthMismatch {
                rows: 8,
                targets: 7
            })
        ));
        let m = LinearModel::new(vec![1.0; 4], 0.0, None).unwrap();
        assert!(matches!(
            m.predict(&[1.0]),
            Err(PredictError::FeatureCount { .. })
        ));
        assert!(matches!(
            m.predict(&[1.0, f64::NAN, 0.0, 0.0]),
            Err(PredictError::NonFinite { .. })
        ));
    }

    #[test]
    fn overflow_is_an_error_not_nan_weights() {
        let x: Vec<Vec<f64>> = (1..=6).map(|i| vec![1e200 * f64::from(i), 1.0]).collect();
        let y: Vec<f64> = (1..=6).map(f64::from).collect();
        match LinearModel::fit(&x, &y) {
            Err(PredictError::Degenerate(_)) => {}
            Ok(m) => assert!(m.weights().iter().all(|w| w.is_finite())),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn stage_parses() {
        assert_eq!("Decode".parse::<Stage>().unwrap(), Stage::Decode);
        assert!(matches!(
            "x".parse::<Stage>(),
            Err(PredictError::UnknownName { .. })
        ));
    }
}
