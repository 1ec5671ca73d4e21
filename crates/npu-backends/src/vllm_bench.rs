//! `vllm bench serve` (or the older `benchmark_serving.py`): flags, pinned result JSON.

use std::path::PathBuf;

use perf_model_core::{BenchmarkPoint, PerformanceIndex};
use perf_readers::{ReadOptions, parse_json_lenient, read_vllm_bench};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::benchmark::{Benchmark, Pass};
use crate::common::{LaunchSettings, de_port};
use crate::config::{DecodedConfig, shell_split, substitute};
use crate::error::{NpuError, Result};
use crate::metrics::{index_from, number};
use crate::plan::Plan;

/// The `[vllm_benchmark]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VllmBenchConfig {
    /// The `vllm` executable.
    pub binary: String,
    /// `python <script> --backend <backend>` instead of `vllm bench serve` when set.
    pub serving_script: Option<String>,
    /// `--backend` for the script form.
    pub backend: String,
    /// Server host.
    pub host: String,
    /// Server port.
    #[serde(deserialize_with = "de_port")]
    pub port: u16,
    /// `--model`.
    pub model: String,
    /// `--served-model-name`.
    pub served_model_name: Option<String>,
    /// `--dataset-name`.
    pub dataset_name: String,
    /// `--dataset-path`.
    pub dataset_path: Option<String>,
    /// `--num-prompts`.
    pub num_prompts: u32,
    /// `--result-dir` (emptied before each pass).
    pub result_dir: PathBuf,
    /// `--result-filename` (always pinned; only this file is read).
    pub result_filename: String,
    /// Further arguments (shell words, `$NAME` placeholders).
    pub others: String,
    /// Env, logs, timeouts.
    #[serde(flatten)]
    pub launch: LaunchSettings,
}

impl Default for VllmBenchConfig {
    fn default() -> Self {
        Self {
            binary: "vllm".to_owned(),
            serving_script: None,
            backend: "vllm".to_owned(),
            host: "127.0.0.1".to_owned(),
            port: 8000,
            model: String::new(),
            served_model_name: None,
            dataset_name: "random".to_owned(),
            dataset_path: None,
            num_prompts: 100,
            result_dir: PathBuf::from("vllm_bench_results"),
            result_filename: "result.json".to_owned(),
            others: String::new(),
            launch: LaunchSettings::for_benchmark(),
        }
    }
}

/// The vLLM bench runner.
///
/// [`Benchmark::prepare`] renders `--max-concurrency $CONCURRENCY --request-rate
/// $REQUESTRATE` with `$CONCURRENCY` := the candidate's `CONCURRENCY` (or `MAXCONCURRENCY`),
/// else the pass's concurrency, and `$REQUESTRATE` := the candidate's `REQUESTRATE`, else the
/// pass's rate; a flag and its value are dropped when the value is none (no value, NaN, ±inf:
/// unlimited, `tuning.md` §1.2). The plan's [`Plan::pass`] records the load rendered.
#[derive(Clone, Debug)]
pub struct VllmBench {
    cfg: VllmBenchConfig,
}

impl VllmBench {
    /// A runner.
    #[must_use]
    pub fn new(cfg: VllmBenchConfig) -> Self {
        Self { cfg }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &VllmBenchConfig {
        &self.cfg
    }
}

/// Reads a pinned vLLM bench result file: index (S = `completed` / `num_prompts`) and point.
///
/// # Errors
/// [`NpuError::Io`], [`NpuError::Parse`] (truncated or malformed), [`NpuError::Output`].
pub fn read_result(
    path: &std::path::Path,
    offered_rate: Option<f64>,
) -> Result<(PerformanceIndex, BenchmarkPoint)> {
    let bytes = std::fs::read(path).map_err(|e| NpuError::io(path, e))?;
    let name = path.display().to_string();
    let ds = read_vllm_bench(&bytes, &name, &ReadOptions::default())?;
    let point = ds
        .points
        .into_iter()
        .next_back()
        .ok_or_else(|| NpuError::Output(format!("{name}: no result")))?;
    let text = String::from_utf8_lossy(&bytes);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let value = parse_json_lenient(&text, &name).or_else(|_| parse_json_lenient(last, &name))?;
    let get = |k: &str| value.get(k).and_then(number);
    let completed = get("completed");
    let total = get("num_prompts").or(match (completed, get("failed")) {
        (Some(c), Some(f)) => Some(c + f),
        _ => None,
    });
    let index = index_from(&point, completed, total, offered_rate)?;
    Ok((index, point))
}

impl Benchmark for VllmBench {
    fn name(&self) -> &str {
        "vllm_benchmark"
    }

    fn prepare(&self, cfg: &DecodedConfig, pass: &Pass) -> Result<Plan> {
        let c = &self.cfg;
        // The candidate's CONCURRENCY / REQUESTRATE win over the pass's (tuning.md §1.2).
        let pass = pass.with_candidate_load(cfg)?;
        let mut argv = match &c.serving_script {
            Some(script) => vec![
                "python".to_owned(),
                script.clone(),
                "--backend".to_owned(),
                c.backend.clone(),
            ],
            None => vec![c.binary.clone(), "bench".to_owned(), "serve".to_owned()],
        };
        let s = |x: &str| x.to_owned();
        argv.extend([s("--host"), c.host.clone(), s("--port"), c.port.to_string()]);
        argv.extend([s("--model"), c.model.clone()]);
        if let Some(n) = &c.served_model_name {
            argv.extend([s("--served-model-name"), n.clone()]);
        }
        argv.extend([s("--dataset-name"), c.dataset_name.clone()]);
        if let Some(p) = &c.dataset_path {
            argv.extend([s("--dataset-path"), p.clone()]);
        }
        let n = pass.num_prompts.unwrap_or(c.num_prompts);
        argv.extend([
            s("--num-prompts"),
            n.to_string(),
            s("--max-concurrency"),
            s("$CONCURRENCY"),
            s("--request-rate"),
            s("$REQUESTRATE"),
            s("--result-dir"),
            c.result_dir.display().to_string(),
            s("--result-filename"),
            c.result_filename.clone(),
            s("--save-result"),
        ]);
        argv.extend(shell_split(&c.others)?);
        let mut vars = cfg.env_vars();
        vars.insert(
            "CONCURRENCY".to_owned(),
            pass.concurrency.map_or(Value::Null, Value::from),
        );
        vars.insert(
            "REQUESTRATE".to_owned(),
            pass.rate.map_or(Value::Null, Value::from),
        );
        let argv = substitute(&argv, &vars)?;
        Ok(Plan {
            name: self.name().to_owned(),
            env: c.launch.env_with(cfg),
            argv,
            log_path: c.launch.log_dir.join("vllm_bench.log"),
            timeouts: c.launch.timeouts,
            output_dir: Some(c.result_dir.clone()),
            pass: Some(pass),
            ..Plan::default()
        })
    }

    fn collect(&self, plan: &Plan) -> Result<(PerformanceIndex, BenchmarkPoint)> {
        let dir = plan.output_dir.as_deref().unwrap_or(&self.cfg.result_dir);
        read_result(
            &dir.join(&self.cfg.result_filename),
            plan.pass.and_then(|p| p.rate),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn bench() -> VllmBench {
        VllmBench::new(VllmBenchConfig {
            model: "m".to_owned(),
            port: 8010,
            result_dir: PathBuf::from("/r"),
            ..VllmBenchConfig::default()
        })
    }

    #[test]
    fn rate_flag_dropped_when_unset_and_shortest_decimal_otherwise() {
        let b = bench();
        let p1 = b.prepare(&DecodedConfig::new(), &Pass::default()).unwrap();
        assert!(
            !p1.argv
                .iter()
                .any(|a| a == "--request-rate" || a == "--max-concurrency")
        );
        let p2 = b
            .prepare(
                &DecodedConfig::new(),
                &Pass {
                    rate: Some(1.05 * 3.6),
                    concurrency: Some(200),
                    num_prompts: None,
                },
            )
            .unwrap();
        let t = p2.command_text();
        assert!(t.contains("--request-rate 3.7800000000000002"), "{t}");
        assert!(t.contains("--max-concurrency 200"), "{t}");
        assert!(t.starts_with("vllm bench serve --host 127.0.0.1 --port 8010 --model m"));
        assert!(t.contains("--result-filename result.json --save-result"));
    }

    #[test]
    fn candidate_concurrency_and_rate_win_over_the_pass() {
        let b = bench();
        let pass = Pass {
            rate: Some(1.05 * 3.6),
            concurrency: Some(200),
            num_prompts: None,
        };
        let cfg = DecodedConfig::new()
            .with_env("CONCURRENCY", 64)
            .with_env("REQUESTRATE", 2.5);
        let plan = b.prepare(&cfg, &pass).unwrap();
        let t = plan.command_text();
        assert!(
            t.contains("--num-prompts 100 --max-concurrency 64 --request-rate 2.5 --result-dir"),
            "{t}"
        );
        assert_eq!(
            plan.pass,
            Some(Pass {
                rate: Some(2.5),
                concurrency: Some(64),
                num_prompts: None
            })
        );
        // MAXCONCURRENCY spells the same knob.
        let cfg = DecodedConfig::new().with_env("MAXCONCURRENCY", 32);
        let t = b.prepare(&cfg, &Pass::default()).unwrap().command_text();
        assert!(t.contains("--max-concurrency 32 --result-dir"), "{t}");
    }

    #[test]
    fn knobs_without_a_value_drop_the_flag_or_leave_the_pass() {
        let b = bench();
        let unset = DecodedConfig::new()
            .with_env("CONCURRENCY", "none")
            .with_env("REQUESTRATE", "inf");
        let t = b.prepare(&unset, &Pass::default()).unwrap().command_text();
        assert!(
            !t.contains("--request-rate") && !t.contains("--max-concurrency"),
            "{t}"
        );
        assert!(t.contains("--num-prompts 100 --result-dir /r"), "{t}");
        // Swarm pass 2: the measured rate of the pass.
        let pass = Pass {
            rate: Some(1.05 * 3.6),
            concurrency: None,
            num_prompts: None,
        };
        let t = b.prepare(&unset, &pass).unwrap().command_text();
        assert!(t.contains("--request-rate 3.7800000000000002"), "{t}");
        assert!(!t.contains("--max-concurrency"), "{t}");
        let bad = DecodedConfig::new().with_env("REQUESTRATE", -2.0);
        assert!(matches!(
            b.prepare(&bad, &Pass::default()),
            Err(NpuError::InvalidConfig(_))
        ));
    }

    #[test]
    fn real_llm_d_result() {
        let path = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/readers/vllm-bench/H100_vllm-2replicas_Llama-3.1-8B_benchmark_2025-05-13_04-55-27.json"
        ));
        let (idx, point) = read_result(path, Some(3.6)).unwrap();
        assert_relative_eq!(idx.output_throughput().unwrap(), 696.6005267659943);
        assert_relative_eq!(idx.ttft_ms().unwrap(), 243.57119981985306);
        assert_relative_eq!(idx.tpot_ms().unwrap(), 16.170790800581987);
        assert_relative_eq!(idx.request_throughput().unwrap(), 3.483002633829972);
        assert_relative_eq!(idx.success_rate().unwrap(), 1.0);
        assert_eq!(idx.request_rate(), Some(3.6));
        assert_eq!(point.successful(), Some(200));
    }

    #[test]
    fn spec_acceptance_values() {
        let tmp = std::env::temp_dir().join(format!("npu-vb-{}.json", std::process::id()));
        std::fs::write(
            &tmp,
            r#"{"request_rate": "inf", "num_prompts": 200, "completed": 198,
                "request_goodput:": null, "output_throughput": 1234.5, "request_throughput": 3.6,
                "mean_ttft_ms": 250.0, "mean_tpot_ms": 42.0, "std_itl_ms": NaN}"#,
        )
        .unwrap();
        let (idx, _) = read_result(&tmp, None).unwrap();
        assert_relative_eq!(idx.success_rate().unwrap(), 0.99);
        assert_relative_eq!(idx.output_throughput().unwrap(), 1234.5);
        assert_relative_eq!(idx.ttft_ms().unwrap(), 250.0);
        assert_relative_eq!(idx.tpot_ms().unwrap(), 42.0);
        assert_relative_eq!(idx.request_throughput().unwrap(), 3.6);
        std::fs::write(
            &tmp,
            r#"{"request_rate": "inf", "num_prompts": 200, "compl"#,
        )
        .unwrap();
        assert!(matches!(read_result(&tmp, None), Err(NpuError::Parse(_))));
        let _ = std::fs::remove_file(&tmp);
    }
}
