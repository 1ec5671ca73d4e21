//! `llm-perf read`: read benchmark reports and traces in any supported format and show what
//! was found.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use llm_perf::model::{BenchmarkPoint, LatencyStats, PerfDataset};
use llm_perf::readers::{
    Format, ReadError, ReadOptions, SelectOptions, TimeUnit, read_any_with, read_profile_any,
    read_requests_any,
};

use crate::table::{Table, num};

/// Which points of a sweep to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Selection {
    /// As the Inferno trainer's readers: CSV-as-JSON and HTML drop the throughput run and keep
    /// the first 7 points; every other format keeps all points.
    Seed,
    /// Every point.
    All,
    /// Every point except the throughput (max-load) run.
    NoThroughput,
}

/// How files are read: shared by `read` and `fit`.
#[derive(Args, Clone, Debug)]
pub struct InputArgs {
    /// Benchmark files (GuideLLM JSON/CSV/HTML, vLLM bench, SGLang, AISBench, Together,
    /// Inferno DataSet); the format is detected from the content.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Which points of each sweep to keep.
    #[arg(long, value_enum, default_value_t = Selection::Seed)]
    pub select: Selection,
    /// Keep at most this many points per file (after `--select`).
    #[arg(long, value_name = "N")]
    pub max_points: Option<usize>,
    /// Inferno DataSet times are in seconds (the `qm_*` sample files), not ms.
    #[arg(long)]
    pub seconds: bool,
}

impl InputArgs {
    fn options(&self) -> ReadOptions {
        let select = match self.select {
            Selection::Seed => SelectOptions::seed_compatible(),
            Selection::All => SelectOptions::all(),
            Selection::NoThroughput => SelectOptions::except_throughput(),
        };
        let select = match self.max_points {
            Some(n) => select.with_max_points(n),
            None => select,
        };
        ReadOptions {
            select,
            inferno_time_unit: if self.seconds {
                TimeUnit::Seconds
            } else {
                TimeUnit::Milliseconds
            },
        }
    }

    /// Reads every file as a benchmark data set.
    pub fn read(&self) -> Result<Vec<(Format, PerfDataset)>> {
        let opts = self.options();
        self.files
            .iter()
            .map(|f| read_any_with(f, &opts).map_err(Into::into))
            .collect()
    }
}

/// Arguments of `llm-perf read`.
#[derive(Args, Debug)]
pub struct ReadArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Print the normalised data sets as JSON instead of tables.
    #[arg(long)]
    json: bool,
}

fn stat(s: &LatencyStats) -> String {
    s.mean()
        .or(s.median())
        .map_or_else(|| "-".into(), |v| num(v, 5))
}

fn point_row(p: &BenchmarkPoint) -> Vec<String> {
    let opt = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| num(v, 5));
    vec![
        p.label().unwrap_or("-").to_owned(),
        opt(p.request_rate()),
        opt(p.concurrency()),
        num(p.input_tokens(), 5),
        num(p.output_tokens(), 5),
        p.ttft()
            .median()
            .map_or_else(|| stat(p.ttft()), |v| num(v, 5)),
        stat(p.itl()),
        stat(p.e2e()),
        opt(p.output_throughput()),
    ]
}

/// Runs `llm-perf read`.
pub fn read(args: &ReadArgs) -> Result<String> {
    let opts = args.input.options();
    let mut out = String::new();
    let mut datasets = Vec::new();
    for file in &args.input.files {
        match read_any_with(file, &opts) {
            Ok((format, ds)) => datasets.push((format, ds)),
            // A profile table holds measured operator or step times: say what it holds.
            Err(ReadError::NotBenchmark { format, .. }) if format.is_profile() => {
                let (format, profile) = read_profile_any(file)?;
                out.push_str(&format!(
                    "{}: {} ({} rows; use it with `perf-predict`)\n",
                    file.display(),
                    format.name(),
                    profile.len()
                ));
            }
            // A request trace has records, not benchmark points: summarise those instead.
            Err(ReadError::NotBenchmark { .. }) => {
                let (format, records) = read_requests_any(file)?;
                if args.json {
                    out.push_str(&serde_json::to_string(&records)?);
                    out.push('\n');
                    continue;
                }
                let span = records.last().map_or(0.0, |r| r.arrival_ms())
                    - records.first().map_or(0.0, |r| r.arrival_ms());
                let mean = |f: fn(&llm_perf::model::RequestRecord) -> u32| {
                    records.iter().map(|r| f64::from(f(r))).sum::<f64>()
                        / records.len().max(1) as f64
                };
                out.push_str(&format!(
                    "{}: {} ({} requests over {} s, mean {} in / {} out tokens)\n",
                    file.display(),
                    format.name(),
                    records.len(),
                    num(span / 1e3, 6),
                    num(mean(|r| r.input_tokens()), 5),
                    num(mean(|r| r.output_tokens()), 5),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        if !args.json
            && let Some((format, ds)) = datasets.last()
        {
            out.push_str(&render(*format, ds));
        }
    }
    if args.json {
        let sets: Vec<&PerfDataset> = datasets.iter().map(|(_, d)| d).collect();
        out.push_str(&serde_json::to_string_pretty(&sets)?);
        out.push('\n');
    }
    Ok(out)
}

fn render(format: Format, ds: &PerfDataset) -> String {
    let mut out = String::new();
    {
        out.push_str(&format!(
            "{}: {} `{}`, {} points\n",
            ds.meta.source.as_deref().unwrap_or("-"),
            format.name(),
            ds.name,
            ds.len()
        ));
        let mut t = Table::new(&[
            "label",
            "rate req/s",
            "concurrency",
            "in tok",
            "out tok",
            "TTFT ms (p50|mean)",
            "ITL ms",
            "E2E ms",
            "out tok/s",
        ]);
        for p in &ds.points {
            t.row(point_row(p));
        }
        out.push_str(&t.render());
        out.push('\n');
    }
    out
}
