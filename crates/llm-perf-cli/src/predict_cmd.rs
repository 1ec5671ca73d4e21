//! `llm-perf predict` (train, query and show step-time predictors) and `llm-perf estimate`
//! (benchmark-level metrics for a request shape from Together-style benchmark CSVs).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use llm_perf::model::{Accelerator, BatchShape, Dtype, ModelSpec, RooflineModel, StepTimeModel};
use llm_perf::predict::together::{BenchmarkStore, EstimateQuery, Method};
use llm_perf::predict::vidur::{read_vidur_all_reduce_csv, read_vidur_mlp_csv};
use llm_perf::predict::{
    ForestParams, GbdtParams, PredictorFile, ProfileData, RooflineAttention, Stage, StageModel,
    StepPredictor, Trainer, VidurFile, VidurPredictor,
};
use llm_perf_server::charts::predictor::AnyPredictor;

use crate::table::{Table, key_values, num};

/// Model kinds `predict train` can fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Minimum-norm least squares on the profiler's four features (the seed's model).
    Linear,
    /// Gradient-boosted trees on ln(time).
    Gbdt,
    /// Random forest on ln(time).
    Forest,
    /// Vidur-style per-operator curves from a Vidur `mlp.csv` (plus `--all-reduce`), with the
    /// roofline attention term of `--model` on `--accelerator`.
    Vidur,
}

/// Arguments of `llm-perf predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    #[command(subcommand)]
    command: PredictCommand,
}

#[derive(Subcommand, Debug)]
enum PredictCommand {
    /// Train prefill and decode predictors on an llm-profiler sweep and save them.
    Train(TrainArgs),
    /// Predict one step's time (ms) from a predictors file.
    Query(QueryArgs),
    /// List the configurations of a predictors file with their weights and validation scores.
    Show(ShowArgs),
    /// The profiler's `view`: the weights per configuration, then predictions from lines read
    /// on stdin — `mode prefill|decode`, `bs N`, `input-len L`, `config NAME` (the first
    /// configuration by default) — one after every line once mode, bs and input-len are set,
    /// until end of input. Scriptable: `printf 'mode decode\nbs 8\ninput-len 512\n' | llm-perf
    /// predict view FILE`.
    View(crate::predict_view::ViewArgs),
}

/// Arguments of `llm-perf predict train`.
#[derive(Args, Debug)]
struct TrainArgs {
    /// Profiling data: an llm-profiler sweep JSON (linear, gbdt, forest) or a Vidur `mlp.csv`
    /// (vidur).
    #[arg(long, value_name = "FILE")]
    profile: PathBuf,
    /// Vidur only: the `all_reduce.csv` of the same device, for TP > 1.
    #[arg(long, value_name = "FILE")]
    all_reduce: Option<PathBuf>,
    /// Vidur only: the catalogue model (layers, attention shape), e.g. `Llama-2-7B`.
    #[arg(long)]
    model: Option<String>,
    /// Vidur only: the catalogue accelerator for the attention term, e.g. `H100`.
    #[arg(long)]
    accelerator: Option<String>,
    /// Vidur only: tensor-parallel degree (rows of the profile with this TP).
    #[arg(long, default_value_t = 1)]
    tp: u32,
    /// Name of the configuration in the predictors file (e.g. `qwen3-4b-a100-tp1`).
    #[arg(long)]
    config: String,
    /// Model kind.
    #[arg(long, value_enum, default_value_t = Kind::Linear)]
    kind: Kind,
    /// Folds of seeded cross-validation stored with the model (0 = none).
    #[arg(long, value_name = "K", default_value_t = 5)]
    cv: usize,
    /// Seed of the cross-validation shuffle (and of the forest).
    #[arg(long, default_value_t = 2024)]
    seed: u64,
    /// Predictors file to create or add the configuration to.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Write the seed's predictor-file shape (linear models only) instead of llm-perf's envelope.
    #[arg(long)]
    seed_format: bool,
    /// Also write an offline HTML report: latency against batch size and input length with
    /// the training points.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
}

/// Arguments of `llm-perf predict query`.
#[derive(Args, Debug)]
struct QueryArgs {
    /// Predictors file (llm-perf's envelope or the seed's shape).
    file: PathBuf,
    /// Configuration name.
    config: String,
    /// Stage.
    #[arg(long, value_enum)]
    mode: Mode,
    /// Batch size.
    #[arg(long)]
    bs: f64,
    /// Input length (prefill: prompt tokens; decode: context tokens).
    #[arg(long)]
    input_len: f64,
}

/// Stage on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// A prefill of `bs` prompts of `input-len` tokens.
    Prefill,
    /// A decode step of `bs` sequences over `input-len` context tokens.
    Decode,
}

/// Arguments of `llm-perf predict show`.
#[derive(Args, Debug)]
struct ShowArgs {
    /// Predictors file.
    file: PathBuf,
    /// Print JSON (llm-perf's envelope) instead of a table.
    #[arg(long)]
    json: bool,
}

/// The flags of [`show_loaded`].
struct ShowFlags {
    json: bool,
}

/// Arguments of `llm-perf estimate`.
#[derive(Args, Debug)]
pub struct EstimateArgs {
    /// Together-style benchmark CSVs (provider_model, input/output tokens, metrics…).
    #[arg(long = "csv", value_name = "FILE", required = true)]
    csvs: Vec<PathBuf>,
    /// Model to estimate (as named in the CSVs' `provider_model` column).
    #[arg(long)]
    model: String,
    /// Prompt tokens per request.
    #[arg(long)]
    input: f64,
    /// Output tokens per request.
    #[arg(long)]
    output: f64,
    /// Target QPS, when the CSVs hold several traffic levels.
    #[arg(long)]
    traffic_level: Option<f64>,
    /// Method: auto_detect (default), linear, polynomial or average.
    #[arg(long, default_value = "auto_detect")]
    method: Method,
    /// Print the `/modeling/predict` response JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write an offline HTML report: the predictions and the fitted surface against the
    /// measured points.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
}

/// Runs `llm-perf predict`.
pub fn predict(args: &PredictArgs) -> Result<String> {
    match &args.command {
        PredictCommand::Train(a) => train(a),
        PredictCommand::Query(a) => query(a),
        PredictCommand::Show(a) => show(a),
        PredictCommand::View(a) => crate::predict_view::view(a),
    }
}

fn train(a: &TrainArgs) -> Result<String> {
    let trainer = match a.kind {
        Kind::Linear => Trainer::Linear,
        Kind::Gbdt => Trainer::Gbdt(GbdtParams::default()),
        Kind::Forest => Trainer::Forest(ForestParams {
            seed: a.seed,
            ..ForestParams::default()
        }),
        Kind::Vidur => return train_vidur(a),
    };
    let data = ProfileData::read(&a.profile).map_err(|e| not_a_sweep(&a.profile, e))?;
    if a.seed_format && a.kind != Kind::Linear {
        bail!("--seed-format holds linear models only; drop it or use --kind linear");
    }
    let predictor = if a.cv > 0 {
        StepPredictor::train_with_cv(&data, &trainer, a.cv, a.seed)?
    } else {
        StepPredictor::train(&data, &trainer)?
    };
    let mut file = if a.out.exists() {
        PredictorFile::read(&a.out)?
    } else {
        PredictorFile::new()
    };
    file.insert(a.config.clone(), predictor);
    if a.seed_format {
        file.write_seed(&a.out)?;
    } else {
        file.write(&a.out)?;
    }
    let mut out = format!(
        "trained {} predictors for `{}` on {} and wrote {}\n",
        trainer.name(),
        a.config,
        a.profile.display(),
        a.out.display()
    );
    out.push_str(&describe(&a.config, file.get(&a.config)?));
    if let Some(path) = &a.report {
        let report = crate::report_cmd::predictor_report(
            format!("Predictor `{}` from {}", a.config, a.profile.display()),
            &a.config,
            AnyPredictor::Step(file.get(&a.config)?),
            &data.results,
        );
        crate::report_cmd::write_report(path, &report)?;
        out.push_str(&format!("wrote {}\n", path.display()));
    }
    Ok(out)
}

/// A predictors file of either kind.
pub(crate) enum Loaded {
    Step(PredictorFile),
    Vidur(VidurFile),
}

/// Reads a predictors file, telling the two envelopes apart by their `format`.
pub(crate) fn load(path: &std::path::Path) -> Result<Loaded> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let is_vidur = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("format").and_then(|f| f.as_str()).map(str::to_owned))
        .is_some_and(|f| f == VidurFile::FORMAT);
    Ok(if is_vidur {
        Loaded::Vidur(VidurFile::from_json_str(&text, path)?)
    } else {
        Loaded::Step(PredictorFile::from_json_str(&text, path)?)
    })
}

fn query(a: &QueryArgs) -> Result<String> {
    let stage = match a.mode {
        Mode::Prefill => Stage::Prefill,
        Mode::Decode => Stage::Decode,
    };
    let ms = predict_ms(&load(&a.file)?, &a.config, stage, a.bs, a.input_len)?;
    Ok(format!("{} ms\n", num(ms, 6)))
}

/// One step's predicted time, ms, from configuration `config` of a loaded predictors file.
pub(crate) fn predict_ms(
    loaded: &Loaded,
    config: &str,
    stage: Stage,
    bs: f64,
    input_len: f64,
) -> Result<f64> {
    Ok(match loaded {
        Loaded::Step(file) => file.get(config)?.predict_ms(stage, bs, input_len)?,
        Loaded::Vidur(file) => {
            let predictor = file.get(config)?;
            predictor.step_time(&uniform_batch(stage, bs, input_len)?)
        }
    })
}

/// The configuration names of a loaded predictors file, in file order.
pub(crate) fn config_names(loaded: &Loaded) -> Vec<String> {
    match loaded {
        Loaded::Step(file) => file.configs.keys().cloned().collect(),
        Loaded::Vidur(file) => file.configs.keys().cloned().collect(),
    }
}

/// The step of `bs` identical requests: whole prompts of `len` tokens, or decodes over `len`
/// cached tokens.
fn uniform_batch(stage: Stage, bs: f64, len: f64) -> Result<BatchShape> {
    let whole = |name: &str, v: f64, least: f64| -> Result<u32> {
        if v.fract() != 0.0 || !(least..=f64::from(u32::MAX)).contains(&v) {
            bail!("--{name} must be a whole number >= {least} for a Vidur predictor, got {v}");
        }
        Ok(v as u32)
    };
    let (bs, len) = (whole("bs", bs, 1.0)?, whole("input-len", len, 0.0)?);
    Ok(match stage {
        Stage::Prefill => {
            let mut b = BatchShape::default();
            for _ in 0..bs {
                b.add_prefill(len, 0, true);
            }
            b
        }
        Stage::Decode => BatchShape::decode(bs, len),
    })
}

fn train_vidur(a: &TrainArgs) -> Result<String> {
    let (Some(model_name), Some(gpu_name)) = (&a.model, &a.accelerator) else {
        bail!(
            "--kind vidur needs --model (layers, attention shape) and --accelerator (attention term)"
        );
    };
    let model = ModelSpec::lookup(model_name)?;
    let gpu = Accelerator::lookup(gpu_name)?;
    let open = |p: &PathBuf| {
        std::fs::File::open(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
    };
    let rows = read_vidur_mlp_csv(open(&a.profile)?, &a.profile)?;
    if !rows.iter().any(|r| r.tp == a.tp) {
        let mut found: Vec<u32> = rows.iter().map(|r| r.tp).collect();
        found.sort_unstable();
        found.dedup();
        bail!(
            "{} has no rows for TP {} (it has TP {:?}); choose --tp accordingly",
            a.profile.display(),
            a.tp,
            found
        );
    }
    let roofline = RooflineModel::new(model.clone(), gpu, Dtype::Bf16, a.tp)?;
    let mut predictor = VidurPredictor::train(&rows, a.tp, model.layers)?
        .with_roofline_attention(RooflineAttention::from_roofline(&roofline)?);
    if let Some(path) = &a.all_reduce {
        predictor = predictor.with_all_reduce(read_vidur_all_reduce_csv(
            open(path)?,
            path,
            a.tp,
            model.hidden,
        )?);
    }
    let mut file = if a.out.exists() {
        VidurFile::read(&a.out)?
    } else {
        VidurFile::new()
    };
    file.configs.insert(a.config.clone(), predictor);
    file.write(&a.out)?;
    let p = file.get(&a.config)?;
    let mut out = format!(
        "trained a Vidur predictor for `{}` ({} layers, TP {}, ops: {}; roofline attention) and wrote {}\n",
        a.config,
        p.num_layers(),
        p.tp(),
        p.ops().collect::<Vec<_>>().join(", "),
        a.out.display()
    );
    if let Some(path) = &a.report {
        // Vidur profiles are per operation, not per step: the report has no training points.
        let report = crate::report_cmd::predictor_report(
            format!(
                "Vidur predictor `{}` from {}",
                a.config,
                a.profile.display()
            ),
            &a.config,
            AnyPredictor::Vidur(p),
            &[],
        );
        crate::report_cmd::write_report(path, &report)?;
        out.push_str(&format!("wrote {}\n", path.display()));
    }
    Ok(out)
}

fn show(a: &ShowArgs) -> Result<String> {
    show_loaded(load(&a.file)?, a.json)
}

/// `predict show` of a loaded file: a table of weights per configuration, or JSON.
pub(crate) fn show_loaded(loaded: Loaded, json: bool) -> Result<String> {
    let a = ShowFlags { json };
    let file = match loaded {
        Loaded::Step(file) => file,
        Loaded::Vidur(file) => {
            if a.json {
                return Ok(serde_json::to_string_pretty(&file)? + "\n");
            }
            let mut out = String::new();
            for (name, p) in &file.configs {
                out.push_str(&format!(
                    "config `{name}` (vidur): {} layers, TP {}, ops {}{}\n",
                    p.num_layers(),
                    p.tp(),
                    p.ops().collect::<Vec<_>>().join(", "),
                    if p.attention().is_some() {
                        ", roofline attention"
                    } else {
                        ""
                    }
                ));
            }
            return Ok(out);
        }
    };
    if a.json {
        return Ok(file.to_json_string()? + "\n");
    }
    let mut out = String::new();
    for (name, predictor) in &file.configs {
        out.push_str(&describe(name, predictor));
        out.push('\n');
    }
    Ok(out)
}

fn describe(name: &str, p: &StepPredictor) -> String {
    let mut t = Table::new(&["stage", "model", "weights", "bias s", "CV MAPE %", "CV R²"]);
    for stage in Stage::ALL {
        let model = p.stage(stage);
        let (weights, bias) = match model {
            StageModel::Linear(m) => (
                m.weights()
                    .iter()
                    .map(|w| num(*w, 4))
                    .collect::<Vec<_>>()
                    .join(", "),
                num(m.bias(), 5),
            ),
            _ => ("-".into(), "-".into()),
        };
        let cv = p.validation.get(&stage);
        t.row(vec![
            stage.as_str().to_owned(),
            model.kind().to_owned(),
            weights,
            bias,
            cv.map_or_else(|| "-".into(), |c| num(c.metrics.mape, 4)),
            cv.map_or_else(|| "-".into(), |c| num(c.metrics.r2, 4)),
        ]);
    }
    format!("config `{name}`\n{}", t.render())
}

/// Runs `llm-perf estimate`.
pub fn estimate(a: &EstimateArgs) -> Result<String> {
    let mut store = BenchmarkStore::new();
    for csv in &a.csvs {
        store.add_csv_file(csv)?;
    }
    let query = EstimateQuery {
        input_tokens: a.input,
        output_tokens: a.output,
        traffic_level: a.traffic_level,
        method: a.method,
    };
    let est = store.estimate(&a.model, &query)?;
    if let Some(path) = &a.report {
        let report = crate::report_cmd::estimate_report(
            format!("Estimate for {}", a.model),
            &est,
            store.rows(&a.model)?,
            &query,
        )?;
        crate::report_cmd::write_report(path, &report)?;
        eprintln!("wrote {}", path.display());
    }
    if a.json {
        return Ok(serde_json::to_string_pretty(&est)? + "\n");
    }
    let rows = [
        ("model", est.model.clone()),
        (
            "shape",
            format!(
                "{} input / {} output tokens",
                num(est.input_tokens, 6),
                num(est.output_tokens, 6)
            ),
        ),
        ("method", format!("{:?}", est.interpolation_method)),
        ("confidence", format!("{:?}", est.confidence)),
        ("benchmarks used", est.num_benchmarks_used.to_string()),
    ];
    let metrics: Vec<(String, String)> = est
        .predictions
        .iter()
        .map(|(k, v)| (k.clone(), num(*v, 6)))
        .collect();
    let mut out = key_values(&rows);
    out.push('\n');
    let mut t = Table::new(&["metric", "predicted"]);
    for (k, v) in metrics {
        t.row(vec![k, v]);
    }
    out.push_str(&t.render());
    for note in &est.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    Ok(out)
}

/// The step-time model of configuration `config` of a predictors file, for the simulator.
pub(crate) fn step_model(
    path: &std::path::Path,
    config: &str,
) -> Result<std::sync::Arc<dyn StepTimeModel>> {
    Ok(match load(path)? {
        Loaded::Step(file) => std::sync::Arc::new(file.get(config)?.clone()),
        Loaded::Vidur(file) => std::sync::Arc::new(file.get(config)?.clone()),
    })
}

/// The error of a `--profile` that is not an llm-profiler sweep: when the file is another
/// format llm-perf knows, say which and which command takes it.
fn not_a_sweep(path: &Path, err: llm_perf::predict::PredictError) -> anyhow::Error {
    use llm_perf::readers::{Format, detect};
    let Ok(bytes) = std::fs::read(path) else {
        return err.into();
    };
    let format = detect(&bytes, Some(path));
    if matches!(format, Format::Unknown | Format::LlmProfilerSweep) {
        return err.into();
    }
    let what = if format.is_profile() {
        "a profile this trainer does not take (--kind vidur reads a Vidur mlp.csv)"
    } else {
        "benchmark results, not a step-time profile: `llm-perf fit` (Inferno α, β, γ) or \
         `llm-perf estimate` (Together CSVs) model them"
    };
    anyhow::anyhow!(
        "{}: detected as {} — {what}; `predict train` takes an llm-profiler sweep \
         (`benchmark_data_*.json` with `results`) or, with --kind vidur, a Vidur mlp.csv",
        path.display(),
        format.name()
    )
}
