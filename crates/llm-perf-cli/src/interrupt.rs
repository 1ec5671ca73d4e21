//! Ctrl-C for commands that run engines or benchmarks in their own process groups: those
//! children would outlive us, so an interrupt must stop them before the command ends.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use llm_perf::npu::SystemRunner;

/// On Ctrl-C: runs `before` (e.g. marks the work cancelled), prints `message` on stderr, then
/// stops every process `runner` started (grace 5 s) and makes it refuse new ones. The wait runs
/// on its own thread with a one-thread runtime, so it never blocks the command.
pub fn stop_children_on_ctrl_c(
    runner: Arc<SystemRunner>,
    message: &'static str,
    before: impl FnOnce() + Send + 'static,
) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
            before();
            let _ = writeln!(std::io::stderr(), "interrupted: {message}");
            runner.shutdown(Duration::from_secs(5));
        }
    });
}
