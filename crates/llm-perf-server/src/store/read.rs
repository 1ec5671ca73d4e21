//! Every query of the store. Listing shapes follow the Benchmark Modeling Tool's JSON
//! (`provider_model`, `num_benchmarks`, `num_runs`, …) with llm-perf's extra fields after.

use std::collections::BTreeMap;

use llm_perf::model::{
    BenchmarkPoint, BenchmarkPointData, DatasetMeta, LatencyStats, LatencyStatsData, PerfDataset,
};
use llm_perf::predict::together::{BenchmarkRow, metric_names};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::upload::ParsedPoint;
use crate::error::{Result, ServerError};

/// Smallest and largest value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TokenRange {
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

/// A model and what is stored for it (`GET /api/benchmarks/models`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelSummary {
    /// The model name.
    pub provider_model: String,
    /// Benchmarks (sweeps) stored.
    pub num_benchmarks: i64,
    /// Points stored over all its benchmarks (the seed's "runs": one per traffic level).
    pub num_runs: i64,
    /// Range of mean input tokens over the points.
    pub input_token_range: TokenRange,
    /// Range of mean output tokens over the points.
    pub output_token_range: TokenRange,
}

/// One benchmark (`GET /api/benchmarks/models/{model}/benchmarks`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchmarkSummary {
    /// Its id.
    pub benchmark_id: i64,
    /// When its file was uploaded (ISO 8601, UTC).
    pub upload_date: String,
    /// The model.
    pub provider_model: String,
    /// Points.
    pub num_runs: i64,
    /// Mean of the points' input tokens.
    pub avg_input_tokens: f64,
    /// Mean of the points' output tokens.
    pub avg_output_tokens: f64,
    /// Sweep name from the file.
    pub name: String,
    /// The upload it came from.
    pub upload_id: i64,
    /// The uploaded file's name.
    pub file_name: String,
    /// Detected format.
    pub format: String,
    /// Accelerator, if known.
    pub accelerator: Option<String>,
    /// Engine, if known.
    pub engine: Option<String>,
}

/// One stored point with its statistics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PointRecord {
    /// Position in the benchmark.
    pub idx: i64,
    /// The point as it was read.
    #[serde(flatten)]
    pub point: ParsedPoint,
}

/// A benchmark with its points (`GET /api/benchmarks/benchmarks/{id}`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchmarkDetail {
    /// The summary.
    #[serde(flatten)]
    pub summary: BenchmarkSummary,
    /// Content hash of the file.
    pub sha256: String,
    /// The points in file order.
    pub points: Vec<PointRecord>,
}

/// Row counts of every table: what a failed write must leave unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Files.
    pub uploads: i64,
    /// Benchmarks.
    pub benchmarks: i64,
    /// Points.
    pub points: i64,
    /// Statistics.
    pub point_stats: i64,
    /// Derived models.
    pub derived_models: i64,
}

/// A derived model without its content.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DerivedSummary {
    /// Its id.
    pub id: i64,
    /// The model it describes.
    pub model: String,
    /// `inferno-fit`, `together-regression` or `predictor`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The benchmark it was derived from, while that exists.
    pub benchmark_id: Option<i64>,
    /// When it was created.
    pub created_at: String,
}

/// A derived model with its content.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DerivedModel {
    /// The summary.
    #[serde(flatten)]
    pub summary: DerivedSummary,
    /// The content (fit parameters, regression, predictor file).
    pub content: serde_json::Value,
}

const SUMMARY_SELECT: &str = "SELECT b.id, u.uploaded_at, b.model, \
     (SELECT COUNT(*) FROM points p WHERE p.benchmark_id = b.id), \
     (SELECT AVG(input_tokens) FROM points p WHERE p.benchmark_id = b.id), \
     (SELECT AVG(output_tokens) FROM points p WHERE p.benchmark_id = b.id), \
     b.name, u.id, u.file_name, u.format, b.accelerator, b.engine \
     FROM benchmarks b JOIN uploads u ON u.id = b.upload_id";

fn summary_row(r: &Row<'_>) -> rusqlite::Result<BenchmarkSummary> {
    Ok(BenchmarkSummary {
        benchmark_id: r.get(0)?,
        upload_date: r.get(1)?,
        provider_model: r.get(2)?,
        num_runs: r.get(3)?,
        avg_input_tokens: r.get::<_, Option<f64>>(4)?.unwrap_or(0.0),
        avg_output_tokens: r.get::<_, Option<f64>>(5)?.unwrap_or(0.0),
        name: r.get(6)?,
        upload_id: r.get(7)?,
        file_name: r.get(8)?,
        format: r.get(9)?,
        accelerator: r.get(10)?,
        engine: r.get(11)?,
    })
}

/// Every model with its counts and token ranges, by name.
///
/// # Errors
/// Database errors.
pub fn models(conn: &Connection) -> Result<Vec<ModelSummary>> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.model, COUNT(DISTINCT b.id), COUNT(p.id), \
         MIN(p.input_tokens), MAX(p.input_tokens), MIN(p.output_tokens), MAX(p.output_tokens) \
         FROM benchmarks b LEFT JOIN points p ON p.benchmark_id = b.id \
         GROUP BY b.model ORDER BY b.model",
    )?;
    let rows = stmt.query_map([], |r| {
        let range = |lo: usize, hi: usize| -> rusqlite::Result<TokenRange> {
            Ok(TokenRange {
                min: r.get::<_, Option<f64>>(lo)?.unwrap_or(0.0),
                max: r.get::<_, Option<f64>>(hi)?.unwrap_or(0.0),
            })
        };
        Ok(ModelSummary {
            provider_model: r.get(0)?,
            num_benchmarks: r.get(1)?,
            num_runs: r.get(2)?,
            input_token_range: range(3, 4)?,
            output_token_range: range(5, 6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The benchmarks of `model`, newest first.
///
/// # Errors
/// [`ServerError::NotFound`] when the model has none.
pub fn benchmarks_of(conn: &Connection, model: &str) -> Result<Vec<BenchmarkSummary>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SUMMARY_SELECT} WHERE b.model = ?1 ORDER BY u.uploaded_at DESC, b.id DESC"
    ))?;
    let list = stmt
        .query_map([model], summary_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if list.is_empty() {
        return Err(ServerError::NotFound {
            what: "model",
            id: model.to_owned(),
        });
    }
    Ok(list)
}

/// Every benchmark, oldest first.
///
/// # Errors
/// Database errors.
pub fn all_benchmarks(conn: &Connection) -> Result<Vec<BenchmarkSummary>> {
    let mut stmt = conn.prepare_cached(&format!("{SUMMARY_SELECT} ORDER BY b.id"))?;
    Ok(stmt
        .query_map([], summary_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// One benchmark with its points and statistics.
///
/// # Errors
/// [`ServerError::NotFound`] for an unknown id.
pub fn benchmark(conn: &Connection, id: i64) -> Result<BenchmarkDetail> {
    let summary = conn
        .prepare_cached(&format!("{SUMMARY_SELECT} WHERE b.id = ?1"))?
        .query_row([id], summary_row)
        .optional()?
        .ok_or_else(|| ServerError::NotFound {
            what: "benchmark",
            id: id.to_string(),
        })?;
    let sha256: String = conn.query_row(
        "SELECT sha256 FROM uploads WHERE id = ?1",
        [summary.upload_id],
        |r| r.get(0),
    )?;
    let points = points_of(conn, &[id])?;
    Ok(BenchmarkDetail {
        summary,
        sha256,
        points: points.into_iter().map(|(_, p)| p).collect(),
    })
}

/// The points of the given benchmarks, ordered by benchmark then position, each with its
/// benchmark id.
fn points_of(conn: &Connection, ids: &[i64]) -> Result<Vec<(i64, PointRecord)>> {
    let mut point_stmt = conn.prepare_cached(
        "SELECT id, benchmark_id, idx, label, request_rate, concurrency, traffic_level, input_tokens, \
         output_tokens, output_throughput, successful, failed, max_batch_size, max_num_tokens \
         FROM points WHERE benchmark_id = ?1 ORDER BY idx",
    )?;
    let mut stat_stmt =
        conn.prepare_cached("SELECT name, value FROM point_stats WHERE point_id = ?1")?;
    let mut out = Vec::new();
    for &id in ids {
        let rows = point_stmt
            .query_map([id], |r| {
                let u64_of = |i: usize| -> rusqlite::Result<Option<u64>> {
                    Ok(r.get::<_, Option<i64>>(i)?
                        .and_then(|v| u64::try_from(v).ok()))
                };
                let u32_of = |i: usize| -> rusqlite::Result<Option<u32>> {
                    Ok(r.get::<_, Option<i64>>(i)?
                        .and_then(|v| u32::try_from(v).ok()))
                };
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    PointRecord {
                        idx: r.get(2)?,
                        point: ParsedPoint {
                            label: r.get(3)?,
                            request_rate: r.get(4)?,
                            concurrency: r.get(5)?,
                            traffic_level: r.get(6)?,
                            input_tokens: r.get(7)?,
                            output_tokens: r.get(8)?,
                            output_throughput: r.get(9)?,
                            successful: u64_of(10)?,
                            failed: u64_of(11)?,
                            max_batch_size: u32_of(12)?,
                            max_num_tokens: u32_of(13)?,
                            stats: BTreeMap::new(),
                        },
                    },
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (point_id, benchmark_id, mut p) in rows {
            p.point.stats = stat_stmt
                .query_map([point_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            out.push((benchmark_id, p));
        }
    }
    Ok(out)
}

/// Models that can be modelled: at least two points whose (input, output) shapes differ.
///
/// # Errors
/// Database errors.
pub fn modeling_models(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.model FROM benchmarks b JOIN points p ON p.benchmark_id = b.id \
         GROUP BY b.model \
         HAVING COUNT(DISTINCT CAST(ROUND(p.input_tokens) AS INTEGER) || ':' || CAST(ROUND(p.output_tokens) AS INTEGER)) >= 2 \
         ORDER BY b.model",
    )?;
    Ok(stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?)
}

/// The rows the Benchmark Modeling Tool's regression reads for `model`, in upload and file
/// order: one per point, `traffic_level` (else the achieved rate) as the load, and the
/// statistics named as in its CSV. Points without `user_tps_mean` (formats other than the
/// Together CSV) get `1000 / tpot_mean` (else `1000 / itl_mean`) tok/s, so the mechanistic
/// E2E (`ttft + 1000·out / user_tps`) has a decode rate.
///
/// # Errors
/// [`ServerError::NotFound`] when the model has no benchmark.
pub fn together_rows(conn: &Connection, model: &str) -> Result<Vec<BenchmarkRow>> {
    let ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM benchmarks WHERE model = ?1 ORDER BY id")?
        .query_map([model], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if ids.is_empty() {
        return Err(ServerError::NotFound {
            what: "model",
            id: model.to_owned(),
        });
    }
    let names = metric_names();
    Ok(points_of(conn, &ids)?
        .into_iter()
        .map(|(benchmark_id, PointRecord { point: p, .. })| {
            let mut metrics: BTreeMap<String, f64> = p
                .stats
                .iter()
                .filter(|(k, _)| names.contains(k))
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            if !metrics.contains_key("user_tps_mean")
                && let Some(step) = p
                    .stats
                    .get("tpot_mean")
                    .or_else(|| p.stats.get("itl_mean"))
                    .filter(|v| **v > 0.0)
            {
                metrics.insert("user_tps_mean".to_owned(), 1000.0 / step);
            }
            BenchmarkRow {
                benchmark_id: benchmark_id.to_string(),
                model: model.to_owned(),
                traffic_level: p.traffic_level.or(p.request_rate),
                input_avg_len: p.input_tokens,
                output_avg_len: p.output_tokens,
                metrics,
            }
        })
        .collect())
}

/// A stored benchmark as a validated data set (for fits and charts).
///
/// # Errors
/// [`ServerError::NotFound`] for an unknown id; [`ServerError::Unprocessable`] if a stored
/// point no longer validates (a database edited by hand).
pub fn dataset(conn: &Connection, id: i64) -> Result<PerfDataset> {
    let detail = benchmark(conn, id)?;
    let mut ds = PerfDataset::new(detail.summary.name.clone());
    ds.meta = DatasetMeta {
        model: Some(detail.summary.provider_model.clone()),
        accelerator: detail.summary.accelerator.clone(),
        engine: detail.summary.engine.clone(),
        source: Some(detail.summary.file_name.clone()),
    };
    for PointRecord { idx, point: p } in &detail.points {
        let idx = *idx;
        let stats = |family: &str| -> Result<LatencyStats> {
            let get = |s: &str| p.stats.get(&format!("{family}_{s}")).copied();
            LatencyStats::new(LatencyStatsData {
                mean: get("mean"),
                median: get("p50"),
                p90: get("p90"),
                p95: get("p95"),
                p99: get("p99"),
            })
            .map_err(|e| stored_invalid(id, idx, &e))
        };
        let point = BenchmarkPoint::new(BenchmarkPointData {
            label: p.label.clone(),
            request_rate: p.request_rate,
            concurrency: p.concurrency,
            input_tokens: p.input_tokens,
            output_tokens: p.output_tokens,
            ttft: stats("ttft")?,
            itl: stats("itl")?,
            tpot: stats("tpot")?,
            e2e: stats("e2e")?,
            output_throughput: p.output_throughput,
            successful: p.successful,
            failed: p.failed,
            max_batch_size: p.max_batch_size,
            max_num_tokens: p.max_num_tokens,
        })
        .map_err(|e| stored_invalid(id, idx, &e))?;
        ds.points.push(point);
    }
    Ok(ds)
}

fn stored_invalid(id: i64, idx: i64, e: &dyn std::fmt::Display) -> ServerError {
    ServerError::Unprocessable(format!("benchmark {id}, point {idx}: {e}"))
}

/// Row counts of every table.
///
/// # Errors
/// Database errors.
pub fn counts(conn: &Connection) -> Result<Counts> {
    let n = |table: &str| -> Result<i64> {
        Ok(conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?)
    };
    Ok(Counts {
        uploads: n("uploads")?,
        benchmarks: n("benchmarks")?,
        points: n("points")?,
        point_stats: n("point_stats")?,
        derived_models: n("derived_models")?,
    })
}

fn derived_row(r: &Row<'_>) -> rusqlite::Result<DerivedSummary> {
    Ok(DerivedSummary {
        id: r.get(0)?,
        model: r.get(1)?,
        kind: r.get(2)?,
        name: r.get(3)?,
        benchmark_id: r.get(4)?,
        created_at: r.get(5)?,
    })
}

/// Derived models, optionally of one model and/or kind, oldest first.
///
/// # Errors
/// Database errors.
pub fn derived_list(
    conn: &Connection,
    model: Option<&str>,
    kind: Option<&str>,
) -> Result<Vec<DerivedSummary>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, model, kind, name, benchmark_id, created_at FROM derived_models \
         WHERE (?1 IS NULL OR model = ?1) AND (?2 IS NULL OR kind = ?2) ORDER BY id",
    )?;
    Ok(stmt
        .query_map(params![model, kind], derived_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// One derived model with its content.
///
/// # Errors
/// [`ServerError::NotFound`] for an unknown id.
pub fn derived(conn: &Connection, id: i64) -> Result<DerivedModel> {
    let found = conn
        .prepare_cached(
            "SELECT id, model, kind, name, benchmark_id, created_at, content FROM derived_models WHERE id = ?1",
        )?
        .query_row([id], |r| Ok((derived_row(r)?, r.get::<_, String>(6)?)))
        .optional()?;
    let (summary, content) = found.ok_or_else(|| ServerError::NotFound {
        what: "derived model",
        id: id.to_string(),
    })?;
    let content = serde_json::from_str(&content)
        .map_err(|e| ServerError::Internal(format!("derived model {id}: stored JSON: {e}")))?;
    Ok(DerivedModel { summary, content })
}

/// One stored file (`GET /api/uploads`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UploadSummary {
    /// Its id.
    pub upload_id: i64,
    /// The client's file name.
    pub file_name: String,
    /// Detected format.
    pub format: String,
    /// `benchmark`, `trace`, `profile` or `document`.
    pub kind: String,
    /// One line on the content.
    pub summary: String,
    /// Size, bytes.
    pub size_bytes: i64,
    /// Content hash.
    pub sha256: String,
    /// When it was stored.
    pub uploaded_at: String,
    /// Benchmarks read from it.
    pub benchmark_ids: Vec<i64>,
    /// What the reader warned about when it was stored.
    pub warnings: Vec<String>,
}

/// Every stored file, oldest first.
///
/// # Errors
/// Database errors.
pub fn uploads(conn: &Connection) -> Result<Vec<UploadSummary>> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, u.file_name, u.format, u.kind, u.summary, u.size_bytes, u.sha256, u.uploaded_at, \
         (SELECT group_concat(b.id) FROM benchmarks b WHERE b.upload_id = u.id), u.warnings \
         FROM uploads u ORDER BY u.id",
    )?;
    let rows = stmt.query_map([], |r| {
        let ids: Option<String> = r.get(8)?;
        let warnings: String = r.get(9)?;
        Ok(UploadSummary {
            upload_id: r.get(0)?,
            file_name: r.get(1)?,
            format: r.get(2)?,
            kind: r.get(3)?,
            summary: r.get(4)?,
            size_bytes: r.get(5)?,
            sha256: r.get(6)?,
            uploaded_at: r.get(7)?,
            benchmark_ids: ids
                .unwrap_or_default()
                .split(',')
                .filter_map(|s| s.parse().ok())
                .collect(),
            // written by this crate as a JSON array of strings (checked by the schema)
            warnings: serde_json::from_str(&warnings).unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A stored file's name, format and bytes.
///
/// # Errors
/// [`ServerError::NotFound`] for an unknown id.
pub fn upload_content(conn: &Connection, id: i64) -> Result<(String, String, Vec<u8>)> {
    conn.query_row(
        "SELECT file_name, format, content FROM uploads WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()?
    .ok_or_else(|| ServerError::NotFound {
        what: "upload",
        id: id.to_string(),
    })
}
