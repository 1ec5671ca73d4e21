//! `llm-perf serve` end to end: the real binary on 127.0.0.1, spoken to with hand-written
//! HTTP/1.1 over `std::net::TcpStream`.

mod common;

use common::{Server, message, repo_file};
use serde_json::Value;

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
    // SIGINT, then a clean exit within 10 s (asserted by `stop`).
    Server::start(&[]).stop();
}
