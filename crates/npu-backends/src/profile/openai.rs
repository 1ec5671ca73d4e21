//! The `openai` backend: one batch as `bs` concurrent streaming completions against a running
//! OpenAI-compatible server (vLLM, SGLang, TGI, MindIE's OpenAI endpoint, …).
//!
//! Each request is `POST /v1/completions` with `prompt` a list of `input_len` token ids
//! (pseudo-random in 1000…9999, different for every request and run so that prefix caching
//! cannot shorten a prefill), `max_tokens` and `min_tokens` `output_len`, `ignore_eos`,
//! `temperature` 0 and `stream`. The requests are connected first and sent together; then
//! * prefill ≈ the time from the first send until **every** request has streamed its first
//!   token (the batch's prefill is done when the last sequence has its first token);
//! * decode ≈ the median gap between consecutive streamed tokens over all requests;
//! * total = the time until the last request finished.
//!
//! These are client-side times: they include HTTP and scheduling overheads, and a server that
//! does not schedule the `bs` requests as one batch (smaller `--max-num-seqs`, chunked
//! prefill) measures something else. Only `http://` is supported (no TLS).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::error::{NpuError, Result};
use crate::profile::failure::{FailureReason, is_oom, last_line};
use crate::profile::output::RunData;
use crate::profile::plan::SweepPoint;

/// Where the completions endpoint is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Request path, e.g. `/v1/completions`.
    pub path: String,
}

impl Endpoint {
    /// Parses `--url`: `http://host[:port][/path]`. An empty path or `/` becomes
    /// `/v1/completions`, a path ending in `/v1` gets `/completions` appended, any other path
    /// is used as given.
    ///
    /// ```
    /// use npu_backends::profile::openai::Endpoint;
    /// let e = Endpoint::parse("http://127.0.0.1:30000")?;
    /// assert_eq!((e.host.as_str(), e.port, e.path.as_str()), ("127.0.0.1", 30000, "/v1/completions"));
    /// assert_eq!(Endpoint::parse("http://h/v1")?.port, 80);
    /// # Ok::<(), npu_backends::NpuError>(())
    /// ```
    ///
    /// # Errors
    /// [`NpuError::InvalidConfig`] naming `--url` for another scheme or a bad port.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |m: &str| NpuError::InvalidConfig(format!("--url `{url}`: {m}"));
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("only http:// URLs are supported"))?;
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        let port_of = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| bad(&format!("bad port `{p}`")))
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, rest) = v6
                .split_once(']')
                .ok_or_else(|| bad("unterminated `[` in the host"))?;
            match rest.strip_prefix(':') {
                Some(p) => (h, port_of(p)?),
                None if rest.is_empty() => (h, 80),
                None => return Err(bad(&format!("unexpected `{rest}` after the host"))),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, port_of(p)?),
                None => (authority, 80),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let path = match path.trim_end_matches('/') {
            "" => "/v1/completions".to_owned(),
            p if p.ends_with("/v1") => format!("{p}/completions"),
            p => p.to_owned(),
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            path,
        })
    }
}

/// SplitMix64 step: the token-id generator.
fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The request body of request `req` of run `run`.
fn body(model: &str, point: SweepPoint, output_len: u32, run: u32, req: u32) -> String {
    let mut seed = (u64::from(run) << 32) ^ u64::from(req) ^ 0x5eed;
    let ids: Vec<u64> = (0..point.input_len)
        .map(|_| 1000 + splitmix(&mut seed) % 9000)
        .collect();
    serde_json::json!({
        "model": model,
        "prompt": ids,
        "max_tokens": output_len,
        "min_tokens": output_len,
        "ignore_eos": true,
        "temperature": 0,
        "stream": true,
    })
    .to_string()
}

/// Incremental decoder of an HTTP/1.1 body (chunked or not).
#[derive(Default)]
struct BodyDecoder {
    chunked: bool,
    raw: Vec<u8>,
    /// Bytes left in the current chunk (`None`: a size line is expected next).
    left: Option<usize>,
    done: bool,
}

impl BodyDecoder {
    /// Feeds raw bytes; returns the decoded body bytes now available.
    fn feed(&mut self, bytes: &[u8]) -> std::result::Result<Vec<u8>, String> {
        if !self.chunked {
            return Ok(bytes.to_vec());
        }
        self.raw.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            match self.left {
                None => {
                    let Some(end) = self.raw.windows(2).position(|w| w == b"\r\n") else {
                        return Ok(out);
                    };
                    let line = String::from_utf8_lossy(&self.raw[..end]).into_owned();
                    let size_text = line.split(';').next().unwrap_or("").trim();
                    let size = usize::from_str_radix(size_text, 16)
                        .map_err(|_| format!("bad chunk size line `{line}`"))?;
                    self.raw.drain(..end + 2);
                    if size == 0 {
                        self.done = true;
                        return Ok(out);
                    }
                    self.left = Some(size);
                }
                Some(n) => {
                    // The chunk's data (passed on as it arrives), then its CRLF.
                    if n > 0 {
                        let take = self.raw.len().min(n);
                        out.extend(self.raw.drain(..take));
                        self.left = Some(n - take);
                        if take < n {
                            return Ok(out);
                        }
                    }
                    if self.raw.len() < 2 {
                        return Ok(out);
                    }
                    self.raw.drain(..2);
                    self.left = None;
                }
            }
        }
    }
}

/// What one streamed request saw.
struct Stream {
    /// When each token event arrived.
    events: Vec<Instant>,
    /// When the request was sent.
    sent: Instant,
}

/// A per-request failure.
enum ReqError {
    Fatal(NpuError),
    Failed(FailureReason),
}

/// Sends one request and reads its event stream.
fn one_request(
    ep: &Endpoint,
    mut sock: TcpStream,
    body: &str,
    start: &Barrier,
    deadline: Instant,
    cancel: &AtomicBool,
) -> std::result::Result<Stream, ReqError> {
    let req = format!(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\n\
         Accept: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        ep.path,
        ep.host,
        ep.port,
        body.len()
    );
    start.wait();
    let sent = Instant::now();
    let io = |e: std::io::Error| {
        ReqError::Failed(FailureReason::RuntimeError(format!(
            "http://{}:{}{}: {e}",
            ep.host, ep.port, ep.path
        )))
    };
    sock.write_all(req.as_bytes()).map_err(io)?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(io)?;
    let mut head = Vec::new();
    let mut dec = BodyDecoder::default();
    let mut status = 0u16;
    let mut in_body = false;
    let mut sse = Vec::new();
    let mut error_body = Vec::new();
    let mut events = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if cancel.load(Ordering::SeqCst) {
            return Err(ReqError::Fatal(crate::profile::sweep::interrupted(
                "openai request",
            )));
        }
        if Instant::now() >= deadline {
            return Err(ReqError::Failed(FailureReason::Timeout));
        }
        let n = match sock.read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(io(e)),
        };
        let now = Instant::now();
        let mut data: Vec<u8> = buf[..n].to_vec();
        if !in_body {
            head.extend_from_slice(&data);
            let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                if n == 0 {
                    return Err(io(std::io::Error::other(
                        "connection closed before a reply",
                    )));
                }
                continue;
            };
            let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
            status = text
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            dec.chunked = text
                .lines()
                .any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
            data = head[end + 4..].to_vec();
            in_body = true;
        }
        let decoded = dec
            .feed(&data)
            .map_err(|m| ReqError::Failed(FailureReason::Exception(m)))?;
        if status != 200 {
            error_body.extend_from_slice(&decoded);
        } else {
            sse.extend_from_slice(&decoded);
            while let Some(pos) = sse.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = sse.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line);
                let Some(payload) = line.trim().strip_prefix("data:") else {
                    continue;
                };
                let payload = payload.trim();
                if payload == "[DONE]" {
                    return Ok(Stream { events, sent });
                }
                let has_token = serde_json::from_str::<serde_json::Value>(payload)
                    .ok()
                    .and_then(|v| v.get("choices").and_then(|c| c.as_array()).cloned())
                    .is_some_and(|c| !c.is_empty());
                if has_token {
                    events.push(now);
                }
            }
        }
        if n == 0 || dec.done {
            break;
        }
    }
    if status != 200 {
        let text = String::from_utf8_lossy(&error_body).into_owned();
        return Err(ReqError::Failed(if is_oom(&text) {
            FailureReason::Oom
        } else {
            FailureReason::RuntimeError(format!("HTTP {status}: {}", last_line(&text)))
        }));
    }
    Ok(Stream { events, sent })
}

/// One run of `point`: `bs` concurrent streaming requests.
///
/// Returns `Ok(Err(reason))` for a failed run (an HTTP error, an out-of-memory reply, no
/// token streamed, the time limit); `Err` for what ends the sweep (the server cannot be
/// reached, or `cancel` was set).
///
/// # Errors
/// [`NpuError::Probe`] when a connection is refused; the interruption error when `cancel`
/// is set.
pub fn measure_run(
    ep: &Endpoint,
    model: &str,
    point: SweepPoint,
    output_len: u32,
    run: u32,
    timeout: Duration,
    cancel: &Arc<AtomicBool>,
) -> Result<std::result::Result<RunData, FailureReason>> {
    let addr = (ep.host.as_str(), ep.port)
        .to_socket_addrs()
        .map_err(|e| NpuError::Probe(format!("http://{}:{}: {e}", ep.host, ep.port)))?
        .next()
        .ok_or_else(|| NpuError::Probe(format!("http://{}:{}: no address", ep.host, ep.port)))?;
    let mut socks = Vec::new();
    for _ in 0..point.batch_size {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| {
            NpuError::Probe(format!("http://{}:{}{}: {e}", ep.host, ep.port, ep.path))
        })?;
        socks.push(s);
    }
    let deadline = Instant::now() + timeout;
    let barrier = Arc::new(Barrier::new(socks.len()));
    let results: Vec<std::result::Result<Stream, ReqError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = socks
            .into_iter()
            .enumerate()
            .map(|(i, sock)| {
                let barrier = Arc::clone(&barrier);
                let text = body(
                    model,
                    point,
                    output_len,
                    run,
                    u32::try_from(i).unwrap_or(u32::MAX),
                );
                scope.spawn(move || one_request(ep, sock, &text, &barrier, deadline, cancel))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(ReqError::Failed(FailureReason::Exception(
                        "a request thread panicked".to_owned(),
                    )))
                })
            })
            .collect()
    });
    let mut streams = Vec::new();
    for r in results {
        match r {
            Ok(s) => streams.push(s),
            Err(ReqError::Fatal(e)) => return Err(e),
            Err(ReqError::Failed(reason)) => return Ok(Err(reason)),
        }
    }
    Ok(summarise(point, output_len, run, &streams))
}

/// Prefill, decode and total of one run from its streams (see the module docs).
fn summarise(
    point: SweepPoint,
    output_len: u32,
    run: u32,
    streams: &[Stream],
) -> std::result::Result<RunData, FailureReason> {
    let Some(t0) = streams.iter().map(|s| s.sent).min() else {
        return Err(FailureReason::Exception("no request was sent".to_owned()));
    };
    let mut first = Vec::new();
    let mut last = Vec::new();
    let mut gaps = Vec::new();
    for s in streams {
        let (Some(&f), Some(&l)) = (s.events.first(), s.events.last()) else {
            return Err(FailureReason::Exception(
                "a request streamed no token".to_owned(),
            ));
        };
        first.push(f.duration_since(t0).as_secs_f64());
        last.push(l.duration_since(t0).as_secs_f64());
        gaps.extend(
            s.events
                .windows(2)
                .map(|w| w[1].duration_since(w[0]).as_secs_f64()),
        );
    }
    let prefill = first.iter().copied().fold(0.0, f64::max);
    let total = last.iter().copied().fold(0.0, f64::max);
    let decode = (output_len > 1 && !gaps.is_empty()).then(|| {
        gaps.sort_by(f64::total_cmp);
        let m = gaps.len() / 2;
        if gaps.len().is_multiple_of(2) {
            f64::midpoint(gaps[m - 1], gaps[m])
        } else {
            gaps[m]
        }
    });
    RunData::new(point, output_len, run, prefill, decode, total)
        .map_err(|e| FailureReason::Exception(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let e = Endpoint::parse("http://localhost:8000/v1/").unwrap();
        assert_eq!(e.path, "/v1/completions");
        assert_eq!(
            Endpoint::parse("http://h:1/generate").unwrap().path,
            "/generate"
        );
        assert_eq!(Endpoint::parse("http://[::1]:9/").unwrap().host, "::1");
        assert_eq!(Endpoint::parse("http://[::1]").unwrap().port, 80);
        for bad in [
            "https://h",
            "http://h:x",
            "http://:80",
            "h:80",
            "http://[::1",
            "http://[::1]x",
        ] {
            let e = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(e.contains("--url"), "{bad}: {e}");
        }
    }

    #[test]
    fn chunked_bodies_decode_across_reads() {
        let mut d = BodyDecoder {
            chunked: true,
            ..BodyDecoder::default()
        };
        let raw = b"5\r\nhello\r\n6;x=1\r\n world\r\n0\r\n\r\n";
        let mut out = Vec::new();
        for b in raw.chunks(3) {
            out.extend(d.feed(b).unwrap());
        }
        assert_eq!(out, b"hello world");
        assert!(d.done);
        let mut bad = BodyDecoder {
            chunked: true,
            ..BodyDecoder::default()
        };
        assert!(bad.feed(b"zz\r\n").is_err());
    }

    #[test]
    fn prompts_differ_per_request_and_run() {
        let p = SweepPoint {
            batch_size: 2,
            input_len: 16,
        };
        let a = body("m", p, 4, 0, 0);
        assert_ne!(a, body("m", p, 4, 0, 1));
        assert_ne!(a, body("m", p, 4, 1, 0));
        assert_eq!(a, body("m", p, 4, 0, 0));
        let v: serde_json::Value = serde_json::from_str(&a).unwrap();
        assert_eq!(v["prompt"].as_array().unwrap().len(), 16);
        assert_eq!(v["max_tokens"], 4);
    }
}
