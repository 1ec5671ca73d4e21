//! Placing the cells of a GuideLLM v0.4+ CSV row that does not line up with the header.
//!
//! GuideLLM's CSV writer (`benchmark/outputs/csv.py`, v0.4–0.6) builds the column list of every
//! benchmark on its own but writes the header of the first benchmark only. Per metric it
//! writes one block of four cells — `Mean`, `Median`, `Std Dev`, `Percentiles` (the list
//! `[min, 0.1, 1, 5, 10, 25, 75, 90, 95, 99, max]`) — for each request status (`successful`,
//! `incomplete`, `errored`, in this order) whose distribution has a non-zero sum. A later
//! benchmark with incomplete or errored requests therefore carries extra blocks, and its cells
//! after the fixed columns (run info, benchmark, timings, request counts) no longer sit under
//! the header's titles.
//!
//! Which statuses a metric carries is not written anywhere, so the layout is recovered from
//! the values. The successful block always comes first within a metric; what must be found is
//! how many blocks each earlier metric has:
//!
//! 1. An exact anchor: per request, total tokens = input tokens + output tokens, so the
//!    successful means of `Token Metrics | Input Tokens`, `Output Tokens` and `Total Tokens`
//!    satisfy `total = input + output` (to 1e-9 relative).
//! 2. The blocks before the anchor belong to request latency, streaming iterations, TTFT,
//!    TPOT, ITL, requests/s and concurrency. Iterations, TTFT, TPOT and ITL describe the same
//!    requests and have the same number of blocks. Among the splits that fit, the one that best
//!    satisfies three identities of the successful means is kept: `E2E ≈ TTFT + ITL·(out − 1)`,
//!    `TPOT ≈ E2E / out` and Little's law `concurrency ≈ requests/s × E2E`, with ties broken
//!    towards GuideLLM's usual layout (latency of successful requests only, every status for
//!    the others).
//! 3. Output tokens/s (after total tokens and input tokens/s) is placed the same way, from
//!    `input tokens/s ≈ requests/s × input` and `output tokens/s ≈ requests/s × output`.
//!
//! On the 160 rows of the 16 raw CSVs of Inferno's exp2 this gives exactly the request rate,
//! TTFT median and ITL mean of the HTML reports of the same runs. A row whose identities all
//! fail (sum of relative errors above 0.5) is not guessed: it is an error.

use std::collections::HashMap;

use crate::json::parse_number_text;

/// The status metrics GuideLLM v0.4+ writes first, in order, as `group | units`.
const METRICS: [(&str, &str); 12] = [
    ("Request Latency", "Sec"),
    ("Streaming Iterations", "Count"),
    ("Time to First Token", "ms"),
    ("Time per Output Token", "ms"),
    ("Inter Token Latency", "ms"),
    ("Server Throughput", "Requests/Sec"),
    ("Server Throughput", "Concurrency"),
    ("Token Metrics", "Input Tokens"),
    ("Token Metrics", "Output Tokens"),
    ("Token Metrics", "Total Tokens"),
    ("Token Throughput", "Input Tokens/Sec"),
    ("Token Throughput", "Output Tokens/Sec"),
];

/// The statistics of one block, in the order GuideLLM writes them.
const STATS: [&str; 4] = ["Mean", "Median", "Std Dev", "Percentiles"];

/// Largest accepted sum of the relative errors of the identities of step 2.
const MAX_ERROR: f64 = 0.5;

/// One block of four cells.
struct Block<'r> {
    cells: [&'r str; 4],
    mean: f64,
}

/// The cells of `row` keyed as the header would key them (`Time to First Token | Successful ms
/// | Median`, …): the fixed columns by position and the successful block of each of the first
/// twelve metrics where step 1–3 above place it.
///
/// `keys` are the normalised three-row header titles. Returns why the row cannot be placed
/// otherwise (the message of the caller's error).
pub(crate) fn place_row<'r>(
    keys: &[String],
    row: &'r csv::StringRecord,
) -> Result<HashMap<String, &'r str>, String> {
    let prefix = keys
        .iter()
        .position(|k| k.ends_with(" | Mean"))
        .ok_or("the header has no statistics columns")?;
    check_header(&keys[prefix..])?;
    let mut out: HashMap<String, &'r str> = HashMap::new();
    for (i, key) in keys.iter().take(prefix).enumerate() {
        if let Some(cell) = row.get(i) {
            out.insert(key.clone(), cell);
        }
    }
    let count = |status: &str| -> Result<u64, String> {
        let key = format!("Request Counts | {status}");
        let cell = out.get(&key).copied().unwrap_or("");
        parse_number_text(cell)
            .filter(|x| x.is_finite() && *x >= 0.0 && x.fract() == 0.0 && *x <= 9.0e15)
            .map(|x| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let n = x as u64;
                n
            })
            .ok_or_else(|| format!("its `{key}` cell `{cell}` is not a count"))
    };
    let (successful, incomplete, errored) = (
        count("Successful")?,
        count("Incomplete")?,
        count("Errored")?,
    );
    if successful == 0 {
        return Err("it has no successful requests, so no successful statistics".to_owned());
    }
    let statuses = 1 + usize::from(incomplete > 0) + usize::from(errored > 0);
    let blocks = blocks(row, prefix);
    let starts = segment(&blocks, statuses).ok_or(
        "its statistics blocks fit no GuideLLM layout (the token, latency and throughput \
         identities fail for every split)",
    )?;
    for ((group, units), start) in METRICS.iter().zip(starts) {
        let Some(block) = start.and_then(|s| blocks.get(s)) else {
            continue;
        };
        for (stat, cell) in STATS.iter().zip(block.cells) {
            out.insert(format!("{group} | Successful {units} | {stat}"), cell);
        }
    }
    Ok(out)
}

/// The header's metrics (`group | units` without the status word), in order, must start with
/// [`METRICS`]: otherwise this is not a layout we know how to place.
fn check_header(keys: &[String]) -> Result<(), String> {
    let mut seen: Vec<(String, String)> = Vec::new();
    for key in keys {
        let parts: Vec<&str> = key.split(" | ").collect();
        let [group, field, stat] = parts[..] else {
            break;
        };
        if !STATS.contains(&stat) {
            break;
        }
        let units = ["Successful ", "Incomplete ", "Errored "]
            .iter()
            .find_map(|s| field.strip_prefix(s))
            .unwrap_or(field);
        let metric = (group.to_owned(), units.to_owned());
        if seen.last() != Some(&metric) {
            seen.push(metric);
        }
    }
    let known = METRICS
        .iter()
        .zip(&seen)
        .all(|((g, u), (sg, su))| g == sg && u == su);
    if known && seen.len() >= METRICS.len() {
        Ok(())
    } else {
        Err("the header's metric groups are not those of GuideLLM v0.4+".to_owned())
    }
}

/// The run of four-cell blocks starting at cell `from`: three numbers and a list of 11.
fn blocks(row: &csv::StringRecord, from: usize) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    let mut i = from;
    loop {
        let cells = [row.get(i), row.get(i + 1), row.get(i + 2), row.get(i + 3)];
        let [Some(a), Some(b), Some(c), Some(p)] = cells else {
            break;
        };
        let numbers = [a, b, c].map(parse_number_text);
        let [Some(mean), Some(_), Some(_)] = numbers else {
            break;
        };
        if !is_percentile_list(p) {
            break;
        }
        out.push(Block {
            cells: [a, b, c, p],
            mean,
        });
        i += 4;
    }
    out
}

fn is_percentile_list(cell: &str) -> bool {
    let Some(inner) = cell
        .trim()
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
    else {
        return false;
    };
    let parts: Vec<&str> = inner.split(',').collect();
    parts.len() == 11 && parts.iter().all(|p| parse_number_text(p).is_some())
}

/// Relative difference of `a` and `b` (0 when both are 0, infinite when either is not finite).
fn rel(a: f64, b: f64) -> f64 {
    if !(a.is_finite() && b.is_finite()) {
        return f64::INFINITY;
    }
    let scale = a.abs().max(b.abs());
    if scale == 0.0 {
        0.0
    } else {
        (a - b).abs() / scale
    }
}

/// The index of the successful block of each of [`METRICS`] (`None` when the row has too few
/// blocks for it), or `None` when no split satisfies the identities.
fn segment(blocks: &[Block<'_>], statuses: usize) -> Option<[Option<usize>; 12]> {
    let mean = |i: usize| blocks.get(i).map_or(f64::NAN, |b| b.mean);
    let ks = 1..=statuses;
    let mut best: Option<(f64, [usize; 10])> = None;
    for k0 in ks.clone() {
        for c in ks.clone() {
            for k5 in ks.clone() {
                for k6 in ks.clone() {
                    let p2 = k0 + c;
                    let (p3, p4, p5) = (p2 + c, p2 + 2 * c, p2 + 3 * c);
                    let p6 = p5 + k5;
                    let p7 = p6 + k6;
                    for k7 in ks.clone() {
                        for k8 in ks.clone() {
                            let (p8, p9) = (p7 + k7, p7 + k7 + k8);
                            if p9 >= blocks.len() || rel(mean(p9), mean(p7) + mean(p8)) > 1e-9 {
                                continue;
                            }
                            let (lat, out) = (mean(0) * 1000.0, mean(p8));
                            let e_ttft = if out > 1.0 {
                                rel(lat - (out - 1.0) * mean(p4), mean(p2))
                            } else {
                                0.0
                            };
                            let e_tpot = if out > 0.0 {
                                rel(mean(p3), lat / out)
                            } else {
                                0.0
                            };
                            let e_little = rel(mean(p6), mean(p5) * mean(0));
                            let error = e_ttft + e_tpot + e_little;
                            if error.is_nan() || error > MAX_ERROR {
                                continue;
                            }
                            let prior = (k0 - 1) + (statuses - c) + (statuses - k6);
                            #[allow(clippy::cast_precision_loss)]
                            let score = error + 0.01 * prior as f64;
                            if best.as_ref().is_none_or(|(s, _)| score < *s) {
                                best = Some((score, [0, k0, p2, p3, p4, p5, p6, p7, p8, p9]));
                            }
                        }
                    }
                }
            }
        }
    }
    let (_, p) = best?;
    let (p5, p7, p8, p9) = (p[5], p[7], p[8], p[9]);
    // Step 3: input and output tokens/s after total tokens.
    let mut tput: Option<(f64, usize, usize)> = None;
    for k9 in ks.clone() {
        for k10 in ks.clone() {
            let (p10, p11) = (p9 + k9, p9 + k9 + k10);
            if p11 >= blocks.len() {
                continue;
            }
            let error = rel(mean(p10), mean(p5) * mean(p7)) + rel(mean(p11), mean(p5) * mean(p8));
            #[allow(clippy::cast_precision_loss)]
            let score = error + 0.01 * (statuses - k9) as f64;
            if score.is_finite() && tput.as_ref().is_none_or(|(s, _, _)| score < *s) {
                tput = Some((score, p10, p11));
            }
        }
    }
    let mut starts = [None; 12];
    for (slot, &at) in starts.iter_mut().zip(&p) {
        *slot = Some(at);
    }
    if let Some((_, p10, p11)) = tput {
        starts[10] = Some(p10);
        starts[11] = Some(p11);
    }
    Some(starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_difference() {
        assert!(rel(0.0, 0.0) == 0.0);
        assert!((rel(1.0, 2.0) - 0.5).abs() < 1e-12);
        assert!(rel(f64::NAN, 1.0).is_infinite());
    }

    #[test]
    fn percentile_lists_are_recognised() {
        assert!(is_percentile_list("[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"));
        assert!(!is_percentile_list("[0, 1]"));
        assert!(!is_percentile_list("12.5"));
    }
}
