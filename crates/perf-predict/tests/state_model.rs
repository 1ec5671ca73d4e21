//! The serving tuner's state model on an invented msserviceprofiler batch profile
//! (`tests/fixtures/ms_batches_invented.csv`, same layout as the real `pretrain_data.json`,
//! values made up from a formula in µs), and XGBoost JSON models written by hand.
#![allow(clippy::float_cmp)] // hand-computed predictions must match exactly

use std::path::Path;

use perf_model_core::{BatchShape, StepTimeModel};
use perf_predict::state::{NUM_STATE_FEATURES, StateTrainParams};
use perf_predict::xgboost::DumpOptions;
use perf_predict::{
    PredictError, PredictorFile, RangeCheck, ShapeApprox, Stage, StateBatch, StateModel,
    StateRequest, StateSample, XgbModel,
};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/ms_batches_invented.csv"
);

/// The fixture as state samples; `ms_per_unit` converts its `model_execute_time`.
fn samples(ms_per_unit: f64) -> Vec<StateSample> {
    let bytes = std::fs::read(FIXTURE).unwrap();
    let rows = perf_readers::read_ms_batches(&bytes, FIXTURE).unwrap();
    rows.iter()
        .map(|r| StateSample {
            batch: StateBatch {
                stage: match r.stage {
                    perf_readers::Stage::Prefill => Stage::Prefill,
                    _ => Stage::Decode,
                },
                batch_size: f64::from(r.batch_size),
                total_need_blocks: r.total_need_blocks as f64,
                total_prefill_token: r.total_prefill_tokens as f64,
                max_seq_len: r.max_seq_len as f64,
                requests: r
                    .requests
                    .iter()
                    .map(|q| StateRequest {
                        input_length: q.input_length as f64,
                        need_blocks: q.need_blocks as f64,
                        output_length: q.output_length as f64,
                    })
                    .collect(),
            },
            model_execute_ms: r.model_execute_time * ms_per_unit,
        })
        .collect()
}

#[test]
fn features_of_the_first_rows() {
    let s = samples(1e-3);
    assert_eq!(s.len(), 132);
    // "('prefill', 1.0, 7, 544, 544, 48050.18)","((544, 7, 0),)"
    let x = s[0].batch.features().unwrap();
    assert_eq!(x.len(), NUM_STATE_FEATURES);
    assert_eq!(&x[..7], &[1.0, 1.0, 7.0, 544.0, 544.0, 0.0, 544.0]);
    let ones: Vec<usize> = (7..160).filter(|&i| x[i] != 0.0).collect();
    assert_eq!(ones, vec![7 + 6, 58 + 7, 109]);
    assert!((s[0].model_execute_ms - 48.05018).abs() < 1e-12);
    // "('decode', 1.0, 7, 544, 544, 9454.23)","((544, 7, 9),)": output 9 → bin [0, 10).
    let x = s[1].batch.features().unwrap();
    assert_eq!(&x[..7], &[0.0, 1.0, 7.0, 544.0, 544.0, 9.0, 553.0]);
    assert_eq!(x[109], 1.0);
}

#[test]
fn trains_deterministically_and_scores() {
    let s = samples(1e-3);
    let params = StateTrainParams::default();
    let fit = StateModel::train(&s, &params).unwrap();
    let again = StateModel::train(&s, &params).unwrap();
    assert_eq!(fit, again, "same seed, same model");
    let v = fit.model.validation.clone().unwrap();
    assert_eq!((v.train.rows, v.test.rows), (119, 13));
    // The fixture follows a smooth formula with ±3 % noise: the held-out error is small.
    assert!(v.test.mape < 5.0 && v.test.rmse < 3.0, "{v:?}");
    assert!(v.train.mape <= v.test.mape, "{v:?}");
    assert!(fit.warnings().is_empty(), "{:?}", fit.warnings());
    let other = StateModel::train(
        &s,
        &StateTrainParams {
            seed: 7,
            ..params.clone()
        },
    )
    .unwrap();
    assert_ne!(other.model.validation, fit.model.validation);

    // Ranges of the training part (the fixture's batches hold 1 to 8 requests).
    let r = fit.model.training_ranges.get("batch_size").unwrap();
    assert_eq!((r.min, r.max), (1.0, 8.0));
    let mut huge = s[5].batch.clone();
    huge.batch_size = 4e9;
    let RangeCheck::Outside(out) = fit.model.range_check(&huge) else {
        panic!("4e9 requests is outside")
    };
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].to_string(),
        "batch_size = 4000000000 is outside the training range [1, 8]"
    );
    assert_eq!(fit.model.range_check(&s[5].batch), RangeCheck::Inside);

    // As a simulator cost model: the step's features are the approximation's, and a decode
    // of 4 requests over 1000 tokens is near the fixture's formula (9000 + 310·4 + 0.45·4000 µs).
    let shape = BatchShape::decode(4, 1000);
    let x = fit.model.approximation.features(&shape).unwrap();
    let ms = fit.model.step_time(&shape);
    assert_eq!(
        ms.to_bits(),
        fit.model.predict_features_ms(&x).unwrap().to_bits()
    );
    assert!((ms - 12.04).abs() < 0.15 * 12.04, "{ms}");
    assert_eq!(fit.model.shape_range_check(&shape), RangeCheck::Inside);
    assert!(matches!(
        fit.model
            .shape_range_check(&BatchShape::decode(4_000_000, 1000)),
        RangeCheck::Outside(_)
    ));
    assert_eq!(fit.model.step_time(&BatchShape::default()).to_bits(), 0);
}

#[test]
fn microseconds_read_as_ms_are_flagged() {
    let fit = StateModel::train(&samples(1.0), &StateTrainParams::default()).unwrap();
    assert_eq!(fit.implausible_targets.len(), 132);
    assert_eq!(fit.implausible_predictions.len(), 132);
    let w = fit.warnings();
    assert_eq!(w.len(), 2);
    assert!(
        w[0].starts_with(
            "132 of 132 measured step times are outside 1…3000 ms (rows 0, 1, 2, 3, 4, …)"
        ),
        "{w:?}"
    );
}

#[test]
fn bad_rows_are_typed_errors() {
    let mut s = samples(1e-3);
    s[3].model_execute_ms = 0.0;
    match StateModel::train(&s, &StateTrainParams::default()) {
        Err(
            e @ PredictError::InvalidParam {
                name: "model_execute_time",
                ..
            },
        ) => {
            assert!(e.to_string().contains("row 3: 0"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    let mut s = samples(1e-3);
    s[4].batch.requests[0].input_length = f64::NAN;
    assert!(matches!(
        StateModel::train(&s, &StateTrainParams::default()),
        Err(PredictError::NonFinite { row: 4, ref field, .. }) if field == "requests[0].input_length"
    ));
    assert!(matches!(
        StateModel::train(&s[..3], &StateTrainParams::default()),
        Err(PredictError::TooFewRows { needed: 4, got: 3 })
    ));
}

#[test]
fn predictor_file_round_trip_and_versions() {
    let fit = StateModel::train(&samples(1e-3), &StateTrainParams::default()).unwrap();
    let mut file = PredictorFile::new();
    file.insert_state("npu-state", fit.model.clone());
    let text = file.to_json_string().unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["version"], 2);
    assert_eq!(v["state_models"]["npu-state"]["regressor"]["kind"], "gbdt");
    let back = PredictorFile::from_json_str(&text, Path::new("p.json")).unwrap();
    assert_eq!(back, file);
    let m = back.get_state("npu-state").unwrap();
    for shape in [
        BatchShape::decode(3, 700),
        BatchShape::prefill(900),
        BatchShape::decode(8, 2500),
    ] {
        assert_eq!(
            m.step_time(&shape).to_bits(),
            fit.model.step_time(&shape).to_bits()
        );
    }
    assert!(
        file.to_seed_value().is_err(),
        "the seed format has no state models"
    );
    assert!(matches!(
        file.get("npu-state"),
        Err(PredictError::UnknownName { .. })
    ));
    // A corrupt feature count is refused on loading.
    let bad = text.replace("\"n_features\": 160", "\"n_features\": 4");
    assert_ne!(bad, text);
    assert!(PredictorFile::from_json_str(&bad, Path::new("p.json")).is_err());
    // A version-1 file (no ranges, no state models) still loads, and is written back as 1.
    let old = r#"{"format": "llm-perf/predictor", "version": 1, "configs": {"c": {
        "prefill": {"kind": "linear", "weights": [1e-5, 0, 1e-5, 0], "bias": 0.01},
        "decode": {"kind": "linear", "weights": [1e-6, 1e-8, 1e-8, 1e-6], "bias": 0.005}}}}"#;
    let f = PredictorFile::from_json_str(old, Path::new("old.json")).unwrap();
    assert_eq!(
        f.get("c").unwrap().range_check(Stage::Decode, 4e9, 10.0),
        RangeCheck::Unknown
    );
    let v: serde_json::Value = serde_json::from_str(&f.to_json_string().unwrap()).unwrap();
    assert_eq!(v["version"], 1);
}

/// Three trees on 3 features, base_score 0.5:
/// * tree 0: f0 < 2.5 (missing → left) ? 1.0 : (f1 < 10 (missing → right) ? 2.0 : 4.0)
/// * tree 1: f2 < 0.5 (missing → right) ? −0.25 : 0.5
/// * tree 2: a single leaf 0.125
const HAND_MODEL: &str = r#"{
  "learner": {
    "attributes": {},
    "feature_names": [], "feature_types": [],
    "gradient_booster": {
      "model": {
        "gbtree_model_param": {"num_parallel_tree": "1", "num_trees": "3"},
        "iteration_indptr": [0, 1, 2, 3],
        "tree_info": [0, 0, 0],
        "trees": [
          {"id": 0, "left_children": [1, -1, 3, -1, -1], "right_children": [2, -1, 4, -1, -1],
           "parents": [2147483647, 0, 0, 2, 2], "split_indices": [0, 0, 1, 0, 0],
           "split_conditions": [2.5, 1.0, 10.0, 2.0, 4.0], "split_type": [0, 0, 0, 0, 0],
           "default_left": [1, 0, 0, 0, 0], "base_weights": [0.3, 3.3, 1.0, 6.6, 13.3],
           "loss_changes": [1, 0, 1, 0, 0], "sum_hessian": [5, 2, 3, 1, 2],
           "categories": [], "categories_nodes": [], "categories_segments": [], "categories_sizes": [],
           "tree_param": {"num_deleted": "0", "num_feature": "3", "num_nodes": "5", "size_leaf_vector": "1"}},
          {"id": 1, "left_children": [1, -1, -1], "right_children": [2, -1, -1],
           "parents": [2147483647, 0, 0], "split_indices": [2, 0, 0],
           "split_conditions": [0.5, -0.25, 0.5], "split_type": [0, 0, 0],
           "default_left": [0, 0, 0], "base_weights": [0, -0.8, 1.6],
           "loss_changes": [1, 0, 0], "sum_hessian": [5, 2, 3],
           "categories": [], "categories_nodes": [], "categories_segments": [], "categories_sizes": [],
           "tree_param": {"num_deleted": "0", "num_feature": "3", "num_nodes": "3", "size_leaf_vector": "1"}},
          {"id": 2, "left_children": [-1], "right_children": [-1], "parents": [2147483647],
           "split_indices": [0], "split_conditions": [0.125], "split_type": [0],
           "default_left": [0], "base_weights": [0.4], "loss_changes": [0], "sum_hessian": [5],
           "categories": [], "categories_nodes": [], "categories_segments": [], "categories_sizes": [],
           "tree_param": {"num_deleted": "0", "num_feature": "3", "num_nodes": "1", "size_leaf_vector": "1"}}
        ]
      },
      "name": "gbtree"
    },
    "learner_model_param": {"base_score": "5E-1", "boost_from_average": "1", "num_class": "0",
                            "num_feature": "3", "num_target": "1"},
    "objective": {"name": "reg:squarederror", "reg_loss_param": {"scale_pos_weight": "1"}}
  },
  "version": [2, 0, 3]
}"#;

/// The same trees as `get_dump(dump_format="json")` / `dump_model` writes them.
const HAND_DUMP: &str = r#"[
  { "nodeid": 0, "depth": 0, "split": "f0", "split_condition": 2.5, "yes": 1, "no": 2, "missing": 1 , "children": [
    { "nodeid": 1, "leaf": 1 },
    { "nodeid": 2, "depth": 1, "split": "f1", "split_condition": 10, "yes": 3, "no": 4, "missing": 4 , "children": [
      { "nodeid": 3, "leaf": 2 },
      { "nodeid": 4, "leaf": 4 }
    ]}
  ]},
  "{ \"nodeid\": 0, \"depth\": 0, \"split\": \"f2\", \"split_condition\": 0.5, \"yes\": 1, \"no\": 2, \"missing\": 2, \"children\": [{ \"nodeid\": 1, \"leaf\": -0.25 }, { \"nodeid\": 2, \"leaf\": 0.5 }]}",
  { "nodeid": 0, "leaf": 0.125 }
]"#;

#[test]
fn hand_written_xgboost_model_and_dump_predict_exactly() {
    let model = XgbModel::from_json_str(HAND_MODEL, Path::new("hand.json")).unwrap();
    let dump = XgbModel::from_dump_str(
        HAND_DUMP,
        Path::new("hand-dump.json"),
        DumpOptions {
            base_score: 0.5,
            num_feature: Some(3),
        },
    )
    .unwrap();
    assert_eq!((model.num_trees(), model.num_features()), (3, 3));
    assert_eq!(model.base_score(), 0.5);
    let nan = f64::NAN;
    // base + tree 0 + tree 1 + tree 2, by hand.
    let cases = [
        ([1.0, 0.0, 0.0], 0.5 + 1.0 - 0.25 + 0.125),
        ([3.0, 10.0, 1.0], 0.5 + 4.0 + 0.5 + 0.125), // 10 < 10 is false: right
        ([3.0, 9.5, nan], 0.5 + 2.0 + 0.5 + 0.125),  // f2 missing: default right
        ([nan, nan, 0.4], 0.5 + 1.0 - 0.25 + 0.125), // f0 missing: default left
        ([2.5, 0.0, 0.0], 0.5 + 2.0 - 0.25 + 0.125), // 2.5 < 2.5 is false: right
        // 2.49999999 is 2.5 in f32, as XGBoost reads it: right, not left.
        ([2.499_999_99, 0.0, 0.0], 0.5 + 2.0 - 0.25 + 0.125),
        ([3.0, nan, 0.5], 0.5 + 4.0 + 0.5 + 0.125), // f1 missing: default right
    ];
    for (x, expected) in cases {
        assert_eq!(model.predict(&x).unwrap(), expected, "{x:?}");
        assert_eq!(dump.predict(&x).unwrap(), expected, "dump {x:?}");
    }
    // The stored layout round-trips.
    let v = serde_json::to_value(&model).unwrap();
    assert_eq!(serde_json::from_value::<XgbModel>(v).unwrap(), model);
    // Dump without the feature count: the largest split index + 1.
    let d = XgbModel::from_dump_str(
        HAND_DUMP,
        Path::new("d"),
        DumpOptions {
            base_score: 0.5,
            num_feature: None,
        },
    )
    .unwrap();
    assert_eq!(d.num_features(), 3);
    // A JSON model is not a dump and vice versa.
    assert!(XgbModel::from_json_str(HAND_DUMP, Path::new("d")).is_err());
    let opts = DumpOptions {
        base_score: 0.5,
        num_feature: None,
    };
    assert!(XgbModel::from_dump_str(HAND_MODEL, Path::new("m"), opts).is_err());
    let named = HAND_DUMP.replacen("\"f0\"", "\"batch_size\"", 1);
    assert!(matches!(
        XgbModel::from_dump_str(&named, Path::new("d"), opts),
        Err(PredictError::Unsupported { .. })
    ));
    let categorical = HAND_MODEL.replacen(
        "\"split_type\": [0, 0, 0, 0, 0]",
        "\"split_type\": [1, 0, 0, 0, 0]",
        1,
    );
    match XgbModel::from_json_str(&categorical, Path::new("cat.json")) {
        Err(e @ PredictError::Unsupported { .. }) => assert_eq!(
            e.to_string(),
            "cat.json: not supported: learner.gradient_booster.model.trees[0].split_type[0] = 1: categorical splits"
        ),
        other => panic!("{other:?}"),
    }
}

/// An XGBoost model on the 160 state features used as the simulator's step-time model:
/// tree 0 splits on batch_size (feature 1) at 4.5, tree 1 on batch_stage (feature 0) at 0.5.
#[test]
fn xgboost_state_model_as_step_time_model() {
    let json = r#"{"learner": {
      "learner_model_param": {"base_score": "1E0", "num_feature": "160", "num_class": "0", "num_target": "1"},
      "objective": {"name": "reg:squarederror"},
      "gradient_booster": {"name": "gbtree", "model": {"tree_info": [0, 0], "trees": [
        {"left_children": [1, -1, -1], "right_children": [2, -1, -1], "split_indices": [1, 0, 0],
         "split_conditions": [4.5, 10.0, 20.0], "default_left": [0, 0, 0], "base_weights": [0, 0, 0]},
        {"left_children": [1, -1, -1], "right_children": [2, -1, -1], "split_indices": [0, 0, 0],
         "split_conditions": [0.5, 0.0, 30.0], "default_left": [0, 0, 0], "base_weights": [0, 0, 0]}]}}}}"#;
    let xgb = XgbModel::from_json_str(json, Path::new("state.json")).unwrap();
    let m = StateModel::from_xgboost(xgb.clone(), 1.0).unwrap();
    assert_eq!(m.step_time(&BatchShape::decode(4, 100)), 1.0 + 10.0);
    assert_eq!(m.step_time(&BatchShape::decode(8, 100)), 1.0 + 20.0);
    assert_eq!(m.step_time(&BatchShape::prefill(100)), 1.0 + 10.0 + 30.0);
    let mut mixed = BatchShape::decode(4, 100);
    mixed.add_prefill(50, 0, true); // 5 requests, a decode step
    assert_eq!(m.step_time(&mixed), 1.0 + 20.0);
    // A model of µs.
    let us = StateModel::from_xgboost(xgb, 1e-3).unwrap();
    assert_eq!(us.step_time(&BatchShape::decode(4, 100)), 11.0 * 1e-3);
    assert_eq!(
        us.range_check(&StateBatch::from_requests(Stage::Decode, vec![])),
        RangeCheck::Unknown
    );
    // Saved in a predictor file and loaded back.
    let mut f = PredictorFile::new();
    f.insert_state("seed-xgb", m.clone());
    let back = PredictorFile::from_json_str(&f.to_json_string().unwrap(), Path::new("p")).unwrap();
    assert_eq!(back.get_state("seed-xgb").unwrap(), &m);
    // Another feature count is not a state model.
    let small = XgbModel::from_json_str(HAND_MODEL, Path::new("hand.json")).unwrap();
    assert!(matches!(
        StateModel::from_xgboost(small, 1.0),
        Err(PredictError::FeatureCount {
            expected: 160,
            got: 3,
            ..
        })
    ));
    assert_eq!(ShapeApprox::default().blocks_per_token, 1.0 / 128.0);
}
