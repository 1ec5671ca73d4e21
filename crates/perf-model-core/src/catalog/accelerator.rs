//! [`Accelerator`]: peak figures of a GPU or NPU.

use serde::{Deserialize, Serialize};

use super::lookup;
use crate::dtype::Dtype;
use crate::error::Result;
use crate::validate::{optional, out_of_range, positive};

/// Peak figures of one accelerator (GPU or NPU), as published by its vendor.
///
/// All compute figures are **dense** (datasheets often quote 2:4-sparse figures, twice as
/// large). Figures nobody has published stay `None`; the roofline model refuses to run without
/// a memory bandwidth.
///
/// # Examples
/// ```
/// use perf_model_core::catalog::Accelerator;
/// use perf_model_core::Dtype;
/// let h100 = Accelerator::lookup("nvidia h100-sxm5-80gb")?;
/// assert_eq!(h100.name, "H100 SXM");
/// assert_eq!(h100.peak_tflops(Dtype::Bf16), Some(989.4));
/// assert_eq!(h100.memory_bandwidth_gbs, Some(3350.0));
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accelerator {
    /// Canonical name, e.g. `H100 SXM`.
    pub name: String,
    /// Other names it is known by; lookups match these too.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Vendor, e.g. `NVIDIA`, `AMD`, `Huawei`.
    pub vendor: String,
    /// Device memory as marketed, in GB. On these HBM parts the marketed "GB" are binary
    /// (an "80 GB" H100 exposes 80 GiB), so [`Accelerator::memory_bytes`] multiplies by 2³⁰.
    pub memory_gb: f64,
    /// Peak memory bandwidth, GB/s (10⁹ bytes/s); `None` when unpublished.
    #[serde(default)]
    pub memory_bandwidth_gbs: Option<f64>,
    /// Dense FP16 tensor peak, TFLOPS.
    pub fp16_tflops: f64,
    /// Dense BF16 tensor peak, TFLOPS.
    pub bf16_tflops: f64,
    /// Dense FP8 tensor peak, TFLOPS; `None` when unsupported or unpublished.
    #[serde(default)]
    pub fp8_tflops: Option<f64>,
    /// Dense INT8 tensor peak, TOPS; `None` when unsupported or unpublished.
    #[serde(default)]
    pub int8_tops: Option<f64>,
    /// Scale-up interconnect bandwidth per device, GB/s, **total of both directions** as
    /// datasheets quote it (NVLink4: 900 = 450 each way); `None` for PCIe-only parts or when
    /// unpublished.
    #[serde(default)]
    pub interconnect_gbs: Option<f64>,
    /// The figures come from a secondary or unofficial source.
    #[serde(default)]
    pub low_confidence: bool,
    /// Where the figures come from (datasheet, documentation page).
    #[serde(default)]
    pub source: String,
}

/// Tokens that [`Accelerator::lookup`] ignores: vendor and brand names.
const ACCEL_NOISE: &[&str] = &[
    "nvidia", "amd", "huawei", "tesla", "geforce", "instinct", "gpu", "npu", "tensor", "core",
];

fn accel_optional(token: &str) -> bool {
    // Memory-size and memory-type tokens: `80gb`, `hbm3`, `hbm2e`.
    (token.ends_with("gb") && token[..token.len() - 2].chars().all(|c| c.is_ascii_digit()))
        || token.starts_with("hbm")
}

impl Accelerator {
    /// Finds a catalogue accelerator by name or alias.
    ///
    /// Matching is case-insensitive and ignores punctuation and spaces; vendor and brand words
    /// (`NVIDIA`, `AMD`, `Huawei`, `GeForce`, …) are dropped, then memory tokens (`80GB`,
    /// `HBM3`) if still unmatched. Bare names pick the common serving part: `H100` →
    /// `H100 SXM`, `A100` → `A100-80GB` (SXM), `910B2`/`Ascend910B2` → `Ascend 910B2`, `B200` →
    /// the HGX B200 GPU, `RTX PRO 6000` → `RTX PRO 6000 Blackwell`, `910C` → one Ascend 910C
    /// package (two dies).
    ///
    /// # Errors
    /// [`crate::Error::UnknownName`] with up to three nearest catalogue names.
    ///
    /// # Examples
    /// ```
    /// use perf_model_core::catalog::Accelerator;
    /// assert_eq!(Accelerator::lookup("a100")?.name, "A100-80GB");
    /// assert_eq!(Accelerator::lookup("Ascend910B2")?.name, "Ascend 910B2");
    /// assert!(Accelerator::lookup("B300").is_err());
    /// # Ok::<(), perf_model_core::Error>(())
    /// ```
    pub fn lookup(name: &str) -> Result<Self> {
        Self::lookup_ref(name).cloned()
    }

    /// Like [`Accelerator::lookup`], borrowing the catalogue entry.
    ///
    /// # Errors
    /// [`crate::Error::UnknownName`].
    pub fn lookup_ref(name: &str) -> Result<&'static Self> {
        lookup::find(
            "accelerator",
            name,
            super::accelerators(),
            |a| {
                std::iter::once(a.name.as_str())
                    .chain(a.aliases.iter().map(String::as_str))
                    .collect()
            },
            ACCEL_NOISE,
            accel_optional,
        )
    }

    /// Checks the figures: a name, positive finite memory and peaks, optional figures positive
    /// when given.
    ///
    /// # Errors
    /// [`crate::Error::NonFinite`] or [`crate::Error::OutOfRange`] naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(out_of_range("name", "\"\"", "must not be empty"));
        }
        positive("memory_gb", self.memory_gb)?;
        optional("memory_bandwidth_gbs", self.memory_bandwidth_gbs, positive)?;
        positive("fp16_tflops", self.fp16_tflops)?;
        positive("bf16_tflops", self.bf16_tflops)?;
        optional("fp8_tflops", self.fp8_tflops, positive)?;
        optional("int8_tops", self.int8_tops, positive)?;
        optional("interconnect_gbs", self.interconnect_gbs, positive)?;
        Ok(())
    }

    /// Dense tensor peak for `dtype` in TFLOPS (TOPS for int8); `None` when unknown or
    /// unsupported (fp32 and int4 are not catalogued).
    #[must_use]
    pub fn peak_tflops(&self, dtype: Dtype) -> Option<f64> {
        match dtype {
            Dtype::Fp16 => Some(self.fp16_tflops),
            Dtype::Bf16 => Some(self.bf16_tflops),
            Dtype::Fp8 => self.fp8_tflops,
            Dtype::Int8 => self.int8_tops,
            Dtype::Fp32 | Dtype::Int4 => None,
        }
    }

    /// Dense peak for `dtype` in FLOP/s (or OP/s); `None` when unknown.
    #[must_use]
    pub fn peak_flops(&self, dtype: Dtype) -> Option<f64> {
        self.peak_tflops(dtype).map(|t| t * 1e12)
    }

    /// Peak memory bandwidth in bytes/s; `None` when unpublished.
    #[must_use]
    pub fn memory_bandwidth_bytes_per_s(&self) -> Option<f64> {
        self.memory_bandwidth_gbs.map(|g| g * 1e9)
    }

    /// Device memory in bytes, `memory_gb · 2³⁰` (see [`Accelerator::memory_gb`]).
    #[must_use]
    pub fn memory_bytes(&self) -> f64 {
        self.memory_gb * f64::from(1u32 << 30)
    }
}
