//! GuideLLM YAML reports (`--output-path report.yaml`): the JSON report's structure dumped by
//! PyYAML (keys sorted), read into a JSON value and then like the JSON.

use perf_model_core::PerfDataset;
use serde_json::Value;

use crate::ReadOptions;
use crate::error::{ReadError, Result, shorten};
use crate::guidellm::guidellm_from_value;
use crate::text;

/// Reads a GuideLLM YAML report (any generation the JSON reader knows, v0.1 included).
///
/// The YAML is parsed with `serde_norway` into the JSON data model (`.inf`/`.nan` become
/// `null`, i.e. absent) and then mapped exactly as [`read_guidellm_json`](crate::read_guidellm_json)
/// maps the JSON report.
///
/// # Examples
/// ```
/// let yaml = "benchmarks:\n- args:\n    strategy:\n      type_: synchronous\n  metrics:\n    \
///             prompt_token_count:\n      successful: {mean: 128.0}\n    output_token_count:\n      \
///             successful: {mean: 64.0}\n    requests_per_second:\n      successful: {mean: 0.5}\n    \
///             time_to_first_token_ms:\n      successful: {mean: 40.0, median: 38.5}\n";
/// let ds = perf_readers::read_guidellm_yaml(yaml.as_bytes(), "r.yaml", &Default::default())?;
/// assert_eq!(ds.points[0].ttft().median(), Some(38.5));
/// assert_eq!(ds.points[0].request_rate(), Some(0.5));
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Yaml`] with the line and column of a YAML syntax error, then the errors of the
/// JSON reader with the JSON path of the bad value.
pub fn read_guidellm_yaml(bytes: &[u8], path: &str, opts: &ReadOptions) -> Result<PerfDataset> {
    let text = text::decode(bytes, path)?;
    let value = parse_yaml(text, path)?;
    guidellm_from_value(&value, path, opts)
}

/// Parses YAML text into the JSON data model (`.inf`/`.nan` become `null`).
///
/// # Errors
/// [`ReadError::Yaml`] with the line and column of a syntax error.
pub(crate) fn parse_yaml(text: &str, path: &str) -> Result<Value> {
    serde_norway::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        ReadError::Yaml {
            path: path.to_owned(),
            line,
            column,
            message: shorten(&e.to_string()),
        }
    })
}
