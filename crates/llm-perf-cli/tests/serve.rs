//! `llm-perf serve` end to end: the real binary on 127.0.0.1, spoken to with hand-written
//! HTTP/1.1 over `std::net::TcpStream`.

mod common;

use common::{Reply, Server, message, repo_file, run_cli};
use serde_json::Value;

const SAMPLE: &str = "samples/inferno-trainer/data.json";

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
    assert_eq!(status, 422, "{v}");
    assert_eq!(
        message(&v),
        "invalid data set: `data[0].requestRate` = NaN: must be a finite number"
    );

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
    // Well-formed JSON with a value the model cannot use: 422 naming the key.
    let (status, v) = server.post("/solve", bad);
    assert_eq!(status, 422, "{v}");
    assert_eq!(
        message(&v),
        "field `alpha` must be a finite number >= 0, got -1"
    );

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

/// The error message of `reply`, checking that the body is exactly `{"message": "…"}` JSON.
fn error_message(reply: &Reply) -> String {
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8"),
        "{reply:?}"
    );
    let v = reply.json();
    let object = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    assert_eq!(object.len(), 1, "{v}");
    message(&v).to_owned()
}

/// POSTs `body` to `path`: the status and the exact error message.
fn post_error(server: &Server, path: &str, body: &[u8]) -> (u16, String) {
    let reply = server.send("POST", path, &[], body);
    let message = error_message(&reply);
    (reply.status, message)
}

/// The sample DataSet with field `field` of point 1 set to the raw JSON text `raw` (`NaN`
/// and `Infinity` are literals the lenient reader accepts).
fn sample_with(field: &str, raw: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(repo_file(SAMPLE)).expect("sample");
    let mut v: Value = serde_json::from_str(&text).expect("sample JSON");
    v["data"][1][field] = Value::String("@@".into());
    v.to_string().replace("\"@@\"", raw).into_bytes()
}

#[test]
fn train_answers_422_naming_point_and_field_for_unusable_values() {
    let server = Server::start(&[]);
    let cannot_start =
        "so the fit cannot start; check the value, or give another `init` or `model`";
    let overflow = "inconsistent values: the throughput overflowed to NaN: the inputs are outside \
                    the range the queueing model can evaluate";
    let v7_start = "the v7 model cannot evaluate this point at the initial parameters alpha 1, \
                    beta 0.01, gamma 0.0001";
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        // Absurd values the reader accepts: the fit could not start (upstream: 500).
        (
            "/train",
            sample_with("requestRate", "1e300"),
            format!(
                "infeasible data set: `data[1].requestRate` = 1e300: {v7_start} ({overflow}), \
                 {cannot_start}"
            ),
        ),
        (
            "/train?seed_compatible=true&model=v3",
            sample_with("requestRate", "1e300"),
            format!(
                "infeasible data set: `data[1].requestRate` = 1e300: the v3 model cannot \
                 evaluate this point at the initial parameters alpha 1, beta 0, gamma 0 (its \
                 maximum rate there is 7869.04638671875 req/s), {cannot_start}"
            ),
        ),
        (
            "/train",
            sample_with("inputTokens", "1e300"),
            format!(
                "infeasible data set: `data[1].inputTokens` = 1e300: {v7_start} ({overflow}), \
                 {cannot_start}"
            ),
        ),
        // Sound values, but the start is infeasible: every rate from point 3 on is above the
        // v3 maximum rate at α = 100.
        (
            "/train?seed_compatible=true&model=v3&init=100,0,0",
            std::fs::read(repo_file(SAMPLE)).expect("sample"),
            format!(
                "infeasible data set: `data[3].requestRate` = 101.85: the v3 model cannot \
                 evaluate this point at the initial parameters alpha 100, beta 0, gamma 0 (its \
                 maximum rate there is 78.69046020507813 req/s), {cannot_start}"
            ),
        ),
        // Values no point can have.
        (
            "/train",
            sample_with("requestRate", "-5"),
            "invalid data set: `data[1].requestRate` = -5: must be > 0".into(),
        ),
        (
            "/train?seed_compatible=true",
            sample_with("requestRate", "NaN"),
            "invalid data set: `data[1].requestRate` = NaN: must be a finite number".into(),
        ),
        (
            "/train",
            sample_with("requestRate", "Infinity"),
            "invalid data set: `data[1].requestRate` = inf: must be a finite number".into(),
        ),
        (
            "/train",
            sample_with("outputTokens", "0"),
            "invalid data set: `data[1].outputTokens` = 0: must be >= 1".into(),
        ),
        (
            "/train",
            sample_with("avgITLTime", "-5"),
            "invalid data set: `data[1].avgITLTime` = -5: must be > 0".into(),
        ),
        (
            "/train",
            sample_with("avgITLTime", "-Infinity"),
            "invalid data set: `data[1].avgITLTime` = -inf: must be a finite number".into(),
        ),
        (
            "/train",
            sample_with("avgPrefillTime", "-30"),
            "invalid data set: `data[1].avgWaitTime` + `avgPrefillTime` = -30: must be > 0".into(),
        ),
        (
            // Seconds: named in the body's unit.
            "/train?seconds=true",
            sample_with("avgITLTime", "-0.0075"),
            "invalid data set: `data[1].avgITLTime` = -0.0075: must be > 0".into(),
        ),
    ];
    for (path, body, want) in &cases {
        let (status, got) = post_error(&server, path, body);
        assert_eq!((status, got.as_str()), (422, want.as_str()), "{path}");
    }

    // A body that is not a DataSet stays a binding error (400), as upstream.
    for body in [
        &br#"{"name": "x", "data": "none"}"#[..],
        &sample_with("requestRate", r#""fast""#),
        b"",
    ] {
        let (status, got) = post_error(&server, "/train", body);
        assert_eq!(status, 400, "{got}");
        assert!(got.starts_with("binding error: request body: "), "{got}");
    }
}

#[test]
fn queue_routes_answer_422_for_unusable_values_and_400_for_bad_bodies() {
    let server = Server::start(&[]);
    let problem = |replace: &str, with: &str| -> Vec<u8> {
        let body = r#"{"RPS": 3, "maxBatchSize": 48, "avgInputTokens": 128,
            "avgOutputTokens": 512, "alpha": 12, "beta": 0.05, "gamma": 0.0005,
            "targetTTFT": 500, "targetITL": 30}"#;
        assert!(replace.is_empty() || body.contains(replace), "{replace}");
        body.replace(replace, with).into_bytes()
    };
    let cases = [
        (
            "/solve",
            problem(r#""RPS": 3"#, r#""RPS": 1e300"#),
            422,
            "inconsistent values: the throughput overflowed to NaN: the inputs are outside the \
             range the queueing model can evaluate",
        ),
        (
            "/solve",
            problem(r#""RPS": 3"#, r#""RPS": 0"#),
            422,
            "field `RPS` = 0: must be > 0",
        ),
        (
            "/optimize",
            problem(r#""avgOutputTokens": 512"#, r#""avgOutputTokens": 0"#),
            422,
            "field `avgOutputTokens` = 0: must be >= 1",
        ),
        (
            "/target",
            problem(r#""targetITL": 30"#, r#""targetITL": 0"#),
            422,
            "field `targetITL` = 0: must be > 0",
        ),
        (
            "/target",
            problem(r#""alpha": 12"#, r#""alpha": 1e300"#),
            422,
            "field `targetTTFT` = 500 ms cannot be met: at the lowest rate \
             (1.9493177387914227e-303 req/s) the model gives 2e300 ms",
        ),
        (
            "/solve",
            problem(r#""RPS": 3"#, r#""RPS": 3, "maxQueueSize": 4000000000"#),
            422,
            "field `maxQueueSize` = 4000000000: must be <= 16777216",
        ),
        (
            "/solve",
            problem(r#""maxBatchSize": 48"#, r#""maxBatchSize": 4.5"#),
            422,
            "field `maxBatchSize` must be a non-negative integer, got 4.5",
        ),
        (
            "/solve",
            problem(r#""RPS": 3"#, r#""RPS": "fast""#),
            400,
            "field `RPS` must be a number, got \"fast\"",
        ),
        (
            "/solve",
            problem(r#""RPS": 3, "#, ""),
            400,
            "missing field `RPS`",
        ),
    ];
    for (path, body, want_status, want) in &cases {
        let (status, got) = post_error(&server, path, body);
        assert_eq!((status, got.as_str()), (*want_status, *want), "{path}");
    }
}

#[test]
fn wrong_methods_and_unknown_api_paths_answer_json() {
    let server = Server::start(&[]);
    let cases = [
        ("GET", "/train", "POST"),
        ("DELETE", "/solve", "POST"),
        ("POST", "/healthz", "GET,HEAD"),
        ("PUT", "/api/derived/1", "GET,HEAD,DELETE"),
        ("GET", "/api/benchmarks/upload", "POST"),
        ("POST", "/models", "GET,HEAD"),
    ];
    for (method, path, allow) in cases {
        let reply = server.send(method, path, &[], b"");
        assert_eq!(reply.status, 405, "{method} {path}");
        assert_eq!(reply.header("allow"), Some(allow), "{method} {path}");
        assert_eq!(
            error_message(&reply),
            format!(
                "method {method} is not allowed on {path}; allowed: {}",
                allow.replace(',', ", ")
            )
        );
    }

    let reply = server.send("GET", "/api/no/such/thing", &[], b"");
    assert_eq!(reply.status, 404);
    assert_eq!(
        error_message(&reply),
        "no route for GET /api/no/such/thing; see GET /api/store and the route table in \
         docs/server.md"
    );
    // Also when a browser asks: an API path answers JSON.
    let html = [("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
    let reply = server.send("POST", "/api/nothing", &html, b"{}");
    assert_eq!(reply.status, 404);
    assert_eq!(
        error_message(&reply),
        "no route for POST /api/nothing; see GET /api/store and the route table in \
         docs/server.md"
    );
    // A page that is not there, asked for by a browser: the workbench's HTML 404.
    for path in ["/no-such-page", "/models/no%2Fsuch-model"] {
        let reply = server.send("GET", path, &html, b"");
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        assert!(
            reply.text().contains("Not found"),
            "{path}: {}",
            reply.text()
        );
    }
}

#[test]
fn train_query_errors_name_key_value_and_accepted_values() {
    let server = Server::start(&[]);
    let body = std::fs::read(repo_file(SAMPLE)).expect("sample");
    let cases = [
        (
            "/train?los=weighted-abs",
            "unknown query parameter `los` (= `weighted-abs`); accepted: loss, model, init, \
             seed_compatible, scaled, multistart, seed, arithmetic, seconds",
        ),
        (
            "/train?loss=l1",
            "query parameter `loss` = `l1`: expected one of rel-sq, weighted-abs",
        ),
        (
            "/train?model=v9",
            "query parameter `model` = `v9`: expected one of v3, v6, v7 (or 0.3, 0.6, 0.7, 0.8)",
        ),
        (
            "/train?init=10,0",
            "query parameter `init` = `10,0`: expected three comma-separated numbers >= 0, \
             alpha,beta,gamma (e.g. `10,0,0`)",
        ),
        (
            "/train?seed_compatible=yes",
            "query parameter `seed_compatible` = `yes`: expected true or false",
        ),
        (
            "/train?multistart=1000",
            "query parameter `multistart` = `1000`: expected an integer from 0 to 64",
        ),
        (
            "/train?arithmetic=f32",
            "query parameter `arithmetic` = `f32`: expected one of f64, go",
        ),
        (
            "/train?loss=rel-sq&loss=weighted-abs",
            "query parameter `loss` is given twice",
        ),
    ];
    for (path, want) in cases {
        let (status, got) = post_error(&server, path, &body);
        assert_eq!((status, got.as_str()), (400, want), "{path}");
    }
}

/// The seed response `llm-perf fit ARGS --json` prints for the sample (its `llmPerf` part
/// dropped).
fn fit_cli(args: &[&str]) -> Value {
    let mut all = vec!["fit", SAMPLE];
    all.extend_from_slice(args);
    all.push("--json");
    let (out, err, code) = run_cli(&all, &[]);
    assert_eq!(code, 0, "{err}");
    let mut v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v.as_object_mut().expect("object").remove("llmPerf");
    v
}

#[test]
fn train_query_parameters_answer_as_llm_perf_fit_does() {
    let server = Server::start(&[]);
    let cases: [(&str, &[&str]); 4] = [
        // The model-trainer README's response (unscaled, as the headline demo).
        (
            "/train?loss=weighted-abs&model=v3&init=10,0,0&seed_compatible=true&scaled=false",
            &[
                "--loss",
                "weighted-abs",
                "--model",
                "v3",
                "--init",
                "10,0,0",
                "--seed-compatible",
            ],
        ),
        // `/train` scales by default (as upstream's handler); `fit` needs `--scaled`.
        (
            "/train?loss=weighted-abs&model=v3&init=10,0,0&seed_compatible=true",
            &[
                "--loss",
                "weighted-abs",
                "--model",
                "v3",
                "--init",
                "10,0,0",
                "--seed-compatible",
                "--scaled",
            ],
        ),
        // The improved (multistart) mode with the flags' other spellings.
        (
            "/train?loss=weighted_absolute&model=0.6&multistart=4&seed=3",
            &[
                "--loss",
                "weighted_absolute",
                "--model",
                "0.6",
                "--multistart",
                "4",
                "--seed",
                "3",
                "--scaled",
            ],
        ),
        (
            "/train?seed-compatible=true&arithmetic=f64&init=1,0.01,0.0001",
            &["--seed-compatible", "--arithmetic", "f64", "--scaled"],
        ),
    ];
    let body = std::fs::read(repo_file(SAMPLE)).expect("sample");
    let mut answers = Vec::new();
    for (path, args) in cases {
        let (status, got) = server.post(path, &body);
        assert_eq!(status, 200, "{path}: {got}");
        assert_seed_shape(&got);
        // The same code on the same data: the same numbers, to the last bit.
        assert_eq!(got, fit_cli(args), "{path}");
        answers.push(got);
    }
    // The README's numbers (the Go trainer's headline fit).
    let p = &answers[0]["OptimizedParms"];
    let a = &answers[0]["AnalysisResults"];
    let rel = |v: &Value, want: f64| (v.as_f64().unwrap_or(f64::NAN) - want).abs() / want;
    assert!(rel(&p["alpha"], 6.760_506_205_916_267_5) < 1e-4, "{p}");
    assert!(rel(&p["beta"], 0.025_362_709_109_593) < 1e-4, "{p}");
    assert!(p["gamma"].as_f64().is_some_and(|g| g.abs() < 1e-6), "{p}");
    assert!(rel(&a["avgErrTTFT"], 1.537_237_319_946_289_2) < 1e-5, "{a}");
    assert!(rel(&a["avgErrITL"], 0.799_758_480_616_978) < 1e-5, "{a}");
    assert!(
        rel(&a["avgErrWeighted"], 1.045_584_760_393_415_2) < 1e-5,
        "{a}"
    );
    // The loss and model change the answer (the parameters are not ignored).
    assert_ne!(answers[0], answers[1]);
    let (_, default) = server.post("/train", &body);
    assert_ne!(default, answers[2]);
}
