//! Which part of a sweep one task runs: shard `I/N` takes the items whose position is
//! `≡ I (mod N)`.

use super::error::SweepError;

/// One of `count` interleaved parts of a list of items.
///
/// # Examples
/// ```
/// use llm_perf::sweep::Shard;
/// let s: Shard = "1/4".parse()?;
/// let mine: Vec<usize> = (0..10).filter(|&i| s.contains(i)).collect();
/// assert_eq!(mine, [1, 5, 9]);
/// assert!("4/4".parse::<Shard>().unwrap_err().to_string().contains("out of range"));
/// # Ok::<(), llm_perf::sweep::SweepError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Self::ALL
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = SweepError;

    /// Parses `I/N`.
    fn from_str(text: &str) -> Result<Self, SweepError> {
        let source_text = format!("--shard {text}");
        let bad = |message: String| SweepError::Shard {
            source_text: source_text.clone(),
            message,
        };
        let Some((i, n)) = text.trim().split_once('/') else {
            return Err(bad("expected I/N, e.g. 0/4".to_owned()));
        };
        let index = i
            .trim()
            .parse::<usize>()
            .map_err(|_| bad(format!("the index `{i}` is not a non-negative integer")))?;
        let count = n
            .trim()
            .parse::<usize>()
            .map_err(|_| bad(format!("the count `{n}` is not a non-negative integer")))?;
        Self::new(index, count).map_err(|m| bad(m.to_owned()))
    }
}

impl Shard {
    /// Every item: shard `0/1`.
    pub const ALL: Self = Self { index: 0, count: 1 };

    /// Shard `index` of `count`.
    ///
    /// # Errors
    /// Why, when `count` is 0 or `index ≥ count`.
    pub fn new(index: usize, count: usize) -> Result<Self, &'static str> {
        if count == 0 {
            return Err("the shard count must be at least 1");
        }
        if index >= count {
            return Err("the shard index is out of range: it must be below the count");
        }
        Ok(Self { index, count })
    }

    /// The shard index `I`.
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    /// The shard count `N`.
    #[must_use]
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether the item at `position` belongs to this shard: `position mod N = I`.
    #[must_use]
    pub fn contains(&self, position: usize) -> bool {
        position % self.count == self.index
    }

    /// The shard a task of a scheduler's array runs, from its environment (`var` reads a
    /// variable): SLURM's `SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN` of
    /// `SLURM_ARRAY_TASK_COUNT`, else a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` of
    /// `shards` (the job's completions, which the pod cannot read). `None` when neither is set.
    ///
    /// # Examples
    /// ```
    /// use llm_perf::sweep::Shard;
    /// let env = |v: &str| match v {
    ///     "SLURM_ARRAY_TASK_ID" => Some("3".to_owned()),
    ///     "SLURM_ARRAY_TASK_COUNT" => Some("4".to_owned()),
    ///     _ => None,
    /// };
    /// assert_eq!(Shard::from_env(env, None)?, Some(Shard::new(3, 4)?));
    /// let k8s = |v: &str| (v == "JOB_COMPLETION_INDEX").then(|| "2".to_owned());
    /// assert_eq!(Shard::from_env(k8s, Some(5))?, Some(Shard::new(2, 5)?));
    /// assert!(Shard::from_env(k8s, None).is_err()); // the count is needed
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`SweepError::Shard`] naming the variables and their values when they are not
    /// integers, the index is out of range, or `JOB_COMPLETION_INDEX` comes without `shards`.
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
        shards: Option<usize>,
    ) -> Result<Option<Self>, SweepError> {
        let int = |name: &str, text: &str| {
            text.trim().parse::<usize>().map_err(|_| SweepError::Shard {
                source_text: format!("{name}={text}"),
                message: "not a non-negative integer".to_owned(),
            })
        };
        if let Some(id) = var("SLURM_ARRAY_TASK_ID") {
            let Some(count) = var("SLURM_ARRAY_TASK_COUNT") else {
                return Err(SweepError::Shard {
                    source_text: format!("SLURM_ARRAY_TASK_ID={id}"),
                    message: "SLURM_ARRAY_TASK_COUNT is not set: give --shard I/N".to_owned(),
                });
            };
            let min = match var("SLURM_ARRAY_TASK_MIN") {
                Some(m) => int("SLURM_ARRAY_TASK_MIN", &m)?,
                None => 0,
            };
            let (raw, n) = (
                int("SLURM_ARRAY_TASK_ID", &id)?,
                int("SLURM_ARRAY_TASK_COUNT", &count)?,
            );
            let source_text = format!("SLURM_ARRAY_TASK_ID={id}, SLURM_ARRAY_TASK_COUNT={count}");
            let index = raw.checked_sub(min).ok_or_else(|| SweepError::Shard {
                source_text: source_text.clone(),
                message: format!("the task id is below SLURM_ARRAY_TASK_MIN={min}"),
            })?;
            return Self::new(index, n)
                .map(Some)
                .map_err(|m| SweepError::Shard {
                    source_text,
                    message: m.to_owned(),
                });
        }
        if let Some(index) = var("JOB_COMPLETION_INDEX") {
            let source_text = format!("JOB_COMPLETION_INDEX={index}");
            let Some(n) = shards else {
                return Err(SweepError::Shard {
                    source_text,
                    message: "give the job's completions count with --shards N".to_owned(),
                });
            };
            let i = int("JOB_COMPLETION_INDEX", &index)?;
            return Self::new(i, n).map(Some).map_err(|m| SweepError::Shard {
                source_text: format!("{source_text}, --shards {n}"),
                message: m.to_owned(),
            });
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_count_and_out_of_range_are_errors() {
        let e = "0/0".parse::<Shard>().unwrap_err().to_string();
        assert_eq!(e, "--shard 0/0: the shard count must be at least 1");
        let e = "5/4".parse::<Shard>().unwrap_err().to_string();
        assert!(
            e.starts_with("--shard 5/4: the shard index is out of range"),
            "{e}"
        );
        for bad in ["", "3", "a/2", "1/b", "-1/2", "1/2/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_partition_the_items() {
        let n = 4;
        let mut seen = [0; 23];
        for i in 0..n {
            let s = Shard::new(i, n).unwrap();
            for (p, count) in seen.iter_mut().enumerate() {
                if s.contains(p) {
                    *count += 1;
                }
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    fn slurm_env_offsets_by_the_array_minimum() {
        let env = |v: &str| match v {
            "SLURM_ARRAY_TASK_ID" => Some("5".to_owned()),
            "SLURM_ARRAY_TASK_COUNT" => Some("4".to_owned()),
            "SLURM_ARRAY_TASK_MIN" => Some("2".to_owned()),
            _ => None,
        };
        assert_eq!(
            Shard::from_env(env, None).unwrap(),
            Some(Shard::new(3, 4).unwrap())
        );
        let out_of_range = |v: &str| match v {
            "SLURM_ARRAY_TASK_ID" => Some("4".to_owned()),
            "SLURM_ARRAY_TASK_COUNT" => Some("4".to_owned()),
            _ => None,
        };
        let e = Shard::from_env(out_of_range, None).unwrap_err().to_string();
        assert!(
            e.contains("SLURM_ARRAY_TASK_ID=4") && e.contains("out of range"),
            "{e}"
        );
        assert_eq!(Shard::from_env(|_| None, Some(3)).unwrap(), None);
    }
}
