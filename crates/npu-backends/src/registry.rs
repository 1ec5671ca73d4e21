//! [`Registry`]: named engine and benchmark factories, extensible at run time.

use std::collections::BTreeMap;

use crate::aisbench::{AisBench, AisBenchConfig};
use crate::benchmark::Benchmark;
use crate::engine::Engine;
use crate::error::{NpuError, Result};
use crate::mindie::{Mindie, MindieConfig};
use crate::vllm::{Vllm, VllmConfig};
use crate::vllm_bench::{VllmBench, VllmBenchConfig};

/// Builds an engine from its own config section.
pub type EngineFactory = Box<dyn Fn(&toml::Value) -> Result<Box<dyn Engine>> + Send + Sync>;
/// Builds a benchmark from its own config section.
pub type BenchmarkFactory = Box<dyn Fn(&toml::Value) -> Result<Box<dyn Benchmark>> + Send + Sync>;

/// Name → factory maps for engines and benchmarks (no global state).
///
/// # Examples
/// ```
/// use npu_backends::Registry;
/// let mut reg = Registry::with_builtins();
/// assert!(reg.register_engine("mindie", |_| unreachable!()).is_err()); // taken
/// assert!(reg.engine_names().contains(&"vllm-ascend".to_string()));
/// let err = reg.engine("nope", &toml::Value::Table(Default::default())).err().unwrap();
/// assert!(err.to_string().contains("mindie"));                       // lists known names
/// ```
#[derive(Default)]
pub struct Registry {
    engines: BTreeMap<String, EngineFactory>,
    benchmarks: BTreeMap<String, BenchmarkFactory>,
    aliases: BTreeMap<String, String>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("engines", &self.engine_names())
            .field("benchmarks", &self.benchmark_names())
            .field("aliases", &self.aliases)
            .finish()
    }
}

fn section<T: serde::de::DeserializeOwned>(v: &toml::Value, what: &str) -> Result<T> {
    v.clone()
        .try_into()
        .map_err(|e| NpuError::InvalidConfig(format!("[{what}]: {e}")))
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-ins: engines `mindie`, `vllm`, `vllm-ascend` (alias `vllm_ascend`);
    /// benchmarks `ais_bench` (alias `aisbench`), `vllm_benchmark` (alias `vllm-bench`).
    #[must_use]
    pub fn with_builtins() -> Self {
        let mut r = Self::new();
        r.replace_engine("mindie", |v| {
            Ok(Box::new(Mindie::new(section::<MindieConfig>(
                v, "mindie",
            )?)?))
        });
        r.replace_engine("vllm", |v| {
            Ok(Box::new(Vllm::new(section::<VllmConfig>(v, "vllm")?)))
        });
        r.replace_engine("vllm-ascend", |v| {
            Ok(Box::new(Vllm::ascend(section::<VllmConfig>(
                v,
                "vllm-ascend",
            )?)))
        });
        r.replace_benchmark("ais_bench", |v| {
            Ok(Box::new(AisBench::new(section::<AisBenchConfig>(
                v,
                "ais_bench",
            )?)?))
        });
        r.replace_benchmark("vllm_benchmark", |v| {
            Ok(Box::new(VllmBench::new(section::<VllmBenchConfig>(
                v,
                "vllm_benchmark",
            )?)))
        });
        for (a, t) in [
            ("vllm_ascend", "vllm-ascend"),
            ("aisbench", "ais_bench"),
            ("vllm-bench", "vllm_benchmark"),
        ] {
            r.aliases.insert(a.to_owned(), t.to_owned());
        }
        r
    }

    fn taken(&self, name: &str) -> bool {
        self.engines.contains_key(name)
            || self.benchmarks.contains_key(name)
            || self.aliases.contains_key(name)
    }

    fn resolve<'a>(&'a self, name: &'a str) -> &'a str {
        self.aliases.get(name).map_or(name, String::as_str)
    }

    /// Adds an engine factory.
    ///
    /// # Errors
    /// [`NpuError::Registry`] when the name is taken (use [`Registry::replace_engine`]).
    pub fn register_engine<F>(&mut self, name: &str, factory: F) -> Result<()>
    where
        F: Fn(&toml::Value) -> Result<Box<dyn Engine>> + Send + Sync + 'static,
    {
        if self.taken(name) {
            return Err(NpuError::Registry(format!(
                "name `{name}` is already registered"
            )));
        }
        self.engines.insert(name.to_owned(), Box::new(factory));
        Ok(())
    }

    /// Adds or overwrites an engine factory.
    pub fn replace_engine<F>(&mut self, name: &str, factory: F)
    where
        F: Fn(&toml::Value) -> Result<Box<dyn Engine>> + Send + Sync + 'static,
    {
        self.aliases.remove(name);
        self.engines.insert(name.to_owned(), Box::new(factory));
    }

    /// Adds a benchmark factory.
    ///
    /// # Errors
    /// [`NpuError::Registry`] when the name is taken.
    pub fn register_benchmark<F>(&mut self, name: &str, factory: F) -> Result<()>
    where
        F: Fn(&toml::Value) -> Result<Box<dyn Benchmark>> + Send + Sync + 'static,
    {
        if self.taken(name) {
            return Err(NpuError::Registry(format!(
                "name `{name}` is already registered"
            )));
        }
        self.benchmarks.insert(name.to_owned(), Box::new(factory));
        Ok(())
    }

    /// Adds or overwrites a benchmark factory.
    pub fn replace_benchmark<F>(&mut self, name: &str, factory: F)
    where
        F: Fn(&toml::Value) -> Result<Box<dyn Benchmark>> + Send + Sync + 'static,
    {
        self.aliases.remove(name);
        self.benchmarks.insert(name.to_owned(), Box::new(factory));
    }

    /// Builds the engine `name` from its section.
    ///
    /// # Errors
    /// [`NpuError::Registry`] for an unknown name (listing the known ones); the factory's error.
    pub fn engine(&self, name: &str, section: &toml::Value) -> Result<Box<dyn Engine>> {
        let f = self.engines.get(self.resolve(name)).ok_or_else(|| {
            NpuError::Registry(format!(
                "unknown engine `{name}`; known: {}",
                self.engine_names().join(", ")
            ))
        })?;
        f(section)
    }

    /// Builds the benchmark `name` from its section.
    ///
    /// # Errors
    /// As [`Registry::engine`].
    pub fn benchmark(&self, name: &str, section: &toml::Value) -> Result<Box<dyn Benchmark>> {
        let f = self.benchmarks.get(self.resolve(name)).ok_or_else(|| {
            NpuError::Registry(format!(
                "unknown benchmark `{name}`; known: {}",
                self.benchmark_names().join(", ")
            ))
        })?;
        f(section)
    }

    /// Registered engine names, sorted (aliases excluded).
    #[must_use]
    pub fn engine_names(&self) -> Vec<String> {
        self.engines.keys().cloned().collect()
    }

    /// Registered benchmark names, sorted (aliases excluded).
    #[must_use]
    pub fn benchmark_names(&self) -> Vec<String> {
        self.benchmarks.keys().cloned().collect()
    }

    /// Aliases → target names.
    #[must_use]
    pub fn aliases(&self) -> &BTreeMap<String, String> {
        &self.aliases
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_aliases_and_errors() {
        let mut r = Registry::with_builtins();
        assert_eq!(r.engine_names(), ["mindie", "vllm", "vllm-ascend"]);
        assert_eq!(r.benchmark_names(), ["ais_bench", "vllm_benchmark"]);
        let sec: toml::Value = toml::from_str("model = \"m\"\nport = \"8010\"").unwrap();
        let e = r.engine("vllm_ascend", &sec).unwrap();
        assert_eq!(e.name(), "vllm-ascend");
        let b = r.benchmark("vllm-bench", &sec).unwrap();
        assert_eq!(b.name(), "vllm_benchmark");
        assert!(matches!(
            r.register_benchmark("aisbench", |_| unreachable!()),
            Err(NpuError::Registry(_))
        ));
        let err = r.benchmark("nope", &sec).err().unwrap().to_string();
        assert!(err.contains("ais_bench, vllm_benchmark"), "{err}");
        let bad: toml::Value = toml::from_str("port = \"x\"").unwrap();
        assert!(matches!(
            r.engine("vllm", &bad),
            Err(NpuError::InvalidConfig(_))
        ));
        r.replace_engine("vllm", |_| Err(NpuError::Registry("replaced".to_owned())));
        assert!(
            r.engine("vllm", &sec)
                .err()
                .unwrap()
                .to_string()
                .contains("replaced")
        );
    }
}
