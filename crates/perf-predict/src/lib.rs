//! Predictors of forward-pass (step) time and of benchmark-level metrics.
//!
//! This crate owns forward-time predictors (linear min-norm least squares on four features,
//! gradient-boosted trees, random forests, Vidur-style per-operator curves), the serving
//! tuner's 160-feature **state model** ([`state`], trained on msserviceprofiler batch
//! profiles), inference with **XGBoost JSON models** ([`xgboost`]), benchmark-level regression
//! (`metric = a + b·in + c·out`) with confidence, cross-validation, training ranges with
//! extrapolation warnings ([`ranges`]) and versioned model JSON ([`mod@file`]). Its predictors
//! implement [`perf_model_core::StepTimeModel`] so the simulator (`perf-sim`) can use them as
//! its cost model.
//!
//! ```
//! use perf_model_core::{BatchShape, StepTimeModel};
//! use perf_predict::{ProfileData, ProfileRow, Stage, StepPredictor};
//! # let mut results = Vec::new();
//! # for bs in [1.0, 2.0, 4.0, 8.0] { for l in [64.0, 256.0, 1024.0] {
//! #     results.push(ProfileRow { batch_size: bs, input_len: l,
//! #         prefill_latency: Some(0.008 + 1.5e-5 * bs * l + 1e-9 * bs * l * l),
//! #         median_decode_latency: Some(0.007 + 1.7e-5 * bs + 8.7e-8 * bs * l) });
//! # } }
//! // A profiling sweep: (batch size, input length) → prefill and decode latency, seconds.
//! let sweep = ProfileData { metadata: serde_json::Value::Null, results };
//! let predictor = StepPredictor::train_linear(&sweep)?;
//! let ms = predictor.predict_ms(Stage::Decode, 8.0, 1024.0)?;
//! assert!((ms - predictor.step_time(&BatchShape::decode(8, 1024))).abs() < 1e-9);
//! # Ok::<(), perf_predict::PredictError>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

pub mod cv;
pub mod error;
pub mod file;
pub mod linalg;
pub mod linear;
pub mod predictor;
pub mod ranges;
pub mod state;
pub mod together;
pub mod trees;
pub mod vidur;
pub mod xgboost;

pub use cv::{CvReport, Metrics, Trainer, cross_validate, holdout};
pub use error::{PredictError, Result};
pub use file::PredictorFile;
pub use linear::{FEATURE_NAMES, LinearModel, NUM_FEATURES, ProfileData, ProfileRow, Stage};
pub use predictor::{StageModel, StepPredictor, decode_features, prefill_features};
pub use ranges::{Extrapolation, RangeCheck, TrainingRanges, ValueRange};
pub use state::{
    ShapeApprox, StateBatch, StateFit, StateModel, StateRegressor, StateRequest, StateSample,
    StateTrainParams,
};
pub use trees::{ForestModel, ForestParams, GbdtLoss, GbdtModel, GbdtParams};
pub use vidur::{RooflineAttention, VidurFile, VidurPredictor};
pub use xgboost::XgbModel;
