//! `llm-perf read`: read benchmark reports and traces in any supported format and show what
//! was found.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use llm_perf::model::{BenchmarkPoint, LatencyStats, PerfDataset};
use llm_perf::readers::{
    Document, Format, Profile, ReadError, ReadOptions, SelectOptions, TimeUnit, read_any_with,
    read_document_any, read_profile_any, read_requests_any,
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
        let read: Vec<(Format, PerfDataset)> = self
            .files
            .iter()
            .map(|f| read_any_with(f, &opts))
            .collect::<Result<_, _>>()?;
        for (_, ds) in &read {
            print_warnings(ds);
        }
        Ok(read)
    }
}

/// The statistics a reader dropped as broken (a clock glitch, a negative mean), one
/// `warning:` line each on stderr: the file still reads, and a command that needs a dropped
/// value fails naming it.
pub fn print_warnings(ds: &PerfDataset) {
    let mut err = std::io::stderr().lock();
    for w in &ds.warnings {
        let _ = std::io::Write::write_fmt(&mut err, format_args!("warning: {w}\n"));
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
    /// Also write an offline HTML report: each benchmark's sweep charted (TTFT, ITL/TPOT,
    /// E2E, throughput against the load), each trace's token-length distributions.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
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
    // With --json: files that are not benchmark data, as {file, format, requests|profile|document}.
    let mut others: Vec<serde_json::Value> = Vec::new();
    // With --report: the sections of files that are not benchmarks, in file order.
    let mut other_sections: Vec<(usize, llm_perf_server::Section)> = Vec::new();
    for (index, file) in args.input.files.iter().enumerate() {
        match read_any_with(file, &opts) {
            Ok((format, ds)) => {
                print_warnings(&ds);
                datasets.push((file, format, ds));
            }
            // A profile table holds measured operator or step times: say what it holds.
            Err(ReadError::NotBenchmark { format, .. }) if format.is_profile() => {
                let (format, profile) = read_profile_any(file)?;
                if args.json {
                    others.push(serde_json::json!({
                        "file": file.display().to_string(),
                        "format": format.name(),
                        "profile": profile,
                    }));
                    continue;
                }
                out.push_str(&describe_profile(
                    &file.display().to_string(),
                    format,
                    &profile,
                ));
            }
            // Model documents: say what they hold and which command uses them.
            Err(ReadError::NotBenchmark { format, .. }) if format.is_document() => {
                let (format, doc) = read_document_any(file)?;
                if args.json {
                    others.push(serde_json::json!({
                        "file": file.display().to_string(),
                        "format": format.name(),
                        "document": doc,
                    }));
                    continue;
                }
                out.push_str(&describe_document(
                    &file.display().to_string(),
                    format,
                    &doc,
                ));
            }
            // A request trace has records, not benchmark points: summarise those instead.
            Err(ReadError::NotBenchmark { .. }) => {
                let (format, records) = read_requests_any(file)?;
                if args.report.is_some() {
                    other_sections.push((index, trace_section(file, format, &records)));
                }
                if args.json {
                    others.push(serde_json::json!({
                        "file": file.display().to_string(),
                        "format": format.name(),
                        "requests": records,
                    }));
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
            && let Some((_, format, ds)) = datasets.last()
        {
            out.push_str(&render(*format, ds));
        }
    }
    if let Some(path) = &args.report {
        let mut sections: Vec<(usize, llm_perf_server::Section)> = datasets
            .iter()
            .enumerate()
            .map(|(i, (file, format, ds))| {
                let position = args
                    .input
                    .files
                    .iter()
                    .position(|f| f == *file)
                    .unwrap_or(i);
                (position, dataset_section(i, file, *format, ds))
            })
            .collect();
        sections.extend(other_sections);
        sections.sort_by_key(|(position, _)| *position);
        let names: Vec<String> = args
            .input
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        let report = llm_perf_server::Report {
            title: format!("Benchmark data: {}", names.join(", ")),
            subtitle: "Read with llm-perf (perf-readers); the format of each file is detected from its content.".into(),
            sections: sections.into_iter().map(|(_, s)| s).collect(),
        };
        crate::report_cmd::write_report(path, &report)?;
        eprintln!("wrote {}", path.display());
    }
    if args.json {
        // Benchmark data only: the array of data sets (what `convert` and other tools read).
        // Anything else: one object per file ({file, format, dataset|requests|profile|document}),
        // the object itself for a single file, else an array in file order.
        let value = if others.is_empty() {
            let sets: Vec<&PerfDataset> = datasets.iter().map(|(_, _, d)| d).collect();
            serde_json::to_value(sets)?
        } else {
            let mut all: Vec<serde_json::Value> = datasets
                .iter()
                .map(|(file, format, ds)| {
                    serde_json::json!({
                        "file": file.display().to_string(),
                        "format": format.name(),
                        "dataset": ds,
                    })
                })
                .collect();
            all.extend(others);
            let order = |v: &serde_json::Value| {
                args.input
                    .files
                    .iter()
                    .position(|f| v["file"] == f.display().to_string())
            };
            all.sort_by_key(|v| order(v));
            match all.len() {
                1 => all.remove(0),
                _ => serde_json::Value::Array(all),
            }
        };
        out.push_str(&serde_json::to_string_pretty(&value)?);
        out.push('\n');
    }
    Ok(out)
}

/// A benchmark file's report section: its points and sweep charts.
fn dataset_section(
    index: usize,
    file: &std::path::Path,
    format: Format,
    ds: &PerfDataset,
) -> llm_perf_server::Section {
    use llm_perf_server::charts::sweep::{Sweep, sweep_charts};
    let meta = [
        ("model", ds.meta.model.as_deref()),
        ("accelerator", ds.meta.accelerator.as_deref()),
        ("engine", ds.meta.engine.as_deref()),
    ];
    llm_perf_server::Section {
        heading: format!("{}: {} `{}`", file.display(), format.name(), ds.name),
        rows: meta
            .iter()
            .filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), v.to_owned())))
            .collect(),
        table_head: [
            "label",
            "rate req/s",
            "concurrency",
            "in tok",
            "out tok",
            "TTFT ms (p50|mean)",
            "ITL ms",
            "E2E ms",
            "out tok/s",
        ]
        .map(str::to_owned)
        .to_vec(),
        table_rows: ds.points.iter().map(point_row).collect(),
        charts: sweep_charts(
            &format!("read{index}"),
            &Sweep::from_datasets(std::slice::from_ref(ds)),
        ),
        ..llm_perf_server::Section::default()
    }
}

/// A trace's report section: request count, span and token-length distributions.
fn trace_section(
    file: &std::path::Path,
    format: Format,
    records: &[llm_perf::model::RequestRecord],
) -> llm_perf_server::Section {
    use llm_perf_server::charts::{Axis, CDF_POINTS, Series, Style, cdf, xy_chart};
    let tokens = |f: fn(&llm_perf::model::RequestRecord) -> u32| -> Vec<f64> {
        records.iter().map(|r| f64::from(f(r))).collect()
    };
    let span_s = (records.last().map_or(0.0, |r| r.arrival_ms())
        - records.first().map_or(0.0, |r| r.arrival_ms()))
        / 1e3;
    let id = format!("trace-{}", file.display().to_string().len());
    llm_perf_server::Section {
        heading: format!("{}: {}", file.display(), format.name()),
        rows: vec![
            ("requests".into(), records.len().to_string()),
            ("span".into(), format!("{} s", num(span_s, 6))),
        ],
        charts: vec![xy_chart(
            &id,
            "Token lengths",
            &Axis::new("tokens", "tokens"),
            &Axis::new("fraction of requests ≤ x", "").linear(),
            vec![
                Series::new(
                    "input",
                    Style::Step,
                    cdf(&tokens(|r| r.input_tokens()), CDF_POINTS),
                ),
                Series::new(
                    "output",
                    Style::Step,
                    cdf(&tokens(|r| r.output_tokens()), CDF_POINTS),
                ),
            ],
            &[],
        )],
        ..llm_perf_server::Section::default()
    }
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

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| num(v, 6))
}

/// One summary line (and a table where it helps) for a profile file.
fn describe_profile(file: &str, format: Format, profile: &Profile) -> String {
    match profile {
        Profile::Summary(s) => {
            let range = |r: Option<[f64; 3]>| {
                r.map_or_else(
                    || "-".into(),
                    |[lo, mean, hi]| {
                        format!("{}–{} (mean {})", num(lo, 4), num(hi, 4), num(mean, 4))
                    },
                )
            };
            let mut out = format!(
                "{file}: {} (llm-profiler sweep summary: {} experiments, {} batch sizes, {} input \
                 lengths; prefill {} ms, decode step {} ms)\n",
                format.name(),
                s.total_experiments
                    .map_or_else(|| "-".into(), |n| n.to_string()),
                s.by_batch_size.len(),
                s.by_input_length.len(),
                range(s.prefill_ms),
                range(s.decode_ms),
            );
            let mut t = Table::new(&[
                "batch size",
                "experiments",
                "avg prefill ms",
                "avg decode ms",
                "prefill tok/s",
                "decode tok/s",
            ]);
            let span = |r: Option<[f64; 2]>| {
                r.map_or_else(
                    || "-".into(),
                    |[lo, hi]| format!("{}–{}", num(lo, 4), num(hi, 4)),
                )
            };
            for g in &s.by_batch_size {
                t.row(vec![
                    g.key.to_string(),
                    g.num_experiments
                        .map_or_else(|| "-".into(), |n| n.to_string()),
                    num(g.avg_prefill_ms, 5),
                    num(g.avg_decode_ms, 5),
                    span(g.prefill_tokens_per_s),
                    span(g.decode_tokens_per_s),
                ]);
            }
            out.push_str(&t.render());
            out.push('\n');
            out
        }
        Profile::Batches(rows) => {
            let prefill = rows
                .iter()
                .filter(|r| r.stage == llm_perf::readers::Stage::Prefill)
                .count();
            let (lo, hi) = rows.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), r| {
                (lo.min(r.model_execute_time), hi.max(r.model_execute_time))
            });
            let max_batch = rows.iter().map(|r| r.batch_size).max().unwrap_or(0);
            format!(
                "{file}: {} (msserviceprofiler per-batch execute times: {} batches, {prefill} \
                 prefill and {} decode, batch size up to {max_batch}, model_execute_time {}–{} \
                 (no unit in the file; looks like µs); train the tuner's state model on it: \
                 llm-perf predict train --profile {file} --config NAME --out predictors.json)\n",
                format.name(),
                rows.len(),
                rows.len() - prefill,
                if rows.is_empty() {
                    "-".into()
                } else {
                    num(lo, 6)
                },
                if rows.is_empty() {
                    "-".into()
                } else {
                    num(hi, 6)
                },
            )
        }
        _ => format!(
            "{file}: {} ({} rows; train step-time predictors on it: llm-perf predict train \
             --profile {file} --config NAME --out predictors.json)\n",
            format.name(),
            profile.len()
        ),
    }
}

/// What a model document holds, in a few lines.
fn describe_document(file: &str, format: Format, doc: &Document) -> String {
    let name = format.name();
    match doc {
        Document::AnalyzerProblem(p) => format!(
            "{file}: {name} (Inferno analyzer problem: RPS {}, maxBatchSize {}, tokens in {} / \
             out {}, alpha {} ms, beta {} ms/token, gamma {} ms/token², maxQueueSize {}, targets \
             TTFT {} ms / ITL {} ms); use `llm-perf analyze -f {file}` (or `size -f`, \
             `optimize -f`)\n",
            opt(p.rps),
            opt(p.max_batch_size),
            opt(p.avg_input_tokens),
            opt(p.avg_output_tokens),
            opt(p.alpha),
            opt(p.beta),
            opt(p.gamma),
            opt(p.max_queue_size),
            opt(p.target_ttft_ms),
            opt(p.target_itl_ms),
        ),
        Document::AnalyzerSolution(s) => {
            // `/solve` answers carry zero target rates; `/target` answers the rates found.
            let kind = if s.is_optimize() {
                "`/optimize` answer"
            } else if s.rps_target_ttft.unwrap_or(0.0) > 0.0
                || s.rps_target_itl.unwrap_or(0.0) > 0.0
            {
                "`/target` answer"
            } else {
                "`/solve` answer"
            };
            let mut out = format!(
                "{file}: {name} (Inferno analyzer {kind}): throughput {} req/s, avg TTFT {} ms, \
                 avg ITL {} ms, avg response {} ms, avg wait {} ms, in service {}, max RPS {}",
                opt(s.throughput),
                opt(s.avg_ttft_ms),
                opt(s.avg_itl_ms),
                opt(s.avg_resp_time_ms),
                opt(s.avg_wait_time_ms),
                opt(s.avg_num_in_serv),
                opt(s.max_rps),
            );
            if s.rps_target_ttft.is_some() || s.rps_target_itl.is_some() {
                out.push_str(&format!(
                    ", RPS at TTFT target {}, at ITL target {}",
                    opt(s.rps_target_ttft),
                    opt(s.rps_target_itl)
                ));
            }
            if s.is_optimize() {
                out.push_str(&format!(
                    ", concurrency {}, M_ITL {}, M_TPF {}, oracle calls {}, feasible {}",
                    opt(s.concurrency),
                    opt(s.m_itl),
                    opt(s.m_tpf),
                    opt(s.oracle_calls),
                    s.feasible.map_or_else(|| "-".into(), |f| f.to_string()),
                ));
            }
            out.push('\n');
            out
        }
        Document::GoldenPrimitives(rows) => {
            let mut out = format!(
                "{file}: {name} (golden service-time primitives of the Inferno queue model, {} \
                 rows; times in ms)\n",
                rows.len()
            );
            let mut t = Table::new(&[
                "B",
                "alpha",
                "beta",
                "gamma",
                "in tok",
                "out tok",
                "nc",
                "iter ms",
                "prefill ms",
                "ITL ms",
                "tau ms",
            ]);
            for r in rows {
                t.row(
                    [
                        r.batch_size,
                        r.alpha,
                        r.beta,
                        r.gamma,
                        r.avg_input_tokens,
                        r.avg_output_tokens,
                        r.nc,
                        r.iter_time_ms,
                        r.prefill_ms,
                        r.itl_ms,
                        r.tau_ms,
                    ]
                    .iter()
                    .map(|&v| num(v, 6))
                    .collect(),
                );
            }
            out.push_str(&t.render());
            out.push('\n');
            out
        }
        Document::TrainerResult(r) => format!(
            "{file}: {name} (Inferno model-trainer fit{}{}): alpha {} ms, beta {} ms/token, \
             gamma {} ms/token²; avg error TTFT {} ms, ITL {} ms, weighted {}\n",
            r.dataset
                .as_deref()
                .map_or_else(String::new, |d| format!(" of `{d}`")),
            r.points
                .map_or_else(String::new, |n| format!(", {n} points")),
            num(r.alpha, 8),
            num(r.beta, 8),
            num(r.gamma, 8),
            opt(r.avg_err_ttft_ms),
            opt(r.avg_err_itl_ms),
            opt(r.avg_err_weighted),
        ),
        Document::TrainedPhysics(c) => format!(
            "{file}: {name} (BLIS {} latency-model coefficients: {} alpha, {} beta; {} \
             experiments with expected metrics)\n",
            c.backend.as_deref().unwrap_or("trained-physics"),
            c.alpha_coeffs.len(),
            c.beta_coeffs.len(),
            c.experiments.len(),
        ),
        Document::ModelConfig(m) => {
            let moe = m.moe.as_ref().map_or_else(String::new, |e| {
                format!(", MoE {} experts ({} active)", e.experts, e.active)
            });
            format!(
                "{file}: {name} (model `{}`: {} layers, hidden {}, heads {}/{} KV, {}B parameters \
                 ({}B active){moe}; KV {} bytes/token in bf16; use `llm-perf models --config \
                 {file}` or `cost_model.model_config` to simulate it)\n",
                m.name,
                m.layers,
                m.hidden,
                m.heads,
                m.kv_heads,
                num(m.param_count() as f64 / 1e9, 4),
                num(m.active_param_count() as f64 / 1e9, 4),
                m.kv_bytes_per_token(llm_perf::model::Dtype::Bf16),
            )
        }
        _ => format!("{file}: {name}\n"),
    }
}
