//! Acceptance tests: the queue-analysis REST examples, golden primitives, bad input,
//! monotonicity.

use approx::assert_relative_eq;
use serde_json::Value;

use super::*;
use crate::Error;

fn sample(name: &str) -> Value {
    let path = format!(
        "{}/../../samples/inferno/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("missing {key}"))
}

/// The REST example problem (problem-data.json) as an analyzer.
fn rest(model: QueueModel, arithmetic: Arithmetic) -> (Analyzer, f64, SloTargets) {
    let p = sample("problem-data.json");
    let analyzer = Analyzer::new(
        model,
        ServiceParams::new(num(&p, "alpha"), num(&p, "beta"), num(&p, "gamma")).unwrap(),
        RequestShape::new(num(&p, "AvgInputTokens"), num(&p, "AvgOutputTokens")).unwrap(),
        QueueConfig::new(
            u32::try_from(p["maxBatchSize"].as_u64().unwrap()).unwrap(),
            u32::try_from(p["maxQueueSize"].as_u64().unwrap()).unwrap(),
        )
        .unwrap(),
    )
    .unwrap()
    .with_arithmetic(arithmetic)
    .unwrap();
    let targets = SloTargets::latency(num(&p, "targetTTFT"), num(&p, "targetITL"));
    (analyzer, num(&p, "RPS"), targets)
}

/// Asserts the `/solve`-style fields of `a` against a REST response object.
fn check_rest(a: &Analysis, v: &Value) {
    assert_relative_eq!(a.throughput_rps, num(v, "throughput"), max_relative = 1e-5);
    assert_relative_eq!(a.response_ms, num(v, "avgRespTime"), max_relative = 1e-5);
    assert_relative_eq!(a.wait_ms, num(v, "avgWaitTime"), max_relative = 1e-5);
    assert_relative_eq!(a.in_service, num(v, "avgNumInServ"), max_relative = 1e-5);
    assert_relative_eq!(a.ttft_ms, num(v, "avgTTFT"), max_relative = 1e-5);
    assert_relative_eq!(a.itl_ms, num(v, "avgITL"), max_relative = 1e-5);
    assert_relative_eq!(a.max_rate_rps, num(v, "maxRPS"), max_relative = 1e-5);
}

// ---- REST examples, Go float32 parity (every published field) ----

#[test]
fn rest_v3_solve_parity() {
    let (a, rate, _) = rest(QueueModel::V3, Arithmetic::GoFloat32);
    check_rest(&a.solve(rate).unwrap(), &sample("solution-solve.json"));
}

#[test]
fn rest_v3_size_parity() {
    let (a, _, targets) = rest(QueueModel::V3, Arithmetic::GoFloat32);
    let s = a.size(&targets).unwrap();
    let v = sample("solution-target.json");
    check_rest(&s.analysis, &v);
    assert_relative_eq!(s.rate_rps, num(&v, "throughput"), max_relative = 1e-5);
    assert_relative_eq!(
        s.rate_ttft_rps.unwrap(),
        num(&v, "RPSTargetTTFT"),
        max_relative = 1e-5
    );
    assert_relative_eq!(
        s.rate_itl_rps.unwrap(),
        num(&v, "RPSTargetITL"),
        max_relative = 1e-5
    );
}

/// V7 solve on the REST problem (spec `inferno.md`, acceptance anchor 3; no file upstream).
const V7_SOLVE: [f64; 6] = [3.0, 10348.367, 21.405273, 30.980886, 67.614647, 20.118889];

fn check_v7_solve(a: &Analysis) {
    let got = [
        a.throughput_rps,
        a.response_ms,
        a.wait_ms,
        a.in_service,
        a.ttft_ms,
        a.itl_ms,
    ];
    for (g, e) in got.into_iter().zip(V7_SOLVE) {
        assert_relative_eq!(g, e, max_relative = 1e-5);
    }
}

#[test]
fn rest_v7_solve_parity() {
    let (a, rate, _) = rest(QueueModel::V7, Arithmetic::GoFloat32);
    check_v7_solve(&a.solve(rate).unwrap());
}

#[test]
fn rest_v7_optimize_48_parity() {
    let (a, _, targets) = rest(QueueModel::V7, Arithmetic::GoFloat32);
    let o = a.optimal_concurrency(&targets).unwrap();
    let v = sample("solution-optimize.json");
    assert_eq!(u64::from(o.concurrency), v["concurrency"].as_u64().unwrap());
    assert_eq!(u64::from(o.m_itl), v["M_ITL"].as_u64().unwrap());
    assert_eq!(u64::from(o.m_tpf), v["M_TPF"].as_u64().unwrap());
    assert_eq!(
        u64::from(o.oracle_calls),
        v["oracleCalls"].as_u64().unwrap()
    );
    assert_eq!(o.feasible, v["feasible"].as_bool().unwrap());
    check_rest(&o.analysis.unwrap(), &v);
}

#[test]
fn rest_v7_optimize_256_parity() {
    let (a, _, targets) = rest(QueueModel::V7, Arithmetic::GoFloat32);
    let o = a
        .with_max_batch_size(256)
        .unwrap()
        .optimal_concurrency(&targets)
        .unwrap();
    // README example (no file): concurrency 49, M_ITL 31, M_TPF 164, oracleCalls 8.
    assert_eq!(
        (o.concurrency, o.m_itl, o.m_tpf, o.oracle_calls),
        (49, 31, 164, 8)
    );
    assert!(o.feasible);
    let an = o.analysis.unwrap();
    assert_relative_eq!(an.throughput_rps, 2.971_583_6, max_relative = 1e-5);
    assert_relative_eq!(an.response_ms, 10_277.985, max_relative = 1e-5);
    assert_relative_eq!(an.wait_ms, 12.017_578, max_relative = 1e-5);
    assert_relative_eq!(an.in_service, 30.506_18, max_relative = 1e-5);
    assert_relative_eq!(an.ttft_ms, 57.9873, max_relative = 1e-5);
    assert_relative_eq!(an.itl_ms, 19.999_996, max_relative = 1e-5);
    assert_relative_eq!(an.max_rate_rps, 3.900_383_5, max_relative = 1e-5);
}

// ---- REST examples in plain f64 (the default) ----

#[test]
fn rest_v3_solve_f64() {
    let (a, rate, _) = rest(QueueModel::V3, Arithmetic::F64);
    check_rest(&a.solve(rate).unwrap(), &sample("solution-solve.json"));
}

#[test]
fn rest_v3_size_f64() {
    let (a, _, targets) = rest(QueueModel::V3, Arithmetic::F64);
    let s = a.size(&targets).unwrap();
    let v = sample("solution-target.json");
    assert_relative_eq!(s.rate_rps, num(&v, "RPSTargetITL"), max_relative = 1e-5);
    assert_relative_eq!(
        s.rate_ttft_rps.unwrap(),
        num(&v, "RPSTargetTTFT"),
        max_relative = 1e-5
    );
    assert_relative_eq!(s.analysis.itl_ms, num(&v, "avgITL"), max_relative = 1e-5);
    assert_relative_eq!(s.analysis.ttft_ms, num(&v, "avgTTFT"), max_relative = 1e-5);
    assert_relative_eq!(
        s.analysis.throughput_rps,
        num(&v, "throughput"),
        max_relative = 1e-5
    );
}

#[test]
fn rest_v7_solve_f64() {
    let (a, rate, _) = rest(QueueModel::V7, Arithmetic::F64);
    check_v7_solve(&a.solve(rate).unwrap());
}

/// In f64 the optimum, brackets, throughput, ITL and max rate match; the TTFT/wait at M* do
/// not reach 1e-5 (Go's TTFT bisection ends on a float32-quantised wait, 2⁻¹⁰ ms steps):
/// that is what [`Arithmetic::GoFloat32`] is for (tests above).
#[test]
fn rest_v7_optimize_f64() {
    let (a, _, targets) = rest(QueueModel::V7, Arithmetic::F64);
    let o = a.optimal_concurrency(&targets).unwrap();
    let v = sample("solution-optimize.json");
    assert_eq!(
        (o.concurrency, o.m_itl, o.m_tpf, o.oracle_calls),
        (48, 31, 48, 6)
    );
    let an = o.analysis.unwrap();
    assert_relative_eq!(
        an.throughput_rps,
        num(&v, "throughput"),
        max_relative = 1e-5
    );
    assert_relative_eq!(an.itl_ms, num(&v, "avgITL"), max_relative = 1e-5);
    assert_relative_eq!(an.max_rate_rps, num(&v, "maxRPS"), max_relative = 1e-5);
    let o = a
        .with_max_batch_size(256)
        .unwrap()
        .optimal_concurrency(&targets)
        .unwrap();
    assert_eq!(
        (o.concurrency, o.m_itl, o.m_tpf, o.oracle_calls),
        (49, 31, 164, 8)
    );
    let an = o.analysis.unwrap();
    assert_relative_eq!(an.throughput_rps, 2.971_583_6, max_relative = 1e-5);
    assert_relative_eq!(an.itl_ms, 19.999_996, max_relative = 1e-5);
    assert_relative_eq!(an.max_rate_rps, 3.900_383_5, max_relative = 1e-5);
}

// ---- golden primitives ----

#[test]
fn golden_primitives() {
    let rows = sample("golden_primitives.json");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 8);
    for ar in [Arithmetic::F64, Arithmetic::GoFloat32] {
        for row in rows {
            let b = u32::try_from(row["B"].as_u64().unwrap()).unwrap();
            let times = ServiceTimes::new(
                QueueModel::V7,
                ServiceParams::new(num(row, "alpha"), num(row, "beta"), num(row, "gamma")).unwrap(),
                RequestShape::new(num(row, "AvgInputTokens"), num(row, "AvgOutputTokens")).unwrap(),
                8192,
            )
            .unwrap();
            let p = times.primitives(b).unwrap();
            assert_eq!(u64::from(p.nc), row["nc"].as_u64().unwrap(), "B={b}");
            assert_relative_eq!(p.iter_time, num(row, "iter_time"), max_relative = 1e-5);
            assert_relative_eq!(p.prefill, num(row, "prefill"), max_relative = 1e-5);
            assert_relative_eq!(p.itl, num(row, "itl"), max_relative = 1e-5);
            assert_relative_eq!(p.tau, num(row, "tau"), max_relative = 1e-5);
            // The analyzer's tables agree with the primitives.
            let an = Analyzer::new(
                QueueModel::V7,
                ServiceParams::new(num(row, "alpha"), num(row, "beta"), num(row, "gamma")).unwrap(),
                RequestShape::new(num(row, "AvgInputTokens"), num(row, "AvgOutputTokens")).unwrap(),
                QueueConfig::new(b, 128).unwrap(),
            )
            .unwrap()
            .with_arithmetic(ar)
            .unwrap();
            assert_relative_eq!(
                an.service_rate(b).unwrap(),
                f64::from(b) / num(row, "tau"),
                max_relative = 1e-5
            );
        }
    }
}

// ---- bad input: one test per case ----

#[test]
fn nan_alpha_is_error() {
    let err = ServiceParams::new(f64::NAN, 0.05, 5e-4).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err}");
    assert!(err.to_string().contains("alpha"), "{err}");
}

#[test]
fn negative_beta_is_error() {
    let err = ServiceParams::new(12.0, -0.05, 5e-4).unwrap_err();
    assert!(matches!(err, Error::OutOfRange { .. }), "{err}");
    assert!(err.to_string().contains("beta"), "{err}");
}

#[test]
fn negative_gamma_is_error() {
    let err = ServiceParams::new(12.0, 0.05, -5e-4).unwrap_err();
    assert!(err.to_string().contains("gamma"), "{err}");
}

#[test]
fn no_output_tokens_is_error() {
    let err = RequestShape::new(128.0, 0.0).unwrap_err();
    assert!(matches!(err, Error::OutOfRange { .. }), "{err}");
    assert!(err.to_string().contains("output_tokens"), "{err}");
}

#[test]
fn zero_batch_size_is_error() {
    let err = QueueConfig::new(0, 128).unwrap_err();
    assert!(err.to_string().contains("max_batch_size"), "{err}");
}

#[test]
fn zero_rate_is_error() {
    let (a, _, _) = rest(QueueModel::V7, Arithmetic::F64);
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = a.solve(bad).unwrap_err();
        assert!(err.to_string().starts_with("rate = "), "{err}");
    }
}

#[test]
fn v3_rate_above_capacity_is_error() {
    for ar in [Arithmetic::F64, Arithmetic::GoFloat32] {
        let (a, _, _) = rest(QueueModel::V3, ar);
        let max = a.rate_range().max_rps;
        assert!(a.solve(max).is_ok());
        let err = a.solve(max * 1.001).unwrap_err();
        assert!(matches!(err, Error::RateAboveCapacity { .. }), "{err}");
        assert!(err.to_string().contains("rate"), "{err}");
    }
}

#[test]
fn v6_v7_accept_overload() {
    for model in [QueueModel::V6, QueueModel::V7] {
        let (a, _, _) = rest(model, Arithmetic::F64);
        let r = a.solve(10.0 * a.rate_range().max_rps).unwrap();
        assert!(r.blocking > 0.5, "{r:?}");
        assert!(r.throughput_rps < r.offered_rps);
        assert!(r.throughput_rps <= a.rate_range().max_rps / 0.999 * 1.000_001);
        assert!(r.ttft_ms.is_finite() && r.itl_ms.is_finite());
    }
}

#[test]
fn unreachable_target_is_error() {
    let (a, _, _) = rest(QueueModel::V7, Arithmetic::F64);
    let err = a
        .size(&SloTargets {
            ttft_ms: Some(1.0),
            ..SloTargets::default()
        })
        .unwrap_err();
    assert!(
        matches!(err, Error::TargetUnreachable { metric: "TTFT", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("TTFT"), "{err}");
    let err = a
        .size(&SloTargets {
            itl_ms: Some(5.0),
            ..SloTargets::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("ITL"), "{err}");
}

#[test]
fn non_positive_target_is_error() {
    let (a, _, _) = rest(QueueModel::V7, Arithmetic::F64);
    let err = a.size(&SloTargets::latency(-1.0, 20.0)).unwrap_err();
    assert!(err.to_string().contains("ttft_ms"), "{err}");
    let err = a
        .optimal_concurrency(&SloTargets::latency(60.0, f64::NAN))
        .unwrap_err();
    assert!(err.to_string().contains("itl_ms"), "{err}");
}

#[test]
fn zero_parameters_are_error() {
    let err = Analyzer::new(
        QueueModel::V7,
        ServiceParams::new(0.0, 0.0, 0.0).unwrap(),
        RequestShape::new(10.0, 10.0).unwrap(),
        QueueConfig::new(4, 4).unwrap(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Inconsistent(_)), "{err}");
}

// ---- sizing details ----

#[test]
fn loose_targets_give_max_rate_and_tps_gives_ninety_percent() {
    let (a, _, _) = rest(QueueModel::V7, Arithmetic::F64);
    let max = a.rate_range().max_rps;
    let s = a.size(&SloTargets::latency(1e9, 1e9)).unwrap();
    assert_relative_eq!(s.rate_rps, max, max_relative = 1e-12);
    let s = a
        .size(&SloTargets {
            tps: Some(100.0),
            ..SloTargets::default()
        })
        .unwrap();
    assert_relative_eq!(s.rate_rps, 0.9 * max, max_relative = 1e-12);
    assert_eq!(s.rate_ttft_rps, None);
}

#[test]
fn replicas_cover_the_load() {
    let (a, _, targets) = rest(QueueModel::V3, Arithmetic::F64);
    let plan = a.replicas_for(10.0, &targets).unwrap();
    // rate* ≈ 2.874 req/s → 4 replicas at 2.5 req/s each.
    assert_eq!(plan.replicas, 4);
    assert_relative_eq!(plan.per_replica_rps, 2.5, max_relative = 1e-12);
    assert!(plan.per_replica_analysis.itl_ms <= 20.0);
    assert!(
        a.replicas_for(0.0, &targets)
            .unwrap_err()
            .to_string()
            .contains("total_rate")
    );
}

// ---- monotonicity ----

#[test]
fn latencies_increase_with_rate() {
    for model in QueueModel::ALL {
        for ar in [Arithmetic::F64, Arithmetic::GoFloat32] {
            let (a, _, _) = rest(model, ar);
            let max = a.rate_range().max_rps;
            let top = if model == QueueModel::V3 {
                max
            } else {
                1.5 * max
            };
            let mut prev: Option<Analysis> = None;
            for i in 1..=200 {
                let rate = top * f64::from(i) / 200.0;
                let r = a.solve(rate).unwrap();
                assert!(r.throughput_rps <= r.offered_rps * (1.0 + 1e-6), "{r:?}");
                if let Some(p) = prev {
                    // f32 parity rounds to a few ulps.
                    let slack = if ar == Arithmetic::F64 { 1e-9 } else { 1e-5 };
                    assert!(
                        r.ttft_ms >= p.ttft_ms * (1.0 - slack),
                        "{model} {ar:?} {rate}"
                    );
                    assert!(
                        r.itl_ms >= p.itl_ms * (1.0 - slack),
                        "{model} {ar:?} {rate}"
                    );
                }
                prev = Some(r);
            }
        }
    }
}

// ---- auto traits ----

#[test]
fn public_types_are_send_sync_clone() {
    fn ok<T: Send + Sync + Clone>() {}
    ok::<QueueModel>();
    ok::<Arithmetic>();
    ok::<ServiceParams>();
    ok::<RequestShape>();
    ok::<QueueConfig>();
    ok::<ServiceTimes>();
    ok::<Primitives>();
    ok::<Analyzer>();
    ok::<Analysis>();
    ok::<RateRange>();
    ok::<SloTargets>();
    ok::<Sizing>();
    ok::<ReplicaPlan>();
    ok::<OptimalConcurrency>();
    ok::<InfernoStepModel>();
}

#[test]
fn huge_prompt_with_tiny_token_budget_does_not_panic() {
    let config = QueueConfig::new(1, 1)
        .unwrap()
        .with_max_num_tokens(1)
        .unwrap();
    let analyzer = Analyzer::new(
        QueueModel::V7,
        ServiceParams::new(1.0, 0.0, 0.0).unwrap(),
        RequestShape::new(1e15, 1.0).unwrap(),
        config,
    );
    // Either a usable analyzer or a typed error; never a panic or a NaN result.
    if let Ok(a) = analyzer
        && let Ok(r) = a.solve(1.0)
    {
        assert!(r.ttft_ms.is_finite());
    }
}

#[test]
fn overflowing_inputs_are_errors_not_nan() {
    let rest = |model, alpha| {
        Analyzer::new(
            model,
            ServiceParams::new(alpha, 0.05, 5e-4).unwrap(),
            RequestShape::new(128.0, 512.0).unwrap(),
            QueueConfig::new(48, 128).unwrap(),
        )
        .unwrap()
    };
    for model in [QueueModel::V6, QueueModel::V7] {
        let err = rest(model, 12.0).solve(1e70).unwrap_err();
        assert!(matches!(err, Error::Inconsistent(_)), "{model}: {err}");
        assert!(err.to_string().contains("overflowed"), "{err}");
    }
    assert!(rest(QueueModel::V7, 1e300).solve(1.0).is_err());
}

#[test]
fn replicas_beyond_u64_are_an_error() {
    let analyzer = Analyzer::new(
        QueueModel::V7,
        ServiceParams::new(12.0, 0.05, 5e-4).unwrap(),
        RequestShape::new(128.0, 512.0).unwrap(),
        QueueConfig::new(48, 128).unwrap(),
    )
    .unwrap();
    let err = analyzer
        .replicas_for(1e300, &SloTargets::latency(60.0, 20.0))
        .unwrap_err();
    assert!(err.to_string().starts_with("total_rate"), "{err}");
}

#[test]
fn oversized_queue_is_rejected() {
    let err = QueueConfig::new(4, 1 << 30).unwrap_err();
    assert!(err.to_string().starts_with("max_queue_size"), "{err}");
}

#[test]
fn service_times_deserialisation_validates() {
    let text = r#"{"model":"v7","params":{"alpha":1,"beta":0,"gamma":0},
                  "shape":{"input_tokens":10,"output_tokens":5},"max_num_tokens":0}"#;
    let err = serde_json::from_str::<ServiceTimes>(text).unwrap_err();
    assert!(err.to_string().contains("max_num_tokens"), "{err}");
    let ok = text.replace("\"max_num_tokens\":0", "\"max_num_tokens\":8");
    assert!(serde_json::from_str::<ServiceTimes>(&ok).is_ok());
}

#[test]
fn queue_model_serde_accepts_from_str_spellings() {
    for (text, model) in [
        ("\"0.4\"", QueueModel::V6),
        ("\"V3\"", QueueModel::V3),
        ("\"v0.8.0\"", QueueModel::V7),
    ] {
        assert_eq!(serde_json::from_str::<QueueModel>(text).unwrap(), model);
    }
    assert!(serde_json::from_str::<QueueModel>("\"v9\"").is_err());
}
