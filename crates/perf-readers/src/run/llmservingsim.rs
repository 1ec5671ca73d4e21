//! LLMServingSim `python -m bench run` folders: `vllm/meta.json` (engine kwargs, vLLM
//! version), `vllm/requests.jsonl` (per-request timestamps in seconds, two clocks) and the
//! optional cluster config `config.json`.

use std::path::{Path, PathBuf};

use perf_model_core::Accelerator;
use serde_json::Value;

use super::engine_config::serving_from_node;
use super::support::{
    TpotRule, file_name, missing, opt_string, read_json, read_text, summarize, u32_at,
};
use super::{
    MeasuredAt, MeasuredRun, MetricDefinitions, RunLayout, RunMeasurement, RunRequest, RunWorkload,
};
use crate::error::Result;
use crate::json::{Cx, Node, parse_records};

/// The run folder and its `vllm/` folder for `path` (the run folder, its `vllm/` folder, or
/// a file in `vllm/`); `None` when neither holds `meta.json` or `requests.jsonl`.
pub(super) fn locate(path: &Path) -> Option<(PathBuf, PathBuf)> {
    let has = |dir: &Path| dir.join("meta.json").is_file() || dir.join("requests.jsonl").is_file();
    if path.is_dir() {
        let vllm = path.join("vllm");
        if has(&vllm) {
            return Some((path.to_path_buf(), vllm));
        }
        if has(path) {
            let run = path
                .parent()
                .map_or_else(|| path.to_path_buf(), Path::to_path_buf);
            return Some((run, path.to_path_buf()));
        }
        return None;
    }
    let vllm = path.parent()?;
    let run = vllm
        .parent()
        .map_or_else(|| vllm.to_path_buf(), Path::to_path_buf);
    Some((run, vllm.to_path_buf()))
}

/// Reads an LLMServingSim bench folder (`run`, with the engine's files in `vllm`).
pub(super) fn read(run: &Path, vllm: &Path) -> Result<MeasuredRun> {
    let meta_path = vllm.join("meta.json");
    let requests_path = vllm.join("requests.jsonl");
    for p in [&meta_path, &requests_path] {
        if !p.is_file() {
            return Err(missing(p, "an LLMServingSim bench folder needs it"));
        }
    }
    let mut notes = Vec::new();
    let (meta, meta_shown) = read_json(&meta_path)?;
    let cx = Cx {
        path: &meta_shown,
        line: 0,
    };
    let root = Node::root(&meta);
    let mut serving = match root.get("engine_kwargs") {
        Some(kwargs) => serving_from_node(&kwargs, &cx, false)?,
        None => {
            return Err(cx.field_err(
                "$.engine_kwargs",
                None,
                "missing the engine kwargs of an LLMServingSim bench run",
            ));
        }
    };
    if serving.model.is_none() {
        serving.model = opt_string(&root, &["model"], &cx)?;
    }
    serving.engine = Some("vllm".to_owned());
    serving.engine_version = opt_string(&root, &["vllm_version"], &cx)?;

    let config_path = run.join("config.json");
    if config_path.is_file() {
        read_cluster_config(&config_path, &mut serving, &mut notes)?;
    }

    let (text, req_shown) = read_text(&requests_path)?;
    let requests = read_requests(&text, &req_shown)?;
    if let Some(n) = root.opt_count(&["num_requests"], &cx)?
        && n != requests.len() as u64
    {
        notes.push(format!(
            "meta.json says num_requests {n}, requests.jsonl has {} lines",
            requests.len()
        ));
    }
    notes.push(
        "outputs are pinned (min_tokens = max_tokens, ignore_eos): output lengths are exact"
            .to_owned(),
    );
    notes.push(
        "TTFT and E2E are measured from queued_ts (the engine's monotonic clock), arrivals \
         from arrival_time (epoch seconds), as LLMServingSim's validate.py does"
            .to_owned(),
    );
    let overall = summarize(&requests, TpotRule::ClampDenominator, &req_shown, "$")?;
    // Bench folders are `<hardware>/<model>/`: both name the run.
    let name = match run.parent().filter(|p| p.file_name().is_some()) {
        Some(parent) => format!("{}/{}", file_name(parent), file_name(run)),
        None => file_name(run),
    };
    Ok(MeasuredRun {
        name,
        source: run.to_path_buf(),
        layout: RunLayout::LlmServingSim,
        measured_at: MeasuredAt::Engine,
        serving,
        workload: RunWorkload {
            requests,
            ignore_eos: Some(true),
            ..RunWorkload::default()
        },
        measured: RunMeasurement {
            overall,
            stages: Vec::new(),
            definitions: MetricDefinitions {
                itl: "not measured: requests.jsonl keeps first and last token times only"
                    .to_owned(),
                tpot: "(last token − first token)/max(1, output − 1) per request \
                       (LLMServingSim validate.py)"
                    .to_owned(),
            },
        },
        notes,
    })
}

/// `nodes[0].instances[0]` of the cluster config: accelerator and memory utilisation.
fn read_cluster_config(
    path: &Path,
    serving: &mut super::RunServing,
    notes: &mut Vec<String>,
) -> Result<()> {
    let (value, config_shown) = read_json(path)?;
    let cx = Cx {
        path: &config_shown,
        line: 0,
    };
    let Some(instance) = Node::root(&value).at(&["nodes"]).and_then(|n| {
        n.items()
            .and_then(|v| v.into_iter().next())
            .and_then(|node| node.get("instances"))
            .and_then(|i| i.items())
            .and_then(|v| v.into_iter().next())
    }) else {
        notes.push(format!(
            "{config_shown}: no nodes[0].instances[0]: accelerator unknown"
        ));
        return Ok(());
    };
    if let Some(raw) = opt_string(&instance, &["hardware"], &cx)? {
        match Accelerator::lookup(&raw) {
            Ok(a) => serving.accelerator = Some(a.name),
            Err(_) => {
                notes.push(format!(
                    "accelerator `{raw}` is not in the catalogue: kept as written"
                ));
                serving.accelerator = Some(raw);
            }
        }
    }
    if let Some(util) = instance.opt_num(&["npu_mem", "mem_util"], &cx)? {
        if !(util.is_finite() && util > 0.0 && util <= 1.0) {
            return Err(cx.field_err(
                &format!("{}.npu_mem.mem_util", instance.path),
                Some(&Value::from(util)),
                "expected a fraction in (0, 1]",
            ));
        }
        serving.gpu_memory_utilization = Some(util);
    }
    // The device as the run's cluster config describes it (LLMServingSim's own figures, e.g.
    // 1,597 GB/s for the RTX PRO 6000 Server Edition, whose catalogue entry is the
    // Workstation's 1,792).
    for (key, slot) in [
        ("mem_size", &mut serving.accelerator_memory_gb),
        ("mem_bw", &mut serving.accelerator_bandwidth_gbs),
    ] {
        if let Some(x) = instance.opt_num(&["npu_mem", key], &cx)? {
            if !(x.is_finite() && x > 0.0) {
                return Err(cx.field_err(
                    &format!("{}.npu_mem.{key}", instance.path),
                    Some(&Value::from(x)),
                    "expected a positive number",
                ));
            }
            *slot = Some(x);
        }
    }
    Ok(())
}

/// The lines of `requests.jsonl`, sorted by arrival.
fn read_requests(text: &str, path: &str) -> Result<Vec<RunRequest>> {
    struct Raw {
        arrival_s: f64,
        request: RunRequest,
    }
    let mut raw = Vec::new();
    for (line, value) in parse_records(text, path)? {
        let cx = Cx { path, line };
        let root = Node::root(&value);
        if !value.is_object() {
            return Err(cx.field_err("$", Some(&value), "expected a request object"));
        }
        let num = |key: &str| -> Result<f64> {
            let x = root.req_num(&[key], &cx)?;
            if x.is_finite() {
                Ok(x)
            } else {
                Err(cx.field_err(
                    &format!("$.{key}"),
                    root.v.get(key),
                    "expected a finite time",
                ))
            }
        };
        let count = |key: &str| -> Result<u32> {
            match root.get(key) {
                Some(n) => u32_at(&n, &cx, "a token count"),
                None => Err(cx.field_err(&format!("$.{key}"), None, "missing token count")),
            }
        };
        let arrival_s = num("arrival_time")?;
        let queued = num("queued_ts")?;
        let first = num("first_token_ts")?;
        let last = num("last_token_ts")?;
        if first < queued {
            return Err(cx.field_err(
                "$.first_token_ts",
                root.v.get("first_token_ts"),
                &format!("first token before queued_ts {queued}"),
            ));
        }
        if last < first {
            return Err(cx.field_err(
                "$.last_token_ts",
                root.v.get("last_token_ts"),
                &format!("last token before first_token_ts {first}"),
            ));
        }
        raw.push(Raw {
            arrival_s,
            request: RunRequest {
                arrival_ms: 0.0,
                input_tokens: count("input_toks")?,
                output_tokens: count("output_toks")?,
                prefix_group: None,
                ttft_ms: Some((first - queued) * 1000.0),
                e2e_ms: Some((last - queued) * 1000.0),
                failed: false,
            },
        });
    }
    let origin = raw
        .iter()
        .map(|r| r.arrival_s)
        .fold(f64::INFINITY, f64::min);
    let mut out: Vec<RunRequest> = raw
        .into_iter()
        .map(|r| RunRequest {
            arrival_ms: (r.arrival_s - origin) * 1000.0,
            ..r.request
        })
        .collect();
    out.sort_by(|a, b| a.arrival_ms.total_cmp(&b.arrival_ms));
    Ok(out)
}

/// Whether a parsed JSON file is an LLMServingSim `meta.json`.
pub(super) fn is_meta(value: &Value) -> bool {
    value.get("engine_kwargs").is_some_and(Value::is_object)
}
