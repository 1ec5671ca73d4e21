//! Integration tests of the simulator: invariants, closed forms, determinism, the analyzer
//! cross-check and configuration errors (one test binary).

mod analyzer;
mod batch_limit;
mod closed_form;
mod config_errors;
mod conversations;
mod determinism;
mod engines;
mod interrupt;
mod invariants;
mod pipeline;
mod pools;
mod prefix;
mod props;
mod slo;
mod speculative;
mod steps;
mod tape;
mod warm_up;
mod workloads;
mod yaml;

use perf_sim::{SimConfig, Simulation, Summary};

/// A configuration from JSON (panics on a typo: test code).
pub fn cfg(v: serde_json::Value) -> SimConfig {
    serde_json::from_value(v).expect("test config parses")
}

/// Runs `config`, returning the summary and the CSV text.
pub fn run(config: SimConfig) -> (Summary, String) {
    let sim = Simulation::new(config).expect("valid config");
    let mut csv = Vec::new();
    let summary = sim.run(&mut csv).expect("run succeeds");
    (summary, String::from_utf8(csv).expect("utf-8 CSV"))
}

/// One parsed CSV row.
pub struct Row {
    /// CSV `status`.
    pub status: String,
    /// Prompt tokens.
    pub prompt: u32,
    /// Target output tokens.
    pub target: u32,
    /// Generated tokens.
    pub output: u32,
    /// Arrival, ns.
    pub arrival_ns: u64,
    /// First token, ns.
    pub first_ns: Option<u64>,
    /// Completion, ns.
    pub done_ns: Option<u64>,
    /// Largest token gap, ms.
    pub itl_max_ms: Option<f64>,
    /// Preemptions.
    pub preemptions: u32,
}

fn ns(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let (a, b) = s.split_once('.').expect("9 decimals");
    Some(a.parse::<u64>().unwrap() * 1_000_000_000 + b.parse::<u64>().unwrap())
}

/// Parses the CSV written by the simulator.
pub fn rows(csv: &str) -> Vec<Row> {
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let h = rdr.headers().unwrap().clone();
    assert_eq!(h.iter().collect::<Vec<_>>(), perf_sim::CSV_HEADER.to_vec());
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            Row {
                status: r[9].to_owned(),
                prompt: r[3].parse().unwrap(),
                target: r[4].parse().unwrap(),
                output: r[5].parse().unwrap(),
                arrival_ns: ns(&r[6]).unwrap(),
                first_ns: ns(&r[7]),
                done_ns: ns(&r[8]),
                itl_max_ms: (!r[22].is_empty()).then(|| r[22].parse().unwrap()),
                preemptions: r[21].parse().unwrap(),
            }
        })
        .collect()
}
