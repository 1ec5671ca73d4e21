//! An uploaded file, read and checked before anything touches the database: the format is
//! detected by `perf-readers`, every point and statistic is extracted, and any problem is one
//! [`ServerError::Upload`] message. Storing the result ([`super::write`]) then cannot fail on
//! the content.

use std::collections::BTreeMap;
use std::path::Path;

use llm_perf::model::PerfDataset;
use llm_perf::model::{BenchmarkPoint, LatencyStats};
use llm_perf::predict::together::{BenchmarkRow, read_together_csv};
use llm_perf::readers::{
    Document, Format, ReadError, ReadOptions, SelectOptions, read_any_with, read_bytes,
    read_document_bytes, read_profile_bytes, read_requests_bytes,
};
use sha2::{Digest, Sha256};

use crate::error::{Result, ServerError};

/// A file as received, with the optional form fields that name what the file does not.
#[derive(Clone, Debug, Default)]
pub struct UploadRequest {
    /// The client's file name (untrusted text; stored as given, shown escaped).
    pub file_name: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Model name, used when the file names none.
    pub model: Option<String>,
    /// Accelerator, used when the file names none.
    pub accelerator: Option<String>,
    /// Serving engine, used when the file names none.
    pub engine: Option<String>,
}

/// A file read and ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedUpload {
    /// The client's file name.
    pub file_name: String,
    /// Hex SHA-256 of the bytes: two uploads of the same bytes are one upload.
    pub sha256: String,
    /// Detected format (`perf-readers` name, e.g. `together-csv`, `guidellm-json`).
    pub format: String,
    /// The bytes as received.
    pub bytes: Vec<u8>,
    /// What the file holds.
    pub kind: UploadKind,
    /// One line on the content (`8 points of 1 model`, `19366 requests`, …).
    pub summary: String,
    /// One benchmark per model named in the file (in order of first appearance); empty for
    /// traces, profiles and documents.
    pub benchmarks: Vec<ParsedBenchmark>,
    /// What the reader warned about (a broken statistic it dropped, naming file, point and
    /// field); stored with the upload and returned with it.
    pub warnings: Vec<String>,
}

/// What an uploaded file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadKind {
    /// Benchmark results: read into benchmarks and points.
    Benchmark,
    /// A request trace (Azure, Mooncake, BurstGPT, Vidur): kept for replay.
    Trace,
    /// A profiling table (llm-profiler, Vidur, msserviceprofiler): kept for predictors.
    Profile,
    /// A model document (Inferno problems and answers, trainer results, BLIS coefficients).
    Document,
}

impl UploadKind {
    /// The stored name: `benchmark`, `trace`, `profile`, `document`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Benchmark => "benchmark",
            Self::Trace => "trace",
            Self::Profile => "profile",
            Self::Document => "document",
        }
    }
}

/// The points of one model in one file.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedBenchmark {
    /// The model served.
    pub model: String,
    /// The sweep's name as the file gives it (else the file name).
    pub name: String,
    /// Accelerator, if known.
    pub accelerator: Option<String>,
    /// Engine, if known.
    pub engine: Option<String>,
    /// The points, in file order.
    pub points: Vec<ParsedPoint>,
}

/// One operating point with every statistic the file gave.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ParsedPoint {
    /// Run label (`constant@27.1`, `qps@0.1`).
    pub label: Option<String>,
    /// Achieved request rate, req/s.
    pub request_rate: Option<f64>,
    /// Concurrency.
    pub concurrency: Option<f64>,
    /// The load level the benchmark was asked for (Together's `traffic_level`, target QPS).
    pub traffic_level: Option<f64>,
    /// Mean input tokens.
    pub input_tokens: f64,
    /// Mean output tokens.
    pub output_tokens: f64,
    /// Output tokens/s over the run.
    pub output_throughput: Option<f64>,
    /// Successful requests.
    pub successful: Option<u64>,
    /// Failed requests.
    pub failed: Option<u64>,
    /// Max batch size the server ran with.
    pub max_batch_size: Option<u32>,
    /// Max tokens per step the server ran with.
    pub max_num_tokens: Option<u32>,
    /// Statistics by name: `{ttft,itl,tpot,e2e}_{mean,p50,p90,p95,p99}` from any format,
    /// Together's `{ttft,user_tps,e2e}_{mean,stdev,p05,p50,p80,p95,p99,p999}`, and
    /// `throughput` (output tok/s).
    pub stats: BTreeMap<String, f64>,
}

/// Reads `request` with the detected format's reader.
///
/// # Errors
/// [`ServerError::Upload`] naming the file and the problem: empty, binary or not UTF-8, an
/// unknown format, a reader error (with line or field), no points, or no model name in the
/// file nor in `request.model`.
pub fn parse_upload(request: UploadRequest) -> Result<ParsedUpload> {
    let file_name = request.file_name.clone();
    parse_with(request, |bytes| {
        read_bytes(bytes, &file_name, &read_options())
    })
}

/// Reads the file at `path` as [`parse_upload`] reads uploaded bytes, and as `llm-perf read`
/// reads files: an AISBench `<dataset>.json` or `.csv` is read together with the other file
/// beside it. `request.bytes` and `request.file_name` are replaced by the file's.
///
/// # Errors
/// [`ServerError::Io`] when the file cannot be read; else as [`parse_upload`].
pub fn parse_upload_path(path: &Path, request: UploadRequest) -> Result<ParsedUpload> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ServerError::Io {
        path: shown.clone(),
        source,
    })?;
    let request = UploadRequest {
        file_name: shown,
        bytes,
        ..request
    };
    parse_with(request, |_| read_any_with(path, &read_options()))
}

/// Every point of the file, not only those the Inferno trainer would keep.
fn read_options() -> ReadOptions {
    ReadOptions {
        select: SelectOptions::all(),
        ..ReadOptions::default()
    }
}

fn parse_with(
    request: UploadRequest,
    read: impl FnOnce(&[u8]) -> std::result::Result<(Format, PerfDataset), ReadError>,
) -> Result<ParsedUpload> {
    let UploadRequest {
        file_name,
        bytes,
        model,
        accelerator,
        engine,
    } = request;
    let file_name = if file_name.trim().is_empty() {
        "upload".to_owned()
    } else {
        file_name
    };
    let model = model.filter(|m| !m.trim().is_empty());
    let upload_error = |message: String| ServerError::Upload {
        file: file_name.clone(),
        message,
    };
    let (format, dataset) = match read(&bytes) {
        Ok(read) => read,
        Err(ReadError::NotBenchmark { format, .. }) => {
            let (kind, summary) =
                read_other(&bytes, &file_name, format).map_err(|e| upload_error(e.to_string()))?;
            return Ok(ParsedUpload {
                sha256: sha256_hex(&bytes),
                format: format.to_string(),
                file_name,
                bytes,
                kind,
                summary,
                benchmarks: Vec::new(),
                warnings: Vec::new(),
            });
        }
        Err(e) => return Err(upload_error(e.to_string())),
    };
    if dataset.points.is_empty() {
        return Err(upload_error(format!("{file_name}: no benchmark points")));
    }
    let accelerator = dataset.meta.accelerator.clone().or(accelerator);
    let engine = dataset.meta.engine.clone().or(engine);
    let name = if dataset.name.is_empty() {
        file_name.clone()
    } else {
        dataset.name.clone()
    };
    let benchmarks = if format == Format::TogetherCsv {
        let rows = together_rows(&bytes, &file_name, model.as_deref()).map_err(upload_error)?;
        if rows.len() != dataset.points.len() {
            return Err(upload_error(format!(
                "{file_name}: {} rows read as Together rows but {} as benchmark points",
                rows.len(),
                dataset.points.len()
            )));
        }
        let mut by_model: Vec<ParsedBenchmark> = Vec::new();
        for (row, point) in rows.into_iter().zip(&dataset.points) {
            let row_model = if row.model.trim().is_empty() {
                model.clone().ok_or_else(|| {
                    upload_error(format!(
                        "{file_name}: a row has an empty `provider_model` and no `model` field was given"
                    ))
                })?
            } else {
                row.model.clone()
            };
            let mut parsed = parsed_point(point);
            parsed.traffic_level = row.traffic_level;
            parsed.stats.extend(row.metrics);
            match by_model.iter_mut().find(|b| b.model == row_model) {
                Some(b) => b.points.push(parsed),
                None => by_model.push(ParsedBenchmark {
                    model: row_model,
                    name: name.clone(),
                    accelerator: accelerator.clone(),
                    engine: engine.clone(),
                    points: vec![parsed],
                }),
            }
        }
        by_model
    } else {
        let model = dataset.meta.model.clone().or(model).ok_or_else(|| {
            upload_error(format!(
                "{file_name}: the file names no model; name it (upload form field `model`, or `llm-perf store import --model`)"
            ))
        })?;
        vec![ParsedBenchmark {
            model,
            name,
            accelerator,
            engine,
            points: dataset.points.iter().map(parsed_point).collect(),
        }]
    };
    let points: usize = benchmarks.iter().map(|b| b.points.len()).sum();
    let summary = format!(
        "{points} point{} of {} model{}",
        if points == 1 { "" } else { "s" },
        benchmarks.len(),
        if benchmarks.len() == 1 { "" } else { "s" }
    );
    Ok(ParsedUpload {
        sha256: sha256_hex(&bytes),
        format: format.to_string(),
        file_name,
        bytes,
        kind: UploadKind::Benchmark,
        summary,
        warnings: dataset.warnings.iter().map(ToString::to_string).collect(),
        benchmarks,
    })
}

/// Reads a file that holds no benchmark points with the reader of its kind, so a stored
/// trace, profile or document is known to be readable; returns its kind and a summary.
fn read_other(
    bytes: &[u8],
    file_name: &str,
    format: Format,
) -> std::result::Result<(UploadKind, String), ReadError> {
    if let Ok((_, records)) = read_requests_bytes(bytes, file_name) {
        return Ok((UploadKind::Trace, format!("{} requests", records.len())));
    }
    match read_profile_bytes(bytes, file_name) {
        Ok((_, profile)) => Ok((UploadKind::Profile, format!("{} rows", profile.len()))),
        Err(ReadError::UnknownFormat { .. }) => {
            let (_, document) = read_document_bytes(bytes, file_name)?;
            let what = match document {
                Document::AnalyzerProblem(_) => "a queue-analysis problem",
                Document::AnalyzerSolution(_) => "a queue-analysis answer",
                Document::GoldenPrimitives(_) => "analyzer golden values",
                Document::TrainerResult(_) => "a model-trainer result",
                Document::TrainedPhysics(_) => "trained step-time coefficients",
                Document::ModelConfig(_) => "a model architecture (Hugging Face config.json)",
                _ => "a model document",
            };
            Ok((UploadKind::Document, format!("{what} ({format})")))
        }
        Err(e) => Err(e),
    }
}

/// Hex SHA-256.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The Together rows of a CSV with every metric column (`perf-predict`'s reader, the one
/// `llm-perf estimate` uses). A file without a `provider_model` column takes `model` as one.
fn together_rows(
    bytes: &[u8],
    file_name: &str,
    model: Option<&str>,
) -> std::result::Result<Vec<BenchmarkRow>, String> {
    let path = Path::new(file_name);
    let has_model_column = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes)
        .headers()
        .map_err(|e| format!("{file_name}: {e}"))?
        .iter()
        .any(|h| h == "provider_model");
    if has_model_column {
        return read_together_csv(bytes, path).map_err(|e| e.to_string());
    }
    let Some(model) = model else {
        return Err(format!(
            "{file_name}: missing column `provider_model` and no `model` field was given: name the model in the file or in the `model` field"
        ));
    };
    let with_column = add_model_column(bytes, model).map_err(|e| format!("{file_name}: {e}"))?;
    read_together_csv(with_column.as_slice(), path).map_err(|e| e.to_string())
}

/// The CSV with a `provider_model` column holding `model` on every row.
fn add_model_column(bytes: &[u8], model: &str) -> std::result::Result<Vec<u8>, csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes);
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(bytes.len() + 64));
    for (i, record) in reader.records().enumerate() {
        let record = record?;
        let mut fields: Vec<&str> = record.iter().collect();
        fields.push(if i == 0 { "provider_model" } else { model });
        writer.write_record(&fields)?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// The columns and statistics of a validated point.
pub(crate) fn parsed_point(p: &BenchmarkPoint) -> ParsedPoint {
    let mut stats = BTreeMap::new();
    for (family, s) in [
        ("ttft", p.ttft()),
        ("itl", p.itl()),
        ("tpot", p.tpot()),
        ("e2e", p.e2e()),
    ] {
        insert_latency(&mut stats, family, s);
    }
    if let Some(t) = p.output_throughput() {
        stats.insert("throughput".to_owned(), t);
    }
    ParsedPoint {
        label: p.label().map(str::to_owned),
        request_rate: p.request_rate(),
        concurrency: p.concurrency(),
        traffic_level: None,
        input_tokens: p.input_tokens(),
        output_tokens: p.output_tokens(),
        output_throughput: p.output_throughput(),
        successful: p.successful(),
        failed: p.failed(),
        max_batch_size: p.max_batch_size(),
        max_num_tokens: p.max_num_tokens(),
        stats,
    }
}

/// The names a latency family's statistics are stored under.
pub(crate) const LATENCY_STATS: [&str; 5] = ["mean", "p50", "p90", "p95", "p99"];

fn insert_latency(stats: &mut BTreeMap<String, f64>, family: &str, s: &LatencyStats) {
    let values = [s.mean(), s.median(), s.p90(), s.p95(), s.p99()];
    for (name, value) in LATENCY_STATS.iter().zip(values) {
        if let Some(v) = value {
            stats.insert(format!("{family}_{name}"), v);
        }
    }
}

#[cfg(test)]
// Values parsed from text must come back bit for bit: exact comparison is the point.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    fn request(name: &str, bytes: &[u8], model: Option<&str>) -> UploadRequest {
        UploadRequest {
            file_name: name.to_owned(),
            bytes: bytes.to_vec(),
            model: model.map(str::to_owned),
            ..UploadRequest::default()
        }
    }

    const TOGETHER: &str = "provider_name,provider_model,traffic_mode,traffic_level,input_avg_len,output_avg_len,ttft_mean,ttft_p05,ttft_p999,user_tps_mean,e2e_mean,summary_job_level_tps,summary_actual_qps\n\
        p,m/a,qps,0.1,500,100,300,250,900,60,2000,800,0.1\n\
        p,m/b,qps,0.2,1000,100,350,260,950,55,2300,900,0.2\n\
        p,m/a,qps,0.3,2000,200,420,300,990,50,4400,950,0.3\n";

    #[test]
    fn together_rows_keep_every_statistic_and_split_by_model() {
        let up = parse_upload(request("t.csv", TOGETHER.as_bytes(), None)).unwrap();
        assert_eq!(up.format, "together-csv");
        assert_eq!(up.sha256.len(), 64);
        let models: Vec<&str> = up.benchmarks.iter().map(|b| b.model.as_str()).collect();
        assert_eq!(models, ["m/a", "m/b"]);
        let a = &up.benchmarks[0];
        assert_eq!(a.points.len(), 2);
        let p = &a.points[1];
        assert_eq!(p.traffic_level, Some(0.3));
        assert_eq!(p.input_tokens, 2000.0);
        // p05 and p999: the seed's database dropped them.
        assert_eq!(p.stats["ttft_p05"], 300.0);
        assert_eq!(p.stats["ttft_p999"], 990.0);
        assert_eq!(p.stats["user_tps_mean"], 50.0);
        assert_eq!(p.stats["throughput"], 950.0);
        assert_eq!(p.request_rate, Some(0.3));
    }

    #[test]
    fn a_together_csv_without_provider_model_needs_the_model_field() {
        let text = TOGETHER
            .replace("provider_model,", "")
            .replace(",m/a,", ",")
            .replace(",m/b,", ",");
        let err = parse_upload(request("nomodel.csv", text.as_bytes(), None)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("provider_model") && msg.contains("nomodel.csv"),
            "{msg}"
        );
        let up =
            parse_upload(request("nomodel.csv", text.as_bytes(), Some("given/model"))).unwrap();
        assert_eq!(up.benchmarks.len(), 1);
        assert_eq!(up.benchmarks[0].model, "given/model");
        assert_eq!(up.benchmarks[0].points.len(), 3);
        assert_eq!(up.benchmarks[0].points[2].stats["ttft_p999"], 990.0);
    }

    #[test]
    fn bad_files_are_one_line_errors_naming_the_file() {
        for (name, bytes, needle) in [
            ("empty.json", &b""[..], "empty"),
            ("bin.dat", &b"\x00\x01\x02\x07binary"[..], "binary"),
            (
                "cut.json",
                &br#"{"name": "x", "data": [{"requestRate": 1"#[..],
                "cut.json",
            ),
        ] {
            let err = parse_upload(request(name, bytes, Some("m"))).unwrap_err();
            assert_eq!(err.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
            let msg = err.to_string();
            assert!(msg.contains(needle) && !msg.contains('\n'), "{name}: {msg}");
        }
    }

    #[test]
    fn sha256_matches_a_known_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
