//! Training ranges: the span of each input a predictor was trained on, so that a query far
//! outside it can say that it extrapolates.
//!
//! Trees predict a constant beyond the last split and linear models grow without bound, so
//! neither is trustworthy outside the data; a range check is the cheapest honest warning.
//! Ranges are stored in the predictor file (per stage for [`crate::StepPredictor`], for the
//! main scalars of a [`crate::StateModel`]); files written before ranges existed still load
//! and then report [`RangeCheck::Unknown`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The closed interval `[min, max]` of one input over the training rows.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueRange {
    /// Smallest training value.
    pub min: f64,
    /// Largest training value.
    pub max: f64,
}

impl ValueRange {
    /// Whether `value` lies in `[min, max]` (NaN never does).
    #[must_use]
    pub fn contains(&self, value: f64) -> bool {
        value >= self.min && value <= self.max
    }
}

impl fmt::Display for ValueRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.min, self.max)
    }
}

/// Named input ranges of one model (e.g. `batch_size` → `[1, 64]`).
///
/// # Examples
/// ```
/// use perf_predict::ranges::{RangeCheck, TrainingRanges};
/// let mut r = TrainingRanges::default();
/// for (bs, len) in [(1.0, 16.0), (64.0, 4096.0)] {
///     r.observe("batch_size", bs);
///     r.observe("input_len", len);
/// }
/// assert_eq!(r.check(&[("batch_size", 8.0), ("input_len", 100.0)]), RangeCheck::Inside);
/// let RangeCheck::Outside(out) = r.check(&[("batch_size", 4e9), ("input_len", 100.0)]) else {
///     panic!()
/// };
/// assert_eq!(out[0].to_string(), "batch_size = 4000000000 is outside the training range [1, 64]");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrainingRanges(BTreeMap<String, ValueRange>);

impl TrainingRanges {
    /// Widens the range of `name` to include `value` (non-finite values are ignored).
    pub fn observe(&mut self, name: &str, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.0
            .entry(name.to_owned())
            .and_modify(|r| {
                r.min = r.min.min(value);
                r.max = r.max.max(value);
            })
            .or_insert(ValueRange {
                min: value,
                max: value,
            });
    }

    /// The range of `name`, if recorded.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&ValueRange> {
        self.0.get(name)
    }

    /// The recorded ranges, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ValueRange)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// True when no range is recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares each `(name, value)` with its range. Names without a recorded range are
    /// skipped; if none of the names has one, the answer is [`RangeCheck::Unknown`].
    #[must_use]
    pub fn check(&self, values: &[(&str, f64)]) -> RangeCheck {
        let mut known = false;
        let mut outside = Vec::new();
        for (name, value) in values {
            let Some(range) = self.0.get(*name) else {
                continue;
            };
            known = true;
            if !range.contains(*value) {
                outside.push(Extrapolation {
                    variable: (*name).to_owned(),
                    value: *value,
                    range: *range,
                });
            }
        }
        match (known, outside.is_empty()) {
            (false, _) => RangeCheck::Unknown,
            (true, true) => RangeCheck::Inside,
            (true, false) => RangeCheck::Outside(outside),
        }
    }
}

/// One input of a query outside its training range.
#[derive(Clone, Debug, PartialEq)]
pub struct Extrapolation {
    /// The input's name (`batch_size`, `input_len`, `total_seq_length`, …).
    pub variable: String,
    /// The queried value.
    pub value: f64,
    /// Its training range.
    pub range: ValueRange,
}

impl fmt::Display for Extrapolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} = {} is outside the training range {}",
            self.variable, self.value, self.range
        )
    }
}

/// Whether a query lies inside the ranges a model was trained on.
#[derive(Clone, Debug, PartialEq)]
pub enum RangeCheck {
    /// Every input with a recorded range is inside it.
    Inside,
    /// These inputs are outside their range: the prediction extrapolates.
    Outside(Vec<Extrapolation>),
    /// The model has no training ranges (a file written before they were stored, or a seed
    /// file without sweep metadata).
    Unknown,
}
