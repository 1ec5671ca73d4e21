//! `llm-perf serve`: the model-trainer and queue-analysis HTTP services in one process (axum on
//! tokio). The routes are in [`crate::server`].

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use llm_perf::model::inferno::{Arithmetic, QueueModel};

use crate::queue_cmd::{Parity, QueueSettings};
use crate::server::{ServerConfig, router};

/// Arguments of `llm-perf serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; use 0.0.0.0 to accept remote clients).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0: any free port, printed on stderr).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Model generation of every route: v3, v6 (the paper) or v7 (current).
    #[arg(long, default_value = "v7")]
    model: QueueModel,
    /// Arithmetic: `f64`, or `go` for the Go services' float32 results (default: `f64`, and
    /// `go` for `/train?seed_compatible=true`).
    #[arg(long, value_enum)]
    arithmetic: Option<Parity>,
    /// Fits run at once (min 1); further `/train` requests wait (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    max_fits: Option<usize>,
}

/// Runs `llm-perf serve` until Ctrl-C (or SIGTERM) and in-flight requests have finished.
///
/// # Errors
/// The runtime cannot start, or the address cannot be bound.
pub fn serve(args: &ServeArgs) -> Result<String> {
    let config = ServerConfig {
        queue: QueueSettings {
            model: args.model,
            arithmetic: args.arithmetic.unwrap_or(Parity::F64),
        },
        train_arithmetic: args.arithmetic.map(|a| match a {
            Parity::F64 => Arithmetic::F64,
            Parity::Go => Arithmetic::GoFloat32,
        }),
        max_concurrent_fits: args.max_fits.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        }),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
        let shutdown = shutdown_signal()?;
        let addr = listener
            .local_addr()
            .context("cannot read the bound address")?;
        // Always shown (the log filter defaults to errors); tests read the port from it.
        let _ = writeln!(
            std::io::stderr(),
            "llm-perf serve: listening on http://{addr} (model {}); Ctrl-C stops",
            args.model
        );
        tracing::info!(%addr, model = %args.model, "listening");
        axum::serve(listener, router(config))
            .with_graceful_shutdown(shutdown)
            .await
            .context("server failed")
    });
    // Fits still running on the blocking pool get a moment to finish, not forever.
    runtime.shutdown_timeout(Duration::from_secs(5));
    result?;
    Ok(String::new())
}

/// A future resolving on Ctrl-C (SIGINT) or, on Unix, SIGTERM. The handlers are installed
/// now, before the server announces itself, so an early signal is not lost.
#[cfg(unix)]
fn shutdown_signal() -> Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutting down");
    })
}

/// A future resolving on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl Future<Output = ()>> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down");
    })
}
