//! The serving tuner's **state model**: step time (`model_execute_time`, ms) from the state of
//! one executed batch, as the seed's simulation mode (`LLMSERVINGTUNER_SIMULATE=true`,
//! msserviceprofiler `modelevalstate`) predicts it with XGBoost.
//!
//! # Features (160, in this order — the seed's column order)
//! ```text
//!   0  batch_stage            label-encoded with sorted classes: decode = 0, prefill = 1
//!   1  batch_size             requests in the batch
//!   2  total_need_blocks      KV-cache blocks of the batch's requests
//!   3  total_prefill_token    Σ input_length (prompt tokens) of the batch's requests
//!   4  max_seq_len            the largest input_length of the batch
//!   5  total_output_length    Σ output_length (tokens generated so far)
//!   6  total_seq_length       total_prefill_token + total_output_length
//!   7 ..  57  input_length__80 … input_length__4000, input_length___inf     (51 counts)
//!  58 .. 108  need_blocks__1 … need_blocks__50, need_blocks___inf           (51 counts)
//! 109 .. 159  output_length__10 … output_length__500, output_length___inf   (51 counts)
//! ```
//! Each histogram counts the batch's requests in 51 bins `[a, b)` with edges 0, w, 2w, …, 50w,
//! ∞ (the last bin closed: `[50w, ∞]`; negative values are not counted), w = 80 for input
//! length, 1 for need blocks, 10 for output length — `numpy.histogram` as the seed calls it.
//! Names are the seed's column labels ([`state_feature_names`]). The batch-level scalars 1–4
//! are taken from the profile as written, not recomputed; in the msserviceprofiler data they
//! equal the sums / maximum of the per-request triples *in decode batches too* (a decode
//! batch's `total_prefill_token` is the Σ of its prompts, and `max_seq_len` its longest
//! prompt), which is what [`StateBatch::from_requests`] computes. The seed's optional static
//! blocks (operators, model, engine config, environment, hardware) are not used.
//!
//! # Training
//! [`StateModel::train`]: a seeded 90/10 split (Fisher–Yates on Xoshiro256++ with `seed`,
//! the first 10 % held out), gradient-boosted trees (crate `gbdt`, squared error on
//! **ln(ms)**, [`GbdtParams`] defaults: 200 trees of depth 4, learning rate 0.1) on the 90 %,
//! MAPE and RMSE (ms) on both parts. The seed fits XGBoost `reg:squarederror` on raw ms with
//! XGBoost's defaults (10 rounds): we keep its features and split but fit the logarithm, as
//! every tree model of this crate does, because step times span two decades (a 150 ms prefill
//! and a 12 ms decode) and the squared error on ln t weighs them by relative error. A seed
//! XGBoost model itself can be used instead ([`StateModel::from_xgboost`]).
//!
//! Predictions outside 1…3000 ms are flagged as the seed flags them (a unit error: a profile
//! in µs read as ms gives 10⁴–10⁵ "ms"): [`StateFit::warnings`], [`is_plausible_ms`].
//!
//! # From a [`BatchShape`] (the simulator's step)
//! A `BatchShape` keeps aggregates, not requests, so only part of the features is exact
//! ([`ShapeApprox::features`]):
//!
//! | feature | from a `BatchShape` |
//! |---|---|
//! | batch_stage | exact: prefill iff prefill tokens > 0 and no decode (mixed → decode) |
//! | batch_size | exact: prefill + decode entries |
//! | total_seq_length | exact: Σ(k + n) over prefills + Σk over decodes |
//! | total_prefill_token, total_output_length | exact for prefill-only steps (no output yet); for decodes the split of the context Σk into prompt and output is unknown and is taken as `decode_output_fraction` of it, the ratio Σ output / Σ sequence over the training decode batches |
//! | max_seq_len | the prefill group's n-weighted mean chunk Σn²/Σn plus its mean cached prefix (exact for uniform prefills, otherwise a lower bound), and the decode group's mean prompt; the larger of the two |
//! | total_need_blocks, need_blocks histogram | ⌈mean sequence × `blocks_per_token`⌉ per request, `blocks_per_token` = Σ blocks / Σ sequence over the training batches (the data's effective block size) |
//! | the three histograms | each group (prefill entries, decode entries) is taken as uniform: all its requests fall in the bin of the group's mean |
//!
//! So a batch of identical requests maps exactly (up to the output/prompt split of decodes and
//! the block count), and a mixed-length batch maps to its uniform equivalent. Trees are not
//! monotone: the step time is not guaranteed to be non-decreasing in every aggregate.

use perf_model_core::{BatchShape, StepTimeModel};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cv::{Metrics, permutation};
use crate::error::{PredictError, Result};
use crate::linear::Stage;
use crate::ranges::{RangeCheck, TrainingRanges};
use crate::trees::{GbdtModel, GbdtParams};
use crate::xgboost::XgbModel;

/// Number of bins of each request histogram.
pub const NUM_BINS: usize = 51;

/// The three request histograms: the per-request field and its bin width.
pub const HISTOGRAMS: [(&str, f64); 3] = [
    ("input_length", 80.0),
    ("need_blocks", 1.0),
    ("output_length", 10.0),
];

/// The seven batch-level features, in order.
pub const SCALAR_NAMES: [&str; 7] = [
    "batch_stage",
    "batch_size",
    "total_need_blocks",
    "total_prefill_token",
    "max_seq_len",
    "total_output_length",
    "total_seq_length",
];

/// Number of state-model features: 7 scalars and 3 × 51 histogram counts.
pub const NUM_STATE_FEATURES: usize = SCALAR_NAMES.len() + HISTOGRAMS.len() * NUM_BINS;

/// The scalars whose training range is stored and checked (all but `batch_stage`).
pub const RANGE_NAMES: [&str; 6] = [
    "batch_size",
    "total_need_blocks",
    "total_prefill_token",
    "max_seq_len",
    "total_output_length",
    "total_seq_length",
];

/// Step times the seed accepts as plausible, ms; outside, it reports a unit error.
pub const PLAUSIBLE_MS: (f64, f64) = (1.0, 3000.0);

/// `(name, value)` of the [`RANGE_NAMES`] scalars of one batch.
type RangeValues = [(&'static str, f64); 6];

/// Whether `ms` lies in [`PLAUSIBLE_MS`].
#[must_use]
pub fn is_plausible_ms(ms: f64) -> bool {
    ms >= PLAUSIBLE_MS.0 && ms <= PLAUSIBLE_MS.1
}

/// The 160 feature names, the seed's column labels (`batch_stage`, …, `input_length__80`, …,
/// `input_length__4000`, `input_length___inf`, `need_blocks__1`, …).
///
/// # Examples
/// ```
/// let names = perf_predict::state::state_feature_names();
/// assert_eq!(names.len(), 160);
/// assert_eq!(names[7], "input_length__80");
/// assert_eq!(names[57], "input_length___inf");
/// assert_eq!(names[159], "output_length___inf");
/// ```
#[must_use]
pub fn state_feature_names() -> Vec<String> {
    let mut names: Vec<String> = SCALAR_NAMES.iter().map(|s| (*s).to_owned()).collect();
    for (field, width) in HISTOGRAMS {
        for i in 1..NUM_BINS {
            names.push(format!("{field}__{}", width * i as f64));
        }
        names.push(format!("{field}___inf"));
    }
    names
}

/// The histogram bin of `value` for bins of `width` (`None` for negative or NaN values, which
/// `numpy.histogram` does not count).
fn bin(value: f64, width: f64) -> Option<usize> {
    if value.is_nan() || value < 0.0 {
        return None;
    }
    let last = NUM_BINS - 1;
    if value >= width * last as f64 {
        return Some(last);
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 0 ≤ v/w < 50
    let mut k = (value / width).floor() as usize;
    // Guard the division's rounding against the edge comparisons numpy makes.
    if k > 0 && value < width * k as f64 {
        k -= 1;
    } else if k < last && value >= width * (k + 1) as f64 {
        k += 1;
    }
    Some(k.min(last))
}

/// One request of a batch: `(input_length, need_blocks, output_length)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StateRequest {
    /// Prompt tokens.
    pub input_length: f64,
    /// KV-cache blocks the request holds.
    pub need_blocks: f64,
    /// Tokens generated so far (0 in its prefill batch).
    pub output_length: f64,
}

/// The state of one executed batch: the seed's batch tuple and its per-request triples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateBatch {
    /// `batch_stage`.
    pub stage: Stage,
    /// `batch_size`.
    pub batch_size: f64,
    /// `total_need_blocks`.
    pub total_need_blocks: f64,
    /// `total_prefill_token` (Σ prompt lengths in the msserviceprofiler data).
    pub total_prefill_token: f64,
    /// `max_seq_len` (the longest prompt in the msserviceprofiler data).
    pub max_seq_len: f64,
    /// The requests (the histograms and `total_output_length` come from them).
    pub requests: Vec<StateRequest>,
}

impl StateBatch {
    /// A batch whose scalars are computed from its requests as the msserviceprofiler data
    /// has them: `batch_size` = count, `total_need_blocks` = Σ need_blocks,
    /// `total_prefill_token` = Σ input_length, `max_seq_len` = max input_length.
    #[must_use]
    pub fn from_requests(stage: Stage, requests: Vec<StateRequest>) -> Self {
        Self {
            stage,
            batch_size: requests.len() as f64,
            total_need_blocks: requests.iter().map(|r| r.need_blocks).sum(),
            total_prefill_token: requests.iter().map(|r| r.input_length).sum(),
            max_seq_len: requests.iter().map(|r| r.input_length).fold(0.0, f64::max),
            requests,
        }
    }

    /// `total_output_length`: Σ output_length of the requests.
    #[must_use]
    pub fn total_output_length(&self) -> f64 {
        self.requests.iter().map(|r| r.output_length).sum()
    }

    /// Checks that every value is finite and ≥ 0.
    ///
    /// # Errors
    /// [`PredictError::NonFinite`] or [`PredictError::InvalidParam`] naming the field (and the
    /// request index).
    pub fn check(&self) -> Result<()> {
        let scalars = [
            ("batch_size", self.batch_size),
            ("total_need_blocks", self.total_need_blocks),
            ("total_prefill_token", self.total_prefill_token),
            ("max_seq_len", self.max_seq_len),
        ];
        let mut values: Vec<(String, f64)> =
            scalars.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect();
        for (i, r) in self.requests.iter().enumerate() {
            values.push((format!("requests[{i}].input_length"), r.input_length));
            values.push((format!("requests[{i}].need_blocks"), r.need_blocks));
            values.push((format!("requests[{i}].output_length"), r.output_length));
        }
        for (field, value) in values {
            if !value.is_finite() {
                return Err(PredictError::NonFinite {
                    row: 0,
                    field,
                    value,
                });
            }
            if value < 0.0 {
                return Err(PredictError::InvalidParam {
                    name: "state batch",
                    value: format!("{field} = {value}"),
                    reason: "must be >= 0",
                });
            }
        }
        Ok(())
    }

    /// The 160 features (see the module documentation for the order).
    ///
    /// # Errors
    /// As [`StateBatch::check`].
    ///
    /// # Examples
    /// ```
    /// use perf_predict::Stage;
    /// use perf_predict::state::{StateBatch, StateRequest};
    /// let r = |i, b, o| StateRequest { input_length: i, need_blocks: b, output_length: o };
    /// let batch = StateBatch::from_requests(Stage::Decode, vec![r(1015.0, 19.0, 3.0), r(208.0, 20.0, 3.0)]);
    /// let x = batch.features()?;
    /// assert_eq!(&x[..7], &[0.0, 2.0, 39.0, 1223.0, 1015.0, 6.0, 1229.0]);
    /// assert_eq!((x[7 + 12], x[7 + 2]), (1.0, 1.0));     // 1015 in [960, 1040), 208 in [160, 240)
    /// assert_eq!((x[58 + 19], x[58 + 20]), (1.0, 1.0));  // need_blocks 19 and 20
    /// assert_eq!(x[109], 2.0);                            // both outputs in [0, 10)
    /// # Ok::<(), perf_predict::PredictError>(())
    /// ```
    pub fn features(&self) -> Result<Vec<f64>> {
        self.check()?;
        let groups: Vec<(f64, StateRequest)> = self.requests.iter().map(|r| (1.0, *r)).collect();
        let total_output = self.total_output_length();
        Ok(assemble(
            self.stage,
            [
                self.batch_size,
                self.total_need_blocks,
                self.total_prefill_token,
                self.max_seq_len,
                total_output,
            ],
            &groups,
        ))
    }

    /// `(name, value)` of the scalars with a stored range ([`RANGE_NAMES`]).
    fn range_values(&self) -> RangeValues {
        let out = self.total_output_length();
        [
            ("batch_size", self.batch_size),
            ("total_need_blocks", self.total_need_blocks),
            ("total_prefill_token", self.total_prefill_token),
            ("max_seq_len", self.max_seq_len),
            ("total_output_length", out),
            ("total_seq_length", self.total_prefill_token + out),
        ]
    }
}

/// Features and range values of `batch_size` identical requests (not materialised, so any
/// batch size is cheap), with the scalars computed as [`StateBatch::from_requests`] does.
fn uniform_parts(
    stage: Stage,
    batch_size: f64,
    request: &StateRequest,
) -> Result<(Vec<f64>, RangeValues)> {
    let one = StateBatch {
        stage,
        batch_size,
        total_need_blocks: 0.0,
        total_prefill_token: 0.0,
        max_seq_len: 0.0,
        requests: vec![*request],
    };
    one.check()?;
    let n = batch_size;
    let scalars = [
        n,
        n * request.need_blocks,
        n * request.input_length,
        request.input_length,
        n * request.output_length,
    ];
    for (name, v) in SCALAR_NAMES[1..6].iter().zip(scalars) {
        if !v.is_finite() {
            return Err(PredictError::NonFinite {
                row: 0,
                field: (*name).to_owned(),
                value: v,
            });
        }
    }
    let x = assemble(stage, scalars, &[(n, *request)]);
    let values = [
        ("batch_size", scalars[0]),
        ("total_need_blocks", scalars[1]),
        ("total_prefill_token", scalars[2]),
        ("max_seq_len", scalars[3]),
        ("total_output_length", scalars[4]),
        ("total_seq_length", scalars[2] + scalars[4]),
    ];
    Ok((x, values))
}

/// The feature vector from the scalars `[batch_size, total_need_blocks, total_prefill_token,
/// max_seq_len, total_output_length]` and weighted request groups `(count, request)`.
fn assemble(stage: Stage, s: [f64; 5], groups: &[(f64, StateRequest)]) -> Vec<f64> {
    let mut x = Vec::with_capacity(NUM_STATE_FEATURES);
    x.push(match stage {
        Stage::Decode => 0.0,
        Stage::Prefill => 1.0,
    });
    x.extend_from_slice(&s);
    x.push(s[2] + s[4]);
    for (h, (_, width)) in HISTOGRAMS.iter().enumerate() {
        let mut counts = [0.0; NUM_BINS];
        for (count, r) in groups {
            let v = match h {
                0 => r.input_length,
                1 => r.need_blocks,
                _ => r.output_length,
            };
            if let Some(b) = bin(v, *width) {
                counts[b] += count;
            }
        }
        x.extend_from_slice(&counts);
    }
    x
}

/// One training row: a batch and its measured step time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateSample {
    /// The batch.
    pub batch: StateBatch,
    /// `model_execute_time`, **ms**.
    pub model_execute_ms: f64,
}

/// How a [`BatchShape`] is turned into a [`StateBatch`] (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShapeApprox {
    /// KV blocks per sequence token; a request of `s` tokens holds ⌈s · this⌉ blocks.
    pub blocks_per_token: f64,
    /// Fraction of a decode's context that is generated output (the rest is its prompt).
    pub decode_output_fraction: f64,
}

impl Default for ShapeApprox {
    /// 128-token blocks (MindIE's and vLLM-Ascend's default) and an even prompt/output split,
    /// for models without training data (an imported XGBoost model).
    fn default() -> Self {
        Self {
            blocks_per_token: 1.0 / 128.0,
            decode_output_fraction: 0.5,
        }
    }
}

impl ShapeApprox {
    /// Estimates both ratios from training batches: Σ blocks / Σ sequence tokens over all
    /// batches, Σ output / Σ sequence over decode batches (defaults where a sum is 0).
    #[must_use]
    pub fn from_samples(samples: &[StateSample]) -> Self {
        let d = Self::default();
        let (mut blocks, mut seq, mut d_out, mut d_seq) = (0.0, 0.0, 0.0, 0.0);
        for s in samples {
            let b = &s.batch;
            let out = b.total_output_length();
            blocks += b.total_need_blocks;
            seq += b.total_prefill_token + out;
            if b.stage == Stage::Decode {
                d_out += out;
                d_seq += b.total_prefill_token + out;
            }
        }
        let ratio = |a: f64, b: f64, default: f64| {
            let r = a / b;
            if b > 0.0 && r.is_finite() && r > 0.0 {
                r
            } else {
                default
            }
        };
        Self {
            blocks_per_token: ratio(blocks, seq, d.blocks_per_token),
            decode_output_fraction: ratio(d_out, d_seq, d.decode_output_fraction).min(1.0),
        }
    }

    /// Checks `blocks_per_token > 0` and `decode_output_fraction` in `[0, 1]`, both finite.
    ///
    /// # Errors
    /// [`PredictError::InvalidParam`] naming the parameter.
    pub fn check(&self) -> Result<()> {
        if !(self.blocks_per_token.is_finite() && self.blocks_per_token > 0.0) {
            return Err(PredictError::InvalidParam {
                name: "blocks_per_token",
                value: self.blocks_per_token.to_string(),
                reason: "must be finite and > 0",
            });
        }
        if !(0.0..=1.0).contains(&self.decode_output_fraction) {
            return Err(PredictError::InvalidParam {
                name: "decode_output_fraction",
                value: self.decode_output_fraction.to_string(),
                reason: "must be in [0, 1]",
            });
        }
        Ok(())
    }

    /// Blocks of a request of `tokens` sequence tokens.
    fn blocks(&self, tokens: f64) -> f64 {
        (tokens * self.blocks_per_token).ceil()
    }

    /// The features of a step (`None` for an empty step), with the scalars of range checks.
    fn shape_features(&self, b: &BatchShape) -> Option<(Vec<f64>, RangeValues)> {
        let np = if b.prefill_seqs == 0 && b.prefill_tokens > 0 {
            1.0
        } else {
            f64::from(b.prefill_seqs)
        };
        let nd = f64::from(b.decode_seqs);
        if np + nd == 0.0 {
            return None;
        }
        let stage = if b.prefill_tokens > 0 && b.decode_seqs == 0 {
            Stage::Prefill
        } else {
            Stage::Decode
        };
        let mut groups = Vec::with_capacity(2);
        let (mut total_in, mut total_out, mut total_blocks, mut max_len) = (0.0, 0.0, 0.0, 0.0);
        if np > 0.0 {
            let new = b.prefill_tokens as f64;
            let cached = b.prefill_cached as f64;
            let input = (new + cached) / np;
            let longest = if new > 0.0 {
                b.prefill_tokens_sq as f64 / new + cached / np
            } else {
                input
            };
            let blocks = self.blocks(input);
            groups.push((
                np,
                StateRequest {
                    input_length: input,
                    need_blocks: blocks,
                    output_length: 0.0,
                },
            ));
            total_in += new + cached;
            total_blocks += np * blocks;
            max_len = longest.max(input);
        }
        if nd > 0.0 {
            let seq = b.decode_context as f64 / nd;
            let output = seq * self.decode_output_fraction;
            let input = seq - output;
            let blocks = self.blocks(seq);
            groups.push((
                nd,
                StateRequest {
                    input_length: input,
                    need_blocks: blocks,
                    output_length: output,
                },
            ));
            total_in += nd * input;
            total_out += nd * output;
            total_blocks += nd * blocks;
            max_len = f64::max(max_len, input);
        }
        let batch_size = np + nd;
        let x = assemble(
            stage,
            [batch_size, total_blocks, total_in, max_len, total_out],
            &groups,
        );
        let ranges = [
            ("batch_size", batch_size),
            ("total_need_blocks", total_blocks),
            ("total_prefill_token", total_in),
            ("max_seq_len", max_len),
            ("total_output_length", total_out),
            ("total_seq_length", total_in + total_out),
        ];
        Some((x, ranges))
    }

    /// The 160 features of a simulator step (`None` for an empty step), approximated as the
    /// module documentation describes.
    ///
    /// # Examples
    /// ```
    /// use perf_model_core::BatchShape;
    /// use perf_predict::state::ShapeApprox;
    /// let a = ShapeApprox { blocks_per_token: 1.0 / 128.0, decode_output_fraction: 0.25 };
    /// // 8 decodes over 1024 cached tokens each: 768 prompt + 256 output tokens, 8 blocks.
    /// let x = a.features(&BatchShape::decode(8, 1024)).unwrap();
    /// assert_eq!(&x[..7], &[0.0, 8.0, 64.0, 6144.0, 768.0, 2048.0, 8192.0]);
    /// assert_eq!((x[7 + 9], x[58 + 8], x[109 + 25]), (8.0, 8.0, 8.0));
    /// ```
    #[must_use]
    pub fn features(&self, b: &BatchShape) -> Option<Vec<f64>> {
        self.shape_features(b).map(|(x, _)| x)
    }
}

/// The regressor of a [`StateModel`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum StateRegressor {
    /// Boosted trees trained here on ln(ms); predicts ms.
    Gbdt(GbdtModel),
    /// A model exported by XGBoost (the seed's own state model, for instance).
    Xgboost {
        /// The trees.
        model: XgbModel,
        /// Milliseconds per unit of the model's output (1 for a model of ms, 0.001 for µs).
        ms_per_unit: f64,
    },
}

impl StateRegressor {
    /// `gbdt` or `xgboost`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Gbdt(_) => "gbdt",
            Self::Xgboost { .. } => "xgboost",
        }
    }

    fn num_features(&self) -> usize {
        match self {
            Self::Gbdt(m) => m.num_features(),
            Self::Xgboost { model, .. } => model.num_features(),
        }
    }

    fn predict_ms(&self, x: &[f64]) -> Result<f64> {
        match self {
            Self::Gbdt(m) => {
                if x.len() == NUM_STATE_FEATURES
                    && let Some(i) = x.iter().position(|v| !v.is_finite())
                {
                    return Err(PredictError::NonFinite {
                        row: 0,
                        field: state_feature_names().swap_remove(i),
                        value: x[i],
                    });
                }
                m.predict(x)
            }
            Self::Xgboost { model, ms_per_unit } => Ok(model.predict(x)? * ms_per_unit),
        }
    }
}

/// Train and held-out scores of a [`StateModel`] (ms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateValidation {
    /// Seed of the split.
    pub seed: u64,
    /// Fraction held out.
    pub test_fraction: f64,
    /// Scores on the training rows.
    pub train: Metrics,
    /// Scores on the held-out rows.
    pub test: Metrics,
}

/// Hyper-parameters of [`StateModel::train`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateTrainParams {
    /// The boosted trees.
    pub gbdt: GbdtParams,
    /// Fraction of rows held out (the seed's `test_size`, 0.1).
    pub test_fraction: f64,
    /// Seed of the split.
    pub seed: u64,
}

impl Default for StateTrainParams {
    /// [`GbdtParams::default`], 10 % held out, seed 2024.
    fn default() -> Self {
        Self {
            gbdt: GbdtParams::default(),
            test_fraction: 0.1,
            seed: 2024,
        }
    }
}

/// A state model: a regressor on the 160 state features, predicting ms per step, with what
/// is needed to use it from a [`BatchShape`] and to warn when a query extrapolates.
///
/// # Examples
/// ```
/// use perf_model_core::{BatchShape, StepTimeModel};
/// use perf_predict::Stage;
/// use perf_predict::state::{StateBatch, StateModel, StateRequest, StateSample, StateTrainParams};
/// # let mut samples = Vec::new();
/// # for bs in 1..=12u32 { for len in [100.0, 400.0, 900.0] { for out in [0.0, 20.0, 60.0] {
/// #   let stage = if out == 0.0 { Stage::Prefill } else { Stage::Decode };
/// #   let r = StateRequest { input_length: len, need_blocks: (len / 64.0).ceil(), output_length: out };
/// #   let batch = StateBatch::from_requests(stage, vec![r; bs as usize]);
/// #   let ms = if out == 0.0 { 10.0 + 0.02 * len * f64::from(bs) } else { 8.0 + 0.4 * f64::from(bs) };
/// #   samples.push(StateSample { batch, model_execute_ms: ms });
/// # } } }
/// let mut params = StateTrainParams::default();
/// params.gbdt.trees = 50;
/// let fit = StateModel::train(&samples, &params)?;
/// let v = fit.model.validation.as_ref().unwrap();
/// assert!(v.test.mape < 20.0, "{v:?}");
/// let ms = fit.model.step_time(&BatchShape::decode(6, 450));
/// assert!(ms > 5.0 && ms < 20.0, "{ms}");
/// # Ok::<(), perf_predict::PredictError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawStateModel")]
pub struct StateModel {
    /// The regressor (160 features → ms).
    pub regressor: StateRegressor,
    /// How simulator steps are mapped to features.
    pub approximation: ShapeApprox,
    /// Ranges of [`RANGE_NAMES`] over the training rows (empty for an imported model).
    #[serde(default, skip_serializing_if = "TrainingRanges::is_empty")]
    pub training_ranges: TrainingRanges,
    /// Train / held-out scores, when trained here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<StateValidation>,
    /// Free-form provenance (source file, its time unit, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

#[derive(Deserialize)]
struct RawStateModel {
    regressor: StateRegressor,
    approximation: ShapeApprox,
    #[serde(default)]
    training_ranges: TrainingRanges,
    #[serde(default)]
    validation: Option<StateValidation>,
    #[serde(default)]
    metadata: Option<Value>,
}

impl TryFrom<RawStateModel> for StateModel {
    type Error = String;
    fn try_from(r: RawStateModel) -> std::result::Result<Self, String> {
        let m = Self {
            regressor: r.regressor,
            approximation: r.approximation,
            training_ranges: r.training_ranges,
            validation: r.validation,
            metadata: r.metadata,
        };
        m.check().map_err(|e| e.to_string())?;
        Ok(m)
    }
}

/// The result of [`StateModel::train`]: the model and the rows outside the plausible range.
#[derive(Clone, Debug, PartialEq)]
pub struct StateFit {
    /// The trained model.
    pub model: StateModel,
    /// Indices (into the samples) of measured step times outside [`PLAUSIBLE_MS`].
    pub implausible_targets: Vec<usize>,
    /// Indices of rows whose prediction is outside [`PLAUSIBLE_MS`].
    pub implausible_predictions: Vec<usize>,
    /// Number of samples.
    pub rows: usize,
}

impl StateFit {
    /// One warning per kind of implausible value, naming the count and the first rows.
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        let (lo, hi) = PLAUSIBLE_MS;
        let list = |v: &[usize]| {
            let mut s: Vec<String> = v.iter().take(5).map(ToString::to_string).collect();
            if v.len() > 5 {
                s.push("…".into());
            }
            s.join(", ")
        };
        let mut out = Vec::new();
        for (what, rows) in [
            ("measured step times", &self.implausible_targets),
            ("predictions", &self.implausible_predictions),
        ] {
            if !rows.is_empty() {
                out.push(format!(
                    "{} of {} {what} are outside {lo}…{hi} ms (rows {}): a unit error? \
                     (the seed flags this range; msserviceprofiler profiles are in µs)",
                    rows.len(),
                    self.rows,
                    list(rows)
                ));
            }
        }
        out
    }
}

impl StateModel {
    /// Checks the feature count and the approximation parameters.
    ///
    /// # Errors
    /// [`PredictError::FeatureCount`] unless the regressor takes [`NUM_STATE_FEATURES`];
    /// [`ShapeApprox::check`]'s errors; [`PredictError::InvalidParam`] for a non-finite or
    /// non-positive `ms_per_unit`.
    pub fn check(&self) -> Result<()> {
        let n = self.regressor.num_features();
        if n != NUM_STATE_FEATURES {
            return Err(PredictError::FeatureCount {
                row: 0,
                expected: NUM_STATE_FEATURES,
                got: n,
            });
        }
        if let StateRegressor::Xgboost { ms_per_unit, .. } = &self.regressor
            && !(ms_per_unit.is_finite() && *ms_per_unit > 0.0)
        {
            return Err(PredictError::InvalidParam {
                name: "ms_per_unit",
                value: ms_per_unit.to_string(),
                reason: "must be finite and > 0",
            });
        }
        self.approximation.check()
    }

    /// Wraps an XGBoost model trained on the 160 state features; its output times
    /// `ms_per_unit` is ms. No training ranges are known; the approximation is
    /// [`ShapeApprox::default`] (change it with the public field).
    ///
    /// # Errors
    /// As [`StateModel::check`] (a model with another feature count, in particular).
    pub fn from_xgboost(model: XgbModel, ms_per_unit: f64) -> Result<Self> {
        let m = Self {
            regressor: StateRegressor::Xgboost { model, ms_per_unit },
            approximation: ShapeApprox::default(),
            training_ranges: TrainingRanges::default(),
            validation: None,
            metadata: None,
        };
        m.check()?;
        Ok(m)
    }

    /// Trains on `samples` as the module documentation describes: seeded split, boosted
    /// trees on the training part, scores on both, ranges and the [`ShapeApprox`] from the
    /// training part, plausibility of targets and predictions over all rows.
    ///
    /// # Errors
    /// [`PredictError::TooFewRows`] with fewer than 4 samples; [`PredictError::InvalidParam`]
    /// for a `test_fraction` outside (0, 1), a step time ≤ 0 (named with its row) or bad
    /// GBDT parameters; [`StateBatch::check`]'s errors (with the row); the fit's errors.
    pub fn train(samples: &[StateSample], params: &StateTrainParams) -> Result<StateFit> {
        let n = samples.len();
        if n < 4 {
            return Err(PredictError::TooFewRows { needed: 4, got: n });
        }
        let tf = params.test_fraction;
        if !(tf > 0.0 && tf < 1.0) {
            return Err(PredictError::InvalidParam {
                name: "test_fraction",
                value: tf.to_string(),
                reason: "must be in (0, 1)",
            });
        }
        let mut x = Vec::with_capacity(n);
        for (i, s) in samples.iter().enumerate() {
            let t = s.model_execute_ms;
            if !(t.is_finite() && t > 0.0) {
                return Err(PredictError::InvalidParam {
                    name: "model_execute_time",
                    value: format!("row {i}: {t}"),
                    reason: "step times must be finite and > 0 (the trees fit ln t)",
                });
            }
            x.push(s.batch.features().map_err(|e| match e {
                PredictError::NonFinite { field, value, .. } => PredictError::NonFinite {
                    row: i,
                    field,
                    value,
                },
                PredictError::InvalidParam {
                    name,
                    value,
                    reason,
                } => PredictError::InvalidParam {
                    name,
                    value: format!("row {i}: {value}"),
                    reason,
                },
                other => other,
            })?);
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 0 < tf < 1
        let n_test = ((tf * n as f64).round() as usize).clamp(1, n - 2);
        let perm = permutation(n, params.seed);
        let (test, train) = perm.split_at(n_test);
        let pick = |idx: &[usize]| -> (Vec<Vec<f64>>, Vec<f64>) {
            idx.iter()
                .map(|&i| (x[i].clone(), samples[i].model_execute_ms))
                .unzip()
        };
        let (tx, ty) = pick(train);
        let (vx, vy) = pick(test);
        let gbdt = params.gbdt.fit(&tx, &ty)?;
        let train_samples: Vec<StateSample> = train.iter().map(|&i| samples[i].clone()).collect();
        let mut ranges = TrainingRanges::default();
        for s in &train_samples {
            for (name, v) in s.batch.range_values() {
                ranges.observe(name, v);
            }
        }
        let model = StateModel {
            regressor: StateRegressor::Gbdt(gbdt),
            approximation: ShapeApprox::from_samples(&train_samples),
            training_ranges: ranges,
            validation: None,
            metadata: None,
        };
        let predict_all = |xs: &[Vec<f64>]| -> Result<Vec<f64>> {
            xs.iter().map(|r| model.regressor.predict_ms(r)).collect()
        };
        let train_m = Metrics::score(&ty, &predict_all(&tx)?);
        let test_m = Metrics::score(&vy, &predict_all(&vx)?);
        let all = predict_all(&x)?;
        let implausible_targets = samples
            .iter()
            .enumerate()
            .filter(|(_, s)| !is_plausible_ms(s.model_execute_ms))
            .map(|(i, _)| i)
            .collect();
        let implausible_predictions = all
            .iter()
            .enumerate()
            .filter(|(_, p)| !is_plausible_ms(**p))
            .map(|(i, _)| i)
            .collect();
        let mut model = model;
        model.validation = Some(StateValidation {
            seed: params.seed,
            test_fraction: tf,
            train: train_m,
            test: test_m,
        });
        tracing::debug!(rows = n, test = n_test, "state model trained");
        Ok(StateFit {
            model,
            implausible_targets,
            implausible_predictions,
            rows: n,
        })
    }

    /// Predicted step time of `batch`, ms (not clamped).
    ///
    /// # Errors
    /// As [`StateBatch::check`]; [`PredictError::Model`]-free otherwise.
    pub fn predict_ms(&self, batch: &StateBatch) -> Result<f64> {
        self.regressor.predict_ms(&batch.features()?)
    }

    /// Predicted step time from a raw feature row (160 values), ms.
    ///
    /// # Errors
    /// [`PredictError::FeatureCount`], or [`PredictError::NonFinite`] for the GBDT.
    pub fn predict_features_ms(&self, x: &[f64]) -> Result<f64> {
        self.regressor.predict_ms(x)
    }

    /// Predicted step time of `batch_size` identical requests, ms (the batch is not
    /// materialised: its features are those of [`StateBatch::from_requests`] on
    /// `batch_size` copies of `request`).
    ///
    /// # Errors
    /// [`PredictError::NonFinite`] / [`PredictError::InvalidParam`] for a non-finite or
    /// negative value (or an overflowing total).
    ///
    /// # Examples
    /// ```
    /// # use perf_predict::{Stage, StateModel, StateRequest, StateBatch, XgbModel};
    /// # let json = r#"{"learner": {"learner_model_param": {"base_score": "0", "num_feature": "160"},
    /// #   "objective": {"name": "reg:squarederror"}, "gradient_booster": {"model": {"trees": [
    /// #   {"left_children": [1, -1, -1], "right_children": [2, -1, -1], "split_indices": [1, 0, 0],
    /// #    "split_conditions": [4.5, 10.0, 20.0], "default_left": [0, 0, 0]}]}}}}"#;
    /// let m = StateModel::from_xgboost(XgbModel::from_json_str(json, "m.json".as_ref())?, 1.0)?;
    /// let r = StateRequest { input_length: 500.0, need_blocks: 4.0, output_length: 20.0 };
    /// assert_eq!(m.predict_uniform_ms(Stage::Decode, 8.0, &r)?, 20.0);
    /// let batch = StateBatch::from_requests(Stage::Decode, vec![r; 8]);
    /// assert_eq!(m.predict_ms(&batch)?, 20.0);
    /// assert_eq!(m.predict_uniform_ms(Stage::Decode, 4e9, &r)?, 20.0); // trees extrapolate flat
    /// # Ok::<(), perf_predict::PredictError>(())
    /// ```
    pub fn predict_uniform_ms(
        &self,
        stage: Stage,
        batch_size: f64,
        request: &StateRequest,
    ) -> Result<f64> {
        let (x, _) = uniform_parts(stage, batch_size, request)?;
        self.regressor.predict_ms(&x)
    }

    /// [`StateModel::range_check`] of `batch_size` identical requests (an invalid batch is
    /// [`RangeCheck::Unknown`]).
    #[must_use]
    pub fn range_check_uniform(
        &self,
        stage: Stage,
        batch_size: f64,
        request: &StateRequest,
    ) -> RangeCheck {
        match uniform_parts(stage, batch_size, request) {
            Ok((_, values)) => self.training_ranges.check(&values),
            Err(_) => RangeCheck::Unknown,
        }
    }

    /// [`StateModel::range_check`] of a raw feature row (its scalars 1–6; `Unknown` for a
    /// row that is not 160 wide).
    #[must_use]
    pub fn range_check_features(&self, x: &[f64]) -> RangeCheck {
        if x.len() != NUM_STATE_FEATURES {
            return RangeCheck::Unknown;
        }
        let values: Vec<(&str, f64)> = RANGE_NAMES
            .iter()
            .copied()
            .zip(x[1..7].iter().copied())
            .collect();
        self.training_ranges.check(&values)
    }

    /// Whether `batch` lies inside the training ranges of the main scalars.
    #[must_use]
    pub fn range_check(&self, batch: &StateBatch) -> RangeCheck {
        self.training_ranges.check(&batch.range_values())
    }

    /// Whether a simulator step maps inside the training ranges (empty steps are inside).
    #[must_use]
    pub fn shape_range_check(&self, b: &BatchShape) -> RangeCheck {
        match self.approximation.shape_features(b) {
            Some((_, values)) => self.training_ranges.check(&values),
            None => RangeCheck::Inside,
        }
    }
}

/// Step time in ms of a simulator step: the regressor on [`ShapeApprox::features`]; 0 for an
/// empty step; clamped at ≥ 0, and a failed prediction (logged) gives 0.
impl StepTimeModel for StateModel {
    fn step_time(&self, batch: &BatchShape) -> f64 {
        let Some(x) = self.approximation.features(batch) else {
            return 0.0;
        };
        match self.regressor.predict_ms(&x) {
            Ok(ms) if ms.is_finite() => ms.max(0.0),
            Ok(_) => 0.0,
            Err(e) => {
                tracing::warn!(error = %e, "state model prediction failed");
                0.0
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values in, exact values out
mod tests {
    use super::*;

    #[test]
    fn bins_follow_numpy_edges() {
        assert_eq!(bin(0.0, 80.0), Some(0));
        assert_eq!(bin(79.999, 80.0), Some(0));
        assert_eq!(bin(80.0, 80.0), Some(1));
        assert_eq!(bin(3999.0, 80.0), Some(49));
        assert_eq!(bin(4000.0, 80.0), Some(50));
        assert_eq!(bin(f64::INFINITY, 80.0), Some(50));
        assert_eq!(bin(-1.0, 80.0), None);
        assert_eq!(bin(f64::NAN, 1.0), None);
        assert_eq!(bin(19.0, 1.0), Some(19));
        // Edges are compared as computed, k·w: 3 · 0.1 = 0.30000000000000004 > 0.3.
        assert_eq!(bin(0.3, 0.1), Some(2));
        assert_eq!(bin(0.7, 0.1), Some(6));
        assert_eq!(bin(0.75, 0.1), Some(7));
        assert_eq!(NUM_STATE_FEATURES, 160);
    }

    #[test]
    fn uniform_shape_matches_uniform_batch() {
        let a = ShapeApprox {
            blocks_per_token: 1.0 / 16.0,
            decode_output_fraction: 0.0,
        };
        let mut b = BatchShape::default();
        for _ in 0..3 {
            b.add_prefill(500, 0, true);
        }
        let r = StateRequest {
            input_length: 500.0,
            need_blocks: 32.0,
            output_length: 0.0,
        };
        let exact = StateBatch::from_requests(Stage::Prefill, vec![r; 3]);
        assert_eq!(a.features(&b).unwrap(), exact.features().unwrap());
        assert!(a.features(&BatchShape::default()).is_none());
        // A mixed step is a decode step.
        let mut m = BatchShape::decode(2, 100);
        m.add_prefill(50, 0, true);
        assert_eq!(a.features(&m).unwrap()[0], 0.0);
        // Absurd aggregates stay finite.
        let huge = BatchShape {
            prefill_seqs: u32::MAX,
            prefill_tokens: u64::MAX,
            prefill_tokens_sq: u64::MAX,
            decode_seqs: u32::MAX,
            decode_context: u64::MAX,
            ..BatchShape::default()
        };
        assert!(a.features(&huge).unwrap().iter().all(|v| v.is_finite()));
    }

    #[test]
    fn bad_batches_name_the_field() {
        let mut b = StateBatch::from_requests(
            Stage::Decode,
            vec![StateRequest {
                input_length: 10.0,
                need_blocks: 1.0,
                output_length: 1.0,
            }],
        );
        b.requests[0].output_length = -2.0;
        let e = b.features().unwrap_err().to_string();
        assert!(e.contains("requests[0].output_length = -2"), "{e}");
        b.requests[0].output_length = f64::NAN;
        assert!(matches!(
            b.features(),
            Err(PredictError::NonFinite { field, .. }) if field == "requests[0].output_length"
        ));
    }
}
