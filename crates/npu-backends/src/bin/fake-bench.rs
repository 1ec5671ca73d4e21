//! A stand-in for `ais_bench` and `vllm bench serve`, for tests without accelerators.
//!
//! * `fake-bench bench serve --host H --port P --num-prompts N [--request-rate R]
//!   [--max-concurrency C] --result-dir D --result-filename F --save-result …`: writes a
//!   `vllm bench serve` result JSON (`"request_rate": "inf"` when unthrottled,
//!   `"request_goodput:": null`, `NaN` statistics when nothing succeeded).
//! * `fake-bench --models T --datasets D --mode perf [--num-prompts N] --work-dir W
//!   [--debug] [--search]`: AisBench mode. `--search` prints the box table pointing at
//!   `$FAKE_AIS_MODEL_CONFIG`; a run reads `request_rate`, `batch_size`, `host_ip` and
//!   `host_port` from that file and writes `W/<YYYYmmdd_HHMMSS>/performances/<abbr>/
//!   <dataset>.csv|.json` with `" ms"` / `" token/s"` / `" req/s"` unit strings.
//!
//! Each run sends the prompts (at most 50) as `GET /fake/perf` to the server, which answers
//! the configuration's score S and max batch size B (`fake-engine`), and derives the figures
//! from them and the client's load with a small deterministic law (L = 100 output tokens and
//! 200 input tokens per request, times in ms):
//!
//! ```text
//! k      = 5000 / S                      slowdown of the configuration (1 at the engine's best)
//! step(n)= k·(20 + 1·n)                  decode step time with n sequences in the batch
//! c      = min(C, N)                     client concurrency C (AisBench `batch_size`, vLLM
//!                                        `--max-concurrency`; unbounded when unset), N prompts
//! n_λ    = λ·L·k·20 / (1000 − λ·L·k·1)   sequences an offered rate λ keeps in flight (Little's
//!                                        law n = λ·L·step(n)/1000); +∞ when unthrottled or
//!                                        when λ·L·k ≥ 1000 (λ at or above the capacity)
//! n      = min(c, B, n_λ)                the effective concurrency
//! TPOT   = step(max(n, 1))
//! rps    = n·1000 / (L·step(n)) × the fraction of successful probes   (= λ when rate-bound)
//! TTFT   = k·(50 + 2·n) + q·L·TPOT/B     q = c − B requests waiting for a batch slot when
//!                                        c > B and the rate does not bind (n_λ > B), else 0
//! ```
//!
//! So TPOT and TTFT grow monotonically with the client concurrency and the request rate until
//! the engine's batch is full, the throughput grows with them toward 1000/k output tokens/s,
//! and a configuration with a higher score is faster at every load. `FAKE_TRUNCATE=1` writes
//! a truncated result file; `FAKE_BENCH_FAIL=1` exits with status 1 without output.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// What the engine answers on `/fake/perf`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct EngineInfo {
    /// The configuration's score S (5000 at the engine's best).
    score: f64,
    /// Max batch size B (+∞ when the engine does not say).
    max_batch: f64,
}

/// One `GET /fake/perf`; the engine's answer on success.
fn probe(host: &str, port: u16) -> Option<EngineInfo> {
    let mut s = TcpStream::connect((host, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET /fake/perf HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    if !out.starts_with("HTTP/1.1 200") {
        return None;
    }
    let body = out.split("\r\n\r\n").nth(1)?;
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(EngineInfo {
        score: v["score"].as_f64().filter(|s| s.is_finite() && *s > 0.0)?,
        max_batch: v["max_batch"]
            .as_f64()
            .filter(|b| *b >= 1.0)
            .unwrap_or(f64::INFINITY),
    })
}

/// The client's load of one run.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Load {
    /// Prompts N.
    prompts: u32,
    /// Client concurrency C (`None`: unbounded).
    concurrency: Option<f64>,
    /// Offered rate λ, req/s (`None`: unthrottled).
    rate: Option<f64>,
}

/// Figures of one run.
struct Figures {
    sent: u32,
    ok: u32,
    rps: f64,
    out_tps: f64,
    ttft: f64,
    tpot: f64,
    duration_s: f64,
}

const OUT_LEN: f64 = 100.0;
const IN_LEN: f64 = 200.0;
/// The engine's best score (k = 1).
const BEST_SCORE: f64 = 5000.0;
/// Fixed part of a decode step, ms (× k).
const STEP_BASE_MS: f64 = 20.0;
/// Decode step cost per sequence in the batch, ms (× k).
const STEP_PER_SEQ_MS: f64 = 1.0;
/// Fixed part of the time to the first token, ms (× k).
const PREFILL_BASE_MS: f64 = 50.0;
/// Time to the first token per sequence in the batch, ms (× k).
const PREFILL_PER_SEQ_MS: f64 = 2.0;

/// The law of the module documentation at full success: (TPOT ms, TTFT ms, req/s, n).
fn law(engine: EngineInfo, load: Load) -> (f64, f64, f64, f64) {
    let k = (BEST_SCORE / engine.score).max(1.0);
    let (a, b) = (k * STEP_BASE_MS, k * STEP_PER_SEQ_MS);
    let step = |n: f64| a + b * n;
    let client = load
        .concurrency
        .filter(|c| c.is_finite() && *c > 0.0)
        .unwrap_or(f64::INFINITY)
        .min(f64::from(load.prompts.max(1)));
    let batch = engine.max_batch.max(1.0);
    let n_rate = match load.rate.filter(|r| r.is_finite() && *r > 0.0) {
        Some(rate) if 1000.0 - rate * OUT_LEN * b > 0.0 => {
            rate * OUT_LEN * a / (1000.0 - rate * OUT_LEN * b)
        }
        _ => f64::INFINITY,
    };
    let n = client.min(batch).min(n_rate);
    let tpot = step(n.max(1.0));
    let rps = n * 1000.0 / (OUT_LEN * step(n));
    let queued = if n_rate > batch {
        (client - batch).max(0.0)
    } else {
        0.0
    };
    let ttft = k * (PREFILL_BASE_MS + PREFILL_PER_SEQ_MS * n) + queued * OUT_LEN * tpot / batch;
    (tpot, ttft, rps, n)
}

fn measure(host: &str, port: u16, load: Load) -> Figures {
    let sent = load.prompts.clamp(1, 50);
    let mut ok = 0;
    let mut engine = None;
    for _ in 0..sent {
        if let Some(e) = probe(host, port) {
            ok += 1;
            engine = Some(e);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let frac = f64::from(ok) / f64::from(sent);
    let (tpot, ttft, rps) = match engine {
        Some(e) => {
            let (tpot, ttft, rps, _) = law(e, load);
            (tpot, ttft, rps * frac)
        }
        None => (f64::NAN, f64::NAN, 0.0),
    };
    Figures {
        sent,
        ok,
        rps,
        out_tps: rps * OUT_LEN,
        ttft,
        tpot,
        duration_s: if rps > 0.0 { f64::from(ok) / rps } else { 1.0 },
    }
}

fn write_out(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let text = if std::env::var("FAKE_TRUNCATE").is_ok_and(|v| v == "1") {
        &text[..text.len() / 2]
    } else {
        text
    };
    std::fs::write(path, text)
}

fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "NaN".to_owned()
    }
}

fn vllm_mode(args: &[String]) -> Result<(), String> {
    const VALUE: &[&str] = &[
        "--host",
        "--port",
        "--model",
        "--served-model-name",
        "--dataset-name",
        "--dataset-path",
        "--num-prompts",
        "--max-concurrency",
        "--request-rate",
        "--result-dir",
        "--result-filename",
        "--percentile-metrics",
        "--metric-percentiles",
        "--seed",
        "--random-input-len",
        "--random-output-len",
        "--backend",
        "--metadata",
    ];
    const BOOL: &[&str] = &["--save-result", "--ignore-eos", "--append-result"];
    let mut i = 2;
    while i < args.len() {
        if VALUE.contains(&args[i].as_str()) {
            i += 2;
        } else if BOOL.contains(&args[i].as_str()) {
            i += 1;
        } else {
            return Err(format!(
                "vllm bench serve: error: unrecognized arguments: {}",
                args[i]
            ));
        }
    }
    let host = flag(args, "--host").unwrap_or_else(|| "127.0.0.1".to_owned());
    let port: u16 = flag(args, "--port")
        .and_then(|p| p.parse().ok())
        .ok_or("bad --port")?;
    let n: u32 = flag(args, "--num-prompts")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1000);
    let rate: Option<f64> = flag(args, "--request-rate").and_then(|p| p.parse().ok());
    let conc = flag(args, "--max-concurrency");
    let dir = PathBuf::from(flag(args, "--result-dir").unwrap_or_else(|| ".".to_owned()));
    let file = flag(args, "--result-filename").unwrap_or_else(|| "result.json".to_owned());
    let load = Load {
        prompts: n,
        concurrency: conc.as_deref().and_then(|c| c.parse().ok()),
        rate,
    };
    let f = measure(&host, port, load);
    println!("============ Serving Benchmark Result ============");
    println!("Successful requests: {}", f.ok);
    let model = flag(args, "--model").unwrap_or_default();
    let rate_text = rate.map_or_else(|| "\"inf\"".to_owned(), json_num);
    let text = format!(
        "{{\"date\": \"20260101-120000\", \"backend\": \"vllm\", \"model_id\": \"{model}\", \
         \"tokenizer_id\": \"{model}\", \"num_prompts\": {sent}, \"request_rate\": {rate_text}, \
         \"burstiness\": 1.0, \"max_concurrency\": {conc}, \"duration\": {dur}, \
         \"completed\": {ok}, \"failed\": {failed}, \"total_input_tokens\": {tin}, \
         \"total_output_tokens\": {tout}, \"request_throughput\": {rps}, \
         \"request_goodput:\": null, \"output_throughput\": {otps}, \
         \"total_token_throughput\": {ttps}, \"mean_ttft_ms\": {ttft}, \
         \"median_ttft_ms\": {ttft}, \"p99_ttft_ms\": {ttft99}, \"mean_tpot_ms\": {tpot}, \
         \"median_tpot_ms\": {tpot}, \"p99_tpot_ms\": {tpot99}, \"mean_itl_ms\": {tpot}, \
         \"median_itl_ms\": {tpot}, \"p99_itl_ms\": {tpot99}}}\n",
        sent = f.sent,
        conc = conc.unwrap_or_else(|| "null".to_owned()),
        dur = json_num(f.duration_s),
        ok = f.ok,
        failed = f.sent - f.ok,
        tin = f64::from(f.ok) * IN_LEN,
        tout = f64::from(f.ok) * OUT_LEN,
        rps = json_num(f.rps),
        otps = json_num(f.out_tps),
        ttps = json_num(f.rps * (IN_LEN + OUT_LEN)),
        ttft = json_num(f.ttft),
        ttft99 = json_num(f.ttft * 1.5),
        tpot = json_num(f.tpot),
        tpot99 = json_num(f.tpot * 1.5),
    );
    write_out(&dir.join(file), &text).map_err(|e| e.to_string())
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}{m:02}{d:02}_{:02}{:02}{:02}",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// The value of `key = <value>` in a Python config (quotes stripped).
fn py_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let l = l.trim();
        let rest = l.strip_prefix(key)?.trim_start();
        let v = rest.strip_prefix('=')?.trim();
        Some(
            v.trim_end_matches(',')
                .trim()
                .trim_matches(['"', '\''])
                .to_owned(),
        )
    })
}

fn ais_mode(args: &[String]) -> Result<(), String> {
    let model_cfg =
        std::env::var("FAKE_AIS_MODEL_CONFIG").map_err(|_| "FAKE_AIS_MODEL_CONFIG unset")?;
    if args.iter().any(|a| a == "--search") {
        let task = flag(args, "--models").unwrap_or_default();
        println!("╒════════════╤══════════════════════╤══════════════════════════════╕");
        println!("│ Task Type  │ Task Name            │ Config File Path             │");
        println!("╞════════════╪══════════════════════╪══════════════════════════════╡");
        println!("│ --models   │ {task} │ {model_cfg} │");
        println!("╘════════════╧══════════════════════╧══════════════════════════════╛");
        return Ok(());
    }
    if flag(args, "--mode").as_deref() != Some("perf") {
        return Err("fake ais_bench only supports --mode perf".to_owned());
    }
    let text = std::fs::read_to_string(&model_cfg).map_err(|e| format!("{model_cfg}: {e}"))?;
    let rate: f64 = py_value(&text, "request_rate")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let batch: f64 = py_value(&text, "batch_size")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000.0);
    let host = py_value(&text, "host_ip").unwrap_or_else(|| "127.0.0.1".to_owned());
    let port: u16 = py_value(&text, "host_port")
        .and_then(|v| v.parse().ok())
        .ok_or("host_port missing in the model config")?;
    let n: u32 = flag(args, "--num-prompts")
        .and_then(|p| p.parse().ok())
        .unwrap_or(20);
    let work =
        PathBuf::from(flag(args, "--work-dir").unwrap_or_else(|| "outputs/default".to_owned()));
    // AISBench sends everything at once below 0.1 req/s.
    let load = Load {
        prompts: n,
        concurrency: Some(batch),
        rate: (rate >= 0.1).then_some(rate),
    };
    let f = measure(&host, port, load);
    let dir = work
        .join(timestamp())
        .join("performances")
        .join("vllm-api-stream-chat");
    let ms = |x: f64| format!("{} ms", (x * 10_000.0).round() / 10_000.0);
    let (ttft, tpot) = (f.ttft, f.tpot);
    let e2el = ttft + tpot * (OUT_LEN - 1.0);
    let csv = if f.ok == 0 {
        "Performance Parameters,Stage,Average,Min,Max,Median,P75,P90,P99,N\n".to_owned()
    } else {
        let row = |name: &str, avg: f64, unit: &dyn Fn(f64) -> String| {
            format!(
                "{name},total,{},{},{},{},{},{},{},{}\n",
                unit(avg),
                unit(avg * 0.8),
                unit(avg * 1.3),
                unit(avg),
                unit(avg * 1.05),
                unit(avg * 1.1),
                unit(avg * 1.25),
                f.ok
            )
        };
        let bare = |x: f64| format!("{}", (x * 10_000.0).round() / 10_000.0);
        let tps = |x: f64| format!("{} token/s", (x * 10_000.0).round() / 10_000.0);
        let mut s =
            "Performance Parameters,Stage,Average,Min,Max,Median,P75,P90,P99,N\n".to_owned();
        s += &row("E2EL", e2el, &ms);
        s += &row("TTFT", ttft, &ms);
        s += &row("TPOT", tpot, &ms);
        s += &row("ITL", tpot, &ms);
        s += &row("InputTokens", IN_LEN, &bare);
        s += &row("OutputTokens", OUT_LEN, &bare);
        s += &row("OutputTokenThroughput", OUT_LEN / e2el * 1000.0, &tps);
        s
    };
    let conc = if f.duration_s > 0.0 {
        f64::from(f.ok) * e2el / 1000.0 / f.duration_s
    } else {
        0.0
    };
    let json = format!(
        "{{\n    \"Benchmark Duration\": {{\"total\": \"{dur} ms\"}},\n    \"Total Requests\": {{\"total\": {sent}}},\n    \
         \"Failed Requests\": {{\"total\": {failed}}},\n    \"Success Requests\": {{\"total\": {ok}}},\n    \
         \"Concurrency\": {{\"total\": {conc:.4}}},\n    \"Max Concurrency\": {{\"total\": {batch}}},\n    \
         \"Request Throughput\": {{\"total\": \"{rps:.4} req/s\"}},\n    \"Total Input Tokens\": {{\"total\": {tin}}},\n    \
         \"Total Output Tokens\": {{\"total\": {tout}}},\n    \"Output Token Throughput\": {{\"total\": \"{otps:.4} token/s\"}}\n}}\n",
        dur = (f.duration_s * 1000.0).round(),
        sent = f.sent,
        failed = f.sent - f.ok,
        ok = f.ok,
        rps = f.rps,
        tin = f64::from(f.ok) * IN_LEN,
        tout = f64::from(f.ok) * OUT_LEN,
        otps = f.out_tps,
    );
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("gsm8kdataset.csv"), csv).map_err(|e| e.to_string())?;
    write_out(&dir.join("gsm8kdataset.json"), &json).map_err(|e| e.to_string())?;
    println!("Performance results saved in {}", dir.display());
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if std::env::var("FAKE_BENCH_FAIL").is_ok_and(|v| v == "1") {
        eprintln!("simulated benchmark failure");
        return ExitCode::from(1);
    }
    let vllm = args.len() >= 2 && args[0] == "bench" && args[1] == "serve";
    let r = if vllm {
        vllm_mode(&args)
    } else {
        ais_mode(&args)
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEST: EngineInfo = EngineInfo {
        score: 5000.0,
        max_batch: 300.0,
    };

    /// (TPOT ms, TTFT ms, req/s, n) at a load.
    type Law4 = (f64, f64, f64, f64);

    fn at(engine: EngineInfo, prompts: u32, concurrency: Option<f64>, rate: Option<f64>) -> Law4 {
        law(
            engine,
            Load {
                prompts,
                concurrency,
                rate,
            },
        )
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn unthrottled_load_is_capped_by_concurrency_prompts_and_batch() {
        // n = min(C, N, B); TPOT = 20 + n at the best configuration.
        let (tpot, ttft, rps, n) = at(BEST, 1000, Some(64.0), None);
        assert_eq!((n, tpot, ttft), (64.0, 84.0, 50.0 + 2.0 * 64.0));
        assert!(close(rps, 64.0 * 1000.0 / (100.0 * 84.0)));
        assert!(close(at(BEST, 8, Some(64.0), None).3, 8.0));
        assert!(close(at(BEST, 8, None, None).3, 8.0));
        // More clients than batch slots: the batch is full and the rest wait for a slot.
        let (tpot, ttft, _, n) = at(BEST, 1000, Some(400.0), None);
        assert_eq!((n, tpot), (300.0, 320.0));
        assert!(close(ttft, 650.0 + 100.0 * 100.0 * 320.0 / 300.0));
    }

    #[test]
    fn a_rate_keeps_littles_law_in_flight() {
        // λ = 5: n = 5·100·20 / (1000 − 5·100·1) = 20, and the throughput is λ.
        let (tpot, _, rps, n) = at(BEST, 1000, Some(64.0), Some(5.0));
        assert!(close(n, 20.0) && close(tpot, 40.0) && close(rps, 5.0));
        // Below the rate's level the concurrency binds.
        let (tpot, _, rps, n) = at(BEST, 1000, Some(8.0), Some(5.0));
        assert_eq!((n, tpot), (8.0, 28.0));
        assert!(rps < 5.0);
        // λ at or above the capacity (λ·L·b ≥ 1000): saturated, the concurrency binds.
        assert!(close(at(BEST, 1000, Some(64.0), Some(10.0)).3, 64.0));
        // A trickle: under one sequence in flight, a lone sequence's step, throughput λ.
        let (tpot, _, rps, n) = at(BEST, 1000, Some(64.0), Some(0.2));
        assert!(n < 1.0 && close(tpot, 21.0) && close(rps, 0.2));
    }

    #[test]
    fn latencies_grow_monotonically_with_the_load() {
        let mut last = (0.0, 0.0, 0.0);
        for c in [1.0, 2.0, 8.0, 32.0, 64.0, 200.0, 300.0, 500.0, 1000.0] {
            let (tpot, ttft, rps, _) = at(BEST, 1000, Some(c), None);
            assert!(tpot >= last.0 && ttft >= last.1 && rps >= last.2, "C {c}");
            last = (tpot, ttft, rps);
        }
        let mut last = (0.0, 0.0, 0.0);
        for r in [0.1, 1.0, 2.0, 5.0, 8.0, 9.9, 10.0, 50.0] {
            let (tpot, ttft, rps, _) = at(BEST, 1000, Some(500.0), Some(r));
            assert!(tpot >= last.0 && ttft >= last.1 && rps >= last.2, "λ {r}");
            last = (tpot, ttft, rps);
        }
    }

    #[test]
    fn a_lower_score_is_slower_at_the_same_load() {
        let worse = EngineInfo {
            score: 2500.0,
            max_batch: 300.0,
        };
        let (b_tpot, b_ttft, b_rps, _) = at(BEST, 8, None, None);
        let (w_tpot, w_ttft, w_rps, _) = at(worse, 8, None, None);
        assert!(close(w_tpot, 2.0 * b_tpot) && close(w_ttft, 2.0 * b_ttft));
        assert!(close(w_rps, b_rps / 2.0));
    }
}
