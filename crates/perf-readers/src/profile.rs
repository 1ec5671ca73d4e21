//! Forward-pass profiles (not benchmarks): llm-profiler sweep JSON and Vidur operator,
//! attention and collective CSVs, as typed tables for `perf-predict` and `perf-sim`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::detect::{Format, detect};
use crate::error::{ReadError, Result};
use crate::json::{Cx, Node, parse_records};
use crate::table::{Row, Table};
use crate::text;

/// A profile file read by [`read_profile_any`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub enum Profile {
    /// An llm-profiler sweep ([`read_profiler_sweep`]).
    Sweep(ProfilerSweep),
    /// A Vidur `mlp.csv` ([`read_vidur_mlp`]).
    VidurMlp(Vec<VidurMlpRow>),
    /// A Vidur `attention.csv` ([`read_vidur_attention`]).
    VidurAttention(Vec<VidurAttentionRow>),
    /// A Vidur `all_reduce.csv` / `send_recv.csv` ([`read_vidur_collective`]).
    VidurCollective(Vec<VidurCollectiveRow>),
    /// An llm-profiler sweep summary ([`read_profiler_summary`](crate::read_profiler_summary)).
    Summary(crate::ProfilerSummary),
    /// msserviceprofiler per-batch execute times ([`read_ms_batches`](crate::read_ms_batches)).
    Batches(Vec<crate::BatchExecuteRow>),
}

impl Profile {
    /// The number of rows (successful sweep points for a sweep, batch sizes for a summary).
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Sweep(s) => s.rows.len(),
            Self::VidurMlp(r) => r.len(),
            Self::VidurAttention(r) => r.len(),
            Self::VidurCollective(r) => r.len(),
            Self::Summary(s) => s.by_batch_size.len(),
            Self::Batches(r) => r.len(),
        }
    }

    /// Whether there is no row.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The phase a sweep row's features are built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Stage {
    /// One extend of `batch_size × input_len` new tokens.
    Prefill,
    /// One decode step of `batch_size` sequences over `input_len` tokens of context.
    Decode,
}

/// An llm-profiler (`vikranth22446/llm_execution_time_predictor` `profile`) sweep file: a grid
/// of batch sizes × input lengths, each measured for one prefill and a median decode step.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ProfilerSweep {
    /// `metadata.model_path`.
    pub model: Option<String>,
    /// `metadata.gpu_type` (v2 files only).
    pub gpu: Option<String>,
    /// `metadata.tp_size` (v2) or `tensor_parallel_size` (v1).
    pub tp_size: Option<u32>,
    /// `metadata.pp_size` (v2) or `pipeline_parallel_size` (v1).
    pub pp_size: Option<u32>,
    /// The measured points, in file order.
    pub rows: Vec<SweepRow>,
    /// `metadata.failed_configs`: grid points that did not run (out of memory, skipped, …).
    pub failed: Vec<FailedConfig>,
}

/// One measured point of a [`ProfilerSweep`]; times in **milliseconds** (the file has seconds).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct SweepRow {
    /// Sequences in the batch.
    pub batch_size: u32,
    /// Prompt length of every sequence.
    pub input_len: u32,
    /// Decode steps run (`output_len`).
    pub output_len: u32,
    /// Wall time of the prefill of all `batch_size × input_len` tokens (`prefill_latency`).
    pub prefill_ms: f64,
    /// Median time of one decode step (`median_decode_latency`); absent when `output_len` is 1.
    pub decode_ms: Option<f64>,
    /// Prefill plus all decode steps (`total_latency`).
    pub total_ms: Option<f64>,
    /// Standard deviation of `prefill_ms` over the runs (v2).
    pub prefill_std_ms: Option<f64>,
    /// Standard deviation of `decode_ms` over the runs (v2).
    pub decode_std_ms: Option<f64>,
    /// Runs averaged (`num_runs`, v2; v1 files ran once).
    pub num_runs: Option<u32>,
}

impl SweepRow {
    /// Tokens processed in the step: `bs·L` for prefill, `bs` for decode.
    #[must_use]
    pub fn num_new_tokens(&self, stage: Stage) -> f64 {
        let bs = f64::from(self.batch_size);
        match stage {
            Stage::Prefill => bs * f64::from(self.input_len),
            Stage::Decode => bs,
        }
    }

    /// Context tokens attended over: `bs·L` for both stages.
    #[must_use]
    pub fn num_context_tokens(&self) -> f64 {
        f64::from(self.batch_size) * f64::from(self.input_len)
    }

    /// The llm-profiler features `[num_new_tokens, prod_ext_ctx, num_context_tokens,
    /// batch_size]`: prefill `[bs·L, bs·L², bs·L, bs]`, decode `[bs, bs·L, bs·L, bs]`.
    #[must_use]
    pub fn features(&self, stage: Stage) -> [f64; 4] {
        let bs = f64::from(self.batch_size);
        let l = f64::from(self.input_len);
        match stage {
            Stage::Prefill => [bs * l, bs * l * l, bs * l, bs],
            Stage::Decode => [bs, bs * l, bs * l, bs],
        }
    }

    /// The measured target of `stage` in ms (`prefill_ms`, or `decode_ms`).
    #[must_use]
    pub fn target_ms(&self, stage: Stage) -> Option<f64> {
        match stage {
            Stage::Prefill => Some(self.prefill_ms),
            Stage::Decode => self.decode_ms,
        }
    }
}

/// A grid point of a sweep that did not produce a measurement.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FailedConfig {
    /// Sequences in the batch.
    pub batch_size: u32,
    /// Prompt length.
    pub input_len: u32,
    /// Why (`oom`, `skipped_due_to_limits`, or v1's full CUDA message).
    pub reason: String,
}

/// Reads an llm-profiler sweep JSON (`benchmark_data_<model>_TP_<tp>_PP_<pp>.json`, both the
/// v1 and the v2 layout), or its JSON-Lines result file (`--result_filename x.jsonl`: one
/// result object per line, no metadata; the decode fields are absent when `output_len` is 1).
///
/// # Examples
/// ```
/// use perf_readers::{Stage, read_profiler_sweep};
/// let json = br#"{"metadata": {"model_path": "Qwen/Qwen3-4B", "tp_size": 1, "failed_configs": []},
///   "results": [{"batch_size": 2, "input_len": 8, "output_len": 32, "prefill_latency": 0.04,
///                "median_decode_latency": 0.0075, "total_latency": 0.3}]}"#;
/// let sweep = read_profiler_sweep(json, "s.json")?;
/// assert_eq!(sweep.rows[0].prefill_ms, 40.0);
/// assert_eq!(sweep.rows[0].features(Stage::Prefill), [16.0, 128.0, 16.0, 2.0]);
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Field`] with the JSON path of a missing `results` array or a bad number.
pub fn read_profiler_sweep(bytes: &[u8], path: &str) -> Result<ProfilerSweep> {
    let text = text::decode(bytes, path)?;
    let records = parse_records(text, path)?;
    // A sweep file is one document with `results`; the `--result_filename x.jsonl` output is
    // one result object per line.
    if let [(_, value)] = records.as_slice()
        && value.get("results").is_some()
    {
        return sweep_document(value, &Cx { path, line: 0 });
    }
    let mut rows = Vec::with_capacity(records.len());
    for (line, value) in &records {
        let cx = Cx { path, line: *line };
        rows.push(sweep_row(&Node::root(value), &cx)?);
    }
    Ok(ProfilerSweep {
        rows,
        ..ProfilerSweep::default()
    })
}

fn sweep_document(value: &serde_json::Value, cx: &Cx<'_>) -> Result<ProfilerSweep> {
    let cx = *cx;
    let root = Node::root(value);
    let meta = root.get("metadata");
    let meta_str = |k: &str| {
        meta.as_ref()
            .and_then(|m| m.get(k))
            .and_then(|n| n.as_str().map(str::to_owned))
    };
    let meta_count = |keys: &[&str]| -> Result<Option<u32>> {
        for k in keys {
            if let Some(n) = meta.as_ref().and_then(|m| m.get(k)) {
                return count(&n, &cx).map(Some);
            }
        }
        Ok(None)
    };
    let Some(results) = root.get("results").and_then(|r| r.items()) else {
        return Err(cx.field_err(
            "$.results",
            root.get("results").map(|n| n.v),
            "expected the array of sweep results",
        ));
    };
    let rows = results
        .iter()
        .map(|r| sweep_row(r, &cx))
        .collect::<Result<Vec<_>>>()?;
    let mut failed = Vec::new();
    if let Some(list) = meta
        .as_ref()
        .and_then(|m| m.get("failed_configs"))
        .and_then(|f| f.items())
    {
        for f in &list {
            let c = |key: &str| f.get(key).map(|n| count(&n, &cx)).transpose();
            failed.push(FailedConfig {
                batch_size: c("batch_size")?.unwrap_or(0),
                input_len: c("input_len")?.unwrap_or(0),
                reason: f
                    .get("reason")
                    .and_then(|n| n.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            });
        }
    }
    Ok(ProfilerSweep {
        model: meta_str("model_path"),
        gpu: meta_str("gpu_type"),
        tp_size: meta_count(&["tp_size", "tensor_parallel_size"])?,
        pp_size: meta_count(&["pp_size", "pipeline_parallel_size"])?,
        rows,
        failed,
    })
}

fn sweep_row(r: &Node<'_>, cx: &Cx<'_>) -> Result<SweepRow> {
    let ms = |key: &str| -> Result<Option<f64>> {
        match r.opt_num(&[key], cx)? {
            // Checked after the conversion: 1e307 s is finite, its ms are not.
            Some(x) if (x * 1000.0).is_finite() && x >= 0.0 => Ok(Some(x * 1000.0)),
            Some(_) => Err(cx.field_err(
                &format!("{}.{key}", r.path),
                r.v.get(key),
                "expected a non-negative time in seconds",
            )),
            None => Ok(None),
        }
    };
    let req = |key: &str| -> Result<u32> {
        match r.get(key) {
            Some(n) => count(&n, cx),
            None => Err(cx.field_err(&format!("{}.{key}", r.path), None, "missing count")),
        }
    };
    let Some(prefill_ms) = ms("prefill_latency")? else {
        return Err(cx.field_err(
            &format!("{}.prefill_latency", r.path),
            None,
            "missing prefill_latency",
        ));
    };
    Ok(SweepRow {
        batch_size: req("batch_size")?,
        input_len: req("input_len")?,
        output_len: r
            .get("output_len")
            .map(|n| count(&n, cx))
            .transpose()?
            .unwrap_or(0),
        prefill_ms,
        decode_ms: ms("median_decode_latency")?,
        total_ms: ms("total_latency")?,
        prefill_std_ms: ms("prefill_latency_std")?,
        decode_std_ms: ms("median_decode_latency_std")?,
        num_runs: r.get("num_runs").map(|n| count(&n, cx)).transpose()?,
    })
}

fn count(n: &Node<'_>, cx: &Cx<'_>) -> Result<u32> {
    let x = n.num(cx)?;
    if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= f64::from(u32::MAX) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(x as u32)
    } else {
        Err(cx.field_err(&n.path, Some(n.v), "expected a whole number"))
    }
}

/// The `time_stats.<op>.{min,max,mean,median,std}` of one operation, in **milliseconds**
/// (`torch.cuda.Event.elapsed_time`); a statistic is `None` when its cell is empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct OpStats {
    /// Minimum.
    pub min: Option<f64>,
    /// Maximum.
    pub max: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
    /// Median (Vidur's training target).
    pub median: Option<f64>,
    /// Standard deviation.
    pub std: Option<f64>,
}

impl OpStats {
    /// Whether no statistic is present (an operation not measured in this row).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        [self.min, self.max, self.mean, self.median, self.std]
            .iter()
            .all(Option::is_none)
    }
}

/// The `time_stats.*` columns of a Vidur table: op name → statistic → column.
fn stat_columns(table: &Table<'_>) -> BTreeMap<String, [Option<usize>; 5]> {
    let mut out: BTreeMap<String, [Option<usize>; 5]> = BTreeMap::new();
    for (i, h) in table.headers.iter().enumerate() {
        let Some(rest) = h.strip_prefix("time_stats.") else {
            continue;
        };
        let Some((op, stat)) = rest.rsplit_once('.') else {
            continue;
        };
        let slot = match stat {
            "min" => 0,
            "max" => 1,
            "mean" => 2,
            "median" => 3,
            "std" => 4,
            _ => continue,
        };
        out.entry(op.to_owned()).or_default()[slot] = Some(i);
    }
    out
}

fn op_stats(
    row: &Row<'_>,
    columns: &BTreeMap<String, [Option<usize>; 5]>,
) -> Result<BTreeMap<String, OpStats>> {
    let mut ops = BTreeMap::new();
    for (op, [min, max, mean, median, std]) in columns {
        let s = OpStats {
            min: row.opt_num(*min)?,
            max: row.opt_num(*max)?,
            mean: row.opt_num(*mean)?,
            median: row.opt_num(*median)?,
            std: row.opt_num(*std)?,
        };
        if !s.is_empty() {
            ops.insert(op.clone(), s);
        }
    }
    Ok(ops)
}

/// One row of a Vidur `mlp.csv`: every non-attention operation of one transformer layer on one
/// GPU for `num_tokens` tokens at a tensor-parallel degree.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct VidurMlpRow {
    /// Tokens in the batch (prefill and decode together).
    pub num_tokens: u32,
    /// Tensor-parallel degree the weights were sharded for.
    pub num_tensor_parallel_workers: u32,
    /// Attention heads (`n_head`).
    pub n_head: Option<u32>,
    /// KV heads (`n_kv_head`).
    pub n_kv_head: Option<u32>,
    /// Hidden size (`n_embd`).
    pub n_embd: Option<u32>,
    /// FFN width (`n_expanded_embd`).
    pub n_expanded_embd: Option<u32>,
    /// Vocabulary size.
    pub vocab_size: Option<u32>,
    /// Gated (SwiGLU) MLP.
    pub use_gated_mlp: Option<bool>,
    /// Per operation (`emb`, `input_layernorm`, `attn_pre_proj`, `mlp_up_proj`, …): times in ms.
    pub ops: BTreeMap<String, OpStats>,
}

/// Reads a Vidur `mlp.csv` (`microsoft/vidur` `data/profiling/compute/<gpu>/<model>/mlp.csv`).
///
/// # Examples
/// ```
/// let csv = "time_stats.emb.min,time_stats.emb.median,n_embd,num_tokens,num_tensor_parallel_workers\n\
///            0.01,0.012,4096,128,1\n";
/// let rows = perf_readers::read_vidur_mlp(csv.as_bytes(), "mlp.csv")?;
/// assert_eq!(rows[0].num_tokens, 128);
/// assert_eq!(rows[0].ops["emb"].median, Some(0.012));
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Field`] with the row and column of a bad cell or a missing `num_tokens` /
/// `num_tensor_parallel_workers` column.
pub fn read_vidur_mlp(bytes: &[u8], path: &str) -> Result<Vec<VidurMlpRow>> {
    let table = Table::read(bytes, path)?;
    let columns = stat_columns(&table);
    let c_tokens = table.req_col("num_tokens")?;
    let c_tp = table.req_col("num_tensor_parallel_workers")?;
    let opt = |name: &str| table.col(name);
    table
        .rows()
        .map(|row| {
            Ok(VidurMlpRow {
                num_tokens: row.count(c_tokens)?,
                num_tensor_parallel_workers: row.count(c_tp)?,
                n_head: row.opt_count(opt("n_head"))?,
                n_kv_head: row.opt_count(opt("n_kv_head"))?,
                n_embd: row.opt_count(opt("n_embd"))?,
                n_expanded_embd: row.opt_count(opt("n_expanded_embd"))?,
                vocab_size: row.opt_count(opt("vocab_size"))?,
                use_gated_mlp: row.opt_bool(opt("use_gated_mlp"))?,
                ops: op_stats(&row, &columns)?,
            })
        })
        .collect()
}

/// One row of a Vidur-layout `attention.csv`: prefill (`is_prefill`) or decode attention of one
/// layer on one GPU.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct VidurAttentionRow {
    /// Sequences in the batch (decode rows; 1 for prefill rows).
    pub batch_size: u32,
    /// Prefill chunk length (0 for decode rows).
    pub prefill_chunk_size: u32,
    /// KV-cache length (context) the row was measured at.
    pub kv_cache_size: u32,
    /// Whether this row measures prefill attention.
    pub is_prefill: bool,
    /// Tensor-parallel degree.
    pub num_tensor_parallel_workers: Option<u32>,
    /// Hidden size.
    pub n_embd: Option<u32>,
    /// Query heads.
    pub n_q_head: Option<u32>,
    /// KV heads.
    pub n_kv_head: Option<u32>,
    /// Maximum model length.
    pub max_model_len: Option<u32>,
    /// Kernel backend (`FLASH_ATTENTION`, …).
    pub attention_backend: Option<String>,
    /// Per operation (`attn_prefill`, `attn_decode`, `attn_kv_cache_save`, …): times in ms;
    /// operations with only empty cells in this row are left out.
    pub ops: BTreeMap<String, OpStats>,
}

/// Reads an `attention.csv` in Vidur's column layout (`time_stats.attn_prefill.*`,
/// `time_stats.attn_decode.*`, `batch_size`, `prefill_chunk_size`, `kv_cache_size`,
/// `is_prefill`, …).
///
/// # Errors
/// [`ReadError::Field`] with the row and column of a bad cell or a missing key column.
pub fn read_vidur_attention(bytes: &[u8], path: &str) -> Result<Vec<VidurAttentionRow>> {
    let table = Table::read(bytes, path)?;
    let columns = stat_columns(&table);
    let c_bs = table.req_col("batch_size")?;
    let c_chunk = table.req_col("prefill_chunk_size")?;
    let c_kv = table.req_col("kv_cache_size")?;
    let c_pre = table.req_col("is_prefill")?;
    let opt = |name: &str| table.col(name);
    table
        .rows()
        .map(|row| {
            Ok(VidurAttentionRow {
                batch_size: row.count(c_bs)?,
                prefill_chunk_size: row.count(c_chunk)?,
                kv_cache_size: row.count(c_kv)?,
                is_prefill: row
                    .opt_bool(Some(c_pre))?
                    .ok_or_else(|| row.bad(c_pre, "expected True or False"))?,
                num_tensor_parallel_workers: row.opt_count(opt("num_tensor_parallel_workers"))?,
                n_embd: row.opt_count(opt("n_embd"))?,
                n_q_head: row.opt_count(opt("n_q_head"))?,
                n_kv_head: row.opt_count(opt("n_kv_head"))?,
                max_model_len: row.opt_count(opt("max_model_len"))?,
                attention_backend: row.opt_text(opt("attention_backend")),
                ops: op_stats(&row, &columns)?,
            })
        })
        .collect()
}

/// One row of a Vidur network profile: a collective over `size` bytes.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct VidurCollectiveRow {
    /// `all_reduce` or `send_recv` (the `collective` column, else the `time_stats` name).
    pub collective: String,
    /// Ranks taking part.
    pub num_workers: u32,
    /// Buffer size in **bytes** (fp16: `size / 2` elements).
    pub size_bytes: u64,
    /// Ranks per node (`devices_per_node`): equal to `num_workers` within a node.
    pub devices_per_node: Option<u32>,
    /// Devices per node of the machine.
    pub max_devices_per_node: Option<u32>,
    /// The rank that measured.
    pub rank: Option<u32>,
    /// The time, in ms.
    pub time: OpStats,
}

/// Reads a Vidur `all_reduce.csv` or `send_recv.csv` (`data/profiling/network/<node>/`; a
/// leading unnamed index column is ignored).
///
/// # Errors
/// [`ReadError::Field`] with the row and column of a bad cell or a missing column.
pub fn read_vidur_collective(bytes: &[u8], path: &str) -> Result<Vec<VidurCollectiveRow>> {
    let table = Table::read(bytes, path)?;
    let columns = stat_columns(&table);
    let Some((name, _)) = columns.iter().next() else {
        return Err(ReadError::Field {
            path: path.to_owned(),
            location: crate::Location::Line { line: 1, column: 0 },
            value: crate::error::shorten(&table.headers.join(",")),
            message: "no time_stats.<collective>.* columns".to_owned(),
        });
    };
    let name = name.clone();
    let c_workers = table.req_col("num_workers")?;
    let c_size = table.req_col("size")?;
    let opt = |n: &str| table.col(n);
    table
        .rows()
        .map(|row| {
            let mut ops = op_stats(&row, &columns)?;
            Ok(VidurCollectiveRow {
                collective: row
                    .opt_text(opt("collective"))
                    .unwrap_or_else(|| name.clone()),
                num_workers: row.count(c_workers)?,
                size_bytes: row.count_u64(c_size)?,
                devices_per_node: row.opt_count(opt("devices_per_node"))?,
                max_devices_per_node: row.opt_count(opt("max_devices_per_node"))?,
                rank: row.opt_count(opt("rank"))?,
                time: ops.remove(&name).unwrap_or_default(),
            })
        })
        .collect()
}

/// Reads the profile at `path`, detecting its format from the content.
///
/// # Examples
/// ```no_run
/// use perf_readers::{Profile, read_profile_any};
/// let (_, profile) = read_profile_any("A100_benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.v2.json")?;
/// if let Profile::Sweep(sweep) = profile {
///     assert_eq!(sweep.rows.len(), 94);
/// }
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::IsDirectory`], [`ReadError::Io`], and everything [`read_profile_bytes`] returns.
pub fn read_profile_any(path: impl AsRef<Path>) -> Result<(Format, Profile)> {
    let (bytes, shown) = text::read_file(path.as_ref())?;
    read_profile_bytes(&bytes, &shown)
}

/// Detects the format of `bytes` and reads them as a profile table.
///
/// # Errors
/// The text errors of [`read_bytes`](crate::read_bytes); [`ReadError::UnknownFormat`] for a
/// file that is not a profile; the profile reader's errors.
pub fn read_profile_bytes(bytes: &[u8], path: &str) -> Result<(Format, Profile)> {
    let text = text::decode(bytes, path)?;
    let format = detect(text.as_bytes(), Some(Path::new(path)));
    let profile = match format {
        Format::LlmProfilerSweep => Profile::Sweep(read_profiler_sweep(bytes, path)?),
        Format::VidurMlpProfile => Profile::VidurMlp(read_vidur_mlp(bytes, path)?),
        Format::VidurAttentionProfile => {
            Profile::VidurAttention(read_vidur_attention(bytes, path)?)
        }
        Format::VidurCollectiveProfile => {
            Profile::VidurCollective(read_vidur_collective(bytes, path)?)
        }
        Format::LlmProfilerSummary => Profile::Summary(crate::read_profiler_summary(bytes, path)?),
        Format::MsServiceProfilerBatches => Profile::Batches(crate::read_ms_batches(bytes, path)?),
        _ => {
            return Err(ReadError::UnknownFormat {
                path: path.to_owned(),
                reason: format!("not a profile table (detected: {format})"),
            });
        }
    };
    Ok((format, profile))
}
