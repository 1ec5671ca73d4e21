//! A prediction as a one-row CSV in the Together upload schema, so it can be compared with,
//! or uploaded beside, measured runs.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Result, ServerError};

/// The columns of the upload schema, in order (specs/predict.md §2).
pub const TOGETHER_COLUMNS: [&str; 51] = [
    "provider_name",
    "provider_model",
    "traffic_mode",
    "traffic_level",
    "input_avg_len",
    "input_stdev_len",
    "input_min_len",
    "input_max_len",
    "input_total_tokens",
    "output_avg_len",
    "output_stdev_len",
    "output_min_len",
    "output_max_len",
    "output_total_tokens",
    "ttft_mean",
    "ttft_stdev",
    "ttft_p05",
    "ttft_p50",
    "ttft_p80",
    "ttft_p95",
    "ttft_p99",
    "ttft_p999",
    "ttft_distribution",
    "user_tps_mean",
    "user_tps_stdev",
    "user_tps_p05",
    "user_tps_p50",
    "user_tps_p80",
    "user_tps_p95",
    "user_tps_p99",
    "user_tps_p999",
    "user_tps_distribution",
    "e2e_mean",
    "e2e_stdev",
    "e2e_p05",
    "e2e_p50",
    "e2e_p80",
    "e2e_p95",
    "e2e_p99",
    "e2e_p999",
    "e2e_distribution",
    "summary_total_num_requests",
    "summary_total_elapsed_time_s",
    "summary_job_level_tps",
    "summary_actual_qps",
    "summary_num_failed_requests",
    "per_gpu_num_gpus",
    "per_gpu_tps_mean",
    "per_gpu_tps_stdev",
    "acceptance_rate",
    "hf_dataset_name",
];

/// The part of a predict answer the export needs.
#[derive(Clone, Debug, Deserialize)]
pub struct PredictionResult {
    /// The model.
    pub model: String,
    /// Input tokens of the query.
    pub input_tokens: f64,
    /// Output tokens of the query.
    pub output_tokens: f64,
    /// Predicted metrics by name (`ttft_mean`, …, `throughput`).
    pub predictions: BTreeMap<String, f64>,
    /// The traffic level asked for, if any.
    #[serde(default)]
    pub traffic_level: Option<f64>,
}

/// The CSV: the header and one row. Token columns hold the query's shape; metric columns the
/// predictions (empty where none); `summary_job_level_tps` the predicted throughput.
///
/// # Errors
/// [`ServerError::Invalid`] for non-finite token counts or predictions.
pub fn prediction_csv(r: &PredictionResult) -> Result<String> {
    for (field, v) in [
        ("result.input_tokens", r.input_tokens),
        ("result.output_tokens", r.output_tokens),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(ServerError::invalid(
                field,
                v,
                "must be a finite number > 0",
            ));
        }
    }
    if let Some((k, v)) = r.predictions.iter().find(|(_, v)| !v.is_finite()) {
        return Err(ServerError::invalid(
            format!("result.predictions.{k}"),
            v,
            "must be finite",
        ));
    }
    let number = |v: f64| v.to_string();
    let cell = |column: &str| -> String {
        let tokens = |v: f64| number(v);
        match column {
            "provider_name" => "predicted".to_owned(),
            "provider_model" => r.model.clone(),
            "traffic_mode" => "prediction".to_owned(),
            "traffic_level" => r.traffic_level.map(number).unwrap_or_default(),
            "input_avg_len" | "input_min_len" | "input_max_len" | "input_total_tokens" => {
                tokens(r.input_tokens)
            }
            "output_avg_len" | "output_min_len" | "output_max_len" | "output_total_tokens" => {
                tokens(r.output_tokens)
            }
            "summary_total_num_requests" => "1".to_owned(),
            "summary_num_failed_requests" => "0".to_owned(),
            "summary_job_level_tps" => r
                .predictions
                .get("throughput")
                .copied()
                .map(number)
                .unwrap_or_default(),
            metric => r
                .predictions
                .get(metric)
                .copied()
                .map(number)
                .unwrap_or_default(),
        }
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| ServerError::Internal(format!("cannot write CSV: {e}"));
    writer.write_record(TOGETHER_COLUMNS).map_err(io)?;
    writer
        .write_record(TOGETHER_COLUMNS.iter().map(|c| cell(c)))
        .map_err(io)?;
    let bytes = writer
        .into_inner()
        .map_err(|e| ServerError::Internal(format!("cannot write CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| ServerError::Internal(format!("CSV not UTF-8: {e}")))
}

/// `name` reduced to `[A-Za-z0-9_-]` for a download file name.
#[must_use]
pub fn safe_file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect()
}

#[cfg(test)]
// Values parsed from text must come back bit for bit: exact comparison is the point.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn export_round_trips_through_the_together_reader() {
        let r = PredictionResult {
            model: "org/model, \"quoted\"".to_owned(),
            input_tokens: 1000.0,
            output_tokens: 400.0,
            predictions: [
                ("ttft_mean", 321.5),
                ("ttft_p999", 900.25),
                ("user_tps_mean", 55.0),
                ("e2e_mean", 7594.2),
                ("throughput", 1234.0),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            traffic_level: None,
        };
        let csv = prediction_csv(&r).unwrap();
        assert_eq!(csv.lines().count(), 2);
        // The exported row reads back as a Together row with the same values.
        let rows = llm_perf::predict::together::read_together_csv(
            csv.as_bytes(),
            std::path::Path::new("p.csv"),
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].model, r.model);
        assert_eq!(rows[0].input_avg_len, 1000.0);
        assert_eq!(rows[0].metrics["ttft_p999"], 900.25);
        assert_eq!(rows[0].metrics["throughput"], 1234.0);
        assert!(!rows[0].metrics.contains_key("e2e_p99"));
        assert_eq!(safe_file_stem("a/b c"), "a_b_c");
    }
}
