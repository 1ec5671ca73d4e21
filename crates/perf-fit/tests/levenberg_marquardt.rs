//! The default fit (Levenberg–Marquardt) against Nelder–Mead multistart on the repository
//! samples, on synthetic data with known parameters, and for determinism.

use perf_fit::{
    FitMethod, FitPoint, FittedInferno, InfernoTrainer, Loss, SyntheticSpec, points_from_datasets,
    synthetic_points,
};
use perf_model_core::inferno::{Arithmetic, QueueModel};
use perf_readers::{ReadOptions, TimeUnit, read_any_with};

/// "No worse": the losses are means of a few squares, equal up to rounding.
const SLACK: f64 = 1e-9;

/// A repository sample read as the CLI reads it (`seconds` for the model-trainer `qm_*` sets).
fn sample(rel: &str, seconds: bool) -> Vec<FitPoint> {
    let path = format!("{}/../../samples/{rel}", env!("CARGO_MANIFEST_DIR"));
    let opts = ReadOptions {
        inferno_time_unit: if seconds {
            TimeUnit::Seconds
        } else {
            TimeUnit::Milliseconds
        },
        ..ReadOptions::default()
    };
    let (_, ds) = read_any_with(&path, &opts).unwrap_or_else(|e| panic!("{path}: {e}"));
    points_from_datasets(std::slice::from_ref(&ds)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every fit-ready data set under `samples/`: the model-trainer samples and the GuideLLM
/// reader samples (JSON, CSV-as-JSON, HTML).
fn repository_samples() -> Vec<(&'static str, Vec<FitPoint>)> {
    [
        ("inferno-trainer/data.json", false),
        ("inferno-trainer/qm_train_s4.json", true),
        ("inferno-trainer/qm_test_s4.json", true),
        ("readers/inferno/guidellm.json", false),
        ("readers/inferno/guidellm-csv.json", false),
        ("readers/inferno/benchmarks.html", false),
    ]
    .into_iter()
    .map(|(rel, seconds)| (rel, sample(rel, seconds)))
    .collect()
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1e-300)
}

/// Asserts `lm` reached `multi`'s optimum: loss no worse (+1e-9 relative), the same α and β,
/// and γ the same or both negligible.
fn assert_same_optimum(name: &str, lm: &FittedInferno, multi: &FittedInferno) {
    eprintln!(
        "{name}: LM {:.6} {:.6} {:.4e} loss {:.12} ({} evals, {:?}) | multistart {:.6} {:.6} \
         {:.4e} loss {:.12} ({} evals)",
        lm.alpha(),
        lm.beta(),
        lm.gamma(),
        lm.loss(),
        lm.evaluations(),
        lm.lm_stop(),
        multi.alpha(),
        multi.beta(),
        multi.gamma(),
        multi.loss(),
        multi.evaluations()
    );
    assert!(
        lm.loss() <= multi.loss() * (1.0 + SLACK),
        "{name}: LM loss {} > multistart {}",
        lm.loss(),
        multi.loss()
    );
    assert!(close(lm.alpha(), multi.alpha(), 1e-5), "{name}: alpha");
    assert!(close(lm.beta(), multi.beta(), 1e-5), "{name}: beta");
    assert!(
        close(lm.gamma(), multi.gamma(), 1e-4) || lm.gamma().max(multi.gamma()) < 1e-12,
        "{name}: gamma {} vs {}",
        lm.gamma(),
        multi.gamma()
    );
}

#[test]
fn default_fit_is_levenberg_marquardt_and_no_worse_than_multistart_on_repository_samples() {
    for (name, points) in repository_samples() {
        let lm = InfernoTrainer::params().fit(&points).unwrap();
        let multi = InfernoTrainer::params()
            .method(FitMethod::NelderMeadMultistart)
            .fit(&points)
            .unwrap();
        assert_same_optimum(name, &lm, &multi);
        assert_eq!(lm.method(), FitMethod::LevenbergMarquardt, "{name}");
        assert_eq!(multi.method(), FitMethod::NelderMeadMultistart, "{name}");
        assert!(
            lm.lm_stop().is_some_and(perf_fit::LmStop::converged),
            "{name}: {:?}",
            lm.lm_stop()
        );
        assert!(multi.lm_stop().is_none());
        // 9 probes + one run from the closed-form start: tens, not thousands.
        assert!(lm.evaluations() < 100, "{name}: {}", lm.evaluations());
        assert!(
            multi.evaluations() > 50 * lm.evaluations(),
            "{name}: {} vs {}",
            multi.evaluations(),
            lm.evaluations()
        );
        assert_eq!(lm.report().points.len(), points.len());
        assert_eq!(
            lm.report().summary.avg_err_weighted.to_bits(),
            lm.loss().to_bits(),
            "{name}: the reported loss is the loss at the parameters"
        );
    }
}

#[test]
fn other_models_and_starts_reach_the_multistart_optimum() {
    let headline = sample("inferno-trainer/data.json", false);
    let qm = sample("inferno-trainer/qm_train_s4.json", true);
    let cases: [(&str, &[FitPoint], QueueModel, [f64; 3]); 4] = [
        (
            "data.json V3 (10,0,0)",
            &headline,
            QueueModel::V3,
            [10.0, 0.0, 0.0],
        ),
        // `/train`'s start; V3's rate guard makes much of the box infeasible.
        (
            "data.json V3 (1,0,0)",
            &headline,
            QueueModel::V3,
            [1.0, 0.0, 0.0],
        ),
        ("qm_train V6", &qm, QueueModel::V6, [1.0, 0.01, 1e-4]),
        ("qm_train V7 (1,0,0)", &qm, QueueModel::V7, [1.0, 0.0, 0.0]),
    ];
    for (name, points, model, [a, b, g]) in cases {
        let params = InfernoTrainer::params()
            .model(model)
            .loss(Loss::RelativeSquared)
            .init(a, b, g);
        let lm = params.clone().fit(points).unwrap();
        let multi = params
            .method(FitMethod::NelderMeadMultistart)
            .fit(points)
            .unwrap();
        assert_same_optimum(name, &lm, &multi);
        assert_eq!(lm.method(), FitMethod::LevenbergMarquardt, "{name}");
    }
}

#[test]
fn infeasible_init_does_not_stop_the_default_fit() {
    // α = 100 ms cannot serve 176 req/s at N = 512 (V3 rate guard): the seed-compatible fit
    // fails, the closed-form start does not need `init`.
    let points = sample("inferno-trainer/data.json", false);
    let params = InfernoTrainer::params()
        .model(QueueModel::V3)
        .init(100.0, 0.0, 0.0);
    let err = params
        .clone()
        .seed_compatible(true)
        .fit(&points)
        .unwrap_err();
    assert!(
        matches!(err, perf_fit::FitError::InfeasibleStart { .. }),
        "{err}"
    );
    let fit = params.fit(&points).unwrap();
    assert_eq!(fit.method(), FitMethod::LevenbergMarquardt);
    assert!((fit.loss() - 0.014_260_7).abs() < 1e-6, "{}", fit.loss());
}

#[test]
fn gamma_stays_exactly_zero_on_single_shape_data() {
    // One request shape (64/64 tokens): γ adds nothing β cannot, the optimum is on the bound.
    let fit = InfernoTrainer::params()
        .fit(&sample("inferno-trainer/data.json", false))
        .unwrap();
    assert_eq!(fit.gamma().to_bits(), 0.0f64.to_bits(), "{}", fit.gamma());
    assert!((fit.alpha() - 6.674_023).abs() < 1e-5, "{}", fit.alpha());
    assert!((fit.beta() - 0.025_161_28).abs() < 1e-7, "{}", fit.beta());
    assert!(
        fit.identifiability()
            .warnings
            .iter()
            .any(|w| w.contains("gamma")),
        "{:?}",
        fit.identifiability()
    );
}

#[test]
fn recovers_known_parameters_from_synthetic_data() {
    // Noise-free: the optimum is the truth (loss 0) for every model generation.
    for model in [QueueModel::V3, QueueModel::V6, QueueModel::V7] {
        let spec = SyntheticSpec {
            model,
            noise: 0.0,
            ..SyntheticSpec::default()
        };
        let points = synthetic_points(&spec).unwrap();
        let fit = InfernoTrainer::params().model(model).fit(&points).unwrap();
        eprintln!(
            "{model:?}: {} {} {:e} loss {:e} ({} evals)",
            fit.alpha(),
            fit.beta(),
            fit.gamma(),
            fit.loss(),
            fit.evaluations()
        );
        for (got, want) in [fit.alpha(), fit.beta(), fit.gamma()]
            .into_iter()
            .zip(spec.theta)
        {
            assert!(close(got, want, 1e-6), "{model:?}: got {got}, want {want}");
        }
        assert!(fit.loss() < 1e-16, "{model:?}: {}", fit.loss());
    }
    // 2 % noise on 40 points: within 5 %, and the same optimum as multistart.
    let spec = SyntheticSpec {
        points: 40,
        seed: 7,
        ..SyntheticSpec::default()
    };
    let points = synthetic_points(&spec).unwrap();
    let lm = InfernoTrainer::params().fit(&points).unwrap();
    for (got, want) in [lm.alpha(), lm.beta(), lm.gamma()]
        .into_iter()
        .zip(spec.theta)
    {
        assert!(close(got, want, 0.05), "got {got}, want {want}");
    }
    let multi = InfernoTrainer::params()
        .method(FitMethod::NelderMeadMultistart)
        .fit(&points)
        .unwrap();
    assert_same_optimum("synthetic 2 %", &lm, &multi);
}

#[test]
fn default_fit_is_deterministic() {
    let points = sample("inferno-trainer/qm_test_s4.json", true);
    let params = InfernoTrainer::params().check().unwrap();
    let a = params.fit(&points).unwrap();
    let b = params.fit(&points).unwrap();
    for (x, y) in [
        (a.alpha(), b.alpha()),
        (a.beta(), b.beta()),
        (a.gamma(), b.gamma()),
        (a.loss(), b.loss()),
    ] {
        assert_eq!(x.to_bits(), y.to_bits());
    }
    assert_eq!(a.evaluations(), b.evaluations());
    assert_eq!(a, b);
    // A different design seed changes only the probes: the same optimum, bit for bit.
    let c = InfernoTrainer::params().seed(99).fit(&points).unwrap();
    assert_eq!(a.alpha().to_bits(), c.alpha().to_bits());
    assert_eq!(a.loss().to_bits(), c.loss().to_bits());
}

#[test]
fn non_least_squares_settings_use_multistart_under_the_default_method() {
    let points = sample("inferno-trainer/data.json", false);
    // |e| is not a sum of squares; float32 service times make the loss a staircase.
    let cases = [
        InfernoTrainer::params()
            .model(QueueModel::V3)
            .loss(Loss::WeightedAbsolute)
            .init(10.0, 0.0, 0.0)
            .scaled(false),
        InfernoTrainer::params().arithmetic(Arithmetic::GoFloat32),
    ];
    for params in cases {
        let default = params.clone().fit(&points).unwrap();
        let multi = params
            .method(FitMethod::NelderMeadMultistart)
            .fit(&points)
            .unwrap();
        assert_eq!(default.method(), FitMethod::NelderMeadMultistart);
        assert_eq!(default, multi);
    }
}

#[test]
fn fits_round_trip_through_json_and_old_ones_read_as_multistart() {
    let fit = InfernoTrainer::params()
        .fit(&sample("inferno-trainer/data.json", false))
        .unwrap();
    let mut v = serde_json::to_value(&fit).unwrap();
    // γ = 0 exactly makes the log-parameter Jacobian singular: an infinite condition number,
    // which JSON cannot hold as a number. The fit still reads back unchanged (the server
    // stores fits as JSON and reads them again).
    assert!(fit.identifiability().condition_number.is_infinite());
    assert_eq!(v["identifiability"]["condition_number"], "inf");
    let back: FittedInferno = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(back, fit);
    assert_eq!(v["method"], "levenberg-marquardt");
    assert_eq!(v["lm_stop"], "small-reduction");
    let obj = v.as_object_mut().unwrap();
    obj.remove("method");
    obj.remove("lm_stop");
    let old: FittedInferno = serde_json::from_value(v).unwrap();
    assert_eq!(old.method(), FitMethod::NelderMeadMultistart);
    assert_eq!(old.lm_stop(), None);
    assert_eq!(old.alpha().to_bits(), fit.alpha().to_bits());
}

#[test]
fn method_names_parse_and_display() {
    for m in [
        FitMethod::LevenbergMarquardt,
        FitMethod::NelderMeadMultistart,
        FitMethod::SeedCompatible,
    ] {
        assert_eq!(m.to_string().parse::<FitMethod>().unwrap(), m);
    }
    let err = "simplex".parse::<FitMethod>().unwrap_err();
    assert!(err.to_string().contains("method"), "{err}");
}

#[test]
fn bootstrap_of_the_default_fit_refits_with_levenberg_marquardt() {
    let points = synthetic_points(&SyntheticSpec::default()).unwrap();
    let lm = InfernoTrainer::params().check().unwrap();
    let fit = lm.fit(&points).unwrap();
    let ci = lm.bootstrap(&points, &fit, 24, 0.9, 7).unwrap();
    assert_eq!(ci, lm.bootstrap(&points, &fit, 24, 0.9, 7).unwrap());
    assert_eq!(ci.used, 24);
    // The same resamples refitted by Nelder–Mead (multistart's local refit): the same
    // intervals up to Nelder–Mead's own stopping tolerance.
    let nm = InfernoTrainer::params()
        .method(FitMethod::NelderMeadMultistart)
        .check()
        .unwrap();
    let nm_ci = nm.bootstrap(&points, &fit, 24, 0.9, 7).unwrap();
    eprintln!("LM {ci:?}\nNM {nm_ci:?}");
    for ((iv, nm_iv), v) in [ci.alpha, ci.beta, ci.gamma]
        .into_iter()
        .zip([nm_ci.alpha, nm_ci.beta, nm_ci.gamma])
        .zip([fit.alpha(), fit.beta(), fit.gamma()])
    {
        assert!(iv.lower <= iv.median && iv.median <= iv.upper, "{iv:?}");
        assert!(iv.lower <= v && v <= iv.upper, "{iv:?} vs {v}");
        for (a, b) in [
            (iv.lower, nm_iv.lower),
            (iv.median, nm_iv.median),
            (iv.upper, nm_iv.upper),
        ] {
            assert!(close(a, b, 1e-6), "{iv:?} vs {nm_iv:?}");
        }
    }
}

#[test]
fn the_default_fit_cannot_start_exactly_when_multistart_cannot() {
    // Input tokens of 1e300 overflow the model wherever β or γ > 0: every usual start (`init`
    // and the design points) is infeasible, so both methods refuse the data with the same
    // typed error (the HTTP service turns it into a 422 naming the point).
    let mut points = sample("inferno-trainer/data.json", false);
    points[1].input_tokens = 1e300;
    for method in [
        FitMethod::LevenbergMarquardt,
        FitMethod::NelderMeadMultistart,
    ] {
        let err = InfernoTrainer::params()
            .method(method)
            .fit(&points)
            .unwrap_err();
        assert!(
            matches!(
                err,
                perf_fit::FitError::InfeasibleStart {
                    alpha: 1.0,
                    beta: 0.01,
                    gamma: 0.0001
                }
            ),
            "{method}: {err}"
        );
    }
}
