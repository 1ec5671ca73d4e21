//! AisBench: command line, model-config rewrite (`request_rate`, `batch_size`), timestamped
//! output folder, CSV/JSON with unit strings parsed by `perf-readers`.

use std::path::{Path, PathBuf};

use perf_model_core::{BenchmarkPoint, PerformanceIndex};
use perf_readers::{ReadOptions, parse_json_lenient, read_aisbench};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::benchmark::{Benchmark, Pass};
use crate::common::LaunchSettings;
use crate::config::{DecodedConfig, shell_split, substitute};
use crate::error::{NpuError, Result};
use crate::metrics::{aisbench_metric, index_from};
use crate::plan::{ConfigChange, FileWrite, Plan, read_text};
use crate::runner::ProcessRunner;

/// The `[ais_bench]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AisBenchConfig {
    /// The `ais_bench` executable.
    pub binary: String,
    /// `--models` task.
    pub models: String,
    /// `--datasets` task.
    pub datasets: String,
    /// `--num-prompts` (none: the whole dataset).
    pub num_prompts: Option<u32>,
    /// `--work-dir` (emptied before each pass).
    pub work_dir: PathBuf,
    /// The model task's Python config file; found with `--search` when unset.
    pub model_config: Option<PathBuf>,
    /// `--summarizer`.
    pub summarizer: Option<String>,
    /// `--debug` (one worker process; off by default).
    pub debug: bool,
    /// Further arguments (shell words, `$NAME` placeholders).
    pub others: String,
    /// Env, logs, timeouts (`timeouts.run_s` bounds one pass).
    #[serde(flatten)]
    pub launch: LaunchSettings,
}

impl Default for AisBenchConfig {
    fn default() -> Self {
        Self {
            binary: "ais_bench".to_owned(),
            models: "vllm_api_stream_chat".to_owned(),
            datasets: "gsm8k_gen_0_shot_cot_str_perf".to_owned(),
            num_prompts: None,
            work_dir: PathBuf::from("ais_bench_outputs"),
            model_config: None,
            summarizer: None,
            debug: false,
            others: String::new(),
            launch: LaunchSettings::for_benchmark(),
        }
    }
}

/// `batch_size` when neither the candidate (`CONCURRENCY`) nor the pass sets a concurrency
/// (`npu.md` §3.1).
pub const DEFAULT_BATCH_SIZE: u32 = 1000;

/// The AisBench runner.
///
/// [`Benchmark::prepare`] rewrites the model config's `request_rate` and `batch_size`:
/// `batch_size` := the candidate's `CONCURRENCY` (or `MAXCONCURRENCY`), else the pass's
/// concurrency, else [`DEFAULT_BATCH_SIZE`]; `request_rate` := the candidate's `REQUESTRATE`,
/// else the pass's rate, else 0 (AisBench sends everything at once below 0.1 req/s). The plan's
/// [`Plan::pass`] records the load actually written, so the collected index carries the
/// offered rate.
#[derive(Clone, Debug)]
pub struct AisBench {
    cfg: AisBenchConfig,
    model_config_text: Option<String>,
}

impl AisBench {
    /// A runner; the model config file is read now when configured, else by
    /// [`Benchmark::setup`].
    ///
    /// # Errors
    /// [`NpuError::Io`] reading the model config.
    pub fn new(cfg: AisBenchConfig) -> Result<Self> {
        let model_config_text = match &cfg.model_config {
            Some(p) => Some(read_text(p)?),
            None => None,
        };
        Ok(Self {
            cfg,
            model_config_text,
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &AisBenchConfig {
        &self.cfg
    }
}

/// Extracts the `--models` row's config path from `ais_bench --search` output (cells split
/// on `│` or `|`, so paths with spaces survive).
#[must_use]
pub fn parse_search_table(out: &str) -> Option<PathBuf> {
    out.lines().find_map(|line| {
        let cells: Vec<&str> = line
            .split(['│', '|', '┃'])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        match cells.as_slice() {
            [kind, _, path, ..] if *kind == "--models" => Some(PathBuf::from(path)),
            _ => None,
        }
    })
}

/// Replaces the numeric literal of `key = <n>` (the first assignment whose name is exactly
/// `key`) and returns the new text and the old literal.
///
/// # Errors
/// [`NpuError::InvalidConfig`] when no such assignment exists.
pub fn replace_assignment(
    text: &str,
    key: &str,
    new: &str,
    file: &Path,
) -> Result<(String, String)> {
    let mut from = 0;
    while let Some(off) = text[from..].find(key) {
        let start = from + off;
        let end = start + key.len();
        from = end;
        let before_ok = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        let rest = &text[end..];
        let after_ws = rest.trim_start_matches([' ', '\t']);
        if !before_ok || !after_ws.starts_with('=') || after_ws.starts_with("==") {
            continue;
        }
        let val = after_ws[1..].trim_start_matches([' ', '\t']);
        let vstart = text.len() - val.len();
        let vlen = val
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')))
            .unwrap_or(val.len());
        if vlen == 0 {
            continue;
        }
        let old = text[vstart..vstart + vlen].to_owned();
        let out = format!("{}{}{}", &text[..vstart], new, &text[vstart + vlen..]);
        return Ok((out, old));
    }
    Err(NpuError::InvalidConfig(format!(
        "{}: no `{key} = <number>` assignment",
        file.display()
    )))
}

/// Best client concurrency after a MindIE default run (`npu.md` §3.1): c = `coefficient` ×
/// `Concurrency`; below `threshold` → `threshold`, else floor(min(c, `Max Concurrency`)).
/// Seed defaults: coefficient 3, threshold 200.
///
/// # Examples
/// ```
/// use npu_backends::aisbench::best_concurrency;
/// assert_eq!(best_concurrency(0.9999, 1.0, 3.0, 200.0), 200);
/// assert_eq!(best_concurrency(95.2, 128.0, 3.0, 200.0), 128);
/// assert_eq!(best_concurrency(80.0, 1000.0, 3.0, 200.0), 240);
/// ```
#[must_use]
pub fn best_concurrency(
    concurrency: f64,
    max_concurrency: f64,
    coefficient: f64,
    threshold: f64,
) -> u32 {
    let c = coefficient * concurrency;
    let v = if c < threshold {
        threshold
    } else {
        c.min(max_concurrency).floor()
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = v.clamp(1.0, f64::from(u32::MAX)) as u32;
    n
}

/// The single `<dataset>.csv` under `W/<timestamp>/performance[s]/<model abbr>/`.
///
/// # Errors
/// [`NpuError::Output`] when there is none or more than one.
pub fn find_result_csv(work_dir: &Path) -> Result<PathBuf> {
    let mut found = Vec::new();
    let dirs = |p: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(p)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    for ts in dirs(work_dir).into_iter().filter(|p| p.is_dir()) {
        for perf in ["performances", "performance"] {
            for model in dirs(&ts.join(perf)).into_iter().filter(|p| p.is_dir()) {
                found.extend(
                    dirs(&model)
                        .into_iter()
                        .filter(|p| p.extension().is_some_and(|e| e == "csv")),
                );
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(NpuError::Output(format!(
            "no <timestamp>/performances/<model>/<dataset>.csv under {}",
            work_dir.display()
        ))),
        n => Err(NpuError::Output(format!(
            "{n} result CSVs under {} (expected one): {}",
            work_dir.display(),
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Reads an AisBench result folder: the CSV, the JSON beside it, and the success counts.
///
/// # Errors
/// [`NpuError::Output`], [`NpuError::Parse`], [`NpuError::Io`].
pub fn read_results(
    work_dir: &Path,
    offered_rate: Option<f64>,
) -> Result<(PerformanceIndex, BenchmarkPoint)> {
    let csv_path = find_result_csv(work_dir)?;
    let json_path = csv_path.with_extension("json");
    let csv = std::fs::read(&csv_path).map_err(|e| NpuError::io(&csv_path, e))?;
    let js = std::fs::read(&json_path).map_err(|e| NpuError::io(&json_path, e))?;
    let (cp, jp) = (
        csv_path.display().to_string(),
        json_path.display().to_string(),
    );
    let ds = read_aisbench(Some((&js, &jp)), Some((&csv, &cp)), &ReadOptions::default())?;
    let point = ds
        .points
        .into_iter()
        .next()
        .ok_or_else(|| NpuError::Output(format!("{jp}: no benchmark point")))?;
    let value = parse_json_lenient(&String::from_utf8_lossy(&js), &jp)?;
    let success = aisbench_metric(&value, &["Success Requests"]);
    let failed = aisbench_metric(&value, &["Failed Requests"]);
    let total = aisbench_metric(&value, &["Total Requests"]).or(match (success, failed) {
        (Some(s), Some(f)) => Some(s + f),
        _ => None,
    });
    let index = index_from(&point, success, total, offered_rate)?;
    Ok((index, point))
}

impl Benchmark for AisBench {
    fn name(&self) -> &str {
        "ais_bench"
    }

    fn setup(&mut self, runner: &dyn ProcessRunner) -> Result<()> {
        if self.model_config_text.is_some() {
            return Ok(());
        }
        let mut plan = Plan {
            name: "ais_bench --search".to_owned(),
            argv: vec![
                self.cfg.binary.clone(),
                "--models".to_owned(),
                self.cfg.models.clone(),
                "--search".to_owned(),
            ],
            env: self.cfg.launch.env.clone(),
            log_path: self.cfg.launch.log_dir.join("ais_bench_search.log"),
            timeouts: self.cfg.launch.timeouts,
            ..Plan::default()
        };
        plan.timeouts.run_s = plan.timeouts.run_s.min(120.0);
        crate::benchmark::run_plan(&plan, runner, None)?;
        let out = crate::runner::read_log(&plan.log_path);
        let path = parse_search_table(&out).ok_or_else(|| {
            NpuError::Output(format!(
                "`ais_bench --models {} --search` printed no --models row",
                self.cfg.models
            ))
        })?;
        self.model_config_text = Some(read_text(&path)?);
        self.cfg.model_config = Some(path);
        Ok(())
    }

    fn prepare(&self, cfg: &DecodedConfig, pass: &Pass) -> Result<Plan> {
        let c = &self.cfg;
        let (Some(mc_path), Some(mc_text)) = (&c.model_config, &self.model_config_text) else {
            return Err(NpuError::InvalidConfig(
                "ais_bench: the model config file is unknown: set `model_config` or run setup \
                 (`ais_bench --models <task> --search`)"
                    .to_owned(),
            ));
        };
        // The candidate's CONCURRENCY / REQUESTRATE win over the pass's (npu.md §3.1).
        let pass = pass.with_candidate_load(cfg)?;
        let rate = pass
            .rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .unwrap_or(0.0);
        let batch = pass.concurrency.unwrap_or(DEFAULT_BATCH_SIZE);
        let rate_text = crate::config::value_text(&json!(rate)).unwrap_or_else(|| "0".to_owned());
        let (text, old_rate) = replace_assignment(mc_text, "request_rate", &rate_text, mc_path)?;
        let (text, old_batch) =
            replace_assignment(&text, "batch_size", &batch.to_string(), mc_path)?;
        let mut warnings = Vec::new();
        for key in ["use_timestamp", "traffic_cfg"] {
            if let Ok((_, v)) = replace_assignment(mc_text, key, "", mc_path)
                && v != "False"
                && v != "None"
            {
                warnings.push(format!(
                    "{}: `{key}` is set and may override request_rate",
                    mc_path.display()
                ));
            }
        }
        let lit = |s: &str| {
            s.parse::<i64>()
                .map(|i| json!(i))
                .or_else(|_| s.parse::<f64>().map(|f| json!(f)))
                .unwrap_or_else(|_| json!(s))
        };
        let changes = vec![
            ConfigChange {
                file: mc_path.clone(),
                path: "request_rate".to_owned(),
                old: Some(lit(&old_rate)),
                new: lit(&rate_text),
            },
            ConfigChange {
                file: mc_path.clone(),
                path: "batch_size".to_owned(),
                old: Some(lit(&old_batch)),
                new: json!(batch),
            },
        ];
        let mut argv = vec![
            c.binary.clone(),
            "--models".to_owned(),
            c.models.clone(),
            "--datasets".to_owned(),
            c.datasets.clone(),
            "--mode".to_owned(),
            "perf".to_owned(),
        ];
        if let Some(n) = pass.num_prompts.or(c.num_prompts) {
            argv.extend(["--num-prompts".to_owned(), n.to_string()]);
        }
        argv.extend(["--work-dir".to_owned(), c.work_dir.display().to_string()]);
        if let Some(s) = &c.summarizer {
            argv.extend(["--summarizer".to_owned(), s.clone()]);
        }
        if c.debug {
            argv.push("--debug".to_owned());
        }
        argv.extend(shell_split(&c.others)?);
        let argv = substitute(&argv, &cfg.env_vars())?;
        Ok(Plan {
            name: self.name().to_owned(),
            files: vec![FileWrite {
                path: mc_path.clone(),
                new_text: text,
                original_text: Some(mc_text.clone()),
            }],
            changes,
            env: c.launch.env_with(cfg),
            argv,
            log_path: c.launch.log_dir.join("ais_bench.log"),
            timeouts: c.launch.timeouts,
            output_dir: Some(c.work_dir.clone()),
            warnings,
            pass: Some(pass),
            ..Plan::default()
        })
    }

    fn collect(&self, plan: &Plan) -> Result<(PerformanceIndex, BenchmarkPoint)> {
        let dir = plan.output_dir.as_deref().unwrap_or(&self.cfg.work_dir);
        read_results(dir, plan.pass.and_then(|p| p.rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    const MODEL_PY: &str = "models = [\n    dict(\n        attr=\"service\",\n        \
        request_rate = 0,\n        batch_size=100,\n        max_out_len = 512,\n        \
        use_timestamp=False,\n    )\n]\n";

    #[test]
    fn search_table_is_split_on_box_bars() {
        let out = "╒══════════╤══════╤════════╕\n│ Task Type │ Task Name │ Config File Path │\n\
                   │ --models │ vllm_api_stream_chat │ /opt/my configs/vllm api.py │\n";
        assert_eq!(
            parse_search_table(out),
            Some(PathBuf::from("/opt/my configs/vllm api.py"))
        );
        assert_eq!(parse_search_table("nothing"), None);
    }

    #[test]
    fn rewrites_rate_and_batch() {
        let p = Path::new("m.py");
        let (t, old) =
            replace_assignment(MODEL_PY, "request_rate", "3.7800000000000002", p).unwrap();
        assert_eq!(old, "0");
        assert!(t.contains("request_rate = 3.7800000000000002,"));
        let (t, old) = replace_assignment(&t, "batch_size", "200", p).unwrap();
        assert_eq!(old, "100");
        assert!(t.contains("batch_size=200,"));
        assert!(replace_assignment(&t, "rate", "1", p).is_err());
    }

    /// A runner over `MODEL_PY` (no file is read or written by `prepare`).
    fn ais() -> AisBench {
        AisBench {
            cfg: AisBenchConfig {
                model_config: Some(PathBuf::from("/cfg/m.py")),
                ..AisBenchConfig::default()
            },
            model_config_text: Some(MODEL_PY.to_owned()),
        }
    }

    fn model_text(plan: &Plan) -> &str {
        &plan.files[0].new_text
    }

    #[test]
    fn candidate_concurrency_and_rate_go_into_the_model_config() {
        let pass = Pass {
            rate: Some(3.78),
            concurrency: Some(200),
            num_prompts: None,
        };
        let cfg = DecodedConfig::new()
            .with_env("CONCURRENCY", 64)
            .with_env("REQUESTRATE", 10.0);
        let plan = ais().prepare(&cfg, &pass).unwrap();
        let text = model_text(&plan);
        assert!(text.contains("request_rate = 10,"), "{text}");
        assert!(text.contains("batch_size=64,"), "{text}");
        assert_eq!(
            plan.pass,
            Some(Pass {
                rate: Some(10.0),
                concurrency: Some(64),
                num_prompts: None
            })
        );
        assert_eq!(plan.changes[0].new, json!(10));
        assert_eq!(plan.changes[1].old, Some(json!(100)));
        assert_eq!(plan.changes[1].new, json!(64));
        // The env fields are exported too.
        assert_eq!(plan.env["CONCURRENCY"], "64");
        assert_eq!(plan.env["REQUESTRATE"], "10");
        // MAXCONCURRENCY is the other spelling of the concurrency knob; a fractional rate is
        // written as the shortest round-trip decimal.
        let cfg = DecodedConfig::new()
            .with_env("MAXCONCURRENCY", 25)
            .with_env("REQUESTRATE", 1.05 * 3.6);
        let text = ais().prepare(&cfg, &Pass::default()).unwrap().files[0]
            .new_text
            .clone();
        assert!(
            text.contains("request_rate = 3.7800000000000002,"),
            "{text}"
        );
        assert!(text.contains("batch_size=25,"), "{text}");
    }

    #[test]
    fn knobs_without_a_value_leave_the_pass_and_the_defaults() {
        // Swarm pass 2: REQUESTRATE frozen without a value, the pass's measured rate applies.
        let frozen = DecodedConfig::new()
            .with_env("CONCURRENCY", 1000)
            .with_env("REQUESTRATE", serde_json::Value::Null);
        let pass = Pass {
            rate: Some(3.78),
            concurrency: Some(200),
            num_prompts: None,
        };
        let plan = ais().prepare(&frozen, &pass).unwrap();
        assert!(model_text(&plan).contains("request_rate = 3.78,"));
        assert!(model_text(&plan).contains("batch_size=1000,"));
        // Swarm pass 1, no options: unthrottled (0) and the default batch size.
        let cfg = DecodedConfig::new().with_env("REQUESTRATE", "inf");
        let plan = ais().prepare(&cfg, &Pass::default()).unwrap();
        assert!(model_text(&plan).contains("request_rate = 0,"));
        assert!(model_text(&plan).contains("batch_size=1000,"));
        assert_eq!(plan.pass, Some(Pass::default()));
        // A knob that is not a number is a configuration error.
        let bad = DecodedConfig::new().with_env("CONCURRENCY", "many");
        assert!(matches!(
            ais().prepare(&bad, &Pass::default()),
            Err(NpuError::InvalidConfig(_))
        ));
    }

    fn write_result(dir: &Path, total: u32, success: u32) {
        let d = dir.join("20260101_120000/performances/vllm-api-stream-chat");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("gsm8kdataset.csv"),
            "Performance Parameters,Stage,Average,Min,Max,Median,P75,P90,P99,N\n\
             E2EL,total,2158.2 ms,2000.0 ms,2300.0 ms,2150.0 ms,2200.0 ms,2250.0 ms,2290.0 ms,8\n\
             TTFT,total,2006.0 ms,1900.0 ms,2100.0 ms,2000.0 ms,2050.0 ms,2080.0 ms,2099.0 ms,8\n\
             TPOT,total,20.1 ms,19.0 ms,21.0 ms,20.0 ms,20.5 ms,20.8 ms,20.99 ms,8\n\
             InputTokens,total,100,90,110,100,105,108,110,8\n\
             OutputTokens,total,512,500,520,512,515,518,520,8\n",
        )
        .unwrap();
        std::fs::write(
            d.join("gsm8kdataset.json"),
            format!(
                r#"{{"Benchmark Duration": {{"total": "98400.0 ms"}}, "Total Requests": {{"total": {total}}},
                "Failed Requests": {{"total": {f}}}, "Success Requests": {{"total": {success}}},
                "Concurrency": {{"total": 0.9999}}, "Max Concurrency": {{"total": 1}},
                "Request Throughput": {{"total": "0.0813 req/s"}},
                "Output Token Throughput": {{"total": "41.622 token/s"}}}}"#,
                f = total - success
            ),
        )
        .unwrap();
    }

    #[test]
    fn spec_acceptance_values() {
        let tmp = std::env::temp_dir().join(format!("npu-ais-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        write_result(&tmp, 8, 8);
        let (idx, point) = read_results(&tmp, None).unwrap();
        assert_relative_eq!(idx.output_throughput().unwrap(), 41.622);
        assert_relative_eq!(idx.ttft_ms().unwrap(), 2006.0);
        assert_relative_eq!(idx.tpot_ms().unwrap(), 20.1);
        assert_relative_eq!(idx.success_rate().unwrap(), 1.0);
        assert_relative_eq!(idx.request_throughput().unwrap(), 0.0813);
        assert_eq!(point.successful(), Some(8));
        // A second result folder is ambiguous.
        let d2 = tmp.join("20260101_130000/performances/x");
        std::fs::create_dir_all(&d2).unwrap();
        std::fs::write(d2.join("y.csv"), "").unwrap();
        assert!(matches!(read_results(&tmp, None), Err(NpuError::Output(_))));
        let _ = std::fs::remove_dir_all(&tmp);
        assert!(matches!(read_results(&tmp, None), Err(NpuError::Output(_))));
    }
}
