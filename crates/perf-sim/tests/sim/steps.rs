//! `steps.csv` (specs/simulator.md §7.3): one row per engine step, consistent with the limits
//! and with the summary's per-replica figures.

use perf_sim::Simulation;
use serde_json::json;

use crate::cfg;

#[test]
fn steps_csv_respects_the_limits_and_adds_up_to_the_summary() {
    let config = cfg(json!({
        "seed": 4, "max_requests": 1200,
        "cluster": { "replicas": 2, "router": "least_kv_usage",
            "engine": { "max_batch_size": 32, "max_num_batched_tokens": 1024 },
            "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" },
            "kv_cache": { "num_gpu_blocks": 700 } },
        "workload": { "clients": [ { "arrival": { "kind": "gamma", "rate": 30.0, "cv": 2.0 },
            "input": { "kind": "lognormal", "mean": 700, "std": 400 },
            "output": { "kind": "lognormal", "mean": 150, "std": 100 } } ] }
    }));
    let sim = Simulation::new(config).unwrap();
    let (mut csv, mut steps) = (Vec::new(), Vec::new());
    let s = sim.run_with_steps(&mut csv, &mut steps).unwrap();
    // The per-request output is the same as without steps.
    let mut plain = Vec::new();
    let s2 = sim.run(&mut plain).unwrap();
    assert_eq!(csv, plain);
    assert_eq!(s.to_json().unwrap(), s2.to_json().unwrap());

    let text = String::from_utf8(steps).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "replica_id,step,start,end,prefill_seqs,prefill_tokens,decode_seqs,\
         decode_context_sum,kv_blocks_used,waiting,running,preempted"
    );
    let secs = |v: &str| v.parse::<f64>().unwrap();
    let mut per = [(0u64, 0u64, 0.0f64, 0u64, -1.0f64, 0.0f64); 2];
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        let r: usize = f[0].parse().unwrap();
        let (start, end) = (secs(f[2]), secs(f[3]));
        let n = |i: usize| f[i].parse::<u64>().unwrap();
        let (pseqs, ptok, dseqs, kv, running, pre) = (n(4), n(5), n(6), n(8), n(10), n(11));
        assert!(ptok + dseqs <= 1024, "{l}");
        assert!(pseqs + dseqs <= 32 && running <= 32, "{l}");
        assert!(kv <= 700, "{l}");
        assert!(end > start, "{l}");
        let p = &mut per[r];
        assert_eq!(n(1), p.0, "steps numbered from 0 per replica: {l}");
        assert!(start >= p.4 - 1e-12, "steps do not overlap: {l}");
        p.0 += 1;
        p.1 += pseqs + dseqs;
        p.2 += kv as f64 * (end - start);
        p.3 += pre;
        p.4 = end;
        p.5 += end - start;
    }
    for (i, r) in s.replicas.iter().enumerate() {
        let p = per[i];
        assert_eq!(p.0, r.steps);
        assert!((p.1 as f64 / p.0 as f64 - r.mean_batch_size).abs() < 1e-9);
        assert_eq!(p.3, r.preemptions);
        // Time-weighted KV use and busy time, up to the 1 ns rounding of printed times.
        let kv_mean = p.2 / (r.kv_blocks_total as f64 * s.simulated_time_s);
        assert!((kv_mean / r.kv_usage_mean - 1.0).abs() < 1e-6, "{kv_mean}");
        assert!((p.5 / s.simulated_time_s / r.busy_fraction - 1.0).abs() < 1e-6);
    }
    assert!(s.preemptions > 0, "the small cache preempts");
}

#[test]
fn a_step_cut_by_the_time_limit_still_has_its_row() {
    let config = cfg(json!({
        "seed": 4, "max_requests": 3000, "max_simulation_time_s": 40.0,
        "cluster": { "replicas": 2, "router": "least_kv_usage",
            "engine": { "max_batch_size": 32, "max_num_batched_tokens": 1024 },
            "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" },
            "kv_cache": { "num_gpu_blocks": 700 } },
        "workload": { "clients": [ { "arrival": { "kind": "gamma", "rate": 30.0, "cv": 2.0 },
            "input": { "kind": "lognormal", "mean": 700, "std": 400 },
            "output": { "kind": "lognormal", "mean": 150, "std": 100 } } ] }
    }));
    let mut steps = Vec::new();
    let s = Simulation::new(config)
        .unwrap()
        .run_with_steps(std::io::sink(), &mut steps)
        .unwrap();
    assert!(s.requests.unfinished > 0, "the run is cut");
    let text = String::from_utf8(steps).unwrap();
    let mut rows = [0u64; 2];
    let mut preempted = [0u64; 2];
    let mut last_end = 0.0f64;
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let r: usize = f[0].parse().unwrap();
        rows[r] += 1;
        preempted[r] += f[11].parse::<u64>().unwrap();
        let (start, end) = (f[2].parse::<f64>().unwrap(), f[3].parse::<f64>().unwrap());
        assert!(end >= start && end <= 40.0 + 1e-9, "{l}");
        last_end = last_end.max(end);
    }
    for (i, r) in s.replicas.iter().enumerate() {
        assert_eq!(rows[i], r.steps);
        assert_eq!(preempted[i], r.preemptions);
    }
    assert!((last_end - 40.0).abs() < 1e-9, "{last_end}");
}
