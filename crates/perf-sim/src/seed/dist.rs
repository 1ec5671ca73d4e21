//! Seed distributions (`{type, params, is_int}`) onto the simulator's arrival processes and
//! length distributions.

use crate::config::{ArrivalConfig, LengthDist};
use crate::error::{Result, invalid, non_negative, positive};

use super::decision::Log;
use super::schema::SeedDist;

/// The seed's distribution types, for error messages.
const TYPES: &str = "Constant, Fixed, Exponential, Uniform, Normal, LogNormal, Pareto, Weibull, \
                     Gamma, Mixture";

/// Largest lognormal median (`e^μ`) read in log space for a token length: a larger one is a
/// linear mean given where the seed expects log space.
const MAX_LOGNORMAL_MEDIAN: f64 = 1e6;

/// A seed distribution with its parameters resolved (flat or nested, defaults applied).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Dist {
    /// Always the value.
    Constant(f64),
    /// Exponential with this rate.
    Exponential(f64),
    /// Uniform on `[low, high]`.
    Uniform(f64, f64),
    /// Normal `(mean, std)`, clipped at 0.
    Normal(f64, f64),
    /// Lognormal `(μ, σ)` in log space.
    LogNormal(f64, f64),
    /// A distribution the simulator cannot represent: Pareto, Weibull, Gamma (outside
    /// inter-arrival times), Mixture.
    Other(&'static str, Option<(f64, f64)>),
}

/// One parameter: flat, nested under `params` (not both), else the seed sampler's default.
fn param(
    d: &SeedDist,
    path: &str,
    name: &str,
    flat: Option<f64>,
    nested: Option<f64>,
    default: f64,
    log: &mut Log,
) -> Result<f64> {
    match (flat, nested) {
        (Some(_), Some(_)) => Err(invalid(
            format!("{path}.params.{name}"),
            "set twice",
            format!("give {name} either at the top of the distribution or under params"),
        )),
        (Some(v), None) | (None, Some(v)) => {
            if v.is_finite() {
                Ok(v)
            } else {
                Err(invalid(format!("{path}.{name}"), v, "must be finite"))
            }
        }
        (None, None) => {
            log.default_applied(
                format!("{path}.{name}"),
                format!(
                    "{default} (the seed sampler's default for {})",
                    d.kind.as_deref().unwrap_or("Constant")
                ),
            );
            Ok(default)
        }
    }
}

/// Resolves `d` (at `path`) into a [`Dist`], checking each parameter.
///
/// # Errors
/// [`crate::SimError::InvalidConfig`] naming `path.<param>` for a bad value, `path.type` for an
/// unknown type.
pub(crate) fn resolve(d: &SeedDist, path: &str, log: &mut Log) -> Result<Dist> {
    let n = d.params.clone().unwrap_or_default();
    let kind = match d.kind.as_deref() {
        Some(k) => k,
        None => {
            log.default_applied(
                format!("{path}.type"),
                "Constant (the seed sampler's default)",
            );
            "Constant"
        }
    };
    let mut p = |name: &str, flat: Option<f64>, nested: Option<f64>, default: f64| {
        param(d, path, name, flat, nested, default, log)
    };
    Ok(match kind {
        "Constant" | "Fixed" => Dist::Constant(p("value", d.value, n.value, 1.0)?),
        "Exponential" => {
            let rate = p("rate", d.rate, n.rate, 1.0)?;
            Dist::Exponential(positive(format!("{path}.rate"), rate)?)
        }
        "Uniform" => {
            let low = p("low", d.low, n.low, 0.0)?;
            let high = p("high", d.high, n.high, 1.0)?;
            if low > high {
                return Err(invalid(format!("{path}.low"), low, "must be <= high"));
            }
            Dist::Uniform(low, high)
        }
        "Normal" => {
            let mean = p("mean", d.mean, n.mean, 0.0)?;
            // The seed reads `std`, else `sigma`.
            let std = match (d.std.or(n.std), d.sigma.or(n.sigma)) {
                (Some(_), _) => p("std", d.std, n.std, 1.0)?,
                (None, Some(_)) => p("sigma", d.sigma, n.sigma, 1.0)?,
                (None, None) => p("std", None, None, 1.0)?,
            };
            Dist::Normal(mean, non_negative(format!("{path}.std"), std)?)
        }
        "LogNormal" => {
            let mu = p("mean", d.mean, n.mean, 0.0)?;
            let sigma = p("sigma", d.sigma, n.sigma, 1.0)?;
            Dist::LogNormal(mu, positive(format!("{path}.sigma"), sigma)?)
        }
        "Pareto" | "Weibull" | "Gamma" => {
            let default_shape = if kind == "Gamma" { 2.0 } else { 1.0 };
            let shape = p("shape", d.shape, n.shape, default_shape)?;
            let scale = p("scale", d.scale, n.scale, 1.0)?;
            positive(format!("{path}.shape"), shape)?;
            positive(format!("{path}.scale"), scale)?;
            let name = match kind {
                "Pareto" => "Pareto",
                "Weibull" => "Weibull",
                _ => "Gamma",
            };
            Dist::Other(name, Some((shape, scale)))
        }
        "Mixture" => {
            let components = match (&d.components, &n.components) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        format!("{path}.params.components"),
                        "set twice",
                        "give components either at the top of the distribution or under params",
                    ));
                }
                (Some(c), None) | (None, Some(c)) => c.clone(),
                (None, None) => Vec::new(),
            };
            if components.is_empty() {
                return Err(invalid(
                    format!("{path}.components"),
                    "[]",
                    "a mixture needs at least one component",
                ));
            }
            for (j, c) in components.iter().enumerate() {
                resolve(c, &format!("{path}.components[{j}]"), log)?;
            }
            if let Some(w) = d.weights.as_ref().or(n.weights.as_ref()) {
                if w.len() != components.len() {
                    return Err(invalid(
                        format!("{path}.weights"),
                        format!("{w:?}"),
                        format!("need one weight per component ({})", components.len()),
                    ));
                }
                for (j, v) in w.iter().enumerate() {
                    non_negative(format!("{path}.weights[{j}]"), *v)?;
                }
                if !w.iter().any(|&v| v > 0.0) {
                    return Err(invalid(
                        format!("{path}.weights"),
                        format!("{w:?}"),
                        "at least one weight must be > 0",
                    ));
                }
            }
            Dist::Other("Mixture", None)
        }
        other => {
            return Err(invalid(
                format!("{path}.type"),
                other,
                format!("unknown distribution type (the seed's are {TYPES})"),
            ));
        }
    })
}

/// The arrival process of a profile's `inter_arrival_time_dist_config` and its mean gap, s.
///
/// Exponential gaps are a Poisson process, constant gaps a constant rate, Gamma gaps a Gamma
/// renewal process (coefficient of variation `1/√shape`); other gap distributions have no
/// equivalent and are an error.
///
/// # Errors
/// [`crate::SimError::InvalidConfig`] naming the path.
pub(crate) fn arrival(d: &SeedDist, path: &str, log: &mut Log) -> Result<(ArrivalConfig, f64)> {
    if d.is_int == Some(true) {
        log.ignored(
            format!("{path}.is_int"),
            "inter-arrival times are not rounded to whole seconds",
        );
    }
    Ok(match resolve(d, path, log)? {
        Dist::Exponential(rate) => {
            log.mapped(path, format!("Poisson arrivals at {rate} req/s"));
            (ArrivalConfig::Poisson { rate: Some(rate) }, 1.0 / rate)
        }
        Dist::Constant(gap) => {
            let gap = positive(format!("{path}.value"), gap)?;
            log.mapped(path, format!("constant arrivals at {} req/s", 1.0 / gap));
            (
                ArrivalConfig::Constant {
                    rate: Some(1.0 / gap),
                },
                gap,
            )
        }
        Dist::Other("Gamma", Some((shape, scale))) => {
            let mean = shape * scale;
            let cv = 1.0 / shape.sqrt();
            log.mapped(
                path,
                format!("Gamma arrivals at {} req/s with gap CV {cv}", 1.0 / mean),
            );
            (
                ArrivalConfig::Gamma {
                    rate: Some(1.0 / mean),
                    cv,
                },
                mean,
            )
        }
        other => {
            return Err(invalid(
                format!("{path}.type"),
                name(&other),
                "not supported for inter-arrival times: use Exponential (Poisson), Constant, \
                 Fixed or Gamma",
            ));
        }
    })
}

/// The token-length distribution of a profile's `prompt_tokens_dist_config` or
/// `max_output_tokens_dist_config`. Lengths are always whole numbers ≥ 1. Every seed type has
/// an equivalent: Exponential by its mean 1/rate, Pareto with `x_m = scale`, Weibull
/// `scale·W(shape)`, Gamma `(shape, scale)`, Mixture of the mapped components with the seed's
/// weights. A lognormal whose log-space median would be above a million tokens is read as a
/// linear mean and standard deviation (reported as a mapping).
///
/// # Errors
/// [`crate::SimError::InvalidConfig`] naming the path: invalid parameters, or a constant
/// below 1.
pub(crate) fn length(d: &SeedDist, path: &str, log: &mut Log) -> Result<LengthDist> {
    if d.is_int == Some(false) {
        log.mapped(
            format!("{path}.is_int"),
            "token counts are always rounded to whole numbers >= 1",
        );
    }
    let round = |v: f64| -> u32 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let r = v.round().clamp(1.0, f64::from(u32::MAX)) as u32;
        r
    };
    Ok(match resolve(d, path, log)? {
        Dist::Constant(v) => {
            if v < 0.5 {
                return Err(invalid(
                    format!("{path}.value"),
                    v,
                    "a token count must round to >= 1",
                ));
            }
            LengthDist::Fixed { value: round(v) }
        }
        Dist::Uniform(low, high) => {
            if high < 0.5 {
                return Err(invalid(
                    format!("{path}.high"),
                    high,
                    "a token count must round to >= 1",
                ));
            }
            LengthDist::Uniform {
                low: round(low),
                high: round(high),
            }
        }
        Dist::Normal(mean, std) => LengthDist::Normal {
            mean,
            std,
            min: None,
            max: None,
        },
        Dist::LogNormal(mu, sigma) if mu.exp() > MAX_LOGNORMAL_MEDIAN => {
            // The seed's own example configs write `mean: 128, sigma: 64` for prompts of about
            // 128 tokens; read in log space that is a median of e^128 tokens (the seed's
            // defect 8). Such values are only plausible as the token count's own mean and
            // standard deviation, so that is how they are read, and said.
            log.mapped(
                path,
                format!(
                    "LogNormal mean {mu} / sigma {sigma} are not plausible in log space (a median \
                     of e^{mu} tokens): read as the token count's linear mean {mu} and standard \
                     deviation {sigma}; give mean = ln(median) to mean log space"
                ),
            );
            LengthDist::Lognormal {
                mu: None,
                sigma: None,
                mean: Some(mu),
                std: Some(sigma),
                min: None,
                max: None,
            }
        }
        Dist::LogNormal(mu, sigma) => LengthDist::Lognormal {
            mu: Some(mu),
            sigma: Some(sigma),
            mean: None,
            std: None,
            min: None,
            max: None,
        },
        Dist::Exponential(rate) => {
            let mean = 1.0 / rate;
            if !mean.is_finite() {
                return Err(invalid(
                    format!("{path}.rate"),
                    rate,
                    "too small: the mean length 1/rate is not a finite number",
                ));
            }
            LengthDist::Exponential {
                mean,
                min: None,
                max: None,
            }
        }
        Dist::Other("Pareto", Some((shape, scale))) => LengthDist::Pareto {
            scale,
            shape,
            min: None,
            max: None,
        },
        Dist::Other("Weibull", Some((shape, scale))) => LengthDist::Weibull {
            scale,
            shape,
            min: None,
            max: None,
        },
        Dist::Other("Gamma", Some((shape, scale))) => LengthDist::Gamma {
            shape,
            scale,
            min: None,
            max: None,
        },
        Dist::Other("Mixture", _) => {
            let params = d.params.clone().unwrap_or_default();
            let components = d
                .components
                .clone()
                .or(params.components)
                .unwrap_or_default();
            let components = components
                .iter()
                .enumerate()
                .map(|(j, c)| length(c, &format!("{path}.components[{j}]"), log))
                .collect::<Result<Vec<_>>>()?;
            LengthDist::Mixture {
                components,
                weights: d.weights.clone().or(params.weights),
            }
        }
        other => {
            return Err(invalid(
                format!("{path}.type"),
                name(&other),
                "not supported for token lengths",
            ));
        }
    })
}

fn name(d: &Dist) -> &'static str {
    match d {
        Dist::Constant(_) => "Constant",
        Dist::Exponential(_) => "Exponential",
        Dist::Uniform(..) => "Uniform",
        Dist::Normal(..) => "Normal",
        Dist::LogNormal(..) => "LogNormal",
        Dist::Other(n, _) => n,
    }
}
