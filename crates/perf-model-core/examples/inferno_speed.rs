//! Old vs new Inferno analyzer throughput, side by side (issue 18, item 2).
//!
//! ```text
//! cargo run --release -p perf-model-core --example inferno_speed [-- ROUNDS]
//! ```
//!
//! Problem: the queue-analysis REST example (α = 12, β = 0.05, γ = 5e-4, n = 128, m = 512)
//! with N = 256, Q = 256 (K = 512), model V7, f64 arithmetic, one thread. "old" is the
//! pre-speed-up implementation (`src/inferno/reference.rs`, compiled into this example only),
//! "new" the library. Each round times every measurement once, in interleaved order, for about
//! 20 ms each; the figures are medians over the rounds (default 15), with the spread
//! (min–max) of the per-round rates. The machine is shared: compare columns of one run.

#![allow(clippy::print_stdout, clippy::cast_precision_loss)]

#[path = "../src/inferno/reference.rs"]
mod reference;

use std::hint::black_box;
use std::time::{Duration, Instant};

use perf_model_core::inferno::{
    Analyzer, ParamSweep, QueueConfig, QueueModel, RequestShape, ServiceParams, SloTargets,
};
use reference::{Model, Problem, RefAnalyzer};

const ALPHA: f64 = 12.0;
const BETA: f64 = 0.05;
const GAMMA: f64 = 5e-4;

fn problem(model: Model) -> Problem {
    Problem {
        model,
        alpha: ALPHA,
        beta: BETA,
        gamma: GAMMA,
        n: 128.0,
        m: 512.0,
        max_batch: 256,
        max_queue: 256,
        max_tokens: 8192,
        f32: false,
    }
}

fn analyzer(model: QueueModel) -> Analyzer {
    Analyzer::new(
        model,
        ServiceParams::new(ALPHA, BETA, GAMMA).expect("valid parameters"),
        RequestShape::new(128.0, 512.0).expect("valid shape"),
        QueueConfig::new(256, 256).expect("valid config"),
    )
    .expect("valid analyzer")
}

/// One measurement: a name, the unit of work per call, and the call (returns work done).
struct Bench<'a> {
    name: &'static str,
    run: Box<dyn FnMut() -> u64 + 'a>,
    rates: Vec<f64>,
}

impl Bench<'_> {
    /// Runs for about `budget`; returns work items per second.
    fn round(&mut self, budget: Duration) -> f64 {
        let start = Instant::now();
        let mut work = 0_u64;
        while start.elapsed() < budget {
            for _ in 0..16 {
                work += (self.run)();
            }
        }
        work as f64 / start.elapsed().as_secs_f64()
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let targets = SloTargets::latency(60.0, 20.0);

    let new_v7 = analyzer(QueueModel::V7);
    let old_v7 = RefAnalyzer::new(problem(Model::V7)).expect("valid");
    let rate = 0.8 * new_v7.rate_range().max_rps;
    // A sweep of 64 rates over the range, for the batch API.
    let sweep: Vec<f64> = (1..=64)
        .map(|i| new_v7.rate_range().max_rps * f64::from(i) / 64.0)
        .collect();
    // 64 parameter sets around the problem's (a fitter's simplex moves, a bootstrap).
    let params: Vec<ServiceParams> = (0..64)
        .map(|i| {
            let f = 1.0 + 0.01 * f64::from(i);
            ServiceParams::new(ALPHA * f, BETA / f, GAMMA * f).expect("valid")
        })
        .collect();
    let mut sweeper = ParamSweep::new(new_v7.clone());
    let shape = RequestShape::new(128.0, 512.0).expect("valid");
    let config = QueueConfig::new(256, 256).expect("valid");

    let mut benches: Vec<Bench<'_>> = vec![
        Bench {
            name: "solve V7 old",
            run: Box::new(|| {
                black_box(old_v7.solve(black_box(rate)).expect("ok"));
                1
            }),
            rates: Vec::new(),
        },
        Bench {
            name: "solve V7 new",
            run: Box::new(|| {
                black_box(new_v7.solve(black_box(rate)).expect("ok"));
                1
            }),
            rates: Vec::new(),
        },
        Bench {
            name: "solve_rates V7 (64 rates), per solve",
            run: Box::new(|| {
                black_box(new_v7.solve_rates(black_box(&sweep)));
                64
            }),
            rates: Vec::new(),
        },
        Bench {
            name: "solve V7 new, same 64 rates one by one",
            run: Box::new(|| {
                for &r in &sweep {
                    black_box(new_v7.solve(black_box(r)).expect("ok"));
                }
                64
            }),
            rates: Vec::new(),
        },
        Bench {
            name: "size V7 old",
            run: Box::new(|| {
                black_box(old_v7.size(Some(60.0), Some(20.0), None).expect("ok"));
                1
            }),
            rates: Vec::new(),
        },
        Bench {
            name: "size V7 new",
            run: Box::new(|| {
                black_box(new_v7.size(black_box(&targets)).expect("ok"));
                1
            }),
            rates: Vec::new(),
        },
        Bench {
            name: "new+solve V7 old (64 param sets), per set",
            run: Box::new(|| {
                for p in &params {
                    let mut q = problem(Model::V7);
                    (q.alpha, q.beta, q.gamma) = (p.alpha(), p.beta(), p.gamma());
                    black_box(RefAnalyzer::new(q).expect("ok").solve(rate).expect("ok"));
                }
                64
            }),
            rates: Vec::new(),
        },
        Bench {
            name: "new+solve V7 new (64 param sets), per set",
            run: Box::new(|| {
                for p in &params {
                    let a = Analyzer::new(QueueModel::V7, *p, shape, config).expect("ok");
                    black_box(a.solve(rate).expect("ok"));
                }
                64
            }),
            rates: Vec::new(),
        },
        Bench {
            name: "ParamSweep::solve_params V7 (64 sets), per set",
            run: Box::new(|| {
                black_box(sweeper.solve_params(black_box(&params), rate));
                64
            }),
            rates: Vec::new(),
        },
    ];

    let budget = Duration::from_millis(20);
    for b in &mut benches {
        b.round(budget); // warm-up
    }
    for _ in 0..rounds {
        for b in &mut benches {
            let r = b.round(budget);
            b.rates.push(r);
        }
    }
    println!(
        "Inferno analyzer, V7, N = 256, Q = 256 (K = 512), f64, one thread; {rounds} interleaved rounds"
    );
    println!(
        "{:<48} {:>14} {:>12}   spread",
        "measurement", "per second", "time"
    );
    let mut med = Vec::new();
    for b in &mut benches {
        let lo = b.rates.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = b.rates.iter().copied().fold(0.0, f64::max);
        let m = median(&mut b.rates);
        med.push(m);
        println!(
            "{:<48} {:>14.0} {:>9.3} µs   {:.0}–{:.0}",
            b.name,
            m,
            1e6 / m,
            lo,
            hi
        );
    }
    println!();
    println!(
        "solve speed-up (new/old):            {:.1}×",
        med[1] / med[0]
    );
    println!(
        "size speed-up (new/old):             {:.1}×",
        med[5] / med[4]
    );
    println!(
        "solve_rates vs single solves:         {:.2}× per solve",
        med[2] / med[3]
    );
    println!(
        "ParamSweep vs Analyzer::new + solve:  {:.2}× per set (vs old: {:.1}×)",
        med[8] / med[7],
        med[8] / med[6]
    );
}
