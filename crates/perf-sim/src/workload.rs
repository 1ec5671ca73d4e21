//! Samplers for arrivals and request lengths, built from a validated [`crate::SimConfig`].

use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, Exp, Gamma, LogNormal, Normal, Pareto, Weibull, Zipf};

use crate::config::{ArrivalConfig, ClientConfig, LengthDist, RateStage, ThinkTime};
use crate::error::{Result, invalid};
use crate::rng::{Purpose, stream};
use crate::tape::{ClientTape, Replay};
use std::sync::Arc;

/// An inter-arrival gap sampler, seconds.
#[derive(Clone, Debug)]
pub enum ArrivalProcess {
    /// Exponential gaps.
    Poisson(Exp<f64>),
    /// Gamma gaps.
    Gamma(Gamma<f64>),
    /// Constant gaps of this many seconds.
    Constant(f64),
}

impl ArrivalProcess {
    /// The process of `config` at `rate` req/s.
    ///
    /// # Errors
    /// [`crate::SimError::InvalidConfig`] naming `field` for a non-positive rate or CV.
    pub fn new(field: &str, config: &ArrivalConfig, rate: f64) -> Result<Self> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(invalid(
                format!("{field}.rate"),
                rate,
                "must be a finite number > 0",
            ));
        }
        Ok(match *config {
            ArrivalConfig::Poisson { .. } => {
                Self::Poisson(built(Exp::new(rate), field, "rate", rate)?)
            }
            ArrivalConfig::Gamma { cv, .. } => {
                if !(cv.is_finite() && cv > 0.0) {
                    return Err(invalid(
                        format!("{field}.cv"),
                        cv,
                        "must be a finite number > 0",
                    ));
                }
                let shape = 1.0 / (cv * cv);
                let scale = 1.0 / (rate * shape);
                Self::Gamma(built(Gamma::new(shape, scale), field, "cv", cv)?)
            }
            ArrivalConfig::Constant { .. } => Self::Constant(1.0 / rate),
            ArrivalConfig::Stages { .. }
            | ArrivalConfig::ClosedLoop { .. }
            | ArrivalConfig::Trace { .. }
            | ArrivalConfig::TraceFile { .. } => {
                return Err(invalid(
                    format!("{field}.kind"),
                    "not open-loop",
                    "only poisson, gamma and constant have a gap process",
                ));
            }
        })
    }

    /// Gaps of mean 1 with coefficient of variation `cv` (absent or 1: exponential; 0:
    /// constant; else Gamma).
    ///
    /// # Errors
    /// [`crate::SimError::InvalidConfig`] naming `field` for a negative or non-finite `cv`.
    pub fn unit(field: &str, cv: Option<f64>) -> Result<Self> {
        Ok(match cv {
            None => Self::Poisson(Exp::new(1.0).map_err(|e| invalid(field, 1, e.to_string()))?),
            Some(cv) if !(cv.is_finite() && cv >= 0.0) => {
                return Err(invalid(field, cv, "must be a finite number >= 0"));
            }
            Some(0.0) => Self::Constant(1.0),
            Some(cv) if (cv - 1.0).abs() < 1e-12 => {
                Self::Poisson(Exp::new(1.0).map_err(|e| invalid(field, cv, e.to_string()))?)
            }
            Some(cv) => {
                let shape = 1.0 / (cv * cv);
                Self::Gamma(
                    Gamma::new(shape, 1.0 / shape)
                        .map_err(|e| invalid(field, cv, e.to_string()))?,
                )
            }
        })
    }

    /// The next gap, seconds.
    pub fn gap(&self, rng: &mut Xoshiro256PlusPlus) -> f64 {
        match self {
            Self::Poisson(d) => d.sample(rng),
            Self::Gamma(d) => d.sample(rng),
            Self::Constant(g) => *g,
        }
    }
}

/// A length sampler (integers ≥ 1).
#[derive(Clone, Debug)]
pub enum LengthSampler {
    /// Always this value.
    Fixed(u32),
    /// Uniform on `low..=high`.
    Uniform(u32, u32),
    /// Normal, rounded and clamped.
    Normal(Normal<f64>, u32, u32),
    /// Lognormal, rounded and clipped.
    Lognormal(LogNormal<f64>, u32, u32),
    /// Exponential, rounded and clipped.
    Exponential(Exp<f64>, u32, u32),
    /// Gamma, rounded and clipped.
    Gamma(Gamma<f64>, u32, u32),
    /// Pareto, rounded and clipped.
    Pareto(Pareto<f64>, u32, u32),
    /// Weibull, rounded and clipped.
    Weibull(Weibull<f64>, u32, u32),
    /// Zipf ranks `1..=n` shifted to start at the minimum.
    Zipf(Zipf<f64>, u32),
    /// A component picked by cumulative weight, then sampled.
    Mixture(Vec<LengthSampler>, Vec<f64>),
}

impl LengthSampler {
    /// The sampler of `dist`.
    ///
    /// # Errors
    /// [`crate::SimError::InvalidConfig`] naming `field` for invalid parameters (σ ≤ 0, …).
    pub fn new(field: &str, dist: &LengthDist) -> Result<Self> {
        let bounds =
            |min: Option<u32>, max: Option<u32>| (min.unwrap_or(1).max(1), max.unwrap_or(u32::MAX));
        Ok(match *dist {
            LengthDist::Mixture {
                ref components,
                ref weights,
            } => {
                let samplers = components
                    .iter()
                    .enumerate()
                    .map(|(i, c)| Self::new(&format!("{field}.components[{i}]"), c))
                    .collect::<Result<Vec<_>>>()?;
                let weight = |i: usize| {
                    weights
                        .as_ref()
                        .map_or(1.0, |w| w.get(i).copied().unwrap_or(0.0))
                };
                // Relative to the largest weight, so the running sum cannot overflow.
                let largest = (0..samplers.len()).map(weight).fold(0.0, f64::max);
                let mut total = 0.0;
                let cumulative = (0..samplers.len())
                    .map(|i| {
                        total += if largest > 0.0 {
                            weight(i) / largest
                        } else {
                            0.0
                        };
                        total
                    })
                    .collect();
                Self::Mixture(samplers, cumulative)
            }
            LengthDist::Fixed { value } => Self::Fixed(value.max(1)),
            LengthDist::Uniform { low, high } => Self::Uniform(low.max(1), high.max(low.max(1))),
            LengthDist::Normal {
                mean,
                std,
                min,
                max,
            } => {
                let (lo, hi) = bounds(min, max);
                Self::Normal(built(Normal::new(mean, std), field, "std", std)?, lo, hi)
            }
            LengthDist::Lognormal {
                mu,
                sigma,
                mean,
                std,
                min,
                max,
            } => {
                let (m, s) = LengthDist::lognormal_params(field, mu, sigma, mean, std)?;
                let (lo, hi) = bounds(min, max);
                Self::Lognormal(built(LogNormal::new(m, s), field, "sigma", s)?, lo, hi)
            }
            LengthDist::Exponential { mean, min, max } => {
                let (lo, hi) = bounds(min, max);
                Self::Exponential(built(Exp::new(1.0 / mean), field, "mean", mean)?, lo, hi)
            }
            LengthDist::Gamma {
                shape,
                scale,
                min,
                max,
            } => {
                let (lo, hi) = bounds(min, max);
                Self::Gamma(
                    built(Gamma::new(shape, scale), field, "shape", shape)?,
                    lo,
                    hi,
                )
            }
            LengthDist::Pareto {
                scale,
                shape,
                min,
                max,
            } => {
                let (lo, hi) = bounds(min, max);
                Self::Pareto(
                    built(Pareto::new(scale, shape), field, "shape", shape)?,
                    lo,
                    hi,
                )
            }
            LengthDist::Weibull {
                scale,
                shape,
                min,
                max,
            } => {
                let (lo, hi) = bounds(min, max);
                Self::Weibull(
                    built(Weibull::new(scale, shape), field, "shape", shape)?,
                    lo,
                    hi,
                )
            }
            LengthDist::Zipf { theta, min, max } => {
                let n = f64::from(max - min) + 1.0;
                Self::Zipf(
                    built(Zipf::new(n, theta), field, "theta", theta)?,
                    min.max(1),
                )
            }
        })
    }

    /// One length.
    pub fn sample(&self, rng: &mut Xoshiro256PlusPlus) -> u32 {
        match *self {
            Self::Fixed(v) => v,
            Self::Uniform(lo, hi) => rng.random_range(lo..=hi),
            Self::Normal(ref d, lo, hi) => clip(d.sample(rng), lo, hi),
            Self::Lognormal(ref d, lo, hi) => clip(d.sample(rng), lo, hi),
            Self::Exponential(ref d, lo, hi) => clip(d.sample(rng), lo, hi),
            Self::Gamma(ref d, lo, hi) => clip(d.sample(rng), lo, hi),
            Self::Pareto(ref d, lo, hi) => clip(d.sample(rng), lo, hi),
            Self::Weibull(ref d, lo, hi) => clip(d.sample(rng), lo, hi),
            // Ranks are whole numbers 1..=n; shifting by min − 1 keeps them in min..=max.
            Self::Zipf(ref d, min) => clip(d.sample(rng) + f64::from(min) - 1.0, min, u32::MAX),
            Self::Mixture(ref parts, ref cumulative) => {
                let total = cumulative.last().copied().unwrap_or(0.0);
                let u = rng.random::<f64>() * total;
                let i = cumulative
                    .partition_point(|&c| c <= u)
                    .min(parts.len().saturating_sub(1));
                parts.get(i).map_or(1, |p| p.sample(rng))
            }
        }
    }
}

/// `dist` (a `rand_distr` constructor's result), or its error as an invalid `field.param`.
fn built<D, E: std::fmt::Display>(
    dist: std::result::Result<D, E>,
    field: &str,
    param: &str,
    value: f64,
) -> Result<D> {
    dist.map_err(|e| invalid(format!("{field}.{param}"), value, e.to_string()))
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn clip(x: f64, lo: u32, hi: u32) -> u32 {
    let r = x.round();
    if r.is_nan() || r <= f64::from(lo) {
        lo
    } else if r >= f64::from(hi) {
        hi
    } else {
        r as u32
    }
}

/// Lengths of one client: independent input/output samplers or joint empirical pairs.
#[derive(Clone, Debug)]
pub enum Lengths {
    /// Independent input and output.
    Independent(LengthSampler, LengthSampler),
    /// Joint pairs resampled uniformly.
    Empirical(Vec<[u32; 2]>),
}

/// Where a client's arrivals come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// An open-loop renewal process.
    Open(ArrivalProcess),
    /// Piecewise-constant rate stages driven by a unit-mean gap process (time change).
    Stages {
        /// Unit-mean gaps.
        unit: ArrivalProcess,
        /// The stages.
        stages: Vec<RateStage>,
        /// Current stage.
        index: usize,
        /// Start of the current stage, seconds.
        stage_start_s: f64,
    },
    /// Closed loop: the engine asks for a think time after each completion.
    ClosedLoop {
        /// Concurrent users.
        users: u32,
        /// Mean think time, seconds.
        mean_s: f64,
        /// Its distribution.
        think: ThinkTime,
    },
    /// Trace replay: arrival times (seconds, sorted) and their lengths.
    Trace {
        /// Arrival times, seconds from the start.
        times: Vec<f64>,
        /// `(input, output)` of each.
        lengths: Vec<[u32; 2]>,
        /// Index of the next request to arrive.
        cursor: usize,
    },
}

/// Sorted, windowed and rescaled `(time s, [input, output])` pairs of a trace configuration.
fn trace_times(config: &ArrivalConfig) -> (Vec<f64>, Vec<[u32; 2]>) {
    let ArrivalConfig::Trace {
        requests,
        time_scale,
        target_rate,
        start_s,
        end_s,
    } = config
    else {
        return (Vec::new(), Vec::new());
    };
    let lo = start_s.map_or(f64::NEG_INFINITY, |s| s * 1e3);
    let hi = end_s.map_or(f64::INFINITY, |s| s * 1e3);
    let mut kept: Vec<_> = requests
        .iter()
        .filter(|r| r.arrival_ms >= lo && r.arrival_ms < hi)
        .collect();
    kept.sort_by(|a, b| a.arrival_ms.total_cmp(&b.arrival_ms));
    let t0 = kept.first().map_or(0.0, |r| r.arrival_ms);
    let span_s = kept.last().map_or(0.0, |r| (r.arrival_ms - t0) * 1e-3);
    #[allow(clippy::cast_precision_loss)]
    let scale = match (time_scale, target_rate) {
        (Some(t), _) => *t,
        (None, Some(rate)) if span_s > 0.0 && kept.len() > 1 => {
            ((kept.len() - 1) as f64 / span_s) / rate
        }
        _ => 1.0,
    };
    let times = kept
        .iter()
        .map(|r| (r.arrival_ms - t0) * 1e-3 * scale)
        .collect();
    let lengths = kept
        .iter()
        .map(|r| [r.input_tokens, r.output_tokens])
        .collect();
    (times, lengths)
}

/// The prompt set of a shared-prefix client.
#[derive(Clone, Debug)]
pub struct PromptSet {
    /// Prompts per group.
    pub per_group: u32,
    /// System prompt tokens.
    pub system_len: u32,
    /// Length of each prompt, index `group · per_group + j`.
    pub lengths: Vec<u32>,
    /// Stream choosing the prompt.
    pub rng: Xoshiro256PlusPlus,
}

/// Identity of a request's prompt for the prefix cache: keys of its group's system prompt and
/// of the whole prompt (0 = none), and the system prompt's length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PromptKey {
    /// Key of the shared system prompt.
    pub group: u64,
    /// Key of the whole prompt.
    pub prompt: u64,
    /// System prompt tokens.
    pub system_len: u32,
}

/// One client class with its own arrival and length streams.
#[derive(Clone, Debug)]
pub struct ClientStream {
    /// Display name.
    pub name: String,
    /// Arrival source.
    pub source: Source,
    /// Length sampler.
    pub lengths: Lengths,
    /// Output cap.
    pub max_tokens: u32,
    /// Stream for gaps.
    pub arrival_rng: Xoshiro256PlusPlus,
    /// Stream for lengths.
    pub length_rng: Xoshiro256PlusPlus,
    /// Time of the next arrival, seconds (kept in f64 so rounding to ns never accumulates).
    pub next_s: f64,
    /// Shared-prefix prompt set, if any.
    pub prompts: Option<PromptSet>,
    /// Client index (part of the prompt keys).
    pub index: u32,
    /// Prompt identity of the request last sampled.
    pub last_key: PromptKey,
    /// Where this stream reads a recorded workload ([`crate::WorkloadTape`]) instead of
    /// sampling.
    pub(crate) replay: Option<Replay>,
}

impl ClientStream {
    /// Client `index` of a validated configuration, at `rate` req/s, under `seed`.
    ///
    /// # Errors
    /// As [`ArrivalProcess::new`] and [`LengthSampler::new`].
    pub fn new(index: usize, config: &ClientConfig, rate: f64, seed: u64) -> Result<Self> {
        let path = format!("workload.clients[{index}]");
        let is_trace = matches!(config.arrival, ArrivalConfig::Trace { .. });
        let lengths = match (&config.pairs, &config.input, &config.output) {
            (None, None, None) if is_trace => Lengths::Empirical(Vec::new()),
            (Some(pairs), _, _) => Lengths::Empirical(pairs.clone()),
            (None, Some(i), Some(o)) => Lengths::Independent(
                LengthSampler::new(&format!("{path}.input"), i)?,
                LengthSampler::new(&format!("{path}.output"), o)?,
            ),
            _ => {
                return Err(invalid(
                    format!("{path}.input"),
                    "missing",
                    "give input and output, or pairs",
                ));
            }
        };
        let idx = index as u64;
        let field = format!("{path}.arrival");
        let source = match &config.arrival {
            ArrivalConfig::Stages { stages, cv } => Source::Stages {
                unit: ArrivalProcess::unit(&format!("{field}.cv"), *cv)?,
                stages: stages.clone(),
                index: 0,
                stage_start_s: 0.0,
            },
            ArrivalConfig::ClosedLoop {
                users,
                think_time_s,
                think,
            } => Source::ClosedLoop {
                users: *users,
                mean_s: *think_time_s,
                think: *think,
            },
            a @ ArrivalConfig::Trace { .. } => {
                let (times, lengths) = trace_times(a);
                Source::Trace {
                    times,
                    lengths,
                    cursor: 0,
                }
            }
            a => Source::Open(ArrivalProcess::new(&field, a, rate)?),
        };
        let prompts = match (config.shared_prefix, &lengths) {
            (Some(sp), Lengths::Independent(input, _)) => {
                let mut rng = stream(seed, Purpose::Prompts, idx);
                let n = u64::from(sp.groups) * u64::from(sp.prompts_per_group);
                let lengths = (0..n)
                    .map(|_| {
                        input
                            .sample(&mut rng)
                            .max(sp.system_prompt_len.saturating_add(1))
                    })
                    .collect();
                Some(PromptSet {
                    per_group: sp.prompts_per_group,
                    system_len: sp.system_prompt_len,
                    lengths,
                    rng,
                })
            }
            _ => None,
        };
        Ok(Self {
            name: config
                .name
                .clone()
                .unwrap_or_else(|| format!("client{index}")),
            source,
            lengths,
            max_tokens: config.max_tokens.unwrap_or(u32::MAX),
            arrival_rng: stream(seed, Purpose::Arrivals, idx),
            length_rng: stream(seed, Purpose::Lengths, idx),
            next_s: 0.0,
            prompts,
            index: u32::try_from(index).unwrap_or(u32::MAX),
            last_key: PromptKey::default(),
            replay: None,
        })
    }

    /// This stream reading `tape` (the recording of this very client) instead of sampling.
    pub(crate) fn replaying(mut self, tape: Arc<ClientTape>) -> Self {
        self.replay = Some(Replay::new(tape));
        self
    }

    /// Advances to the next arrival and returns its time, seconds; `+∞` when a finite client
    /// (stages, trace) has no more, and for a closed-loop client (whose arrivals the engine
    /// schedules after completions).
    pub fn advance(&mut self) -> f64 {
        if let Some(mut replay) = self.replay.take() {
            let recorded = replay.next_arrival(self);
            self.replay = Some(replay);
            if let Some(t) = recorded {
                self.next_s = t;
                return t;
            }
        }
        match &mut self.source {
            Source::Open(p) => {
                self.next_s += p.gap(&mut self.arrival_rng);
                self.next_s
            }
            Source::Stages {
                unit,
                stages,
                index,
                stage_start_s,
            } => {
                // Unit-mean work, spent at each stage's rate until it fits in a stage.
                let mut work = unit.gap(&mut self.arrival_rng);
                let mut t = self.next_s;
                while let Some(st) = stages.get(*index) {
                    let end = *stage_start_s + st.duration_s;
                    if st.rate > 0.0 && t + work / st.rate <= end {
                        t += work / st.rate;
                        self.next_s = t;
                        return t;
                    }
                    work -= (end - t) * st.rate;
                    work = work.max(0.0);
                    t = end;
                    *stage_start_s = end;
                    *index += 1;
                }
                self.next_s = f64::INFINITY;
                f64::INFINITY
            }
            Source::ClosedLoop { .. } => f64::INFINITY,
            Source::Trace { times, cursor, .. } => {
                times.get(*cursor).copied().unwrap_or(f64::INFINITY)
            }
        }
    }

    /// Users of a closed-loop client (0 otherwise).
    #[must_use]
    pub fn closed_loop_users(&self) -> u32 {
        match self.source {
            Source::ClosedLoop { users, .. } => users,
            _ => 0,
        }
    }

    /// A think time, seconds (closed loop; 0 for other clients).
    pub fn think_time(&mut self) -> f64 {
        match self.source {
            Source::ClosedLoop {
                mean_s,
                think: ThinkTime::Exponential,
                ..
            } if mean_s > 0.0 => {
                let e: f64 = rand_distr::Exp1.sample(&mut self.arrival_rng);
                e * mean_s
            }
            Source::ClosedLoop { mean_s, .. } => mean_s,
            _ => 0.0,
        }
    }

    /// A prompt of the shared-prefix set: its length and key.
    fn pick_prompt(&mut self) -> (u32, PromptKey) {
        let Some(ps) = &mut self.prompts else {
            return (1, PromptKey::default());
        };
        let n = ps.lengths.len().max(1);
        let j = ps.rng.random_range(0..n);
        let group = j as u64 / u64::from(ps.per_group.max(1));
        // Keys: client in the top 16 bits, then group or prompt index + 1 (never 0); the
        // group and prompt key spaces are kept apart by bit 47.
        let base = u64::from(self.index & 0xFFFF) << 48;
        let key = PromptKey {
            group: base | (1 << 47) | (group + 1),
            prompt: base | (j as u64 + 1),
            system_len: ps.system_len,
        };
        (ps.lengths.get(j).copied().unwrap_or(1), key)
    }

    /// Samples `(prompt, output)` lengths, output capped by `max_tokens`. For a trace client,
    /// the lengths of the request arriving now (and moves to the next).
    pub fn sample_lengths(&mut self) -> (u32, u32) {
        if let Some(mut replay) = self.replay.take() {
            let recorded = replay.next_lengths(self);
            self.replay = Some(replay);
            if let Some((p, o, key)) = recorded {
                self.last_key = key;
                return (p, o);
            }
        }
        if let Source::Trace {
            lengths, cursor, ..
        } = &mut self.source
        {
            let [p, o] = lengths.get(*cursor).copied().unwrap_or([1, 1]);
            *cursor += 1;
            return (p.max(1), o.max(1).min(self.max_tokens));
        }
        let picked = if self.prompts.is_some() {
            let (p, key) = self.pick_prompt();
            self.last_key = key;
            Some(p)
        } else {
            None
        };
        let (p, o) = match &self.lengths {
            Lengths::Independent(_, o) if picked.is_some() => {
                (picked.unwrap_or(1), o.sample(&mut self.length_rng))
            }
            Lengths::Independent(i, o) => {
                let p = i.sample(&mut self.length_rng);
                (p, o.sample(&mut self.length_rng))
            }
            Lengths::Empirical(pairs) => {
                let k = self.length_rng.random_range(0..pairs.len());
                let [p, o] = pairs[k];
                (p, o)
            }
        };
        (p.max(1), o.max(1).min(self.max_tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    #[test]
    fn lognormal_mean_std_matches() {
        let d = LengthDist::Lognormal {
            mu: None,
            sigma: None,
            mean: Some(512.0),
            std: Some(256.0),
            min: None,
            max: None,
        };
        let s = LengthSampler::new("x", &d).unwrap();
        let mut rng = stream(3, Purpose::Lengths, 0);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| f64::from(s.sample(&mut rng))).collect();
        let mean = xs.iter().sum::<f64>() / f64::from(n);
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / f64::from(n);
        assert!((mean / 512.0 - 1.0).abs() < 0.01, "{mean}");
        assert!((var.sqrt() / 256.0 - 1.0).abs() < 0.03, "{}", var.sqrt());
    }

    #[test]
    fn gamma_rate_and_cv() {
        let p = ArrivalProcess::new(
            "a",
            &ArrivalConfig::Gamma {
                rate: Some(4.0),
                cv: 2.0,
            },
            4.0,
        )
        .unwrap();
        let mut rng = stream(5, Purpose::Arrivals, 0);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| p.gap(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / f64::from(n);
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / f64::from(n)).sqrt();
        assert!((mean * 4.0 - 1.0).abs() < 0.02, "{mean}");
        assert!((sd / mean / 2.0 - 1.0).abs() < 0.05, "{}", sd / mean);
    }

    #[test]
    fn sigma_not_positive_is_error() {
        let d = LengthDist::Lognormal {
            mu: Some(5.0),
            sigma: Some(0.0),
            mean: None,
            std: None,
            min: None,
            max: None,
        };
        assert!(
            LengthSampler::new("workload.clients[0].input", &d)
                .unwrap_err()
                .to_string()
                .contains("sigma")
        );
    }

    /// Mean and standard deviation of 200 000 samples of `d`.
    fn moments(d: &LengthDist, seed: u64) -> (f64, f64, u32, u32) {
        let s = LengthSampler::new("x", d).unwrap();
        let mut rng = stream(seed, Purpose::Lengths, 0);
        let n = 200_000;
        let xs: Vec<u32> = (0..n).map(|_| s.sample(&mut rng)).collect();
        let mean = xs.iter().map(|&x| f64::from(x)).sum::<f64>() / f64::from(n);
        let var = xs
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / f64::from(n);
        let lo = xs.iter().copied().min().unwrap();
        let hi = xs.iter().copied().max().unwrap();
        (mean, var.sqrt(), lo, hi)
    }

    /// `mean` within 4 standard errors of `expected` (sd / √n, n = 200 000).
    fn assert_mean(name: &str, mean: f64, expected: f64, sd: f64) {
        let se = sd / 200_000f64.sqrt();
        assert!(
            (mean - expected).abs() < 4.0 * se,
            "{name}: mean {mean} vs {expected} (4 SE = {})",
            4.0 * se
        );
    }

    #[test]
    fn seed_distributions_have_their_closed_form_moments() {
        // Exponential, mean 500: sd 500.
        let (m, sd, lo, _) = moments(
            &LengthDist::Exponential {
                mean: 500.0,
                min: None,
                max: None,
            },
            1,
        );
        assert_mean("exponential", m, 500.0, 500.0);
        assert!((sd / 500.0 - 1.0).abs() < 0.02, "{sd}");
        assert!(lo >= 1);
        // Gamma k = 2, θ = 250: mean 500, sd √2·250 = 353.55.
        let (m, sd, _, _) = moments(
            &LengthDist::Gamma {
                shape: 2.0,
                scale: 250.0,
                min: None,
                max: None,
            },
            2,
        );
        assert_mean("gamma", m, 500.0, 353.553);
        assert!((sd / 353.553 - 1.0).abs() < 0.02, "{sd}");
        // Weibull λ = 500, k = 1.5: mean λΓ(1 + 1/k) = 451.373, sd 306.47.
        let (m, sd, _, _) = moments(
            &LengthDist::Weibull {
                scale: 500.0,
                shape: 1.5,
                min: None,
                max: None,
            },
            3,
        );
        assert_mean("weibull", m, 451.373, 306.47);
        assert!((sd / 306.47 - 1.0).abs() < 0.02, "{sd}");
        // Pareto x_m = 300, α = 3: mean αx_m/(α − 1) = 450 (sd 259.81; its sample sd converges
        // too slowly to test, the fourth moment being infinite), never below x_m; a clip at
        // 2000 holds.
        let (m, _, lo, _) = moments(
            &LengthDist::Pareto {
                scale: 300.0,
                shape: 3.0,
                min: None,
                max: None,
            },
            4,
        );
        assert_mean("pareto", m, 450.0, 259.81);
        assert!(lo >= 300, "{lo}");
        let (_, _, _, hi) = moments(
            &LengthDist::Pareto {
                scale: 300.0,
                shape: 3.0,
                min: None,
                max: Some(2000),
            },
            4,
        );
        assert!(hi <= 2000);
    }

    #[test]
    fn zipf_ranks_follow_the_power_law_over_min_to_max() {
        // P(10 + r − 1) ∝ r^−0.6 for r = 1..=91: mean and the share of the smallest value.
        let d = LengthDist::Zipf {
            theta: 0.6,
            min: 10,
            max: 100,
        };
        let weights: Vec<f64> = (1..=91).map(|r| f64::from(r).powf(-0.6)).collect();
        let z: f64 = weights.iter().sum();
        let mean = (1..=91u32)
            .zip(&weights)
            .map(|(r, w)| f64::from(9 + r) * w / z)
            .sum::<f64>();
        let var = (1..=91u32)
            .zip(&weights)
            .map(|(r, w)| (f64::from(9 + r) - mean).powi(2) * w / z)
            .sum::<f64>();
        let (m, sd, lo, hi) = moments(&d, 5);
        assert_mean("zipf", m, mean, var.sqrt());
        assert!((sd / var.sqrt() - 1.0).abs() < 0.02, "{sd}");
        assert_eq!((lo, hi), (10, 100));
    }

    #[test]
    fn mixture_picks_components_by_weight() {
        // 1:3 of fixed 100 and fixed 500: mean 400, and 25 % of samples are 100.
        let d = LengthDist::Mixture {
            components: vec![
                LengthDist::Fixed { value: 100 },
                LengthDist::Fixed { value: 500 },
            ],
            weights: Some(vec![1.0, 3.0]),
        };
        let s = LengthSampler::new("x", &d).unwrap();
        let mut rng = stream(6, Purpose::Lengths, 0);
        let n = 200_000u32;
        let short = (0..n).filter(|_| s.sample(&mut rng) == 100).count();
        #[allow(clippy::cast_precision_loss)]
        let p = short as f64 / f64::from(n);
        // 4 standard errors of a proportion 0.25 over 200 000 draws: 0.0039.
        assert!((p - 0.25).abs() < 0.0039, "{p}");
        // Weights near f64::MAX still split evenly (their sum would overflow).
        let d = LengthDist::Mixture {
            components: vec![
                LengthDist::Fixed { value: 5 },
                LengthDist::Fixed { value: 7 },
            ],
            weights: Some(vec![1e308, 1e308]),
        };
        let s = LengthSampler::new("x", &d).unwrap();
        let fives = (0..10_000).filter(|_| s.sample(&mut rng) == 5).count();
        assert!((4_700..5_300).contains(&fives), "{fives}");
        // Equal weights by default; a zero weight never picks its component.
        let d = LengthDist::Mixture {
            components: vec![
                LengthDist::Fixed { value: 7 },
                LengthDist::Fixed { value: 9 },
            ],
            weights: Some(vec![0.0, 1.0]),
        };
        let s = LengthSampler::new("x", &d).unwrap();
        assert!((0..10_000).all(|_| s.sample(&mut rng) == 9));
    }
}
