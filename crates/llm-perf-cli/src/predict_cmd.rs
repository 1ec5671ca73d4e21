//! `llm-perf predict` (train, query and show step-time predictors) and `llm-perf estimate`
//! (benchmark-level metrics for a request shape from Together-style benchmark CSVs).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use llm_perf::model::{Accelerator, BatchShape, Dtype, ModelSpec, RooflineModel, StepTimeModel};
use llm_perf::predict::state::{NUM_STATE_FEATURES, PLAUSIBLE_MS, StateTrainParams};
use llm_perf::predict::together::{BenchmarkStore, EstimateQuery, Method};
use llm_perf::predict::vidur::{read_vidur_all_reduce_csv, read_vidur_mlp_csv};
use llm_perf::predict::xgboost::DumpOptions;
use llm_perf::predict::{
    ForestParams, GbdtParams, PredictorFile, ProfileData, RangeCheck, RooflineAttention, Stage,
    StageModel, StateBatch, StateModel, StateRequest, StateSample, StepPredictor, Trainer,
    VidurFile, VidurPredictor, XgbModel,
};
use llm_perf_server::charts::predictor::AnyPredictor;

use crate::table::{Table, key_values, num};

/// Model kinds `predict train` can fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Minimum-norm least squares on the profiler's four features (the seed's model; the
    /// default for a sweep).
    Linear,
    /// Gradient-boosted trees on ln(time) (the only kind, and the default, for an
    /// msserviceprofiler batch profile: the serving tuner's 160-feature state model).
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
    /// Train prefill and decode predictors on an llm-profiler sweep, or the serving tuner's
    /// state model on an msserviceprofiler batch profile (detected from the content), or
    /// import an XGBoost state model (`--xgboost`), and save them.
    Train(TrainArgs),
    /// Predict one step's time (ms) from a predictors file, or evaluate an XGBoost JSON model
    /// on a feature row (`--xgboost MODEL.json --features …`). Warns on stderr when the query
    /// lies outside the training range.
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
    /// Profiling data: an llm-profiler sweep JSON (linear, gbdt, forest), an msserviceprofiler
    /// batch profile (`pretrain_data.json`, a CSV of Python tuples: the state model), or a
    /// Vidur `mlp.csv` (vidur).
    #[arg(long, value_name = "FILE", required_unless_present = "xgboost")]
    profile: Option<PathBuf>,
    /// Import an XGBoost model of the 160 state features as a state model instead of
    /// training: a JSON model (`save_model("m.json")`) or a JSON tree dump (with
    /// `--base-score`).
    #[arg(long, value_name = "MODEL.json", conflicts_with = "profile")]
    xgboost: Option<PathBuf>,
    /// XGBoost tree dumps only: the model's base_score (a dump does not record it).
    #[arg(long)]
    base_score: Option<f64>,
    /// Unit of `model_execute_time` in a batch profile (default us: msserviceprofiler
    /// writes µs), or of an imported XGBoost model's output (default ms).
    #[arg(long, value_enum)]
    time_unit: Option<TimeUnit>,
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
    /// Model kind (default: linear for a sweep, gbdt for a batch profile).
    #[arg(long, value_enum)]
    kind: Option<Kind>,
    /// Folds of seeded cross-validation stored with the model (0 = none; sweeps only: the
    /// state model is scored on the seed's 90/10 split).
    #[arg(long, value_name = "K", default_value_t = 5)]
    cv: usize,
    /// Seed of the cross-validation shuffle (and of the forest), or of the state model's
    /// 90/10 split.
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

/// Time unit on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TimeUnit {
    /// Microseconds.
    Us,
    /// Milliseconds.
    Ms,
}

impl TimeUnit {
    fn ms_per_unit(self) -> f64 {
        match self {
            TimeUnit::Us => 1e-3,
            TimeUnit::Ms => 1.0,
        }
    }

    fn name(self) -> &'static str {
        match self {
            TimeUnit::Us => "µs",
            TimeUnit::Ms => "ms",
        }
    }
}

/// Arguments of `llm-perf predict query`.
///
/// A step predictor takes `--mode --bs --input-len`. A state model takes a uniform batch
/// (`--bs --input-len [--output-len] [--need-blocks] [--mode]`), explicit requests
/// (`--request IN,BLOCKS,OUT`, repeated) or the 160 raw features (`--features`). With
/// `--xgboost MODEL.json --features …` no predictors file is needed.
#[derive(Args, Debug)]
struct QueryArgs {
    /// Predictors file (llm-perf's envelope or the seed's shape).
    #[arg(required_unless_present = "xgboost")]
    file: Option<PathBuf>,
    /// Configuration (or state model) name.
    #[arg(required_unless_present = "xgboost")]
    config: Option<String>,
    /// Stage. Required for step predictors; for state models it defaults to decode when any
    /// request has output tokens, else prefill.
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// Batch size (requests in the step).
    #[arg(long)]
    bs: Option<f64>,
    /// Input length (step predictors — prefill: prompt tokens; decode: context tokens. State
    /// models: prompt tokens per request).
    #[arg(long)]
    input_len: Option<f64>,
    /// State models: tokens generated so far per request (default 0).
    #[arg(long)]
    output_len: Option<f64>,
    /// State models: KV blocks held per request (default ⌈(input + output) × the model's
    /// blocks per token⌉).
    #[arg(long)]
    need_blocks: Option<f64>,
    /// State models: one request as `INPUT,BLOCKS,OUTPUT` (repeat for each request; replaces
    /// --bs, --input-len, --output-len and --need-blocks).
    #[arg(long = "request", value_name = "IN,BLOCKS,OUT")]
    requests: Vec<String>,
    /// State models or --xgboost: the raw feature row, comma-separated (`nan` = missing).
    #[arg(long, value_name = "X0,X1,…", allow_hyphen_values = true)]
    features: Option<String>,
    /// Evaluate this XGBoost model (JSON model or JSON tree dump) on --features and print its
    /// raw output (no predictors file).
    #[arg(long, value_name = "MODEL.json", conflicts_with_all = ["file", "config"])]
    xgboost: Option<PathBuf>,
    /// --xgboost with a tree dump: the model's base_score.
    #[arg(long)]
    base_score: Option<f64>,
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
    if let Some(model) = &a.xgboost {
        return import_xgboost(a, model);
    }
    let Some(profile) = &a.profile else {
        bail!("give --profile FILE (or --xgboost MODEL.json to import a state model)");
    };
    if a.kind == Some(Kind::Vidur) {
        return train_vidur(a, profile);
    }
    if let Ok(bytes) = std::fs::read(profile)
        && llm_perf::readers::detect(&bytes, Some(profile))
            == llm_perf::readers::Format::MsServiceProfilerBatches
    {
        return train_state(a, profile, &bytes);
    }
    if a.time_unit.is_some() || a.base_score.is_some() {
        bail!("--time-unit and --base-score apply to batch profiles and XGBoost imports only");
    }
    let kind = a.kind.unwrap_or(Kind::Linear);
    let trainer = match kind {
        Kind::Linear => Trainer::Linear,
        Kind::Gbdt => Trainer::Gbdt(GbdtParams::default()),
        Kind::Forest => Trainer::Forest(ForestParams {
            seed: a.seed,
            ..ForestParams::default()
        }),
        Kind::Vidur => return train_vidur(a, profile),
    };
    let data = ProfileData::read(profile).map_err(|e| not_a_sweep(profile, e))?;
    if a.seed_format && kind != Kind::Linear {
        bail!("--seed-format holds linear models only; drop it or use --kind linear");
    }
    let predictor = if a.cv > 0 {
        StepPredictor::train_with_cv(&data, &trainer, a.cv, a.seed)?
    } else {
        StepPredictor::train(&data, &trainer)?
    };
    let mut file = existing_file(&a.out)?;
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
        profile.display(),
        a.out.display()
    );
    out.push_str(&describe(&a.config, file.get(&a.config)?));
    if let Some(path) = &a.report {
        let report = crate::report_cmd::predictor_report(
            format!("Predictor `{}` from {}", a.config, profile.display()),
            &a.config,
            AnyPredictor::Step(file.get(&a.config)?),
            &data.results,
        );
        crate::report_cmd::write_report(path, &report)?;
        out.push_str(&format!("wrote {}\n", path.display()));
    }
    Ok(out)
}

/// The predictors file at `path` if it exists (to add a configuration to), else a new one.
fn existing_file(path: &Path) -> Result<PredictorFile> {
    Ok(if path.exists() {
        PredictorFile::read(path)?
    } else {
        PredictorFile::new()
    })
}

/// Writes a warning line on stderr (stdout keeps the command's result).
fn warn(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Options a state model does not take.
fn reject_for_state(a: &TrainArgs, what: &str) -> Result<()> {
    if a.seed_format {
        bail!("--seed-format holds linear models only; {what} is a state model");
    }
    if a.report.is_some() {
        bail!("--report draws step predictors only; {what} is a state model");
    }
    if matches!(a.kind, Some(k) if k != Kind::Gbdt) {
        bail!("{what} trains the state model, a gbdt: drop --kind or use --kind gbdt");
    }
    Ok(())
}

/// `predict train` on an msserviceprofiler batch profile: the serving tuner's state model.
fn train_state(a: &TrainArgs, profile: &Path, bytes: &[u8]) -> Result<String> {
    reject_for_state(a, "a batch profile")?;
    if a.base_score.is_some() {
        bail!("--base-score applies to XGBoost tree dumps only");
    }
    let unit = a.time_unit.unwrap_or(TimeUnit::Us);
    let name = profile.display().to_string();
    let rows = llm_perf::readers::read_ms_batches(bytes, &name)?;
    let mut samples = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let ms = r.model_execute_time * unit.ms_per_unit();
        if ms <= 0.0 {
            bail!(
                "{name}: row {}, column `model_execute_time`: {}: step times must be > 0",
                i + 1,
                r.model_execute_time
            );
        }
        samples.push(StateSample {
            batch: StateBatch {
                stage: match r.stage {
                    llm_perf::readers::Stage::Prefill => Stage::Prefill,
                    llm_perf::readers::Stage::Decode => Stage::Decode,
                },
                batch_size: f64::from(r.batch_size),
                total_need_blocks: r.total_need_blocks as f64,
                total_prefill_token: r.total_prefill_tokens as f64,
                max_seq_len: r.max_seq_len as f64,
                requests: r
                    .requests
                    .iter()
                    .map(|q| StateRequest {
                        input_length: q.input_length as f64,
                        need_blocks: q.need_blocks as f64,
                        output_length: q.output_length as f64,
                    })
                    .collect(),
            },
            model_execute_ms: ms,
        });
    }
    let params = StateTrainParams {
        seed: a.seed,
        ..StateTrainParams::default()
    };
    let fit = StateModel::train(&samples, &params).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let mut model = fit.model.clone();
    let prefill = samples
        .iter()
        .filter(|s| s.batch.stage == Stage::Prefill)
        .count();
    model.metadata = Some(serde_json::json!({
        "source": name,
        "format": "msserviceprofiler batch profile",
        "time_unit": unit.name(),
        "batches": samples.len(),
        "prefill_batches": prefill,
        "decode_batches": samples.len() - prefill,
    }));
    let mut file = existing_file(&a.out)?;
    file.insert_state(a.config.clone(), model);
    file.write(&a.out)?;
    for w in fit.warnings() {
        warn(&format!("warning: {w}"));
    }
    let mut out = format!(
        "trained a state model (gbdt on {NUM_STATE_FEATURES} features) for `{}` on {} and wrote {}\n\
         batches: {} ({prefill} prefill, {} decode); model_execute_time read in {}{}\n",
        a.config,
        name,
        a.out.display(),
        samples.len(),
        samples.len() - prefill,
        unit.name(),
        if unit == TimeUnit::Us {
            " (÷ 1000 → ms)"
        } else {
            ""
        }
    );
    out.push_str(&describe_state(&a.config, file.get_state(&a.config)?));
    Ok(out)
}

/// `predict train --xgboost`: an XGBoost model of the 160 state features as a state model.
fn import_xgboost(a: &TrainArgs, path: &Path) -> Result<String> {
    reject_for_state(a, "--xgboost")?;
    let unit = a.time_unit.unwrap_or(TimeUnit::Ms);
    let xgb = read_xgboost(path, a.base_score, Some(NUM_STATE_FEATURES))?;
    if xgb.num_features() != NUM_STATE_FEATURES {
        bail!(
            "{}: the model takes {} features, a state model {NUM_STATE_FEATURES}; evaluate it with \
             `predict query --xgboost {} --features …` instead",
            path.display(),
            xgb.num_features(),
            path.display()
        );
    }
    let (trees, objective, base) = (
        xgb.num_trees(),
        xgb.objective().to_owned(),
        xgb.base_score(),
    );
    let mut model = StateModel::from_xgboost(xgb, unit.ms_per_unit())?;
    model.metadata = Some(serde_json::json!({
        "source": path.display().to_string(),
        "format": "XGBoost JSON",
        "time_unit": unit.name(),
    }));
    let mut file = existing_file(&a.out)?;
    file.insert_state(a.config.clone(), model);
    file.write(&a.out)?;
    let mut out = format!(
        "imported {} ({trees} trees, {objective}, base_score {base}; output in {}) as state model `{}` and wrote {}\n",
        path.display(),
        unit.name(),
        a.config,
        a.out.display()
    );
    out.push_str(&describe_state(&a.config, file.get_state(&a.config)?));
    Ok(out)
}

/// Reads an XGBoost JSON model, or a JSON tree dump when `base_score` is given.
fn read_xgboost(
    path: &Path,
    base_score: Option<f64>,
    num_feature: Option<usize>,
) -> Result<XgbModel> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let is_dump = text.trim_start().starts_with('[');
    Ok(match (is_dump, base_score) {
        (true, Some(base_score)) => XgbModel::from_dump_str(
            &text,
            path,
            DumpOptions {
                base_score,
                num_feature,
            },
        )?,
        (true, None) => bail!(
            "{}: a JSON tree dump does not record base_score: give --base-score (the model's \
             `learner_model_param.base_score`)",
            path.display()
        ),
        (false, None) => XgbModel::from_json_str(&text, path)?,
        (false, Some(_)) => bail!(
            "{}: a JSON model records its base_score; --base-score is for tree dumps",
            path.display()
        ),
    })
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
    let doc = serde_json::from_str::<serde_json::Value>(&text).ok();
    if doc.as_ref().is_some_and(XgbModel::is_model_json) {
        bail!(
            "{}: an XGBoost model, not a predictors file: evaluate it with `predict query \
             --xgboost {} --features …`, or import a 160-feature state model with `predict \
             train --xgboost {} --config NAME --out FILE`",
            path.display(),
            path.display(),
            path.display()
        );
    }
    let is_vidur = doc
        .and_then(|v| v.get("format").and_then(|f| f.as_str()).map(str::to_owned))
        .is_some_and(|f| f == VidurFile::FORMAT);
    Ok(if is_vidur {
        Loaded::Vidur(VidurFile::from_json_str(&text, path)?)
    } else {
        Loaded::Step(PredictorFile::from_json_str(&text, path)?)
    })
}

fn query(a: &QueryArgs) -> Result<String> {
    if let Some(model) = &a.xgboost {
        return query_xgboost(a, model);
    }
    let (Some(path), Some(config)) = (&a.file, &a.config) else {
        bail!("give a predictors file and a configuration, or --xgboost MODEL.json --features …");
    };
    let loaded = load(path)?;
    if let Loaded::Step(file) = &loaded
        && let Some(model) = file.state_models.get(config)
    {
        return query_state(a, config, model);
    }
    if a.base_score.is_some() {
        bail!("--base-score applies to --xgboost tree dumps only");
    }
    if a.output_len.is_some()
        || a.need_blocks.is_some()
        || !a.requests.is_empty()
        || a.features.is_some()
    {
        bail!(
            "`{config}` is a step predictor: it takes --mode, --bs and --input-len only \
             (--output-len, --need-blocks, --request and --features are for state models)"
        );
    }
    let (Some(mode), Some(bs), Some(input_len)) = (a.mode, a.bs, a.input_len) else {
        bail!("`{config}` is a step predictor: give --mode, --bs and --input-len");
    };
    let stage = stage_of(mode);
    let ms = predict_ms(&loaded, config, stage, bs, input_len)?;
    if let Loaded::Step(file) = &loaded {
        let check = file.get(config)?.range_check(stage, bs, input_len);
        warn_range(&format!("`{config}` ({stage})"), &check);
    }
    Ok(format!("{} ms\n", num(ms, 6)))
}

fn stage_of(mode: Mode) -> Stage {
    match mode {
        Mode::Prefill => Stage::Prefill,
        Mode::Decode => Stage::Decode,
    }
}

/// Writes the extrapolation warning (or the unknown-range note) of a range check on stderr.
fn warn_range(what: &str, check: &RangeCheck) {
    match check {
        RangeCheck::Inside => {}
        RangeCheck::Outside(out) => warn(&format!(
            "warning: {what} extrapolates: {}",
            out.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )),
        RangeCheck::Unknown => warn(&format!(
            "note: {what} has no stored training range (a seed file without the sweep's \
             metadata, a file written before llm-perf stored ranges, or an imported model): \
             cannot tell whether this query extrapolates"
        )),
    }
}

/// Parses a comma- (or space-) separated row of numbers; `nan` (any case) is a missing value.
fn parse_features(text: &str) -> Result<Vec<f64>> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .enumerate()
        .map(|(i, t)| {
            t.parse::<f64>()
                .map_err(|_| anyhow::anyhow!("--features: value {i} `{t}` is not a number"))
        })
        .collect()
}

/// `predict query` of a state model.
fn query_state(a: &QueryArgs, config: &str, model: &StateModel) -> Result<String> {
    if a.base_score.is_some() {
        bail!("--base-score applies to --xgboost tree dumps only");
    }
    let uniform_flags = a.bs.is_some()
        || a.input_len.is_some()
        || a.output_len.is_some()
        || a.need_blocks.is_some();
    let what = format!("state model `{config}`");
    let (ms, check) = if let Some(text) = &a.features {
        if uniform_flags || !a.requests.is_empty() || a.mode.is_some() {
            bail!(
                "--features is the whole feature row: drop --mode, --bs, --input-len, --output-len, --need-blocks and --request"
            );
        }
        let x = parse_features(text)?;
        if x.iter().any(|v| v.is_nan()) {
            bail!("--features: a state model takes no missing values");
        }
        (
            model.predict_features_ms(&x)?,
            model.range_check_features(&x),
        )
    } else if !a.requests.is_empty() {
        if uniform_flags {
            bail!(
                "--request lists the requests: drop --bs, --input-len, --output-len and --need-blocks"
            );
        }
        let mut requests = Vec::with_capacity(a.requests.len());
        for (i, text) in a.requests.iter().enumerate() {
            let v = parse_features(text)
                .ok()
                .filter(|v| v.len() == 3)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--request {}: `{text}` is not INPUT,BLOCKS,OUTPUT (three numbers)",
                        i + 1
                    )
                })?;
            requests.push(StateRequest {
                input_length: v[0],
                need_blocks: v[1],
                output_length: v[2],
            });
        }
        let stage = a.mode.map_or_else(
            || {
                if requests.iter().any(|r| r.output_length > 0.0) {
                    Stage::Decode
                } else {
                    Stage::Prefill
                }
            },
            stage_of,
        );
        let batch = StateBatch::from_requests(stage, requests);
        (model.predict_ms(&batch)?, model.range_check(&batch))
    } else {
        let (Some(bs), Some(input)) = (a.bs, a.input_len) else {
            bail!(
                "{what}: give --bs and --input-len (and --output-len, --need-blocks), \
                 --request IN,BLOCKS,OUT (repeated), or --features"
            );
        };
        if !(bs >= 1.0 && bs.fract() == 0.0) {
            bail!("--bs must be a whole number >= 1, got {bs}");
        }
        let output = a.output_len.unwrap_or(0.0);
        let blocks = a
            .need_blocks
            .unwrap_or_else(|| ((input + output) * model.approximation.blocks_per_token).ceil());
        let request = StateRequest {
            input_length: input,
            need_blocks: blocks,
            output_length: output,
        };
        let stage = a.mode.map_or(
            if output > 0.0 {
                Stage::Decode
            } else {
                Stage::Prefill
            },
            stage_of,
        );
        (
            model.predict_uniform_ms(stage, bs, &request)?,
            model.range_check_uniform(stage, bs, &request),
        )
    };
    warn_range(&what, &check);
    if !llm_perf::predict::state::is_plausible_ms(ms) {
        warn(&format!(
            "warning: {what} predicts {} ms, outside {}…{} ms: a unit error? (the seed flags this)",
            num(ms, 6),
            PLAUSIBLE_MS.0,
            PLAUSIBLE_MS.1
        ));
    }
    Ok(format!("{} ms\n", num(ms, 6)))
}

/// `predict query --xgboost MODEL.json --features …`: the model's raw output.
fn query_xgboost(a: &QueryArgs, path: &Path) -> Result<String> {
    if a.mode.is_some()
        || a.bs.is_some()
        || a.input_len.is_some()
        || a.output_len.is_some()
        || a.need_blocks.is_some()
        || !a.requests.is_empty()
    {
        bail!(
            "--xgboost evaluates a raw feature row: give --features only (and --base-score for a dump)"
        );
    }
    let Some(text) = &a.features else {
        bail!("--xgboost needs --features X0,X1,… (the model's feature row)");
    };
    let model = read_xgboost(path, a.base_score, None)?;
    let x = parse_features(text)?;
    let y = model.predict(&x)?;
    Ok(format!("{y}\n"))
}

/// One step's predicted time, ms, from configuration `config` of a loaded predictors file
/// (a state model takes `bs` requests of `input_len` prompt tokens and no output).
pub(crate) fn predict_ms(
    loaded: &Loaded,
    config: &str,
    stage: Stage,
    bs: f64,
    input_len: f64,
) -> Result<f64> {
    Ok(match loaded {
        Loaded::Step(file) => match file.state_models.get(config) {
            Some(model) => {
                let request = StateRequest {
                    input_length: input_len,
                    need_blocks: (input_len * model.approximation.blocks_per_token).ceil(),
                    output_length: 0.0,
                };
                model.predict_uniform_ms(stage, bs, &request)?
            }
            None => file.get(config)?.predict_ms(stage, bs, input_len)?,
        },
        Loaded::Vidur(file) => {
            let predictor = file.get(config)?;
            predictor.step_time(&uniform_batch(stage, bs, input_len)?)
        }
    })
}

/// The configuration names of a loaded predictors file, in file order.
pub(crate) fn config_names(loaded: &Loaded) -> Vec<String> {
    match loaded {
        Loaded::Step(file) => file.names(),
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

fn train_vidur(a: &TrainArgs, profile: &Path) -> Result<String> {
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
    let rows = read_vidur_mlp_csv(open(&profile.to_path_buf())?, profile)?;
    if !rows.iter().any(|r| r.tp == a.tp) {
        let mut found: Vec<u32> = rows.iter().map(|r| r.tp).collect();
        found.sort_unstable();
        found.dedup();
        bail!(
            "{} has no rows for TP {} (it has TP {:?}); choose --tp accordingly",
            profile.display(),
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
            format!("Vidur predictor `{}` from {}", a.config, profile.display()),
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
    for (name, model) in &file.state_models {
        out.push_str(&describe_state(name, model));
        out.push('\n');
    }
    Ok(out)
}

/// A state model: regressor, scores, mapping from simulator steps, training ranges.
fn describe_state(name: &str, m: &StateModel) -> String {
    let mut out = format!(
        "state model `{name}` ({}, {NUM_STATE_FEATURES} features → ms)\n",
        m.regressor.kind()
    );
    if let Some(v) = &m.validation {
        out.push_str(&format!(
            "split (seed {}): {} train / {} held-out rows\n",
            v.seed, v.train.rows, v.test.rows
        ));
        let mut t = Table::new(&["part", "rows", "MAPE %", "RMSE ms", "R²"]);
        for (part, s) in [("train", &v.train), ("held-out", &v.test)] {
            t.row(vec![
                part.to_owned(),
                s.rows.to_string(),
                num(s.mape, 4),
                num(s.rmse, 4),
                num(s.r2, 4),
            ]);
        }
        out.push_str(&t.render());
    }
    let a = &m.approximation;
    out.push_str(&format!(
        "simulator steps: {} blocks per token (≈ {} tokens per block), decode output fraction {}\n",
        num(a.blocks_per_token, 4),
        num(1.0 / a.blocks_per_token, 4),
        num(a.decode_output_fraction, 4)
    ));
    if !m.training_ranges.is_empty() {
        let ranges: Vec<String> = m
            .training_ranges
            .iter()
            .map(|(k, r)| format!("{k} {r}"))
            .collect();
        out.push_str(&format!("training ranges: {}\n", ranges.join(", ")));
    }
    out
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
        Loaded::Step(file) => match file.state_models.get(config) {
            Some(model) => std::sync::Arc::new(model.clone()),
            None => std::sync::Arc::new(file.get(config)?.clone()),
        },
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
         (`benchmark_data_*.json` with `results`), an msserviceprofiler batch profile or, \
         with --kind vidur, a Vidur mlp.csv",
        path.display(),
        format.name()
    )
}
