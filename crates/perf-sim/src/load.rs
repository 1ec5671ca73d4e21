//! Loading a [`SimConfig`] from YAML or JSON text or files.
//!
//! Unknown keys are rejected everywhere (every struct is `deny_unknown_fields`) and the error
//! names the key by its path in the configuration, e.g. `workload.clients[0].arrival.rat`.
//! Loading only parses: [`SimConfig::validate`] (run by [`crate::Simulation::new`]) checks the
//! values.
//!
//! A seed (LLMPerfOracle) configuration — one with a top-level `frameworks_to_test` or
//! `hardware_profile` key — goes through the seed loader ([`crate::seed`]);
//! [`SimConfig::load_path`] returns its decisions too.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::SimConfig;
use crate::error::{Result, SimError};
use crate::seed::{self, LoadedConfig, SeedFile, SeedOutputs};

impl SimConfig {
    /// Parses a YAML configuration.
    ///
    /// # Examples
    /// ```
    /// use perf_sim::SimConfig;
    /// let yaml = "
    /// max_requests: 100
    /// cluster:
    ///   cost_model: { kind: inferno, alpha: 12.0, beta: 0.05, gamma: 5.0e-4 }
    ///   kv_cache: { num_gpu_blocks: 4096 }
    /// workload:
    ///   clients:
    ///     - arrival: { kind: poisson, rate: 2.0 }
    ///       input: { kind: fixed, value: 128 }
    ///       output: { kind: fixed, value: 64 }
    /// ";
    /// let cfg = SimConfig::from_yaml_str(yaml)?;
    /// assert_eq!(cfg.max_requests, Some(100));
    /// let err = SimConfig::from_yaml_str(&yaml.replace("rate: 2.0", "rat: 2.0")).unwrap_err();
    /// assert!(err.to_string().contains("workload.clients[0].arrival.rat"), "{err}");
    /// # Ok::<(), perf_sim::SimError>(())
    /// ```
    ///
    /// # Errors
    /// [`SimError::Parse`] (origin `<yaml>`) naming the key path when known.
    pub fn from_yaml_str(text: &str) -> Result<Self> {
        parse_yaml(text, "<yaml>")
    }

    /// Parses a YAML configuration, native or seed (LLMPerfOracle), with the seed loader's
    /// decisions.
    ///
    /// # Examples
    /// ```
    /// use perf_sim::SimConfig;
    /// let loaded = SimConfig::load_yaml_str("
    /// simulation: { max_simulation_time: 60, random_seed: 1, lod: medium }
    /// hardware_profile:
    ///   compute_devices: [ { device_id: gpu0, peak_tflops: { fp16: 990 },
    ///                        memory_capacity_bytes: 80.0e9, memory_gbps: 3350 } ]
    /// workload:
    ///   total_duration: 10
    ///   client_profiles:
    ///     - profile_name: chat
    ///       inter_arrival_time_dist_config: { type: Exponential, rate: 2.0 }
    ///       prompt_tokens_dist_config: { type: Constant, value: 128, is_int: true }
    ///       max_output_tokens_dist_config: { type: Uniform, low: 16, high: 64, is_int: true }
    /// frameworks_to_test:
    ///   - { name: vllm0, type: VLLM,
    ///       config: { model_profile_id: Llama3-8B, gpu_id: gpu0, max_num_seqs: 64 } }
    /// ")?;
    /// assert!(loaded.seed);
    /// assert_eq!(loaded.config.horizon_s, Some(10.0));
    /// assert!(loaded.decisions.iter().any(|d| d.path == "simulation.lod"));
    /// # Ok::<(), perf_sim::SimError>(())
    /// ```
    ///
    /// # Errors
    /// [`SimError::Parse`] naming the key path (an unknown key included);
    /// [`SimError::InvalidConfig`] naming the seed path of a value the seed loader rejects.
    pub fn load_yaml_str(text: &str) -> Result<LoadedConfig> {
        load_text(text, "<yaml>", true)
    }

    /// Reads a configuration file (as [`SimConfig::from_path`]), native or seed, with the seed
    /// loader's decisions and output paths.
    ///
    /// # Errors
    /// As [`SimConfig::from_path`], plus [`SimError::InvalidConfig`] naming the seed path of a
    /// value the seed loader rejects.
    pub fn load_path(path: impl AsRef<Path>) -> Result<LoadedConfig> {
        let path = path.as_ref();
        let (text, name, yaml) = read(path)?;
        load_text(&text, &name, yaml)
    }

    /// Parses a JSON configuration.
    ///
    /// # Errors
    /// [`SimError::Parse`] (origin `<json>`) naming the key path when known.
    pub fn from_json_str(text: &str) -> Result<Self> {
        parse_json(text, "<json>")
    }

    /// Reads a configuration file: YAML for `.yaml`/`.yml`, JSON for `.json`.
    ///
    /// # Errors
    /// [`SimError::File`] naming the file when it cannot be read or has another extension;
    /// [`SimError::Parse`] with the file as origin when its content does not parse.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let loaded = Self::load_path(path)?;
        for d in &loaded.decisions {
            tracing::info!("{d}");
        }
        Ok(loaded.config)
    }
}

/// The text of a configuration file, its name and whether it is YAML.
fn read(path: &Path) -> Result<(String, String, bool)> {
    let name = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let yaml = match ext.as_deref() {
        Some("yaml" | "yml") => true,
        Some("json") => false,
        _ => {
            return Err(SimError::File {
                file: name,
                reason: "unknown extension: use .yaml, .yml or .json".into(),
            });
        }
    };
    let text = std::fs::read_to_string(path).map_err(|e| SimError::File {
        file: name.clone(),
        reason: e.to_string(),
    })?;
    Ok((text, name, yaml))
}

/// Parses `text`, through the seed loader when it is a seed configuration.
fn load_text(text: &str, origin: &str, yaml: bool) -> Result<LoadedConfig> {
    // Three readings of the text: its syntax alone (`IgnoredAny`), its top-level keys (to tell
    // a seed config from ours even when a value is out of any number type's range) and a JSON
    // tree (for locating unknown keys in error messages; absent for such values).
    let syntax = if yaml {
        serde_norway::from_str::<serde::de::IgnoredAny>(text).map_err(|e| e.to_string())
    } else {
        serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| e.to_string())
    };
    let keys = if yaml {
        serde_norway::from_str::<BTreeMap<String, serde::de::IgnoredAny>>(text).ok()
    } else {
        serde_json::from_str::<BTreeMap<String, serde::de::IgnoredAny>>(text).ok()
    };
    let tree = if yaml {
        serde_norway::from_str::<Value>(text).ok()
    } else {
        serde_json::from_str::<Value>(text).ok()
    };
    let tree = tree.as_ref();
    let is_seed = keys.is_some_and(|k| seed::is_seed_key_set(k.keys().map(String::as_str)));
    if !is_seed {
        let native = if yaml {
            parse_yaml(text, origin)
        } else {
            parse_json(text, origin)
        };
        let config = match (native, syntax) {
            (Ok(config), _) => config,
            // Text that is not even a valid document: its own error, with line and column,
            // says more than the native schema's complaint about some key.
            (Err(_), Err(syntax)) => {
                return Err(SimError::Parse {
                    origin: origin.to_owned(),
                    path: None,
                    message: syntax,
                });
            }
            (Err(e), Ok(_)) => return Err(e),
        };
        return Ok(LoadedConfig {
            config,
            seed: false,
            decisions: Vec::new(),
            outputs: SeedOutputs::default(),
        });
    }
    let file: SeedFile = if yaml {
        serde_norway::from_str(text).map_err(|e| error::<SeedFile>(origin, &e.to_string(), tree))?
    } else {
        serde_json::from_str(text).map_err(|e| error::<SeedFile>(origin, &e.to_string(), tree))?
    };
    let (config, decisions, outputs) = seed::convert(&file)?;
    Ok(LoadedConfig {
        config,
        seed: true,
        decisions,
        outputs,
    })
}

fn parse_yaml(text: &str, origin: &str) -> Result<SimConfig> {
    serde_norway::from_str::<SimConfig>(text).map_err(|e| {
        let tree = serde_norway::from_str::<Value>(text).ok();
        error::<SimConfig>(origin, &e.to_string(), tree.as_ref())
    })
}

fn parse_json(text: &str, origin: &str) -> Result<SimConfig> {
    serde_json::from_str::<SimConfig>(text).map_err(|e| {
        let tree = serde_json::from_str::<Value>(text).ok();
        error::<SimConfig>(origin, &e.to_string(), tree.as_ref())
    })
}

/// Builds the parse error; for an unknown key, finds its full path in `tree`.
fn error<T: DeserializeOwned>(origin: &str, message: &str, tree: Option<&Value>) -> SimError {
    // serde_norway prefixes `path: ` (up to the nearest tagged enum); split it off.
    let (prefix, msg) = match message.split_once(": ") {
        Some((p, m)) if !p.contains(' ') && !p.is_empty() => (Some(p), m),
        _ => (None, message),
    };
    let path = unknown_key(msg)
        .zip(tree)
        .and_then(|(key, tree)| locate::<T>(tree, key, prefix))
        .or_else(|| string_value_key(msg, tree?, prefix?));
    match path {
        Some(path) => SimError::Parse {
            origin: origin.to_owned(),
            path: Some(path),
            message: msg.to_owned(),
        },
        None => SimError::Parse {
            origin: origin.to_owned(),
            path: prefix.map(str::to_owned),
            message: msg.to_owned(),
        },
    }
}

/// For an `invalid type: string "v"` or `invalid value: v,` message whose path stops at an
/// object (serde_norway does so for errors raised inside a field's own deserializer), the path
/// of the only key of that object holding `v`.
fn string_value_key(msg: &str, tree: &Value, prefix: &str) -> Option<String> {
    let value = if let Some((_, rest)) = msg.split_once("invalid type: string \"") {
        rest.rsplit_once("\", expected")?.0
    } else {
        msg.split_once("invalid value: ")?
            .1
            .split_once(", expected")?
            .0
    };
    let number = value.parse::<f64>().ok();
    let mut at = tree;
    for part in prefix.split('.') {
        let (name, idx) = part.split_once('[').unwrap_or((part, ""));
        at = at.get(name)?;
        for i in idx.split('[').filter(|i| !i.is_empty()) {
            at = at.get(i.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    let mut keys = at.as_object()?.iter().filter(|(_, v)| {
        v.as_str() == Some(value)
            || number.is_some_and(|n| v.as_f64().is_some_and(|x| x.to_bits() == n.to_bits()))
    });
    match (keys.next(), keys.next()) {
        (Some((k, _)), None) => Some(join(prefix, k)),
        _ => None,
    }
}

/// The key of an "unknown field `key`" message.
fn unknown_key(msg: &str) -> Option<&str> {
    let rest = msg.split_once("unknown field `")?.1;
    Some(rest.split_once('`')?.0)
}

/// Full path of the object key `key` in `tree`: the only occurrence, else the only one under
/// `prefix`, else the one whose removal makes the configuration parse past it.
fn locate<T: DeserializeOwned>(tree: &Value, key: &str, prefix: Option<&str>) -> Option<String> {
    let mut found = Vec::new();
    walk(tree, String::new(), key, &mut found);
    if let Some(p) = prefix {
        let under: Vec<String> = found.iter().filter(|f| f.starts_with(p)).cloned().collect();
        if !under.is_empty() {
            found = under;
        }
    }
    if found.len() <= 1 {
        return found.pop().map(|p| join(&p, key));
    }
    found.into_iter().find_map(|p| {
        let mut t = tree.clone();
        remove(&mut t, &p, key);
        let still = serde_json::from_value::<T>(t)
            .err()
            .is_some_and(|e| unknown_key(&e.to_string()) == Some(key));
        (!still).then(|| join(&p, key))
    })
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Collects the paths of the objects holding `key`.
fn walk(v: &Value, at: String, key: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if m.contains_key(key) {
                out.push(at.clone());
            }
            for (k, child) in m {
                walk(child, join(&at, k), key, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                walk(child, format!("{at}[{i}]"), key, out);
            }
        }
        _ => {}
    }
}

/// Removes `key` from the object at `path` (as produced by [`walk`]).
fn remove(v: &mut Value, path: &str, key: &str) {
    let mut cur = v;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, idx) = match part.split_once('[') {
            Some((n, rest)) => (n, Some(rest)),
            None => (part, None),
        };
        let Some(next) = cur.get_mut(name) else {
            return;
        };
        cur = next;
        if let Some(rest) = idx {
            for i in rest.split('[') {
                let Some(n) = i.trim_end_matches(']').parse::<usize>().ok() else {
                    return;
                };
                let Some(next) = cur.get_mut(n) else {
                    return;
                };
                cur = next;
            }
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(key);
    }
}
