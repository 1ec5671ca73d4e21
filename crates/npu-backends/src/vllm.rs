//! vLLM and vLLM-Ascend: `vllm serve` command line from the configuration, env, `/health`.

use serde::{Deserialize, Serialize};

use crate::common::{LaunchSettings, de_port};
use crate::config::{DecodedConfig, duplicate_flags, shell_split, substitute};
use crate::engine::Engine;
use crate::error::{NpuError, Result};
use crate::plan::{HealthProbe, HttpProbe, Plan};

/// The `[vllm.command]`-like section of a vLLM engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VllmConfig {
    /// The `vllm` executable.
    pub binary: String,
    /// Model path or name.
    pub model: String,
    /// `--served-model-name`.
    pub served_model_name: Option<String>,
    /// `--host` (health is probed here; must be loopback for probing).
    pub host: String,
    /// `--port`.
    #[serde(deserialize_with = "de_port")]
    pub port: u16,
    /// Further arguments, shell words with `$NAME` placeholders for env fields.
    pub others: String,
    /// Visible devices (`ASCEND_RT_VISIBLE_DEVICES` for vLLM-Ascend, else `CUDA_VISIBLE_DEVICES`).
    pub devices: Option<String>,
    /// Env, logs, timeouts.
    #[serde(flatten)]
    pub launch: LaunchSettings,
}

impl Default for VllmConfig {
    fn default() -> Self {
        Self {
            binary: "vllm".to_owned(),
            model: String::new(),
            served_model_name: None,
            host: "127.0.0.1".to_owned(),
            port: 8000,
            others: String::new(),
            devices: None,
            launch: LaunchSettings::default(),
        }
    }
}

/// A `vllm serve` engine; `ascend` selects the vLLM-Ascend flavour (device env).
#[derive(Clone, Debug)]
pub struct Vllm {
    cfg: VllmConfig,
    ascend: bool,
}

impl Vllm {
    /// vLLM (GPUs).
    #[must_use]
    pub fn new(cfg: VllmConfig) -> Self {
        Self { cfg, ascend: false }
    }

    /// vLLM-Ascend (NPUs).
    #[must_use]
    pub fn ascend(cfg: VllmConfig) -> Self {
        Self { cfg, ascend: true }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &VllmConfig {
        &self.cfg
    }
}

impl Engine for Vllm {
    fn name(&self) -> &str {
        if self.ascend { "vllm-ascend" } else { "vllm" }
    }

    fn prepare(&self, cfg: &DecodedConfig) -> Result<Plan> {
        if let Some((path, _)) = cfg.path_fields().into_iter().next() {
            return Err(NpuError::ConfigPathNotFound {
                path,
                reason: "vLLM has no config file: use `config_position = \"env\"` and a $NAME \
                         placeholder in `others`"
                    .to_owned(),
            });
        }
        if self.cfg.model.is_empty() {
            return Err(NpuError::InvalidConfig("vllm: `model` is empty".to_owned()));
        }
        let c = &self.cfg;
        let mut argv = vec![c.binary.clone(), "serve".to_owned(), c.model.clone()];
        if let Some(n) = &c.served_model_name {
            argv.extend(["--served-model-name".to_owned(), n.clone()]);
        }
        argv.extend([
            "--host".to_owned(),
            c.host.clone(),
            "--port".to_owned(),
            c.port.to_string(),
        ]);
        argv.extend(shell_split(&c.others)?);
        let argv = substitute(&argv, &cfg.env_vars())?;
        let mut env = c.launch.env_with(cfg);
        if let Some(d) = &c.devices {
            let key = if self.ascend {
                "ASCEND_RT_VISIBLE_DEVICES"
            } else {
                "CUDA_VISIBLE_DEVICES"
            };
            env.insert(key.to_owned(), d.clone());
        }
        let warnings = duplicate_flags(&argv)
            .into_iter()
            .map(|f| format!("flag --{f} given more than once"))
            .collect();
        Ok(Plan {
            name: self.name().to_owned(),
            env,
            argv,
            health: HealthProbe {
                log_contains: None,
                http: Some(HttpProbe {
                    host: c.host.clone(),
                    port: c.port,
                    path: "/health".to_owned(),
                }),
            },
            log_path: c.launch.log_dir.join(format!("{}.log", self.name())),
            timeouts: c.launch.timeouts,
            listen: Some((c.host.clone(), c.port)),
            warnings,
            ..Plan::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_env_and_probe() {
        let e = Vllm::ascend(VllmConfig {
            model: "Qwen3".to_owned(),
            served_model_name: Some("q".to_owned()),
            port: 8010,
            others:
                "--max-num-batched-tokens $MAX_NUM_BATCHED_TOKENS --max-num-seqs $MAX_NUM_SEQS \
                     $COMPILATION_CONFIG --max-num-seqs 3"
                    .to_owned(),
            devices: Some("0,1".to_owned()),
            ..VllmConfig::default()
        });
        let cfg = DecodedConfig::new()
            .with_env("MAX_NUM_BATCHED_TOKENS", 16384)
            .with_env("max_num_seqs", 128.0)
            .with_env("COMPILATION_CONFIG", "");
        let plan = e.prepare(&cfg).unwrap();
        assert_eq!(
            plan.command_text(),
            "vllm serve Qwen3 --served-model-name q --host 127.0.0.1 --port 8010 \
             --max-num-batched-tokens 16384 --max-num-seqs 128 --max-num-seqs 3"
        );
        assert_eq!(plan.env["ASCEND_RT_VISIBLE_DEVICES"], "0,1");
        assert_eq!(plan.env["MAX_NUM_SEQS"], "128");
        assert_eq!(plan.env["COMPILATION_CONFIG"], "");
        assert_eq!(plan.warnings.len(), 1);
        assert_eq!(plan.health.http.as_ref().unwrap().path, "/health");
    }

    #[test]
    fn path_fields_and_unknown_vars_are_errors() {
        let e = Vllm::new(VllmConfig {
            model: "m".to_owned(),
            others: "--x $NOPE".to_owned(),
            ..VllmConfig::default()
        });
        assert!(e.prepare(&DecodedConfig::new()).is_err());
        let e = Vllm::new(VllmConfig {
            model: "m".to_owned(),
            ..VllmConfig::default()
        });
        assert!(
            e.prepare(&DecodedConfig::new().with_path("a.b", 1))
                .is_err()
        );
    }
}
