//! The simulator against measured runs, as a library call: read each run (inference-perf
//! folder, BLIS replay or trainval summaries, LLMServingSim bench folder, GuideLLM report,
//! `vllm bench serve --save-detailed` JSON), validate, then calibrate with leave-one-run-out.
//!
//! Run: `cargo run --release --example validate_runs -- [RUN…] [--accelerator NAME]`; with no
//! run it uses the LLMServingSim sample in `samples/runs/`. `llm-perf validate` and `llm-perf
//! calibrate` are the same calls with tables, JSON and HTML reports.

use std::path::PathBuf;

use llm_perf::calibrate::{CalibrateOptions, calibrate};
use llm_perf::readers::read_runs;
use llm_perf::validate::{ValidateOptions, validate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = ValidateOptions::default();
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--accelerator" {
            opts.accelerator = Some(args.next().ok_or("--accelerator needs a name")?);
        } else {
            paths.push(PathBuf::from(a));
        }
    }
    if paths.is_empty() {
        paths.push(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/runs/llmservingsim-rtxpro6000-llama-3.1-8b"
        )));
    }
    let mut runs = Vec::new();
    for p in &paths {
        runs.extend(read_runs(p)?);
    }
    let report = validate(&runs, &opts)?;
    println!(
        "{:<48} {:>10} {:>10} {:>10}",
        "run", "TTFT err", "ITL err", "E2E err"
    );
    for r in &report.runs {
        let err = |k: &str| r.metrics.get(k).map_or(f64::NAN, |c| 100.0 * c.err);
        println!(
            "{:<48} {:>9.1}% {:>9.1}% {:>9.1}%{}",
            r.name,
            err("ttft_mean"),
            err("itl"),
            err("e2e_mean"),
            if r.overloaded { "  (overloaded)" } else { "" }
        );
    }
    let m = |k: &str| 100.0 * report.median.get(k).copied().unwrap_or(f64::NAN);
    println!(
        "median over {} runs: TTFT {:.1} %, ITL {:.1} %, E2E {:.1} % ({:.0} ms)",
        report.median_runs,
        m("ttft_mean"),
        m("itl"),
        m("e2e_mean"),
        report.wall_ms
    );
    let cal = calibrate(
        &runs,
        &CalibrateOptions {
            validate: opts,
            ..CalibrateOptions::default()
        },
    )?;
    println!(
        "calibrated in {:.1} s: objective {:.4} -> {:.4}; knobs {}",
        cal.fit.wall_s,
        cal.fit.objective_default,
        cal.fit.objective,
        serde_json::to_string(&cal.accelerators)?
    );
    if let Some(l) = &cal.leave_one_run_out {
        let m = |k: &str| 100.0 * l.median.get(k).copied().unwrap_or(f64::NAN);
        println!(
            "leave-one-run-out median: TTFT {:.1} %, ITL {:.1} %, E2E {:.1} %",
            m("ttft_mean"),
            m("itl"),
            m("e2e_mean")
        );
    }
    Ok(())
}
