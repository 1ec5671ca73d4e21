//! Heterogeneous pools (`cluster.pools`), the `weighted_random` router and disaggregated
//! prefill/decode (`cluster.disaggregation`): closed forms, invariants, determinism, errors.

use crate::{cfg, rows, run};
use perf_sim::{SimConfig, SimError, Simulation};
use serde_json::{Value, json};

const A: f64 = 12.0;
const B: f64 = 0.05;
const G: f64 = 5e-4;

/// ms → ns with the simulator's ceiling.
fn ceil_ns(ms: f64) -> u64 {
    (ms * 1e6).ceil() as u64
}

fn inferno() -> Value {
    json!({ "kind": "inferno", "alpha": A, "beta": B, "gamma": G })
}

/// A disaggregated cluster: `prefill` and `decode` replicas, Inferno costs.
fn disagg(prefill: u32, decode: u32, link: Value, workload: Value) -> Value {
    json!({
        "seed": 9, "max_requests": 1,
        "cluster": {
            "engine": { "max_batch_size": 64, "max_num_batched_tokens": 4096 },
            "cost_model": inferno(),
            "kv_cache": { "num_gpu_blocks": 5000 },
            "pools": [ { "name": "p", "replicas": prefill }, { "name": "d", "replicas": decode } ],
            "disaggregation": { "prefill_pool": "p", "decode_pool": "d", "link": link,
                                "kv_bytes_per_token": 131072.0 }
        },
        "workload": workload
    })
}

fn fixed_client(rate: f64, prompt: u32, output: u32) -> Value {
    json!({ "clients": [ { "arrival": { "kind": "constant", "rate": rate },
        "input": { "kind": "fixed", "value": prompt },
        "output": { "kind": "fixed", "value": output } } ] })
}

#[test]
fn lone_disaggregated_request_is_exact() {
    let (p, o) = (1000u32, 20u32);
    let link = json!({ "latency_ms": 0.5, "bandwidth_gbs": 50.0 });
    let (s, csv) = run(cfg(disagg(1, 1, link, fixed_client(1.0, p, o))));
    let r = &rows(&csv)[0];
    assert_eq!(r.status, "completed");
    // The prefill replica computes the prompt and samples token 1.
    let ttft = ceil_ns(A + (B + G) * f64::from(p));
    assert_eq!(r.first_ns.unwrap() - r.arrival_ns, ttft);
    // 131 072 B/token × 1000 tokens over 50 GB/s = 2 621 440 ns, after 0.5 ms latency.
    let transfer = 500_000 + 2_621_440;
    // The decode replica then decodes tokens 2 … O, as a colocated replica would.
    let decodes: u64 = (1..o).map(|i| ceil_ns(A + B + G * f64::from(p + i))).sum();
    assert_eq!(
        r.done_ns.unwrap() - r.arrival_ns,
        ttft + transfer + decodes,
        "TTFT, then the transfer, then the decode steps"
    );
    assert_eq!(r.output, o);
    // The first gap includes the transfer.
    let first_gap = transfer + ceil_ns(A + B + G * f64::from(p + 1));
    assert_eq!((r.itl_max_ms.unwrap() * 1e6).round() as u64, first_gap);
    let pools = &s.pools;
    assert_eq!(pools.len(), 2);
    assert_eq!(pools[0].role.as_deref(), Some("prefill"));
    assert_eq!(pools[0].requests.handed_off, 1);
    assert_eq!(pools[0].requests.completed, 0);
    assert_eq!(pools[1].requests.routed, 1);
    assert_eq!(pools[1].requests.completed, 1);
    assert_eq!(pools[0].latency.ttft_ms.count, 1);
    assert_eq!(pools[1].latency.tpot_ms.count, 1);
    let t = pools[0]
        .kv_transfers
        .expect("prefill pool reports its transfers");
    assert_eq!(t.transfers, 1);
    approx::assert_relative_eq!(t.bytes, 131_072_000.0);
    approx::assert_relative_eq!(
        t.handoff_ms.mean,
        transfer as f64 * 1e-6,
        max_relative = 1e-12
    );
    // The CSV's replica is the decode replica; the prompt was prefilled once.
    assert_eq!(s.replicas[0].steps, 1);
    assert_eq!(s.replicas[1].steps, u64::from(o - 1));
}

#[test]
fn one_token_outputs_finish_in_the_prefill_pool() {
    let link = json!({ "latency_ms": 1.0, "bandwidth_gbs": 10.0 });
    let mut c = disagg(1, 1, link, fixed_client(2.0, 300, 1));
    c["max_requests"] = json!(5);
    let (s, csv) = run(cfg(c));
    assert!(rows(&csv).iter().all(|r| r.status == "completed"));
    assert_eq!(s.pools[0].requests.completed, 5);
    assert_eq!(s.pools[0].requests.handed_off, 0);
    assert_eq!(s.pools[1].requests.routed, 0);
}

#[test]
fn link_is_a_fifo_server() {
    // Two requests prefilled in one step: the second transfer waits for the first.
    let link = json!({ "latency_ms": 2.0, "bandwidth_gbs": 1.0 });
    let mut c = disagg(1, 1, link, fixed_client(1000.0, 100, 3));
    c["max_requests"] = json!(2);
    c["workload"]["clients"][0]["arrival"] =
        json!({ "kind": "closed_loop", "users": 2, "think_time_s": 10.0 });
    let (s, _) = run(cfg(c));
    let one = 2_000_000.0 + 131_072.0 * 100.0; // ns per transfer
    let h = s.pools[0].kv_transfers.unwrap().handoff_ms;
    assert_eq!(h.count, 2);
    approx::assert_relative_eq!(h.min, one * 1e-6, max_relative = 1e-9);
    approx::assert_relative_eq!(h.max, 2.0 * one * 1e-6, max_relative = 1e-9);
}

/// A loaded disaggregated cluster with small decode KV, tight queues and a cut-off.
fn loaded(seed: u64, decode_blocks: u64, cut: Option<f64>) -> Value {
    let mut c = json!({
        "seed": seed, "max_requests": 1500,
        "slo": { "ttft_ms": 2000.0, "tpot_ms": 60.0 },
        "cluster": {
            "router": "least_outstanding_requests",
            "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" },
            "pools": [
                { "name": "prefill", "replicas": 2,
                  "engine": { "max_batch_size": 16, "max_num_batched_tokens": 4096 } },
                { "name": "decode", "replicas": 2,
                  "engine": { "max_batch_size": 128, "max_num_batched_tokens": 512, "max_queue_size": 400 },
                  "kv_cache": { "num_gpu_blocks": decode_blocks },
                  "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "A100-80GB" } }
            ],
            "disaggregation": { "prefill_pool": "prefill", "decode_pool": "decode",
                                "link": { "latency_ms": 0.2, "bandwidth_gbs": 25.0 } }
        },
        "workload": { "clients": [
            { "arrival": { "kind": "gamma", "rate": 25.0, "cv": 2.0 },
              "input": { "kind": "lognormal", "mean": 1500, "std": 900, "max": 6000 },
              "output": { "kind": "lognormal", "mean": 120, "std": 100 } },
            { "arrival": { "kind": "poisson", "rate": 5.0 },
              "input": { "kind": "fixed", "value": 50 },
              "output": { "kind": "fixed", "value": 1 } } ] }
    });
    if let Some(t) = cut {
        c["max_simulation_time_s"] = json!(t);
    }
    c
}

#[test]
fn disaggregation_conserves_requests_and_respects_kv() {
    for (seed, blocks, cut) in [(1, 3000, None), (2, 800, None), (3, 800, Some(20.0))] {
        let config = cfg(loaded(seed, blocks, cut));
        let (s, csv) = run(config.clone());
        let c = s.requests;
        assert_eq!(c.arrived, if cut.is_none() { 1500 } else { 617 });
        assert_eq!(
            c.arrived,
            c.completed + c.rejected + c.dropped + c.unfinished
        );
        assert_eq!(rows(&csv).len() as u64, c.arrived);
        let (p, d) = (&s.pools[0], &s.pools[1]);
        assert_eq!(p.requests.completed + d.requests.completed, c.completed);
        assert_eq!(
            p.requests.rejected + d.requests.rejected,
            c.rejected,
            "every rejection is a pool's (none is too long for every pool)"
        );
        assert_eq!(p.requests.dropped + d.requests.dropped, c.dropped);
        assert_eq!(p.requests.unfinished + d.requests.unfinished, c.unfinished);
        // Every hand-off reached a decode replica or was dropped there (or is still on the
        // link or in the decode pool at a cut-off).
        assert_eq!(
            p.requests.routed,
            p.requests.completed + p.requests.handed_off + p.requests.unfinished
                - in_flight_on_link(&s)
        );
        assert!(d.requests.routed + d.requests.dropped <= p.requests.handed_off);
        if cut.is_none() {
            assert_eq!(
                d.requests.routed + d.requests.dropped,
                p.requests.handed_off
            );
            assert_eq!(c.unfinished, 0);
        }
        for r in &s.replicas {
            assert!(r.kv_blocks_max <= r.kv_blocks_total);
        }
        assert_eq!(s.replicas[2].kv_blocks_total, blocks);
        // The global ITL is the pools' (all from the decode pool).
        assert_eq!(s.latency.itl_ms.count, d.latency.itl_ms.count);
        assert_eq!(p.latency.itl_ms.count, 0);
        assert_eq!(
            s.latency.ttft_ms.count,
            p.latency.ttft_ms.count + d.latency.ttft_ms.count
        );
        // Same seed, same bytes.
        let (s2, csv2) = run(config);
        assert_eq!(csv, csv2);
        assert_eq!(s.to_json().unwrap(), s2.to_json().unwrap());
    }
}

/// Requests prefilled whose KV was still on the link when the run stopped.
fn in_flight_on_link(s: &perf_sim::Summary) -> u64 {
    let p = &s.pools[0];
    let d = &s.pools[1];
    // handed off = routed to decode + dropped there + still on the link.
    p.requests.handed_off - d.requests.routed - d.requests.dropped
}

#[test]
fn one_declared_pool_is_the_plain_cluster() {
    let plain = loaded(4, 2000, None);
    let mut plain = plain.clone();
    plain["cluster"] = json!({
        "replicas": 3, "router": "random",
        "engine": { "max_batch_size": 64, "max_num_batched_tokens": 2048, "max_queue_size": 50 },
        "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" },
        "kv_cache": { "num_gpu_blocks": 3000 },
        "overheads": { "per_step_ms": 0.4, "post_completion_ms": 1.0, "frontend_us_per_token": 3.0 }
    });
    let mut pooled = plain.clone();
    pooled["cluster"] = json!({
        "router": "random",
        "cost_model": { "kind": "inferno", "alpha": 1.0, "beta": 0.0, "gamma": 0.0 },
        "pools": [ { "name": "only", "replicas": 3,
            "engine": { "max_batch_size": 64, "max_num_batched_tokens": 2048, "max_queue_size": 50 },
            "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" },
            "kv_cache": { "num_gpu_blocks": 3000 },
            "overheads": { "per_step_ms": 0.4, "post_completion_ms": 1.0, "frontend_us_per_token": 3.0 } } ]
    });
    let (a, csv_a) = run(cfg(plain));
    let (b, csv_b) = run(cfg(pooled));
    assert_eq!(csv_a, csv_b);
    assert_eq!(a.to_json().unwrap(), b.to_json().unwrap());
    assert!(b.pools.is_empty(), "one pool: no pool section");
}

fn two_pools(router: &str, w0: Option<f64>, w1: Option<f64>) -> Value {
    json!({
        "seed": 21, "max_requests": 4000,
        "cluster": {
            "router": router,
            "cost_model": inferno(),
            "kv_cache": { "num_gpu_blocks": 20000 },
            "pools": [
                { "name": "big", "replicas": 3, "weight": w0,
                  "engine": { "max_batch_size": 128, "max_model_len": 8192 } },
                { "name": "small", "replicas": 1, "weight": w1,
                  "engine": { "kind": "sglang", "max_running_requests": 32, "max_model_len": 1024 },
                  "cost_model": { "kind": "inferno", "alpha": 6.0, "beta": 0.03, "gamma": 3e-4 },
                  "kv_cache": { "num_gpu_blocks": 3000 } }
            ]
        },
        "slo": { "ttft_ms": 1000.0 },
        "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 20.0 },
            "input": { "kind": "uniform", "low": 100, "high": 1500 },
            "output": { "kind": "uniform", "low": 1, "high": 200 } } ] }
    })
}

fn strip_nulls(mut v: Value) -> Value {
    for p in v["cluster"]["pools"].as_array_mut().unwrap() {
        p.as_object_mut().unwrap().retain(|_, x| !x.is_null());
    }
    v
}

#[test]
fn heterogeneous_pools_reject_by_the_replica_reached() {
    let (s, csv) = run(cfg(strip_nulls(two_pools("round_robin", None, None))));
    let c = s.requests;
    assert_eq!(
        c.arrived,
        c.completed + c.rejected + c.dropped + c.unfinished
    );
    let (big, small) = (&s.pools[0], &s.pools[1]);
    assert_eq!((big.name.as_str(), big.engine.as_str()), ("big", "vllm_v1"));
    assert_eq!(
        (small.name.as_str(), small.engine.as_str()),
        ("small", "sglang")
    );
    assert_eq!((big.replicas, small.first_replica), (3, 3));
    assert_eq!(small.kv_blocks_per_replica, 3000);
    assert_eq!(
        big.requests.rejected, 0,
        "the big pool serves every request"
    );
    // Only the small pool rejects, and only prompts + outputs above its 1024 tokens.
    assert!(small.requests.rejected > 0);
    assert_eq!(small.requests.rejected, c.rejected);
    let rs = rows(&csv);
    for r in rs.iter().filter(|r| r.status == "rejected") {
        assert!(r.prompt + r.target > 1024, "{} + {}", r.prompt, r.target);
    }
    assert_eq!(
        big.requests.completed + small.requests.completed,
        c.completed
    );
    // Round robin over 4 replicas: the small pool gets a quarter of the routing decisions.
    let small_share = small.requests.routed + small.requests.rejected;
    assert!((small_share as f64 / c.arrived as f64 - 0.25).abs() < 0.01);
    // Per-pool goodput adds up to the whole.
    let g = s.goodput.unwrap();
    assert_eq!(big.goodput.unwrap().met + small.goodput.unwrap().met, g.met);
    assert_eq!(
        big.goodput.unwrap().measured + small.goodput.unwrap().measured,
        g.measured
    );
    approx::assert_relative_eq!(
        big.throughput.requests_per_second + small.throughput.requests_per_second,
        s.throughput.requests_per_second,
        max_relative = 1e-12
    );
    assert_eq!(
        big.latency.itl_ms.count + small.latency.itl_ms.count,
        s.latency.itl_ms.count
    );
}

#[test]
fn weighted_random_follows_pool_weights() {
    let (s, _) = run(cfg(strip_nulls(two_pools(
        "weighted_random",
        Some(1.0),
        Some(3.0),
    ))));
    let (big, small) = (&s.pools[0], &s.pools[1]);
    let to_small = (small.requests.routed + small.requests.rejected) as f64;
    let share = to_small / s.requests.arrived as f64;
    assert!((share - 0.75).abs() < 0.03, "small pool share {share}");
    // Within the big pool the weight is split evenly over its three replicas.
    for r in &s.replicas[..3] {
        let f = r.routed as f64 / big.requests.routed as f64;
        assert!((f - 1.0 / 3.0).abs() < 0.05, "{f}");
    }
    // A pool of weight 0 gets nothing.
    let (s, _) = run(cfg(strip_nulls(two_pools(
        "weighted_random",
        Some(1.0),
        Some(0.0),
    ))));
    assert_eq!(s.pools[1].requests.routed + s.pools[1].requests.rejected, 0);
    // Without pools, weighted_random is uniform over the replicas, and deterministic.
    let mut plain = two_pools("weighted_random", None, None);
    plain["cluster"] = json!({ "replicas": 4, "router": "weighted_random",
        "cost_model": inferno(), "kv_cache": { "num_gpu_blocks": 20000 } });
    let (a, csv_a) = run(cfg(plain.clone()));
    for r in &a.replicas {
        assert!((r.routed as f64 / 4000.0 - 0.25).abs() < 0.03);
    }
    let (_, csv_b) = run(cfg(plain));
    assert_eq!(csv_a, csv_b);
}

#[test]
fn requests_no_pool_can_serve_are_rejected_on_arrival() {
    let mut c = strip_nulls(two_pools("round_robin", None, None));
    c["workload"]["clients"][0]["input"] = json!({ "kind": "fixed", "value": 9000 });
    c["workload"]["clients"][0]["output"] = json!({ "kind": "fixed", "value": 10 });
    c["cluster"]["pools"][0]["engine"]["max_model_len"] = json!(9000);
    c["max_requests"] = json!(20);
    let (s, csv) = run(cfg(c));
    assert_eq!(s.requests.rejected, 20);
    // Not routed: no pool counts them.
    assert_eq!(
        s.pools[0].requests.rejected + s.pools[1].requests.rejected,
        0
    );
    assert!(rows(&csv).iter().all(|r| r.status == "rejected"));
}

fn err(v: Value) -> String {
    let c: SimConfig = match serde_json::from_value(v) {
        Ok(c) => c,
        Err(e) => return e.to_string(),
    };
    match Simulation::new(c) {
        Ok(_) => panic!("expected an error"),
        Err(e) => {
            assert!(matches!(e, SimError::InvalidConfig { .. }), "{e:?}");
            e.to_string()
        }
    }
}

#[test]
fn bad_pools_and_disaggregation_name_their_field() {
    let link = json!({ "latency_ms": 0.1, "bandwidth_gbs": 10.0 });
    let base = disagg(1, 1, link, fixed_client(1.0, 100, 10));
    let with = |path: &[&str], v: Value| {
        let mut c = base.clone();
        let mut at = &mut c;
        for p in &path[..path.len() - 1] {
            at = match p.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[*p],
            };
        }
        at[path[path.len() - 1]] = v;
        c
    };
    let cases = [
        (
            with(&["cluster", "disaggregation", "decode_pool"], json!("nope")),
            "cluster.disaggregation.decode_pool = nope",
        ),
        (
            with(&["cluster", "disaggregation", "prefill_pool"], json!("d")),
            "cluster.disaggregation.decode_pool = d: must differ",
        ),
        (
            with(
                &["cluster", "disaggregation", "link", "bandwidth_gbs"],
                json!(0.0),
            ),
            "cluster.disaggregation.link.bandwidth_gbs = 0",
        ),
        (
            with(
                &["cluster", "disaggregation", "link", "latency_ms"],
                json!(-1.0),
            ),
            "cluster.disaggregation.link.latency_ms = -1",
        ),
        (
            with(
                &["cluster", "disaggregation", "kv_bytes_per_token"],
                Value::Null,
            ),
            "cluster.disaggregation.kv_bytes_per_token = null",
        ),
        (
            with(&["cluster", "pools", "1", "name"], json!("p")),
            "cluster.pools[1].name = p",
        ),
        (
            with(&["cluster", "pools", "1", "replicas"], json!(0)),
            "cluster.pools[1].replicas = 0",
        ),
        (
            with(&["cluster", "pools", "0", "weight"], json!(-2.0)),
            "cluster.pools[0].weight = -2",
        ),
        (
            with(&["cluster", "replicas"], json!(5)),
            "cluster.replicas = 5",
        ),
        (
            with(
                &["cluster", "pools", "1", "engine"],
                json!({ "kind": "sglang" }),
            ),
            "cluster.disaggregation.decode_pool = d: its engine, sglang, cannot decode",
        ),
        (
            with(
                &["cluster", "pools", "1", "overheads"],
                json!({ "pre_schedule_ms": 3.0 }),
            ),
            "cluster.pools[1].overheads.pre_schedule_ms = 3",
        ),
        (
            with(
                &["cluster", "pools", "1", "cost_model"],
                json!({ "kind": "inferno", "alpha": -1.0, "beta": 0.0, "gamma": 0.0 }),
            ),
            "cluster.pools[1].cost_model.alpha = -1",
        ),
        (
            with(
                &["cluster", "pools", "0", "kv_cache"],
                json!({ "num_gpu_blocks": 3 }),
            ),
            "cluster.pools[0].kv_cache.num_gpu_blocks = 3",
        ),
        (
            with(
                &["cluster", "pools", "0", "cost_model"],
                json!({ "kind": "roofline", "model": "No-Such", "accelerator": "H100" }),
            ),
            "cluster.pools[0] = ",
        ),
    ];
    for (c, want) in cases {
        let e = err(c);
        assert!(e.contains(want), "want `{want}` in `{e}`");
    }
    // A third pool, and disaggregation without pools.
    let mut c = base.clone();
    c["cluster"]["pools"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "x" }));
    assert!(err(c).contains("cluster.pools = x: with disaggregation every pool"));
    let mut c = base.clone();
    c["cluster"].as_object_mut().unwrap().remove("pools");
    assert!(
        err(c).contains(
            "cluster.disaggregation.prefill_pool = p: disaggregation needs cluster.pools"
        )
    );
    // weighted_random with every weight 0.
    let c = strip_nulls(two_pools("weighted_random", Some(0.0), Some(0.0)));
    assert!(err(c).contains("weighted_random needs a pool with a weight > 0"));
    // An unknown key in a pool.
    let mut c = base;
    c["cluster"]["pools"][0]["replica"] = json!(2);
    assert!(err(c).contains("unknown field `replica`"));
}

#[test]
fn roofline_disaggregation_derives_kv_bytes_from_the_model() {
    let mut c = loaded(5, 3000, None);
    c["max_requests"] = json!(50);
    let (s, _) = run(cfg(c));
    let t = s.pools[0].kv_transfers.unwrap();
    // Llama-3.1-8B: 2 · 32 layers · 8 KV heads · 128 · 2 bytes.
    approx::assert_relative_eq!(t.kv_bytes_per_token, 131_072.0);
    assert!(t.transfers > 0);
    assert_eq!(s.requests.completed, 50);
}

#[test]
fn every_builtin_engine_can_prefill_for_a_vllm_v1_decode_pool() {
    for engine in [
        json!({ "kind": "vllm_v1" }),
        json!({ "kind": "vllm_v0" }),
        json!({ "kind": "vllm_v0", "enable_chunked_prefill": true }),
        json!({ "kind": "sarathi" }),
        json!({ "kind": "orca" }),
        json!({ "kind": "static" }),
        json!({ "kind": "sglang" }),
        json!({ "kind": "trtllm" }),
        json!({ "kind": "trtllm", "capacity_scheduler_policy": "max_utilization" }),
    ] {
        let mut c = loaded(6, 1500, None);
        c["max_requests"] = json!(600);
        c["cluster"]["pools"][0]["engine"] = engine.clone();
        c["cluster"]["pools"][0]["kv_cache"] = json!({ "num_gpu_blocks": 2000 });
        let config = cfg(c);
        let (s, csv) = run(config.clone());
        let n = s.requests;
        assert_eq!(n.arrived, 600, "{engine}");
        assert_eq!(n.arrived, n.completed + n.rejected + n.dropped, "{engine}");
        assert_eq!(n.unfinished, 0, "{engine}");
        assert_eq!(s.pools[0].engine, engine["kind"].as_str().unwrap());
        let (p, d) = (&s.pools[0], &s.pools[1]);
        assert_eq!(
            d.requests.routed + d.requests.dropped,
            p.requests.handed_off
        );
        assert_eq!(p.requests.completed + d.requests.completed, n.completed);
        for r in &s.replicas {
            assert!(r.kv_blocks_max <= r.kv_blocks_total, "{engine}");
        }
        // Prefill replicas never decode: one step per prefill chunk, no ITL.
        assert_eq!(p.latency.itl_ms.count, 0, "{engine}");
        let (_, csv2) = run(config);
        assert_eq!(csv, csv2, "{engine}");
    }
}
