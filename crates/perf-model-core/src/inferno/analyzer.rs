//! The analyzer: service primitives + birth–death chain → latency and throughput at a rate.

use serde::{Deserialize, Serialize};

use super::params::{Arithmetic, QueueConfig, QueueModel, RequestShape, ServiceParams};
use super::queue::{ChainStats, ChainTable};
use super::real::{Real, count};
use super::service::{Core, ServiceTimes, round_batch};
use crate::error::{Error, Result};
use crate::validate::positive;

/// `Epsilon` of the reference: the rate range is `[0.001·μ(1), (1 − 0.001)·μ(N)]`.
const RANGE_EPSILON: f64 = 0.001;

/// The range of arrival rates the analyzer is meant for, req/s.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateRange {
    /// Lowest rate, `1000·0.001·μ(1)`.
    pub min_rps: f64,
    /// Highest rate, `1000·(1 − 0.001)·μ(N)` (V3 rejects rates above it).
    pub max_rps: f64,
}

/// Steady-state metrics at one arrival rate (upstream `AnalysisMetrics`).
///
/// Times are in ms, rates in req/s.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Offered arrival rate λ, req/s.
    pub offered_rps: f64,
    /// Accepted throughput `λ·(1 − p_K)`, req/s.
    pub throughput_rps: f64,
    /// Mean response time `R = E[X]/X_thr`, ms.
    pub response_ms: f64,
    /// Mean wait in the queue `W = max(0, R − S̄)`, ms.
    pub wait_ms: f64,
    /// Mean number in service (mean batch) `B̄ = E[min(X, N)]`.
    pub in_service: f64,
    /// Mean number in system `E[X]`.
    pub in_system: f64,
    /// Mean prefill time `Prefill(B̄)`, ms.
    pub prefill_ms: f64,
    /// Mean time to first token `W + Prefill(B̄) + ITL` (includes one decode step), ms.
    pub ttft_ms: f64,
    /// Mean inter-token latency `(S̄ − Prefill(B̄))/m`, ms.
    pub itl_ms: f64,
    /// Utilisation `clamp(B̄/N, 0, 1)`.
    pub rho: f64,
    /// Top of the rate range, req/s.
    pub max_rate_rps: f64,
    /// Bottom of the rate range, req/s.
    pub min_rate_rps: f64,
    /// Blocking probability `p_K` (share of arrivals rejected because the system is full).
    pub blocking: f64,
}

/// The Inferno queueing analyzer for one model generation, parameter set, request shape and
/// server configuration.
///
/// `new` precomputes (V7) the chunk counts `nc(B)` and, from the departure rates
/// `μ(B) = B/S(B)`, `B = 1..N`, the chain's block table (products of `μ(N)/μ(B)`, see
/// [`Analyzer::solve`]), so a solve allocates nothing and costs `O(N/8 + log Q)` dependent
/// steps. [`Analyzer::solve_rates`] solves many rates in one
/// call; [`super::ParamSweep`] solves many parameter sets without rebuilding shape tables.
///
/// # Examples
/// ```
/// use perf_model_core::inferno::{Analyzer, QueueConfig, QueueModel, RequestShape, ServiceParams};
/// let analyzer = Analyzer::new(
///     QueueModel::V7,
///     ServiceParams::new(12.0, 0.05, 5e-4)?,
///     RequestShape::new(128.0, 512.0)?,
///     QueueConfig::new(48, 128)?,
/// )?;
/// let a = analyzer.solve(3.0)?;
/// assert!((a.ttft_ms - 67.6146).abs() < 1e-3);
/// assert!((a.itl_ms - 20.1189).abs() < 1e-3);
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Analyzer {
    pub(super) times: ServiceTimes,
    pub(super) config: QueueConfig,
    pub(super) arithmetic: Arithmetic,
    /// `nc(B)` for `B = 1..=N` (index `B − 1`); all 1 for V3/V6.
    pub(super) nc: Vec<u32>,
    /// The chain's block table, from `μ(B)` and `Q`.
    pub(super) chain: ChainTable,
    pub(super) range: RateRange,
}

/// Metrics in the working precision, before widening to [`Analysis`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Metrics<T> {
    pub throughput: T,
    pub response: T,
    pub wait: T,
    pub in_service: T,
    pub in_system: T,
    pub prefill: T,
    pub itl: T,
    pub ttft: T,
    pub blocking: f64,
}

impl Analyzer {
    /// Builds the analyzer (plain `f64` arithmetic; see [`Analyzer::with_arithmetic`]).
    ///
    /// # Formula
    /// ```text
    /// μ(B) = B / S(B),  B = 1..N;   rate range [1000·0.001·μ(1), 1000·0.999·μ(N)] req/s
    /// ```
    ///
    /// # Errors
    /// [`Error::Inconsistent`] when the service time is not positive and finite (α = β = γ = 0
    /// gives an infinite service rate).
    pub fn new(
        model: QueueModel,
        params: ServiceParams,
        shape: RequestShape,
        config: QueueConfig,
    ) -> Result<Self> {
        let times = ServiceTimes::new(model, params, shape, config.max_num_tokens())?;
        Self::build(times, config, Arithmetic::F64)
    }

    /// The same analyzer with another [`Arithmetic`] (tables are recomputed in it).
    ///
    /// # Errors
    /// As [`Analyzer::new`].
    pub fn with_arithmetic(self, arithmetic: Arithmetic) -> Result<Self> {
        if arithmetic == self.arithmetic {
            return Ok(self);
        }
        Self::build(self.times, self.config, arithmetic)
    }

    /// The same analyzer with another max batch size `N` (other settings kept).
    ///
    /// # Errors
    /// As [`QueueConfig::new`] and [`Analyzer::new`].
    pub fn with_max_batch_size(&self, max_batch_size: u32) -> Result<Self> {
        let config = QueueConfig::new(max_batch_size, self.config.max_queue_size())?
            .with_max_num_tokens(self.config.max_num_tokens())?;
        Self::build(self.times, config, self.arithmetic)
    }

    fn build(times: ServiceTimes, config: QueueConfig, arithmetic: Arithmetic) -> Result<Self> {
        let mut analyzer = Self {
            times,
            config,
            arithmetic,
            nc: Vec::new(),
            chain: ChainTable::empty(),
            range: RateRange {
                min_rps: 0.0,
                max_rps: 0.0,
            },
        };
        match arithmetic {
            Arithmetic::F64 => analyzer
                .times
                .core::<f64>()
                .chunk_table(config.max_batch_size(), &mut analyzer.nc),
            Arithmetic::GoFloat32 => analyzer
                .times
                .core::<f32>()
                .chunk_table(config.max_batch_size(), &mut analyzer.nc),
        }
        analyzer.fill_rates()?;
        Ok(analyzer)
    }

    /// Replaces the service parameters, recomputing the range and the chain table in the
    /// existing allocations (`nc(B)` depends only on the request shape and `M`). On error the
    /// previous parameters (and tables) are restored.
    pub(super) fn set_params(&mut self, params: ServiceParams) -> Result<()> {
        let previous = self.times;
        self.times = ServiceTimes::new(
            previous.model(),
            params,
            *previous.shape(),
            previous.max_num_tokens(),
        )?;
        let filled = self.fill_rates();
        if filled.is_err() {
            self.times = previous;
            // The previous parameters built successfully, so this cannot fail.
            self.fill_rates()?;
        }
        filled
    }

    /// The rate range and the chain table from `times`, `config` and `nc`.
    fn fill_rates(&mut self) -> Result<()> {
        match self.arithmetic {
            Arithmetic::F64 => self.fill_rates_t::<f64>(),
            Arithmetic::GoFloat32 => self.fill_rates_t::<f32>(),
        }
    }

    fn fill_rates_t<T: Real>(&mut self) -> Result<()> {
        let core = self.times.core::<T>();
        let queue = self.config.max_queue_size();
        let (first, top) =
            core.fill_chain(&self.nc, queue, &mut self.chain)
                .map_err(|(b, r)| {
                    Error::Inconsistent(format!(
                        "service rate mu({b}) = {r} req/ms: the service time must be positive \
                     (alpha, beta and gamma cannot all be 0)"
                    ))
                })?;
        let eps = T::of(RANGE_EPSILON);
        let thousand = T::of(1000.0);
        let lambda_min = T::of(first) * eps;
        let lambda_max = T::of(top) * (T::ONE - eps);
        self.range = RateRange {
            min_rps: (lambda_min * thousand).get(),
            max_rps: (lambda_max * thousand).get(),
        };
        Ok(())
    }

    /// The model generation.
    #[must_use]
    pub fn model(&self) -> QueueModel {
        self.times.model()
    }

    /// The service-time primitives this analyzer uses.
    #[must_use]
    pub fn service_times(&self) -> &ServiceTimes {
        &self.times
    }

    /// The server configuration.
    #[must_use]
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// The arithmetic in use.
    #[must_use]
    pub fn arithmetic(&self) -> Arithmetic {
        self.arithmetic
    }

    /// The departure rate `μ(B) = B/S(B)` in req/ms, in the precision of the arithmetic (as
    /// the chain uses it), or `None` outside `1..=N`.
    #[must_use]
    pub fn service_rate(&self, batch: u32) -> Option<f64> {
        let i = usize::try_from(batch).ok()?.checked_sub(1)?;
        let c = *self.nc.get(i)?;
        Some(match self.arithmetic {
            Arithmetic::F64 => self.times.core::<f64>().rate(batch, c),
            Arithmetic::GoFloat32 => self.times.core::<f32>().rate(batch, c),
        })
    }

    /// The range of arrival rates the model is meant for, req/s.
    ///
    /// # Formula
    /// ```text
    /// min = 1000·0.001·μ(1),   max = 1000·(1 − 0.001)·μ(N)
    /// ```
    #[must_use]
    pub fn rate_range(&self) -> RateRange {
        self.range
    }

    /// Solves the chain at arrival rate `rate_rps` (req/s) and returns the metrics.
    ///
    /// # Formula
    /// ```text
    /// λ = rate/1000 (req/ms);  p_{k+1} = p_k·λ/μ(min(k+1, N)),  k < K = N + Q
    /// X_thr = λ(1 − p_K);  R = E[X]/X_thr;  S̄ = B̄/X_thr;  W = max(0, R − S̄)
    /// ITL = (S̄ − Prefill(B̄))/m;  TTFT = W + Prefill(B̄) + ITL
    /// ```
    /// (V7 reads `nc` at `clamp(floor(B̄ + 0.5), 1, N)`.)
    ///
    /// The chain is evaluated in blocks of 8 states, `p_{8b+j} = p_{8b}·x^j·L_{b,j}` with
    /// `x = λ/μ(N)` and the per-analyzer products `L_{b,j} = Π μ(N)/μ(i)`, and the queue states
    /// (constant ratio `x`) in closed form by binary doubling of `Σ x^j`, `Σ j·x^j`: about
    /// `N/8 + log₂ Q` dependent steps instead of `N + Q` (details in the `queue` module). It
    /// allocates nothing. Results agree with the state-by-state evaluation to ~1e-14 relative.
    ///
    /// # Errors
    /// * [`Error::NonFinite`] / [`Error::OutOfRange`] naming `rate` when it is NaN, ∞ or ≤ 0;
    /// * [`Error::RateAboveCapacity`] (V3 only) when `rate_rps` exceeds
    ///   [`RateRange::max_rps`]. V6 and V7 accept any rate; overload shows as
    ///   [`Analysis::blocking`] > 0 and throughput below the offered rate.
    ///
    /// # Examples
    /// ```
    /// use perf_model_core::inferno::{Analyzer, QueueConfig, QueueModel, RequestShape, ServiceParams};
    /// let analyzer = Analyzer::new(
    ///     QueueModel::V3,
    ///     ServiceParams::new(12.0, 0.05, 5e-4)?,
    ///     RequestShape::new(128.0, 512.0)?,
    ///     QueueConfig::new(48, 128)?,
    /// )?;
    /// let a = analyzer.solve(3.0)?;
    /// assert!((a.throughput_rps - 3.0).abs() < 1e-6);
    /// assert!((a.itl_ms - 20.5345).abs() < 1e-3);
    /// assert!(analyzer.solve(4.0).is_err()); // above 0.999·μ(N) = 3.82 req/s
    /// # Ok::<(), perf_model_core::Error>(())
    /// ```
    pub fn solve(&self, rate_rps: f64) -> Result<Analysis> {
        match self.arithmetic {
            Arithmetic::F64 => self.solve_t::<f64>(rate_rps),
            Arithmetic::GoFloat32 => self.solve_t::<f32>(rate_rps),
        }
    }

    /// Solves the chain at every rate of `rates_rps` (req/s) in one call: element `i` of the
    /// result is exactly (bit for bit) `self.solve(rates_rps[i])`, errors included.
    ///
    /// # Formula
    /// As [`Analyzer::solve`], per rate. Rates are evaluated four at a time: the four rates'
    /// latency-bound steps (the block-to-block carries `p_{8b}`, the doubling of `Σ x^j`, the
    /// post-chain divisions) interleave, so the core is kept busy where a single solve waits.
    /// On the issue-18 benchmark (V7, N = 256, K = 512, 64 rates, one core) that is about
    /// 1.3× the solves per second of calling [`Analyzer::solve`] per rate (≈ 0.17 µs instead
    /// of ≈ 0.22 µs per solve; the `inferno_speed` example prints the current ratio).
    ///
    /// # Errors
    /// None for the call itself; each element carries the error [`Analyzer::solve`] would
    /// return for that rate.
    ///
    /// # Examples
    /// ```
    /// use perf_model_core::inferno::{Analyzer, QueueConfig, QueueModel, RequestShape, ServiceParams};
    /// let analyzer = Analyzer::new(
    ///     QueueModel::V7,
    ///     ServiceParams::new(12.0, 0.05, 5e-4)?,
    ///     RequestShape::new(128.0, 512.0)?,
    ///     QueueConfig::new(256, 256)?,
    /// )?;
    /// // An autoscaler's sweep: per-replica load for 1..=8 replicas carrying 20 req/s.
    /// let rates: Vec<f64> = (1..=8).map(|r| 20.0 / f64::from(r)).collect();
    /// let sweep = analyzer.solve_rates(&rates);
    /// for (rate, a) in rates.iter().zip(&sweep) {
    ///     assert_eq!(a.as_ref().ok(), analyzer.solve(*rate).as_ref().ok());
    /// }
    /// assert!(sweep[7].as_ref().is_ok_and(|a| a.itl_ms < sweep[0].as_ref().unwrap().itl_ms));
    /// # Ok::<(), perf_model_core::Error>(())
    /// ```
    #[must_use]
    pub fn solve_rates(&self, rates_rps: &[f64]) -> Vec<Result<Analysis>> {
        let mut out = Vec::with_capacity(rates_rps.len());
        self.solve_rates_into(rates_rps, &mut out);
        out
    }

    /// [`Analyzer::solve_rates`] appending to `out` (reuse one vector across calls to avoid
    /// the allocation).
    ///
    /// # Formula
    /// As [`Analyzer::solve`], per rate.
    ///
    /// # Errors
    /// None for the call itself; see [`Analyzer::solve_rates`].
    pub fn solve_rates_into(&self, rates_rps: &[f64], out: &mut Vec<Result<Analysis>>) {
        out.reserve(rates_rps.len());
        match self.arithmetic {
            Arithmetic::F64 => self.solve_rates_t::<f64>(rates_rps, out),
            Arithmetic::GoFloat32 => self.solve_rates_t::<f32>(rates_rps, out),
        }
    }

    /// Lanes of [`Analyzer::solve_rates`].
    const LANES: usize = 4;

    fn solve_rates_t<T: Real>(&self, rates_rps: &[f64], out: &mut Vec<Result<Analysis>>) {
        let core = self.times.core::<T>();
        let mut groups = rates_rps.chunks_exact(Self::LANES);
        for group in groups.by_ref() {
            let checked: [Result<T>; Self::LANES] =
                std::array::from_fn(|l| self.checked_lambda::<T>(group[l]));
            if checked.iter().all(Result::is_ok) {
                let lambdas: [T; Self::LANES] =
                    std::array::from_fn(|l| checked[l].as_ref().map_or(T::ZERO, |x| *x));
                let stats = self.chain.solve_lanes::<{ Self::LANES }>(
                    std::array::from_fn(|l| lambdas[l].get()),
                    &|b| core.rate(b, self.nc[b as usize - 1]),
                );
                for l in 0..Self::LANES {
                    let metrics = self.metrics(&core, lambdas[l], &stats[l]);
                    out.push(self.finish(group[l], &metrics));
                }
            } else {
                out.extend(group.iter().map(|&r| self.solve(r)));
            }
        }
        out.extend(groups.remainder().iter().map(|&r| self.solve(r)));
    }

    /// `λ = rate/1000` in `T` after the rate checks of [`Analyzer::solve`].
    fn checked_lambda<T: Real>(&self, rate_rps: f64) -> Result<T> {
        positive("rate", rate_rps)?;
        let rate = T::of(rate_rps);
        if self.model().has_rate_guard() && rate > T::of(self.range.max_rps) {
            return Err(Error::RateAboveCapacity {
                rate: rate_rps,
                max_rate: self.range.max_rps,
            });
        }
        Ok(rate / T::of(1000.0))
    }

    fn solve_t<T: Real>(&self, rate_rps: f64) -> Result<Analysis> {
        let lambda = self.checked_lambda::<T>(rate_rps)?;
        let core = self.times.core::<T>();
        let metrics = self.evaluate(&core, lambda);
        self.finish(rate_rps, &metrics)
    }

    /// Widens and checks the metrics of one solve.
    fn finish<T: Real>(&self, rate_rps: f64, metrics: &Metrics<T>) -> Result<Analysis> {
        let analysis = self.widen(rate_rps, metrics);
        ensure_finite_analysis(&analysis)?;
        Ok(analysis)
    }

    /// The metrics at arrival rate `lambda` (req/ms) in precision `T`, without checks.
    pub(super) fn evaluate<T: Real>(&self, core: &Core<T>, lambda: T) -> Metrics<T> {
        let stats = self
            .chain
            .solve(lambda.get(), &|b| core.rate(b, self.nc[b as usize - 1]));
        self.metrics(core, lambda, &stats)
    }

    /// [`Analyzer::evaluate`] at two rates at once (bit for bit the same per rate).
    pub(super) fn evaluate_pair<T: Real>(&self, core: &Core<T>, lambda: [T; 2]) -> [Metrics<T>; 2] {
        let stats = self
            .chain
            .solve_lanes::<2>([lambda[0].get(), lambda[1].get()], &|b| {
                core.rate(b, self.nc[b as usize - 1])
            });
        [
            self.metrics(core, lambda[0], &stats[0]),
            self.metrics(core, lambda[1], &stats[1]),
        ]
    }

    /// Post-chain metrics from the chain's moments at `lambda` (req/ms).
    fn metrics<T: Real>(&self, core: &Core<T>, lambda: T, stats: &ChainStats) -> Metrics<T> {
        let in_service = T::of(stats.in_service);
        let in_system = T::of(stats.in_system);
        let accepted = if self.arithmetic == Arithmetic::F64 {
            T::of(stats.accepted)
        } else {
            T::ONE - T::of(stats.p_full)
        };
        let throughput = lambda * accepted;
        let response = in_system / throughput;
        let service = in_service / throughput;
        let wait = (response - service).max0();
        let c = self.chunks_at(in_service);
        let prefill = core.prefill(in_service, c);
        let itl = (service - prefill) / core.output_tokens();
        let ttft = wait + prefill + itl;
        Metrics {
            throughput,
            response,
            wait,
            in_service,
            in_system,
            prefill,
            itl,
            ttft,
            blocking: stats.p_full,
        }
    }

    /// `nc` at the mean batch: Go's `int(B̄ + 0.5)` clamped to `1..=N`.
    fn chunks_at<T: Real>(&self, in_service: T) -> u32 {
        let n = self.nc.len().max(1);
        let i = usize::try_from(round_batch(in_service.get())).map_or(n, |i| i.min(n));
        self.nc[i - 1]
    }

    /// Converts working-precision metrics to an [`Analysis`] (unchecked: see
    /// [`ensure_finite_analysis`]).
    pub(super) fn widen<T: Real>(&self, offered_rps: f64, m: &Metrics<T>) -> Analysis {
        let rho = (m.in_service / count::<T>(self.config.max_batch_size())).get();
        Analysis {
            offered_rps,
            throughput_rps: (m.throughput * T::of(1000.0)).get(),
            response_ms: m.response.get(),
            wait_ms: m.wait.get(),
            in_service: m.in_service.get(),
            in_system: m.in_system.get(),
            prefill_ms: m.prefill.get(),
            ttft_ms: m.ttft.get(),
            itl_ms: m.itl.get(),
            rho: rho.clamp(0.0, 1.0),
            max_rate_rps: self.range.max_rps,
            min_rate_rps: self.range.min_rps,
            blocking: m.blocking,
        }
    }
}

/// Rejects an analysis whose figures overflowed: inputs that are finite but extreme (a rate of
/// 1e70 req/s, α = 1e300 ms) can push the chain or the primitives beyond `f64` (or `f32`), and
/// a NaN must never be returned as a result.
///
/// # Errors
/// [`Error::Inconsistent`] naming the first non-finite figure.
pub(super) fn ensure_finite_analysis(a: &Analysis) -> Result<()> {
    let figures = [
        ("throughput", a.throughput_rps),
        ("response time", a.response_ms),
        ("wait", a.wait_ms),
        ("mean batch", a.in_service),
        ("mean in system", a.in_system),
        ("prefill time", a.prefill_ms),
        ("TTFT", a.ttft_ms),
        ("ITL", a.itl_ms),
        ("blocking probability", a.blocking),
    ];
    match figures.iter().find(|(_, v)| !v.is_finite()) {
        None => Ok(()),
        Some((name, value)) => Err(Error::Inconsistent(format!(
            "the {name} overflowed to {value}: the inputs are outside the range the queueing model can evaluate"
        ))),
    }
}
