//! A stand-in for `mindieservice_daemon` and `vllm serve`, for tests without accelerators.
//!
//! * `fake-engine serve MODEL --host H --port P [vLLM flags]`: vLLM mode; unknown flags are an
//!   error (exit 2), like vLLM. Serves `GET /health`, `/v1/models` and `/fake/perf`.
//! * `fake-engine` with no arguments: MindIE mode; reads `$MIES_INSTALL_PATH/conf/config.json`
//!   (strict JSON, `maxPrefillBatchSize <= maxBatchSize`), listens on `ServerConfig.port` and
//!   `managementPort` (`/v2/health/live|ready`), prints `Daemon start success!` when ready.
//!
//! `/fake/perf` answers `{"score": S, "max_batch": B}`: S is a deterministic quality score of
//! the configuration (5000 at max batch size / `--max-num-seqs` 300, lower away from it, at
//! least 100), so a tuner run has a real optimum, and B is that max batch size (the most
//! sequences the engine decodes at once). `fake-bench` turns them and the client's load into
//! TPOT, TTFT and throughput (see its documentation). Failure injection: `FAKE_FAIL=never-ready|crash-on-start|
//! crash-after:<n>|oom-log|slow` (or `--fake-fail MODE` in vLLM mode); `FAKE_READY_DELAY_MS`
//! (or `FAKE_READY_DELAY_S`) delays readiness. SIGTERM ends the process (default action).
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

struct State {
    ready: AtomicBool,
    never_ready: bool,
    crash_after: Option<u64>,
    served: AtomicU64,
    score: f64,
    max_batch: f64,
}

fn score_for(batch: f64) -> f64 {
    (5000.0 - (batch - 300.0).powi(2) / 40.0).max(100.0)
}

fn respond(mut s: TcpStream, state: &State) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let ready = state.ready.load(Ordering::SeqCst) && !state.never_ready;
    let (code, body) = match path.as_str() {
        "/health" | "/v2/health/live" | "/v2/health/ready" | "/v1/models" => {
            if ready {
                (200, "{}".to_owned())
            } else {
                (503, "{\"status\": \"starting\"}".to_owned())
            }
        }
        "/fake/perf" if ready => {
            let n = state.served.fetch_add(1, Ordering::SeqCst) + 1;
            if state.crash_after.is_some_and(|c| n > c) {
                println!("fatal: simulated crash after {} requests", n - 1);
                std::process::exit(3);
            }
            (
                200,
                format!(
                    "{{\"score\": {}, \"max_batch\": {}}}",
                    state.score, state.max_batch
                ),
            )
        }
        _ => (404, "{}".to_owned()),
    };
    let reason = match code {
        200 => "OK",
        503 => "Service Unavailable",
        _ => "Not Found",
    };
    let _ = write!(
        s,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn serve(listener: TcpListener, state: Arc<State>) {
    for conn in listener.incoming().flatten() {
        respond(conn, &state);
    }
}

fn flag_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| {
            args.iter()
                .find_map(|a| a.strip_prefix(&format!("{name}=")).map(str::to_owned))
        })
}

const VLLM_VALUE_FLAGS: &[&str] = &[
    "--served-model-name",
    "--host",
    "--port",
    "--max-num-seqs",
    "--max-num-batched-tokens",
    "--tensor-parallel-size",
    "--gpu-memory-utilization",
    "--max-model-len",
    "--block-size",
    "--additional-config",
    "--compilation-config",
    "--fake-fail",
];
const VLLM_BOOL_FLAGS: &[&str] = &[
    "--enable-prefix-caching",
    "--no-enable-prefix-caching",
    "--enforce-eager",
    "--trust-remote-code",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let vllm = args.first().is_some_and(|a| a == "serve");
    let mut fail = std::env::var("FAKE_FAIL").unwrap_or_default();
    let mut delay_ms: u64 = std::env::var("FAKE_READY_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .or_else(|| {
            std::env::var("FAKE_READY_DELAY_S")
                .ok()
                .and_then(|v| v.parse::<f64>().ok())
                .map(|s| (s * 1000.0) as u64)
        })
        .unwrap_or(0);

    let (host, ports, batch) = if vllm {
        let mut i = 2;
        while i < args.len() {
            let a = args[i].split('=').next().unwrap_or("");
            if VLLM_VALUE_FLAGS.contains(&a) {
                i += if args[i].contains('=') { 1 } else { 2 };
            } else if VLLM_BOOL_FLAGS.contains(&a) {
                i += 1;
            } else {
                eprintln!("vllm serve: error: unrecognized arguments: {}", args[i]);
                return ExitCode::from(2);
            }
        }
        if args.len() < 2 || args[1].starts_with("--") {
            eprintln!("vllm serve: error: the following arguments are required: model_tag");
            return ExitCode::from(2);
        }
        if let Some(f) = flag_value(&args, "--fake-fail") {
            fail = f;
        }
        let host = flag_value(&args, "--host").unwrap_or_else(|| "127.0.0.1".to_owned());
        let port = flag_value(&args, "--port").unwrap_or_else(|| "8000".to_owned());
        let Ok(port) = port.parse::<u16>() else {
            eprintln!("vllm serve: error: invalid --port {port}");
            return ExitCode::from(2);
        };
        let batch = flag_value(&args, "--max-num-seqs")
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(256.0);
        println!("INFO fake vLLM serving {} on {host}:{port}", args[1]);
        (host, vec![port], batch)
    } else {
        let install = std::env::var("MIES_INSTALL_PATH").unwrap_or_else(|_| ".".to_owned());
        let path = std::env::var("FAKE_MINDIE_CONFIG")
            .unwrap_or_else(|_| format!("{install}/conf/config.json"));
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                println!("ERROR cannot read {path}: {e}");
                return ExitCode::from(1);
            }
        };
        let cfg: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                println!("ERROR {path} is not strict JSON: {e}");
                return ExitCode::from(1);
            }
        };
        let sched = &cfg["BackendConfig"]["ScheduleConfig"];
        let mbs = sched["maxBatchSize"].as_f64().unwrap_or(200.0);
        if let Some(p) = sched["maxPrefillBatchSize"].as_f64()
            && p > mbs
        {
            println!("ERROR maxPrefillBatchSize {p} > maxBatchSize {mbs}");
            return ExitCode::from(1);
        }
        let server = &cfg["ServerConfig"];
        let host = server["ipAddress"]
            .as_str()
            .unwrap_or("127.0.0.1")
            .to_owned();
        let port = server["port"].as_u64().unwrap_or(1025) as u16;
        let mport = server["managementPort"].as_u64().unwrap_or(1026) as u16;
        println!("INFO fake MindIE daemon, maxBatchSize {mbs}, port {port}, management {mport}");
        (host, vec![port, mport], mbs)
    };

    if fail == "slow" {
        delay_ms += 2000;
    }
    if fail == "crash-on-start" {
        println!("ERROR simulated crash on start");
        return ExitCode::from(1);
    }
    let crash_after = fail
        .strip_prefix("crash-after:")
        .and_then(|n| n.parse::<u64>().ok());
    let state = Arc::new(State {
        ready: AtomicBool::new(false),
        never_ready: fail == "never-ready",
        crash_after,
        served: AtomicU64::new(0),
        score: score_for(batch),
        max_batch: batch,
    });
    let mut listeners = Vec::new();
    for p in &ports {
        match TcpListener::bind((host.as_str(), *p)) {
            Ok(l) => listeners.push(l),
            Err(e) => {
                println!("ERROR cannot listen on {host}:{p}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let mut handles = Vec::new();
    for l in listeners {
        let st = Arc::clone(&state);
        handles.push(std::thread::spawn(move || serve(l, st)));
    }
    std::thread::sleep(Duration::from_millis(delay_ms));
    if fail == "oom-log" {
        println!("RuntimeError: NPU out of memory (simulated)");
    }
    if !state.never_ready {
        state.ready.store(true, Ordering::SeqCst);
        if vllm {
            println!("INFO:     Application startup complete.");
        } else {
            println!("Daemon start success!");
        }
    }
    let _ = std::io::stdout().flush();
    for h in handles {
        let _ = h.join();
    }
    ExitCode::SUCCESS
}
