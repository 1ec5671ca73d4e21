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
            Self::Unknown => "unknown",
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
            if has("\"Successful Requests per second")
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
            if has("\"benchmarks\"") && (has("\"metrics\"") || has("\"type_\"")) {
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
            } else if lower_has("\"requestrate\"") && lower_has("\"data\"") {
                Format::InfernoDataSet
            } else if has("\"benchmarks\"") {
                Format::GuidellmJson
            } else if has("\"timestamp\"")
                && has("\"output_length\"")
                && (has("\"input_length\"") || has("\"input_text\""))
            {
                Format::MooncakeTrace
            } else {
                Format::Unknown
            }
        }
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
        _ => Format::Unknown,
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
