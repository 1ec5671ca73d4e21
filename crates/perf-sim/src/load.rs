//! Loading a [`SimConfig`] from YAML or JSON text or files.
//!
//! Unknown keys are rejected everywhere (every struct is `deny_unknown_fields`) and the error
//! names the key by its path in the configuration, e.g. `workload.clients[0].arrival.rat`.
//! Loading only parses: [`SimConfig::validate`] (run by [`crate::Simulation::new`]) checks the
//! values.

use std::path::Path;

use serde_json::Value;

use crate::config::SimConfig;
use crate::error::{Result, SimError};

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
        let path = path.as_ref();
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
        if yaml {
            parse_yaml(&text, &name)
        } else {
            parse_json(&text, &name)
        }
    }
}

fn parse_yaml(text: &str, origin: &str) -> Result<SimConfig> {
    serde_norway::from_str::<SimConfig>(text).map_err(|e| {
        let tree = serde_norway::from_str::<Value>(text).ok();
        error(origin, &e.to_string(), tree.as_ref())
    })
}

fn parse_json(text: &str, origin: &str) -> Result<SimConfig> {
    serde_json::from_str::<SimConfig>(text).map_err(|e| {
        let tree = serde_json::from_str::<Value>(text).ok();
        error(origin, &e.to_string(), tree.as_ref())
    })
}

/// Builds the parse error; for an unknown key, finds its full path in `tree`.
fn error(origin: &str, message: &str, tree: Option<&Value>) -> SimError {
    // serde_norway prefixes `path: ` (up to the nearest tagged enum); split it off.
    let (prefix, msg) = match message.split_once(": ") {
        Some((p, m)) if !p.contains(' ') && !p.is_empty() => (Some(p), m),
        _ => (None, message),
    };
    let path = unknown_key(msg)
        .zip(tree)
        .and_then(|(key, tree)| locate(tree, key, prefix));
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

/// The key of an "unknown field `key`" message.
fn unknown_key(msg: &str) -> Option<&str> {
    let rest = msg.split_once("unknown field `")?.1;
    Some(rest.split_once('`')?.0)
}

/// Full path of the object key `key` in `tree`: the only occurrence, else the only one under
/// `prefix`, else the one whose removal makes the configuration parse past it.
fn locate(tree: &Value, key: &str, prefix: Option<&str>) -> Option<String> {
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
        let still = serde_json::from_value::<SimConfig>(t)
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
