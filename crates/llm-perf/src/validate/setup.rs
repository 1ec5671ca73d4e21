//! A measured run turned into the simulation that replays it: model, accelerator, engine
//! limits, KV cache, workload and front-end overheads.

use perf_model_core::Dtype;
use perf_model_core::catalog::{Accelerator, ModelSpec};
use perf_readers::{LengthSpec, MeasuredAt, MeasuredRun};
use perf_sim::{SimConfig, TraceRequest};
use serde_json::{Value, json};

use super::{Overheads, ValidateOptions};
use crate::calibrate::Knobs;
use crate::{Error, Result};

/// BLIS's fitted H100 front-end delays (specs/simulator.md §3.5): arrival → engine queue
/// (HTTP, tokenisation, routing) and last token → the client seeing completion, ms.
pub(crate) const FRONTEND_PRE_SCHEDULE_MS: f64 = 15.563;
/// See [`FRONTEND_PRE_SCHEDULE_MS`].
pub(crate) const FRONTEND_POST_COMPLETION_MS: f64 = 0.777;
/// BLIS's fitted per-output-token CPU cost, µs. `--overheads blis` adds it to every engine
/// step as BLIS does; the front-end defaults charge it to the front end instead, where vLLM V1
/// does that work (detokenising and streaming in the API-server process, off the engine's
/// critical path): `cluster.overheads.frontend_us_per_token`.
pub(crate) const BLIS_PER_OUTPUT_TOKEN_US: f64 = 45.9;

/// Everything needed to simulate one run, resolved from the run and the options.
#[derive(Clone, Debug)]
pub(crate) struct Setup {
    /// The simulation configuration without seed.
    pub config: SimConfig,
    /// Canonical accelerator name (catalogue spelling), the calibration key.
    pub accelerator: String,
    /// Model name as simulated.
    pub model: String,
    /// Seeds to run (1 for a trace replay: nothing random).
    pub seeds: u64,
    /// Output tokens each request generates when they are known to differ from what the tool
    /// counted (ignore_eos with a fixed offered length), for the ITL definition.
    pub generated_output: Option<f64>,
    /// Decisions taken, one sentence each.
    pub notes: Vec<String>,
}

fn missing(run: &MeasuredRun, field: &str, message: &str) -> Error {
    Error::Run {
        path: run.source.display().to_string(),
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

/// The model of `run`: its `model_config` file, else the catalogue entry of its name.
fn model_of(run: &MeasuredRun) -> Result<ModelSpec> {
    if let Some(file) = &run.serving.model_config {
        let shown = file.display().to_string();
        let bytes = std::fs::read(file).map_err(|source| perf_readers::ReadError::Io {
            path: shown.clone(),
            source,
        })?;
        return Ok(perf_readers::read_hf_config(&bytes, &shown)?);
    }
    let name = run.serving.model.as_deref().ok_or_else(|| {
        missing(
            run,
            "model",
            "the run does not name its model: give `model:` (or `model_config:`) in --engine-config",
        )
    })?;
    ModelSpec::lookup(name).map_err(|e| {
        missing(
            run,
            "model",
            &format!(
                "{e}; give `model_config: <Hugging Face config.json>` in --engine-config to \
                 simulate a model the catalogue lacks"
            ),
        )
    })
}

/// The run's accelerator: the catalogue entry with the figures the run (or its engine
/// config) gives instead of the catalogue's; an uncatalogued name needs all three figures.
fn accelerator_of(run: &MeasuredRun, opts: &ValidateOptions) -> Result<Accelerator> {
    let s = &run.serving;
    let mut gpu = catalogue_accelerator(run, opts)?;
    if let Some(gb) = s.accelerator_memory_gb {
        gpu.memory_gb = gb;
    }
    if let Some(bw) = s.accelerator_bandwidth_gbs {
        gpu.memory_bandwidth_gbs = Some(bw);
    }
    if let Some(tf) = s.accelerator_tflops {
        gpu.fp16_tflops = tf;
        gpu.bf16_tflops = tf;
    }
    if s.accelerator_memory_gb.is_some()
        || s.accelerator_bandwidth_gbs.is_some()
        || s.accelerator_tflops.is_some()
    {
        gpu.source = format!(
            "{} (figures from the run: {})",
            gpu.source,
            run.source.display()
        );
    }
    gpu.validate()
        .map_err(|e| missing(run, "accelerator", &e.to_string()))?;
    Ok(gpu)
}

fn catalogue_accelerator(run: &MeasuredRun, opts: &ValidateOptions) -> Result<Accelerator> {
    let name = run
        .serving
        .accelerator
        .as_deref()
        .or(opts.accelerator.as_deref())
        .ok_or_else(|| {
            missing(
                run,
                "accelerator",
                "the run does not record its accelerator: give --accelerator NAME or \
                 `accelerator:` in --engine-config",
            )
        })?;
    let s = &run.serving;
    match Accelerator::lookup(name) {
        Ok(a) => Ok(a),
        Err(e) => match (
            s.accelerator_memory_gb,
            s.accelerator_bandwidth_gbs,
            s.accelerator_tflops,
        ) {
            (Some(memory_gb), Some(bw), Some(tflops)) => Ok(Accelerator {
                name: name.to_owned(),
                aliases: Vec::new(),
                vendor: String::new(),
                memory_gb,
                memory_bandwidth_gbs: Some(bw),
                fp16_tflops: tflops,
                bf16_tflops: tflops,
                fp8_tflops: None,
                int8_tops: None,
                interconnect_gbs: None,
                low_confidence: true,
                source: String::new(),
            }),
            _ => Err(missing(
                run,
                "accelerator",
                &format!(
                    "{e}; or describe it: accelerator_memory_gb, accelerator_bandwidth_gbs and \
                     accelerator_tflops in --engine-config"
                ),
            )),
        },
    }
}

fn dtype_of(run: &MeasuredRun) -> Result<Dtype> {
    match run.serving.dtype.as_deref() {
        None | Some("auto") => Ok(Dtype::Bf16),
        Some(d) => {
            let d = match d {
                "bfloat16" => "bf16",
                "float16" | "half" => "fp16",
                other => other,
            };
            d.parse::<Dtype>()
                .map_err(|e| missing(run, "dtype", &e.to_string()))
        }
    }
}

/// `points` (q, tokens) of a [`LengthSpec::Quantiles`] sampled at `n` evenly spaced
/// quantiles, linear between points, rounded to integers ≥ 1.
fn quantile_samples(points: &[(f64, f64)], n: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        #[allow(clippy::cast_precision_loss)]
        let q = (i as f64 + 0.5) / n as f64;
        let j = points
            .iter()
            .position(|p| p.0 >= q)
            .unwrap_or(points.len().saturating_sub(1))
            .max(1)
            .min(points.len().saturating_sub(1));
        let v = match (points.get(j - 1), points.get(j)) {
            (Some(&(q0, v0)), Some(&(q1, v1))) if q1 > q0 => v0 + (v1 - v0) * (q - q0) / (q1 - q0),
            (_, Some(&(_, v))) => v,
            _ => 1.0,
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        out.push(v.round().clamp(1.0, f64::from(u32::MAX)) as u32);
    }
    out
}

fn length_json(spec: &LengthSpec) -> Value {
    match spec {
        LengthSpec::Fixed { tokens } => json!({ "kind": "fixed", "value": (*tokens).max(1) }),
        // The simulator's shared-prefix prompt set draws lengths from a distribution; the
        // median stands for a described one.
        LengthSpec::Quantiles { points } => {
            let median = quantile_samples(points, 1001)[500];
            json!({ "kind": "fixed", "value": median.max(1) })
        }
    }
}

/// Independent marginals as `pairs`: the quantile samples of each, paired with a stride
/// coprime to their count so that long prompts do not systematically get long outputs.
fn pairs_json(input: &LengthSpec, output: &LengthSpec) -> Value {
    let sample = |s: &LengthSpec| match s {
        LengthSpec::Fixed { tokens } => vec![(*tokens).max(1); 1000],
        LengthSpec::Quantiles { points } => quantile_samples(points, 1000),
    };
    let (i, o) = (sample(input), sample(output));
    let pairs: Vec<[u32; 2]> = (0..1000).map(|k| [i[k], o[(k * 617) % 1000]]).collect();
    json!(pairs)
}

/// The output length every request generated when the tool's count cannot be trusted: a
/// fixed offered length under `ignore_eos`.
fn generated_output(run: &MeasuredRun) -> Option<u32> {
    match (&run.workload.output, run.workload.ignore_eos) {
        (Some(LengthSpec::Fixed { tokens }), Some(true)) => Some(*tokens),
        _ => None,
    }
}

fn overheads_json(
    run: &MeasuredRun,
    opts: &ValidateOptions,
    knobs: Option<&Knobs>,
    notes: &mut Vec<String>,
) -> Value {
    let pre_schedule_ms = knobs
        .and_then(|k| k.pre_schedule_ms)
        .unwrap_or(FRONTEND_PRE_SCHEDULE_MS);
    let token_us = knobs
        .and_then(|k| k.frontend_us_per_token)
        .unwrap_or(BLIS_PER_OUTPUT_TOKEN_US);
    let frontend = json!({ "pre_schedule_ms": pre_schedule_ms,
                           "post_completion_ms": FRONTEND_POST_COMPLETION_MS,
                           "frontend_us_per_token": token_us });
    match opts.overheads {
        Overheads::Auto if run.measured_at == MeasuredAt::Client => {
            notes.push(format!(
                "front-end overheads on (measured by an HTTP client): {pre_schedule_ms:.3} ms \
                 before scheduling, {FRONTEND_POST_COMPLETION_MS} ms after the last token, \
                 {token_us:.1} us of front-end time per streamed token"
            ));
            frontend
        }
        Overheads::Auto | Overheads::None => json!({}),
        Overheads::Frontend => frontend,
        Overheads::Blis => json!({ "pre_schedule_ms": pre_schedule_ms,
                                   "post_completion_ms": FRONTEND_POST_COMPLETION_MS,
                                   "per_output_token_us": BLIS_PER_OUTPUT_TOKEN_US }),
    }
}

fn workload_json(
    run: &MeasuredRun,
    opts: &ValidateOptions,
    generated: Option<u32>,
    notes: &mut Vec<String>,
) -> Result<(Value, u64, Option<u64>)> {
    let w = &run.workload;
    if !w.requests.is_empty() {
        let first = w
            .requests
            .iter()
            .map(|r| r.arrival_ms)
            .fold(f64::INFINITY, f64::min);
        let requests: Vec<TraceRequest> = w
            .requests
            .iter()
            .map(|r| TraceRequest {
                arrival_ms: r.arrival_ms - first,
                input_tokens: r.input_tokens.max(1),
                output_tokens: generated.unwrap_or(r.output_tokens).max(1),
            })
            .collect();
        if w.shared_prefix.is_some() {
            notes.push(
                "the trace keeps no prompt identity, so the replay caches no prefixes although \
                 the run did (more prefill work than ran: TTFT is an upper bound; the run's \
                 load-stage form simulates its prompt set)"
                    .into(),
            );
        }
        notes.push(format!(
            "trace replay of {} requests{}",
            requests.len(),
            if generated.is_some() {
                " (outputs at the offered length: ignore_eos)"
            } else {
                ""
            }
        ));
        let client =
            json!({ "name": "replay", "arrival": { "kind": "trace", "requests": requests } });
        return Ok((json!({ "clients": [client] }), 1, None));
    }
    let mut client = json!({ "name": "offered" });
    if !w.pairs.is_empty() {
        notes.push(format!(
            "the {} requests' own (input, output) lengths, resampled",
            w.pairs.len()
        ));
        client["pairs"] = json!(w.pairs);
    } else {
        lengths_json(run, opts, generated, &mut client, notes)?;
    }
    let cv = w.arrival_cv.filter(|cv| (cv - 1.0).abs() > 1e-12);
    if !w.stages.is_empty() {
        let stages: Vec<Value> = w
            .stages
            .iter()
            .map(|s| json!({ "rate": s.rate, "duration_s": s.duration_s }))
            .collect();
        client["arrival"] = json!({ "kind": "stages", "stages": stages });
        if let Some(cv) = cv {
            client["arrival"]["cv"] = json!(cv);
        }
        notes.push(format!(
            "{} arrivals over {} stage(s): {}",
            cv.map_or_else(|| "Poisson".to_owned(), |cv| format!("gamma (CV {cv:.3})")),
            w.stages.len(),
            w.stages
                .iter()
                .map(|s| format!("{} req/s x {} s", s.rate, s.duration_s))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Ok((json!({ "clients": [client] }), opts.seeds, None));
    }
    if let Some(users) = w.concurrency {
        let total = run.measured.overall.successes + run.measured.overall.failures;
        if total == 0 {
            return Err(missing(
                run,
                "workload.concurrency",
                "a closed-loop run needs its request count (no successes or failures recorded)",
            ));
        }
        client["arrival"] = json!({ "kind": "closed_loop", "users": users, "think_time_s": 0.0 });
        notes.push(format!("closed loop: {users} users, {total} requests"));
        return Ok((json!({ "clients": [client] }), opts.seeds, Some(total)));
    }
    Err(missing(
        run,
        "workload",
        "the run has no per-request arrivals, load stages or concurrency to replay",
    ))
}

/// The offered lengths of `run` (its length specs, else its measured means) into `client`.
fn lengths_json(
    run: &MeasuredRun,
    opts: &ValidateOptions,
    generated: Option<u32>,
    client: &mut Value,
    notes: &mut Vec<String>,
) -> Result<()> {
    let w = &run.workload;
    let o = &run.measured.overall;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let mean = |m: Option<f64>| {
        m.filter(|x| x.is_finite() && *x >= 1.0)
            .map(|x| LengthSpec::Fixed {
                tokens: x.round().min(f64::from(u32::MAX)) as u32,
            })
    };
    let (input, output) = match (&w.input, &w.output) {
        (Some(i), Some(o)) => (i.clone(), o.clone()),
        _ => match (mean(o.input_tokens_mean), mean(o.output_tokens_mean)) {
            (Some(i), Some(out)) => {
                notes.push(
                    "lengths fixed at the measured means (the run records no distribution)".into(),
                );
                (i, out)
            }
            _ => {
                return Err(missing(
                    run,
                    "workload",
                    "the run describes neither its requests nor its prompt and output lengths",
                ));
            }
        },
    };
    let output = match generated {
        Some(n) => LengthSpec::Fixed { tokens: n },
        None => output,
    };
    if let Some(sp) = w.shared_prefix.filter(|_| opts.prefix_caching) {
        client["shared_prefix"] = json!({ "groups": sp.groups, "prompts_per_group": sp.prompts_per_group,
                                          "system_prompt_len": sp.system_prompt_len });
        client["input"] = length_json(&input);
        client["output"] = length_json(&output);
        notes.push(format!(
            "shared-prefix prompts {}x{} (system prompt {} tokens)",
            sp.groups, sp.prompts_per_group, sp.system_prompt_len
        ));
    } else {
        client["pairs"] = pairs_json(&input, &output);
    }
    Ok(())
}

/// Builds the simulation of `run`.
pub(crate) fn setup(
    run: &MeasuredRun,
    opts: &ValidateOptions,
    knobs: Option<&Knobs>,
) -> Result<Setup> {
    let mut notes = Vec::new();
    let spec = model_of(run)?;
    let gpu = accelerator_of(run, opts)?;
    let dtype = dtype_of(run)?;
    let s = &run.serving;
    let tp = s.tensor_parallel.unwrap_or(1).max(1);
    let block = s.block_size.unwrap_or(16).max(1);
    let util = s.gpu_memory_utilization.unwrap_or(0.9);
    let blocks = match s.num_gpu_blocks {
        Some(b) => {
            notes.push(format!("{b} KV blocks as the engine reported"));
            b
        }
        None => {
            let b = perf_sim::kv::derive_num_blocks(
                &spec,
                &gpu,
                dtype,
                tp,
                util,
                block,
                f64::from(1u32 << 30),
            )
            .map_err(|e| {
                missing(
                    run,
                    "tensor_parallel",
                    &format!(
                        "{} in {dtype} does not fit on {} x {} ({e})",
                        spec.name, tp, gpu.name
                    ),
                )
            })?;
            notes.push(format!(
                "{b} KV blocks derived (gpu_memory_utilization {util}, 1 GiB reserved)"
            ));
            b
        }
    };
    if s.cpu_offload_gib.is_some_and(|g| g > 0.0) {
        notes.push("KV offloading to CPU is not modelled (limitation)".into());
    }
    let generated = generated_output(run);
    if let (Some(n), Some(counted)) = (generated, run.measured.overall.output_tokens_mean) {
        #[allow(clippy::cast_precision_loss)]
        if counted < 0.95 * f64::from(n) {
            notes.push(format!(
                "outputs simulated at the offered {n} tokens (ignore_eos), not the {counted:.0} the tool counted"
            ));
        }
    }
    let (workload, seeds, max_requests) = workload_json(run, opts, generated, &mut notes)?;
    let mut engine = json!({
        "max_batch_size": s.max_num_seqs.unwrap_or(256),
        "max_num_batched_tokens": s.max_num_batched_tokens.unwrap_or(8192),
        "tensor_parallel": tp,
        "block_size": block,
        "enable_chunked_prefill": s.enable_chunked_prefill.unwrap_or(true),
        "enable_prefix_caching": s.enable_prefix_caching.unwrap_or(true) && opts.prefix_caching,
    });
    if let Some(len) = s.max_model_len {
        engine["max_model_len"] = json!(len);
    }
    let mut cost = json!({ "kind": "roofline", "model": spec.name, "accelerator": gpu.name,
                           "dtype": dtype, "spec": spec, "device": gpu });
    if let Some(k) = knobs {
        cost["calibration"] = json!(k.roofline);
    }
    let mut cfg = json!({
        "cluster": {
            "replicas": s.data_parallel.unwrap_or(1).max(1),
            "engine": engine,
            "cost_model": cost,
            "kv_cache": { "num_gpu_blocks": blocks },
            "overheads": overheads_json(run, opts, knobs, &mut notes),
        },
        "workload": workload,
    });
    if let Some(n) = max_requests {
        cfg["max_requests"] = json!(n);
    }
    let config: SimConfig = serde_json::from_value(cfg)
        .map_err(|e| missing(run, "serving", &format!("cannot build the simulation: {e}")))?;
    config.validate()?;
    Ok(Setup {
        config,
        accelerator: gpu.name.clone(),
        model: spec.name.clone(),
        seeds,
        generated_output: generated.map(f64::from),
        notes,
    })
}
