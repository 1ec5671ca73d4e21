//! Helpers shared by the integration tests that start real (fake) engine and benchmark
//! processes: scratch directories, loopback ports, launch settings, and the check that no
//! child process outlives a test.
#![allow(dead_code)] // each test file uses its own part

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};

use npu_backends::{LaunchSettings, ProcessRunner, SystemRunner, Timeouts};

/// A loopback port no other test of this process will be given, bindable now.
///
/// Ports come from below Linux's ephemeral range (32768–60999): a port the kernel hands out
/// for `bind(…:0)` is also a candidate for the local end of any outgoing connection, so another
/// test's HTTP probe could take it between this call and the engine's launch (seen on CI as
/// "port … is already in use"). A per-process counter, offset by the pid so concurrent test
/// processes start apart, keeps the tests of this binary on distinct ports.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // the test binary's name moves its start too, so two binaries run at once start apart
    let name_offset = env!("CARGO_CRATE_NAME")
        .bytes()
        .fold(0u16, |h, b| h.wrapping_mul(31).wrapping_add(u16::from(b)))
        % 997;
    let base = 20_000 + ((std::process::id() % 1_000) as u16 * 10 + name_offset) % 12_000;
    loop {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (base - 20_000 + offset) % 12_000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A scratch directory removed when dropped.
pub struct TmpDir(pub PathBuf);

impl std::ops::Deref for TmpDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh scratch directory named after the test binary, the process and `name`.
pub fn tmp(name: &str) -> TmpDir {
    let d = std::env::temp_dir().join(format!(
        "npu-{}-{}-{name}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TmpDir(d)
}

/// Launch settings: `env`, logs under `dir/logs`, the run timeout `run_s`.
pub fn launch(dir: &Path, env: &[(&str, &str)], run_s: f64) -> LaunchSettings {
    LaunchSettings {
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        log_dir: dir.join("logs"),
        timeouts: Timeouts {
            run_s,
            poll_s: 0.05,
            stop_grace_s: 2.0,
        },
    }
}

/// Asserts that every process started by the runner is gone, and no process remains in
/// their process groups (checked in /proc).
pub fn assert_no_strays(runner: &SystemRunner) {
    let pids = runner.pids();
    assert!(!pids.is_empty(), "the runner started no process");
    for pid in &pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // A reused pid would belong to another process group; ours are reaped.
        assert!(
            stat.is_empty() || !stat.contains("fake-"),
            "process {pid} still exists: {stat}"
        );
    }
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the ")" of the command: state, ppid, pgrp.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let pgrp: u32 = rest
            .split_whitespace()
            .nth(2)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        assert!(
            !pids.contains(&pgrp),
            "process {} is still in group {pgrp}: {stat}",
            entry.file_name().to_string_lossy()
        );
    }
}
