//! Multi-turn conversations (specs/simulator.md §5.3): turn timing, prompt growth, session
//! ids and prefix reuse along the chain.

use std::collections::BTreeMap;

use serde_json::json;

use crate::{cfg, run};

/// One CSV row's conversation fields.
#[derive(Clone, Debug)]
struct Turn {
    session: Option<u32>,
    turn: u32,
    prompt: u32,
    output: u32,
    arrival_ns: u64,
    done_ns: Option<u64>,
    status: String,
    cached: u32,
    prefilled: u64,
    replica: Option<u32>,
}

fn ns(s: &str) -> Option<u64> {
    let (a, b) = s.split_once('.')?;
    Some(a.parse::<u64>().ok()? * 1_000_000_000 + b.parse::<u64>().ok()?)
}

fn turns(csv: &str) -> Vec<Turn> {
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            Turn {
                session: (!r[2].is_empty()).then(|| r[2].parse().unwrap()),
                turn: r[17].parse().unwrap(),
                prompt: r[3].parse().unwrap(),
                output: r[5].parse().unwrap(),
                arrival_ns: ns(&r[6]).unwrap(),
                done_ns: ns(&r[8]),
                status: r[9].to_owned(),
                cached: r[14].parse().unwrap(),
                prefilled: r[15].parse().unwrap(),
                replica: r[16].parse().ok(),
            }
        })
        .collect()
}

/// Rows grouped by session, in turn order.
fn sessions(rows: &[Turn]) -> BTreeMap<u32, Vec<Turn>> {
    let mut m: BTreeMap<u32, Vec<Turn>> = BTreeMap::new();
    for r in rows {
        if let Some(s) = r.session {
            m.entry(s).or_default().push(r.clone());
        }
    }
    for v in m.values_mut() {
        v.sort_by_key(|t| t.turn);
    }
    m
}

fn config(engine: serde_json::Value, conversation: serde_json::Value) -> serde_json::Value {
    json!({
        "seed": 21, "max_requests": 600,
        "cluster": { "engine": engine,
            "cost_model": { "kind": "inferno", "alpha": 5.0, "beta": 0.02, "gamma": 1e-4 },
            "kv_cache": { "num_gpu_blocks": 40000 } },
        "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 3.0 },
            "input": { "kind": "lognormal", "mean": 200, "std": 100 },
            "output": { "kind": "lognormal", "mean": 60, "std": 30 },
            "conversation": conversation } ] }
    })
}

#[test]
fn each_turn_arrives_a_think_time_after_the_previous_completes_with_the_chain_as_prompt() {
    let conv = json!({ "continue_probability": 1.0, "max_turns": 5, "think_time_s": 1.5,
                       "think": "fixed" });
    let (summary, csv) = run(cfg(config(json!({}), conv)));
    let rows = turns(&csv);
    assert_eq!(summary.requests.arrived, 600);
    let by_session = sessions(&rows);
    // Every arrival opens a conversation (probability 1): every row has a session.
    assert!(rows.iter().all(|r| r.session.is_some()));
    let mut full = 0;
    for (s, ts) in &by_session {
        // Turns 1, 2, … without a gap, at most max_turns.
        let numbers: Vec<u32> = ts.iter().map(|t| t.turn).collect();
        assert_eq!(
            numbers,
            (1..=ts.len() as u32).collect::<Vec<_>>(),
            "session {s}"
        );
        assert!(ts.len() <= 5);
        for w in ts.windows(2) {
            let (prev, next) = (&w[0], &w[1]);
            assert_eq!(
                prev.status, "completed",
                "session {s}: a turn after a failed one"
            );
            // Next arrival = previous completion (as the client saw it) + 1.5 s, to the ns.
            assert_eq!(next.arrival_ns, prev.done_ns.unwrap() + 1_500_000_000);
            // Prompt = previous prompt + its actual output + new input (≥ 1 token).
            assert!(
                next.prompt > prev.prompt + prev.output,
                "session {s}: {} after {} + {}",
                next.prompt,
                prev.prompt,
                prev.output
            );
        }
        // Probability 1 to continue: a conversation stops short of 5 turns only when the
        // run's 600 arrivals ran out.
        full += usize::from(ts.len() == 5);
    }
    assert!(full > 50, "{full} full conversations");
}

#[test]
fn the_mean_prompt_grows_turn_by_turn_as_the_formula_says() {
    // Fixed lengths: turn k's prompt is exactly k·I + (k − 1)·O.
    let conv = json!({ "continue_probability": 1.0, "max_turns": 6, "think_time_s": 0.5 });
    let mut c = config(json!({}), conv.clone());
    c["workload"]["clients"][0]["input"] = json!({ "kind": "fixed", "value": 300 });
    c["workload"]["clients"][0]["output"] = json!({ "kind": "fixed", "value": 40 });
    let (_, csv) = run(cfg(c));
    for t in turns(&csv) {
        assert_eq!(t.prompt, 300 * t.turn + 40 * (t.turn - 1), "{t:?}");
    }
    // Random lengths: E[P_k] = k·E[I] + (k − 1)·E[O]; with per-turn sample means,
    // mean(P_k) − mean(P_{k−1}) = mean(O_{k−1}) + mean(I_k) holds row by row in sum.
    let mut c = config(json!({}), conv);
    c["max_requests"] = json!(3000);
    let (_, csv) = run(cfg(c));
    let rows = turns(&csv);
    let by_session = sessions(&rows);
    let mut new_input: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    let mut prompt: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for ts in by_session.values() {
        prompt.entry(1).or_default().push(f64::from(ts[0].prompt));
        for w in ts.windows(2) {
            let i = w[1].prompt - w[0].prompt - w[0].output;
            new_input.entry(w[1].turn).or_default().push(f64::from(i));
            prompt
                .entry(w[1].turn)
                .or_default()
                .push(f64::from(w[1].prompt));
        }
    }
    let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    // The new input of every turn follows the client's input distribution (mean 200).
    for (k, v) in &new_input {
        assert!(
            (mean(v) - 200.0).abs() < 25.0,
            "turn {k}: new input {}",
            mean(v)
        );
    }
    // The mean prompt of turn k is close to k·200 + (k − 1)·60.
    for k in 1..=6u32 {
        let m = mean(&prompt[&k]);
        let expected = 200.0 * f64::from(k) + 60.0 * f64::from(k - 1);
        assert!(
            (m - expected).abs() < 0.08 * expected,
            "turn {k}: mean prompt {m}, formula {expected}"
        );
        if k > 1 {
            assert!(m > mean(&prompt[&(k - 1)]));
        }
    }
}

#[test]
fn probabilities_open_and_continue_conversations_and_lone_requests_have_no_session() {
    let conv = json!({ "probability": 0.5, "continue_probability": 0.7, "max_turns": 10,
                       "think_time_s": 2.0 });
    let mut c = config(json!({}), conv);
    c["max_requests"] = json!(4000);
    let (_, csv) = run(cfg(c));
    let rows = turns(&csv);
    let lone = rows.iter().filter(|r| r.session.is_none()).count();
    assert!(
        rows.iter()
            .filter(|r| r.session.is_none())
            .all(|r| r.turn == 1)
    );
    let by_session = sessions(&rows);
    // Conversations ending with the run are cut short: look at those opened in the first half.
    let early: Vec<&Vec<Turn>> = by_session
        .values()
        .filter(|ts| ts[0].arrival_ns < 400_000_000_000)
        .collect();
    let opened = early.len() as f64;
    let mean_turns = early.iter().map(|ts| ts.len() as f64).sum::<f64>() / opened;
    // Turns per conversation: truncated geometric, E = (1 − 0.7^10)/(1 − 0.7) = 3.24.
    let expected = (1.0 - 0.7_f64.powi(10)) / 0.3;
    assert!(
        (mean_turns - expected).abs() < 0.25,
        "mean turns {mean_turns}, expected {expected}"
    );
    // Half the fresh arrivals open one: lone ≈ conversations.
    let conversations = by_session.len() as f64;
    let share = conversations / (conversations + lone as f64);
    assert!((share - 0.5).abs() < 0.05, "share {share}");
    // Session ids are 1, 2, … in opening order.
    let ids: Vec<u32> = by_session.keys().copied().collect();
    assert_eq!(ids, (1..=ids.len() as u32).collect::<Vec<_>>());
}

#[test]
fn a_turn_reuses_the_previous_turns_prompt_and_output_from_the_prefix_cache() {
    let conv = json!({ "continue_probability": 1.0, "max_turns": 4, "think_time_s": 1.0 });
    // (engine, its default block size)
    for (engine, bs) in [
        (json!({ "enable_prefix_caching": true }), 16),
        (json!({ "kind": "sglang" }), 16),
        (json!({ "kind": "trtllm", "enable_block_reuse": true }), 32),
    ] {
        let (_, csv) = run(cfg(config(engine.clone(), conv.clone())));
        let rows = turns(&csv);
        let mut checked = 0;
        for ts in sessions(&rows).values() {
            assert_eq!(ts[0].cached, 0, "{engine}: a first turn has nothing cached");
            for w in ts.windows(2) {
                let (prev, next) = (&w[0], &w[1]);
                // The previous turn's computed tokens (all but its last sampled token), in
                // full blocks, at most the new prompt's full blocks but its last token.
                let chain = (prev.prompt + prev.output - 1) / bs * bs;
                let limit = (next.prompt - 1) / bs * bs;
                assert_eq!(
                    next.cached,
                    chain.min(limit),
                    "{engine}: {prev:?} -> {next:?}"
                );
                assert_eq!(next.prefilled, u64::from(next.prompt - next.cached));
                checked += 1;
            }
        }
        assert!(checked > 100, "{engine}: {checked} follow-ups");
    }
}

#[test]
fn conversation_settings_are_checked() {
    for (conv, field) in [
        (json!({ "probability": 1.5 }), "conversation.probability"),
        (
            json!({ "continue_probability": -0.1 }),
            "conversation.continue_probability",
        ),
        (json!({ "max_turns": 0 }), "conversation.max_turns"),
        (json!({ "think_time_s": -1.0 }), "conversation.think_time_s"),
    ] {
        let err = perf_sim::Simulation::new(cfg(config(json!({}), conv)))
            .unwrap_err()
            .to_string();
        assert!(err.contains(field), "{err}");
    }
}

#[test]
fn session_affinity_keeps_a_conversation_on_one_replica_and_its_cache_warm() {
    let conv = json!({ "probability": 0.6, "continue_probability": 0.8, "max_turns": 6,
                       "think_time_s": 1.0 });
    let run_with = |router: &str| {
        let mut c = config(json!({ "enable_prefix_caching": true }), conv.clone());
        c["max_requests"] = json!(2000);
        c["cluster"]["replicas"] = json!(4);
        c["cluster"]["router"] = json!(router);
        c["workload"]["clients"][0]["arrival"]["rate"] = json!(12.0);
        let (summary, csv) = run(cfg(c));
        (summary, turns(&csv))
    };
    let (affine, rows) = run_with("session_affinity");
    let by_session = sessions(&rows);
    assert!(by_session.len() > 100);
    for (s, ts) in &by_session {
        let first = ts[0].replica;
        assert!(ts.iter().all(|t| t.replica == first), "session {s}: {ts:?}");
    }
    // Fresh requests spread over all four replicas.
    let mut per_replica = [0u32; 4];
    for r in rows.iter().filter(|r| r.turn == 1) {
        per_replica[r.replica.unwrap() as usize] += 1;
    }
    assert!(per_replica.iter().all(|&n| n > 100), "{per_replica:?}");
    // Round robin scatters the turns: fewer prompt tokens come from the cache.
    let (scattered, _) = run_with("round_robin");
    let hit_tokens = |s: &perf_sim::Summary| -> u64 {
        s.replicas.iter().map(|r| r.prefix_cache_hit_tokens).sum()
    };
    assert!(
        hit_tokens(&affine) > 2 * hit_tokens(&scattered),
        "{} vs {}",
        hit_tokens(&affine),
        hit_tokens(&scattered)
    );
}

/// `samples/sim/llmperforacle-two-frameworks.yaml`: vLLM (max_num_seqs 32) and SGLang
/// (256) side by side on a multi-turn chat workload, a conversation kept on one framework.
#[test]
fn two_seed_frameworks_run_side_by_side_and_differ_on_a_multi_turn_workload() {
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../samples/sim/llmperforacle-two-frameworks.yaml"
    );
    let loaded = perf_sim::SimConfig::load_path(sample).unwrap();
    assert!(loaded.seed);
    let (s, csv) = run(loaded.config);
    assert_eq!(s.requests.completed, 6000);
    let pools: Vec<(&str, &str)> = s
        .pools
        .iter()
        .map(|p| (p.name.as_str(), p.engine.as_str()))
        .collect();
    assert_eq!(pools, [("vllm", "vllm_v1"), ("sglang", "sglang")]);
    assert_eq!(s.engine, "vllm_v1+sglang");
    let (vllm, sglang) = (&s.pools[0], &s.pools[1]);
    assert_eq!(
        vllm.requests.completed + sglang.requests.completed,
        s.requests.completed
    );
    // session_affinity: every conversation on one framework.
    let rows = turns(&csv);
    for ts in sessions(&rows).values() {
        assert!(ts.iter().all(|t| t.replica == ts[0].replica));
    }
    // Both caches serve most prompt tokens of the follow-up turns (prompt and output of the
    // turns before, LRU eviction).
    let prompt_tokens = |replica: u32| -> u64 {
        rows.iter()
            .filter(|r| r.replica == Some(replica))
            .map(|r| u64::from(r.prompt))
            .sum()
    };
    for (i, r) in s.replicas.iter().enumerate() {
        let share = r.prefix_cache_hit_tokens as f64 / prompt_tokens(i as u32) as f64;
        assert!(share > 0.6, "replica {i}: {share}");
    }
    // The difference is scheduling: SGLang's prefill-only steps (no mixed chunk) stall the
    // decodes, vLLM V1 mixes prefill chunks into decode steps.
    assert!(
        sglang.latency.itl_ms.p99 > 1.2 * vllm.latency.itl_ms.p99,
        "{} vs {}",
        sglang.latency.itl_ms.p99,
        vllm.latency.itl_ms.p99
    );
    assert!(sglang.latency.tpot_ms.mean > vllm.latency.tpot_ms.mean);
}
