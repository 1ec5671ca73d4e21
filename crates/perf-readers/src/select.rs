//! Which benchmark points of a file are kept: explicit, with the Inferno-compatible default.

use perf_model_core::benchmark::DataWarning;
use perf_model_core::{BenchmarkPoint, BenchmarkPointData, DatasetMeta, PerfDataset};

use crate::error::{ReadError, Result};
use crate::point::Notes;

/// The load strategy a benchmark point ran under, as far as the file tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StrategyKind {
    /// One request at a time (GuideLLM `synchronous`).
    Synchronous,
    /// All requests at once, to find the maximum throughput (GuideLLM `throughput`).
    Throughput,
    /// Fixed request rate with regular arrivals (GuideLLM `constant`).
    Constant,
    /// Fixed mean rate with Poisson (or gamma, vLLM `burstiness`) arrivals.
    Poisson,
    /// Fixed number of concurrent streams (GuideLLM `concurrent`, vLLM/SGLang
    /// `max_concurrency` with an unlimited rate).
    Concurrent,
    /// The file does not say.
    Unknown,
}

impl StrategyKind {
    /// From a GuideLLM strategy name or label (`constant`, `constant@27.13`, `throughput`, …).
    #[must_use]
    pub fn from_label(label: &str) -> Self {
        let head = label.split('@').next().unwrap_or("").trim();
        match head.to_ascii_lowercase().as_str() {
            "synchronous" => Self::Synchronous,
            "throughput" => Self::Throughput,
            "constant" => Self::Constant,
            "poisson" => Self::Poisson,
            "concurrent" => Self::Concurrent,
            _ => Self::Unknown,
        }
    }
}

/// Which points to keep, and how many.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectRule {
    /// What the upstream Inferno (`llm-inferno/model-trainer`) reader of the same format keeps,
    /// so that fits reproduce its published numbers:
    ///
    /// | format | kept |
    /// |---|---|
    /// | GuideLLM CSV-as-JSON (both key styles) | rows whose strategy is not `throughput`, the first 7 |
    /// | GuideLLM HTML | index 1 (assumed `throughput`) dropped, then the first 7 |
    /// | GuideLLM JSON | all benchmarks, including synchronous and throughput |
    /// | Inferno native DataSet | all points |
    /// | formats Inferno does not read (GuideLLM CSV exports, vLLM, SGLang, Together, AISBench) | all |
    #[default]
    SeedCompatible,
    /// Every point in the file.
    All,
    /// Every point except throughput (saturation) runs.
    ExceptThroughput,
    /// Only points of these strategies.
    Only(Vec<StrategyKind>),
}

/// Point selection: a rule and an optional cap on the number of points.
///
/// The default is [`SelectRule::SeedCompatible`] with no extra cap: the Inferno readers'
/// behaviour (drop the throughput run and keep the first 7 points for the CSV-as-JSON and HTML
/// formats; keep everything for the others). The cap is applied after the rule, in file order.
///
/// # Examples
/// ```
/// use perf_readers::{SelectOptions, StrategyKind};
/// let constant7 = SelectOptions::only(&[StrategyKind::Constant]).with_max_points(7);
/// assert_eq!(constant7.max_points, Some(7));
/// assert_eq!(SelectOptions::default(), SelectOptions::seed_compatible());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelectOptions {
    /// Which points to keep.
    pub rule: SelectRule,
    /// Keep at most this many (after the rule), in file order.
    pub max_points: Option<usize>,
}

impl SelectOptions {
    /// The Inferno-compatible default ([`SelectRule::SeedCompatible`]).
    #[must_use]
    pub fn seed_compatible() -> Self {
        Self::default()
    }

    /// Every point.
    #[must_use]
    pub fn all() -> Self {
        Self {
            rule: SelectRule::All,
            max_points: None,
        }
    }

    /// Every point but throughput runs.
    #[must_use]
    pub fn except_throughput() -> Self {
        Self {
            rule: SelectRule::ExceptThroughput,
            max_points: None,
        }
    }

    /// Only the given strategies.
    #[must_use]
    pub fn only(kinds: &[StrategyKind]) -> Self {
        Self {
            rule: SelectRule::Only(kinds.to_vec()),
            max_points: None,
        }
    }

    /// The same selection, keeping at most `n` points.
    #[must_use]
    pub fn with_max_points(mut self, n: usize) -> Self {
        self.max_points = Some(n);
        self
    }
}

/// How a format's upstream reader selects points, for [`SelectRule::SeedCompatible`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum SeedRule {
    /// Keep all.
    All,
    /// Drop throughput runs, keep the first 7.
    DropThroughputFirst7,
}

/// A point read from a file, before selection: its strategy, the point (or why it does not
/// validate) and the values left out of it.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub kind: StrategyKind,
    pub label: Option<String>,
    pub point: std::result::Result<BenchmarkPoint, perf_model_core::Error>,
    pub notes: Notes,
}

impl Candidate {
    /// Validates `data`; a point that does not validate is an error only if the selection
    /// keeps it.
    pub(crate) fn new(kind: StrategyKind, notes: Notes, data: BenchmarkPointData) -> Self {
        Self {
            kind,
            label: data.label.clone(),
            point: BenchmarkPoint::new(data),
            notes,
        }
    }
}

/// Which candidates `opts` keeps, by index.
fn selected(kinds: &[StrategyKind], opts: &SelectOptions, seed: SeedRule) -> Vec<bool> {
    let (keep, seed_cap): (Box<dyn Fn(StrategyKind) -> bool>, Option<usize>) = match &opts.rule {
        SelectRule::SeedCompatible => match seed {
            SeedRule::All => (Box::new(|_| true), None),
            SeedRule::DropThroughputFirst7 => {
                (Box::new(|k| k != StrategyKind::Throughput), Some(7))
            }
        },
        SelectRule::All => (Box::new(|_| true), None),
        SelectRule::ExceptThroughput => (Box::new(|k| k != StrategyKind::Throughput), None),
        SelectRule::Only(kinds) => {
            let kinds = kinds.clone();
            (Box::new(move |k| kinds.contains(&k)), None)
        }
    };
    let cap = match (seed_cap, opts.max_points) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(usize::MAX),
    };
    let mut taken = 0;
    kinds
        .iter()
        .map(|&k| {
            let take = keep(k) && taken < cap;
            taken += usize::from(take);
            take
        })
        .collect()
}

/// Applies the selection to the candidates read from `path`: the kept points, and a warning
/// for every value left out (of kept points, and of points the selection drops: those also
/// for a point that does not validate).
///
/// # Errors
/// [`ReadError::Invalid`] for the first kept point that does not validate.
pub(crate) fn apply(
    candidates: Vec<Candidate>,
    opts: &SelectOptions,
    seed: SeedRule,
    path: &str,
) -> Result<(Vec<BenchmarkPoint>, Vec<DataWarning>)> {
    let kinds: Vec<StrategyKind> = candidates.iter().map(|c| c.kind).collect();
    let keep = selected(&kinds, opts, seed);
    let mut points = Vec::new();
    let mut warnings = Vec::new();
    for (c, keep) in candidates.into_iter().zip(keep) {
        let location = c.notes.location.to_string();
        let slot = match (keep, c.point) {
            (true, Ok(p)) => {
                points.push(p);
                Some(points.len() - 1)
            }
            (true, Err(e)) => {
                return Err(ReadError::Invalid {
                    path: path.to_owned(),
                    location: c.notes.location,
                    source: Box::new(e),
                });
            }
            (false, Ok(_)) => None,
            (false, Err(e)) => {
                let (field, value, reason) = describe(&e);
                warnings.push(DataWarning {
                    file: path.to_owned(),
                    location: location.clone(),
                    label: c.label.clone(),
                    point: None,
                    field,
                    value,
                    reason,
                });
                None
            }
        };
        for d in c.notes.dropped {
            warnings.push(DataWarning {
                file: path.to_owned(),
                location: location.clone(),
                label: c.label.clone(),
                point: slot,
                field: d.field,
                value: Some(d.value),
                reason: d.reason,
            });
        }
    }
    Ok((points, warnings))
}

/// Field, value and reason of a validation error.
fn describe(e: &perf_model_core::Error) -> (String, Option<String>, String) {
    use perf_model_core::Error;
    match e {
        Error::NonFinite { field, value } => (
            field.clone(),
            Some(value.to_string()),
            "must be a finite number".to_owned(),
        ),
        Error::OutOfRange {
            field,
            value,
            expected,
        } => (field.clone(), Some(value.clone()), expected.clone()),
        other => ("point".to_owned(), None, other.to_string()),
    }
}

/// The data set of the candidates read from `path`: [`apply`], then every warning logged
/// (`tracing::warn!`) and kept in [`PerfDataset::warnings`].
///
/// # Errors
/// As [`apply`].
/// [`finish`] for a file read whole: the data set is named after the file's stem and records
/// the file as its source (and the model, when the file names it).
pub(crate) fn finish_file(
    path: &str,
    model: Option<String>,
    candidates: Vec<Candidate>,
    opts: &SelectOptions,
    seed: SeedRule,
) -> Result<PerfDataset> {
    let meta = DatasetMeta {
        model,
        source: Some(path.to_owned()),
        ..DatasetMeta::default()
    };
    finish(crate::point::stem(path), meta, candidates, opts, seed, path)
}

pub(crate) fn finish(
    name: String,
    meta: DatasetMeta,
    candidates: Vec<Candidate>,
    opts: &SelectOptions,
    seed: SeedRule,
    path: &str,
) -> Result<PerfDataset> {
    let (points, warnings) = apply(candidates, opts, seed, path)?;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    Ok(PerfDataset {
        name,
        meta,
        points,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Location;
    use crate::point::Dropped;

    fn cands() -> Vec<Candidate> {
        let kinds = [StrategyKind::Synchronous, StrategyKind::Throughput]
            .into_iter()
            .chain(std::iter::repeat_n(StrategyKind::Constant, 9));
        kinds
            .enumerate()
            .map(|(i, kind)| {
                Candidate::new(
                    kind,
                    Notes::new(Location::Line {
                        line: i + 1,
                        column: 0,
                    }),
                    BenchmarkPointData {
                        request_rate: Some(1.0 + i as f64),
                        ..Default::default()
                    },
                )
            })
            .collect()
    }

    fn kept(c: Vec<Candidate>, opts: &SelectOptions, seed: SeedRule) -> Vec<BenchmarkPoint> {
        apply(c, opts, seed, "f.csv").unwrap().0
    }

    #[test]
    fn seed_rule_drops_throughput_and_caps() {
        let kept7 = kept(
            cands(),
            &SelectOptions::default(),
            SeedRule::DropThroughputFirst7,
        );
        let rates: Vec<_> = kept7.iter().filter_map(|p| p.request_rate()).collect();
        assert_eq!(rates, [1.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        assert_eq!(
            kept(cands(), &SelectOptions::default(), SeedRule::All).len(),
            11
        );
    }

    #[test]
    fn explicit_rules() {
        let s = SeedRule::DropThroughputFirst7;
        assert_eq!(kept(cands(), &SelectOptions::all(), s).len(), 11);
        assert_eq!(
            kept(cands(), &SelectOptions::except_throughput(), s).len(),
            10
        );
        let c = SelectOptions::only(&[StrategyKind::Constant]).with_max_points(3);
        let rates: Vec<_> = kept(cands(), &c, s)
            .iter()
            .filter_map(|p| p.request_rate())
            .collect();
        assert_eq!(rates, [3.0, 4.0, 5.0]);
    }

    #[test]
    fn broken_values_are_errors_only_where_kept() {
        let mut c = cands();
        // The throughput run (index 1) has negative tokens and a dropped statistic; the
        // fourth kept point (index 4) has a dropped statistic.
        c[1] = Candidate::new(
            StrategyKind::Throughput,
            Notes::new(Location::Line { line: 2, column: 0 }),
            BenchmarkPointData {
                label: Some("throughput".into()),
                request_rate: Some(9.0),
                input_tokens: -4.0,
                ..Default::default()
            },
        );
        for i in [1, 4] {
            c[i].notes.dropped.push(Dropped {
                field: "ttft.mean".into(),
                value: "-222574949".into(),
                reason: "must be >= 0".into(),
            });
        }
        let seed = SeedRule::DropThroughputFirst7;
        let (points, warnings) =
            apply(c.clone(), &SelectOptions::default(), seed, "f.csv").unwrap();
        assert_eq!(points.len(), 7);
        let shown: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "f.csv: line 2 (throughput), point dropped by the selection: input_tokens = -4: \
                 must be >= 0; dropped",
                "f.csv: line 2 (throughput), point dropped by the selection: ttft.mean = \
                 -222574949: must be >= 0; dropped",
                "f.csv: line 5, point 3: ttft.mean = -222574949: must be >= 0; dropped",
            ]
        );
        // Kept, the point that does not validate fails the file.
        let err = apply(c, &SelectOptions::all(), seed, "f.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.csv: line 2: input_tokens = -4: must be >= 0"
        );
    }

    #[test]
    fn labels() {
        assert_eq!(
            StrategyKind::from_label("constant@27.13"),
            StrategyKind::Constant
        );
        assert_eq!(
            StrategyKind::from_label("throughput"),
            StrategyKind::Throughput
        );
        assert_eq!(StrategyKind::from_label("sweep"), StrategyKind::Unknown);
    }
}
