//! The surrogate pre-filter inside the tuning loop: predicted particles are recorded as such,
//! never steer the swarm, save real evaluations, and a resumed run makes the same decisions.

use std::path::PathBuf;

use perf_model_core::{PerformanceIndex, PerformanceIndexData};
use perf_pso::{
    Candidate, FieldSpec, Fitness, FnEvaluator, PsoError, PsoParams, SearchSpace, SeedCompat,
    SurrogateSettings, SurrogateStrategy, Tuner, is_predicted,
};

fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("perf-pso-surrogate-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// TTFT rises with the batch: above about 130 the 500 ms SLO is missed; beyond 240 it fails.
fn service(c: &Candidate) -> Result<PerformanceIndex, String> {
    let b = c.config.get_f64("batch").ok_or("batch")?;
    let t = c.config.get_f64("tokens").ok_or("tokens")?;
    if b > 240.0 {
        return Err(format!("out of memory at batch {b}"));
    }
    PerformanceIndex::new(PerformanceIndexData {
        output_throughput: Some(30.0 * b.min(120.0) + t / 64.0),
        ttft_ms: Some(100.0 + 3.0 * b + 0.01 * t),
        tpot_ms: Some(20.0 + 0.2 * b),
        success_rate: Some(1.0),
        ..Default::default()
    })
    .map_err(|e| e.to_string())
}

fn tuner(dir: &std::path::Path, settings: Option<SurrogateSettings>) -> Tuner {
    let space = SearchSpace::new(
        &[
            FieldSpec::int("batch", "engine.max_batch_size", 8, 256),
            FieldSpec::range("tokens", "engine.max_num_batched_tokens", 1024, 16384, 512),
        ],
        SeedCompat::Fixed,
    )
    .unwrap();
    let params = PsoParams {
        n_particles: 8,
        iters: 10,
        seed: 3,
        ..PsoParams::default()
    };
    let t = Tuner::new(space, params, Fitness::default())
        .results_file(dir.join("results.jsonl"))
        .checkpoint_file(dir.join("checkpoint.json"))
        .record_timing(false);
    match settings {
        Some(s) => t.surrogate(s).unwrap(),
        None => t,
    }
}

#[test]
fn predicted_particles_are_recorded_and_never_become_the_best() {
    let dir = tmp_dir("record");
    let mut ev = FnEvaluator::new(service);
    let report = tuner(&dir, Some(SurrogateSettings::default()))
        .run(&mut ev)
        .unwrap();
    assert_eq!(report.records.len(), 80);
    let predicted: Vec<_> = report.records.iter().filter(|r| is_predicted(r)).collect();
    assert_eq!(predicted.len(), report.predicted);
    assert!(
        !predicted.is_empty(),
        "the SLO-missing corner is never skipped"
    );
    // nothing is predicted before `initial_points` measurements: iteration 0 is all real
    assert!(report.records.iter().take(8).all(|r| r.real));
    for r in &predicted {
        let ttft = r.index.and_then(|i| i.ttft_ms()).unwrap();
        // skipped for a predicted SLO miss (TTFT) or a predicted failure (batch > 240)
        let batch = r.config["batch"].as_f64().unwrap();
        assert!(ttft > 400.0 || batch > 200.0, "batch {batch}: TTFT {ttft}");
    }
    // the best is a measurement
    let best_real = report
        .records
        .iter()
        .filter(|r| r.real)
        .map(|r| r.fitness)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(report.best_cost.to_bits(), best_real.to_bits());
    assert!(report.top_k(5).iter().all(|r| r.real));
    // evaluations saved: every record is a real run, a cache hit or a prediction
    let cached = report.records.iter().filter(|r| r.cached).count();
    assert_eq!(report.total_evaluations + report.predicted + cached, 80);
}

#[test]
fn a_resumed_run_makes_the_same_decisions() {
    let mut ev = FnEvaluator::new(service);
    let settings = SurrogateSettings {
        strategy: SurrogateStrategy::Aggressive,
        ..SurrogateSettings::default()
    };
    let full_dir = tmp_dir("full");
    let full = tuner(&full_dir, Some(settings.clone()))
        .run(&mut ev)
        .unwrap();
    let dir = tmp_dir("resume");
    let part = tuner(&dir, Some(settings.clone()))
        .stop_after(4)
        .run(&mut ev)
        .unwrap();
    assert_eq!(part.iterations, 4);
    let resumed = tuner(&dir, Some(settings))
        .resume(true)
        .run(&mut ev)
        .unwrap();
    assert_eq!(resumed.records, full.records);
    assert_eq!(resumed.predicted, full.predicted);
    assert_eq!(
        std::fs::read(dir.join("results.jsonl")).unwrap(),
        std::fs::read(full_dir.join("results.jsonl")).unwrap()
    );
    // resuming under other pre-filter settings is refused, naming them
    let err = tuner(&dir, None).resume(true).run(&mut ev).unwrap_err();
    assert!(
        matches!(&err, PsoError::CheckpointMismatch { reason, .. } if reason.contains("pre-filter")),
        "{err}"
    );
}
