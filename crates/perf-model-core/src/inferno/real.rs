//! The scalar type the analyzer computes in: `f64`, or `f32` for parity with the Go reference.

use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Sub};

/// A floating-point scalar (`f32` or `f64`). Conversions round to nearest, as Go's
/// `float32(x)` does.
pub(crate) trait Real:
    Copy
    + Debug
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// Whether this is `f64` (the analyzer's plain arithmetic).
    const IS_F64: bool;
    /// `x` rounded to this type.
    fn of(x: f64) -> Self;
    /// Widened to `f64` (exact).
    fn get(self) -> f64;
    /// `max(self, 0)`.
    fn max0(self) -> Self {
        if self > Self::ZERO { self } else { Self::ZERO }
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const IS_F64: bool = true;
    #[inline]
    fn of(x: f64) -> Self {
        x
    }
    #[inline]
    fn get(self) -> f64 {
        self
    }
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const IS_F64: bool = false;
    #[inline]
    #[allow(clippy::cast_possible_truncation)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn get(self) -> f64 {
        f64::from(self)
    }
}

/// An integer count as a scalar (exact for counts up to 2²⁴ in `f32`).
#[inline]
pub(crate) fn count<T: Real>(c: u32) -> T {
    T::of(f64::from(c))
}
