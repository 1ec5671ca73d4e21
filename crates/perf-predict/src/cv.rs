//! Seeded k-fold cross-validation and train/test reports (MAPE, RMSE, R²).

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{PredictError, Result};
use crate::linear::LinearModel;
use crate::predictor::StageModel;
use crate::trees::{ForestParams, GbdtParams};

/// Which model to train, with its hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Trainer {
    /// [`LinearModel::fit`] (minimum-norm least squares).
    Linear,
    /// Gradient-boosted trees.
    Gbdt(GbdtParams),
    /// Random forest.
    Forest(ForestParams),
}

impl Trainer {
    /// Fits a stage model.
    ///
    /// # Errors
    /// The fit's errors (bad rows, too few rows, bad parameters).
    pub fn fit(&self, x: &[Vec<f64>], y: &[f64]) -> Result<StageModel> {
        Ok(match self {
            Trainer::Linear => StageModel::Linear(LinearModel::fit(x, y)?),
            Trainer::Gbdt(p) => StageModel::Gbdt(p.fit(x, y)?),
            Trainer::Forest(p) => StageModel::Forest(p.fit(x, y)?),
        })
    }

    /// `linear`, `gbdt` or `forest`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Trainer::Linear => "linear",
            Trainer::Gbdt(_) => "gbdt",
            Trainer::Forest(_) => "forest",
        }
    }
}

/// Error metrics of predictions against measurements.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Number of predictions scored.
    pub rows: usize,
    /// Mean absolute percentage error, % (rows with a zero measurement are skipped).
    pub mape: f64,
    /// Root-mean-square error, in the target's unit.
    pub rmse: f64,
    /// Coefficient of determination `1 − SS_res/SS_tot` (can be negative; 0 if `SS_tot = 0`).
    pub r2: f64,
}

impl Metrics {
    /// Scores `pred` against `truth` (pairs beyond the shorter slice are ignored).
    ///
    /// # Examples
    /// ```
    /// use perf_predict::cv::Metrics;
    /// let m = Metrics::score(&[1.0, 2.0, 4.0], &[1.1, 2.0, 3.6]);
    /// assert!((m.mape - 20.0 / 3.0).abs() < 1e-9);
    /// ```
    #[must_use]
    pub fn score(truth: &[f64], pred: &[f64]) -> Self {
        let n = truth.len().min(pred.len());
        let (t, p) = (&truth[..n], &pred[..n]);
        let mut ape = 0.0;
        let mut ape_n = 0usize;
        let mut sse = 0.0;
        for (a, b) in t.iter().zip(p) {
            if *a != 0.0 {
                ape += ((b - a) / a).abs();
                ape_n += 1;
            }
            sse += (b - a) * (b - a);
        }
        let mean = if n > 0 {
            t.iter().sum::<f64>() / n as f64
        } else {
            0.0
        };
        let sst: f64 = t.iter().map(|v| (v - mean) * (v - mean)).sum();
        Self {
            rows: n,
            mape: if ape_n > 0 {
                100.0 * ape / ape_n as f64
            } else {
                0.0
            },
            rmse: if n > 0 { (sse / n as f64).sqrt() } else { 0.0 },
            r2: if sst > 0.0 { 1.0 - sse / sst } else { 0.0 },
        }
    }
}

/// Result of [`cross_validate`]: metrics over the pooled out-of-fold predictions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CvReport {
    /// The model kind.
    pub model: String,
    /// Number of folds.
    pub folds: usize,
    /// The seed of the shuffle.
    pub seed: u64,
    /// Scores of the out-of-fold predictions (every row predicted once, by a model that did
    /// not see it).
    pub metrics: Metrics,
}

/// A seeded permutation of `0..n` (Fisher–Yates on Xoshiro256++, portable).
pub(crate) fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        idx.swap(i, j);
    }
    idx
}

/// k-fold cross-validation: the rows are shuffled with `seed`, split into `k` folds of
/// near-equal size, and each fold is predicted by a model trained on the others.
///
/// # Errors
/// [`PredictError::InvalidParam`] unless `2 ≤ k ≤ rows`, [`PredictError::LengthMismatch`], and
/// any error of the fits (a training fold with a single distinct shape, for instance).
pub fn cross_validate(
    trainer: &Trainer,
    x: &[Vec<f64>],
    y: &[f64],
    k: usize,
    seed: u64,
) -> Result<CvReport> {
    if x.len() != y.len() {
        return Err(PredictError::LengthMismatch {
            rows: x.len(),
            targets: y.len(),
        });
    }
    let n = x.len();
    if k < 2 || k > n {
        return Err(PredictError::InvalidParam {
            name: "k",
            value: k.to_string(),
            reason: "folds must be in 2..=rows",
        });
    }
    let perm = permutation(n, seed);
    let mut pred = vec![0.0; n];
    for fold in 0..k {
        let (lo, hi) = (fold * n / k, (fold + 1) * n / k);
        let test = &perm[lo..hi];
        let (tx, ty): (Vec<Vec<f64>>, Vec<f64>) = perm[..lo]
            .iter()
            .chain(&perm[hi..])
            .map(|&i| (x[i].clone(), y[i]))
            .unzip();
        let model = trainer.fit(&tx, &ty)?;
        for &i in test {
            pred[i] = model.predict_seconds(&x[i])?;
        }
    }
    tracing::debug!(model = trainer.name(), k, "cross-validation done");
    let metrics = Metrics::score(y, &pred);
    if ![metrics.mape, metrics.rmse, metrics.r2]
        .iter()
        .all(|v| v.is_finite())
    {
        return Err(PredictError::Degenerate(format!(
            "cross-validation scores are not finite (MAPE {}, RMSE {}, R² {}): the latencies are out of range",
            metrics.mape, metrics.rmse, metrics.r2
        )));
    }
    Ok(CvReport {
        model: trainer.name().to_owned(),
        folds: k,
        seed,
        metrics,
    })
}

/// A train/test report: metrics on the training rows and on a held-out fraction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoldoutReport {
    /// The model kind.
    pub model: String,
    /// Scores on the training rows.
    pub train: Metrics,
    /// Scores on the held-out rows.
    pub test: Metrics,
}

/// Holds out `round(test_fraction · rows)` shuffled rows (at least 1), trains on the rest and
/// scores both parts.
///
/// # Errors
/// [`PredictError::InvalidParam`] unless `0 < test_fraction < 1` leaves rows on both sides;
/// the fit's errors.
pub fn holdout(
    trainer: &Trainer,
    x: &[Vec<f64>],
    y: &[f64],
    test_fraction: f64,
    seed: u64,
) -> Result<HoldoutReport> {
    if x.len() != y.len() {
        return Err(PredictError::LengthMismatch {
            rows: x.len(),
            targets: y.len(),
        });
    }
    let n = x.len();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked 0 < f < 1
    let n_test = if test_fraction > 0.0 && test_fraction < 1.0 {
        ((test_fraction * n as f64).round() as usize).max(1)
    } else {
        0
    };
    if n_test == 0 || n_test >= n {
        return Err(PredictError::InvalidParam {
            name: "test_fraction",
            value: test_fraction.to_string(),
            reason: "must be in (0, 1) and leave rows on both sides",
        });
    }
    let perm = permutation(n, seed);
    let (test, train) = perm.split_at(n_test);
    let pick = |idx: &[usize]| -> (Vec<Vec<f64>>, Vec<f64>) {
        idx.iter().map(|&i| (x[i].clone(), y[i])).unzip()
    };
    let (tx, ty) = pick(train);
    let (vx, vy) = pick(test);
    let model = trainer.fit(&tx, &ty)?;
    let score = |xs: &[Vec<f64>], ys: &[f64]| -> Result<Metrics> {
        let p = xs
            .iter()
            .map(|r| model.predict_seconds(r))
            .collect::<Result<Vec<f64>>>()?;
        Ok(Metrics::score(ys, &p))
    };
    Ok(HoldoutReport {
        model: trainer.name().to_owned(),
        train: score(&tx, &ty)?,
        test: score(&vx, &vy)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::Stage;
    use approx::assert_relative_eq;

    fn data() -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for bs in [1.0, 2.0, 4.0, 8.0, 16.0] {
            for l in [16.0, 64.0, 256.0, 1024.0] {
                x.push(Stage::Decode.features(bs, l).to_vec());
                y.push(0.007 + 1e-5 * bs + 5e-8 * bs * l);
            }
        }
        (x, y)
    }

    #[test]
    fn permutation_is_seeded_and_complete() {
        let a = permutation(50, 7);
        assert_eq!(a, permutation(50, 7));
        assert_ne!(a, permutation(50, 8));
        let mut s = a.clone();
        s.sort_unstable();
        assert_eq!(s, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn linear_cv_on_exact_data_is_perfect() {
        let (x, y) = data();
        let r = cross_validate(&Trainer::Linear, &x, &y, 5, 1).unwrap();
        assert_eq!(r.metrics.rows, 20);
        assert!(r.metrics.mape < 1e-8, "{r:?}");
        assert_relative_eq!(r.metrics.r2, 1.0, max_relative = 1e-10);
        assert_eq!(r, cross_validate(&Trainer::Linear, &x, &y, 5, 1).unwrap());
    }

    #[test]
    fn bad_k_and_fraction() {
        let (x, y) = data();
        for k in [0, 1, 21] {
            assert!(matches!(
                cross_validate(&Trainer::Linear, &x, &y, k, 1),
                Err(PredictError::InvalidParam { name: "k", .. })
            ));
        }
        for f in [0.0, 1.0, f64::NAN, -0.5] {
            assert!(
                matches!(
                    holdout(&Trainer::Linear, &x, &y, f, 1),
                    Err(PredictError::InvalidParam { .. })
                ),
                "{f}"
            );
        }
        let h = holdout(&Trainer::Linear, &x, &y, 0.2, 3).unwrap();
        assert_eq!((h.train.rows, h.test.rows), (16, 4));
    }

    #[test]
    fn trees_cross_validate_and_are_seeded() {
        let (x, y) = data();
        let small = GbdtParams {
            trees: 20,
            ..GbdtParams::default()
        };
        let g = cross_validate(&Trainer::Gbdt(small.clone()), &x, &y, 4, 2).unwrap();
        assert!(g.metrics.mape.is_finite());
        assert_eq!(
            g,
            cross_validate(&Trainer::Gbdt(small), &x, &y, 4, 2).unwrap()
        );
        let f = cross_validate(&Trainer::Forest(ForestParams::default()), &x, &y, 4, 2).unwrap();
        assert!(f.metrics.mape.is_finite());
        assert_eq!(
            f,
            cross_validate(&Trainer::Forest(ForestParams::default()), &x, &y, 4, 2).unwrap()
        );
    }
}
