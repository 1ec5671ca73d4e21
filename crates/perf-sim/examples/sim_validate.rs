//! Fidelity validation against measured vLLM runs (issue #7, specs/simulator.md §9).
//!
//! Run: `cargo run --release -p perf-sim --example sim_validate -- DIR [--seeds N]
//! [--cost-model roofline|profile|both] [--profiles PDIR] [--profile-step-us X]
//! [--overheads none|frontend|blis] [--lengths profile|measured] [--no-prefix-caching]
//! [--layer-us X] [--allreduce-us X] [--mem-eff X]`, where `DIR` is the ground-truth folder
//! (`shared/data/ground-truth`) and `PDIR` the profile folder (`shared/data/profiles`). The
//! files are read from there and never copied: most carry no licence.
//!
//! # Cost models
//!
//! `--cost-model roofline` (default) simulates every run on the roofline described below.
//! `--cost-model profile` (needs `--profiles PDIR`) simulates every run whose model and GPU
//! have measured operator profiles on perf-predict's Vidur-style per-op predictor
//! ([`perf_predict::VidurPredictor`]), handed to the simulator as its
//! [`perf_model_core::StepTimeModel`] through [`Simulation::with_cost_model`]:
//! * the per-layer op curves come from `PDIR/vidur/compute/h100/<HF model id>/mlp.csv` (the
//!   model id of `exp-config.yaml`, e.g. `meta-llama/Llama-2-7b-hf`), rows of the run's TP
//!   degree (Vidur measures one GPU with TP-sharded weights, in ms per layer), times the
//!   model's layer count, plus `emb` once;
//! * for TP > 1, two all-reduces per layer from `PDIR/vidur/network/h100_dgx/all_reduce.csv`
//!   (rows with `num_workers == devices_per_node == TP`, `num_tokens = size / hidden / 2`);
//! * attention, which no Vidur table covers, is the roofline's attention term
//!   ([`perf_predict::RooflineAttention::from_roofline`] of the same roofline the roofline
//!   cost model uses, so `--mem-eff` applies to it too);
//! * nothing else: no LM head, sampling or CPU/scheduler time is in the tables.
//!   `--profile-step-us X` adds a constant X µs to every step as a sensitivity knob (default
//!   0, i.e. the predictor as trained).
//!
//! Runs without such a profile (Mixtral-8x7B: only an LLMServingSim v0 `layers.csv`; the RTX
//! PRO 6000 run: only LLMServingSim `perf/` tables, neither of which perf-predict reads) are
//! listed as "no profile". `--cost-model both` runs the two and prints both tables, then a
//! side-by-side error table with medians over the runs that have both.
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

use perf_model_core::{Accelerator, BatchShape, Dtype, ModelSpec, RooflineModel, StepTimeModel};
use perf_predict::vidur::{read_vidur_all_reduce_csv, read_vidur_mlp_csv};
use perf_predict::{RooflineAttention, VidurPredictor};
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

/// Which step-time model the simulator gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CostModel {
    /// `perf-model-core`'s roofline with default efficiencies.
    Roofline,
    /// perf-predict's Vidur per-op predictor on measured profiles (+ roofline attention).
    Profile,
}

impl CostModel {
    fn label(self) -> &'static str {
        match self {
            Self::Roofline => "roofline (default efficiencies)",
            Self::Profile => {
                "profile (Vidur per-op curves + all-reduce table + roofline attention)"
            }
        }
    }
}

struct Options {
    dir: PathBuf,
    /// The cost models to run, in order.
    cost_models: Vec<CostModel>,
    /// The profile folder (`shared/data/profiles`), for [`CostModel::Profile`].
    profiles: Option<PathBuf>,
    /// Constant µs added to every step of the profile predictor (sensitivity knob).
    profile_step_us: f64,
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
    let mut cost_models = vec![CostModel::Roofline];
    let mut profiles = None;
    let mut profile_step_us = 0.0;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cost-model" => {
                cost_models = match args.next().as_deref() {
                    Some("roofline") => vec![CostModel::Roofline],
                    Some("profile") => vec![CostModel::Profile],
                    Some("both") => vec![CostModel::Roofline, CostModel::Profile],
                    other => {
                        return Err(
                            format!("--cost-model roofline|profile|both, got {other:?}").into()
                        );
                    }
                }
            }
            "--profiles" => {
                profiles = Some(PathBuf::from(
                    args.next().ok_or("--profiles needs a directory")?,
                ));
            }
            "--profile-step-us" => {
                profile_step_us = args
                    .next()
                    .ok_or("--profile-step-us needs a value")?
                    .parse()?;
            }
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
    if cost_models.contains(&CostModel::Profile) && profiles.is_none() {
        return Err("--cost-model profile|both needs --profiles DIR (shared/data/profiles)".into());
    }
    Ok(Options {
        dir: dir.ok_or(
            "usage: sim_validate DIR [--seeds N] [--cost-model roofline|profile|both] \
             [--profiles PDIR] [--profile-step-us X] [--overheads none|frontend|blis] \
             [--lengths profile|measured] [--no-prefix-caching] [--layer-us X] [--allreduce-us X] [--mem-eff X]",
        )?,
        cost_models,
        profiles,
        profile_step_us,
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
    model: &Arc<dyn StepTimeModel>,
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

/// A run ready to simulate: its measured figures, simulator configuration and hardware.
struct Prepared {
    name: String,
    overloaded: bool,
    real: Figures,
    /// The simulator configuration without seed and KV blocks.
    base: Value,
    blocks: u64,
    seeds: u64,
    note: String,
    spec: ModelSpec,
    gpu: Accelerator,
    dtype: Dtype,
    tp: u32,
    /// Hugging Face model id (the Vidur profile folder name).
    hf_model: String,
    /// The Vidur profile GPU folder (`h100`), if the GPU has one.
    vidur_gpu: Option<&'static str>,
}

/// One cost model on one run.
enum Outcome {
    /// Simulated figures (median over seeds) and a note (preemptions, step-time checks).
    Sim(Figures, String),
    /// No profile for this run: why.
    NoProfile(String),
}

impl Outcome {
    fn figures(&self) -> Option<&Figures> {
        match self {
            Self::Sim(f, _) => Some(f),
            Self::NoProfile(_) => None,
        }
    }
}

/// A run with one outcome per cost model of [`Options::cost_models`], in order.
struct Row {
    name: String,
    overloaded: bool,
    real: Figures,
    note: String,
    outcomes: Vec<Outcome>,
}

/// The profile predictor plus a constant per-step time (`--profile-step-us`).
struct ProfileModel {
    vidur: VidurPredictor,
    step_ms: f64,
}

impl StepTimeModel for ProfileModel {
    fn step_time(&self, batch: &BatchShape) -> f64 {
        if batch.is_empty() {
            return 0.0;
        }
        self.vidur.step_time(batch) + self.step_ms
    }
}

/// The Vidur per-op predictor of run `p` from `--profiles`, or why there is none.
fn profile_model(
    p: &Prepared,
    roofline: &RooflineModel,
    opts: &Options,
) -> Res<Result<ProfileModel, String>> {
    let dir = opts.profiles.as_ref().ok_or("--profiles is not set")?;
    let Some(gpu_dir) = p.vidur_gpu else {
        return Ok(Err(format!("no Vidur profiles for {}", p.gpu.name)));
    };
    let mlp = dir
        .join("vidur")
        .join("compute")
        .join(gpu_dir)
        .join(&p.hf_model)
        .join("mlp.csv");
    if !mlp.is_file() {
        return Ok(Err(format!(
            "no Vidur mlp.csv for {} on {gpu_dir}",
            p.hf_model
        )));
    }
    let file = std::fs::File::open(&mlp).map_err(|e| format!("{}: {e}", mlp.display()))?;
    let rows = read_vidur_mlp_csv(file, &mlp)?;
    if !rows.iter().any(|r| r.tp == p.tp) {
        return Ok(Err(format!("{} has no TP{} rows", mlp.display(), p.tp)));
    }
    let mut vidur = VidurPredictor::train(&rows, p.tp, p.spec.layers)?
        .with_roofline_attention(RooflineAttention::from_roofline(roofline)?);
    if p.tp > 1 {
        let ar = dir
            .join("vidur")
            .join("network")
            .join(format!("{gpu_dir}_dgx"))
            .join("all_reduce.csv");
        let file = std::fs::File::open(&ar).map_err(|e| format!("{}: {e}", ar.display()))?;
        vidur = vidur.with_all_reduce(read_vidur_all_reduce_csv(file, &ar, p.tp, p.spec.hidden)?);
    }
    Ok(Ok(ProfileModel {
        vidur,
        step_ms: opts.profile_step_us / 1e3,
    }))
}

/// Step times of `m` on two probe batches (32 decodes over 1 024 tokens, a 2 048-token
/// prefill), ms: a quick check of a cost model's scale.
fn probes(m: &dyn StepTimeModel) -> (f64, f64) {
    let mut prefill = BatchShape::default();
    prefill.add_prefill(2048, 0, true);
    (
        m.step_time(&BatchShape::decode(32, 1024)),
        m.step_time(&prefill),
    )
}

/// Simulates run `p` on cost model `cm`.
fn simulate(p: &Prepared, cm: CostModel, opts: &Options) -> Res<Outcome> {
    let roof = roofline(p.spec.clone(), p.gpu.clone(), p.dtype, p.tp, opts)?;
    let (model, extra): (Arc<dyn StepTimeModel>, String) = match cm {
        CostModel::Roofline => {
            let (d, f) = probes(roof.as_ref());
            (
                roof,
                format!("step decode 32@1k {d:.2} ms, prefill 2k {f:.1} ms"),
            )
        }
        CostModel::Profile => match profile_model(p, &roof, opts)? {
            Ok(m) => {
                let (d, f) = probes(&m);
                let (rd, rf) = probes(roof.as_ref());
                let (dd, fd) =
                    probes(&m.vidur.clone().with_roofline_attention(RooflineAttention {
                        flops_per_pair: 0.0,
                        flops_per_s: 1.0,
                        kv_bytes_per_token: 0.0,
                        bytes_per_s: 1.0,
                    }));
                (
                    Arc::new(m),
                    format!(
                        "step decode 32@1k {d:.2} ms (attn {:.2}; roofline {rd:.2}), \
                         prefill 2k {f:.1} ms (attn {:.1}; roofline {rf:.1})",
                        d - dd - opts.profile_step_us / 1e3,
                        f - fd - opts.profile_step_us / 1e3
                    ),
                )
            }
            Err(why) => return Ok(Outcome::NoProfile(why)),
        },
    };
    let (fig, last) = run_seeds(&p.base, &model, p.blocks, p.seeds)?;
    Ok(Outcome::Sim(
        fig,
        format!("preempt {}, {extra}", last.preemptions),
    ))
}

fn overheads(opts: &Options) -> Value {
    match opts.overheads {
        "blis" => json!({ "pre_schedule_ms": 15.563, "post_completion_ms": 0.777,
                          "per_output_token_us": 45.9 }),
        "frontend" => json!({ "pre_schedule_ms": 15.563, "post_completion_ms": 0.777 }),
        _ => json!({}),
    }
}

fn blis_experiment(exp: &Path, opts: &Options) -> Res<Prepared> {
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
    let mut note = format!("TP{tp}, {blocks} KV blocks, prompts {groups}x{per_group}");
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
    Ok(Prepared {
        name,
        overloaded: failures > 0.0,
        real,
        base,
        blocks,
        seeds: opts.seeds,
        note,
        spec,
        gpu: h100,
        dtype: Dtype::Fp16,
        tp,
        hf_model: model_name.to_owned(),
        vidur_gpu: Some("h100"),
    })
}

fn llmservingsim(run: &Path, opts: &Options) -> Res<Prepared> {
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
    Ok(Prepared {
        name: "llmservingsim RTXPRO6000 Llama-3.1-8B (trace)".into(),
        overloaded: false,
        real,
        base,
        blocks,
        // A replayed trace has no randomness: one seed.
        seeds: 1,
        note: format!("TP1, {blocks} KV blocks, inline GPU"),
        spec,
        gpu,
        dtype: Dtype::Bf16,
        tp: 1,
        hf_model: "meta-llama/Llama-3.1-8B".into(),
        // LLMServingSim `perf/` tables only, which perf-predict does not read.
        vidur_gpu: None,
    })
}

/// Prints the error table of cost model number `k` of [`Options::cost_models`].
fn print_table(rows: &[Row], k: usize) {
    println!(
        "| experiment | TTFT mean real / sim (ms) | err | TTFT p99 real / sim | err | ITL real / sim | err | E2E mean real / sim | err | notes |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let a = &r.real;
        let flag = if r.overloaded { " ⚠" } else { "" };
        match &r.outcomes[k] {
            Outcome::Sim(b, extra) => println!(
                "| {}{flag} | {:.1} / {:.1} | {:.1} % | {:.1} / {:.1} | {:.1} % | {:.2} / {:.2} | {:.1} % | {:.0} / {:.0} | {:.1} % | {}, {extra} |",
                r.name,
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
            ),
            Outcome::NoProfile(why) => println!(
                "| {}{flag} | {:.1} / – | – | {:.1} / – | – | {:.2} / – | – | {:.0} / – | – | no profile: {why} |",
                r.name, a.ttft_mean, a.ttft_p99, a.itl, a.e2e_mean
            ),
        }
    }
}

type Keep<'a> = (&'a str, &'a dyn Fn(&Row) -> bool);

/// Median relative errors (%) of cost model `k` over the rows `keep` selects that have
/// figures for every cost model index in `need`: (count, TTFT mean, TTFT p99, ITL, E2E).
fn medians(
    rows: &[Row],
    k: usize,
    need: &[usize],
    keep: &dyn Fn(&Row) -> bool,
) -> (usize, [f64; 4]) {
    let sel: Vec<(&Figures, &Figures)> = rows
        .iter()
        .filter(|r| keep(r) && need.iter().all(|&j| r.outcomes[j].figures().is_some()))
        .filter_map(|r| r.outcomes[k].figures().map(|f| (&r.real, f)))
        .collect();
    let m =
        |f: fn(&Figures) -> f64| 100.0 * median(sel.iter().map(|(a, b)| err(f(b), f(a))).collect());
    (
        sel.len(),
        [
            m(|f| f.ttft_mean),
            m(|f| f.ttft_p99),
            m(|f| f.itl),
            m(|f| f.e2e_mean),
        ],
    )
}

fn main() -> Res<()> {
    let opts = parse_args()?;
    let mut runs = Vec::new();
    let blis = opts.dir.join("blis-training-h100").join("default_args");
    let mut exps: Vec<PathBuf> = std::fs::read_dir(&blis)
        .map_err(|e| format!("{}: {e}", blis.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("exp-config.yaml").is_file())
        .collect();
    exps.sort();
    let t0 = std::time::Instant::now();
    for exp in &exps {
        runs.push(blis_experiment(exp, &opts)?);
    }
    let lss = opts
        .dir
        .join("llmservingsim-bench")
        .join("RTXPRO6000")
        .join("Llama-3.1-8B");
    if lss.join("vllm").join("requests.jsonl").is_file() {
        runs.push(llmservingsim(&lss, &opts)?);
    }
    let mut rows = Vec::new();
    for p in runs {
        let outcomes = opts
            .cost_models
            .iter()
            .map(|&cm| simulate(&p, cm, &opts))
            .collect::<Res<_>>()?;
        rows.push(Row {
            name: p.name,
            overloaded: p.overloaded,
            real: p.real,
            note: p.note,
            outcomes,
        });
    }
    let wall = t0.elapsed().as_secs_f64();
    let all = |_: &Row| true;
    let blis_ok = |r: &Row| !r.overloaded && !r.name.starts_with("llmservingsim");
    let subsets: [Keep; 2] = [("all runs", &all), ("BLIS H100, not overloaded", &blis_ok)];
    for (k, &cm) in opts.cost_models.iter().enumerate() {
        println!(
            "\nsim_validate: {}, prefix caching {}, lengths {}, overheads {}, {} seeds (median){}; wall {wall:.1} s (all cost models)",
            cm.label(),
            if opts.prefix_caching { "on" } else { "off" },
            if opts.measured_lengths {
                "measured"
            } else {
                "profile"
            },
            opts.overheads,
            opts.seeds,
            if cm == CostModel::Profile {
                format!(", profile step overhead {} µs", opts.profile_step_us)
            } else {
                String::new()
            },
        );
        if opts.layer_us.is_some() || opts.allreduce_us.is_some() || opts.mem_eff.is_some() {
            println!(
                "sensitivity overrides: layer_us {:?}, all-reduce latency_us {:?}, memory efficiency {:?}",
                opts.layer_us, opts.allreduce_us, opts.mem_eff
            );
        }
        print_table(&rows, k);
        for (label, keep) in subsets {
            let (n, m) = medians(&rows, k, &[], keep);
            println!(
                "| **median, {label} ({n})** | | {:.1} % | | {:.1} % | | {:.1} % | | {:.1} % | |",
                m[0], m[1], m[2], m[3]
            );
        }
    }
    if opts.cost_models.len() == 2 {
        println!(
            "\nroofline vs profile: relative error, roofline / profile (runs without a profile show the roofline only)"
        );
        println!("| experiment | TTFT mean | TTFT p99 | ITL | E2E mean |");
        println!("|---|---|---|---|---|");
        let pair = |r: &Row, f: fn(&Figures) -> f64| -> String {
            let e = |k: usize| {
                r.outcomes[k].figures().map_or_else(
                    || "–".to_owned(),
                    |b| format!("{:.1} %", 100.0 * err(f(b), f(&r.real))),
                )
            };
            format!("{} / {}", e(0), e(1))
        };
        for r in &rows {
            println!(
                "| {}{} | {} | {} | {} | {} |",
                r.name,
                if r.overloaded { " ⚠" } else { "" },
                pair(r, |f| f.ttft_mean),
                pair(r, |f| f.ttft_p99),
                pair(r, |f| f.itl),
                pair(r, |f| f.e2e_mean)
            );
        }
        for (label, keep) in subsets {
            let (n, a) = medians(&rows, 0, &[0, 1], keep);
            let (_, b) = medians(&rows, 1, &[0, 1], keep);
            println!(
                "| **median, {label}, runs with a profile ({n})** | {:.1} % / {:.1} % | {:.1} % / {:.1} % | {:.1} % / {:.1} % | {:.1} % / {:.1} % |",
                a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3]
            );
        }
    }
    Ok(())
}
