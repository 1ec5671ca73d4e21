//! Outputs: the per-request CSV (streamed) and the summary (serde JSON).
//!
//! # `requests.csv` columns
//! The seed's columns first, then ours (specs/simulator.md §7.2). Times are seconds from the
//! start of the simulation printed exactly from integer nanoseconds (9 decimals); latencies
//! are ms with 6 decimals (ns resolution). Empty cells mean "did not happen".
//!
//! | column | meaning |
//! |---|---|
//! | `request_id` | arrival order, from 0 |
//! | `client_id` | client class name |
//! | `session_id` | the conversation (1, 2, … in opening order); empty for a lone request |
//! | `prompt_tokens` | P |
//! | `max_output_tokens` | target output O (sampled length capped by `max_tokens`) |
//! | `output_tokens` | tokens generated g |
//! | `arrival_time` | a |
//! | `first_token_time` | t₁ |
//! | `completion_time` | c = t_O (+ `cluster.overheads.post_completion_ms`) |
//! | `status` | `completed`, `rejected`, `dropped` or `unfinished` |
//! | `ttft_ms` | t₁ − a |
//! | `tpot_ms` | (c − t₁)/(O − 1), O ≥ 2 |
//! | `e2e_latency_ms` | c − a |
//! | `prefix_cache_event` | `hit` (a cached prefix was reused at its last admission), `miss` (a shared-prefix prompt or a conversation turn found nothing cached), `none` (no prompt identity) |
//! | `cached_prefix_length` | prompt tokens reused from the prefix cache at its last admission |
//! | `tokens_actually_prefilled` | prompt tokens computed, recomputation after preemption included |
//! | `replica_id` | replica index |
//! | `turn` | turn in the conversation, from 1 (1 for a lone request) |
//! | `schedulable_time` | when it reached the replica's queue: a + the pre-schedule overhead (`cluster.overheads`) |
//! | `first_scheduled_time` | s, the first step that computed any of its tokens |
//! | `scheduling_delay_ms` | s − a |
//! | `num_preemptions` | times evicted and recomputed |
//! | `itl_max_ms` | largest gap between consecutive tokens |
//! | `inclusive_tpot_ms` | (c − a)/O |
//! | `slo_met` | empty (no SLOs yet) |

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::request::{NEVER, Req};
use crate::stats::Stats;

/// The CSV header, in column order.
pub const CSV_HEADER: [&str; 25] = [
    "request_id",
    "client_id",
    "session_id",
    "prompt_tokens",
    "max_output_tokens",
    "output_tokens",
    "arrival_time",
    "first_token_time",
    "completion_time",
    "status",
    "ttft_ms",
    "tpot_ms",
    "e2e_latency_ms",
    "prefix_cache_event",
    "cached_prefix_length",
    "tokens_actually_prefilled",
    "replica_id",
    "turn",
    "schedulable_time",
    "first_scheduled_time",
    "scheduling_delay_ms",
    "num_preemptions",
    "itl_max_ms",
    "inclusive_tpot_ms",
    "slo_met",
];

/// Final state of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// All O tokens generated.
    Completed,
    /// Refused on arrival: it could never fit (KV cache, token budget, `max_model_len`).
    Rejected,
    /// Refused on arrival: the replica's waiting queue was full.
    Dropped,
    /// Still in flight when the simulation stopped.
    Unfinished,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Rejected => "rejected",
            Self::Dropped => "dropped",
            Self::Unfinished => "unfinished",
        }
    }
}

/// Streams rows to any writer, formatting with integer arithmetic only.
///
/// Rows are assembled in one buffer and written whole through a `BufWriter`: per-field calls
/// into a general CSV writer cost more than the simulation itself. The output is what the
/// `csv` crate writes with its defaults (RFC 4180 quoting only where needed, `\n` endings);
/// only the client name can need quoting.
pub(crate) struct CsvSink<W: Write> {
    /// `None` when no per-request output is wanted (the summary alone, e.g. inside a tuner):
    /// rows are then not even formatted.
    out: Option<std::io::BufWriter<W>>,
    row: Vec<u8>,
}

/// `"00" "01" … "99"`: two decimal digits per lookup, half the divisions.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes the last `n` decimal digits of `v` (zero-padded) into `out[..n]`, right-aligned.
#[inline]
fn digits_into(out: &mut [u8], mut v: u64) {
    let mut i = out.len();
    while i >= 2 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        out[i] = DIGIT_PAIRS[d];
        out[i + 1] = DIGIT_PAIRS[d + 1];
    }
    if i == 1 {
        out[0] = b'0' + (v % 10) as u8;
    }
}

/// Appends the decimal digits of `v` (no `core::fmt`: this is the hot part of the output).
fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    while v >= 100 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        tmp[i] = DIGIT_PAIRS[d];
        tmp[i + 1] = DIGIT_PAIRS[d + 1];
    }
    if v >= 10 {
        let d = v as usize * 2;
        i -= 2;
        tmp[i] = DIGIT_PAIRS[d];
        tmp[i + 1] = DIGIT_PAIRS[d + 1];
    } else {
        i -= 1;
        tmp[i] = b'0' + v as u8;
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends a few bytes byte by byte: for the handful of digits of a field this beats
/// `extend_from_slice`, which calls into `memmove`.
#[inline]
fn push_short(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.reserve(bytes.len());
    for &b in bytes {
        buf.push(b);
    }
}

/// Appends `v / 10^decimals` with exactly `decimals` decimals (≤ 19).
#[inline]
fn push_fixed(buf: &mut Vec<u8>, v: u64, decimals: u32) {
    match decimals {
        9 => push_fixed_const::<9>(buf, v),
        6 => push_fixed_const::<6>(buf, v),
        _ => {
            let scale = 10u64.pow(decimals);
            push_u64(buf, v / scale);
            buf.push(b'.');
            let mut tmp = [0u8; 20];
            let d = decimals as usize;
            digits_into(&mut tmp[..d], v % scale);
            push_short(buf, &tmp[..d]);
        }
    }
}

/// [`push_fixed`] with the decimals known at compile time: the divisions become
/// multiplications and the field is assembled in one buffer, appended in one copy.
#[inline]
fn push_fixed_const<const D: usize>(buf: &mut Vec<u8>, v: u64) {
    let scale = const { 10u64.pow(D as u32) };
    let (mut int, frac) = (v / scale, v % scale);
    // Integer part right-aligned in tmp[..20], then the point and D decimals.
    let mut tmp = [0u8; 40];
    let mut i = 20;
    while int >= 100 {
        let d = (int % 100) as usize * 2;
        int /= 100;
        i -= 2;
        tmp[i] = DIGIT_PAIRS[d];
        tmp[i + 1] = DIGIT_PAIRS[d + 1];
    }
    if int >= 10 {
        let d = int as usize * 2;
        i -= 2;
        tmp[i] = DIGIT_PAIRS[d];
        tmp[i + 1] = DIGIT_PAIRS[d + 1];
    } else {
        i -= 1;
        tmp[i] = b'0' + int as u8;
    }
    tmp[20] = b'.';
    digits_into(&mut tmp[21..21 + D], frac);
    buf.extend_from_slice(&tmp[i..21 + D]);
}

/// Appends `s` as one CSV field, quoted (with doubled quotes) only if it holds a comma, a
/// quote or a line break.
fn push_text(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
        buf.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(s.as_bytes());
    }
}

impl<W: Write> CsvSink<W> {
    pub fn new(out: W) -> Result<Self> {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
        let mut row = Vec::with_capacity(512);
        for (i, h) in CSV_HEADER.iter().enumerate() {
            if i > 0 {
                row.push(b',');
            }
            push_text(&mut row, h);
        }
        row.push(b'\n');
        out.write_all(&row)?;
        Ok(Self {
            out: Some(out),
            row,
        })
    }

    /// A sink that writes nothing.
    pub fn disabled() -> Self {
        Self {
            out: None,
            row: Vec::new(),
        }
    }

    fn int(&mut self, v: u64) {
        push_u64(&mut self.row, v);
        self.row.push(b',');
    }

    fn secs(&mut self, ns: u64) {
        if ns != NEVER {
            push_fixed(&mut self.row, ns, 9);
        }
        self.row.push(b',');
    }

    fn ms(&mut self, ns: Option<u64>) {
        if let Some(ns) = ns {
            push_fixed(&mut self.row, ns, 6);
        }
        self.row.push(b',');
    }

    fn text(&mut self, s: &str) {
        push_text(&mut self.row, s);
        self.row.push(b',');
    }

    /// Writes one request's row;
    /// `slo_met` is `None` for a client without an SLO (the column stays empty).
    pub fn row(
        &mut self,
        r: &Req,
        client: &str,
        status: Status,
        slo_met: Option<bool>,
    ) -> Result<()> {
        if self.out.is_none() {
            return Ok(());
        }
        self.row.clear();
        let first = (r.first_token_ns != NEVER).then_some(r.first_token_ns);
        let done = if status == Status::Completed {
            Some(r.last_token_ns)
        } else {
            None
        };
        self.int(r.id);
        self.text(client);
        if r.session == 0 {
            self.text("");
        } else {
            self.int(u64::from(r.session));
        }
        self.int(u64::from(r.prompt));
        self.int(u64::from(r.target));
        self.int(u64::from(r.generated));
        self.secs(r.arrival_ns);
        self.secs(first.unwrap_or(NEVER));
        self.secs(done.unwrap_or(NEVER));
        self.text(status.as_str());
        self.ms(first.map(|f| f - r.arrival_ns));
        self.ms(match (first, done) {
            (Some(f), Some(c)) if r.generated >= 2 => Some(rounded_div(c - f, r.generated - 1)),
            _ => None,
        });
        self.ms(done.map(|c| c - r.arrival_ns));
        self.text(if r.cached > 0 {
            "hit"
        } else if r.prompt_key != 0 {
            "miss"
        } else {
            "none"
        });
        self.int(u64::from(r.cached));
        self.int(r.prefilled);
        if status == Status::Rejected || status == Status::Dropped {
            self.text("");
        } else {
            self.int(u64::from(r.replica));
        }
        self.int(u64::from(r.turn.max(1)));
        self.secs(r.schedulable_ns);
        self.secs(r.scheduled_ns);
        self.ms((r.scheduled_ns != NEVER).then(|| r.scheduled_ns - r.arrival_ns));
        self.int(u64::from(r.preemptions));
        self.ms((r.generated >= 2).then_some(r.itl_max_ns));
        self.ms(done.map(|c| rounded_div(c - r.arrival_ns, r.generated.max(1))));
        match slo_met {
            Some(true) => self.row.extend_from_slice(b"true"),
            Some(false) => self.row.extend_from_slice(b"false"),
            None => {}
        }
        self.row.push(b'\n');
        if let Some(out) = &mut self.out {
            out.write_all(&self.row)?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        if let Some(out) = &mut self.out {
            out.flush()?;
        }
        Ok(())
    }
}

/// Columns of `steps.csv`, one row per engine step (specs/simulator.md §7.3).
pub const STEPS_CSV_HEADER: [&str; 12] = [
    "replica_id",
    "step",
    "start",
    "end",
    "prefill_seqs",
    "prefill_tokens",
    "decode_seqs",
    "decode_context_sum",
    "kv_blocks_used",
    "waiting",
    "running",
    "preempted",
];

/// Streams `steps.csv` rows: KV and batch use over time, one row per step of each replica.
pub(crate) struct StepsSink<'a> {
    out: std::io::BufWriter<Box<dyn Write + 'a>>,
    row: Vec<u8>,
}

impl<'a> StepsSink<'a> {
    pub fn new(out: Box<dyn Write + 'a>) -> Result<Self> {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
        out.write_all(STEPS_CSV_HEADER.join(",").as_bytes())?;
        out.write_all(b"\n")?;
        Ok(Self {
            out,
            row: Vec::with_capacity(128),
        })
    }

    /// Writes the step `s` of replica `replica` that ended at `end_ns`.
    pub fn row(
        &mut self,
        replica: usize,
        s: &crate::replica::StepRecord,
        end_ns: u64,
    ) -> Result<()> {
        let r = &mut self.row;
        r.clear();
        for (i, v) in [
            replica as u64,
            s.index,
            s.start_ns,
            end_ns,
            u64::from(s.shape.prefill_seqs),
            s.shape.prefill_tokens,
            u64::from(s.shape.decode_seqs),
            s.shape.decode_context,
            s.kv_blocks_used,
            s.waiting as u64,
            s.running as u64,
            s.preempted,
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                r.push(b',');
            }
            if i == 2 || i == 3 {
                push_fixed(r, v, 9);
            } else {
                push_u64(r, v);
            }
        }
        r.push(b'\n');
        self.out.write_all(r)?;
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

/// `a / b` rounded to the nearest integer.
pub(crate) fn rounded_div(a: u64, b: u32) -> u64 {
    let b = u64::from(b.max(1));
    (a + b / 2) / b
}

/// Request counts, over every request (warm-up included). Always
/// `arrived = completed + rejected + dropped + unfinished`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Requests generated by the workload.
    pub arrived: u64,
    /// Requests that produced all their tokens.
    pub completed: u64,
    /// Requests refused on arrival because they could never be served.
    pub rejected: u64,
    /// Requests refused on arrival because the waiting queue was full.
    pub dropped: u64,
    /// Requests still in flight when the simulation stopped.
    pub unfinished: u64,
    /// Of `arrived`, those that arrived before the end of the warm-up
    /// ([`crate::SimConfig::warm_up_s`]), whatever their status: they are in the counts above
    /// and in `requests.csv` but in no latency or throughput figure. Omitted from the JSON
    /// when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub warm_up: u64,
}

/// Throughput of the *measured* requests (those arriving at or after the warm-up,
/// [`crate::SimConfig::warm_up_s`]; all of them without one) over the window `[w0, w1]`
/// (specs/simulator.md §7.1): `w0 = max(warm-up end, first arrival)` (the first arrival
/// without a warm-up), `w1` = the end of the step that completed the last measured request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Window length `w1 − w0`, seconds (0 when no measured request completed).
    pub window_s: f64,
    /// Measured completed requests per second.
    pub requests_per_second: f64,
    /// Prompt tokens of measured completed requests per second.
    pub input_tokens_per_second: f64,
    /// Output tokens of measured completed requests per second.
    pub output_tokens_per_second: f64,
}

/// Latency statistics over measured completed requests (arrived at or after the warm-up; ITL
/// over all the tokens of measured requests, unfinished ones included), ms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    /// Time to first token `t₁ − a`, per request (queueing included).
    pub ttft_ms: Stats,
    /// Time per output token `(c − t₁)/(O − 1)`, per request with O ≥ 2.
    pub tpot_ms: Stats,
    /// Inter-token latency: every gap `t_{i+1} − t_i`, pooled over all tokens (weights tokens,
    /// where TPOT weights requests).
    pub itl_ms: Stats,
    /// End-to-end latency `c − a`, per request.
    pub e2e_ms: Stats,
    /// Scheduling delay `s − a` (first scheduled step minus arrival), per request.
    pub scheduling_delay_ms: Stats,
}

/// One replica's utilisation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicaSummary {
    /// Requests routed to it.
    pub routed: u64,
    /// Requests it completed.
    pub completed: u64,
    /// Engine steps run.
    pub steps: u64,
    /// Fraction of the simulated time it was running a step.
    pub busy_fraction: f64,
    /// Mean requests per step.
    pub mean_batch_size: f64,
    /// Mean tokens computed per step.
    pub mean_tokens_per_step: f64,
    /// Time-weighted mean fraction of KV blocks in use over the simulated time.
    pub kv_usage_mean: f64,
    /// Most KV blocks in use at once.
    pub kv_blocks_max: u64,
    /// KV blocks available.
    pub kv_blocks_total: u64,
    /// Preemptions (recompute evictions).
    pub preemptions: u64,
    /// Admissions that reused a cached prefix (prefix caching; omitted when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub prefix_cache_hits: u64,
    /// Prompt tokens those admissions reused (omitted when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub prefix_cache_hit_tokens: u64,
    /// With pipeline parallelism (this entry is one of a replica's stage engines): the mean
    /// fraction of the time its replica's stages worked; `1 −` it is the pipeline's bubbles
    /// and idle time. Omitted otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_busy_fraction: Option<f64>,
    /// How the running-request limit (`max_batch_size`) acted, for engines that report it
    /// (`vllm_v1`, `vllm_v0`, `sarathi`, `orca`, `static`; [`crate::engine::BatchLimitUse`]);
    /// omitted otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_limit: Option<crate::engine::BatchLimitUse>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(x: &u64) -> bool {
    *x == 0
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}

/// The summary of a run: deterministic for a given configuration and seed (no wall-clock).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Simulated time at the end, seconds.
    pub simulated_time_s: f64,
    /// The warm-up ([`crate::SimConfig::warm_up_s`]), seconds: requests arriving before it
    /// are excluded from `throughput`, `latency` and `output_tokens` (not from `requests`,
    /// which counts them in `requests.warm_up`). Omitted from the JSON when 0.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub warm_up_s: f64,
    /// The run was stopped early through [`crate::RunOptions::cancel`] (Ctrl-C): every figure
    /// covers the simulated time reached, and what was still live counts as `unfinished`.
    /// Omitted from the JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The engine the replicas run (`vllm_v1`, `sglang`, … or a custom name); with several
    /// pools, each pool's in pool order, joined by `+` (the summary's `pools[]` has them one by
    /// one).
    #[serde(default)]
    pub engine: String,
    /// Request counts by final status (every request, warm-up included).
    pub requests: Counts,
    /// Throughput of completed requests.
    pub throughput: Throughput,
    /// Latency statistics.
    pub latency: Latencies,
    /// Total preemptions.
    pub preemptions: u64,
    /// Mean requests per step over all steps of all replicas.
    pub mean_batch_size: f64,
    /// Mean over replicas of each replica's time-weighted KV usage.
    pub kv_usage_mean: f64,
    /// Output tokens generated by measured completed requests (warm-up excluded).
    pub output_tokens: u64,
    /// Goodput under the SLOs ([`crate::SimConfig::slo`] and the clients' own); omitted from
    /// the JSON when no client has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<crate::slo::Goodput>,
    /// Events processed by the event loop.
    pub events: u64,
    /// Per-replica figures, by replica index.
    pub replicas: Vec<ReplicaSummary>,
    /// Per-pool figures ([`crate::pool`]) when the cluster has more than one pool; omitted
    /// from the JSON otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<crate::pool::PoolSummary>,
}

impl Summary {
    /// The summary as pretty JSON.
    ///
    /// # Errors
    /// [`crate::SimError::Json`] (not expected for this type).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fields_are_quoted_as_the_csv_crate_quotes_them() {
        for name in [
            "chat",
            "",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "cr\r",
            " padded ",
        ] {
            let mut ours = Vec::new();
            push_text(&mut ours, name);
            ours.push(b',');
            push_text(&mut ours, "x");
            ours.push(b'\n');
            let mut theirs = csv::Writer::from_writer(Vec::new());
            theirs.write_record([name, "x"]).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs.into_inner().unwrap()).unwrap(),
                "{name:?}"
            );
        }
    }

    #[test]
    fn fixed_point_formatting() {
        let mut b = Vec::new();
        push_fixed(&mut b, 1_000_000_007, 9);
        b.push(b' ');
        push_fixed(&mut b, 42, 6);
        b.push(b' ');
        push_u64(&mut b, 0);
        b.push(b' ');
        push_u64(&mut b, u64::MAX);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "1.000000007 0.000042 0 18446744073709551615"
        );
    }

    #[test]
    fn integer_formatting_matches_core_fmt() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
        let mut values: Vec<u64> = (0..1000).collect();
        for p in 1..20 {
            let t = 10u64.pow(p);
            values.extend([t - 1, t, t + 1]);
        }
        values.push(u64::MAX);
        values.extend((0..20_000).map(|_| rng.random::<u64>() >> rng.random_range(0..64)));
        for v in values {
            let mut b = Vec::new();
            push_u64(&mut b, v);
            assert_eq!(String::from_utf8(b).unwrap(), v.to_string());
            for d in [6u32, 9] {
                let mut b = Vec::new();
                push_fixed(&mut b, v, d);
                let scale = 10u64.pow(d);
                let want = format!("{}.{:0w$}", v / scale, v % scale, w = d as usize);
                assert_eq!(String::from_utf8(b).unwrap(), want);
            }
        }
    }
}
