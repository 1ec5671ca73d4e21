//! `llm-perf predict` with the serving tuner's state model (msserviceprofiler batch profiles),
//! XGBoost JSON models, and the training-range warnings of `predict query`.
//!
//! The batch profile is `crates/perf-predict/tests/fixtures/ms_batches_invented.csv`: the
//! layout of msserviceprofiler's `pretrain_data.json`, values invented from a formula in µs
//! (the real file's licence text is not shipped with this repository).
#![allow(clippy::float_cmp)] // hand-computed predictions must match exactly

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn fixture() -> PathBuf {
    repo("crates/perf-predict/tests/fixtures/ms_batches_invented.csv")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llm-perf"))
        .args(args)
        .output()
        .expect("the llm-perf binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs and asserts success.
fn ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// Runs and asserts exit code 2 with `needle` in the message.
fn fails(args: &[&str], needle: &str) {
    let out = run(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert!(
        stderr(&out).contains(needle),
        "{args:?}: expected `{needle}` in {}",
        stderr(&out)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The `X ms` a query prints.
fn ms(out: &Output) -> f64 {
    stdout(out)
        .trim()
        .strip_suffix(" ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("not `X ms`: {}", stdout(out)))
}

fn train_state(dir: &Path) -> PathBuf {
    let out_file = dir.join("p.json");
    let out = ok(&[
        "predict",
        "train",
        "--profile",
        s(&fixture()),
        "--config",
        "npu",
        "--out",
        s(&out_file),
    ]);
    let text = stdout(&out);
    assert!(
        text.contains("trained a state model (gbdt on 160 features) for `npu`"),
        "{text}"
    );
    assert!(
        text.contains(
            "batches: 132 (14 prefill, 118 decode); model_execute_time read in µs (÷ 1000 → ms)"
        ),
        "{text}"
    );
    assert!(
        text.contains("split (seed 2024): 119 train / 13 held-out rows"),
        "{text}"
    );
    assert!(text.contains("batch_size [1, 8]"), "{text}");
    assert!(stderr(&out).is_empty(), "no unit warning: {}", stderr(&out));
    out_file
}

#[test]
fn trains_the_state_model_and_queries_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = train_state(dir.path());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(v["version"], 2);
    let m = &v["state_models"]["npu"];
    assert_eq!(m["regressor"]["kind"], "gbdt");
    assert_eq!(m["metadata"]["time_unit"], "µs");
    let held_out = m["validation"]["test"]["mape"].as_f64().unwrap();
    assert!(held_out < 5.0, "held-out MAPE {held_out} %");

    // Inside the training ranges: no warning, and close to the fixture's formula
    // (9000 + 310·4 + 0.45·(4·900 + 4·45) µs = 11.941 ms).
    let inside = ok(&[
        "predict",
        "query",
        s(&file),
        "npu",
        "--bs",
        "4",
        "--input-len",
        "900",
        "--output-len",
        "45",
        "--need-blocks",
        "10",
    ]);
    assert!(stderr(&inside).is_empty(), "{}", stderr(&inside));
    let t = ms(&inside);
    assert!((t - 11.941).abs() < 0.1 * 11.941, "{t}");

    // The same batch as explicit requests gives the same features, so the same time.
    let req = ["--request", "900,10,45"];
    let mut args = vec!["predict", "query", s(&file), "npu"];
    for _ in 0..4 {
        args.extend(req);
    }
    let explicit = ok(&args);
    assert_eq!(stdout(&explicit), stdout(&inside));

    // Far outside: the warning names the variable, the value and the range.
    let outside = ok(&[
        "predict",
        "query",
        s(&file),
        "npu",
        "--bs",
        "4e9",
        "--input-len",
        "900",
        "--output-len",
        "45",
        "--need-blocks",
        "10",
    ]);
    let err = stderr(&outside);
    assert!(
        err.contains("warning: state model `npu` extrapolates: batch_size = 4000000000 is outside the training range [1, 8]"),
        "{err}"
    );
    assert!(ms(&outside).is_finite());

    // show lists it; the prefill mode of `predict view` style queries works too.
    let show = ok(&["predict", "show", s(&file)]);
    assert!(stdout(&show).contains("state model `npu` (gbdt, 160 features → ms)"));
    let pre = ok(&[
        "predict",
        "query",
        s(&file),
        "npu",
        "--mode",
        "prefill",
        "--bs",
        "2",
        "--input-len",
        "800",
    ]);
    // 18000 + 52·1600 + 0.004·2·800² µs = 106.3 ms.
    let t = ms(&pre);
    assert!((t - 106.3).abs() < 0.2 * 106.3, "{t}");
}

#[test]
fn microseconds_read_as_ms_warn_of_a_unit_error() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("p.json");
    let out = ok(&[
        "predict",
        "train",
        "--profile",
        s(&fixture()),
        "--config",
        "npu",
        "--time-unit",
        "ms",
        "--out",
        s(&out_file),
    ]);
    let err = stderr(&out);
    assert!(
        err.contains("warning: 132 of 132 measured step times are outside 1…3000 ms"),
        "{err}"
    );
    let q = ok(&[
        "predict",
        "query",
        s(&out_file),
        "npu",
        "--bs",
        "4",
        "--input-len",
        "900",
        "--output-len",
        "45",
    ]);
    assert!(
        stderr(&q).contains("outside 1…3000 ms: a unit error?"),
        "{}",
        stderr(&q)
    );
}

#[test]
fn bad_batch_profiles_name_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture()).unwrap();
    let bad = text.replacen("(544, 7, 9)", "(544, x, 9)", 1);
    assert_ne!(bad, text);
    let path = dir.path().join("pretrain_data.json");
    std::fs::write(&path, bad).unwrap();
    let out = dir.path().join("p.json");
    fails(
        &[
            "predict",
            "train",
            "--profile",
            s(&path),
            "--config",
            "c",
            "--out",
            s(&out),
        ],
        "pretrain_data.json: row 2, column `('input_length', 'need_blocks', 'output_length')`",
    );
    let zero = text.replacen("48050.18", "0.0", 1);
    std::fs::write(&path, zero).unwrap();
    fails(
        &[
            "predict",
            "train",
            "--profile",
            s(&path),
            "--config",
            "c",
            "--out",
            s(&out),
        ],
        "row 1, column `model_execute_time`: 0: step times must be > 0",
    );
    fails(
        &[
            "predict",
            "train",
            "--profile",
            s(&fixture()),
            "--config",
            "c",
            "--out",
            s(&out),
            "--kind",
            "linear",
        ],
        "drop --kind or use --kind gbdt",
    );
}

#[test]
fn step_predictor_queries_warn_outside_the_training_range() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.json");
    let sweep = repo(
        "samples/readers/profiles/llm-profiler/A100_benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.v2.json",
    );
    ok(&[
        "predict",
        "train",
        "--profile",
        s(&sweep),
        "--config",
        "qwen",
        "--out",
        s(&file),
    ]);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(v["version"], 1, "no state model: still version 1");
    assert_eq!(
        v["configs"]["qwen"]["training_ranges"]["decode"]["batch_size"],
        serde_json::json!({"min": 1.0, "max": 64.0})
    );
    let inside = ok(&[
        "predict",
        "query",
        s(&file),
        "qwen",
        "--mode",
        "decode",
        "--bs",
        "8",
        "--input-len",
        "1024",
    ]);
    assert!(stderr(&inside).is_empty(), "{}", stderr(&inside));
    let outside = ok(&[
        "predict",
        "query",
        s(&file),
        "qwen",
        "--mode",
        "decode",
        "--bs",
        "4e9",
        "--input-len",
        "1024",
    ]);
    assert_eq!(
        stderr(&outside).trim(),
        "warning: `qwen` (decode) extrapolates: batch_size = 4000000000 is outside the training range [1, 64]"
    );
    // A seed file keeps the sweep's metadata: its tested sizes are the range.
    let seed = dir.path().join("seed.json");
    ok(&[
        "predict",
        "train",
        "--profile",
        s(&sweep),
        "--config",
        "qwen",
        "--out",
        s(&seed),
        "--seed-format",
    ]);
    let outside = ok(&[
        "predict",
        "query",
        s(&seed),
        "qwen",
        "--mode",
        "prefill",
        "--bs",
        "1",
        "--input-len",
        "1e6",
    ]);
    assert!(
        stderr(&outside).contains("input_len = 1000000 is outside the training range [1, 16384]"),
        "{}",
        stderr(&outside)
    );
    // A file without ranges or metadata: the query says it cannot tell.
    let bare = dir.path().join("bare.json");
    std::fs::write(
        &bare,
        r#"{"c": {"prefill": {"weights": [1e-5, 0, 1e-5, 0], "bias": 0.01, "model_type": "linear"},
                  "decode": {"weights": [1e-6, 1e-8, 1e-8, 1e-6], "bias": 0.005, "model_type": "linear"}}}"#,
    )
    .unwrap();
    let q = ok(&[
        "predict",
        "query",
        s(&bare),
        "c",
        "--mode",
        "decode",
        "--bs",
        "8",
        "--input-len",
        "100",
    ]);
    assert_eq!(stdout(&q), "5.032 ms\n"); // 1000 · (0.005 + 2 · 8e-6 + 2 · 800e-8)
    assert!(
        stderr(&q).contains("note: `c` (decode) has no stored training range"),
        "{}",
        stderr(&q)
    );
}

/// Three trees on 3 features, base_score 0.5 (the same model as perf-predict's test):
/// tree 0: f0 < 2.5 (missing → left) ? 1 : (f1 < 10 (missing → right) ? 2 : 4);
/// tree 1: f2 < 0.5 (missing → right) ? −0.25 : 0.5; tree 2: leaf 0.125.
const HAND_MODEL: &str = r#"{"learner": {
  "learner_model_param": {"base_score": "5E-1", "num_feature": "3", "num_class": "0", "num_target": "1"},
  "objective": {"name": "reg:squarederror"},
  "gradient_booster": {"name": "gbtree", "model": {"tree_info": [0, 0, 0], "trees": [
    {"left_children": [1, -1, 3, -1, -1], "right_children": [2, -1, 4, -1, -1], "split_indices": [0, 0, 1, 0, 0],
     "split_conditions": [2.5, 1.0, 10.0, 2.0, 4.0], "default_left": [1, 0, 0, 0, 0], "base_weights": [0, 0, 0, 0, 0]},
    {"left_children": [1, -1, -1], "right_children": [2, -1, -1], "split_indices": [2, 0, 0],
     "split_conditions": [0.5, -0.25, 0.5], "default_left": [0, 0, 0], "base_weights": [0, 0, 0]},
    {"left_children": [-1], "right_children": [-1], "split_indices": [0], "split_conditions": [0.125],
     "default_left": [0], "base_weights": [0]}]}}}}"#;

const HAND_DUMP: &str = r#"[
  {"nodeid": 0, "depth": 0, "split": "f0", "split_condition": 2.5, "yes": 1, "no": 2, "missing": 1, "children": [
    {"nodeid": 1, "leaf": 1},
    {"nodeid": 2, "depth": 1, "split": "f1", "split_condition": 10, "yes": 3, "no": 4, "missing": 4, "children": [
      {"nodeid": 3, "leaf": 2}, {"nodeid": 4, "leaf": 4}]}]},
  {"nodeid": 0, "depth": 0, "split": "f2", "split_condition": 0.5, "yes": 1, "no": 2, "missing": 2, "children": [
    {"nodeid": 1, "leaf": -0.25}, {"nodeid": 2, "leaf": 0.5}]},
  {"nodeid": 0, "leaf": 0.125}
]"#;

#[test]
fn xgboost_models_are_queried_and_imported() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.json");
    let dump = dir.path().join("d.json");
    std::fs::write(&model, HAND_MODEL).unwrap();
    std::fs::write(&dump, HAND_DUMP).unwrap();
    // base + tree 0 + tree 1 + tree 2, computed by hand.
    for (features, expected) in [
        ("1,0,0", "1.375"),     // 0.5 + 1 − 0.25 + 0.125
        ("3,10,1", "5.125"),    // 0.5 + 4 + 0.5 + 0.125
        ("3,9.5,nan", "3.125"), // f2 missing → right: 0.5 + 2 + 0.5 + 0.125
        ("nan,nan,0.4", "1.375"),
    ] {
        let out = ok(&[
            "predict",
            "query",
            "--xgboost",
            s(&model),
            "--features",
            features,
        ]);
        assert_eq!(stdout(&out), format!("{expected}\n"), "{features}");
        let out = ok(&[
            "predict",
            "query",
            "--xgboost",
            s(&dump),
            "--base-score",
            "0.5",
            "--features",
            features,
        ]);
        assert_eq!(stdout(&out), format!("{expected}\n"), "dump {features}");
    }
    fails(
        &[
            "predict",
            "query",
            "--xgboost",
            s(&dump),
            "--features",
            "1,0,0",
        ],
        "does not record base_score: give --base-score",
    );
    fails(
        &[
            "predict",
            "query",
            "--xgboost",
            s(&model),
            "--features",
            "1,0",
        ],
        "expected 3 features, got 2",
    );
    // A 3-feature model is not a state model.
    let out = dir.path().join("p.json");
    fails(
        &[
            "predict",
            "train",
            "--xgboost",
            s(&model),
            "--config",
            "x",
            "--out",
            s(&out),
        ],
        "the model takes 3 features, a state model 160",
    );
    // Given as a predictors file, it says what it is.
    fails(
        &[
            "predict",
            "query",
            s(&model),
            "x",
            "--mode",
            "decode",
            "--bs",
            "1",
            "--input-len",
            "1",
        ],
        "an XGBoost model, not a predictors file",
    );
    let categorical = HAND_MODEL.replacen(
        "\"default_left\": [1, 0, 0, 0, 0]",
        "\"split_type\": [0, 0, 1, 0, 0], \"default_left\": [1, 0, 0, 0, 0]",
        1,
    );
    std::fs::write(&model, categorical).unwrap();
    fails(
        &[
            "predict",
            "query",
            "--xgboost",
            s(&model),
            "--features",
            "1,0,0",
        ],
        "not supported: learner.gradient_booster.model.trees[0].split_type[2] = 1: categorical splits",
    );
}

#[test]
fn an_imported_xgboost_state_model_is_a_cost_model() {
    let dir = tempfile::tempdir().unwrap();
    // batch_size (feature 1) < 4.5 ? 10 : 20, plus batch_stage (feature 0) < 0.5 ? 0 : 30; base 1.
    let model = dir.path().join("state.json");
    std::fs::write(
        &model,
        r#"{"learner": {"learner_model_param": {"base_score": "1E0", "num_feature": "160"},
          "objective": {"name": "reg:squarederror"},
          "gradient_booster": {"name": "gbtree", "model": {"trees": [
            {"left_children": [1, -1, -1], "right_children": [2, -1, -1], "split_indices": [1, 0, 0],
             "split_conditions": [4.5, 10.0, 20.0], "default_left": [0, 0, 0]},
            {"left_children": [1, -1, -1], "right_children": [2, -1, -1], "split_indices": [0, 0, 0],
             "split_conditions": [0.5, 0.0, 30.0], "default_left": [0, 0, 0]}]}}}}"#,
    )
    .unwrap();
    let file = dir.path().join("p.json");
    let out = ok(&[
        "predict",
        "train",
        "--xgboost",
        s(&model),
        "--config",
        "seed",
        "--out",
        s(&file),
    ]);
    assert!(
        stdout(&out).contains(
            "(2 trees, reg:squarederror, base_score 1; output in ms) as state model `seed`"
        ),
        "{}",
        stdout(&out)
    );
    let q = |extra: &[&str]| {
        let mut args = vec!["predict", "query", s(&file), "seed"];
        args.extend_from_slice(extra);
        let out = ok(&args);
        (ms(&out), stderr(&out))
    };
    let (t, err) = q(&["--bs", "4", "--input-len", "100", "--output-len", "3"]);
    assert_eq!(t, 11.0);
    assert!(err.contains("has no stored training range"), "{err}");
    assert_eq!(
        q(&["--bs", "8", "--input-len", "100", "--output-len", "3"]).0,
        21.0
    );
    assert_eq!(q(&["--request", "100,1,0"]).0, 41.0);
    let mut row = vec!["0"; 160];
    row[0] = "1";
    row[1] = "9";
    assert_eq!(q(&["--features", &row.join(",")]).0, 51.0);
}
