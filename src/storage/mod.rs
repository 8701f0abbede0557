//! The only module that imports sled: trees, key encoding, atomic write sets and the flush
//! policy.
//!
//! Flush policy: every operation whose answer promises durability (201, 202, 204) writes its
//! changes in one multi-tree transaction and then awaits [`Store::flush`] before the handler
//! answers. Mutations of subscriptions and the catalog run under one write lock, so that a
//! report reads the baseline it replaces and the threshold index it scans without a race.
//! Delivery records are written with the event in the report's transaction (the outbox);
//! attempt results are not flushed one by one (sled flushes every 500 ms): a crash can only
//! make an attempt repeat, never lose a delivery.

mod api_keys;
mod catalog;
mod instances;
mod keys;
mod outbox;
pub mod permissions;
mod reports;
mod subscriptions;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

pub use outbox::{AttemptResult, DeliveryPage, DeliveryQuery};
pub use reports::{IdempotencyKey, ReportOutcome};
pub use subscriptions::SubscribeOutcome;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "the data directory {path} is in use by another process; stop it or choose another INSIGHTS_DATA_DIR"
    )]
    Locked { path: String },
    #[error("storage failure")]
    Sled(#[from] sled::Error),
    #[error("a stored record in {tree} is corrupt")]
    Corrupt {
        tree: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("the idempotency key was already used for a different report")]
    IdempotencyConflict,
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// The trees of the database. Names say key and value.
#[derive(Debug, Clone, Copy)]
enum T {
    InstanceidInstance,
    TenantInstanceidUnit,
    CatalogkeyItem,
    SubscriptionidSubscription,
    InstanceTriggerSubscriptionidUnit,
    ThresholdkeyUnit,
    DedupkeySubscriptionid,
    EventidEvent,
    IdempotencykeyOutcome,
    NameValue,
    ApikeyidApikey,
    DeliveryidDelivery,
    DueDeliveryidUnit,
    InstanceDeliveryidUnit,
    DoneatDeliveryidUnit,
    SubscriptionidNotfoundcount,
    EventidUnpruned,
    CreatedmsEventidUnmatched,
}

impl T {
    const ALL: [T; 18] = [
        T::InstanceidInstance,
        T::TenantInstanceidUnit,
        T::CatalogkeyItem,
        T::SubscriptionidSubscription,
        T::InstanceTriggerSubscriptionidUnit,
        T::ThresholdkeyUnit,
        T::DedupkeySubscriptionid,
        T::EventidEvent,
        T::IdempotencykeyOutcome,
        T::NameValue,
        T::ApikeyidApikey,
        T::DeliveryidDelivery,
        T::DueDeliveryidUnit,
        T::InstanceDeliveryidUnit,
        T::DoneatDeliveryidUnit,
        T::SubscriptionidNotfoundcount,
        T::EventidUnpruned,
        T::CreatedmsEventidUnmatched,
    ];

    fn name(self) -> &'static str {
        match self {
            T::InstanceidInstance => "instanceid_instance",
            T::TenantInstanceidUnit => "tenant_instanceid",
            T::CatalogkeyItem => "instance_kind_itemid_item",
            T::SubscriptionidSubscription => "subscriptionid_subscription",
            T::InstanceTriggerSubscriptionidUnit => "instance_trigger_subscriptionid",
            T::ThresholdkeyUnit => "instance_kind_itemid_threshold_subscriptionid",
            T::DedupkeySubscriptionid => "dedupkey_subscriptionid",
            T::EventidEvent => "eventid_event",
            T::IdempotencykeyOutcome => "idempotencykey_outcome",
            T::NameValue => "name_value",
            T::ApikeyidApikey => "apikeyid_apikey",
            T::DeliveryidDelivery => "deliveryid_delivery",
            T::DueDeliveryidUnit => "duems_deliveryid",
            T::InstanceDeliveryidUnit => "instance_deliveryid",
            T::DoneatDeliveryidUnit => "deliveredms_deliveryid",
            T::SubscriptionidNotfoundcount => "subscriptionid_notfoundcount",
            T::EventidUnpruned => "eventid_unpruneddeliverycount",
            T::CreatedmsEventidUnmatched => "createdms_eventid_unmatched",
        }
    }
}

/// Writes to apply together in one transaction.
#[derive(Default)]
struct WriteSet {
    ops: Vec<(T, Vec<u8>, Option<Vec<u8>>)>,
}

impl WriteSet {
    fn put(&mut self, tree: T, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push((tree, key.into(), Some(value.into())));
    }

    fn put_json(&mut self, tree: T, key: impl Into<Vec<u8>>, value: &impl Serialize) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|source| StorageError::Corrupt {
            tree: tree.name(),
            source,
        })?;
        self.put(tree, key, bytes);
        Ok(())
    }

    fn remove(&mut self, tree: T, key: impl Into<Vec<u8>>) {
        self.ops.push((tree, key.into(), None));
    }
}

pub struct Store {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    write_lock: Mutex<()>,
    /// Serialises read-modify-write of delivery records (attempt results, manual retries),
    /// apart from `write_lock` so that deliveries never wait for reports.
    delivery_lock: Mutex<()>,
    /// Group commit: flushes asked for, and the highest ask a finished flush covered.
    flush_requested: std::sync::atomic::AtomicU64,
    flush_done: std::sync::atomic::AtomicU64,
    flush_lock: tokio::sync::Mutex<()>,
}

impl Store {
    /// Opens (creating if missing) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        permissions::secure_data_dir(dir).map_err(sled::Error::Io)?;
        let db = sled::Config::new()
            .path(dir)
            .open()
            .map_err(|err| match err {
                sled::Error::Io(ref io) if is_lock_error(io) => StorageError::Locked {
                    path: dir.display().to_string(),
                },
                other => StorageError::Sled(other),
            })?;
        let trees = T::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            db,
            trees,
            write_lock: Mutex::new(()),
            delivery_lock: Mutex::new(()),
            flush_requested: Default::default(),
            flush_done: Default::default(),
            flush_lock: tokio::sync::Mutex::new(()),
        })
    }

    fn tree(&self, t: T) -> &sled::Tree {
        &self.trees[t as usize]
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // A panic while holding the lock leaves no partial write (writes are transactions),
        // so a poisoned lock is safe to reuse.
        self.write_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get_json<V: DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<V>> {
        self.tree(t)
            .get(key)?
            .map(|bytes| decode(t, &bytes))
            .transpose()
    }

    /// Values of every key under `prefix`, in key order.
    fn scan_json<V: DeserializeOwned>(&self, t: T, prefix: &[u8]) -> Result<Vec<V>> {
        self.tree(t)
            .scan_prefix(prefix)
            .values()
            .map(|value| decode(t, &value?))
            .collect()
    }

    /// Applies every write of `set` atomically.
    fn commit(&self, set: WriteSet) -> Result<()> {
        let result: Result<(), TransactionError<()>> = self.trees[..].transaction(|trees| {
            for (t, key, value) in &set.ops {
                let tree = &trees[*t as usize];
                match value {
                    Some(value) => tree.insert(key.as_slice(), value.as_slice())?,
                    None => tree.remove(key.as_slice())?,
                };
            }
            Ok::<_, ConflictableTransactionError<()>>(())
        });
        result.map_err(|err| match err {
            TransactionError::Storage(err) => StorageError::Sled(err),
            TransactionError::Abort(()) => StorageError::Sled(sled::Error::ReportableBug(
                "a write set aborted without a cause".into(),
            )),
        })
    }

    /// Waits until everything written so far is on disk. One flush runs at a time on a
    /// blocking thread, and callers whose writes an ongoing flush already covers share it
    /// (group commit). sled's `flush_async` is not used: concurrent calls fill its small IO
    /// thread pool with waiting flushes, and the log write they wait for never gets a thread.
    pub async fn flush(&self) -> Result<()> {
        use std::sync::atomic::Ordering::SeqCst;
        let ticket = self.flush_requested.fetch_add(1, SeqCst) + 1;
        let _one = self.flush_lock.lock().await;
        if self.flush_done.load(SeqCst) >= ticket {
            return Ok(());
        }
        let upto = self.flush_requested.load(SeqCst);
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|err| sled::Error::Io(std::io::Error::other(err)))??;
        self.flush_done.fetch_max(upto, SeqCst);
        Ok(())
    }

    /// Readiness: the database accepts and persists a write.
    pub async fn check_writable(&self) -> Result<()> {
        let now = chrono::Utc::now().timestamp_millis().to_be_bytes();
        self.tree(T::NameValue).insert("readyz", &now)?;
        self.flush().await
    }

    /// The 32-byte key behind unsubscribe secrets, made once per database.
    pub fn unsubscribe_key(&self) -> Result<Vec<u8>> {
        const NAME: &str = "unsubscribe_key";
        let tree = self.tree(T::NameValue);
        if let Some(key) = tree.get(NAME)? {
            return Ok(key.to_vec());
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|err| {
            sled::Error::Io(std::io::Error::other(format!("no randomness: {err}")))
        })?;
        // Two first starts cannot race: the directory lock admits one process.
        tree.compare_and_swap(NAME, None as Option<&[u8]>, Some(&key[..]))?
            .ok();
        self.db.flush()?;
        Ok(tree
            .get(NAME)?
            .map(|k| k.to_vec())
            .unwrap_or_else(|| key.to_vec()))
    }
}

fn decode<V: DeserializeOwned>(t: T, bytes: &[u8]) -> Result<V> {
    serde_json::from_slice(bytes).map_err(|source| StorageError::Corrupt {
        tree: t.name(),
        source,
    })
}

fn is_lock_error(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::WouldBlock || err.to_string().contains("lock")
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

    #[test]
    fn a_second_open_of_the_same_dir_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        let err = Store::open(dir.path())
            .err()
            .expect("second open must fail");
        assert!(matches!(err, StorageError::Locked { .. }), "{err:?}");
        assert!(err.to_string().contains("in use by another process"));
    }
}
