//! The only module that imports sled: trees, key encoding, stored formats, and an async store
//! whose methods are named for what they do and are durable when they return.
//!
//! Durability: every method that changes data runs as a job on the single writer thread
//! (`writer`), and returns once the flush that covers its writes is done; jobs waiting
//! together share one flush. No caller flushes. One writer also means that a job reads what
//! it is about to change without a race (a report reads the baseline it replaces and the
//! threshold index it scans). Reads run on the caller's thread, straight from sled.

mod api_keys;
mod cache;
mod catalog;
mod codec;
mod db;
mod definitions;
mod engine;
mod instances;
mod keys;
mod migrate;
mod outbox;
pub mod permissions;
mod reports;
mod subscriptions;
mod writer;

#[cfg(test)]
mod golden;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

pub use definitions::{Set, Stored, StoredSchedule, Watched};
pub use engine::{Defined, REFRESHES_KEPT};
pub use outbox::{AttemptContext, AttemptReport, DeliveryPage, DeliveryQuery, Recorded};
pub use reports::{IdempotencyKey, ReportOutcome};
pub use subscriptions::SubscribeOutcome;
pub use writer::Health;

use db::{Db, T};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "the data directory {path} is in use by another process; stop it or choose another INSIGHTS_DATA_DIR"
    )]
    Locked { path: String },
    /// A write or a flush failed (a full or failing disk); storage reopens itself.
    #[error("storage cannot take writes now")]
    Unavailable,
    #[error("storage input/output failed")]
    Io(#[source] std::io::Error),
    #[error("a stored record in {tree} is corrupt: {detail}")]
    Corrupt { tree: &'static str, detail: String },
    #[error("a record for {tree} cannot be encoded")]
    Encode {
        tree: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("the idempotency key was already used for a different report")]
    IdempotencyConflict,
    /// A per-tenant limit is reached.
    #[error("the tenant holds {limit} {what}, its limit")]
    Quota { what: &'static str, limit: u64 },
    /// The instance's refresh lock is held by another refresh.
    #[error("refresh {running} of the instance is still running")]
    RefreshInProgress { running: crate::domain::RefreshId },
    #[error("storage bug: {0}")]
    Bug(&'static str),
}

impl StorageError {
    /// Whether the failure is the disk's (the writer recovers) rather than the data's.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable | Self::Io(_))
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Per-tenant limits that stored data may not pass.
#[derive(Debug, Clone)]
pub struct Limits {
    pub instances_per_tenant: u64,
    pub subscriptions_per_tenant: u64,
    /// Dead letters kept per tenant; past it the oldest are pruned.
    pub failed_deliveries_per_tenant: u64,
    pub idempotency_keys_per_tenant: u64,
    /// How long an idempotency key makes a retried report a no-op.
    pub idempotency_retention: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            instances_per_tenant: 100,
            subscriptions_per_tenant: 10_000,
            failed_deliveries_per_tenant: 10_000,
            idempotency_keys_per_tenant: 100_000,
            idempotency_retention: Duration::from_secs(24 * 3600),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteCounts {
    pub jobs: u64,
    pub flushes: u64,
}

pub struct Store {
    shared: Arc<writer::Shared>,
    jobs: Mutex<Option<std::sync::mpsc::Sender<writer::Job>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    limits: Limits,
    caches: Arc<cache::Caches>,
}

impl Store {
    /// Opens (creating if missing) the database in `dir` with default limits.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, Limits::default())
    }

    /// Opens the database in `dir`, brings its stored formats up to date and starts the
    /// writer thread.
    pub fn open_with(dir: &Path, limits: Limits) -> Result<Self> {
        let db = Db::open(dir)?;
        migrate::run(&db, chrono::Utc::now())?;
        let shared = Arc::new(writer::Shared::new(dir.to_path_buf(), db));
        let (jobs, receiver) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("storage-writer".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || writer::run(shared, receiver)
            })
            .map_err(StorageError::Io)?;
        Ok(Self {
            shared,
            jobs: Mutex::new(Some(jobs)),
            thread: Mutex::new(Some(thread)),
            limits,
            caches: Arc::default(),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Stops the writer (after the jobs already sent), closes the database and waits until
    /// this process no longer holds the data dir, so that it can be opened again at once.
    pub async fn close(&self) -> Result<()> {
        let sender = self
            .jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        drop(sender);
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let shared = Arc::clone(&self.shared);
        let caches = Arc::clone(&self.caches);
        tokio::task::spawn_blocking(move || {
            if let Some(thread) = thread
                && thread.join().is_err()
            {
                tracing::error!("the storage writer had panicked");
            }
            if let Some(db) = shared.take() {
                db.flush()?;
            }
            caches.clear();
            shared.health.send_replace(Health::Closed);
            db::wait_until_released(&shared.dir, Duration::from_secs(30))
        })
        .await
        .map_err(|_| StorageError::Bug("closing storage panicked"))?
    }

    /// Write jobs made durable and the flushes that did it, since start: concurrent writes
    /// share a flush (group commit).
    pub fn write_counts(&self) -> WriteCounts {
        use std::sync::atomic::Ordering::Relaxed;
        WriteCounts {
            jobs: self.shared.jobs_done.load(Relaxed),
            flushes: self.shared.flushes.load(Relaxed),
        }
    }

    /// Whether storage takes writes now.
    pub fn health(&self) -> Health {
        self.shared.health.borrow().clone()
    }

    /// Follows changes of [`Store::health`].
    pub fn watch_health(&self) -> watch::Receiver<Health> {
        self.shared.health.subscribe()
    }

    /// Whether the writer thread still runs (it stops only at `close`, or on a bug).
    pub fn writer_alive(&self) -> bool {
        self.thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .is_some_and(|thread| !thread.is_finished())
    }

    /// The database, for reads.
    fn db(&self) -> Result<Arc<Db>> {
        self.caches
            .follow(self.shared.epoch.load(std::sync::atomic::Ordering::SeqCst));
        self.shared.current()
    }

    /// Runs `job` on the writer thread; its result comes back once its writes are durable.
    async fn write<R: Send + 'static>(
        &self,
        job: impl FnOnce(&Db) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        self.submit(job)?
            .await
            .map_err(|_| StorageError::Unavailable)?
    }

    /// Queues `job` for the writer thread; the answer comes once its writes are durable.
    fn submit<R: Send + 'static>(
        &self,
        job: impl FnOnce(&Db) -> Result<R> + Send + 'static,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<R>>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: writer::Job = Box::new(move |db| {
            let result = job(db);
            Box::new(move |flushed: Result<()>| {
                let _ = reply.send(result.and_then(|value| flushed.map(|()| value)));
            })
        });
        {
            let jobs = self
                .jobs
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let sender = jobs.as_ref().ok_or(StorageError::Unavailable)?;
            sender.send(job).map_err(|_| StorageError::Unavailable)?;
        }
        Ok(answer)
    }

    /// Readiness: the database accepts and persists a write.
    pub async fn check_writable(&self) -> Result<()> {
        self.write(|db| {
            let now = chrono::Utc::now().timestamp_millis().to_be_bytes();
            db.tree(T::NameValue).insert("readyz", &now)?;
            Ok(())
        })
        .await
    }

    /// The 32-byte key behind unsubscribe secrets, made once per database.
    pub async fn unsubscribe_key(&self) -> Result<Vec<u8>> {
        const NAME: &str = "unsubscribe_key";
        if let Some(key) = self.db()?.get(T::NameValue, NAME.as_bytes())? {
            return Ok(key.to_vec());
        }
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(|err| {
            StorageError::Io(std::io::Error::other(format!("no randomness: {err}")))
        })?;
        self.write(move |db| {
            let tree = db.tree(T::NameValue);
            // The writer is the only writer: a key stored meanwhile wins.
            match tree.get(NAME)? {
                Some(key) => Ok(key.to_vec()),
                None => {
                    tree.insert(NAME, &fresh[..])?;
                    Ok(fresh.to_vec())
                }
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trees are opened in `T::ALL` order and found by `t as usize`: the two orders must agree.
    #[test]
    fn every_tree_sits_at_its_own_index() {
        for (index, tree) in T::ALL.iter().enumerate() {
            assert_eq!(*tree as usize, index, "{tree:?}");
        }
        let names: std::collections::HashSet<_> = T::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(names.len(), T::ALL.len(), "tree names are unique");
    }

    #[tokio::test]
    async fn a_second_open_of_the_same_dir_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(dir.path()).unwrap();
        let err = Store::open(dir.path())
            .err()
            .expect("second open must fail");
        assert!(matches!(err, StorageError::Locked { .. }), "{err:?}");
        assert!(err.to_string().contains("in use by another process"));
        first.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_closed_store_can_be_opened_again_at_once_many_times() {
        let dir = tempfile::tempdir().unwrap();
        for round in 0..20u8 {
            let store = Store::open(dir.path()).expect("the dir is released by close");
            store
                .write(move |db| {
                    db.tree(T::NameValue).insert("round", &[round])?;
                    Ok(())
                })
                .await
                .unwrap();
            store.close().await.unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let last = store.db().unwrap().get(T::NameValue, b"round").unwrap();
        assert_eq!(last.as_deref(), Some(&[19u8][..]));
        store.close().await.unwrap();
    }

    /// Group commit: writes that wait while the writer is busy share the next flush, and
    /// each hears back only after it.
    #[tokio::test]
    async fn writes_waiting_together_share_one_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let before = store.write_counts();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let busy = store
            .submit(move |_| {
                gate.recv().ok();
                Ok(())
            })
            .unwrap();
        let waiting: Vec<_> = (0..50u32)
            .map(|i| {
                store
                    .submit(move |db| {
                        db.tree(T::NameValue).insert(i.to_be_bytes(), &[1])?;
                        Ok(i)
                    })
                    .unwrap()
            })
            .collect();
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        for (i, answer) in (0..).zip(waiting) {
            assert_eq!(answer.await.unwrap().unwrap(), i);
        }
        let after = store.write_counts();
        assert_eq!(after.jobs - before.jobs, 51);
        // The busy job's own flush (unless the others were queued before it started), and
        // one for the fifty.
        assert!(
            after.flushes - before.flushes <= 2,
            "{before:?} -> {after:?}"
        );
        store.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_write_answers_after_it_is_durable_and_the_unsubscribe_key_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let key = store.unsubscribe_key().await.unwrap();
        assert_eq!(key.len(), 32);
        assert_eq!(store.unsubscribe_key().await.unwrap(), key);
        store.close().await.unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.unsubscribe_key().await.unwrap(), key);
        assert!(store.writer_alive());
        store.close().await.unwrap();
        assert!(!store.writer_alive());
        assert_eq!(store.health(), Health::Closed);
        assert!(matches!(
            store.check_writable().await,
            Err(StorageError::Unavailable)
        ));
    }
}
