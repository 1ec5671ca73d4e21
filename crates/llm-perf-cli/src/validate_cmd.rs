//! `llm-perf validate` and `llm-perf calibrate`: the simulator against the user's measured
//! runs, and the roofline knobs fitted to them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use llm_perf::calibrate::{CalibrateOptions, Calibration, calibrate};
use llm_perf::readers::{MeasuredRun, RunServing, detect_run, read_engine_config, read_runs};
use llm_perf::validate::{
    METRICS, Overheads, RunValidation, ValidateOptions, ValidationReport, validate_with,
};
use llm_perf_server::{Report, Section};

use crate::table::{Table, num};

/// `--overheads`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OverheadsArg {
    /// Front-end delays for runs measured by an HTTP client, none for in-engine runs.
    Auto,
    /// None.
    None,
    /// Front-end delays always (15.563 ms before scheduling, 0.777 ms after the last token).
    Frontend,
    /// BLIS's overheads: the front-end delays plus 45.9 µs per sampled token.
    Blis,
}

/// Options shared by `validate` and `calibrate`: which runs and how to simulate them.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Measured runs: inference-perf run folders, BLIS replay files, LLMServingSim bench
    /// folders, GuideLLM JSON reports, `vllm bench serve --save-detailed` JSON. A folder that
    /// is not a run itself is searched one level down (e.g. `default_args/`).
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// A YAML file with the serving configuration the runs' files lack (`model`,
    /// `model_config`, `accelerator`, `dtype`, `tensor_parallel`, `max_num_seqs`,
    /// `max_num_batched_tokens`, `max_model_len`, `enable_prefix_caching`, `num_gpu_blocks`,
    /// `gpu_memory_utilization`, …); its values override the runs'.
    #[arg(long, value_name = "FILE.yaml")]
    pub engine_config: Option<PathBuf>,
    /// Accelerator of runs that do not record theirs (catalogue name, e.g. `H100`).
    #[arg(long, value_name = "NAME")]
    pub accelerator: Option<String>,
    /// Serving-stack overheads outside the engine's steps.
    #[arg(long, value_enum, default_value = "auto")]
    pub overheads: OverheadsArg,
    /// Seeds per run with random arrivals (metrics are medians over seeds).
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Do not simulate prefix caching even where the run had it.
    #[arg(long)]
    pub no_prefix_caching: bool,
    /// Fraction of failed requests above which a run is reported as overloaded.
    #[arg(long, default_value_t = 0.1)]
    pub overload_failures: f64,
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Arguments of `llm-perf validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// `roofline` (default efficiencies) or a calibration file from `llm-perf calibrate`.
    #[arg(long, value_name = "roofline|FILE.json", default_value = "roofline")]
    pub cost_model: String,
    /// Print JSON: `{runs:[{name, metrics:{ttft_mean:{real,sim,err},…}}], median:{…}}`.
    #[arg(long)]
    pub json: bool,
    /// Also write an offline HTML report (table and parity charts).
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Also write each run's simulation config (`<run>.json`, seed 0) into DIR, to rerun or
    /// study with `llm-perf simulate`.
    #[arg(long, value_name = "DIR")]
    pub save_configs: Option<PathBuf>,
}

/// Arguments of `llm-perf calibrate`.
#[derive(Args, Debug)]
pub struct CalibrateArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Where to write the calibration (a cost-model file for `simulate`, `tune`, `validate`).
    #[arg(long, value_name = "calibrated.json")]
    pub out: PathBuf,
    /// Nelder–Mead iterations per fit.
    #[arg(long, default_value_t = 60)]
    pub iterations: u64,
    /// Seeds per run during the fit.
    #[arg(long, default_value_t = 1)]
    pub fit_seeds: u64,
    /// Skip the leave-one-run-out validation.
    #[arg(long)]
    pub no_leave_one_out: bool,
    /// Print the calibration JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

impl RunArgs {
    fn options(&self) -> Result<ValidateOptions> {
        if !(self.overload_failures > 0.0 && self.overload_failures <= 1.0) {
            bail!(
                "--overload-failures: {} is not within (0, 1]",
                self.overload_failures
            );
        }
        let mut o = ValidateOptions {
            accelerator: self.accelerator.clone(),
            overheads: match self.overheads {
                OverheadsArg::Auto => Overheads::Auto,
                OverheadsArg::None => Overheads::None,
                OverheadsArg::Frontend => Overheads::Frontend,
                OverheadsArg::Blis => Overheads::Blis,
            },
            seeds: self.seeds.max(1),
            prefix_caching: !self.no_prefix_caching,
            overload_failures: self.overload_failures,
            ..ValidateOptions::default()
        };
        if let Some(t) = self.threads {
            o.threads = t.max(1);
        }
        Ok(o)
    }

    /// Reads every run (expanding folders of runs) and applies `--engine-config`.
    fn read(&self) -> Result<Vec<MeasuredRun>> {
        let overrides: Option<RunServing> = match &self.engine_config {
            Some(p) => Some(read_engine_config(p)?),
            None => None,
        };
        let mut runs = Vec::new();
        for path in &self.runs {
            for mut run in read_expanding(path)? {
                // `read_engine_config` resolved a relative `model_config` against its folder.
                if let Some(o) = &overrides {
                    run.serving.merge(o);
                }
                runs.push(run);
            }
        }
        Ok(runs)
    }
}

/// The runs of `path`; a folder that is not a run is searched one level down.
fn read_expanding(path: &Path) -> Result<Vec<MeasuredRun>> {
    if !path.exists() {
        bail!("{}: no such file or folder", path.display());
    }
    if !path.is_dir() || detect_run(path).is_ok() {
        return Ok(read_runs(path)?);
    }
    let mut children: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot list {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| detect_run(p).is_ok())
        .collect();
    children.sort();
    if children.is_empty() {
        // Report why the folder itself is not a run.
        return Ok(read_runs(path)?);
    }
    let mut runs: Vec<MeasuredRun> = Vec::new();
    for c in children {
        // A replay and its ground-truth file are one run, found twice.
        for run in read_runs(&c)? {
            if !runs
                .iter()
                .any(|r| r.layout == run.layout && r.source == run.source && r.name == run.name)
            {
                runs.push(run);
            }
        }
    }
    Ok(runs)
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{} %", num(100.0 * x, 3))
    } else {
        "–".into()
    }
}

/// Column titles of the per-run table: the run, then real / sim and error per metric.
fn table_head() -> Vec<String> {
    let mut head = vec!["run".to_owned()];
    for m in METRICS {
        head.push(format!("{m} real / sim (ms)"));
        head.push("err".into());
    }
    head
}

/// One run's cells under [`table_head`].
fn run_cells(r: &RunValidation) -> Vec<String> {
    let mut row = vec![format!(
        "{}{}",
        r.name,
        if r.overloaded { " (overloaded)" } else { "" }
    )];
    for m in METRICS {
        match r.metrics.get(m) {
            Some(c) => {
                row.push(format!("{} / {}", num(c.real, 4), num(c.sim, 4)));
                row.push(pct(c.err));
            }
            None => row.extend(["–".to_owned(), "–".to_owned()]),
        }
    }
    row
}

/// The per-run table, with what was simulated on what.
fn run_table(runs: &[RunValidation]) -> Table {
    let mut head = table_head();
    head.push("simulated".into());
    let mut t = Table::new(&head);
    for r in runs {
        let mut row = run_cells(r);
        row.push(format!("{} on {}", r.model, r.accelerator));
        t.row(row);
    }
    t
}

fn median_line(label: &str, n: usize, m: &std::collections::BTreeMap<String, f64>) -> String {
    let parts: Vec<String> = METRICS
        .iter()
        .filter_map(|k| m.get(*k).map(|v| format!("{k} {}", pct(*v))))
        .collect();
    format!("{label} ({n} runs): {}\n", parts.join(", "))
}

fn render(report: &ValidationReport, cost_model: &str) -> String {
    let mut out = format!(
        "validate: {} runs on {cost_model}, {} ms\n\n",
        report.runs.len(),
        num(report.wall_ms, 4)
    );
    out.push_str(&run_table(&report.runs).render());
    out.push('\n');
    out.push_str(&median_line(
        "median error, runs not overloaded",
        report.median_runs,
        &report.median,
    ));
    let bad = report.runs.iter().filter(|r| r.overloaded).count();
    if bad > 0 {
        out.push_str(&median_line(
            "median error, overloaded runs (reported apart)",
            bad,
            &report.overloaded_median,
        ));
    }
    let _ = writeln!(out, "itl = {}", report.itl_definition);
    out.push_str("\nnotes:\n");
    for r in &report.runs {
        let _ = writeln!(
            out,
            "  {}: {}{}",
            r.name,
            r.notes.join("; "),
            if r.preemptions > 0 {
                format!("; {} preemptions simulated", r.preemptions)
            } else {
                String::new()
            }
        );
    }
    out
}

fn report_of(report: &ValidationReport, cost_model: &str) -> Report {
    let head = table_head();
    let table_rows = report.runs.iter().map(run_cells).collect();
    let notes = vec![
        median_line(
            "median error, runs not overloaded",
            report.median_runs,
            &report.median,
        ),
        format!("itl = {}", report.itl_definition),
    ];
    Report {
        title: format!("llm-perf validate: {} runs", report.runs.len()),
        subtitle: format!("Simulated ({cost_model}) against measured."),
        sections: vec![Section {
            heading: "Simulated vs measured".into(),
            notes,
            rows: report
                .runs
                .iter()
                .map(|r| (r.name.clone(), r.notes.join("; ")))
                .collect(),
            table_head: head,
            table_rows,
            charts: llm_perf_server::charts::fidelity::parity_charts(report),
        }],
    }
}

/// The calibration in `path` when it is one (`format: llm-perf-calibration`), `None` for any
/// other file (e.g. a learned step-time model).
///
/// # Errors
/// A calibration file that cannot be read or has out-of-range knobs.
pub fn calibration_file(path: &Path) -> Result<Option<Calibration>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let tagged = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("format").and_then(|f| f.as_str()).map(str::to_owned));
    if tagged.as_deref() == Some(llm_perf::calibrate::CALIBRATION_FORMAT) {
        return Ok(Some(Calibration::read(path)?));
    }
    Ok(None)
}

/// Applies `--cost-model calibrated.json` to a simulation config; a note for stderr.
///
/// # Errors
/// The config's cost model is not a roofline, or its accelerator is unknown.
pub fn apply_calibration(
    cal: &Calibration,
    path: &Path,
    config: &mut llm_perf::sim::SimConfig,
) -> Result<String> {
    match cal.apply(config)? {
        Some(acc) => Ok(format!(
            "calibrated roofline from {} for {acc}{}",
            path.display(),
            if cal.accelerators.contains_key(&acc) {
                ""
            } else {
                " (not calibrated for this accelerator: shared host-side knobs only)"
            }
        )),
        None => bail!(
            "{}: a calibration applies to a roofline cost model; this config's is `kind: inferno`",
            path.display()
        ),
    }
}

/// Runs `llm-perf validate`.
pub fn validate(args: &ValidateArgs) -> Result<String> {
    let opts = args.run.options()?;
    let calibration = match args.cost_model.as_str() {
        "roofline" => None,
        file => Some(Calibration::read(Path::new(file))?),
    };
    let runs = args.run.read()?;
    if let Some(dir) = &args.save_configs {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for run in &runs {
            let knobs = calibration
                .as_ref()
                .map(|c| c.knobs_for(&llm_perf::validate::accelerator_of_run(run, &opts)));
            let cfg = llm_perf::validate::simulation_config(run, &opts, knobs.as_ref())?;
            let file = dir.join(format!("{}.json", run.name.replace(['/', '\\', ' '], "_")));
            let text = serde_json::to_string_pretty(&cfg)? + "\n";
            crate::report_cmd::write_atomically(&file, text.as_bytes())?;
        }
    }
    let report = validate_with(&runs, &opts, calibration.as_ref())?;
    let label = if calibration.is_some() {
        format!("roofline calibrated by {}", args.cost_model)
    } else {
        "roofline (default efficiencies)".to_owned()
    };
    if let Some(path) = &args.report {
        crate::report_cmd::write_report(path, &report_of(&report, &label))?;
    }
    if args.json {
        return Ok(serde_json::to_string_pretty(&report)? + "\n");
    }
    Ok(render(&report, &label))
}

/// Runs `llm-perf calibrate`.
pub fn calibrate_cmd(args: &CalibrateArgs) -> Result<String> {
    let opts = CalibrateOptions {
        validate: args.run.options()?,
        fit_seeds: args.fit_seeds.max(1),
        max_iterations: args.iterations.max(1),
        leave_one_out: !args.no_leave_one_out,
    };
    let runs = args.run.read()?;
    let cal = calibrate(&runs, &opts)?;
    let json = serde_json::to_string_pretty(&cal)? + "\n";
    crate::report_cmd::write_atomically(&args.out, json.as_bytes())?;
    if args.json {
        return Ok(json);
    }
    let mut out = format!(
        "calibrate: {} runs, {} objective evaluations per fit (first fit), {} s in all\n",
        cal.fitted_on.len(),
        cal.fit.evaluations,
        num(cal.fit.wall_s, 3)
    );
    let _ = writeln!(
        out,
        "objective (mean over runs of Σ w·ρ(ln(sim/real)), Cauchy ρ; ttft_mean w 1, itl and e2e_mean w ½): {} at the defaults → {}",
        num(cal.fit.objective_default, 4),
        num(cal.fit.objective, 4)
    );
    for (acc, c) in &cal.accelerators {
        let _ = writeln!(out, "{acc}: {}", serde_json::to_string(c)?);
    }
    let _ = writeln!(out, "shared: {}", serde_json::to_string(&cal.shared)?);
    out.push_str(&median_line(
        "fitted runs, median error",
        cal.fitted_on.len(),
        &cal.training_median,
    ));
    if let Some(l) = &cal.leave_one_run_out {
        out.push_str("\nleave-one-run-out (each run simulated with knobs fitted on the others):\n");
        out.push_str(&run_table(&l.runs).render());
        out.push_str(&median_line(
            "leave-one-run-out median error",
            l.runs.len(),
            &l.median,
        ));
    }
    let _ = writeln!(out, "wrote {}", args.out.display());
    Ok(out)
}
