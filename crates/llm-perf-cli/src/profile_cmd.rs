//! `llm-perf profile`: the LLM profiler's `profile` command — sweep a real engine's one-batch
//! benchmark over batch sizes × input lengths and write the profiler's benchmark JSON, which
//! `llm-perf predict train --profile` reads.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use llm_perf::npu::SystemRunner;
use llm_perf::npu::config::shell_split;
use llm_perf::npu::profile::{
    BackendConfig, BackendKind, ProfileOptions, Profiler, Progress, SweepPlan, is_interrupted,
    parse_list,
};

/// Backends on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// `python -m sglang.bench_one_batch` (one static batch, no server).
    Sglang,
    /// `vllm bench latency`, run with output length 1 and N to separate prefill and decode.
    Vllm,
    /// A running OpenAI-compatible server (`--url`): concurrent streaming completions.
    Openai,
}

/// Arguments of `llm-perf profile`.
///
/// The profiler's own spellings (`--tp_size`, `--max_batch_size`, `--output_len`,
/// `--num_runs`, …) are accepted too.
#[derive(Args, Debug)]
pub struct ProfileArgs {
    /// Model path or hub name, as the engine takes it (`Qwen/Qwen3-4B`).
    model: String,
    /// The benchmark that measures each point.
    #[arg(long, value_enum, default_value_t = Backend::Sglang)]
    backend: Backend,
    /// Tensor-parallel degree.
    #[arg(long, alias = "tp_size", value_name = "N", default_value_t = 1)]
    tp_size: u32,
    /// Pipeline-parallel degree (vLLM; recorded in the file name).
    #[arg(long, alias = "pp_size", value_name = "N", default_value_t = 1)]
    pp_size: u32,
    /// Batch sizes: powers of two from 1 up to this.
    #[arg(long, alias = "max_batch_size", value_name = "N", default_value_t = 64)]
    max_batch_size: u32,
    /// Input lengths: powers of two from 1 up to this.
    #[arg(
        long,
        alias = "max_input_tokens",
        value_name = "N",
        default_value_t = 16384
    )]
    max_input_tokens: u32,
    /// Explicit batch sizes instead of powers of two, e.g. `1,4,16`.
    #[arg(long, value_name = "LIST", conflicts_with = "max_batch_size")]
    batch_sizes: Option<String>,
    /// Explicit input lengths instead of powers of two, e.g. `128,1024,8192`.
    #[arg(long, value_name = "LIST", conflicts_with = "max_input_tokens")]
    input_lens: Option<String>,
    /// Tokens generated per sequence (decode = median over the `output_len − 1` steps).
    #[arg(long, alias = "output_len", value_name = "N", default_value_t = 32)]
    output_len: u32,
    /// Runs per point, averaged (with their standard deviation).
    #[arg(long, alias = "num_runs", value_name = "N", default_value_t = 3)]
    num_runs: u32,
    /// Replaces the benchmark command prefix (default `python -m sglang.bench_one_batch` or
    /// `vllm bench latency`), shell words: e.g. `"/opt/venv/bin/python -m
    /// sglang.bench_one_batch"`.
    #[arg(long, value_name = "CMD")]
    engine_cmd: Option<String>,
    /// Extra arguments appended to every benchmark command (shell words), e.g.
    /// `"--mem-fraction-static 0.85"`.
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    extra_args: Option<String>,
    /// `--backend openai`: the server's base URL (`http://host:port`).
    #[arg(long)]
    url: Option<String>,
    /// `--load-format` of the engine (`dummy`: random weights, no download; `auto`: the real
    /// weights; empty: not passed).
    #[arg(long, value_name = "FORMAT", default_value = "dummy")]
    load_format: String,
    /// Time limit of one benchmark process (all runs of a point; vLLM: one pass; OpenAI: one
    /// run), seconds. A point over it is recorded as `timeout`.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 1800.0,
        allow_negative_numbers = true
    )]
    timeout: f64,
    /// Cache directory: one `<hash of the configuration>.json` per configuration, and the
    /// benchmark logs under `logs/`.
    #[arg(long, value_name = "DIR", default_value = "benchmark_cache")]
    cache_dir: PathBuf,
    /// Measure every point again, replacing the cached ones.
    #[arg(long, alias = "overwrite_cache")]
    overwrite_cache: bool,
    /// Directory of the output `benchmark_data_<model>_TP_<tp>_PP_<pp>.json`.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out_dir: PathBuf,
    /// `metadata.gpu_type` (default: the first name `nvidia-smi` lists, else `unknown`).
    #[arg(long, value_name = "NAME")]
    gpu_type: Option<String>,
}

/// Runs `llm-perf profile`: progress on stderr, a summary on stdout.
pub fn profile(a: &ProfileArgs) -> Result<String> {
    let kind = match a.backend {
        Backend::Sglang => BackendKind::Sglang,
        Backend::Vllm => BackendKind::Vllm,
        Backend::Openai => BackendKind::Openai,
    };
    let batch_sizes = match &a.batch_sizes {
        Some(list) => parse_list("--batch-sizes", list)?,
        None => llm_perf::npu::profile::powers_of_two(a.max_batch_size),
    };
    let input_lens = match &a.input_lens {
        Some(list) => parse_list("--input-lens", list)?,
        None => llm_perf::npu::profile::powers_of_two(a.max_input_tokens),
    };
    if a.batch_sizes.is_none() && a.max_batch_size == 0 {
        anyhow::bail!("--max-batch-size must be at least 1, got 0");
    }
    if a.input_lens.is_none() && a.max_input_tokens == 0 {
        anyhow::bail!("--max-input-tokens must be at least 1, got 0");
    }
    let plan = SweepPlan::with_lists(batch_sizes, input_lens, a.output_len, a.num_runs)?;
    let mut backend = BackendConfig::new(kind, a.model.clone());
    backend.tp_size = a.tp_size;
    backend.pp_size = a.pp_size;
    backend.load_format.clone_from(&a.load_format);
    backend.url.clone_from(&a.url);
    if let Some(cmd) = &a.engine_cmd {
        backend.engine_cmd = Some(shell_split(cmd).context("--engine-cmd")?);
    }
    if let Some(extra) = &a.extra_args {
        backend.extra_args = shell_split(extra).context("--extra-args")?;
    }
    let mut opts = ProfileOptions::new(backend, plan);
    opts.cache_dir.clone_from(&a.cache_dir);
    opts.overwrite_cache = a.overwrite_cache;
    opts.timeout_s = a.timeout;
    opts.gpu_type.clone_from(&a.gpu_type);

    let runner = Arc::new(SystemRunner::new());
    let cancel = Arc::new(AtomicBool::new(false));
    // the sweep ends with the points finished so far cached
    let flag = Arc::clone(&cancel);
    crate::interrupt::stop_children_on_ctrl_c(
        Arc::clone(&runner),
        "stopping the benchmark; finished points stay cached",
        move || flag.store(true, Ordering::SeqCst),
    );
    let profiler = Profiler::new(opts, &*runner).with_cancel(cancel);
    let mut stderr = std::io::stderr();
    let mut cache_path = None;
    let result = profiler.run(&mut |p: &Progress<'_>| {
        if let Progress::Start {
            cache_path: path, ..
        } = p
        {
            cache_path = Some(path.to_path_buf());
        }
        let prefix = if matches!(p, Progress::Start { .. }) {
            "[cache] "
        } else {
            ""
        };
        let _ = writeln!(stderr, "{prefix}{p}");
    });
    let outcome = match result {
        Ok(o) => o,
        Err(e) if is_interrupted(&e) => {
            let at = cache_path.map_or_else(String::new, |p| format!(" in {}", p.display()));
            anyhow::bail!(
                "interrupted: the points finished so far are cached{at}; run the same command \
                 again to resume"
            );
        }
        Err(e) => return Err(e.into()),
    };
    let path = outcome.file.write_to_dir(&a.out_dir)?;
    let meta = &outcome.file.metadata;
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for f in &meta.failed_configs {
        let kind = f.reason.split(':').next().unwrap_or("").to_owned();
        *reasons.entry(kind).or_default() += 1;
    }
    let reasons = reasons
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = format!(
        "profiled {} with {}: {} points ({} measured now, {} cached in {})\n",
        meta.model_path,
        meta.backend,
        outcome.cached_points + outcome.measured_points,
        outcome.measured_points,
        outcome.cached_points,
        outcome.cache_path.display()
    );
    out.push_str(&format!(
        "successful: {}, failed: {}{}\n",
        meta.successful_configs,
        meta.failed_configs.len(),
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({reasons})")
        }
    ));
    out.push_str(&format!("wrote {}\n", path.display()));
    Ok(out)
}
