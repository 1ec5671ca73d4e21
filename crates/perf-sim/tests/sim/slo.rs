//! SLOs and goodput (specs/simulator.md §7.1): `slo_met` per request and the summary's goodput
//! agree with the objectives recomputed from the CSV rows.

use perf_sim::{SimError, Simulation};
use serde_json::json;

use crate::{cfg, run};

/// Two clients under a load that queues: `chat` with its own TTFT objective, `batch` with the
/// workload's; a warm-up; a KV cache small enough to reject the longest prompts.
fn config(slo: serde_json::Value) -> serde_json::Value {
    json!({
        "seed": 9, "max_requests": 1500, "warm_up_s": 5.0, "slo": slo,
        "cluster": { "replicas": 1,
            "engine": { "max_batch_size": 48, "max_num_batched_tokens": 2048, "max_model_len": 3500 },
            "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" } },
        "workload": { "clients": [
            { "name": "chat", "arrival": { "kind": "gamma", "rate": 25.0, "cv": 2.0 },
              "input": { "kind": "lognormal", "mean": 900, "std": 700 },
              "output": { "kind": "lognormal", "mean": 150, "std": 100 },
              "slo": { "ttft_ms": 150.0 } },
            { "name": "batch", "arrival": { "kind": "poisson", "rate": 5.0 },
              "input": { "kind": "uniform", "low": 500, "high": 1500 },
              "output": { "kind": "fixed", "value": 64 } } ] }
    })
}

fn sec_ns(s: &str) -> Option<u64> {
    let (a, b) = s.split_once('.')?;
    Some(a.parse::<u64>().ok()? * 1_000_000_000 + b.parse::<u64>().ok()?)
}

#[test]
fn slo_met_and_goodput_follow_the_objectives() {
    let (s, csv) = run(cfg(config(
        json!({ "ttft_ms": 400.0, "tpot_ms": 30.0, "itl_ms": 120.0, "e2e_ms": 8000.0 }),
    )));
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let h = rdr.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).expect(name);
    let (client, status, arrival, first, done) = (
        col("client_id"),
        col("status"),
        col("arrival_time"),
        col("first_token_time"),
        col("completion_time"),
    );
    let (out, tpot, itl_max, met) = (
        col("output_tokens"),
        col("tpot_ms"),
        col("itl_max_ms"),
        col("slo_met"),
    );
    let mut per = std::collections::BTreeMap::<String, (u64, u64)>::new();
    let mut misses_not_completed = 0;
    for r in rdr.records() {
        let r = r.unwrap();
        let name = r[client].to_owned();
        // Chat's own TTFT objective overrides the workload's; the rest are inherited.
        let ttft_slo_ns = if name == "chat" { 150e6 } else { 400e6 };
        let expected = if &r[status] == "completed" {
            let a = sec_ns(&r[arrival]).unwrap();
            let f = sec_ns(&r[first]).unwrap();
            let c = sec_ns(&r[done]).unwrap();
            let o: u32 = r[out].parse().unwrap();
            let tpot_ok = o < 2 || r[tpot].parse::<f64>().unwrap() <= 30.0;
            let itl_ok = o < 2 || r[itl_max].parse::<f64>().unwrap() <= 120.0;
            (f - a) as f64 <= ttft_slo_ns && tpot_ok && itl_ok && (c - a) as f64 <= 8000e6
        } else {
            misses_not_completed += 1;
            false
        };
        assert_eq!(&r[met], if expected { "true" } else { "false" }, "{r:?}");
        if sec_ns(&r[arrival]).unwrap() >= 5_000_000_000 {
            let e = per.entry(name).or_default();
            e.0 += 1;
            e.1 += u64::from(expected);
        }
    }
    assert!(misses_not_completed > 0, "some requests are rejected");
    let g = s.goodput.expect("goodput with SLOs");
    assert_eq!(g.per_client.len(), 2);
    for c in &g.per_client {
        let (measured, met) = per[&c.client];
        assert_eq!((c.measured, c.met), (measured, met), "{}", c.client);
        assert!((c.attainment - met as f64 / measured as f64).abs() < 1e-12);
        assert!((c.requests_per_second - met as f64 / s.throughput.window_s).abs() < 1e-9);
    }
    assert_eq!(g.per_client[0].slo.ttft_ms, Some(150.0));
    assert_eq!(g.per_client[0].slo.e2e_ms, Some(8000.0));
    assert_eq!(g.per_client[1].slo.ttft_ms, Some(400.0));
    let met: u64 = per.values().map(|v| v.1).sum();
    let measured: u64 = per.values().map(|v| v.0).sum();
    assert_eq!((g.met, g.measured), (met, measured));
    assert!(
        g.met > 0 && g.met < g.measured,
        "{} of {}",
        g.met,
        g.measured
    );
    // The objectives do not change the simulation: same rows apart from slo_met.
    let (_, plain) = run(cfg(config(json!(null))));
    let strip = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| l.rsplit_once(',').map_or(l, |(a, _)| a).to_owned())
            .collect()
    };
    assert_eq!(strip(&csv), strip(&plain));
}

#[test]
fn without_slos_there_is_no_goodput_and_slo_met_is_empty() {
    let mut c = config(json!(null));
    c["workload"]["clients"][0]
        .as_object_mut()
        .unwrap()
        .remove("slo");
    let (s, csv) = run(cfg(c));
    assert!(s.goodput.is_none());
    assert!(!s.to_json().unwrap().contains("goodput"));
    assert!(csv.lines().skip(1).all(|l| l.ends_with(',')));
}

#[test]
fn bad_objectives_name_their_field() {
    for (slo, client_slo, field) in [
        (json!({ "ttft_ms": -1.0 }), json!(null), "slo.ttft_ms"),
        (json!({ "e2e_ms": 0.0 }), json!(null), "slo.e2e_ms"),
        (
            json!(null),
            json!({ "itl_ms": -5.0 }),
            "workload.clients[0].slo.itl_ms",
        ),
    ] {
        let mut c = config(slo);
        c["workload"]["clients"][0]["slo"] = client_slo;
        let err = Simulation::new(cfg(c)).unwrap_err();
        match err {
            SimError::InvalidConfig { field: f, .. } => assert_eq!(f, field),
            other => panic!("{other}"),
        }
    }
}
