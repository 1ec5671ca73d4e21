//! Validation and calibration on measured runs: a real run (the LLMServingSim sample),
//! a closed loop (runs "measured" by the simulator with known knobs, then calibrated back),
//! and the one-line errors of runs that cannot be simulated.

#![allow(clippy::float_cmp)]

use std::path::PathBuf;

use llm_perf::calibrate::{CalibrateOptions, Calibration, calibrate};
use llm_perf::model::{LatencyStats, LatencyStatsData, RooflineCalibration};
use llm_perf::readers::{
    LengthSpec, LoadStage, MeasuredAt, MeasuredRun, MetricSummary, RunLayout, RunMeasurement,
    RunServing, RunWorkload, read_run,
};
use llm_perf::sim::{SimConfig, Simulation};
use llm_perf::validate::{ValidateOptions, validate, validate_with};

fn sample_run() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../samples/runs/llmservingsim-rtxpro6000-llama-3.1-8b"
    ))
}

#[test]
fn the_sample_run_is_simulated_as_it_ran() -> llm_perf::Result<()> {
    let run = read_run(&sample_run())?;
    assert_eq!(run.layout, RunLayout::LlmServingSim);
    assert_eq!(run.workload.requests.len(), 300);
    let report = validate(std::slice::from_ref(&run), &ValidateOptions::default())?;
    let r = &report.runs[0];
    assert_eq!(r.accelerator, "RTX PRO 6000 Blackwell");
    assert!(!r.overloaded);
    // The measurement as upstream's summary.txt prints it (vLLM column), ms.
    assert!((r.metrics["ttft_mean"].real - 7097.2).abs() < 0.05);
    assert!((r.metrics["e2e_mean"].real - 28200.7).abs() < 0.05);
    // A trace replay: one seed, no randomness; the roofline on the run's own device figures
    // (1,597 GB/s) is within these bounds (measured: TTFT 11.6 %, ITL 3.0 %, E2E 5.2 %).
    assert_eq!(r.seeds, 1);
    assert!(r.metrics["e2e_mean"].err < 0.08, "{:?}", r.metrics);
    assert!(r.metrics["itl"].err < 0.06, "{:?}", r.metrics);
    assert!(r.metrics["ttft_mean"].err < 0.15, "{:?}", r.metrics);
    assert_eq!(report.median_runs, 1);
    assert_eq!(report.median["e2e_mean"], r.metrics["e2e_mean"].err);
    // Replaying twice gives the same bits.
    let again = validate(&[run], &ValidateOptions::default())?;
    assert_eq!(again.runs[0].metrics, r.metrics);
    Ok(())
}

fn stats(mean: f64, p99: f64) -> LatencyStats {
    LatencyStats::new(LatencyStatsData {
        mean: Some(mean),
        p99: Some(p99),
        ..LatencyStatsData::default()
    })
    .unwrap()
}

/// A run of Llama-3.1-8B on one H100 at `rate` req/s for 60 s, 512-token prompts and
/// 128-token outputs, "measured" by simulating it with `truth` (seed 7).
fn synthetic_run(name: &str, rate: f64, truth: &RooflineCalibration) -> MeasuredRun {
    let yaml = format!(
        "seed: 7
cluster:
  engine: {{ max_batch_size: 64, max_num_batched_tokens: 2048 }}
  cost_model: {{ kind: roofline, model: Llama-3.1-8B, accelerator: H100, calibration: {} }}
workload:
  clients:
    - arrival: {{ kind: stages, stages: [ {{ rate: {rate}, duration_s: 60 }} ] }}
      input: {{ kind: fixed, value: 512 }}
      output: {{ kind: fixed, value: 128 }}
",
        serde_json::to_string(truth).unwrap()
    );
    let cfg = SimConfig::from_yaml_str(&yaml).unwrap();
    let s = Simulation::new(cfg).unwrap().run(std::io::sink()).unwrap();
    let l = &s.latency;
    MeasuredRun {
        name: name.into(),
        source: PathBuf::from(name),
        layout: RunLayout::InferencePerf,
        measured_at: MeasuredAt::Engine,
        serving: RunServing {
            model: Some("Llama-3.1-8B".into()),
            accelerator: Some("H100".into()),
            max_num_seqs: Some(64),
            max_num_batched_tokens: Some(2048),
            enable_prefix_caching: Some(false),
            ..RunServing::default()
        },
        workload: RunWorkload {
            stages: vec![LoadStage {
                rate,
                duration_s: 60.0,
            }],
            input: Some(LengthSpec::Fixed { tokens: 512 }),
            output: Some(LengthSpec::Fixed { tokens: 128 }),
            ..RunWorkload::default()
        },
        measured: RunMeasurement {
            overall: MetricSummary {
                ttft: stats(l.ttft_ms.mean, l.ttft_ms.p99),
                e2e: stats(l.e2e_ms.mean, l.e2e_ms.p99),
                output_tokens_mean: Some(128.0),
                successes: s.requests.completed,
                ..MetricSummary::default()
            },
            ..RunMeasurement::default()
        },
        notes: Vec::new(),
    }
}

#[test]
fn calibration_recovers_what_the_runs_were_measured_with() -> llm_perf::Result<()> {
    // A slower device than the default roofline thinks, with a heavier host loop.
    let truth = RooflineCalibration {
        memory_efficiency: Some(0.6),
        step_us: Some(2000.0),
        ..RooflineCalibration::default()
    };
    let runs = vec![
        synthetic_run("low", 4.0, &truth),
        synthetic_run("high", 12.0, &truth),
    ];
    let opts = CalibrateOptions {
        max_iterations: 80,
        leave_one_out: false,
        ..CalibrateOptions::default()
    };
    let cal = calibrate(&runs, &opts)?;
    assert_eq!(cal.format, "llm-perf-calibration");
    assert_eq!(cal.fitted_on.len(), 2);
    // The defaults are far off; the fit explains the runs almost exactly.
    assert!(cal.fit.objective_default > 0.01, "{:?}", cal.fit);
    assert!(
        cal.fit.objective < cal.fit.objective_default / 20.0,
        "{:?}",
        cal.fit
    );
    let h100 = &cal.accelerators["H100 SXM"];
    let eta = h100.memory_efficiency.unwrap();
    assert!((eta - 0.6).abs() < 0.08, "memory efficiency {eta}");
    // Validated with the calibration, both runs are within 3 % on E2E and ITL.
    let report = validate_with(&runs, &opts.validate, Some(&cal))?;
    for r in &report.runs {
        assert!(
            r.metrics["e2e_mean"].err < 0.03,
            "{}: {:?}",
            r.name,
            r.metrics
        );
        assert!(r.metrics["itl"].err < 0.03, "{}: {:?}", r.name, r.metrics);
    }
    // The file round-trips and applies to a plain simulation config.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("calibrated.json");
    std::fs::write(&file, serde_json::to_string_pretty(&cal).unwrap()).unwrap();
    let read = Calibration::read(&file)?;
    assert_eq!(read.accelerators, cal.accelerators);
    let mut cfg = SimConfig::from_yaml_str(
        "max_requests: 10
cluster: { cost_model: { kind: roofline, model: Llama-3.1-8B, accelerator: H100 } }
workload: { rate: 1.0, clients: [ { arrival: { kind: poisson },
  input: { kind: fixed, value: 64 }, output: { kind: fixed, value: 8 } } ] }",
    )
    .unwrap();
    assert_eq!(read.apply(&mut cfg)?.as_deref(), Some("H100 SXM"));
    let llm_perf::sim::CostModelConfig::Roofline { calibration, .. } = &cfg.cluster.cost_model
    else {
        panic!("roofline expected")
    };
    assert_eq!(calibration.unwrap().memory_efficiency, Some(eta));
    Ok(())
}

#[test]
fn leave_one_run_out_holds_each_run_out_of_its_own_fit() -> llm_perf::Result<()> {
    let truth = RooflineCalibration {
        memory_efficiency: Some(0.7),
        ..RooflineCalibration::default()
    };
    let runs = vec![
        synthetic_run("a", 3.0, &truth),
        synthetic_run("b", 6.0, &truth),
        synthetic_run("c", 9.0, &truth),
    ];
    let opts = CalibrateOptions {
        max_iterations: 30,
        ..CalibrateOptions::default()
    };
    let cal = calibrate(&runs, &opts)?;
    let loro = cal.leave_one_run_out.expect("computed");
    let names: Vec<&str> = loro.runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    // One physical truth behind all three: knobs fitted on two predict the third.
    assert!(loro.median["e2e_mean"] < 0.05, "{:?}", loro.median);
    Ok(())
}

#[test]
fn runs_that_cannot_be_simulated_name_their_file_and_field() {
    let base = synthetic_run("base", 2.0, &RooflineCalibration::default());
    let opts = ValidateOptions::default();
    let message = |run: MeasuredRun| validate(&[run], &opts).unwrap_err().to_string();

    let mut unknown = base.clone();
    unknown.source = PathBuf::from("runs/unknown-model");
    unknown.serving.model = Some("Llama-9-123B".into());
    let m = message(unknown);
    assert!(m.starts_with("runs/unknown-model: model: "), "{m}");
    assert!(
        m.contains("Llama-9-123B") && m.contains("model_config"),
        "{m}"
    );

    let mut too_big = base.clone();
    too_big.source = PathBuf::from("runs/too-big");
    too_big.serving.model = Some("Llama-3.1-70B".into());
    too_big.serving.accelerator = Some("L4".into());
    let m = message(too_big);
    assert!(m.starts_with("runs/too-big: tensor_parallel: "), "{m}");
    assert!(m.contains("does not fit"), "{m}");

    let mut no_gpu = base;
    no_gpu.source = PathBuf::from("runs/no-gpu");
    no_gpu.serving.accelerator = None;
    let m = message(no_gpu);
    assert!(m.starts_with("runs/no-gpu: accelerator: "), "{m}");
    assert!(m.contains("--accelerator"), "{m}");
}

#[test]
fn lengths_without_arrivals_and_bursty_stages_reach_the_simulation() -> llm_perf::Result<()> {
    let mut run = synthetic_run("bursty", 2.0, &RooflineCalibration::default());
    run.workload.input = None;
    run.workload.output = None;
    run.workload.pairs = vec![[300, 20], [700, 60]];
    run.workload.arrival_cv = Some(0.5);
    let cfg = llm_perf::validate::simulation_config(&run, &ValidateOptions::default(), None)?;
    let client = &cfg.workload.clients[0];
    assert_eq!(client.pairs.as_deref(), Some(&[[300, 20], [700, 60]][..]));
    let llm_perf::sim::ArrivalConfig::Stages { stages, cv } = &client.arrival else {
        panic!("stages expected: {:?}", client.arrival)
    };
    assert_eq!(stages.len(), 1);
    assert_eq!(*cv, Some(0.5));
    // Every simulated request has one of the two measured shapes.
    let summary = Simulation::new(cfg)?.run(std::io::sink())?;
    let mean_in =
        summary.throughput.input_tokens_per_second / summary.throughput.requests_per_second;
    assert!((300.0..=700.0).contains(&mean_in), "{mean_in}");
    Ok(())
}
