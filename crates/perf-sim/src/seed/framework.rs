//! `frameworks_to_test` onto the cluster: every target framework becomes one replica running
//! its engine (`type`: vLLM, SGLang or TensorRT-LLM) and the roofline of its catalogue model on
//! its (inline) device; several targets are pools of their own, side by side.

use std::collections::BTreeMap;

use perf_model_core::{Dtype, ModelSpec, ServingConfig, ServingConfigData};

use crate::config::{CostModelConfig, KvCacheConfig};
use crate::engine::{EngineConfig, EngineKind, SglangKnobs};
use crate::error::{Result, invalid};
use crate::kv::derive_num_blocks_pipelined;

use super::decision::Log;
use super::hardware::{Device, Link, interconnect_gbs};
use super::schema::{SeedEngine, SeedFramework};

/// What one target framework runs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Replica {
    pub(crate) engine: EngineConfig,
    pub(crate) cost_model: CostModelConfig,
}

/// The engine of a seed framework `type`, and how to say it.
fn engine_kind(kind: &str) -> Option<(EngineKind, &'static str)> {
    Some(match kind {
        "VLLM" | "ParallelVLLM" => (
            EngineKind::VllmV1,
            "vllm_v1 (vLLM V1 scheduler: chunked prefill, paged KV, recompute preemption)",
        ),
        "SGLang" | "SGLANG" | "Sglang" => (
            EngineKind::Sglang(SglangKnobs::default()),
            "sglang (radix prefix cache, fcfs, prefill-priority steps, decode retraction)",
        ),
        "TensorRTLLM" | "TRTLLM" | "TensorRT-LLM" | "TRT-LLM" | "TensorRT_LLM" => (
            EngineKind::TrtLlm(crate::engine::TrtLlmKnobs::default()),
            "trtllm (TensorRT-LLM in-flight batching, guaranteed_no_evict, KV block reuse)",
        ),
        _ => return None,
    })
}

/// The replica of every target framework, with its index in `frameworks_to_test`.
///
/// # Errors
/// [`crate::SimError::InvalidConfig`] naming the path: no target, an unknown type, model or
/// device, an inconsistent parallelism, pipeline parallelism, a model that does not fit in
/// device memory, engine limits the engine rejects.
pub(crate) fn replicas(
    frameworks: &[SeedFramework],
    devices: &BTreeMap<String, Device>,
    links: &[Link],
    log: &mut Log,
) -> Result<Vec<(usize, Replica)>> {
    let mut out = Vec::new();
    for (i, f) in frameworks.iter().enumerate() {
        let path = format!("frameworks_to_test[{i}]");
        let Some((kind, says)) = engine_kind(&f.kind) else {
            return Err(invalid(
                format!("{path}.type"),
                &f.kind,
                "unknown framework type (the seed's are VLLM and ParallelVLLM; SGLang and \
                 TensorRTLLM (TRTLLM) are accepted too)",
            ));
        };
        if let Some(j) = frameworks[..i].iter().position(|g| g.name == f.name) {
            return Err(invalid(
                format!("{path}.name"),
                &f.name,
                format!("the name of frameworks_to_test[{j}] too: names must be unique"),
            ));
        }
        if f.is_target_for_workload == Some(false) {
            log.ignored(
                &path,
                format!("`{}` is not a target for the workload: no replica", f.name),
            );
            continue;
        }
        log.mapped(format!("{path}.type"), format!("{}: engine {says}", f.kind));
        let replica = replica(
            &f.config,
            &format!("{path}.config"),
            kind,
            devices,
            links,
            log,
        )?;
        log.mapped(
            &path,
            format!("`{}` ({}) is replica {}", f.name, f.kind, out.len()),
        );
        out.push((i, replica));
    }
    if out.is_empty() {
        return Err(invalid(
            "frameworks_to_test",
            "[]",
            "need at least one framework with is_target_for_workload: true",
        ));
    }
    Ok(out)
}

fn replica(
    c: &SeedEngine,
    path: &str,
    kind: EngineKind,
    devices: &BTreeMap<String, Device>,
    links: &[Link],
    log: &mut Log,
) -> Result<Replica> {
    let model = ModelSpec::lookup(&c.model_profile_id).map_err(|e| {
        invalid(
            format!("{path}.model_profile_id"),
            &c.model_profile_id,
            e.to_string(),
        )
    })?;
    log.mapped(
        format!("{path}.model_profile_id"),
        format!(
            "catalogue model {} (costs derived from its architecture, fp16)",
            model.name
        ),
    );
    let (gpus, tp, stages) = parallelism(c, path, log)?;
    let mut device = None;
    for (j, id) in gpus.iter().enumerate() {
        let at = if c.parallelism.is_some() {
            format!("{path}.parallelism.gpu_ids[{j}]")
        } else {
            format!("{path}.gpu_id")
        };
        let Some(d) = devices.get(id) else {
            let known: Vec<&str> = devices.keys().map(String::as_str).collect();
            return Err(invalid(
                at,
                id,
                format!(
                    "no such device in hardware_profile.compute_devices (known: {})",
                    known.join(", ")
                ),
            ));
        };
        match &device {
            None => device = Some(d.clone()),
            Some(first) if !same_figures(&first.accelerator, &d.accelerator) => {
                return Err(invalid(
                    at,
                    id,
                    format!(
                        "its figures differ from {} ({}): all devices of a framework must be alike",
                        first.accelerator.name, first.path
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let Some(device) = device else {
        return Err(invalid(
            format!("{path}.parallelism.gpu_ids"),
            "[]",
            "no device",
        ));
    };
    let mut accelerator = device.accelerator;
    if tp > 1 {
        // (the TP group of the first stage; every stage's devices are alike)
        accelerator.interconnect_gbs = interconnect_gbs(&gpus[..tp as usize], links);
        match accelerator.interconnect_gbs {
            Some(g) => log.converted(
                format!("{path}.parallelism.gpu_ids"),
                format!("slowest link between the TP devices = {g} GB/s interconnect (both ways)"),
            ),
            None => log.default_applied(
                format!("{path}.parallelism.gpu_ids"),
                "no link between every pair of TP devices: PCIe-class all-reduce",
            ),
        }
    }
    let engine = engine(c, path, (tp, stages), log)?;
    let blocks = derive_num_blocks_pipelined(
        &model,
        &accelerator,
        Dtype::Fp16,
        (tp, stages),
        engine.gpu_memory_utilization(),
        engine.block_size(),
        KvCacheConfig::default().reserved_gib * f64::from(1u32 << 30),
    )
    .map_err(|e| {
        let reason = match e {
            crate::SimError::InvalidConfig { reason, .. } => reason,
            other => other.to_string(),
        };
        invalid(
            format!("{path}.model_profile_id"),
            &c.model_profile_id,
            format!(
                "{} does not fit on {} ({}, tp {tp}): {reason}",
                model.name, accelerator.name, device.path
            ),
        )
    })?;
    log.mapped(
        path,
        format!(
            "{blocks} KV blocks of {} tokens per replica (90% of device memory, minus weights \
             and 1 GiB reserved)",
            engine.block_size()
        ),
    );
    let kind = match kind {
        EngineKind::Sglang(mut k) => {
            // SGLang's prefill chunk is at most its prefill budget.
            k.chunked_prefill_size = k.chunked_prefill_size.min(engine.max_num_batched_tokens());
            log.mapped(
                format!("{path}.max_num_batched_tokens"),
                format!(
                    "SGLang's max_prefill_tokens; chunked_prefill_size {}",
                    k.chunked_prefill_size
                ),
            );
            EngineKind::Sglang(k)
        }
        other => other,
    };
    let engine = EngineConfig {
        kind,
        limits: engine,
        speculative: None,
        pipeline_link: stage_link(&gpus, tp, stages, links, path, log),
    };
    engine
        .validate()
        .map_err(|e| invalid(path, "engine limits", e.to_string()))?;
    Ok(Replica {
        engine,
        cost_model: CostModelConfig::Roofline {
            model: model.name.clone(),
            accelerator: accelerator.name.clone(),
            dtype: Dtype::Fp16,
            device: Some(Box::new(accelerator)),
            spec: None,
            model_config: None,
            calibration: None,
        },
    })
}

/// Whether two devices have the same figures (names and sources aside).
fn same_figures(a: &perf_model_core::Accelerator, b: &perf_model_core::Accelerator) -> bool {
    a.memory_gb.to_bits() == b.memory_gb.to_bits()
        && a.memory_bandwidth_gbs.map(f64::to_bits) == b.memory_bandwidth_gbs.map(f64::to_bits)
        && a.fp16_tflops.to_bits() == b.fp16_tflops.to_bits()
        && a.int8_tops.map(f64::to_bits) == b.int8_tops.map(f64::to_bits)
}

/// The devices of a framework (stage after stage, `tp` each), its TP degree and its pipeline
/// stages.
fn parallelism(c: &SeedEngine, path: &str, log: &mut Log) -> Result<(Vec<String>, u32, u32)> {
    let Some(p) = &c.parallelism else {
        let gpu = match &c.gpu_id {
            Some(g) => g.clone(),
            None => {
                log.default_applied(format!("{path}.gpu_id"), "gpu0");
                "gpu0".to_owned()
            }
        };
        return Ok((vec![gpu], 1, 1));
    };
    let pp = format!("{path}.parallelism");
    if c.gpu_id.is_some() {
        log.ignored(
            format!("{path}.gpu_id"),
            "parallelism.gpu_ids names the devices",
        );
    }
    let strategy = p.strategy.as_deref().unwrap_or("None");
    let tp = p.tp_degree.unwrap_or(1);
    let stages = p.pp_stages.unwrap_or(1);
    if tp == 0 {
        return Err(invalid(format!("{pp}.tp_degree"), 0, "must be >= 1"));
    }
    if stages == 0 || stages > 64 {
        return Err(invalid(
            format!("{pp}.pp_stages"),
            stages,
            "must be in 1..=64",
        ));
    }
    if stages > 1 && !matches!(strategy, "PP" | "TP_PP") {
        return Err(invalid(
            format!("{pp}.pp_stages"),
            stages,
            format!("strategy {strategy} has no pipeline: set strategy: PP or TP_PP"),
        ));
    }
    if p.num_microbatches_per_request.is_some() {
        log.ignored(
            format!("{pp}.num_microbatches_per_request"),
            "a step's batch is one micro-batch; the pipeline overlaps the stages' engines \
             (docs/simulator.md, pipeline parallelism)",
        );
    }
    let gpus = p.gpu_ids.clone().unwrap_or_default();
    let tp = match strategy {
        "None" => {
            if tp > 1 {
                return Err(invalid(
                    format!("{pp}.tp_degree"),
                    tp,
                    "strategy None runs on one device: set strategy: TP",
                ));
            }
            1
        }
        "TP" | "PP" | "TP_PP" => tp,
        other => {
            return Err(invalid(
                format!("{pp}.strategy"),
                other,
                "unknown strategy (the seed's are None, TP, PP, TP_PP)",
            ));
        }
    };
    let needed = if strategy == "None" {
        1
    } else {
        tp as usize * stages as usize
    };
    if gpus.len() < needed || (strategy != "None" && gpus.len() != needed) {
        return Err(invalid(
            format!("{pp}.gpu_ids"),
            format!("{gpus:?}"),
            format!(
                "strategy {strategy} with tp_degree {tp} and pp_stages {stages} needs {needed} \
                 device(s)"
            ),
        ));
    }
    if stages > 1 {
        log.mapped(
            format!("{pp}.pp_stages"),
            format!(
                "pipeline_parallel {stages}: stage s runs on gpu_ids[{tp}·s..{tp}·(s+1)], one \
                 engine per stage sharing the stages"
            ),
        );
    }
    Ok((gpus.into_iter().take(needed).collect(), tp, stages))
}

/// The engine limits (the seed's defaults where absent).
fn engine(
    c: &SeedEngine,
    path: &str,
    (tp, stages): (u32, u32),
    log: &mut Log,
) -> Result<ServingConfig> {
    let d = ServingConfigData::default();
    let mut pick = |key: &str, v: Option<u32>, default: u32, note: &str| -> u32 {
        v.unwrap_or_else(|| {
            log.default_applied(format!("{path}.{key}"), format!("{default}{note}"));
            default
        })
    };
    let block_size = pick("block_size", c.block_size, 16, "");
    let max_batch_size = pick("max_num_seqs", c.max_num_seqs, 256, "");
    let max_num_batched_tokens = pick(
        "max_num_batched_tokens",
        c.max_num_batched_tokens,
        d.max_num_batched_tokens,
        " (vLLM's default; the seed derives a hardware-dependent value)",
    );
    let enable_chunked_prefill = c.enable_chunked_prefill.unwrap_or(true);
    let enable_prefix_caching = c.enable_prefix_caching.unwrap_or(true);
    if c.enable_prefix_caching.is_none() {
        log.default_applied(format!("{path}.enable_prefix_caching"), "true");
    }
    if enable_prefix_caching {
        log.mapped(
            format!("{path}.enable_prefix_caching"),
            "on: a conversation's turns reuse the KV of the turns before (the seed's \
             prefix_patterns are not modelled, so lone requests share nothing)",
        );
    }
    if c.scheduler_iteration_delay_s.is_some() {
        log.ignored(
            format!("{path}.scheduler_iteration_delay_s"),
            "the simulator never polls: an idle replica wakes when a request arrives",
        );
    }
    if c.prefill_chunk_size.is_some() {
        log.ignored(
            format!("{path}.prefill_chunk_size"),
            "prefill chunks are bounded by max_num_batched_tokens only",
        );
    }
    if c.bytes_per_token_estimate_for_network.is_some() {
        log.ignored(
            format!("{path}.bytes_per_token_estimate_for_network"),
            "network transfers are not simulated",
        );
    }
    match c.scheduling_policy.as_deref() {
        None => {}
        Some("fcfs") => log.mapped(
            format!("{path}.scheduling_policy"),
            "fcfs: vLLM V1's first come, first served",
        ),
        Some(other) => {
            return Err(invalid(
                format!("{path}.scheduling_policy"),
                other,
                "only fcfs is simulated",
            ));
        }
    }
    for (key, set) in [
        ("data_parallel_group", c.data_parallel_group.is_some()),
        ("data_parallel_size", c.data_parallel_size.is_some()),
        ("data_parallel_rank", c.data_parallel_rank.is_some()),
    ] {
        if set {
            log.ignored(
                format!("{path}.{key}"),
                "each framework entry is already one data-parallel replica",
            );
        }
    }
    for (key, set) in [
        (
            "enable_cross_request_caching",
            c.enable_cross_request_caching.is_some(),
        ),
        (
            "min_prefix_cache_length",
            c.min_prefix_cache_length.is_some(),
        ),
        ("max_prefix_cache_size", c.max_prefix_cache_size.is_some()),
        ("prefix_eviction_policy", c.prefix_eviction_policy.is_some()),
    ] {
        if set {
            log.ignored(
                format!("{path}.{key}"),
                "the prefix cache keeps whole blocks and evicts the least recently used (vLLM's \
                 automatic prefix caching)",
            );
        }
    }
    ServingConfig::new(ServingConfigData {
        max_batch_size,
        max_num_batched_tokens,
        block_size,
        tensor_parallel: tp,
        pipeline_parallel: stages,
        enable_chunked_prefill,
        enable_prefix_caching,
        ..d
    })
    .map_err(|e| invalid(path, "engine limits", e.to_string()))
}

/// The link between consecutive pipeline stages: the slowest (and highest-latency) seed link
/// joining a device of stage `s` to one of stage `s + 1`, for every `s`; `None` (the derived
/// default: the device's interconnect) without pipeline or when some pair of stages has no
/// link. Activation bytes per token come from the model (hidden size × fp16).
fn stage_link(
    gpus: &[String],
    tp: u32,
    stages: u32,
    links: &[Link],
    path: &str,
    log: &mut Log,
) -> Option<crate::pipeline::PipelineLink> {
    if stages <= 1 {
        return None;
    }
    let at = format!("{path}.parallelism.gpu_ids");
    let stage = |s: u32| &gpus[(s * tp) as usize..((s + 1) * tp) as usize];
    let mut slowest: Option<(f64, f64)> = None;
    for s in 0..stages - 1 {
        let (a, b) = (stage(s), stage(s + 1));
        let joining = links.iter().filter(|l| {
            (a.contains(&l.0) && b.contains(&l.1)) || (l.3 && b.contains(&l.0) && a.contains(&l.1))
        });
        let Some((bps, latency)) = joining
            .map(|l| (l.2, l.4))
            .max_by(|x, y| x.0.total_cmp(&y.0))
        else {
            log.default_applied(
                &at,
                format!(
                    "no link from stage {s} to stage {}: the stage link is the device's \
                     interconnect (10 µs)",
                    s + 1
                ),
            );
            return None;
        };
        slowest = Some(match slowest {
            Some((b, l)) => (b.min(bps), l.max(latency)),
            None => (bps, latency),
        });
    }
    let (bps, latency_s) = slowest?;
    log.converted(
        &at,
        format!(
            "stage link = the slowest link between consecutive stages: {} GB/s, {} µs",
            bps / 8e9,
            latency_s * 1e6
        ),
    );
    Some(crate::pipeline::PipelineLink {
        latency_us: latency_s * 1e6,
        bandwidth_gbs: bps / 8e9,
        bytes_per_token: None,
    })
}
