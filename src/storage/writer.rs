//! The single writer: every change to the database runs on one thread, job after job, and the
//! jobs waiting together share one flush (group commit). A job's caller hears back only once
//! its writes are on disk. A failed write or flush (a full disk) makes storage unavailable:
//! jobs then fail at once, and the writer reopens the database with backoff until it works.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::db::{self, Db, T};
use super::{Result, StorageError};

/// Runs after the flush that covers the job's writes, with that flush's result.
pub(super) type Completion = Box<dyn FnOnce(Result<()>) + Send>;
/// A change to the database: runs on the writer thread and returns its completion.
pub(super) type Job = Box<dyn FnOnce(&Db) -> Completion + Send>;

/// Jobs applied before one flush, at most.
const MAX_BATCH: usize = 4096;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long a reopen waits for the old handles to let go of the data dir.
const RELEASE_WAIT: Duration = Duration::from_secs(30);

/// Whether storage takes writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Available,
    /// A write failed; the writer reopens the database until one succeeds.
    Unavailable {
        reason: String,
    },
    /// Closed on purpose (shutdown).
    Closed,
}

/// What the writer and the readers share: the current database, absent while it is reopened.
pub(super) struct Shared {
    pub(super) dir: PathBuf,
    db: RwLock<Option<Arc<Db>>>,
    pub(super) health: watch::Sender<Health>,
    /// Bumped at every reopen: caches filled before it may hold writes the disk lost.
    pub(super) epoch: std::sync::atomic::AtomicU64,
    /// Jobs applied and flushes made: how many jobs share a flush.
    pub(super) jobs_done: AtomicU64,
    pub(super) flushes: AtomicU64,
}

impl Shared {
    pub(super) fn new(dir: PathBuf, db: Db) -> Self {
        Self {
            dir,
            db: RwLock::new(Some(Arc::new(db))),
            health: watch::channel(Health::Available).0,
            epoch: Default::default(),
            jobs_done: Default::default(),
            flushes: Default::default(),
        }
    }

    /// The open database, for reading.
    pub(super) fn current(&self) -> Result<Arc<Db>> {
        self.db
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
            .ok_or(StorageError::Unavailable)
    }

    pub(super) fn take(&self) -> Option<Arc<Db>> {
        self.db
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    fn put(&self, db: Db) {
        *self
            .db
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::new(db));
    }
}

/// The writer thread's loop; returns when every sender is gone.
pub(super) fn run(shared: Arc<Shared>, jobs: Receiver<Job>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let Ok(db) = shared.current() else {
            if reopen(&shared) {
                backoff = FIRST_BACKOFF;
                continue;
            }
            // Jobs that come while storage is down fail at once: their callers answer 503
            // and the dispatcher holds its results.
            let until = Instant::now() + backoff;
            loop {
                let left = until.saturating_duration_since(Instant::now());
                match jobs.recv_timeout(left) {
                    // Dropping a job drops its caller's reply channel: the caller hears
                    // `Unavailable` at once (its answer is a 503; the dispatcher holds
                    // results it could not record).
                    Ok(job) => drop(job),
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            continue;
        };
        let Ok(first) = jobs.recv() else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let completions: Vec<Completion> = batch.into_iter().map(|job| job(&db)).collect();
        match db.flush() {
            Ok(()) => {
                shared.flushes.fetch_add(1, Ordering::Relaxed);
                shared
                    .jobs_done
                    .fetch_add(completions.len() as u64, Ordering::Relaxed);
                completions.into_iter().for_each(|done| done(Ok(())));
            }
            Err(err) => {
                tracing::error!(error = %err, jobs = completions.len(),
                    "storage cannot write; answering 503 and reopening it until it can");
                completions
                    .into_iter()
                    .for_each(|done| done(Err(StorageError::Unavailable)));
                shared.health.send_replace(Health::Unavailable {
                    reason: err.to_string(),
                });
                drop(db);
                shared.take();
            }
        }
    }
}

/// Tries once to open the data dir again and prove that it takes a durable write.
fn reopen(shared: &Shared) -> bool {
    let attempt = || -> Result<Db> {
        db::wait_until_released(&shared.dir, RELEASE_WAIT)?;
        let db = Db::open(&shared.dir)?;
        let stamp = chrono::Utc::now().timestamp_millis().to_be_bytes();
        db.tree(T::NameValue).insert("writable", &stamp)?;
        db.flush()?;
        Ok(db)
    };
    match attempt() {
        Ok(db) => {
            shared
                .epoch
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            shared.put(db);
            shared.health.send_replace(Health::Available);
            tracing::warn!("storage is writable again");
            true
        }
        Err(err) => {
            shared.health.send_replace(Health::Unavailable {
                reason: err.to_string(),
            });
            tracing::debug!(error = %err, "storage is still not writable");
            false
        }
    }
}
