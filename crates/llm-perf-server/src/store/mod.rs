//! The benchmark store: one SQLite file (WAL, foreign keys on, schema versioned by
//! `PRAGMA user_version`) holding uploaded files, the benchmark points read from them with
//! every statistic the file gave, and the models users derive from them.
//!
//! One connection behind a mutex: SQLite has one writer anyway, and every call runs on the
//! blocking pool ([`Store::call`]) so the async workers never wait on the disk. Writes run in
//! `IMMEDIATE` transactions: a failed upload or delete rolls back whole.

mod read;
pub(crate) mod upload;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use crate::error::{Result, ServerError};

pub use read::{
    BenchmarkDetail, BenchmarkSummary, Counts, DerivedModel, DerivedSummary, ModelSummary,
    PointRecord, TokenRange, UploadSummary, all_benchmarks, benchmark, benchmarks_of, counts,
    dataset, derived, derived_list, modeling_models, models, together_rows, upload_content,
    uploads,
};
pub use upload::{
    ParsedBenchmark, ParsedPoint, ParsedUpload, UploadKind, UploadRequest, parse_upload,
    parse_upload_path, sha256_hex,
};
pub use write::{
    DerivedKind, StoredBenchmark, StoredUpload, delete_benchmark, delete_derived, delete_upload,
    insert_derived, insert_upload,
};

/// Schema migrations, append-only: never edit a released one, add the next.
const MIGRATIONS_SLICE: &[M<'_>] = &[
    M::up(include_str!("../../migrations/0001_init.sql")),
    M::up(include_str!("../../migrations/0002_upload_warnings.sql")),
];
const MIGRATIONS: Migrations<'_> = Migrations::from_slice(MIGRATIONS_SLICE);

/// The database path that means "in memory, gone when the process ends".
pub const IN_MEMORY: &str = ":memory:";

/// A handle on the store; cheap to clone (all clones share one connection).
#[derive(Clone, Debug)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    location: Arc<str>,
}

impl Store {
    /// Opens (creating it and its directory if needed) the database at `path`, or an
    /// in-memory one for [`IN_MEMORY`], and brings its schema to the current version.
    ///
    /// # Errors
    /// [`ServerError::Io`] when the directory cannot be created, [`ServerError::Sqlite`] when
    /// the file is not a database or cannot be opened, [`ServerError::Migration`] when its
    /// schema is newer than this build's or cannot be migrated.
    pub fn open(path: &str) -> Result<Self> {
        let mut conn = if path == IN_MEMORY {
            Connection::open_in_memory()?
        } else {
            if let Some(dir) = Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|source| ServerError::Io {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
            Connection::open(path)?
        };
        // WAL persists in the file; the rest is per connection. busy_timeout is rusqlite's
        // default already, stated because the store relies on it.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
             PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;",
        )?;
        MIGRATIONS.to_latest(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            location: Arc::from(path),
        })
    }

    /// Where the database lives (a path, or `:memory:`).
    #[must_use]
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The default database path: `$XDG_DATA_HOME/llm-perf/llm-perf.db`, else
    /// `$HOME/.local/share/llm-perf/llm-perf.db`.
    ///
    /// # Errors
    /// [`ServerError::Invalid`] when neither variable is set.
    pub fn default_path() -> Result<PathBuf> {
        let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
                Some(home) => PathBuf::from(home).join(".local/share"),
                None => {
                    return Err(ServerError::invalid(
                        "database path",
                        "(none)",
                        "neither XDG_DATA_HOME nor HOME is set: give --db PATH or LLM_PERF_DB",
                    ));
                }
            },
        };
        Ok(base.join("llm-perf").join("llm-perf.db"))
    }

    /// Runs `f` on the connection, here and now (for the CLI and tests; async code uses
    /// [`Store::call`]).
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub fn with_conn<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        f(&mut self.lock())
    }

    /// Runs `f` on the connection on the blocking thread pool.
    ///
    /// # Errors
    /// Whatever `f` returns; [`ServerError::Internal`] if it panicked.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.with_conn(f))
            .await
            .map_err(|e| ServerError::Internal(format!("store task failed: {e}")))?
    }

    /// The connection. A panic while it was held (a bug, not bad input) poisons the mutex;
    /// the connection itself is still consistent (an open transaction rolled back when it
    /// was dropped), so the guard is taken back.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        assert!(MIGRATIONS.validate().is_ok());
    }

    #[test]
    fn file_store_is_wal_with_foreign_keys_and_versioned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/t.db");
        let store = Store::open(path.to_str().unwrap()).unwrap();
        let (mode, fk, version): (String, i64, i64) = store
            .with_conn(|c| {
                Ok((
                    c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
                    c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?,
                    c.query_row("PRAGMA user_version", [], |r| r.get(0))?,
                ))
            })
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(fk, 1);
        assert_eq!(version, MIGRATIONS_SLICE.len() as i64);
        drop(store);
        // Reopening an up-to-date file migrates nothing and keeps the version.
        let again = Store::open(path.to_str().unwrap()).unwrap();
        let v: i64 = again
            .with_conn(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(v, MIGRATIONS_SLICE.len() as i64);
    }

    #[test]
    fn a_version_1_store_is_migrated_and_keeps_its_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            Migrations::from_slice(&MIGRATIONS_SLICE[..1])
                .to_latest(&mut conn)
                .unwrap();
            conn.execute(
                "INSERT INTO uploads (file_name, sha256, format, kind, summary, size_bytes, content) \
                 VALUES ('old.csv', ?1, 'together-csv', 'benchmark', '1 point', 3, x'616263')",
                [&"a".repeat(64)],
            )
            .unwrap();
        }
        let store = Store::open(path.to_str().unwrap()).unwrap();
        let (version, list) = store
            .with_conn(|c| {
                let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                Ok((v, read::uploads(c)?))
            })
            .unwrap();
        assert_eq!(version, 2);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].file_name, "old.csv");
        assert!(list[0].warnings.is_empty());
    }

    #[test]
    fn a_file_that_is_not_a_database_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not.db");
        std::fs::write(&path, b"this is plain text, not SQLite at all, long enough").unwrap();
        let err = Store::open(path.to_str().unwrap()).unwrap_err();
        assert!(err.to_string().contains("not a database"), "{err}");
    }
}
