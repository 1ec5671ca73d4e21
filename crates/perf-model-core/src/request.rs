//! One request's life, measured or simulated.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::validate::{finite, optional};

/// One request: when it arrived, produced its first token and completed, and its token counts.
///
/// Times are ms on a common clock (a trace's or a simulation's). A request that never produced
/// a token (rejected, failed, still running) has no `first_token_ms` or `completion_ms`.
///
/// # Examples
/// ```
/// use perf_model_core::{RequestRecord, RequestRecordData};
/// let r = RequestRecord::new(RequestRecordData {
///     id: 7, arrival_ms: 100.0, first_token_ms: Some(160.0), completion_ms: Some(1150.0),
///     input_tokens: 512, output_tokens: 101,
/// })?;
/// assert_eq!(r.ttft_ms(), Some(60.0));
/// assert_eq!(r.tpot_ms(), Some(9.9));
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RequestRecordData", into = "RequestRecordData")]
pub struct RequestRecord(RequestRecordData);

/// The unvalidated fields of a [`RequestRecord`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRecordData {
    /// Request identifier, unique within its trace or run.
    pub id: u64,
    /// Arrival time, ms.
    pub arrival_ms: f64,
    /// Time the first output token was produced, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token_ms: Option<f64>,
    /// Time the last output token was produced, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_ms: Option<f64>,
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Output tokens (generated, or requested for a trace that has no timing).
    pub output_tokens: u32,
}

impl RequestRecord {
    /// Validates `data`: finite times, arrival ≤ first token ≤ completion.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for a NaN/infinite time; [`Error::Inconsistent`] when times are out
    /// of order or a completion has no first token.
    pub fn new(data: RequestRecordData) -> Result<Self> {
        let arrival = finite("arrival_ms", data.arrival_ms)?;
        let first = optional("first_token_ms", data.first_token_ms, finite)?;
        let done = optional("completion_ms", data.completion_ms, finite)?;
        let id = data.id;
        if let Some(f) = first
            && f < arrival
        {
            return Err(Error::Inconsistent(format!(
                "request {id}: first_token_ms {f} is before arrival_ms {arrival}"
            )));
        }
        match (first, done) {
            (Some(f), Some(d)) if d < f => Err(Error::Inconsistent(format!(
                "request {id}: completion_ms {d} is before first_token_ms {f}"
            ))),
            (None, Some(_)) => Err(Error::Inconsistent(format!(
                "request {id}: completion_ms given without first_token_ms"
            ))),
            _ => Ok(Self(data)),
        }
    }

    /// Identifier.
    #[must_use]
    pub fn id(&self) -> u64 {
        self.0.id
    }
    /// Arrival time, ms.
    #[must_use]
    pub fn arrival_ms(&self) -> f64 {
        self.0.arrival_ms
    }
    /// First-token time, ms.
    #[must_use]
    pub fn first_token_ms(&self) -> Option<f64> {
        self.0.first_token_ms
    }
    /// Completion time, ms.
    #[must_use]
    pub fn completion_ms(&self) -> Option<f64> {
        self.0.completion_ms
    }
    /// Prompt tokens.
    #[must_use]
    pub fn input_tokens(&self) -> u32 {
        self.0.input_tokens
    }
    /// Output tokens.
    #[must_use]
    pub fn output_tokens(&self) -> u32 {
        self.0.output_tokens
    }
    /// Time to first token, ms.
    #[must_use]
    pub fn ttft_ms(&self) -> Option<f64> {
        Some(self.0.first_token_ms? - self.0.arrival_ms)
    }
    /// End-to-end latency, ms.
    #[must_use]
    pub fn e2e_ms(&self) -> Option<f64> {
        Some(self.0.completion_ms? - self.0.arrival_ms)
    }
    /// Time per output token after the first, `(completion − first)/(output − 1)`, ms; `None`
    /// for fewer than two output tokens.
    #[must_use]
    pub fn tpot_ms(&self) -> Option<f64> {
        let gaps = self.0.output_tokens.checked_sub(1).filter(|&g| g > 0)?;
        Some((self.0.completion_ms? - self.0.first_token_ms?) / f64::from(gaps))
    }
    /// The raw fields.
    #[must_use]
    pub fn data(&self) -> RequestRecordData {
        self.0
    }
}

impl TryFrom<RequestRecordData> for RequestRecord {
    type Error = Error;
    fn try_from(data: RequestRecordData) -> Result<Self> {
        Self::new(data)
    }
}

impl From<RequestRecord> for RequestRecordData {
    fn from(record: RequestRecord) -> Self {
        record.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> RequestRecordData {
        RequestRecordData {
            id: 1,
            arrival_ms: 10.0,
            first_token_ms: Some(30.0),
            completion_ms: Some(50.0),
            input_tokens: 10,
            output_tokens: 3,
        }
    }

    #[test]
    fn derived_latencies() {
        let r = RequestRecord::new(base()).unwrap();
        assert_eq!(r.ttft_ms(), Some(20.0));
        assert_eq!(r.e2e_ms(), Some(40.0));
        assert_eq!(r.tpot_ms(), Some(10.0));
    }

    #[test]
    fn single_token_has_no_tpot() {
        let r = RequestRecord::new(RequestRecordData {
            output_tokens: 1,
            ..base()
        })
        .unwrap();
        assert_eq!(r.tpot_ms(), None);
    }

    #[test]
    fn first_token_before_arrival_is_inconsistent() {
        let err = RequestRecord::new(RequestRecordData {
            first_token_ms: Some(5.0),
            ..base()
        })
        .unwrap_err();
        assert!(err.to_string().contains("before arrival"), "{err}");
    }

    #[test]
    fn nan_arrival_is_error() {
        let err = RequestRecord::new(RequestRecordData {
            arrival_ms: f64::NAN,
            ..base()
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("arrival_ms"), "{err}");
    }

    #[test]
    fn completion_without_first_token() {
        assert!(
            RequestRecord::new(RequestRecordData {
                first_token_ms: None,
                ..base()
            })
            .is_err()
        );
    }
}
