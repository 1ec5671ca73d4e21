//! Our particle swarm (pyswarms 1.3.0 `GlobalBestPSO` reproduced, plus options) on the unit cube.
//!
//! RNG discipline: one seeded xoshiro256++, drawn on the coordinating thread in a fixed order
//! (initial positions, initial velocities, then per iteration one draw for each
//! [`Schedule::Random`] coefficient in the order w, c1, c2, the r1 matrix and the r2 matrix,
//! particle-major, then any draws of the `Random` boundary), so a parallel run equals a serial
//! one bit for bit and a checkpoint needs only the generator state. Constant and deterministic
//! schedules draw nothing, so they leave the sequence of the seed-style swarm unchanged.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{PsoError, Result};
use crate::schedule::Schedule;
use crate::space::periodic;

/// How a coordinate leaving `[0, 1]` is brought back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Boundary {
    /// pyswarms' periodic wrap (the seed's).
    Periodic,
    /// Mirror at the bound, velocity reversed.
    #[default]
    Reflect,
    /// Clamp to the bound, velocity zeroed.
    Clamp,
    /// A fresh uniform coordinate.
    Random,
}

/// Neighbourhood whose best each particle is drawn to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Topology {
    /// The whole swarm (the seed's).
    #[default]
    Global,
    /// Particles `i − k … i + k` (mod n).
    Ring {
        /// Neighbours on each side.
        k: usize,
    },
}

/// The inertia schedule: the coefficient [`Schedule`] applied to `w` (the name predates the
/// `c1`/`c2` schedules; `InertiaSchedule::Constant`, `LinDecay`, `ExpDecay` keep their meaning).
pub type InertiaSchedule = Schedule;

/// Initial velocities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum VelocityInit {
    /// `U[0, 1)` per dimension (the seed's).
    Seed,
    /// `U[−s, s]` (the range is 1 on the unit cube).
    #[default]
    Scaled,
}

/// PSO parameters. `Default` is ours (constriction coefficients); [`PsoParams::seed_defaults`]
/// the seed's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PsoParams {
    /// Swarm size (1…999).
    pub n_particles: usize,
    /// Iterations (1…999); each evaluates the whole swarm once.
    pub iters: usize,
    /// Cognitive coefficient.
    pub c1: f64,
    /// Social coefficient.
    pub c2: f64,
    /// Inertia weight (start value of a schedule).
    pub w: f64,
    /// Schedule of `w` (the seed's `[pso_strategy] w`). Note that our `exp_decay` tag is the
    /// geometric [`Schedule::ExpDecay`]; a seed file's `exp_decay` becomes [`Schedule::LiGao`].
    pub inertia: InertiaSchedule,
    /// Schedule of `c1`, from the start value `c1` (the seed's `[pso_strategy] c1`).
    #[serde(skip_serializing_if = "Schedule::is_constant")]
    pub c1_schedule: Schedule,
    /// Schedule of `c2`, from the start value `c2` (the seed's `[pso_strategy] c2`).
    #[serde(skip_serializing_if = "Schedule::is_constant")]
    pub c2_schedule: Schedule,
    /// Topology.
    pub topology: Topology,
    /// Boundary handling.
    pub boundary: Boundary,
    /// Velocity initialisation.
    pub velocity_init: VelocityInit,
    /// Scale `s` of [`VelocityInit::Scaled`] (0.1).
    pub velocity_init_scale: f64,
    /// Optional clamp of |v| per coordinate.
    pub velocity_clamp: Option<f64>,
    /// Relative tolerance for early stopping; −∞ disables it.
    pub ftol: f64,
    /// Consecutive iterations within `ftol` needed to stop.
    pub ftol_iter: usize,
    /// RNG seed.
    pub seed: u64,
}

impl Default for PsoParams {
    fn default() -> Self {
        Self {
            n_particles: 20,
            iters: 20,
            c1: 1.496_18,
            c2: 1.496_18,
            w: 0.7298,
            inertia: InertiaSchedule::Constant,
            c1_schedule: Schedule::Constant,
            c2_schedule: Schedule::Constant,
            topology: Topology::Global,
            boundary: Boundary::Reflect,
            velocity_init: VelocityInit::Scaled,
            velocity_init_scale: 0.1,
            velocity_clamp: None,
            ftol: f64::NEG_INFINITY,
            ftol_iter: 1,
            seed: 0,
        }
    }
}

impl PsoParams {
    /// The seed's defaults: 5 particles, 10 iterations, c1 = c2 = 2, w = 1.8, periodic
    /// boundaries, `U[0, 1)` velocities, global best.
    #[must_use]
    pub fn seed_defaults() -> Self {
        Self {
            n_particles: 5,
            iters: 10,
            c1: 2.0,
            c2: 2.0,
            w: 1.8,
            boundary: Boundary::Periodic,
            velocity_init: VelocityInit::Seed,
            ..Self::default()
        }
    }

    /// Checks ranges and schedules ([`Schedule::check`]: finite, non-negative over the run);
    /// warns (tracing) when `w ≥ 1` or `c1 + c2 ≥ 2(1 + w)` (divergent swarm, start values).
    ///
    /// # Errors
    /// [`PsoError::InvalidParam`] naming the parameter.
    pub fn check(&self) -> Result<()> {
        let bad = |name: &'static str, value: String, reason: &str| {
            Err(PsoError::InvalidParam {
                name,
                value,
                reason: reason.to_owned(),
            })
        };
        if !(1..=999).contains(&self.n_particles) {
            return bad(
                "n_particles",
                self.n_particles.to_string(),
                "must be in 1..=999",
            );
        }
        if !(1..=999).contains(&self.iters) {
            return bad("iters", self.iters.to_string(), "must be in 1..=999");
        }
        for (name, v) in [
            ("c1", self.c1),
            ("c2", self.c2),
            ("w", self.w),
            ("velocity_init_scale", self.velocity_init_scale),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(name, v.to_string(), "must be finite and >= 0");
            }
        }
        if let Some(c) = self.velocity_clamp
            && !(c.is_finite() && c > 0.0)
        {
            return bad("velocity_clamp", c.to_string(), "must be finite and > 0");
        }
        if self.ftol.is_nan() {
            return bad("ftol", "NaN".into(), "must be a number (-inf disables)");
        }
        if self.ftol_iter == 0 {
            return bad("ftol_iter", "0".into(), "must be >= 1");
        }
        if let Topology::Ring { k } = self.topology
            && k == 0
        {
            return bad("topology.k", "0".into(), "must be >= 1");
        }
        self.inertia.check("w schedule", self.w, self.iters)?;
        self.c1_schedule.check("c1 schedule", self.c1, self.iters)?;
        self.c2_schedule.check("c2 schedule", self.c2, self.iters)?;
        if self.w >= 1.0 || self.c1 + self.c2 >= 2.0 * (1.0 + self.w) {
            tracing::warn!(
                w = self.w,
                c1 = self.c1,
                c2 = self.c2,
                "PSO coefficients outside the convergent region"
            );
        }
        Ok(())
    }

    /// Inertia at iteration `i` ([`Schedule::value`] of `inertia` from `w`). A
    /// [`Schedule::Random`] inertia is shown at its mean (draw ½); the swarm draws it.
    #[must_use]
    pub fn inertia_at(&self, i: usize) -> f64 {
        let draw = if self.inertia.needs_draw() { 0.5 } else { 0.0 };
        self.inertia.value(self.w, i, self.iters, draw)
    }

    /// `(w, c1, c2)` at iteration `i`, given the uniform draws `[w, c1, c2]` a
    /// [`Schedule::Random`] uses (ignored by the other schedules).
    #[must_use]
    pub fn coefficients_at(&self, i: usize, draws: [f64; 3]) -> (f64, f64, f64) {
        (
            self.inertia.value(self.w, i, self.iters, draws[0]),
            self.c1_schedule.value(self.c1, i, self.iters, draws[1]),
            self.c2_schedule.value(self.c2, i, self.iters, draws[2]),
        )
    }

    /// `true` when a schedule's values depend on `iters`: a checkpoint is then tied to the
    /// iteration count (the tuner's fingerprint should keep `iters`).
    #[must_use]
    pub fn schedules_depend_on_iters(&self) -> bool {
        self.inertia.depends_on_iters()
            || self.c1_schedule.depends_on_iters()
            || self.c2_schedule.depends_on_iters()
    }
}

/// Serialises an f64 that may be +∞ as `null`.
mod inf_as_null {
    use serde::{Deserialize, Deserializer, Serializer};
    #[allow(clippy::trivially_copy_pass_by_ref)]
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }
}

pub(crate) use inf_as_null::{deserialize as de_inf, serialize as ser_inf};

/// One particle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Particle {
    /// Position in the unit cube.
    pub position: Vec<f64>,
    /// Velocity.
    pub velocity: Vec<f64>,
    /// Personal-best position.
    pub best_position: Vec<f64>,
    /// Personal-best cost (+∞ = none yet; `null` in JSON).
    #[serde(serialize_with = "ser_inf", deserialize_with = "de_inf")]
    pub best_cost: f64,
}

/// The whole swarm state, RNG included: enough to continue a run exactly.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SwarmState {
    /// Next iteration to run (0-based).
    pub iteration: usize,
    /// The particles.
    pub particles: Vec<Particle>,
    /// Global-best position.
    pub best_position: Vec<f64>,
    /// Global-best cost.
    #[serde(serialize_with = "ser_inf", deserialize_with = "de_inf")]
    pub best_cost: f64,
    /// Recent `ftol` flags.
    pub ftol_flags: Vec<bool>,
    /// Set when `ftol` stopped the run.
    pub converged: bool,
    /// The generator.
    pub rng: Xoshiro256PlusPlus,
}

impl SwarmState {
    /// Initial swarm: positions `U[0, 1]`, then velocities, drawn in that order.
    #[must_use]
    pub fn init(params: &PsoParams, dims: usize) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.seed);
        let positions: Vec<Vec<f64>> = (0..params.n_particles)
            .map(|_| (0..dims).map(|_| rng.random::<f64>()).collect())
            .collect();
        let velocities: Vec<Vec<f64>> = (0..params.n_particles)
            .map(|_| {
                (0..dims)
                    .map(|_| match params.velocity_init {
                        VelocityInit::Seed => rng.random::<f64>(),
                        VelocityInit::Scaled => {
                            params.velocity_init_scale * (2.0 * rng.random::<f64>() - 1.0)
                        }
                    })
                    .collect()
            })
            .collect();
        let particles = positions
            .into_iter()
            .zip(velocities)
            .map(|(p, v)| Particle {
                best_position: p.clone(),
                position: p,
                velocity: v,
                best_cost: f64::INFINITY,
            })
            .collect();
        Self {
            iteration: 0,
            particles,
            best_position: vec![0.0; dims],
            best_cost: f64::INFINITY,
            ftol_flags: Vec::new(),
            converged: false,
            rng,
        }
    }

    /// Records the costs of the current positions: personal bests (strict), global best
    /// (strict), `ftol` flags.
    ///
    /// # Errors
    /// [`PsoError::EvaluatorContract`] when `costs` has the wrong length.
    pub fn tell(&mut self, params: &PsoParams, costs: &[f64]) -> Result<()> {
        if costs.len() != self.particles.len() {
            return Err(PsoError::EvaluatorContract {
                expected: self.particles.len(),
                got: costs.len(),
            });
        }
        for (p, &c) in self.particles.iter_mut().zip(costs) {
            let c = if c.is_nan() { f64::INFINITY } else { c };
            if c < p.best_cost {
                p.best_cost = c;
                p.best_position.clone_from(&p.position);
            }
        }
        let previous = self.best_cost;
        if let Some(b) = self.best_particle() {
            let p = &self.particles[b];
            if p.best_cost < self.best_cost {
                self.best_cost = p.best_cost;
                self.best_position.clone_from(&p.best_position);
            }
        }
        if params.ftol > f64::NEG_INFINITY {
            let flag = (self.best_cost - previous).abs() < params.ftol * (1.0 + previous.abs());
            self.ftol_flags.push(flag);
            if self.ftol_flags.len() > params.ftol_iter {
                self.ftol_flags.remove(0);
            }
            if self.iteration >= params.ftol_iter && self.ftol_flags.iter().all(|&f| f) {
                self.converged = true;
            }
        }
        Ok(())
    }

    /// Index of the particle with the lowest personal-best cost (first on ties).
    #[must_use]
    pub fn best_particle(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, p) in self.particles.iter().enumerate() {
            if best.is_none_or(|b| p.best_cost < self.particles[b].best_cost) {
                best = Some(i);
            }
        }
        best
    }

    fn social_best(&self, params: &PsoParams, i: usize) -> Vec<f64> {
        match params.topology {
            Topology::Global => self.best_position.clone(),
            Topology::Ring { k } => {
                let n = self.particles.len();
                let mut best = i;
                for off in 1..=k.min(n) {
                    for j in [(i + off) % n, (i + n - off % n) % n] {
                        if self.particles[j].best_cost < self.particles[best].best_cost {
                            best = j;
                        }
                    }
                }
                self.particles[best].best_position.clone()
            }
        }
    }

    /// Moves the swarm (velocity and position update, boundary handling) and advances the
    /// iteration counter.
    pub fn step(&mut self, params: &PsoParams) {
        let n = self.particles.len();
        let d = self.best_position.len();
        let draw = |rng: &mut Xoshiro256PlusPlus| -> Vec<Vec<f64>> {
            (0..n)
                .map(|_| (0..d).map(|_| rng.random::<f64>()).collect())
                .collect()
        };
        // schedule draws (w, c1, c2; only those that are `Random`) precede r1 and r2, as
        // pyswarms updates its options before computing velocities
        let mut sched = [0.0; 3];
        for (slot, s) in
            sched
                .iter_mut()
                .zip([&params.inertia, &params.c1_schedule, &params.c2_schedule])
        {
            if s.needs_draw() {
                *slot = self.rng.random::<f64>();
            }
        }
        let r1 = draw(&mut self.rng);
        let r2 = draw(&mut self.rng);
        let (w, c1, c2) = params.coefficients_at(self.iteration, sched);
        let socials: Vec<Vec<f64>> = (0..n).map(|i| self.social_best(params, i)).collect();
        for (i, p) in self.particles.iter_mut().enumerate() {
            for j in 0..d {
                let mut v = w * p.velocity[j]
                    + c1 * r1[i][j] * (p.best_position[j] - p.position[j])
                    + c2 * r2[i][j] * (socials[i][j] - p.position[j]);
                if let Some(c) = params.velocity_clamp {
                    v = v.clamp(-c, c);
                }
                let mut x = p.position[j] + v;
                if !(0.0..=1.0).contains(&x) {
                    match params.boundary {
                        Boundary::Periodic => x = periodic(x, 0.0, 1.0),
                        Boundary::Reflect => {
                            while !(0.0..=1.0).contains(&x) && x.is_finite() {
                                x = if x < 0.0 { -x } else { 2.0 - x };
                            }
                            v = -v;
                        }
                        Boundary::Clamp => {
                            x = x.clamp(0.0, 1.0);
                            v = 0.0;
                        }
                        Boundary::Random => x = self.rng.random::<f64>(),
                    }
                    if !x.is_finite() {
                        x = 0.5;
                    }
                }
                p.velocity[j] = v;
                p.position[j] = x;
            }
        }
        self.iteration += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_update_example_with_periodic_bounds() {
        // w 1.8, c1 = c2 = 2, x 900, v 0.5, pbest 950, gbest 1000, r1 0.25, r2 0.75 on [10, 1000]
        let v: f64 = 1.8 * 0.5 + 2.0 * 0.25 * (950.0 - 900.0) + 2.0 * 0.75 * (1000.0 - 900.0);
        assert!((v - 175.9).abs() < 1e-12);
        let x = periodic(900.0 + v, 10.0, 1000.0);
        assert_eq!(x.to_bits(), 85.900_000_000_000_09_f64.to_bits());
    }

    #[test]
    fn sphere_converges_and_is_reproducible() {
        let params = PsoParams {
            n_particles: 12,
            iters: 40,
            seed: 3,
            ..PsoParams::default()
        };
        let run = || {
            let mut s = SwarmState::init(&params, 3);
            for _ in 0..params.iters {
                let costs: Vec<f64> = s
                    .particles
                    .iter()
                    .map(|p| p.position.iter().map(|x| (x - 0.3) * (x - 0.3)).sum())
                    .collect();
                s.tell(&params, &costs).unwrap();
                s.step(&params);
            }
            s
        };
        let (a, b) = (run(), run());
        assert!(a.best_cost < 1e-4, "{}", a.best_cost);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        for boundary in [Boundary::Periodic, Boundary::Clamp, Boundary::Random] {
            let p = PsoParams {
                boundary,
                topology: Topology::Ring { k: 1 },
                inertia: InertiaSchedule::LinDecay { end: 0.4 },
                ..params.clone()
            };
            let mut s = SwarmState::init(&p, 2);
            for _ in 0..5 {
                s.tell(&p, &[1.0; 12]).unwrap();
                s.step(&p);
                assert!(
                    s.particles
                        .iter()
                        .all(|q| q.position.iter().all(|x| (0.0..=1.0).contains(x)))
                );
            }
        }
    }

    /// A `Random` schedule draws once per iteration before r1 and r2; deterministic schedules
    /// draw nothing; the velocity uses the scheduled coefficients.
    #[test]
    fn schedules_enter_the_velocity_update_in_draw_order() {
        let base = PsoParams {
            n_particles: 1,
            iters: 4,
            seed: 11,
            w: 0.9,
            c1: 1.5,
            c2: 1.2,
            boundary: Boundary::Clamp,
            ..PsoParams::default()
        };
        let params = PsoParams {
            inertia: Schedule::Random { end: 0.4 },
            c1_schedule: Schedule::LinVariation { end: 0.5 },
            ..base.clone()
        };
        params.check().unwrap();
        let mut s = SwarmState::init(&params, 1);
        s.particles[0].best_position = vec![0.8];
        s.best_position = vec![0.2];
        s.iteration = 2;
        let (x0, v0) = (s.particles[0].position[0], s.particles[0].velocity[0]);
        let mut rng = s.rng.clone();
        let dw: f64 = rng.random();
        let r1: f64 = rng.random();
        let r2: f64 = rng.random();
        s.step(&params);
        let w = 0.9 + (0.4 - 0.9) * dw;
        let c1 = 0.5 + (1.5 - 0.5) * (4.0 - 2.0) / 4.0;
        let v = w * v0 + c1 * r1 * (0.8 - x0) + 1.2 * r2 * (0.2 - x0);
        let x = (x0 + v).clamp(0.0, 1.0);
        assert_eq!(s.particles[0].position[0].to_bits(), x.to_bits());
        // after the step the generator has advanced by exactly three draws
        assert_eq!(s.rng, rng);
        // deterministic schedules draw nothing: same generator state as constant coefficients
        let det = PsoParams {
            inertia: Schedule::LinVariation { end: 0.4 },
            c2_schedule: Schedule::NonlinMod { end: 0.6, n: 1.2 },
            ..base.clone()
        };
        let (mut a, mut b) = (SwarmState::init(&det, 2), SwarmState::init(&base, 2));
        a.step(&det);
        b.step(&base);
        assert_eq!(a.rng, b.rng);
        assert!(det.schedules_depend_on_iters() && !base.schedules_depend_on_iters());
        // constant schedules are not serialised (checkpoint fingerprints stay as they were)
        let json = serde_json::to_string(&base).unwrap();
        assert!(!json.contains("c1_schedule"), "{json}");
    }

    #[test]
    fn negative_schedule_is_rejected() {
        let p = PsoParams {
            c2: 2.0,
            c2_schedule: Schedule::PyswarmsExpDecay {
                end: 2.0,
                d1: 0.2,
                d2: 7.0,
            },
            ..PsoParams::seed_defaults()
        };
        assert!(p.check().unwrap_err().to_string().contains("c2 schedule"));
    }

    #[test]
    fn rng_pinned() {
        let mut r = Xoshiro256PlusPlus::seed_from_u64(2024);
        assert_eq!(r.random::<u64>(), 9_674_054_429_496_410_833);
    }

    #[test]
    fn bad_params() {
        assert!(
            PsoParams {
                n_particles: 0,
                ..PsoParams::default()
            }
            .check()
            .is_err()
        );
        assert!(
            PsoParams {
                c1: f64::NAN,
                ..PsoParams::default()
            }
            .check()
            .is_err()
        );
        assert!(PsoParams::seed_defaults().check().is_ok());
    }
}
