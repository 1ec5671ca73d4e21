//! Vidur-style per-operation predictor: per-op time tables measured on one GPU
//! (`mlp.csv` of `microsoft/vidur`, times in ms per transformer layer) are turned into
//! piecewise-linear curves `time(num_tokens)`, summed per layer and scaled to the model.
//!
//! # Formula
//! ```text
//! step(tokens) = L · Σ_{op ≠ emb} op(tokens) + emb(tokens) + L · 2 · all_reduce(tokens)
//! ```
//! with `L` layers and the all-reduce term only when a table is given (tensor parallel > 1,
//! Megatron-style: one all-reduce after attention and one after the MLP).
//!
//! Vidur's public profiles have no attention tables, so attention comes from the roofline
//! (specs/simulator.md §4.3: "then attention uses the roofline term") once
//! [`VidurPredictor::with_roofline_attention`] is called; without it the predictor covers the
//! token-proportional (GEMM, norm, activation) part of a step only:
//! ```text
//! attention(batch) = max( F_attn / (t·P_peak·η_attn),  KV / (t_kv·BW·η_m) )
//! F_attn = 4·L·h_q·d_h·[ Σ_prefill (n·k + n(n+1)/2) + Σ_decode (k + 1) ],  KV = kv_bytes/token · Σ(k + n)
//! ```
//!
//! Curves interpolate linearly between measured token counts and extrapolate along the last
//! (first) segment, clamped at ≥ 0.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use perf_model_core::{BatchShape, StepTimeModel};
use serde::{Deserialize, Serialize};

use crate::cv::Metrics;
use crate::error::{PredictError, Result};

/// Operators of Vidur's `mlp.csv`, in file order (`emb` is per model, the rest per layer).
pub const VIDUR_OPS: [&str; 10] = [
    "emb",
    "input_layernorm",
    "attn_pre_proj",
    "attn_rope",
    "attn_post_proj",
    "post_attention_layernorm",
    "mlp_up_proj",
    "mlp_act",
    "mlp_down_proj",
    "add",
];

/// One row of a Vidur `mlp.csv`: median time of each op (ms) at one token count and TP degree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VidurRow {
    /// Tokens in the batch.
    pub num_tokens: f64,
    /// `num_tensor_parallel_workers`.
    pub tp: u32,
    /// `time_stats.<op>.median` by op name, ms.
    pub ops: BTreeMap<String, f64>,
}

fn csv_error(path: &Path) -> impl Fn(csv::Error) -> PredictError + '_ {
    move |source| PredictError::Csv {
        path: path.to_owned(),
        line: source.position().map_or(0, csv::Position::line),
        source,
    }
}

fn cell_f64(rec: &csv::StringRecord, c: usize, name: &str, path: &Path) -> Result<f64> {
    let line = rec.position().map_or(0, csv::Position::line);
    let cell = rec.get(c).unwrap_or("");
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(PredictError::Format {
            path: path.to_owned(),
            message: format!("line {line}: column `{name}`: `{cell}` is not a finite number"),
        }),
    }
}

/// Reads a Vidur `mlp.csv` (columns `time_stats.<op>.median`, `num_tokens`,
/// `num_tensor_parallel_workers`; other columns ignored). Exact duplicate rows are dropped, as
/// Vidur does.
///
/// # Errors
/// [`PredictError::Csv`], or [`PredictError::Format`] for a missing column or a bad number.
pub fn read_vidur_mlp_csv<R: Read>(reader: R, path: &Path) -> Result<Vec<VidurRow>> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = rdr.headers().map_err(csv_error(path))?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let missing = |name: &str| PredictError::Format {
        path: path.to_owned(),
        message: format!("missing column `{name}`"),
    };
    let c_tok = col("num_tokens").ok_or_else(|| missing("num_tokens"))?;
    let c_tp =
        col("num_tensor_parallel_workers").ok_or_else(|| missing("num_tensor_parallel_workers"))?;
    let ops: Vec<(String, usize)> = VIDUR_OPS
        .iter()
        .filter_map(|op| col(&format!("time_stats.{op}.median")).map(|c| ((*op).to_owned(), c)))
        .collect();
    if ops.is_empty() {
        return Err(missing("time_stats.<op>.median"));
    }
    let mut rows: Vec<VidurRow> = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(csv_error(path))?;
        let tp = cell_f64(&rec, c_tp, "num_tensor_parallel_workers", path)?;
        let mut row = VidurRow {
            num_tokens: cell_f64(&rec, c_tok, "num_tokens", path)?,
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped below
            tp: tp.clamp(0.0, f64::from(u32::MAX)) as u32,
            ops: BTreeMap::new(),
        };
        for (op, c) in &ops {
            row.ops.insert(op.clone(), cell_f64(&rec, *c, op, path)?);
        }
        if !rows.contains(&row) {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Reads a Vidur `all_reduce.csv` and returns the all-reduce time (ms, median) as a curve over
/// tokens for `tp` GPUs in one node, with activations of `n_embd` fp16 values per token
/// (`num_tokens = size / n_embd / 2`; rows with `num_workers == devices_per_node == tp`).
///
/// # Errors
/// [`PredictError::Csv`], [`PredictError::Format`], or [`PredictError::TooFewRows`] when no
/// row matches `tp`.
pub fn read_vidur_all_reduce_csv<R: Read>(
    reader: R,
    path: &Path,
    tp: u32,
    n_embd: u32,
) -> Result<OpCurve> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = rdr.headers().map_err(csv_error(path))?.clone();
    let col = |name: &'static str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| PredictError::Format {
                path: path.to_owned(),
                message: format!("missing column `{name}`"),
            })
    };
    let (c_t, c_w, c_d, c_s) = (
        col("time_stats.all_reduce.median")?,
        col("num_workers")?,
        col("devices_per_node")?,
        col("size")?,
    );
    if n_embd == 0 {
        return Err(PredictError::InvalidParam {
            name: "n_embd",
            value: "0".into(),
            reason: "must be > 0",
        });
    }
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(csv_error(path))?;
        let w = cell_f64(&rec, c_w, "num_workers", path)?;
        let d = cell_f64(&rec, c_d, "devices_per_node", path)?;
        if (w - f64::from(tp)).abs() > 0.0 || (d - f64::from(tp)).abs() > 0.0 {
            continue;
        }
        xs.push(cell_f64(&rec, c_s, "size", path)? / f64::from(n_embd) / 2.0);
        ys.push(cell_f64(&rec, c_t, "time_stats.all_reduce.median", path)?);
    }
    OpCurve::fit(&xs, &ys)
}

/// A piecewise-linear curve through measured `(x, y)` points (duplicates in x averaged).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpCurve {
    xs: Vec<f64>,
    ys: Vec<f64>,
}

impl OpCurve {
    /// Builds the curve.
    ///
    /// # Errors
    /// [`PredictError::TooFewRows`] with no point, [`PredictError::LengthMismatch`],
    /// [`PredictError::NonFinite`].
    pub fn fit(xs: &[f64], ys: &[f64]) -> Result<Self> {
        if xs.len() != ys.len() {
            return Err(PredictError::LengthMismatch {
                rows: xs.len(),
                targets: ys.len(),
            });
        }
        if xs.is_empty() {
            return Err(PredictError::TooFewRows { needed: 1, got: 0 });
        }
        let mut pts: Vec<(f64, f64)> = Vec::with_capacity(xs.len());
        for (i, (x, y)) in xs.iter().zip(ys).enumerate() {
            crate::error::ensure_finite_row(i, &["x", "y"], &[*x, *y])?;
            pts.push((*x, *y));
        }
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (mut cx, mut cy): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
        let mut i = 0;
        while i < pts.len() {
            let mut j = i;
            let mut sum = 0.0;
            while j < pts.len() && pts[j].0.to_bits() == pts[i].0.to_bits() {
                sum += pts[j].1;
                j += 1;
            }
            cx.push(pts[i].0);
            cy.push(sum / (j - i) as f64);
            i = j;
        }
        Ok(Self { xs: cx, ys: cy })
    }

    /// The curve at `x` (linear inside, extended along the end segments outside), ≥ 0.
    #[must_use]
    pub fn eval(&self, x: f64) -> f64 {
        let n = self.xs.len();
        let v = if n == 1 {
            self.ys[0]
        } else {
            let k = self.xs.partition_point(|&v| v < x).clamp(1, n - 1);
            let (x0, x1, y0, y1) = (self.xs[k - 1], self.xs[k], self.ys[k - 1], self.ys[k]);
            y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        };
        if v.is_nan() { 0.0 } else { v.max(0.0) }
    }
}

/// The per-operation model of one (model, GPU, TP) configuration ([module docs](self)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VidurPredictor {
    tp: u32,
    num_layers: u32,
    ops: BTreeMap<String, OpCurve>,
    all_reduce: Option<OpCurve>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attention: Option<RooflineAttention>,
}

/// The roofline attention term of a [`VidurPredictor`] ([module docs](self)): the constants a
/// [`perf_model_core::RooflineModel`] of the same model, device, dtype and TP gives.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RooflineAttention {
    /// Attention FLOPs per (query token, context token) pair, all layers: `4·L·h_q·d_h`.
    pub flops_per_pair: f64,
    /// Effective attention FLOP/s of the TP group: `t·P_peak·η_attn`.
    pub flops_per_s: f64,
    /// KV-cache bytes per token and layer stack, per KV shard.
    pub kv_bytes_per_token: f64,
    /// Effective memory bandwidth, bytes/s: `BW·η_m`.
    pub bytes_per_s: f64,
}

impl RooflineAttention {
    /// From a roofline model (its efficiencies, peaks, KV dtype and sharding).
    ///
    /// # Errors
    /// [`PredictError::InvalidParam`] when the device has no peak for the compute dtype or no
    /// bandwidth (the roofline model checks this already, so only a hand-built one fails).
    pub fn from_roofline(r: &perf_model_core::RooflineModel) -> Result<Self> {
        let missing = |name: &'static str| PredictError::InvalidParam {
            name,
            value: r.accelerator().name.clone(),
            reason: "the accelerator has no such figure",
        };
        let peak = r
            .accelerator()
            .peak_flops(r.compute_dtype())
            .ok_or_else(|| missing("peak_flops"))?;
        let bw = r
            .accelerator()
            .memory_bandwidth_bytes_per_s()
            .ok_or_else(|| missing("memory_bandwidth"))?;
        Ok(Self {
            flops_per_pair: r.model().attention_flops_per_pair(),
            flops_per_s: f64::from(r.tp()) * peak * r.attention_efficiency(),
            kv_bytes_per_token: r.model().kv_bytes_per_token(r.kv_dtype()) / r.kv_shards(),
            bytes_per_s: bw * r.memory_efficiency(),
        })
    }

    /// Attention time of `batch`, ms.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn time_ms(&self, b: &BatchShape) -> f64 {
        let prefill_pairs =
            b.prefill_cross as f64 + (b.prefill_tokens_sq as f64 + b.prefill_tokens as f64) / 2.0;
        let decode_pairs = b.decode_context as f64 + f64::from(b.decode_seqs);
        let compute = self.flops_per_pair * (prefill_pairs + decode_pairs) / self.flops_per_s;
        let memory = self.kv_bytes_per_token * b.kv_tokens() as f64 / self.bytes_per_s;
        compute.max(memory) * 1e3
    }
}

impl VidurPredictor {
    /// Builds curves from the rows of TP degree `tp`, for a model of `num_layers` layers.
    ///
    /// # Errors
    /// [`PredictError::TooFewRows`] if no row has that TP degree.
    pub fn train(rows: &[VidurRow], tp: u32, num_layers: u32) -> Result<Self> {
        let sel: Vec<&VidurRow> = rows.iter().filter(|r| r.tp == tp).collect();
        if sel.is_empty() {
            return Err(PredictError::TooFewRows { needed: 1, got: 0 });
        }
        let mut ops = BTreeMap::new();
        for op in VIDUR_OPS {
            let (xs, ys): (Vec<f64>, Vec<f64>) = sel
                .iter()
                .filter_map(|r| r.ops.get(op).map(|v| (r.num_tokens, *v)))
                .unzip();
            if !xs.is_empty() {
                ops.insert(op.to_owned(), OpCurve::fit(&xs, &ys)?);
            }
        }
        Ok(Self {
            tp,
            num_layers,
            ops,
            all_reduce: None,
            attention: None,
        })
    }

    /// Adds the TP all-reduce curve (see [`read_vidur_all_reduce_csv`]).
    #[must_use]
    pub fn with_all_reduce(mut self, curve: OpCurve) -> Self {
        self.all_reduce = Some(curve);
        self
    }

    /// Adds the roofline attention term ([module docs](self)).
    #[must_use]
    pub fn with_roofline_attention(mut self, attention: RooflineAttention) -> Self {
        self.attention = Some(attention);
        self
    }

    /// The attention term, if any.
    #[must_use]
    pub fn attention(&self) -> Option<&RooflineAttention> {
        self.attention.as_ref()
    }

    /// Names of the operators with a table.
    pub fn ops(&self) -> impl Iterator<Item = &str> {
        self.ops.keys().map(String::as_str)
    }

    /// Number of layers the per-layer times are multiplied by.
    #[must_use]
    pub fn num_layers(&self) -> u32 {
        self.num_layers
    }

    /// Time of one op at `tokens`, ms.
    ///
    /// # Errors
    /// [`PredictError::UnknownName`] for an op without a table.
    pub fn op_ms(&self, op: &str, tokens: f64) -> Result<f64> {
        self.ops
            .get(op)
            .map(|c| c.eval(tokens))
            .ok_or_else(|| PredictError::UnknownName {
                kind: "op",
                name: op.to_owned(),
                known: self.ops.keys().cloned().collect(),
            })
    }

    /// Non-attention time of one layer at `tokens` (all ops but `emb`), ms.
    #[must_use]
    pub fn layer_ms(&self, tokens: f64) -> f64 {
        self.ops
            .iter()
            .filter(|(k, _)| k.as_str() != "emb")
            .map(|(_, c)| c.eval(tokens))
            .sum()
    }

    /// Step time without attention at `tokens` ([module docs](self)), ms.
    #[must_use]
    pub fn step_ms(&self, tokens: f64) -> f64 {
        if tokens <= 0.0 {
            return 0.0;
        }
        let l = f64::from(self.num_layers);
        let emb = self.ops.get("emb").map_or(0.0, |c| c.eval(tokens));
        let ar = self
            .all_reduce
            .as_ref()
            .map_or(0.0, |c| 2.0 * l * c.eval(tokens));
        l * self.layer_ms(tokens) + emb + ar
    }

    /// The TP degree.
    #[must_use]
    pub fn tp(&self) -> u32 {
        self.tp
    }
}

/// Step time = [`VidurPredictor::step_ms`] at `batch.total_tokens()`, plus the roofline
/// attention term when one was added.
impl StepTimeModel for VidurPredictor {
    fn step_time(&self, batch: &BatchShape) -> f64 {
        if batch.is_empty() {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let tokens = batch.total_tokens() as f64;
        self.step_ms(tokens) + self.attention.map_or(0.0, |a| a.time_ms(batch))
    }
}

/// Vidur predictors by configuration name, saved in llm-perf's envelope
/// `{"format": "llm-perf/vidur-predictor", "version": 1, "configs": {…}}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VidurFile {
    format: String,
    version: u32,
    /// Predictors by configuration name.
    pub configs: BTreeMap<String, VidurPredictor>,
}

impl VidurFile {
    /// The envelope's `format` value.
    pub const FORMAT: &'static str = "llm-perf/vidur-predictor";

    /// An empty file.
    #[must_use]
    pub fn new() -> Self {
        Self {
            format: Self::FORMAT.to_owned(),
            version: 1,
            configs: BTreeMap::new(),
        }
    }

    /// Parses a file's text.
    ///
    /// # Errors
    /// [`PredictError::Json`] for malformed JSON, [`PredictError::Format`] for another
    /// envelope or version.
    pub fn from_json_str(text: &str, path: &Path) -> Result<Self> {
        let file: Self = serde_json::from_str(text).map_err(|source| PredictError::Json {
            path: path.to_owned(),
            source,
        })?;
        if file.format != Self::FORMAT || file.version != 1 {
            return Err(PredictError::Format {
                path: path.to_owned(),
                message: format!(
                    "expected format `{}` version 1, found `{}` version {}",
                    Self::FORMAT,
                    file.format,
                    file.version
                ),
            });
        }
        Ok(file)
    }

    /// Reads a file.
    ///
    /// # Errors
    /// [`PredictError::Io`], then as [`VidurFile::from_json_str`].
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| PredictError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json_str(&text, path)
    }

    /// Writes the file (pretty JSON).
    ///
    /// # Errors
    /// [`PredictError::Json`] or [`PredictError::Io`].
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|source| PredictError::Json {
            path: path.to_owned(),
            source,
        })?;
        std::fs::write(path, text + "\n").map_err(|source| PredictError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// The predictor of configuration `name`.
    ///
    /// # Errors
    /// [`PredictError::UnknownName`] listing the configurations.
    pub fn get(&self, name: &str) -> Result<&VidurPredictor> {
        self.configs
            .get(name)
            .ok_or_else(|| PredictError::UnknownName {
                kind: "config",
                name: name.to_owned(),
                known: self.configs.keys().cloned().collect(),
            })
    }
}

/// Held-out evaluation: for TP degree `tp`, hold out `test_fraction` of the token counts
/// (seeded shuffle), build the curves on the rest and score each op on the held-out rows.
///
/// # Errors
/// [`PredictError::InvalidParam`] for a fraction that leaves no row on a side, and
/// [`VidurPredictor::train`]'s errors.
pub fn holdout_per_op(
    rows: &[VidurRow],
    tp: u32,
    test_fraction: f64,
    seed: u64,
) -> Result<BTreeMap<String, Metrics>> {
    let sel: Vec<&VidurRow> = rows.iter().filter(|r| r.tp == tp).collect();
    let n = sel.len();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 0 < f < 1 checked
    let n_test = if test_fraction > 0.0 && test_fraction < 1.0 {
        ((test_fraction * n as f64).round() as usize).max(1)
    } else {
        0
    };
    if n_test == 0 || n_test >= n {
        return Err(PredictError::InvalidParam {
            name: "test_fraction",
            value: test_fraction.to_string(),
            reason: "must be in (0, 1) and leave rows on both sides",
        });
    }
    let perm = crate::cv::permutation(n, seed);
    let (test, train) = perm.split_at(n_test);
    let train_rows: Vec<VidurRow> = train.iter().map(|&i| sel[i].clone()).collect();
    let model = VidurPredictor::train(&train_rows, tp, 1)?;
    let mut out = BTreeMap::new();
    for (op, curve) in &model.ops {
        let (truth, pred): (Vec<f64>, Vec<f64>) = test
            .iter()
            .filter_map(|&i| {
                sel[i]
                    .ops
                    .get(op)
                    .map(|v| (*v, curve.eval(sel[i].num_tokens)))
            })
            .unzip();
        out.insert(op.clone(), Metrics::score(&truth, &pred));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn vidur_file_round_trips_bit_exactly() {
        let rows: Vec<VidurRow> = (0..6)
            .map(|i| {
                let t = f64::from(1u32 << (i + 3));
                VidurRow {
                    tp: 1,
                    num_tokens: t,
                    ops: VIDUR_OPS
                        .iter()
                        .map(|op| ((*op).to_owned(), 0.01 + 1e-4 * t))
                        .collect(),
                }
            })
            .collect();
        let p = VidurPredictor::train(&rows, 1, 32).unwrap();
        let mut file = VidurFile::new();
        file.configs.insert("toy".into(), p.clone());
        let dir = std::env::temp_dir().join(format!("vidur-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("v.json");
        file.write(&path).unwrap();
        let back = VidurFile::read(&path).unwrap();
        let shape = BatchShape::decode(16, 512);
        assert_eq!(
            back.get("toy").unwrap().step_time(&shape).to_bits(),
            p.step_time(&shape).to_bits()
        );
        assert!(back.get("nope").is_err());
        let wrong = r#"{"format":"llm-perf/predictor","version":1,"configs":{}}"#;
        assert!(VidurFile::from_json_str(wrong, &path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn roofline_attention_matches_its_formula() {
        use perf_model_core::{Accelerator, Dtype, ModelSpec, RooflineModel};
        let r = RooflineModel::new(
            ModelSpec::lookup("Llama-2-7B").unwrap(),
            Accelerator::lookup("H100").unwrap(),
            Dtype::Bf16,
            1,
        )
        .unwrap();
        let a = RooflineAttention::from_roofline(&r).unwrap();
        // 8 decodes over 1024 cached tokens: memory-bound (KV read).
        let b = BatchShape::decode(8, 1024);
        let flops = 4.0 * 32.0 * 32.0 * 128.0 * 8.0 * 1025.0;
        let kv = 524_288.0 * 8.0 * 1025.0;
        let want = (flops / (989.4e12 * r.attention_efficiency()))
            .max(kv / (3350e9 * r.memory_efficiency()))
            * 1e3;
        assert_relative_eq!(a.time_ms(&b), want, max_relative = 1e-9);
        // One 2048-token prompt: compute-bound (quadratic attention).
        let p = BatchShape::prefill(2048);
        let pairs = 2048.0 * 2049.0 / 2.0;
        let want = (4.0 * 32.0 * 32.0 * 128.0 * pairs / (989.4e12 * r.attention_efficiency()))
            .max(524_288.0 * 2048.0 / (3350e9 * r.memory_efficiency()))
            * 1e3;
        assert_relative_eq!(a.time_ms(&p), want, max_relative = 1e-9);
    }

    /// Hand-written rows in Vidur's layout (two ops, TP 1 and 2); mlp_up_proj = 0.01 + 1e-3·n.
    const FIXTURE: &str = "time_stats.emb.median,time_stats.mlp_up_proj.median,n_embd,num_tokens,num_tensor_parallel_workers\n\
        0.010,0.011,4096,1,1\n0.011,0.026,4096,16,1\n0.012,0.074,4096,64,1\n0.020,0.266,4096,256,1\n0.020,0.266,4096,256,1\n0.030,0.522,4096,512,1\n0.006,0.010,4096,1,2\n";

    #[test]
    fn reads_dedups_and_interpolates() {
        let rows = read_vidur_mlp_csv(FIXTURE.as_bytes(), Path::new("mlp.csv")).unwrap();
        assert_eq!(rows.len(), 6);
        let p = VidurPredictor::train(&rows, 1, 32).unwrap();
        assert_relative_eq!(
            p.op_ms("mlp_up_proj", 128.0).unwrap(),
            0.01 + 0.128,
            max_relative = 1e-9
        );
        assert_relative_eq!(
            p.op_ms("mlp_up_proj", 1024.0).unwrap(),
            0.01 + 1.024,
            max_relative = 1e-9
        );
        assert_relative_eq!(
            p.step_ms(128.0),
            32.0 * 0.138 + 0.012 + 0.008 / 3.0,
            max_relative = 1e-9
        );
        let b = BatchShape::decode(128, 1000);
        assert_relative_eq!(p.step_time(&b), p.step_ms(128.0), max_relative = 1e-12);
        assert!(matches!(
            p.op_ms("attn", 1.0),
            Err(PredictError::UnknownName { .. })
        ));
        assert!(matches!(
            VidurPredictor::train(&rows, 4, 32),
            Err(PredictError::TooFewRows { .. })
        ));
        let back: VidurPredictor =
            serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back.step_ms(300.0).to_bits(), p.step_ms(300.0).to_bits());
    }

    #[test]
    fn all_reduce_table() {
        let csv = ",time_stats.all_reduce.median,num_workers,devices_per_node,size\n0,0.02,2,2,8192\n1,0.10,2,2,8388608\n2,0.5,4,4,8192\n";
        let c = read_vidur_all_reduce_csv(csv.as_bytes(), Path::new("ar.csv"), 2, 4096).unwrap();
        assert_relative_eq!(c.eval(1.0), 0.02, max_relative = 1e-12);
        assert_relative_eq!(c.eval(1024.0), 0.10, max_relative = 1e-12);
    }

    #[test]
    fn bad_cells_and_holdout() {
        let bad = "time_stats.emb.median,num_tokens,num_tensor_parallel_workers\nx,1,1\n";
        assert!(matches!(
            read_vidur_mlp_csv(bad.as_bytes(), Path::new("m.csv")),
            Err(PredictError::Format { .. })
        ));
        let rows = read_vidur_mlp_csv(FIXTURE.as_bytes(), Path::new("mlp.csv")).unwrap();
        let m = holdout_per_op(&rows, 1, 0.2, 7).unwrap();
        assert!(m["mlp_up_proj"].mape.is_finite());
        assert!(matches!(
            holdout_per_op(&rows, 1, 0.0, 7),
            Err(PredictError::InvalidParam { .. })
        ));
    }
}
