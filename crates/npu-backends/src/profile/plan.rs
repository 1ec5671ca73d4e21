//! The sweep grid: batch sizes × input lengths, each measured `num_runs` times.

use serde::{Deserialize, Serialize};

use crate::error::{NpuError, Result};

/// One grid point: `batch_size` prompts of `input_len` tokens each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SweepPoint {
    /// Sequences in the batch.
    pub batch_size: u32,
    /// Prompt tokens of every sequence.
    pub input_len: u32,
}

impl std::fmt::Display for SweepPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bs {} input {}", self.batch_size, self.input_len)
    }
}

/// What to measure: the grid, the decode length and the repetitions.
///
/// The LLM profiler (`vikranth22446/llm_execution_time_predictor`, `profile`) sweeps powers
/// of two: batch sizes 1…`max_batch_size` (64) × input lengths 1…`max_input_tokens` (16384),
/// `output_len` 32 decode tokens, 3 runs per point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepPlan {
    /// Batch sizes, ascending, without duplicates.
    pub batch_sizes: Vec<u32>,
    /// Input lengths, ascending, without duplicates.
    pub input_lens: Vec<u32>,
    /// Tokens generated per sequence (the first comes from the prefill, the other
    /// `output_len − 1` from decode steps).
    pub output_len: u32,
    /// Measurements per point (averaged, with their standard deviation).
    pub num_runs: u32,
}

/// Powers of two from 1 up to `max` included (`[]` for 0): the profiler's default axis.
///
/// ```
/// use npu_backends::profile::powers_of_two;
/// assert_eq!(powers_of_two(64), [1, 2, 4, 8, 16, 32, 64]);
/// assert_eq!(powers_of_two(100), [1, 2, 4, 8, 16, 32, 64]);
/// ```
#[must_use]
pub fn powers_of_two(max: u32) -> Vec<u32> {
    (0..32)
        .map(|p| 1u32 << p)
        .take_while(|&v| v <= max)
        .collect()
}

/// Parses a comma-separated list of positive whole numbers (`1,4,16`), sorted and
/// deduplicated; `flag` names the option in errors.
///
/// # Errors
/// [`NpuError::InvalidConfig`] naming `flag` and the bad item, or an empty list.
pub fn parse_list(flag: &str, text: &str) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let v: u32 = item.parse().map_err(|_| {
            NpuError::InvalidConfig(format!(
                "{flag}: `{item}` is not a whole number (in `{text}`)"
            ))
        })?;
        if v == 0 {
            return Err(NpuError::InvalidConfig(format!(
                "{flag}: values must be at least 1, got 0 (in `{text}`)"
            )));
        }
        out.push(v);
    }
    if out.is_empty() {
        return Err(NpuError::InvalidConfig(format!(
            "{flag}: no value in `{text}`"
        )));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

impl SweepPlan {
    /// The profiler's default grid: powers of two up to `max_batch_size` × up to
    /// `max_input_tokens`.
    ///
    /// # Errors
    /// [`NpuError::InvalidConfig`] naming the flag (`--max-batch-size`, `--max-input-tokens`,
    /// `--output-len`, `--num-runs`) when it is 0.
    pub fn powers_of_two(
        max_batch_size: u32,
        max_input_tokens: u32,
        output_len: u32,
        num_runs: u32,
    ) -> Result<Self> {
        for (flag, v) in [
            ("--max-batch-size", max_batch_size),
            ("--max-input-tokens", max_input_tokens),
        ] {
            if v == 0 {
                return Err(NpuError::InvalidConfig(format!(
                    "{flag} must be at least 1, got 0"
                )));
            }
        }
        Self::with_lists(
            powers_of_two(max_batch_size),
            powers_of_two(max_input_tokens),
            output_len,
            num_runs,
        )
    }

    /// An explicit grid (sorted and deduplicated here).
    ///
    /// # Errors
    /// [`NpuError::InvalidConfig`] for an empty list, a 0 in a list, `output_len` 0 or
    /// `num_runs` 0.
    pub fn with_lists(
        mut batch_sizes: Vec<u32>,
        mut input_lens: Vec<u32>,
        output_len: u32,
        num_runs: u32,
    ) -> Result<Self> {
        for (flag, list) in [
            ("--batch-sizes", &mut batch_sizes),
            ("--input-lens", &mut input_lens),
        ] {
            list.sort_unstable();
            list.dedup();
            if list.is_empty() || list[0] == 0 {
                return Err(NpuError::InvalidConfig(format!(
                    "{flag}: needs at least one value, all at least 1 (got {list:?})"
                )));
            }
        }
        if output_len == 0 {
            return Err(NpuError::InvalidConfig(
                "--output-len must be at least 1, got 0".to_owned(),
            ));
        }
        if num_runs == 0 {
            return Err(NpuError::InvalidConfig(
                "--num-runs must be at least 1, got 0".to_owned(),
            ));
        }
        Ok(Self {
            batch_sizes,
            input_lens,
            output_len,
            num_runs,
        })
    }

    /// Every point, batch size major (the profiler's order: all input lengths of batch 1,
    /// then of batch 2, …).
    #[must_use]
    pub fn points(&self) -> Vec<SweepPoint> {
        self.batch_sizes
            .iter()
            .flat_map(|&batch_size| {
                self.input_lens.iter().map(move |&input_len| SweepPoint {
                    batch_size,
                    input_len,
                })
            })
            .collect()
    }

    /// The largest batch size of the grid (`metadata.max_batch_size`).
    #[must_use]
    pub fn max_batch_size(&self) -> u32 {
        self.batch_sizes.last().copied().unwrap_or(0)
    }

    /// The largest input length of the grid (`metadata.max_input_tokens`).
    #[must_use]
    pub fn max_input_tokens(&self) -> u32 {
        self.input_lens.last().copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_grid_is_the_profilers() {
        let p = SweepPlan::powers_of_two(64, 16384, 32, 3).unwrap();
        assert_eq!(p.batch_sizes.len(), 7);
        assert_eq!(p.input_lens.len(), 15);
        assert_eq!(p.points().len(), 105);
        assert_eq!(
            p.points()[15],
            SweepPoint {
                batch_size: 2,
                input_len: 1
            }
        );
        assert_eq!((p.max_batch_size(), p.max_input_tokens()), (64, 16384));
    }

    #[test]
    fn lists_are_sorted_and_checked() {
        assert_eq!(
            parse_list("--batch-sizes", "16, 1,4,4").unwrap(),
            [1, 4, 16]
        );
        let e = parse_list("--input-lens", "1,x").unwrap_err().to_string();
        assert!(e.contains("--input-lens") && e.contains("`x`"), "{e}");
        let e = parse_list("--batch-sizes", "0").unwrap_err().to_string();
        assert!(e.contains("--batch-sizes"), "{e}");
        assert!(parse_list("--batch-sizes", " , ").is_err());
        assert!(SweepPlan::with_lists(vec![1], vec![1], 0, 1).is_err());
        assert!(SweepPlan::with_lists(vec![1], vec![1], 1, 0).is_err());
        assert!(SweepPlan::powers_of_two(0, 8, 1, 1).is_err());
        assert!(powers_of_two(0).is_empty());
        assert_eq!(powers_of_two(u32::MAX).len(), 32);
    }
}
