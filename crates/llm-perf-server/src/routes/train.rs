//! The model-trainer's `POST /train`: fits α, β, γ to an Inferno `DataSet` body and answers
//! `{"OptimizedParms", "AnalysisResults"}`.
//!
//! The query parameters (`llm-perf fit`'s settings) are documented in the crate docs.
//!
//! # Errors
//!
//! * 400: a bad query parameter (naming the key, the value and what is accepted); `binding
//!   error: …` when the body is not a `DataSet` (malformed JSON, no `data` array, a field that
//!   is not a number), as upstream.
//! * 422: a `DataSet` the model cannot be fitted to — no points, a point with an unusable
//!   value (named as `data[i].key`: NaN, infinite, negative, zero output tokens …), all points
//!   at one operating point, or a point the model cannot evaluate at the initial parameters
//!   (a rate of `1e300`, or above the v3 model's maximum rate), which upstream answered 500.
//! * 500 only for a failure of the server itself (the optimizer framework, a panic).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use llm_perf::fit::{FitError, FitPoint, Loss, SeedResponse, dataset_loss, points_from_datasets};
use llm_perf::model::Error as ModelError;
use llm_perf::model::inferno::{
    Analyzer, Arithmetic, QueueConfig, QueueModel, RequestShape, ServiceParams,
};
use llm_perf::readers::{Location, ReadError, ReadOptions, SelectOptions, TimeUnit, read_inferno};
use serde_json::Value;

use super::{ApiError, blocking, json_response};
use crate::seed_api::{TrainerChoice, model_message, short_num};
use crate::state::{AppState, ServerOptions};

/// Name under which a request body appears in reader error messages.
const BODY: &str = "request body";

/// The query keys `POST /train` accepts.
const KEYS: &str =
    "loss, model, init, seed_compatible, scaled, multistart, seed, arithmetic, seconds";

/// Most multistart starts one request may ask for (each is a Nelder–Mead run).
pub(crate) const MAX_MULTISTART: usize = 64;

/// What a `/train` request asks for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TrainSettings {
    /// The trainer.
    pub choice: TrainerChoice,
    /// Unit of the body's times.
    pub unit: TimeUnit,
}

/// A bad query value: 400 naming the key, the value and what is accepted.
fn bad_value(key: &str, value: &str, accepted: &str) -> ApiError {
    ApiError::bad_request(format!(
        "query parameter `{key}` = `{value}`: expected {accepted}"
    ))
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ApiError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(bad_value(key, value, "true or false")),
    }
}

fn parse_init(value: &str) -> Result<[f64; 3], ApiError> {
    const ACCEPTED: &str = "three comma-separated numbers >= 0, alpha,beta,gamma (e.g. `10,0,0`)";
    let parts: Vec<&str> = value.split(',').map(str::trim).collect();
    let [a, b, g] = parts[..] else {
        return Err(bad_value("init", value, ACCEPTED));
    };
    let mut out = [0.0; 3];
    for ((slot, text), name) in out
        .iter_mut()
        .zip([a, b, g])
        .zip(["alpha", "beta", "gamma"])
    {
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => *slot = v,
            _ => {
                return Err(bad_value(
                    "init",
                    value,
                    &format!("{ACCEPTED}; initial {name} `{text}` is not a finite number >= 0"),
                ));
            }
        }
    }
    Ok(out)
}

/// The trainer settings of a `/train` query (`pairs` in order), over the server's defaults.
pub(crate) fn parse_query(
    pairs: &[(String, String)],
    options: &ServerOptions,
) -> Result<TrainSettings, ApiError> {
    let mut seen: Vec<String> = Vec::new();
    let mut loss = Loss::RelativeSquared;
    let mut model = options.queue.model;
    let mut init = None;
    let mut seed_compatible = false;
    let mut scaled = true;
    let mut multistart = 8;
    let mut seed = 0;
    let mut arithmetic = options.train_arithmetic;
    let mut unit = TimeUnit::Milliseconds;
    for (raw_key, value) in pairs {
        let key = raw_key.replace('-', "_");
        if seen.contains(&key) {
            return Err(ApiError::bad_request(format!(
                "query parameter `{key}` is given twice"
            )));
        }
        match key.as_str() {
            "loss" => {
                loss = value
                    .parse()
                    .map_err(|_| bad_value(&key, value, "one of rel-sq, weighted-abs"))?;
            }
            "model" => {
                model = value.parse::<QueueModel>().map_err(|_| {
                    bad_value(&key, value, "one of v3, v6, v7 (or 0.3, 0.6, 0.7, 0.8)")
                })?;
            }
            "init" => init = Some(parse_init(value)?),
            "seed_compatible" => seed_compatible = parse_bool(&key, value)?,
            "scaled" => scaled = parse_bool(&key, value)?,
            "multistart" => {
                multistart = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n <= MAX_MULTISTART)
                    .ok_or_else(|| {
                        bad_value(
                            &key,
                            value,
                            &format!("an integer from 0 to {MAX_MULTISTART}"),
                        )
                    })?;
            }
            "seed" => {
                seed = value
                    .parse::<u64>()
                    .map_err(|_| bad_value(&key, value, "an integer >= 0"))?;
            }
            "arithmetic" => {
                arithmetic = Some(match value.to_ascii_lowercase().as_str() {
                    "f64" => Arithmetic::F64,
                    "go" => Arithmetic::GoFloat32,
                    _ => return Err(bad_value(&key, value, "one of f64, go")),
                });
            }
            "seconds" => {
                unit = if parse_bool(&key, value)? {
                    TimeUnit::Seconds
                } else {
                    TimeUnit::Milliseconds
                };
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{raw_key}` (= `{value}`); accepted: {KEYS}"
                )));
            }
        }
        seen.push(key);
    }
    let init = init.unwrap_or(if seed_compatible {
        // The upstream handler's hard-coded start.
        [1.0, 0.0, 0.0]
    } else {
        [1.0, 0.01, 1e-4]
    });
    Ok(TrainSettings {
        choice: TrainerChoice {
            model,
            loss,
            init,
            scaled,
            seed_compatible,
            multistart,
            seed,
            arithmetic,
        },
        unit,
    })
}

/// `POST /train`: fits α, β, γ to the DataSet body and answers with the model-trainer's
/// response `{"OptimizedParms", "AnalysisResults"}`.
pub(super) async fn train(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(pairs) = query?;
    let settings = parse_query(&pairs, &state.options)?;
    // Settings a fit would refuse (none after `parse_query`) are the query's fault: 400.
    settings
        .choice
        .trainer()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let body = body?;
    // Fits are CPU-bound: at most `max_concurrent_fits` at once, the rest queue here.
    let permit = Arc::clone(&state.fits)
        .acquire_owned()
        .await
        .map_err(|e| ApiError::internal(format!("fit queue closed: {e}")))?;
    let response = blocking(move || {
        let _permit = permit;
        train_body(&body, &settings)
    })
    .await?;
    Ok(json_response(StatusCode::OK, &response))
}

/// Reads and fits a DataSet body.
pub(crate) fn train_body(body: &[u8], settings: &TrainSettings) -> Result<SeedResponse, ApiError> {
    let opts = ReadOptions {
        select: SelectOptions::all(),
        inferno_time_unit: settings.unit,
    };
    let cx = Cx { body };
    let dataset = read_inferno(body, BODY, &opts).map_err(|e| cx.read_error(&e))?;
    if dataset.points.is_empty() {
        return Err(ApiError::unprocessable(
            "degenerate data set: `data` holds no data points",
        ));
    }
    let points = points_from_datasets(std::slice::from_ref(&dataset))
        .map_err(|e| cx.fit_error(&e, &[], &settings.choice))?;
    let trainer = settings
        .choice
        .trainer()
        .map_err(|e| cx.fit_error(&e, &points, &settings.choice))?;
    let fitted = trainer
        .fit(&points)
        .map_err(|e| cx.fit_error(&e, &points, &settings.choice))?;
    Ok(fitted.seed_response())
}

/// The body a fit failed on, to name a bad point's field as the body does (`data[3].requestRate`)
/// whatever names the reader and the trainer use inside.
struct Cx<'a> {
    body: &'a [u8],
}

/// The body's key for a point field of the trainer and the analyzer (`rate_rps` →
/// `requestRate`).
fn dataset_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "rate_rps" | "request_rate" | "rate" => "requestRate",
        "input_tokens" => "inputTokens",
        "output_tokens" => "outputTokens",
        _ => return None,
    })
}

/// The first value of point `i` that cannot be fitted, as "`data[i].key` = value: why", by
/// the rules of the trainer's points (`FitPoint::validate`) applied to the body's keys, with
/// the reader's defaults (a missing number is 0; the TTFT is `avgTTFTTime` when `> 0`, else
/// `avgWaitTime + avgPrefillTime`). Values are in the body's unit.
fn check_point(i: usize, point: &serde_json::Map<String, Value>) -> Option<String> {
    let num = |key: &str| {
        let value = point.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))?.1;
        value.as_f64().or_else(|| match value.as_str()? {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        })
    };
    let key = |k: &str| format!("`data[{i}].{k}`");
    let check = |label: String, value: f64, ok: bool, reason: &str| {
        let reason = if value.is_finite() {
            (!ok).then_some(reason)?
        } else {
            "must be a finite number"
        };
        Some(format!("{label} = {}: {reason}", short_num(value)))
    };
    let rate = num("requestRate").unwrap_or(0.0);
    let input = num("inputTokens").unwrap_or(0.0);
    let output = num("outputTokens").unwrap_or(0.0);
    let (ttft_label, ttft) = match num("avgTTFTTime") {
        Some(t) if t > 0.0 => (key("avgTTFTTime"), t),
        _ => (
            format!("{} + `avgPrefillTime`", key("avgWaitTime")),
            num("avgWaitTime").unwrap_or(0.0) + num("avgPrefillTime").unwrap_or(0.0),
        ),
    };
    let itl = num("avgITLTime").unwrap_or(0.0);
    check(key("requestRate"), rate, rate > 0.0, "must be > 0")
        .or_else(|| check(key("inputTokens"), input, input >= 0.0, "must be >= 0"))
        .or_else(|| check(key("outputTokens"), output, output >= 1.0, "must be >= 1"))
        .or_else(|| check(ttft_label, ttft, ttft > 0.0, "must be > 0"))
        .or_else(|| check(key("avgITLTime"), itl, itl > 0.0, "must be > 0"))
        .or_else(|| {
            // Taken when it is a whole number from 1 to 2^32 - 1 (else the default 256).
            let n = num("maxBatchSize").filter(|n| (1.0..=f64::from(u32::MAX)).contains(n))?;
            let limit = f64::from(llm_perf::model::inferno::MAX_BATCH_SIZE_LIMIT);
            check(
                key("maxBatchSize"),
                n,
                n.round() <= limit,
                "must be within [1, 16777216]",
            )
        })
}

/// The `i` of the first `data[i]` in `text`.
fn data_index(text: &str) -> Option<usize> {
    let at = text.find("data[")? + "data[".len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl Cx<'_> {
    /// The body's points as plain JSON, when the body is plain JSON once the `NaN` /
    /// `Infinity` literals the reader accepts are quoted.
    fn raw_points(&self) -> Option<Vec<serde_json::Map<String, Value>>> {
        let text = quote_non_finite(std::str::from_utf8(self.body).ok()?);
        let root: Value = serde_json::from_str(&text).ok()?;
        let data = root
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("data"))?
            .1
            .as_array()?;
        Some(
            data.iter()
                .map(|p| p.as_object().cloned().unwrap_or_default())
                .collect(),
        )
    }

    /// 422 for a data set with an unusable point: point `index` (when the error said which;
    /// else the first bad one) named as the body names it, else the library's `message`.
    fn invalid(&self, index: Option<usize>, message: &str) -> ApiError {
        let explained = self.raw_points().and_then(|points| match index {
            Some(i) => check_point(i, points.get(i)?),
            None => points
                .iter()
                .enumerate()
                .find_map(|(i, p)| check_point(i, p)),
        });
        ApiError::unprocessable(format!(
            "invalid data set: {}",
            explained.as_deref().unwrap_or(message)
        ))
    }

    /// A body that is not a DataSet is a binding error (400, as upstream); a point whose
    /// values fail validation makes the data set invalid (422).
    fn read_error(&self, e: &ReadError) -> ApiError {
        match e {
            ReadError::Invalid { location, .. } => {
                let index = match location {
                    Location::JsonPath { path, .. } => data_index(path),
                    _ => None,
                };
                self.invalid(index, &e.to_string())
            }
            ReadError::NoPoints { .. } => ApiError::unprocessable(format!("invalid data set: {e}")),
            _ => ApiError::bad_request(format!("binding error: {e}")),
        }
    }

    /// Data the model cannot be fitted to is 422; a bad setting 400; a failure of the
    /// optimizer framework 500 (as upstream's "optimization failed").
    fn fit_error(&self, e: &FitError, points: &[FitPoint], choice: &TrainerChoice) -> ApiError {
        match e {
            FitError::InvalidPoint { index, .. } => self.invalid(Some(*index), &e.to_string()),
            FitError::NotEnoughPoints { .. } | FitError::Degenerate(_) => {
                ApiError::unprocessable(format!("degenerate data set: {e}"))
            }
            FitError::InfeasibleStart { .. } => self.infeasible(e, points, choice),
            FitError::InvalidParam { .. } => ApiError::bad_request(e.to_string()),
            // A value of the data the model's validation rejects.
            FitError::Core(core) => {
                let message = model_message(core, str::to_owned);
                self.invalid(data_index(&message), &message)
            }
            _ => {
                tracing::error!("optimization failed: {e}");
                ApiError::internal(format!("optimization failed: {e}"))
            }
        }
    }

    /// The fit cannot start: the loss is not finite at the initial parameters (and, in the
    /// improved mode, at every start of the design). Names the first point the model cannot
    /// evaluate there and the field that makes it so: 422.
    fn infeasible(&self, e: &FitError, points: &[FitPoint], choice: &TrainerChoice) -> ApiError {
        let [a, b, g] = choice.init;
        let at = format!(
            "the {} model cannot evaluate this point at the initial parameters alpha {}, beta {}, gamma {}",
            choice.model,
            short_num(a),
            short_num(b),
            short_num(g)
        );
        let advice = "so the fit cannot start; check the value, or give another `init` or `model`";
        let feasible = |p: &FitPoint| {
            dataset_loss(
                std::slice::from_ref(p),
                choice.model,
                choice.loss,
                choice.arithmetic(),
                choice.init,
            )
            .is_ok_and(f64::is_finite)
        };
        let Some(index) = points.iter().position(|p| !feasible(p)) else {
            // Every point alone is fine: the mean overflowed.
            return ApiError::unprocessable(format!("infeasible data set: {e}"));
        };
        let p = points[index];
        let reason = analyzer_reason(&p, choice);
        let min = |f: fn(&FitPoint) -> f64| points.iter().map(f).fold(f64::INFINITY, f64::min);
        // The field that, lowered to the smallest value of any point, makes the point
        // feasible; else the rate when the model refuses the rate.
        let lowered: [(&str, f64, FitPoint); 3] = [
            (
                "requestRate",
                p.rate_rps,
                FitPoint {
                    rate_rps: min(|q| q.rate_rps),
                    ..p
                },
            ),
            (
                "inputTokens",
                p.input_tokens,
                FitPoint {
                    input_tokens: min(|q| q.input_tokens),
                    ..p
                },
            ),
            (
                "outputTokens",
                p.output_tokens,
                FitPoint {
                    output_tokens: min(|q| q.output_tokens),
                    ..p
                },
            ),
        ];
        let culprit = lowered
            .iter()
            .find(|(_, _, q)| feasible(q))
            .map(|(key, value, _)| (*key, *value))
            .or_else(|| {
                matches!(reason, Err(ModelError::RateAboveCapacity { .. }))
                    .then_some(("requestRate", p.rate_rps))
            });
        let reason = match reason {
            Err(ModelError::RateAboveCapacity { max_rate, .. }) => {
                format!("its maximum rate there is {} req/s", short_num(max_rate))
            }
            Err(e) => model_message(&e, |f| {
                dataset_key(f).map_or_else(|| f.to_owned(), |k| format!("data[{index}].{k}"))
            }),
            Ok(text) => text,
        };
        let what = culprit.map_or_else(
            || {
                format!(
                    "`data[{index}]` (requestRate {}, inputTokens {}, outputTokens {})",
                    short_num(p.rate_rps),
                    short_num(p.input_tokens),
                    short_num(p.output_tokens)
                )
            },
            |(key, value)| format!("`data[{index}].{key}` = {}", short_num(value)),
        );
        ApiError::unprocessable(format!(
            "infeasible data set: {what}: {at} ({reason}), {advice}"
        ))
    }
}

/// Why the analyzer cannot evaluate point `p` at the initial parameters, configured per point
/// as the trainer does (max batch `N`, max queue `N`, token budget `M`).
fn analyzer_reason(p: &FitPoint, choice: &TrainerChoice) -> Result<String, ModelError> {
    let [a, b, g] = choice.init;
    let analyzer = Analyzer::new(
        choice.model,
        ServiceParams::new(a, b, g)?,
        RequestShape::new(p.input_tokens, p.output_tokens)?,
        QueueConfig::new(p.max_batch_size, p.max_batch_size)?
            .with_max_num_tokens(p.max_num_tokens)?,
    )?
    .with_arithmetic(choice.arithmetic())?;
    let analysis = analyzer.solve(p.rate_rps)?;
    Ok(format!(
        "it predicts TTFT {} ms and ITL {} ms",
        short_num(analysis.ttft_ms),
        short_num(analysis.itl_ms)
    ))
}

/// `text` with the bare `NaN`, `Infinity` and `-Infinity` the lenient reader accepts quoted,
/// so that `serde_json` parses it (strings are left alone).
fn quote_non_finite(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            in_string = escaped || c != '"';
            escaped = !escaped && c == '\\';
        } else if c == '"' {
            in_string = true;
        } else if let Some(token) = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t))
        {
            out.push('"');
            out.push_str(token);
            out.push('"');
            rest = &rest[token.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<TrainSettings, ApiError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        parse_query(&pairs, &ServerOptions::default())
    }

    #[test]
    fn query_defaults_are_the_old_ones() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            s.choice,
            TrainerChoice {
                model: QueueModel::V7,
                loss: Loss::RelativeSquared,
                init: [1.0, 0.01, 1e-4],
                scaled: true,
                seed_compatible: false,
                multistart: 8,
                seed: 0,
                arithmetic: None,
            }
        );
        assert_eq!(s.unit, TimeUnit::Milliseconds);
        let s = settings(&[("seed_compatible", "true")]).unwrap();
        assert_eq!(
            s.choice.init.map(f64::to_bits),
            [1.0, 0.0, 0.0].map(f64::to_bits)
        );
        assert!(s.choice.seed_compatible);
    }

    #[test]
    fn query_takes_the_fit_flags() {
        let s = settings(&[
            ("loss", "weighted-abs"),
            ("model", "v3"),
            ("init", "10,0,0"),
            ("seed-compatible", "true"),
            ("scaled", "false"),
            ("multistart", "3"),
            ("seed", "7"),
            ("arithmetic", "go"),
            ("seconds", "true"),
        ])
        .unwrap();
        assert_eq!(
            s.choice,
            TrainerChoice {
                model: QueueModel::V3,
                loss: Loss::WeightedAbsolute,
                init: [10.0, 0.0, 0.0],
                scaled: false,
                seed_compatible: true,
                multistart: 3,
                seed: 7,
                arithmetic: Some(Arithmetic::GoFloat32),
            }
        );
        assert_eq!(s.unit, TimeUnit::Seconds);
    }

    #[test]
    fn query_errors_name_key_value_and_accepted() {
        let cases: [(&[(&str, &str)], &str); 7] = [
            (
                &[("los", "rel-sq")],
                "unknown query parameter `los` (= `rel-sq`); accepted: loss, model, init, \
                 seed_compatible, scaled, multistart, seed, arithmetic, seconds",
            ),
            (
                &[("loss", "l2")],
                "query parameter `loss` = `l2`: expected one of rel-sq, weighted-abs",
            ),
            (
                &[("model", "v9")],
                "query parameter `model` = `v9`: expected one of v3, v6, v7 (or 0.3, 0.6, 0.7, 0.8)",
            ),
            (
                &[("init", "1,-1,0")],
                "query parameter `init` = `1,-1,0`: expected three comma-separated numbers >= 0, \
                 alpha,beta,gamma (e.g. `10,0,0`); initial beta `-1` is not a finite number >= 0",
            ),
            (
                &[("seed_compatible", "yes")],
                "query parameter `seed_compatible` = `yes`: expected true or false",
            ),
            (
                &[("multistart", "65")],
                "query parameter `multistart` = `65`: expected an integer from 0 to 64",
            ),
            (
                &[("model", "v3"), ("model", "v7")],
                "query parameter `model` is given twice",
            ),
        ];
        for (pairs, want) in cases {
            let err = settings(pairs).unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{pairs:?}");
            assert_eq!(err.message(), want, "{pairs:?}");
        }
    }

    #[test]
    fn non_finite_literals_are_quoted_outside_strings() {
        assert_eq!(
            quote_non_finite(
                r#"{"a": NaN, "b": -Infinity, "c": "NaN \" Infinity", "d": Infinity}"#
            ),
            r#"{"a": "NaN", "b": "-Infinity", "c": "NaN \" Infinity", "d": "Infinity"}"#
        );
    }

    #[test]
    fn data_index_finds_the_point() {
        assert_eq!(data_index("$.data[12]"), Some(12));
        assert_eq!(
            data_index("request body: $.data[3], point 3: itl.mean"),
            Some(3)
        );
        assert_eq!(data_index("$.other[1]"), None);
        assert_eq!(data_index("$"), None);
    }

    #[test]
    fn points_are_checked_by_their_body_keys() {
        let point = |json: &str| -> serde_json::Map<String, Value> {
            serde_json::from_str(&quote_non_finite(json)).unwrap()
        };
        let ok = r#"{"requestRate": 2, "inputTokens": 64, "outputTokens": 64,
            "avgWaitTime": 0, "avgPrefillTime": 18, "avgITLTime": 7.5, "maxBatchSize": -1}"#;
        assert_eq!(check_point(0, &point(ok)), None);
        let cases = [
            (
                r#"{"requestRate": NaN}"#,
                "`data[4].requestRate` = NaN: must be a finite number",
            ),
            (
                r#"{"inputTokens": 1}"#,
                "`data[4].requestRate` = 0: must be > 0",
            ),
            (
                r#"{"requestRate": 1, "outputTokens": 0.5}"#,
                "`data[4].outputTokens` = 0.5: must be >= 1",
            ),
            (
                r#"{"requestRate": 1, "outputTokens": 2, "avgTTFTTime": -1, "avgWaitTime": 1,
                    "avgPrefillTime": -3}"#,
                "`data[4].avgWaitTime` + `avgPrefillTime` = -2: must be > 0",
            ),
            (
                r#"{"requestRate": 1, "outputTokens": 2, "AVGTTFTTIME": 5, "avgITLTime": -Infinity}"#,
                "`data[4].avgITLTime` = -inf: must be a finite number",
            ),
            (
                r#"{"requestRate": 1, "outputTokens": 2, "avgTTFTTime": 5, "avgITLTime": 1,
                    "maxBatchSize": 20000000}"#,
                "`data[4].maxBatchSize` = 20000000: must be within [1, 16777216]",
            ),
        ];
        for (json, want) in cases {
            assert_eq!(
                check_point(4, &point(json)).as_deref(),
                Some(want),
                "{json}"
            );
        }
    }

    #[test]
    fn empty_and_malformed_data() {
        let s = settings(&[]).unwrap();
        let err = train_body(br#"{"name":"x","data":[]}"#, &s).unwrap_err();
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY, "{err:?}");
        let err = train_body(b"{\"name\":", &s).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{err:?}");
        assert!(err.message().starts_with("binding error: "), "{err:?}");
    }
}
