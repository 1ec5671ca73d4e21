//! Coefficient schedules: how the inertia `w` and the acceleration coefficients `c1`, `c2` vary
//! over the iterations (the seed's `[pso_strategy]`, specs/tuning.md §2.1).
//!
//! The seed parses `[pso_strategy] w, c1, c2` (pyswarms 1.3.0 `OptionsHandler` names:
//! `exp_decay`, `nonlin_mod`, `lin_variation`, `random`) and never hands them to pyswarms, so its
//! coefficients stay constant. We apply them. Formulas, from pyswarms 1.3.0
//! `pyswarms/backend/handlers.py` (read from the released wheel), with `s` the start value (the
//! configured coefficient), `e` the end value, `i` the 0-based iteration and `T` the number of
//! iterations (pyswarms calls the handler with `iternow = i`, `itermax = T` before each velocity
//! update, so the last iteration is `i = T − 1` and the end value is approached, not reached):
//!
//! ```text
//! lin_variation  e + (s − e)·(T − i)/T                              (Shi & Eberhart 1999)
//! nonlin_mod     e + (s − e)·(T − i)^n / T^n,        n = 1.2        (Chatterjee & Siarry 2006)
//! exp_decay      (s − e − d1)·exp(1/(1 + d2·i/T)),   d1 = 0.2, d2 = 7   (Li & Gao 2009)
//! random         s + (e − s)·r,                      r ~ U[0, 1)    (Eberhart & Shi 2001)
//! ```
//! pyswarms' default end values: `w` 0.4, `c1` 0.8·s, `c2` 1·s (so a `c2` schedule with the
//! default end is constant). The pyswarms 1.3.0 defaults are d1 = 0.2, d2 = 7 (the Li & Gao
//! paper's), not 2.
//!
//! **`exp_decay` decision.** The verbatim formula only spans [e, s] for the paper's own constants
//! (w 0.95 → 0.4: 0.35·e ≈ 0.951 down to 0.35·e^{1/8} ≈ 0.397). With the shipped seed settings
//! (w 1.8, c1 = c2 = 2) it gives w 3.26 → 1.36, c1 0.54 → 0.23 and c2 −0.54 → −0.23: a negative
//! social coefficient pushes particles *away* from the best. So a seed file's `exp_decay` maps to
//! [`Schedule::LiGao`]: the paper's curve exp(1/(1 + d2·τ)), τ = i/T, rescaled to start at `s`
//! (τ = 0) and end at `e` (τ = 1); `d1` only shifts the verbatim level and drops out. The
//! verbatim formula stays available as [`Schedule::PyswarmsExpDecay`] for reproducing pyswarms
//! numbers; [`Schedule::check`] rejects it where it goes negative.
//!
//! **`random` decision.** pyswarms 1.3.0 reads `kwargs["end_opts"]` unconditionally, and
//! `GlobalBestPSO` never passes `end_opts`, so `random` raises `KeyError` there: there is no seed
//! behaviour to reproduce. We use its docstring ("random value between start option and end
//! option") with the same default ends as the other schedules. The draw `r` comes from the
//! swarm's seeded generator (see [`crate::pso`] for the draw order), so a run is reproducible.

use serde::{Deserialize, Serialize};

use crate::error::{PsoError, Result};

/// Which coefficient a schedule drives (it decides the seed's default end value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coefficient {
    /// Inertia `w` (default end 0.4).
    W,
    /// Cognitive coefficient `c1` (default end 0.8·start).
    C1,
    /// Social coefficient `c2` (default end 1·start).
    C2,
}

impl Coefficient {
    /// pyswarms 1.3.0's default end value for this coefficient: `w` 0.4, `c1` 0.8·start,
    /// `c2` 1·start.
    #[must_use]
    pub fn default_end(self, start: f64) -> f64 {
        match self {
            Self::W => 0.4,
            Self::C1 => 0.8 * start,
            Self::C2 => start,
        }
    }
    /// The key name in `[pso_strategy]`.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::W => "w",
            Self::C1 => "c1",
            Self::C2 => "c2",
        }
    }
}

/// How a coefficient varies from its start value (the configured `w`, `c1` or `c2`) over the
/// iterations. `Constant` is the default; see the module documentation for the sources.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Schedule {
    /// The start value throughout.
    #[default]
    Constant,
    /// Linear from the start value to `end`, reached at the last iteration:
    /// `s + (end − s)·i/(T − 1)` (`s` when `T = 1`).
    LinDecay {
        /// Final value.
        end: f64,
    },
    /// Geometric from the start value to `end`, reached at the last iteration:
    /// `s·(end/s)^(i/(T − 1))` (`s` when `s` or `end` is not positive).
    ExpDecay {
        /// Final value.
        end: f64,
    },
    /// pyswarms `lin_variation`: `end + (s − end)·(T − i)/T`.
    LinVariation {
        /// End value (approached as `i → T`).
        end: f64,
    },
    /// pyswarms `nonlin_mod`: `end + (s − end)·(T − i)^n / T^n`.
    NonlinMod {
        /// End value (approached as `i → T`).
        end: f64,
        /// Modulation index (pyswarms default 1.2).
        n: f64,
    },
    /// Li & Gao's exponent curve anchored at both ends (what a seed `exp_decay` maps to):
    /// `end + (s − end)·(g(i/T) − g(1))/(g(0) − g(1))`, `g(τ) = exp(1/(1 + d2·τ))`.
    LiGao {
        /// End value (reached at τ = 1).
        end: f64,
        /// Curvature (paper and pyswarms default 7; must be > 0).
        d2: f64,
    },
    /// pyswarms `exp_decay` verbatim: `(s − end − d1)·exp(1/(1 + d2·i/T))`.
    PyswarmsExpDecay {
        /// End value as pyswarms names it (it is not where the curve ends).
        end: f64,
        /// Level shift (default 0.2).
        d1: f64,
        /// Curvature (default 7).
        d2: f64,
    },
    /// `s + (end − s)·r` with `r ~ U[0, 1)` drawn afresh every iteration from the swarm's RNG.
    Random {
        /// The other end of the interval.
        end: f64,
    },
}

impl Schedule {
    /// The schedule a seed `[pso_strategy]` name stands for, with pyswarms' default end value
    /// for `coefficient` and default parameters (n = 1.2, d2 = 7); `exp_decay` maps to
    /// [`Schedule::LiGao`] (see the module documentation for why).
    ///
    /// # Errors
    /// [`PsoError::Config`] naming `pso_strategy.<key>` for an unknown name.
    pub fn from_seed_name(name: &str, coefficient: Coefficient, start: f64) -> Result<Self> {
        let end = coefficient.default_end(start);
        match name.trim().to_ascii_lowercase().as_str() {
            "exp_decay" => Ok(Self::LiGao { end, d2: 7.0 }),
            "nonlin_mod" => Ok(Self::NonlinMod { end, n: 1.2 }),
            "lin_variation" => Ok(Self::LinVariation { end }),
            "random" => Ok(Self::Random { end }),
            "constant" | "" => Ok(Self::Constant),
            other => Err(PsoError::Config {
                path: format!("pso_strategy.{}", coefficient.key()),
                reason: format!(
                    "unknown strategy `{other}` (expected exp_decay, nonlin_mod, lin_variation \
                     or random)"
                ),
            }),
        }
    }

    /// `true` for [`Schedule::Constant`].
    #[must_use]
    pub fn is_constant(&self) -> bool {
        matches!(self, Self::Constant)
    }

    /// `true` when the value depends on the number of iterations `T` (everything but
    /// `Constant` and `Random`), so a checkpoint must not be resumed with another `T`.
    #[must_use]
    pub fn depends_on_iters(&self) -> bool {
        !matches!(self, Self::Constant | Self::Random { .. })
    }

    /// `true` when the value needs a uniform draw each iteration ([`Schedule::Random`]).
    #[must_use]
    pub fn needs_draw(&self) -> bool {
        matches!(self, Self::Random { .. })
    }

    /// The value at 0-based iteration `iter` of `iters`, from `start`; `draw ∈ [0, 1)` is used
    /// by [`Schedule::Random`] only. Pure: the caller draws from the swarm's generator.
    ///
    /// # Formula
    /// See the variants; τ = `iter/iters` for the pyswarms family, `iter/(iters − 1)` for
    /// `LinDecay` and `ExpDecay`.
    ///
    /// # Examples
    /// ```
    /// use perf_pso::Schedule;
    /// let s = Schedule::LinVariation { end: 0.4 };
    /// assert!((s.value(0.9, 5, 10, 0.0) - 0.65).abs() < 1e-12);
    /// ```
    #[must_use]
    pub fn value(&self, start: f64, iter: usize, iters: usize, draw: f64) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let (i, t) = (iter as f64, iters.max(1) as f64);
        #[allow(clippy::cast_precision_loss)]
        let frac_last = if iters > 1 {
            i / (iters - 1) as f64
        } else {
            0.0
        };
        match *self {
            Self::Constant => start,
            Self::LinDecay { end } => start + (end - start) * frac_last,
            Self::ExpDecay { end } => {
                if start > 0.0 && end > 0.0 {
                    start * (end / start).powf(frac_last)
                } else {
                    start
                }
            }
            Self::LinVariation { end } => end + (start - end) * (t - i) / t,
            Self::NonlinMod { end, n } => end + (start - end) * ((t - i).powf(n) / t.powf(n)),
            Self::LiGao { end, d2 } => {
                let g = |tau: f64| (1.0 / (1.0 + d2 * tau)).exp();
                let (g0, g1) = (g(0.0), g(1.0));
                end + (start - end) * (g(i / t) - g1) / (g0 - g1)
            }
            Self::PyswarmsExpDecay { end, d1, d2 } => {
                (start - end - d1) * (1.0 / (1.0 + d2 * i / t)).exp()
            }
            Self::Random { end } => start + (end - start) * draw,
        }
    }

    /// Checks the schedule's parameters and that its values over `iters` iterations from
    /// `start` stay finite and ≥ 0 (every variant is monotone in the iteration, so the first and
    /// last iterations — or both ends of `Random`'s interval — decide).
    ///
    /// # Errors
    /// [`PsoError::InvalidParam`] named `name` (e.g. `"c2 schedule"`) with the offending value.
    pub fn check(&self, name: &'static str, start: f64, iters: usize) -> Result<()> {
        let bad = |value: String, reason: String| {
            Err(PsoError::InvalidParam {
                name,
                value,
                reason,
            })
        };
        let params: Vec<(&str, f64)> = match *self {
            Self::Constant => Vec::new(),
            Self::LinDecay { end }
            | Self::ExpDecay { end }
            | Self::LinVariation { end }
            | Self::Random { end } => vec![("end", end)],
            Self::NonlinMod { end, n } => vec![("end", end), ("n", n)],
            Self::LiGao { end, d2 } => vec![("end", end), ("d2", d2)],
            Self::PyswarmsExpDecay { end, d1, d2 } => vec![("end", end), ("d1", d1), ("d2", d2)],
        };
        for (key, v) in &params {
            if !v.is_finite() {
                return bad(format!("{self:?}"), format!("{key} must be finite"));
            }
        }
        match *self {
            Self::NonlinMod { n, .. } if n <= 0.0 => {
                return bad(format!("{self:?}"), "n must be > 0".into());
            }
            Self::LiGao { d2, .. } if d2 <= 0.0 => {
                return bad(format!("{self:?}"), "d2 must be > 0".into());
            }
            Self::PyswarmsExpDecay { d2, .. } if d2 < 0.0 => {
                return bad(format!("{self:?}"), "d2 must be >= 0".into());
            }
            _ => {}
        }
        let last = iters.max(1) - 1;
        let ends = if self.needs_draw() {
            [
                self.value(start, 0, iters, 0.0),
                self.value(start, 0, iters, 1.0),
            ]
        } else {
            [
                self.value(start, 0, iters, 0.0),
                self.value(start, last, iters, 0.0),
            ]
        };
        for (at, v) in [(0, ends[0]), (last, ends[1])] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(
                    format!("{v}"),
                    format!(
                        "{self:?} from {start} gives {v} at iteration {at} of {iters}; \
                         coefficients must be finite and >= 0 (try lin_variation or li_gao)"
                    ),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values: integers, SLO bounds, parsed literals
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
    }

    /// Reference values from the pyswarms 1.3.0 formulas in Python (start 0.9, end 0.4,
    /// T = 10; iterations 0, 5 (mid), 9 (last)).
    #[test]
    fn pyswarms_formulas_at_first_mid_last() {
        let lin = Schedule::LinVariation { end: 0.4 };
        close(lin.value(0.9, 0, 10, 0.0), 0.9);
        close(lin.value(0.9, 5, 10, 0.0), 0.65);
        close(lin.value(0.9, 9, 10, 0.0), 0.45);
        let nl = Schedule::NonlinMod { end: 0.4, n: 1.2 };
        close(nl.value(0.9, 0, 10, 0.0), 0.9);
        close(nl.value(0.9, 5, 10, 0.0), 0.617_637_640_824_031);
        close(nl.value(0.9, 9, 10, 0.0), 0.431_547_867_224_009_7);
        let px = Schedule::PyswarmsExpDecay {
            end: 0.4,
            d1: 0.2,
            d2: 7.0,
        };
        close(px.value(0.9, 0, 10, 0.0), 0.815_484_548_537_713_5);
        close(px.value(0.9, 5, 10, 0.0), 0.374_654_660_700_504_6);
        close(px.value(0.9, 9, 10, 0.0), 0.344_043_731_596_008_9);
        // closed forms
        close(px.value(0.9, 0, 10, 0.0), 0.3 * std::f64::consts::E);
        close(px.value(0.9, 5, 10, 0.0), 0.3 * (1.0 / 4.5f64).exp());
    }

    #[test]
    fn li_gao_is_anchored_at_start_and_end() {
        let s = Schedule::LiGao { end: 0.4, d2: 7.0 };
        close(s.value(0.9, 0, 10, 0.0), 0.9);
        let g = |t: f64| (1.0 / (1.0 + 7.0 * t)).exp();
        let want = |i: f64| 0.4 + 0.5 * (g(i / 10.0) - g(1.0)) / (g(0.0) - g(1.0));
        close(s.value(0.9, 5, 10, 0.0), want(5.0));
        close(s.value(0.9, 5, 10, 0.0), 0.436_495_482_882_072_13);
        close(s.value(0.9, 9, 10, 0.0), 0.404_310_042_864_107_77);
        close(s.value(0.9, 10, 10, 0.0), 0.4);
    }

    #[test]
    fn lin_and_exp_decay_reach_the_end_at_the_last_iteration() {
        close(Schedule::LinDecay { end: 0.4 }.value(0.9, 9, 10, 0.0), 0.4);
        close(Schedule::LinDecay { end: 0.4 }.value(0.9, 0, 10, 0.0), 0.9);
        close(
            Schedule::ExpDecay { end: 0.4 }.value(0.9, 3, 7, 0.0),
            0.9 * (0.4f64 / 0.9).powf(0.5),
        );
        close(Schedule::Constant.value(0.7, 3, 7, 0.9), 0.7);
    }

    #[test]
    fn random_uses_the_draw() {
        let s = Schedule::Random { end: 0.4 };
        close(s.value(0.9, 3, 10, 0.0), 0.9);
        close(s.value(0.9, 3, 10, 0.5), 0.65);
        assert!(s.needs_draw() && !s.depends_on_iters());
    }

    #[test]
    fn seed_names_and_default_ends() {
        assert_eq!(
            Schedule::from_seed_name("exp_decay", Coefficient::W, 1.8).unwrap(),
            Schedule::LiGao { end: 0.4, d2: 7.0 }
        );
        assert_eq!(
            Schedule::from_seed_name("nonlin_mod", Coefficient::C1, 2.0).unwrap(),
            Schedule::NonlinMod { end: 1.6, n: 1.2 }
        );
        assert_eq!(
            Schedule::from_seed_name("lin_variation", Coefficient::C2, 2.0).unwrap(),
            Schedule::LinVariation { end: 2.0 }
        );
        assert_eq!(
            Schedule::from_seed_name(" Random ", Coefficient::C2, 2.0).unwrap(),
            Schedule::Random { end: 2.0 }
        );
        let e = Schedule::from_seed_name("cosine", Coefficient::C1, 2.0).unwrap_err();
        assert!(e.to_string().contains("pso_strategy.c1") && e.to_string().contains("cosine"));
    }

    #[test]
    fn verbatim_exp_decay_goes_negative_for_the_shipped_c2() {
        // c2 = 2 with pyswarms' default end (1·start): (2 − 2 − 0.2)·e < 0
        let s = Schedule::PyswarmsExpDecay {
            end: 2.0,
            d1: 0.2,
            d2: 7.0,
        };
        close(s.value(2.0, 0, 5, 0.0), -0.2 * std::f64::consts::E);
        let e = s.check("c2 schedule", 2.0, 5).unwrap_err().to_string();
        assert!(e.contains("c2 schedule") && e.contains(">= 0"), "{e}");
        assert!(
            Schedule::LiGao { end: 2.0, d2: 7.0 }
                .check("c2 schedule", 2.0, 5)
                .is_ok()
        );
        assert!(
            Schedule::NonlinMod { end: 0.4, n: 0.0 }
                .check("w schedule", 0.9, 5)
                .is_err()
        );
        assert!(
            Schedule::LinVariation { end: f64::NAN }
                .check("w schedule", 0.9, 5)
                .is_err()
        );
    }
}
