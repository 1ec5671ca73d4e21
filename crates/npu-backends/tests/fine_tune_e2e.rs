//! Fine-tuning of the load knobs (specs/tuning.md §6) against the real `fake-engine` (MindIE
//! mode) and `fake-bench` (AisBench mode) binaries of this crate, on loopback: every run of the
//! fine-tuning is a real engine start and a real benchmark pass, driven by
//! `perf_pso::FineTuner` through `BenchmarkEvaluator` and `EvaluatorRunner`.
//!
//! The test re-derives every step of the recorded session from the recorded measurement
//! (TPOT of the run the step starts from) with the §6 formula, and checks that CONCURRENCY
//! moves toward the TPOT SLO. Run with `--nocapture` to see the step sequence.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{assert_no_strays, free_port, launch, tmp};

use npu_backends::aisbench::{AisBench, AisBenchConfig, find_result_csv};
use npu_backends::metrics::aisbench_metric;
use npu_backends::mindie::{HealthMode, Mindie, MindieConfig};
use npu_backends::{BenchmarkEvaluation, BenchmarkEvaluator, Doc, EvaluationOptions, SystemRunner};
use perf_pso::fine_tune::{
    Adjusted, ChoiceRule, ConfigRunner, EvaluatorRunner, FineTuneReport, FineTuneRun, RunOrigin,
    StopReason,
};
use perf_pso::{
    Candidate, Evaluation, Evaluator, FieldSpec, FineTuneRow, FineTuneSettings, FineTuner, Fitness,
    LoadKnobs, SearchSpace, SeedCompat,
};
use serde_json::{Value, json};

const FAKE_ENGINE: &str = env!("CARGO_BIN_EXE_fake-engine");
const FAKE_BENCH: &str = env!("CARGO_BIN_EXE_fake-bench");
const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../samples/npu/deepseekr1-w8a8_2node_800I-A2_config.json"
);

/// CONCURRENCY bounds of the search space.
const C_MIN: i64 = 1;
const C_MAX: i64 = 200;
/// Prompts per benchmark pass: as many as the largest CONCURRENCY, since no more requests than
/// prompts are ever in flight (the fake models that too), so the prompts never cap the
/// concurrency under test. The fake sends at most 50 of them, so a pass stays short.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
const NUM_PROMPTS: u32 = C_MAX as u32;
/// REQUESTRATE bounds of the search space.
const R_MIN: f64 = 0.1;
const R_MAX: f64 = 100.0;
/// REQUESTRATE of the top-k row (doubled by the first fine-tune run).
const ROW_RATE: f64 = 5.0;
/// CONCURRENCY of the top-k row the fine-tuning starts from.
const START_CONCURRENCY: i64 = 64;
/// The concurrencies measured first to place the SLO.
const PROBES: [i64; 3] = [1, 8, START_CONCURRENCY];

/// The fake MindIE engine (the sample config on loopback ports) and the fake AisBench, one
/// benchmark pass per run (a fine-tune run is benchmarked at the configuration's load, not
/// through the swarm's two-phase rate discovery).
fn mindie_aisbench(dir: &Path, runner: Arc<SystemRunner>) -> (BenchmarkEvaluation, PathBuf) {
    let text = std::fs::read_to_string(SAMPLE).expect("sample MindIE config");
    let mut doc = Doc::parse(&text, "sample").expect("sample parses");
    let (port, mport) = (free_port(), free_port());
    for (p, v) in [
        ("ServerConfig.ipAddress", json!("127.0.0.1")),
        ("ServerConfig.managementIpAddress", json!("127.0.0.1")),
        ("ServerConfig.port", json!(port)),
        ("ServerConfig.managementPort", json!(mport)),
    ] {
        doc.set_path(p, &v).expect("sample has the server keys");
    }
    let config_path = dir.join("conf/config.json");
    std::fs::create_dir_all(dir.join("conf")).expect("conf dir");
    std::fs::write(&config_path, doc.to_pretty()).expect("write config.json");
    let engine = Mindie::new(MindieConfig {
        config_path,
        install_path: Some(dir.to_path_buf()),
        binary: Some(PathBuf::from(FAKE_ENGINE)),
        devices: Some("0,1,2,3".to_owned()),
        health: HealthMode::Both,
        launch: launch(dir, &[("FAKE_READY_DELAY_MS", "20")], 10.0),
        ..MindieConfig::default()
    })
    .expect("MindIE engine");
    let model_py = dir.join("vllm_api_stream_chat.py");
    std::fs::write(
        &model_py,
        format!(
            "from ais_bench.benchmark.models import VLLMCustomAPIChatStream\n\nmodels = [\n    \
             dict(\n        attr=\"service\",\n        type=VLLMCustomAPIChatStream,\n        \
             abbr='vllm-api-stream-chat',\n        path=\"\",\n        model=\"\",\n        \
             request_rate = 0,\n        retry = 2,\n        host_ip = \"127.0.0.1\",\n        \
             host_port = {port},\n        max_out_len = 512,\n        batch_size=1000,\n        \
             trust_remote_code=False,\n    )\n]\n"
        ),
    )
    .expect("write the AisBench model config");
    let work_dir = dir.join("ais_outputs");
    let model_env = model_py.to_str().expect("utf-8 temp path").to_owned();
    let bench = AisBench::new(AisBenchConfig {
        binary: FAKE_BENCH.to_owned(),
        num_prompts: Some(NUM_PROMPTS),
        work_dir: work_dir.clone(),
        model_config: None, // found with `--search`
        launch: launch(dir, &[("FAKE_AIS_MODEL_CONFIG", &model_env)], 20.0),
        ..AisBenchConfig::default()
    })
    .expect("AisBench runner");
    let eval = BenchmarkEvaluation::new(Box::new(engine), Box::new(bench), runner).with_options(
        EvaluationOptions {
            attempts: 1,
            two_phase: false,
            ..EvaluationOptions::default()
        },
    );
    (eval, work_dir)
}

/// What the benchmark pass of one run actually ran with, read from its own output.
#[derive(Clone, Copy, Debug)]
struct Observed {
    /// `CONCURRENCY` of the configuration.
    concurrency: Option<f64>,
    /// `REQUESTRATE` of the configuration.
    request_rate: Option<f64>,
    /// AisBench's `Max Concurrency` (its `batch_size`, the client concurrency).
    bench_concurrency: Option<f64>,
    /// The rate the pass offered (the index's request rate; `None` = unthrottled).
    bench_rate: Option<f64>,
}

/// [`BenchmarkEvaluator`] plus a record of the load each benchmark pass really ran with.
struct Recording {
    inner: BenchmarkEvaluator,
    work_dir: PathBuf,
    seen: Vec<Observed>,
}

impl Evaluator for Recording {
    fn evaluate(&mut self, batch: &[Candidate]) -> Vec<Evaluation> {
        let out = self.inner.evaluate(batch);
        for (c, e) in batch.iter().zip(&out) {
            let bench_concurrency = find_result_csv(&self.work_dir)
                .ok()
                .and_then(|csv| std::fs::read_to_string(csv.with_extension("json")).ok())
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| aisbench_metric(&v, &["Max Concurrency"]));
            self.seen.push(Observed {
                concurrency: c.config.get_f64("CONCURRENCY"),
                request_rate: c.config.get_f64("REQUESTRATE"),
                bench_concurrency,
                bench_rate: e.index.and_then(|i| i.request_rate()),
            });
        }
        out
    }
}

fn space() -> SearchSpace {
    SearchSpace::new(
        &[
            FieldSpec::int(
                "maxBatchSize",
                "BackendConfig.ScheduleConfig.maxBatchSize",
                50,
                600,
            ),
            FieldSpec::int("CONCURRENCY", "env", C_MIN, C_MAX),
            FieldSpec::float("REQUESTRATE", "env", R_MIN, R_MAX),
        ],
        SeedCompat::Fixed,
    )
    .expect("search space")
}

fn row_config(space: &SearchSpace, concurrency: i64, rate: f64) -> perf_pso::DecodedConfig {
    let mut m = serde_json::Map::new();
    m.insert("maxBatchSize".into(), json!(300));
    m.insert("CONCURRENCY".into(), json!(concurrency));
    m.insert("REQUESTRATE".into(), json!(rate));
    space.config_from_map(&m)
}

fn tpot_of(run: &FineTuneRun) -> Option<f64> {
    run.index.and_then(|i| i.tpot_ms())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// One §6 concurrency step, recomputed from the measurement.
struct Step {
    raw: f64,
    factor: f64,
    /// The previous value used by the sign-flip rule.
    previous: Option<f64>,
    /// The new value clamped to the bounds, before truncation: `perf_pso::FineTuner` applies
    /// the move only when this differs from the current value by ≥ 0.1 (its documented
    /// deviation from the seed).
    moved_to: f64,
    /// The new value written to the configuration: `moved_to` truncated (int knob).
    new: f64,
}

fn expected_step(
    settings: &FineTuneSettings,
    slo: f64,
    tpot: f64,
    v: f64,
    last: Option<(f64, f64)>,
) -> Option<Step> {
    let (s, c) = (settings.step_size, settings.slo_coefficient);
    let raw = if tpot > slo {
        -s * (tpot - slo) / slo
    } else if tpot < slo * (1.0 - c) {
        s * (slo - tpot) / slo
    } else {
        return None; // in band: CONCURRENCY stays
    };
    let factor = raw.clamp(-s, s);
    // Sign flip since the previous concurrency step, and the concurrency changed since.
    let previous =
        last.and_then(|(raw0, v0)| (raw0 * raw < 0.0 && v0.to_bits() != v.to_bits()).then_some(v0));
    let new = previous.map_or(v * (1.0 + factor), |p| v + factor * (v - p).abs());
    #[allow(clippy::cast_precision_loss)]
    let moved_to = new.clamp(C_MIN as f64, C_MAX as f64);
    Some(Step {
        raw,
        factor,
        previous,
        moved_to,
        new: moved_to.trunc(),
    })
}

/// Prints the runs of the session: configuration, measured TPOT, the step taken from it and
/// the load the benchmark really ran with.
fn print_sequence(report: &FineTuneReport, seen: &[Observed]) {
    let session = &report.sessions[0];
    let opt = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
    println!(
        "{:<8} {:>11} {:>8} {:>9} {:>10} {:>8} {:>10} {:>10}",
        "run", "CONCURRENCY", "REQRATE", "TPOT ms", "raw", "factor", "bench conc", "bench rate"
    );
    for (k, run) in report.runs.iter().enumerate() {
        let step = session.steps.get(k);
        let origin = match run.origin {
            RunOrigin::TopK { .. } => "doubled".to_owned(),
            RunOrigin::FineTune { step, .. } => format!("step {step}"),
            other => format!("{other:?}"),
        };
        println!(
            "{origin:<8} {:>11} {:>8} {:>9} {:>10} {:>8} {:>10} {:>10}",
            opt(run.config.get_f64("CONCURRENCY")),
            opt(run.config.get_f64("REQUESTRATE")),
            opt(tpot_of(run)),
            opt(step.map(|s| s.raw_factor)),
            opt(step.map(|s| s.factor)),
            opt(seen.get(k).and_then(|o| o.bench_concurrency)),
            opt(seen.get(k).and_then(|o| o.bench_rate)),
        );
    }
    println!("stop: {:?}", session.stop);
}

/// Checks the session of row 0 against §6, step by step from the recorded measurements:
/// (1) the doubled first run, (2) each CONCURRENCY move, (4) the stop reason, (5) the final
/// choice, and the part of (3) that holds whatever the service does (CONCURRENCY goes down
/// while TPOT is above the SLO). Returns the failure of the rest of (3), TPOT moving toward
/// the SLO, which depends on the service.
#[allow(clippy::too_many_lines)]
fn check_session(
    report: &FineTuneReport,
    fitness: &Fitness,
    settings: &FineTuneSettings,
    start: f64,
) -> Option<String> {
    let slo = fitness.tpot_slo_ms;
    let session = &report.sessions[0];
    let runs = &report.runs;
    for (k, run) in runs.iter().enumerate() {
        assert!(run.error.is_none(), "run {k}: {:?}", run.error);
        assert!(tpot_of(run).is_some_and(|t| t > 0.0), "run {k}: no TPOT");
    }

    // (1) The first run is the row with REQUESTRATE doubled, CONCURRENCY unchanged.
    assert_eq!(runs[0].origin, RunOrigin::TopK { row: 0 });
    let doubled = (2.0 * ROW_RATE).clamp(R_MIN, R_MAX);
    assert_eq!(runs[0].config.get_f64("REQUESTRATE"), Some(doubled));
    assert_eq!(runs[0].config.get_f64("CONCURRENCY"), Some(start));
    assert_eq!(runs[0].config.get_f64("maxBatchSize"), Some(300.0));

    // (2) Each step, recomputed from the TPOT measured by the run it starts from.
    assert!(!session.steps.is_empty(), "no step was taken");
    let mut last: Option<(f64, f64)> = None;
    for (k, step) in session.steps.iter().enumerate() {
        let n = k + 1;
        let from = &runs[k];
        let v = from.config.get_f64("CONCURRENCY").expect("CONCURRENCY set");
        let tpot = tpot_of(from).expect("TPOT measured");
        assert_eq!(step.step, n);
        assert_eq!(step.concurrency, Some(v), "step {n}");
        assert!(close(step.tpot_ms, tpot), "step {n}: {}", step.tpot_ms);
        assert_eq!(step.adjusted, Adjusted::Concurrency, "step {n}");
        let Some(Step {
            raw,
            factor,
            previous,
            moved_to,
            new,
        }) = expected_step(settings, slo, tpot, v, last)
        else {
            panic!("step {n}: TPOT {tpot} is in the SLO band, nothing should move");
        };
        assert!(
            close(step.raw_factor, raw),
            "step {n}: raw {}",
            step.raw_factor
        );
        assert!(
            close(step.factor, factor),
            "step {n}: factor {}",
            step.factor
        );
        assert!(factor.abs() <= settings.step_size, "step {n}");
        assert_eq!(step.previous, previous, "step {n}");
        assert_eq!(step.new_concurrency, Some(new), "step {n}");
        assert!(
            (moved_to - v).abs() >= 0.1,
            "step {n}: moved {v} → {moved_to}"
        );
        // REQUESTRATE goes back to its value at the first step (the doubled rate).
        assert_eq!(step.new_request_rate, Some(doubled), "step {n}");
        if let Some(next) = runs.get(n) {
            assert_eq!(next.origin, RunOrigin::FineTune { row: 0, step: n });
            assert_eq!(next.config.get_f64("CONCURRENCY"), Some(new));
            assert_eq!(next.config.get_f64("REQUESTRATE"), Some(doubled));
            assert_eq!(next.config.get_f64("maxBatchSize"), Some(300.0));
        }
        last = Some((raw, v));
    }

    // (4) The stop is one of §6's, and agrees with the last measurement.
    let final_run = runs.last().expect("runs");
    match &session.stop {
        StopReason::NothingMoved => {
            assert_eq!(runs.len(), session.steps.len() + 1);
            let v = final_run
                .config
                .get_f64("CONCURRENCY")
                .expect("CONCURRENCY");
            let tpot = tpot_of(final_run).expect("TPOT");
            if let Some(step) = expected_step(settings, slo, tpot, v, last) {
                let to = step.moved_to;
                assert!((to - v).abs() < 0.1, "{v} → {to} should have moved");
            }
        }
        StopReason::Repeated => {
            assert_eq!(runs.len(), session.steps.len());
            let step = session.steps.last().expect("a repeated step");
            assert!(runs.iter().any(|r| {
                r.config.get_f64("CONCURRENCY") == step.new_concurrency
                    && r.config.get_f64("REQUESTRATE") == step.new_request_rate
            }));
        }
        StopReason::MaxSteps => {
            assert_eq!(session.steps.len(), settings.max_fine_tune);
            assert_eq!(runs.len(), settings.max_fine_tune + 1);
        }
        other => panic!("stop {other:?} is not expected of runs that all succeed"),
    }

    // (5) The final choice: the fastest run meeting the TPOT SLO if any does, else the least
    // relative excess (the earliest on a tie).
    let choice = report.final_choice(fitness).expect("a final choice");
    println!("final choice: {choice:?}");
    let within: Vec<usize> = (0..runs.len())
        .filter(|&k| tpot_of(&runs[k]).is_some_and(|t| t < slo))
        .collect();
    let speed = |k: usize| {
        runs[k]
            .index
            .and_then(|i| i.output_throughput())
            .unwrap_or(0.0)
    };
    if within.is_empty() {
        assert_eq!(choice.rule, ChoiceRule::LeastExcess);
        let least = (0..runs.len())
            .map(|k| tpot_of(&runs[k]).unwrap_or(f64::INFINITY))
            .fold(f64::INFINITY, f64::min);
        let first_least = (0..runs.len()).find(|&k| tpot_of(&runs[k]) == Some(least));
        assert_eq!(Some(choice.run), first_least);
    } else {
        assert_eq!(choice.rule, ChoiceRule::MaxSpeedWithinSlo);
        assert!(within.contains(&choice.run), "{choice:?} misses the SLO");
        assert!(within.iter().all(|&k| speed(k) <= speed(choice.run)));
    }

    // (3) CONCURRENCY moves toward the SLO: down on every step from a TPOT above the SLO…
    for step in &session.steps {
        if step.tpot_ms > slo {
            let (v, new) = (step.concurrency, step.new_concurrency);
            assert!(
                v.zip(new).is_some_and(|(v, n)| n < v),
                "step {}: TPOT {} > SLO but CONCURRENCY {v:?} → {new:?}",
                step.step,
                step.tpot_ms
            );
        }
    }
    // … and the last run's TPOT is closer to the SLO than the first run's.
    let first_tpot = tpot_of(&runs[0]).expect("TPOT");
    let last_tpot = tpot_of(final_run).expect("TPOT");
    ((last_tpot - slo).abs() >= (first_tpot - slo).abs()).then(|| {
        format!(
            "TPOT did not move toward the SLO {slo:.4} ms: first run {first_tpot:.4} ms at \
             CONCURRENCY {:?}, last run {last_tpot:.4} ms at CONCURRENCY {:?}",
            runs[0].config.get_f64("CONCURRENCY"),
            final_run.config.get_f64("CONCURRENCY")
        )
    })
}

#[test]
fn fine_tuning_moves_concurrency_toward_the_tpot_slo() {
    let started = std::time::Instant::now();
    let dir = tmp("mindie-aisbench");
    let runner = Arc::new(SystemRunner::new());
    let (eval, work_dir) = mindie_aisbench(&dir, Arc::clone(&runner));
    let mut evaluator = Recording {
        inner: BenchmarkEvaluator::new(eval),
        work_dir,
        seen: Vec::new(),
    };
    let space = space();
    let knobs = LoadKnobs::from_space(&space);
    assert_eq!(
        knobs.concurrency.as_ref().map(|k| (k.name.as_str(), k.int)),
        Some(("CONCURRENCY", true))
    );
    assert_eq!(
        knobs
            .request_rate
            .as_ref()
            .map(|k| (k.name.as_str(), k.int)),
        Some(("REQUESTRATE", false))
    );
    let mut failures: Vec<String> = Vec::new();

    // What the fake gives at a few concurrencies, to place the SLO between them.
    let mut probes = Vec::new();
    for c in PROBES {
        let cfg = row_config(&space, c, ROW_RATE);
        let e = EvaluatorRunner::new(&mut evaluator, 0).run(&cfg);
        assert!(e.error.is_none(), "probe at CONCURRENCY {c}: {:?}", e.error);
        let tpot = e.index.and_then(|i| i.tpot_ms()).expect("probe TPOT");
        probes.push((
            tpot,
            FineTuneRow {
                config: cfg,
                index: e.index,
            },
        ));
    }
    println!("probes (CONCURRENCY → TPOT ms):");
    for (c, (tpot, _)) in PROBES.iter().zip(&probes) {
        println!("  {c:>4} → {tpot:.4}");
    }
    let (t_low, t_high) = (probes[0].0, probes[2].0);
    let slo = if t_high > 1.5 * t_low {
        (t_low * t_high).sqrt()
    } else {
        failures.push(format!(
            "the fake's TPOT does not grow with CONCURRENCY: {:?} ms at CONCURRENCY {PROBES:?}",
            probes.iter().map(|p| p.0).collect::<Vec<_>>()
        ));
        // Fine-tune anyway from a TPOT twice the SLO, to check the step rule.
        t_high / 2.0
    };
    println!("TPOT SLO: {slo:.4} ms");

    // Fine-tune the row at CONCURRENCY 64 (TPOT above the SLO), TPOT penalty only.
    let fitness = Fitness {
        ttft_penalty: 0.0,
        tpot_penalty: 3.0,
        tpot_slo_ms: slo,
        ..Fitness::default()
    };
    let settings = FineTuneSettings::default();
    let tuner = FineTuner::new(settings, fitness.clone(), knobs).expect("fine tuner");
    let row = probes.pop().expect("probe at the start concurrency").1;
    assert!(t_high > slo, "{t_high} ≤ SLO {slo}");
    let probe_runs = evaluator.seen.len();
    let report = tuner.run(
        None,
        std::slice::from_ref(&row),
        &mut EvaluatorRunner::new(&mut evaluator, 0),
    );
    let seen = evaluator.seen.split_off(probe_runs);
    drop(evaluator);
    // (6) No engine or benchmark process is left.
    assert_no_strays(&runner);

    print_sequence(&report, &seen);
    assert_eq!(seen.len(), report.runs.len());
    for (o, run) in seen.iter().zip(&report.runs) {
        assert_eq!(o.concurrency, run.config.get_f64("CONCURRENCY"));
        assert_eq!(o.request_rate, run.config.get_f64("REQUESTRATE"));
    }
    #[allow(clippy::cast_precision_loss)]
    let start = START_CONCURRENCY as f64;
    failures.extend(check_session(&report, &fitness, &settings, start));

    // The knobs reached the benchmark: AisBench's batch_size is CONCURRENCY and its
    // request_rate is REQUESTRATE (specs/npu.md §3.1).
    for (k, o) in seen.iter().enumerate() {
        if o.bench_concurrency != o.concurrency {
            failures.push(format!(
                "run {k}: AisBench ran at batch_size {:?}, the configuration's CONCURRENCY is \
                 {:?}",
                o.bench_concurrency, o.concurrency
            ));
        }
        if !o
            .bench_rate
            .zip(o.request_rate)
            .is_some_and(|(a, b)| close(a, b))
        {
            failures.push(format!(
                "run {k}: AisBench ran at request_rate {:?}, the configuration's REQUESTRATE \
                 is {:?}",
                o.bench_rate, o.request_rate
            ));
        }
    }
    println!("elapsed: {:.1} s", started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
