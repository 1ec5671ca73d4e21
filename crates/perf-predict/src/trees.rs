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
use serde::{Deserialize, Serialize, Serializer};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::error::{PredictError, Result, ensure_finite_row};
use crate::linear::FEATURE_NAMES;

fn ser_arc<S: Serializer, T: Serialize>(v: &Arc<T>, s: S) -> std::result::Result<S::Ok, S::Error> {
    T::serialize(v, s)
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
///
/// Loading checks the stored trees (child indices, feature indices, tree count, loss) before
/// gbdt sees them, so a corrupt file is an error, not a panic in `predict`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "RawModel")]
pub struct GbdtModel {
    n_features: usize,
    params: GbdtParams,
    #[serde(serialize_with = "ser_arc")]
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

/// A tree model as stored, before validation.
#[derive(Deserialize)]
struct RawModel {
    n_features: usize,
    params: serde_json::Value,
    model: serde_json::Value,
}

fn as_index(v: &serde_json::Value) -> Option<usize> {
    v.as_u64().and_then(|u| usize::try_from(u).ok())
}

/// gbdt 0.1.3 layout: `{conf: {iterations, loss, …}, trees: [{tree: {tree: [{value: {feature_index,
/// is_leaf, …}, left, right, …}]}}]}`; children are stored after their parent.
fn check_gbdt_json(v: &serde_json::Value, n_features: usize) -> std::result::Result<(), String> {
    let trees = v["trees"].as_array().ok_or("no `trees` array")?;
    if as_index(&v["conf"]["iterations"]) != Some(trees.len()) {
        return Err("`conf.iterations` differs from the number of trees".into());
    }
    match v["conf"]["loss"].as_str() {
        Some("SquaredError" | "LAD") => {}
        other => return Err(format!("unsupported loss {other:?}")),
    }
    for (t, tree) in trees.iter().enumerate() {
        let nodes = tree["tree"]["tree"]
            .as_array()
            .ok_or(format!("tree {t}: no nodes"))?;
        if nodes.is_empty() {
            return Err(format!("tree {t} is empty"));
        }
        for (i, node) in nodes.iter().enumerate() {
            if node["value"]["is_leaf"]
                .as_bool()
                .ok_or(format!("tree {t} node {i}: no is_leaf"))?
            {
                continue;
            }
            let f = as_index(&node["value"]["feature_index"]).unwrap_or(usize::MAX);
            if f >= n_features {
                return Err(format!("tree {t} node {i}: feature index out of range"));
            }
            for side in ["left", "right"] {
                match as_index(&node[side]) {
                    Some(c) if c > i && c < nodes.len() => {}
                    _ => return Err(format!("tree {t} node {i}: bad {side} child")),
                }
            }
        }
    }
    Ok(())
}

/// smartcore 0.7 layout: every tree is an object with a `nodes` array of `{split_feature,
/// true_child, false_child, …}`; children are stored after their parent.
fn check_forest_json(v: &serde_json::Value, n_features: usize) -> std::result::Result<(), String> {
    fn walk(
        v: &serde_json::Value,
        n_features: usize,
        trees: &mut usize,
    ) -> std::result::Result<(), String> {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Array(nodes)) = map.get("nodes") {
                    *trees += 1;
                    if nodes.is_empty() {
                        return Err("empty tree".into());
                    }
                    for (i, node) in nodes.iter().enumerate() {
                        let (t, f) = (&node["true_child"], &node["false_child"]);
                        if t.is_null() {
                            continue;
                        }
                        let ok = |c: &serde_json::Value| {
                            as_index(c).is_some_and(|c| c > i && c < nodes.len())
                        };
                        if !ok(t) || !ok(f) {
                            return Err(format!("node {i}: bad child index"));
                        }
                        if as_index(&node["split_feature"]).is_none_or(|s| s >= n_features) {
                            return Err(format!("node {i}: split feature out of range"));
                        }
                    }
                    return Ok(());
                }
                map.values().try_for_each(|x| walk(x, n_features, trees))
            }
            serde_json::Value::Array(a) => a.iter().try_for_each(|x| walk(x, n_features, trees)),
            _ => Ok(()),
        }
    }
    if v["forest_regressor"].is_null() {
        return Err("no fitted forest".into());
    }
    let mut trees = 0;
    walk(v, n_features, &mut trees)?;
    if trees == 0 {
        return Err("no trees".into());
    }
    Ok(())
}

impl TryFrom<RawModel> for GbdtModel {
    type Error = String;
    fn try_from(raw: RawModel) -> std::result::Result<Self, String> {
        check_gbdt_json(&raw.model, raw.n_features)
            .map_err(|e| format!("invalid gbdt model: {e}"))?;
        let params: GbdtParams = serde_json::from_value(raw.params).map_err(|e| e.to_string())?;
        params.check().map_err(|e| e.to_string())?;
        let model: GBDT = serde_json::from_value(raw.model).map_err(|e| e.to_string())?;
        Ok(Self {
            n_features: raw.n_features,
            params,
            model: Arc::new(model),
        })
    }
}

impl TryFrom<RawModel> for ForestModel {
    type Error = String;
    fn try_from(raw: RawModel) -> std::result::Result<Self, String> {
        check_forest_json(&raw.model, raw.n_features)
            .map_err(|e| format!("invalid forest model: {e}"))?;
        let params: ForestParams = serde_json::from_value(raw.params).map_err(|e| e.to_string())?;
        params.check().map_err(|e| e.to_string())?;
        let model: Forest = serde_json::from_value(raw.model).map_err(|e| e.to_string())?;
        Ok(Self {
            n_features: raw.n_features,
            params,
            model: Arc::new(model),
        })
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
///
/// Loading checks the stored trees (child indices, split features) before smartcore sees them,
/// so a corrupt file is an error, not a panic in `predict`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "RawModel")]
pub struct ForestModel {
    n_features: usize,
    params: ForestParams,
    #[serde(serialize_with = "ser_arc")]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::Stage;

    fn data() -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for bs in [1.0, 2.0, 4.0, 8.0] {
            for l in [16.0, 64.0, 256.0] {
                x.push(Stage::Decode.features(bs, l).to_vec());
                y.push(0.007 + 1e-5 * bs + 5e-8 * bs * l);
            }
        }
        (x, y)
    }

    /// Corrupting a stored child index, a feature index or the tree count makes loading fail
    /// with an error instead of a panic at prediction time.
    #[test]
    fn corrupt_files_are_rejected() {
        let (x, y) = data();
        let g = GbdtParams {
            trees: 3,
            ..GbdtParams::default()
        }
        .fit(&x, &y)
        .unwrap();
        let v = serde_json::to_value(&g).unwrap();
        let back: GbdtModel = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, g);
        let mut bad = v.clone();
        bad["model"]["trees"][0]["tree"]["tree"][0]["left"] = 0.into();
        assert!(serde_json::from_value::<GbdtModel>(bad).is_err());
        let mut bad = v.clone();
        bad["model"]["trees"][0]["tree"]["tree"][0]["value"]["feature_index"] = 9.into();
        assert!(serde_json::from_value::<GbdtModel>(bad).is_err());
        let mut bad = v.clone();
        bad["model"]["conf"]["iterations"] = 4.into();
        assert!(serde_json::from_value::<GbdtModel>(bad).is_err());
        let mut bad = v;
        bad["model"]["conf"]["loss"] = "LogLikelyhood".into();
        assert!(serde_json::from_value::<GbdtModel>(bad).is_err());

        let f = ForestParams::default().fit(&x, &y).unwrap();
        let v = serde_json::to_value(&f).unwrap();
        let back: ForestModel = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, f);
        let text = v.to_string();
        let bad_child = text.replacen("\"true_child\":1", "\"true_child\":0", 1);
        assert_ne!(bad_child, text, "forest layout changed");
        assert!(serde_json::from_str::<ForestModel>(&bad_child).is_err());
        let mut bad = v;
        bad["model"]["forest_regressor"] = serde_json::Value::Null;
        assert!(serde_json::from_value::<ForestModel>(bad).is_err());
    }

    #[test]
    fn bad_params_and_targets() {
        let (x, mut y) = data();
        assert!(matches!(
            GbdtParams {
                trees: 0,
                ..GbdtParams::default()
            }
            .fit(&x, &y),
            Err(PredictError::InvalidParam { name: "trees", .. })
        ));
        assert!(matches!(
            ForestParams {
                max_depth: 0,
                ..ForestParams::default()
            }
            .fit(&x, &y),
            Err(PredictError::InvalidParam { .. })
        ));
        y[2] = 0.0;
        assert!(matches!(
            GbdtParams::default().fit(&x, &y),
            Err(PredictError::InvalidParam { name: "target", .. })
        ));
        let g = GbdtParams {
            trees: 2,
            ..GbdtParams::default()
        }
        .fit(&x, &data().1)
        .unwrap();
        assert!(matches!(
            g.predict(&[1.0, 2.0, 3.0, 1e300]),
            Err(PredictError::NonFinite { .. })
        ));
    }
}
