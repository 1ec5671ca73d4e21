//! The seed tuner's stages around the swarm (specs/tuning.md §5, §6): the theory-guided bound on
//! `max_batch_size` before it, the results CSV, and the top-k fine-tuning of the benchmark load
//! with the final choice after it. The algorithms live in `perf-pso`; this gathers their inputs
//! from files and flags and prints what they did.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use llm_perf::pso::device_memory::{DeviceMemory, npu_smi_memory, parse_nvidia_smi_memory};
use llm_perf::pso::fine_tune::{
    EvaluatorRunner, FineTuneReport, FineTuneRow, FineTuneSettings, FineTuner, LoadKnobs, RunOrigin,
};
use llm_perf::pso::store::{ResultStore, StoreRow, StoreSettings};
use llm_perf::pso::theory_bound::{
    ModelDims, TheoryBound, TheoryInput, TheorySettings, WeightEstimate, apply_theory_bound,
};
use llm_perf::pso::{Evaluator, Fitness, SearchSpace, SeedConfig, TuneReport};

use crate::table::num;

/// The name of the field the theory-guided bound narrows (the seed's default MindIE space).
pub const BOUNDED_FIELD: &str = "max_batch_size";

/// What the theory-guided bound needs beyond the seed file: flags of `llm-perf tune`.
#[derive(Debug, Default)]
pub struct TheoryFlags<'a> {
    /// `--model-config`: the model's HF `config.json`.
    pub model_config: Option<&'a Path>,
    /// `--device-memory`: recorded `npu-smi info -t usages` or `nvidia-smi` output (default:
    /// ask those tools on this host).
    pub device_memory: Option<&'a Path>,
    /// `--theory-stats AVG_IN,MAX_IN,MAX_OUT`.
    pub stats: Option<[f64; 3]>,
}

/// Parses `AVG_IN,MAX_IN,MAX_OUT` (AisBench's InputTokens average and max, OutputTokens max).
///
/// # Errors
/// Not three positive numbers.
pub fn parse_stats(text: &str) -> Result<[f64; 3]> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let bad = || {
        anyhow::anyhow!(
            "--theory-stats {text}: expected AVG_IN,MAX_IN,MAX_OUT (three positive numbers: the \
             default run's InputTokens average and max and OutputTokens max)"
        )
    };
    let [a, b, c] = parts.as_slice() else {
        return Err(bad());
    };
    let n = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0);
    Ok([
        n(a).ok_or_else(bad)?,
        n(b).ok_or_else(bad)?,
        n(c).ok_or_else(bad)?,
    ])
}

/// Reads device memory from recorded tool output: `npu-smi info -t usages` first, then
/// `nvidia-smi --query-gpu=memory.total,memory.used --format=csv` (first device).
///
/// # Errors
/// The file cannot be read, or is neither tool's output.
pub fn device_memory_of(path: &Path) -> Result<DeviceMemory> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--device-memory {}", path.display()))?;
    match npu_smi_memory(&text) {
        Ok(m) => Ok(m),
        Err(npu) => match parse_nvidia_smi_memory(&text) {
            Ok(list) if !list.is_empty() => Ok(list[0]),
            Ok(_) => bail!("--device-memory {}: no device in the file", path.display()),
            Err(gpu) => bail!(
                "--device-memory {}: neither `npu-smi info -t usages` output ({npu}) nor \
                 `nvidia-smi --query-gpu=memory.total,memory.used --format=csv` output ({gpu})",
                path.display()
            ),
        },
    }
}

/// Asks the device tools of this host: `npu-smi info -t usages -i 0 -c 0` (Ascend), then
/// `nvidia-smi --query-gpu=memory.total,memory.used --format=csv` (first GPU); `None` when
/// neither is installed or answers.
fn probe_device_memory() -> Option<(DeviceMemory, String)> {
    let run = |cmd: &str, args: &[&str]| -> Option<String> {
        let out = std::process::Command::new(cmd).args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let npu = ["info", "-t", "usages", "-i", "0", "-c", "0"];
    if let Some(m) = run("npu-smi", &npu).and_then(|t| npu_smi_memory(&t).ok()) {
        return Some((m, "`npu-smi info -t usages -i 0 -c 0`".to_owned()));
    }
    let gpu = ["--query-gpu=memory.total,memory.used", "--format=csv"];
    let m = run("nvidia-smi", &gpu).and_then(|t| parse_nvidia_smi_memory(&t).ok())?;
    m.first().map(|m| {
        (
            *m,
            "`nvidia-smi --query-gpu=memory.total,memory.used`".to_owned(),
        )
    })
}

/// A value at a dotted path of a JSON document (`a.b.0.c`).
fn at<'v>(doc: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    path.split('.')
        .try_fold(doc, |v, seg| match seg.parse::<usize>() {
            Ok(i) => v.get(i),
            Err(_) => v.get(seg),
        })
}

/// Narrows `max_batch_size` in `space` by the theory-guided bound when the seed file enables it
/// and the engine is MindIE; returns the lines to print (derivation, or why it was skipped).
/// Nothing is skipped silently: a missing input names the flag that supplies it.
///
/// # Errors
/// A given file that cannot be read or parsed; inputs the bound refuses.
pub fn theory_bound(
    seed: &SeedConfig,
    engine: &str,
    engine_config: Option<&Path>,
    flags: &TheoryFlags<'_>,
    space: &mut SearchSpace,
) -> Result<Vec<String>> {
    let settings: TheorySettings = seed.theory_settings()?;
    if !settings.enabled {
        return Ok(vec![
            "theory-guided bound: off (theory_guided_enable = false)".into(),
        ]);
    }
    if engine != "mindie" {
        return Ok(vec![format!(
            "theory-guided bound: not applied (the seed bounds MindIE's maxBatchSize; tuning \
             [{engine}])"
        )]);
    }
    if space.field(BOUNDED_FIELD).is_none() {
        return Ok(vec![format!(
            "theory-guided bound: not applied (no `{BOUNDED_FIELD}` field in the search space)"
        )]);
    }
    let skip = |what: &str| {
        Ok(vec![format!(
            "theory-guided bound on {BOUNDED_FIELD}: skipped, {what}; the field's own range is \
             searched"
        )])
    };
    let Some(cfg_path) = engine_config else {
        return skip("no MindIE config.json (set [mindie] config_path or --engine-config)");
    };
    let text = std::fs::read_to_string(cfg_path)
        .with_context(|| format!("MindIE config {}", cfg_path.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("MindIE config {}", cfg_path.display()))?;
    let number = |path: &str| at(&doc, path).and_then(serde_json::Value::as_f64);
    let model_cfg = "BackendConfig.ModelDeployConfig.ModelConfig.0";
    let model_path = match flags.model_config {
        Some(p) => p.to_owned(),
        None => match at(&doc, &format!("{model_cfg}.modelWeightPath")).and_then(|v| v.as_str()) {
            Some(dir) => PathBuf::from(dir).join("config.json"),
            None => return skip("no model config.json (give --model-config FILE)"),
        },
    };
    if !model_path.exists() {
        return skip(&format!(
            "the model's {} does not exist (give --model-config FILE)",
            model_path.display()
        ));
    }
    let model_text = std::fs::read_to_string(&model_path)
        .with_context(|| format!("model config {}", model_path.display()))?;
    let model = ModelDims::from_hf_config(&model_text, &model_path.display().to_string())?;
    let (memory, memory_from) = match flags.device_memory {
        Some(p) => (device_memory_of(p)?, p.display().to_string()),
        None => match probe_device_memory() {
            Some(found) => found,
            None => {
                return skip(
                    "no device memory (neither `npu-smi` nor `nvidia-smi` answered here; give \
                     --device-memory FILE with the output of `npu-smi info -t usages -i 0 -c 0`, \
                     or of `nvidia-smi --query-gpu=memory.total,memory.used --format=csv`)",
                );
            }
        },
    };
    let Some([avg_in, max_in, max_out]) = flags.stats else {
        return skip(
            "no token statistics of a default run (give --theory-stats AVG_IN,MAX_IN,MAX_OUT)",
        );
    };
    let schedule = "BackendConfig.ScheduleConfig";
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let input = TheoryInput {
        model,
        weights: WeightEstimate::Seed,
        cache_block_size: number(&format!("{schedule}.cacheBlockSize")).unwrap_or(128.0) as u64,
        max_prefill_tokens: number(&format!("{schedule}.maxPrefillTokens")).unwrap_or(8192.0)
            as u64,
        npu_mem_size: number(&format!("{model_cfg}.npuMemSize")).unwrap_or(-1.0) as i64,
        tp: number(&format!("{model_cfg}.tp"))
            .or_else(|| number(&format!("{model_cfg}.worldSize")))
            .unwrap_or(1.0)
            .max(1.0) as u64,
        device_total_mb: memory.total_mb,
        device_usage_percent: memory.usage_percent,
        mem_coefficient: settings.mem_coefficient,
        scaling_coefficient: settings.scaling_coefficient,
        avg_in,
        max_in,
        max_out,
    };
    let bound: TheoryBound = apply_theory_bound(space, BOUNDED_FIELD, &input)?;
    let mut lines = vec![format!(
        "theory-guided bound on {BOUNDED_FIELD} (specs/tuning.md §5; model {}, device memory \
         {} MB at {} % use from {}, MindIE config {}):",
        model_path.display(),
        num(memory.total_mb, 8),
        num(memory.usage_percent, 4),
        memory_from,
        cfg_path.display()
    )];
    lines.extend(bound.derivation().into_iter().map(|l| format!("  {l}")));
    Ok(lines)
}

/// Writes every evaluation (and the fine-tuning runs) to the seed's `data_storage_<time>.csv`
/// in `dir`; returns the files written.
///
/// # Errors
/// The directory or a file cannot be written.
pub fn write_store(
    dir: &Path,
    report: &TuneReport,
    space: &SearchSpace,
    fine: Option<&FineTuneReport>,
) -> Result<Vec<PathBuf>> {
    let mut store = ResultStore::create(dir, None)?;
    let mut files = vec![store.path().to_owned()];
    let mut add = |row: &StoreRow| -> Result<()> {
        let appended = store.append(row)?;
        if appended.new_file.is_some() && !files.contains(&appended.path) {
            files.push(appended.path.clone());
        }
        Ok(())
    };
    for r in &report.records {
        add(&StoreRow::from_record(r, space))?;
    }
    if let Some(f) = fine {
        for run in f
            .runs
            .iter()
            .filter(|r| !matches!(r.origin, RunOrigin::Default))
        {
            let mut row = StoreRow::from_parts(
                &run.config,
                run.index,
                run.error.clone(),
                run.fitness,
                Some(run.duration_s),
            );
            // measured, like the swarm's rows: same columns, same file
            row.is_predicted = Some(false);
            add(&row)?;
        }
    }
    Ok(files)
}

/// The seed's stages after the swarm, for a real-benchmark run.
#[derive(Debug)]
pub struct SeedStages {
    /// `[data_storage]`.
    pub store: StoreSettings,
    /// `max_fine_tune`, `step_size`, `slo_coefficient`.
    pub fine_tune: FineTuneSettings,
    /// The fitness of the run (SLOs and penalties).
    pub fitness: Fitness,
    /// The search space with the load knobs free (the swarm's has them frozen).
    pub unfrozen: SearchSpace,
}

impl SeedStages {
    /// Fine-tunes the top-k records (§6) with `evaluator`; `None` when `pso_top_k` is 0.
    ///
    /// # Errors
    /// Invalid settings.
    pub fn fine_tune(
        &self,
        report: &TuneReport,
        evaluator: &mut dyn Evaluator,
    ) -> Result<Option<FineTuneReport>> {
        if self.store.pso_top_k == 0 {
            return Ok(None);
        }
        let rows: Vec<FineTuneRow> = report
            .seed_top_k(
                self.store.pso_top_k,
                &self.fitness,
                self.fine_tune.slo_coefficient,
            )
            .into_iter()
            .map(|r| FineTuneRow::from_record(r, &self.unfrozen))
            .collect();
        let tuner = FineTuner::new(
            self.fine_tune,
            self.fitness.clone(),
            LoadKnobs::from_space(&self.unfrozen),
        )?;
        let mut runner = EvaluatorRunner::new(evaluator, report.iterations);
        Ok(Some(tuner.run(None, &rows, &mut runner)))
    }
}

/// The fine-tuning sessions and the final choice, as text.
#[must_use]
pub fn render_fine_tune(fine: &FineTuneReport, fitness: &Fitness) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nfine-tuning of the top rows (specs/tuning.md §6): {} sessions, {} runs",
        fine.sessions.len(),
        fine.runs.len()
    );
    for s in &fine.sessions {
        let _ = writeln!(
            out,
            "  row {}: {} steps, stopped: {:?}",
            s.row,
            s.steps.len(),
            s.stop
        );
        for st in &s.steps {
            let v = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |v| num(v, 5));
            let _ = writeln!(
                out,
                "    step {}: TPOT {} ms, TTFT {} ms; {:?} factor {} → CONCURRENCY {} → {}, \
                 REQUESTRATE {} → {}",
                st.step,
                num(st.tpot_ms, 5),
                v(st.ttft_ms),
                st.adjusted,
                num(st.factor, 4),
                v(st.concurrency),
                v(st.new_concurrency),
                v(st.request_rate),
                v(st.new_request_rate),
            );
        }
    }
    match fine.final_choice(fitness) {
        Some(choice) => {
            let run = &fine.runs[choice.run];
            let figures = run.index.map_or_else(
                || "no figures".to_owned(),
                |i| {
                    format!(
                        "{} out tok/s, TTFT {} ms, TPOT {} ms",
                        i.output_throughput().map_or("-".into(), |v| num(v, 5)),
                        i.ttft_ms().map_or("-".into(), |v| num(v, 5)),
                        i.tpot_ms().map_or("-".into(), |v| num(v, 5)),
                    )
                },
            );
            let _ = writeln!(
                out,
                "final choice ({:?}, run {} of {:?}): {}; {}",
                choice.rule,
                choice.run,
                run.origin,
                serde_json::Value::Object(run.config.to_map()),
                figures
            );
        }
        None => {
            let _ = writeln!(out, "final choice: none (no fine-tuning run succeeded)");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::float_cmp)] // parsed literals
    fn stats_parse_and_bad_ones_name_the_flag() {
        assert_eq!(
            parse_stats("1024, 4096,512").unwrap(),
            [1024.0, 4096.0, 512.0]
        );
        for bad in ["1024,4096", "a,b,c", "1,2,-3", "1,2,3,4"] {
            let msg = parse_stats(bad).unwrap_err().to_string();
            assert!(msg.contains("--theory-stats") && msg.contains(bad), "{msg}");
        }
    }

    #[test]
    fn dotted_paths_index_lists() {
        let doc = serde_json::json!({"a": {"b": [{"c": 3}]}});
        assert_eq!(at(&doc, "a.b.0.c"), Some(&serde_json::json!(3)));
        assert_eq!(at(&doc, "a.b.1.c"), None);
    }
}
