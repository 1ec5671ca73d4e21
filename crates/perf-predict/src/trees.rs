//! Tree predictors of step time: gradient-boosted trees (`gbdt`) and random forests
//! (`smartcore`), on the seed's four features.
//!
//! Both are wrapped so that their traps cannot reach the user (CONVENTIONS §3): the feature
//! count and finiteness (and f32 range, for gbdt) are checked before every call, the gbdt loss
//! is set from an enum (an unknown loss *string* makes gbdt print to stdout), both gbdt sample
//! ratios are 1.0 (below 1.0 it draws from an unseedable `thread_rng`), and training data are
//! copied before gbdt's `fit(&mut)` overwrites them. Trees fit **ln(time)** so that the squared
//! loss approximates a relative error (step times span three decades); predictions are
//! `exp(tree output)`.

use std::fmt;
use std::sync::Arc;

use gbdt::config::{Config, Loss};
use gbdt::decision_tree::{Data, DataVec};
use gbdt::gradient_boost::GBDT;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::error::{PredictError, Result, ensure_finite_row};
use crate::linear::FEATURE_NAMES;

fn ser_arc<S: Serializer, T: Serialize>(v: &Arc<T>, s: S) -> std::result::Result<S::Ok, S::Error> {
    T::serialize(v, s)
}

fn de_arc<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Arc<T>, D::Error> {
    T::deserialize(d).map(Arc::new)
}

/// Checks a training set: equal lengths, at least `min_rows` rows, equal widths, finite values,
/// positive targets (trees fit ln t).
fn check_training(x: &[Vec<f64>], y: &[f64], min_rows: usize) -> Result<usize> {
    if x.len() != y.len() {
        return Err(PredictError::LengthMismatch {
            rows: x.len(),
            targets: y.len(),
        });
    }
    if x.len() < min_rows {
        return Err(PredictError::TooFewRows {
            needed: min_rows,
            got: x.len(),
        });
    }
    let p = x.first().map_or(0, Vec::len);
    if p == 0 {
        return Err(PredictError::Degenerate("rows have no features".into()));
    }
    for (i, (row, t)) in x.iter().zip(y).enumerate() {
        check_row(i, p, row)?;
        ensure_finite_row(i, &["target"], &[*t])?;
        if *t <= 0.0 {
            return Err(PredictError::InvalidParam {
                name: "target",
                value: format!("row {i}: {t}"),
                reason: "tree models fit ln(time): times must be > 0",
            });
        }
    }
    if x.iter().all(|r| r == &x[0]) {
        return Err(PredictError::Degenerate(format!(
            "all {} rows have the same features",
            x.len()
        )));
    }
    Ok(p)
}

fn check_row(row: usize, expected: usize, x: &[f64]) -> Result<()> {
    if x.len() != expected {
        return Err(PredictError::FeatureCount {
            row,
            expected,
            got: x.len(),
        });
    }
    ensure_finite_row(row, &FEATURE_NAMES, x)
}

/// Converts to f32, refusing values outside the f32 range.
fn to_f32_row(row: usize, x: &[f64]) -> Result<Vec<f32>> {
    x.iter()
        .enumerate()
        .map(|(i, v)| {
            if v.abs() > f64::from(f32::MAX) {
                Err(PredictError::NonFinite {
                    row,
                    field: FEATURE_NAMES
                        .get(i)
                        .map_or_else(|| format!("feature[{i}]"), |n| (*n).to_owned()),
                    value: *v,
                })
            } else {
                #[allow(clippy::cast_possible_truncation)] // checked range above
                Ok(*v as f32)
            }
        })
        .collect()
}

/// Loss of the boosted trees (an enum: gbdt prints to stdout on an unknown loss string).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GbdtLoss {
    /// Squared error.
    #[default]
    SquaredError,
    /// Least absolute deviation.
    Lad,
}

/// Hyper-parameters of [`GbdtModel`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GbdtParams {
    /// Number of trees (boosting iterations), ≥ 1.
    pub trees: usize,
    /// Depth of each tree, 1..=20.
    pub max_depth: u32,
    /// Learning rate, in (0, 1].
    pub shrinkage: f32,
    /// Minimum samples per leaf, ≥ 1.
    pub min_leaf_size: usize,
    /// Loss.
    pub loss: GbdtLoss,
}

impl Default for GbdtParams {
    /// 200 trees of depth 4, learning rate 0.1, one sample per leaf, squared error.
    fn default() -> Self {
        Self {
            trees: 200,
            max_depth: 4,
            shrinkage: 0.1,
            min_leaf_size: 1,
            loss: GbdtLoss::SquaredError,
        }
    }
}

impl GbdtParams {
    /// Validates the parameters.
    ///
    /// # Errors
    /// [`PredictError::InvalidParam`] naming the first bad parameter.
    pub fn check(&self) -> Result<()> {
        let bad = |name, value: String, reason| {
            Err(PredictError::InvalidParam {
                name,
                value,
                reason,
            })
        };
        if self.trees == 0 || self.trees > 100_000 {
            return bad("trees", self.trees.to_string(), "must be in 1..=100000");
        }
        if !(1..=20).contains(&self.max_depth) {
            return bad("max_depth", self.max_depth.to_string(), "must be in 1..=20");
        }
        if !(self.shrinkage > 0.0 && self.shrinkage <= 1.0) {
            return bad("shrinkage", self.shrinkage.to_string(), "must be in (0, 1]");
        }
        if self.min_leaf_size == 0 {
            return bad("min_leaf_size", "0".into(), "must be >= 1");
        }
        Ok(())
    }

    /// Fits boosted trees to `ln y`.
    ///
    /// # Errors
    /// [`PredictError::InvalidParam`] for bad parameters or a target ≤ 0, and the data errors
    /// of [`crate::LinearModel::fit`] (too few rows: 2).
    pub fn fit(&self, x: &[Vec<f64>], y: &[f64]) -> Result<GbdtModel> {
        self.check()?;
        let p = check_training(x, y, 2)?;
        let mut cfg = Config::new();
        cfg.feature_size = p;
        cfg.max_depth = self.max_depth;
        cfg.iterations = self.trees;
        cfg.shrinkage = self.shrinkage;
        cfg.min_leaf_size = self.min_leaf_size;
        cfg.loss = match self.loss {
            GbdtLoss::SquaredError => Loss::SquaredError,
            GbdtLoss::Lad => Loss::LAD,
        };
        cfg.feature_sample_ratio = 1.0;
        cfg.data_sample_ratio = 1.0;
        cfg.debug = false;
        cfg.initial_guess_enabled = false;
        let mut data: DataVec = Vec::with_capacity(x.len());
        for (i, (row, t)) in x.iter().zip(y).enumerate() {
            #[allow(clippy::cast_possible_truncation)] // ln of a finite positive f64 fits f32
            let label = t.ln() as f32;
            data.push(Data::new_training_data(
                to_f32_row(i, row)?,
                1.0,
                label,
                None,
            ));
        }
        let mut model = GBDT::new(&cfg);
        model.fit(&mut data);
        Ok(GbdtModel {
            n_features: p,
            params: self.clone(),
            model: Arc::new(model),
        })
    }
}

/// Gradient-boosted trees (crate `gbdt`, f32) predicting `ln(time)`.
#[derive(Clone, Serialize, Deserialize)]
pub struct GbdtModel {
    n_features: usize,
    params: GbdtParams,
    #[serde(serialize_with = "ser_arc", deserialize_with = "de_arc")]
    model: Arc<GBDT>,
}

impl GbdtModel {
    /// Features the model takes.
    #[must_use]
    pub fn num_features(&self) -> usize {
        self.n_features
    }

    /// The hyper-parameters it was trained with.
    #[must_use]
    pub fn params(&self) -> &GbdtParams {
        &self.params
    }

    /// Predicted time (the target's unit), `exp` of the trees' output.
    ///
    /// # Errors
    /// [`PredictError::FeatureCount`] for a wrong width, [`PredictError::NonFinite`] for a
    /// NaN, infinite or beyond-f32 feature.
    pub fn predict(&self, x: &[f64]) -> Result<f64> {
        check_row(0, self.n_features, x)?;
        let row = vec![Data::new_test_data(to_f32_row(0, x)?, None)];
        let out = self.model.predict(&row);
        Ok(out.first().map_or(f64::NAN, |v| f64::from(*v).exp()))
    }
}

impl fmt::Debug for GbdtModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GbdtModel")
            .field("n_features", &self.n_features)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PartialEq for GbdtModel {
    /// Equal when the parameters and the serialised trees are equal.
    fn eq(&self, other: &Self) -> bool {
        self.n_features == other.n_features
            && self.params == other.params
            && match (
                serde_json::to_value(&*self.model),
                serde_json::to_value(&*other.model),
            ) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            }
    }
}

type Forest = RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;

/// Hyper-parameters of [`ForestModel`]; the defaults are the seed's unexposed
/// `train_tree_predictor` (10 trees, depth 12, 2 samples per leaf).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Number of trees, ≥ 1.
    pub trees: usize,
    /// Maximum depth, ≥ 1.
    pub max_depth: u16,
    /// Minimum samples per leaf, ≥ 1.
    pub min_samples_leaf: usize,
    /// Seed of the bootstrap and feature sampling.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        Self {
            trees: 10,
            max_depth: 12,
            min_samples_leaf: 2,
            seed: 42,
        }
    }
}

impl ForestParams {
    /// Validates the parameters.
    ///
    /// # Errors
    /// [`PredictError::InvalidParam`] naming the first bad parameter.
    pub fn check(&self) -> Result<()> {
        let bad = |name, value: String| {
            Err(PredictError::InvalidParam {
                name,
                value,
                reason: "must be >= 1",
            })
        };
        if self.trees == 0 || self.trees > 10_000 {
            return Err(PredictError::InvalidParam {
                name: "trees",
                value: self.trees.to_string(),
                reason: "must be in 1..=10000",
            });
        }
        if self.max_depth == 0 {
            return bad("max_depth", "0".into());
        }
        if self.min_samples_leaf == 0 {
            return bad("min_samples_leaf", "0".into());
        }
        Ok(())
    }

    /// Fits a random forest (smartcore) to `ln y`.
    ///
    /// # Errors
    /// As [`GbdtParams::fit`], plus [`PredictError::Model`] if smartcore fails.
    pub fn fit(&self, x: &[Vec<f64>], y: &[f64]) -> Result<ForestModel> {
        self.check()?;
        let p = check_training(x, y, 2)?;
        let m = DenseMatrix::from_2d_vec(&x.to_vec()).map_err(|e| PredictError::Model {
            kind: "forest",
            message: e.to_string(),
        })?;
        let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
        let params = RandomForestRegressorParameters::default()
            .with_n_trees(self.trees)
            .with_max_depth(self.max_depth)
            .with_min_samples_leaf(self.min_samples_leaf)
            .with_seed(self.seed);
        let model = Forest::fit(&m, &ly, params).map_err(|e| PredictError::Model {
            kind: "forest",
            message: e.to_string(),
        })?;
        Ok(ForestModel {
            n_features: p,
            params: self.clone(),
            model: Arc::new(model),
        })
    }
}

/// A random forest (crate `smartcore`) predicting `ln(time)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForestModel {
    n_features: usize,
    params: ForestParams,
    #[serde(serialize_with = "ser_arc", deserialize_with = "de_arc")]
    model: Arc<Forest>,
}

impl PartialEq for ForestModel {
    fn eq(&self, other: &Self) -> bool {
        self.n_features == other.n_features
            && self.params == other.params
            && *self.model == *other.model
    }
}

impl ForestModel {
    /// Features the model takes.
    #[must_use]
    pub fn num_features(&self) -> usize {
        self.n_features
    }

    /// The hyper-parameters it was trained with.
    #[must_use]
    pub fn params(&self) -> &ForestParams {
        &self.params
    }

    /// Predicted time (the target's unit), `exp` of the forest's output.
    ///
    /// # Errors
    /// [`PredictError::FeatureCount`], [`PredictError::NonFinite`], or
    /// [`PredictError::Model`] if smartcore fails.
    pub fn predict(&self, x: &[f64]) -> Result<f64> {
        check_row(0, self.n_features, x)?;
        let m = DenseMatrix::from_2d_vec(&vec![x.to_vec()]).map_err(|e| PredictError::Model {
            kind: "forest",
            message: e.to_string(),
        })?;
        let out = self.model.predict(&m).map_err(|e| PredictError::Model {
            kind: "forest",
            message: e.to_string(),
        })?;
        Ok(out.first().map_or(f64::NAN, |v| v.exp()))
    }
}
