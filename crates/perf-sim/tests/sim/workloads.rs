//! Rate stages, trace replay, closed-loop clients and engine overheads.

use perf_model_core::{RequestRecord, RequestRecordData};
use perf_sim::{ArrivalConfig, SimError, Simulation};
use serde_json::json;

use crate::{cfg, rows, run};

fn cluster() -> serde_json::Value {
    json!({ "cost_model": { "kind": "inferno", "alpha": 2.0, "beta": 0.01, "gamma": 0.0 },
            "kv_cache": { "num_gpu_blocks": 4096 } })
}

#[test]
fn stages_follow_their_rates_and_end() {
    // 200 s at 2 req/s, 100 s idle, 100 s at 10 req/s: ≈ 400 + 0 + 1000 arrivals, then none.
    let c = cfg(json!({
        "seed": 3, "cluster": cluster(),
        "workload": { "clients": [ { "arrival": { "kind": "stages", "stages": [
            { "rate": 2.0, "duration_s": 200.0 }, { "rate": 0.0, "duration_s": 100.0 },
            { "rate": 10.0, "duration_s": 100.0 } ] },
          "input": { "kind": "fixed", "value": 16 }, "output": { "kind": "fixed", "value": 4 } } ] }
    }));
    let (s, csv) = run(c);
    let r = rows(&csv);
    let count = |lo: f64, hi: f64| {
        r.iter()
            .filter(|x| {
                let t = x.arrival_ns as f64 * 1e-9;
                t >= lo && t < hi
            })
            .count() as f64
    };
    assert_eq!(s.requests.arrived as usize, r.len());
    assert!(
        (count(0.0, 200.0) / 400.0 - 1.0).abs() < 0.15,
        "{}",
        count(0.0, 200.0)
    );
    assert!(count(200.0, 300.0) < 0.5);
    assert!(
        (count(300.0, 400.0) / 1000.0 - 1.0).abs() < 0.1,
        "{}",
        count(300.0, 400.0)
    );
    assert!(count(400.0, f64::INFINITY) < 0.5);
    assert_eq!(s.requests.completed, s.requests.arrived);
}

#[test]
fn constant_stages_are_exact() {
    let c = cfg(json!({
        "cluster": cluster(),
        "workload": { "clients": [ { "arrival": { "kind": "stages", "cv": 0.0, "stages": [
            { "rate": 1.0, "duration_s": 10.0 }, { "rate": 4.0, "duration_s": 1.0 } ] },
          "input": { "kind": "fixed", "value": 8 }, "output": { "kind": "fixed", "value": 2 } } ] }
    }));
    let (s, _) = run(c);
    // Arrivals at 1..=10 s, then 10.25, 10.5, 10.75, 11.0.
    assert_eq!(s.requests.arrived, 14);
}

fn records() -> Vec<RequestRecord> {
    [
        (0.0, 100, 5),
        (1000.0, 50, 3),
        (500.0, 20, 2),
        (3000.0, 10, 1),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(a, p, o))| {
        RequestRecord::new(RequestRecordData {
            id: i as u64,
            arrival_ms: a,
            input_tokens: p,
            output_tokens: o,
            ..Default::default()
        })
        .unwrap()
    })
    .collect()
}

fn trace_config(arrival: ArrivalConfig) -> perf_sim::SimConfig {
    let mut c = cfg(json!({
        "cluster": cluster(),
        "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 1.0 } } ] }
    }));
    c.workload.clients[0].arrival = arrival;
    c
}

#[test]
fn trace_replays_times_and_lengths_in_order() {
    let (s, csv) = run(trace_config(ArrivalConfig::trace(&records())));
    let r = rows(&csv);
    assert_eq!(s.requests.arrived, 4);
    assert_eq!(s.requests.completed, 4);
    let mut got: Vec<(u64, u32, u32)> = r
        .iter()
        .map(|x| (x.arrival_ns, x.prompt, x.target))
        .collect();
    got.sort_unstable();
    assert_eq!(
        got,
        vec![
            (0, 100, 5),
            (500_000_000, 20, 2),
            (1_000_000_000, 50, 3),
            (3_000_000_000, 10, 1)
        ]
    );
}

#[test]
fn trace_time_scale_target_rate_and_window() {
    let ArrivalConfig::Trace { requests, .. } = ArrivalConfig::trace(&records()) else {
        unreachable!()
    };
    let with = |time_scale, target_rate, start_s, end_s| {
        let (_, csv) = run(trace_config(ArrivalConfig::Trace {
            requests: requests.clone(),
            time_scale,
            target_rate,
            start_s,
            end_s,
        }));
        let mut t: Vec<u64> = rows(&csv).iter().map(|x| x.arrival_ns).collect();
        t.sort_unstable();
        t
    };
    assert_eq!(
        with(Some(2.0), None, None, None),
        vec![0, 1_000_000_000, 2_000_000_000, 6_000_000_000]
    );
    // 3 gaps over 3 s is 1 req/s; target 3 req/s compresses by 3.
    assert_eq!(
        with(None, Some(3.0), None, None),
        vec![0, 166_666_667, 333_333_333, 1_000_000_000]
    );
    // Window [0.5 s, 3 s) keeps two requests, shifted to start at 0.
    assert_eq!(with(None, None, Some(0.5), Some(3.0)), vec![0, 500_000_000]);
}

#[test]
fn trace_rejects_length_distributions() {
    let mut c = trace_config(ArrivalConfig::trace(&records()));
    c.workload.clients[0].input = Some(perf_sim::LengthDist::Fixed { value: 3 });
    match Simulation::new(c).unwrap_err() {
        SimError::InvalidConfig { field, .. } => assert_eq!(field, "workload.clients[0].input"),
        e => panic!("{e}"),
    }
}

#[test]
fn closed_loop_keeps_at_most_users_in_flight() {
    let users = 4;
    let c = cfg(json!({
        "seed": 9, "max_requests": 400, "cluster": cluster(),
        "workload": { "clients": [ { "arrival": { "kind": "closed_loop", "users": users,
              "think_time_s": 0.05 },
          "input": { "kind": "uniform", "low": 8, "high": 64 },
          "output": { "kind": "uniform", "low": 2, "high": 20 } } ] }
    }));
    let (s, csv) = run(c);
    assert_eq!(s.requests.completed, 400);
    let r = rows(&csv);
    // Sweep arrivals (+1) and completions (−1): never more than `users` outstanding.
    let mut ev: Vec<(u64, i32)> = r
        .iter()
        .flat_map(|x| [(x.arrival_ns, 1), (x.done_ns.unwrap(), -1)])
        .collect();
    ev.sort_unstable_by_key(|&(t, d)| (t, d));
    let mut live = 0;
    for (_, d) in ev {
        live += d;
        assert!(live <= users, "{live} in flight");
    }
    // The first `users` requests all arrive at 0.
    assert_eq!(
        r.iter().filter(|x| x.arrival_ns == 0).count(),
        users as usize
    );
}

#[test]
fn closed_loop_fixed_think_time_spaces_requests() {
    // One user, fixed 1 s think, step cost 2 ms + 0.01 ms/token: each request starts 1 s after
    // the previous completes.
    let c = cfg(json!({
        "max_requests": 5, "cluster": cluster(),
        "workload": { "clients": [ { "arrival": { "kind": "closed_loop", "users": 1,
              "think_time_s": 1.0, "think": "fixed" },
          "input": { "kind": "fixed", "value": 10 }, "output": { "kind": "fixed", "value": 3 } } ] }
    }));
    let (_, csv) = run(c);
    let r = rows(&csv);
    for w in r.windows(2) {
        assert_eq!(w[1].arrival_ns, w[0].done_ns.unwrap() + 1_000_000_000);
    }
}

#[test]
fn closed_loop_without_think_time_needs_max_requests() {
    let c = cfg(json!({
        "horizon_s": 10.0, "cluster": cluster(),
        "workload": { "clients": [ { "arrival": { "kind": "closed_loop", "users": 2,
              "think_time_s": 0.0 },
          "input": { "kind": "fixed", "value": 10 }, "output": { "kind": "fixed", "value": 3 } } ] }
    }));
    assert!(matches!(
        Simulation::new(c).unwrap_err(),
        SimError::InvalidConfig { field, .. } if field == "workload.clients[0].arrival.think_time_s"
    ));
}

#[test]
fn overheads_shift_ttft_and_e2e() {
    let base = json!({
        "seed": 1, "max_requests": 200,
        "cluster": { "cost_model": { "kind": "inferno", "alpha": 2.0, "beta": 0.01, "gamma": 0.0 },
                     "kv_cache": { "num_gpu_blocks": 4096 } },
        "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 0.5 },
          "input": { "kind": "fixed", "value": 100 }, "output": { "kind": "fixed", "value": 11 } } ] }
    });
    let (a, _) = run(cfg(base.clone()));
    let mut v = base;
    v["cluster"]["overheads"] = json!({ "pre_schedule_ms": 10.0, "pre_schedule_us_per_token": 50.0,
        "per_step_ms": 1.0, "per_output_token_us": 1000.0, "post_completion_ms": 3.0 });
    let (b, csv) = run(cfg(v));
    // At 0.5 req/s requests almost never overlap: TTFT grows by 10 + 5 ms pre-schedule plus
    // 2 ms on the prefill step; each of the 10 decode steps by 2 ms; E2E also by 3 ms.
    let d_ttft = b.latency.ttft_ms.mean - a.latency.ttft_ms.mean;
    let d_e2e = b.latency.e2e_ms.mean - a.latency.e2e_ms.mean;
    assert!((d_ttft - 17.0).abs() < 0.5, "{d_ttft}");
    assert!((d_e2e - (17.0 + 20.0 + 3.0)).abs() < 1.0, "{d_e2e}");
    let r = rows(&csv);
    assert!(r.iter().all(|x| x.done_ns.unwrap() > x.first_ns.unwrap()));
}

#[test]
fn the_front_end_streams_each_step_after_its_backlog() {
    // Inferno steps of exactly α + β·tokens: α 10 ms, β 0 (γ 0), so every step takes 10 ms.
    let base = json!({
        "seed": 1,
        "cluster": { "cost_model": { "kind": "inferno", "alpha": 10.0, "beta": 0.0, "gamma": 0.0 },
                     "engine": { "max_batch_size": 64, "max_num_batched_tokens": 4096 },
                     "kv_cache": { "num_gpu_blocks": 4096 } },
        "workload": { "clients": [ { "arrival": { "kind": "trace", "requests":
            vec![json!({ "arrival_ms": 0.0, "input_tokens": 16, "output_tokens": 5 }); 40] } } ] }
    });
    let (a, _) = run(cfg(base.clone()));
    // 40 requests at t = 0 prefill together in step 1 (first token at 10 ms) and finish in
    // step 5 (50 ms): no front end, TTFT 10 ms and E2E 50 ms for all.
    assert!(
        (a.latency.ttft_ms.mean - 10.0).abs() < 1e-3,
        "{}",
        a.latency.ttft_ms.mean
    );
    assert!(
        (a.latency.e2e_ms.mean - 50.0).abs() < 1e-3,
        "{}",
        a.latency.e2e_ms.mean
    );
    // 100 µs per token: each step's 40 tokens take 4 ms of front-end time, less than a step,
    // so there is no backlog and every token is seen c·(S + 1)/2 = 2.05 ms after its step.
    let mut v = base.clone();
    v["cluster"]["overheads"] = json!({ "frontend_us_per_token": 100.0 });
    let (b, csv) = run(cfg(v));
    assert!(
        (b.latency.ttft_ms.mean - 12.05).abs() < 1e-3,
        "{}",
        b.latency.ttft_ms.mean
    );
    assert!(
        (b.latency.e2e_ms.mean - 52.05).abs() < 1e-3,
        "{}",
        b.latency.e2e_ms.mean
    );
    // The engine is not slowed: the same steps, the same ITL.
    assert_eq!(a.latency.itl_ms, b.latency.itl_ms);
    assert!(
        rows(&csv)
            .iter()
            .all(|x| x.done_ns.unwrap() > x.first_ns.unwrap())
    );
    // 400 µs per token: 16 ms of work per 10 ms step, so the backlog grows by 6 ms a step.
    // Step k (k = 1…5) ends at 10k ms and its tokens start streaming at 10 + 16(k − 1) ms;
    // the first tokens (step 1) are seen at 10 + 0.4·41/2 = 18.2 ms and the last (step 5) at
    // 10 + 64 + 8.2 = 82.2 ms.
    let mut v = base;
    v["cluster"]["overheads"] = json!({ "frontend_us_per_token": 400.0 });
    let (c, _) = run(cfg(v));
    assert!(
        (c.latency.ttft_ms.mean - 18.2).abs() < 1e-3,
        "{}",
        c.latency.ttft_ms.mean
    );
    assert!(
        (c.latency.e2e_ms.mean - 82.2).abs() < 1e-3,
        "{}",
        c.latency.e2e_ms.mean
    );
}

#[test]
fn a_request_arriving_into_a_busy_front_end_waits_for_its_backlog() {
    // As above (10 ms steps, 40 requests at 0, 400 µs per token), plus one request at 12 ms.
    let mut reqs = vec![json!({ "arrival_ms": 0.0, "input_tokens": 16, "output_tokens": 5 }); 40];
    reqs.push(json!({ "arrival_ms": 12.0, "input_tokens": 16, "output_tokens": 5 }));
    let v = json!({
        "seed": 1,
        "cluster": { "cost_model": { "kind": "inferno", "alpha": 10.0, "beta": 0.0, "gamma": 0.0 },
                     "engine": { "max_batch_size": 64, "max_num_batched_tokens": 4096 },
                     "kv_cache": { "num_gpu_blocks": 4096 },
                     "overheads": { "frontend_us_per_token": 400.0 } },
        "workload": { "clients": [ { "arrival": { "kind": "trace", "requests": reqs } } ] }
    });
    let (_, csv) = run(cfg(v));
    let late = rows(&csv)
        .into_iter()
        .find(|r| r.arrival_ns == 12_000_000)
        .expect("the late request");
    // Step 1's 40 tokens keep the front end busy until 10 + 16 = 26 ms, so the request joins
    // the queue at 26 ms, prefills in the step of 30–40 ms, and its token waits for steps 2
    // and 3 (front end free at 58 ms) then half of step 4's 41 tokens: 58 + 8.4 = 66.4 ms.
    #[allow(clippy::cast_precision_loss)]
    let ttft_ms = (late.first_ns.unwrap() - late.arrival_ns) as f64 / 1e6;
    assert!((ttft_ms - 54.4).abs() < 1e-3, "{ttft_ms}");
}

#[test]
fn negative_overhead_is_an_error() {
    let mut c = cfg(json!({
        "max_requests": 1, "cluster": cluster(),
        "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 1.0 },
          "input": { "kind": "fixed", "value": 8 }, "output": { "kind": "fixed", "value": 2 } } ] }
    }));
    c.cluster.overheads.per_step_ms = -1.0;
    assert!(matches!(
        Simulation::new(c).unwrap_err(),
        SimError::InvalidConfig { field, .. } if field == "cluster.overheads.per_step_ms"
    ));
}
