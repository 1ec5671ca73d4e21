//! `llm-perf simulate`: run the discrete-event serving simulator on a JSON config.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use llm_perf::sim::{SimConfig, Simulation, Stats, Summary};

use crate::table::{Table, key_values, num};

/// The commented starter config printed by `--example-config` (tested to run as it is).
const EXAMPLE_CONFIG: &str = include_str!("example_config.yaml");

/// Arguments of `llm-perf simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Simulation config, YAML (`.yaml`/`.yml`) or JSON (see `perf_sim::SimConfig` for the
    /// schema; unknown keys are errors naming their path).
    #[arg(required_unless_present = "example_config")]
    pub config: Option<PathBuf>,
    /// Print a commented starter config (YAML) and exit.
    #[arg(long)]
    pub example_config: bool,
    /// Directory for `requests.csv` (one row per request) and `summary.json`; created if missing.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Override the config's master seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the summary JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `llm-perf simulate`.
pub fn simulate(args: &SimulateArgs) -> Result<String> {
    if args.example_config {
        return Ok(EXAMPLE_CONFIG.to_owned());
    }
    let Some(path) = &args.config else {
        anyhow::bail!("give a config file, or --example-config for a starter one");
    };
    let mut config = SimConfig::from_path(path)?;
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    let sim = Simulation::new(config).with_context(|| format!("in {}", path.display()))?;
    let summary = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let csv_path = dir.join("requests.csv");
            let csv = File::create(&csv_path)
                .with_context(|| format!("cannot create {}", csv_path.display()))?;
            let summary = sim.run(BufWriter::new(csv))?;
            let json_path = dir.join("summary.json");
            std::fs::write(&json_path, summary.to_json()? + "\n")
                .with_context(|| format!("cannot write {}", json_path.display()))?;
            summary
        }
        None => sim.run(std::io::sink())?,
    };
    if args.json {
        return Ok(summary.to_json()? + "\n");
    }
    Ok(render(&summary))
}

fn render(s: &Summary) -> String {
    let c = &s.requests;
    let t = &s.throughput;
    let mut out = key_values(&[
        ("simulated time", num(s.simulated_time_s, 6) + " s"),
        (
            "requests",
            format!(
                "{} arrived, {} completed, {} rejected, {} dropped, {} unfinished",
                c.arrived, c.completed, c.rejected, c.dropped, c.unfinished
            ),
        ),
        ("throughput", num(t.requests_per_second, 6) + " req/s"),
        (
            "output tokens",
            num(t.output_tokens_per_second, 6) + " tok/s",
        ),
        ("preemptions", s.preemptions.to_string()),
        ("mean batch size", num(s.mean_batch_size, 4)),
        ("mean KV usage", num(100.0 * s.kv_usage_mean, 3) + " %"),
    ]);
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
    out
}
