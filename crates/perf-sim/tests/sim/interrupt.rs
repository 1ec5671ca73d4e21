//! `RunOptions::cancel`: a run stopped early ends like a time cut, keeps every request
//! accounted for and says it was interrupted.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use perf_sim::{Progress, RunOptions, Simulation};
use serde_json::json;

use crate::{cfg, rows};

#[test]
#[allow(clippy::float_cmp)]
fn a_cancelled_run_stops_at_its_next_check_and_accounts_for_every_request() {
    let config = cfg(json!({
        "seed": 3, "max_requests": 1_000_000,
        "cluster": { "engine": { "max_batch_size": 64, "max_num_batched_tokens": 2048 },
            "cost_model": { "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 },
            "kv_cache": { "num_gpu_blocks": 20000 } },
        "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 40.0 },
            "input": { "kind": "fixed", "value": 200 },
            "output": { "kind": "fixed", "value": 50 } } ] }
    }));
    let sim = Simulation::new(config).unwrap();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    // The first progress call (event 65 536) plays the Ctrl-C handler.
    let seen = Cell::new(None);
    let mut csv = Vec::new();
    let summary = sim
        .run_with(
            &mut csv,
            RunOptions {
                progress: Some(Box::new(|p: &Progress| {
                    if seen.get().is_none() {
                        seen.set(Some(*p));
                        flag.store(true, Ordering::Relaxed);
                    }
                })),
                cancel: Some(cancel),
                ..RunOptions::default()
            },
        )
        .unwrap();
    let at = seen.get().unwrap();
    assert!(summary.interrupted);
    assert_eq!(summary.engine, "vllm_v1");
    // The loop looks at the flag before handling the next event it pops: it stops right
    // there (event 65 536 may have handled a wake-up inline, counted as event 65 537).
    assert!(
        (65_536..=65_537).contains(&summary.events),
        "{}",
        summary.events
    );
    assert_eq!(summary.simulated_time_s, at.simulated_s);
    let c = summary.requests;
    assert!(c.arrived < 1_000_000 && c.unfinished > 0, "{c:?}");
    assert_eq!(
        c.arrived,
        c.completed + c.unfinished + c.rejected + c.dropped
    );
    let rows = rows(std::str::from_utf8(&csv).unwrap());
    assert_eq!(rows.len() as u64, c.arrived);
    let unfinished = rows.iter().filter(|r| r.status == "unfinished").count() as u64;
    assert_eq!(unfinished, c.unfinished);
    assert!(summary.to_json().unwrap().contains("\"interrupted\": true"));

    // Without a cancel flag nothing changes, and the key is absent.
    let config = cfg(json!({
        "seed": 3, "max_requests": 100,
        "cluster": { "cost_model": { "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 },
            "kv_cache": { "num_gpu_blocks": 20000 } },
        "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 40.0 },
            "input": { "kind": "fixed", "value": 200 },
            "output": { "kind": "fixed", "value": 50 } } ] }
    }));
    let done = Simulation::new(config).unwrap().run_summary().unwrap();
    assert!(!done.interrupted);
    assert!(!done.to_json().unwrap().contains("interrupted"));
}
