//! Opt-in clean-up of leftover engine processes by name (`kill_residual = [names]`).
//!
//! The seed kills `mindie*` / `vllm` processes by name before every start; we never do that on
//! our own. When a user opts in, [`find_residual`] lists the matching processes **of the
//! current user only** (the caller shows the list), and [`kill_residual`] stops exactly those
//! pids: SIGTERM, then SIGKILL after a grace period.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A leftover process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Residual {
    /// Process id.
    pub pid: u32,
    /// Its name (`comm`).
    pub name: String,
    /// Its command line, space-joined.
    pub cmdline: String,
}

fn uid_of(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|u| u.parse().ok())
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Processes of the current user whose name (`comm`, or the file name of argv\[0\]) equals
/// one of `names`, excluding this process. Linux `/proc` only; empty elsewhere.
#[must_use]
pub fn find_residual(names: &[&str]) -> Vec<Residual> {
    let me = std::process::id();
    let Some(my_uid) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .as_deref()
        .and_then(uid_of)
    else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me || !alive(pid) {
            continue;
        }
        let dir = entry.path();
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap_or_default();
        if uid_of(&String::from_utf8_lossy(&read("status"))) != Some(my_uid) {
            continue;
        }
        let comm = String::from_utf8_lossy(&read("comm")).trim().to_owned();
        let argv: Vec<String> = read("cmdline")
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let arg0 = argv
            .first()
            .and_then(|a| Path::new(a).file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if names.iter().any(|n| *n == comm || *n == arg0) {
            found.push(Residual {
                pid,
                name: comm,
                cmdline: argv.join(" "),
            });
        }
    }
    found.sort_by_key(|r| r.pid);
    found
}

fn signal(sig: &str, pid: u32) {
    let _ = Command::new("/bin/kill")
        .args([format!("-{sig}"), pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Stops the given processes by pid: SIGTERM, then SIGKILL to those still alive after
/// `grace`. Returns the pids that had to be killed.
pub fn kill_residual(found: &[Residual], grace: Duration) -> Vec<u32> {
    for r in found {
        tracing::warn!(pid = r.pid, name = %r.name, "stopping a residual process");
        signal("TERM", r.pid);
    }
    let start = Instant::now();
    while start.elapsed() < grace && found.iter().any(|r| alive(r.pid)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut killed = Vec::new();
    for r in found.iter().filter(|r| alive(r.pid)) {
        signal("KILL", r.pid);
        killed.push(r.pid);
    }
    killed
}
