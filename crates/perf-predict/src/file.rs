//! Predictor files: our versioned envelope and the seed's `trained_predictors.json`.
//!
//! Our format:
//! ```text
//! {"format": "llm-perf/predictor", "version": 1,
//!  "configs": {"<name>": {"prefill": {"kind": "linear", "weights": [...], "bias": b, "mse": m},
//!                         "decode":  {...}, "metadata": {...},
//!                         "training_ranges": {"prefill": {"batch_size": {"min": 1, "max": 64},
//!                                                         "input_len": {...}}, "decode": {...}}}},
//!  "state_models": {"<name>": {"regressor": {"kind": "gbdt" | "xgboost", ...},
//!                              "approximation": {"blocks_per_token": .., "decode_output_fraction": ..},
//!                              "training_ranges": {...}, "validation": {...}, "metadata": {...}}}}
//! ```
//! `training_ranges` is optional (files written before it existed load unchanged; their
//! queries report [`RangeCheck::Unknown`](crate::RangeCheck::Unknown) unless the metadata has
//! the sweep's tested sizes). `state_models` ([`StateModel`], the serving tuner's step-time
//! model) needs version 2: a file is written as version 1 when it has none, so older builds
//! keep reading it, and as version 2 otherwise, so older builds refuse it instead of silently
//! dropping the state models. Names are unique across `configs` and `state_models`.
//! The seed's format (read and written unchanged; `mse` and `metadata` optional, other keys
//! kept; a `training_ranges` key, which the seed's files never have, is read as ours — we write
//! it into seed-format files we train, and the seed's readers skip non-stage keys):
//! ```text
//! {"<name>": {"metadata": {...},
//!             "prefill": {"weights": [w_new, w_prod, w_ctx, w_bs], "bias": b, "model_type": "linear", "mse": m},
//!             "decode":  {...}}}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{PredictError, Result};
use crate::linear::{LinearModel, NUM_FEATURES, Stage};
use crate::predictor::{StageModel, StepPredictor};
use crate::state::StateModel;

/// The `format` tag of our envelope.
pub const FORMAT: &str = "llm-perf/predictor";
/// The newest envelope version this crate reads (it reads 1 and 2). It writes 1 for files
/// without state models, 2 for files with some.
pub const VERSION: u32 = 2;

/// Several named [`StepPredictor`]s, as stored in one predictor file.
///
/// # Examples
/// ```
/// use perf_predict::{PredictorFile, Stage};
/// let seed = r#"{"qwen": {"prefill": {"weights": [1e-5, 1e-9, 1e-5, 0.0], "bias": 0.008, "model_type": "linear"},
///                         "decode":  {"weights": [8e-6, 4e-8, 4e-8, 8e-6], "bias": 0.007, "model_type": "linear"}}}"#;
/// let file = PredictorFile::from_json_str(seed, "trained_predictors.json".as_ref())?;
/// let ms = file.get("qwen")?.predict_ms(Stage::Decode, 8.0, 1024.0)?;
/// assert!((ms - (0.007 + 8.0 * 8e-6 * 2.0 + 8192.0 * 4e-8 * 2.0) * 1000.0).abs() < 1e-9);
/// let back = PredictorFile::from_json_str(&file.to_json_string()?, "ours.json".as_ref())?;
/// assert_eq!(back, file);
/// # Ok::<(), perf_predict::PredictError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PredictorFile {
    /// Predictors by configuration name.
    pub configs: BTreeMap<String, StepPredictor>,
    /// State models (the serving tuner's step-time model) by name.
    #[serde(default)]
    pub state_models: BTreeMap<String, StateModel>,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    format: String,
    version: u32,
    #[serde(default)]
    configs: BTreeMap<String, StepPredictor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    state_models: BTreeMap<String, StateModel>,
}

#[derive(Serialize, Deserialize)]
struct SeedStage {
    weights: Vec<f64>,
    bias: f64,
    model_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mse: Option<f64>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl PredictorFile {
    /// An empty file.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The predictor named `name`.
    ///
    /// # Errors
    /// [`PredictError::UnknownName`] listing the known names (of both kinds).
    pub fn get(&self, name: &str) -> Result<&StepPredictor> {
        self.configs.get(name).ok_or_else(|| self.unknown(name))
    }

    /// The state model named `name`.
    ///
    /// # Errors
    /// [`PredictError::UnknownName`] listing the known names (of both kinds).
    pub fn get_state(&self, name: &str) -> Result<&StateModel> {
        self.state_models
            .get(name)
            .ok_or_else(|| self.unknown(name))
    }

    fn unknown(&self, name: &str) -> PredictError {
        PredictError::UnknownName {
            kind: "config",
            name: name.to_owned(),
            known: self.names(),
        }
    }

    /// Every name in the file: the predictors' then the state models'.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        self.configs
            .keys()
            .chain(self.state_models.keys())
            .cloned()
            .collect()
    }

    /// Adds or replaces the predictor `name` (the seed's `train_models` merges the same way);
    /// a state model of that name is removed.
    pub fn insert(&mut self, name: impl Into<String>, predictor: StepPredictor) {
        let name = name.into();
        self.state_models.remove(&name);
        self.configs.insert(name, predictor);
    }

    /// Adds or replaces the state model `name`; a predictor of that name is removed.
    pub fn insert_state(&mut self, name: impl Into<String>, model: StateModel) {
        let name = name.into();
        self.configs.remove(&name);
        self.state_models.insert(name, model);
    }

    /// Parses either format: a top-level `"format"` key selects our envelope (which must say
    /// `llm-perf/predictor`, version 1), anything else is read as a seed file. `path` names
    /// the source in errors.
    ///
    /// # Errors
    /// [`PredictError::Json`] for invalid JSON, [`PredictError::Format`] for a wrong shape
    /// (unknown format or version, a stage missing, a weight count other than 4, a
    /// `model_type` other than `linear`, non-finite numbers).
    pub fn from_json_str(text: &str, path: &Path) -> Result<Self> {
        let value: Value = serde_json::from_str(text).map_err(|source| PredictError::Json {
            path: path.to_owned(),
            source,
        })?;
        Self::from_value(value, path)
    }

    /// [`PredictorFile::from_json_str`] on an already parsed document.
    ///
    /// # Errors
    /// As [`PredictorFile::from_json_str`].
    pub fn from_value(value: Value, path: &Path) -> Result<Self> {
        let fmt_err = |message: String| PredictError::Format {
            path: path.to_owned(),
            message,
        };
        let Value::Object(top) = value else {
            return Err(fmt_err("a predictor file must be a JSON object".into()));
        };
        if let Some(format) = top.get("format") {
            if format.as_str() != Some(FORMAT) {
                return Err(fmt_err(format!(
                    "unknown format {format}, expected \"{FORMAT}\""
                )));
            }
            let env: Envelope = serde_json::from_value(Value::Object(top)).map_err(|source| {
                PredictError::Json {
                    path: path.to_owned(),
                    source,
                }
            })?;
            if !(1..=VERSION).contains(&env.version) {
                return Err(fmt_err(format!(
                    "unsupported version {}, this build reads versions 1 to {VERSION}",
                    env.version
                )));
            }
            for (name, p) in &env.configs {
                for stage in Stage::ALL {
                    check_stage(p.stage(stage), name, stage).map_err(&fmt_err)?;
                }
                if env.state_models.contains_key(name) {
                    return Err(fmt_err(format!(
                        "`{name}` is both a config and a state model"
                    )));
                }
            }
            return Ok(Self {
                configs: env.configs,
                state_models: env.state_models,
            });
        }
        let mut configs = BTreeMap::new();
        for (name, cfg) in top {
            let Value::Object(mut cfg) = cfg else {
                return Err(fmt_err(format!("config `{name}` is not an object")));
            };
            let mut stages = Vec::with_capacity(2);
            for stage in Stage::ALL {
                let v = cfg
                    .remove(stage.as_str())
                    .ok_or_else(|| fmt_err(format!("config `{name}` has no `{stage}` model")))?;
                let s: SeedStage = serde_json::from_value(v)
                    .map_err(|e| fmt_err(format!("config `{name}`, {stage}: {e}")))?;
                if s.model_type != "linear" {
                    return Err(fmt_err(format!(
                        "config `{name}`, {stage}: model_type `{}` is not supported (only `linear`)",
                        s.model_type
                    )));
                }
                let mut m = LinearModel::new(s.weights, s.bias, s.mse)
                    .map_err(|e| fmt_err(format!("config `{name}`, {stage}: {e}")))?;
                m.set_seed_extra(s.extra);
                let model = StageModel::Linear(m);
                check_stage(&model, &name, stage).map_err(&fmt_err)?;
                stages.push(model);
            }
            let metadata = cfg.remove("metadata");
            let ranges = match cfg.remove("training_ranges") {
                Some(v) => serde_json::from_value(v)
                    .map_err(|e| fmt_err(format!("config `{name}`, training_ranges: {e}")))?,
                None => BTreeMap::new(),
            };
            let (Some(decode), Some(prefill)) = (stages.pop(), stages.pop()) else {
                return Err(fmt_err(format!("config `{name}`: missing stage")));
            };
            let mut p = StepPredictor::new(prefill, decode);
            p.metadata = metadata;
            p.training_ranges = ranges;
            p.seed_extra = cfg;
            configs.insert(name, p);
        }
        Ok(Self {
            configs,
            state_models: BTreeMap::new(),
        })
    }

    /// Reads a predictor file of either format.
    ///
    /// # Errors
    /// [`PredictError::Io`], then as [`PredictorFile::from_json_str`].
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| PredictError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json_str(&text, path)
    }

    /// Our envelope as a JSON value.
    ///
    /// # Errors
    /// [`PredictError::Json`] if serialisation fails (it does not for finite models).
    pub fn to_json_value(&self) -> Result<Value> {
        let env = Envelope {
            format: FORMAT.to_owned(),
            version: if self.state_models.is_empty() { 1 } else { 2 },
            configs: self.configs.clone(),
            state_models: self.state_models.clone(),
        };
        serde_json::to_value(env).map_err(|source| PredictError::Json {
            path: PathBuf::from("<memory>"),
            source,
        })
    }

    /// Our envelope as pretty JSON text.
    ///
    /// # Errors
    /// As [`PredictorFile::to_json_value`].
    pub fn to_json_string(&self) -> Result<String> {
        let v = self.to_json_value()?;
        serde_json::to_string_pretty(&v).map_err(|source| PredictError::Json {
            path: PathBuf::from("<memory>"),
            source,
        })
    }

    /// The seed's format as a JSON value (`model_type: "linear"`, `mse` and `metadata` only
    /// when known, other keys read from a seed file written back).
    ///
    /// # Errors
    /// [`PredictError::Format`] if a stage is not linear or the file has state models (the
    /// seed format holds linear models only).
    pub fn to_seed_value(&self) -> Result<Value> {
        if let Some(name) = self.state_models.keys().next() {
            return Err(PredictError::Format {
                path: PathBuf::from("<memory>"),
                message: format!("state model `{name}` cannot be written in the seed format"),
            });
        }
        let mut top = Map::new();
        for (name, p) in &self.configs {
            let mut cfg = p.seed_extra.clone();
            if let Some(m) = &p.metadata {
                cfg.insert("metadata".into(), m.clone());
            }
            if !p.training_ranges.is_empty() {
                let ranges = serde_json::to_value(&p.training_ranges).map_err(|source| {
                    PredictError::Json {
                        path: PathBuf::from("<memory>"),
                        source,
                    }
                })?;
                cfg.insert("training_ranges".into(), ranges);
            }
            for stage in Stage::ALL {
                let lin = match p.stage(stage) {
                    StageModel::Linear(m) => m,
                    other => {
                        return Err(PredictError::Format {
                            path: PathBuf::from("<memory>"),
                            message: format!(
                                "config `{name}`, {stage}: a `{}` model cannot be written in the seed format",
                                other.kind()
                            ),
                        });
                    }
                };
                let mut obj = lin.seed_extra().clone();
                obj.insert("weights".into(), Value::from(lin.weights().to_vec()));
                obj.insert("bias".into(), Value::from(lin.bias()));
                obj.insert("model_type".into(), Value::from("linear"));
                if let Some(mse) = lin.mse() {
                    obj.insert("mse".into(), Value::from(mse));
                }
                cfg.insert(stage.as_str().into(), Value::Object(obj));
            }
            top.insert(name.clone(), Value::Object(cfg));
        }
        Ok(Value::Object(top))
    }

    /// The seed's format as pretty JSON text.
    ///
    /// # Errors
    /// As [`PredictorFile::to_seed_value`].
    pub fn to_seed_json_string(&self) -> Result<String> {
        let v = self.to_seed_value()?;
        serde_json::to_string_pretty(&v).map_err(|source| PredictError::Json {
            path: PathBuf::from("<memory>"),
            source,
        })
    }

    /// Writes our envelope to `path`.
    ///
    /// # Errors
    /// [`PredictError::Io`] if the file cannot be written.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = self.to_json_string()?;
        std::fs::write(path, text).map_err(|source| PredictError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// Writes the seed's format to `path`.
    ///
    /// # Errors
    /// As [`PredictorFile::to_seed_value`], or [`PredictError::Io`].
    pub fn write_seed(&self, path: &Path) -> Result<()> {
        let text = self.to_seed_json_string()?;
        std::fs::write(path, text).map_err(|source| PredictError::Io {
            path: path.to_owned(),
            source,
        })
    }
}

fn check_stage(m: &StageModel, name: &str, stage: Stage) -> std::result::Result<(), String> {
    if m.num_features() != NUM_FEATURES {
        return Err(format!(
            "config `{name}`, {stage}: a {} model with {} features, expected {NUM_FEATURES}",
            m.kind(),
            m.num_features()
        ));
    }
    match m {
        StageModel::Gbdt(_) | StageModel::Forest(_) => {}
        StageModel::Linear(l) => {
            if l.num_features() != NUM_FEATURES {
                return Err(format!(
                    "config `{name}`, {stage}: {} weights, expected {NUM_FEATURES}",
                    l.num_features()
                ));
            }
            if !l.weights().iter().all(|w| w.is_finite()) || !l.bias().is_finite() {
                return Err(format!(
                    "config `{name}`, {stage}: non-finite weight or bias"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"{
      "Qwen3-4B_A100": {
        "metadata": {"model_path": "Qwen/Qwen3-4B", "tp_size": 1, "batch_sizes_tested": [1, 2, 4]},
        "prefill": {"weights": [1.5787e-05, 1.2964e-09, 1.5787e-05, -5.56e-06], "bias": 0.008553, "model_type": "linear", "mse": 1.85e-05},
        "decode": {"weights": [8.513e-06, 4.354e-08, 4.354e-08, 8.513e-06], "bias": 0.007491, "model_type": "linear", "mse": 6.23e-08, "note": "kept"}
      },
      "readme": {
        "prefill": {"weights": [1e-5, 0.0, 1e-5, 0.0], "bias": 0.01, "model_type": "linear"},
        "decode": {"weights": [1e-6, 1e-8, 1e-8, 1e-6], "bias": 0.005, "model_type": "linear"}
      }
    }"#;

    fn p() -> &'static Path {
        Path::new("test.json")
    }

    #[test]
    fn seed_round_trip_is_value_identical() {
        let f = PredictorFile::from_json_str(SEED, p()).unwrap();
        assert_eq!(f.configs.len(), 2);
        let original: Value = serde_json::from_str(SEED).unwrap();
        assert_eq!(f.to_seed_value().unwrap(), original);
        let text = f.to_seed_json_string().unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), original);
    }

    #[test]
    fn envelope_round_trip_bit_exact_predictions() {
        let f = PredictorFile::from_json_str(SEED, p()).unwrap();
        let text = f.to_json_string().unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["format"], FORMAT);
        assert_eq!(v["version"], 1);
        assert_eq!(v["configs"]["readme"]["decode"]["kind"], "linear");
        let g = PredictorFile::from_json_str(&text, p()).unwrap();
        assert_eq!(f, g);
        for name in ["Qwen3-4B_A100", "readme"] {
            for stage in Stage::ALL {
                for (bs, l) in [(1.0, 1.0), (4.0, 512.0), (8.0, 1024.0), (64.0, 16384.0)] {
                    let a = f.get(name).unwrap().predict_ms(stage, bs, l).unwrap();
                    let b = g.get(name).unwrap().predict_ms(stage, bs, l).unwrap();
                    assert_eq!(a.to_bits(), b.to_bits());
                }
            }
        }
        // And the envelope converts back to the seed's shape unchanged.
        assert_eq!(
            g.to_seed_value().unwrap(),
            serde_json::from_str::<Value>(SEED).unwrap()
        );
    }

    #[test]
    fn unknown_config_name() {
        let f = PredictorFile::from_json_str(SEED, p()).unwrap();
        match f.get("nope") {
            Err(PredictError::UnknownName {
                kind: "config",
                known,
                ..
            }) => {
                assert_eq!(known, vec!["Qwen3-4B_A100".to_owned(), "readme".to_owned()]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn format_errors_name_the_path() {
        let bad = [
            r#"{"format": "other", "version": 1, "configs": {}}"#,
            r#"{"format": "llm-perf/predictor", "version": 3, "configs": {}}"#,
            r#"{"c": {"prefill": {"weights": [1, 2, 3], "bias": 0, "model_type": "linear"}, "decode": {"weights": [1, 2, 3, 4], "bias": 0, "model_type": "linear"}}}"#,
            r#"{"c": {"prefill": {"weights": [1, 2, 3, 4], "bias": 0, "model_type": "tree"}, "decode": {"weights": [1, 2, 3, 4], "bias": 0, "model_type": "linear"}}}"#,
            r#"{"c": {"prefill": {"weights": [1, 2, 3, 4], "bias": 0, "model_type": "linear"}}}"#,
            r#"{"c": 3}"#,
            r#"[1]"#,
        ];
        for b in bad {
            match PredictorFile::from_json_str(b, Path::new("x/p.json")) {
                Err(e @ PredictError::Format { .. }) => {
                    assert!(e.to_string().starts_with("x/p.json: "), "{e}")
                }
                other => panic!("{b}: {other:?}"),
            }
        }
        assert!(matches!(
            PredictorFile::from_json_str("{", Path::new("x/p.json")),
            Err(PredictError::Json { .. })
        ));
    }
}
