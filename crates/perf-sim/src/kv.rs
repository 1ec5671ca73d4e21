//! Paged KV cache: capacity derivation and block accounting.

use perf_model_core::{Accelerator, Dtype, ModelSpec};

use crate::error::{Result, invalid};

/// Number of KV blocks per replica from model, accelerator, memory utilisation and TP
/// (specs/simulator.md §3.3).
///
/// # Formula
/// ```text
/// blocks = floor( (M_gpu·util − W/t − R) / (block_size · kv_bytes_per_token / t_kv) )
/// t_kv   = min(t, h_kv)      (KV heads replicate when t > h_kv)
/// ```
/// `M_gpu` device memory in bytes ([`Accelerator::memory_bytes`]), `W` all weight bytes in
/// `dtype`, `R` = `reserved_bytes` (activations and non-torch memory, default 1 GiB), all per
/// device. Llama-3.1-8B bf16 on an H100 (80 GiB, util 0.9, block 16) gives 28 694 blocks
/// (vLLM reports 29 205).
///
/// # Errors
/// [`crate::SimError::InvalidConfig`] (field `cluster.kv_cache`) when the weights do not fit
/// or not one block remains.
///
/// # Examples
/// ```
/// use perf_model_core::{Accelerator, Dtype, ModelSpec};
/// let blocks = perf_sim::kv::derive_num_blocks(
///     &ModelSpec::lookup("Llama-3.1-8B")?, &Accelerator::lookup("H100")?,
///     Dtype::Bf16, 1, 0.9, 16, f64::from(1u32 << 30))?;
/// assert_eq!(blocks, 28_694);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn derive_num_blocks(
    model: &ModelSpec,
    accelerator: &Accelerator,
    dtype: Dtype,
    tp: u32,
    gpu_memory_utilization: f64,
    block_size: u32,
    reserved_bytes: f64,
) -> Result<u64> {
    derive_num_blocks_pipelined(
        model,
        accelerator,
        dtype,
        (tp, 1),
        gpu_memory_utilization,
        block_size,
        reserved_bytes,
    )
}

/// [`derive_num_blocks`] for a replica of `pp` pipeline stages of `tp` devices each
/// (`(tp, pp)`): every device holds `1/(tp·pp)` of the weights and, for each block, the KV of
/// its `1/pp` of the layers (`1/min(tp, kv_heads)` of the heads), so the replica holds `pp`
/// times the blocks one stage's free memory would hold at full depth, less the weights.
///
/// # Errors
/// As [`derive_num_blocks`].
pub fn derive_num_blocks_pipelined(
    model: &ModelSpec,
    accelerator: &Accelerator,
    dtype: Dtype,
    (tp, pp): (u32, u32),
    gpu_memory_utilization: f64,
    block_size: u32,
    reserved_bytes: f64,
) -> Result<u64> {
    let t = f64::from(tp.max(1));
    let s = f64::from(pp.max(1));
    let t_kv = f64::from(tp.max(1).min(model.kv_heads.max(1)));
    let usable = accelerator.memory_bytes() * gpu_memory_utilization;
    // (× 1.0 when pp = 1: the same bits as before pipelines existed)
    let weights = model.weight_bytes(dtype) / (t * s);
    let free = usable - weights - reserved_bytes;
    let per_block = f64::from(block_size) * model.kv_bytes_per_token(dtype) / (t_kv * s);
    let blocks = (free / per_block).floor();
    if !blocks.is_finite() || blocks < 1.0 {
        return Err(invalid(
            "cluster.kv_cache",
            format!("{} on {} (tp {tp})", model.name, accelerator.name),
            format!(
                "no room for the KV cache: {:.2} GB usable, {:.2} GB weights per device, {:.2} GB reserved",
                usable / 1e9,
                weights / 1e9,
                reserved_bytes / 1e9
            ),
        ));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(blocks as u64)
}

/// Block accounting of one replica: `free + used = total` always.
#[derive(Clone, Debug)]
pub struct BlockPool {
    total: u64,
    used: u64,
    block_size: u32,
}

impl BlockPool {
    /// A pool of `total` blocks of `block_size` tokens.
    #[must_use]
    pub fn new(total: u64, block_size: u32) -> Self {
        Self {
            total,
            used: 0,
            block_size: block_size.max(1),
        }
    }

    /// Blocks needed to hold `tokens` tokens.
    #[must_use]
    #[inline]
    pub fn blocks_for(&self, tokens: u32) -> u32 {
        tokens.div_ceil(self.block_size)
    }

    /// Extra blocks a holder of `held` blocks needs to hold `tokens` tokens (no division when
    /// the held blocks suffice, the common decode case).
    #[must_use]
    #[inline]
    pub fn extra_for(&self, tokens: u32, held: u32) -> u32 {
        if u64::from(tokens) <= u64::from(held) * u64::from(self.block_size) {
            0
        } else {
            self.blocks_for(tokens) - held
        }
    }

    /// Tokens per block.
    #[must_use]
    #[inline]
    pub fn block_size(&self) -> u32 {
        self.block_size
    }

    /// Total blocks.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Blocks in use.
    #[must_use]
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Free blocks.
    #[must_use]
    #[inline]
    pub fn free(&self) -> u64 {
        self.total - self.used
    }

    /// Takes `n` blocks if available.
    #[inline]
    pub fn try_take(&mut self, n: u32) -> bool {
        if u64::from(n) <= self.free() {
            self.used += u64::from(n);
            debug_assert!(self.used <= self.total);
            true
        } else {
            false
        }
    }

    /// Returns `n` blocks.
    #[inline]
    pub fn release(&mut self, n: u32) {
        debug_assert!(u64::from(n) <= self.used, "double release");
        self.used -= u64::from(n).min(self.used);
    }
}
