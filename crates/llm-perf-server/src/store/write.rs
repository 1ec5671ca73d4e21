//! Every write to the store, each in one `IMMEDIATE` transaction: all or nothing, and no
//! `SQLITE_BUSY` from a read transaction upgrading to a write under WAL.

use std::fmt;
use std::str::FromStr;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::upload::{ParsedUpload, UploadKind};
use crate::error::{Duplicate, Result, ServerError};

/// What [`insert_upload`] stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredUpload {
    /// The upload's id.
    pub upload_id: i64,
    /// The client's file name.
    pub file_name: String,
    /// Detected format.
    pub format: String,
    /// What the file holds.
    pub kind: UploadKind,
    /// One line on the content.
    pub summary: String,
    /// Content hash.
    pub sha256: String,
    /// One entry per benchmark (model) stored.
    pub benchmarks: Vec<StoredBenchmark>,
    /// Points stored over all benchmarks.
    pub points: usize,
    /// What the reader warned about (see [`ParsedUpload::warnings`]).
    pub warnings: Vec<String>,
}

/// One benchmark created by an upload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredBenchmark {
    /// Its id (`/api/benchmarks/benchmarks/{id}`).
    pub benchmark_id: i64,
    /// The model.
    pub model: String,
    /// Points stored.
    pub points: usize,
}

/// Stores a parsed upload: the file, its benchmarks, points and statistics.
///
/// # Errors
/// [`ServerError::Duplicate`] when the same bytes are stored already (nothing is written);
/// [`ServerError::Sqlite`] when the database fails (the transaction rolls back).
pub fn insert_upload(conn: &mut Connection, up: &ParsedUpload) -> Result<StoredUpload> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let existing: Option<(i64, String, String)> = tx
        .query_row(
            "SELECT id, file_name, uploaded_at FROM uploads WHERE sha256 = ?1",
            [&up.sha256],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((upload_id, stored_as, uploaded_at)) = existing {
        let mut stmt = tx.prepare("SELECT id FROM benchmarks WHERE upload_id = ?1 ORDER BY id")?;
        let benchmark_ids = stmt
            .query_map([upload_id], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        return Err(ServerError::Duplicate(Box::new(Duplicate {
            file: up.file_name.clone(),
            sha256: up.sha256.clone(),
            upload_id,
            stored_as,
            uploaded_at,
            benchmark_ids,
        })));
    }
    tx.execute(
        "INSERT INTO uploads (file_name, sha256, format, kind, summary, size_bytes, content, warnings) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            up.file_name,
            up.sha256,
            up.format,
            up.kind.as_str(),
            up.summary,
            i64::try_from(up.bytes.len()).unwrap_or(i64::MAX),
            up.bytes,
            serde_json::to_string(&up.warnings).unwrap_or_else(|_| "[]".to_owned())
        ],
    )?;
    let upload_id = tx.last_insert_rowid();
    let mut stored = StoredUpload {
        upload_id,
        file_name: up.file_name.clone(),
        format: up.format.clone(),
        kind: up.kind,
        summary: up.summary.clone(),
        sha256: up.sha256.clone(),
        benchmarks: Vec::with_capacity(up.benchmarks.len()),
        points: 0,
        warnings: up.warnings.clone(),
    };
    {
        let mut bench_stmt = tx.prepare_cached(
            "INSERT INTO benchmarks (upload_id, model, name, accelerator, engine) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut point_stmt = tx.prepare_cached(
            "INSERT INTO points (benchmark_id, idx, label, request_rate, concurrency, traffic_level, \
             input_tokens, output_tokens, output_throughput, successful, failed, max_batch_size, max_num_tokens) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        let mut stat_stmt = tx.prepare_cached(
            "INSERT INTO point_stats (point_id, name, value) VALUES (?1, ?2, ?3)",
        )?;
        for b in &up.benchmarks {
            bench_stmt.execute(params![upload_id, b.model, b.name, b.accelerator, b.engine])?;
            let benchmark_id = tx.last_insert_rowid();
            for (idx, p) in b.points.iter().enumerate() {
                point_stmt.execute(params![
                    benchmark_id,
                    i64::try_from(idx).unwrap_or(i64::MAX),
                    p.label,
                    p.request_rate,
                    p.concurrency,
                    p.traffic_level,
                    p.input_tokens,
                    p.output_tokens,
                    p.output_throughput,
                    p.successful.map(|v| i64::try_from(v).unwrap_or(i64::MAX)),
                    p.failed.map(|v| i64::try_from(v).unwrap_or(i64::MAX)),
                    p.max_batch_size,
                    p.max_num_tokens,
                ])?;
                let point_id = tx.last_insert_rowid();
                for (name, value) in &p.stats {
                    stat_stmt.execute(params![point_id, name, value])?;
                }
            }
            stored.points += b.points.len();
            stored.benchmarks.push(StoredBenchmark {
                benchmark_id,
                model: b.model.clone(),
                points: b.points.len(),
            });
        }
    }
    tx.commit()?;
    Ok(stored)
}

/// Deletes a benchmark with its points (and its upload when no other benchmark of that
/// upload is left, so the same file can be uploaded again); returns the points deleted.
///
/// # Errors
/// [`ServerError::NotFound`] for an unknown id (nothing changes).
pub fn delete_benchmark(conn: &mut Connection, id: i64) -> Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let upload_id: Option<i64> = tx
        .query_row(
            "SELECT upload_id FROM benchmarks WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(upload_id) = upload_id else {
        return Err(ServerError::NotFound {
            what: "benchmark",
            id: id.to_string(),
        });
    };
    let points: i64 = tx.query_row(
        "SELECT COUNT(*) FROM points WHERE benchmark_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    tx.execute("DELETE FROM benchmarks WHERE id = ?1", [id])?;
    tx.execute(
        "DELETE FROM uploads WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM benchmarks WHERE upload_id = ?1)",
        [upload_id],
    )?;
    tx.commit()?;
    Ok(usize::try_from(points).unwrap_or(0))
}

/// Deletes an upload with its benchmarks and points; returns the points deleted.
///
/// # Errors
/// [`ServerError::NotFound`] for an unknown id (nothing changes).
pub fn delete_upload(conn: &mut Connection, id: i64) -> Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let points: i64 = tx.query_row(
        "SELECT COUNT(*) FROM points p JOIN benchmarks b ON b.id = p.benchmark_id WHERE b.upload_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    if tx.execute("DELETE FROM uploads WHERE id = ?1", [id])? == 0 {
        return Err(ServerError::NotFound {
            what: "upload",
            id: id.to_string(),
        });
    }
    tx.commit()?;
    Ok(usize::try_from(points).unwrap_or(0))
}

/// What a derived model is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DerivedKind {
    /// Inferno α, β, γ fitted to a stored sweep.
    InfernoFit,
    /// The Benchmark Modeling Tool's regression of a model's stored benchmarks.
    TogetherRegression,
    /// A step-time predictor file (`llm-perf predict train` output).
    Predictor,
}

impl DerivedKind {
    /// The stored name: `inferno-fit`, `together-regression`, `predictor`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InfernoFit => "inferno-fit",
            Self::TogetherRegression => "together-regression",
            Self::Predictor => "predictor",
        }
    }
}

impl fmt::Display for DerivedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DerivedKind {
    type Err = ServerError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "inferno-fit" => Ok(Self::InfernoFit),
            "together-regression" => Ok(Self::TogetherRegression),
            "predictor" => Ok(Self::Predictor),
            _ => Err(ServerError::invalid(
                "kind",
                s,
                "expected inferno-fit, together-regression or predictor",
            )),
        }
    }
}

/// Stores a derived model; returns its id.
///
/// # Errors
/// [`ServerError::NotFound`] when `benchmark_id` names no benchmark; database errors.
pub fn insert_derived(
    conn: &mut Connection,
    model: &str,
    kind: DerivedKind,
    name: &str,
    benchmark_id: Option<i64>,
    content: &serde_json::Value,
) -> Result<i64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(id) = benchmark_id {
        let exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM benchmarks WHERE id = ?1)",
            [id],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(ServerError::NotFound {
                what: "benchmark",
                id: id.to_string(),
            });
        }
    }
    tx.execute(
        "INSERT INTO derived_models (model, kind, name, benchmark_id, content) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![model, kind.as_str(), name, benchmark_id, content.to_string()],
    )?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    Ok(id)
}

/// Deletes a derived model.
///
/// # Errors
/// [`ServerError::NotFound`] for an unknown id.
pub fn delete_derived(conn: &mut Connection, id: i64) -> Result<()> {
    let n = conn.execute("DELETE FROM derived_models WHERE id = ?1", [id])?;
    if n == 0 {
        return Err(ServerError::NotFound {
            what: "derived model",
            id: id.to_string(),
        });
    }
    Ok(())
}
