//! Queue-analysis parameters from flags or from a JSON file in the queue-analysis REST body
//! format (`RPS, maxBatchSize, avgInputTokens, avgOutputTokens, alpha, beta, gamma,
//! maxQueueSize, targetTTFT, targetITL`).
//!
//! Keys are matched case-insensitively, as Go's JSON decoder does, so the upstream examples'
//! `AvgInputTokens` binds to `avgInputTokens`. Unknown keys are an error (a typo must not fall
//! back silently to a default). `maxNumTokens` and `targetTPS` are accepted as extensions.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;
pub use llm_perf_server::seed_api::{Problem, parse_problem};

/// The parameters of one queue-analysis problem: a JSON file and flags, flags winning.
#[derive(Args, Clone, Debug, Default)]
pub struct ProblemArgs {
    /// JSON file in the queue-analysis REST body format; flags override its values.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub values: ProblemFlags,
}

/// The fields of a problem as flags (each overrides the file's value).
#[derive(Args, Clone, Debug, Default, PartialEq)]
pub struct ProblemFlags {
    /// Arrival rate, requests per second (`RPS`).
    #[arg(long, value_name = "REQ_PER_S")]
    pub rate: Option<f64>,
    /// Maximum batch size, requests served together (`maxBatchSize`).
    #[arg(long, value_name = "N")]
    pub max_batch: Option<u32>,
    /// Maximum queue size, requests waiting (`maxQueueSize`); defaults to the max batch size.
    #[arg(long, value_name = "Q")]
    pub max_queue: Option<u32>,
    /// Mean input tokens per request (`avgInputTokens`).
    #[arg(long, value_name = "TOKENS")]
    pub input_tokens: Option<f64>,
    /// Mean output tokens per request (`avgOutputTokens`).
    #[arg(long, value_name = "TOKENS")]
    pub output_tokens: Option<f64>,
    /// Base iteration time α, ms.
    #[arg(long, allow_hyphen_values = true)]
    pub alpha: Option<f64>,
    /// Compute time per token β, ms.
    #[arg(long, allow_hyphen_values = true)]
    pub beta: Option<f64>,
    /// Memory time per token of context γ, ms.
    #[arg(long, allow_hyphen_values = true)]
    pub gamma: Option<f64>,
    /// Max tokens per iteration (chunked prefill budget, V7); default 8192 (`maxNumTokens`).
    #[arg(long, value_name = "TOKENS")]
    pub max_num_tokens: Option<u32>,
    /// TTFT target, ms (`targetTTFT`).
    #[arg(long, value_name = "MS")]
    pub target_ttft: Option<f64>,
    /// ITL target, ms (`targetITL`).
    #[arg(long, value_name = "MS")]
    pub target_itl: Option<f64>,
    /// Throughput target (`targetTPS`); as upstream, only its presence counts: the rate is
    /// then sized at 90 % of the maximum rate.
    #[arg(long, value_name = "VALUE")]
    pub target_tps: Option<f64>,
}

impl ProblemArgs {
    /// Reads the file (if any) and lets the flags override it.
    pub fn resolve(&self) -> Result<Problem> {
        let mut p = match &self.file {
            Some(path) => read_problem(path)?,
            None => Problem::default(),
        };
        let f = &self.values;
        macro_rules! over {
            ($($field:ident),*) => { $( if f.$field.is_some() { p.$field = f.$field; } )* };
        }
        over!(
            rate,
            max_batch,
            max_queue,
            input_tokens,
            output_tokens,
            alpha,
            beta,
            gamma,
            max_num_tokens,
            target_ttft,
            target_itl,
            target_tps
        );
        Ok(p)
    }
}

/// Reads a REST body file.
pub fn read_problem(path: &Path) -> Result<Problem> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_problem(&text)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("in {}", path.display()))
}
