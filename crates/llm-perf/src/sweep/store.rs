//! The results directory: one file per item, written atomically, so that any number of
//! tasks — retried, duplicated, on many hosts sharing the filesystem — can write into it.
//!
//! ```text
//! DIR/plan.json               the frozen sweep (every item; the base config)
//! DIR/items/<id>.json         a finished item: id, index, seed, overrides, summary
//! DIR/items/<id>.failed.json  a failed item: id, index, seed, overrides, error
//! DIR/lists/<hash>.txt        item ids a re-submission runs (`--only-missing`)
//! DIR/logs/                   scheduler logs (SLURM `%A_%a.out`)
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use perf_sim::Summary;
use serde::{Deserialize, Serialize};

use super::error::SweepError;
use super::file::{Sweep, SweepItem};
use super::overrides::{Overrides, fnv1a};
use crate::Result;

/// A finished item's file, `items/<id>.json`. Deterministic: the same item gives the same
/// bytes on any host, at any time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemRecord {
    /// The item's id.
    pub id: String,
    /// Its position in the sweep.
    pub index: usize,
    /// Its seed.
    pub seed: u64,
    /// Its overrides of the base config.
    pub overrides: Overrides,
    /// The simulation's summary.
    pub summary: Summary,
}

/// A failed item's file, `items/<id>.failed.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailedRecord {
    /// The item's id.
    pub id: String,
    /// Its position in the sweep.
    pub index: usize,
    /// Its seed.
    pub seed: u64,
    /// Its overrides of the base config.
    pub overrides: Overrides,
    /// What went wrong.
    pub error: String,
}

/// Where an item stands in a results directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemStatus {
    /// `items/<id>.json` exists.
    Done,
    /// Only `items/<id>.failed.json` exists.
    Failed,
    /// Neither exists.
    Missing,
}

/// A results directory.
#[derive(Clone, Debug)]
pub struct ResultStore {
    dir: PathBuf,
}

impl ResultStore {
    /// Opens `dir` for writing: creates it and `items/`, and checks that a file can be
    /// written there.
    ///
    /// # Errors
    /// [`SweepError::Store`] naming the directory when it cannot be created or written.
    pub fn create(dir: &Path) -> Result<Self> {
        let store = Self {
            dir: dir.to_path_buf(),
        };
        let items = store.items_dir();
        std::fs::create_dir_all(&items).map_err(|e| {
            SweepError::store(dir, format!("cannot create the results directory: {e}"))
        })?;
        let probe = items.join(format!(".probe-{}", std::process::id()));
        write_atomic(&probe, b"")
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|e| SweepError::store(dir, format!("results directory not writable: {e}")))?;
        Ok(store)
    }

    /// Opens an existing results directory for reading (it must hold `plan.json`).
    ///
    /// # Errors
    /// [`SweepError::Store`] when `dir/plan.json` does not exist.
    pub fn open(dir: &Path) -> Result<Self> {
        let store = Self {
            dir: dir.to_path_buf(),
        };
        if !store.plan_path().is_file() {
            return Err(SweepError::store(
                dir,
                "not a sweep results directory (no plan.json): run `llm-perf sweep run` or \
                 `sweep submit` with --out here first",
            )
            .into());
        }
        Ok(store)
    }

    /// The directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `DIR/items`.
    #[must_use]
    pub fn items_dir(&self) -> PathBuf {
        self.dir.join("items")
    }

    /// `DIR/plan.json`.
    #[must_use]
    pub fn plan_path(&self) -> PathBuf {
        self.dir.join("plan.json")
    }

    /// `DIR/items/<id>.json`.
    #[must_use]
    pub fn item_path(&self, id: &str) -> PathBuf {
        self.items_dir().join(format!("{id}.json"))
    }

    /// `DIR/items/<id>.failed.json`.
    #[must_use]
    pub fn failed_path(&self, id: &str) -> PathBuf {
        self.items_dir().join(format!("{id}.failed.json"))
    }

    /// Writes the sweep's frozen plan, or checks that the one there is the same.
    ///
    /// # Errors
    /// [`SweepError::Store`] when the directory holds another sweep's plan (another sweep
    /// file, or this one edited since), or the plan cannot be written.
    pub fn write_plan(&self, sweep: &Sweep) -> Result<()> {
        let text = sweep.plan_json()?;
        let path = self.plan_path();
        match std::fs::read(&path) {
            Ok(existing) if existing == text.as_bytes() => return Ok(()),
            Ok(_) => {
                return Err(SweepError::store(
                    &path,
                    format!(
                        "holds another sweep's plan (not {} as it is now): use another --out, \
                         or remove the directory to start again",
                        sweep.file()
                    ),
                )
                .into());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(SweepError::store(&path, e).into()),
        }
        write_atomic(&path, text.as_bytes()).map_err(|e| SweepError::store(&path, e))?;
        Ok(())
    }

    /// The frozen plan.
    ///
    /// # Errors
    /// As [`Sweep::load`] for `DIR/plan.json`.
    pub fn read_plan(&self) -> Result<Sweep> {
        Sweep::load(&self.plan_path())
    }

    /// Where `item` stands.
    #[must_use]
    pub fn status(&self, item: &SweepItem) -> ItemStatus {
        if self.item_path(&item.id).is_file() {
            ItemStatus::Done
        } else if self.failed_path(&item.id).is_file() {
            ItemStatus::Failed
        } else {
            ItemStatus::Missing
        }
    }

    /// Writes a finished item (atomically) and removes an earlier failure of it.
    ///
    /// # Errors
    /// [`SweepError::Store`] naming the file.
    pub fn write_item(&self, record: &ItemRecord) -> Result<()> {
        let path = self.item_path(&record.id);
        let text = serde_json::to_string_pretty(record).map_err(|e| SweepError::store(&path, e))?;
        write_atomic(&path, (text + "\n").as_bytes()).map_err(|e| SweepError::store(&path, e))?;
        let failed = self.failed_path(&record.id);
        match std::fs::remove_file(&failed) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SweepError::store(&failed, e).into()),
        }
    }

    /// Writes a failed item (atomically).
    ///
    /// # Errors
    /// [`SweepError::Store`] naming the file.
    pub fn write_failure(&self, record: &FailedRecord) -> Result<()> {
        let path = self.failed_path(&record.id);
        let text = serde_json::to_string_pretty(record).map_err(|e| SweepError::store(&path, e))?;
        write_atomic(&path, (text + "\n").as_bytes()).map_err(|e| SweepError::store(&path, e))?;
        Ok(())
    }

    /// Reads a finished item's file.
    ///
    /// # Errors
    /// [`SweepError::Store`] naming the file when it cannot be read or parsed.
    pub fn read_item(&self, id: &str) -> Result<ItemRecord> {
        let path = self.item_path(id);
        let text = std::fs::read_to_string(&path).map_err(|e| SweepError::store(&path, e))?;
        Ok(serde_json::from_str(&text).map_err(|e| SweepError::store(&path, e))?)
    }

    /// Reads a failed item's file.
    ///
    /// # Errors
    /// [`SweepError::Store`] naming the file when it cannot be read or parsed.
    pub fn read_failure(&self, id: &str) -> Result<FailedRecord> {
        let path = self.failed_path(id);
        let text = std::fs::read_to_string(&path).map_err(|e| SweepError::store(&path, e))?;
        Ok(serde_json::from_str(&text).map_err(|e| SweepError::store(&path, e))?)
    }

    /// Writes a list of item ids (one a line) to `DIR/lists/<hash>.txt`, named by its
    /// content so a list in use by a running job is never overwritten by another; returns its
    /// path.
    ///
    /// # Errors
    /// [`SweepError::Store`] naming the file.
    pub fn write_list(&self, ids: &[&str]) -> Result<PathBuf> {
        let mut text = String::new();
        for id in ids {
            text.push_str(id);
            text.push('\n');
        }
        let dir = self.dir.join("lists");
        std::fs::create_dir_all(&dir).map_err(|e| SweepError::store(&dir, e))?;
        let path = dir.join(format!("{:016x}.txt", fnv1a(&text)));
        write_atomic(&path, text.as_bytes()).map_err(|e| SweepError::store(&path, e))?;
        Ok(path)
    }
}

/// Reads a list of item ids (one a line, blank lines ignored) and returns the sweep's items
/// in the list's order.
///
/// # Errors
/// [`SweepError::Store`] naming the file when it cannot be read or names an id the sweep does
/// not have.
pub fn read_list<'s>(path: &Path, sweep: &'s Sweep) -> Result<Vec<&'s SweepItem>> {
    let text = std::fs::read_to_string(path).map_err(|e| SweepError::store(path, e))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let id = line.trim();
        if id.is_empty() {
            continue;
        }
        let item = sweep.items().iter().find(|i| i.id == id).ok_or_else(|| {
            SweepError::store(
                path,
                format!(
                    "line {}: item `{id}` is not in sweep {}",
                    n + 1,
                    sweep.file()
                ),
            )
        })?;
        out.push(item);
    }
    Ok(out)
}

/// Writes `bytes` to `path` so that readers see either the old file or the whole new one:
/// a temporary file in the same directory, flushed to disk (`fsync`), renamed over `path`,
/// then the directory synced.
///
/// # Errors
/// The I/O error (the temporary file is removed).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::File::create_new(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // the rename itself reaches the disk with the directory
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_directory_below_a_file_is_not_writable() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let e = ResultStore::create(&file.join("out"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot create the results directory"), "{e}");
        assert!(!e.contains('\n'));
    }
}
