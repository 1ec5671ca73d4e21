//! Reference fit on the seed's real Qwen3-4B A100 sweep (`samples/readers/profiles/llm-profiler/`, MIT).

use std::path::Path;

use approx::assert_relative_eq;
use perf_model_core::{BatchShape, StepTimeModel};
use perf_predict::{
    ForestParams, GbdtParams, PredictError, PredictorFile, ProfileData, Stage, StepPredictor,
    Trainer, cross_validate,
};

const SWEEP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../samples/readers/profiles/llm-profiler/A100_benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.v2.json"
);

fn sweep() -> ProfileData {
    ProfileData::read(Path::new(SWEEP)).unwrap()
}

/// specs/predict.md, "Reference fit (numpy centred lstsq, minimum-norm)": 4–5 significant
/// digits are published, so the tolerance is the rounding of the published figure.
#[test]
fn linear_fit_matches_reference_weights() {
    let data = sweep();
    assert_eq!(data.results.len(), 94);
    let p = StepPredictor::train_linear(&data).unwrap();
    let perf_predict::StageModel::Linear(pre) = &p.prefill else {
        panic!()
    };
    let perf_predict::StageModel::Linear(dec) = &p.decode else {
        panic!()
    };
    let wp = [1.5787e-5, 1.2964e-9, 1.5787e-5, -5.560e-6];
    for (w, e) in pre.weights().iter().zip(wp) {
        assert_relative_eq!(*w, e, max_relative = 1e-3);
    }
    assert_relative_eq!(pre.bias(), 8.553e-3, max_relative = 1e-3);
    assert_relative_eq!(pre.mse().unwrap(), 1.85e-5, max_relative = 3e-3);
    let wd = [8.513e-6, 4.354e-8, 4.354e-8, 8.513e-6];
    for (w, e) in dec.weights().iter().zip(wd) {
        assert_relative_eq!(*w, e, max_relative = 1e-3);
    }
    assert_relative_eq!(dec.bias(), 7.491e-3, max_relative = 1e-3);
    assert_relative_eq!(dec.mse().unwrap(), 6.23e-8, max_relative = 1e-2);
    // Collinear columns get equal weights (to rounding).
    assert_relative_eq!(pre.weights()[0], pre.weights()[2], max_relative = 1e-9);
    assert_relative_eq!(dec.weights()[0], dec.weights()[3], max_relative = 1e-9);
    assert_relative_eq!(dec.weights()[1], dec.weights()[2], max_relative = 1e-9);
}

/// The seed README's two predict commands, and the same figures through `StepTimeModel`.
#[test]
fn readme_predict_commands() {
    let p = StepPredictor::train_linear(&sweep()).unwrap();
    let pre = p.predict_ms(Stage::Prefill, 4.0, 512.0).unwrap();
    let dec = p.predict_ms(Stage::Decode, 8.0, 1024.0).unwrap();
    // Same commands on the spec's reference weights.
    let ref_pre = (8.553e-3 + 1.5787e-5 * 2048.0 * 2.0 + 1.2964e-9 * 4.0 * 512.0 * 512.0
        - 5.560e-6 * 4.0)
        * 1e3;
    let ref_dec = (7.491e-3 + 8.513e-6 * 8.0 * 2.0 + 4.354e-8 * 8192.0 * 2.0) * 1e3;
    assert_relative_eq!(pre, ref_pre, max_relative = 1e-3);
    assert_relative_eq!(dec, ref_dec, max_relative = 1e-3);
    let mut b = BatchShape::default();
    for _ in 0..4 {
        b.add_prefill(512, 0, true);
    }
    assert_relative_eq!(p.step_time(&b), pre, max_relative = 1e-12);
    assert_relative_eq!(
        p.step_time(&BatchShape::decode(8, 1024)),
        dec,
        max_relative = 1e-12
    );
}

#[test]
fn trained_file_round_trips_both_formats() {
    let data = sweep();
    let mut f = PredictorFile::new();
    f.insert("Qwen3-4B_A100", StepPredictor::train_linear(&data).unwrap());
    let ours =
        PredictorFile::from_json_str(&f.to_json_string().unwrap(), Path::new("o.json")).unwrap();
    let seed = PredictorFile::from_json_str(&f.to_seed_json_string().unwrap(), Path::new("s.json"))
        .unwrap();
    assert_eq!(ours, f);
    assert_eq!(seed, f);
    let meta = f.get("Qwen3-4B_A100").unwrap().metadata.as_ref().unwrap();
    assert_eq!(meta["gpu_type"], "NVIDIA A100-SXM4-80GB");
}

fn trainers() -> [Trainer; 3] {
    [
        Trainer::Linear,
        Trainer::Gbdt(GbdtParams::default()),
        Trainer::Forest(ForestParams::default()),
    ]
}

/// 5-fold CV (seed 2024) of the three model kinds per stage; the figures go in the report.
/// Asserted: every model is finite and the trees beat the linear model on decode MAPE.
#[test]
fn cross_validated_mape_table() {
    let data = sweep();
    let mut table = Vec::new();
    for stage in Stage::ALL {
        let (x, y) = data.dataset(stage);
        for t in trainers() {
            let r = cross_validate(&t, &x, &y, 5, 2024).unwrap();
            assert!(r.metrics.mape.is_finite() && r.metrics.rmse.is_finite());
            table.push((stage, r.model.clone(), r.metrics));
        }
    }
    for (stage, model, m) in &table {
        eprintln!(
            "{stage:8} {model:7} MAPE {:8.3} %  RMSE {:9.4} ms  R² {:.4}",
            m.mape,
            m.rmse * 1e3,
            m.r2
        );
    }
    let mape = |s: Stage, k: &str| {
        table
            .iter()
            .find(|r| r.0 == s && r.1 == k)
            .map(|r| r.2.mape)
            .unwrap()
    };
    assert!(
        mape(Stage::Decode, "gbdt").min(mape(Stage::Decode, "forest"))
            < mape(Stage::Decode, "linear")
    );
}

/// Every model kind: our JSON → load → bit-identical predictions; a wrong feature count is a
/// typed error, never a panic.
#[test]
fn every_kind_round_trips_bit_exact() {
    let data = sweep();
    for t in trainers() {
        let mut f = PredictorFile::new();
        f.insert("q", StepPredictor::train_with_cv(&data, &t, 5, 7).unwrap());
        assert_eq!(f.get("q").unwrap().validation.len(), 2);
        let g = PredictorFile::from_json_str(&f.to_json_string().unwrap(), Path::new("o.json"))
            .unwrap();
        assert_eq!(g, f, "{}", t.name());
        let (a, b) = (f.get("q").unwrap(), g.get("q").unwrap());
        for stage in Stage::ALL {
            for (bs, l) in [
                (1.0, 1.0),
                (4.0, 512.0),
                (8.0, 1024.0),
                (3.0, 777.0),
                (64.0, 16384.0),
            ] {
                let (pa, pb) = (
                    a.predict_ms(stage, bs, l).unwrap(),
                    b.predict_ms(stage, bs, l).unwrap(),
                );
                assert_eq!(pa.to_bits(), pb.to_bits(), "{} {stage}", t.name());
            }
            assert!(matches!(
                a.stage(stage).predict_seconds(&[1.0, 2.0, 3.0]),
                Err(PredictError::FeatureCount {
                    expected: 4,
                    got: 3,
                    ..
                })
            ));
            assert!(matches!(
                a.stage(stage).predict_seconds(&[1.0, f64::NAN, 3.0, 4.0]),
                Err(PredictError::NonFinite { .. })
            ));
        }
        let shape = BatchShape::decode(8, 1024);
        assert_eq!(a.step_time(&shape).to_bits(), b.step_time(&shape).to_bits());
        if t != Trainer::Linear {
            assert!(matches!(
                f.to_seed_value(),
                Err(PredictError::Format { .. })
            ));
        }
    }
}
