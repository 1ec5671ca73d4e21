//! Service-level objectives and goodput (specs/simulator.md §1.2, §7.1).
//!
//! A request meets its client's SLO when it completed and every objective given holds: TTFT,
//! TPOT (requests of one output token have none and pass it), the longest inter-token gap
//! (`itl_ms`, the request's max ITL) and E2E, all as the client sees them (front-end overheads
//! included). Goodput is the rate of measured requests that met it over the throughput window;
//! attainment is their share of the measured requests that *arrived* (a rejected, dropped or
//! unfinished request is a miss).

use serde::{Deserialize, Serialize};

use crate::error::{Result, positive};
use crate::request::Req;

/// Latency objectives, milliseconds; each is optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Time to first token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// Time per output token after the first, `(E2E − TTFT)/(O − 1)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_ms: Option<f64>,
    /// Longest gap between two consecutive tokens of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_ms: Option<f64>,
    /// Arrival to completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_ms: Option<f64>,
}

impl Slo {
    /// Checks every given objective is finite and > 0.
    ///
    /// # Errors
    /// [`crate::SimError::InvalidConfig`] naming `field.<objective>`.
    pub fn validate(&self, field: &str) -> Result<()> {
        for (name, v) in [
            ("ttft_ms", self.ttft_ms),
            ("tpot_ms", self.tpot_ms),
            ("itl_ms", self.itl_ms),
            ("e2e_ms", self.e2e_ms),
        ] {
            if let Some(v) = v {
                positive(format!("{field}.{name}"), v)?;
            }
        }
        Ok(())
    }

    /// `self` with the objectives it does not give taken from `base`.
    #[must_use]
    pub fn or(self, base: Self) -> Self {
        Self {
            ttft_ms: self.ttft_ms.or(base.ttft_ms),
            tpot_ms: self.tpot_ms.or(base.tpot_ms),
            itl_ms: self.itl_ms.or(base.itl_ms),
            e2e_ms: self.e2e_ms.or(base.e2e_ms),
        }
    }

    /// True when no objective is given.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// An SLO in engine units (ns).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SloNs {
    ttft: Option<f64>,
    tpot: Option<f64>,
    itl: Option<f64>,
    e2e: Option<f64>,
}

impl SloNs {
    /// `None` for an empty SLO.
    pub fn new(slo: &Slo) -> Option<Self> {
        let ns = |ms: Option<f64>| ms.map(|v| v * 1e6);
        (!slo.is_empty()).then(|| Self {
            ttft: ns(slo.ttft_ms),
            tpot: ns(slo.tpot_ms),
            itl: ns(slo.itl_ms),
            e2e: ns(slo.e2e_ms),
        })
    }

    /// Whether completed `r`, seen complete by the client at `seen` ns, meets every objective.
    #[allow(clippy::cast_precision_loss)]
    pub fn met(&self, r: &Req, seen: u64) -> bool {
        let within = |limit: Option<f64>, v: u64| limit.is_none_or(|l| v as f64 <= l);
        let tpot_ok = r.generated < 2 || {
            let tpot = crate::output::rounded_div(seen - r.first_token_ns, r.generated - 1);
            within(self.tpot, tpot)
        };
        within(self.ttft, r.first_token_ns - r.arrival_ns)
            && tpot_ok
            && (r.generated < 2 || within(self.itl, r.itl_max_ns))
            && within(self.e2e, seen - r.arrival_ns)
    }
}

/// Goodput of one client class.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientGoodput {
    /// The client's name (its `requests.csv` `client_id`).
    pub client: String,
    /// Its SLO (the workload's, overridden field by field by the client's own).
    pub slo: Slo,
    /// Measured requests of the client that arrived.
    pub measured: u64,
    /// Of them, completed within every objective.
    pub met: u64,
    /// `met / measured` (0 when nothing arrived).
    pub attainment: f64,
    /// `met` per second of the throughput window.
    pub requests_per_second: f64,
}

/// Goodput over every client that has an SLO.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Goodput {
    /// Measured requests (of clients with an SLO) completed within every objective, per
    /// second of the throughput window.
    pub requests_per_second: f64,
    /// Their share of the measured requests of those clients that arrived.
    pub attainment: f64,
    /// Requests that met their SLO.
    pub met: u64,
    /// Measured requests of clients with an SLO.
    pub measured: u64,
    /// Per client with an SLO, in client order.
    pub per_client: Vec<ClientGoodput>,
}
