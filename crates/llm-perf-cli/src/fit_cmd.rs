//! `llm-perf fit`: fit the Inferno model's α, β, γ to benchmark files.

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use llm_perf::fit::{
    BootstrapCi, FitPoint, FittedInferno, Loss, SeedResponse, points_from_datasets,
};
use llm_perf::model::inferno::{Arithmetic, QueueModel};
use llm_perf_server::seed_api::TrainerChoice;
use serde::Serialize;

use crate::read_cmd::InputArgs;
use crate::table::{Table, key_values, num};

/// Arithmetic of the fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FitArithmetic {
    /// Plain f64.
    F64,
    /// float32 at the Go analyzer's rounding sites (reproduces the Go trainer's fits).
    Go,
}

/// Arguments of `llm-perf fit`.
#[derive(Args, Debug)]
pub struct FitArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Model generation: v3 (the trainer's README headline), v6 (the paper), v7 (current).
    #[arg(long, default_value = "v7")]
    model: QueueModel,
    /// Loss: `weighted-abs` (headline era) or `rel-sq` (current upstream).
    #[arg(long, default_value = "rel-sq")]
    loss: Loss,
    /// Initial α,β,γ, e.g. `10,0,0`.
    #[arg(long, value_name = "A,B,G", value_delimiter = ',', allow_hyphen_values = true, default_values_t = [1.0, 0.01, 1e-4])]
    init: Vec<f64>,
    /// Run Nelder–Mead on parameters scaled by their initial values (upstream since 2026-04).
    #[arg(long)]
    scaled: bool,
    /// One Nelder–Mead run exactly as the Go trainer (implies `--arithmetic go` unless given).
    #[arg(long)]
    seed_compatible: bool,
    /// Extra starts of the improved (multistart) mode.
    #[arg(long, value_name = "N", default_value_t = 8)]
    multistart: usize,
    /// Seed of the multistart and bootstrap draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Bootstrap resamples for 90 % confidence intervals (0 = none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    bootstrap: usize,
    /// Arithmetic (default: `go` with `--seed-compatible`, else `f64`).
    #[arg(long, value_enum)]
    arithmetic: Option<FitArithmetic>,
    /// Print the trainer's JSON response (`OptimizedParms`, `AnalysisResults`) plus an `llmPerf`
    /// object with everything else.
    #[arg(long)]
    json: bool,
    /// Also write an offline HTML report: parameters, per-point errors, measured against
    /// fitted TTFT and ITL.
    #[arg(long, value_name = "FILE.html")]
    report: Option<std::path::PathBuf>,
}

/// What `--json` prints: the seed's response, then ours.
#[derive(Serialize)]
struct FitJson<'a> {
    #[serde(flatten)]
    seed: SeedResponse,
    #[serde(rename = "llmPerf")]
    llm_perf: Extra<'a>,
}

/// Our additions to the seed's response.
#[derive(Serialize)]
struct Extra<'a> {
    fit: &'a FittedInferno,
    #[serde(skip_serializing_if = "Option::is_none")]
    bootstrap: Option<&'a BootstrapCi>,
}

/// A fitted point's rate, shape and measured / fitted TTFT and ITL, as the table and the
/// report show them.
pub(crate) fn point_cells(p: &llm_perf::fit::PointReport) -> Vec<String> {
    vec![
        num(p.rate_rps, 5),
        num(p.input_tokens, 5),
        num(p.output_tokens, 5),
        num(p.obs_ttft_ms, 5),
        num(p.pred_ttft_ms, 5),
        num(p.obs_itl_ms, 5),
        num(p.pred_itl_ms, 5),
    ]
}

/// Runs `llm-perf fit`.
pub fn fit(args: &FitArgs) -> Result<String> {
    let read = args.input.read()?;
    for ((format, ds), file) in read.iter().zip(&args.input.files) {
        check_fit_input(*format, ds, file, args.input.seconds)?;
    }
    let datasets: Vec<_> = read.into_iter().map(|(_, d)| d).collect();
    let points: Vec<FitPoint> = points_from_datasets(&datasets)?;
    let [a, b, g] = args.init[..] else {
        bail!("--init takes three values α,β,γ, got {}", args.init.len());
    };
    let choice = TrainerChoice {
        model: args.model,
        loss: args.loss,
        init: [a, b, g],
        scaled: args.scaled,
        seed_compatible: args.seed_compatible,
        multistart: args.multistart,
        seed: args.seed,
        arithmetic: args.arithmetic.map(|a| match a {
            FitArithmetic::Go => Arithmetic::GoFloat32,
            FitArithmetic::F64 => Arithmetic::F64,
        }),
    };
    let trainer = choice.trainer()?;
    let fitted = trainer.fit(&points)?;
    if let Some(path) = &args.report {
        let files: Vec<String> = args
            .input
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        let report = crate::report_cmd::fit_report(format!("Fit of {}", files.join(", ")), &fitted);
        crate::report_cmd::write_report(path, &report)?;
        eprintln!("wrote {}", path.display());
    }
    let ci = if args.bootstrap > 0 {
        Some(trainer.bootstrap(&points, &fitted, args.bootstrap, 0.9, args.seed)?)
    } else {
        None
    };
    if args.json {
        let body = FitJson {
            seed: fitted.seed_response(),
            llm_perf: Extra {
                fit: &fitted,
                bootstrap: ci.as_ref(),
            },
        };
        return Ok(serde_json::to_string_pretty(&body)? + "\n");
    }
    Ok(render(&fitted, ci.as_ref(), datasets.len()))
}

fn render(f: &FittedInferno, ci: Option<&BootstrapCi>, files: usize) -> String {
    let report = f.report();
    let mut t = Table::new(&[
        "rate req/s",
        "in tok",
        "out tok",
        "TTFT obs",
        "TTFT pred",
        "ITL obs",
        "ITL pred",
        "TTFT err %",
        "ITL err %",
    ]);
    for p in &report.points {
        let mut row = point_cells(p);
        row.push(num(100.0 * p.rel_err_ttft, 3));
        row.push(num(100.0 * p.rel_err_itl, 3));
        t.row(row);
    }
    let s = &report.summary;
    let interval = |which: usize| {
        ci.map_or_else(String::new, |c| {
            let i = [&c.alpha, &c.beta, &c.gamma][which];
            format!(
                "   ({}% CI {} … {})",
                num(100.0 * c.level, 3),
                num(i.lower, 5),
                num(i.upper, 5)
            )
        })
    };
    let mut rows = vec![
        (
            "data",
            format!("{} points from {files} file(s)", report.points.len()),
        ),
        (
            "model / loss",
            format!(
                "{} / {} ({:?} arithmetic)",
                f.model(),
                f.loss_kind(),
                f.arithmetic()
            ),
        ),
        ("alpha", num(f.alpha(), 8) + " ms" + &interval(0)),
        ("beta", num(f.beta(), 8) + " ms/token" + &interval(1)),
        (
            "gamma",
            num(f.gamma(), 8) + " ms/(token·ctx)" + &interval(2),
        ),
        ("loss", num(f.loss(), 8)),
        (
            "mean abs error",
            format!(
                "TTFT {} ms, ITL {} ms",
                num(s.avg_err_ttft_ms, 6),
                num(s.avg_err_itl_ms, 6)
            ),
        ),
        (
            "paper error",
            format!(
                "TTFT {}, ITL {}  (mean|pred−meas|/mean(meas))",
                num(s.paper_err_ttft, 4),
                num(s.paper_err_itl, 4)
            ),
        ),
        (
            "optimizer",
            format!(
                "{} run(s), {} iterations, {} evaluations, stop: {:?}",
                f.runs(),
                f.iterations(),
                f.evaluations(),
                f.termination()
            ),
        ),
    ];
    for w in &f.identifiability().warnings {
        rows.push(("warning", w.clone()));
    }
    let mut out = t.render();
    out.push('\n');
    out.push_str(&key_values(&rows));
    out
}

/// Refuses inputs the Inferno fit cannot use, with the fix: an Inferno data set whose times
/// are in seconds but read as milliseconds (its ITL is below 0.2 "ms": no LLM decodes a token
/// that fast), and a Together CSV (one row per traffic level, no ITL: `estimate` reads it).
fn check_fit_input(
    format: llm_perf::readers::Format,
    ds: &llm_perf::model::PerfDataset,
    file: &std::path::Path,
    seconds: bool,
) -> Result<()> {
    use llm_perf::readers::Format;
    if format == Format::TogetherCsv {
        bail!(
            "{}: a Together benchmark CSV has no per-token ITL, which the Inferno fit needs; \
             `llm-perf estimate {}` models it (throughput, TTFT, E2E with confidence)",
            file.display(),
            file.display()
        );
    }
    if format == Format::InfernoDataSet && !seconds {
        let itl: Vec<f64> = ds.points.iter().filter_map(|p| p.itl().mean()).collect();
        if !itl.is_empty() && itl.iter().all(|&v| v < 0.2) {
            let max = itl.iter().copied().fold(0.0, f64::max);
            bail!(
                "{}: every ITL is below 0.2 ms (largest {max:.4}): these times are in seconds \
                 (the `qm_*` files of the model-trainer are); rerun with --seconds",
                file.display()
            );
        }
    }
    Ok(())
}
