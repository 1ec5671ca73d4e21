//! Prefix caching of shared-prefix workloads.

use serde_json::json;

use crate::{cfg, run};

fn config(caching: bool, blocks: u64, rate: f64, groups: u32, per_group: u32) -> serde_json::Value {
    json!({
        "seed": 5, "max_requests": 300,
        "cluster": {
            "engine": { "max_batch_size": 16, "max_num_batched_tokens": 256,
                        "enable_prefix_caching": caching },
            "cost_model": { "kind": "inferno", "alpha": 1.0, "beta": 0.05, "gamma": 0.0 },
            "kv_cache": { "num_gpu_blocks": blocks } },
        "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": rate },
            "input": { "kind": "uniform", "low": 60, "high": 120 },
            "output": { "kind": "fixed", "value": 8 },
            "shared_prefix": { "groups": groups, "prompts_per_group": per_group,
                               "system_prompt_len": 40 } } ] }
    })
}

/// `(event, cached, prefilled, prompt)` per CSV row.
fn prefix_cols(csv: &str) -> Vec<(String, u32, u64, u32)> {
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[13].to_owned(),
                r[14].parse().unwrap(),
                r[15].parse().unwrap(),
                r[3].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn repeated_prompts_hit_and_skip_prefill() {
    let (on, csv) = run(cfg(config(true, 4096, 2.0, 2, 3)));
    let (off, csv_off) = run(cfg(config(false, 4096, 2.0, 2, 3)));
    assert_eq!(on.requests.completed, 300);
    let rows = prefix_cols(&csv);
    let hits: Vec<_> = rows.iter().filter(|r| r.0 == "hit").collect();
    // 6 distinct prompts in 2 groups: the first request of a group misses, the first of
    // each other prompt reuses its system prompt (32 tokens), the rest reuse the whole prompt
    // but its last partial block (at least one token is recomputed).
    assert!(hits.len() >= 290, "{} hits", hits.len());
    let mut whole = 0;
    for (_, cached, prefilled, prompt) in &hits {
        assert_eq!(cached % 16, 0);
        assert!(*cached < *prompt, "{cached} of {prompt}");
        assert!(
            *cached == 32 || *cached + 16 >= *prompt,
            "{cached} of {prompt}"
        );
        whole += usize::from(*cached + 16 >= *prompt);
        assert_eq!(u64::from(prompt - cached), *prefilled);
    }
    assert!(whole >= 290, "{whole}");
    assert_eq!(on.replicas[0].prefix_cache_hits, hits.len() as u64);
    assert_eq!(
        on.replicas[0].prefix_cache_hit_tokens,
        hits.iter().map(|h| u64::from(h.1)).sum::<u64>()
    );
    assert_eq!(off.replicas[0].prefix_cache_hits, 0);
    // The same prompts repeat with the same lengths.
    let lengths: std::collections::BTreeSet<u32> = rows.iter().map(|r| r.3).collect();
    assert!(lengths.len() <= 6);
    // Without caching nothing hits and TTFT is longer.
    assert!(
        prefix_cols(&csv_off)
            .iter()
            .all(|r| r.0 == "miss" && r.1 == 0)
    );
    assert!(on.latency.ttft_ms.mean < off.latency.ttft_ms.mean);
}

#[test]
fn group_prefix_hits_for_new_questions() {
    // 1 group of 200 questions: new questions still reuse the 40-token system prompt (32
    // tokens, two whole blocks).
    let (_, csv) = run(cfg(config(true, 4096, 2.0, 1, 200)));
    let rows = prefix_cols(&csv);
    assert!(rows.iter().any(|r| r.0 == "hit" && r.1 == 32));
}

#[test]
fn tiny_cache_under_load_still_completes() {
    // 40 blocks of 16 tokens, prompts up to 120 tokens (8 blocks), many prompts, heavy load:
    // pins are capped at half the pool and dropped when they alone block progress.
    let (s, _) = run(cfg(config(true, 40, 50.0, 8, 8)));
    let c = s.requests;
    assert_eq!(c.completed, 300, "{c:?}");
    assert!(s.replicas[0].kv_blocks_max <= 40);
}

/// vLLM's cache evicts least recently used blocks: when the workload moves to other prompts,
/// their blocks replace the old ones (a cache that only pinned would stay full of the first
/// phase's prompts and never hit again).
#[test]
fn a_new_working_set_replaces_the_old_one_in_the_cache() {
    let client = |first: bool| {
        let stages = if first {
            json!([{ "rate": 5.0, "duration_s": 60.0 }])
        } else {
            json!([{ "rate": 0.0, "duration_s": 60.0 }, { "rate": 5.0, "duration_s": 60.0 }])
        };
        json!({ "arrival": { "kind": "stages", "stages": stages },
            "input": { "kind": "uniform", "low": 90, "high": 110 },
            "output": { "kind": "fixed", "value": 4 },
            "shared_prefix": { "groups": 1, "prompts_per_group": 20, "system_prompt_len": 16 } })
    };
    // 20 prompts of ~6 full blocks each: one working set (~120 blocks) fits, two do not.
    let (s, csv) = run(cfg(json!({
        "seed": 3,
        "cluster": {
            "engine": { "max_batch_size": 8, "enable_prefix_caching": true },
            "cost_model": { "kind": "inferno", "alpha": 1.0, "beta": 0.05, "gamma": 0.0 },
            "kv_cache": { "num_gpu_blocks": 200 } },
        "workload": { "clients": [client(true), client(false)] }
    })));
    let rows = prefix_cols(&csv);
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let clients: Vec<String> = rdr.records().map(|r| r.unwrap()[1].to_owned()).collect();
    let second: Vec<_> = rows
        .iter()
        .zip(&clients)
        .filter(|(_, c)| c.as_str() == "client1")
        .map(|(r, _)| r)
        .collect();
    assert!(second.len() > 200, "{}", second.len());
    let whole_prompt_hits = second.iter().filter(|r| r.1 + 16 >= r.3).count();
    assert!(
        whole_prompt_hits * 10 >= second.len() * 8,
        "{whole_prompt_hits} of {}",
        second.len()
    );
    assert_eq!(s.requests.completed, s.requests.arrived);
}
