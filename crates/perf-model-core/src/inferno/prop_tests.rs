//! Property tests: the fast analyzer against the pre-issue-18 implementation
//! ([`super::reference`]) on random parameter sets, and the batch APIs against single solves.

use super::reference::{self, Fields, Model, Problem, RefAnalyzer, RefError};
use super::*;
use crate::Error;

/// SplitMix64: a small deterministic generator (no dev-dependency needed).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let u = (self.next_u64() >> 11) as f64;
        u / (1_u64 << 53) as f64
    }
    /// Log-uniform in `[lo, hi]`.
    fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + self.unit() * (hi.ln() - lo.ln())).exp()
    }
    /// Integer log-uniform in `[lo, hi]`.
    fn int(&mut self, lo: u32, hi: u32) -> u32 {
        let x = self.log_uniform(f64::from(lo), f64::from(hi) + 1.0).floor();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = x as u32;
        i.clamp(lo, hi)
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// A random problem: every model and arithmetic, parameters over several decades, batch
/// sizes 1–1024, queues 0–2048, token budgets 64–32768.
fn random_problem(rng: &mut Rng) -> Problem {
    let model = match rng.next_u64() % 3 {
        0 => Model::V3,
        1 => Model::V6,
        _ => Model::V7,
    };
    let alpha = if rng.chance(0.05) {
        0.0
    } else {
        rng.log_uniform(0.05, 200.0)
    };
    let beta = if rng.chance(0.1) {
        0.0
    } else {
        rng.log_uniform(1e-5, 1.0)
    };
    let gamma = if rng.chance(0.1) {
        0.0
    } else {
        rng.log_uniform(1e-8, 1e-2)
    };
    let n = if rng.chance(0.05) {
        0.0
    } else {
        rng.log_uniform(1.0, 16384.0)
    };
    let m = rng.log_uniform(1.0, 4096.0);
    let max_batch = rng.int(1, 1024);
    let max_queue = if rng.chance(0.1) { 0 } else { rng.int(1, 2048) };
    let max_tokens = rng.int(64, 32768);
    Problem {
        model,
        alpha,
        beta,
        gamma,
        n,
        m,
        max_batch,
        max_queue,
        max_tokens,
        f32: rng.chance(0.3),
    }
}

fn analyzer_of(p: &Problem) -> Result<Analyzer, Error> {
    let model = match p.model {
        Model::V3 => QueueModel::V3,
        Model::V6 => QueueModel::V6,
        Model::V7 => QueueModel::V7,
    };
    Analyzer::new(
        model,
        ServiceParams::new(p.alpha, p.beta, p.gamma)?,
        RequestShape::new(p.n, p.m)?,
        QueueConfig::new(p.max_batch, p.max_queue)?.with_max_num_tokens(p.max_tokens)?,
    )?
    .with_arithmetic(if p.f32 {
        Arithmetic::GoFloat32
    } else {
        Arithmetic::F64
    })
}

fn fields(a: &Analysis) -> Fields {
    [
        a.offered_rps,
        a.throughput_rps,
        a.response_ms,
        a.wait_ms,
        a.in_service,
        a.in_system,
        a.prefill_ms,
        a.ttft_ms,
        a.itl_ms,
        a.rho,
        a.max_rate_rps,
        a.min_rate_rps,
        a.blocking,
    ]
}

const NAMES: [&str; 13] = [
    "offered",
    "throughput",
    "response",
    "wait",
    "in_service",
    "in_system",
    "prefill",
    "ttft",
    "itl",
    "rho",
    "max_rate",
    "min_rate",
    "blocking",
];

/// Relative tolerance of the fast analyzer against the reference.
const TOLERANCE: f64 = 1e-12;

/// The scale field `i` of `f` is compared at: the field itself, except the mean wait
/// `W = max(0, R − S̄)` and TTFT (which adds `W`): they are differences of two figures of the
/// size of the response time `R`, so a last-bit change of `R` or `S̄` moves them by `ε·R`
/// whatever their own size, and they are compared relative to `R` (the condition of that
/// subtraction). The blocking probability has an absolute floor of 1e-300 (below it the old
/// value was subnormal).
fn scale(f: &Fields, i: usize) -> f64 {
    match NAMES[i] {
        "wait" | "ttft" => f[i].abs().max(f[2].abs()),
        "blocking" => f[i].abs().max(1e-300 / TOLERANCE),
        _ => f[i].abs(),
    }
}

fn rel(a: f64, b: f64, scale: f64) -> f64 {
    if a.to_bits() == b.to_bits() {
        0.0
    } else {
        (a - b).abs() / scale
    }
}

/// Double-double arithmetic (≈ 106-bit significands) for the exact chain moments.
#[derive(Clone, Copy, Debug)]
struct Dd(f64, f64);

impl Dd {
    fn new(x: f64) -> Self {
        Self(x, 0.0)
    }
    fn two_sum(a: f64, b: f64) -> Self {
        let s = a + b;
        let bb = s - a;
        Self(s, (a - (s - bb)) + (b - bb))
    }
    fn add(self, o: Self) -> Self {
        let s = Self::two_sum(self.0, o.0);
        let t = Self::two_sum(self.1, o.1);
        let s = Self::two_sum(s.0, s.1 + t.0);
        Self::two_sum(s.0, s.1 + t.1)
    }
    fn mul(self, o: Self) -> Self {
        let p = self.0 * o.0;
        let e = self.0.mul_add(o.0, -p);
        Self::two_sum(p, e + (self.0 * o.1 + self.1 * o.0))
    }
    fn scale(self, k: f64) -> Self {
        // k a power of two: exact.
        Self(self.0 * k, self.1 * k)
    }
    fn div(self, o: Self) -> Self {
        let q1 = self.0 / o.0;
        let r = self.add(o.mul(Self::new(-q1)));
        let q2 = r.0 / o.0;
        let r = r.add(o.mul(Self::new(-q2)));
        let q3 = r.0 / o.0;
        Self::two_sum(q1, q2).add(Self::new(q3))
    }
    fn get(self) -> f64 {
        self.0 + self.1
    }
}

/// The chain's moments `[E[X], B̄, p_K, 1 − p_K]` in double-double with exact ratios `λ/μ`,
/// with every sum of positive terms (the queue mass for `B̄`, `Σ_{k<K} p_k` for `1 − p_K`)
/// kept apart so that nothing cancels: the truth, to ~1e-30 relative, for a given `μ` table.
fn exact_moments(mu: &[f64], queue: u32, lambda: f64) -> [f64; 4] {
    let n = mu.len();
    let k_max = n + queue as usize;
    let ratio = |k: usize| Dd::new(lambda).div(Dd::new(mu[k.min(n) - 1]));
    let (mut p, mut s0, mut s1) = (Dd::new(1.0), Dd::new(1.0), Dd::new(0.0));
    let (mut serv1, mut queue_mass, mut before) = (Dd::new(0.0), Dd::new(0.0), Dd::new(1.0));
    let down = 2.0_f64.powi(-600);
    for k in 1..=k_max {
        p = p.mul(ratio(k));
        if p.0 > 2.0_f64.powi(600) {
            for v in [
                &mut p,
                &mut s0,
                &mut s1,
                &mut serv1,
                &mut queue_mass,
                &mut before,
            ] {
                *v = v.scale(down);
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let kp = p.mul(Dd::new(k as f64));
        s0 = s0.add(p);
        s1 = s1.add(kp);
        if k <= n {
            serv1 = serv1.add(kp);
        } else {
            queue_mass = queue_mass.add(p);
        }
        if k < k_max {
            before = before.add(p);
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let nn = Dd::new(n as f64);
    [
        s1.div(s0).get(),
        serv1.add(nn.mul(queue_mass)).div(s0).get(),
        p.div(s0).get(),
        before.div(s0).get(),
    ]
}

/// Outcome of comparing one solve with the reference.
#[derive(Default)]
struct Tally {
    /// Field comparisons made.
    fields: u64,
    /// Fields within [`TOLERANCE`] of the reference.
    equal: u64,
    /// Fields beyond it where the reference itself is off (its f64 chain cancels) and the fast
    /// result is the closer one to the exact-moment evaluation.
    reference_off: u64,
    /// Largest relative difference among the fields within tolerance, and its name.
    worst: (f64, &'static str),
    /// Largest relative difference of the reference from the exact-moment evaluation where
    /// it was off, and the field.
    worst_reference: (f64, &'static str),
    /// Fields where the reference was off, by name.
    off_fields: std::collections::BTreeMap<&'static str, u32>,
}

impl Tally {
    /// Compares `new` with `old`; fields beyond tolerance are judged against the
    /// exact-moment evaluation `exact()` (computed only then).
    fn check(
        &mut self,
        new: &Fields,
        old: &Fields,
        exact: impl FnOnce() -> Fields,
        context: &dyn Fn() -> String,
    ) {
        let mut exact_fields: Option<Fields> = None;
        let mut exact = Some(exact);
        for i in 0..13 {
            self.fields += 1;
            let d = rel(new[i], old[i], scale(old, i));
            if d <= TOLERANCE {
                self.equal += 1;
                if d > self.worst.0 {
                    self.worst = (d, NAMES[i]);
                }
                continue;
            }
            let t = *exact_fields.get_or_insert_with(|| (exact.take().expect("once"))());
            let (dn, dold) = (
                rel(new[i], t[i], scale(&t, i)),
                rel(old[i], t[i], scale(&t, i)),
            );
            assert!(
                dn <= TOLERANCE && dn < dold,
                "{}: {} differs by {d:e} from the reference; from the exact-moment evaluation \
                 new {dn:e}, reference {dold:e}\nnew   {new:?}\nold   {old:?}\nexact {t:?}",
                context(),
                NAMES[i]
            );
            self.reference_off += 1;
            *self.off_fields.entry(NAMES[i]).or_default() += 1;
            if dold > self.worst_reference.0 {
                self.worst_reference = (dold, NAMES[i]);
            }
        }
    }

    fn report(&self, what: &str) {
        eprintln!(
            "{what}: {} fields, {} within {TOLERANCE:e} of the reference (worst {:e}, {}), \
             {} where the reference's f64 chain is off by up to {:e} ({}) and the fast result \
             is the closer one to the exact moments; by field {:?}",
            self.fields,
            self.equal,
            self.worst.0,
            self.worst.1,
            self.reference_off,
            self.worst_reference.0,
            self.worst_reference.1,
            self.off_fields
        );
    }
}

fn same_error(new: &Error, old: RefError) -> bool {
    matches!(
        (new, old),
        (
            Error::Inconsistent(_),
            RefError::Build | RefError::NonFinite
        ) | (Error::RateAboveCapacity { .. }, RefError::AboveCapacity)
            | (Error::TargetUnreachable { .. }, RefError::Unreachable)
    )
}

/// Rates to probe for a problem: the range ends, a log-uniform spread from 1e-3 to 3 times
/// the top of the range, and the exact top.
fn rates(rng: &mut Rng, min: f64, max: f64) -> Vec<f64> {
    let mut r = vec![min, max, 0.5 * max, 0.999 * max];
    for _ in 0..12 {
        r.push(max * rng.log_uniform(1e-3, 3.0));
    }
    r
}

/// `solve` agrees with the pre-speed-up implementation to 1e-12 relative on 3000 random
/// problems × 16 rates (every model, f64 and f32-parity arithmetic, light load to 3× overload,
/// the range ends); errors agree in kind. Where a field differs by more, the reference's own
/// f64 chain is the one that is off (its `B̄` takes the queue mass as a difference of two
/// sums ≈ 1): the fast result must then be the closer one to the same post-chain formulas fed
/// with exactly computed (double-double) moments, and within 1e-12 of them.
#[test]
fn solve_matches_reference_on_random_problems() {
    let mut rng = Rng(0x1818_2026);
    let mut tally = Tally::default();
    for case in 0..3000 {
        let p = random_problem(&mut rng);
        let old = RefAnalyzer::new(p);
        let new = analyzer_of(&p);
        let (old, new) = match (old, new) {
            (Ok(o), Ok(n)) => (o, n),
            (Err(o), Err(n)) => {
                assert!(same_error(&n, o), "case {case} {p:?}: {n} vs {o:?}");
                continue;
            }
            (o, n) => panic!("case {case} {p:?}: build {:?} vs {:?}", n.err(), o.err()),
        };
        let (min, max) = old.range();
        assert_eq!(
            (new.rate_range().min_rps, new.rate_range().max_rps),
            (min, max),
            "case {case}"
        );
        for rate in rates(&mut rng, min, max) {
            match (new.solve(rate), old.solve(rate)) {
                (Ok(n), Ok(o)) => {
                    let exact = || {
                        #[allow(clippy::cast_possible_truncation)]
                        let lambda = if p.f32 {
                            f64::from(rate as f32 / 1000.0_f32)
                        } else {
                            rate / 1000.0
                        };
                        let m = exact_moments(old.mu(), p.max_queue, lambda);
                        old.solve_with_moments(rate, m).expect("finite")
                    };
                    tally.check(&fields(&n), &o, exact, &|| {
                        format!("case {case} rate {rate} {p:?}")
                    });
                }
                (Err(n), Err(o)) => assert!(same_error(&n, o), "case {case}: {n} vs {o:?}"),
                (n, o) => panic!("case {case} rate {rate} {p:?}: {n:?} vs {o:?}"),
            }
        }
    }
    assert!(tally.fields > 30_000 * 13, "{}", tally.fields);
    // The reference is off only in rare corners (light load with a cancelling B̄).
    assert!(
        tally.reference_off * 1000 < tally.fields,
        "{}",
        tally.reference_off
    );
    tally.report("solve");
}

/// `size` agrees with the pre-speed-up implementation to 1e-12 relative (λ*, the per-target
/// rates and the analysis at λ*, judged as in the `solve` test) on 600 random problems with
/// random TTFT/ITL/TPS targets.
///
/// A target on a metric that is flat over the whole rate range (within 1e-9, e.g. ITL with
/// N = 1) is skipped: the search direction is then decided by the last bits of the two end
/// values (upstream computes `increasing = f(lo) < f(hi)`), so either outcome is a correct
/// reading of the model; such cases are counted and must stay rare.
#[test]
fn size_matches_reference_on_random_problems() {
    let mut rng = Rng(0x5122_2026);
    let mut tally = Tally::default();
    let (mut checked, mut flat, mut worst_rate) = (0_u32, 0_u32, 0.0_f64);
    for case in 0..600 {
        let p = random_problem(&mut rng);
        let (Ok(old), Ok(new)) = (RefAnalyzer::new(p), analyzer_of(&p)) else {
            continue;
        };
        // Targets between the value at λmin and a bit above the value at λmax.
        let (min, max) = old.range();
        let (Ok(lo), Ok(hi)) = (old.solve(min), old.solve(max)) else {
            continue;
        };
        let pick = |rng: &mut Rng, i: usize| {
            let (a, b) = (lo[i], hi[i].max(lo[i]) * 1.05);
            (a + rng.unit() * (b - a)).max(1e-9)
        };
        let targets = SloTargets {
            ttft_ms: rng.chance(0.8).then(|| pick(&mut rng, 7)),
            itl_ms: rng.chance(0.8).then(|| pick(&mut rng, 8)),
            tps: rng.chance(0.2).then_some(100.0),
        };
        let is_flat = |i: usize| (hi[i] - lo[i]).abs() <= 1e-9 * lo[i].abs();
        if (targets.ttft_ms.is_some() && is_flat(7)) || (targets.itl_ms.is_some() && is_flat(8)) {
            flat += 1;
            continue;
        }
        let got = new.size(&targets);
        let want = old.size(targets.ttft_ms, targets.itl_ms, targets.tps);
        match (got, want) {
            (Ok(s), Ok((rate, r_ttft, r_itl, r_tps, analysis))) => {
                let opt = |a: Option<f64>, b: Option<f64>| match (a, b) {
                    (Some(a), Some(b)) => rel(a, b, b.abs()),
                    (None, None) => 0.0,
                    _ => f64::INFINITY,
                };
                let rates = [
                    rel(s.rate_rps, rate, rate.abs()),
                    opt(s.rate_ttft_rps, r_ttft),
                    opt(s.rate_itl_rps, r_itl),
                    opt(s.rate_tps_rps, r_tps),
                ];
                let r = rates.iter().copied().fold(0.0, f64::max);
                assert!(
                    r <= TOLERANCE,
                    "case {case} {p:?} {targets:?}: rates {rates:?}"
                );
                worst_rate = worst_rate.max(r);
                let exact = || {
                    #[allow(clippy::cast_possible_truncation)]
                    let lambda = if p.f32 {
                        f64::from(rate as f32 / 1000.0_f32)
                    } else {
                        rate / 1000.0
                    };
                    let m = exact_moments(old.mu(), p.max_queue, lambda);
                    old.solve_with_moments(rate, m).expect("finite")
                };
                tally.check(&fields(&s.analysis), &analysis, exact, &|| {
                    format!("case {case} {p:?} {targets:?}")
                });
                checked += 1;
            }
            (Err(n), Err(o)) => assert!(same_error(&n, o), "case {case}: {n} vs {o:?}"),
            (n, o) => panic!("case {case} {p:?} {targets:?}: {n:?} vs {o:?}"),
        }
    }
    assert!(checked > 300, "{checked}");
    assert!(flat < 30, "{flat}");
    eprintln!(
        "size: {checked} sizings, rates within {worst_rate:e}, {flat} flat-metric cases skipped"
    );
    tally.report("size analysis");
}

/// The tables (μ(B), the rate range) are bit-for-bit those of the reference.
#[test]
fn tables_match_reference_bit_for_bit() {
    let mut rng = Rng(0x007A_B1E5);
    for case in 0..2000 {
        let p = random_problem(&mut rng);
        let (Ok(old), Ok(new)) = (RefAnalyzer::new(p), analyzer_of(&p)) else {
            continue;
        };
        for (b, &mu) in (1..).zip(old.mu()) {
            assert_eq!(
                new.service_rate(b).map(f64::to_bits),
                Some(mu.to_bits()),
                "case {case} B={b} {p:?}"
            );
        }
    }
}

/// Unused-import guard: the reference module is reachable from here only.
#[test]
fn reference_module_is_standalone() {
    let p = Problem {
        model: Model::V7,
        alpha: 12.0,
        beta: 0.05,
        gamma: 5e-4,
        n: 128.0,
        m: 512.0,
        max_batch: 48,
        max_queue: 128,
        max_tokens: 8192,
        f32: false,
    };
    let a = reference::RefAnalyzer::new(p).unwrap().solve(3.0).unwrap();
    assert!((a[7] - 67.6146).abs() < 1e-3);
}

fn bits(r: &Result<Analysis, Error>) -> Result<[u64; 13], String> {
    match r {
        Ok(a) => Ok(fields(a).map(f64::to_bits)),
        Err(e) => Err(e.to_string()),
    }
}

/// [`Analyzer::solve_rates`] equals [`Analyzer::solve`] bit for bit, errors included, on 500
/// random problems × 23 rates (full groups of four and a remainder; invalid, above-capacity
/// and overloaded rates mixed in, so groups fall back to single solves too).
#[test]
fn solve_rates_equals_solve_bit_for_bit() {
    let mut rng = Rng(0xBA7C_4001);
    let mut compared = 0;
    for case in 0..500 {
        let p = random_problem(&mut rng);
        let Ok(a) = analyzer_of(&p) else { continue };
        let (min, max) = (a.rate_range().min_rps, a.rate_range().max_rps);
        let mut rates = rates(&mut rng, min, max);
        rates.extend([
            0.7 * max,
            1.2 * max,
            0.3 * max,
            0.9 * max,
            2.0 * max,
            0.01 * max,
        ]);
        if case % 5 == 0 {
            rates[6] = f64::NAN;
        }
        if case % 7 == 0 {
            rates[13] = 0.0;
        }
        rates.push(max * 1e15); // x beyond 2^32 for most problems: the sequential fallback
        assert_eq!(rates.len(), 23);
        let batch = a.solve_rates(&rates);
        assert_eq!(batch.len(), rates.len());
        for (rate, got) in rates.iter().zip(&batch) {
            assert_eq!(
                bits(got),
                bits(&a.solve(*rate)),
                "case {case} rate {rate} {p:?}"
            );
            compared += 1;
        }
        let mut out = vec![a.solve(1.0)];
        a.solve_rates_into(&rates[..5], &mut out);
        assert_eq!(out.len(), 6);
        assert_eq!(bits(&out[5]), bits(&batch[4]));
    }
    assert!(compared > 8000, "{compared}");
}

/// [`ParamSweep`] equals `Analyzer::new` + `solve` bit for bit on 300 random shapes and
/// configurations × 8 parameter sets each, one of them invalid (α = β = γ = 0): the error is
/// the same and the sweep keeps its previous parameters.
#[test]
fn param_sweep_equals_new_and_solve_bit_for_bit() {
    let mut rng = Rng(0x5EE9_0002);
    let mut compared = 0;
    for case in 0..300 {
        let p = random_problem(&mut rng);
        let Ok(first) = analyzer_of(&p) else { continue };
        let rate = first.rate_range().max_rps * rng.log_uniform(0.01, 2.0);
        let mut sweep = ParamSweep::new(first.clone());
        let mut sets = Vec::new();
        for i in 0..8 {
            let q = if i == 3 {
                Problem {
                    alpha: 0.0,
                    beta: 0.0,
                    gamma: 0.0,
                    ..p
                }
            } else {
                let other = random_problem(&mut rng);
                Problem {
                    alpha: other.alpha,
                    beta: other.beta,
                    gamma: other.gamma,
                    ..p
                }
            };
            sets.push(q);
        }
        let params: Vec<ServiceParams> = sets
            .iter()
            .map(|q| ServiceParams::new(q.alpha, q.beta, q.gamma).unwrap())
            .collect();
        let swept = sweep.solve_params(&params, rate);
        let mut last_ok = first.clone();
        for (q, got) in sets.iter().zip(&swept) {
            let want = analyzer_of(q).and_then(|a| {
                let r = a.solve(rate);
                last_ok = a;
                r
            });
            assert_eq!(bits(got), bits(&want), "case {case} {q:?}");
            compared += 1;
        }
        // After the sweep the analyzer is the last one that built (the invalid set left the
        // previous parameters in place), table for table.
        assert_eq!(sweep.analyzer(), &last_ok, "case {case}");
        let err = sweep.set_params(params[3]).unwrap_err();
        assert!(matches!(err, Error::Inconsistent(_)), "{err}");
        assert_eq!(sweep.analyzer(), &last_ok, "case {case}");
    }
    assert!(compared > 2000, "{compared}");
}
