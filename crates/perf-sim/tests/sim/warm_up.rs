//! The warm-up (`warm_up_s`, specs/simulator.md §7.1): requests arriving before it are
//! simulated and written out but left out of the latency and throughput figures.

use perf_sim::{SimConfig, SimError, Simulation};
use serde_json::{Value, json};

use crate::{cfg, run};

/// A roofline replica pair under a bursty load that queues: latencies of the warm-up differ
/// from the rest, and decoders run in aggregate (lazy) most of the time.
fn config(warm_up: Option<f64>, blocks: u64, output: Value) -> SimConfig {
    let mut v = json!({
        "seed": 3, "max_requests": 900,
        "cluster": { "replicas": 2, "router": "least_outstanding_requests",
            "engine": { "max_batch_size": 64, "max_num_batched_tokens": 2048 },
            "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" },
            "kv_cache": { "num_gpu_blocks": blocks } },
        "workload": { "clients": [
            { "arrival": { "kind": "gamma", "rate": 40.0, "cv": 2.0 },
              "input": { "kind": "lognormal", "mean": 700, "std": 400 },
              "output": output } ] }
    });
    if let (Some(w), Some(obj)) = (warm_up, v.as_object_mut()) {
        obj.insert("warm_up_s".into(), json!(w));
    }
    cfg(v)
}

fn lognormal_output() -> Value {
    json!({ "kind": "lognormal", "mean": 150, "std": 100 })
}

/// The CSV columns the checks need, by header name.
struct Row {
    status: String,
    prompt: u64,
    output: u64,
    arrival_ns: u64,
    first_ns: Option<u64>,
    sched_ns: Option<u64>,
    done_ns: Option<u64>,
}

fn ns(s: &str) -> Option<u64> {
    let (a, b) = s.split_once('.')?;
    Some(a.parse::<u64>().ok()? * 1_000_000_000 + b.parse::<u64>().ok()?)
}

fn rows(csv: &str) -> Vec<Row> {
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let h = rdr.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).expect(name);
    let (st, p, o, a, f, s, c) = (
        col("status"),
        col("prompt_tokens"),
        col("output_tokens"),
        col("arrival_time"),
        col("first_token_time"),
        col("first_scheduled_time"),
        col("completion_time"),
    );
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            Row {
                status: r[st].to_owned(),
                prompt: r[p].parse().unwrap(),
                output: r[o].parse().unwrap(),
                arrival_ns: ns(&r[a]).unwrap(),
                first_ns: ns(&r[f]),
                sched_ns: ns(&r[s]),
                done_ns: ns(&r[c]),
            }
        })
        .collect()
}

#[allow(clippy::cast_precision_loss)]
fn mean_ms(xs: &[u64]) -> f64 {
    xs.iter().map(|&x| x as f64).sum::<f64>() / xs.len() as f64 * 1e-6
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1e-12),
        "{what}: {a} vs {b}"
    );
}

#[test]
fn warm_up_zero_and_absent_are_byte_identical() {
    let (absent, csv_absent) = run(config(None, 100_000, lognormal_output()));
    let (zero, csv_zero) = run(config(Some(0.0), 100_000, lognormal_output()));
    assert_eq!(csv_absent, csv_zero);
    let json = absent.to_json().unwrap();
    assert_eq!(json, zero.to_json().unwrap());
    // No warm-up, no new keys in the summary JSON.
    assert!(!json.contains("warm_up"), "{json}");
    assert_eq!(absent.requests.warm_up, 0);
}

#[test]
fn warm_up_statistics_are_those_of_the_csv_rows_arriving_after_it() {
    // Preemptions (600 blocks) and queueing included.
    for blocks in [100_000, 600] {
        let warm = 6.0;
        let (base, csv_base) = run(config(None, blocks, lognormal_output()));
        let (s, csv) = run(config(Some(warm), blocks, lognormal_output()));
        // The warm-up changes no request: every one keeps its row, bit for bit.
        assert_eq!(csv, csv_base);
        let rows = rows(&csv);
        let w_ns = 6_000_000_000;
        let measured: Vec<&Row> = rows
            .iter()
            .filter(|r| r.status == "completed" && r.arrival_ns >= w_ns)
            .collect();
        let r = &s.requests;
        assert_eq!(r.arrived, rows.len() as u64);
        let mut counts = base.requests;
        counts.warm_up = r.warm_up;
        assert_eq!(*r, counts);
        let warm_rows = rows.iter().filter(|r| r.arrival_ns < w_ns).count() as u64;
        assert!(warm_rows > 50 && measured.len() > 300, "{warm_rows}");
        assert_eq!(r.warm_up, warm_rows);
        assert_eq!(
            r.arrived,
            r.completed + r.rejected + r.dropped + r.unfinished
        );
        let l = &s.latency;
        let n = measured.len() as u64;
        for (st, what) in [
            (&l.ttft_ms, "ttft"),
            (&l.e2e_ms, "e2e"),
            (&l.scheduling_delay_ms, "scheduling delay"),
        ] {
            assert_eq!(st.count, n, "{what} count, {blocks} blocks");
        }
        let ttft: Vec<u64> = measured
            .iter()
            .map(|r| r.first_ns.unwrap() - r.arrival_ns)
            .collect();
        let e2e: Vec<u64> = measured
            .iter()
            .map(|r| r.done_ns.unwrap() - r.arrival_ns)
            .collect();
        let sched: Vec<u64> = measured
            .iter()
            .map(|r| r.sched_ns.unwrap() - r.arrival_ns)
            .collect();
        close(l.ttft_ms.mean, mean_ms(&ttft), "mean TTFT");
        close(l.e2e_ms.mean, mean_ms(&e2e), "mean E2E");
        close(
            l.scheduling_delay_ms.mean,
            mean_ms(&sched),
            "mean scheduling delay",
        );
        close(
            l.ttft_ms.max,
            *ttft.iter().max().unwrap() as f64 * 1e-6,
            "max TTFT",
        );
        close(
            l.e2e_ms.min,
            *e2e.iter().min().unwrap() as f64 * 1e-6,
            "min E2E",
        );
        assert_eq!(
            l.tpot_ms.count,
            measured.iter().filter(|r| r.output >= 2).count() as u64
        );
        // The warm-up requests' latencies differ: the figures did change.
        assert!((l.ttft_ms.mean - base.latency.ttft_ms.mean).abs() > 1e-6);
        // Throughput: [max(warm-up, first arrival), last measured completion].
        let w1 = measured.iter().map(|r| r.done_ns.unwrap()).max().unwrap();
        let window = (w1 - w_ns) as f64 * 1e-9;
        let t = &s.throughput;
        close(t.window_s, window, "window");
        close(t.requests_per_second, n as f64 / window, "req/s");
        let out: u64 = measured.iter().map(|r| r.output).sum();
        let inp: u64 = measured.iter().map(|r| r.prompt).sum();
        assert_eq!(s.output_tokens, out);
        close(
            t.output_tokens_per_second,
            out as f64 / window,
            "output tok/s",
        );
        close(
            t.input_tokens_per_second,
            inp as f64 / window,
            "input tok/s",
        );
        let json = s.to_json().unwrap();
        assert!(json.contains("\"warm_up_s\": 6.0"), "{json}");
        assert!(
            json.contains(&format!("\"warm_up\": {warm_rows}")),
            "{json}"
        );
    }
}

#[test]
fn itl_samples_exclude_the_warm_up_requests_gaps() {
    // Fixed output lengths and a drained run: every request completes, each with O − 1 gaps.
    let o = 40u64;
    for blocks in [100_000, 500] {
        let (all, _) = run(config(None, blocks, json!({ "kind": "fixed", "value": o })));
        let (s, csv) = run(config(
            Some(5.0),
            blocks,
            json!({ "kind": "fixed", "value": o }),
        ));
        let rows = rows(&csv);
        assert!(rows.iter().all(|r| r.status == "completed"));
        assert_eq!(all.latency.itl_ms.count, rows.len() as u64 * (o - 1));
        let measured = rows
            .iter()
            .filter(|r| r.arrival_ns >= 5_000_000_000)
            .count() as u64;
        assert!(measured < rows.len() as u64 && measured > 0);
        assert_eq!(
            s.latency.itl_ms.count,
            measured * (o - 1),
            "{blocks} blocks"
        );
        if blocks == 500 {
            assert!(s.preemptions > 0, "the small cache preempts");
        }
    }
}

#[test]
fn bad_warm_up_names_the_field() {
    for w in [-1.0, f64::NAN, f64::INFINITY] {
        let mut c = config(None, 1000, lognormal_output());
        c.warm_up_s = Some(w);
        match Simulation::new(c).unwrap_err() {
            SimError::InvalidConfig { field, .. } => assert_eq!(field, "warm_up_s", "{w}"),
            e => panic!("{e}"),
        }
    }
    // Not below the horizon: nothing would be measured.
    let mut c = config(Some(30.0), 1000, lognormal_output());
    c.horizon_s = Some(30.0);
    let e = Simulation::new(c).unwrap_err();
    assert!(e.to_string().contains("warm_up_s"), "{e}");
}
