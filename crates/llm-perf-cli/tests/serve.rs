//! `llm-perf serve` end to end: the real binary on 127.0.0.1, spoken to with hand-written
//! HTTP/1.1 over `std::net::TcpStream`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

fn repo_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// A running server; killed (and reaped) when dropped, also when a test fails.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts `llm-perf serve --port 0 ARGS…` and waits (≤ 10 s) for its listening line.
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_llm-perf"))
            .args(["serve", "--port", "0"])
            .args(args)
            .env("RUST_LOG", "info")
            .env("LLM_PERF_DB", ":memory:")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start llm-perf serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        // Reads the port, then keeps draining stderr so request logs never block the server.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
                    let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = tx.send(port.parse::<u16>().ok());
                }
            }
        });
        let mut server = Self { child, port: 0 };
        server.port = rx
            .recv_timeout(Duration::from_secs(10))
            .ok()
            .flatten()
            .expect("server did not report its port within 10 s");
        server.wait_accepting();
        server
    }

    /// Bounded wait until a TCP connection succeeds.
    fn wait_accepting(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "server does not accept");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends one request and returns the status and the body.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        );
        stream.write_all(head.as_bytes()).expect("write head");
        stream.write_all(body).expect("write body");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read response");
        let text = String::from_utf8(raw).expect("UTF-8 response");
        let (head, body) = text.split_once("\r\n\r\n").expect("header end");
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status code");
        (status, body.to_owned())
    }

    fn post(&self, path: &str, body: &[u8]) -> (u16, Value) {
        let (status, body) = self.request("POST", path, body);
        let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        (status, json)
    }

    fn post_file(&self, path: &str, file: &str) -> (u16, Value) {
        let body = std::fs::read(repo_file(file)).expect("sample file");
        self.post(path, &body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn message(v: &Value) -> &str {
    v["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {v}"))
}

fn assert_seed_shape(v: &Value) {
    let p = &v["OptimizedParms"];
    for key in ["alpha", "beta", "gamma"] {
        let x = p[key].as_f64().unwrap_or_else(|| panic!("{key} in {v}"));
        assert!(x.is_finite() && x >= 0.0, "{key} = {x}");
    }
    for key in ["avgErrTTFT", "avgErrITL", "avgErrWeighted"] {
        assert!(v["AnalysisResults"][key].as_f64().is_some(), "{key} in {v}");
    }
    assert_eq!(v.as_object().map(serde_json::Map::len), Some(2), "{v}");
}

#[test]
fn train_answers_the_seed_shape_and_survives_bad_bodies() {
    let server = Server::start(&[]);
    let (status, v) = server.post_file("/train", "samples/inferno-trainer/data.json");
    assert_eq!(status, 200, "{v}");
    assert_seed_shape(&v);
    // The improved default does not stop at the rate wall (α ≈ 1.009) the seed falls into.
    let alpha = v["OptimizedParms"]["alpha"].as_f64().unwrap_or(0.0);
    assert!((6.0..7.5).contains(&alpha), "{v}");

    let (status, v) = server.post("/train", b"{\"name\": \"x\", \"data\": [");
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).starts_with("binding error: "), "{v}");

    let (status, v) = server.post("/train", br#"{"name":"x","data":[]}"#);
    assert_eq!(status, 422, "{v}");
    assert!(!message(&v).is_empty());

    let nan = br#"{"name":"x","data":[
        {"requestRate": NaN, "inputTokens": 128, "outputTokens": 512, "avgTTFTTime": 60, "avgITLTime": 20},
        {"requestRate": 2, "inputTokens": 128, "outputTokens": 512, "avgTTFTTime": 70, "avgITLTime": 21}]}"#;
    let (status, v) = server.post("/train", nan);
    assert!(status == 400 || status == 422, "{status} {v}");
    assert!(message(&v).contains("rate"), "{v}");

    let (status, v) = server.post("/train?init=1,-1,0", b"{}");
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("beta"), "{v}");

    // Still up, and the seed-compatible mode answers too.
    let (status, v) = server.post_file(
        "/train?seed_compatible=true&init=1,0,0",
        "samples/inferno-trainer/data.json",
    );
    assert_eq!(status, 200, "{v}");
    assert_seed_shape(&v);
}

#[test]
fn queue_routes_answer_like_the_cli() {
    let server = Server::start(&[]);
    let (status, v) = server.post_file("/solve", "samples/inferno/problem-data.json");
    assert_eq!(status, 200, "{v}");
    let itl = v["avgITL"].as_f64().unwrap_or(f64::NAN);
    assert!(((itl - 20.118_889) / 20.118_889).abs() < 1e-4, "{v}");
    assert!(v["maxRPS"].as_f64().is_some(), "{v}");

    let bad = br#"{"RPS": 3, "maxBatchSize": 48, "avgInputTokens": 128,
        "avgOutputTokens": 512, "alpha": -1, "beta": 0.05, "gamma": 0.0005}"#;
    let (status, v) = server.post("/solve", bad);
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("alpha"), "{v}");

    let (status, v) = server.post_file("/optimize", "samples/inferno/problem-data.json");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["concurrency"], 48, "{v}");
    assert_eq!(v["feasible"], true, "{v}");

    let (status, v) = server.post_file("/target", "samples/inferno/problem-data.json");
    assert_eq!(status, 200, "{v}");
    assert!(v["RPSTargetTTFT"].as_f64().is_some_and(|r| r > 0.0), "{v}");

    let no_target = br#"{"maxBatchSize": 48, "avgInputTokens": 128,
        "avgOutputTokens": 512, "alpha": 12, "beta": 0.05, "gamma": 0.0005}"#;
    let (status, v) = server.post("/optimize", no_target);
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("targetITL"), "{v}");

    let (status, v) = server.post("/solve", b"not json");
    assert_eq!(status, 400, "{v}");

    let (status, _) = server.request("GET", "/nowhere", b"");
    assert_eq!(status, 404);
}

#[test]
fn concurrent_fits_queue_and_all_answer() {
    let server = Server::start(&["--max-fits", "1"]);
    let body = std::fs::read(repo_file("samples/inferno-trainer/data.json")).expect("sample");
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| server.post("/train?seed_compatible=true", &body)))
            .collect();
        for h in handles {
            let (status, v) = h.join().expect("client thread");
            assert_eq!(status, 200, "{v}");
            assert_seed_shape(&v);
        }
    });
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_the_server_gracefully() {
    let mut server = Server::start(&[]);
    let killed = Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.child.try_wait().expect("try_wait") {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server still running 10 s after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
