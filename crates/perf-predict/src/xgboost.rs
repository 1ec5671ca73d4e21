//! Inference with models exported by XGBoost (no Python, no XGBoost library).
//!
//! Two exports are read:
//!
//! * the **JSON model** of `booster.save_model("m.json")` (XGBoost ≥ 1.0):
//!   `learner.gradient_booster.model.trees[]`, each tree with `left_children`,
//!   `right_children`, `split_indices`, `split_conditions`, `default_left` (booleans or 0/1),
//!   plus `learner.learner_model_param.{base_score, num_feature}` and
//!   `learner.objective.name` — [`XgbModel::from_json_str`];
//! * the **JSON tree dump** of `booster.dump_model("d.json", dump_format="json")` (a JSON array
//!   of nested `{nodeid, split: "f<i>", split_condition, yes, no, missing, children}` /
//!   `{nodeid, leaf}` objects; an array of the strings `get_dump(dump_format="json")` returns
//!   is accepted too). A dump holds neither `base_score` nor the feature count, so they are
//!   given — [`XgbModel::from_dump_str`].
//!
//! Prediction is XGBoost's for one row: features are converted to `f32`; at a split, a NaN
//! feature (missing) follows `default_left` (in a dump: the `missing` child), otherwise the row
//! goes left iff `x < split_condition`; the leaf value of a leaf node is its `split_conditions`
//! entry (as XGBoost stores it; `base_weights` is the pre-learning-rate weight and is ignored);
//! the output is `base_score + Σ leaves`, summed in `f32` in tree order from `base_score`, as
//! XGBoost's CPU predictor does.
//!
//! Supported: booster `gbtree` (any `num_parallel_tree`: all trees are summed), one output
//! (`num_class` ≤ 1, `num_target` = 1, scalar leaves), numerical splits, and the
//! identity-link objectives `reg:squarederror` (and its old name `reg:linear`),
//! `reg:absoluteerror` and `reg:pseudohubererror`, for which the margin *is* the prediction
//! and `base_score` is added as is. Everything else is a typed
//! [`PredictError::Unsupported`]: categorical splits (`split_type` 1 or `categories_nodes`),
//! vector leaves, multi-class and multi-target models, the `dart` and `gblinear` boosters, and
//! objectives with a link function (`reg:logistic`, `binary:*`, `count:poisson`, `reg:gamma`,
//! `reg:tweedie`, `reg:squaredlogerror`, ranking, survival, quantile…). A dump with named
//! features (`"split": "batch_size"`) is unsupported too: dump without `feature_names`.
//! The binary (UBJSON / legacy) formats are not read.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{PredictError, Result};

/// Objectives whose output is the raw margin (identity link).
pub const SUPPORTED_OBJECTIVES: [&str; 4] = [
    "reg:squarederror",
    "reg:linear",
    "reg:absoluteerror",
    "reg:pseudohubererror",
];

/// One regression tree in XGBoost's array layout. Node `i` is a leaf iff `left[i] == -1`; its
/// value is then `value[i]`; otherwise `value[i]` is the split threshold on feature
/// `feature[i]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct XgbTree {
    left: Vec<i32>,
    right: Vec<i32>,
    feature: Vec<u32>,
    value: Vec<f32>,
    default_left: Vec<bool>,
}

impl XgbTree {
    /// Checks lengths, child and feature indices, and that every node is reached at most once
    /// from the root (so a prediction ends at a leaf in at most `n` steps).
    fn check(&self, num_feature: usize) -> std::result::Result<(), String> {
        let n = self.left.len();
        if n == 0 {
            return Err("has no nodes".into());
        }
        for (name, len) in [
            ("right_children", self.right.len()),
            ("split_indices", self.feature.len()),
            ("split_conditions", self.value.len()),
            ("default_left", self.default_left.len()),
        ] {
            if len != n {
                return Err(format!(
                    "{name} has {len} entries but left_children has {n}"
                ));
            }
        }
        let mut seen = vec![false; n];
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                return Err(format!("node {i} is reached twice (not a tree)"));
            }
            let (l, r) = (self.left[i], self.right[i]);
            if l == -1 {
                if r != -1 {
                    return Err(format!(
                        "node {i}: left_children = -1 but right_children = {r}"
                    ));
                }
                if !self.value[i].is_finite() {
                    return Err(format!("leaf {i}: value {} is not finite", self.value[i]));
                }
                continue;
            }
            for (side, c) in [("left_children", l), ("right_children", r)] {
                match usize::try_from(c) {
                    Ok(c) if c < n && c != i => stack.push(c),
                    _ => return Err(format!("{side}[{i}] = {c} is not a node (0..{n})")),
                }
            }
            let f = self.feature[i];
            if f as usize >= num_feature {
                return Err(format!(
                    "split_indices[{i}] = {f} is not a feature (num_feature {num_feature})"
                ));
            }
            if self.value[i].is_nan() {
                return Err(format!("split_conditions[{i}] is NaN"));
            }
        }
        Ok(())
    }

    /// The leaf value reached by `x` (already `f32`; NaN = missing).
    fn leaf(&self, x: &[f32]) -> f32 {
        let mut i = 0usize;
        // A checked tree reaches a leaf in fewer than `n` steps.
        for _ in 0..self.left.len() {
            let l = self.left[i];
            if l < 0 {
                return self.value[i];
            }
            let f = x[self.feature[i] as usize];
            let go_left = if f.is_nan() {
                self.default_left[i]
            } else {
                f < self.value[i]
            };
            let next = if go_left { l } else { self.right[i] };
            i = usize::try_from(next).unwrap_or(0);
        }
        f32::NAN
    }
}

/// A tree ensemble exported by XGBoost, evaluated exactly as XGBoost does (see the module
/// documentation for what is supported).
///
/// Stored in predictor files in its own compact layout (`num_feature`, `base_score`,
/// `objective`, `trees[]` of `left`, `right`, `feature`, `value`, `default_left` arrays),
/// validated again on loading.
///
/// # Examples
/// ```
/// use perf_predict::xgboost::XgbModel;
/// // One stump on feature 0 (x < 2 → left leaf 1.5, else 3.0; missing → left); base_score 0.5.
/// let json = r#"{"learner": {
///   "learner_model_param": {"base_score": "5E-1", "num_feature": "2", "num_class": "0", "num_target": "1"},
///   "objective": {"name": "reg:squarederror"},
///   "gradient_booster": {"name": "gbtree", "model": {"tree_info": [0], "trees": [{
///     "left_children": [1, -1, -1], "right_children": [2, -1, -1], "split_indices": [0, 0, 0],
///     "split_conditions": [2.0, 1.5, 3.0], "default_left": [1, 0, 0], "base_weights": [0, 0, 0]}]}}}}"#;
/// let m = XgbModel::from_json_str(json, "m.json".as_ref())?;
/// assert_eq!(m.predict(&[1.0, 0.0])?, 2.0);
/// assert_eq!(m.predict(&[2.0, 0.0])?, 3.5);
/// assert_eq!(m.predict(&[f64::NAN, 0.0])?, 2.0);
/// # Ok::<(), perf_predict::PredictError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawXgb")]
pub struct XgbModel {
    num_feature: usize,
    base_score: f32,
    objective: String,
    trees: Vec<XgbTree>,
}

#[derive(Deserialize)]
struct RawXgb {
    num_feature: usize,
    base_score: f32,
    objective: String,
    trees: Vec<XgbTree>,
}

impl TryFrom<RawXgb> for XgbModel {
    type Error = String;
    fn try_from(raw: RawXgb) -> std::result::Result<Self, String> {
        let m = Self {
            num_feature: raw.num_feature,
            base_score: raw.base_score,
            objective: raw.objective,
            trees: raw.trees,
        };
        m.check()
            .map_err(|e| format!("invalid XGBoost model: {e}"))?;
        Ok(m)
    }
}

/// Options of a tree dump, which stores neither.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DumpOptions {
    /// The model's `base_score` (the margin added to the trees; XGBoost's default was 0.5
    /// before 2.0, and is estimated from the labels since).
    pub base_score: f64,
    /// Number of features rows have; `None` takes the largest split index + 1.
    pub num_feature: Option<usize>,
}

impl XgbModel {
    fn check(&self) -> std::result::Result<(), String> {
        if !self.base_score.is_finite() {
            return Err(format!("base_score {} is not finite", self.base_score));
        }
        if !SUPPORTED_OBJECTIVES.contains(&self.objective.as_str()) {
            return Err(format!("objective `{}` is not supported", self.objective));
        }
        if self.trees.is_empty() {
            return Err("no trees".into());
        }
        for (t, tree) in self.trees.iter().enumerate() {
            tree.check(self.num_feature)
                .map_err(|e| format!("tree {t}: {e}"))?;
        }
        Ok(())
    }

    /// Number of features a row must have.
    #[must_use]
    pub fn num_features(&self) -> usize {
        self.num_feature
    }

    /// Number of trees.
    #[must_use]
    pub fn num_trees(&self) -> usize {
        self.trees.len()
    }

    /// The `base_score` added to the trees' sum.
    #[must_use]
    pub fn base_score(&self) -> f64 {
        f64::from(self.base_score)
    }

    /// The training objective (one of [`SUPPORTED_OBJECTIVES`]).
    #[must_use]
    pub fn objective(&self) -> &str {
        &self.objective
    }

    /// XGBoost's prediction for one row: `base_score + Σ leaf`, in `f32` (returned as `f64`).
    /// NaN features are missing values (they follow each split's default direction);
    /// infinities compare as such.
    ///
    /// # Errors
    /// [`PredictError::FeatureCount`] if `x` has not [`XgbModel::num_features`] values.
    pub fn predict(&self, x: &[f64]) -> Result<f64> {
        if x.len() != self.num_feature {
            return Err(PredictError::FeatureCount {
                row: 0,
                expected: self.num_feature,
                got: x.len(),
            });
        }
        #[allow(clippy::cast_possible_truncation)] // XGBoost reads features as f32
        let xs: Vec<f32> = x.iter().map(|v| *v as f32).collect();
        let mut sum = self.base_score;
        for tree in &self.trees {
            sum += tree.leaf(&xs);
        }
        Ok(f64::from(sum))
    }

    /// Reads an XGBoost JSON model file (`save_model("m.json")`).
    ///
    /// # Errors
    /// [`PredictError::Io`], then as [`XgbModel::from_json_str`].
    pub fn read(path: &Path) -> Result<Self> {
        let text = read_text(path)?;
        Self::from_json_str(&text, path)
    }

    /// Reads a JSON tree dump file (`dump_model(…, dump_format="json")`).
    ///
    /// # Errors
    /// [`PredictError::Io`], then as [`XgbModel::from_dump_str`].
    pub fn read_dump(path: &Path, options: DumpOptions) -> Result<Self> {
        let text = read_text(path)?;
        Self::from_dump_str(&text, path, options)
    }

    /// Whether a parsed JSON document looks like an XGBoost JSON model (a top-level `learner`
    /// object).
    #[must_use]
    pub fn is_model_json(value: &Value) -> bool {
        value.get("learner").is_some_and(Value::is_object)
    }

    /// Parses an XGBoost JSON model (`save_model("m.json")`); `path` names the source in
    /// errors.
    ///
    /// # Errors
    /// [`PredictError::Json`] for invalid JSON (with line and column); [`PredictError::Format`]
    /// naming the JSON path and value of a missing or malformed field, a child index that is
    /// not a node, a split on a feature ≥ `num_feature`; [`PredictError::Unsupported`] for
    /// what the module documentation lists.
    pub fn from_json_str(text: &str, path: &Path) -> Result<Self> {
        let doc: Value = serde_json::from_str(text).map_err(|source| PredictError::Json {
            path: path.to_owned(),
            source,
        })?;
        let fmt = |message: String| PredictError::Format {
            path: path.to_owned(),
            message,
        };
        let unsupported = |what: String| PredictError::Unsupported {
            path: path.to_owned(),
            what,
        };
        if doc.is_array() {
            return Err(fmt(
                "this is a tree dump, not a JSON model: it has no base_score; read it as a \
                 dump with the model's base_score"
                    .into(),
            ));
        }
        let learner = doc
            .get("learner")
            .ok_or_else(|| fmt("no `learner` object: not an XGBoost JSON model".into()))?;
        let param = &learner["learner_model_param"];
        let field = |name: &str| -> Result<f64> {
            let v = &param[name];
            number(v).ok_or_else(|| {
                fmt(format!(
                    "learner.learner_model_param.{name} = {v} is not a number"
                ))
            })
        };
        let base_score = field("base_score")?;
        let num_feature = as_count(field("num_feature")?).ok_or_else(|| {
            fmt(format!(
                "learner.learner_model_param.num_feature = {} is not a count",
                param["num_feature"]
            ))
        })?;
        for (name, most) in [("num_class", 1.0), ("num_target", 1.0)] {
            if param.get(name).is_some() && field(name)? > most {
                return Err(unsupported(format!(
                    "learner.learner_model_param.{name} = {}: one output only",
                    param[name]
                )));
            }
        }
        let objective = learner["objective"]["name"]
            .as_str()
            .ok_or_else(|| fmt("no learner.objective.name".into()))?;
        if !SUPPORTED_OBJECTIVES.contains(&objective) {
            return Err(unsupported(format!(
                "objective `{objective}` (supported: {}, whose output is the margin)",
                SUPPORTED_OBJECTIVES.join(", ")
            )));
        }
        let booster = &learner["gradient_booster"];
        match booster["name"].as_str() {
            Some("gbtree") | None => {}
            Some(other) => {
                return Err(unsupported(format!(
                    "booster `{other}` (only gbtree; dart's weight_drop and gblinear are not implemented)"
                )));
            }
        }
        let model = &booster["model"];
        let trees_v = model["trees"]
            .as_array()
            .ok_or_else(|| fmt("no learner.gradient_booster.model.trees array".into()))?;
        if let Some(info) = model.get("tree_info").and_then(Value::as_array)
            && let Some((t, g)) = info
                .iter()
                .enumerate()
                .find(|(_, g)| number(g) != Some(0.0))
        {
            return Err(unsupported(format!(
                "tree_info[{t}] = {g}: trees of several output groups (multi-class)"
            )));
        }
        let mut trees = Vec::with_capacity(trees_v.len());
        for (t, tv) in trees_v.iter().enumerate() {
            let at = format!("learner.gradient_booster.model.trees[{t}]");
            trees.push(parse_tree(tv, &at).map_err(|e| match e {
                TreeError::Format(m) => fmt(m),
                TreeError::Unsupported(m) => unsupported(m),
            })?);
        }
        let m = XgbModel {
            num_feature,
            base_score: to_f32(base_score),
            objective: objective.to_owned(),
            trees,
        };
        m.check().map_err(fmt)?;
        Ok(m)
    }

    /// Parses a JSON tree dump: a JSON array of tree objects (or of strings holding them, as
    /// `get_dump(dump_format="json")` returns). `options` gives the `base_score` and feature
    /// count the dump lacks; the objective is taken to be `reg:squarederror`.
    ///
    /// # Errors
    /// [`PredictError::Json`], [`PredictError::Format`] (naming tree and node id) for a node
    /// without `split`/`split_condition`/`yes`/`no` or `leaf`, duplicate node ids, `missing`
    /// that is neither child, a non-finite `base_score`; [`PredictError::Unsupported`] for a
    /// categorical or named-feature split.
    pub fn from_dump_str(text: &str, path: &Path, options: DumpOptions) -> Result<Self> {
        let doc: Value = serde_json::from_str(text).map_err(|source| PredictError::Json {
            path: path.to_owned(),
            source,
        })?;
        let fmt = |message: String| PredictError::Format {
            path: path.to_owned(),
            message,
        };
        let Value::Array(items) = doc else {
            return Err(fmt(if Self::is_model_json(&doc) {
                "this is a JSON model, not a tree dump: read it as a model".into()
            } else {
                "a tree dump is a JSON array of trees".into()
            }));
        };
        if !options.base_score.is_finite() {
            return Err(PredictError::InvalidParam {
                name: "base_score",
                value: options.base_score.to_string(),
                reason: "must be finite",
            });
        }
        let mut trees = Vec::with_capacity(items.len());
        for (t, item) in items.into_iter().enumerate() {
            let tree_v = match item {
                Value::String(s) => {
                    serde_json::from_str(&s).map_err(|e| fmt(format!("tree {t}: {e}")))?
                }
                v => v,
            };
            let mut nodes = Vec::new();
            collect_dump_nodes(&tree_v, t, &mut nodes, 0).map_err(|e| match e {
                TreeError::Format(m) => fmt(m),
                TreeError::Unsupported(m) => PredictError::Unsupported {
                    path: path.to_owned(),
                    what: m,
                },
            })?;
            trees.push(dump_to_arrays(&nodes, t).map_err(&fmt)?);
        }
        let used = trees
            .iter()
            .flat_map(|t| {
                t.left
                    .iter()
                    .zip(&t.feature)
                    .filter(|(l, _)| **l >= 0)
                    .map(|(_, f)| *f as usize + 1)
            })
            .max()
            .unwrap_or(0);
        let num_feature = options.num_feature.unwrap_or(used);
        let m = XgbModel {
            num_feature,
            base_score: to_f32(options.base_score),
            objective: "reg:squarederror".into(),
            trees,
        };
        m.check().map_err(fmt)?;
        Ok(m)
    }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| PredictError::Io {
        path: path.to_owned(),
        source,
    })
}

#[allow(clippy::cast_possible_truncation)] // XGBoost stores these values as f32
fn to_f32(v: f64) -> f32 {
    v as f32
}

/// A JSON number, or a string holding one (`"5E-1"`, `"[5E-1]"` as XGBoost ≥ 2 writes them).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let s = s.trim();
            let s = s
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .unwrap_or(s);
            s.trim().parse().ok()
        }
        _ => None,
    }
}

fn as_count(v: f64) -> Option<usize> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked whole, in range
    (v >= 0.0 && v.fract() == 0.0 && v <= 1e9).then_some(v as usize)
}

enum TreeError {
    Format(String),
    Unsupported(String),
}

/// One tree of a JSON model.
fn parse_tree(tv: &Value, at: &str) -> std::result::Result<XgbTree, TreeError> {
    let array = |name: &str| -> std::result::Result<&Vec<Value>, TreeError> {
        tv[name]
            .as_array()
            .ok_or_else(|| TreeError::Format(format!("{at}.{name} is not an array")))
    };
    let ints = |name: &str| -> std::result::Result<Vec<i64>, TreeError> {
        array(name)?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_i64().ok_or_else(|| {
                    TreeError::Format(format!("{at}.{name}[{i}] = {v} is not an integer"))
                })
            })
            .collect()
    };
    if let Some(types) = tv.get("split_type").and_then(Value::as_array)
        && let Some(i) = types.iter().position(|v| v.as_i64() != Some(0))
    {
        return Err(TreeError::Unsupported(format!(
            "{at}.split_type[{i}] = {}: categorical splits",
            types[i]
        )));
    }
    if tv
        .get("categories_nodes")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        return Err(TreeError::Unsupported(format!(
            "{at}.categories_nodes: categorical splits"
        )));
    }
    if let Some(v) = tv.get("tree_param").and_then(|p| p.get("size_leaf_vector"))
        && number(v).is_some_and(|s| s > 1.0)
    {
        return Err(TreeError::Unsupported(format!(
            "{at}.tree_param.size_leaf_vector = {v}: vector leaves (multi-target trees)"
        )));
    }
    let left = ints("left_children")?;
    let right = ints("right_children")?;
    let to_i32 = |name: &str, v: Vec<i64>| -> std::result::Result<Vec<i32>, TreeError> {
        v.into_iter()
            .enumerate()
            .map(|(i, x)| {
                i32::try_from(x).map_err(|_| {
                    TreeError::Format(format!("{at}.{name}[{i}] = {x} is out of range"))
                })
            })
            .collect()
    };
    let feature = ints("split_indices")?
        .into_iter()
        .enumerate()
        .map(|(i, x)| {
            u32::try_from(x).map_err(|_| {
                TreeError::Format(format!(
                    "{at}.split_indices[{i}] = {x} is not a feature index"
                ))
            })
        })
        .collect::<std::result::Result<Vec<u32>, TreeError>>()?;
    let value = array("split_conditions")?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_f64().map(to_f32).ok_or_else(|| {
                TreeError::Format(format!("{at}.split_conditions[{i}] = {v} is not a number"))
            })
        })
        .collect::<std::result::Result<Vec<f32>, TreeError>>()?;
    let default_left = array("default_left")?
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Bool(b) => Ok(*b),
            v if v.as_u64() == Some(0) => Ok(false),
            v if v.as_u64() == Some(1) => Ok(true),
            v => Err(TreeError::Format(format!(
                "{at}.default_left[{i}] = {v} is not a boolean or 0/1"
            ))),
        })
        .collect::<std::result::Result<Vec<bool>, TreeError>>()?;
    let tree = XgbTree {
        left: to_i32("left_children", left)?,
        right: to_i32("right_children", right)?,
        feature,
        value,
        default_left,
    };
    if let Some(n) = tv
        .get("tree_param")
        .and_then(|p| p.get("num_nodes"))
        .and_then(number)
        && as_count(n) != Some(tree.left.len())
    {
        return Err(TreeError::Format(format!(
            "{at}.tree_param.num_nodes = {n} but left_children has {} entries",
            tree.left.len()
        )));
    }
    tree.check(usize::MAX)
        .map_err(|e| TreeError::Format(format!("{at}: {e}")))?;
    Ok(tree)
}

/// A node of a tree dump, flattened.
struct DumpNode {
    id: usize,
    /// `(feature, threshold, yes, no, missing)` for a split; `None` for a leaf.
    split: Option<(u32, f32, usize, usize, usize)>,
    /// Leaf value (unused for splits).
    leaf: f32,
}

fn collect_dump_nodes(
    v: &Value,
    t: usize,
    out: &mut Vec<DumpNode>,
    depth: usize,
) -> std::result::Result<(), TreeError> {
    let bad = |m: String| TreeError::Format(format!("tree {t}: {m}"));
    if depth > 256 {
        return Err(bad("deeper than 256 levels".into()));
    }
    let id = v["nodeid"]
        .as_u64()
        .and_then(|u| usize::try_from(u).ok())
        .filter(|u| *u < 1 << 24)
        .ok_or_else(|| bad(format!("node without a valid nodeid: {}", short(v))))?;
    if let Some(leaf) = v.get("leaf") {
        let value = leaf
            .as_f64()
            .ok_or_else(|| bad(format!("node {id}: leaf = {leaf} is not a number")))?;
        out.push(DumpNode {
            id,
            split: None,
            leaf: to_f32(value),
        });
        return Ok(());
    }
    if v.get("categories").is_some() || v["split_condition"].is_array() {
        return Err(TreeError::Unsupported(format!(
            "tree {t}, node {id}: categorical split"
        )));
    }
    let split = v["split"]
        .as_str()
        .ok_or_else(|| bad(format!("node {id}: no `split` (or `leaf`)")))?;
    let feature = split
        .strip_prefix('f')
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or_else(|| {
            TreeError::Unsupported(format!(
                "tree {t}, node {id}: split on the named feature `{split}` (dump without \
                 feature_names, so splits read `f<index>`)"
            ))
        })?;
    let threshold = v["split_condition"].as_f64().ok_or_else(|| {
        bad(format!(
            "node {id}: split_condition = {} is not a number",
            v["split_condition"]
        ))
    })?;
    let child = |name: &str| -> std::result::Result<usize, TreeError> {
        v[name]
            .as_u64()
            .and_then(|u| usize::try_from(u).ok())
            .ok_or_else(|| {
                bad(format!(
                    "node {id}: `{name}` = {} is not a node id",
                    v[name]
                ))
            })
    };
    let (yes, no, missing) = (child("yes")?, child("no")?, child("missing")?);
    out.push(DumpNode {
        id,
        split: Some((feature, to_f32(threshold), yes, no, missing)),
        leaf: 0.0,
    });
    let children = v["children"]
        .as_array()
        .ok_or_else(|| bad(format!("node {id}: no children")))?;
    for c in children {
        collect_dump_nodes(c, t, out, depth + 1)?;
    }
    Ok(())
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

fn dump_to_arrays(nodes: &[DumpNode], t: usize) -> std::result::Result<XgbTree, String> {
    let n = nodes.iter().map(|d| d.id + 1).max().unwrap_or(0);
    // Ids missing from the dump (deleted nodes) become unreachable zero leaves.
    let mut tree = XgbTree {
        left: vec![-1; n],
        right: vec![-1; n],
        feature: vec![0; n],
        value: vec![0.0; n],
        default_left: vec![false; n],
    };
    let mut seen = vec![false; n];
    for d in nodes {
        if std::mem::replace(&mut seen[d.id], true) {
            return Err(format!("tree {t}: node id {} appears twice", d.id));
        }
        match d.split {
            None => tree.value[d.id] = d.leaf,
            Some((f, thr, yes, no, missing)) => {
                if missing != yes && missing != no {
                    return Err(format!(
                        "tree {t}, node {}: missing = {missing} is neither yes = {yes} nor no = {no}",
                        d.id
                    ));
                }
                let idx = |c: usize| {
                    i32::try_from(c).map_err(|_| format!("tree {t}, node {}: child {c}", d.id))
                };
                tree.left[d.id] = idx(yes)?;
                tree.right[d.id] = idx(no)?;
                tree.feature[d.id] = f;
                tree.value[d.id] = thr;
                tree.default_left[d.id] = missing == yes;
            }
        }
    }
    for d in nodes {
        if let Some((_, _, yes, no, _)) = d.split
            && (yes >= n || no >= n || !seen[yes] || !seen[no])
        {
            return Err(format!(
                "tree {t}, node {}: child {yes} or {no} is not in the dump",
                d.id
            ));
        }
    }
    tree.check(usize::MAX)
        .map_err(|e| format!("tree {t}: {e}"))?;
    Ok(tree)
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values in, exact values out
mod tests {
    use super::*;

    fn model(trees: &str, objective: &str, extra_param: &str) -> String {
        format!(
            r#"{{"learner": {{"learner_model_param": {{"base_score": "2.5E-1", "num_feature": "3"{extra_param}}},
                "objective": {{"name": "{objective}"}},
                "gradient_booster": {{"name": "gbtree", "model": {{"trees": [{trees}]}}}}}}}}"#
        )
    }

    const STUMP: &str = r#"{"left_children": [1, -1, -1], "right_children": [2, -1, -1],
        "split_indices": [2, 0, 0], "split_conditions": [10.0, -1.0, 1.0], "default_left": [false, false, false]}"#;

    #[test]
    fn errors_are_typed_and_name_the_place() {
        let p = Path::new("m.json");
        let ok = model(STUMP, "reg:squarederror", "");
        let m = XgbModel::from_json_str(&ok, p).unwrap();
        assert_eq!(m.predict(&[0.0, 0.0, 10.0]).unwrap(), 1.25);
        assert!(matches!(
            m.predict(&[0.0, 0.0]),
            Err(PredictError::FeatureCount {
                expected: 3,
                got: 2,
                ..
            })
        ));
        for (text, needle) in [
            (
                model(STUMP, "binary:logistic", ""),
                "objective `binary:logistic`",
            ),
            (
                model(STUMP, "reg:squarederror", r#", "num_class": "3""#),
                "num_class",
            ),
            (
                model(
                    &STUMP.replace(
                        "\"default_left\"",
                        "\"split_type\": [0, 1, 0], \"default_left\"",
                    ),
                    "reg:squarederror",
                    "",
                ),
                "trees[0].split_type[1] = 1: categorical",
            ),
        ] {
            match XgbModel::from_json_str(&text, p) {
                Err(e @ PredictError::Unsupported { .. }) => {
                    assert!(e.to_string().contains(needle), "{e}")
                }
                other => panic!("{needle}: {other:?}"),
            }
        }
        for (text, needle) in [
            (
                model(
                    &STUMP.replace("[1, -1, -1]", "[7, -1, -1]"),
                    "reg:squarederror",
                    "",
                ),
                "left_children[0] = 7",
            ),
            (
                model(
                    &STUMP.replace("[2, 0, 0]", "[5, 0, 0]"),
                    "reg:squarederror",
                    "",
                ),
                "split_indices[0] = 5",
            ),
            (
                model(
                    &STUMP.replace("[1, -1, -1]", "[0, -1, -1]"),
                    "reg:squarederror",
                    "",
                ),
                "left_children[0] = 0",
            ),
            (
                model(
                    &STUMP.replace("[false, false, false]", "[2, 0, 0]"),
                    "reg:squarederror",
                    "",
                ),
                "default_left[0] = 2",
            ),
            (
                model(
                    &STUMP.replace("[2, -1, -1]", "[2, -1]"),
                    "reg:squarederror",
                    "",
                ),
                "right_children has 2",
            ),
            (
                r#"{"learner": {"learner_model_param": {"base_score": "x"}}}"#.into(),
                "base_score = \"x\"",
            ),
        ] {
            match XgbModel::from_json_str(&text, p) {
                Err(e @ PredictError::Format { .. }) => {
                    assert!(e.to_string().starts_with("m.json: "), "{e}");
                    assert!(e.to_string().contains(needle), "{needle}: {e}");
                }
                other => panic!("{needle}: {other:?}"),
            }
        }
        assert!(matches!(
            XgbModel::from_json_str("{", p),
            Err(PredictError::Json { .. })
        ));
    }

    #[test]
    fn stored_layout_round_trips_and_is_validated() {
        let m =
            XgbModel::from_json_str(&model(STUMP, "reg:squarederror", ""), Path::new("m")).unwrap();
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(serde_json::from_value::<XgbModel>(v.clone()).unwrap(), m);
        let mut bad = v.clone();
        bad["trees"][0]["left"][0] = 9.into();
        assert!(serde_json::from_value::<XgbModel>(bad).is_err());
        let mut bad = v;
        bad["objective"] = "reg:logistic".into();
        assert!(serde_json::from_value::<XgbModel>(bad).is_err());
    }

    #[test]
    fn number_forms() {
        assert_eq!(number(&Value::from("5E-1")), Some(0.5));
        assert_eq!(number(&Value::from("[5E-1]")), Some(0.5));
        assert_eq!(number(&Value::from(3)), Some(3.0));
        assert_eq!(number(&Value::from("x")), None);
    }
}
