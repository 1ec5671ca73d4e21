//! Log-pattern classification of failures (`npu.md` §5, upstream `[health_check]`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Named lists of case-insensitive substrings, split into fatal and retryable classes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogPatterns {
    /// Name → substrings that stop the tuning.
    pub fatal_patterns: BTreeMap<String, Vec<String>>,
    /// Name → substrings that make the evaluation worth retrying.
    pub retryable_patterns: BTreeMap<String, Vec<String>>,
    /// Characters of context around the match (clamped to 50–1000).
    pub log_snippet_length: usize,
}

impl Default for LogPatterns {
    fn default() -> Self {
        Self {
            fatal_patterns: BTreeMap::new(),
            retryable_patterns: BTreeMap::new(),
            log_snippet_length: 200,
        }
    }
}

/// The class of a log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogClass {
    /// A fatal pattern matched.
    Fatal {
        /// The pattern table entry.
        name: String,
        /// Context around the match.
        snippet: String,
    },
    /// A retryable pattern matched (and no fatal one).
    Retryable {
        /// The pattern table entry.
        name: String,
        /// Context around the match.
        snippet: String,
    },
    /// Nothing matched.
    Unknown,
}

impl LogPatterns {
    /// The upstream example tables: fatal `out_of_memory`, `device_error`; retryable
    /// `network_error`, `io_error`.
    #[must_use]
    pub fn upstream_example() -> Self {
        let t = |rows: &[(&str, &[&str])]| {
            rows.iter()
                .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                .collect()
        };
        Self {
            fatal_patterns: t(&[
                (
                    "out_of_memory",
                    &["out of memory", "OOM killed", "MemoryError"],
                ),
                (
                    "device_error",
                    &["NPU error", "device fault", "Ascend error"],
                ),
            ]),
            retryable_patterns: t(&[
                (
                    "network_error",
                    &["connection reset", "connection refused", "timeout"],
                ),
                (
                    "io_error",
                    &["file not found", "permission denied", "IO error"],
                ),
            ]),
            log_snippet_length: 200,
        }
    }

    /// Classifies `text`: fatal first, then retryable, tables in name order.
    ///
    /// # Examples
    /// ```
    /// use npu_backends::logscan::{LogClass, LogPatterns};
    /// let p = LogPatterns::upstream_example();
    /// let c = p.classify("step 3\nRuntimeError: NPU out of memory\n");
    /// assert!(matches!(c, LogClass::Fatal { ref name, .. } if name == "out_of_memory"));
    /// assert_eq!(p.classify("all good"), LogClass::Unknown);
    /// ```
    #[must_use]
    pub fn classify(&self, text: &str) -> LogClass {
        let lower = text.to_lowercase();
        let find = |table: &BTreeMap<String, Vec<String>>| {
            table.iter().find_map(|(name, pats)| {
                pats.iter()
                    .filter(|p| !p.is_empty())
                    .find_map(|p| lower.find(&p.to_lowercase()))
                    .map(|at| (name.clone(), self.snippet(text, &lower, at)))
            })
        };
        if let Some((name, snippet)) = find(&self.fatal_patterns) {
            return LogClass::Fatal { name, snippet };
        }
        if let Some((name, snippet)) = find(&self.retryable_patterns) {
            return LogClass::Retryable { name, snippet };
        }
        LogClass::Unknown
    }

    fn snippet(&self, text: &str, lower: &str, at: usize) -> String {
        // `at` indexes the lower-cased text; map through char counts to stay on boundaries.
        let pos = lower[..at].chars().count();
        let half = self.log_snippet_length.clamp(50, 1000) / 2;
        text.chars()
            .skip(pos.saturating_sub(half))
            .take(2 * half)
            .collect::<String>()
            .trim()
            .to_owned()
    }
}
