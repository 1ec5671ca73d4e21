//! Integration tests of perf-pso: codec properties, seed config files, resume, parallel identity,
//! failing evaluators and the simulator evaluator.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use perf_model_core::{PerformanceIndex, PerformanceIndexData};
use perf_pso::{
    Candidate, Constraint, ConstraintMode, FieldKind, FieldSpec, Fitness, FnEvaluator, PsoError,
    PsoParams, SearchSpace, SeedCompat, SeedConfig, Tuner,
};
use proptest::prelude::*;
use serde_json::json;

fn sample(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/pso")).join(name)
}

fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("perf-pso-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every kind, a ratio, a derived field and a constraint.
fn mixed_space(compat: SeedCompat) -> SearchSpace {
    SearchSpace::new(
        &[
            FieldSpec::int("mbs", "S.maxBatchSize", 10, 1000),
            FieldSpec::ratio("mpbs", "S.maxPrefillBatchSize", "mbs", 0.1, 0.7),
            FieldSpec::float("rate", "env", 1.0, 50.0),
            FieldSpec::bool("ssb", "S.supportSelectBatch"),
            FieldSpec::range("delay", "S.maxQueueDelayMicroseconds", 500, 1_000_000, 100),
            FieldSpec::choice(
                "tp",
                "M.ModelConfig.0.tp",
                vec![json!(1), json!(2), json!(4), json!(8), json!(16)],
            ),
            FieldSpec::factories("dp", "M.ModelConfig.0.dp", "tp", 16.0, true),
            FieldSpec::choice(
                "policy",
                "S.policy",
                vec![json!("fcfs"), json!("sjf"), json!("priority")],
            ),
            FieldSpec::int("fixed", "S.fixed", 7, 7),
        ],
        compat,
    )
    .unwrap()
    .with_constraints(
        vec![
            Constraint::ProductEquals {
                fields: vec!["tp".into(), "dp".into()],
                value: 16.0,
            },
            Constraint::AtMost {
                field: "mpbs".into(),
                limit: "mbs".into(),
            },
        ],
        ConstraintMode::Penalise,
    )
    .unwrap()
}

proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 256,
        // A fixed seed: CI runs the same cases every time (set PROPTEST_CASES / edit the
        // seed to explore further).
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_11f0),
        ..proptest::test_runner::Config::default()
    })]
    #[test]
    fn decode_encode_round_trip_and_constraints(u in proptest::collection::vec(0.0f64..=1.0, 7), seed_compat in any::<bool>()) {
        let compat = if seed_compat { SeedCompat::Seed } else { SeedCompat::Fixed };
        let space = mixed_space(compat);
        prop_assert_eq!(space.dimensions(), 7);
        let c1 = space.decode(&u).unwrap();
        prop_assert!(c1.is_valid(), "{:?}", c1.violations);
        // values within bounds / choices
        let mbs = c1.get_f64("mbs").unwrap();
        prop_assert!((10.0..=1000.0).contains(&mbs));
        prop_assert!(c1.get_f64("mpbs").unwrap() <= 0.7 * mbs);
        prop_assert!((c1.get_f64("tp").unwrap() * c1.get_f64("dp").unwrap() - 16.0).abs() < 1e-12);
        prop_assert_eq!(c1.get_f64("fixed"), Some(7.0));
        let rate = c1.get_f64("rate").unwrap();
        prop_assert!((1.0..=50.0).contains(&rate));
        // config → position → config
        let u2 = space.encode(&c1.to_map()).unwrap();
        prop_assert!(u2.iter().all(|x| (0.0..=1.0).contains(x)));
        let c2 = space.decode(&u2).unwrap();
        prop_assert_eq!(&c1, &c2);
        // position → config → position is stable after one round
        let u3 = space.encode(&c2.to_map()).unwrap();
        prop_assert_eq!(u2, u3);
    }
}

#[test]
fn every_kind_round_trips_on_its_grid() {
    let space = mixed_space(SeedCompat::Fixed);
    for f in space.dimension_fields() {
        if let FieldKind::Enum { values } = &f.kind {
            assert!(!values.is_empty());
        }
    }
    // ints: every value of a small int field is reachable and round-trips
    let s = SearchSpace::new(&[FieldSpec::int("n", "n", 1, 9)], SeedCompat::Fixed).unwrap();
    for v in 1..=9 {
        let mut m = serde_json::Map::new();
        m.insert("n".into(), json!(v));
        let u = s.encode(&m).unwrap();
        assert_eq!(s.decode(&u).unwrap().get("n"), Some(&json!(v)));
    }
}

#[test]
fn unrepairable_product_is_penalised_and_atmost_repaired() {
    let space = SearchSpace::new(
        &[
            FieldSpec::choice("tp", "tp", vec![json!(1), json!(3)]),
            FieldSpec::factories("dp", "dp", "tp", 16.0, true),
            FieldSpec::int("a", "a", 1, 10),
            FieldSpec::int("b", "b", 1, 10),
        ],
        SeedCompat::Fixed,
    )
    .unwrap()
    .with_constraints(
        vec![Constraint::AtMost {
            field: "a".into(),
            limit: "b".into(),
        }],
        ConstraintMode::Repair,
    )
    .unwrap();
    let c = space.decode(&[1.0, 1.0, 0.0]).unwrap();
    assert!(!c.is_valid());
    assert!(c.violations[0].contains("dp"), "{:?}", c.violations);
    let c = space.decode(&[0.0, 1.0, 0.0]).unwrap();
    assert!(c.is_valid());
    assert_eq!(c.get_f64("a"), Some(1.0));
}

#[test]
fn seed_layout_loads_with_the_spec_counts() {
    let cfg = SeedConfig::from_path(&sample("seed_layout.toml")).unwrap();
    let vllm = cfg
        .search_space("vllm", None, true, SeedCompat::Seed)
        .unwrap();
    assert_eq!(vllm.fields().len(), 4);
    assert_eq!(vllm.dimensions(), 2);
    assert_eq!(vllm.bounds(), (vec![8192.0, 32.0], vec![65536.0, 512.0]));
    let c = vllm.decode(&[0.5, 0.5]).unwrap();
    assert_eq!(c.get("CONCURRENCY"), Some(&json!(1000)));
    let env = c.env();
    assert!(env.contains(&("REQUESTRATE".to_owned(), None)));
    let mindie = cfg
        .search_space("mindie", None, true, SeedCompat::Seed)
        .unwrap();
    assert_eq!(mindie.fields().len(), 9);
    assert_eq!(mindie.dimensions(), 7);
    let enum_sizes: Vec<usize> = mindie
        .fields()
        .iter()
        .filter_map(|f| match &f.kind {
            FieldKind::Enum { values } => Some(values.len()),
            _ => None,
        })
        .collect();
    assert_eq!(enum_sizes, vec![101, 101, 9996]);
    assert!(
        mindie
            .fields()
            .iter()
            .any(|f| f.name == "max_queue_delay_microseconds")
    );
    let p = cfg.pso_params(1).unwrap();
    assert_eq!(
        (p.n_particles, p.iters, p.c1, p.c2, p.w),
        (10, 5, 2.0, 2.0, 1.8)
    );
    assert!(p.ftol.is_infinite());
    let f = cfg.fitness().unwrap();
    assert!((f.ttft_slo_ms - 1000.0).abs() < 1e-9 && (f.tpot_slo_ms - 50.0).abs() < 1e-9);
    assert!((f.tpot_penalty).abs() < 1e-12 && (f.generate_speed_target - 5000.0).abs() < 1e-12);
}

#[test]
fn readme_layout_is_an_alias() {
    let cfg = SeedConfig::from_path(&sample("readme_layout.toml")).unwrap();
    assert_eq!(
        cfg.optimizer_engine(),
        (Some("vllm".into()), Some("vllm_benchmark".into()))
    );
    let s = cfg
        .search_space("vllm", Some("vllm_benchmark"), true, SeedCompat::Fixed)
        .unwrap();
    assert_eq!(s.fields().len(), 3);
    assert_eq!(s.dimensions(), 2);
    let c = s.decode(&[0.0, 1.0]).unwrap();
    assert_eq!((c.get_f64("tp"), c.get_f64("dp")), (Some(16.0), Some(1.0)));
}

#[test]
fn duplicate_key_is_rejected_with_its_line() {
    let err = SeedConfig::from_path(&sample("duplicate_key.toml")).unwrap_err();
    match &err {
        PsoError::Toml { line, .. } => assert_eq!(*line, 14, "{err}"),
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("duplicate_key.toml:14"), "{err}");
    assert!(err.to_string().contains("`service`"), "{err}");
}

#[test]
fn bad_fields_name_field_and_key() {
    let cfg = SeedConfig::from_path(&sample("bad_fields.toml")).unwrap();
    let e = cfg
        .search_space("min_above_max", None, false, SeedCompat::Fixed)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("max_batch_size") && e.contains(".min") && e.contains("min 1000 > max 10"),
        "{e}"
    );
    let e = cfg
        .search_space("unknown_dtype", None, false, SeedCompat::Fixed)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(".dtype") && e.contains("unknown dtype `complex`"),
        "{e}"
    );
    let e = cfg
        .search_space("ratio_of_zero", None, false, SeedCompat::Fixed)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("share_of_devices") && e.contains("division by zero"),
        "{e}"
    );
    assert!(!cfg.warnings.is_empty());
}

/// A deterministic toy response surface over a 3-knob space.
fn toy(c: &Candidate) -> Result<PerformanceIndex, String> {
    let b = c.config.get_f64("batch").ok_or("batch")?;
    let t = c.config.get_f64("tokens").ok_or("tokens")?;
    let p = c.config.get_f64("prefill_ratio").unwrap_or(1.0);
    if b > 240.0 {
        return Err(format!("out of memory at batch {b}"));
    }
    PerformanceIndex::new(PerformanceIndexData {
        output_throughput: Some(30.0 * b.min(120.0) + t / 64.0),
        ttft_ms: Some(100.0 + 3.0 * b + 0.01 * t - p),
        tpot_ms: Some(20.0 + 0.2 * b),
        success_rate: Some(1.0),
        ..Default::default()
    })
    .map_err(|e| e.to_string())
}

fn toy_space() -> SearchSpace {
    SearchSpace::new(
        &[
            FieldSpec::int("batch", "engine.max_batch_size", 8, 256),
            FieldSpec::range("tokens", "engine.max_num_batched_tokens", 1024, 16384, 512),
            FieldSpec::ratio("prefill_ratio", "engine.prefill", "batch", 0.1, 0.9),
        ],
        SeedCompat::Fixed,
    )
    .unwrap()
}

fn toy_tuner(dir: &std::path::Path, iters: usize, seed: u64) -> Tuner {
    let params = PsoParams {
        n_particles: 6,
        iters,
        seed,
        ..PsoParams::default()
    };
    Tuner::new(toy_space(), params, Fitness::default())
        .results_file(dir.join("results.jsonl"))
        .checkpoint_file(dir.join("checkpoint.json"))
        .record_timing(false)
}

#[test]
fn resume_equals_uninterrupted_run() {
    let full_dir = tmp_dir("full");
    let mut ev = FnEvaluator::new(toy);
    let full = toy_tuner(&full_dir, 8, 11).run(&mut ev).unwrap();
    let full_bytes = std::fs::read(full_dir.join("results.jsonl")).unwrap();
    assert_eq!(full.records.len(), 48);
    assert_eq!(String::from_utf8_lossy(&full_bytes).lines().count(), 48);

    // (a) stopped after 3 iterations, resumed
    let dir = tmp_dir("stop");
    let part = toy_tuner(&dir, 8, 11).stop_after(3).run(&mut ev).unwrap();
    assert!(!part.finished);
    assert_eq!(part.iterations, 3);
    let resumed = toy_tuner(&dir, 8, 11).resume(true).run(&mut ev).unwrap();
    assert_eq!(
        std::fs::read(dir.join("results.jsonl")).unwrap(),
        full_bytes
    );
    assert_eq!(resumed.best_cost.to_bits(), full.best_cost.to_bits());
    assert_eq!(resumed.best_config, full.best_config);
    assert_eq!(resumed.records, full.records);

    // (b) stopped by an iteration limit, continued with a larger one
    let dir = tmp_dir("limit");
    toy_tuner(&dir, 2, 11).run(&mut ev).unwrap();
    let cont = toy_tuner(&dir, 8, 11).resume(true).run(&mut ev).unwrap();
    assert_eq!(
        std::fs::read(dir.join("results.jsonl")).unwrap(),
        full_bytes
    );
    assert_eq!(cont.best_cost.to_bits(), full.best_cost.to_bits());

    // (c) killed in the middle of iteration 4: two records journaled and a torn line
    let dir = tmp_dir("kill");
    toy_tuner(&dir, 8, 11).stop_after(4).run(&mut ev).unwrap();
    let lines: Vec<&str> = std::str::from_utf8(&full_bytes).unwrap().lines().collect();
    let mut text = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
    text.push_str(&format!(
        "{}\n{}\n{}",
        lines[24],
        lines[25],
        &lines[26][..10]
    ));
    std::fs::write(dir.join("results.jsonl"), text).unwrap();
    let calls = AtomicUsize::new(0);
    let mut counting = FnEvaluator::new(|c: &Candidate| {
        calls.fetch_add(1, Ordering::Relaxed);
        toy(c)
    });
    let killed = toy_tuner(&dir, 8, 11)
        .resume(true)
        .run(&mut counting)
        .unwrap();
    assert_eq!(
        std::fs::read(dir.join("results.jsonl")).unwrap(),
        full_bytes
    );
    assert_eq!(killed.best_cost.to_bits(), full.best_cost.to_bits());
    assert!(calls.load(Ordering::Relaxed) <= 4 * 6 - 2);

    // (d) checkpoint only, no results file: the cache and budget count live in the checkpoint
    let dir = tmp_dir("nojournal");
    let only_cp = |iters: usize| {
        let params = PsoParams {
            n_particles: 6,
            iters,
            seed: 11,
            ..PsoParams::default()
        };
        Tuner::new(toy_space(), params, Fitness::default())
            .checkpoint_file(dir.join("checkpoint.json"))
            .record_timing(false)
    };
    only_cp(8).stop_after(3).run(&mut ev).unwrap();
    let r = only_cp(8).resume(true).run(&mut ev).unwrap();
    assert_eq!(r.best_cost.to_bits(), full.best_cost.to_bits());
    assert_eq!(r.total_evaluations, full.total_evaluations);
    assert_eq!(r.records[..], full.records[18..]);

    // a different seed is refused, naming what differs
    let err = toy_tuner(&dir, 8, 12)
        .resume(true)
        .run(&mut ev)
        .unwrap_err()
        .to_string();
    assert!(err.contains("PSO parameters"), "{err}");
}

/// An evaluator that reports the first `report` candidates of iteration `fail_at`, then fails
/// as a whole (a cluster scheduler that cannot be reached).
struct FailsAt {
    fail_at: usize,
    report: usize,
}

impl perf_pso::Evaluator for FailsAt {
    fn evaluate(&mut self, batch: &[Candidate]) -> Vec<perf_pso::Evaluation> {
        batch
            .iter()
            .map(|c| match toy(c) {
                Ok(i) => perf_pso::Evaluation::ok(i, 0.0),
                Err(e) => perf_pso::Evaluation::failed(e, 0.0),
            })
            .collect()
    }

    fn try_evaluate_streaming(
        &mut self,
        batch: &[Candidate],
        done: &mut dyn FnMut(usize, &perf_pso::Evaluation),
    ) -> Result<Vec<perf_pso::Evaluation>, Box<dyn std::error::Error + Send + Sync>> {
        let out = self.evaluate(batch);
        if batch.first().is_some_and(|c| c.iteration == self.fail_at) {
            for (i, e) in out.iter().enumerate().take(self.report) {
                done(i, e);
            }
            return Err("sbatch: not found on PATH".into());
        }
        for (i, e) in out.iter().enumerate() {
            done(i, e);
        }
        Ok(out)
    }
}

#[test]
fn a_failing_batch_stops_the_run_and_resume_finishes_it() {
    let full_dir = tmp_dir("batch-full");
    let full = toy_tuner(&full_dir, 6, 21)
        .run(&mut FnEvaluator::new(toy))
        .unwrap();
    let full_bytes = std::fs::read(full_dir.join("results.jsonl")).unwrap();
    for report in [0, 2] {
        let dir = tmp_dir(&format!("batch-fail-{report}"));
        let err = toy_tuner(&dir, 6, 21)
            .run(&mut FailsAt { fail_at: 3, report })
            .unwrap_err();
        assert!(
            matches!(err, PsoError::Evaluator { iteration: 3, .. }),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "iteration 3: sbatch: not found on PATH");
        // nothing of iteration 3 scored: the checkpoint is the one after iteration 2
        let cp: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("checkpoint.json")).unwrap())
                .unwrap();
        assert_eq!(cp["state"]["iteration"], 3);
        let journaled = std::fs::read_to_string(dir.join("results.jsonl"))
            .unwrap()
            .lines()
            .count();
        assert_eq!(journaled, 3 * 6 + report);
        let resumed = toy_tuner(&dir, 6, 21)
            .resume(true)
            .run(&mut FnEvaluator::new(toy))
            .unwrap();
        assert_eq!(
            std::fs::read(dir.join("results.jsonl")).unwrap(),
            full_bytes
        );
        assert_eq!(resumed.best_cost.to_bits(), full.best_cost.to_bits());
        assert_eq!(resumed.records, full.records);
    }
}

#[test]
fn two_threads_equal_one_thread() {
    let run = |jobs: usize, tag: &str| {
        let dir = tmp_dir(tag);
        // uneven work so completions arrive out of order
        let mut ev = FnEvaluator::new(|c: &Candidate| {
            std::thread::sleep(std::time::Duration::from_micros(
                ((c.particle * 7919) % 5) as u64 * 300,
            ));
            toy(c)
        })
        .jobs(jobs);
        let r = toy_tuner(&dir, 5, 3).run(&mut ev).unwrap();
        (
            std::fs::read(dir.join("results.jsonl")).unwrap(),
            std::fs::read(dir.join("checkpoint.json")).unwrap(),
            r.best_cost,
        )
    };
    let (a, ac, ab) = run(1, "j1");
    let (b, bc, bb) = run(2, "j2");
    assert_eq!(a, b);
    assert_eq!(ac, bc);
    assert_eq!(ab.to_bits(), bb.to_bits());
}

#[test]
fn failing_and_panicking_evaluations_are_recorded() {
    let dir = tmp_dir("fail");
    let mut ev = FnEvaluator::new(|c: &Candidate| {
        let b = c.config.get_f64("batch").ok_or("batch")?;
        assert!(b < 200.0, "simulated crash");
        toy(c)
    })
    .jobs(2);
    let params = PsoParams {
        n_particles: 8,
        iters: 4,
        seed: 5,
        ..PsoParams::default()
    };
    let r = Tuner::new(toy_space(), params, Fitness::default())
        .results_file(dir.join("results.jsonl"))
        .memoise(false)
        .run(&mut ev)
        .unwrap();
    assert_eq!(r.records.len(), 32);
    let text = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 32);
    let failed: Vec<_> = r.records.iter().filter(|x| x.error.is_some()).collect();
    assert!(!failed.is_empty());
    assert!(
        failed
            .iter()
            .all(|x| x.fitness.is_infinite() && x.index.is_none())
    );
    assert!(r.best_cost.is_finite());
    assert!(!perf_pso::pareto_front(&r.records).is_empty());
    assert!(r.top_k(3).len() <= 3);
    let seed_top = r.seed_top_k(3, &Fitness::default(), 0.1);
    assert!(!seed_top.is_empty() && seed_top.len() <= 6);
    assert_eq!(
        seed_top[0].fitness.to_bits(),
        r.top_k(1)[0].fitness.to_bits()
    );
}

#[cfg(feature = "sim")]
mod sim {
    use super::*;
    use perf_pso::SimEvaluator;
    use perf_sim::SimConfig;

    fn base(requests: u64) -> SimConfig {
        serde_json::from_value(json!({
            "seed": 1, "max_requests": requests,
            "cluster": { "engine": { "max_batch_size": 64, "max_num_batched_tokens": 2048 },
                "cost_model": { "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 },
                "kv_cache": { "num_gpu_blocks": 4096 } },
            "workload": { "rate": 20.0, "clients": [ { "arrival": { "kind": "poisson" },
                "input": { "kind": "uniform", "low": 64, "high": 512 },
                "output": { "kind": "uniform", "low": 16, "high": 128 } } ] }
        }))
        .unwrap()
    }

    #[test]
    fn simulator_evaluator_maps_knobs_and_is_thread_independent() {
        let space = SearchSpace::new(
            &[
                FieldSpec::int("MAX_NUM_SEQS", "env", 4, 128),
                FieldSpec::range("MAX_NUM_BATCHED_TOKENS", "env", 512, 4096, 512),
                FieldSpec::choice("replicas", "cluster.replicas", vec![json!(1), json!(2)]),
            ],
            SeedCompat::Fixed,
        )
        .unwrap();
        let ev = SimEvaluator::new(&base(60)).unwrap();
        let c = space.decode(&[1.0, 1.0, 1.0]).unwrap();
        let sc = ev.sim_config(&c).unwrap();
        assert_eq!(sc.cluster.engine.data().max_batch_size, 128);
        assert_eq!(sc.cluster.engine.data().max_num_batched_tokens, 4096);
        assert_eq!(sc.cluster.replicas, 2);
        let idx = ev.simulate(&c).unwrap();
        assert!(idx.output_throughput().unwrap() > 0.0);
        assert_eq!(idx.success_rate(), Some(1.0));
        let run = |jobs: usize| {
            let mut e = ev.clone().jobs(jobs);
            let p = PsoParams {
                n_particles: 4,
                iters: 2,
                seed: 9,
                ..PsoParams::default()
            };
            let r = Tuner::new(space.clone(), p, Fitness::default())
                .record_timing(false)
                .run(&mut e)
                .unwrap();
            serde_json::to_string(&r.records).unwrap()
        };
        assert_eq!(run(1), run(2));
    }

    /// Candidates whose `MAX_NUM_SEQS` never acted share a run: the records are those of
    /// simulating every candidate, with fewer simulations.
    #[test]
    fn equivalent_configurations_share_a_run_with_identical_records() {
        let space = SearchSpace::new(
            &[
                FieldSpec::int("MAX_NUM_SEQS", "env", 2, 200),
                FieldSpec::range("MAX_NUM_BATCHED_TOKENS", "env", 512, 2048, 512),
            ],
            SeedCompat::Fixed,
        )
        .unwrap();
        let run = |share: bool, jobs: usize| {
            let mut e = SimEvaluator::new(&base(400))
                .unwrap()
                .share_equivalent_runs(share)
                .jobs(jobs);
            let p = PsoParams {
                n_particles: 8,
                iters: 6,
                seed: 4,
                ..PsoParams::default()
            };
            let r = Tuner::new(space.clone(), p, Fitness::default())
                .memoise(false)
                .record_timing(false)
                .run(&mut e)
                .unwrap();
            (
                serde_json::to_string(&r.records).unwrap(),
                e.shared_evaluations(),
                r.records,
            )
        };
        let (every, none_shared, records) = run(false, 1);
        assert_eq!(none_shared, 0);
        let (shared, n, _) = run(true, 1);
        assert!(
            every == shared,
            "records differ with equivalent runs shared"
        );
        assert!(n >= 10, "only {n} of 48 evaluations shared a run");
        assert!(run(true, 2).0 == every, "records differ on two threads");
        // The limits span both sides of the load's peak: some candidates were held back.
        let seqs = |r: &perf_pso::Record| r.config["MAX_NUM_SEQS"].as_u64().unwrap();
        let distinct: std::collections::BTreeSet<String> = records
            .iter()
            .map(|r| serde_json::to_string(&r.index).unwrap())
            .collect();
        assert!(distinct.len() >= 3, "{distinct:?}");
        assert!(records.iter().any(|r| seqs(r) < 8), "no small limit tried");
    }

    /// A clone given another cost model does not reuse the first model's runs.
    #[test]
    fn another_cost_model_does_not_reuse_runs() {
        let ev = SimEvaluator::new(&base(200)).unwrap();
        let space = SearchSpace::new(
            &[FieldSpec::int("MAX_NUM_SEQS", "env", 100, 200)],
            SeedCompat::Fixed,
        )
        .unwrap();
        let first = ev.simulate(&space.decode(&[0.0]).unwrap()).unwrap();
        let same = ev.simulate(&space.decode(&[1.0]).unwrap()).unwrap();
        assert_eq!(first, same);
        assert_eq!(ev.shared_evaluations(), 1);
        let slow = perf_model_core::InfernoStepModel::new(
            perf_model_core::ServiceParams::new(80.0, 0.2, 2e-3).unwrap(),
        );
        let other = ev.clone().with_cost_model(std::sync::Arc::new(slow));
        let idx = other.simulate(&space.decode(&[1.0]).unwrap()).unwrap();
        assert_eq!(other.shared_evaluations(), 0);
        assert!(idx.ttft_ms() > first.ttft_ms(), "{idx:?} vs {first:?}");
    }

    #[test]
    fn invalid_simulator_config_is_a_failed_evaluation() {
        // token budget below the batch size: the simulator refuses it
        let space = SearchSpace::new(
            &[
                FieldSpec::int("MAX_NUM_SEQS", "env", 600, 700),
                FieldSpec::int("MAX_NUM_BATCHED_TOKENS", "env", 100, 200),
            ],
            SeedCompat::Fixed,
        )
        .unwrap();
        let mut ev = SimEvaluator::new(&base(20)).unwrap();
        let p = PsoParams {
            n_particles: 2,
            iters: 1,
            seed: 1,
            ..PsoParams::default()
        };
        let r = Tuner::new(space, p, Fitness::default())
            .run(&mut ev)
            .unwrap();
        assert!(
            r.records
                .iter()
                .all(|x| x.error.is_some() && x.fitness.is_infinite())
        );
    }
}

#[cfg(feature = "sim")]
#[test]
fn own_tune_file_runs_on_the_simulator() {
    let cfg = perf_pso::TuneConfig::from_path(&sample("sim_tune.toml")).unwrap();
    let space = cfg.search_space().unwrap();
    assert_eq!(space.dimensions(), 3);
    let mut ev = perf_pso::SimEvaluator::new(&cfg.sim_config().unwrap())
        .unwrap()
        .jobs(cfg.run.jobs.unwrap_or(1));
    let r = Tuner::new(space, cfg.pso.clone(), cfg.fitness.clone())
        .max_evaluations(cfg.run.max_evaluations.unwrap())
        .memoise(!cfg.run.reevaluate_duplicates)
        .run(&mut ev)
        .unwrap();
    assert!(r.total_evaluations <= 40);
    assert!(r.best_cost.is_finite());
    let bad = "[pso]\nn_particles = 4\ncolour = 1\n";
    let e = perf_pso::TuneConfig::parse(bad, "bad.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("bad.toml:3:") || e.starts_with("bad.toml:2:"),
        "{e}"
    );
}

#[test]
fn hanging_evaluations_time_out_and_the_run_goes_on() {
    let dir = tmp_dir("timeout");
    let mut ev = perf_pso::TimeoutEvaluator::new(
        |c: &Candidate| {
            if c.config.get_f64("batch").is_some_and(|b| b > 150.0) {
                std::thread::sleep(std::time::Duration::from_secs(3));
            }
            toy(c)
        },
        std::time::Duration::from_millis(100),
    )
    .jobs(2);
    let params = PsoParams {
        n_particles: 6,
        iters: 2,
        seed: 2,
        ..PsoParams::default()
    };
    let r = Tuner::new(toy_space(), params, Fitness::default())
        .results_file(dir.join("results.jsonl"))
        .run(&mut ev)
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("results.jsonl"))
            .unwrap()
            .lines()
            .count(),
        12
    );
    let timed_out = r
        .records
        .iter()
        .filter(|x| x.error.as_deref().is_some_and(|e| e.contains("timed out")))
        .count();
    assert!(timed_out > 0);
    assert!(r.records.iter().any(|x| x.fitness.is_finite()));
}

proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 256,
        // A fixed seed: CI runs the same cases every time (set PROPTEST_CASES / edit the
        // seed to explore further).
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_11f0),
        ..proptest::test_runner::Config::default()
    })]
    /// Random bounds for every kind (share included): decode(encode(decode(u))) == decode(u),
    /// values within their bounds.
    #[test]
    fn random_bounds_round_trip(
        lo in -1000i64..1000, span in 1i64..5000, step in 1i64..300,
        flo in -1e6f64..1e6, fspan in 1e-3f64..1e6, rlo in 0.0f64..0.5, rspan in 0.01f64..0.5,
        u in proptest::collection::vec(0.0f64..=1.0, 7), seed_compat in any::<bool>(),
    ) {
        let compat = if seed_compat { SeedCompat::Seed } else { SeedCompat::Fixed };
        let mut share = FieldSpec::int("rest", "p.rest", 0, 0);
        share.dtype = "share".into();
        share.dtype_param = Some(json!("n"));
        let space = SearchSpace::new(
            &[
                FieldSpec::int("n", "p.n", lo, lo + span).with_value(json!(lo)),
                FieldSpec::float("x", "env", flo, flo + fspan),
                FieldSpec::bool("b", "p.b"),
                FieldSpec::range("r", "p.r", lo, lo + span, step),
                FieldSpec::ratio("q", "p.q", "n", rlo, rlo + rspan),
                share,
                FieldSpec::choice("e", "p.e", vec![json!(0.5), json!("x"), json!(7)]),
            ],
            compat,
        )
        .unwrap();
        prop_assert_eq!(space.dimensions(), 7);
        let c1 = space.decode(&u).unwrap();
        let n = c1.get_f64("n").unwrap();
        prop_assert!(n >= lo as f64 && n <= (lo + span) as f64);
        let x = c1.get_f64("x").unwrap();
        prop_assert!(x >= flo && x <= flo + fspan);
        let r = c1.get_f64("r").unwrap();
        let slack = if seed_compat { (step - 1) as f64 } else { 0.0 };
        prop_assert!(r >= lo as f64 && r <= (lo + span) as f64 + slack, "range value {}", r);
        prop_assert!(((r - lo as f64) % step as f64).abs() < 1e-9, "range step {}", r);
        let c2 = space.decode(&space.encode(&c1.to_map()).unwrap()).unwrap();
        prop_assert_eq!(c1, c2);
    }
}

#[test]
fn oversized_ranges_and_list_indices_are_config_errors() {
    let e = perf_pso::SearchSpace::new(
        &[perf_pso::FieldSpec::range(
            "tokens",
            "engine.tokens",
            1,
            1_000_000_000_000_000,
            1,
        )],
        perf_pso::SeedCompat::Fixed,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("dtype_param") && e.contains("larger step"),
        "{e}"
    );
    let mut tree = serde_json::json!({ "workload": { "clients": [ {} ] } });
    let e = perf_pso::space::set_path(
        &mut tree,
        "workload.clients.100000000000.weight",
        serde_json::json!(1),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("far past the end"), "{e}");
    // A new item right after the end is fine.
    perf_pso::space::set_path(&mut tree, "workload.clients.1.weight", serde_json::json!(2))
        .unwrap();
    assert_eq!(tree["workload"]["clients"][1]["weight"], 2);
}
