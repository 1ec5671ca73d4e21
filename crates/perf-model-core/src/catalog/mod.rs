//! Model and accelerator catalogues: architectures from HF `config.json` files and dense peak
//! figures from vendor datasheets.
//!
//! [`ModelSpec`] describes a transformer (layers, widths, GQA, MoE, MLA) and derives what the
//! cost models need: parameter counts, weight and KV-cache bytes, FLOPs per token.
//! [`Accelerator`] holds a device's peaks (memory, bandwidth, FP16/BF16/FP8/INT8, interconnect).
//! Both are plain serde data: take an entry from the catalogue with `lookup`, or build your
//! own and call `validate`. The roofline step-time model ([`crate::roofline`]) combines the two.
//!
//! Every entry names its source in its `source` field. Catalogued models: Llama-2-7B/13B/70B,
//! Llama-3-8B/70B, Llama-3.1-8B/70B, Mistral-7B (v0.3), Mixtral-8x7B, Qwen2.5-7B/14B/72B,
//! Qwen3-4B/8B/32B, GPT-3-175B, DeepSeek-V3. Accelerators: A100-80GB, A100-40GB, H100 SXM,
//! H100 PCIe, H200, L40S, MI300X, Ascend 910B2 and the lower-confidence generic Ascend 910B.
//!
//! # Examples
//! ```
//! use perf_model_core::catalog::{self, Accelerator, ModelSpec};
//! use perf_model_core::Dtype;
//! let model = ModelSpec::lookup("Qwen/Qwen3-8B")?;
//! let gpu = Accelerator::lookup("H100")?;
//! // Weights of Qwen3-8B in BF16 fit one H100 with room for KV cache.
//! assert!(model.weight_bytes(Dtype::Bf16) < 0.25 * gpu.memory_bytes());
//! assert!(catalog::models().len() >= 16);
//! # Ok::<(), perf_model_core::Error>(())
//! ```

mod accelerator;
mod accelerators_data;
mod lookup;
mod model;
mod models_data;

use std::sync::LazyLock;

pub use accelerator::Accelerator;
pub use model::{MlaSpec, ModelSpec, MoeSpec};

static MODELS: LazyLock<Vec<ModelSpec>> = LazyLock::new(models_data::build);
static ACCELERATORS: LazyLock<Vec<Accelerator>> = LazyLock::new(accelerators_data::build);

/// Every catalogued model, in catalogue order.
#[must_use]
pub fn models() -> &'static [ModelSpec] {
    &MODELS
}

/// Every catalogued accelerator, in catalogue order.
#[must_use]
pub fn accelerators() -> &'static [Accelerator] {
    &ACCELERATORS
}

#[cfg(test)]
mod tests;
