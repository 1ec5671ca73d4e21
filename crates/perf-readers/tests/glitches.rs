//! Real reports with a corrupted statistic (issue 16, item 8): a broken statistic is dropped
//! with a warning naming the file, the point and the field; it is an error only where it is
//! used (a kept point, and a statistic the fit takes).

use perf_fit::{InfernoTrainer, Loss, points_from_datasets};
use perf_model_core::PerfDataset;
use perf_model_core::inferno::QueueModel;
use perf_readers::{Format, ReadOptions, SelectOptions, read_any, read_any_with, read_bytes};

const HERE: &str = env!("CARGO_MANIFEST_DIR");

fn fixture(name: &str) -> String {
    format!("{HERE}/tests/fixtures/glitch/{name}")
}

fn sample(rel: &str) -> String {
    format!("{HERE}/../../samples/readers/{rel}")
}

fn shown(ds: &PerfDataset) -> Vec<String> {
    ds.warnings.iter().map(ToString::to_string).collect()
}

/// The seed-compatible Inferno fit (V3, weighted absolute, init (10, 0, 0), unscaled).
fn fit(ds: &PerfDataset) -> perf_fit::Result<perf_fit::FittedInferno> {
    InfernoTrainer::params()
        .model(QueueModel::V3)
        .loss(Loss::WeightedAbsolute)
        .init(10.0, 0.0, 0.0)
        .scaled(false)
        .seed_compatible(true)
        .fit_datasets(std::slice::from_ref(ds))
}

#[test]
fn a_broken_statistic_of_a_dropped_point_is_a_warning_and_the_file_fits() {
    let path = fixture("guidellm-csv-unused-glitch.json");
    let (format, ds) = read_any_with(&path, &ReadOptions::default()).unwrap();
    assert_eq!(format, Format::GuidellmCsvJson);
    // The throughput run is dropped by the selection; its broken mean is reported, not fatal.
    assert_eq!(
        shown(&ds),
        [format!(
            "{path}: $[1] (throughput), point dropped by the selection: ttft.mean = \
             -222574949: must be >= 0; dropped"
        )]
    );
    let w = &ds.warnings[0];
    assert_eq!(
        (w.point, w.field.as_str(), w.value.as_deref()),
        (None, "ttft.mean", Some("-222574949"))
    );
    // The kept points are those of the clean sample, so are the fit points and the fit.
    let clean = read_any(sample("inferno/guidellm-csv.json")).unwrap();
    assert!(clean.warnings.is_empty(), "{:?}", clean.warnings);
    assert_eq!(ds.points, clean.points);
    assert_eq!(ds.len(), 7);
    let points = points_from_datasets(std::slice::from_ref(&ds)).unwrap();
    assert_eq!(points.len(), 7);
    let fitted = fit(&ds).unwrap();
    let reference = fit(&clean).unwrap();
    assert!(fitted.loss().is_finite());
    assert_eq!(fitted.alpha().to_bits(), reference.alpha().to_bits());
    assert_eq!(fitted.beta().to_bits(), reference.beta().to_bits());
    // Kept (every point), the throughput run has no TTFT mean, and still fits on its median.
    let (_, all) = read_any_with(
        &path,
        &ReadOptions {
            select: SelectOptions::all(),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(all.len(), 10);
    assert_eq!(all.points[1].ttft().mean(), None);
    assert_eq!(all.points[1].ttft().median(), Some(140.3491497039795));
    assert_eq!(
        shown(&all),
        [format!(
            "{path}: $[1] (throughput), point 1: ttft.mean = -222574949: must be >= 0; dropped"
        )]
    );
    assert_eq!(
        points_from_datasets(std::slice::from_ref(&all))
            .unwrap()
            .len(),
        10
    );
}

#[test]
fn a_broken_statistic_the_fit_uses_is_an_error_naming_file_point_field_and_value() {
    let path = fixture("guidellm-csv-used-glitch.json");
    let ds = read_any(&path).unwrap();
    assert_eq!(ds.len(), 7);
    let warnings = shown(&ds);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(
        warnings[1],
        format!(
            "{path}: $[3] (constant@51.99), point 2: ttft.median = -187.25: must be >= 0; dropped"
        )
    );
    // The point keeps its valid statistics; the mean does not stand in for the median.
    let p = &ds.points[2];
    assert_eq!(p.ttft().median(), None);
    assert_eq!(p.ttft().mean(), Some(19.713291471296195));
    let err = points_from_datasets(std::slice::from_ref(&ds))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "{path}: $[3], point 2 (constant@51.99): ttft.median = -187.25: must be >= 0; the \
             reader dropped this statistic as broken and the fit uses it as the observed TTFT"
        )
    );
    assert_eq!(fit(&ds).unwrap_err().to_string(), err);
    // Without that point, the file fits.
    let (_, first_constant) = read_any_with(
        &path,
        &ReadOptions {
            select: SelectOptions::only(&[perf_readers::StrategyKind::Constant]).with_max_points(1),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(first_constant.points[0].label(), Some("constant@27.13"));
    assert!(points_from_datasets(std::slice::from_ref(&first_constant)).is_ok());
}

#[test]
fn vllm_bench_broken_statistics_are_dropped_with_warnings() {
    let text = std::fs::read_to_string(sample("fixtures/vllm-bench-append.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let corrupt = [
        // Run 1: a negative p99 TTFT and an infinite mean ITL.
        lines[0]
            .replace("\"p99_ttft_ms\": 80.75", "\"p99_ttft_ms\": -80.75")
            .replace("\"mean_itl_ms\": 12.75", "\"mean_itl_ms\": Infinity"),
        // Run 2: a negative output throughput and a median TPOT above its p99.
        lines[1]
            .replace(
                "\"output_throughput\": 640.0",
                "\"output_throughput\": -640.0",
            )
            .replace("\"median_tpot_ms\": 29.0", "\"median_tpot_ms\": 55.0"),
    ]
    .join("\n");
    assert_ne!(corrupt, lines[..2].join("\n"));
    let (format, ds) = read_bytes(corrupt.as_bytes(), "v.jsonl", &ReadOptions::default()).unwrap();
    assert_eq!(format, Format::VllmBench);
    assert_eq!(ds.len(), 2);
    assert_eq!(
        shown(&ds),
        [
            "v.jsonl: line 1: $ (rate=2.5), point 0: ttft.p99 = -80.75: must be >= 0; dropped",
            "v.jsonl: line 1: $ (rate=2.5), point 0: itl.mean = inf: must be a finite number; \
             dropped",
            // Nothing tells which of two contradicting quantiles is wrong: both go.
            "v.jsonl: line 2: $ (rate=inf), point 1: tpot.median = 55: above p99 = 40 \
             (quantiles must be ordered median <= p90 <= p95 <= p99); dropped",
            "v.jsonl: line 2: $ (rate=inf), point 1: tpot.p99 = 40: below median = 55 \
             (quantiles must be ordered median <= p90 <= p95 <= p99); dropped",
            "v.jsonl: line 2: $ (rate=inf), point 1: output_throughput = -640: must be >= 0; \
             dropped",
        ]
    );
    // The rest is read.
    let (a, b) = (&ds.points[0], &ds.points[1]);
    assert_eq!(a.ttft().p99(), None);
    assert_eq!(
        (a.ttft().mean(), a.ttft().median()),
        (Some(45.5), Some(42.25))
    );
    assert_eq!((a.itl().mean(), a.itl().median()), (None, Some(11.5)));
    assert_eq!(b.output_throughput(), None);
    assert_eq!((b.tpot().median(), b.tpot().p99()), (None, None));
    assert_eq!(b.tpot().mean(), Some(30.0));
    assert_eq!(b.ttft().median(), Some(850.0));
    // Run 1's ITL mean is what the fit takes: the fit names it.
    let err = points_from_datasets(std::slice::from_ref(&ds))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("v.jsonl: line 1: $, point 0 (rate=2.5): itl.mean = inf: must be a finite"),
        "{err}"
    );
}

#[test]
fn a_point_that_does_not_validate_fails_the_file_only_if_kept() {
    let text = std::fs::read_to_string(fixture("guidellm-csv-unused-glitch.json")).unwrap();
    let mut rows: serde_json::Value = serde_json::from_str(&text).unwrap();
    rows[1]["Successful Prompt token count mean"] = serde_json::json!(-4.0);
    let bytes = serde_json::to_vec(&rows).unwrap();
    let (_, ds) = read_bytes(&bytes, "g.json", &ReadOptions::default()).unwrap();
    assert_eq!(
        shown(&ds),
        [
            "g.json: $[1] (throughput), point dropped by the selection: input_tokens = -4: \
             must be >= 0; dropped",
            "g.json: $[1] (throughput), point dropped by the selection: ttft.mean = \
             -222574949: must be >= 0; dropped",
        ]
    );
    let all = ReadOptions {
        select: SelectOptions::all(),
        ..ReadOptions::default()
    };
    let err = read_bytes(&bytes, "g.json", &all).unwrap_err();
    assert_eq!(
        err.to_string(),
        "g.json: $[1]: input_tokens = -4: must be >= 0"
    );
}

#[test]
fn the_samples_read_without_warnings() {
    for rel in [
        "inferno/guidellm.json",
        "inferno/guidellm-csv.json",
        "inferno/benchmarks.html",
        "fixtures/guidellm-v0.1-report.json",
        "fixtures/guidellm-v0.5-args-style.json",
        "fixtures/sglang-bench.jsonl",
        "fixtures/together-qps.csv",
        "fixtures/vllm-bench-append.jsonl",
        "fixtures/vllm-bench-detailed.json",
        "fixtures/aisbench/synthetic.json",
        "guidellm/v0.3_guidellm-fixture_benchmarks_stripped.json",
        "guidellm/v0.3_sweep-i64-o64_rows1-3_single-header.csv",
        "guidellm/v0.3_yaml_llama-3-2-3b_benchmark-results.yaml",
        "guidellm/v0.5_model-trainer_sweep-i1024-o1024_benchmarks.csv",
        "guidellm/v0.5_model-trainer_sweep-i4096-o64_benchmarks.csv",
        "guidellm/v0.5_sweep-i1024-o1024_row1_csv-v2.json",
        "guidellm/v0.5_sweep-i4096-o64_row1_csv-v2.json",
        "guidellm/v0.5_sweep-i4096-o64_row1_raw.csv",
        "guidellm/v0.8dev_llm-d-benchmark_guidellm_report_v2.json",
        "vllm-bench/A100_vllm-3replicas_Llama-3.1-8B_benchmark_2025-05-12_00-03-23.json",
        "vllm-bench/H100_llm-d-1p1d_Llama-3.1-8B_benchmark_2025-05-13_04-37-51.json",
        "vllm-bench/H100_vllm-2replicas_Llama-3.1-8B_benchmark_2025-05-13_04-55-27.json",
    ] {
        let all = ReadOptions {
            select: SelectOptions::all(),
            ..ReadOptions::default()
        };
        let (_, ds) = read_any_with(sample(rel), &all).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(ds.warnings.is_empty(), "{rel}: {:?}", shown(&ds));
    }
}
