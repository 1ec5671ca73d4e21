//! Which benchmark points of a file are kept: explicit, with the Inferno-compatible default.

use perf_model_core::BenchmarkPoint;

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

/// A point read from a file, before selection.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub kind: StrategyKind,
    pub point: BenchmarkPoint,
}

pub(crate) fn apply(
    candidates: Vec<Candidate>,
    opts: &SelectOptions,
    seed: SeedRule,
) -> Vec<BenchmarkPoint> {
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
    candidates
        .into_iter()
        .filter(|c| keep(c.kind))
        .take(cap)
        .map(|c| c.point)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_model_core::BenchmarkPointData;

    fn cands() -> Vec<Candidate> {
        let kinds = [StrategyKind::Synchronous, StrategyKind::Throughput]
            .into_iter()
            .chain(std::iter::repeat_n(StrategyKind::Constant, 9));
        kinds
            .enumerate()
            .map(|(i, kind)| Candidate {
                kind,
                point: BenchmarkPoint::new(BenchmarkPointData {
                    request_rate: Some(1.0 + i as f64),
                    ..Default::default()
                })
                .unwrap(),
            })
            .collect()
    }

    #[test]
    fn seed_rule_drops_throughput_and_caps() {
        let kept = apply(
            cands(),
            &SelectOptions::default(),
            SeedRule::DropThroughputFirst7,
        );
        let rates: Vec<_> = kept.iter().filter_map(|p| p.request_rate()).collect();
        assert_eq!(rates, [1.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        assert_eq!(
            apply(cands(), &SelectOptions::default(), SeedRule::All).len(),
            11
        );
    }

    #[test]
    fn explicit_rules() {
        let s = SeedRule::DropThroughputFirst7;
        assert_eq!(apply(cands(), &SelectOptions::all(), s).len(), 11);
        assert_eq!(
            apply(cands(), &SelectOptions::except_throughput(), s).len(),
            10
        );
        let c = SelectOptions::only(&[StrategyKind::Constant]).with_max_points(3);
        let rates: Vec<_> = apply(cands(), &c, s)
            .iter()
            .filter_map(|p| p.request_rate())
            .collect();
        assert_eq!(rates, [3.0, 4.0, 5.0]);
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
