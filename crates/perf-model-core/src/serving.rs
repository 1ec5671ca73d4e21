//! The limits a serving engine runs with.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::validate::{at_least_one, unit_interval};

/// The engine limits that shape performance, in vLLM's vocabulary (other engines map onto it:
/// MindIE `maxBatchSize` → `max_batch_size`, `maxPrefillTokens` → `max_num_batched_tokens`).
///
/// # Examples
/// ```
/// use perf_model_core::{ServingConfig, ServingConfigData};
/// let cfg = ServingConfig::new(ServingConfigData { max_batch_size: 128, ..Default::default() })?;
/// assert_eq!(cfg.max_num_batched_tokens(), 8192);
/// // Without chunked prefill, a whole prompt must fit in one step:
/// let bad = ServingConfigData { enable_chunked_prefill: false, max_model_len: Some(32768),
///     ..Default::default() };
/// assert!(ServingConfig::new(bad).is_err());
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ServingConfigData", into = "ServingConfigData")]
pub struct ServingConfig(ServingConfigData);

/// The unvalidated fields of a [`ServingConfig`]; `Default` gives vLLM-like defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServingConfigData {
    /// Max requests running at once (`max_num_seqs`). Default 256.
    pub max_batch_size: u32,
    /// Max tokens computed per step (`max_num_batched_tokens`). Default 8192.
    pub max_num_batched_tokens: u32,
    /// Max requests waiting; `None` = unbounded.
    pub max_queue_size: Option<u32>,
    /// Max prompt + output tokens of one request; `None` = the model's limit.
    pub max_model_len: Option<u32>,
    /// KV-cache block size, tokens. Default 16.
    pub block_size: u32,
    /// Tensor-parallel degree. Default 1.
    pub tensor_parallel: u32,
    /// Pipeline-parallel stages. Default 1.
    pub pipeline_parallel: u32,
    /// Whether long prompts are split across steps. Default true.
    pub enable_chunked_prefill: bool,
    /// Whether cached prompt prefixes are reused. Default false.
    pub enable_prefix_caching: bool,
    /// Fraction of device memory the engine may use, in (0, 1]. Default 0.9.
    pub gpu_memory_utilization: f64,
}

impl Default for ServingConfigData {
    fn default() -> Self {
        Self {
            max_batch_size: 256,
            max_num_batched_tokens: 8192,
            max_queue_size: None,
            max_model_len: None,
            block_size: 16,
            tensor_parallel: 1,
            pipeline_parallel: 1,
            enable_chunked_prefill: true,
            enable_prefix_caching: false,
            gpu_memory_utilization: 0.9,
        }
    }
}

impl ServingConfig {
    /// Validates `data`.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for a zero count or a memory fraction outside (0, 1];
    /// [`Error::Inconsistent`] when `max_num_batched_tokens < max_batch_size` (a step could not
    /// hold one token per running request) or, without chunked prefill, when
    /// `max_num_batched_tokens < max_model_len` (a long prompt could never be scheduled) —
    /// the same rules vLLM enforces at start-up.
    pub fn new(data: ServingConfigData) -> Result<Self> {
        at_least_one("max_batch_size", data.max_batch_size.into())?;
        at_least_one("max_num_batched_tokens", data.max_num_batched_tokens.into())?;
        at_least_one("block_size", data.block_size.into())?;
        at_least_one("tensor_parallel", data.tensor_parallel.into())?;
        at_least_one("pipeline_parallel", data.pipeline_parallel.into())?;
        if let Some(len) = data.max_model_len {
            at_least_one("max_model_len", len.into())?;
        }
        unit_interval("gpu_memory_utilization", data.gpu_memory_utilization)?;
        if data.max_num_batched_tokens < data.max_batch_size {
            return Err(Error::Inconsistent(format!(
                "max_num_batched_tokens ({}) must be >= max_batch_size ({})",
                data.max_num_batched_tokens, data.max_batch_size
            )));
        }
        if let Some(len) = data.max_model_len
            && !data.enable_chunked_prefill
            && data.max_num_batched_tokens < len
        {
            return Err(Error::Inconsistent(format!(
                "without chunked prefill max_num_batched_tokens ({}) must be >= max_model_len ({len})",
                data.max_num_batched_tokens
            )));
        }
        Ok(Self(data))
    }

    /// Max running requests.
    #[must_use]
    pub fn max_batch_size(&self) -> u32 {
        self.0.max_batch_size
    }
    /// Max tokens per step.
    #[must_use]
    pub fn max_num_batched_tokens(&self) -> u32 {
        self.0.max_num_batched_tokens
    }
    /// Max waiting requests.
    #[must_use]
    pub fn max_queue_size(&self) -> Option<u32> {
        self.0.max_queue_size
    }
    /// Max request length.
    #[must_use]
    pub fn max_model_len(&self) -> Option<u32> {
        self.0.max_model_len
    }
    /// KV block size, tokens.
    #[must_use]
    pub fn block_size(&self) -> u32 {
        self.0.block_size
    }
    /// Tensor-parallel degree.
    #[must_use]
    pub fn tensor_parallel(&self) -> u32 {
        self.0.tensor_parallel
    }
    /// Pipeline-parallel stages.
    #[must_use]
    pub fn pipeline_parallel(&self) -> u32 {
        self.0.pipeline_parallel
    }
    /// Chunked prefill on?
    #[must_use]
    pub fn enable_chunked_prefill(&self) -> bool {
        self.0.enable_chunked_prefill
    }
    /// Prefix caching on?
    #[must_use]
    pub fn enable_prefix_caching(&self) -> bool {
        self.0.enable_prefix_caching
    }
    /// Usable fraction of device memory.
    #[must_use]
    pub fn gpu_memory_utilization(&self) -> f64 {
        self.0.gpu_memory_utilization
    }
    /// The raw fields.
    #[must_use]
    pub fn data(&self) -> &ServingConfigData {
        &self.0
    }
}

impl TryFrom<ServingConfigData> for ServingConfig {
    type Error = Error;
    fn try_from(data: ServingConfigData) -> Result<Self> {
        Self::new(data)
    }
}

impl From<ServingConfig> for ServingConfigData {
    fn from(config: ServingConfig) -> Self {
        config.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(ServingConfig::new(ServingConfigData::default()).is_ok());
    }

    #[test]
    fn zero_batch_is_error() {
        let err = ServingConfig::new(ServingConfigData {
            max_batch_size: 0,
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("max_batch_size"), "{err}");
    }

    #[test]
    fn token_budget_below_batch_is_inconsistent() {
        let err = ServingConfig::new(ServingConfigData {
            max_batch_size: 512,
            max_num_batched_tokens: 256,
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(err, Error::Inconsistent(_)));
    }

    #[test]
    fn nan_memory_fraction_is_error() {
        let err = ServingConfig::new(ServingConfigData {
            gpu_memory_utilization: f64::NAN,
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("gpu_memory_utilization"));
    }

    #[test]
    fn unknown_key_is_rejected_by_serde() {
        let err = serde_json::from_str::<ServingConfig>(r#"{"max_batch_sise": 4}"#).unwrap_err();
        assert!(err.to_string().contains("max_batch_sise"), "{err}");
    }
}
