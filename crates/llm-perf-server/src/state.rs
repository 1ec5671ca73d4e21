//! What every handler shares: the store, the options the server was started with, and the
//! queue that bounds concurrent fits.

use std::ops::Deref;
use std::sync::Arc;

use llm_perf::model::inferno::{Arithmetic, QueueModel};
use tokio::sync::Semaphore;

use crate::seed_api::QueueSettings;
use crate::store::Store;

/// Default cap on request bodies (uploads included): 64 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Model generation and arithmetic of the queue routes (and the model of `/train`).
    pub queue: QueueSettings,
    /// Arithmetic of `/train`; `None`: float32 (Go) for seed-compatible fits, else f64.
    pub train_arithmetic: Option<Arithmetic>,
    /// Fits allowed at once (at least 1); further fit requests wait for a slot.
    pub max_concurrent_fits: usize,
    /// Bearer token that write routes require; `None`: writes are open (loopback only).
    pub token: Option<String>,
    /// Refuse every write to the store (403), whatever the token.
    pub read_only: bool,
    /// Largest request body accepted, bytes; larger ones answer 413.
    pub max_body_bytes: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            queue: QueueSettings {
                model: QueueModel::V7,
                arithmetic: Arithmetic::F64,
            },
            train_arithmetic: None,
            max_concurrent_fits: std::thread::available_parallelism()
                .map_or(1, std::num::NonZeroUsize::get),
            token: None,
            read_only: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// The shared state: one cheap clone per request.
#[derive(Clone, Debug)]
pub struct AppState(Arc<App>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct App {
    /// The benchmark store.
    pub store: Store,
    /// The options.
    pub options: ServerOptions,
    /// Slots for CPU-bound fits.
    pub fits: Arc<Semaphore>,
}

impl AppState {
    /// State over `store` with `options`.
    #[must_use]
    pub fn new(store: Store, options: ServerOptions) -> Self {
        let fits = Arc::new(Semaphore::new(options.max_concurrent_fits.max(1)));
        Self(Arc::new(App {
            store,
            options,
            fits,
        }))
    }
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}
