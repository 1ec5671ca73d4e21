//! `llm-perf`: predict, simulate and tune the performance of LLM inference serving from the
//! command line.
//!
//! Every subcommand prints a readable table by default and JSON with `--json`. Errors go to
//! stderr (library log events too, filtered by `RUST_LOG`, default `error`: warnings worth
//! reading, such as poorly identified fits, are printed in the output itself); bad input (a missing or invalid parameter, a malformed file, an unknown name, an
//! infeasible load) exits with code 2.
//!
//! `llm-perf serve` runs the same functions as an HTTP service (model-trainer `/train`,
//! queue-analysis `/solve`, `/target`, `/optimize`, the benchmark store's `/api/…`; the
//! `llm-perf-server` crate) and logs each request at `info`.

mod catalog_cmd;
mod convert_cmd;
mod engines_cmd;
mod fit_cmd;
mod interrupt;
mod predict_cmd;
mod predict_view;
mod problem;
mod profile_cmd;
mod queue_cmd;
mod read_cmd;
mod report_cmd;
mod serve_cmd;
mod simulate_cmd;
mod store_cmd;
mod sweep_cmd;
mod table;
mod tune_cluster;
mod tune_cmd;
mod tune_seed;
mod validate_cmd;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Predict, simulate and tune the performance of LLM inference serving.
#[derive(Parser, Debug)]
#[command(name = "llm-perf", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read benchmark reports or traces (format detected from content) and show their points.
    Read(read_cmd::ReadArgs),
    /// Convert benchmark files to the Inferno trainer's DataSet JSON or a flat CSV.
    Convert(convert_cmd::ConvertArgs),
    /// Fit the Inferno model's α, β, γ to benchmark files (model-trainer compatible).
    Fit(fit_cmd::FitArgs),
    /// Train, query or show step-time predictors (llm-profiler sweeps → prefill/decode models).
    Predict(predict_cmd::PredictArgs),
    /// Profile a real engine's one-batch latency over batch sizes × input lengths (the LLM
    /// profiler's `profile`): writes `benchmark_data_<model>_TP_<tp>_PP_<pp>.json` for
    /// `predict train`.
    Profile(profile_cmd::ProfileArgs),
    /// Estimate TTFT, per-user tokens/s, E2E and throughput for a request shape from benchmark CSVs.
    Estimate(predict_cmd::EstimateArgs),
    /// Analyze one arrival rate with the Inferno queueing model (queue-analysis `/solve`).
    Analyze(queue_cmd::AnalyzeArgs),
    /// Max rate per replica under TTFT/ITL targets, and replicas for a total rate (`/target`).
    Size(queue_cmd::SizeArgs),
    /// Smallest max batch size reaching near-peak throughput under the targets (`/optimize`).
    Optimize(queue_cmd::OptimizeArgs),
    /// Simulate serving (continuous batching, paged KV, preemption, replicas) from a YAML/JSON config.
    #[command(alias = "run")]
    Simulate(simulate_cmd::SimulateArgs),
    /// Tune serving knobs with particle swarm optimisation, evaluated by the simulator or by
    /// real benchmarks, locally or on a cluster (`--scheduler slurm|k8s`).
    Tune(Box<tune_cmd::TuneArgs>),
    /// One task of a distributed `tune --scheduler`: evaluates candidate I of a task list with
    /// the run's evaluator and writes its result beside the list (internal; see
    /// docs/tuning.md §6).
    #[command(name = "tune-task", hide = true)]
    TuneTask(tune_cluster::TuneTaskArgs),
    /// List the serving engines and benchmark runners for real-benchmark tuning.
    Engines(engines_cmd::EnginesArgs),
    /// List catalogued models, or show one with derived sizes.
    Models(catalog_cmd::ModelsArgs),
    /// List catalogued accelerators (GPUs and Ascend NPUs), or show one.
    Accelerators(catalog_cmd::AcceleratorsArgs),
    /// Run the HTTP service: seed REST APIs and the benchmark store (see `docs/server.md`).
    ///
    /// Routes (JSON; errors are `{"message": …}`): the model-trainer's `POST /train`, the
    /// queue-analysis `POST /solve`, `/target`, `/optimize`, `GET /healthz`, and the Benchmark
    /// Modeling Tool's `/api/benchmarks/…` (upload any benchmark format, list models and
    /// benchmarks, delete, predict with confidence, export), plus Inferno fits of stored
    /// sweeps, sizing from them and stored predictor files. The workbench (pages with charts:
    /// upload, models, modeling, predictors, capacity, simulate, tune) is at `/`.
    ///
    /// Listens on 127.0.0.1:8080 by default; a non-loopback `--listen` needs a token
    /// (LLM_PERF_TOKEN) for routes that change the store, or `--read-only`. The database is
    /// `--db`, LLM_PERF_DB, or `$XDG_DATA_HOME/llm-perf/llm-perf.db`. Stops gracefully on
    /// Ctrl-C. Requests are logged to stderr (`RUST_LOG` overrides the default `info`).
    Serve(serve_cmd::ServeArgs),
    /// The benchmark store without a server: import files, list and delete benchmarks.
    Store(store_cmd::StoreArgs),
    /// Write the HTML report of a finished `simulate --out DIR` or `tune --out DIR` run.
    Report(report_cmd::ReportArgs),
    /// Simulate measured runs as they ran and compare: sim vs real per metric, median errors.
    ///
    /// Reads inference-perf run folders, BLIS replay files, LLMServingSim bench folders,
    /// GuideLLM reports with per-request timings and `vllm bench serve --save-detailed` JSON;
    /// `--engine-config` supplies what a file does not record (model, accelerator, limits).
    /// Overloaded runs (more than 10 % failed requests) are reported apart.
    Validate(validate_cmd::ValidateArgs),
    /// Fit the roofline's uncertain knobs (memory and compute efficiency, per-layer and
    /// per-step overheads, all-reduce latency, front-end delay) to measured runs, write a
    /// cost-model file (`--cost-model FILE` of simulate, tune, validate) and print the
    /// leave-one-run-out errors.
    Calibrate(validate_cmd::CalibrateArgs),
    /// Sweeps of simulations over a grid of config overrides × seeds: `plan`, `run` (one
    /// shard or all, one result file per item), `merge` (one table), `submit` (a SLURM job
    /// array or a Kubernetes Indexed Job). See `docs/sweep.md`.
    Sweep(sweep_cmd::SweepArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server logs its requests by default; every other command only errors.
    let default_filter = match cli.command {
        Command::Serve(_) => "error,llm_perf_server=info,llm_perf::serve_cmd=info",
        // progress lines of a long simulation when stderr is not a terminal
        Command::Simulate(_) => "error,llm_perf::simulate_cmd=info",
        // a distributed tune says what it submits and waits for; a task what it evaluates
        Command::Tune(ref a) if a.distributed() => "error,llm_perf::distributed=info",
        Command::TuneTask(_) => "error,llm_perf::distributed=info",
        _ => "error",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let output = match cli.command {
        Command::Read(args) => read_cmd::read(&args),
        Command::Convert(args) => convert_cmd::convert(&args),
        Command::Fit(args) => fit_cmd::fit(&args),
        Command::Predict(args) => predict_cmd::predict(&args),
        Command::Profile(args) => profile_cmd::profile(&args),
        Command::Estimate(args) => predict_cmd::estimate(&args),
        Command::Analyze(args) => queue_cmd::analyze(&args),
        Command::Size(args) => queue_cmd::size(&args),
        Command::Optimize(args) => queue_cmd::optimize(&args),
        Command::Simulate(args) => simulate_cmd::simulate(&args),
        Command::Tune(args) => tune_cmd::tune(&args),
        Command::TuneTask(args) => tune_cluster::tune_task(&args),
        Command::Engines(args) => engines_cmd::engines(&args),
        Command::Models(args) => catalog_cmd::models(&args),
        Command::Accelerators(args) => catalog_cmd::accelerators(&args),
        Command::Serve(args) => serve_cmd::serve(&args),
        Command::Store(args) => store_cmd::store(&args),
        Command::Report(args) => report_cmd::report(&args),
        Command::Validate(args) => validate_cmd::validate(&args),
        Command::Calibrate(args) => validate_cmd::calibrate_cmd(&args),
        Command::Sweep(args) => sweep_cmd::sweep(&args),
    };
    match output {
        Ok(text) => {
            // A closed pipe (e.g. `| head`) is not an error worth reporting.
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "error: {}", one_line(&err));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, skipping a cause whose text the message already
/// contains (library errors often print their source themselves).
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
