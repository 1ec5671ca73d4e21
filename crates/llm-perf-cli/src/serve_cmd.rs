//! `llm-perf serve`: the HTTP service of `llm-perf-server` (seed REST APIs and the benchmark
//! store) on a socket. This file only parses flags, opens the store, binds and shuts down.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use llm_perf::model::inferno::{Arithmetic, QueueModel};
use llm_perf_server::{AppState, ServerOptions, router};

use crate::queue_cmd::{Parity, QueueSettings};
use crate::store_cmd::{DbArgs, open_store};

/// Arguments of `llm-perf serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on, `HOST:PORT` (default 127.0.0.1:8080). A non-loopback address
    /// needs a token (LLM_PERF_TOKEN, --token-file or --token) or --read-only.
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["host", "port"])]
    listen: Option<String>,
    /// Host to listen on (with --port; loopback by default).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0: any free port, printed on stderr).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    #[command(flatten)]
    db: DbArgs,
    /// Bearer token that routes changing the store require (prefer LLM_PERF_TOKEN or
    /// --token-file: a flag shows in the process list).
    #[arg(long, value_name = "TOKEN", conflicts_with = "token_file")]
    token: Option<String>,
    /// File holding the bearer token (first line).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Refuse every change to the store (403); reads and computations still work.
    #[arg(long)]
    read_only: bool,
    /// Largest request body (uploads included), MiB; larger ones answer 413.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    max_body_mib: usize,
    /// Model generation of every route: v3, v6 (the paper) or v7 (current).
    #[arg(long, default_value = "v7")]
    model: QueueModel,
    /// Arithmetic: `f64`, or `go` for the Go services' float32 results (default: `f64`, and
    /// `go` for `/train?seed_compatible=true`).
    #[arg(long, value_enum)]
    arithmetic: Option<Parity>,
    /// Fits run at once (min 1); further fit requests wait (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    max_fits: Option<usize>,
}

impl ServeArgs {
    /// The token from the flag, the file, or LLM_PERF_TOKEN (in that order); empty is none.
    fn token(&self) -> Result<Option<String>> {
        let token = if let Some(t) = &self.token {
            Some(t.clone())
        } else if let Some(path) = &self.token_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?;
            Some(text.lines().next().unwrap_or("").trim().to_owned())
        } else {
            std::env::var("LLM_PERF_TOKEN").ok()
        };
        Ok(token.filter(|t| !t.trim().is_empty()))
    }

    fn address(&self) -> String {
        self.listen
            .clone()
            .unwrap_or_else(|| format!("{}:{}", self.host, self.port))
    }
}

/// Runs `llm-perf serve` until Ctrl-C (or SIGTERM) and in-flight requests have finished.
///
/// # Errors
/// The database cannot be opened, the runtime cannot start, the address cannot be bound, or a
/// non-loopback address has neither a token nor `--read-only`.
pub fn serve(args: &ServeArgs) -> Result<String> {
    let token = args.token()?;
    if args.max_body_mib == 0 {
        bail!("--max-body-mib must be at least 1");
    }
    let options = ServerOptions {
        queue: QueueSettings {
            model: args.model,
            arithmetic: match args.arithmetic.unwrap_or(Parity::F64) {
                Parity::F64 => Arithmetic::F64,
                Parity::Go => Arithmetic::GoFloat32,
            },
        },
        train_arithmetic: args.arithmetic.map(|a| match a {
            Parity::F64 => Arithmetic::F64,
            Parity::Go => Arithmetic::GoFloat32,
        }),
        max_concurrent_fits: args.max_fits.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        }),
        token,
        read_only: args.read_only,
        max_body_bytes: args.max_body_mib.saturating_mul(1024 * 1024),
    };
    let store = open_store(&args.db)?;
    let address = args.address();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(address.as_str())
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        let addr: SocketAddr = listener
            .local_addr()
            .context("cannot read the bound address")?;
        if !addr.ip().is_loopback() && options.token.is_none() && !options.read_only {
            bail!(
                "refusing to listen on {addr} without a token: anyone who can reach it could change the store; \
                 set LLM_PERF_TOKEN (or --token-file), or pass --read-only"
            );
        }
        let shutdown = shutdown_signal()?;
        let writes = if options.read_only {
            "read-only"
        } else if options.token.is_some() {
            "token required"
        } else {
            "open (loopback)"
        };
        // Always shown (the log filter defaults to errors); tests read the port from it.
        let _ = writeln!(
            std::io::stderr(),
            "llm-perf serve: listening on http://{addr} (model {}, database {}, writes {writes}); Ctrl-C stops",
            args.model,
            store.location(),
        );
        tracing::info!(%addr, model = %args.model, database = store.location(), writes, "listening");
        let app = router(AppState::new(store, options));
        axum::serve(listener, app)
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
