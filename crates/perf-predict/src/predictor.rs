//! A trained step-time predictor (one model per stage) and its use as a simulator cost model.

use std::collections::BTreeMap;

use perf_model_core::{BatchShape, StepTimeModel};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::cv::{CvReport, Trainer};
use crate::error::Result;
use crate::linear::{LinearModel, NUM_FEATURES, ProfileData, Stage};
use crate::ranges::{RangeCheck, TrainingRanges};
use crate::trees::{ForestModel, GbdtModel};

/// The model of one stage. Outputs are in **seconds**, as in the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum StageModel {
    /// The seed's linear model on [`crate::FEATURE_NAMES`].
    Linear(LinearModel),
    /// Gradient-boosted trees on the same features.
    Gbdt(GbdtModel),
    /// Random forest on the same features.
    Forest(ForestModel),
}

impl StageModel {
    /// Predicted stage time in seconds for the seed's four features (not clamped).
    ///
    /// # Errors
    /// [`PredictError::FeatureCount`](crate::PredictError::FeatureCount) or [`PredictError::NonFinite`](crate::PredictError::NonFinite) for a bad feature row.
    pub fn predict_seconds(&self, features: &[f64]) -> Result<f64> {
        match self {
            StageModel::Linear(m) => m.predict(features),
            StageModel::Gbdt(m) => m.predict(features),
            StageModel::Forest(m) => m.predict(features),
        }
    }

    /// The model kind as written in files: `linear`, `gbdt` or `forest`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            StageModel::Linear(_) => "linear",
            StageModel::Gbdt(_) => "gbdt",
            StageModel::Forest(_) => "forest",
        }
    }

    /// Number of features the model takes.
    #[must_use]
    pub fn num_features(&self) -> usize {
        match self {
            StageModel::Linear(m) => m.num_features(),
            StageModel::Gbdt(m) => m.num_features(),
            StageModel::Forest(m) => m.num_features(),
        }
    }

    /// The fixed per-step part of the model (the linear bias; 0 for trees), s.
    fn bias(&self) -> f64 {
        match self {
            StageModel::Linear(m) => m.bias(),
            StageModel::Gbdt(_) | StageModel::Forest(_) => 0.0,
        }
    }

    /// Prediction for features built from a `BatchShape` (always finite); a tree-library
    /// failure gives NaN, which `step_time` turns into 0 (and logs).
    fn predict_unchecked(&self, features: &[f64; NUM_FEATURES]) -> f64 {
        match self {
            StageModel::Linear(m) => m.predict_unchecked(features),
            other => other.predict_seconds(features).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "tree prediction failed");
                f64::NAN
            }),
        }
    }
}

/// Prefill and decode models of one configuration (model × GPU × parallelism), with the
/// profiling metadata they were trained on.
///
/// # Examples
/// ```
/// use perf_model_core::{BatchShape, StepTimeModel};
/// use perf_predict::{LinearModel, Stage, StageModel, StepPredictor};
/// let prefill = LinearModel::new(vec![1e-5, 1e-9, 1e-5, 0.0], 8e-3, None)?;
/// let decode = LinearModel::new(vec![8e-6, 4e-8, 4e-8, 8e-6], 7e-3, None)?;
/// let p = StepPredictor::new(StageModel::Linear(prefill), StageModel::Linear(decode));
/// let ms = p.predict_ms(Stage::Decode, 8.0, 1024.0)?;
/// assert!((p.step_time(&BatchShape::decode(8, 1024)) - ms).abs() < 1e-12);
/// # Ok::<(), perf_predict::PredictError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepPredictor {
    /// The prefill model.
    pub prefill: StageModel,
    /// The decode model.
    pub decode: StageModel,
    /// Metadata of the profiling run (the seed copies the benchmark file's `metadata`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Cross-validation reports by stage (`prefill`, `decode`), when trained with
    /// [`StepPredictor::train_with_cv`]; kept in our format, not in the seed's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub validation: BTreeMap<Stage, CvReport>,
    /// Ranges of `batch_size` and `input_len` over the rows each stage was trained on (set by
    /// [`StepPredictor::train`]; absent from seed files and from files written before ranges
    /// were stored — see [`StepPredictor::range_check`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub training_ranges: BTreeMap<Stage, TrainingRanges>,
    /// Other keys of a seed config object, kept so a seed file is written back unchanged.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub(crate) seed_extra: Map<String, Value>,
}

impl StepPredictor {
    /// A predictor from its two stage models, without metadata.
    #[must_use]
    pub fn new(prefill: StageModel, decode: StageModel) -> Self {
        Self {
            prefill,
            decode,
            metadata: None,
            validation: BTreeMap::new(),
            training_ranges: BTreeMap::new(),
            seed_extra: Map::new(),
        }
    }

    /// Trains the seed's linear models on a profiling sweep (each stage on the rows where its
    /// latency is present) and keeps the sweep's metadata.
    ///
    /// # Errors
    /// Any error of [`LinearModel::fit`], for either stage.
    pub fn train_linear(data: &ProfileData) -> Result<Self> {
        Self::train(data, &Trainer::Linear)
    }

    /// Trains both stages with `trainer` on a profiling sweep, keeps its metadata and records
    /// each stage's training ranges of `batch_size` and `input_len`.
    ///
    /// # Errors
    /// Any error of the fit, for either stage.
    pub fn train(data: &ProfileData, trainer: &Trainer) -> Result<Self> {
        let (xp, yp) = data.dataset(Stage::Prefill);
        let (xd, yd) = data.dataset(Stage::Decode);
        let prefill = trainer.fit(&xp, &yp)?;
        let decode = trainer.fit(&xd, &yd)?;
        let mut p = Self::new(prefill, decode);
        for stage in Stage::ALL {
            let mut r = TrainingRanges::default();
            for row in data
                .results
                .iter()
                .filter(|row| row.target(stage).is_some())
            {
                r.observe("batch_size", row.batch_size);
                r.observe("input_len", row.input_len);
            }
            if !r.is_empty() {
                p.training_ranges.insert(stage, r);
            }
        }
        p.metadata = match &data.metadata {
            Value::Null => None,
            v => Some(v.clone()),
        };
        Ok(p)
    }

    /// [`StepPredictor::train`], plus seeded `k`-fold cross-validation of each stage
    /// ([`crate::cross_validate`]) stored in [`StepPredictor::validation`].
    ///
    /// # Errors
    /// The fit's errors, and [`crate::cross_validate`]'s (`k` outside `2..=rows`).
    pub fn train_with_cv(
        data: &ProfileData,
        trainer: &Trainer,
        k: usize,
        seed: u64,
    ) -> Result<Self> {
        let mut p = Self::train(data, trainer)?;
        for stage in Stage::ALL {
            let (x, y) = data.dataset(stage);
            p.validation
                .insert(stage, crate::cv::cross_validate(trainer, &x, &y, k, seed)?);
        }
        Ok(p)
    }

    /// The ranges of `batch_size` and `input_len` that `stage` was trained on: the stored
    /// [`StepPredictor::training_ranges`], else the min and max of the sweep metadata's
    /// `batch_sizes_tested` and `input_lens_tested` (a seed file keeps the sweep's metadata),
    /// else `None`.
    #[must_use]
    pub fn ranges(&self, stage: Stage) -> Option<TrainingRanges> {
        if let Some(r) = self.training_ranges.get(&stage) {
            return Some(r.clone());
        }
        let meta = self.metadata.as_ref()?;
        let mut r = TrainingRanges::default();
        for (key, name) in [
            ("batch_sizes_tested", "batch_size"),
            ("input_lens_tested", "input_len"),
        ] {
            for v in meta[key].as_array().into_iter().flatten() {
                if let Some(v) = v.as_f64() {
                    r.observe(name, v);
                }
            }
        }
        (!r.is_empty()).then_some(r)
    }

    /// Whether a query lies inside the training ranges of [`StepPredictor::ranges`]
    /// ([`RangeCheck::Unknown`] when there are none).
    ///
    /// # Examples
    /// ```
    /// use perf_predict::{ProfileData, ProfileRow, RangeCheck, Stage, StepPredictor};
    /// let results = [(1.0, 64.0), (8.0, 64.0), (1.0, 512.0), (8.0, 512.0), (4.0, 256.0)]
    ///     .map(|(bs, l)| ProfileRow { batch_size: bs, input_len: l,
    ///         prefill_latency: Some(0.01 + 1e-5 * bs * l), median_decode_latency: Some(0.007 + 1e-4 * bs) })
    ///     .to_vec();
    /// let p = StepPredictor::train_linear(&ProfileData { metadata: serde_json::Value::Null, results })?;
    /// assert_eq!(p.range_check(Stage::Decode, 4.0, 100.0), RangeCheck::Inside);
    /// let RangeCheck::Outside(out) = p.range_check(Stage::Decode, 4e9, 100.0) else { panic!() };
    /// assert_eq!(out[0].to_string(), "batch_size = 4000000000 is outside the training range [1, 8]");
    /// # Ok::<(), perf_predict::PredictError>(())
    /// ```
    #[must_use]
    pub fn range_check(&self, stage: Stage, batch_size: f64, input_len: f64) -> RangeCheck {
        match self.ranges(stage) {
            Some(r) => r.check(&[("batch_size", batch_size), ("input_len", input_len)]),
            None => RangeCheck::Unknown,
        }
    }

    /// The model of `stage`.
    #[must_use]
    pub fn stage(&self, stage: Stage) -> &StageModel {
        match stage {
            Stage::Prefill => &self.prefill,
            Stage::Decode => &self.decode,
        }
    }

    /// The seed's `predict` command: stage time in **ms** for a uniform batch of `batch_size`
    /// requests of `input_len` tokens (model output × 1000, not clamped, as the seed prints it).
    ///
    /// # Errors
    /// [`PredictError::NonFinite`](crate::PredictError::NonFinite) if an argument is not finite;
    /// [`PredictError::InvalidParam`](crate::PredictError::InvalidParam) for a batch size below
    /// 1 or a negative input length.
    pub fn predict_ms(&self, stage: Stage, batch_size: f64, input_len: f64) -> Result<f64> {
        for (name, value, least) in [
            ("batch_size", batch_size, 1.0),
            ("input_len", input_len, 0.0),
        ] {
            if value < least {
                return Err(crate::PredictError::InvalidParam {
                    name,
                    value: value.to_string(),
                    reason: if least > 0.0 {
                        "must be >= 1"
                    } else {
                        "must be >= 0"
                    },
                });
            }
        }
        Ok(self
            .stage(stage)
            .predict_seconds(&stage.features(batch_size, input_len))?
            * 1000.0)
    }
}

/// Seed features of the prefill part of a step, from the [`BatchShape`] aggregates.
///
/// For a uniform batch of `bs` whole prompts of `L` tokens this equals
/// [`Stage::features`]`(bs, L)`; in general (entry `i` computes `nᵢ` new tokens over `kᵢ`
/// cached ones):
/// ```text
/// num_new_tokens     = Σn               = prefill_tokens
/// prod_ext_ctx       = Σn·(k+n)         = prefill_tokens_sq + prefill_cross
/// num_context_tokens = Σ(k+n)           = prefill_cached + prefill_tokens
/// batch_size         = prefill entries  = prefill_seqs
/// ```
#[must_use]
pub fn prefill_features(b: &BatchShape) -> [f64; NUM_FEATURES] {
    [
        b.prefill_tokens as f64,
        b.prefill_tokens_sq as f64 + b.prefill_cross as f64,
        b.prefill_cached as f64 + b.prefill_tokens as f64,
        f64::from(b.prefill_seqs),
    ]
}

/// Seed features of the decode part of a step. For `bs` decodes over `L` cached tokens each
/// this equals [`Stage::features`]`(bs, L)` (the seed takes the context to be the prompt
/// length):
/// ```text
/// num_new_tokens = batch_size = decode_seqs,   prod_ext_ctx = num_context_tokens = decode_context
/// ```
#[must_use]
pub fn decode_features(b: &BatchShape) -> [f64; NUM_FEATURES] {
    let bs = f64::from(b.decode_seqs);
    let ctx = b.decode_context as f64;
    [bs, ctx, ctx, bs]
}

/// Step time in ms.
///
/// * empty step → 0;
/// * prefill only → prefill model on [`prefill_features`];
/// * decode only → decode model on [`decode_features`];
/// * mixed (chunked-prefill) step → the sum of both, minus the smaller of the two biases
///   when both are positive, so the fixed per-step overhead is counted once (the seed never
///   profiled mixed batches; this is our extension).
///
/// The result is clamped at ≥ 0 (a NaN from absurd inputs also becomes 0). A fitted linear model
/// may have negative weights (the reference prefill fit has one on `batch_size`), so the
/// output is not guaranteed to be monotone in every aggregate.
impl StepTimeModel for StepPredictor {
    fn step_time(&self, batch: &BatchShape) -> f64 {
        let has_p = batch.prefill_seqs > 0 || batch.prefill_tokens > 0;
        let has_d = batch.decode_seqs > 0;
        let p = has_p.then(|| self.prefill.predict_unchecked(&prefill_features(batch)));
        let d = has_d.then(|| self.decode.predict_unchecked(&decode_features(batch)));
        let seconds = match (p, d) {
            (None, None) => 0.0,
            (Some(p), None) => p,
            (None, Some(d)) => d,
            (Some(p), Some(d)) => {
                let shared = self.prefill.bias().min(self.decode.bias()).max(0.0);
                p + d - shared
            }
        };
        let ms = seconds * 1000.0;
        if ms.is_nan() { 0.0 } else { ms.max(0.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn toy() -> StepPredictor {
        let p = LinearModel::new(vec![1e-5, 1e-9, 1e-5, -5e-6], 8e-3, None).unwrap();
        let d = LinearModel::new(vec![8e-6, 4e-8, 4e-8, 8e-6], 7e-3, None).unwrap();
        StepPredictor::new(StageModel::Linear(p), StageModel::Linear(d))
    }

    #[test]
    fn batch_shape_mapping_matches_uniform_features() {
        let mut b = BatchShape::default();
        for _ in 0..4 {
            b.add_prefill(512, 0, true);
        }
        let bits = |f: [f64; NUM_FEATURES]| f.map(f64::to_bits);
        assert_eq!(
            bits(prefill_features(&b)),
            bits(Stage::Prefill.features(4.0, 512.0))
        );
        assert_eq!(
            bits(decode_features(&BatchShape::decode(8, 1024))),
            bits(Stage::Decode.features(8.0, 1024.0))
        );
        let p = toy();
        assert_relative_eq!(
            p.step_time(&b),
            p.predict_ms(Stage::Prefill, 4.0, 512.0).unwrap(),
            max_relative = 1e-12
        );
    }

    #[test]
    fn mixed_counts_bias_once_and_clamps() {
        let p = toy();
        let mut b = BatchShape::decode(8, 1024);
        b.add_prefill(512, 0, true);
        let pre = p.predict_ms(Stage::Prefill, 1.0, 512.0).unwrap();
        let dec = p.predict_ms(Stage::Decode, 8.0, 1024.0).unwrap();
        assert_relative_eq!(p.step_time(&b), pre + dec - 7.0, max_relative = 1e-12);
        assert_eq!(
            p.step_time(&BatchShape::default()).to_bits(),
            0f64.to_bits()
        );
        let neg = LinearModel::new(vec![0.0, 0.0, 0.0, -1.0], 0.0, None).unwrap();
        let q = StepPredictor::new(StageModel::Linear(neg.clone()), StageModel::Linear(neg));
        assert_eq!(
            q.step_time(&BatchShape::decode(4, 10)).to_bits(),
            0f64.to_bits()
        );
        let huge = BatchShape {
            prefill_seqs: u32::MAX,
            prefill_tokens: u64::MAX,
            prefill_tokens_sq: u64::MAX,
            ..BatchShape::default()
        };
        assert!(p.step_time(&huge).is_finite());
    }

    #[test]
    fn send_sync_clone() {
        fn ok<T: Send + Sync + Clone>() {}
        ok::<StepPredictor>();
    }
}
