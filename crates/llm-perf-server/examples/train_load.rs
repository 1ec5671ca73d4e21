//! `/train` under load: the model-trainer route served on loopback by the real router, with
//! concurrent clients each sending the sample body one request after another.
//!
//! Run: `cargo run --release -p llm-perf-server --example train_load [CLIENTS] [REQUESTS]
//! [BODY.json] [QUERY]` (defaults 8 clients, 25 requests each, `samples/inferno-trainer/
//! data.json`, no query string; e.g. `seed_compatible=true` fits as the Go trainer does).
//!
//! Each client opens a connection per request (`Connection: close`, as a curl loop would), so
//! the latency includes connect, the fit and the response. After one warm-up request per
//! client, it prints the latency percentiles over every request and the throughput; every
//! answer must be 200, else the run stops with the body.

use std::error::Error;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use llm_perf_server::{AppState, ServerOptions, router, store::Store};

/// One `POST /train`; returns the status line's code and the latency.
fn post(addr: SocketAddr, path: &str, body: &[u8]) -> Result<(u16, Duration, String), String> {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())
        .and_then(|()| s.write_all(body))
        .map_err(|e| format!("send: {e}"))?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply)
        .map_err(|e| format!("read: {e}"))?;
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&reply).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not HTTP: {text}"))?;
    Ok((code, elapsed, text))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    // nearest rank
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().map_or(Ok(8), |s| s.parse())?;
    let requests: usize = args.next().map_or(Ok(25), |s| s.parse())?;
    let body_path = args.next().unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/inferno-trainer/data.json"
        )
        .to_owned()
    });
    let query = args.next().map_or_else(String::new, |q| format!("?{q}"));
    let body = std::fs::read(&body_path)?;
    let path = format!("/train{query}");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let app = router(AppState::new(
        Store::open(":memory:")?,
        ServerOptions::default(),
    ));
    rt.spawn(async move { axum::serve(listener, app).await });

    println!(
        "POST {path} on {addr}: {clients} clients × {requests} requests, body {body_path} ({} B)",
        body.len()
    );
    let started = Instant::now();
    let latencies: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(|| -> Result<Vec<Duration>, String> {
                    let (code, _, text) = post(addr, &path, &body)?; // warm-up
                    if code != 200 {
                        return Err(format!("status {code}: {text}"));
                    }
                    let mut mine = Vec::with_capacity(requests);
                    for _ in 0..requests {
                        let (code, t, text) = post(addr, &path, &body)?;
                        if code != 200 {
                            return Err(format!("status {code}: {text}"));
                        }
                        mine.push(t);
                    }
                    Ok(mine)
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            match h.join() {
                Ok(Ok(v)) => all.extend(v),
                Ok(Err(e)) => eprintln!("client failed: {e}"),
                Err(_) => eprintln!("client panicked"),
            }
        }
        all
    });
    let wall = started.elapsed();
    if latencies.len() != clients * requests {
        return Err(format!(
            "{} of {} requests answered 200",
            latencies.len(),
            clients * requests
        )
        .into());
    }
    let mut sorted = latencies;
    sorted.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    #[allow(clippy::cast_precision_loss)]
    let mean = sorted.iter().map(|d| ms(*d)).sum::<f64>() / sorted.len() as f64;
    println!(
        "latency ms: p50 {:.2}, p90 {:.2}, p99 {:.2}, max {:.2}, mean {:.2}",
        ms(percentile(&sorted, 50.0)),
        ms(percentile(&sorted, 90.0)),
        ms(percentile(&sorted, 99.0)),
        ms(percentile(&sorted, 100.0)),
        mean
    );
    #[allow(clippy::cast_precision_loss)]
    let rate = sorted.len() as f64 / wall.as_secs_f64();
    println!(
        "{} requests in {:.2} s: {rate:.1} fits/s",
        sorted.len(),
        wall.as_secs_f64()
    );
    Ok(())
}
