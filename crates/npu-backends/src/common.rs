//! Settings shared by the built-in engines and benchmarks.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};

use crate::config::{DecodedConfig, value_text};
use crate::plan::Timeouts;

/// Accepts a port as an integer or a string (`port = "8010"` in the seed's TOML).
pub(crate) fn de_port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum P {
        N(u16),
        S(String),
    }
    match P::deserialize(d)? {
        P::N(n) => Ok(n),
        P::S(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("invalid port `{s}`"))),
    }
}

/// Launch settings common to every built-in engine and benchmark section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LaunchSettings {
    /// Extra environment for the child.
    pub env: BTreeMap<String, String>,
    /// Directory for captured logs.
    pub log_dir: PathBuf,
    /// Time limits.
    pub timeouts: Timeouts,
}

impl Default for LaunchSettings {
    fn default() -> Self {
        Self {
            env: BTreeMap::new(),
            log_dir: PathBuf::from("llm-perf-logs"),
            timeouts: Timeouts::default(),
        }
    }
}

impl LaunchSettings {
    /// The defaults of a benchmark runner: a one-hour limit on the run (a benchmark of
    /// thousands of prompts takes minutes; an engine start, seconds).
    #[must_use]
    pub fn for_benchmark() -> Self {
        Self {
            timeouts: Timeouts {
                run_s: 3600.0,
                ..Timeouts::default()
            },
            ..Self::default()
        }
    }

    /// Base env plus the candidate's set env fields (texts).
    pub(crate) fn env_with(&self, cfg: &DecodedConfig) -> BTreeMap<String, String> {
        let mut env = self.env.clone();
        for (k, v) in cfg.env_vars() {
            if let Some(t) = value_text(&v) {
                env.insert(k, t);
            }
        }
        env
    }
}
