//! Identifiability of the fitted parameters: how well the data pin α, β, γ down.

use serde::{Deserialize, Serialize};

use crate::loss::Dataset;

/// Condition number above which the fit is reported as poorly identified (the upstream
/// model-tuner's guard).
pub const CONDITION_LIMIT: f64 = 1000.0;
/// A parameter whose sensitivity is below this fraction of the largest one is reported as
/// negligible.
pub const NEGLIGIBLE_SENSITIVITY: f64 = 1e-3;

/// Relative step of the central differences in log-parameter space.
const STEP: f64 = 1e-4;

/// Local identifiability at the optimum from the Jacobian of the relative predictions
/// (`TTFT_pred/TTFT_obs`, `ITL_pred/ITL_obs`, one row each per point) with respect to
/// `log α, log β, log γ`.
///
/// # Formula
/// ```text
/// J[r][j] = ∂(pred_r/obs_r)/∂log θ_j ≈ (f(θ_j(1+h)) − f(θ_j(1−h))) / 2h,   h = 1e-4
/// sensitivity_j = ‖J[·][j]‖₂,   condition = σ_max(J)/σ_min(J)
/// ```
/// A parameter at exactly 0 has sensitivity 0 (it has no effect in log space), so the
/// condition number is then infinite.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identifiability {
    /// `σ_max/σ_min` of the Jacobian (∞ when singular, NaN when it could not be computed).
    /// In JSON a non-finite value is the string `"inf"` or `"nan"` (JSON numbers cannot be
    /// either); `null`, as older versions wrote, reads as NaN.
    #[serde(with = "nonfinite")]
    pub condition_number: f64,
    /// Column norms of the Jacobian for α, β, γ (NaN when they could not be computed; JSON as
    /// for `condition_number`).
    #[serde(with = "nonfinite::array")]
    pub sensitivities: [f64; 3],
    /// Human-readable warnings (empty when the fit is well identified).
    pub warnings: Vec<String>,
}

impl Identifiability {
    /// True when there are no warnings.
    #[must_use]
    pub fn is_identified(&self) -> bool {
        self.warnings.is_empty()
    }

    /// Always evaluated in `f64` (float32 quantisation would hide small sensitivities).
    pub(crate) fn assess(data: &Dataset, theta: [f64; 3]) -> Self {
        let mut data = data.clone();
        data.arithmetic = perf_model_core::inferno::Arithmetic::F64;
        let data = &data;
        let rel = |t: [f64; 3]| -> Option<Vec<f64>> {
            let a = data.analyze(t).ok()?;
            Some(
                data.points
                    .iter()
                    .zip(&a)
                    .flat_map(|(p, a)| [a.ttft_ms / p.point.ttft_ms, a.itl_ms / p.point.itl_ms])
                    .collect(),
            )
        };
        let Some(base) = rel(theta) else {
            return Self {
                condition_number: f64::NAN,
                sensitivities: [f64::NAN; 3],
                warnings: vec![
                    "identifiability: the model cannot be evaluated at the optimum".into(),
                ],
            };
        };
        let rows = base.len();
        let mut jac = vec![[0.0f64; 3]; rows];
        for j in 0..3 {
            if theta[j] <= 0.0 {
                continue;
            }
            let mut up = theta;
            up[j] *= 1.0 + STEP;
            let mut down = theta;
            down[j] *= 1.0 - STEP;
            let col: Option<Vec<f64>> = match (rel(up), rel(down)) {
                (Some(u), Some(d)) => Some(
                    u.iter()
                        .zip(&d)
                        .map(|(u, d)| (u - d) / (2.0 * STEP))
                        .collect(),
                ),
                (None, Some(d)) => Some(base.iter().zip(&d).map(|(b, d)| (b - d) / STEP).collect()),
                (Some(u), None) => Some(u.iter().zip(&base).map(|(u, b)| (u - b) / STEP).collect()),
                (None, None) => None,
            };
            if let Some(col) = col {
                for (r, v) in col.into_iter().enumerate() {
                    jac[r][j] = v;
                }
            }
        }
        let sensitivities: [f64; 3] =
            std::array::from_fn(|j| jac.iter().map(|r| r[j] * r[j]).sum::<f64>().sqrt());
        let mut jtj = [[0.0f64; 3]; 3];
        for r in &jac {
            for a in 0..3 {
                for b in 0..3 {
                    jtj[a][b] += r[a] * r[b];
                }
            }
        }
        let eig = symmetric_eigenvalues(jtj);
        let max = eig.iter().copied().fold(0.0f64, f64::max);
        let min = eig.iter().copied().fold(f64::INFINITY, f64::min).max(0.0);
        let condition_number = if min > max * 1e-300 && min > 0.0 {
            (max / min).sqrt()
        } else {
            f64::INFINITY
        };
        let mut warnings = Vec::new();
        if condition_number > CONDITION_LIMIT {
            warnings.push(format!(
                "parameters are poorly identified: condition number of the log-parameter \
                 Jacobian is {condition_number:.3e} (> {CONDITION_LIMIT})"
            ));
        }
        let top = sensitivities.iter().copied().fold(0.0f64, f64::max);
        for (name, s) in [("beta", sensitivities[1]), ("gamma", sensitivities[2])] {
            if s <= NEGLIGIBLE_SENSITIVITY * top {
                warnings.push(format!(
                    "{name} has negligible effect on the predictions (sensitivity {s:.3e} vs \
                     {top:.3e}): the data cannot pin {name} down"
                ));
            }
        }
        Self {
            condition_number,
            sensitivities,
            warnings,
        }
    }
}

/// serde for `f64` values that may be ∞ or NaN: finite values as JSON numbers, the others as
/// the strings `"inf"`, `"-inf"`, `"nan"`; reads numbers, those strings and `null` (→ NaN).
mod nonfinite {
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("nan")
        } else if *v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    struct F64Visitor;

    impl<'de> Visitor<'de> for F64Visitor {
        type Value = f64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a number, \"inf\", \"-inf\", \"nan\" or null")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        #[allow(clippy::cast_precision_loss)]
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        #[allow(clippy::cast_precision_loss)]
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            match v.trim().to_ascii_lowercase().as_str() {
                "inf" | "+inf" | "infinity" | "+infinity" => Ok(f64::INFINITY),
                "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
                "nan" => Ok(f64::NAN),
                _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
            Ok(f64::NAN)
        }
        fn visit_none<E: de::Error>(self) -> Result<f64, E> {
            Ok(f64::NAN)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<f64, D::Error> {
            d.deserialize_any(F64Visitor)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        d.deserialize_any(F64Visitor)
    }

    /// The same for `[f64; 3]`.
    pub mod array {
        use serde::ser::SerializeTuple;
        use serde::{Deserialize, Deserializer, Serializer};

        /// One element, through the parent module's rules.
        #[derive(serde::Serialize, Deserialize)]
        struct Elem(#[serde(with = "super")] f64);

        pub fn serialize<S: Serializer>(v: &[f64; 3], s: S) -> Result<S::Ok, S::Error> {
            let mut t = s.serialize_tuple(3)?;
            for x in v {
                t.serialize_element(&Elem(*x))?;
            }
            t.end()
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[f64; 3], D::Error> {
            let [a, b, c] = <[Elem; 3]>::deserialize(d)?;
            Ok([a.0, b.0, c.0])
        }
    }
}

/// Eigenvalues of a symmetric 3×3 matrix (cyclic Jacobi rotations).
fn symmetric_eigenvalues(mut a: [[f64; 3]; 3]) -> [f64; 3] {
    for _ in 0..64 {
        let off = a[0][1].abs() + a[0][2].abs() + a[1][2].abs();
        let scale = a[0][0].abs() + a[1][1].abs() + a[2][2].abs();
        if off <= 1e-15 * scale || off == 0.0 {
            break;
        }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            if a[p][q] == 0.0 {
                continue;
            }
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let t = if theta == 0.0 { 1.0 } else { t };
            let c = 1.0 / (t * t + 1.0).sqrt();
            let s = t * c;
            let mut b = a;
            for k in 0..3 {
                b[k][p] = c * a[k][p] - s * a[k][q];
                b[k][q] = s * a[k][p] + c * a[k][q];
            }
            let mut d = b;
            for k in 0..3 {
                d[p][k] = c * b[p][k] - s * b[q][k];
                d[q][k] = s * b[p][k] + c * b[q][k];
            }
            a = d;
        }
    }
    [a[0][0], a[1][1], a[2][2]]
}

#[cfg(test)]
mod tests {
    use super::{Identifiability, symmetric_eigenvalues};

    #[test]
    fn non_finite_values_round_trip_through_json() {
        let id = Identifiability {
            condition_number: f64::INFINITY,
            sensitivities: [1.5, f64::NAN, 0.0],
            warnings: vec!["w".into()],
        };
        let text = serde_json::to_string(&id).unwrap();
        assert!(
            text.contains(r#""condition_number":"inf""#) && text.contains(r#"[1.5,"nan",0.0]"#),
            "{text}"
        );
        let back: Identifiability = serde_json::from_str(&text).unwrap();
        assert_eq!(back.condition_number.to_bits(), f64::INFINITY.to_bits());
        assert!(back.sensitivities[1].is_nan());
        assert_eq!(back.sensitivities[0].to_bits(), 1.5f64.to_bits());
        // What older versions wrote for a non-finite value.
        let old: Identifiability = serde_json::from_str(
            r#"{"condition_number":null,"sensitivities":[1,null,2],"warnings":[]}"#,
        )
        .unwrap();
        assert!(old.condition_number.is_nan() && old.sensitivities[1].is_nan());
        assert_eq!(old.sensitivities[2].to_bits(), 2.0f64.to_bits());
        assert!(
            serde_json::from_str::<Identifiability>(
                r#"{"condition_number":"big","sensitivities":[1,1,1],"warnings":[]}"#
            )
            .is_err()
        );
    }

    #[test]
    fn eigenvalues_of_known_matrix() {
        let mut e = symmetric_eigenvalues([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 5.0]]);
        e.sort_by(f64::total_cmp);
        for (got, want) in e.iter().zip([1.0, 3.0, 5.0]) {
            assert!((got - want).abs() < 1e-12, "{e:?}");
        }
    }
}
