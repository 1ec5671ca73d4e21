//! The resumable per-configuration cache of measured and failed points.
//!
//! A configuration is everything that changes what one point measures (backend, engine
//! command, model, parallelism, load format, output length, runs, extra arguments, URL) —
//! not the grid, so a wider sweep reuses the points of a narrower one. Its file is
//! `<cache dir>/<key>.json`, where the key is the 64-bit FNV-1a hash of the configuration's
//! canonical JSON (keys sorted, no spaces), in 16 hex digits. The LLM profiler names its
//! cache files with the MD5 of `json.dumps(config, sort_keys=True)` instead: the two never
//! share files.
//!
//! The file is rewritten (atomically) after every point, so an interrupted sweep resumes
//! from the last finished point.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{NpuError, Result};
use crate::profile::output::{FailedConfig, PointOutcome, ResultRow, write_atomic};
use crate::profile::plan::SweepPoint;

/// Version of the cache file layout.
pub const CACHE_VERSION: u32 = 1;

/// 64-bit FNV-1a (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`).
///
/// ```
/// use npu_backends::profile::fnv1a64;
/// assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
/// assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
/// ```
#[must_use]
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The canonical JSON text of `v`: object keys sorted by their UTF-8 bytes at every level,
/// no insignificant whitespace (independent of `serde_json`'s map ordering features).
///
/// ```
/// let v = serde_json::json!({"b": [1, {"d": 2, "c": "x"}], "a": null});
/// assert_eq!(npu_backends::profile::canonical_json(&v), r#"{"a":null,"b":[1,{"c":"x","d":2}]}"#);
/// ```
#[must_use]
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The cache key of a configuration: [`fnv1a64`] of its [`canonical_json`], 16 hex digits.
#[must_use]
pub fn config_key(config: &Value) -> String {
    format!("{:016x}", fnv1a64(canonical_json(config).as_bytes()))
}

/// The file layout.
#[derive(Serialize, Deserialize)]
struct CacheFile {
    cache_version: u32,
    config: Value,
    results: Vec<ResultRow>,
    failed_configs: Vec<FailedConfig>,
}

/// The points of one configuration finished so far, backed by `<dir>/<key>.json`.
#[derive(Debug)]
pub struct SweepCache {
    path: PathBuf,
    config: Value,
    points: BTreeMap<SweepPoint, PointOutcome>,
}

impl SweepCache {
    /// Opens the cache of `config` under `dir`: the points already in its file, or none
    /// when the file does not exist or `overwrite` is set (the file is then replaced at the
    /// first recorded point).
    ///
    /// # Errors
    /// [`NpuError::Io`] for an unreadable file; [`NpuError::Output`] naming the file when it
    /// is not a cache file of this version or holds another configuration (rerun with
    /// `--overwrite-cache` to replace it).
    pub fn open(dir: &Path, config: Value, overwrite: bool) -> Result<Self> {
        let path = dir.join(format!("{}.json", config_key(&config)));
        let mut cache = Self {
            path,
            config,
            points: BTreeMap::new(),
        };
        if overwrite {
            return Ok(cache);
        }
        let text = match std::fs::read_to_string(&cache.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(cache),
            Err(e) => return Err(NpuError::io(&cache.path, e)),
        };
        let bad = |why: String| {
            NpuError::Output(format!(
                "{}: {why}; remove it or rerun with --overwrite-cache",
                cache.path.display()
            ))
        };
        let file: CacheFile = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a profile cache file ({e})")))?;
        if file.cache_version != CACHE_VERSION {
            return Err(bad(format!(
                "cache version {} (this llm-perf writes {CACHE_VERSION})",
                file.cache_version
            )));
        }
        if canonical_json(&file.config) != canonical_json(&cache.config) {
            return Err(bad(format!(
                "it holds another configuration: {}",
                canonical_json(&file.config)
            )));
        }
        for row in file.results {
            cache
                .points
                .insert(row.point(), PointOutcome::Measured(row));
        }
        for f in file.failed_configs {
            cache.points.insert(f.point(), PointOutcome::Failed(f));
        }
        Ok(cache)
    }

    /// The cache file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// The finished outcome of `point`, if any.
    #[must_use]
    pub fn get(&self, point: SweepPoint) -> Option<&PointOutcome> {
        self.points.get(&point)
    }

    /// Number of finished points (of any grid).
    #[must_use]
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether no point is finished.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Records a finished point and rewrites the file.
    ///
    /// # Errors
    /// [`NpuError::Io`] naming the file.
    pub fn record(&mut self, outcome: PointOutcome) -> Result<()> {
        self.points.insert(outcome.point(), outcome);
        self.save()
    }

    fn save(&self) -> Result<()> {
        let mut results = Vec::new();
        let mut failed_configs = Vec::new();
        for o in self.points.values() {
            match o {
                PointOutcome::Measured(r) => results.push(r.clone()),
                PointOutcome::Failed(f) => failed_configs.push(f.clone()),
            }
        }
        let file = CacheFile {
            cache_version: CACHE_VERSION,
            config: self.config.clone(),
            results,
            failed_configs,
        };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|e| NpuError::Output(format!("cannot serialise the cache: {e}")))?;
        write_atomic(&self.path, &(text + "\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_ignores_key_order_and_is_stable() {
        let a = json!({"model": "m", "tp": 1, "extra": ["--x", "1"]});
        let b = json!({"tp": 1, "extra": ["--x", "1"], "model": "m"});
        assert_eq!(config_key(&a), config_key(&b));
        assert_eq!(config_key(&a).len(), 16);
        assert_ne!(config_key(&a), config_key(&json!({"model": "m", "tp": 2})));
        // FNV-1a reference value ("foobar").
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(canonical_json(&json!("a\"b")), r#""a\"b""#);
    }

    #[test]
    fn records_survive_a_reopen_and_bad_files_are_named() {
        let dir = std::env::temp_dir().join(format!("npu-cache-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = json!({"model": "m"});
        let mut c = SweepCache::open(&dir, cfg.clone(), false).unwrap();
        assert!(c.is_empty());
        let f = FailedConfig {
            batch_size: 4,
            input_len: 8,
            output_len: 2,
            reason: "oom".into(),
        };
        c.record(PointOutcome::Failed(f.clone())).unwrap();
        let c2 = SweepCache::open(&dir, cfg.clone(), false).unwrap();
        assert_eq!(c2.len(), 1);
        assert_eq!(
            c2.get(SweepPoint {
                batch_size: 4,
                input_len: 8
            }),
            Some(&PointOutcome::Failed(f))
        );
        assert!(
            SweepCache::open(&dir, cfg.clone(), true)
                .unwrap()
                .is_empty()
        );
        std::fs::write(c.path(), "{not json").unwrap();
        let e = SweepCache::open(&dir, cfg, false).unwrap_err().to_string();
        assert!(
            e.contains(&c.path().display().to_string()) && e.contains("--overwrite-cache"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
