//! `llm-perf tune`: particle swarm optimisation of serving knobs, evaluated by the simulator.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use llm_perf::pso::{IterationSummary, Record, SimEvaluator, TuneConfig, TuneReport, Tuner};

use crate::table::{Table, num};

/// Where candidate configurations are evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EvaluatorKind {
    /// The discrete-event simulator (`[simulator]` section of the config).
    Sim,
}

/// Arguments of `llm-perf tune`.
#[derive(Args, Debug)]
pub struct TuneArgs {
    /// Tuning config (TOML: `[pso]`, `[fitness]`, `[run]`, `[[field]]`, `[[constraint]]`,
    /// `[simulator]`).
    config: PathBuf,
    /// Evaluator of candidates.
    #[arg(long, value_enum, default_value_t = EvaluatorKind::Sim)]
    evaluator: EvaluatorKind,
    /// Directory for `results.jsonl` (one line per evaluation, written as it finishes) and
    /// `checkpoint.json` (after every iteration); created if missing.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Continue the run recorded in `--out` exactly where it stopped.
    #[arg(long)]
    resume: bool,
    /// Parallel evaluations (results are identical to `--jobs 1`).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Stop after this many iterations (a later `--resume` continues).
    #[arg(long, value_name = "N")]
    stop_after: Option<usize>,
    /// Record each evaluation's wall-clock duration in the results (off by default, so the same
    /// seed gives a byte-identical results file).
    #[arg(long)]
    timing: bool,
    /// How many of the best configurations to list.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `llm-perf tune`.
pub fn tune(args: &TuneArgs) -> Result<String> {
    if args.resume && args.out.is_none() {
        bail!("--resume needs --out DIR, the directory of the run to continue");
    }
    let config = TuneConfig::from_path(&args.config)?;
    let space = config.search_space()?;
    let EvaluatorKind::Sim = args.evaluator;
    let jobs = args.jobs.or(config.run.jobs).unwrap_or(1);
    let mut evaluator = SimEvaluator::new(&config.sim_config()?)?.jobs(jobs);
    let mut tuner = Tuner::new(space, config.pso.clone(), config.fitness.clone())
        .memoise(!config.run.reevaluate_duplicates)
        .record_timing(args.timing)
        .resume(args.resume);
    if let Some(max) = config.run.max_evaluations {
        tuner = tuner.max_evaluations(max);
    }
    if let Some(n) = args.stop_after {
        tuner = tuner.stop_after(n);
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)?;
        tuner = tuner
            .results_file(dir.join("results.jsonl"))
            .checkpoint_file(dir.join("checkpoint.json"));
    }
    let iterations = config.pso.iters;
    // Progress on stderr, one line per iteration, so stdout stays the report.
    let mut progress = |s: &IterationSummary| {
        let _ = writeln!(
            std::io::stderr(),
            "iteration {}/{iterations}: best cost {} after {} evaluations ({} cached)",
            s.iteration + 1,
            num(s.best_cost, 6),
            s.evaluations,
            s.cached
        );
    };
    let report = tuner.run_observed(&mut evaluator, &mut progress)?;
    if args.json {
        return Ok(serde_json::to_string_pretty(&report_json(&report, args.top))? + "\n");
    }
    Ok(render(&report, args.top))
}

fn report_json(report: &TuneReport, top: usize) -> serde_json::Value {
    serde_json::json!({
        "best_cost": report.best_cost,
        "best_config": report.best_config.to_map(),
        "iterations": report.iterations,
        "evaluations": report.total_evaluations,
        "finished": report.finished,
        "top": report.top_k(top),
    })
}

fn render(report: &TuneReport, top: usize) -> String {
    let mut out = format!(
        "{} iterations, {} evaluations{}; best cost {}\n\n",
        report.iterations,
        report.total_evaluations,
        if report.finished {
            ""
        } else {
            " (stopped early: resume with --resume)"
        },
        num(report.best_cost, 6)
    );
    let best: Vec<&Record> = report.top_k(top);
    let knobs: Vec<String> = best
        .first()
        .map(|r| r.config.keys().cloned().collect())
        .unwrap_or_default();
    let mut header = vec!["rank".to_owned(), "cost".to_owned()];
    header.extend(knobs.iter().cloned());
    header.extend(["out tok/s", "TTFT ms", "TPOT ms", "success"].map(String::from));
    let mut t = Table::new(&header);
    for (rank, r) in best.iter().enumerate() {
        let mut row = vec![(rank + 1).to_string(), num(r.fitness, 6)];
        row.extend(knobs.iter().map(|k| {
            r.config.get(k).map_or_else(
                || "-".into(),
                |v| v.to_string().trim_matches('"').to_owned(),
            )
        }));
        let idx = r.index.as_ref();
        let opt = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| num(v, 5));
        row.push(opt(idx.and_then(|i| i.output_throughput())));
        row.push(opt(idx.and_then(|i| i.ttft_ms())));
        row.push(opt(idx.and_then(|i| i.tpot_ms())));
        row.push(opt(idx.and_then(|i| i.success_rate())));
        t.row(row);
    }
    out.push_str(&t.render());
    out
}
