//! `llm-perf simulate`: run the discrete-event serving simulator on a YAML or JSON config,
//! native or the seed's (LLMPerfOracle), optionally with a learned step-time model.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use clap::Args;
use llm_perf::sim::{
    Progress, ProgressFn, RunOptions, SimConfig, SimError, Simulation, Stats, Summary,
};

use crate::table::{Table, key_values, num};

/// The commented starter config printed by `--example-config` (tested to run as it is).
const EXAMPLE_CONFIG: &str = llm_perf::sim::EXAMPLE_CONFIG_YAML;

/// Arguments of `llm-perf simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Simulation config, YAML (`.yaml`/`.yml`) or JSON (see `perf_sim::SimConfig` for the
    /// schema; unknown keys are errors naming their path). A seed (LLMPerfOracle) config runs
    /// unchanged; what was done with each of its keys is printed to stderr.
    #[arg(required_unless_present = "example_config")]
    pub config: Option<PathBuf>,
    /// Print a commented starter config (YAML) and exit.
    #[arg(long)]
    pub example_config: bool,
    /// Directory for `requests.csv` (one row per request) and `summary.json`; created if missing.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also write `steps.csv` into `--out`: one row per engine step of each replica (start,
    /// end, prefill/decode sequences and tokens, KV blocks in use, waiting, running,
    /// preemptions) — KV-cache and batch use over time.
    #[arg(long, requires = "out")]
    pub steps: bool,
    /// Override the config's master seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the summary JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// A learned step-time model (`llm-perf predict train` output: linear, gbdt, forest or
    /// vidur) used by every replica instead of the config's cost model, or a calibration
    /// from `llm-perf calibrate` applied to the config's roofline cost model.
    #[arg(long, value_name = "MODEL.json")]
    pub cost_model: Option<PathBuf>,
    /// The configuration of the `--cost-model` file to use (needed when it holds several).
    #[arg(long, value_name = "NAME", requires = "cost_model")]
    pub cost_model_config: Option<String>,
    /// A Hugging Face `config.json` giving the architecture of the roofline cost model's
    /// model (any model, not only the catalogue's; `cost_model.model_config` in the config
    /// does the same, relative to the config file).
    #[arg(long, value_name = "config.json")]
    pub model_config: Option<PathBuf>,
    /// Refuse to start when `requests.csv` would be larger than this (bytes, or with a unit:
    /// `500M`, `20G`, `1T`; powers of 1024). Without it, a run is refused only when the
    /// estimate exceeds the free space of the output's file system.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_output: Option<u64>,
    /// Also write an offline HTML report: summary, latency CDFs, batch size and KV-cache use
    /// over time (the run's rows are kept in memory for it).
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

/// A writer that copies everything to a second one (the report's in-memory copy).
struct Tee<A, B>(A, B);

impl<A: Write, B: Write> Write for Tee<A, B> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(buf)?;
        self.1.write_all(&buf[..n])?;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()?;
        self.1.flush()
    }
}

/// Runs `llm-perf simulate`.
pub fn simulate(args: &SimulateArgs) -> Result<String> {
    if args.example_config {
        return Ok(EXAMPLE_CONFIG.to_owned());
    }
    let Some(path) = &args.config else {
        anyhow::bail!("give a config file, or --example-config for a starter one");
    };
    let loaded = SimConfig::load_path(path).map_err(|e| match e {
        // Parse and file errors name the file already.
        SimError::InvalidConfig { .. } => {
            anyhow::Error::new(e).context(format!("in {}", path.display()))
        }
        other => other.into(),
    })?;
    let mut stderr = std::io::stderr().lock();
    for d in &loaded.decisions {
        // A closed stderr is no reason to stop the run.
        let _ = writeln!(stderr, "{d}");
    }
    drop(stderr);
    let mut config = loaded.config;
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    // `kind: trace_file` arrivals name files relative to the config's directory.
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    llm_perf::resolve_trace_files(&mut config, base)
        .with_context(|| format!("in {}", path.display()))?;
    // A model config given on the command line is relative to the working directory.
    if let Some(file) = &args.model_config {
        let llm_perf::sim::CostModelConfig::Roofline { model_config, .. } =
            &mut config.cluster.cost_model
        else {
            anyhow::bail!(
                "--model-config sets the architecture of a roofline cost model; {} uses `kind: inferno`",
                path.display()
            );
        };
        *model_config = Some(std::path::absolute(file).unwrap_or_else(|_| file.clone()));
    }
    llm_perf::resolve_model_configs(&mut config, base)
        .with_context(|| format!("in {}", path.display()))?;
    let calibration = match &args.cost_model {
        Some(file) => crate::validate_cmd::calibration_file(file)?,
        None => None,
    };
    if let (Some(cal), Some(file)) = (&calibration, &args.cost_model) {
        let note = crate::validate_cmd::apply_calibration(cal, file, &mut config)?;
        let _ = writeln!(std::io::stderr(), "{note}");
    }
    let sim = match &args.cost_model {
        Some(file) if calibration.is_none() => {
            let name = model_config_name(file, args.cost_model_config.as_deref())?;
            let model = crate::predict_cmd::step_model(file, &name)
                .with_context(|| format!("--cost-model {}", file.display()))?;
            Simulation::with_cost_model(config, model)
        }
        _ => Simulation::new(config),
    }
    .with_context(|| format!("in {}", path.display()))?;
    // `--out DIR` takes precedence over a seed config's output paths.
    let (csv_path, json_path) = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            (
                Some(dir.join("requests.csv")),
                Some(dir.join("summary.json")),
            )
        }
        None => (
            loaded.outputs.requests_csv.clone(),
            loaded.outputs.summary_json.clone(),
        ),
    };
    if let Some(csv) = &csv_path {
        check_output_size(sim.config(), csv, args.max_output)?;
    }
    // With --report the rows are also kept in memory (steps too, even without --steps).
    let mut report_rows: Vec<u8> = Vec::new();
    let mut report_steps: Vec<u8> = Vec::new();
    let keep = args.report.is_some();
    let steps_file = match (&args.out, args.steps) {
        (Some(dir), true) => {
            let steps_path = dir.join("steps.csv");
            let steps = File::create(&steps_path)
                .with_context(|| format!("cannot create {}", steps_path.display()))?;
            Some(BufWriter::new(steps))
        }
        _ => None,
    };
    let steps: Option<Box<dyn Write + '_>> = match (steps_file, keep) {
        (Some(file), true) => Some(Box::new(Tee(file, &mut report_steps))),
        (Some(file), false) => Some(Box::new(file)),
        (None, true) => Some(Box::new(&mut report_steps)),
        (None, false) => None,
    };
    let options = RunOptions {
        steps,
        progress: progress_bar(),
        cancel: Some(cancel_on_ctrl_c()),
        ..RunOptions::default()
    };
    let sink: Box<dyn Write> = match &csv_path {
        Some(csv_path) => {
            let csv = File::create(parent_made(csv_path)?)
                .with_context(|| format!("cannot create {}", csv_path.display()))?;
            Box::new(BufWriter::new(csv))
        }
        None => Box::new(std::io::sink()),
    };
    let summary = if keep {
        sim.run_with(Tee(sink, &mut report_rows), options)?
    } else {
        sim.run_with(sink, options)?
    };
    clear_progress();
    if summary.warm_up_s > 0.0 && summary.requests.arrived > 0 {
        let c = &summary.requests;
        if c.warm_up == c.arrived {
            // Not an error (the rows are all there), but every figure is empty.
            eprintln!(
                "warning: all {} requests arrived within the warm-up (warm_up_s = {}): the \
                 summary's latency and throughput figures cover no request",
                c.arrived,
                crate::table::num(summary.warm_up_s, 6)
            );
        }
    }
    if let Some(json_path) = &json_path {
        std::fs::write(parent_made(json_path)?, summary.to_json()? + "\n")
            .with_context(|| format!("cannot write {}", json_path.display()))?;
    }
    if let Some(path) = &args.report {
        let report = crate::report_cmd::simulation_report(
            format!("Simulation of {}", path_name(path_of_config(args))),
            &summary,
            &report_rows,
            Some(&report_steps),
        )?;
        crate::report_cmd::write_report(path, &report)?;
        eprintln!("wrote {}", path.display());
    }
    let text = if args.json {
        summary.to_json()? + "\n"
    } else {
        render(&summary)
    };
    if summary.interrupted {
        // Everything is written; the exit code says the run did not finish (128 + SIGINT).
        let _ = std::io::stdout().write_all(text.as_bytes());
        let _ = std::io::stdout().flush();
        eprintln!(
            "interrupted at {} s simulated: {} requests completed, {} unfinished{}",
            num(summary.simulated_time_s, 6),
            summary.requests.completed,
            summary.requests.unfinished,
            json_path
                .as_ref()
                .map(|p| format!("; {} says \"interrupted\": true", p.display()))
                .unwrap_or_default()
        );
        std::process::exit(130);
    }
    Ok(text)
}

/// A flag set on the first Ctrl-C (SIGINT): the run stops at its next check (every 4 096
/// events) and the outputs are written as for a finished run, marked interrupted. A second
/// Ctrl-C exits at once. The handler is installed before this returns (so a signal during the
/// run never finds the default action, which would kill the process with nothing written);
/// the wait runs on its own thread with a one-thread runtime.
fn cancel_on_ctrl_c() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return flag;
    };
    #[cfg(unix)]
    let mut interrupts = {
        use tokio::signal::unix::{SignalKind, signal};
        let _guard = rt.enter();
        match signal(SignalKind::interrupt()) {
            Ok(s) => s,
            Err(_) => return flag,
        }
    };
    let set = Arc::clone(&flag);
    std::thread::spawn(move || {
        #[cfg(unix)]
        let mut next = move || rt.block_on(interrupts.recv()).is_some();
        #[cfg(not(unix))]
        let mut next = move || rt.block_on(tokio::signal::ctrl_c()).is_ok();
        if next() {
            set.store(true, Ordering::Relaxed);
            clear_progress();
            eprintln!(
                "interrupted: stopping the simulation and writing what it has (Ctrl-C again \
                 to quit now)"
            );
            if next() {
                std::process::exit(130);
            }
        }
    });
    flag
}

fn path_of_config(args: &SimulateArgs) -> &Path {
    args.config
        .as_deref()
        .unwrap_or_else(|| Path::new("config"))
}

fn path_name(p: &Path) -> String {
    p.display().to_string()
}

/// Bytes per `requests.csv` row used for the size estimate: the sample
/// `samples/sim/llama31-8b-h100.json` writes 176 B per row on average; ids and times grow
/// with a run, so the estimate allows 200.
const ROW_BYTES: f64 = 200.0;

/// Refuses a run whose `requests.csv` would exceed `limit` or the free space where it goes,
/// before anything is written, naming the estimate (specs: guardrails for big runs).
fn check_output_size(config: &SimConfig, csv: &Path, limit: Option<u64>) -> Result<()> {
    let Some(requests) = config.expected_requests() else {
        return Ok(());
    };
    let estimate = requests * ROW_BYTES;
    let what = format!(
        "{} would be about {} ({} requests × ~{} B per row)",
        csv.display(),
        human(estimate),
        num(requests, 6),
        ROW_BYTES
    );
    #[allow(clippy::cast_precision_loss)]
    if let Some(limit) = limit
        && estimate > limit as f64
    {
        anyhow::bail!(
            "refusing to start: {what}, above --max-output {}; lower max_requests or horizon_s, \
             or raise the limit",
            human(limit as f64)
        );
    }
    let dir = csv
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    #[allow(clippy::cast_precision_loss)]
    if let Ok(fs) = rustix::fs::statvfs(dir) {
        let free = fs.f_bavail as f64 * fs.f_frsize as f64;
        if estimate > free {
            anyhow::bail!(
                "refusing to start: {what}, more than the {} free on {}; lower max_requests or \
                 horizon_s, or write elsewhere with --out",
                human(free),
                dir.display()
            );
        }
    }
    Ok(())
}

/// `n` bytes with a binary unit (`1.5 GiB`).
fn human(n: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{} {}", num(v, 3), UNITS[u])
}

/// Parses `--max-output`: bytes, or a number with `K`, `M`, `G`, `T` (powers of 1024; `B`,
/// `iB` and case are accepted: `20G`, `20GiB`, `500mb`).
fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text}: expected a size such as 500M, 20G or 1T"))?;
    let unit = unit.trim().to_ascii_uppercase();
    let unit = unit.trim_end_matches('B').trim_end_matches('I');
    let scale = match unit {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("{text}: unknown unit (use K, M, G or T)")),
    };
    let bytes = value * scale;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(format!("{text}: must be at least 1 byte"));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(bytes as u64)
}

/// Where the run is: a one-line progress bar on stderr when it is a terminal (redrawn at most
/// every 100 ms; [`clear_progress`] erases it), else a log line every 10 s through `tracing`
/// (so a run in a batch job or a pipe still shows it is alive).
fn progress_bar() -> Option<ProgressFn<'static>> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        let mut last = std::time::Instant::now();
        return Some(Box::new(move |p: &Progress| {
            if last.elapsed() < std::time::Duration::from_secs(10) {
                return;
            }
            last = std::time::Instant::now();
            let of = p
                .max_requests
                .map_or_else(String::new, |m| format!(" of {m}"));
            tracing::info!(
                "simulating: {} requests arrived{of}, {} completed, {} s simulated",
                p.arrived,
                p.completed,
                num(p.simulated_s, 6)
            );
        }));
    }
    let mut last = std::time::Instant::now();
    Some(Box::new(move |p: &Progress| {
        if last.elapsed() < std::time::Duration::from_millis(100) {
            return;
        }
        last = std::time::Instant::now();
        let counts = format!(
            "{} arrived, {} completed, {} s simulated",
            p.arrived,
            p.completed,
            num(p.simulated_s, 6)
        );
        let line = match p.max_requests {
            Some(m) if m > 0 => {
                #[allow(clippy::cast_precision_loss)]
                let frac = (p.arrived as f64 / m as f64).clamp(0.0, 1.0);
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let filled = (frac * 30.0).round() as usize;
                format!(
                    "[{}{}] {counts}",
                    "#".repeat(filled),
                    ".".repeat(30 - filled)
                )
            }
            _ => counts,
        };
        // A closed stderr is no reason to stop the run.
        let _ = write!(std::io::stderr().lock(), "\r{line}\x1b[K");
    }))
}

/// Erases the progress line (a no-op when stderr is not a terminal).
fn clear_progress() {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
    }
}

/// `path`, once its parent directory exists.
fn parent_made(path: &Path) -> Result<&Path> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    Ok(path)
}

/// The configuration to use from a predictors file: the one named, else its only one.
fn model_config_name(file: &Path, name: Option<&str>) -> Result<String> {
    if let Some(name) = name {
        return Ok(name.to_owned());
    }
    let names: Vec<String> = match crate::predict_cmd::load(file)? {
        crate::predict_cmd::Loaded::Step(f) => f.configs.keys().cloned().collect(),
        crate::predict_cmd::Loaded::Vidur(f) => f.configs.keys().cloned().collect(),
    };
    match names.as_slice() {
        [only] => Ok(only.clone()),
        _ => anyhow::bail!(
            "--cost-model {} holds {} configurations ({}): choose one with --cost-model-config",
            file.display(),
            names.len(),
            names.join(", ")
        ),
    }
}

fn render(s: &Summary) -> String {
    let c = &s.requests;
    let t = &s.throughput;
    let mut requests = format!(
        "{} arrived, {} completed, {} rejected, {} dropped, {} unfinished",
        c.arrived, c.completed, c.rejected, c.dropped, c.unfinished
    );
    if s.warm_up_s > 0.0 {
        use std::fmt::Write as _;
        let _ = write!(
            requests,
            "; {} arrived in the {} s warm-up (not in the figures below)",
            c.warm_up,
            num(s.warm_up_s, 6)
        );
    }
    let simulated = if s.interrupted {
        num(s.simulated_time_s, 6) + " s (interrupted: the run was stopped early)"
    } else {
        num(s.simulated_time_s, 6) + " s"
    };
    let mut lines = vec![
        ("simulated time", simulated),
        ("requests", requests),
        ("throughput", num(t.requests_per_second, 6) + " req/s"),
        (
            "output tokens",
            num(t.output_tokens_per_second, 6) + " tok/s",
        ),
    ];
    if let Some(g) = &s.goodput {
        let per_client: Vec<String> = g
            .per_client
            .iter()
            .map(|c| format!("{} {} %", c.client, num(100.0 * c.attainment, 3)))
            .collect();
        lines.push((
            "goodput",
            format!(
                "{} req/s within the SLOs, {} of {} measured requests ({} %: {})",
                num(g.requests_per_second, 6),
                g.met,
                g.measured,
                num(100.0 * g.attainment, 3),
                per_client.join(", ")
            ),
        ));
    }
    lines.extend([
        ("preemptions", s.preemptions.to_string()),
        ("mean batch size", num(s.mean_batch_size, 4)),
        ("mean KV usage", num(100.0 * s.kv_usage_mean, 3) + " %"),
    ]);
    let mut out = key_values(&lines);
    out.push('\n');
    let mut table = Table::new(&["metric (ms)", "mean", "p50", "p90", "p95", "p99", "max"]);
    let l = &s.latency;
    let rows: [(&str, &Stats); 5] = [
        ("TTFT", &l.ttft_ms),
        ("TPOT", &l.tpot_ms),
        ("ITL", &l.itl_ms),
        ("E2E", &l.e2e_ms),
        ("scheduling delay", &l.scheduling_delay_ms),
    ];
    for (name, st) in rows {
        table.row(vec![
            name.to_owned(),
            num(st.mean, 5),
            num(st.p50, 5),
            num(st.p90, 5),
            num(st.p95, 5),
            num(st.p99, 5),
            num(st.max, 5),
        ]);
    }
    out.push_str(&table.render());
    if !s.pools.is_empty() {
        out.push('\n');
        out.push_str(&render_pools(s));
    }
    out
}

/// One row per pool (heterogeneous clusters, seed frameworks, disaggregation).
fn render_pools(s: &Summary) -> String {
    let mut table = Table::new(&[
        "pool",
        "engine",
        "replicas",
        "completed",
        "req/s",
        "TTFT p99 ms",
        "TPOT p99 ms",
        "goodput req/s",
    ]);
    for p in &s.pools {
        let name = match &p.role {
            Some(role) => format!("{} ({role})", p.name),
            None => p.name.clone(),
        };
        table.row(vec![
            name,
            p.engine.clone(),
            p.replicas.to_string(),
            p.requests.completed.to_string(),
            num(p.throughput.requests_per_second, 5),
            num(p.latency.ttft_ms.p99, 5),
            num(p.latency.tpot_ms.p99, 5),
            p.goodput
                .map_or_else(|| "-".to_owned(), |g| num(g.requests_per_second, 5)),
        ]);
    }
    table.render()
}
