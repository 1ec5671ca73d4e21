//! Property tests: no input makes the readers, the fits or the predictors panic.

use std::path::Path;

use perf_model_core::{BatchShape, StepTimeModel};
use perf_predict::together::{BenchmarkStore, EstimateQuery, read_together_csv};
use perf_predict::{
    LinearModel, PredictorFile, ShapeApprox, StageModel, StateModel, StepPredictor, XgbModel,
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 256,
        // A fixed seed: CI runs the same cases every time (set PROPTEST_CASES / edit the
        // seed to explore further).
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_11f0),
        ..proptest::test_runner::Config::default()
    })]
    #[test]
    fn together_csv_never_panics(s in "\\PC{0,200}") {
        let _ = read_together_csv(s.as_bytes(), Path::new("fuzz.csv"));
    }

    #[test]
    fn predictor_json_never_panics(s in "\\PC{0,200}") {
        let _ = PredictorFile::from_json_str(&s, Path::new("fuzz.json"));
    }

    #[test]
    fn linear_fit_never_panics(
        rows in proptest::collection::vec(proptest::collection::vec(prop_oneof![any::<f64>(), -1e6..1e6f64], 0..6), 0..12),
        y in proptest::collection::vec(prop_oneof![any::<f64>(), -1e3..1e3f64], 0..12),
    ) {
        let _ = LinearModel::fit(&rows, &y);
    }

    #[test]
    fn step_time_is_finite_and_non_negative(
        ps in any::<u32>(), pt in any::<u64>(), psq in any::<u64>(), pc in any::<u64>(), px in any::<u64>(),
        ds in any::<u32>(), dc in any::<u64>(),
    ) {
        let m = |w: [f64; 4], b| StageModel::Linear(LinearModel::new(w.to_vec(), b, None).unwrap());
        let p = StepPredictor::new(m([1.6e-5, 1.3e-9, 1.6e-5, -5.6e-6], 8.5e-3), m([8.5e-6, 4.4e-8, 4.4e-8, 8.5e-6], 7.5e-3));
        let b = BatchShape { prefill_seqs: ps, prefill_tokens: pt, prefill_tokens_sq: psq, prefill_cached: pc, prefill_cross: px, decode_seqs: ds, decode_context: dc, logits: 0 };
        let t = p.step_time(&b);
        prop_assert!(t.is_finite() && t >= 0.0);
    }

    #[test]
    fn together_estimates_are_non_negative(i in 1.0..1e6f64, o in 1.0..1e5f64) {
        let csv = "provider_model,input_avg_len,output_avg_len,ttft_mean,user_tps_mean,e2e_p99\n\
                   m,500,100,200,50,900\nm,1000,200,300,45,950\nm,2000,100,420,40,1000\nm,1500,400,390,42,980\n";
        let mut s = BenchmarkStore::new();
        s.add_csv(csv.as_bytes(), Path::new("a.csv")).unwrap();
        let e = s.estimate("m", &EstimateQuery::new(i, o)).unwrap();
        prop_assert!(e.predictions.values().all(|v| v.is_finite() && *v >= 0.0));
    }

    #[test]
    fn xgboost_json_never_panics(
        left in proptest::collection::vec(-3i64..8, 0..6),
        right in proptest::collection::vec(-3i64..8, 0..6),
        feature in proptest::collection::vec(-1i64..5, 0..6),
        cond in proptest::collection::vec(prop_oneof![any::<f64>(), -5.0..5.0f64], 0..6),
        x in proptest::collection::vec(prop_oneof![any::<f64>(), -5.0..5.0f64], 0..5),
    ) {
        let n = left.len();
        let json = format!(
            r#"{{"learner": {{"learner_model_param": {{"base_score": "0.5", "num_feature": "4"}},
               "objective": {{"name": "reg:squarederror"}},
               "gradient_booster": {{"model": {{"trees": [{{"left_children": {left:?},
               "right_children": {right:?}, "split_indices": {feature:?},
               "split_conditions": {}, "default_left": {:?}}}]}}}}}}}}"#,
            serde_json::to_string(&cond.iter().map(|c| if c.is_finite() { *c } else { 0.0 }).collect::<Vec<_>>()).unwrap(),
            vec![1; n],
        );
        if let Ok(m) = XgbModel::from_json_str(&json, Path::new("fuzz.json")) {
            let _ = m.predict(&x);
        }
    }

    #[test]
    fn state_step_time_is_finite_and_non_negative(
        ps in any::<u32>(), pt in any::<u64>(), psq in any::<u64>(), pc in any::<u64>(), px in any::<u64>(),
        ds in any::<u32>(), dc in any::<u64>(),
        bpt in 1e-6..10.0f64, frac in 0.0..=1.0f64,
    ) {
        let json = r#"{"learner": {"learner_model_param": {"base_score": "1", "num_feature": "160"},
            "objective": {"name": "reg:squarederror"}, "gradient_booster": {"model": {"trees": [
            {"left_children": [1, -1, -1], "right_children": [2, -1, -1], "split_indices": [6, 0, 0],
             "split_conditions": [5000.0, 10.0, -20.0], "default_left": [0, 0, 0]}]}}}}"#;
        let mut m = StateModel::from_xgboost(XgbModel::from_json_str(json, Path::new("s")).unwrap(), 1.0).unwrap();
        m.approximation = ShapeApprox { blocks_per_token: bpt, decode_output_fraction: frac };
        let b = BatchShape { prefill_seqs: ps, prefill_tokens: pt, prefill_tokens_sq: psq, prefill_cached: pc, prefill_cross: px, decode_seqs: ds, decode_context: dc, logits: 0 };
        if let Some(x) = m.approximation.features(&b) {
            prop_assert!(x.iter().all(|v| v.is_finite() && *v >= 0.0), "{x:?}");
        }
        let t = m.step_time(&b);
        prop_assert!(t.is_finite() && t >= 0.0);
    }
}
