//! Fine-tuning against closed-form fake services; expected sequences computed by hand in the
//! comments.

use perf_model_core::PerformanceIndexData;
use serde_json::json;

use super::*;
use crate::space::{FieldSpec, SeedCompat};

fn space() -> SearchSpace {
    SearchSpace::new(
        &[
            FieldSpec::int("max_batch_size", "S.maxBatchSize", 10, 1000),
            FieldSpec::int("CONCURRENCY", "env", 1, 1000),
            FieldSpec::float("REQUESTRATE", "env", 1.0, 1000.0),
        ],
        SeedCompat::Fixed,
    )
    .unwrap()
}

fn row(c: i64, r: Option<f64>) -> FineTuneRow {
    let mut m = serde_json::Map::new();
    m.insert("max_batch_size".into(), json!(256));
    m.insert("CONCURRENCY".into(), json!(c));
    m.insert("REQUESTRATE".into(), r.map_or(Value::Null, |r| json!(r)));
    FineTuneRow {
        config: space().config_from_map(&m),
        index: Some(idx(1000.0, Some(300.0), Some(60.0), None)),
    }
}

fn idx(g: f64, ttft: Option<f64>, tpot: Option<f64>, rate: Option<f64>) -> PerformanceIndex {
    PerformanceIndex::new(PerformanceIndexData {
        output_throughput: Some(g),
        ttft_ms: ttft,
        tpot_ms: tpot,
        request_rate: rate,
        success_rate: Some(1.0),
        ..PerformanceIndexData::default()
    })
    .unwrap()
}

fn tpot_only(slo_ms: f64) -> Fitness {
    Fitness {
        ttft_penalty: 0.0,
        tpot_penalty: 3.0,
        tpot_slo_ms: slo_ms,
        ..Fitness::default()
    }
}

fn tuner(fitness: Fitness, max_fine_tune: usize) -> FineTuner {
    FineTuner::new(
        FineTuneSettings {
            max_fine_tune,
            ..FineTuneSettings::default()
        },
        fitness,
        LoadKnobs::from_space(&space()),
    )
    .unwrap()
}

/// A service whose TPOT (ms) and TTFT (ms) are closed forms of CONCURRENCY and REQUESTRATE.
fn service(
    tpot: impl Fn(f64) -> f64,
    ttft: impl Fn(f64) -> f64,
) -> impl FnMut(&DecodedConfig) -> Evaluation {
    move |cfg: &DecodedConfig| {
        let c = cfg.get_f64("CONCURRENCY").unwrap_or(f64::NAN);
        let r = cfg.get_f64("REQUESTRATE");
        let t1 = ttft(r.unwrap_or(0.0));
        Evaluation::ok(idx(10.0 * c, Some(t1), Some(tpot(c)), r), 1.0)
    }
}

fn knob_values(report: &FineTuneReport) -> Vec<(f64, f64)> {
    report
        .runs
        .iter()
        .map(|r| {
            (
                r.config.get_f64("CONCURRENCY").unwrap_or(f64::NAN),
                r.config.get_f64("REQUESTRATE").unwrap_or(f64::NAN),
            )
        })
        .collect()
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
}

#[test]
fn knobs_come_from_the_unfrozen_space() {
    let k = LoadKnobs::from_space(&space());
    assert_eq!(
        k.concurrency,
        Some(Knob {
            name: "CONCURRENCY".into(),
            min: 1.0,
            max: 1000.0,
            int: true
        })
    );
    assert_eq!(k.request_rate.as_ref().map(|r| r.int), Some(false));
    let frozen = SearchSpace::new(
        &[FieldSpec::int("CONCURRENCY", "env", 1, 1000).with_constant(json!(1000))],
        SeedCompat::Fixed,
    )
    .unwrap();
    assert_eq!(LoadKnobs::from_space(&frozen), LoadKnobs::default());
}

/// TPOT = 10 + 0.2·C ms, SLO 50 ms, band (45, 50], s = 0.6; starting at C = 1000:
/// ```text
/// C     TPOT   raw = −0.6·(TPOT − 50)/50   f       C′ = C·(1 + f)
/// 1000  210    −1.92                       −0.6    400
/// 400   90     −0.48                       −0.48   208
/// 208   51.6   −0.0192                             204.0064 → 204
/// 204   50.8   −0.0096                             202.0416 → 202
/// 202   50.4   −0.0048                             201.0304 → 201
/// 201   50.2   −0.0024                             200.5176 → 200
/// 200   50     in band, no TTFT penalty: nothing moves
/// ```
/// REQUESTRATE: 5 doubled to 10, and back to 10 after every concurrency step.
#[test]
fn concurrency_walks_down_to_the_tpot_slo() {
    let t = tuner(tpot_only(50.0), 10);
    let mut run = service(|c| 10.0 + 0.2 * c, |_| 100.0);
    let report = t.run(None, &[row(1000, Some(5.0))], &mut run);
    let cs: Vec<f64> = knob_values(&report).iter().map(|v| v.0).collect();
    assert_eq!(cs, vec![1000.0, 400.0, 208.0, 204.0, 202.0, 201.0, 200.0]);
    assert!(knob_values(&report).iter().all(|v| v.1 == 10.0));
    let s = &report.sessions[0];
    assert_eq!(s.stop, StopReason::NothingMoved);
    let raw: Vec<f64> = s.steps.iter().map(|x| x.raw_factor).collect();
    for (got, want) in raw
        .iter()
        .zip([-1.92, -0.48, -0.0192, -0.0096, -0.0048, -0.0024])
    {
        close(*got, want);
    }
    assert_eq!(raw.len(), 6);
    assert_eq!(s.steps[0].factor, -0.6);
    assert!(
        s.steps
            .iter()
            .all(|x| x.adjusted == Adjusted::Concurrency && x.previous.is_none())
    );
    let tpots: Vec<f64> = s.steps.iter().map(|x| x.tpot_ms).collect();
    close(tpots[2], 51.6);
    // every step brings TPOT closer to its SLO
    let gaps: Vec<f64> = report
        .runs
        .iter()
        .map(|r| (r.index.unwrap().tpot_ms().unwrap() - 50.0).abs())
        .collect();
    assert!(gaps.windows(2).all(|w| w[1] < w[0]), "{gaps:?}");
    assert_eq!(report.runs[0].origin, RunOrigin::TopK { row: 0 });
    assert_eq!(
        report.runs[6].origin,
        RunOrigin::FineTune { row: 0, step: 6 }
    );
}

/// TPOT = 0.25·C ms: 1000 (250) → 400 (100) → 160 (40, below the band: raw +0.12, the sign
/// flipped and C changed, so C′ = 160 + 0.12·|160 − 400| = 188.8 → 188) → TPOT 47, in band.
#[test]
fn a_sign_flip_steps_back_between_the_last_two_values() {
    let t = tuner(tpot_only(50.0), 10);
    let mut run = service(|c| 0.25 * c, |_| 100.0);
    let report = t.run(None, &[row(1000, Some(5.0))], &mut run);
    let cs: Vec<f64> = knob_values(&report).iter().map(|v| v.0).collect();
    assert_eq!(cs, vec![1000.0, 400.0, 160.0, 188.0]);
    let s = &report.sessions[0];
    let f: Vec<(f64, f64, Option<f64>)> = s
        .steps
        .iter()
        .map(|x| (x.raw_factor, x.factor, x.previous))
        .collect();
    assert_eq!(f[0], (-2.4, -0.6, None));
    assert_eq!(f[1], (-0.6, -0.6, None));
    close(f[2].0, 0.12);
    assert_eq!(f[2].2, Some(400.0));
    assert_eq!(s.steps[2].new_concurrency, Some(188.0));
    assert_eq!(s.stop, StopReason::NothingMoved);
}

/// TPOT in band (C = 188: 47 ms); TTFT = 100·R ms, SLO 500 ms, band (450, 500]:
/// ```text
/// R       TTFT     f                                   R′
/// 4       400      +0.6 (below the band)               6.4
/// 6.4     640      −0.6·140/500 = −0.168, flipped      6.4 − 0.168·|6.4 − 4| = 5.9968
/// 5.9968  599.68   −0.119616                           5.9968·0.880384 = 5.2794867712
/// 5.2795  527.95   −0.0335384…                         5.1024211658…
/// 5.1024  510.24   −0.0122905…                         moves 0.063 < 0.1: stop
/// ```
#[test]
fn request_rate_follows_ttft_when_tpot_is_in_band() {
    let f = Fitness {
        ttft_penalty: 1.0,
        tpot_penalty: 3.0,
        ttft_slo_ms: 500.0,
        tpot_slo_ms: 50.0,
        ..Fitness::default()
    };
    let t = tuner(f, 10);
    let mut run = service(|c| 0.25 * c, |r| 100.0 * r);
    let report = t.run(None, &[row(188, Some(2.0))], &mut run);
    let rs: Vec<f64> = knob_values(&report).iter().map(|v| v.1).collect();
    assert_eq!(rs.len(), 5);
    close(rs[0], 4.0);
    close(rs[1], 6.4);
    close(rs[2], 5.9968);
    close(rs[3], 5.279_486_771_2);
    close(rs[4], 5.102_421_165_846_903);
    let s = &report.sessions[0];
    assert!(s.steps.iter().all(|x| x.adjusted == Adjusted::RequestRate));
    assert_eq!(s.steps[0].factor, 0.6);
    close(s.steps[1].factor, -0.168);
    assert_eq!(s.steps[1].previous, Some(4.0));
    assert_eq!(s.steps[2].previous, None);
    assert!(knob_values(&report).iter().all(|v| v.0 == 188.0));
    assert_eq!(s.stop, StopReason::NothingMoved);
    // the request rate is capped at the concurrency: 150·1.6 = 240 > C = 188
    let start = row(188, Some(150.0)).config;
    let measured = idx(1.0, Some(100.0), Some(47.0), None);
    match t.next_step(1, &start, Some(&measured), &mut StepHistory::default()) {
        StepDecision::Next(next, step) => {
            assert_eq!(next.get_f64("REQUESTRATE"), Some(188.0));
            assert_eq!(step.new_request_rate, Some(188.0));
        }
        StepDecision::Stop(r) => panic!("{r:?}"),
    }
}

#[test]
fn stops_on_repeat_failure_missing_tpot_and_step_budget() {
    let t = tuner(tpot_only(50.0), 10);
    // the first step (C 400, R 10) is the default run's configuration
    let default = row(400, Some(10.0));
    let mut run = service(|c| 10.0 + 0.2 * c, |_| 100.0);
    let report = t.run(Some(&default), &[row(1000, Some(5.0))], &mut run);
    assert_eq!(report.runs.len(), 2);
    assert_eq!(report.runs[0].origin, RunOrigin::Default);
    assert_eq!(report.sessions[0].stop, StopReason::Repeated);
    assert_eq!(report.sessions[0].steps.len(), 1);
    // a failing run stops the row
    let mut run = |cfg: &DecodedConfig| {
        let c = cfg.get_f64("CONCURRENCY").unwrap();
        if c < 300.0 {
            Evaluation::failed("engine crashed", 2.0)
        } else {
            Evaluation::ok(idx(10.0 * c, Some(100.0), Some(10.0 + 0.2 * c), None), 1.0)
        }
    };
    let report = t.run(None, &[row(1000, Some(5.0))], &mut run);
    assert_eq!(
        report.sessions[0].stop,
        StopReason::RunFailed("engine crashed".into())
    );
    assert_eq!(report.runs.len(), 3);
    assert!(report.runs[2].fitness.is_infinite());
    // the doubled start fails
    let mut run = |cfg: &DecodedConfig| {
        if cfg.get_f64("REQUESTRATE").unwrap() > 8.0 {
            Evaluation::failed("timeout", 3.0)
        } else {
            Evaluation::ok(idx(1.0, Some(1.0), Some(1.0), None), 1.0)
        }
    };
    let report = t.run(None, &[row(1000, Some(5.0))], &mut run);
    assert_eq!(
        report.sessions[0].stop,
        StopReason::StartFailed("timeout".into())
    );
    // no TPOT measured
    let mut run = |_: &DecodedConfig| Evaluation::ok(idx(1.0, Some(1.0), None, None), 1.0);
    let report = t.run(None, &[row(1000, Some(5.0))], &mut run);
    assert_eq!(report.sessions[0].stop, StopReason::MissingTpot);
    // step budget
    let t2 = tuner(tpot_only(50.0), 2);
    let mut run = service(|c| 10.0 + 0.2 * c, |_| 100.0);
    let report = t2.run(None, &[row(1000, Some(5.0))], &mut run);
    assert_eq!(report.sessions[0].stop, StopReason::MaxSteps);
    assert_eq!(report.runs.len(), 3);
}

#[test]
fn unthrottled_rows_double_the_measured_rate() {
    let t = tuner(tpot_only(50.0), 0);
    let mut r = row(1000, None);
    r.index = Some(idx(1000.0, Some(300.0), Some(60.0), Some(3.5)));
    let mut run = service(|c| 10.0 + 0.2 * c, |_| 100.0);
    let report = t.run(None, &[r.clone()], &mut run);
    assert_eq!(report.runs[0].config.get_f64("REQUESTRATE"), Some(7.0));
    // no measured rate either: stays unthrottled
    r.index = Some(idx(1000.0, Some(300.0), Some(60.0), None));
    let report = t.run(None, &[r], &mut run);
    assert_eq!(report.runs[0].config.get("REQUESTRATE"), Some(&Value::Null));
    // doubling is clamped to the knob's maximum
    let report = t.run(None, &[row(1000, Some(700.0))], &mut run);
    assert_eq!(report.runs[0].config.get_f64("REQUESTRATE"), Some(1000.0));
}

#[test]
fn without_penalties_nothing_runs() {
    let f = Fitness {
        ttft_penalty: 0.0,
        tpot_penalty: 0.0,
        ..Fitness::default()
    };
    let t = tuner(f.clone(), 10);
    let mut calls = 0;
    let mut run = |_: &DecodedConfig| {
        calls += 1;
        Evaluation::failed("must not run", 0.0)
    };
    let mut fast = row(500, Some(5.0));
    fast.index = Some(idx(9000.0, Some(900.0), Some(90.0), None));
    let report = t.run(
        Some(&row(100, Some(1.0))),
        &[row(1000, Some(5.0)), fast],
        &mut run,
    );
    assert_eq!(calls, 0);
    assert_eq!(report.runs.len(), 3);
    assert!(
        report
            .sessions
            .iter()
            .all(|s| s.stop == StopReason::NoPenalty)
    );
    assert_eq!(
        report.final_choice(&f),
        Some(FinalChoice {
            run: 2,
            rule: ChoiceRule::MaxSpeed
        })
    );
}

fn runs() -> Vec<FineTuneRun> {
    let cfg = row(1, Some(1.0)).config;
    let mk = |g: f64, ttft: f64, tpot: f64, error: Option<&str>| FineTuneRun {
        origin: RunOrigin::Default,
        config: cfg.clone(),
        index: Some(idx(g, Some(ttft), Some(tpot), None)),
        error: error.map(str::to_owned),
        fitness: 1.0,
        duration_s: 0.0,
    };
    vec![
        mk(100.0, 400.0, 60.0, None),           // 0: TTFT in, TPOT out
        mk(200.0, 600.0, 40.0, None),           // 1: TTFT out, TPOT in
        mk(150.0, 450.0, 45.0, None),           // 2: both in
        mk(1000.0, 10.0, 1.0, Some("crashed")), // 3: failed: never chosen
    ]
}

#[test]
fn final_choice_rules() {
    let r = runs();
    let choose = |ttft_penalty: f64, tpot_penalty: f64, ttft_slo_ms: f64, tpot_slo_ms: f64| {
        final_choice(
            &r,
            &Fitness {
                ttft_penalty,
                tpot_penalty,
                ttft_slo_ms,
                tpot_slo_ms,
                ..Fitness::default()
            },
        )
        .unwrap()
    };
    let at = |run, rule| FinalChoice { run, rule };
    // no penalty: fastest successful run
    assert_eq!(choose(0.0, 0.0, 500.0, 50.0), at(1, ChoiceRule::MaxSpeed));
    // TPOT only: fastest with TPOT < 50 (runs 1, 2)
    assert_eq!(
        choose(0.0, 3.0, 500.0, 50.0),
        at(1, ChoiceRule::MaxSpeedWithinSlo)
    );
    // TPOT only, none below 30: least (TPOT − 30)/30 = 1, 1/3, 1/2 → run 1
    assert_eq!(
        choose(0.0, 3.0, 500.0, 30.0),
        at(1, ChoiceRule::LeastExcess)
    );
    // both: only run 2 meets both
    assert_eq!(
        choose(3.0, 3.0, 500.0, 50.0),
        at(2, ChoiceRule::MaxSpeedWithinSlo)
    );
    // both, none within 300 / 30: summed excess 1/3 + 1, 1 + 1/3, 1/2 + 1/2 → run 2
    assert_eq!(
        choose(3.0, 3.0, 300.0, 30.0),
        at(2, ChoiceRule::LeastExcess)
    );
    // TTFT only (ours, symmetric): TTFT < 500 → runs 0, 2 → faster is 2
    assert_eq!(
        choose(1.0, 0.0, 500.0, 50.0),
        at(2, ChoiceRule::MaxSpeedWithinSlo)
    );
    // TTFT only, none below 100: least (TTFT − 100)/100 → run 0
    assert_eq!(
        choose(1.0, 0.0, 100.0, 50.0),
        at(0, ChoiceRule::LeastExcess)
    );
    // a missing speed counts 0, a missing TPOT +∞; nothing successful → None
    let mut partial = runs();
    partial[1].index = Some(
        PerformanceIndex::new(PerformanceIndexData {
            ttft_ms: Some(1.0),
            ..PerformanceIndexData::default()
        })
        .unwrap(),
    );
    let f = tpot_only(50.0);
    assert_eq!(
        final_choice(&partial, &f).unwrap(),
        at(2, ChoiceRule::MaxSpeedWithinSlo)
    );
    assert_eq!(final_choice(&partial[3..], &f), None);
    // ties go to the earlier run
    let mut tie = runs();
    tie[2].index = tie[1].index;
    assert_eq!(final_choice(&tie, &f).unwrap().run, 1);
}

#[test]
fn works_with_any_evaluator() {
    use crate::evaluator::FnEvaluator;
    let mut eval = FnEvaluator::new(|c: &Candidate| {
        let conc = c.config.get_f64("CONCURRENCY").ok_or("no C")?;
        Ok(idx(10.0 * conc, Some(100.0), Some(10.0 + 0.2 * conc), None))
    });
    let t = tuner(tpot_only(50.0), 10);
    let mut runner = EvaluatorRunner::new(&mut eval, 5);
    let report = t.run(None, &[row(1000, Some(5.0))], &mut runner);
    let cs: Vec<f64> = knob_values(&report).iter().map(|v| v.0).collect();
    assert_eq!(cs, vec![1000.0, 400.0, 208.0, 204.0, 202.0, 201.0, 200.0]);
    let chosen = report.chosen(&tpot_only(50.0)).unwrap();
    // TPOT < 50 is never reached (the last run sits at 50.0): least excess, run at C = 200
    assert_eq!(chosen.config.get_f64("CONCURRENCY"), Some(200.0));
}

#[test]
fn settings_are_checked() {
    let bad = |s: FineTuneSettings| FineTuner::new(s, Fitness::default(), LoadKnobs::default());
    let d = FineTuneSettings::default();
    assert!(
        bad(FineTuneSettings {
            step_size: 0.0,
            ..d
        })
        .unwrap_err()
        .to_string()
        .contains("step_size")
    );
    assert!(
        bad(FineTuneSettings {
            slo_coefficient: 1.0,
            ..d
        })
        .is_err()
    );
    assert!(
        bad(FineTuneSettings {
            max_fine_tune: 201,
            ..d
        })
        .is_err()
    );
    assert!(bad(d).is_ok());
}
