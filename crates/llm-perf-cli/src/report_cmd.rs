//! HTML reports: `--report FILE.html` of `fit`, `predict train`, `estimate`, `simulate`,
//! `tune` and `read`, and `llm-perf report DIR` for a finished simulate or tune output
//! directory. One self-contained file with the workbench's charts (`llm-perf-server`'s
//! `render_report`), written atomically.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use llm_perf::sim::Summary;
use llm_perf_server::charts::sim::{latency_cdfs, read_requests_csv, read_steps_csv, step_charts};
use llm_perf_server::{Report, Section, TuneSummary, render_report, tune_summary};

use crate::table::num;

/// Renders `report` and writes it to `path` through a temporary file in the same directory,
/// so a reader never sees half a report.
///
/// # Errors
/// The directory cannot be written.
pub fn write_report(path: &Path, report: &Report) -> Result<()> {
    let html = render_report(report).context("cannot render the report")?;
    write_atomically(path, html.as_bytes())
}

/// Writes `bytes` to `path` through a temporary file in the same directory (created if
/// missing), readable by all (0644), so a reader never sees half a file.
///
/// # Errors
/// The directory cannot be written.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut file, bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // A temporary file is private (0600); a report is a document to share.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    file.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Key figures of a simulation summary.
fn summary_rows(s: &Summary) -> Vec<(String, String)> {
    let c = &s.requests;
    let l = &s.latency;
    let pair = |mean: f64, p99: f64| format!("{} / {} ms", num(mean, 5), num(p99, 5));
    vec![
        (
            "requests".into(),
            format!(
                "{} completed of {} arrived ({} rejected, {} dropped, {} unfinished)",
                c.completed, c.arrived, c.rejected, c.dropped, c.unfinished
            ),
        ),
        (
            "simulated time".into(),
            format!("{} s", num(s.simulated_time_s, 6)),
        ),
        (
            "throughput".into(),
            format!(
                "{} req/s, {} output tok/s",
                num(s.throughput.requests_per_second, 5),
                num(s.throughput.output_tokens_per_second, 5)
            ),
        ),
        (
            "TTFT mean / p99".into(),
            pair(l.ttft_ms.mean, l.ttft_ms.p99),
        ),
        (
            "TPOT mean / p99".into(),
            pair(l.tpot_ms.mean, l.tpot_ms.p99),
        ),
        ("ITL mean / p99".into(), pair(l.itl_ms.mean, l.itl_ms.p99)),
        ("E2E mean / p99".into(), pair(l.e2e_ms.mean, l.e2e_ms.p99)),
    ]
}

/// The report of a simulation: summary, latency CDFs from `requests.csv`, and batch / KV /
/// queue over time from `steps.csv` when there is one.
///
/// # Errors
/// A CSV that is not `perf-sim`'s layout.
pub fn simulation_report(
    title: String,
    summary: &Summary,
    requests_csv: &[u8],
    steps_csv: Option<&[u8]>,
) -> Result<Report> {
    let latencies = read_requests_csv(requests_csv, "requests.csv").map_err(anyhow::Error::msg)?;
    let mut sections = vec![Section {
        heading: "Summary".into(),
        rows: summary_rows(summary),
        ..Section::default()
    }];
    sections.push(Section {
        heading: "Latency distributions".into(),
        charts: latency_cdfs(&latencies),
        ..Section::default()
    });
    match steps_csv {
        Some(steps) => {
            let rows = read_steps_csv(steps, "steps.csv").map_err(anyhow::Error::msg)?;
            sections.push(Section {
                heading: "Batch and KV cache over time".into(),
                charts: step_charts(&rows),
                ..Section::default()
            });
        }
        None => sections.push(Section {
            heading: "Batch and KV cache over time".into(),
            notes: vec!["No steps.csv: run `llm-perf simulate … --out DIR --steps` to chart batch size and KV-cache use over time.".into()],
            ..Section::default()
        }),
    }
    Ok(Report {
        title,
        subtitle: "Simulated with llm-perf (perf-sim).".into(),
        sections,
    })
}

/// The report of a tuning run's `results.jsonl` text.
///
/// # Errors
/// A line that is not a tuning record.
pub fn tuning_report(title: String, results: &str, file: &str) -> Result<Report> {
    let t = tune_summary(results, file).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(tuning_report_of(title, t))
}

/// The report of a tuning run's summary.
#[must_use]
pub fn tuning_report_of(title: String, t: TuneSummary) -> Report {
    let mut rows = vec![
        ("evaluations".into(), t.records.to_string()),
        ("iterations".into(), t.iterations.to_string()),
        ("on the Pareto front".into(), t.pareto.to_string()),
    ];
    if let Some(b) = &t.best {
        rows.push(("best cost".into(), num(b.fitness, 6)));
        for (k, v) in &b.config {
            let shown = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            rows.push((format!("best {k}"), shown));
        }
        if let Some(i) = &b.index {
            let opt = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| num(v, 5));
            rows.push((
                "best: output tok/s, TTFT, p99 TTFT, TPOT".into(),
                format!(
                    "{} tok/s, {} ms, {} ms, {} ms",
                    opt(i.output_throughput()),
                    opt(i.ttft_ms()),
                    opt(i.ttft_p99_ms()),
                    opt(i.tpot_ms())
                ),
            ));
        }
    }
    Report {
        title,
        subtitle: "Particle swarm tuning with llm-perf (perf-pso).".into(),
        sections: vec![Section {
            heading: "Best configuration and convergence".into(),
            rows,
            charts: t.charts,
            ..Section::default()
        }],
    }
}

/// Arguments of `llm-perf report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A finished `llm-perf simulate --out DIR` (summary.json, requests.csv, steps.csv) or
    /// `llm-perf tune --out DIR` (results.jsonl) directory.
    dir: PathBuf,
    /// Where to write the report (default: DIR/report.html).
    #[arg(long, short = 'o', value_name = "FILE.html")]
    out: Option<PathBuf>,
}

/// Runs `llm-perf report DIR`.
pub fn report(args: &ReportArgs) -> Result<String> {
    let dir = &args.dir;
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    let out = args.out.clone().unwrap_or_else(|| dir.join("report.html"));
    let read = |name: &str| -> Result<Option<Vec<u8>>> {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    };
    let report = if let Some(results) = read("results.jsonl")? {
        let text = String::from_utf8(results)
            .with_context(|| format!("{}: not UTF-8", dir.join("results.jsonl").display()))?;
        tuning_report(
            format!("Tuning run {}", dir.display()),
            &text,
            &dir.join("results.jsonl").display().to_string(),
        )?
    } else if let (Some(summary), Some(requests)) = (read("summary.json")?, read("requests.csv")?) {
        let summary: Summary = serde_json::from_slice(&summary).with_context(|| {
            format!(
                "{}: not a simulation summary",
                dir.join("summary.json").display()
            )
        })?;
        let steps = read("steps.csv")?;
        simulation_report(
            format!("Simulation {}", dir.display()),
            &summary,
            &requests,
            steps.as_deref(),
        )?
    } else {
        bail!(
            "{}: neither a tune output (results.jsonl) nor a simulate output (summary.json and requests.csv)",
            dir.display()
        );
    };
    write_report(&out, &report)?;
    Ok(format!("wrote {}\n", out.display()))
}

/// The report of an Inferno fit: parameters, errors, the per-point table and the measured
/// against fitted TTFT and ITL.
#[must_use]
pub fn fit_report(title: String, fitted: &llm_perf::fit::FittedInferno) -> Report {
    let r = fitted.report();
    let s = &r.summary;
    let rows = vec![
        (
            "α (base iteration time)".into(),
            format!("{} ms", num(fitted.alpha(), 7)),
        ),
        (
            "β (compute per token)".into(),
            format!("{} ms/token", num(fitted.beta(), 7)),
        ),
        (
            "γ (memory per token of context)".into(),
            format!("{} ms/token²", num(fitted.gamma(), 7)),
        ),
        ("model".into(), fitted.model().to_string()),
        (
            "mean relative error TTFT / ITL".into(),
            format!(
                "{} % / {} %",
                num(100.0 * s.mean_rel_err_ttft, 4),
                num(100.0 * s.mean_rel_err_itl, 4)
            ),
        ),
        (
            "mean absolute error TTFT / ITL".into(),
            format!(
                "{} ms / {} ms",
                num(s.avg_err_ttft_ms, 5),
                num(s.avg_err_itl_ms, 5)
            ),
        ),
    ];
    let table_rows = r.points.iter().map(crate::fit_cmd::point_cells).collect();
    Report {
        title,
        subtitle: "Inferno queueing model fitted with llm-perf (perf-fit).".into(),
        sections: vec![Section {
            heading: "Fitted parameters".into(),
            rows,
            table_head: [
                "rate req/s",
                "in tok",
                "out tok",
                "TTFT obs ms",
                "TTFT model ms",
                "ITL obs ms",
                "ITL model ms",
            ]
            .map(str::to_owned)
            .to_vec(),
            table_rows,
            charts: llm_perf_server::charts::capacity::fit_charts(r),
            ..Section::default()
        }],
    }
}

/// The report of an estimate: the predictions and the fitted surface against the rows.
///
/// # Errors
/// The estimate's error for the charts' grid (not expected once the estimate succeeded).
pub fn estimate_report(
    title: String,
    estimate: &llm_perf::predict::together::Estimate,
    rows: &[llm_perf::predict::together::BenchmarkRow],
    query: &llm_perf::predict::together::EstimateQuery,
) -> Result<Report> {
    let charts = llm_perf_server::charts::modeling::modeling_charts(rows, &estimate.model, query)?;
    let mut kv = vec![
        ("model".into(), estimate.model.clone()),
        (
            "shape".into(),
            format!(
                "{} input / {} output tokens",
                num(estimate.input_tokens, 6),
                num(estimate.output_tokens, 6)
            ),
        ),
        ("method".into(), estimate.interpolation_method.to_string()),
        (
            "confidence".into(),
            format!("{:?}", estimate.confidence).to_lowercase(),
        ),
        (
            "data points".into(),
            estimate.num_benchmarks_used.to_string(),
        ),
    ];
    kv.extend(
        estimate
            .predictions
            .iter()
            .map(|(k, v)| (k.clone(), num(*v, 6))),
    );
    Ok(Report {
        title,
        subtitle:
            "Benchmark-level regression (the LLM Benchmark Modeling Tool's method) with llm-perf."
                .into(),
        sections: vec![Section {
            heading: "Prediction".into(),
            rows: kv,
            charts,
            ..Section::default()
        }],
    })
}

/// The report of a trained predictor: latency against batch size and input length with the
/// training points.
#[must_use]
pub fn predictor_report(
    title: String,
    config: &str,
    predictor: llm_perf_server::charts::predictor::AnyPredictor<'_>,
    training: &[llm_perf::predict::ProfileRow],
) -> Report {
    // The chosen point: the most common batch size and input length of the sweep.
    let mode = |f: fn(&llm_perf::predict::ProfileRow) -> f64, default: u32| -> u32 {
        let mut counts = std::collections::BTreeMap::new();
        for r in training {
            *counts.entry(f(r) as u32).or_insert(0usize) += 1;
        }
        counts
            .into_iter()
            .max_by_key(|(v, n)| (*n, *v))
            .map_or(default, |(v, _)| v)
    };
    let (bs, len) = (mode(|r| r.batch_size, 8), mode(|r| r.input_len, 1024));
    let ms = |stage| {
        predictor
            .ms(stage, bs, len)
            .map_or_else(|| "-".to_owned(), |v| format!("{} ms", num(v, 5)))
    };
    Report {
        title,
        subtitle: "Step-time predictor trained with llm-perf (perf-predict).".into(),
        sections: vec![Section {
            heading: format!("Configuration `{config}`"),
            rows: vec![
                ("training points".into(), training.len().to_string()),
                (
                    format!("prefill at batch {bs}, input {len}"),
                    ms(llm_perf::predict::Stage::Prefill),
                ),
                (
                    format!("decode step at batch {bs}, context {len}"),
                    ms(llm_perf::predict::Stage::Decode),
                ),
            ],
            charts: llm_perf_server::charts::predictor::predictor_charts(
                predictor, bs, len, training,
            ),
            ..Section::default()
        }],
    }
}
