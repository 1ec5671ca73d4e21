//! Format detection from content; the file name is only a hint.

use std::path::Path;

use crate::text::utf16_endian;

/// A file format `perf-readers` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Inferno native `DataSet` JSON (`{"name", "data": [{"requestRate", …}]}`).
    InfernoDataSet,
    /// GuideLLM JSON report (`{"benchmarks": […]}`, v0.2 and later).
    GuidellmJson,
    /// GuideLLM CSV rows as a JSON array of objects keyed by the CSV titles.
    GuidellmCsvJson,
    /// GuideLLM CSV export (single header row, or the v0.4+ three header rows).
    GuidellmCsv,
    /// GuideLLM HTML report with an embedded `window.benchmarks = […]`.
    GuidellmHtml,
    /// `vllm bench serve` / `benchmark_serving.py` result (JSON or JSON Lines).
    VllmBench,
    /// SGLang `bench_serving` result (JSON Lines).
    SglangBench,
    /// Together benchmark CSV (`provider_name,provider_model,traffic_mode,traffic_level,…`).
    TogetherCsv,
    /// AISBench common metrics `<dataset>.json` (`{"Request Throughput": {"total": …}, …}`).
    AisbenchJson,
    /// AISBench per-request statistics `<dataset>.csv` (`Performance Parameters,Stage,Average,…`).
    AisbenchCsv,
    /// Azure LLM inference trace CSV (`TIMESTAMP,ContextTokens,GeneratedTokens`).
    AzureTrace,
    /// Mooncake request trace JSONL (`{"timestamp", "input_length", "output_length", "hash_ids"}`).
    MooncakeTrace,
    /// GuideLLM YAML report (the JSON report's structure, dumped by PyYAML).
    GuidellmYaml,
    /// BurstGPT trace CSV (`Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type`).
    BurstGptTrace,
    /// Vidur processed trace CSV (`arrived_at,num_prefill_tokens,num_decode_tokens`, or the
    /// length-only variant without `arrived_at`).
    VidurTrace,
    /// llm-profiler (`llm_execution_time_predictor profile`) sweep JSON (`{"metadata", "results":
    /// [{"batch_size", "input_len", "prefill_latency", …}]}`).
    LlmProfilerSweep,
    /// Vidur operator profile `mlp.csv` (`time_stats.<op>.<stat>`, `num_tokens`, …).
    VidurMlpProfile,
    /// Vidur attention profile `attention.csv` (`time_stats.attn_prefill.*`, `batch_size`,
    /// `prefill_chunk_size`, `kv_cache_size`, `is_prefill`, …).
    VidurAttentionProfile,
    /// Vidur network profile `all_reduce.csv` / `send_recv.csv` (`time_stats.<collective>.*`,
    /// `num_workers`, `size`, …).
    VidurCollectiveProfile,
    /// llm-profiler sweep summary (`{"total_experiments", "batch_size_analysis": {"1": …}}`).
    LlmProfilerSummary,
    /// msserviceprofiler per-batch model-execute profile (CSV of Python tuple literals,
    /// `"('batch_stage', 'batch_size', …)"`).
    MsServiceProfilerBatches,
    /// Inferno queue-analysis REST problem (`{"RPS", "maxBatchSize", "AvgInputTokens", "alpha", …}`).
    InfernoProblem,
    /// Inferno queue-analysis answer of `/solve`, `/target` or `/optimize`
    /// (`{"throughput", "avgTTFT", "avgITL", "maxRPS", …}`).
    InfernoSolution,
    /// Golden service-time primitives of the Inferno queue model (`[{"B", "nc", "iter_time",
    /// "tau", …}]`).
    InfernoGoldenPrimitives,
    /// Inferno model-trainer fit result (`{"OptimizedParms": …}`, alone or in the demos' text).
    InfernoTrainerResult,
    /// BLIS trained-physics coefficients (`{"alpha_coeffs", "beta_coeffs", "experiments"}`).
    TrainedPhysics,
    /// Hugging Face model `config.json` (`{"model_type", "hidden_size", "num_hidden_layers", …}`
    /// at the top level, or a `text_config` object holding them).
    HfModelConfig,
    /// Not recognised.
    Unknown,
}

impl Format {
    /// A short, stable name (`inferno-json`, `guidellm-json`, …).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::InfernoDataSet => "inferno-json",
            Self::GuidellmJson => "guidellm-json",
            Self::GuidellmCsvJson => "guidellm-csv-json",
            Self::GuidellmCsv => "guidellm-csv",
            Self::GuidellmHtml => "guidellm-html",
            Self::VllmBench => "vllm-bench",
            Self::SglangBench => "sglang-bench",
            Self::TogetherCsv => "together-csv",
            Self::AisbenchJson => "aisbench-json",
            Self::AisbenchCsv => "aisbench-csv",
            Self::AzureTrace => "azure-trace",
            Self::MooncakeTrace => "mooncake-trace",
            Self::GuidellmYaml => "guidellm-yaml",
            Self::BurstGptTrace => "burstgpt-trace",
            Self::VidurTrace => "vidur-trace",
            Self::LlmProfilerSweep => "llm-profiler-sweep",
            Self::VidurMlpProfile => "vidur-mlp-profile",
            Self::VidurAttentionProfile => "vidur-attention-profile",
            Self::VidurCollectiveProfile => "vidur-collective-profile",
            Self::LlmProfilerSummary => "llm-profiler-summary",
            Self::MsServiceProfilerBatches => "msserviceprofiler-batches",
            Self::InfernoProblem => "inferno-problem",
            Self::InfernoSolution => "inferno-solution",
            Self::InfernoGoldenPrimitives => "inferno-golden-primitives",
            Self::InfernoTrainerResult => "inferno-trainer-result",
            Self::TrainedPhysics => "blis-trained-physics",
            Self::HfModelConfig => "hf-model-config",
            Self::Unknown => "unknown",
        }
    }

    /// Whether the format is a profile table (read with `read_profile_any`), not a benchmark
    /// report or a trace.
    #[must_use]
    pub fn is_profile(self) -> bool {
        matches!(
            self,
            Self::LlmProfilerSweep
                | Self::VidurMlpProfile
                | Self::VidurAttentionProfile
                | Self::VidurCollectiveProfile
                | Self::LlmProfilerSummary
                | Self::MsServiceProfilerBatches
        )
    }

    /// Whether the format is a model document (read with `read_document_any`): an analyzer
    /// problem or answer, fitted parameters, golden values or a model configuration.
    #[must_use]
    pub fn is_document(self) -> bool {
        matches!(
            self,
            Self::InfernoProblem
                | Self::InfernoSolution
                | Self::InfernoGoldenPrimitives
                | Self::InfernoTrainerResult
                | Self::TrainedPhysics
                | Self::HfModelConfig
        )
    }

    /// What a file of this format holds: `"a benchmark report"`, `"a request trace"`,
    /// `"a profile table"`, `"an analyzer problem"`, `"an analyzer answer"`, `"golden test
    /// values"`, `"fitted model parameters"` or `"a model configuration"` (`"an unknown
    /// format"` for [`Format::Unknown`]).
    #[must_use]
    pub fn kind(self) -> &'static str {
        match self {
            Self::AzureTrace | Self::MooncakeTrace | Self::BurstGptTrace | Self::VidurTrace => {
                "a request trace"
            }
            Self::LlmProfilerSweep
            | Self::VidurMlpProfile
            | Self::VidurAttentionProfile
            | Self::VidurCollectiveProfile
            | Self::LlmProfilerSummary
            | Self::MsServiceProfilerBatches => "a profile table",
            Self::InfernoProblem => "an analyzer problem",
            Self::InfernoSolution => "an analyzer answer",
            Self::InfernoGoldenPrimitives => "golden test values",
            Self::InfernoTrainerResult | Self::TrainedPhysics => "fitted model parameters",
            Self::HfModelConfig => "a model configuration",
            Self::Unknown => "an unknown format",
            _ => "a benchmark report",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How much of the file detection looks at.
const HEAD: usize = 64 * 1024;

/// Identifies the format of `bytes` from their content: the first JSON character and the
/// characteristic keys in the first 64 KiB. `path_hint` (the file name) only breaks ties; a
/// misleading extension does not change the answer.
///
/// # Examples
/// ```
/// use perf_readers::{Format, detect};
/// let vllm = br#"{"date": "20250513-043912", "model_id": "m", "request_rate": "inf", "mean_ttft_ms": 1.0}"#;
/// assert_eq!(detect(vllm, Some("results.csv".as_ref())), Format::VllmBench);
/// assert_eq!(detect(b"\x00\x01", None), Format::Unknown);
/// ```
#[must_use]
pub fn detect(bytes: &[u8], path_hint: Option<&Path>) -> Format {
    if utf16_endian(bytes).is_some() {
        return Format::Unknown;
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head = &bytes[..bytes.len().min(HEAD)];
    let head = match std::str::from_utf8(head) {
        Ok(s) => s,
        // The cut may split a character: keep the valid prefix.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return Format::Unknown,
    };
    let trimmed = head.trim_start();
    let has = |key: &str| head.contains(key);
    match trimmed.as_bytes().first() {
        Some(b'[') => {
            if crate::inferno_golden::looks_like(head) {
                Format::InfernoGoldenPrimitives
            } else if has("\"Successful Requests per second")
                || has("Server Throughput | Successful Requests/Sec")
                || has("\"Benchmark | Strategy")
            {
                Format::GuidellmCsvJson
            } else {
                Format::Unknown
            }
        }
        Some(b'{') => {
            let lower_has = |key: &str| head.to_ascii_lowercase().contains(key);
            if crate::hf_config::looks_like(head) {
                Format::HfModelConfig
            } else if (has("\"results\"") || has("\"run_name\""))
                && has("\"prefill_latency\"")
                && has("\"batch_size\"")
                && !has("\"benchmarks\"")
            {
                Format::LlmProfilerSweep
            } else if has("\"batch_size_analysis\"") && has("\"avg_prefill_latency\"") {
                Format::LlmProfilerSummary
            } else if crate::trainer_result::looks_like(trimmed) {
                Format::InfernoTrainerResult
            } else if crate::trained_physics::looks_like(head) {
                Format::TrainedPhysics
            } else if has("\"benchmarks\"") && (has("\"metrics\"") || has("\"type_\"")) {
                Format::GuidellmJson
            } else if has("\"dataset_name\"") || has("\"total_output_tokens_retokenized\"") {
                Format::SglangBench
            } else if has("\"model_id\"")
                || has("\"request_goodput")
                || (has("\"request_throughput\"") && has("_ttft_ms\""))
            {
                Format::VllmBench
            } else if has("\"mean_ttft_ms\"") || has("\"median_ttft_ms\"") {
                hint_bench(path_hint)
            } else if lower_has("\"request throughput\"") || lower_has("\"benchmark duration\"") {
                Format::AisbenchJson
            } else if (lower_has("\"requestrate\"") && lower_has("\"data\""))
                || is_empty_inferno(head)
            {
                // An empty `data` list is still an Inferno DataSet (the reader then says it
                // has no points), not an unknown format.
                Format::InfernoDataSet
            } else if has("\"benchmarks\"") {
                Format::GuidellmJson
            } else if has("\"timestamp\"")
                && has("\"output_length\"")
                && (has("\"input_length\"") || has("\"input_text\""))
            {
                Format::MooncakeTrace
            } else if crate::inferno_rest::looks_like_problem(&head.to_ascii_lowercase()) {
                Format::InfernoProblem
            } else if crate::inferno_rest::looks_like_solution(&head.to_ascii_lowercase()) {
                Format::InfernoSolution
            } else {
                Format::Unknown
            }
        }
        Some(_) if crate::ms_batches::looks_like(trimmed) => Format::MsServiceProfilerBatches,
        Some(_) if crate::trainer_result::looks_like(head) => Format::InfernoTrainerResult,
        Some(_) if is_together_header(trimmed) => Format::TogetherCsv,
        Some(_)
            if trimmed.starts_with("Run Info,")
                || trimmed
                    .lines()
                    .next()
                    .is_some_and(|h| h.contains("Successful Requests per second mean")) =>
        {
            Format::GuidellmCsv
        }
        Some(_) if is_azure_header(trimmed) => Format::AzureTrace,
        Some(_)
            if trimmed
                .lines()
                .next()
                .is_some_and(|h| h.to_ascii_lowercase().contains("performance parameters")) =>
        {
            Format::AisbenchCsv
        }
        Some(b'<') => {
            // The literal sits after ~200 kB of embedded samples in real reports.
            if has("window.benchmarks") || contains(bytes, b"window.benchmarks") {
                Format::GuidellmHtml
            } else {
                Format::Unknown
            }
        }
        Some(_) if is_guidellm_yaml(trimmed) => Format::GuidellmYaml,
        Some(_) => csv_family(trimmed),
        None => Format::Unknown,
    }
}

/// A YAML mapping whose top level has `benchmarks:` and GuideLLM benchmark keys.
fn is_guidellm_yaml(text: &str) -> bool {
    let first = text
        .lines()
        .map(str::trim_end)
        .find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---")
        .unwrap_or("");
    let key_line = first.split_once(':').is_some_and(|(k, _)| {
        !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    key_line
        && text.lines().any(|l| l.starts_with("benchmarks:"))
        && (text.contains("metrics:") || text.contains("type_:") || text.contains("mode:"))
}

/// The CSV formats told apart by their header row.
fn csv_family(text: &str) -> Format {
    let header = text.lines().next().unwrap_or("");
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let col = |name: &str| cols.iter().any(|c| c == name);
    let prefixed = |prefix: &str| cols.iter().any(|c| c.starts_with(prefix));
    if col("timestamp") && col("request tokens") && col("response tokens") {
        Format::BurstGptTrace
    } else if col("num_prefill_tokens") && col("num_decode_tokens") {
        Format::VidurTrace
    } else if prefixed("time_stats.attn_prefill.") || prefixed("time_stats.attn_decode.") {
        Format::VidurAttentionProfile
    } else if prefixed("time_stats.") && col("num_tokens") {
        Format::VidurMlpProfile
    } else if prefixed("time_stats.") && col("num_workers") && col("size") {
        Format::VidurCollectiveProfile
    } else {
        Format::Unknown
    }
}

fn is_together_header(text: &str) -> bool {
    let header = text.lines().next().unwrap_or("");
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    ["traffic_level", "summary_actual_qps", "ttft_mean"]
        .iter()
        .all(|c| cols.contains(c))
}

fn is_azure_header(text: &str) -> bool {
    let header = text.lines().next().unwrap_or("");
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    ["timestamp", "contexttokens", "generatedtokens"]
        .iter()
        .all(|c| cols.iter().any(|x| x == c))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Summary metrics without the distinguishing keys: SGLang if the name says `.jsonl`.
fn hint_bench(path_hint: Option<&Path>) -> Format {
    match path_hint.and_then(Path::extension).and_then(|e| e.to_str()) {
        Some("jsonl") => Format::SglangBench,
        _ => Format::VllmBench,
    }
}

/// `{"name": …, "data": []}`: an Inferno DataSet without points.
fn is_empty_inferno(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    compact.starts_with('{') && compact.contains("\"data\":[]") && compact.contains("\"name\":")
}
