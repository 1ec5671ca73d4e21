//! Profile sweeps against the `fake-batch-bench` binary (SGLang `bench_one_batch` and
//! `vllm bench latency` stand-in with a known latency law) and an in-test streaming
//! OpenAI-compatible server: law recovery, failure recording, cache resume, round trip through
//! `perf_readers::read_profiler_sweep`, cancellation, and no process left behind.

mod common;

use common::tmp;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use npu_backends::profile::{
    BackendConfig, BackendKind, BenchmarkFile, PointOutcome, ProfileOptions, Profiler, Progress,
    SweepOutcome, SweepPlan, SweepPoint, is_interrupted,
};
use npu_backends::{NpuError, ProcessRunner, SystemRunner};

const FAKE: &str = env!("CARGO_BIN_EXE_fake-batch-bench");
/// The fake's law, set explicitly: prefill `a + b·bs·L + c·bs·L²`, step `d + e·bs + f·bs·L`.
const LAW: [f64; 6] = [8e-3, 1.6e-5, 1.3e-9, 7e-3, 8.5e-6, 4.4e-8];

fn law_prefill(bs: f64, l: f64) -> f64 {
    LAW[0] + LAW[1] * bs * l + LAW[2] * bs * l * l
}

fn law_decode(bs: f64, l: f64) -> f64 {
    LAW[3] + LAW[4] * bs + LAW[5] * bs * l
}

/// Asserts that no process started by the runner, nor any member of their process groups,
/// is still alive (zombies waiting for their reaper are not processes that run).
fn assert_no_strays(runner: &SystemRunner) {
    let pids = runner.pids();
    assert!(!pids.is_empty());
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut alive = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let pid: u32 = entry.file_name().to_string_lossy().parse().unwrap_or(0);
            let pgrp: u32 = fields.get(2).and_then(|p| p.parse().ok()).unwrap_or(0);
            if fields.first() != Some(&"Z") && (pids.contains(&pgrp) || pids.contains(&pid)) {
                alive.push(stat);
            }
        }
        if alive.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "left behind: {alive:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn law_env() -> BTreeMap<String, String> {
    let law = LAW.map(|x| x.to_string()).join(",");
    BTreeMap::from([("FAKE_LAW".to_owned(), law)])
}

fn options(dir: &Path, kind: BackendKind, plan: SweepPlan) -> ProfileOptions {
    let mut backend = BackendConfig::new(kind, "Qwen/Qwen3-4B");
    backend.engine_cmd = Some(match kind {
        BackendKind::Vllm => vec![FAKE.to_owned(), "bench".to_owned(), "latency".to_owned()],
        _ => vec![FAKE.to_owned()],
    });
    let mut o = ProfileOptions::new(backend, plan);
    o.cache_dir = dir.join("cache");
    o.poll_s = 0.005;
    o.stop_grace_s = 2.0;
    o.gpu_type = Some("fake-gpu".to_owned());
    o.env = law_env();
    o.env.insert(
        "FAKE_BENCH_LOG".to_owned(),
        dir.join("invocations.log").display().to_string(),
    );
    o
}

fn run(o: &ProfileOptions, runner: &SystemRunner) -> (SweepOutcome, Vec<String>) {
    let mut lines = Vec::new();
    let out = Profiler::new(o.clone(), runner)
        .run(&mut |p: &Progress<'_>| lines.push(p.to_string()))
        .unwrap();
    (out, lines)
}

fn invocations(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("invocations.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn default_sweep_recovers_the_law_records_oom_and_reads_back() {
    let dir = tmp("default");
    let runner = SystemRunner::new();
    let mut o = options(
        &dir,
        BackendKind::Sglang,
        SweepPlan::powers_of_two(64, 16384, 32, 3).unwrap(),
    );
    o.env
        .insert("FAKE_KV_TOKENS".to_owned(), "262144".to_owned());
    let (out, lines) = run(&o, &runner);
    assert_eq!((out.cached_points, out.measured_points), (0, 105));
    assert_eq!(lines.len(), 106);
    assert!(
        lines[0].starts_with("0 of 105 points cached in "),
        "{}",
        lines[0]
    );
    let f = &out.file;
    // bs·(L + 32) > 262144 tokens: the largest points ran out of memory.
    let oom: Vec<(u32, u32)> = f
        .metadata
        .failed_configs
        .iter()
        .map(|c| {
            assert_eq!((c.reason.as_str(), c.output_len), ("oom", 32));
            (c.batch_size, c.input_len)
        })
        .collect();
    assert_eq!(
        oom,
        [
            (16, 16384),
            (32, 8192),
            (32, 16384),
            (64, 4096),
            (64, 8192),
            (64, 16384)
        ]
    );
    assert!(
        lines.iter().any(|l| l.ends_with("bs 64 input 16384: oom")),
        "{lines:?}"
    );
    assert_eq!(f.results.len(), 99);
    assert_eq!(f.metadata.successful_configs, 99);
    assert_eq!(f.metadata.benchmark_type, "comprehensive_sweep");
    assert_eq!(
        (f.metadata.max_batch_size, f.metadata.max_input_tokens),
        (64, 16384)
    );
    assert_eq!(f.metadata.gpu_type, "fake-gpu");
    for r in &f.results {
        let (bs, l) = (f64::from(r.batch_size), f64::from(r.input_len));
        assert_eq!(r.num_runs, 3);
        assert_eq!(r.runs_data.len(), 3);
        assert_eq!(
            r.runs_data[2].run_name,
            format!("sweep_bs{}_il{}_run2", r.batch_size, r.input_len)
        );
        // Noise is ±0.2 % per run.
        assert!(rel(r.prefill_latency, law_prefill(bs, l)) < 2.5e-3, "{r:?}");
        let d = r.median_decode_latency.unwrap();
        assert!(rel(d, law_decode(bs, l)) < 2.5e-3, "{r:?}");
        assert!(r.prefill_latency_std > 0.0 && r.prefill_latency_std < 3e-3 * r.prefill_latency);
        let tp = bs * l / r.runs_data[0].prefill_latency;
        assert!(rel(r.runs_data[0].prefill_throughput, tp) < 1e-12);
        assert!(r.num_failed_runs.is_none());
    }
    let bs8 = f
        .results
        .iter()
        .find(|r| (r.batch_size, r.input_len) == (8, 1024))
        .unwrap();
    let line = lines
        .iter()
        .find(|l| l.contains("bs 8 input 1024:"))
        .unwrap();
    assert!(
        line.ends_with(&format!(
            "prefill {:.1} ms, decode {:.1} ms",
            bs8.prefill_latency * 1000.0,
            bs8.median_decode_latency.unwrap() * 1000.0
        )),
        "{line}"
    );

    // The written file reads back unchanged.
    let path = f.write_to_dir(&dir.join("out")).unwrap();
    assert_eq!(
        path.file_name().unwrap(),
        "benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.json"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let back: BenchmarkFile = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, f);
    let sweep = perf_readers::read_profiler_sweep(text.as_bytes(), "b.json").unwrap();
    assert_eq!(sweep.model.as_deref(), Some("Qwen/Qwen3-4B"));
    assert_eq!(sweep.gpu.as_deref(), Some("fake-gpu"));
    assert_eq!((sweep.tp_size, sweep.pp_size), (Some(1), Some(1)));
    assert_eq!(sweep.rows.len(), 99);
    for (row, r) in sweep.rows.iter().zip(&f.results) {
        assert_eq!(
            (row.batch_size, row.input_len, row.output_len),
            (r.batch_size, r.input_len, 32)
        );
        assert!(rel(row.prefill_ms, r.prefill_latency * 1000.0) < 1e-12);
        assert!(
            rel(
                row.decode_ms.unwrap(),
                r.median_decode_latency.unwrap() * 1000.0
            ) < 1e-12
        );
        assert!(rel(row.total_ms.unwrap(), r.total_latency * 1000.0) < 1e-12);
        assert!(rel(row.prefill_std_ms.unwrap(), r.prefill_latency_std * 1000.0) < 1e-12);
        assert_eq!(row.num_runs, Some(3));
    }
    let failed: Vec<_> = sweep
        .failed
        .iter()
        .map(|c| (c.batch_size, c.input_len, c.reason.as_str()))
        .collect();
    assert_eq!(failed.len(), 6);
    assert_eq!(failed[0], (16, 16384, "oom"));

    // A rerun starts nothing: every point is cached.
    let before = invocations(&dir).len();
    assert_eq!(before, 105);
    let (again, lines) = run(&o, &runner);
    assert_eq!((again.cached_points, again.measured_points), (105, 0));
    assert_eq!(
        lines,
        [format!(
            "105 of 105 points cached in {}; measuring 0",
            again.cache_path.display()
        )]
    );
    assert_eq!(again.file, out.file);
    assert_eq!(invocations(&dir).len(), before);
    assert_no_strays(&runner);
}

#[test]
fn a_resumed_sweep_skips_cached_points() {
    let dir = tmp("resume");
    let runner = SystemRunner::new();
    let small = options(
        &dir,
        BackendKind::Sglang,
        SweepPlan::with_lists(vec![1, 2], vec![8, 16], 4, 2).unwrap(),
    );
    let (out, _) = run(&small, &runner);
    assert_eq!((out.cached_points, out.measured_points), (0, 4));
    assert_eq!(invocations(&dir).len(), 4);

    // A wider grid of the same configuration reuses the 4 points.
    let mut wide = small.clone();
    wide.plan = SweepPlan::with_lists(vec![1, 2, 4], vec![8, 16, 32], 4, 2).unwrap();
    let (out, lines) = run(&wide, &runner);
    assert_eq!((out.cached_points, out.measured_points), (4, 5));
    assert!(
        lines[0].starts_with("4 of 9 points cached in "),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), 6);
    let new: Vec<String> = invocations(&dir)[4..].to_vec();
    assert_eq!(
        new,
        [
            "sglang bs=1 il=32 ol=4 runs=2",
            "sglang bs=2 il=32 ol=4 runs=2",
            "sglang bs=4 il=8 ol=4 runs=2",
            "sglang bs=4 il=16 ol=4 runs=2",
            "sglang bs=4 il=32 ol=4 runs=2",
        ]
    );
    assert_eq!(out.file.results.len(), 9);
    assert_eq!(out.file.metadata.batch_sizes_tested, [1, 2, 4]);

    // Another configuration (output length) has its own cache file.
    let mut other = wide.clone();
    other.plan.output_len = 8;
    let (out2, _) = run(&other, &runner);
    assert_eq!(out2.cached_points, 0);
    assert_ne!(out2.cache_path, out.cache_path);

    // --overwrite-cache measures everything again.
    let mut over = wide.clone();
    over.overwrite_cache = true;
    let (out3, _) = run(&over, &runner);
    assert_eq!((out3.cached_points, out3.measured_points), (0, 9));
    assert_eq!(invocations(&dir).len(), 4 + 5 + 9 + 9);
    assert_no_strays(&runner);
}

#[test]
fn failures_are_recorded_per_point_and_the_sweep_goes_on() {
    let dir = tmp("failures");
    let runner = SystemRunner::new();
    let mut o = options(
        &dir,
        BackendKind::Sglang,
        SweepPlan::with_lists(vec![1, 2, 4, 8], vec![8, 16, 32], 4, 3).unwrap(),
    );
    // TP 2: every run leaves a worker in its process group, which must be stopped too.
    o.backend.tp_size = 2;
    o.timeout_s = 1.0;
    for (k, v) in [
        ("FAKE_CRASH_AT", "2:16,4:8:2"),
        ("FAKE_SLOW_AT", "1:32"),
        ("FAKE_SLOW_S", "60"),
        // 8 × (32 + 4) > 256: the pool cannot hold the point.
        ("FAKE_POOL_TOKENS", "256"),
    ] {
        o.env.insert(k.to_owned(), v.to_owned());
    }
    let started = Instant::now();
    let (out, lines) = run(&o, &runner);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(out.measured_points, 12);
    let reasons: BTreeMap<(u32, u32), &str> = out
        .file
        .metadata
        .failed_configs
        .iter()
        .map(|c| ((c.batch_size, c.input_len), c.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        BTreeMap::from([
            ((1, 32), "timeout"),
            (
                (2, 16),
                "runtime_error: RuntimeError: CUDA error: an illegal memory access was encountered"
            ),
            ((8, 32), "skipped_due_to_limits"),
        ])
    );
    // Two of three runs of (4, 8) finished before the crash: kept, from the printed lines.
    let partial = out
        .file
        .results
        .iter()
        .find(|r| (r.batch_size, r.input_len) == (4, 8))
        .unwrap();
    assert_eq!(partial.num_runs, 2);
    assert_eq!(partial.num_failed_runs, Some(1));
    assert_eq!(
        partial.partial_success_reason.as_deref(),
        Some("runtime_error: RuntimeError: CUDA error: an illegal memory access was encountered")
    );
    assert!(rel(partial.prefill_latency, law_prefill(4.0, 8.0)) < 3e-3);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("bs 4 input 8: prefill")
                && l.contains("(2 of 3 runs; runtime_error")),
        "{lines:?}"
    );
    assert_eq!(out.file.results.len(), 9);
    assert_eq!(
        out.file
            .results
            .iter()
            .filter(|r| r.num_failed_runs.is_none())
            .count(),
        8
    );
    assert_no_strays(&runner);
}

#[test]
fn vllm_latency_passes_are_split_into_prefill_and_decode() {
    let dir = tmp("vllm");
    let runner = SystemRunner::new();
    let mut o = options(
        &dir,
        BackendKind::Vllm,
        SweepPlan::with_lists(vec![1, 4, 16], vec![16, 256, 2048], 32, 3).unwrap(),
    );
    o.env
        .insert("FAKE_KV_TOKENS".to_owned(), "20000".to_owned());
    let (out, _) = run(&o, &runner);
    assert_eq!(out.file.metadata.backend, "vllm");
    let f = &out.file;
    assert_eq!(f.metadata.failed_configs.len(), 1);
    assert_eq!(
        (
            f.metadata.failed_configs[0].batch_size,
            f.metadata.failed_configs[0].reason.as_str()
        ),
        (16, "oom")
    );
    assert_eq!(f.results.len(), 8);
    for r in &f.results {
        let (bs, l) = (f64::from(r.batch_size), f64::from(r.input_len));
        assert!(rel(r.prefill_latency, law_prefill(bs, l)) < 2.5e-3, "{r:?}");
        assert!(
            rel(r.median_decode_latency.unwrap(), law_decode(bs, l)) < 2.5e-3,
            "{r:?}"
        );
    }
    // Two passes per point (output length 1, then 32), the second skipped after an OOM.
    let inv = invocations(&dir);
    assert_eq!(inv.len(), 2 * 8 + 1);
    assert_eq!(inv[0], "vllm bs=1 il=16 ol=1 runs=3");
    assert_eq!(inv[1], "vllm bs=1 il=16 ol=32 runs=3");
    assert_no_strays(&runner);
}

#[test]
fn a_missing_engine_ends_the_sweep_with_an_error_and_records_nothing() {
    let dir = tmp("missing");
    let runner = SystemRunner::new();
    let mut o = options(
        &dir,
        BackendKind::Sglang,
        SweepPlan::with_lists(vec![1], vec![8], 2, 1).unwrap(),
    );
    o.backend.engine_cmd = Some(vec![dir.join("no-such-bench").display().to_string()]);
    let e = Profiler::new(o.clone(), &runner)
        .run(&mut |_| {})
        .unwrap_err();
    assert!(matches!(e, NpuError::Spawn { .. }), "{e}");
    assert!(e.to_string().contains("no-such-bench"), "{e}");
    assert!(!is_interrupted(&e));
    // Nothing was cached: a rerun with the right command measures the point.
    o.backend.engine_cmd = Some(vec![FAKE.to_owned()]);
    let (out, _) = run(&o, &runner);
    assert_eq!(out.measured_points, 1);

    // Bad settings name their flag.
    let mut bad = o.clone();
    bad.backend.tp_size = 0;
    let e = Profiler::new(bad, &runner).run(&mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("--tp-size"), "{e}");
    let mut bad = o.clone();
    bad.timeout_s = 0.0;
    let e = Profiler::new(bad, &runner).run(&mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("--timeout"), "{e}");
    // A corrupt cache file is named, not silently replaced.
    std::fs::write(&out.cache_path, "[1, 2").unwrap();
    let e = Profiler::new(o, &runner).run(&mut |_| {}).unwrap_err();
    assert!(
        e.to_string()
            .contains(&out.cache_path.display().to_string()),
        "{e}"
    );
}

#[test]
fn cancelling_stops_the_running_point_and_keeps_the_finished_ones() {
    let dir = tmp("cancel");
    let runner = Arc::new(SystemRunner::new());
    let mut o = options(
        &dir,
        BackendKind::Sglang,
        SweepPlan::with_lists(vec![1, 2], vec![8], 2, 1).unwrap(),
    );
    o.backend.tp_size = 3;
    o.env.insert("FAKE_SLOW_AT".to_owned(), "2:8".to_owned());
    o.env.insert("FAKE_SLOW_S".to_owned(), "120".to_owned());
    let cancel = Arc::new(AtomicBool::new(false));
    let log = dir.join("invocations.log");
    let watcher = {
        let (cancel, runner) = (Arc::clone(&cancel), Arc::clone(&runner));
        std::thread::spawn(move || {
            // Once the slow point has started, do what the CLI's Ctrl-C handler does.
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if std::fs::read_to_string(&log)
                    .unwrap_or_default()
                    .contains("bs=2 ")
                {
                    std::thread::sleep(Duration::from_millis(200));
                    cancel.store(true, Ordering::SeqCst);
                    runner.shutdown(Duration::from_secs(2));
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let started = Instant::now();
    let e = Profiler::new(o.clone(), &*runner)
        .with_cancel(Arc::clone(&cancel))
        .run(&mut |_| {})
        .unwrap_err();
    watcher.join().unwrap();
    assert!(is_interrupted(&e), "{e}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_no_strays(&runner);
    // The first point stays cached; the interrupted one was not recorded.
    let fresh = SystemRunner::new();
    o.env.remove("FAKE_SLOW_AT");
    let (out, _) = run(&o, &fresh);
    assert_eq!((out.cached_points, out.measured_points), (1, 1));
    assert!(matches!(
        out.file.results.as_slice(),
        [a, b] if a.point() == SweepPoint { batch_size: 1, input_len: 8 } && b.batch_size == 2
    ));
}

/// A streaming `/v1/completions` server: each request waits `prefill`, then streams
/// `max_tokens` events `decode` apart; requests with `prompt` of 1000+ tokens get a 500 with
/// an out-of-memory message.
fn stream_server(prefill: Duration, decode: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let body = loop {
                    let n = s.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap();
                        if body.len() >= len {
                            break body.to_owned();
                        }
                    }
                };
                let req: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(req["stream"], true);
                assert_eq!(req["model"], "Qwen/Qwen3-4B");
                if req["prompt"].as_array().unwrap().len() >= 1000 {
                    let msg = "{\"object\":\"error\",\"message\":\"CUDA out of memory. Tried to allocate 8.00 GiB\"}";
                    let _ = write!(
                        s,
                        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}",
                        msg.len()
                    );
                    return;
                }
                let n = req["max_tokens"].as_u64().unwrap();
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                );
                std::thread::sleep(prefill);
                for i in 0..n {
                    if i > 0 {
                        std::thread::sleep(decode);
                    }
                    let ev =
                        format!("data: {{\"choices\":[{{\"index\":0,\"text\":\" t{i}\"}}]}}\n\n");
                    let _ = write!(s, "{:x}\r\n{ev}\r\n", ev.len());
                    let _ = s.flush();
                }
                let done = "data: [DONE]\n\n";
                let _ = write!(s, "{:x}\r\n{done}\r\n0\r\n\r\n", done.len());
            });
        }
    });
    port
}

#[test]
fn openai_backend_times_a_streaming_server() {
    let dir = tmp("openai");
    let port = stream_server(Duration::from_millis(60), Duration::from_millis(20));
    let runner = SystemRunner::new();
    let mut o = options(
        &dir,
        BackendKind::Openai,
        SweepPlan::with_lists(vec![1, 3], vec![16, 1024], 5, 2).unwrap(),
    );
    o.backend.engine_cmd = None;
    o.backend.url = Some(format!("http://127.0.0.1:{port}"));
    let (out, _) = run(&o, &runner);
    let f = &out.file;
    assert_eq!(f.metadata.backend, "openai");
    assert_eq!(f.results.len(), 2);
    for r in &f.results {
        assert_eq!(r.num_runs, 2);
        assert!((0.060..0.120).contains(&r.prefill_latency), "{r:?}");
        let d = r.median_decode_latency.unwrap();
        assert!((0.019..0.035).contains(&d), "{r:?}");
        assert!((0.140..0.250).contains(&r.total_latency), "{r:?}");
    }
    let failed: Vec<_> = f
        .metadata
        .failed_configs
        .iter()
        .map(|c| (c.batch_size, c.reason.as_str()))
        .collect();
    assert_eq!(failed, [(1, "oom"), (3, "oom")]);

    // A server that is not there ends the sweep with an error naming it.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut gone = o.clone();
    gone.backend.url = Some(format!("http://127.0.0.1:{closed}"));
    let e = Profiler::new(gone, &runner).run(&mut |_| {}).unwrap_err();
    assert!(
        e.to_string().contains(&format!("127.0.0.1:{closed}")),
        "{e}"
    );
    let _ = PointOutcome::Failed;
}
