//! The real `llm-perf serve` binary on a loopback port, spoken to with hand-written HTTP/1.1
//! over `std::net::TcpStream` (no client library: the tests see the bytes the server sends).
#![allow(dead_code)] // each test file uses its own part of the harness

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A file of the repository.
pub fn repo_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// A running server; killed (and reaped) when dropped, also when a test fails.
pub struct Server {
    /// The process.
    pub child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

/// One answer.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Header lines, lower-cased names.
    pub headers: Vec<(String, String)>,
    /// Body bytes (de-chunked).
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: status {} body {}", self.status, self.text()))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Server {
    /// Starts `llm-perf serve --port 0 ARGS…` on an in-memory database.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with(&["--port", "0", "--db", ":memory:"], args, &[])
    }

    /// Starts `llm-perf serve BASE… ARGS…` with extra environment variables and waits (≤ 10 s)
    /// for its listening line.
    pub fn start_with(base: &[&str], args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_llm-perf"))
            .arg("serve")
            .args(base)
            .args(args)
            .env("RUST_LOG", "info")
            .env_remove("LLM_PERF_TOKEN")
            .envs(env.iter().copied())
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
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let port = rest
                        .split(' ')
                        .next()
                        .and_then(|addr| addr.rsplit(':').next())
                        .and_then(|p| p.parse::<u16>().ok());
                    let _ = tx.send(port);
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

    /// Sends one request (`Connection: close`) and reads the whole answer.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.port,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("write head");
        // A server may answer (413) before reading a large body and close: the write can then
        // fail while the answer is already on its way.
        let _ = stream.write_all(body);
        let mut raw = Vec::new();
        // A reset after the answer arrived leaves what was read.
        let _ = stream.read_to_end(&mut raw);
        parse_reply(&raw)
    }

    /// Sends one request; the status and the body as text.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let reply = self.send(method, path, &[("Content-Type", "application/json")], body);
        (reply.status, reply.text())
    }

    /// POSTs a JSON body; the status and the JSON answer.
    pub fn post(&self, path: &str, body: &[u8]) -> (u16, Value) {
        let (status, body) = self.request("POST", path, body);
        let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        (status, json)
    }

    /// POSTs a repository file as the body.
    pub fn post_file(&self, path: &str, file: &str) -> (u16, Value) {
        let body = std::fs::read(repo_file(file)).expect("sample file");
        self.post(path, &body)
    }

    /// GETs `path`; the status and the JSON answer.
    pub fn get(&self, path: &str) -> (u16, Value) {
        let reply = self.send("GET", path, &[], b"");
        (reply.status, reply.json())
    }

    /// Uploads `bytes` as the multipart field `file` named `name`, with optional form fields.
    pub fn upload(
        &self,
        name: &str,
        bytes: &[u8],
        fields: &[(&str, &str)],
        token: Option<&str>,
    ) -> Reply {
        let boundary = "llmperf-test-boundary-7d1a";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", content_type.as_str())];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        self.send("POST", "/api/benchmarks/upload", &headers, &body)
    }

    /// Stops the server with SIGINT and waits (≤ 10 s) for a clean exit.
    #[cfg(unix)]
    pub fn stop(mut self) {
        let killed = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                assert!(status.success(), "{status}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server still running 10 s after SIGINT"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Splits a raw HTTP/1.1 answer into status, headers and (de-chunked) body.
fn parse_reply(raw: &[u8]) -> Reply {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .expect("chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
    out
}

/// The `message` of an error answer.
pub fn message(v: &Value) -> &str {
    v["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {v}"))
}

/// Runs the `llm-perf` binary with `args`; stdout, stderr and the exit code.
pub fn run_cli(args: &[&str], env: &[(&str, &str)]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_llm-perf"))
        .args(args)
        // runs without --out go to a scratch directory, not into the checkout
        .env(
            "LLM_PERF_RUNS_DIR",
            std::env::temp_dir().join("llm-perf-test-runs"),
        )
        .envs(env.iter().copied())
        .current_dir(repo_file(""))
        .output()
        .expect("run llm-perf");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// Trains the `qwen3-4b-a100` predictor on the A100 llm-profiler sample into `out` with the
/// real binary (what a user's `llm-perf predict train` writes).
pub fn train_sample_predictor(out: &std::path::Path) {
    let (_, err, code) = run_cli(
        &[
            "predict",
            "train",
            "--profile",
            "samples/readers/profiles/llm-profiler/A100_benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.v2.json",
            "--config",
            "qwen3-4b-a100",
            "--out",
            out.to_str().expect("UTF-8 path"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
}

/// A fake binary of `npu-backends` (`fake-engine`, `fake-bench`, `fake-batch-bench`), built next
/// to `llm-perf` (same target directory and profile) the first time a test asks; cargo is a
/// no-op when it is up to date.
pub fn npu_fake(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_llm-perf"));
    let profile_dir = exe.parent().expect("target/<profile>").to_owned();
    let fake = profile_dir.join(name);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !built.iter().any(|b| b == name) {
        let target_dir = profile_dir.parent().expect("target");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "npu-backends", "--bin", name])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(repo_file(""));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "building {name} failed");
        built.push(name.to_owned());
    }
    assert!(fake.exists(), "{} missing", fake.display());
    fake
}
