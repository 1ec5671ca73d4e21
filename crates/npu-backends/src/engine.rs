//! The [`Engine`] trait: prepare a [`Plan`] from a candidate, start, health-check, stop.

use std::time::Duration;

use crate::config::DecodedConfig;
use crate::error::{NpuError, Result};
use crate::plan::{Plan, log_tail};
use crate::runner::{ChildId, ChildStatus, ProcessRunner};

/// Lines of log quoted in errors.
pub const LOG_TAIL_LINES: usize = 5;

/// A started engine.
#[derive(Clone, Debug)]
pub struct Running {
    /// The runner's handle.
    pub child: ChildId,
    /// The plan it was started from.
    pub plan: Plan,
    /// Runner time at start.
    pub started_at: Duration,
}

/// Result of one health probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Not ready yet.
    Starting,
    /// Ready to serve.
    Ready,
    /// Dead or broken, with the reason.
    Failed(String),
}

/// The default [`Engine::start`]: port check, files, spawn.
///
/// # Errors
/// As [`Engine::start`].
pub fn start_plan(plan: &Plan, runner: &dyn ProcessRunner) -> Result<Running> {
    if let Some((host, port)) = &plan.listen
        && runner.port_in_use(host, *port)
    {
        return Err(NpuError::PortInUse {
            host: host.clone(),
            port: *port,
        });
    }
    plan.write_files()?;
    let child = runner.spawn(plan)?;
    Ok(Running {
        child,
        plan: plan.clone(),
        started_at: runner.now(),
    })
}

/// A serving engine (MindIE, vLLM, …). Only [`Engine::prepare`] is engine-specific; the
/// lifecycle methods have defaults driven by the plan.
pub trait Engine: Send {
    /// Registered name.
    fn name(&self) -> &str;

    /// Renders the launch for a candidate: config files, env, argv, health probe. Pure: no
    /// process, no socket, no file written.
    ///
    /// # Errors
    /// Configuration errors ([`NpuError::ConfigPathNotFound`], [`NpuError::TypeMismatch`],
    /// [`NpuError::InvalidConfig`]).
    fn prepare(&self, cfg: &DecodedConfig) -> Result<Plan>;

    /// Checks the port, writes the plan's files and spawns the engine.
    ///
    /// # Errors
    /// [`NpuError::PortInUse`], file or spawn errors.
    fn start(&self, plan: &Plan, runner: &dyn ProcessRunner) -> Result<Running> {
        start_plan(plan, runner)
    }

    /// One probe: process alive, then every probe of the plan.
    ///
    /// # Errors
    /// Runner errors.
    fn health(&self, running: &Running, runner: &dyn ProcessRunner) -> Result<Health> {
        if let ChildStatus::Exited { status, .. } = runner.status(running.child)? {
            return Ok(Health::Failed(status));
        }
        let probe = &running.plan.health;
        if let Some(pattern) = &probe.log_contains
            && !crate::runner::read_log(&running.plan.log_path).contains(pattern.as_str())
        {
            return Ok(Health::Starting);
        }
        if let Some(http) = &probe.http {
            let t = Duration::from_secs_f64(running.plan.timeouts.poll_s.clamp(0.05, 10.0));
            match runner.http_get(&http.host, http.port, &http.path, t) {
                Ok(200) => {}
                Ok(_) | Err(_) => return Ok(Health::Starting),
            }
        }
        Ok(Health::Ready)
    }

    /// Polls [`Engine::health`] until ready, the process exits, or the start timeout.
    ///
    /// # Errors
    /// [`NpuError::Exited`] (process gone, with the last log lines) or
    /// [`NpuError::HealthTimeout`].
    fn wait_ready(&self, running: &Running, runner: &dyn ProcessRunner) -> Result<()> {
        let t = running.plan.timeouts;
        let poll = Duration::from_secs_f64(t.poll_s.max(0.001));
        loop {
            match self.health(running, runner)? {
                Health::Ready => return Ok(()),
                Health::Failed(status) => {
                    return Err(NpuError::Exited {
                        program: running.plan.program().to_owned(),
                        status,
                        log_tail: log_tail(&running.plan.log_path, LOG_TAIL_LINES),
                    });
                }
                Health::Starting => {}
            }
            if (runner.now() - running.started_at).as_secs_f64() >= t.run_s {
                return Err(NpuError::HealthTimeout {
                    program: running.plan.program().to_owned(),
                    timeout_s: t.run_s,
                    log_tail: log_tail(&running.plan.log_path, LOG_TAIL_LINES),
                });
            }
            runner.sleep(poll);
        }
    }

    /// Stops the engine's process group (SIGTERM, grace, SIGKILL).
    ///
    /// # Errors
    /// Runner errors.
    fn stop(&self, running: &Running, runner: &dyn ProcessRunner) -> Result<ChildStatus> {
        let grace = Duration::from_secs_f64(running.plan.timeouts.stop_grace_s.max(0.0));
        runner.stop(running.child, grace)
    }

    /// Puts the original config files back.
    ///
    /// # Errors
    /// [`NpuError::Io`].
    fn restore(&self, plan: &Plan) -> Result<()> {
        plan.restore_files()
    }

    /// The captured output so far.
    fn logs(&self, running: &Running) -> String {
        crate::runner::read_log(&running.plan.log_path)
    }
}
