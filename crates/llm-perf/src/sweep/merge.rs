//! Gathering a results directory into one table, in item order, with the missing and failed
//! items listed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::SweepError;
use super::overrides::Overrides;
use super::store::{ItemStatus, ResultStore};
use crate::Result;

/// The key figures of one finished item, from its simulation summary (times in ms over the
/// measured completed requests; see `perf_sim::Summary`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Requests generated.
    pub arrived: u64,
    /// Requests completed.
    pub completed: u64,
    /// Completed requests per second of the throughput window.
    pub throughput_rps: f64,
    /// Output tokens per second of the throughput window.
    pub output_tokens_per_s: f64,
    /// Mean time to first token.
    pub ttft_mean_ms: f64,
    /// 99th percentile of TTFT.
    pub ttft_p99_ms: f64,
    /// Mean time per output token.
    pub tpot_mean_ms: f64,
    /// 99th percentile of TPOT.
    pub tpot_p99_ms: f64,
    /// Mean end-to-end latency.
    pub e2e_mean_ms: f64,
    /// 99th percentile of E2E.
    pub e2e_p99_ms: f64,
    /// Requests within their SLOs per second (configs with an `slo`).
    pub goodput_rps: Option<f64>,
    /// Share of measured requests within their SLOs (configs with an `slo`).
    pub slo_attainment: Option<f64>,
}

impl Metrics {
    /// The figures of `summary`.
    #[must_use]
    pub fn of(summary: &perf_sim::Summary) -> Self {
        let l = &summary.latency;
        Self {
            arrived: summary.requests.arrived,
            completed: summary.requests.completed,
            throughput_rps: summary.throughput.requests_per_second,
            output_tokens_per_s: summary.throughput.output_tokens_per_second,
            ttft_mean_ms: l.ttft_ms.mean,
            ttft_p99_ms: l.ttft_ms.p99,
            tpot_mean_ms: l.tpot_ms.mean,
            tpot_p99_ms: l.tpot_ms.p99,
            e2e_mean_ms: l.e2e_ms.mean,
            e2e_p99_ms: l.e2e_ms.p99,
            goodput_rps: summary.goodput.as_ref().map(|g| g.requests_per_second),
            slo_attainment: summary.goodput.as_ref().map(|g| g.attainment),
        }
    }

    /// Column names, in [`Metrics::values`] order.
    pub const COLUMNS: [&'static str; 12] = [
        "arrived",
        "completed",
        "throughput_rps",
        "output_tokens_per_s",
        "ttft_mean_ms",
        "ttft_p99_ms",
        "tpot_mean_ms",
        "tpot_p99_ms",
        "e2e_mean_ms",
        "e2e_p99_ms",
        "goodput_rps",
        "slo_attainment",
    ];

    /// The figures as text (shortest round-trip decimal; empty when absent).
    #[must_use]
    pub fn values(&self) -> [String; 12] {
        let opt = |v: Option<f64>| v.map_or_else(String::new, |x| x.to_string());
        [
            self.arrived.to_string(),
            self.completed.to_string(),
            self.throughput_rps.to_string(),
            self.output_tokens_per_s.to_string(),
            self.ttft_mean_ms.to_string(),
            self.ttft_p99_ms.to_string(),
            self.tpot_mean_ms.to_string(),
            self.tpot_p99_ms.to_string(),
            self.e2e_mean_ms.to_string(),
            self.e2e_p99_ms.to_string(),
            opt(self.goodput_rps),
            opt(self.slo_attainment),
        ]
    }
}

/// One finished item in the merged table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergedRow {
    /// Position in the sweep.
    pub index: usize,
    /// Stable id.
    pub id: String,
    /// Seed.
    pub seed: u64,
    /// Overrides of the base config.
    pub overrides: Overrides,
    /// Key figures.
    pub metrics: Metrics,
}

/// An item that failed (or whose file does not match the plan).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedItem {
    /// Position in the sweep.
    pub index: usize,
    /// Stable id.
    pub id: String,
    /// What went wrong.
    pub error: String,
}

/// A results directory gathered: every finished item in sweep order, and the ids of the
/// missing and failed ones. Contains nothing that depends on how the items were sharded,
/// where or when they ran, so the merge of a sharded run equals that of an unsharded one
/// byte for byte.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Merged {
    /// The sweep's name.
    pub name: String,
    /// Items in the sweep.
    pub items: usize,
    /// Whether every item is finished.
    pub complete: bool,
    /// The override paths, in order of first appearance (the table's override columns).
    pub override_paths: Vec<String>,
    /// Finished items, in sweep order.
    pub rows: Vec<MergedRow>,
    /// Ids of items with no result, in sweep order.
    pub missing: Vec<String>,
    /// Failed items, in sweep order.
    pub failed: Vec<FailedItem>,
}

/// Gathers the results directory of `store` (its plan gives every item).
///
/// # Errors
/// [`SweepError::Store`] when the plan cannot be read. An item file that cannot be read or
/// does not match the plan is reported among the failed items, not as an error.
pub fn merge(store: &ResultStore) -> Result<Merged> {
    let sweep = store.read_plan()?;
    let mut override_paths: Vec<String> = Vec::new();
    for item in sweep.items() {
        for (p, _) in item.overrides.entries() {
            if !override_paths.contains(p) {
                override_paths.push(p.clone());
            }
        }
    }
    let mut rows = Vec::new();
    let mut missing = Vec::new();
    let mut failed = Vec::new();
    for item in sweep.items() {
        let fail = |error: String| FailedItem {
            index: item.index,
            id: item.id.clone(),
            error,
        };
        match store.status(item) {
            ItemStatus::Missing => missing.push(item.id.clone()),
            ItemStatus::Failed => match store.read_failure(&item.id) {
                Ok(f) => failed.push(fail(f.error)),
                Err(e) => failed.push(fail(e.to_string())),
            },
            ItemStatus::Done => match store.read_item(&item.id) {
                Ok(r)
                    if r.index == item.index
                        && r.seed == item.seed
                        && r.overrides == item.overrides =>
                {
                    rows.push(MergedRow {
                        index: item.index,
                        id: item.id.clone(),
                        seed: item.seed,
                        overrides: item.overrides.clone(),
                        metrics: Metrics::of(&r.summary),
                    });
                }
                Ok(_) => failed.push(fail(format!(
                    "items/{}.json does not match the plan (index, seed or overrides differ)",
                    item.id
                ))),
                Err(e) => failed.push(fail(e.to_string())),
            },
        }
    }
    Ok(Merged {
        name: sweep.name().to_owned(),
        items: sweep.items().len(),
        complete: missing.is_empty() && failed.is_empty(),
        override_paths,
        rows,
        missing,
        failed,
    })
}

impl Merged {
    /// The table's header: `index,id,seed`, the override paths, then [`Metrics::COLUMNS`].
    #[must_use]
    pub fn header(&self) -> Vec<String> {
        let mut h: Vec<String> = ["index", "id", "seed"].map(str::to_owned).to_vec();
        h.extend(self.override_paths.iter().cloned());
        h.extend(Metrics::COLUMNS.map(str::to_owned));
        h
    }

    /// Each finished item's cells, in [`Merged::header`] order (an override the item does
    /// not set is empty; strings unquoted, other values as compact JSON).
    #[must_use]
    pub fn cells(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| {
                let mut cells = vec![r.index.to_string(), r.id.clone(), r.seed.to_string()];
                for p in &self.override_paths {
                    cells.push(match r.overrides.get(p) {
                        None => String::new(),
                        Some(Value::String(s)) => s.clone(),
                        Some(v) => v.to_string(),
                    });
                }
                cells.extend(r.metrics.values());
                cells
            })
            .collect()
    }

    /// The table as CSV (RFC 4180 quoting), one line per finished item.
    #[must_use]
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        for line in std::iter::once(self.header()).chain(self.cells()) {
            let quoted: Vec<String> = line.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&quoted.join(","));
            out.push('\n');
        }
        out
    }

    /// The merge as pretty JSON, newline-terminated.
    ///
    /// # Errors
    /// [`SweepError::Store`] if serialisation fails (not expected).
    pub fn to_json(&self) -> Result<String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| SweepError::Store {
            path: self.name.clone(),
            message: e.to_string(),
        })?;
        Ok(text + "\n")
    }
}

/// A CSV cell, quoted when it holds a comma, quote or line break.
fn csv_cell(c: &str) -> String {
    if c.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_when_needed() {
        assert_eq!(csv_cell("a"), "a");
        assert_eq!(csv_cell("[1,2]"), "\"[1,2]\"");
        assert_eq!(csv_cell("say \"x\""), "\"say \"\"x\"\"\"");
    }
}
