//! The benchmark store over HTTP, end to end: the real `llm-perf serve` binary on 127.0.0.1
//! with a database in a temporary directory, through every route, bad input, limits, tokens,
//! a restart, and a bounded concurrent load.
#![allow(clippy::float_cmp)] // stored values must come back bit for bit

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Reply, Server, message, repo_file, run_cli};
use serde_json::{Value, json};

const TOGETHER: &str = "samples/predict/together-fixture.csv";
const GUIDELLM: &str = "samples/readers/inferno/guidellm.json";

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(repo_file(rel)).expect("sample file")
}

/// A server on a database file in `dir`.
fn serve_on(dir: &tempfile::TempDir, args: &[&str]) -> Server {
    let db = dir.path().join("store.db");
    let db = db.to_str().expect("UTF-8 temp path").to_owned();
    Server::start_with(&["--port", "0", "--db", &db], args, &[])
}

fn counts(server: &Server) -> Value {
    let (status, v) = server.get("/api/store");
    assert_eq!(status, 200, "{v}");
    v["counts"].clone()
}

fn post_json(server: &Server, path: &str, body: &Value) -> (u16, Value) {
    server.post(path, body.to_string().as_bytes())
}

#[test]
fn every_route_from_upload_to_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = serve_on(&dir, &[]);

    // Upload: the Together CSV as the seed tool sends it (multipart), a GuideLLM report as a
    // raw body.
    let up = server.upload("together-fixture.csv", &read(TOGETHER), &[], None);
    assert_eq!(up.status, 201, "{}", up.text());
    let up = up.json();
    assert_eq!(up["format"], "together-csv");
    assert_eq!(up["rows_inserted"], 8);
    let together_id = up["benchmark_id"].as_i64().expect("id");
    let g = server.send(
        "POST",
        "/api/benchmarks/upload?name=guidellm.json",
        &[],
        &read(GUIDELLM),
    );
    assert_eq!(g.status, 201, "{}", g.text());
    let g = g.json();
    assert_eq!(g["format"], "guidellm-json");
    assert_eq!(g["benchmarks"][0]["model"], "Qwen/Qwen2.5-0.5B");
    assert_eq!(g["rows_inserted"], 10);
    let guidellm_id = g["benchmark_id"].as_i64().expect("id");

    // The same bytes again: reported, not stored twice.
    let again = server.upload("copy.csv", &read(TOGETHER), &[], None);
    assert_eq!(again.status, 409, "{}", again.text());
    let again = again.json();
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["benchmark_ids"], json!([together_id]));
    assert!(
        message(&again).contains("already stored as upload"),
        "{again}"
    );

    // Models with their counts.
    let (status, models) = server.get("/api/benchmarks/models");
    assert_eq!(status, 200);
    let by_name: BTreeMap<&str, &Value> = models
        .as_array()
        .expect("array")
        .iter()
        .map(|m| (m["provider_model"].as_str().expect("name"), m))
        .collect();
    assert_eq!(by_name.len(), 2, "{models}");
    let a = by_name["fixture/model-a"];
    assert_eq!(
        (a["num_benchmarks"].as_i64(), a["num_runs"].as_i64()),
        (Some(1), Some(8))
    );
    assert_eq!(a["input_token_range"], json!({"min": 500.0, "max": 4000.0}));
    assert_eq!(by_name["Qwen/Qwen2.5-0.5B"]["num_runs"], 10);
    let (status, list) = server.get("/api/benchmarks/models/fixture%2Fmodel-a/benchmarks");
    assert_eq!(status, 200, "{list}");
    assert_eq!(list[0]["benchmark_id"], together_id);
    assert_eq!(list[0]["num_runs"], 8);
    let (status, _) = server.get("/api/benchmarks/models/no-such-model/benchmarks");
    assert_eq!(status, 404);

    // Every percentile is stored (the seed dropped p05, p80 and p999).
    let (status, detail) = server.get(&format!("/api/benchmarks/benchmarks/{together_id}"));
    assert_eq!(status, 200, "{detail}");
    let first = &detail["points"][0]["stats"];
    assert_eq!(first["ttft_p05"], 370.8);
    assert_eq!(first["ttft_p80"], 432.599_999_999_999_97);
    assert_eq!(first["ttft_p999"], 525.300_000_000_000_1);
    assert_eq!(first["user_tps_mean"], 59.0);
    let (_, guidellm_before) = server.get(&format!("/api/benchmarks/benchmarks/{guidellm_id}"));

    let (status, modelable) = server.get("/api/benchmarks/modeling/models");
    assert_eq!(status, 200);
    assert_eq!(modelable, json!(["Qwen/Qwen2.5-0.5B", "fixture/model-a"]));

    // Predict equals `llm-perf estimate` on the same file: same numbers, same confidence.
    let (status, predicted) = post_json(
        &server,
        "/api/benchmarks/modeling/predict",
        &json!({"model": "fixture/model-a", "input_tokens": 1000, "output_tokens": 400}),
    );
    assert_eq!(status, 200, "{predicted}");
    let (out, err, code) = run_cli(
        &[
            "estimate",
            "--csv",
            TOGETHER,
            "--model",
            "fixture/model-a",
            "--input",
            "1000",
            "--output",
            "400",
            "--json",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let estimate: Value = serde_json::from_str(&out).expect("estimate JSON");
    assert_eq!(predicted, estimate);
    assert_eq!(predicted["confidence"], "medium");
    assert!(
        predicted["predictions"]["ttft_mean"]
            .as_f64()
            .is_some_and(|v| v > 0.0)
    );

    // Export: a one-row CSV in the upload schema.
    let export = server.send(
        "POST",
        "/api/benchmarks/modeling/export",
        &[("Content-Type", "application/json")],
        json!({ "result": predicted }).to_string().as_bytes(),
    );
    assert_eq!(export.status, 200, "{}", export.text());
    assert!(
        export
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/csv"))
    );
    let csv = export.text();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("provider_name,provider_model,traffic_mode"));
    assert!(
        lines[1].starts_with("predicted,fixture/model-a,prediction,"),
        "{csv}"
    );

    // The Modeling page's export link: the same one-row CSV for the same query.
    let page_export = server.send(
        "GET",
        "/modeling/export.csv?model=fixture%2Fmodel-a&input=1000&output=400",
        &[],
        b"",
    );
    assert_eq!(page_export.status, 200, "{}", page_export.text());
    assert_eq!(
        page_export.header("content-disposition"),
        Some("attachment; filename=\"prediction-fixture_model-a.csv\"")
    );
    assert_eq!(page_export.text(), csv);

    // Inferno fit of the stored GuideLLM sweep, then sizing from the stored fit.
    let (status, fit) = server.post(
        &format!("/api/benchmarks/benchmarks/{guidellm_id}/fit"),
        b"",
    );
    assert_eq!(status, 201, "{fit}");
    for k in ["alpha", "beta", "gamma"] {
        assert!(
            fit[k].as_f64().is_some_and(|v| v.is_finite() && v >= 0.0),
            "{fit}"
        );
    }
    let fit_id = fit["derived_id"].as_i64().expect("derived id");
    let (status, sized) = post_json(
        &server,
        &format!("/api/derived/{fit_id}/size"),
        &json!({"target_ttft": 2000, "target_itl": 40, "total_rate": 20}),
    );
    assert_eq!(status, 200, "{sized}");
    let replicas = sized["replicas"].as_u64().expect("replicas");
    let per = sized["perReplicaRPS"].as_f64().expect("per replica");
    assert!(
        replicas >= 1 && (per * replicas as f64 - 20.0).abs() < 1e-9,
        "{sized}"
    );
    assert!(
        sized["avgTTFT"].as_f64().is_some_and(|t| t <= 2000.0),
        "{sized}"
    );

    // A predictor file, stored and listed.
    let pred_path = dir.path().join("predictors.json");
    common::train_sample_predictor(&pred_path);
    let predictor = std::fs::read(&pred_path).expect("predictor file");
    let (status, stored) = server.post("/api/predictors?model=Qwen/Qwen3-4B&name=a100", &predictor);
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["configs"], json!(["qwen3-4b-a100"]));
    let (status, bad) = server.post("/api/predictors?model=m", b"{\"configs\": 3}");
    assert_eq!(status, 422, "{bad}");
    let (_, predictors) = server.get("/api/predictors");
    assert_eq!(predictors.as_array().map(Vec::len), Some(1), "{predictors}");

    // The model's regression, kept.
    let (status, regression) = post_json(
        &server,
        "/api/benchmarks/modeling/regression",
        &json!({"model": "fixture/model-a"}),
    );
    assert_eq!(status, 201, "{regression}");
    assert_eq!(regression["kind"], "together-regression");
    assert!(
        regression["content"]["linear"]["ttft_mean"]["a"].is_number(),
        "{regression}"
    );
    let (_, derived_before) = server.get("/api/derived");
    assert_eq!(derived_before.as_array().map(Vec::len), Some(3));

    // Delete the Together benchmark: gone, the rest unchanged.
    let before = counts(&server);
    let reply = server.send(
        "DELETE",
        &format!("/api/benchmarks/benchmarks/{together_id}"),
        &[],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({"success": true, "deleted": 8}));
    let (status, _) = server.get(&format!("/api/benchmarks/benchmarks/{together_id}"));
    assert_eq!(status, 404);
    let reply = server.send(
        "DELETE",
        &format!("/api/benchmarks/benchmarks/{together_id}"),
        &[],
        b"",
    );
    assert_eq!(reply.status, 404);
    let (_, guidellm_after) = server.get(&format!("/api/benchmarks/benchmarks/{guidellm_id}"));
    assert_eq!(guidellm_after, guidellm_before);
    let after = counts(&server);
    assert_eq!(after["points"], before["points"].as_i64().expect("n") - 8);
    assert_eq!(after["uploads"], before["uploads"].as_i64().expect("n") - 1);
    let (_, models_after) = server.get("/api/benchmarks/models");
    let (_, uploads_after) = server.get("/api/uploads");
    server.stop();

    // Restart on the same file: everything still there.
    let server = serve_on(&dir, &[]);
    assert_eq!(counts(&server), after);
    assert_eq!(server.get("/api/benchmarks/models").1, models_after);
    assert_eq!(server.get("/api/uploads").1, uploads_after);
    assert_eq!(
        server
            .get(&format!("/api/benchmarks/benchmarks/{guidellm_id}"))
            .1,
        guidellm_before
    );
    assert_eq!(server.get("/api/derived").1, derived_before);
    // The deleted file's bytes are free again.
    let up = server.upload("together-fixture.csv", &read(TOGETHER), &[], None);
    assert_eq!(up.status, 201, "{}", up.text());
}

#[test]
fn names_from_files_are_untrusted_text_stored_as_given() {
    let server = Server::start(&[]);
    let evil = "<img src=x onerror=alert(1)>";
    let csv = String::from_utf8(read(TOGETHER))
        .expect("UTF-8")
        .replace("fixture/model-a", evil);
    let reply = server.upload("</script><!--.csv", csv.as_bytes(), &[], None);
    assert_eq!(reply.status, 201, "{}", reply.text());
    let (_, models) = server.get("/api/benchmarks/models");
    assert_eq!(models[0]["provider_model"], evil);
    let (_, list) = server.get("/api/benchmarks/benchmarks");
    assert_eq!(list[0]["file_name"], "</script><!--.csv");
    // A page for a model that is not there: an HTML 404 with the name escaped.
    let reply = server.send("GET", "/models/%3Cb%3Enope", &[], b"");
    assert_eq!(reply.status, 404);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(
        reply.text().contains("no model &#60;b&#62;nope")
            || reply.text().contains("no model &lt;b&gt;nope"),
        "{}",
        reply.text()
    );
    // JSON answers are JSON, never HTML.
    let reply = server.send("GET", "/api/benchmarks/models", &[], b"");
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
}

#[test]
fn bad_input_is_rejected_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = serve_on(&dir, &[]);
    assert_eq!(
        server.upload("t.csv", &read(TOGETHER), &[], None).status,
        201
    );
    let before = counts(&server);

    let no_model: String = String::from_utf8(read(TOGETHER))
        .expect("UTF-8")
        .lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split(',').collect();
            cells.remove(1); // provider_model
            cells.join(",") + "\n"
        })
        .collect();
    let mut truncated = read(GUIDELLM);
    truncated.truncate(truncated.len() / 2);
    let binary: Vec<u8> = (0u8..=255).cycle().take(4096).collect();
    let cases: [(&str, &[u8], &str); 4] = [
        ("empty.json", b"", "empty"),
        ("tool.bin", &binary, "binary"),
        ("cut.json", &truncated, "cut.json"),
        ("no-model.csv", no_model.as_bytes(), "provider_model"),
    ];
    for (name, bytes, needle) in cases {
        let reply = server.upload(name, bytes, &[], None);
        assert_eq!(reply.status, 422, "{name}: {}", reply.text());
        let v = reply.json();
        let msg = message(&v);
        assert!(msg.contains(needle) && msg.contains(name), "{name}: {msg}");
        assert!(!msg.contains('\n'), "{name}: one line: {msg}");
        assert_eq!(counts(&server), before, "{name} changed the store");
    }
    // The same CSV with the model named in the form is accepted.
    let reply = server.upload(
        "no-model.csv",
        no_model.as_bytes(),
        &[("model", "named/in-form")],
        None,
    );
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.json()["benchmarks"][0]["model"], "named/in-form");
    let before = counts(&server);

    // 70 MiB: 413 with a JSON message, for a Content-Length body and a multipart one.
    let big = vec![b'x'; 70 * 1024 * 1024];
    let reply = server.send("POST", "/api/benchmarks/upload?name=big.csv", &[], &big);
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert!(
        message(&reply.json()).contains("64 MiB"),
        "{}",
        reply.text()
    );
    let reply = server.upload("big.csv", &big, &[], None);
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert!(message(&reply.json()).contains("limit"), "{}", reply.text());
    assert_eq!(counts(&server), before);

    // Unknown ids: 404 with a message.
    for path in [
        "/api/benchmarks/benchmarks/999",
        "/api/benchmarks/benchmarks/x",
        "/api/derived/7",
    ] {
        let (status, v) = server.get(path);
        assert_eq!(status, 404, "{path}: {v}");
        assert!(message(&v).starts_with("no "), "{v}");
    }
    let reply = server.send("DELETE", "/api/benchmarks/benchmarks/999", &[], b"");
    assert_eq!(reply.status, 404);
    let (status, v) = server.post(
        "/api/benchmarks/modeling/predict",
        b"{\"model\": \"fixture/model-a\"}",
    );
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("input_tokens"), "{v}");
    let (status, v) = post_json(
        &server,
        "/api/benchmarks/modeling/predict",
        &json!({"model": "fixture/model-a", "input_tokens": 0, "output_tokens": 10}),
    );
    assert_eq!(status, 400, "{v}");
    assert_eq!(counts(&server), before);
}

#[test]
fn writes_need_the_token_beyond_loopback() {
    // Without a token a non-loopback address is refused before serving.
    let (_, err, code) = run_cli(
        &["serve", "--listen", "0.0.0.0:0", "--db", ":memory:"],
        &[("LLM_PERF_TOKEN", "")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("refusing to listen") && err.contains("LLM_PERF_TOKEN"),
        "{err}"
    );

    // With one: reads are open, writes need it. (All traffic goes to 127.0.0.1.)
    let server = Server::start_with(
        &["--listen", "0.0.0.0:0", "--db", ":memory:"],
        &[],
        &[("LLM_PERF_TOKEN", "s3cret-token")],
    );
    let reply = server.upload("t.csv", &read(TOGETHER), &[], None);
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    let reply = server.upload("t.csv", &read(TOGETHER), &[], Some("wrong"));
    assert_eq!(reply.status, 401);
    let reply = server.send("DELETE", "/api/benchmarks/benchmarks/1", &[], b"");
    assert_eq!(reply.status, 401);
    assert_eq!(counts(&server)["uploads"], 0);
    let (status, _) = server.get("/api/benchmarks/models");
    assert_eq!(status, 200);
    let reply = server.upload("t.csv", &read(TOGETHER), &[], Some("s3cret-token"));
    assert_eq!(reply.status, 201, "{}", reply.text());
    // Computations stay open.
    let (status, v) = post_json(
        &server,
        "/api/benchmarks/modeling/predict",
        &json!({"model": "fixture/model-a", "input_tokens": 1000, "output_tokens": 400}),
    );
    assert_eq!(status, 200, "{v}");
    drop(server);

    // A page on another site cannot make a browser write to a token-less loopback server.
    let server = Server::start(&[]);
    let reply = server.send(
        "POST",
        "/api/benchmarks/upload?name=t.csv",
        &[
            ("Sec-Fetch-Site", "cross-site"),
            ("Origin", "http://evil.example"),
        ],
        &read(TOGETHER),
    );
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert!(message(&reply.json()).contains("cross-origin"));
    assert_eq!(counts(&server)["uploads"], 0);
    let reply = server.send(
        "POST",
        "/api/benchmarks/upload?name=t.csv",
        &[("Sec-Fetch-Site", "same-origin")],
        &read(TOGETHER),
    );
    assert_eq!(reply.status, 201, "{}", reply.text());
    drop(server);

    // Read-only: no write at all, even on loopback.
    let server = Server::start(&["--read-only"]);
    let reply = server.upload("t.csv", &read(TOGETHER), &[], None);
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert!(message(&reply.json()).contains("read-only"));
}

/// A small Together CSV that differs per `n` (so its hash does), for one of `models` models.
fn generated_csv(n: usize) -> String {
    let mut text = String::from(
        "provider_name,provider_model,traffic_mode,traffic_level,input_avg_len,output_avg_len,ttft_mean,ttft_p99,user_tps_mean,e2e_mean,summary_job_level_tps,summary_actual_qps\n",
    );
    for level in 1..=4 {
        let input = 200 * level + n;
        text.push_str(&format!(
            "load,load/model-{},qps,{}.0,{input},{},{},{},{},{},{},{}.0\n",
            n % 4,
            level,
            100 + 50 * level,
            100.0 + 0.1 * input as f64,
            150.0 + 0.1 * input as f64,
            60 - level,
            2000 + 100 * level,
            500 + 10 * level,
            level,
        ));
    }
    text
}

#[test]
fn concurrent_uploads_deletes_and_reads_keep_the_store_consistent() {
    const CLIENTS: usize = 8;
    const PER_CLIENT: usize = 125; // 8 writers + 8 readers, 2 000 requests in all
    const FILES: usize = 40;
    let dir = tempfile::tempdir().expect("temp dir");
    let server = serve_on(&dir, &[]);
    let stored_points = Mutex::new(BTreeMap::<i64, i64>::new()); // benchmark id -> points
    let outcomes = Mutex::new(BTreeMap::<&str, usize>::new());
    let server_errors = AtomicUsize::new(0);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    let bump = |what: &'static str| *outcomes.lock().expect("lock").entry(what).or_default() += 1;
    let check = |reply: &Reply| {
        assert!(
            !reply.text().contains("database is locked"),
            "a lock error reached a client: {}",
            reply.text()
        );
        if reply.status >= 500 {
            server_errors.fetch_add(1, Ordering::Relaxed);
        }
    };
    std::thread::scope(|scope| {
        for client in 0..CLIENTS {
            let (server, stored_points, bump, check) = (&server, &stored_points, &bump, &check);
            scope.spawn(move || {
                for i in 0..PER_CLIENT {
                    assert!(Instant::now() < deadline, "load test over its time bound");
                    let n = (client * 7 + i * 3) % FILES;
                    if i % 5 == 4 {
                        // Delete a benchmark another client may be deleting too.
                        let id = stored_points.lock().expect("lock").keys().next().copied();
                        let Some(id) = id else { continue };
                        let reply = server.send(
                            "DELETE",
                            &format!("/api/benchmarks/benchmarks/{id}"),
                            &[],
                            b"",
                        );
                        check(&reply);
                        match reply.status {
                            200 => {
                                let deleted = reply.json()["deleted"].as_i64().expect("deleted");
                                let mut map = stored_points.lock().expect("lock");
                                assert_eq!(map.remove(&id), Some(deleted));
                                bump("deleted");
                            }
                            404 => bump("delete raced"),
                            s => panic!("delete answered {s}: {}", reply.text()),
                        }
                        continue;
                    }
                    let reply = server.upload(
                        &format!("load-{n}.csv"),
                        generated_csv(n).as_bytes(),
                        &[],
                        None,
                    );
                    check(&reply);
                    match reply.status {
                        201 => {
                            let v = reply.json();
                            let id = v["benchmark_id"].as_i64().expect("id");
                            let points = v["rows_inserted"].as_i64().expect("rows");
                            assert_eq!(points, 4);
                            stored_points.lock().expect("lock").insert(id, points);
                            bump("stored");
                        }
                        409 => bump("duplicate"),
                        s => panic!("upload answered {s}: {}", reply.text()),
                    }
                }
            });
        }
        for client in 0..CLIENTS {
            let (server, check) = (&server, &check);
            scope.spawn(move || {
                for i in 0..PER_CLIENT {
                    assert!(Instant::now() < deadline, "load test over its time bound");
                    let reply = match (client + i) % 4 {
                        0 => server.send("GET", "/api/benchmarks/models", &[], b""),
                        1 => server.send("GET", "/api/benchmarks/benchmarks", &[], b""),
                        2 => server.send("GET", "/api/store", &[], b""),
                        _ => server.send(
                            "POST",
                            "/api/benchmarks/modeling/predict",
                            &[("Content-Type", "application/json")],
                            json!({"model": format!("load/model-{}", i % 4), "input_tokens": 500, "output_tokens": 150})
                                .to_string()
                                .as_bytes(),
                        ),
                    };
                    check(&reply);
                    // A model may have no benchmark at the moment (404), or too few
                    // points (422); never a server error.
                    assert!(matches!(reply.status, 200 | 404 | 422), "{}: {}", reply.status, reply.text());
                }
            });
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let total = 2 * CLIENTS * PER_CLIENT;
    assert_eq!(server_errors.load(Ordering::Relaxed), 0);
    // Counts add up: every stored benchmark not deleted is there, with its points, once.
    let map = stored_points.into_inner().expect("lock");
    let c = counts(&server);
    assert_eq!(c["benchmarks"].as_i64(), Some(map.len() as i64), "{c}");
    assert_eq!(c["uploads"].as_i64(), Some(map.len() as i64), "{c}");
    assert_eq!(c["points"].as_i64(), Some(map.values().sum::<i64>()), "{c}");
    let (_, uploads) = server.get("/api/uploads");
    let hashes: BTreeSet<&str> = uploads
        .as_array()
        .expect("array")
        .iter()
        .map(|u| u["sha256"].as_str().expect("sha"))
        .collect();
    assert_eq!(hashes.len(), map.len(), "a file is stored twice");
    let outcomes = outcomes.into_inner().expect("lock");
    eprintln!(
        "load: {total} requests (8 uploaders/deleters, 8 readers) in {elapsed:.2} s = {:.0} requests/s; {outcomes:?}; {} benchmarks left",
        total as f64 / elapsed,
        map.len()
    );
    assert!(outcomes.get("stored").copied().unwrap_or(0) >= FILES.min(10));
    assert!(outcomes.get("duplicate").copied().unwrap_or(0) > 0);
}

#[test]
fn store_cli_imports_lists_and_removes_without_a_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("cli.db");
    let db = db.to_str().expect("path");
    let (out, err, code) = run_cli(&["store", "import", "--db", db, TOGETHER, GUIDELLM], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("2 stored, 0 already stored, 0 skipped, 0 failed"),
        "{out}"
    );
    let (out, _, code) = run_cli(&["store", "import", "--db", db, TOGETHER], &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("duplicate:") && out.contains("0 stored, 1 already stored"),
        "{out}"
    );
    let (out, _, code) = run_cli(&["store", "list", "--db", db, "--json"], &[]);
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    let id = list[0]["benchmark_id"].as_i64().expect("id").to_string();
    let (out, err, code) = run_cli(&["store", "rm", "--db", db, &id], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("deleted benchmark {id} (8 points)\n"));
    let (_, err, code) = run_cli(&["store", "rm", "--db", db, &id], &[]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("no benchmark {id}")), "{err}");
    // A bad file fails alone, named, and the command exits 2 after storing the rest.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"name\": ").expect("write");
    let (out, err, code) = run_cli(
        &[
            "store",
            "import",
            "--db",
            db,
            bad.to_str().expect("path"),
            TOGETHER,
        ],
        &[],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("failed: ") && out.contains("bad.json"),
        "{out}"
    );
    assert!(out.contains("1 stored"), "{out}");
    assert!(err.contains("1 of 2 files could not be stored"), "{err}");
    // And a server on the same file sees it.
    let server = Server::start_with(&["--port", "0", "--db", db], &[], &[]);
    let (_, models) = server.get("/api/benchmarks/models");
    assert_eq!(models.as_array().map(Vec::len), Some(2), "{models}");
}

#[test]
fn store_import_takes_every_reader_sample_that_read_accepts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("all.db");
    let db = db.to_str().expect("path");
    let mut files = Vec::new();
    let mut stack = vec![repo_file("samples/readers")];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let accepted: Vec<String> = files
        .iter()
        .map(|p| p.to_str().expect("path").to_owned())
        .filter(|p| run_cli(&["read", p], &[]).2 == 0)
        .collect();
    assert!(accepted.len() >= 35, "{accepted:?}");
    let mut args = vec!["store", "import", "--db", db, "--model", "unnamed/model"];
    args.extend(accepted.iter().map(String::as_str));
    let (out, err, code) = run_cli(&args, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let n = accepted.len();
    // The AISBench pair is one result: its second file is skipped, not stored twice.
    let summary = format!(
        "{} stored, 0 already stored, 1 skipped, 0 failed ({n} files)",
        n - 1
    );
    assert!(out.contains(&summary), "{out}");
    eprintln!("{}", out.lines().last().unwrap_or(""));
}

#[test]
fn reader_warnings_are_returned_and_kept_with_the_upload() {
    // A GuideLLM export whose throughput run carries a clock glitch (TTFT mean −2.2e8 ms): the
    // reader drops that statistic and warns; the store keeps the warning with the upload.
    const GLITCH: &str =
        "crates/perf-readers/tests/fixtures/glitch/guidellm-csv-unused-glitch.json";
    let dir = tempfile::tempdir().expect("temp dir");
    let server = serve_on(&dir, &[]);
    let up = server.send(
        "POST",
        "/api/benchmarks/upload?name=glitch.json&model=m",
        &[],
        &read(GLITCH),
    );
    assert_eq!(up.status, 201, "{}", up.text());
    let up = up.json();
    let warnings = up["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{up}");
    let w = warnings[0].as_str().expect("text");
    assert!(w.contains("ttft.mean") && w.contains("-222574949"), "{w}");
    // Listed with the upload, and after a restart.
    let (status, list) = server.get("/api/uploads");
    assert_eq!(status, 200);
    assert_eq!(list[0]["warnings"][0], w, "{list}");
    drop(server);
    let server = serve_on(&dir, &[]);
    let (_, list) = server.get("/api/uploads");
    assert_eq!(list[0]["warnings"][0], w, "{list}");
    // A clean upload has none.
    let clean = server.upload("together-fixture.csv", &read(TOGETHER), &[], None);
    assert_eq!(clean.json()["warnings"], json!([]));
    // The store CLI prints them under the file.
    let db = dir.path().join("cli.db");
    let (out, err, code) = run_cli(
        &[
            "store",
            "import",
            "--db",
            db.to_str().expect("path"),
            "--model",
            "m",
            GLITCH,
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\n  warning: ") && out.contains("ttft.mean"),
        "{out}"
    );
}
