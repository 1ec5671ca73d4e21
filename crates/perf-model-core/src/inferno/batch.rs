//! Many parameter sets for one request shape and server configuration (the fitter's loop).

use super::analyzer::{Analysis, Analyzer};
use super::params::ServiceParams;
use crate::error::Result;

/// Solves one model, request shape and server configuration for many parameter sets `(α, β, γ)`
/// without rebuilding what does not depend on them.
///
/// A trainer evaluates its loss at every data point for every candidate `(α, β, γ)`; an
/// uncertainty estimate (bootstrap, multistart) does it for many candidates at once.
/// `Analyzer::new(..)` + `solve` per pair recomputes the chunk table `nc(B)` (a function of
/// `n`, `m` and `M` only) and allocates three tables. A sweep keeps one analyzer per shape and
/// refills its `μ(B)` and chain tables in place for each parameter set:
///
/// # Formula
/// Per parameter set, with `nc(B)` kept:
/// ```text
/// μ(B) = B/S(B), B = 1..N   (S from §2.1/§2.2 with the new α, β, γ)
/// ρ_i = μ(N)/μ(i),  L_{b,j} = Π_{i=8b+1}^{8b+j} ρ_i   (the chain's block table)
/// then Analyzer::solve at the rate
/// ```
/// In `f64` the ratios are `ρ_B = S(B)·(μ(N)·(1/B))` with a shared table of `1/B`, so a
/// parameter set costs no division per `B`. Results are bit for bit those of
/// `Analyzer::new(model, params, shape, config)` (same arithmetic) followed by
/// [`Analyzer::solve`]. On the issue-18 benchmark (V7, N = 256, K = 512, 64 parameter sets,
/// one core) that is about 1.5× the sets per second of `Analyzer::new` + `solve` (≈ 0.7 µs
/// instead of ≈ 1.1 µs per set; ≈ 4 µs before issue 18; the `inferno_speed` example prints
/// the current ratio).
///
/// # Examples
/// ```
/// use perf_model_core::inferno::{
///     Analyzer, ParamSweep, QueueConfig, QueueModel, RequestShape, ServiceParams,
/// };
/// let (shape, config) = (RequestShape::new(128.0, 512.0)?, QueueConfig::new(256, 256)?);
/// let first = ServiceParams::new(12.0, 0.05, 5e-4)?;
/// let mut sweep = ParamSweep::new(Analyzer::new(QueueModel::V7, first, shape, config)?);
/// // A Nelder–Mead simplex: four candidate parameter sets at one data point (3 req/s).
/// let simplex = [
///     first,
///     ServiceParams::new(12.6, 0.05, 5e-4)?,
///     ServiceParams::new(12.0, 0.0525, 5e-4)?,
///     ServiceParams::new(12.0, 0.05, 5.25e-4)?,
/// ];
/// let out = sweep.solve_params(&simplex, 3.0);
/// for (p, a) in simplex.iter().zip(&out) {
///     let single = Analyzer::new(QueueModel::V7, *p, shape, config)?.solve(3.0)?;
///     assert_eq!(a.as_ref().ok(), Some(&single));
/// }
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ParamSweep {
    analyzer: Analyzer,
}

impl ParamSweep {
    /// A sweep over parameter sets for `analyzer`'s model, request shape, configuration and
    /// arithmetic, starting at its parameters.
    #[must_use]
    pub fn new(analyzer: Analyzer) -> Self {
        Self { analyzer }
    }

    /// The analyzer at the last parameters set successfully.
    #[must_use]
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// The analyzer for `params` (then usable for [`Analyzer::size`],
    /// [`Analyzer::solve_rates`], …), equal to `Analyzer::new` with them.
    ///
    /// # Formula
    /// `μ(B) = B/S(B)` and the chain table recomputed in place; `nc(B)` kept.
    ///
    /// # Errors
    /// [`crate::Error::Inconsistent`] as [`Analyzer::new`] (a service time that is not
    /// positive and finite); the sweep then keeps its previous parameters.
    pub fn set_params(&mut self, params: ServiceParams) -> Result<&Analyzer> {
        self.analyzer.set_params(params)?;
        Ok(&self.analyzer)
    }

    /// [`Analyzer::solve`] at `rate_rps` with parameters `params`.
    ///
    /// # Formula
    /// As [`Analyzer::solve`].
    ///
    /// # Errors
    /// As [`ParamSweep::set_params`] and [`Analyzer::solve`].
    pub fn solve(&mut self, params: ServiceParams, rate_rps: f64) -> Result<Analysis> {
        self.set_params(params)?.solve(rate_rps)
    }

    /// [`ParamSweep::solve`] for every parameter set of `params` at one rate; element `i` is
    /// bit for bit `Analyzer::new(.., params[i], ..)` followed by `solve(rate_rps)`, errors
    /// included.
    ///
    /// # Formula
    /// As [`Analyzer::solve`], per parameter set.
    ///
    /// # Errors
    /// None for the call itself; each element carries its own error.
    #[must_use]
    pub fn solve_params(
        &mut self,
        params: &[ServiceParams],
        rate_rps: f64,
    ) -> Vec<Result<Analysis>> {
        let mut out = Vec::with_capacity(params.len());
        self.solve_params_into(params, rate_rps, &mut out);
        out
    }

    /// [`ParamSweep::solve_params`] appending to `out` (reuse one vector to avoid the
    /// allocation).
    ///
    /// # Formula
    /// As [`Analyzer::solve`], per parameter set.
    ///
    /// # Errors
    /// None for the call itself; each element carries its own error.
    pub fn solve_params_into(
        &mut self,
        params: &[ServiceParams],
        rate_rps: f64,
        out: &mut Vec<Result<Analysis>>,
    ) {
        out.reserve(params.len());
        out.extend(params.iter().map(|p| self.solve(*p, rate_rps)));
    }
}
