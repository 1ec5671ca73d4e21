//! [`ProcessRunner`]: the only thing that spawns processes or opens sockets.
//!
//! [`SystemRunner`] starts each child in its own process group with stdout and stderr captured
//! to the plan's log file and stops the whole group with SIGTERM, then SIGKILL after a grace
//! period (through `/bin/kill`, no `unsafe`). [`FakeRunner`] launches nothing: it records the
//! plans, scripts children and health answers, and runs a fake clock, for unit tests.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{NpuError, Result};
use crate::plan::Plan;

/// Identifies a child started by a runner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildId(pub u64);

/// State of a child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildStatus {
    /// Still running.
    Running,
    /// Exited; `success` is a zero exit code.
    Exited {
        /// Exit status, as text (`exit status: 1`, `signal: 15 (SIGTERM)`).
        status: String,
        /// Whether it exited with code 0.
        success: bool,
    },
}

/// Spawns, watches and stops processes, probes ports, and keeps time.
pub trait ProcessRunner: Send + Sync {
    /// Starts `plan.argv` with `plan.env` added, in `plan.cwd`, output to `plan.log_path`.
    ///
    /// # Errors
    /// [`NpuError::Spawn`] or [`NpuError::Io`] (log file).
    fn spawn(&self, plan: &Plan) -> Result<ChildId>;
    /// Whether the child still runs.
    ///
    /// # Errors
    /// An unknown id or an OS error.
    fn status(&self, id: ChildId) -> Result<ChildStatus>;
    /// Stops the child's process group: SIGTERM, then SIGKILL after `grace`. Idempotent.
    ///
    /// # Errors
    /// An unknown id or an OS error.
    fn stop(&self, id: ChildId, grace: Duration) -> Result<ChildStatus>;
    /// `GET http://host:port/path` → status code (loopback hosts only).
    ///
    /// # Errors
    /// [`NpuError::Probe`] for a non-loopback host or an I/O failure.
    fn http_get(&self, host: &str, port: u16, path: &str, timeout: Duration) -> Result<u16>;
    /// Whether `host:port` is already taken (binding it fails with "address in use").
    fn port_in_use(&self, host: &str, port: u16) -> bool;
    /// Time since the runner was created.
    fn now(&self) -> Duration;
    /// Waits (the fake advances its clock instead).
    fn sleep(&self, d: Duration);
    /// Process ids of every child ever started (empty for fakes).
    fn pids(&self) -> Vec<u32> {
        Vec::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct Proc {
    child: Child,
    pid: u32,
    done: Option<ChildStatus>,
}

/// The real runner (Unix).
pub struct SystemRunner {
    epoch: Instant,
    next: AtomicU64,
    children: Mutex<HashMap<u64, Proc>>,
    pids: Mutex<Vec<u32>>,
    shut_down: std::sync::atomic::AtomicBool,
}

impl Default for SystemRunner {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for SystemRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemRunner")
            .field("pids", &*lock(&self.pids))
            .finish_non_exhaustive()
    }
}

fn exit_status(s: std::process::ExitStatus) -> ChildStatus {
    ChildStatus::Exited {
        status: s.to_string(),
        success: s.success(),
    }
}

/// Sends `signal` to process group `pgid` with `/bin/kill`; errors (no such group) ignored.
fn kill_group(signal: &str, pgid: u32) {
    let _ = Command::new("/bin/kill")
        .args([format!("-{signal}"), "--".to_owned(), format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl SystemRunner {
    /// A runner with no children.
    #[must_use]
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
            next: AtomicU64::new(1),
            children: Mutex::new(HashMap::new()),
            pids: Mutex::new(Vec::new()),
            shut_down: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Stops every child (SIGTERM, `grace`, SIGKILL) and refuses further spawns. For a
    /// Ctrl-C handler: an evaluation in flight then fails (its engine is gone) and its guard
    /// restores the config files before the error returns.
    pub fn shutdown(&self, grace: Duration) {
        self.shut_down.store(true, Ordering::SeqCst);
        let mut children = lock(&self.children);
        for p in children.values_mut() {
            if let Err(e) = Self::stop_proc(p, grace) {
                tracing::warn!(pid = p.pid, error = %e, "stopping child at shutdown");
            }
        }
    }

    fn stop_proc(p: &mut Proc, grace: Duration) -> Result<ChildStatus> {
        if let Some(done) = &p.done {
            kill_group("KILL", p.pid);
            return Ok(done.clone());
        }
        if let Some(s) = p.child.try_wait().map_err(|e| NpuError::io("child", e))? {
            kill_group("KILL", p.pid);
            let st = exit_status(s);
            p.done = Some(st.clone());
            return Ok(st);
        }
        kill_group("TERM", p.pid);
        let start = Instant::now();
        let status = loop {
            if let Some(s) = p.child.try_wait().map_err(|e| NpuError::io("child", e))? {
                break s;
            }
            if start.elapsed() >= grace {
                tracing::warn!(pid = p.pid, "no exit after SIGTERM, sending SIGKILL");
                kill_group("KILL", p.pid);
                let _ = p.child.kill();
                break p.child.wait().map_err(|e| NpuError::io("child", e))?;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Members of the group that outlived the leader.
        kill_group("KILL", p.pid);
        let st = exit_status(status);
        p.done = Some(st.clone());
        Ok(st)
    }
}

impl Drop for SystemRunner {
    fn drop(&mut self) {
        let mut children = lock(&self.children);
        for p in children.values_mut() {
            let _ = Self::stop_proc(p, Duration::from_secs(2));
        }
    }
}

impl ProcessRunner for SystemRunner {
    fn spawn(&self, plan: &Plan) -> Result<ChildId> {
        let program = plan
            .argv
            .first()
            .ok_or_else(|| NpuError::InvalidConfig(format!("`{}`: empty command", plan.name)))?;
        if self.shut_down.load(Ordering::SeqCst) {
            return Err(NpuError::Spawn {
                program: program.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::Interrupted,
                    "the runner was shut down",
                ),
            });
        }
        if let Some(dir) = plan.log_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| NpuError::io(dir, e))?;
        }
        let log =
            std::fs::File::create(&plan.log_path).map_err(|e| NpuError::io(&plan.log_path, e))?;
        let err = log
            .try_clone()
            .map_err(|e| NpuError::io(&plan.log_path, e))?;
        let mut cmd = Command::new(program);
        cmd.args(&plan.argv[1..])
            .envs(&plan.env)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0);
        if let Some(cwd) = &plan.cwd {
            cmd.current_dir(cwd);
        }
        let child = cmd.spawn().map_err(|source| NpuError::Spawn {
            program: program.clone(),
            source,
        })?;
        let pid = child.id();
        tracing::debug!(pid, program = %program, "spawned");
        lock(&self.pids).push(pid);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.children).insert(
            id,
            Proc {
                child,
                pid,
                done: None,
            },
        );
        Ok(ChildId(id))
    }

    fn status(&self, id: ChildId) -> Result<ChildStatus> {
        let mut children = lock(&self.children);
        let p = children
            .get_mut(&id.0)
            .ok_or_else(|| NpuError::InvalidConfig(format!("unknown child {}", id.0)))?;
        if let Some(done) = &p.done {
            return Ok(done.clone());
        }
        match p.child.try_wait().map_err(|e| NpuError::io("child", e))? {
            Some(s) => {
                let st = exit_status(s);
                p.done = Some(st.clone());
                Ok(st)
            }
            None => Ok(ChildStatus::Running),
        }
    }

    fn stop(&self, id: ChildId, grace: Duration) -> Result<ChildStatus> {
        let mut children = lock(&self.children);
        let p = children
            .get_mut(&id.0)
            .ok_or_else(|| NpuError::InvalidConfig(format!("unknown child {}", id.0)))?;
        Self::stop_proc(p, grace)
    }

    fn http_get(&self, host: &str, port: u16, path: &str, timeout: Duration) -> Result<u16> {
        http_get(host, port, path, timeout)
    }

    fn port_in_use(&self, host: &str, port: u16) -> bool {
        matches!(TcpListener::bind((host, port)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse)
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }

    fn pids(&self) -> Vec<u32> {
        lock(&self.pids).clone()
    }
}

/// A hand-written HTTP/1.1 `GET` to a loopback address; returns the status code.
///
/// # Errors
/// [`NpuError::Probe`] for a non-loopback host, a connection or read failure, or a reply
/// that is not HTTP.
pub fn http_get(host: &str, port: u16, path: &str, timeout: Duration) -> Result<u16> {
    let probe = |m: String| NpuError::Probe(format!("http://{host}:{port}{path}: {m}"));
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| probe(e.to_string()))?
        .collect();
    let addr = addrs
        .iter()
        .find(|a| a.ip().is_loopback())
        .copied()
        .ok_or_else(|| probe("only loopback hosts are probed".to_owned()))?;
    debug_assert!(matches!(addr.ip(), IpAddr::V4(_) | IpAddr::V6(_)));
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| probe(e.to_string()))?;
    s.set_read_timeout(Some(timeout))
        .and_then(|()| s.set_write_timeout(Some(timeout)))
        .map_err(|e| probe(e.to_string()))?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())
        .map_err(|e| probe(e.to_string()))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 8192 {
        let n = s.read(&mut chunk).map_err(|e| probe(e.to_string()))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    let code = line
        .lines()
        .next()
        .filter(|l| l.starts_with("HTTP/"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| probe(format!("not an HTTP reply: {:?}", line.lines().next())))?;
    Ok(code)
}

/// A callback run by [`FakeRunner`] when a plan is spawned.
pub type SpawnHook = Arc<dyn Fn(&Plan) + Send + Sync>;

/// How a [`FakeRunner`] child behaves, chosen by its program name (argv\[0\]).
#[derive(Clone, Default)]
pub struct FakeBehaviour {
    /// Text written to the plan's log file at spawn.
    pub log: String,
    /// HTTP probes answer 200 from this long after spawn on (`None`: never).
    pub ready_after: Option<Duration>,
    /// The child exits this long after spawn (`None`: runs until stopped).
    pub exit_after: Option<Duration>,
    /// Exit code 0 when it exits by itself.
    pub exit_success: bool,
    /// Called at spawn (e.g. to write benchmark output files).
    pub on_spawn: Option<SpawnHook>,
}

impl std::fmt::Debug for FakeBehaviour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeBehaviour")
            .field("ready_after", &self.ready_after)
            .field("exit_after", &self.exit_after)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct FakeChild {
    program: String,
    started: Duration,
    stopped: bool,
}

/// A runner that launches nothing: scripted children, scripted probes, a fake clock.
#[derive(Debug, Default)]
pub struct FakeRunner {
    clock: Mutex<Duration>,
    behaviours: Mutex<BTreeMap<String, FakeBehaviour>>,
    children: Mutex<Vec<FakeChild>>,
    spawned: Mutex<Vec<Plan>>,
    taken_ports: Mutex<Vec<u16>>,
}

impl FakeRunner {
    /// A runner with no scripted programs (unknown programs run forever, never healthy).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Scripts the children whose argv\[0\] is `program`.
    pub fn script(&self, program: &str, b: FakeBehaviour) {
        lock(&self.behaviours).insert(program.to_owned(), b);
    }

    /// Marks a port as taken.
    pub fn take_port(&self, port: u16) {
        lock(&self.taken_ports).push(port);
    }

    /// Every plan spawned so far.
    #[must_use]
    pub fn spawned(&self) -> Vec<Plan> {
        lock(&self.spawned).clone()
    }

    /// Children spawned and not stopped nor exited.
    #[must_use]
    pub fn alive(&self) -> usize {
        let n = self.children_len();
        (0..n)
            .filter(|&i| matches!(self.status(ChildId(i as u64)), Ok(ChildStatus::Running)))
            .count()
    }

    fn children_len(&self) -> usize {
        lock(&self.children).len()
    }

    fn behaviour(&self, program: &str) -> FakeBehaviour {
        lock(&self.behaviours)
            .get(program)
            .cloned()
            .unwrap_or_default()
    }
}

impl ProcessRunner for FakeRunner {
    fn spawn(&self, plan: &Plan) -> Result<ChildId> {
        let program = plan.program().to_owned();
        let b = self.behaviour(&program);
        if !plan.log_path.as_os_str().is_empty() {
            if let Some(dir) = plan.log_path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| NpuError::io(dir, e))?;
            }
            std::fs::write(&plan.log_path, &b.log).map_err(|e| NpuError::io(&plan.log_path, e))?;
        }
        if let Some(f) = &b.on_spawn {
            f(plan);
        }
        lock(&self.spawned).push(plan.clone());
        let mut children = lock(&self.children);
        children.push(FakeChild {
            program,
            started: self.now(),
            stopped: false,
        });
        Ok(ChildId(children.len() as u64 - 1))
    }

    fn status(&self, id: ChildId) -> Result<ChildStatus> {
        let (program, started, stopped) = {
            let children = lock(&self.children);
            let c = usize::try_from(id.0)
                .ok()
                .and_then(|i| children.get(i))
                .ok_or_else(|| NpuError::InvalidConfig(format!("unknown child {}", id.0)))?;
            (c.program.clone(), c.started, c.stopped)
        };
        if stopped {
            return Ok(ChildStatus::Exited {
                status: "signal: 15 (SIGTERM)".to_owned(),
                success: false,
            });
        }
        let b = self.behaviour(&program);
        match b.exit_after {
            Some(d) if self.now() >= started + d => Ok(ChildStatus::Exited {
                status: if b.exit_success {
                    "exit status: 0".to_owned()
                } else {
                    "exit status: 1".to_owned()
                },
                success: b.exit_success,
            }),
            _ => Ok(ChildStatus::Running),
        }
    }

    fn stop(&self, id: ChildId, _grace: Duration) -> Result<ChildStatus> {
        let before = self.status(id)?;
        if before == ChildStatus::Running {
            let mut children = lock(&self.children);
            if let Some(c) = usize::try_from(id.0).ok().and_then(|i| children.get_mut(i)) {
                c.stopped = true;
            }
        }
        self.status(id)
    }

    fn http_get(&self, host: &str, port: u16, path: &str, _timeout: Duration) -> Result<u16> {
        let now = self.now();
        let children = lock(&self.children);
        for c in children.iter().rev().filter(|c| !c.stopped) {
            let b = self.behaviour(&c.program);
            if b.ready_after.is_some_and(|d| now >= c.started + d) {
                return Ok(200);
            }
        }
        Err(NpuError::Probe(format!(
            "http://{host}:{port}{path}: connection refused"
        )))
    }

    fn port_in_use(&self, _host: &str, port: u16) -> bool {
        lock(&self.taken_ports).contains(&port)
    }

    fn now(&self) -> Duration {
        *lock(&self.clock)
    }

    fn sleep(&self, d: Duration) {
        *lock(&self.clock) += d;
    }
}

/// Reads a whole log file as text (lossy), empty when missing.
#[must_use]
pub fn read_log(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}
