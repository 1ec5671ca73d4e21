//! The sweep file: a base simulation config, a grid and/or a list of override sets, and seeds;
//! expanded into items with stable ids. Also the frozen plan a results directory keeps.

use std::path::{Path, PathBuf};

use perf_sim::{SimConfig, SimError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::SweepError;
use super::overrides::{Overrides, fnv1a, segments};
use crate::Result;

/// The `format` of a frozen plan (`plan.json` in a results directory).
pub const PLAN_FORMAT: &str = "llm-perf sweep plan 1";

/// The keys a sweep file may have.
const KEYS: [&str; 6] = ["name", "description", "base", "grid", "items", "seeds"];

/// One work item: a set of overrides of the base config and a seed, with its position in the
/// sweep and its stable id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepItem {
    /// Position in the sweep, from 0 (grid order, then the explicit list; seeds innermost).
    pub index: usize,
    /// `<index, zero-padded>-<8 hex digits of the FNV-1a hash of the overrides and seed>`:
    /// the same sweep file gives the same ids, so a rerun finds its earlier results.
    pub id: String,
    /// The simulation's master seed.
    pub seed: u64,
    /// Dotted paths into the base config and their values.
    pub overrides: Overrides,
}

/// A loaded sweep: the base config, every item, and where relative paths are taken from.
///
/// # Examples
/// ```
/// use llm_perf::sweep::Sweep;
/// let yaml = "
/// base:
///   max_requests: 50
///   cluster:
///     cost_model: { kind: inferno, alpha: 8.0, beta: 0.02, gamma: 2.0e-4 }
///     kv_cache: { num_gpu_blocks: 100000 }
///   workload:
///     rate: 5.0
///     clients: [ { arrival: { kind: poisson }, input: { kind: fixed, value: 100 },
///                  output: { kind: fixed, value: 20 } } ]
/// grid:
///   cluster.engine.max_batch_size: [16, 64]
///   workload.rate: [5.0, 10.0, 20.0]
/// seeds: [1, 2]
/// ";
/// let sweep = Sweep::from_yaml_str(yaml, "demo.yaml", std::path::Path::new("."))?;
/// assert_eq!(sweep.items().len(), 12);
/// let item = &sweep.items()[3]; // batch 16, rate 10, seed 2
/// assert!(item.id.starts_with("0003-"));
/// let config = sweep.config(item)?;
/// assert_eq!((config.cluster.engine.max_batch_size(), config.seed), (16, 2));
/// assert_eq!(config.expected_requests(), Some(50.0));
/// # Ok::<(), llm_perf::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Sweep {
    name: String,
    file: String,
    base: Value,
    base_dir: PathBuf,
    sets: usize,
    seeds: usize,
    items: Vec<SweepItem>,
}

/// A results directory's copy of a sweep: enough to run it (Kubernetes pods read it from the
/// shared volume) and to know every item when merging.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    format: String,
    name: String,
    base_dir: PathBuf,
    base: Value,
    items: Vec<SweepItem>,
}

impl Sweep {
    /// Reads a sweep file (`.yaml`, `.yml` or `.json`), or a frozen plan (a results
    /// directory's `plan.json`). A base config named by path is relative to the sweep file.
    ///
    /// # Errors
    /// [`SweepError::File`] when the file cannot be read or parsed, [`SweepError::Key`]
    /// naming the key for an unknown key, an empty grid or list, a bad seed, an override that
    /// is not in the config's schema; the base config's own errors (naming its file).
    pub fn load(path: &Path) -> Result<Self> {
        let file = path.display().to_string();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !matches!(ext.as_deref(), Some("yaml" | "yml" | "json")) {
            return Err(SweepError::File {
                file,
                message: "unknown extension: use .yaml, .yml or .json".to_owned(),
            }
            .into());
        }
        let text = std::fs::read_to_string(path).map_err(|e| SweepError::File {
            file: file.clone(),
            message: e.to_string(),
        })?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."));
        // canonical, so the plan (which records it) is the same whichever way the file is named
        let dir = std::fs::canonicalize(dir)
            .or_else(|_| std::path::absolute(dir))
            .unwrap_or_else(|_| dir.to_path_buf());
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("sweep")
            .to_owned();
        Self::parse(&text, &file, &dir, &stem)
    }

    /// Parses a sweep file's text (YAML or JSON). `file` names it in errors and gives the
    /// default name; `dir` is where a base config path and file paths inside the config are
    /// taken from.
    ///
    /// # Errors
    /// As [`Sweep::load`].
    pub fn from_yaml_str(text: &str, file: &str, dir: &Path) -> Result<Self> {
        let stem = Path::new(file)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("sweep")
            .to_owned();
        Self::parse(text, file, dir, &stem)
    }

    fn parse(text: &str, file: &str, dir: &Path, stem: &str) -> Result<Self> {
        let doc: serde_norway::Value =
            serde_norway::from_str(text).map_err(|e| SweepError::File {
                file: file.to_owned(),
                message: e.to_string(),
            })?;
        let serde_norway::Value::Mapping(map) = doc else {
            return Err(SweepError::File {
                file: file.to_owned(),
                message: "expected a mapping with `base` and `grid`, `items` or `seeds`".to_owned(),
            }
            .into());
        };
        let key_err = |key: &str, message: String| SweepError::Key {
            file: file.to_owned(),
            key: key.to_owned(),
            message,
        };
        // a frozen plan says what it is; `format` is no key of a sweep file
        if map
            .get("format")
            .and_then(serde_norway::Value::as_str)
            .is_some_and(|f| f.starts_with("llm-perf sweep plan"))
        {
            return Self::from_plan(text, file);
        }
        let mut name = stem.to_owned();
        let mut base = None;
        let mut grid = None;
        let mut listed = None;
        let mut seeds = None;
        for (k, v) in &map {
            let Some(k) = k.as_str() else {
                return Err(key_err("", format!("keys must be strings, not {k:?}")).into());
            };
            match k {
                "name" => {
                    name = v
                        .as_str()
                        .filter(|s| !s.trim().is_empty())
                        .ok_or_else(|| key_err(k, "expected a non-empty string".to_owned()))?
                        .trim()
                        .to_owned();
                }
                "description" => {}
                "base" => base = Some(v),
                "grid" => grid = Some(v),
                "items" => listed = Some(v),
                "seeds" => seeds = Some(v),
                other => {
                    return Err(key_err(
                        other,
                        format!("unknown key (expected one of {})", KEYS.join(", ")),
                    )
                    .into());
                }
            }
        }
        let Some(base) = base else {
            return Err(key_err(
                "base",
                "missing: give the base simulation config, a file path or inline".to_owned(),
            )
            .into());
        };
        let (config, base_dir) = match base {
            serde_norway::Value::String(p) => {
                let path = dir.join(p);
                let loaded =
                    SimConfig::load_path(&path).map_err(|e| key_err("base", sim_message(&e)))?;
                for d in &loaded.decisions {
                    tracing::info!("{d}");
                }
                let base_dir = path
                    .parent()
                    .map_or_else(|| dir.to_path_buf(), Path::to_path_buf);
                (loaded.config, base_dir)
            }
            serde_norway::Value::Mapping(_) => {
                let yaml =
                    serde_norway::to_string(base).map_err(|e| key_err("base", e.to_string()))?;
                let loaded = SimConfig::load_yaml_str(&yaml)
                    .map_err(|e| key_err("base", sim_message(&e)))?;
                (loaded.config, dir.to_path_buf())
            }
            _ => {
                return Err(key_err(
                    "base",
                    "expected a config file path or an inline config mapping".to_owned(),
                )
                .into());
            }
        };
        let mut config = config;
        crate::resolve_trace_files(&mut config, &base_dir)?;
        crate::resolve_model_configs(&mut config, &base_dir)?;
        let base_seed = config.seed;
        let base_value =
            serde_json::to_value(&config).map_err(|e| key_err("base", e.to_string()))?;

        let seeds: Option<Vec<u64>> = seeds
            .map(|v| {
                let serde_norway::Value::Sequence(list) = v else {
                    return Err(key_err("seeds", "expected a list of integers".to_owned()));
                };
                if list.is_empty() {
                    return Err(key_err(
                        "seeds",
                        "empty list: give at least one seed".to_owned(),
                    ));
                }
                let mut out: Vec<u64> = Vec::with_capacity(list.len());
                for (i, s) in list.iter().enumerate() {
                    let seed = s.as_u64().ok_or_else(|| {
                        key_err(
                            &format!("seeds[{i}]"),
                            format!("{} is not a non-negative integer", yaml_text(s)),
                        )
                    })?;
                    if out.contains(&seed) {
                        return Err(key_err(
                            &format!("seeds[{i}]"),
                            format!("seed {seed} is listed twice"),
                        ));
                    }
                    out.push(seed);
                }
                Ok(out)
            })
            .transpose()?;

        // Override sets, each with the sweep-file key it came from (for errors).
        let mut sets: Vec<(Overrides, String)> = Vec::new();
        if let Some(grid) = grid {
            let serde_norway::Value::Mapping(g) = grid else {
                return Err(key_err(
                    "grid",
                    "expected a mapping of dotted paths to lists of values".to_owned(),
                )
                .into());
            };
            if g.is_empty() {
                return Err(key_err(
                    "grid",
                    "empty grid: give at least one dotted path with a list of values".to_owned(),
                )
                .into());
            }
            let mut axes: Vec<(String, Vec<Value>)> = Vec::new();
            for (k, v) in g {
                let path = override_path(k, "grid", seeds.is_some(), &key_err)?;
                let at = format!("grid.{path}");
                let serde_norway::Value::Sequence(values) = v else {
                    return Err(key_err(
                        &at,
                        format!("expected a list of values, got {}", yaml_text(v)),
                    )
                    .into());
                };
                if values.is_empty() {
                    return Err(key_err(&at, "empty list of values".to_owned()).into());
                }
                let values = values
                    .iter()
                    .enumerate()
                    .map(|(i, x)| to_json(x, &format!("{at}[{i}]"), &key_err))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                axes.push((path, values));
            }
            // Cartesian product, the first path outermost.
            let mut product: Vec<Overrides> = vec![Overrides::default()];
            for (path, values) in &axes {
                let mut next = Vec::with_capacity(product.len() * values.len());
                for o in &product {
                    for v in values {
                        let mut o = o.clone();
                        o.push(path.clone(), v.clone());
                        next.push(o);
                    }
                }
                product = next;
            }
            sets.extend(product.into_iter().map(|o| (o, "grid".to_owned())));
        }
        if let Some(listed) = listed {
            let serde_norway::Value::Sequence(list) = listed else {
                return Err(
                    key_err("items", "expected a list of override mappings".to_owned()).into(),
                );
            };
            if list.is_empty() {
                return Err(key_err(
                    "items",
                    "empty list: give at least one override set".to_owned(),
                )
                .into());
            }
            for (i, entry) in list.iter().enumerate() {
                let at = format!("items[{i}]");
                let serde_norway::Value::Mapping(m) = entry else {
                    return Err(key_err(
                        &at,
                        "expected a mapping of dotted paths to values".to_owned(),
                    )
                    .into());
                };
                let mut o = Overrides::default();
                for (k, v) in m {
                    let path = override_path(k, &at, seeds.is_some(), &key_err)?;
                    let value = to_json(v, &format!("{at}.{path}"), &key_err)?;
                    o.push(path, value);
                }
                sets.push((o, at));
            }
        }
        if sets.is_empty() {
            if seeds.is_none() {
                return Err(key_err(
                    "grid",
                    "no items: give `grid`, `items` or `seeds`".to_owned(),
                )
                .into());
            }
            sets.push((Overrides::default(), "seeds".to_owned()));
        }

        // Every set must give a config in the schema (checked once per set: seeds do not
        // change the schema).
        let mut set_seeds: Vec<Vec<u64>> = Vec::with_capacity(sets.len());
        for (o, at) in &sets {
            let mut tree = base_value.clone();
            o.apply(&mut tree)
                .map_err(|(path, m)| key_err(&format!("{at}: {path}"), m))?;
            parse_config(&tree).map_err(|m| key_err(at, m))?;
            let own = match &seeds {
                Some(list) => list.clone(),
                None => match o.get("seed") {
                    None => vec![base_seed],
                    Some(v) => vec![v.as_u64().ok_or_else(|| {
                        key_err(
                            &format!("{at}.seed"),
                            format!("{v} is not a non-negative integer"),
                        )
                    })?],
                },
            };
            set_seeds.push(own);
        }
        let total: usize = set_seeds.iter().map(Vec::len).sum();
        let mut items = Vec::with_capacity(total);
        for ((o, _), own) in sets.iter().zip(&set_seeds) {
            for &seed in own {
                let index = items.len();
                items.push(SweepItem {
                    index,
                    id: item_id(index, total, o, seed),
                    seed,
                    overrides: o.clone(),
                });
            }
        }
        Ok(Self {
            name,
            file: file.to_owned(),
            base: base_value,
            base_dir,
            sets: sets.len(),
            seeds: seeds.map_or(1, |s| s.len()),
            items,
        })
    }

    /// Reads a frozen plan's text, checking each id against its overrides and seed.
    fn from_plan(text: &str, file: &str) -> Result<Self> {
        let plan: PlanFile = serde_json::from_str(text).map_err(|e| SweepError::File {
            file: file.to_owned(),
            message: format!("not a sweep plan: {e}"),
        })?;
        let key_err = |key: String, message: String| SweepError::Key {
            file: file.to_owned(),
            key,
            message,
        };
        if plan.format != PLAN_FORMAT {
            return Err(key_err(
                "format".to_owned(),
                format!("`{}` is not `{PLAN_FORMAT}`", plan.format),
            )
            .into());
        }
        let total = plan.items.len();
        for (i, item) in plan.items.iter().enumerate() {
            let expected = item_id(i, total, &item.overrides, item.seed);
            if item.index != i || item.id != expected {
                return Err(key_err(
                    format!("items[{i}]"),
                    format!(
                        "index {} / id {} do not match the overrides and seed (expected {i} / \
                         {expected}): was the plan edited?",
                        item.index, item.id
                    ),
                )
                .into());
            }
        }
        parse_config(&plan.base).map_err(|m| key_err("base".to_owned(), m))?;
        Ok(Self {
            name: plan.name,
            file: file.to_owned(),
            base: plan.base,
            base_dir: plan.base_dir,
            sets: 0,
            seeds: 0,
            items: plan.items,
        })
    }

    /// The sweep's name (its `name` key, else the file's stem).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file it was loaded from, as given.
    #[must_use]
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Every item, in order.
    #[must_use]
    pub fn items(&self) -> &[SweepItem] {
        &self.items
    }

    /// Override sets × seeds per set, when loaded from a sweep file (`None` for a frozen plan,
    /// which keeps only the items).
    #[must_use]
    pub fn shape(&self) -> Option<(usize, usize)> {
        (self.sets > 0).then_some((self.sets, self.seeds))
    }

    /// The simulation config of `item`: the base with the item's overrides and seed, its
    /// trace files and model configs read (relative to the base config's directory).
    ///
    /// # Errors
    /// [`SweepError::Key`] naming the override when the result is not a config of the
    /// schema; the readers' errors for a trace or model file an override names.
    pub fn config(&self, item: &SweepItem) -> Result<SimConfig> {
        let mut tree = self.base.clone();
        let key_err = |key: String, message: String| SweepError::Key {
            file: self.file.clone(),
            key,
            message,
        };
        item.overrides
            .apply(&mut tree)
            .map_err(|(path, m)| key_err(format!("item {}: {path}", item.id), m))?;
        if let Value::Object(map) = &mut tree {
            map.insert("seed".to_owned(), Value::from(item.seed));
        }
        let mut config =
            parse_config(&tree).map_err(|m| key_err(format!("item {}", item.id), m))?;
        crate::resolve_trace_files(&mut config, &self.base_dir)?;
        crate::resolve_model_configs(&mut config, &self.base_dir)?;
        Ok(config)
    }

    /// The frozen plan (pretty JSON, newline-terminated): name, base config, every item.
    /// Deterministic for a given sweep, so tasks writing it concurrently write the same bytes.
    ///
    /// # Errors
    /// [`SweepError::File`] if serialisation fails (not expected).
    pub fn plan_json(&self) -> Result<String> {
        let plan = PlanFile {
            format: PLAN_FORMAT.to_owned(),
            name: self.name.clone(),
            base_dir: self.base_dir.clone(),
            base: self.base.clone(),
            items: self.items.clone(),
        };
        let text = serde_json::to_string_pretty(&plan).map_err(|e| SweepError::File {
            file: self.file.clone(),
            message: e.to_string(),
        })?;
        Ok(text + "\n")
    }
}

/// `<index>-<hash>`: the index zero-padded to at least 4 digits (more for sweeps of more
/// than 10 000 items), then the top 32 bits of FNV-1a-64 of [`Overrides::canonical`], in hex.
fn item_id(index: usize, total: usize, overrides: &Overrides, seed: u64) -> String {
    let width = total.saturating_sub(1).to_string().len().max(4);
    let hash = fnv1a(&overrides.canonical(seed)) >> 32;
    format!("{index:0width$}-{hash:08x}")
}

/// A config from its JSON tree, with the parser's message (the key's path first).
fn parse_config(tree: &Value) -> std::result::Result<SimConfig, String> {
    SimConfig::from_json_str(&tree.to_string()).map_err(|e| sim_message(&e))
}

/// A simulator error's message without the `<json>` origin of parsed strings.
fn sim_message(e: &SimError) -> String {
    match e {
        SimError::Parse {
            origin,
            path,
            message,
        } if origin.starts_with('<') => {
            // the position is in the JSON text built here, which the user never sees
            let message = match message.rfind(" at line ") {
                Some(i)
                    if message[i + 9..]
                        .split(" column ")
                        .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())) =>
                {
                    &message[..i]
                }
                _ => message.as_str(),
            };
            match path {
                Some(p) => format!("{p}: {message}"),
                None => message.to_owned(),
            }
        }
        other => other.to_string(),
    }
}

/// A dotted override path from a YAML key, checked for form.
fn override_path(
    key: &serde_norway::Value,
    at: &str,
    seeds_listed: bool,
    key_err: &dyn Fn(&str, String) -> SweepError,
) -> std::result::Result<String, SweepError> {
    let Some(path) = key.as_str() else {
        return Err(key_err(
            at,
            format!("override paths must be strings, not {}", yaml_text(key)),
        ));
    };
    let path = path.trim();
    segments(path).map_err(|m| key_err(&format!("{at}.{path}"), m))?;
    if seeds_listed && path == "seed" {
        return Err(key_err(
            &format!("{at}.seed"),
            "the seed is set by `seeds`: override it there".to_owned(),
        ));
    }
    Ok(path.to_owned())
}

/// A YAML value as JSON; non-finite numbers, tags and non-string keys are errors at `at`.
fn to_json(
    v: &serde_norway::Value,
    at: &str,
    key_err: &dyn Fn(&str, String) -> SweepError,
) -> std::result::Result<Value, SweepError> {
    use serde_norway::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::from(u)
            } else if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| key_err(at, format!("{n} is not a finite number")))?
            }
        }
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(list) => Value::Array(
            list.iter()
                .enumerate()
                .map(|(i, x)| to_json(x, &format!("{at}[{i}]"), key_err))
                .collect::<std::result::Result<_, _>>()?,
        ),
        Y::Mapping(m) => {
            let mut out = serde_json::Map::new();
            for (k, x) in m {
                let Some(k) = k.as_str() else {
                    return Err(key_err(
                        at,
                        format!("keys must be strings, not {}", yaml_text(k)),
                    ));
                };
                out.insert(k.to_owned(), to_json(x, &format!("{at}.{k}"), key_err)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            return Err(key_err(
                at,
                format!("YAML tags are not supported ({})", t.tag),
            ));
        }
    })
}

/// A YAML value on one line, for messages.
fn yaml_text(v: &serde_norway::Value) -> String {
    serde_norway::to_string(v)
        .map(|s| s.trim().replace('\n', " "))
        .unwrap_or_else(|_| format!("{v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "
base:
  max_requests: 20
  cluster:
    cost_model: { kind: inferno, alpha: 8.0, beta: 0.02, gamma: 2.0e-4 }
    kv_cache: { num_gpu_blocks: 100000 }
  workload:
    rate: 5.0
    clients: [ { arrival: { kind: poisson }, input: { kind: fixed, value: 100 },
                 output: { kind: fixed, value: 20 } } ]
";

    fn parse(extra: &str) -> Result<Sweep> {
        Sweep::from_yaml_str(&format!("{BASE}{extra}"), "t.yaml", Path::new("."))
    }

    fn err(extra: &str) -> String {
        parse(extra).unwrap_err().to_string()
    }

    #[test]
    fn grid_then_items_then_seeds_innermost() {
        let s = parse(
            "grid: { workload.rate: [1.0, 2.0], cluster.replicas: [1, 2] }\n\
             items: [ { cluster.engine.max_batch_size: 8 } ]\nseeds: [7, 8]\n",
        )
        .unwrap();
        assert_eq!(s.items().len(), 10);
        assert_eq!(s.shape(), Some((5, 2)));
        let o = |i: usize| serde_json::to_string(&s.items()[i].overrides).unwrap();
        assert_eq!(o(0), r#"{"workload.rate":1.0,"cluster.replicas":1}"#);
        assert_eq!(o(2), r#"{"workload.rate":1.0,"cluster.replicas":2}"#);
        assert_eq!(o(4), r#"{"workload.rate":2.0,"cluster.replicas":1}"#);
        assert_eq!(o(8), r#"{"cluster.engine.max_batch_size":8}"#);
        assert_eq!(
            s.items().iter().map(|i| i.seed).collect::<Vec<_>>(),
            [7, 8, 7, 8, 7, 8, 7, 8, 7, 8]
        );
        let c = s.config(&s.items()[9]).unwrap();
        assert_eq!((c.cluster.engine.max_batch_size(), c.seed), (8, 8));
    }

    #[test]
    fn ids_are_stable_and_unique() {
        let a = parse("grid: { workload.rate: [1.0, 2.0] }\nseeds: [1, 2]\n").unwrap();
        let b = parse("seeds: [1, 2]\ngrid: { workload.rate: [1.0, 2.0] }\n").unwrap();
        assert_eq!(a.items(), b.items());
        let ids: Vec<&str> = a.items().iter().map(|i| i.id.as_str()).collect();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(unique.len(), 4);
        assert!(ids.iter().all(|id| id.len() == 13), "{ids:?}");
        // the hash depends on the overrides and the seed only
        assert_eq!(ids[0][5..], item_id(0, 4, &a.items()[0].overrides, 1)[5..]);
        assert_ne!(ids[0][5..], ids[1][5..]);
    }

    #[test]
    fn unknown_keys_are_errors_naming_them() {
        let e = err("grid: { workload.rate: [1.0] }\nseedz: [1]\n");
        assert!(e.starts_with("t.yaml: seedz: unknown key"), "{e}");
        let e = err("grid: { cluster.engine.max_batch_siz: [8] }\n");
        assert!(
            e.starts_with("t.yaml: grid: cluster.engine.max_batch_siz: unknown field"),
            "{e}"
        );
        let e = err("items:\n  - workload.clients[3].arrival.rate: 1.0\n");
        assert!(
            e.contains("items[0]: workload.clients[3].arrival.rate: index 3 is past"),
            "{e}"
        );
    }

    #[test]
    fn empty_inputs_are_one_line_errors() {
        for (extra, needle) in [
            ("grid: {}\n", "t.yaml: grid: empty grid"),
            (
                "grid: { workload.rate: [] }\n",
                "t.yaml: grid.workload.rate: empty list",
            ),
            ("items: []\n", "t.yaml: items: empty list"),
            ("seeds: []\n", "t.yaml: seeds: empty list"),
            ("", "t.yaml: grid: no items"),
            (
                "seeds: [1, 1]\n",
                "t.yaml: seeds[1]: seed 1 is listed twice",
            ),
            (
                "seeds: [-1]\n",
                "t.yaml: seeds[0]: -1 is not a non-negative integer",
            ),
            (
                "seeds: [1]\ngrid: { seed: [1, 2] }\n",
                "t.yaml: grid.seed: the seed is set by",
            ),
            (
                "grid: { workload.rate: .nan }\n",
                "t.yaml: grid.workload.rate: expected a list of values",
            ),
            (
                "grid: { workload.rate: [.nan] }\n",
                "t.yaml: grid.workload.rate[0]: .nan is not a finite",
            ),
        ] {
            let e = err(extra);
            assert!(e.starts_with(needle), "{extra:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let e = Sweep::from_yaml_str("grid: {}", "t.yaml", Path::new(".")).unwrap_err();
        assert!(e.to_string().starts_with("t.yaml: base: missing"), "{e}");
    }

    #[test]
    fn seed_override_without_seeds_list_is_the_item_seed() {
        let s = parse("items: [ { seed: 11 }, { workload.rate: 2.0 } ]\n").unwrap();
        assert_eq!(s.items()[0].seed, 11);
        assert_eq!(s.items()[1].seed, 0);
        assert_eq!(s.config(&s.items()[0]).unwrap().seed, 11);
    }

    #[test]
    fn the_plan_round_trips_and_detects_edits() {
        let s = parse("grid: { workload.rate: [1.0, 2.0] }\nseeds: [3]\n").unwrap();
        let text = s.plan_json().unwrap();
        let back = Sweep::from_yaml_str(&text, "plan.json", Path::new(".")).unwrap();
        assert_eq!(back.items(), s.items());
        assert_eq!(back.plan_json().unwrap(), text);
        assert_eq!(
            back.config(&back.items()[1]).unwrap(),
            s.config(&s.items()[1]).unwrap()
        );
        let edited = text.replacen("\"seed\": 3", "\"seed\": 4", 1);
        let e = Sweep::from_yaml_str(&edited, "plan.json", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("items[0]") && e.contains("was the plan edited"),
            "{e}"
        );
    }
}
