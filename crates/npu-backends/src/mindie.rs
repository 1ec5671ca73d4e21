//! MindIE Service: `config.json` rewrite by dotted path, daemon launch, log or HTTP health.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::common::LaunchSettings;
use crate::config::DecodedConfig;
use crate::engine::{Engine, Running, start_plan};
use crate::error::{NpuError, Result};
use crate::jsondoc::Doc;
use crate::plan::{ConfigChange, FileWrite, HealthProbe, HttpProbe, Plan, read_text};
use crate::runner::ProcessRunner;

/// The line MindIE prints when ready.
pub const READY_LINE: &str = "Daemon start success!";

/// How MindIE readiness is tested.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthMode {
    /// The log contains [`READY_LINE`] (the seed's test; default).
    #[default]
    Log,
    /// `GET /v2/health/ready` on the management address answers 200.
    Http,
    /// Both.
    Both,
}

/// The `[mindie]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MindieConfig {
    /// `config.json` of the service.
    pub config_path: PathBuf,
    /// `MIES_INSTALL_PATH` (default: the parent of the config's `conf/` directory).
    pub install_path: Option<PathBuf>,
    /// The daemon (default `<install>/bin/mindieservice_daemon`).
    pub binary: Option<PathBuf>,
    /// `ASCEND_RT_VISIBLE_DEVICES`, e.g. `"0,1,2,3"`.
    pub devices: Option<String>,
    /// Readiness test.
    pub health: HealthMode,
    /// Copy of the original config kept while a candidate is live (default
    /// `<log_dir>/mindie-config.orig.json`); found at start-up it means a crashed run.
    pub backup_path: Option<PathBuf>,
    /// Put a stale backup back instead of refusing to start.
    pub restore_stale_backup: bool,
    /// Env, logs, timeouts.
    #[serde(flatten)]
    pub launch: LaunchSettings,
}

impl Default for MindieConfig {
    fn default() -> Self {
        Self {
            config_path: PathBuf::from(
                "/usr/local/Ascend/mindie/latest/mindie-service/conf/config.json",
            ),
            install_path: None,
            binary: None,
            devices: None,
            health: HealthMode::Log,
            backup_path: None,
            restore_stale_backup: false,
            launch: LaunchSettings::default(),
        }
    }
}

/// The MindIE engine. The original `config.json` is read once and kept in memory; every
/// candidate is written over that original, never over the previous candidate.
#[derive(Clone, Debug)]
pub struct Mindie {
    cfg: MindieConfig,
    original: String,
}

impl MindieConfig {
    /// Where the original is kept while a candidate is live.
    #[must_use]
    pub fn backup_path(&self) -> PathBuf {
        self.backup_path
            .clone()
            .unwrap_or_else(|| self.launch.log_dir.join("mindie-config.orig.json"))
    }
}

impl Mindie {
    /// Reads the original config file.
    ///
    /// # Errors
    /// [`NpuError::Io`]; [`NpuError::InvalidConfig`] when it is not JSON or outside
    /// (0, 10 MB].
    ///
    /// A backup left by a crashed run is an error unless `restore_stale_backup` is set, in
    /// which case it is written back over the config file first.
    pub fn new(cfg: MindieConfig) -> Result<Self> {
        let backup = cfg.backup_path();
        if backup.exists() {
            if !cfg.restore_stale_backup {
                return Err(NpuError::InvalidConfig(format!(
                    "stale backup {} from an interrupted run: {} may still hold a candidate; \
                     set `restore_stale_backup = true` to put the backup back, or delete it",
                    backup.display(),
                    cfg.config_path.display()
                )));
            }
            let text = read_text(&backup)?;
            std::fs::write(&cfg.config_path, &text)
                .map_err(|e| NpuError::io(&cfg.config_path, e))?;
            std::fs::remove_file(&backup).map_err(|e| NpuError::io(&backup, e))?;
            tracing::warn!(path = %cfg.config_path.display(), "restored a stale backup");
        }
        let original = read_text(&cfg.config_path)?;
        Self::with_original(cfg, original)
    }

    /// Uses `original` as the file's content (dry-run on a copy).
    ///
    /// # Errors
    /// As [`Mindie::new`].
    pub fn with_original(cfg: MindieConfig, original: String) -> Result<Self> {
        if original.is_empty() || original.len() > 10 * 1024 * 1024 {
            return Err(NpuError::InvalidConfig(format!(
                "{}: MindIE accepts config files of (0, 10 MB], this one has {} bytes",
                cfg.config_path.display(),
                original.len()
            )));
        }
        Doc::parse(&original, &cfg.config_path.display().to_string())?;
        Ok(Self { cfg, original })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &MindieConfig {
        &self.cfg
    }

    fn install_path(&self) -> PathBuf {
        self.cfg.install_path.clone().unwrap_or_else(|| {
            self.cfg
                .config_path
                .parent()
                .and_then(Path::parent)
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        })
    }
}

fn str_at(doc: &Doc, path: &str) -> Option<String> {
    match doc.get_path(path)? {
        Doc::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn port_at(doc: &Doc, path: &str) -> Option<u16> {
    match doc.get_path(path)? {
        Doc::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        _ => None,
    }
}

impl Engine for Mindie {
    fn name(&self) -> &str {
        "mindie"
    }

    fn start(&self, plan: &Plan, runner: &dyn ProcessRunner) -> Result<Running> {
        let backup = self.cfg.backup_path();
        if let Some(dir) = backup.parent() {
            std::fs::create_dir_all(dir).map_err(|e| NpuError::io(dir, e))?;
        }
        std::fs::write(&backup, &self.original).map_err(|e| NpuError::io(&backup, e))?;
        start_plan(plan, runner)
    }

    fn restore(&self, plan: &Plan) -> Result<()> {
        plan.restore_files()?;
        let backup = self.cfg.backup_path();
        match std::fs::remove_file(&backup) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(NpuError::io(&backup, e)),
            _ => Ok(()),
        }
    }

    fn prepare(&self, cfg: &DecodedConfig) -> Result<Plan> {
        let file = self.cfg.config_path.clone();
        let mut doc = Doc::parse(&self.original, &file.display().to_string())?;
        let mut changes = Vec::new();
        for (path, value) in cfg.path_fields() {
            if !path.starts_with("BackendConfig.") {
                return Err(NpuError::ConfigPathNotFound {
                    path,
                    reason: "only positions under `BackendConfig.` go to MindIE's config.json"
                        .to_owned(),
                });
            }
            let old = doc.set_path(&path, &value)?;
            let new = doc.get_path(&path).map_or(value, Doc::to_value);
            changes.push(ConfigChange {
                file: file.clone(),
                path,
                old: old.as_ref().map(Doc::to_value),
                new,
            });
        }
        let new_text = doc.to_pretty();
        let install = self.install_path();
        let mut env = self.cfg.launch.env_with(cfg);
        env.insert(
            "MIES_INSTALL_PATH".to_owned(),
            install.display().to_string(),
        );
        env.insert("MINDIE_LOG_TO_STDOUT".to_owned(), "1".to_owned());
        if let Some(d) = &self.cfg.devices {
            env.insert("ASCEND_RT_VISIBLE_DEVICES".to_owned(), d.clone());
        }
        let binary = self
            .cfg
            .binary
            .clone()
            .unwrap_or_else(|| install.join("bin").join("mindieservice_daemon"));
        let ip = env
            .get("MIES_CONTAINER_IP")
            .cloned()
            .or_else(|| str_at(&doc, "ServerConfig.ipAddress"))
            .unwrap_or_else(|| "127.0.0.1".to_owned());
        let mgmt_ip = env
            .get("MIES_CONTAINER_MANAGEMENT_IP")
            .cloned()
            .or_else(|| str_at(&doc, "ServerConfig.managementIpAddress"))
            .unwrap_or_else(|| "127.0.0.2".to_owned());
        let port = port_at(&doc, "ServerConfig.port").unwrap_or(1025);
        let mgmt_port = port_at(&doc, "ServerConfig.managementPort").unwrap_or(1026);
        let http = HttpProbe {
            host: mgmt_ip,
            port: mgmt_port,
            path: "/v2/health/ready".to_owned(),
        };
        let health = match self.cfg.health {
            HealthMode::Log => HealthProbe {
                log_contains: Some(READY_LINE.to_owned()),
                http: None,
            },
            HealthMode::Http => HealthProbe {
                log_contains: None,
                http: Some(http),
            },
            HealthMode::Both => HealthProbe {
                log_contains: Some(READY_LINE.to_owned()),
                http: Some(http),
            },
        };
        Ok(Plan {
            name: self.name().to_owned(),
            files: vec![FileWrite {
                path: file,
                new_text,
                original_text: Some(self.original.clone()),
            }],
            changes,
            env,
            argv: vec![binary.display().to_string()],
            cwd: Some(install),
            health,
            log_path: self.cfg.launch.log_dir.join("mindie.log"),
            timeouts: self.cfg.launch.timeouts,
            listen: Some((ip, port)),
            ..Plan::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../samples/npu/deepseekr1-w8a8_2node_800I-A2_config.json"
    ));

    fn engine() -> Mindie {
        let cfg = MindieConfig {
            config_path: PathBuf::from("/opt/mindie/conf/config.json"),
            devices: Some("0,1".to_owned()),
            ..MindieConfig::default()
        };
        Mindie::with_original(cfg, DS.to_owned()).unwrap()
    }

    #[test]
    fn prepare_renders_file_env_and_daemon() {
        let e = engine();
        let cfg = DecodedConfig::new()
            .with_path("BackendConfig.ScheduleConfig.maxBatchSize", 256)
            .with_path("BackendConfig.ModelDeployConfig.ModelConfig.0.tp", 4)
            .with_env("MAX_SOMETHING", 3);
        let plan = e.prepare(&cfg).unwrap();
        assert_eq!(plan.argv, ["/opt/mindie/bin/mindieservice_daemon"]);
        assert_eq!(plan.env["ASCEND_RT_VISIBLE_DEVICES"], "0,1");
        assert_eq!(plan.env["MIES_INSTALL_PATH"], "/opt/mindie");
        assert_eq!(plan.env["MAX_SOMETHING"], "3");
        assert_eq!(plan.changes.len(), 2);
        assert_eq!(plan.changes[0].old, Some(serde_json::json!(200)));
        assert_eq!(plan.changes[1].old, None);
        let v: serde_json::Value = serde_json::from_str(&plan.files[0].new_text).unwrap();
        assert_eq!(v["BackendConfig"]["ScheduleConfig"]["maxBatchSize"], 256);
        assert_eq!(plan.listen, Some(("18.24.0.3".to_owned(), 1025)));
        assert_eq!(plan.health.log_contains.as_deref(), Some(READY_LINE));
        // Each candidate starts from the original.
        let plan2 = e.prepare(&DecodedConfig::new()).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&plan2.files[0].new_text).unwrap(),
            serde_json::from_str::<serde_json::Value>(DS).unwrap()
        );
    }

    #[test]
    fn missing_path_and_foreign_positions_are_errors() {
        let e = engine();
        let err = e
            .prepare(
                &DecodedConfig::new()
                    .with_path("BackendConfig.ModelDeployConfig.ModelConfig.5.tp", 1),
            )
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("BackendConfig.ModelDeployConfig.ModelConfig.5.tp")
        );
        let err = e
            .prepare(&DecodedConfig::new().with_path("ServerConfig.port", 1))
            .unwrap_err();
        assert!(matches!(err, NpuError::ConfigPathNotFound { .. }));
    }
}
