//! `llm-perf profile` against the `fake-batch-bench` stand-in for SGLang's `bench_one_batch`
//! (built from the `npu-backends` crate): the sweep file feeds `predict train`, whose
//! predictions match the fake's latency law; the largest points are recorded as `oom`; a rerun
//! resumes from the cache without starting the fake for cached points; Ctrl-C stops the
//! benchmark and its workers; bad flags exit 2 naming the flag.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The fake's law, passed to it: prefill `a + b·bs·L + c·bs·L²`, step `d + e·bs + f·bs·L` (s).
const LAW: [f64; 6] = [8e-3, 1.6e-5, 1.3e-9, 7e-3, 8.5e-6, 4.4e-8];

fn law_ms(mode: &str, bs: f64, l: f64) -> f64 {
    1000.0
        * match mode {
            "prefill" => LAW[0] + LAW[1] * bs * l + LAW[2] * bs * l * l,
            _ => LAW[3] + LAW[4] * bs + LAW[5] * bs * l,
        }
}

/// The `fake-batch-bench` binary of `npu-backends`.
fn fake_bench() -> PathBuf {
    common::npu_fake("fake-batch-bench")
}

/// A scratch directory removed when dropped.
struct TmpDir(PathBuf);

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmp(name: &str) -> TmpDir {
    let d = std::env::temp_dir().join(format!("llm-perf-profile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TmpDir(d)
}

/// `llm-perf ARGS` with the fake's environment for `dir`.
fn cli(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_llm-perf"));
    c.args(args)
        .env("FAKE_LAW", LAW.map(|x| x.to_string()).join(","))
        .env("FAKE_BENCH_LOG", dir.join("invocations.log"))
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    c
}

fn profile_args(dir: &Path) -> Vec<String> {
    vec![
        "profile".into(),
        "Qwen/Qwen3-4B".into(),
        "--engine-cmd".into(),
        fake_bench().display().to_string(),
        "--cache-dir".into(),
        dir.join("cache").display().to_string(),
        "--out-dir".into(),
        dir.join("out").display().to_string(),
        "--gpu-type".into(),
        "fake-gpu".into(),
    ]
}

fn run(dir: &Path, args: &[String], env: &[(&str, &str)]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cli(dir, &args, env).output().expect("llm-perf runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) -> (String, String) {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    (text(&out.stdout), text(&out.stderr))
}

fn invocations(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("invocations.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn profile_then_predict_matches_the_fake_law_within_2_percent() {
    let d = tmp("law");
    let dir = d.0.as_path();
    let out = run(dir, &profile_args(dir), &[("FAKE_KV_TOKENS", "262144")]);
    let (stdout, stderr) = ok(&out);
    let file = dir.join("out/benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.json");
    assert!(
        stdout.contains(&format!("wrote {}", file.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("105 points (105 measured now, 0 cached in "),
        "{stdout}"
    );
    assert!(
        stdout.contains("successful: 99, failed: 6 (oom 6)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("[cache] 0 of 105 points cached in "),
        "{stderr}"
    );
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with('[') && l.contains("/105] "))
            .count(),
        105
    );
    assert!(
        stderr.contains("[105/105] bs 64 input 16384: oom"),
        "{stderr}"
    );
    // One line per point, in grid order, with the averaged times.
    let line = stderr
        .lines()
        .find(|l| l.contains("] bs 8 input 1024: "))
        .unwrap();
    let rest = line
        .strip_prefix("[56/105] bs 8 input 1024: prefill ")
        .expect(line);
    let (prefill, decode) = rest.split_once(" ms, decode ").expect(line);
    let decode = decode.strip_suffix(" ms").expect(line);
    for (shown, mode) in [(prefill, "prefill"), (decode, "decode")] {
        let shown: f64 = shown.parse().expect(line);
        let law = law_ms(mode, 8.0, 1024.0);
        // Printed with one decimal; the fake's noise is ±0.2 %.
        assert!(
            (shown - law).abs() <= 0.05 + 0.002 * law,
            "{line}: law {law}"
        );
    }

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let failed: Vec<(u64, u64, &str)> = doc["metadata"]["failed_configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["batch_size"].as_u64().unwrap(),
                c["input_len"].as_u64().unwrap(),
                c["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            (16, 16384, "oom"),
            (32, 8192, "oom"),
            (32, 16384, "oom"),
            (64, 4096, "oom"),
            (64, 8192, "oom"),
            (64, 16384, "oom")
        ]
    );
    assert_eq!(doc["metadata"]["successful_configs"], 99);
    assert_eq!(doc["results"].as_array().unwrap().len(), 99);

    let predictors = dir.join("predictors.json");
    let train = [
        "predict",
        "train",
        "--profile",
        &file.display().to_string(),
        "--config",
        "fake",
        "--out",
        &predictors.display().to_string(),
    ]
    .map(str::to_owned);
    ok(&run(dir, &train, &[]));
    let mut worst: f64 = 0.0;
    for (bs, l) in [
        (1, 64),
        (2, 256),
        (4, 512),
        (8, 1024),
        (16, 2048),
        (32, 128),
        (4, 4096),
    ] {
        for mode in ["prefill", "decode"] {
            let q = [
                "predict",
                "query",
                &predictors.display().to_string(),
                "fake",
                "--mode",
                mode,
                "--bs",
                &bs.to_string(),
                "--input-len",
                &l.to_string(),
            ]
            .map(str::to_owned);
            let (stdout, _) = ok(&run(dir, &q, &[]));
            let ms: f64 = stdout.trim().trim_end_matches("ms").trim().parse().unwrap();
            let law = law_ms(mode, f64::from(bs), f64::from(l));
            let err = (ms - law).abs() / law;
            eprintln!(
                "{mode} bs {bs} input {l}: predicted {ms:.4} ms, law {law:.4} ms, error {:.3} %",
                err * 100.0
            );
            worst = worst.max(err);
        }
    }
    eprintln!("largest predict-vs-law error: {:.3} %", worst * 100.0);
    assert!(worst < 0.02, "worst error {worst}");
}

#[test]
fn a_rerun_resumes_from_the_cache() {
    let d = tmp("resume");
    let dir = d.0.as_path();
    let mut small = profile_args(dir);
    small.extend(
        [
            "--batch-sizes",
            "1,2",
            "--input-lens",
            "8,16",
            "--num-runs",
            "2",
            "--output-len",
            "4",
        ]
        .map(str::to_owned),
    );
    let (stdout, _) = ok(&run(dir, &small, &[]));
    assert!(
        stdout.contains("4 points (4 measured now, 0 cached"),
        "{stdout}"
    );
    assert_eq!(invocations(dir).len(), 4);

    let mut wide = profile_args(dir);
    wide.extend(
        [
            "--batch-sizes",
            "4,1,2",
            "--input-lens",
            "8,16,32",
            "--num_runs",
            "2",
            "--output_len",
            "4",
        ]
        .map(str::to_owned),
    );
    let (stdout, stderr) = ok(&run(dir, &wide, &[]));
    assert!(
        stderr.contains("[cache] 4 of 9 points cached in "),
        "{stderr}"
    );
    assert!(
        stdout.contains("9 points (5 measured now, 4 cached in "),
        "{stdout}"
    );
    assert_eq!(
        stderr.lines().filter(|l| l.contains("/5] bs ")).count(),
        5,
        "{stderr}"
    );
    // The fake was started for the 5 new points only.
    let inv = invocations(dir);
    assert_eq!(inv.len(), 9);
    for cached in ["bs=1 il=8 ", "bs=1 il=16 ", "bs=2 il=8 ", "bs=2 il=16 "] {
        assert_eq!(
            inv.iter().filter(|l| l.contains(cached)).count(),
            1,
            "{inv:?}"
        );
    }
    // --overwrite-cache measures all again.
    wide.push("--overwrite-cache".to_owned());
    let (stdout, _) = ok(&run(dir, &wide, &[]));
    assert!(
        stdout.contains("9 points (9 measured now, 0 cached"),
        "{stdout}"
    );
    assert_eq!(invocations(dir).len(), 18);
}

/// Pids of live (non-zombie) processes whose command line contains `needle`, or whose
/// process group is one of `groups`.
fn live(needle: &str, groups: &[u32]) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, r)| r)
            .split_whitespace()
            .collect();
        if fields.first() == Some(&"Z") {
            continue;
        }
        let pgrp: u32 = fields.get(2).and_then(|p| p.parse().ok()).unwrap_or(0);
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) || groups.contains(&pgrp) {
            out.push((pid, cmdline));
        }
    }
    out
}

#[test]
fn ctrl_c_stops_the_benchmark_and_its_workers_and_a_rerun_resumes() {
    let d = tmp("ctrl-c");
    let dir = d.0.as_path();
    let mut args = profile_args(dir);
    args.extend(
        [
            "--batch-sizes",
            "1,2",
            "--input-lens",
            "8",
            "--tp-size",
            "3",
        ]
        .map(str::to_owned),
    );
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = cli(
        dir,
        &argv,
        &[("FAKE_SLOW_AT", "2:8"), ("FAKE_SLOW_S", "120")],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let needle = dir.join("cache").display().to_string();
    // Wait for the slow point's benchmark (and its two TP workers) to run.
    let deadline = Instant::now() + Duration::from_secs(60);
    let bench_pid = loop {
        assert!(Instant::now() < deadline, "the slow point never started");
        if invocations(dir).iter().any(|l| l.contains("bs=2 "))
            && let Some((pid, _)) = live(&needle, &[])
                .into_iter()
                .find(|(_, c)| c.contains("--batch-size 2"))
        {
            break pid;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while live("sleep 300", &[bench_pid]).len() < 3 {
        assert!(
            Instant::now() < deadline,
            "workers never started: {:?}",
            live("", &[bench_pid])
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = Command::new("/bin/kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "llm-perf did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("interrupted: the points finished so far are cached in "),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Neither the benchmark nor its workers survive.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = live(&needle, &[bench_pid]);
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The rerun measures only the interrupted point.
    let (stdout, stderr) = ok(&run(dir, &args, &[]));
    assert!(
        stderr.contains("[cache] 1 of 2 points cached in "),
        "{stderr}"
    );
    assert!(
        stdout.contains("2 points (1 measured now, 1 cached"),
        "{stdout}"
    );
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    let d = tmp("bad");
    let dir = d.0.as_path();
    for (extra, needle) in [
        (&["--batch-sizes", "1,x"][..], "--batch-sizes"),
        (&["--input-lens", "0"][..], "--input-lens"),
        (&["--num-runs", "0"][..], "--num-runs"),
        (&["--output-len", "0"][..], "--output-len"),
        (&["--max-batch-size", "0"][..], "--max-batch-size"),
        (&["--tp-size", "0"][..], "--tp-size"),
        (&["--timeout", "-1"][..], "--timeout"),
        (&["--backend", "openai"][..], "--url"),
        (&["--url", "http://127.0.0.1:1"][..], "--url"),
        (&["--engine-cmd", "'unterminated"][..], "--engine-cmd"),
    ] {
        let mut args = profile_args(dir);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let out = run(dir, &args, &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{extra:?}: expected `{needle}` in {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(invocations(dir).is_empty());
}
