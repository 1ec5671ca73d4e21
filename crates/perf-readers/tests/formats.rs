//! One test per format, asserting values looked up by hand in the sample files
//! (`samples/readers/`, see `samples/SOURCES.md`).
// The readers copy numbers from the files unchanged, so exact comparison is the point.
#![allow(clippy::float_cmp)]

use approx::assert_relative_eq;
use perf_readers::{
    Document, Format, Profile, ReadError, ReadOptions, SelectOptions, Stage, StrategyKind,
    TimeUnit, read_any, read_any_with, read_bytes, read_document_any, read_document_bytes,
    read_guidellm_csv_json, read_guidellm_html, read_guidellm_json, read_guidellm_json_reader,
    read_guidellm_requests, read_inferno, read_profile_any, read_profiler_sweep, read_requests_any,
    read_requests_bytes, read_trained_physics,
};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/readers/");

fn sample(rel: &str) -> String {
    format!("{SAMPLES}{rel}")
}

fn read(rel: &str) -> (Format, perf_model_core::PerfDataset) {
    match read_any_with(sample(rel), &ReadOptions::default()) {
        Ok(x) => x,
        Err(e) => panic!("{rel}: {e}"),
    }
}

#[test]
fn inferno_native_ms() {
    let (format, ds) = read("../inferno-trainer/data.json");
    assert_eq!(format, Format::InfernoDataSet);
    assert_eq!(ds.name, "sample_dataset");
    assert_eq!(ds.len(), 7);
    let p = &ds.points[0];
    assert_eq!(p.request_rate(), Some(27.16));
    assert_eq!(p.input_tokens(), 64.0);
    // avgTTFTTime absent → avgWaitTime 0.0 + avgPrefillTime 18.05.
    assert_eq!(p.ttft().mean(), Some(18.05));
    assert_eq!(p.itl().mean(), Some(7.50));
    assert_eq!(p.max_batch_size(), Some(512));
    assert_eq!(p.max_num_tokens(), None);
    assert_eq!(ds.points[6].request_rate(), Some(176.50));
    assert_eq!(ds.points[6].ttft().mean(), Some(40.56));
}

#[test]
fn inferno_native_seconds_needs_the_unit_option() {
    let path = sample("../inferno-trainer/qm_train_s4.json");
    let bytes = std::fs::read(&path).unwrap();
    let opts = ReadOptions {
        inferno_time_unit: TimeUnit::Seconds,
        ..ReadOptions::default()
    };
    let ds = read_inferno(&bytes, &path, &opts).unwrap();
    assert_eq!(ds.name, "scenario4_train");
    assert_eq!(ds.len(), 14);
    let p = &ds.points[0];
    assert_eq!(p.request_rate(), Some(1.0));
    assert_eq!(p.input_tokens(), 3992.884);
    // (avgWaitTime 0.0020481701190583406 + avgPrefillTime 0.06654042501747608) s → ms.
    assert_relative_eq!(
        p.ttft().mean().unwrap(),
        68.588_595_136_534_42,
        max_relative = 1e-12
    );
    assert_relative_eq!(
        p.itl().mean().unwrap(),
        9.823_530_842_206_296,
        max_relative = 1e-12
    );
    // The default unit (ms) reads the same file 1000× smaller.
    let ms = read_inferno(&bytes, &path, &ReadOptions::default()).unwrap();
    assert_relative_eq!(
        ms.points[0].itl().mean().unwrap() * 1000.0,
        p.itl().mean().unwrap(),
        max_relative = 1e-12
    );
}

#[test]
fn guidellm_csv_json_single_header_seed_selection() {
    let (format, ds) = read("inferno/guidellm-csv.json");
    assert_eq!(format, Format::GuidellmCsvJson);
    // Seed-compatible: throughput dropped, first 7 of the remaining 9 rows.
    assert_eq!(ds.len(), 7);
    let labels: Vec<_> = ds.points.iter().filter_map(|p| p.label()).collect();
    assert_eq!(labels[0], "synchronous");
    assert_eq!(labels[1], "constant@27.13");
    assert_eq!(labels[6], "constant@151.47");
    let p = &ds.points[0];
    assert_eq!(p.request_rate(), Some(2.257_779_926_038_222));
    assert_eq!(p.ttft().median(), Some(13.680_458_068_847_656));
    assert_eq!(p.itl().mean(), Some(6.890_034_829_581_14));
    assert_eq!(p.input_tokens(), 64.517_241_379_310_35);
    let c = &ds.points[1];
    // Percentile list index 9 (p99) of "Successful Time to first token ms [min, …, max]".
    assert_eq!(c.ttft().p99(), Some(28.877_019_882_202_15));
    // "Successful Request latency mean" is in seconds.
    assert_relative_eq!(
        c.e2e().mean().unwrap(),
        495.858_890_361_382_1,
        max_relative = 1e-12
    );
    assert_eq!(c.successful(), Some(9777));
    assert_eq!(c.failed(), Some(0));
    assert_eq!(c.concurrency(), Some(13.466_904_204_429_248));
}

#[test]
fn guidellm_csv_json_selection_choices() {
    let path = sample("inferno/guidellm-csv.json");
    let bytes = std::fs::read(&path).unwrap();
    let with = |select| ReadOptions {
        select,
        ..ReadOptions::default()
    };
    let all = read_guidellm_csv_json(&bytes, &path, &with(SelectOptions::all())).unwrap();
    assert_eq!(all.len(), 10);
    assert_eq!(all.points[1].label(), Some("throughput"));
    let no_tp =
        read_guidellm_csv_json(&bytes, &path, &with(SelectOptions::except_throughput())).unwrap();
    assert_eq!(no_tp.len(), 9);
    let c3 = read_guidellm_csv_json(
        &bytes,
        &path,
        &with(SelectOptions::only(&[StrategyKind::Constant]).with_max_points(3)),
    )
    .unwrap();
    assert_eq!(c3.len(), 3);
    assert_eq!(c3.points[2].label(), Some("constant@76.86"));
}

/// `data.json` holds the constant rows of the same sweep as `guidellm-csv.json`, rounded to
/// 2 dp, with TTFT = median TTFT and ITL = **median** ITL (SOURCES §1.1).
#[test]
fn inferno_data_json_matches_guidellm_csv_json() {
    let (_, native) = read("../inferno-trainer/data.json");
    let (_, csv) = read_any_with(
        sample("inferno/guidellm-csv.json"),
        &ReadOptions {
            select: SelectOptions::only(&[StrategyKind::Constant]).with_max_points(7),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(native.len(), 7);
    assert_eq!(csv.len(), 7);
    for (n, c) in native.points.iter().zip(&csv.points) {
        let close = |a: f64, b: f64| (a - b).abs() <= 0.005 + 1e-9;
        let (nr, cr) = (n.request_rate().unwrap(), c.request_rate().unwrap());
        assert!(close(nr, cr), "rate {nr} vs {cr}");
        let (nt, ct) = (n.ttft().mean().unwrap(), c.ttft().median().unwrap());
        assert!(close(nt, ct), "ttft {nt} vs {ct}");
        let (ni, ci) = (n.itl().mean().unwrap(), c.itl().median().unwrap());
        assert!(close(ni, ci), "itl {ni} vs {ci}");
        assert_eq!(n.input_tokens(), 64.0);
        assert!((c.input_tokens() - 64.0).abs() < 1.0);
    }
}

#[test]
fn guidellm_csv_json_v2_keys() {
    let (format, ds) = read("guidellm/v0.5_sweep-i4096-o64_row1_csv-v2.json");
    assert_eq!(format, Format::GuidellmCsvJson);
    assert_eq!(ds.len(), 1);
    let p = &ds.points[0];
    assert_eq!(p.label(), Some("synchronous"));
    assert_eq!(p.request_rate(), Some(1.091_666_666_666_666_8));
    assert_eq!(p.ttft().median(), Some(193.358_182_907_104_5));
    assert_eq!(p.ttft().p99(), Some(297.774_553_298_950_2));
    assert_eq!(p.itl().mean(), Some(11.497_518_667_512_349));
    assert_eq!(p.input_tokens(), 4_120.923_780_487_805);
    assert_eq!(p.successful(), Some(656));
}

#[test]
fn guidellm_json_v03_model_trainer() {
    let (format, ds) = read("inferno/guidellm.json");
    assert_eq!(format, Format::GuidellmJson);
    assert_eq!(ds.meta.model.as_deref(), Some("Qwen/Qwen2.5-0.5B"));
    // Inferno's GuideLLM JSON reader keeps all 10, synchronous and throughput included.
    assert_eq!(ds.len(), 10);
    let p = &ds.points[0];
    assert_eq!(p.label(), Some("synchronous"));
    assert_eq!(p.request_rate(), Some(1.023_368_958_564_409_5));
    assert_eq!(p.ttft().median(), Some(11.963_129_043_579_102));
    assert_eq!(p.ttft().p99(), Some(57.537_078_857_421_875));
    assert_eq!(p.itl().mean(), Some(2.105_842_193_483_853_4));
    assert_eq!(p.input_tokens(), 512.055_555_555_555_5);
    assert_eq!(p.successful(), Some(18));
    assert_eq!(ds.points[1].label(), Some("throughput"));
    assert_eq!(ds.points[2].label(), Some("constant@1.09"));
}

#[test]
fn guidellm_json_v03_fixture() {
    let (format, ds) = read("guidellm/v0.3_guidellm-fixture_benchmarks_stripped.json");
    assert_eq!(format, Format::GuidellmJson);
    assert_eq!(ds.meta.model.as_deref(), Some("example_model"));
    assert_eq!(ds.len(), 1);
    let p = &ds.points[0];
    assert_eq!(p.request_rate(), Some(1.548_180_653_273_745_2));
    assert_eq!(p.ttft().median(), Some(16.380_548_477_172_85));
    assert_eq!(p.itl().mean(), Some(4.941_609_043_733_832));
    assert_eq!(p.input_tokens(), 257.108_695_652_173_9);
    assert_relative_eq!(
        p.e2e().mean().unwrap(),
        644.474_366_436_833_9,
        max_relative = 1e-12
    );
    // `request_totals` (46 successful, 1 incomplete) rather than `run_stats.requests_made`.
    assert_eq!(p.successful(), Some(46));
    assert_eq!(p.failed(), Some(0));
}

#[test]
fn guidellm_json_v1_args_generation() {
    // Own fixture in the v0.4–0.6 layout (metadata.version 1, args, config.strategy).
    let (format, ds) = read("fixtures/guidellm-v0.5-args-style.json");
    assert_eq!(format, Format::GuidellmJson);
    assert_eq!(ds.meta.model.as_deref(), Some("example/model-4b"));
    assert_eq!(ds.len(), 2);
    let p = &ds.points[0];
    assert_eq!(p.label(), Some("concurrent@4"));
    assert_eq!(p.concurrency(), Some(4.0));
    assert_eq!(p.request_rate(), Some(1.25));
    assert_eq!(p.ttft().median(), Some(110.25));
    assert_eq!(p.itl().mean(), Some(21.5));
    assert_eq!(p.successful(), Some(40));
    assert_eq!(p.failed(), Some(1));
}

#[test]
fn guidellm_json_v2_config_generation() {
    let (format, ds) = read("guidellm/v0.8dev_llm-d-benchmark_guidellm_report_v2.json");
    assert_eq!(format, Format::GuidellmJson);
    assert_eq!(ds.meta.model.as_deref(), Some("e2e-mock-model"));
    assert_eq!(ds.len(), 2);
    let p = &ds.points[0];
    assert_eq!(p.label(), Some("constant@2.00"));
    assert_eq!(p.request_rate(), Some(0.398_434_306_564_142_64));
    assert_eq!(p.ttft().median(), Some(11.276_006_698_608_398));
    assert_eq!(p.itl().mean(), Some(1.150_846_481_323_242_2));
    assert_eq!(p.input_tokens(), 71.5);
    assert_eq!(p.output_tokens(), 8.0);
    assert_eq!(ds.points[1].label(), Some("constant@4.00"));
}

#[test]
fn vllm_bench_old_schema_with_colon_goodput() {
    let (format, ds) =
        read("vllm-bench/H100_llm-d-1p1d_Llama-3.1-8B_benchmark_2025-05-13_04-37-51.json");
    assert_eq!(format, Format::VllmBench);
    assert_eq!(
        ds.meta.model.as_deref(),
        Some("meta-llama/Llama-3.1-8B-Instruct")
    );
    let p = &ds.points[0];
    assert_eq!(p.label(), Some("rate=3.6"));
    assert_eq!(p.request_rate(), Some(3.492_489_948_850_731_7));
    assert_eq!(p.ttft().median(), Some(248.474_861_989_961_94));
    assert_eq!(p.ttft().p95(), Some(261.136_188_020_464_03));
    assert_eq!(p.itl().mean(), Some(17.818_457_237_995_986));
    assert_eq!(p.input_tokens(), 7999.0);
    assert_eq!(p.output_tokens(), 200.0);
    assert_eq!(p.successful(), Some(200));

    let (_, a100) =
        read("vllm-bench/A100_vllm-3replicas_Llama-3.1-8B_benchmark_2025-05-12_00-03-23.json");
    assert_eq!(a100.points[0].request_rate(), Some(2.386_165_280_105_915_4));
    assert_eq!(a100.points[0].ttft().median(), Some(1_310.144_443_064_928));
    assert_eq!(a100.points[0].input_tokens(), 10000.0);
    let (_, h100) =
        read("vllm-bench/H100_vllm-2replicas_Llama-3.1-8B_benchmark_2025-05-13_04-55-27.json");
    assert_eq!(h100.points[0].itl().mean(), Some(16.174_042_569_561_387));
}

#[test]
fn vllm_bench_json_lines_and_infinite_rate() {
    // Own fixture: finite rate, `"inf"` rate, and the new schema with max_concurrency and e2el.
    let (format, ds) = read("fixtures/vllm-bench-append.jsonl");
    assert_eq!(format, Format::VllmBench);
    assert_eq!(ds.len(), 3);
    assert_eq!(ds.points[0].label(), Some("rate=2.5"));
    assert_eq!(ds.points[0].ttft().median(), Some(42.25));
    assert_eq!(ds.points[1].label(), Some("rate=inf"));
    assert_eq!(ds.points[1].request_rate(), Some(5.0));
    assert_eq!(ds.points[1].concurrency(), None);
    let p = &ds.points[2];
    assert_eq!(p.label(), Some("rate=inf,max_concurrency=4"));
    assert_eq!(p.concurrency(), Some(4.0));
    assert_eq!(p.e2e().median(), Some(7860.0));
    assert_eq!(p.failed(), Some(0));
}

#[test]
fn sglang_bench_with_bare_infinity_and_nan() {
    let (format, ds) = read("fixtures/sglang-bench.jsonl");
    assert_eq!(format, Format::SglangBench);
    assert_eq!(ds.len(), 3);
    // Old schema: no request_throughput, so the rate is completed / duration = 100 / 30.
    let p = &ds.points[0];
    assert_relative_eq!(
        p.request_rate().unwrap(),
        100.0 / 30.0,
        max_relative = 1e-12
    );
    assert_eq!(p.ttft().median(), Some(95.5));
    assert_eq!(p.itl().median(), Some(11.25));
    assert_eq!(p.e2e().mean(), Some(12000.5));
    assert_eq!(p.input_tokens(), 1024.0);
    // `request_rate: Infinity` → unlimited; rate = 200 / 40.
    assert_eq!(ds.points[1].label(), Some("rate=inf"));
    assert_eq!(ds.points[1].request_rate(), Some(5.0));
    // NaN statistics are absent.
    let q = &ds.points[2];
    assert_eq!(q.itl().p95(), None);
    assert_eq!(q.itl().p99(), Some(12.0));
    assert_eq!(q.concurrency(), Some(2.0));
}

#[test]
fn detection_ignores_misleading_extension() {
    let bytes = std::fs::read(sample("../inferno-trainer/data.json")).unwrap();
    let (format, ds) = read_bytes(&bytes, "looks-like.csv", &ReadOptions::default()).unwrap();
    assert_eq!(format, Format::InfernoDataSet);
    assert_eq!(ds.len(), 7);
}

fn one_line(e: &ReadError) -> String {
    let s = e.to_string();
    assert!(!s.contains('\n'), "{s}");
    s
}

#[test]
fn bad_files_give_typed_one_line_errors() {
    let dir = std::env::temp_dir().join(format!("perf-readers-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.json");
    std::fs::write(&empty, b"").unwrap();
    let binary = dir.join("blob.json");
    std::fs::write(&binary, [0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00]).unwrap();
    let utf16 = dir.join("utf16.json");
    let mut u = vec![0xFF, 0xFE];
    for c in "{\"name\": \"x\"}".encode_utf16() {
        u.extend_from_slice(&c.to_le_bytes());
    }
    std::fs::write(&utf16, u).unwrap();
    let unknown = dir.join("notes.txt");
    std::fs::write(&unknown, b"hello world\n").unwrap();

    let e = read_any(&empty).unwrap_err();
    assert!(matches!(e, ReadError::Empty { .. }), "{e}");
    assert!(one_line(&e).ends_with("empty.json: empty file"));
    let e = read_any(&binary).unwrap_err();
    assert!(matches!(e, ReadError::Binary { .. }), "{e}");
    one_line(&e);
    let e = read_any(&utf16).unwrap_err();
    assert!(
        matches!(
            e,
            ReadError::Utf16 {
                endian: "little-endian",
                ..
            }
        ),
        "{e}"
    );
    one_line(&e);
    let e = read_any(&dir).unwrap_err();
    assert!(matches!(e, ReadError::IsDirectory { .. }), "{e}");
    one_line(&e);
    let e = read_any(dir.join("missing.json")).unwrap_err();
    assert!(matches!(e, ReadError::Io { .. }), "{e}");
    assert!(one_line(&e).contains("missing.json"));
    let e = read_any(&unknown).unwrap_err();
    assert!(matches!(e, ReadError::UnknownFormat { .. }), "{e}");
    one_line(&e);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_values_name_file_path_and_value() {
    let text = br#"{"name": "x", "data": [{"requestRate": 1, "avgITLTime": "fast"}]}"#;
    let e = read_bytes(text, "bad.json", &ReadOptions::default()).unwrap_err();
    let msg = one_line(&e);
    assert_eq!(
        msg,
        "bad.json: $.data[0].avgITLTime: expected a number (found: \"fast\")"
    );
    let text = br#"{"name": "x", "data": [{"requestRate": -2, "avgITLTime": 3}]}"#;
    let e = read_bytes(text, "neg.json", &ReadOptions::default()).unwrap_err();
    assert!(matches!(e, ReadError::Invalid { .. }), "{e}");
    assert!(
        one_line(&e).starts_with("neg.json: $.data[0]: request_rate"),
        "{e}"
    );
    let text = b"{\"backend\": \"sglang\", \"dataset_name\": \"random\",\n \"request_rate\": Infinity, \"completed\": }";
    let e = read_bytes(text, "s.jsonl", &ReadOptions::default()).unwrap_err();
    assert!(matches!(e, ReadError::Json { line: 2, .. }), "{e}");
    // An infinite latency is broken: it is dropped with a warning naming the file, the
    // point, the field and the value (whoever needs it fails on it, see `glitches.rs`).
    let text = br#"{"model_id": "m", "request_rate": 1, "completed": 1, "duration": 1, "mean_ttft_ms": Infinity, "median_ttft_ms": 3}"#;
    let (_, ds) = read_bytes(text, "inf.json", &ReadOptions::default()).unwrap();
    assert_eq!(ds.points[0].ttft().mean(), None);
    assert_eq!(ds.points[0].ttft().median(), Some(3.0));
    let shown: Vec<String> = ds.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "inf.json: line 1: $ (rate=1), point 0: ttft.mean = inf: must be a finite number; dropped"
        ]
    );
}

#[test]
fn guidellm_html_truncated_report() {
    // Inferno's samples/benchmarks.html: cut right after the `]` closing window.benchmarks.
    let (format, ds) = read("inferno/benchmarks.html");
    assert_eq!(format, Format::GuidellmHtml);
    // Seed-compatible: index 1 (throughput, 3.33 req/s) dropped, first 7 kept: 0.09 … 2.44.
    assert_eq!(ds.len(), 7);
    let p = &ds.points[0];
    assert_eq!(p.request_rate(), Some(0.089_999_999_999_999_98));
    assert_eq!(p.ttft().median(), Some(53.272_485_733_032_23));
    assert_eq!(p.ttft().p95(), Some(75.152_635_574_340_82));
    assert_eq!(p.itl().mean(), Some(11.331_802_106_018_293));
    // Sweep-wide token means from window.workloadDetails.
    assert_eq!(p.input_tokens(), 1_046.376_623_376_623_2);
    assert_eq!(p.output_tokens(), 1_019.295_866_105_725_3);
    assert_relative_eq!(
        p.e2e().mean().unwrap(),
        11_192.722_294_547_343,
        max_relative = 1e-12
    );
    assert_eq!(ds.points[1].request_rate(), Some(0.488_333_333_333_333_4));
    assert_eq!(ds.points[6].request_rate(), Some(2.44));
    let path = sample("inferno/benchmarks.html");
    let bytes = std::fs::read(&path).unwrap();
    let all = read_guidellm_html(
        &bytes,
        &path,
        &ReadOptions {
            select: SelectOptions::all(),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(all.len(), 10);
    assert_eq!(all.points[1].request_rate(), Some(3.33));
}

/// exp2 `sweep-i1024-o1024`: the HTML report and the raw CSV (first row, as CSV-v2 JSON) of
/// the same run give the same synchronous point.
#[test]
fn guidellm_html_and_raw_csv_agree() {
    let (_, html) = read("inferno/benchmarks.html");
    let (_, csv) = read("guidellm/v0.5_sweep-i1024-o1024_row1_csv-v2.json");
    let (h, c) = (&html.points[0], &csv.points[0]);
    assert_eq!(c.label(), Some("synchronous"));
    let same = |a: Option<f64>, b: Option<f64>| {
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{a} vs {b}");
    };
    same(h.request_rate(), c.request_rate());
    same(h.ttft().median(), c.ttft().median());
    same(h.ttft().mean(), c.ttft().mean());
    same(h.itl().mean(), c.itl().mean());
    same(h.e2e().mean(), c.e2e().mean());
    // The HTML has only sweep-wide token means; the CSV row has this benchmark's.
    assert_eq!(c.input_tokens(), 977.363_636_363_636_3);
}

#[test]
fn together_csv() {
    // Own fixture in the layout of ktenzer/together-benchmark-model's sample CSVs (CRLF).
    let (format, ds) = read("fixtures/together-qps.csv");
    assert_eq!(format, Format::TogetherCsv);
    assert_eq!(ds.meta.model.as_deref(), Some("example/model-30b"));
    assert_eq!(ds.len(), 2);
    let p = &ds.points[0];
    assert_eq!(p.label(), Some("qps@0.5"));
    assert_eq!(p.request_rate(), Some(0.465_116_279_069_767_44));
    assert_eq!(p.input_tokens(), 512.5);
    assert_eq!(p.output_tokens(), 256.0);
    assert_eq!(p.ttft().mean(), Some(420.25));
    assert_eq!(p.ttft().median(), Some(410.5));
    assert_eq!(p.ttft().p99(), Some(560.75));
    assert_eq!(p.e2e().median(), Some(2540.0));
    assert_eq!(p.output_throughput(), Some(119.069_767_441_860_46));
    assert_eq!(p.successful(), Some(10));
    let q = &ds.points[1];
    assert_eq!(q.failed(), Some(1));
    assert_eq!(q.successful(), Some(19));
}

#[test]
fn together_csv_bad_cell_names_row_and_column() {
    let text = "provider_name,provider_model,traffic_mode,traffic_level,input_avg_len,ttft_mean,summary_actual_qps\n\
                together,m,qps,0.5,512,12.5,0.4\n\
                together,m,qps,1.0,512,slow,0.9\n";
    let e = read_bytes(text.as_bytes(), "t.csv", &ReadOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.csv: row 2, column `ttft_mean`: expected a number (found: slow)"
    );
}

#[test]
fn azure_trace() {
    let path = sample("traces/AzureLLMInferenceTrace_code.csv");
    let (format, trace) = read_requests_any(&path).unwrap();
    assert_eq!(format, Format::AzureTrace);
    assert_eq!(trace.len(), 8819);
    // 2023-11-16 18:17:03.9799600,4808,10 then 18:17:04.0319600,3180,8.
    assert_eq!(trace[0].arrival_ms(), 0.0);
    assert_eq!(trace[0].input_tokens(), 4808);
    assert_eq!(trace[0].output_tokens(), 10);
    assert_eq!(trace[1].arrival_ms(), 52.0);
    assert_eq!(trace[1].input_tokens(), 3180);
    // Last row: 2023-11-16 19:14:19.9280160,549,173 (no newline at EOF).
    let last = &trace[8818];
    assert_eq!(last.arrival_ms(), 3_435_948.056);
    assert_eq!(last.input_tokens(), 549);
    assert_eq!(last.output_tokens(), 173);
    assert_eq!(last.ttft_ms(), None);
    // A trace is not a benchmark report.
    let e = read_any(&path).unwrap_err();
    assert!(matches!(e, ReadError::NotBenchmark { .. }), "{e}");
}

#[test]
fn mooncake_trace_with_input_text_lines() {
    let (format, trace) =
        read_requests_any(sample("traces/aisbench_smoke_test_mooncake_trace.jsonl")).unwrap();
    assert_eq!(format, Format::MooncakeTrace);
    assert_eq!(trace.len(), 15);
    assert_eq!(trace[1].arrival_ms(), 200.0);
    assert_eq!(trace[1].input_tokens(), 1536);
    assert_eq!(trace[1].output_tokens(), 200);
    // {"timestamp": 500, "input_text": "What is the capital of France?", "output_length": 50}
    assert_eq!(trace[2].arrival_ms(), 500.0);
    assert_eq!(trace[2].input_tokens(), 0);
    assert_eq!(trace[2].output_tokens(), 50);
    assert_eq!(trace[14].arrival_ms(), 6500.0);
}

#[test]
fn bad_trace_cell_is_named() {
    let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9,12,3\n2023-11-16 18:17:04.0,-4,3\n";
    let e = read_requests_bytes(text.as_bytes(), "a.csv").unwrap_err();
    assert_eq!(
        e.to_string(),
        "a.csv: row 2, column `ContextTokens`: expected a token count (0..=4294967295) (found: -4)"
    );
}

#[test]
fn guidellm_request_records() {
    let path = sample("inferno/guidellm.json");
    let bytes = std::fs::read(&path).unwrap();
    let benches = read_guidellm_requests(&bytes, &path).unwrap();
    assert_eq!(benches.len(), 10);
    assert!(benches.iter().all(|b| b.successful.len() == 18));
    assert!(benches.iter().all(|b| b.errored.is_empty()));
    assert_eq!(benches[2].label, "constant@1.09");
    // The first request is the earliest: start_time 1762361426.5118651,
    // first_token_time 1762361426.522943, end_time 1762361427.9672496; 472 → 676 tokens.
    let r = &benches[0].successful[0];
    assert_eq!(r.id(), 0);
    assert_eq!(r.arrival_ms(), 0.0);
    assert_relative_eq!(r.ttft_ms().unwrap(), 11.077_880_859_375, epsilon = 1e-3);
    assert_relative_eq!(r.e2e_ms().unwrap(), 1_455.384_492_874_145_5, epsilon = 1e-3);
    assert_eq!(r.input_tokens(), 472);
    assert_eq!(r.output_tokens(), 676);
    let last = &benches[2].successful[17];
    assert_eq!((last.input_tokens(), last.output_tokens()), (629, 616));
}

#[test]
fn aisbench_json_and_csv_side_by_side() {
    // Own fixture in the documented AISBench layout; read_any merges the sibling file.
    let (format, ds) = read_any_with(
        sample("fixtures/aisbench/synthetic.json"),
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(format, Format::AisbenchJson);
    assert_eq!(ds.len(), 1);
    let p = &ds.points[0];
    assert_eq!(p.request_rate(), Some(2.45));
    assert_eq!(p.concurrency(), Some(8.0));
    assert_eq!(p.successful(), Some(98));
    assert_eq!(p.failed(), Some(2));
    assert_eq!(p.output_throughput(), Some(627.2));
    // From the CSV: "150.25 ms" average, "140.0 ms" median, "350.0 ms" P99.
    assert_eq!(p.ttft().mean(), Some(150.25));
    assert_eq!(p.ttft().median(), Some(140.0));
    assert_eq!(p.ttft().p90(), Some(210.0));
    assert_eq!(p.ttft().p99(), Some(350.0));
    assert_eq!(p.e2e().mean(), Some(3200.5));
    assert_eq!(p.input_tokens(), 512.0);
    assert_eq!(p.output_tokens(), 256.0);
    // Starting from the CSV gives the same point.
    let (format, from_csv) = read_any_with(
        sample("fixtures/aisbench/synthetic.csv"),
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(format, Format::AisbenchCsv);
    assert_eq!(from_csv.points, ds.points);
    // The JSON alone: tokens from the totals over the successes, no latencies.
    let bytes = std::fs::read(sample("fixtures/aisbench/synthetic.json")).unwrap();
    let (_, alone) = read_bytes(&bytes, "synthetic.json", &ReadOptions::default()).unwrap();
    assert_eq!(alone.points[0].input_tokens(), 512.0);
    assert!(alone.points[0].ttft().is_empty());
    // The CSV alone cannot give a rate.
    let bytes = std::fs::read(sample("fixtures/aisbench/synthetic.csv")).unwrap();
    let e = read_bytes(&bytes, "synthetic.csv", &ReadOptions::default()).unwrap_err();
    assert!(one_line(&e).contains("<dataset>.json"), "{e}");
}

#[test]
fn guidellm_csv_exports() {
    // v0.4+ three header rows: the header and first data row of the exp2 sweep-i4096-o64 CSV.
    let (format, ds) = read("guidellm/v0.5_sweep-i4096-o64_row1_raw.csv");
    assert_eq!(format, Format::GuidellmCsv);
    assert_eq!(ds.len(), 1);
    let p = &ds.points[0];
    assert_eq!(p.label(), Some("synchronous"));
    assert_eq!(p.request_rate(), Some(1.091_666_666_666_666_8));
    assert_eq!(p.ttft().median(), Some(193.358_182_907_104_5));
    assert_eq!(p.itl().mean(), Some(11.497_518_667_512_349));
    assert_eq!(p.successful(), Some(656));
    // Same values as the CSV-v2-as-JSON conversion of that row.
    let (_, as_json) = read("guidellm/v0.5_sweep-i4096-o64_row1_csv-v2.json");
    assert_eq!(as_json.points, ds.points);

    // The whole raw file: row 2 (line 5, the throughput run with 510 incomplete and 2093
    // errored requests) has 282 cells against a 146-column header; its blocks are placed
    // from their values. Values looked up in line 5: successful blocks of TTFT at cells
    // 35–36, ITL at 51, requests/s at 59, concurrency at 67.
    let (format, whole) = read("guidellm/v0.5_model-trainer_sweep-i4096-o64_benchmarks.csv");
    assert_eq!(format, Format::GuidellmCsv);
    assert_eq!(whole.len(), 10);
    assert_eq!(whole.points[0], ds.points[0]);
    let t = &whole.points[1];
    assert_eq!(t.label(), Some("throughput"));
    assert_eq!(t.request_rate(), Some(4.033_333_333_333_334));
    assert_eq!(t.concurrency(), Some(264.004_077_991_247_2));
    assert_eq!(t.ttft().mean(), Some(54_334.762_610_255_144));
    assert_eq!(t.ttft().median(), Some(57_512.672_901_153_564));
    assert_eq!(t.itl().mean(), Some(178.088_865_196_758_1));
    assert_eq!(t.input_tokens(), 4_121.658_133_773_741);
    assert_relative_eq!(
        t.e2e().mean().unwrap(),
        65_401.583_692_931_03,
        max_relative = 1e-12
    );
    assert_eq!((t.successful(), t.failed()), (Some(2422), Some(2093)));

    // v0.2–0.3 single header: rows 1–3 of guidellm-csv.json written back as CSV.
    let (format, single) = read_any_with(
        sample("guidellm/v0.3_sweep-i64-o64_rows1-3_single-header.csv"),
        &ReadOptions {
            select: SelectOptions::all(),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(format, Format::GuidellmCsv);
    assert_eq!(single.len(), 3);
    let (_, json) = read_any_with(
        sample("inferno/guidellm-csv.json"),
        &ReadOptions {
            select: SelectOptions::all().with_max_points(3),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(single.points, json.points);
    assert_eq!(
        single.points[2].ttft().median(),
        Some(18.045_186_996_459_96)
    );
}

#[test]
fn guidellm_yaml_report() {
    let (format, ds) = read("guidellm/v0.3_yaml_llama-3-2-3b_benchmark-results.yaml");
    assert_eq!(format, Format::GuidellmYaml);
    assert_eq!(ds.len(), 1);
    assert_eq!(ds.meta.model.as_deref(), Some("llama-3-2-3b"));
    let p = &ds.points[0];
    assert_eq!(p.label(), Some("synchronous"));
    // metrics.requests_per_second.successful.mean, time_to_first_token_ms…median,
    // inter_token_latency_ms…mean, request_latency…mean (s), request_totals.
    assert_eq!(p.request_rate(), Some(0.255_504_265_405_813_17));
    assert_eq!(p.ttft().median(), Some(410.487_890_243_530_3));
    assert_eq!(p.itl().mean(), Some(27.583_449_710_206_587));
    assert_relative_eq!(p.input_tokens(), 513.0, max_relative = 1e-12);
    assert_relative_eq!(p.output_tokens(), 128.0, max_relative = 1e-12);
    assert_relative_eq!(
        p.e2e().mean().unwrap(),
        3_912.726_487_432_207_6,
        max_relative = 1e-12
    );
    assert_eq!(p.data().successful, Some(14));
    assert_eq!(p.data().failed, Some(0));
    // A YAML syntax error names the line.
    let err = read_bytes(
        b"benchmarks:\n- metrics: {a: [1, 2\n  type_: x\n",
        "bad.yaml",
        &ReadOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ReadError::Yaml { line: 3.., .. }), "{err}");
}

#[test]
fn guidellm_v01_report() {
    let (format, ds) = read("fixtures/guidellm-v0.1-report.json");
    assert_eq!(format, Format::GuidellmJson);
    assert_eq!(ds.meta.model.as_deref(), Some("example/llama-3-8b"));
    assert_eq!(ds.len(), 2);
    let sync = &ds.points[0];
    assert_eq!(sync.label(), Some("synchronous"));
    // TTFTs 50, 100, 30 ms; E2E 550, 1100, 1030 ms; ITL 500/10, 1000/20, 1000/10 ms.
    assert_relative_eq!(sync.ttft().mean().unwrap(), 60.0, max_relative = 1e-9);
    assert_relative_eq!(sync.ttft().median().unwrap(), 50.0, max_relative = 1e-9);
    assert_relative_eq!(sync.e2e().median().unwrap(), 1030.0, max_relative = 1e-9);
    assert_relative_eq!(sync.itl().mean().unwrap(), 200.0 / 3.0, max_relative = 1e-9);
    assert_relative_eq!(sync.input_tokens(), 20.0);
    assert_relative_eq!(sync.output_tokens(), 43.0 / 3.0, max_relative = 1e-12);
    // 3 requests from 100.0 to 102.83 s.
    assert_relative_eq!(
        sync.request_rate().unwrap(),
        3.0 / 2.83,
        max_relative = 1e-9
    );
    assert_eq!(sync.data().failed, Some(0));
    let asy = &ds.points[1];
    assert_eq!(asy.label(), Some("asynchronous@2.00"));
    assert_relative_eq!(asy.ttft().mean().unwrap(), 300.0, max_relative = 1e-9);
    // ITLs 800/4 = 200 and 1100/8 = 137.5 ms.
    assert_relative_eq!(asy.itl().median().unwrap(), 168.75, max_relative = 1e-9);
    assert_eq!(asy.data().successful, Some(2));
    assert_eq!(asy.data().failed, Some(1));
    assert_relative_eq!(asy.output_throughput().unwrap(), 7.0, max_relative = 1e-9);
}

#[test]
fn vllm_save_detailed_requests() {
    let (format, recs) = read_requests_any(sample("fixtures/vllm-bench-detailed.json")).unwrap();
    assert_eq!(format, Format::VllmBench);
    assert_eq!(recs.len(), 4);
    let r = &recs[1];
    assert_eq!((r.input_tokens(), r.output_tokens()), (200, 4));
    assert_relative_eq!(r.arrival_ms(), 500.0);
    assert_relative_eq!(r.first_token_ms().unwrap(), 580.0, max_relative = 1e-12);
    assert_relative_eq!(r.completion_ms().unwrap(), 640.0, max_relative = 1e-12);
    // The failed request keeps its tokens but has no times.
    assert_eq!(recs[3].input_tokens(), 150);
    assert_eq!(recs[3].first_token_ms(), None);
    // Without the arrays, a typed error points at `input_lens`.
    let err = read_requests_any(sample(
        "vllm-bench/H100_llm-d-1p1d_Llama-3.1-8B_benchmark_2025-05-13_04-37-51.json",
    ))
    .unwrap_err();
    assert!(err.to_string().contains("$.input_lens"), "{err}");
}

#[test]
fn burstgpt_and_vidur_traces() {
    let (format, recs) = read_requests_any(sample("fixtures/burstgpt.csv")).unwrap();
    assert_eq!(format, Format::BurstGptTrace);
    assert_eq!(recs.len(), 5);
    assert_eq!(recs[0].arrival_ms(), 5000.0);
    assert_eq!((recs[0].input_tokens(), recs[0].output_tokens()), (472, 18));
    assert_eq!(recs[1].output_tokens(), 0);
    assert_eq!(recs[4].arrival_ms(), 207_500.0);
    let (format, v3) = read_requests_any(sample("fixtures/burstgpt-v3.csv")).unwrap();
    assert_eq!(format, Format::BurstGptTrace);
    assert_eq!((v3[1].arrival_ms(), v3[1].input_tokens()), (2500.0, 401));

    let (format, recs) = read_requests_any(sample("fixtures/vidur-trace.csv")).unwrap();
    assert_eq!(format, Format::VidurTrace);
    assert_eq!(recs.len(), 4);
    assert_relative_eq!(recs[1].arrival_ms(), 52.3, max_relative = 1e-12);
    assert_eq!(
        (recs[1].input_tokens(), recs[1].output_tokens()),
        (4808, 10)
    );
    let (_, lengths) = read_requests_any(sample("fixtures/vidur-trace-length-only.csv")).unwrap();
    assert_eq!(lengths[1].arrival_ms(), 0.0);
    assert_eq!(lengths[1].input_tokens(), 3000);
    // Traces are not benchmarks.
    let err = read_any(sample("fixtures/burstgpt.csv")).unwrap_err();
    assert!(matches!(
        err,
        ReadError::NotBenchmark {
            format: Format::BurstGptTrace,
            ..
        }
    ));
}

#[test]
fn llm_profiler_sweeps() {
    let (format, profile) = read_profile_any(sample(
        "profiles/llm-profiler/A100_benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.v2.json",
    ))
    .unwrap();
    assert_eq!(format, Format::LlmProfilerSweep);
    let Profile::Sweep(sweep) = profile else {
        panic!("not a sweep")
    };
    assert_eq!(sweep.model.as_deref(), Some("Qwen/Qwen3-4B"));
    assert_eq!(sweep.gpu.as_deref(), Some("NVIDIA A100-SXM4-80GB"));
    assert_eq!((sweep.tp_size, sweep.pp_size), (Some(1), Some(1)));
    assert_eq!(sweep.rows.len(), 94);
    assert_eq!(sweep.failed.len(), 11);
    assert_eq!(sweep.failed[0].reason, "oom");
    let r = &sweep.rows[0];
    assert_eq!((r.batch_size, r.input_len, r.output_len), (1, 1, 32));
    assert_relative_eq!(r.prefill_ms, 37.927_282_974_123_955, max_relative = 1e-12);
    assert_relative_eq!(
        r.decode_ms.unwrap(),
        7.278_207_068_641_98,
        max_relative = 1e-12
    );
    assert_eq!(r.num_runs, Some(3));
    let last = &sweep.rows[93];
    assert_eq!((last.batch_size, last.input_len), (64, 512));
    assert_eq!(
        last.features(Stage::Prefill),
        [32_768.0, 16_777_216.0, 32_768.0, 64.0]
    );
    assert_eq!(
        last.features(Stage::Decode),
        [64.0, 32_768.0, 32_768.0, 64.0]
    );
    assert_relative_eq!(
        last.target_ms(Stage::Decode).unwrap(),
        12.377_605_463_067_69,
        max_relative = 1e-12
    );

    let bytes = std::fs::read(sample(
        "profiles/llm-profiler/benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.v1.json",
    ))
    .unwrap();
    let v1 = read_profiler_sweep(&bytes, "v1.json").unwrap();
    assert_eq!(v1.rows.len(), 95);
    assert_eq!(v1.tp_size, Some(1));
    assert_eq!(v1.failed.len(), 10);
    assert!(v1.failed[0].reason.starts_with("CUDA out of memory"));
    assert_relative_eq!(
        v1.rows[94].prefill_ms,
        2_158.233_112_655_58,
        max_relative = 1e-12
    );
    // The JSON-Lines result files: one row per line, decode fields absent for output_len 1.
    let (format, profile) = read_profile_any(sample("profiles/llm-profiler/result.jsonl")).unwrap();
    assert_eq!(format, Format::LlmProfilerSweep);
    let Profile::Sweep(one) = profile else {
        panic!("not a sweep")
    };
    assert_eq!((one.rows[0].batch_size, one.rows[0].input_len), (1, 1024));
    assert_relative_eq!(
        one.rows[0].prefill_ms,
        73.782_060_295_343_4,
        max_relative = 1e-12
    );
    let (_, profile) = read_profile_any(sample(
        "profiles/llm-profiler/batch_composition_results.jsonl",
    ))
    .unwrap();
    let Profile::Sweep(mixed) = profile else {
        panic!("not a sweep")
    };
    assert_eq!(mixed.rows.len(), 2);
    assert_relative_eq!(
        mixed.rows[0].decode_ms.unwrap(),
        8.190_626_278_519_63,
        max_relative = 1e-12
    );
    assert_eq!(mixed.rows[1].output_len, 1);
    assert_eq!(mixed.rows[1].decode_ms, None);
    // A profile is not a benchmark.
    let err = read_bytes(&bytes, "v1.json", &ReadOptions::default()).unwrap_err();
    assert!(matches!(
        err,
        ReadError::NotBenchmark {
            format: Format::LlmProfilerSweep,
            ..
        }
    ));
    assert!(err.to_string().contains("a profile table"), "{err}");
}

#[test]
fn vidur_profiles() {
    let (format, profile) =
        read_profile_any(sample("profiles/vidur/h100_Llama-2-7b-hf_mlp_head20.csv")).unwrap();
    assert_eq!(format, Format::VidurMlpProfile);
    let Profile::VidurMlp(rows) = profile else {
        panic!("not mlp")
    };
    assert_eq!(rows.len(), 20);
    let r = &rows[0];
    assert_eq!((r.num_tokens, r.num_tensor_parallel_workers), (4096, 1));
    assert_eq!(
        (r.n_head, r.n_embd, r.n_expanded_embd),
        (Some(32), Some(4096), Some(11008))
    );
    assert_eq!(r.use_gated_mlp, Some(true));
    assert_eq!(r.ops.len(), 10);
    assert_eq!(r.ops["emb"].median, Some(0.119_000_000_000_000_01));
    assert_eq!(r.ops["emb"].min, Some(0.116));
    assert_eq!(r.ops["mlp_up_proj"].median, Some(0.987));
    assert_eq!(rows[19].num_tokens, 3520);
    assert_eq!(rows[19].ops["attn_pre_proj"].mean, Some(0.50655));

    let (format, profile) =
        read_profile_any(sample("profiles/vidur/h100_dgx_all_reduce_head20.csv")).unwrap();
    assert_eq!(format, Format::VidurCollectiveProfile);
    let Profile::VidurCollective(rows) = profile else {
        panic!("not a collective")
    };
    assert_eq!(rows.len(), 20);
    let r = &rows[0];
    assert_eq!(r.collective, "all_reduce");
    assert_eq!(
        (r.num_workers, r.size_bytes, r.devices_per_node),
        (8, 2048, Some(8))
    );
    assert_eq!(r.time.median, Some(0.037));
    assert_eq!(r.time.mean, Some(0.03));
    assert_eq!(rows[1].size_bytes, 10240);

    let (format, profile) = read_profile_any(sample(
        "profiles/llmservingsim/H100_Llama-3.1-70B_tp4_attention_excerpt.csv",
    ))
    .unwrap();
    assert_eq!(format, Format::VidurAttentionProfile);
    let Profile::VidurAttention(rows) = profile else {
        panic!("not attention")
    };
    assert_eq!(rows.len(), 20);
    let pre = &rows[0];
    assert!(pre.is_prefill);
    assert_eq!(
        (pre.batch_size, pre.prefill_chunk_size, pre.kv_cache_size),
        (1, 32, 32)
    );
    assert_eq!(
        pre.ops["attn_prefill"].median,
        Some(0.005_312_000_000_000_001)
    );
    assert!(!pre.ops.contains_key("attn_decode"));
    assert_eq!(pre.attention_backend.as_deref(), Some("FLASH_ATTENTION"));
    assert_eq!(pre.num_tensor_parallel_workers, Some(4));
    let dec = &rows[10];
    assert!(!dec.is_prefill);
    assert_eq!(
        (dec.batch_size, dec.prefill_chunk_size, dec.kv_cache_size),
        (1, 0, 32)
    );
    assert_eq!(dec.ops["attn_decode"].median, Some(0.005_216));
    // Profiles are not benchmarks nor traces.
    assert!(matches!(
        read_any(sample("profiles/vidur/h100_dgx_all_reduce_head20.csv")),
        Err(ReadError::NotBenchmark { .. })
    ));
    assert!(read_requests_any(sample("profiles/vidur/h100_dgx_all_reduce_head20.csv")).is_err());
}

#[test]
fn guidellm_json_streams_from_a_reader() {
    for rel in [
        "guidellm/v0.3_guidellm-fixture_benchmarks_stripped.json",
        "fixtures/guidellm-v0.5-args-style.json",
        "inferno/guidellm.json",
    ] {
        let bytes = std::fs::read(sample(rel)).unwrap();
        let opts = ReadOptions::default();
        let whole = read_guidellm_json(&bytes, rel, &opts).unwrap();
        let file = std::fs::File::open(sample(rel)).unwrap();
        let streamed = read_guidellm_json_reader(file, rel, &opts).unwrap();
        assert_eq!(whole, streamed, "{rel}");
    }
    // v0.1 keeps its data in the request lists: a typed error, not a wrong answer.
    let bytes = std::fs::read(sample("fixtures/guidellm-v0.1-report.json")).unwrap();
    let err =
        read_guidellm_json_reader(&bytes[..], "v01.json", &ReadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("v0.1"), "{err}");
    // A syntax error has its position.
    let err = read_guidellm_json_reader(
        &b"{\"benchmarks\": [\n}"[..],
        "b.json",
        &ReadOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ReadError::Json { line: 2, .. }), "{err}");
}

#[test]
fn an_inferno_dataset_without_points_says_so() {
    let err = perf_readers::read_bytes(
        br#"{"name": "x", "data": []}"#,
        "empty.json",
        &perf_readers::ReadOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no benchmark points"), "{err}");
    assert_eq!(
        perf_readers::detect(br#"{ "name": "x", "data": [ ] }"#, None),
        perf_readers::Format::InfernoDataSet
    );
}

/// exp2 `sweep-i1024-o1024`: every row of the raw v0.5 CSV (rows 2–10 misaligned with the
/// header) gives the point of the HTML report of the same run.
#[test]
fn guidellm_raw_csv_rows_match_the_html_report() {
    let all = ReadOptions {
        select: SelectOptions::all(),
        ..ReadOptions::default()
    };
    let (format, csv) = read_any_with(
        sample("guidellm/v0.5_model-trainer_sweep-i1024-o1024_benchmarks.csv"),
        &all,
    )
    .unwrap();
    assert_eq!(format, Format::GuidellmCsv);
    let (_, html) = read_any_with(sample("inferno/benchmarks.html"), &all).unwrap();
    assert_eq!((csv.len(), html.len()), (10, 10));
    let same = |a: Option<f64>, b: Option<f64>, what: &str, i: usize| {
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(
            (a - b).abs() <= 1e-9 * a.abs().max(1.0),
            "row {i} {what}: {a} vs {b}"
        );
    };
    for (i, (c, h)) in csv.points.iter().zip(&html.points).enumerate() {
        same(c.request_rate(), h.request_rate(), "rate", i);
        same(c.ttft().mean(), h.ttft().mean(), "TTFT mean", i);
        same(c.ttft().median(), h.ttft().median(), "TTFT median", i);
        same(c.itl().mean(), h.itl().mean(), "ITL mean", i);
        same(c.itl().median(), h.itl().median(), "ITL median", i);
        same(c.e2e().mean(), h.e2e().mean(), "E2E mean", i);
        same(
            c.output_throughput(),
            h.output_throughput(),
            "output tok/s",
            i,
        );
    }
    // Row 6 (line 9, `constant`, 996 successful / 29 incomplete / 2 errored, 314 cells):
    // values looked up in the file (requests/s at cell 75, TTFT at 39–40, ITL at 63,
    // concurrency at 83).
    let p = &csv.points[5];
    assert_eq!(p.label(), Some("constant"));
    assert_eq!(p.request_rate(), Some(1.660_000_000_000_000_1));
    assert_eq!(p.ttft().mean(), Some(79.166_185_664_364_6));
    assert_eq!(p.ttft().median(), Some(79.409_122_467_041_02));
    assert_eq!(p.itl().mean(), Some(15.281_093_926_616_83));
    assert_eq!(p.concurrency(), Some(26.013_193_886_280_06));
    assert_eq!((p.successful(), p.failed()), (Some(996), Some(2)));
}

/// The llm-profiler sweep summary: a profile (not benchmark points), latencies s → ms.
#[test]
fn llm_profiler_summary() {
    let path = sample("profiles/llm-profiler/benchmark_data_Qwen_Qwen3-4B.summary.json");
    let e = read_any(&path).unwrap_err();
    assert!(matches!(
        e,
        ReadError::NotBenchmark {
            format: Format::LlmProfilerSummary,
            ..
        }
    ));
    assert!(one_line(&e).contains("read it as a profile"), "{e}");
    let (format, profile) = read_profile_any(&path).unwrap();
    assert_eq!(format, Format::LlmProfilerSummary);
    let Profile::Summary(s) = profile else {
        panic!("not a summary: {profile:?}")
    };
    assert_eq!(s.total_experiments, Some(95));
    let keys: Vec<u64> = s.by_batch_size.iter().map(|g| g.key).collect();
    assert_eq!(keys, [1, 2, 4, 8, 16, 32, 64]);
    let b1 = &s.by_batch_size[0];
    assert_eq!(b1.num_experiments, Some(15));
    assert_relative_eq!(
        b1.avg_prefill_ms,
        111.725_441_242_257_75,
        max_relative = 1e-12
    );
    assert_relative_eq!(
        b1.avg_decode_ms,
        7.771_073_716_382_185,
        max_relative = 1e-12
    );
    assert_eq!(
        b1.prefill_tokens_per_s,
        Some([18.001_967_481_233_05, 25_699.657_214_164_297])
    );
    assert_eq!(s.by_input_length.len(), 15);
    let l1024 = s.by_input_length.iter().find(|g| g.key == 1024).unwrap();
    assert_eq!(l1024.num_experiments, Some(7));
    assert_relative_eq!(
        l1024.avg_prefill_ms,
        615.091_359_375_843,
        max_relative = 1e-12
    );
    let [lo, mean, hi] = s.prefill_ms.unwrap();
    assert_relative_eq!(lo, 11.112_908_832_728_863, max_relative = 1e-12);
    assert_relative_eq!(mean, 309.977_608_938_750_5, max_relative = 1e-12);
    assert_relative_eq!(hi, 3_514.557_050_541_043_3, max_relative = 1e-12);
}

/// msserviceprofiler per-batch execute times: the fixture, and the real unit-test file of the
/// shared reference set when it is present (it is Mulan PSL v2, not copied into samples/).
#[test]
fn msserviceprofiler_batches() {
    let (format, profile) =
        read_profile_any(sample("fixtures/msserviceprofiler-batches.csv")).unwrap();
    assert_eq!(format, Format::MsServiceProfilerBatches);
    let Profile::Batches(rows) = profile else {
        panic!("not batches: {profile:?}")
    };
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].stage, Stage::Prefill);
    assert_eq!((rows[0].batch_size, rows[0].total_need_blocks), (2, 12));
    assert_eq!(rows[0].model_execute_time, 51_000.5);
    assert_eq!(rows[1].requests[1].output_length, 1);
    assert_eq!(rows[2].requests.len(), 1);
    // A bad tuple names the row and the column.
    let bad = "\"('batch_stage', 'batch_size', 'total_need_blocks', 'total_prefill_token', 'max_seq_len', 'model_execute_time')\",\"('input_length', 'need_blocks', 'output_length')\"\n\"('prefill', 1.0, 19, 1015, 1015)\",\"((1015, 19, 0),)\"\n";
    let e = perf_readers::read_ms_batches(bad.as_bytes(), "b.json").unwrap_err();
    let msg = one_line(&e);
    assert!(
        msg.starts_with("b.json: row 1, column `('batch_stage'"),
        "{msg}"
    );
    assert!(
        msg.contains("(found: ('prefill', 1.0, 19, 1015, 1015))"),
        "{msg}"
    );

    let real = "/work/shared/data/formats/llm-profiler/msserviceprofiler_ut_pretrain_data.json";
    if !std::path::Path::new(real).is_file() {
        return;
    }
    let (format, profile) = read_profile_any(real).unwrap();
    assert_eq!(format, Format::MsServiceProfilerBatches);
    let Profile::Batches(rows) = profile else {
        panic!("not batches")
    };
    // Values looked up in the file: 2 prefill + 255 decode rows; rows 1–3 as below.
    assert_eq!(rows.len(), 257);
    assert_eq!(rows.iter().filter(|r| r.stage == Stage::Prefill).count(), 2);
    assert_eq!(rows[0].batch_size, 1);
    assert_eq!(rows[0].total_prefill_tokens, 1015);
    assert_eq!(rows[0].model_execute_time, 68_713.25);
    assert_eq!(rows[1].requests.len(), 9);
    assert_eq!(rows[1].requests[0].input_length, 208);
    assert_eq!(rows[1].model_execute_time, 148_335.75);
    assert_eq!(rows[2].stage, Stage::Decode);
    assert_eq!((rows[2].batch_size, rows[2].max_seq_len), (10, 1015));
    assert_eq!(rows[2].model_execute_time, 26_340.0);
}

/// BLIS trained-physics coefficients: fitted parameters, read as a model document.
#[test]
fn blis_trained_physics() {
    let path = sample("blis/trained_physics_iter29.json");
    let e = read_any(&path).unwrap_err();
    assert!(matches!(
        e,
        ReadError::NotBenchmark {
            format: Format::TrainedPhysics,
            ..
        }
    ));
    assert!(one_line(&e).contains("fitted model parameters"), "{e}");
    let (format, doc) = read_document_any(&path).unwrap();
    assert_eq!(format, Format::TrainedPhysics);
    let Document::TrainedPhysics(c) = doc else {
        panic!("not coefficients: {doc:?}")
    };
    assert_eq!(c.backend.as_deref(), Some("trained-physics"));
    assert_eq!(c.alpha_coeffs, [15_563.199_579, 777.3455, 45.907_545]);
    assert_eq!(c.beta_coeffs.len(), 10);
    assert_eq!(c.beta_coeffs[4], 32.095_467_17);
    assert_eq!(c.experiments.len(), 15);
    let x = &c.experiments[0];
    assert_eq!(x.id, "17");
    assert_eq!(
        x.model.as_deref(),
        Some("RedHatAI/Llama-4-Scout-17B-16E-Instruct-FP8-dynamic")
    );
    assert_eq!((x.hardware.as_deref(), x.tp), (Some("H100"), Some(2)));
    assert_eq!(x.completed_requests, Some(5100));
    assert_eq!(x.ttft_mean_ms, Some(55.447_485_294_117_65));
    assert_eq!(x.e2e_mean_ms, Some(6_467.512_167_254_902));
    assert_eq!(x.itl_mean_ms, Some(25.956_630_291_339_206));
    assert_eq!(c.experiments[14].id, "67");
    // Configuration and offered workload.
    assert_eq!(
        (x.max_num_seqs, x.max_num_batched_tokens),
        (Some(128), Some(2048))
    );
    assert_eq!((x.total_kv_blocks, x.cpu_kv_blocks), (Some(8253), Some(0)));
    let w = x.workload.as_ref().unwrap();
    assert_eq!((w.num_requests, w.seed), (Some(5100), Some(42)));
    let sp = w.shared_prefix.unwrap();
    assert_eq!(
        (
            sp.num_unique_system_prompts,
            sp.num_users_per_system_prompt,
            sp.system_prompt_len,
            sp.question_len,
            sp.output_len,
            sp.enable_multi_turn_chat
        ),
        (
            Some(9),
            Some(5),
            Some(100),
            Some(447),
            Some(248),
            Some(true)
        )
    );
    let stages: Vec<(f64, f64)> = w.stages.iter().map(|s| (s.rate, s.duration_s)).collect();
    assert_eq!(stages, [(2.5, 600.0), (6.0, 600.0)]);
    assert_eq!(c.experiments[14].cpu_kv_blocks, Some(1023));
    // A load stage without a usable rate is an error naming its JSON path.
    let bad = br#"{"alpha_coeffs": [], "beta_coeffs": [], "experiments": [{"id": "1",
        "workload": {"inference_perf": {"stages": [{"rate": 0, "duration": 5}]}}}]}"#;
    let msg = read_trained_physics(bad, "p.json").unwrap_err().to_string();
    assert!(
        msg.starts_with(
            "p.json: $.experiments[0].workload.inference_perf.stages[0].rate: expected a rate > 0"
        ),
        "{msg}"
    );
}

/// The Inferno queue-analysis REST examples and golden primitives (`samples/inferno/`).
#[test]
fn inferno_analyzer_documents() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/inferno/");
    let doc = |name: &str| read_document_any(format!("{dir}{name}")).unwrap();
    let (format, Document::AnalyzerProblem(p)) = doc("problem-data.json") else {
        panic!("not a problem")
    };
    assert_eq!(format, Format::InfernoProblem);
    assert_eq!((p.rps, p.max_batch_size), (Some(3.0), Some(48.0)));
    assert_eq!(
        (p.avg_input_tokens, p.avg_output_tokens),
        (Some(128.0), Some(512.0))
    );
    assert_eq!(
        (p.alpha, p.beta, p.gamma),
        (Some(12.0), Some(0.05), Some(0.0005))
    );
    assert_eq!(p.max_queue_size, Some(128.0));
    assert_eq!(
        (p.target_ttft_ms, p.target_itl_ms),
        (Some(60.0), Some(20.0))
    );

    let (format, Document::AnalyzerSolution(s)) = doc("solution-solve.json") else {
        panic!("not a solution")
    };
    assert_eq!(format, Format::InfernoSolution);
    assert!(!s.is_optimize());
    assert_eq!(s.throughput, Some(3.0));
    assert_eq!(s.avg_resp_time_ms, Some(10_568.446));
    assert_eq!(s.avg_ttft_ms, Some(75.317_46));
    assert_eq!(s.max_rps, Some(3.820_823_2));
    assert_eq!(s.rps_target_ttft, Some(0.0));

    let (_, Document::AnalyzerSolution(t)) = doc("solution-target.json") else {
        panic!("not a solution")
    };
    assert_eq!(t.rps_target_ttft, Some(2.910_594));
    assert_eq!(t.rps_target_itl, Some(2.874_109_5));

    let (_, Document::AnalyzerSolution(o)) = doc("solution-optimize.json") else {
        panic!("not a solution")
    };
    assert!(o.is_optimize());
    assert_eq!(o.concurrency, Some(48.0));
    assert_eq!(o.avg_ttft_ms, Some(60.000_584));
    assert_eq!(
        (o.m_itl, o.m_tpf, o.oracle_calls),
        (Some(31.0), Some(48.0), Some(6.0))
    );
    assert_eq!(o.feasible, Some(true));
    assert_eq!(o.max_rps, Some(3.860_929_5));

    let (format, Document::GoldenPrimitives(rows)) = doc("golden_primitives.json") else {
        panic!("not golden primitives")
    };
    assert_eq!(format, Format::InfernoGoldenPrimitives);
    assert_eq!(rows.len(), 8);
    assert_eq!(rows[0].batch_size, 1.0);
    assert_eq!(rows[0].iter_time_ms, 8.296_954);
    assert_eq!(rows[0].tau_ms, 8_504.378);
    assert_eq!((rows[6].nc, rows[7].nc), (7.0, 39.0));
    assert_eq!(rows[7].prefill_ms, 19_503.664);

    // None of them is benchmark points.
    let e = read_any(format!("{dir}problem-data.json")).unwrap_err();
    assert!(
        one_line(&e).contains("inferno-problem is an analyzer problem"),
        "{e}"
    );
}

/// The model-trainer's demo output (`experiments/exp2/results/sweep-i64-o64.txt`).
#[test]
fn inferno_trainer_result_text() {
    let (format, doc) =
        read_document_any(sample("inferno/exp2_results_sweep-i64-o64.txt")).unwrap();
    assert_eq!(format, Format::InfernoTrainerResult);
    let Document::TrainerResult(r) = doc else {
        panic!("not a trainer result: {doc:?}")
    };
    assert_eq!(r.alpha, 10.146_121_745_407_905);
    assert_eq!(r.beta, 0.037_190_152_962_726_75);
    assert_eq!(r.gamma, 8.155_695_256_097_304e-10);
    assert_eq!(r.avg_err_ttft_ms, Some(7.903_765_542_166_574));
    assert_eq!(r.avg_err_itl_ms, Some(1.341_144_054_372_283));
    assert_eq!(r.avg_err_weighted, Some(0.061_517_247_945_307_34));
    assert_eq!(r.objective, Some(0.061_517));
    assert_eq!(r.dataset.as_deref(), Some("GuideLLM HTML benchmark data"));
    assert_eq!(r.points, Some(7));
    assert_eq!(r.initial, Some([1.0, 0.01, 0.0001]));
    assert_eq!(r.rows.len(), 7);
    assert_eq!(
        (
            r.rows[0].rps,
            r.rows[0].ttft_measured_ms,
            r.rows[0].itl_predicted_ms
        ),
        (1.40, 18.32, 10.35)
    );
    assert_eq!(r.rows[6].rps, 91.37);
    // The POST /train answer alone is the same format.
    let json = br#"{"OptimizedParms":{"alpha":6.76,"beta":0.025,"gamma":2.5e-9},"AnalysisResults":{"avgErrTTFT":1.5,"avgErrITL":0.8,"avgErrWeighted":1.04}}"#;
    let (format, Document::TrainerResult(t)) = read_document_bytes(json, "train.json").unwrap()
    else {
        panic!("not a trainer result")
    };
    assert_eq!(format, Format::InfernoTrainerResult);
    assert_eq!((t.alpha, t.points), (6.76, None));
}

/// Licence texts and checksum lists are one-line "not data" errors; a Markdown page that
/// quotes trainer output is not taken for one.
#[test]
fn non_data_files_say_what_they_are() {
    let licence = read_any(sample("LICENSE-Apache-2.0")).unwrap_err();
    assert!(
        one_line(&licence).ends_with("unknown format: a licence text, not data"),
        "{licence}"
    );
    let sums = b"c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4  model-trainer/LICENSE\n";
    let e = read_bytes(sums, "SHA256SUMS", &ReadOptions::default()).unwrap_err();
    assert!(one_line(&e).contains("a checksum list"), "{e}");
    let md = b"# Notes\n\nEstimated parameters:\n{\"OptimizedParms\":{\"alpha\":1,\"beta\":0,\"gamma\":0}}\n";
    assert_eq!(perf_readers::detect(md, None), Format::Unknown);
}
