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
//! CodeLlama-34B, Llama-3-8B/70B, Llama-3.1-8B/70B, Mistral-7B (v0.3), Mistral-Nemo-12B,
//! Qwen2.5-7B/14B/72B, Qwen3-4B/8B/32B, Yi-34B, GPT-3-175B, and the MoE models Mixtral-8x7B,
//! Qwen3-30B-A3B, Llama-4-Scout-17B-16E and DeepSeek-V3. Accelerators: A100-80GB, A100-40GB,
//! H100 SXM, H100 PCIe, H200, B200 (HGX), L40S, L4, RTX 4090, MI300X, MI325X, Ascend 910B2,
//! and, from secondary sources (`low_confidence`), RTX PRO 6000 Blackwell, H20, Ascend 910C and
//! the generic Ascend 910B.
//!
//! # Examples
//! ```
//! use perf_model_core::catalog::{self, Accelerator, ModelSpec};
//! use perf_model_core::Dtype;
//! let model = ModelSpec::lookup("Qwen/Qwen3-8B")?;
//! let gpu = Accelerator::lookup("H100")?;
//! // Weights of Qwen3-8B in BF16 fit one H100 with room for KV cache.
//! assert!(model.weight_bytes(Dtype::Bf16) < 0.25 * gpu.memory_bytes());
//! assert!(catalog::models().len() >= 22);
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
