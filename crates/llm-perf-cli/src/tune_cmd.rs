//! `llm-perf tune`: particle swarm optimisation of serving knobs, evaluated by the simulator.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use std::sync::Arc;

use llm_perf::npu::{
    Benchmark, BenchmarkEvaluation, BenchmarkEvaluator, Engine, Pass, Registry, SystemRunner,
    backend_config, dry_run,
};
use llm_perf::pso::{
    Evaluator, IterationSummary, Record, SearchSpace, SeedCompat, SeedConfig, SimEvaluator,
    TuneConfig, TuneReport, Tuner, pareto_front,
};
use serde::{Deserialize, Serialize};

use crate::table::{Table, num};
use crate::tune_seed::{SeedStages, TheoryFlags};

/// Where candidate configurations are evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvaluatorKind {
    /// The discrete-event simulator (`[simulator]` section of our tuning TOML).
    Sim,
    /// The simulator with a learned step-time model (`--predictor FILE --predictor-config NAME`,
    /// from `llm-perf predict train`) instead of the config's cost model.
    Model,
    /// Real benchmarks: restart the engine with each candidate and run the benchmark
    /// (the seed's `config.toml`: `[mindie]`/`[vllm]`/`[vllm_ascend]` and
    /// `[ais_bench]`/`[vllm_benchmark]` sections).
    Benchmark,
}

/// Arguments of `llm-perf tune`.
#[derive(Args, Debug)]
pub struct TuneArgs {
    /// Tuning config (TOML: `[pso]`, `[fitness]`, `[run]`, `[[field]]`, `[[constraint]]`,
    /// `[simulator]`).
    config: PathBuf,
    /// Evaluator of candidates. Default: `benchmark` for a seed (LLMServingTuner /
    /// msserviceprofiler) `config.toml`, recognised by its engine and benchmark sections,
    /// else `sim`.
    #[arg(long, value_enum)]
    evaluator: Option<EvaluatorKind>,
    /// Directory for `results.jsonl` (one line per evaluation, written as it finishes),
    /// `checkpoint.json` (after every iteration) and `store/data_storage_<time>.csv` (the seed's
    /// results table); created if missing. Default: a new `llm-perf-runs/tune-<name>-<time>`
    /// (under `$LLM_PERF_RUNS_DIR` when set), printed so the run can be resumed.
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
    /// `--evaluator model`: the predictors file (`llm-perf predict train --out`).
    #[arg(long, value_name = "FILE")]
    predictor: Option<PathBuf>,
    /// `--evaluator sim`: a calibration from `llm-perf calibrate` applied to the
    /// `[simulator]` roofline cost model.
    #[arg(long, value_name = "calibrated.json")]
    cost_model: Option<PathBuf>,
    /// `--evaluator model`: the configuration in the predictors file.
    #[arg(long, value_name = "NAME")]
    predictor_config: Option<String>,
    /// Engine section of the seed config to tune (`mindie`, `vllm`, `vllm_ascend`); default: the
    /// `[optimizer_engine]` choice, else the first section present.
    #[arg(long)]
    engine: Option<String>,
    /// Benchmark section (`ais_bench`, `vllm_benchmark`); default as for `--engine`.
    #[arg(long)]
    benchmark: Option<String>,
    /// The engine's own configuration file (MindIE `config.json`), overriding `config_path`.
    #[arg(long, value_name = "FILE")]
    engine_config: Option<PathBuf>,
    /// AISBench's model task file (`model_config`, normally found with `ais_bench --search`).
    #[arg(long, value_name = "FILE")]
    benchmark_config: Option<PathBuf>,
    /// Print the config diff and command lines of the first candidate (the fields' default
    /// values) without launching anything.
    #[arg(long)]
    dry_run: bool,
    /// Theory-guided bound (seed MindIE files): the model's HF `config.json` (default: the
    /// MindIE config's `modelWeightPath`/config.json).
    #[arg(long, value_name = "FILE")]
    model_config: Option<PathBuf>,
    /// Theory-guided bound: recorded device memory, the output of `npu-smi info -t usages -i 0
    /// -c 0` or of `nvidia-smi --query-gpu=memory.total,memory.used --format=csv`.
    #[arg(long, value_name = "FILE")]
    device_memory: Option<PathBuf>,
    /// Theory-guided bound: the default run's token statistics AVG_IN,MAX_IN,MAX_OUT (AisBench
    /// InputTokens average and max, OutputTokens max).
    #[arg(long, value_name = "AVG_IN,MAX_IN,MAX_OUT", value_parser = crate::tune_seed::parse_stats)]
    theory_stats: Option<[f64; 3]>,
    /// Seed of the swarm (the seed's config files carry none).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How many of the best configurations to list.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write an offline HTML report: best configuration, convergence, Pareto front.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Distributed PSO: evaluate each iteration's particles as one array job of a cluster
    /// scheduler.
    #[command(flatten)]
    cluster: crate::tune_cluster::ClusterArgs,
}

/// What builds a run's evaluator: the flags that choose and configure it, as given (paths
/// relative to the working directory). The driver of a distributed run hands it to every task
/// (`llm-perf tune-task`), which builds the very same evaluator with [`build_evaluator`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvaluatorSpec {
    /// The evaluator (resolved: a seed file's default is `benchmark`).
    pub kind: EvaluatorKind,
    /// The tuning config.
    pub config: PathBuf,
    /// `--jobs`.
    pub jobs: Option<usize>,
    /// `--cost-model`.
    pub cost_model: Option<PathBuf>,
    /// `--predictor`.
    pub predictor: Option<PathBuf>,
    /// `--predictor-config`.
    pub predictor_config: Option<String>,
    /// `--engine`.
    pub engine: Option<String>,
    /// `--benchmark`.
    pub benchmark: Option<String>,
    /// `--engine-config`.
    pub engine_config: Option<PathBuf>,
    /// `--benchmark-config`.
    pub benchmark_config: Option<PathBuf>,
}

impl TuneArgs {
    /// Whether `--scheduler` was given (a distributed run).
    pub fn distributed(&self) -> bool {
        self.cluster.is_distributed()
    }
}

impl EvaluatorSpec {
    fn of(args: &TuneArgs, kind: EvaluatorKind) -> Self {
        Self {
            kind,
            config: args.config.clone(),
            jobs: args.jobs,
            cost_model: args.cost_model.clone(),
            predictor: args.predictor.clone(),
            predictor_config: args.predictor_config.clone(),
            engine: args.engine.clone(),
            benchmark: args.benchmark.clone(),
            engine_config: args.engine_config.clone(),
            benchmark_config: args.benchmark_config.clone(),
        }
    }
}

/// The evaluator `spec` describes: the code path of a local `llm-perf tune`, also run by each
/// task of a distributed one.
pub fn build_evaluator(spec: &EvaluatorSpec) -> Result<Box<dyn Evaluator>> {
    Ok(match spec.kind {
        EvaluatorKind::Sim | EvaluatorKind::Model => {
            refuse_simulation_config(&spec.config)?;
            let config = TuneConfig::from_path(&spec.config)?;
            Box::new(sim_evaluator(spec, &config)?)
        }
        EvaluatorKind::Benchmark => {
            let seed = SeedConfig::from_path(&spec.config)?;
            let (engine, bench) = choose_sections(&seed, spec)?;
            let (engine_impl, bench_impl, _) = engine_and_benchmark(&seed, spec, &engine, &bench)?;
            let runner = Arc::new(SystemRunner::new());
            // The evaluation in flight fails, its guard restores the engine's files, and the
            // remaining candidates fail at once: the run ends with everything recorded.
            crate::interrupt::stop_children_on_ctrl_c(
                Arc::clone(&runner),
                "stopping the service; the remaining candidates are recorded as failed",
                || {},
            );
            let evaluation = BenchmarkEvaluation::new(engine_impl, bench_impl, runner);
            Box::new(BenchmarkEvaluator::new(evaluation))
        }
    })
}

/// The simulator evaluator of `--evaluator sim|model` for the tuning file `config`.
fn sim_evaluator(spec: &EvaluatorSpec, config: &TuneConfig) -> Result<SimEvaluator> {
    let jobs = spec.jobs.or(config.run.jobs).unwrap_or(1);
    let mut sim_config = config.sim_config_unchecked()?;
    // `kind = "trace_file"` arrivals name files relative to the tuning file.
    let base = spec
        .config
        .parent()
        .unwrap_or_else(|| std::path::Path::new("."));
    let in_simulator = || format!("{}: [simulator]", spec.config.display());
    llm_perf::resolve_trace_files(&mut sim_config, base).with_context(in_simulator)?;
    llm_perf::resolve_model_configs(&mut sim_config, base).with_context(in_simulator)?;
    if let Some(file) = &spec.cost_model {
        let Some(cal) = crate::validate_cmd::calibration_file(file)? else {
            bail!(
                "--cost-model {}: not a calibration file (`llm-perf calibrate --out`); \
                 a learned step-time model goes with --evaluator model --predictor",
                file.display()
            );
        };
        let note = crate::validate_cmd::apply_calibration(&cal, file, &mut sim_config)?;
        let _ = writeln!(std::io::stderr(), "{note}");
    }
    let mut evaluator = SimEvaluator::new(&sim_config)
        .with_context(in_simulator)?
        .jobs(jobs);
    if spec.kind == EvaluatorKind::Model {
        let (Some(file), Some(name)) = (&spec.predictor, &spec.predictor_config) else {
            bail!("--evaluator model needs --predictor FILE and --predictor-config NAME");
        };
        evaluator = evaluator.with_cost_model(crate::predict_cmd::step_model(file, name)?);
    }
    Ok(evaluator)
}

/// An engine, a benchmark and the hint naming the engine section.
type EngineAndBenchmark = (Box<dyn Engine>, Box<dyn Benchmark>, String);

/// The engine and benchmark of a seed config's sections `engine` and `bench`, and the hint
/// that says which engine section (and file) errors are about.
fn engine_and_benchmark(
    seed: &SeedConfig,
    spec: &EvaluatorSpec,
    engine: &str,
    bench: &str,
) -> Result<EngineAndBenchmark> {
    let registry = Registry::with_builtins();
    let engine_section = section(seed, engine, "config_path", spec.engine_config.as_deref());
    let bench_section = section(
        seed,
        bench,
        "model_config",
        spec.benchmark_config.as_deref(),
    );
    // Which engine and files were used, for errors about a missing one.
    let others: Vec<&str> = ["mindie", "vllm_ascend", "vllm"]
        .into_iter()
        .filter(|n| *n != engine && seed.raw.contains_key(*n))
        .collect();
    let mut hint = format!(
        "tuning the [{engine}] engine section (set its `config_path`, or give \
         --engine-config FILE)"
    );
    if !others.is_empty() {
        hint.push_str(&format!(
            "; the file also has [{}]: --engine NAME",
            others.join("], [")
        ));
    }
    let engine_impl = registry
        .engine(engine, &engine_section)
        .with_context(|| hint.clone())?;
    let bench_impl = registry.benchmark(bench, &bench_section)?;
    Ok((engine_impl, bench_impl, hint))
}

/// Runs `llm-perf tune`.
pub fn tune(args: &TuneArgs) -> Result<String> {
    if args.resume && args.out.is_none() {
        bail!(
            "--resume needs --out DIR, the directory of the run to continue (a run started \
             without --out printed its directory)"
        );
    }
    // flag errors first, before any file is read
    let cluster = crate::tune_cluster::Cluster::from_args(&args.cluster)?;
    let kind = match args.evaluator {
        Some(k) => k,
        None => default_evaluator(&args.config)?,
    };
    let spec = EvaluatorSpec::of(args, kind);
    let mut stages: Option<SeedStages> = None;
    // The driver of a distributed run builds the simulator too (an invalid [simulator] fails
    // here, not in every task), but no engine or benchmark: those run on the cluster's nodes.
    // A handle on the simulator evaluator (its clones share their counters), to say at the
    // end how many evaluations reused an equivalent configuration's run.
    let mut sim_handle: Option<SimEvaluator> = None;
    let (tuner, local, iterations): (Tuner, Option<Box<dyn Evaluator>>, usize) = match kind {
        EvaluatorKind::Sim | EvaluatorKind::Model => {
            refuse_simulation_config(&args.config)?;
            let config = TuneConfig::from_path(&args.config)?;
            let evaluator = sim_evaluator(&spec, &config)?;
            sim_handle = Some(evaluator.clone());
            let mut tuner = Tuner::new(
                config.search_space()?,
                config.pso.clone(),
                config.fitness.clone(),
            )
            .memoise(!config.run.reevaluate_duplicates);
            if let Some(max) = config.run.max_evaluations {
                tuner = tuner.max_evaluations(max);
            }
            if let Some(settings) = &config.surrogate {
                tuner = tuner.surrogate(settings.clone())?;
            }
            (tuner, Some(Box::new(evaluator)), config.pso.iters)
        }
        EvaluatorKind::Benchmark => {
            let seed = SeedConfig::from_path(&args.config)?;
            let (engine, bench) = choose_sections(&seed, &spec)?;
            // Every seed key is used or named as ignored, as the simulator's seed loader does.
            {
                let mut err = std::io::stderr().lock();
                for line in seed.decisions(&engine, &bench) {
                    let _ = writeln!(err, "{}: {line}", args.config.display());
                }
            }
            let mut space = seed.search_space(&engine, Some(&bench), true, SeedCompat::Seed)?;
            let engine_section =
                section(&seed, &engine, "config_path", args.engine_config.as_deref());
            let engine_file = engine_section
                .get("config_path")
                .and_then(toml::Value::as_str)
                .map(PathBuf::from);
            let flags = TheoryFlags {
                model_config: args.model_config.as_deref(),
                device_memory: args.device_memory.as_deref(),
                stats: args.theory_stats,
            };
            let bound = crate::tune_seed::theory_bound(
                &seed,
                &engine,
                engine_file.as_deref(),
                &flags,
                &mut space,
            )?;
            {
                let mut err = std::io::stderr().lock();
                for line in bound {
                    let _ = writeln!(err, "{line}");
                }
            }
            if args.dry_run {
                let (engine_impl, bench_impl, hint) =
                    engine_and_benchmark(&seed, &spec, &engine, &bench)?;
                let first = first_candidate(&space)?;
                let plan = dry_run(
                    engine_impl.as_ref(),
                    bench_impl.as_ref(),
                    &backend_config(&first),
                    &Pass::default(),
                )
                .with_context(|| hint)?;
                return Ok(plan.render());
            }
            let local = match cluster {
                Some(_) => None,
                None => Some(build_evaluator(&spec)?),
            };
            let params = seed.pso_params(args.seed)?;
            let iters = params.iters;
            let fitness = seed.fitness()?;
            stages = Some(SeedStages {
                store: seed.store_settings()?,
                fine_tune: seed.fine_tune_settings()?,
                fitness: fitness.clone(),
                unfrozen: seed.search_space(&engine, Some(&bench), false, SeedCompat::Seed)?,
            });
            let mut tuner = Tuner::new(space, params, fitness);
            if let Some(settings) = seed.surrogate_settings()? {
                tuner = tuner.surrogate(settings)?;
            }
            (tuner, local, iters)
        }
    };
    let mut tuner = tuner.record_timing(args.timing).resume(args.resume);
    if let Some(n) = args.stop_after {
        tuner = tuner.stop_after(n);
    }
    let out_dir = match &args.out {
        Some(dir) => dir.clone(),
        None => {
            let dir = default_out_dir(&args.config);
            let _ = writeln!(
                std::io::stderr(),
                "results, checkpoint and results table in {} (continue an interrupted run: \
                 llm-perf tune {} --out {} --resume)",
                dir.display(),
                args.config.display(),
                dir.display()
            );
            dir
        }
    };
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create the output directory {}", out_dir.display()))?;
    tuner = tuner
        .results_file(out_dir.join("results.jsonl"))
        .checkpoint_file(out_dir.join("checkpoint.json"));
    let space = tuner.space().clone();
    let mut evaluator: Box<dyn Evaluator> = match (cluster, local) {
        (Some(cluster), _) => Box::new(cluster.evaluator(&out_dir, &spec, args.resume)?),
        (None, Some(local)) => local,
        (None, None) => bail!("no evaluator for this run"),
    };

    // Progress on stderr, one line per iteration, so stdout stays the report.
    let mut progress = |s: &IterationSummary| {
        let predicted = if s.predicted > 0 {
            format!(", {} predicted by the surrogate, not run", s.predicted)
        } else {
            String::new()
        };
        let _ = writeln!(
            std::io::stderr(),
            "iteration {}/{iterations}: best cost {} after {} evaluations ({} cached{predicted})",
            s.iteration + 1,
            num(s.best_cost, 6),
            s.evaluations,
            s.cached
        );
    };
    let report = tuner.run_observed(evaluator.as_mut(), &mut progress)?;
    let shared = sim_handle.map_or(0, |e| e.shared_evaluations());
    if shared > 0 {
        let _ = writeln!(
            std::io::stderr(),
            "{shared} of {} evaluations reused the run of a configuration that differs only in a \
             max_batch_size that never held a request back (the same results, not simulated again)",
            report.evaluations
        );
    }
    if !report.records.is_empty() && report.records.iter().all(|r| !r.fitness.is_finite()) {
        let first = report
            .records
            .iter()
            .find_map(|r| r.error.clone())
            .unwrap_or_else(|| "every candidate missed a required figure".to_owned());
        bail!(
            "none of the {} evaluations succeeded (all are in the results file); the first error: {first}",
            report.records.len()
        );
    }
    // The seed's stages after the swarm: top-k fine-tuning of the load, the final choice.
    let fine = match &stages {
        Some(st) if report.finished => st.fine_tune(&report, evaluator.as_mut())?,
        _ => None,
    };
    let store_dir = stages
        .as_ref()
        .and_then(|st| st.store.store_dir.clone())
        .unwrap_or_else(|| out_dir.join("store"));
    let files = crate::tune_seed::write_store(&store_dir, &report, &space, fine.as_ref())?;
    for f in &files {
        let _ = writeln!(std::io::stderr(), "wrote {}", f.display());
    }
    if let Some(path) = &args.report {
        let html = crate::report_cmd::tuning_report_of(
            format!("Tuning with {}", args.config.display()),
            llm_perf_server::tune_summary_of(&report.records),
        );
        crate::report_cmd::write_report(path, &html)?;
        eprintln!("wrote {}", path.display());
    }
    if args.json {
        let mut json = report_json(&report, args.top);
        if let (Some(f), Some(st)) = (&fine, &stages) {
            json["fine_tune"] = serde_json::to_value(f)?;
            json["final_choice"] = serde_json::to_value(f.final_choice(&st.fitness))?;
        }
        return Ok(serde_json::to_string_pretty(&json)? + "\n");
    }
    let mut text = render(&report, args.top);
    if let (Some(f), Some(st)) = (&fine, &stages) {
        text.push_str(&crate::tune_seed::render_fine_tune(f, &st.fitness));
    }
    Ok(text)
}

fn report_json(report: &TuneReport, top: usize) -> serde_json::Value {
    let pareto = pareto(report);
    serde_json::json!({
        "best_cost": report.best_cost,
        "best_config": report.best_config.to_map(),
        "iterations": report.iterations,
        "evaluations": report.total_evaluations,
        "predicted": report.predicted,
        "finished": report.finished,
        "top": report.top_k(top),
        "pareto_front": pareto
            .iter()
            .map(|(r, same)| serde_json::json!({ "record": r, "same_figures": same }))
            .collect::<Vec<_>>(),
    })
}

/// The Pareto front (max output tok/s, min p99 TTFT, min TPOT) of everything evaluated,
/// fastest first; configurations with the very same three figures are one point, shown by
/// the first evaluated with the number of others that share it.
fn pareto(report: &TuneReport) -> Vec<(&Record, usize)> {
    let key = |r: &Record| {
        let i = r.index.as_ref();
        [
            i.and_then(|i| i.output_throughput()),
            i.and_then(|i| i.ttft_p99_ms().or_else(|| i.ttft_ms())),
            i.and_then(|i| i.tpot_ms()),
        ]
        .map(|v| v.map(f64::to_bits))
    };
    let mut front: Vec<(&Record, usize)> = Vec::new();
    for r in pareto_front(&report.records)
        .into_iter()
        .filter_map(|i| report.records.get(i))
    {
        match front.iter_mut().find(|(f, _)| key(f) == key(r)) {
            Some((_, same)) => *same += 1,
            None => front.push((r, 0)),
        }
    }
    let g = |r: &Record| r.index.as_ref().and_then(|i| i.output_throughput());
    front.sort_by(|(a, _), (b, _)| g(b).unwrap_or(0.0).total_cmp(&g(a).unwrap_or(0.0)));
    front
}

fn render(report: &TuneReport, top: usize) -> String {
    let mut out = format!(
        "{} iterations, {} evaluations{}{}; best cost {}\n\n",
        report.iterations,
        report.total_evaluations,
        if report.predicted > 0 {
            format!(
                " ({} more particles predicted by the surrogate, not run)",
                report.predicted
            )
        } else {
            String::new()
        },
        if report.finished {
            ""
        } else {
            " (stopped early: resume with --resume)"
        },
        num(report.best_cost, 6)
    );
    let best: Vec<&Record> = report.top_k(top);
    out.push_str(&records_table("rank", &best, |i, _| (i + 1).to_string()));
    let front = pareto(report);
    if !front.is_empty() {
        out.push_str(&format!(
            "\nPareto front of the {} evaluations (max out tok/s, min p99 TTFT, min TPOT):\n",
            report
                .records
                .iter()
                .filter(|r| !r.cached && r.real)
                .count()
        ));
        let records: Vec<&Record> = front.iter().map(|(r, _)| *r).collect();
        out.push_str(&records_table(
            "iter.particle",
            &records,
            |i, r| match front[i].1 {
                0 => format!("{}.{}", r.iteration, r.particle),
                n => format!("{}.{} (+{n} alike)", r.iteration, r.particle),
            },
        ));
    }
    out
}

/// A table of `records`: a label column, the cost, the knobs (of the first record) and the
/// measured figures.
fn records_table(
    label: &str,
    records: &[&Record],
    label_of: impl Fn(usize, &Record) -> String,
) -> String {
    let knobs: Vec<String> = records
        .first()
        .map(|r| r.config.keys().cloned().collect())
        .unwrap_or_default();
    let mut header = vec![label.to_owned(), "cost".to_owned()];
    header.extend(knobs.iter().cloned());
    header.extend(["out tok/s", "TTFT ms", "p99 TTFT ms", "TPOT ms", "success"].map(String::from));
    let mut t = Table::new(&header);
    for (i, r) in records.iter().enumerate() {
        let mut row = vec![label_of(i, r), num(r.fitness, 6)];
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
        row.push(opt(idx.and_then(|i| i.ttft_p99_ms())));
        row.push(opt(idx.and_then(|i| i.tpot_ms())));
        row.push(opt(idx.and_then(|i| i.success_rate())));
        t.row(row);
    }
    t.render()
}

/// The engine and benchmark sections to use: the flags, else `[optimizer_engine]`, else the first
/// section present.
/// The seed's sections that our tuning TOML does not have: their presence marks a seed
/// (LLMServingTuner / msserviceprofiler) `config.toml`.
const SEED_SECTIONS: [&str; 8] = [
    "mindie",
    "vllm",
    "vllm_ascend",
    "ais_bench",
    "vllm_benchmark",
    "pso_options",
    "cbo",
    "data_storage",
];

/// `benchmark` for a seed `config.toml` (one of [`SEED_SECTIONS`] and no `[simulator]`), said
/// on stderr; `sim` otherwise (and for a file that does not parse: the sim path reports it).
fn default_evaluator(path: &std::path::Path) -> Result<EvaluatorKind> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(EvaluatorKind::Sim);
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return Ok(EvaluatorKind::Sim);
    };
    let seed: Vec<&str> = SEED_SECTIONS
        .into_iter()
        .filter(|k| table.contains_key(*k))
        .collect();
    if seed.is_empty() || table.contains_key("simulator") {
        return Ok(EvaluatorKind::Sim);
    }
    let _ = writeln!(
        std::io::stderr(),
        "{}: a seed tuner config ([{}]): evaluating candidates with real benchmarks \
         (--evaluator benchmark); --evaluator sim needs our [simulator] layout",
        path.display(),
        seed.join("], [")
    );
    Ok(EvaluatorKind::Benchmark)
}

/// A simulation config (YAML or JSON) given to `tune`: say what it is and which command
/// takes it, instead of a TOML syntax error.
fn refuse_simulation_config(path: &std::path::Path) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let looks_like_sim = text.parse::<toml::Table>().is_err()
        && (matches!(ext.as_deref(), Some("yaml" | "yml" | "json"))
            || text.trim_start().starts_with('{'))
        && ["cluster", "workload", "frameworks_to_test", "simulation"]
            .iter()
            .any(|k| text.contains(k));
    if looks_like_sim {
        bail!(
            "{}: a simulation config (YAML/JSON), not a tuning config: `llm-perf simulate {}` \
             runs it; `tune` takes a TOML with [pso], [fitness], [[field]] and a [simulator] \
             section holding such a config (see samples/pso/sim_tune.toml), or a seed \
             config.toml",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

fn choose_sections(seed: &SeedConfig, args: &EvaluatorSpec) -> Result<(String, String)> {
    let (engine_default, bench_default) = seed.optimizer_engine();
    let present = |names: &[&str]| {
        names
            .iter()
            .find(|n| seed.raw.contains_key(**n))
            .map(|n| (*n).to_owned())
    };
    let engine = args
        .engine
        .clone()
        .or(engine_default)
        .or_else(|| present(&["mindie", "vllm_ascend", "vllm"]));
    let bench = args
        .benchmark
        .clone()
        .or(bench_default)
        .or_else(|| present(&["ais_bench", "vllm_benchmark"]));
    match (engine, bench) {
        (Some(e), Some(b)) => Ok((e, b)),
        (None, _) => bail!("no engine section in the config: give --engine"),
        (_, None) => bail!("no benchmark section in the config: give --benchmark"),
    }
}

/// An engine or benchmark section as the registry reads it: the section's keys and those of
/// its `command` table (the seed's layout), without the tuned `target_field`s; a file given on
/// the command line (`file_key`: the engine's `config_path`, AISBench's `model_config`) wins.
fn section(
    seed: &SeedConfig,
    name: &str,
    file_key: &str,
    file: Option<&std::path::Path>,
) -> toml::Value {
    let mut table = seed
        .raw
        .get(name)
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or_default();
    table.remove("target_field");
    if let Some(toml::Value::Table(command)) = table.remove("command") {
        table.extend(command);
    }
    if let Some(path) = file {
        table.insert(
            file_key.to_owned(),
            toml::Value::String(path.display().to_string()),
        );
    }
    toml::Value::Table(table)
}

/// `$LLM_PERF_RUNS_DIR` (else `llm-perf-runs`) `/tune-<config stem>-<UTC time>`.
fn default_out_dir(config: &std::path::Path) -> PathBuf {
    let base = std::env::var_os("LLM_PERF_RUNS_DIR")
        .map_or_else(|| PathBuf::from("llm-perf-runs"), PathBuf::from);
    let stem = config
        .file_stem()
        .map_or_else(|| "run".into(), |s| s.to_string_lossy().into_owned());
    let stamp = llm_perf::pso::store::utc_stamp(std::time::SystemTime::now());
    let mut dir = base.join(format!("tune-{stem}-{stamp}"));
    // two runs started in the same second get their own directories
    let mut n = 2;
    while dir.exists() {
        dir = base.join(format!("tune-{stem}-{stamp}-{n}"));
        n += 1;
    }
    dir
}

/// The first candidate of a dry run: every field at its configured default (`value`), or at the
/// middle of its range when it has none.
fn first_candidate(space: &SearchSpace) -> Result<llm_perf::pso::DecodedConfig> {
    let middle = vec![0.5; space.dimensions()];
    let defaults: serde_json::Map<String, serde_json::Value> = space
        .dimension_fields()
        .filter_map(|f| f.value.clone().map(|v| (f.name.clone(), v)))
        .collect();
    let position = if defaults.len() == space.dimensions() {
        space.encode(&defaults).unwrap_or(middle)
    } else {
        middle
    };
    Ok(space.decode(&position)?)
}
