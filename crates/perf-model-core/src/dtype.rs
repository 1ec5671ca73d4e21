//! Numeric formats of weights, KV cache and activations.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A numeric storage format.
///
/// Parsing (and deserialising) accepts the usual spellings, case-insensitively:
/// `fp16`/`float16`/`half`, `bf16`/`bfloat16`, `fp32`/`float32`, `fp8`/`e4m3`/`e5m2`,
/// `int8`/`w8a8`, `int4`/`w4a16`. Weight-only 8-bit schemes (`w8a16`) are deliberately not
/// accepted: their weights take one byte but their matrix products run in 16 bits, which one
/// dtype cannot say — give the weight and compute dtypes separately where the API allows.
///
/// # Examples
/// ```
/// use perf_model_core::Dtype;
/// let d: Dtype = "BFloat16".parse()?;
/// assert_eq!(d, Dtype::Bf16);
/// assert_eq!(d.bytes(), 2.0);
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Dtype {
    /// IEEE single precision, 4 bytes.
    Fp32,
    /// IEEE half precision, 2 bytes.
    Fp16,
    /// bfloat16, 2 bytes.
    Bf16,
    /// 8-bit floating point (E4M3 or E5M2), 1 byte.
    Fp8,
    /// 8-bit integer, 1 byte.
    Int8,
    /// 4-bit integer, half a byte.
    Int4,
}

impl Dtype {
    /// Bytes per element (0.5 for 4-bit formats).
    #[must_use]
    pub fn bytes(self) -> f64 {
        match self {
            Self::Fp32 => 4.0,
            Self::Fp16 | Self::Bf16 => 2.0,
            Self::Fp8 | Self::Int8 => 1.0,
            Self::Int4 => 0.5,
        }
    }

    /// Canonical lower-case name, as `Display` writes it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Fp16 => "fp16",
            Self::Bf16 => "bf16",
            Self::Fp8 => "fp8",
            Self::Int8 => "int8",
            Self::Int4 => "int4",
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Deserialisation accepts every spelling [`FromStr`] does.
impl TryFrom<String> for Dtype {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl FromStr for Dtype {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let key: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        Ok(match key.as_str() {
            "fp32" | "float32" | "float" | "f32" => Self::Fp32,
            "fp16" | "float16" | "half" | "f16" => Self::Fp16,
            "bf16" | "bfloat16" => Self::Bf16,
            "fp8" | "float8" | "e4m3" | "e5m2" | "fp8e4m3" | "fp8e5m2" | "w8a8fp8" => Self::Fp8,
            "int8" | "i8" | "w8a8" => Self::Int8,
            "int4" | "i4" | "w4a16" => Self::Int4,
            _ => {
                return Err(Error::OutOfRange {
                    field: "dtype".into(),
                    value: s.to_owned(),
                    expected: "one of fp32, fp16, bf16, fp8, int8, int4".into(),
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_aliases() {
        assert_eq!("float16".parse::<Dtype>(), Ok(Dtype::Fp16));
        assert_eq!("W8A8".parse::<Dtype>(), Ok(Dtype::Int8));
        assert_eq!("fp8_e4m3".parse::<Dtype>(), Ok(Dtype::Fp8));
    }

    #[test]
    fn unknown_dtype_is_error() {
        let err = "fp12".parse::<Dtype>().unwrap_err();
        assert!(err.to_string().contains("fp12"), "{err}");
    }

    #[test]
    fn serde_accepts_the_same_spellings() {
        let d: Dtype = serde_json::from_str("\"BFloat16\"").unwrap();
        assert_eq!(d, Dtype::Bf16);
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"bf16\"");
        assert!(serde_json::from_str::<Dtype>("\"w8a16\"").is_err());
    }

    #[test]
    fn display_round_trips() {
        for d in [
            Dtype::Fp32,
            Dtype::Fp16,
            Dtype::Bf16,
            Dtype::Fp8,
            Dtype::Int8,
            Dtype::Int4,
        ] {
            assert_eq!(d.to_string().parse::<Dtype>(), Ok(d));
        }
    }
}
