//! The engine benchmarks a sweep drives: their command lines and result parsers.
//!
//! * **SGLang** `python -m sglang.bench_one_batch`: one static batch without a server. One
//!   invocation per point: `--batch-size bs` repeated `num_runs` times (its sweep is the
//!   product of the `--batch-size`, `--input-len` and `--output-len` lists, so this runs the
//!   point `num_runs` times after one warm-up, loading the model once), `--load-format dummy`,
//!   `--result-filename F`, to which it appends one JSON line per run: `run_name`,
//!   `batch_size`, `input_len`, `output_len`, `prefill_latency` (wall time of the one extend,
//!   s), `prefill_throughput`, `median_decode_latency` (median over the `output_len − 1`
//!   decode steps; absent for `output_len` 1), `median_decode_throughput`, `total_latency`,
//!   `overall_throughput`. The file is written after the last run only, so when the process
//!   dies part-way the runs it finished are recovered from its printed `Prefill. latency: …`,
//!   `Decode.  median latency: …`, `Total. latency: …` lines ([`parse_sglang_log`]). A point
//!   whose KV pool cannot hold `bs × (input + output)` tokens is skipped with `skipping (…)
//!   due to max batch size limit` and no line.
//! * **vLLM** `vllm bench latency`: whole-request latency of one batch of `--batch-size`
//!   prompts of `--input-len` random tokens, `--num-iters` times after
//!   `--num-iters-warmup`; `--output-json F` holds `avg_latency`, `std_latency`, `latencies`
//!   (s, one per iteration) and `percentiles`. It does not separate the phases, so a point
//!   runs it twice: with `--output-len 1` (the prefill and the first token: prefill ≈ that
//!   latency) and with `--output-len N` (prefill plus `N − 1` decode steps). Run `i` is then
//!   prefill `p_i`, decode step `(f_i − p_i)/(N − 1)`, total `f_i` ([`vllm_runs`]). The decode
//!   figure is a mean step time, not a median, and both include the engine's per-request
//!   scheduling and detokenisation overheads.
//! * **OpenAI-compatible server** ([`crate::profile::openai`]): `bs` concurrent streaming
//!   completions; prefill ≈ time to the last first token, decode ≈ median inter-token gap.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{NpuError, Result};
use crate::profile::failure::FailureReason;
use crate::profile::output::RunData;
use crate::profile::plan::{SweepPlan, SweepPoint};

/// Which benchmark measures the points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// `python -m sglang.bench_one_batch`.
    Sglang,
    /// `vllm bench latency`.
    Vllm,
    /// A running OpenAI-compatible server (`/v1/completions`, streaming).
    Openai,
}

impl BackendKind {
    /// `sglang`, `vllm` or `openai`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sglang => "sglang",
            Self::Vllm => "vllm",
            Self::Openai => "openai",
        }
    }

    /// The default command prefix (empty for `openai`, which starts nothing).
    #[must_use]
    pub fn default_command(self) -> Vec<String> {
        let words: &[&str] = match self {
            Self::Sglang => &["python", "-m", "sglang.bench_one_batch"],
            Self::Vllm => &["vllm", "bench", "latency"],
            Self::Openai => &[],
        };
        words.iter().map(|w| (*w).to_owned()).collect()
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for BackendKind {
    type Err = NpuError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "sglang" => Ok(Self::Sglang),
            "vllm" => Ok(Self::Vllm),
            "openai" => Ok(Self::Openai),
            _ => Err(NpuError::InvalidConfig(format!(
                "--backend: unknown backend `{s}` (sglang, vllm or openai)"
            ))),
        }
    }
}

/// How to run the backend for one configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackendConfig {
    /// The benchmark.
    pub kind: BackendKind,
    /// `--model-path` (SGLang), `--model` (vLLM) or the request's `model` (OpenAI).
    pub model: String,
    /// Tensor-parallel degree (`--tp-size` / `--tensor-parallel-size`).
    pub tp_size: u32,
    /// Pipeline-parallel degree (vLLM `--pipeline-parallel-size`; SGLang's one-batch
    /// benchmark runs without pipeline parallelism, so it is passed as `--pp-size` only
    /// when above 1).
    pub pp_size: u32,
    /// `--load-format` (`dummy`: random weights, no download; empty: not passed).
    pub load_format: String,
    /// Replaces the default command prefix (e.g. a virtualenv's python, or a fake in tests).
    pub engine_cmd: Option<Vec<String>>,
    /// Appended to every command line.
    pub extra_args: Vec<String>,
    /// Base URL of the OpenAI-compatible server (`http://host:port`).
    pub url: Option<String>,
    /// vLLM `--num-iters-warmup` (its default, 10, is long for a sweep of 100 points).
    pub vllm_warmup_iters: u32,
}

impl BackendConfig {
    /// The defaults for `kind` and `model`: TP 1, PP 1, dummy weights, the default command,
    /// 2 vLLM warm-up iterations.
    #[must_use]
    pub fn new(kind: BackendKind, model: impl Into<String>) -> Self {
        Self {
            kind,
            model: model.into(),
            tp_size: 1,
            pp_size: 1,
            load_format: "dummy".to_owned(),
            engine_cmd: None,
            extra_args: Vec::new(),
            url: None,
            vllm_warmup_iters: 2,
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`NpuError::InvalidConfig`] naming the flag: an empty model, TP or PP 0, an empty
    /// `--engine-cmd`, `--url` missing for (or given to a backend other than) `openai`.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(NpuError::InvalidConfig(m));
        if self.model.trim().is_empty() {
            return bad("the model name is empty".to_owned());
        }
        if self.tp_size == 0 || self.pp_size == 0 {
            return bad(format!(
                "--tp-size and --pp-size must be at least 1 (got {} and {})",
                self.tp_size, self.pp_size
            ));
        }
        if self.engine_cmd.as_ref().is_some_and(Vec::is_empty) {
            return bad("--engine-cmd is empty".to_owned());
        }
        match (self.kind, &self.url) {
            (BackendKind::Openai, None) => bad("--backend openai needs --url".to_owned()),
            (BackendKind::Openai, Some(_)) if self.engine_cmd.is_some() => {
                bad("--engine-cmd does not apply to --backend openai".to_owned())
            }
            (BackendKind::Sglang | BackendKind::Vllm, Some(_)) => bad(format!(
                "--url applies to --backend openai only (backend is {})",
                self.kind
            )),
            _ => Ok(()),
        }
    }

    /// The command prefix: `engine_cmd` or the backend's default.
    #[must_use]
    pub fn command(&self) -> Vec<String> {
        self.engine_cmd
            .clone()
            .unwrap_or_else(|| self.kind.default_command())
    }

    /// Everything that changes one point's measurement, for the cache key (not the grid).
    #[must_use]
    pub fn cache_config(&self, plan: &SweepPlan) -> Value {
        json!({
            "tool": "llm-perf profile",
            "backend": self.kind.name(),
            "command": self.command(),
            "model_path": self.model,
            "tp_size": self.tp_size,
            "pp_size": self.pp_size,
            "load_format": self.load_format,
            "extra_args": self.extra_args,
            "url": self.url,
            "output_len": plan.output_len,
            "num_runs": plan.num_runs,
            "vllm_warmup_iters": (self.kind == BackendKind::Vllm).then_some(self.vllm_warmup_iters),
        })
    }

    fn load_format_args(&self, argv: &mut Vec<String>) {
        if !self.load_format.is_empty() {
            argv.push("--load-format".to_owned());
            argv.push(self.load_format.clone());
        }
    }

    /// The `sglang.bench_one_batch` command of one point (all its runs).
    #[must_use]
    pub fn sglang_argv(
        &self,
        point: SweepPoint,
        output_len: u32,
        num_runs: u32,
        result_file: &Path,
    ) -> Vec<String> {
        let mut argv = self.command();
        argv.extend(["--model-path".to_owned(), self.model.clone()]);
        self.load_format_args(&mut argv);
        argv.extend(["--tp-size".to_owned(), self.tp_size.to_string()]);
        if self.pp_size > 1 {
            argv.extend(["--pp-size".to_owned(), self.pp_size.to_string()]);
        }
        argv.push("--batch-size".to_owned());
        argv.extend((0..num_runs.max(1)).map(|_| point.batch_size.to_string()));
        argv.extend([
            "--input-len".to_owned(),
            point.input_len.to_string(),
            "--output-len".to_owned(),
            output_len.to_string(),
            "--run-name".to_owned(),
            format!("sweep_bs{}_il{}", point.batch_size, point.input_len),
            "--result-filename".to_owned(),
            result_file.display().to_string(),
        ]);
        argv.extend(self.extra_args.iter().cloned());
        argv
    }

    /// The `vllm bench latency` command of one point at `output_len`.
    #[must_use]
    pub fn vllm_argv(
        &self,
        point: SweepPoint,
        output_len: u32,
        num_iters: u32,
        output_json: &Path,
    ) -> Vec<String> {
        let mut argv = self.command();
        argv.extend(["--model".to_owned(), self.model.clone()]);
        self.load_format_args(&mut argv);
        argv.extend([
            "--tensor-parallel-size".to_owned(),
            self.tp_size.to_string(),
            "--pipeline-parallel-size".to_owned(),
            self.pp_size.to_string(),
            "--batch-size".to_owned(),
            point.batch_size.to_string(),
            "--input-len".to_owned(),
            point.input_len.to_string(),
            "--output-len".to_owned(),
            output_len.to_string(),
            "--num-iters".to_owned(),
            num_iters.to_string(),
            "--num-iters-warmup".to_owned(),
            self.vllm_warmup_iters.to_string(),
            "--output-json".to_owned(),
            output_json.display().to_string(),
        ]);
        argv.extend(self.extra_args.iter().cloned());
        argv
    }
}

/// What one point's runs came to before averaging.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PointMeasurement {
    /// The runs that succeeded, in order.
    pub runs: Vec<RunData>,
    /// Why the other runs (or all) failed.
    pub failure: Option<FailureReason>,
}

/// A `bench_one_batch` result line.
#[derive(Deserialize)]
struct SglangRecord {
    batch_size: u32,
    input_len: u32,
    output_len: u32,
    prefill_latency: f64,
    #[serde(default)]
    median_decode_latency: Option<f64>,
    total_latency: f64,
}

/// Parses the JSON-Lines result file of `sglang.bench_one_batch` for `point`: one
/// [`RunData`] per line, renamed `sweep_bs<bs>_il<L>_run<i>`.
///
/// # Errors
/// [`NpuError::Output`] naming `path` and the line: not JSON, a missing field, another point
/// than `point`, or a time that is not positive.
pub fn parse_sglang_results(text: &str, path: &str, point: SweepPoint) -> Result<Vec<RunData>> {
    let mut runs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |m: String| NpuError::Output(format!("{path}:{}: {m}", i + 1));
        let r: SglangRecord = serde_json::from_str(line).map_err(|e| at(e.to_string()))?;
        if (r.batch_size, r.input_len) != (point.batch_size, point.input_len) {
            return Err(at(format!(
                "a result for bs {} input {}, expected {point}",
                r.batch_size, r.input_len
            )));
        }
        let run = u32::try_from(runs.len()).unwrap_or(u32::MAX);
        runs.push(
            RunData::new(
                point,
                r.output_len,
                run,
                r.prefill_latency,
                r.median_decode_latency,
                r.total_latency,
            )
            .map_err(|e| at(e.to_string()))?,
        );
    }
    Ok(runs)
}

/// The seconds after `prefix` on a printed line (`Prefill. latency: 0.01234 s, …`).
fn seconds_after(line: &str, prefix: &str) -> Option<f64> {
    line.trim_start()
        .strip_prefix(prefix)?
        .split_whitespace()
        .next()?
        .trim_end_matches(',')
        .parse()
        .ok()
}

/// Runs that `sglang.bench_one_batch` finished before it died, from its printed lines after
/// `Benchmark ...` (the warm-up before is ignored): `Prefill. latency: X s`, `Decode.  median
/// latency: Y s` (absent for `output_len` 1), `Total. latency: Z s`. The printed precision is
/// 10 µs for prefill and decode and 1 ms for the total.
#[must_use]
pub fn parse_sglang_log(log: &str, point: SweepPoint, output_len: u32) -> Vec<RunData> {
    let mut runs = Vec::new();
    let mut started = false;
    let mut prefill = None;
    let mut decode = None;
    for line in log.lines() {
        if line.trim_start().starts_with("Benchmark ...") {
            started = true;
            continue;
        }
        if !started {
            continue;
        }
        if let Some(p) = seconds_after(line, "Prefill. latency:") {
            prefill = Some(p);
            decode = None;
        } else if let Some(d) = seconds_after(line, "Decode.  median latency:") {
            decode = Some(d);
        } else if let Some(t) = seconds_after(line, "Total. latency:")
            && let Some(p) = prefill.take()
        {
            let run = u32::try_from(runs.len()).unwrap_or(u32::MAX);
            if let Ok(r) = RunData::new(point, output_len, run, p, decode.take(), t) {
                runs.push(r);
            }
        }
    }
    runs
}

/// Whether `sglang.bench_one_batch` skipped the point for its memory pool.
#[must_use]
pub fn sglang_skipped(log: &str) -> bool {
    log.contains("due to max batch size limit")
}

/// The `latencies` (s, one per iteration) of a `vllm bench latency --output-json` file.
///
/// # Errors
/// [`NpuError::Output`] naming `path`: not JSON, no `latencies` array, or a value that is not
/// a positive number.
pub fn parse_vllm_latencies(text: &str, path: &str) -> Result<Vec<f64>> {
    let bad = |m: String| NpuError::Output(format!("{path}: {m}"));
    let v: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let list = v
        .get("latencies")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `latencies` array".to_owned()))?;
    list.iter()
        .enumerate()
        .map(|(i, x)| match x.as_f64() {
            Some(s) if s.is_finite() && s > 0.0 => Ok(s),
            _ => Err(bad(format!("latencies[{i}] = {x} is not a positive time"))),
        })
        .collect()
}

/// Runs from the two `vllm bench latency` passes of a point: run `i` has prefill
/// `prefill_only[i]` (the `--output-len 1` latency), decode step
/// `(full[i] − prefill_only[i]) / (output_len − 1)` and total `full[i]`; with `output_len` 1
/// only the first pass exists (`full` is ignored) and there is no decode figure.
///
/// # Errors
/// [`NpuError::Output`] when a full latency is not above its prefill-only one (no decode
/// time left to attribute).
pub fn vllm_runs(
    point: SweepPoint,
    output_len: u32,
    prefill_only: &[f64],
    full: &[f64],
) -> Result<Vec<RunData>> {
    let mut runs = Vec::new();
    for (i, &p) in prefill_only.iter().enumerate() {
        let run = u32::try_from(i).unwrap_or(u32::MAX);
        if output_len <= 1 {
            runs.push(RunData::new(point, output_len, run, p, None, p)?);
            continue;
        }
        let Some(&f) = full.get(i) else { break };
        if f <= p {
            return Err(NpuError::Output(format!(
                "{point}: the output-len {output_len} latency {f} s is not above the \
                 output-len 1 latency {p} s"
            )));
        }
        let decode = (f - p) / f64::from(output_len - 1);
        runs.push(RunData::new(point, output_len, run, p, Some(decode), f)?);
    }
    Ok(runs)
}

/// Environment for the benchmark children: `env` plus `PYTHONUNBUFFERED=1`, so a child's
/// printed lines reach its log before it dies.
#[must_use]
pub fn child_env(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = env.clone();
    out.entry("PYTHONUNBUFFERED".to_owned())
        .or_insert_with(|| "1".to_owned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: SweepPoint = SweepPoint {
        batch_size: 4,
        input_len: 128,
    };

    #[test]
    fn sglang_command_line() {
        let mut b = BackendConfig::new(BackendKind::Sglang, "Qwen/Qwen3-4B");
        b.tp_size = 2;
        b.extra_args = vec!["--mem-fraction-static".into(), "0.8".into()];
        let argv = b.sglang_argv(P, 32, 3, Path::new("/tmp/r.jsonl"));
        assert_eq!(
            argv.join(" "),
            "python -m sglang.bench_one_batch --model-path Qwen/Qwen3-4B --load-format dummy \
             --tp-size 2 --batch-size 4 4 4 --input-len 128 --output-len 32 \
             --run-name sweep_bs4_il128 --result-filename /tmp/r.jsonl \
             --mem-fraction-static 0.8"
        );
        b.validate().unwrap();
    }

    #[test]
    fn vllm_command_line_and_phase_split() {
        let mut b = BackendConfig::new(BackendKind::Vllm, "m");
        b.engine_cmd = Some(vec!["/bin/fake".into(), "bench".into(), "latency".into()]);
        let argv = b.vllm_argv(P, 1, 3, Path::new("o.json"));
        assert_eq!(
            argv.join(" "),
            "/bin/fake bench latency --model m --load-format dummy --tensor-parallel-size 1 \
             --pipeline-parallel-size 1 --batch-size 4 --input-len 128 --output-len 1 \
             --num-iters 3 --num-iters-warmup 2 --output-json o.json"
        );
        let lat = parse_vllm_latencies(
            r#"{"avg_latency": 0.02, "std_latency": 0.0, "latencies": [0.02, 0.03],
                "percentiles": {"50": 0.02}}"#,
            "o.json",
        )
        .unwrap();
        let runs = vllm_runs(P, 11, &lat, &[0.12, 0.23]).unwrap();
        assert_eq!(runs.len(), 2);
        assert!((runs[1].median_decode_latency.unwrap() - 0.02).abs() < 1e-12);
        assert!((runs[0].total_latency - 0.12).abs() < 1e-12);
        assert!(vllm_runs(P, 11, &lat, &[0.01]).is_err());
        let e = parse_vllm_latencies(r#"{"latencies": [1, -2]}"#, "o.json").unwrap_err();
        assert!(e.to_string().contains("latencies[1]"), "{e}");
        assert!(parse_vllm_latencies("{}", "o.json").is_err());
    }

    #[test]
    fn sglang_results_and_log_recovery() {
        let text = "{\"run_name\": \"x\", \"batch_size\": 4, \"input_len\": 128, \"output_len\": 8, \
                    \"prefill_latency\": 0.02, \"prefill_throughput\": 25600.0, \
                    \"median_decode_latency\": 0.005, \"median_decode_throughput\": 800.0, \
                    \"total_latency\": 0.055, \"overall_throughput\": 9890.9}\n";
        let runs = parse_sglang_results(text, "r.jsonl", P).unwrap();
        assert_eq!(runs[0].run_name, "sweep_bs4_il128_run0");
        assert!((runs[0].prefill_throughput - 25600.0).abs() < 1e-6);
        let other = SweepPoint {
            batch_size: 8,
            input_len: 128,
        };
        let e = parse_sglang_results(text, "r.jsonl", other).unwrap_err();
        assert!(e.to_string().contains("r.jsonl:1"), "{e}");
        let log = "Warmup ...\nPrefill. latency: 0.50000 s, throughput:      1.00 token/s\n\
                   Total. latency:  0.600 s, throughput:      1.00 token/s\nBenchmark ...\n\
                   Prefill. latency: 0.02000 s, throughput:  25600.00 token/s\n\
                   Decode 0. Batch size: 4, latency: 0.00500 s, throughput:    800.00 token/s\n\
                   Decode.  median latency: 0.00500 s, median throughput:    800.00 token/s\n\
                   Total. latency:  0.055 s, throughput:   9890.91 token/s\n\
                   Prefill. latency: 0.02100 s, throughput:  24380.95 token/s\n\
                   torch.OutOfMemoryError: CUDA out of memory.\n";
        let runs = parse_sglang_log(log, P, 8);
        assert_eq!(runs.len(), 1);
        assert!((runs[0].prefill_latency - 0.02).abs() < 1e-12);
        assert_eq!(runs[0].median_decode_latency, Some(0.005));
        assert!(sglang_skipped(
            "skipping (64, 16384, 32) due to max batch size limit"
        ));
    }

    #[test]
    fn settings_are_checked() {
        assert!("SGLang".parse::<BackendKind>().is_ok());
        let e = "trt".parse::<BackendKind>().unwrap_err().to_string();
        assert!(e.contains("--backend") && e.contains("trt"), "{e}");
        let mut b = BackendConfig::new(BackendKind::Openai, "m");
        assert!(b.validate().unwrap_err().to_string().contains("--url"));
        b.url = Some("http://127.0.0.1:1".into());
        b.validate().unwrap();
        let mut s = BackendConfig::new(BackendKind::Sglang, "m");
        s.url = Some("http://x".into());
        assert!(s.validate().is_err());
        s.url = None;
        s.tp_size = 0;
        assert!(s.validate().unwrap_err().to_string().contains("--tp-size"));
        let plan = SweepPlan::with_lists(vec![1], vec![1], 4, 2).unwrap();
        let a = BackendConfig::new(BackendKind::Sglang, "m").cache_config(&plan);
        let plan2 = SweepPlan::with_lists(vec![1, 2], vec![1, 8], 4, 2).unwrap();
        assert_eq!(
            a,
            BackendConfig::new(BackendKind::Sglang, "m").cache_config(&plan2)
        );
    }
}
