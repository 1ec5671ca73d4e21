//! Fidelity validation against measured vLLM runs (issue #7, specs/simulator.md §9).
//!
//! Run: `cargo run --release -p perf-sim --example sim_validate -- DIR [--seeds N]
//! [--overheads none|frontend|blis] [--lengths profile|measured] [--no-prefix-caching]
//! [--layer-us X] [--allreduce-us X] [--mem-eff X]`, where `DIR` is the ground-truth folder
//! (`shared/data/ground-truth`). The files are read from there and never copied: most carry no
//! licence.
//!
//! For each experiment in `DIR/blis-training-h100/default_args/*` the simulator gets the run's
//! own settings: model, TP, `max_num_seqs`, `max_num_batched_tokens`, `max_model_len` from
//! `exp-config.yaml`; the load stages `{rate, duration}` from `profile.yaml` as a
//! [`perf_sim::ArrivalConfig::Stages`] Poisson workload; prompt = `system_prompt_len +
//! question_len` and output = `output_len` (fixed, `ignore_eos`) with `--lengths profile`
//! (default), or the run's realised prompt and output length distributions
//! (`successes.prompt_len` / `output_len` percentiles of `summary_lifecycle_metrics.json`)
//! with `--lengths measured`. The cost model is the roofline of `perf-model-core` with its
//! default efficiencies and per-step overheads on an H100 SXM in fp16; the KV cache is derived
//! from model, GPU, TP and `gpu_memory_utilization` 0.9. CodeLlama-34B is not in the catalogue,
//! so its `ModelSpec` is built here from its Hugging Face config (48 layers, hidden 8192, 64
//! heads, 8 KV heads, FFN 22016, vocabulary 32000). Each run is simulated with `--seeds`
//! seeds (default 5) and every metric is the median over seeds.
//!
//! The runs had prefix caching on, and inference-perf's `shared_prefix` data resolved to
//! `num_groups × num_prompts_per_group` = 10 × 10 distinct prompts (`results/config.yaml`),
//! so almost every prompt repeats. The simulation therefore enables prefix caching with a
//! [`perf_sim::SharedPrefix`] prompt set of that size (`--no-prefix-caching` turns it off; with
//! `--lengths measured` there is no prompt identity, so nothing is cached). The runs' 8 GiB CPU
//! KV offloading is not modelled.
//!
//! `--lengths measured` is a diagnostic only: the recorded `output_len` has a mean of 195
//! against 247 for codegen, yet the fastest measured E2E (1.54 s) is far above what a
//! 0-to-31-token answer takes, which suggests the short counts are a client-side counting
//! artefact and that `ignore_eos` outputs had their full length.
//!
//! `--layer-us X`, `--allreduce-us X` and `--mem-eff X` override the roofline's per-layer
//! overhead, all-reduce latency and memory efficiency: a sensitivity analysis of which
//! physical effect the default misses, not the default validation.
//!
//! `--overheads blis` adds BLIS's fitted H100 overheads (specs/simulator.md §3.5: 15.563 ms
//! pre-schedule, 0.777 ms post-completion, 45.9 µs per output token) through
//! `cluster.overheads`; `--overheads frontend` only the first two (the HTTP/tokenisation
//! path the client sees, outside the engine's steps).
//!
//! Measured values come from `results/summary_lifecycle_metrics.json` (seconds): TTFT mean
//! and p99 (`time_to_first_token`), E2E mean (`request_latency`) and ITL derived as
//! `(E2E_mean − TTFT_mean)/(mean output − 1)`, as the sim-to-real pipeline does
//! (inference-perf's own per-chunk ITL is 2–2.6× too small). The simulated ITL is derived the
//! same way from the simulated means. Errors are `|sim − real| / real`.
//!
//! The LLMServingSim run (`llmservingsim-bench/RTXPRO6000/Llama-3.1-8B`, when present) is
//! replayed from its per-request trace (arrival differences, input and output tokens) with
//! [`perf_sim::ArrivalConfig::Trace`]; the RTX PRO 6000 is not catalogued, so it is described
//! inline (96 GB, 1597 GB/s from the run's `config.json`; dense BF16 peak assumed 500 TFLOPS,
//! low confidence).

use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use perf_model_core::{Accelerator, Dtype, ModelSpec, RooflineModel};
use perf_sim::{SimConfig, Simulation, Summary, TraceRequest};
use serde_json::{Value, json};

type Res<T> = Result<T, Box<dyn Error>>;

/// Measured or simulated figures of one run, ms.
#[derive(Clone, Copy, Debug, Default)]
struct Figures {
    ttft_mean: f64,
    ttft_p99: f64,
    itl: f64,
    e2e_mean: f64,
}

struct Options {
    dir: PathBuf,
    seeds: u64,
    /// `none`, `frontend` or `blis`.
    overheads: &'static str,
    measured_lengths: bool,
    /// Sensitivity overrides of the roofline (not the default; for diagnosis only).
    layer_us: Option<f64>,
    allreduce_us: Option<f64>,
    mem_eff: Option<f64>,
    prefix_caching: bool,
}

fn parse_args() -> Res<Options> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let mut seeds = 5;
    let mut overheads = "none";
    let mut measured_lengths = false;
    let (mut layer_us, mut allreduce_us, mut mem_eff) = (None, None, None);
    let mut prefix_caching = true;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--no-prefix-caching" => prefix_caching = false,
            "--layer-us" => {
                layer_us = Some(args.next().ok_or("--layer-us needs a value")?.parse()?)
            }
            "--allreduce-us" => {
                allreduce_us = Some(args.next().ok_or("--allreduce-us needs a value")?.parse()?);
            }
            "--mem-eff" => mem_eff = Some(args.next().ok_or("--mem-eff needs a value")?.parse()?),
            "--seeds" => seeds = args.next().ok_or("--seeds needs a value")?.parse()?,
            "--overheads" => {
                overheads = match args.next().as_deref() {
                    Some("blis") => "blis",
                    Some("frontend") => "frontend",
                    Some("none") => "none",
                    other => {
                        return Err(format!("--overheads none|frontend|blis, got {other:?}").into());
                    }
                }
            }
            "--lengths" => {
                measured_lengths = match args.next().as_deref() {
                    Some("measured") => true,
                    Some("profile") => false,
                    other => {
                        return Err(format!("--lengths profile|measured, got {other:?}").into());
                    }
                }
            }
            _ if dir.is_none() => dir = Some(PathBuf::from(a)),
            other => return Err(format!("unexpected argument {other}").into()),
        }
    }
    Ok(Options {
        dir: dir.ok_or(
            "usage: sim_validate DIR [--seeds N] [--overheads none|frontend|blis] \
             [--lengths profile|measured] [--no-prefix-caching] [--layer-us X] [--allreduce-us X] [--mem-eff X]",
        )?,
        seeds,
        overheads,
        measured_lengths,
        layer_us,
        allreduce_us,
        mem_eff,
        prefix_caching,
    })
}

fn read(path: &Path) -> Res<String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()).into())
}

fn yaml(path: &Path) -> Res<Value> {
    serde_norway::from_str(&read(path)?).map_err(|e| format!("{}: {e}", path.display()).into())
}

fn get<'a>(v: &'a Value, path: &str) -> Res<&'a Value> {
    path.split('.')
        .try_fold(v, |v, k| v.get(k))
        .ok_or_else(|| format!("missing key {path}").into())
}

fn num(v: &Value, path: &str) -> Res<f64> {
    get(v, path)?
        .as_f64()
        .ok_or_else(|| format!("{path} is not a number").into())
}

/// CodeLlama-34B from its Hugging Face `config.json` (not in the catalogue).
fn codellama_34b() -> ModelSpec {
    ModelSpec {
        name: "CodeLlama-34B".into(),
        aliases: vec![],
        layers: 48,
        hidden: 8192,
        heads: 64,
        kv_heads: 8,
        head_dim: 128,
        ffn: 22016,
        vocab: 32000,
        tied_embeddings: false,
        gated_mlp: true,
        qkv_bias: false,
        moe: None,
        mla: None,
        published_params: Some(34e9),
        source: "HF codellama/CodeLlama-34b-Instruct-hf config.json (inline in sim_validate)"
            .into(),
    }
}

fn model_spec(name: &str) -> Res<(ModelSpec, bool)> {
    if name.to_ascii_lowercase().contains("codellama-34b") {
        return Ok((codellama_34b(), true));
    }
    Ok((ModelSpec::lookup(name)?, false))
}

/// RTX PRO 6000 Blackwell Server Edition (not in the catalogue): memory and bandwidth from the
/// LLMServingSim run's `config.json`; compute peak an assumption.
fn rtx_pro_6000() -> Res<Accelerator> {
    let mut a = Accelerator::lookup("L40S")?;
    a.name = "RTX PRO 6000 Blackwell Server".into();
    a.aliases = vec![];
    a.memory_gb = 96.0;
    a.memory_bandwidth_gbs = Some(1597.0);
    a.fp16_tflops = 500.0;
    a.bf16_tflops = 500.0;
    a.fp8_tflops = Some(1000.0);
    a.interconnect_gbs = Some(64.0);
    a.low_confidence = true;
    a.source = "inline assumption in sim_validate (96 GB, 1597 GB/s, 500 TFLOPS bf16)".into();
    Ok(a)
}

/// Samples of a percentile summary (`min`, `p0.1`, …, `max`) at 1 000 evenly spaced
/// quantiles, rounded to integers ≥ 1.
fn quantile_samples(dist: &Value) -> Res<Vec<u32>> {
    let keys = [
        ("min", 0.0),
        ("p0.1", 0.001),
        ("p1", 0.01),
        ("p5", 0.05),
        ("p10", 0.10),
        ("p25", 0.25),
        ("median", 0.50),
        ("p75", 0.75),
        ("p90", 0.90),
        ("p95", 0.95),
        ("p99", 0.99),
        ("p99.9", 0.999),
        ("max", 1.0),
    ];
    let pts: Vec<(f64, f64)> = keys
        .iter()
        .map(|&(k, q)| {
            let v = dist
                .get(k)
                .and_then(Value::as_f64)
                .ok_or_else(|| format!("missing percentile {k}"))?;
            Ok((q, v))
        })
        .collect::<Res<_>>()?;
    let mut out = Vec::with_capacity(1000);
    for i in 0..1000 {
        let q = (f64::from(i) + 0.5) / 1000.0;
        let j = pts
            .iter()
            .position(|p| p.0 >= q)
            .unwrap_or(pts.len() - 1)
            .max(1);
        let (q0, v0) = pts[j - 1];
        let (q1, v1) = pts[j];
        let v = v0 + (v1 - v0) * (q - q0) / (q1 - q0);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        out.push(v.round().max(1.0) as u32);
    }
    Ok(out)
}

/// The roofline of `spec` on `gpu`, with the sensitivity overrides of `opts` if any.
fn roofline(
    spec: ModelSpec,
    gpu: Accelerator,
    dtype: Dtype,
    tp: u32,
    opts: &Options,
) -> Res<Arc<RooflineModel>> {
    let mut m = RooflineModel::new(spec, gpu, dtype, tp)?;
    if let Some(us) = opts.layer_us {
        let mut o = m.overheads();
        o.layer_us = us;
        m = m.with_overheads(o)?;
    }
    if let Some(us) = opts.allreduce_us {
        let mut a = m.all_reduce();
        a.latency_us = us;
        m = m.with_all_reduce(a)?;
    }
    if let Some(eta) = opts.mem_eff {
        m = m.with_memory_efficiency(eta)?;
    }
    Ok(Arc::new(m))
}

fn run_seeds(
    base: &Value,
    model: &Arc<RooflineModel>,
    blocks: u64,
    seeds: u64,
) -> Res<(Figures, Summary)> {
    let mut runs = Vec::new();
    let mut last = None;
    for seed in 0..seeds {
        let mut v = base.clone();
        v["seed"] = json!(seed);
        v["cluster"]["kv_cache"] = json!({ "num_gpu_blocks": blocks });
        let cfg: SimConfig = serde_json::from_value(v)?;
        let sim = Simulation::with_cost_model(cfg, model.clone())?;
        let s = sim.run(std::io::sink())?;
        runs.push(figures_of(&s));
        last = Some(s);
    }
    let med = |f: fn(&Figures) -> f64| median(runs.iter().map(f).collect());
    let fig = Figures {
        ttft_mean: med(|f| f.ttft_mean),
        ttft_p99: med(|f| f.ttft_p99),
        itl: med(|f| f.itl),
        e2e_mean: med(|f| f.e2e_mean),
    };
    Ok((fig, last.ok_or("no seeds")?))
}

#[allow(clippy::cast_precision_loss)]
fn figures_of(s: &Summary) -> Figures {
    let l = &s.latency;
    let out = s.output_tokens as f64 / s.requests.completed.max(1) as f64;
    Figures {
        ttft_mean: l.ttft_ms.mean,
        ttft_p99: l.ttft_ms.p99,
        itl: (l.e2e_ms.mean - l.ttft_ms.mean) / (out - 1.0).max(1.0),
        e2e_mean: l.e2e_ms.mean,
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.retain(|x| x.is_finite());
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn err(sim: f64, real: f64) -> f64 {
    (sim - real).abs() / real
}

struct Row {
    name: String,
    overloaded: bool,
    real: Figures,
    sim: Figures,
    note: String,
}

fn overheads(opts: &Options) -> Value {
    match opts.overheads {
        "blis" => json!({ "pre_schedule_ms": 15.563, "post_completion_ms": 0.777,
                          "per_output_token_us": 45.9 }),
        "frontend" => json!({ "pre_schedule_ms": 15.563, "post_completion_ms": 0.777 }),
        _ => json!({}),
    }
}

fn blis_experiment(exp: &Path, opts: &Options) -> Res<Row> {
    let cfg = yaml(&exp.join("exp-config.yaml"))?;
    let profile = yaml(&exp.join("profile.yaml"))?;
    let summary: Value = serde_json::from_str(&read(
        &exp.join("results").join("summary_lifecycle_metrics.json"),
    )?)?;
    let model_name = get(&cfg, "model")?
        .as_str()
        .ok_or("model is not a string")?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let int = |k: &str| -> Res<u32> { Ok(num(&cfg, k)? as u32) };
    let tp = int("tensor_parallelism")?;
    let sp = get(&profile, "data.shared_prefix")?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let prompt = (num(sp, "system_prompt_len")? + num(sp, "question_len")?) as u32;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let output = num(sp, "output_len")? as u32;
    let stages: Vec<Value> = get(&profile, "load.stages")?
        .as_array()
        .ok_or("load.stages is not a list")?
        .iter()
        .map(|s| Ok(json!({ "rate": num(s, "rate")?, "duration_s": num(s, "duration")? })))
        .collect::<Res<_>>()?;
    let succ = get(&summary, "successes")?;
    let lengths = if opts.measured_lengths {
        let p = quantile_samples(get(succ, "prompt_len")?)?;
        let o = quantile_samples(get(succ, "output_len")?)?;
        // Independent marginals, paired by the same quantile order would correlate them; pair
        // them with a stride coprime to 1000 instead.
        let pairs: Vec<[u32; 2]> = (0..1000).map(|i| [p[i], o[(i * 617) % 1000]]).collect();
        json!({ "pairs": pairs })
    } else {
        json!({ "input": { "kind": "fixed", "value": prompt },
                "output": { "kind": "fixed", "value": output } })
    };
    // The prompt set as inference-perf expanded it (results/config.yaml), else the profile's.
    let expanded = yaml(&exp.join("results").join("config.yaml")).ok();
    let esp = expanded
        .as_ref()
        .and_then(|e| get(e, "data.shared_prefix").ok());
    let groups = esp
        .and_then(|e| num(e, "num_groups").ok())
        .map_or_else(|| num(sp, "num_unique_system_prompts"), Ok)?;
    let per_group = esp
        .and_then(|e| num(e, "num_prompts_per_group").ok())
        .map_or_else(|| num(sp, "num_users_per_system_prompt"), Ok)?;
    let mut client = json!({ "name": "shared_prefix",
        "arrival": { "kind": "stages", "stages": stages } });
    if !opts.measured_lengths {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let (g, p, s) = (
            groups as u32,
            per_group as u32,
            num(sp, "system_prompt_len")? as u32,
        );
        client["shared_prefix"] =
            json!({ "groups": g, "prompts_per_group": p, "system_prompt_len": s });
    }
    for (k, v) in lengths.as_object().ok_or("lengths")? {
        client[k] = v.clone();
    }
    let base = json!({
        "cluster": {
            "engine": {
                "max_batch_size": int("max_num_seqs")?,
                "max_num_batched_tokens": int("max_num_batched_tokens")?,
                "max_model_len": int("max_model_len")?,
                "tensor_parallel": tp,
                "enable_chunked_prefill": true,
                "enable_prefix_caching": opts.prefix_caching,
            },
            "cost_model": { "kind": "roofline", "model": model_name, "accelerator": "H100",
                            "dtype": "fp16" },
            "overheads": overheads(opts),
        },
        "workload": { "clients": [client] },
    });
    let (spec, inline) = model_spec(model_name)?;
    let h100 = Accelerator::lookup("H100")?;
    let blocks = perf_sim::kv::derive_num_blocks(
        &spec,
        &h100,
        Dtype::Fp16,
        tp,
        0.9,
        16,
        f64::from(1u32 << 30),
    )?;
    let roofline = roofline(spec, h100, Dtype::Fp16, tp, opts)?;
    let (sim, last) = run_seeds(&base, &roofline, blocks, opts.seeds)?;
    let lat = get(succ, "latency")?;
    let ttft = num(lat, "time_to_first_token.mean")? * 1e3;
    let e2e = num(lat, "request_latency.mean")? * 1e3;
    let out_mean = num(succ, "output_len.mean")?;
    let real = Figures {
        ttft_mean: ttft,
        ttft_p99: num(lat, "time_to_first_token.p99")? * 1e3,
        itl: (e2e - ttft) / (out_mean - 1.0),
        e2e_mean: e2e,
    };
    let failures = summary
        .get("failures")
        .and_then(|f| f.get("count"))
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let mut note = format!(
        "TP{tp}, {blocks} KV blocks, preempt {}, prompts {groups}x{per_group}",
        last.preemptions
    );
    if inline {
        note.push_str(", inline ModelSpec");
    }
    if failures > 0.0 {
        let _ = write!(note, ", {failures:.0} measured failures");
    }
    let name = exp
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("?")
        .to_owned();
    Ok(Row {
        name,
        overloaded: failures > 0.0,
        real,
        sim,
        note,
    })
}

fn llmservingsim(run: &Path, opts: &Options) -> Res<Row> {
    let text = read(&run.join("vllm").join("requests.jsonl"))?;
    let mut reqs = Vec::new();
    let (mut ttft, mut e2e, mut out) = (Vec::new(), Vec::new(), 0.0);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)?;
        let q = num(&v, "queued_ts")?;
        ttft.push((num(&v, "first_token_ts")? - q) * 1e3);
        e2e.push((num(&v, "last_token_ts")? - q) * 1e3);
        let o = num(&v, "output_toks")?;
        out += o;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        reqs.push(TraceRequest {
            arrival_ms: num(&v, "arrival_time")? * 1e3,
            input_tokens: num(&v, "input_toks")? as u32,
            output_tokens: o as u32,
        });
    }
    #[allow(clippy::cast_precision_loss)]
    let n = reqs.len() as f64;
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len().max(1) as f64;
    let p99 = |xs: &[f64]| {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        let pos = 0.99 * (v.len().max(1) - 1) as f64;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let (i, f) = (pos.floor() as usize, pos - pos.floor());
        v[i] + (v[(i + 1).min(v.len() - 1)] - v[i]) * f
    };
    let real = Figures {
        ttft_mean: mean(&ttft),
        ttft_p99: p99(&ttft),
        itl: (mean(&e2e) - mean(&ttft)) / (out / n - 1.0),
        e2e_mean: mean(&e2e),
    };
    let base = json!({
        "cluster": {
            "engine": { "max_batch_size": 128, "max_num_batched_tokens": 2048,
                        "tensor_parallel": 1, "enable_chunked_prefill": true },
            "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B",
                            "accelerator": "RTX PRO 6000", "dtype": "bf16" },
            "overheads": overheads(opts),
        },
        "workload": { "clients": [ { "name": "sharegpt",
            "arrival": { "kind": "trace", "requests": reqs } } ] },
    });
    let spec = ModelSpec::lookup("Llama-3.1-8B")?;
    let gpu = rtx_pro_6000()?;
    let blocks = perf_sim::kv::derive_num_blocks(
        &spec,
        &gpu,
        Dtype::Bf16,
        1,
        0.9,
        16,
        f64::from(1u32 << 30),
    )?;
    let roofline = roofline(spec, gpu, Dtype::Bf16, 1, opts)?;
    // A replayed trace has no randomness: one seed.
    let (sim, last) = run_seeds(&base, &roofline, blocks, 1)?;
    Ok(Row {
        name: "llmservingsim RTXPRO6000 Llama-3.1-8B (trace)".into(),
        overloaded: false,
        real,
        sim,
        note: format!(
            "TP1, {blocks} KV blocks, preempt {}, inline GPU",
            last.preemptions
        ),
    })
}

fn main() -> Res<()> {
    let opts = parse_args()?;
    let mut rows = Vec::new();
    let blis = opts.dir.join("blis-training-h100").join("default_args");
    let mut exps: Vec<PathBuf> = std::fs::read_dir(&blis)
        .map_err(|e| format!("{}: {e}", blis.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("exp-config.yaml").is_file())
        .collect();
    exps.sort();
    let t0 = std::time::Instant::now();
    for exp in &exps {
        rows.push(blis_experiment(exp, &opts)?);
    }
    let lss = opts
        .dir
        .join("llmservingsim-bench")
        .join("RTXPRO6000")
        .join("Llama-3.1-8B");
    if lss.join("vllm").join("requests.jsonl").is_file() {
        rows.push(llmservingsim(&lss, &opts)?);
    }
    println!(
        "sim_validate: roofline (default efficiencies), prefix caching {}, lengths {}, overheads {}, {} seeds (median); wall {:.1} s",
        if opts.prefix_caching { "on" } else { "off" },
        if opts.measured_lengths {
            "measured"
        } else {
            "profile"
        },
        opts.overheads,
        opts.seeds,
        t0.elapsed().as_secs_f64()
    );
    if opts.layer_us.is_some() || opts.allreduce_us.is_some() || opts.mem_eff.is_some() {
        println!(
            "sensitivity overrides: layer_us {:?}, all-reduce latency_us {:?}, memory efficiency {:?}",
            opts.layer_us, opts.allreduce_us, opts.mem_eff
        );
    }
    println!(
        "| experiment | TTFT mean real / sim (ms) | err | TTFT p99 real / sim | err | ITL real / sim | err | E2E mean real / sim | err | notes |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let (a, b) = (&r.real, &r.sim);
        println!(
            "| {}{} | {:.1} / {:.1} | {:.1} % | {:.1} / {:.1} | {:.1} % | {:.2} / {:.2} | {:.1} % | {:.0} / {:.0} | {:.1} % | {} |",
            r.name,
            if r.overloaded { " ⚠" } else { "" },
            a.ttft_mean,
            b.ttft_mean,
            100.0 * err(b.ttft_mean, a.ttft_mean),
            a.ttft_p99,
            b.ttft_p99,
            100.0 * err(b.ttft_p99, a.ttft_p99),
            a.itl,
            b.itl,
            100.0 * err(b.itl, a.itl),
            a.e2e_mean,
            b.e2e_mean,
            100.0 * err(b.e2e_mean, a.e2e_mean),
            r.note
        );
    }
    for (label, keep) in [
        ("all runs", &(|_: &Row| true) as &dyn Fn(&Row) -> bool),
        ("BLIS H100, not overloaded", &|r: &Row| {
            !r.overloaded && !r.name.starts_with("llmservingsim")
        }),
    ] {
        let sel: Vec<&Row> = rows.iter().filter(|r| keep(r)).collect();
        let m = |f: fn(&Figures) -> f64| {
            100.0 * median(sel.iter().map(|r| err(f(&r.sim), f(&r.real))).collect())
        };
        println!(
            "| **median, {label} ({})** | | {:.1} % | | {:.1} % | | {:.1} % | | {:.1} % | |",
            sel.len(),
            m(|f| f.ttft_mean),
            m(|f| f.ttft_p99),
            m(|f| f.itl),
            m(|f| f.e2e_mean)
        );
    }
    Ok(())
}
