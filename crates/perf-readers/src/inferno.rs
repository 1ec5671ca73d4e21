//! Inferno's native `DataSet` (`llm-inferno/model-trainer` `samples/data.json`, the `/train` body).

use perf_model_core::{BenchmarkPointData, DatasetMeta, PerfDataset};

use crate::error::Result;
use crate::json::{Cx, Node, parse_json_lenient};
use crate::point::{Notes, RawStats, latency, not_nan, stem, to_u32};
use crate::select::{Candidate, SeedRule, StrategyKind, finish};
use crate::{ReadOptions, text};

/// Unit of the four time fields of an Inferno `DataSet`.
///
/// The file does not record it: `samples/data.json` is in ms, the `qm_*`/`QM_*` sets are in
/// seconds (upstream multiplies them by 1000 with `ToMSecs()`), so the caller must say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeUnit {
    /// Milliseconds (the format's documented unit; the default).
    #[default]
    Milliseconds,
    /// Seconds (the `qm_*` sample sets).
    Seconds,
}

impl TimeUnit {
    fn to_ms(self) -> f64 {
        match self {
            Self::Milliseconds => 1.0,
            Self::Seconds => 1000.0,
        }
    }
}

/// Reads an Inferno native `DataSet`: `{"name": str, "data": [DataPoint]}`.
///
/// Per point: `requestRate` → `request_rate`; `inputTokens`, `outputTokens`; TTFT mean ←
/// `avgTTFTTime`, or `avgWaitTime + avgPrefillTime` when that is missing or `<= 0` (upstream
/// `Fix()`); ITL mean ← `avgITLTime`; `maxBatchSize`, `maxNumTokens` when `> 0` (upstream then
/// defaults them to 256 and 8192; here they stay `None`). Keys match case-insensitively, like
/// Go's decoder; missing numbers count as 0. Times are scaled by `opts.inferno_time_unit`.
/// Every point is kept under the seed-compatible selection.
///
/// # Errors
/// A [`ReadError`](crate::ReadError) naming the file and JSON path: not text, bad JSON, no
/// `data` array, a non-numeric field, or a point that fails validation (e.g. rate `<= 0`; every
/// point is kept). A broken TTFT or ITL is dropped with a warning instead (see the crate docs).
pub fn read_inferno(bytes: &[u8], path: &str, opts: &ReadOptions) -> Result<PerfDataset> {
    let text = text::decode(bytes, path)?;
    let value = parse_json_lenient(text, path)?;
    let cx = Cx { path, line: 0 };
    let root = Node::root(&value);
    let data = root
        .get_ci("data")
        .and_then(|d| d.items().map(|items| (d, items)));
    let Some((_, items)) = data else {
        return Err(cx.field_err(
            "$.data",
            root.get_ci("data").map(|n| n.v),
            "expected an array of data points",
        ));
    };
    let to_ms = opts.inferno_time_unit.to_ms();
    let mut candidates = Vec::with_capacity(items.len());
    for item in &items {
        let num =
            |key: &str| -> Result<Option<f64>> { item.get_ci(key).map(|n| n.num(&cx)).transpose() };
        let ttft = match not_nan(num("avgTTFTTime")?) {
            Some(t) if t > 0.0 => t,
            _ => num("avgWaitTime")?.unwrap_or(0.0) + num("avgPrefillTime")?.unwrap_or(0.0),
        };
        let itl = num("avgITLTime")?.unwrap_or(0.0);
        let mut notes = Notes::at(&cx, &item.path);
        let data = BenchmarkPointData {
            request_rate: Some(num("requestRate")?.unwrap_or(0.0)),
            input_tokens: num("inputTokens")?.unwrap_or(0.0),
            output_tokens: num("outputTokens")?.unwrap_or(0.0),
            ttft: latency(
                &mut notes,
                "ttft",
                RawStats {
                    mean: Some(ttft),
                    ..RawStats::default()
                },
                to_ms,
            ),
            itl: latency(
                &mut notes,
                "itl",
                RawStats {
                    mean: Some(itl),
                    ..RawStats::default()
                },
                to_ms,
            ),
            max_batch_size: to_u32(num("maxBatchSize")?),
            max_num_tokens: to_u32(num("maxNumTokens")?),
            ..BenchmarkPointData::default()
        };
        candidates.push(Candidate::new(StrategyKind::Unknown, notes, data));
    }
    let name = root
        .get_ci("name")
        .and_then(|n| n.as_str().map(str::to_owned))
        .unwrap_or_else(|| stem(path));
    let meta = DatasetMeta {
        source: Some(path.to_owned()),
        ..DatasetMeta::default()
    };
    finish(name, meta, candidates, &opts.select, SeedRule::All, path)
}
