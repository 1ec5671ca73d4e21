//! GuideLLM HTML reports: the JS literals `window.benchmarks = […]` and
//! `window.workloadDetails = {…}` embedded in a `<script>`.

use perf_model_core::{BenchmarkPointData, PerfDataset};
use serde_json::Value;

use crate::ReadOptions;
use crate::error::{ReadError, Result};
use crate::json::{Cx, Node, parse_json_lenient};
use crate::point::{Notes, RawStats, distribution, latency};
use crate::select::{Candidate, SeedRule, StrategyKind, finish_file};
use crate::text;

/// Token mean Inferno assumes when `workloadDetails` has none.
const DEFAULT_TOKENS: f64 = 64.0;

/// Reads a GuideLLM HTML report (UI v0.5 and similar).
///
/// The JS literal after `window.benchmarks =` is cut out by bracket matching that skips
/// brackets inside strings and escapes, so a file truncated right after the literal (as
/// Inferno's `samples/benchmarks.html`) still reads. Per benchmark: `request_rate` ←
/// `requestsPerSecond`; TTFT and ITL ← `ttft`, `itl` (mean, median, p90/p95/p99 where present,
/// ms); E2E ← `timePerRequest` (seconds → ms); `output_throughput` ← `throughput.mean`. The
/// page has no per-benchmark token counts or strategy names: input/output tokens are the
/// sweep-wide `window.workloadDetails.{prompts,generations}.tokenDistributions.statistics.mean`
/// (64 when absent, as Inferno), and the strategy is inferred from the index as Inferno does
/// (0 synchronous, 1 throughput, the rest constant). Seed-compatible selection drops index 1
/// and keeps the first 7.
///
/// # Errors
/// [`ReadError::Field`] when no `window.benchmarks` literal is found or it is unterminated;
/// JSON errors and validation errors of kept points with the JSON path inside the literal.
pub fn read_guidellm_html(bytes: &[u8], path: &str, opts: &ReadOptions) -> Result<PerfDataset> {
    let text = text::decode(bytes, path)?;
    let cx = Cx { path, line: 0 };
    let benchmarks = js_assignment(text, "benchmarks", path)?.ok_or_else(|| ReadError::Field {
        path: path.to_owned(),
        location: crate::Location::File,
        value: "nothing".to_owned(),
        message: "no `window.benchmarks = [...]` literal".to_owned(),
    })?;
    let workload = js_assignment(text, "workloadDetails", path).ok().flatten();
    let run_info = js_assignment(text, "runInfo", path).ok().flatten();
    let tokens = |which: &str| -> f64 {
        workload
            .as_ref()
            .and_then(|w| {
                Node::root(w)
                    .at(&[which, "tokenDistributions", "statistics", "mean"])
                    .and_then(|n| n.num(&cx).ok())
            })
            .filter(|x| x.is_finite() && *x >= 0.0)
            .unwrap_or(DEFAULT_TOKENS)
    };
    let (input_tokens, output_tokens) = (tokens("prompts"), tokens("generations"));
    let root = Node {
        v: &benchmarks,
        path: "window.benchmarks".to_owned(),
    };
    let Some(items) = root.items() else {
        return Err(cx.field_err(&root.path, Some(&benchmarks), "expected an array"));
    };
    let mut candidates = Vec::with_capacity(items.len());
    for (i, b) in items.iter().enumerate() {
        let kind = match i {
            0 => StrategyKind::Synchronous,
            1 => StrategyKind::Throughput,
            _ => StrategyKind::Constant,
        };
        let stats = |name: &str| -> Result<RawStats> {
            b.get(name)
                .map_or(Ok(RawStats::default()), |n| distribution(&n, &cx))
        };
        let mut notes = Notes::at(&cx, &b.path);
        let data = BenchmarkPointData {
            request_rate: notes.rate("request_rate", b.opt_num(&["requestsPerSecond"], &cx)?),
            input_tokens,
            output_tokens,
            ttft: latency(&mut notes, "ttft", stats("ttft")?, 1.0),
            itl: latency(&mut notes, "itl", stats("itl")?, 1.0),
            e2e: latency(&mut notes, "e2e", stats("timePerRequest")?, 1000.0),
            output_throughput: notes.non_negative(
                "output_throughput",
                b.opt_num(&["throughput", "mean"], &cx)?,
            ),
            ..BenchmarkPointData::default()
        };
        candidates.push(Candidate::new(kind, notes, data));
    }
    let model = run_info
        .as_ref()
        .and_then(|r| r.pointer("/model/name"))
        .and_then(Value::as_str)
        .filter(|m| *m != "N/A")
        .map(str::to_owned);
    finish_file(
        path,
        model,
        candidates,
        &opts.select,
        SeedRule::DropThroughputFirst7,
    )
}

/// The value of the first `window.<name> = <literal>` whose literal is complete and parses
/// (leniently) as JSON. `Ok(None)` when there is no such assignment; an error when the only
/// candidates are unterminated or not JSON.
fn js_assignment(text: &str, name: &str, path: &str) -> Result<Option<Value>> {
    let needle = format!("window.{name}");
    let mut last_err = None;
    let mut from = 0;
    while let Some(found) = text[from..].find(&needle) {
        let start = from + found + needle.len();
        from = start;
        let rest = text[start..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        match balanced_literal(rest) {
            Some(literal) => match parse_json_lenient(literal, path) {
                Ok(v) => return Ok(Some(v)),
                Err(e) => last_err = Some(e),
            },
            None => {
                if rest.starts_with(['[', '{']) {
                    last_err = Some(ReadError::Field {
                        path: path.to_owned(),
                        location: crate::Location::JsonPath {
                            line: 0,
                            path: format!("window.{name}"),
                        },
                        value: crate::error::shorten(rest),
                        message: "unterminated literal (file truncated inside it?)".to_owned(),
                    });
                }
            }
        }
    }
    last_err.map_or(Ok(None), Err)
}

/// The JS array or object literal at the start of `s`, up to its matching close bracket.
/// Brackets inside single- or double-quoted strings (with backslash escapes) are skipped.
fn balanced_literal(s: &str) -> Option<&str> {
    let bytes = s.as_bytes();
    if !matches!(bytes.first(), Some(b'[' | b'{')) {
        return None;
    }
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == q {
                quote = None;
            }
            continue;
        }
        match b {
            b'"' | b'\'' => quote = Some(b),
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(&s[..=i]);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_in_strings_and_escapes() {
        let s = r#"[{"a": "]}\"]", 'b': '[\''}] trailing"#;
        assert_eq!(balanced_literal(s), Some(r#"[{"a": "]}\"]", 'b': '[\''}]"#));
        assert_eq!(balanced_literal("[1, [2]"), None);
        assert_eq!(balanced_literal("x"), None);
    }

    #[test]
    fn truncated_after_literal_reads() {
        let text = "<script>window.benchmarks = [{\"requestsPerSecond\": 2}]";
        let v = js_assignment(text, "benchmarks", "t.html")
            .unwrap()
            .unwrap();
        assert_eq!(v[0]["requestsPerSecond"], 2);
        let cut = "<script>window.benchmarks = [{\"requestsPerSecond\": 2}";
        assert!(js_assignment(cut, "benchmarks", "t.html").is_err());
        assert!(
            js_assignment("<p>none</p>", "benchmarks", "t.html")
                .unwrap()
                .is_none()
        );
    }
}
