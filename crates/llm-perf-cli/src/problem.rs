//! Queue-analysis parameters from flags or from a JSON file in the queue-analysis REST body
//! format (`RPS, maxBatchSize, avgInputTokens, avgOutputTokens, alpha, beta, gamma,
//! maxQueueSize, targetTTFT, targetITL`).
//!
//! Keys are matched case-insensitively, as Go's JSON decoder does, so the upstream examples'
//! `AvgInputTokens` binds to `avgInputTokens`. Unknown keys are an error (a typo must not fall
//! back silently to a default). `maxNumTokens` and `targetTPS` are accepted as extensions.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde_json::{Map, Value};

/// The parameters of one queue-analysis problem: a JSON file and flags, flags winning.
#[derive(Args, Clone, Debug, Default)]
pub struct ProblemArgs {
    /// JSON file in the queue-analysis REST body format; flags override its values.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub values: Problem,
}

/// The fields of a problem, each from the file or a flag.
#[derive(Args, Clone, Debug, Default, PartialEq)]
pub struct Problem {
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

const KEYS: &str = "RPS, maxBatchSize, avgInputTokens, avgOutputTokens, alpha, beta, gamma, \
                    maxQueueSize, targetTTFT, targetITL, maxNumTokens, targetTPS";

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
    parse_problem(&text).with_context(|| format!("in {}", path.display()))
}

/// Parses a REST body.
pub fn parse_problem(text: &str) -> Result<Problem> {
    let map: Map<String, Value> = serde_json::from_str(text).map_err(|e| {
        anyhow!(
            "malformed JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    let mut p = Problem::default();
    for (key, value) in &map {
        match key.to_ascii_lowercase().as_str() {
            "rps" => p.rate = Some(number(key, value)?),
            "maxbatchsize" => p.max_batch = Some(count(key, value)?),
            "maxqueuesize" => p.max_queue = Some(count(key, value)?),
            "avginputtokens" => p.input_tokens = Some(number(key, value)?),
            "avgoutputtokens" => p.output_tokens = Some(number(key, value)?),
            "alpha" => p.alpha = Some(number(key, value)?),
            "beta" => p.beta = Some(number(key, value)?),
            "gamma" => p.gamma = Some(number(key, value)?),
            "maxnumtokens" => p.max_num_tokens = Some(count(key, value)?),
            "targetttft" => p.target_ttft = Some(number(key, value)?),
            "targetitl" => p.target_itl = Some(number(key, value)?),
            "targettps" => p.target_tps = Some(number(key, value)?),
            _ => bail!("unknown key `{key}`; expected one of {KEYS}"),
        }
    }
    Ok(p)
}

fn number(key: &str, value: &Value) -> Result<f64> {
    value
        .as_f64()
        .ok_or_else(|| anyhow!("field `{key}` must be a number, got {value}"))
}

fn count(key: &str, value: &Value) -> Result<u32> {
    let v = number(key, value)?;
    if v.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&v) {
        bail!("field `{key}` must be a non-negative integer, got {value}");
    }
    // Exact: v is integral and within u32's range.
    Ok(v as u32)
}

impl Problem {
    /// The value of a required field, or an error naming its key and flag.
    pub fn need<T: Copy>(value: Option<T>, key: &str, flag: &str) -> Result<T> {
        value.ok_or_else(|| anyhow!("missing `{key}`: give it in the JSON file or as --{flag}"))
    }

    /// Validates a REST body as the queue-analysis service does: `RPS`, tokens, `alpha`,
    /// `beta`, `gamma`, `maxQueueSize` and targets must be finite and `>= 0`, `maxBatchSize`
    /// `> 0`; the model fields (and `RPS` when `need_rate`) must be present. Errors name the
    /// REST key.
    ///
    /// # Errors
    /// The first missing or invalid field.
    pub fn validate_rest(&self, need_rate: bool) -> Result<()> {
        let required = [
            ("maxBatchSize", self.max_batch.map(f64::from)),
            ("avgInputTokens", self.input_tokens),
            ("avgOutputTokens", self.output_tokens),
            ("alpha", self.alpha),
            ("beta", self.beta),
            ("gamma", self.gamma),
        ];
        if need_rate && self.rate.is_none() {
            bail!("missing field `RPS`");
        }
        for (key, value) in required {
            if value.is_none() {
                bail!("missing field `{key}`");
            }
        }
        let non_negative = [
            ("RPS", self.rate),
            ("avgInputTokens", self.input_tokens),
            ("avgOutputTokens", self.output_tokens),
            ("alpha", self.alpha),
            ("beta", self.beta),
            ("gamma", self.gamma),
            ("maxQueueSize", self.max_queue.map(f64::from)),
            ("targetTTFT", self.target_ttft),
            ("targetITL", self.target_itl),
            ("targetTPS", self.target_tps),
        ];
        for (key, value) in non_negative {
            if let Some(v) = value
                && !(v.is_finite() && v >= 0.0)
            {
                bail!("field `{key}` must be a finite number >= 0, got {v}");
            }
        }
        if self.max_batch == Some(0) {
            bail!("field `maxBatchSize` must be > 0, got 0");
        }
        if self.max_num_tokens == Some(0) {
            bail!("field `maxNumTokens` must be > 0, got 0");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive() {
        let p = parse_problem(r#"{"RPS": 3, "AvgInputTokens": 128, "MAXBATCHSIZE": 48}"#).unwrap();
        assert_eq!(p.rate, Some(3.0));
        assert_eq!(p.input_tokens, Some(128.0));
        assert_eq!(p.max_batch, Some(48));
    }

    #[test]
    fn unknown_key_is_error() {
        let err = parse_problem(r#"{"alpah": 1}"#).unwrap_err();
        assert!(err.to_string().contains("alpah"), "{err}");
    }

    #[test]
    fn wrong_type_names_field() {
        let err = parse_problem(r#"{"beta": "fast"}"#).unwrap_err();
        assert!(err.to_string().contains("`beta`"), "{err}");
        let err = parse_problem(r#"{"maxBatchSize": 4.5}"#).unwrap_err();
        assert!(err.to_string().contains("`maxBatchSize`"), "{err}");
    }

    #[test]
    fn rest_validation_names_field() {
        let ok = r#"{"RPS": 3, "maxBatchSize": 48, "avgInputTokens": 128,
            "avgOutputTokens": 512, "alpha": 12, "beta": 0.05, "gamma": 0.0005}"#;
        let p = parse_problem(ok).unwrap();
        p.validate_rest(true).unwrap();
        let mut bad = p.clone();
        bad.alpha = Some(-1.0);
        let err = bad.validate_rest(true).unwrap_err();
        assert!(err.to_string().contains("`alpha`"), "{err}");
        let mut bad = p.clone();
        bad.max_batch = Some(0);
        let err = bad.validate_rest(true).unwrap_err();
        assert!(err.to_string().contains("`maxBatchSize`"), "{err}");
        let mut no_rate = p;
        no_rate.rate = None;
        no_rate.validate_rest(false).unwrap();
        let err = no_rate.validate_rest(true).unwrap_err();
        assert!(err.to_string().contains("`RPS`"), "{err}");
    }

    #[test]
    fn malformed_json_says_where() {
        let err = parse_problem("{\"RPS\": 3,\n \"alpha\": }").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
