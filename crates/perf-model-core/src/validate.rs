//! Validation helpers shared by every constructor in the workspace.
//!
//! They all take the field's name so that the error says which input was wrong.

use crate::error::{Error, Result};

/// Returns `value` if it is finite.
///
/// # Errors
/// [`Error::NonFinite`] for NaN or ±∞.
pub fn finite(field: &str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::NonFinite {
            field: field.to_owned(),
            value,
        })
    }
}

/// Returns `value` if it is finite and `>= 0`.
///
/// # Errors
/// [`Error::NonFinite`] or [`Error::OutOfRange`].
pub fn non_negative(field: &str, value: f64) -> Result<f64> {
    if finite(field, value)? < 0.0 {
        return Err(out_of_range(field, value, "must be >= 0"));
    }
    Ok(value)
}

/// Returns `value` if it is finite and `> 0`.
///
/// # Errors
/// [`Error::NonFinite`] or [`Error::OutOfRange`].
pub fn positive(field: &str, value: f64) -> Result<f64> {
    if finite(field, value)? <= 0.0 {
        return Err(out_of_range(field, value, "must be > 0"));
    }
    Ok(value)
}

/// Returns `value` if it is finite and within `[lo, hi]`.
///
/// # Errors
/// [`Error::NonFinite`] or [`Error::OutOfRange`].
pub fn in_range(field: &str, value: f64, lo: f64, hi: f64) -> Result<f64> {
    if !(lo..=hi).contains(&finite(field, value)?) {
        return Err(out_of_range(
            field,
            value,
            &format!("must be within [{lo}, {hi}]"),
        ));
    }
    Ok(value)
}

/// Returns `value` if it is finite and within `(0, 1]` (fractions such as efficiencies and
/// memory shares).
///
/// # Errors
/// [`Error::NonFinite`] or [`Error::OutOfRange`].
pub fn unit_interval(field: &str, value: f64) -> Result<f64> {
    if in_range(field, value, 0.0, 1.0)? <= 0.0 {
        return Err(out_of_range(field, value, "must be within (0, 1]"));
    }
    Ok(value)
}

/// Returns `value` if it is at least 1 (counts such as batch sizes and parallel degrees).
///
/// # Errors
/// [`Error::OutOfRange`] for 0.
pub fn at_least_one(field: &str, value: u64) -> Result<u64> {
    if value == 0 {
        return Err(out_of_range(field, value, "must be >= 1"));
    }
    Ok(value)
}

/// Checks that every element of `values` is finite; the error names the index.
///
/// # Errors
/// [`Error::NonFinite`] with the field written as `field[index]`.
pub fn ensure_finite(field: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(Error::NonFinite {
            field: format!("{field}[{index}]"),
            value: values[index],
        }),
    }
}

/// Applies `check` to an optional value, passing `None` through.
///
/// # Errors
/// Whatever `check` returns.
pub fn optional(
    field: &str,
    value: Option<f64>,
    check: fn(&str, f64) -> Result<f64>,
) -> Result<Option<f64>> {
    value.map(|v| check(field, v)).transpose()
}

/// Builds an [`Error::OutOfRange`] for `field`.
pub fn out_of_range(field: &str, value: impl std::fmt::Display, expected: &str) -> Error {
    Error::OutOfRange {
        field: field.to_owned(),
        value: value.to_string(),
        expected: expected.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_is_error() {
        let err = finite("alpha", f64::NAN).unwrap_err();
        assert!(err.to_string().contains("alpha"), "{err}");
    }

    #[test]
    fn negative_is_error() {
        let err = non_negative("beta", -1.0).unwrap_err();
        assert_eq!(err.to_string(), "beta = -1: must be >= 0");
    }

    #[test]
    fn zero_is_not_positive() {
        assert!(positive("rate", 0.0).is_err());
        assert_eq!(positive("rate", 2.5), Ok(2.5));
    }

    #[test]
    fn range_is_inclusive() {
        assert!(in_range("p", 1.0, 0.0, 1.0).is_ok());
        assert!(in_range("p", 1.5, 0.0, 1.0).is_err());
    }

    #[test]
    fn ensure_finite_names_index() {
        let err = ensure_finite("x", &[1.0, f64::INFINITY]).unwrap_err();
        assert!(err.to_string().starts_with("x[1] = inf"), "{err}");
    }

    #[test]
    fn unit_interval_excludes_zero() {
        assert!(unit_interval("eta", 0.0).is_err());
        assert_eq!(unit_interval("eta", 1.0), Ok(1.0));
        assert!(unit_interval("eta", f64::NAN).is_err());
    }

    #[test]
    fn zero_count_is_error() {
        assert!(at_least_one("max_batch_size", 0).is_err());
        assert_eq!(at_least_one("max_batch_size", 3), Ok(3));
    }
}
