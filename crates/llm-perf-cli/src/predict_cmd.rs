//! `llm-perf predict` (train, query and show step-time predictors) and `llm-perf estimate`
//! (benchmark-level metrics for a request shape from Together-style benchmark CSVs).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use llm_perf::predict::together::{BenchmarkStore, EstimateQuery, Method};
use llm_perf::predict::{
    ForestParams, GbdtParams, PredictorFile, ProfileData, Stage, StageModel, StepPredictor, Trainer,
};

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
}

/// Arguments of `llm-perf predict train`.
#[derive(Args, Debug)]
struct TrainArgs {
    /// Profiling sweep (llm-profiler benchmark JSON: batch size × input length → latencies).
    #[arg(long, value_name = "FILE")]
    profile: PathBuf,
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
}

/// Runs `llm-perf predict`.
pub fn predict(args: &PredictArgs) -> Result<String> {
    match &args.command {
        PredictCommand::Train(a) => train(a),
        PredictCommand::Query(a) => query(a),
        PredictCommand::Show(a) => show(a),
    }
}

fn train(a: &TrainArgs) -> Result<String> {
    let data = ProfileData::read(&a.profile)?;
    let trainer = match a.kind {
        Kind::Linear => Trainer::Linear,
        Kind::Gbdt => Trainer::Gbdt(GbdtParams::default()),
        Kind::Forest => Trainer::Forest(ForestParams {
            seed: a.seed,
            ..ForestParams::default()
        }),
    };
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
    Ok(out)
}

fn query(a: &QueryArgs) -> Result<String> {
    let file = PredictorFile::read(&a.file)?;
    let stage = match a.mode {
        Mode::Prefill => Stage::Prefill,
        Mode::Decode => Stage::Decode,
    };
    let ms = file.get(&a.config)?.predict_ms(stage, a.bs, a.input_len)?;
    Ok(format!("{} ms\n", num(ms, 6)))
}

fn show(a: &ShowArgs) -> Result<String> {
    let file = PredictorFile::read(&a.file)?;
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
    Ok(out)
}
