//! The sled database: its trees (names say key and value), opening and closing a data dir,
//! and the primitive reads and atomic write sets the rest of `storage` is built on.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{Result, StorageError};

/// Declares the trees once: the enum, its list and its names cannot disagree.
macro_rules! trees {
    ($($(#[$meta:meta])* $variant:ident => $name:literal,)+) => {
        /// The trees of the database. Names say key and value; never rename one (a rename
        /// is a new, empty tree).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(super) enum T { $($(#[$meta])* $variant,)+ }

        impl T {
            pub(super) const ALL: &'static [T] = &[$(T::$variant,)+];

            pub(super) fn name(self) -> &'static str {
                match self { $(T::$variant => $name,)+ }
            }
        }
    };
}

trees! {
    InstanceidInstance => "instanceid_instance",
    TenantInstanceidUnit => "tenant_instanceid",
    CatalogkeyItem => "instance_kind_itemid_item",
    SubscriptionidSubscription => "subscriptionid_subscription",
    InstanceTriggerSubscriptionidUnit => "instance_trigger_subscriptionid",
    ThresholdkeyUnit => "instance_kind_itemid_threshold_subscriptionid",
    DedupkeySubscriptionid => "dedupkey_subscriptionid",
    EventidEvent => "eventid_event",
    IdempotencykeyOutcome => "idempotencykey_outcome",
    NameValue => "name_value",
    ApikeyidApikey => "apikeyid_apikey",
    SubscriptionidNotfoundcount => "subscriptionid_notfoundcount",
    /// Per tenant: how many subscriptions, idempotency records and dead letters it holds.
    TenantCounts => "tenant_counts",
    /// Idempotency records by the time they were stored, for pruning.
    CreatedmsIdempotencykey => "createdms_idempotencykey",
    /// The outbox: one record per event that reaches subscriptions (see `outbox`).
    EventidFanout => "eventid_fanout",
    /// The state of each delivery that moved since it was accepted.
    DeliveryidState => "deliveryid_state",
    /// Deliveries stored before fan-out records existed keep their ids through this map.
    LegacyDeliveryidTarget => "legacydeliveryid_eventid_index",
    /// Listing: an instance's events with deliveries, in time order.
    InstanceCreatedmsEventid => "instance_createdms_eventid",
    /// Per event: deliveries not yet final, and when the last one ended.
    EventidProgress => "eventid_progress",
    /// Events whose deliveries all ended, by that time: pruning after the retention.
    DoneatmsEventid => "doneatms_eventid",
    /// Dead letters per tenant, oldest first: pruning past the per-tenant limit.
    TenantFailedmsDeliveryid => "tenant_failedms_deliveryid",
    // Trees of the delivery records before fan-out records; read once, by the migration.
    LegacyDeliveryidDelivery => "deliveryid_delivery",
    LegacyDuemsDeliveryid => "duems_deliveryid",
    LegacyInstanceDeliveryid => "instance_deliveryid",
    LegacyDeliveredmsDeliveryid => "deliveredms_deliveryid",
    LegacyEventidUnpruned => "eventid_unpruneddeliverycount",
    LegacyCreatedmsEventidUnmatched => "createdms_eventid_unmatched",
    /// The engine's data source definitions, by instance and data source id.
    InstanceDatasourceidDatasource => "instance_datasourceid_datasource",
    /// Refresh records, by instance and time-ordered refresh id (newest last).
    InstanceRefreshidRefresh => "instance_refreshid_refresh",
    /// The refresh that holds an instance's refresh lock: present while one runs.
    InstanceRunningrefreshid => "instance_runningrefreshid",
    /// The engine's unification definition of each instance.
    InstanceUnification => "instance_unification",
    /// Measure definitions, by instance and measure id.
    InstanceMeasureidMeasure => "instance_measureid_measure",
    /// Segment definitions, by instance and segment id.
    InstanceSegmentidSegment => "instance_segmentid_segment",
    /// The full refresh schedule of each instance, with the last run it started.
    InstanceSchedule => "instance_schedule",
}

/// Writes to apply together, atomically.
#[derive(Default)]
pub(super) struct WriteSet {
    ops: Vec<(T, Vec<u8>, Option<Vec<u8>>)>,
}

impl WriteSet {
    pub(super) fn put(&mut self, tree: T, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push((tree, key.into(), Some(value.into())));
    }

    pub(super) fn put_json(
        &mut self,
        tree: T,
        key: impl Into<Vec<u8>>,
        value: &impl Serialize,
    ) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|source| StorageError::Encode {
            tree: tree.name(),
            source,
        })?;
        self.put(tree, key, bytes);
        Ok(())
    }

    pub(super) fn remove(&mut self, tree: T, key: impl Into<Vec<u8>>) {
        self.ops.push((tree, key.into(), None));
    }
}

/// An open database. Only the writer thread writes through it; any thread may read.
pub(super) struct Db {
    db: sled::Db,
    trees: Vec<sled::Tree>,
}

impl Db {
    /// Opens (creating if missing) the database in `dir`.
    pub(super) fn open(dir: &Path) -> Result<Self> {
        super::permissions::secure_data_dir(dir).map_err(StorageError::Io)?;
        let db = sled::Config::new()
            .path(dir)
            // sled's default cache is 1 GiB; the working set here is indexes and the outbox.
            .cache_capacity(128 * 1024 * 1024)
            .open()
            .map_err(|err| match err {
                sled::Error::Io(ref io) if is_lock_error(io) => StorageError::Locked {
                    path: dir.display().to_string(),
                },
                other => other.into(),
            })?;
        let trees = T::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { db, trees })
    }

    pub(super) fn tree(&self, t: T) -> &sled::Tree {
        // `T::ALL` lists every variant in declaration order (`every_tree_sits_at_its_own_index`).
        &self.trees[t as usize]
    }

    pub(super) fn get(&self, t: T, key: &[u8]) -> Result<Option<sled::IVec>> {
        Ok(self.tree(t).get(key)?)
    }

    pub(super) fn get_json<V: DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<V>> {
        self.get(t, key)?.map(|bytes| decode(t, &bytes)).transpose()
    }

    /// Values of every key under `prefix`, in key order.
    pub(super) fn scan_json<V: DeserializeOwned>(&self, t: T, prefix: &[u8]) -> Result<Vec<V>> {
        self.tree(t)
            .scan_prefix(prefix)
            .values()
            .map(|value| decode(t, &value?))
            .collect()
    }

    /// Keys under `prefix`, in key order.
    pub(super) fn scan_keys(&self, t: T, prefix: &[u8]) -> Result<Vec<sled::IVec>> {
        self.tree(t)
            .scan_prefix(prefix)
            .keys()
            .map(|key| key.map_err(Into::into))
            .collect()
    }

    /// Applies every write of `set` atomically (all of it, or none after a crash).
    pub(super) fn commit(&self, set: WriteSet) -> Result<()> {
        if set.ops.is_empty() {
            return Ok(());
        }
        if let [(tree, _, _), rest @ ..] = &set.ops[..]
            && rest.iter().all(|(t, _, _)| t == tree)
        {
            // One tree: a batch is atomic too, and cheaper than a transaction.
            let tree = *tree;
            let mut batch = sled::Batch::default();
            for (_, key, value) in set.ops {
                match value {
                    Some(value) => batch.insert(key, value),
                    None => batch.remove(key),
                }
            }
            return Ok(self.tree(tree).apply_batch(batch)?);
        }
        // Only the trees written take part: a transaction's cost grows with its trees.
        let mut written: Vec<T> = Vec::new();
        let ops: Vec<_> = set
            .ops
            .into_iter()
            .map(|(t, key, value)| {
                let at = written.iter().position(|w| *w == t).unwrap_or_else(|| {
                    written.push(t);
                    written.len() - 1
                });
                (at, key, value)
            })
            .collect();
        let trees: Vec<sled::Tree> = written.iter().map(|t| self.tree(*t).clone()).collect();
        let result: Result<(), TransactionError<()>> = trees[..].transaction(|trees| {
            for (at, key, value) in &ops {
                let tree = &trees[*at];
                match value {
                    Some(value) => tree.insert(key.as_slice(), value.as_slice())?,
                    None => tree.remove(key.as_slice())?,
                };
            }
            Ok::<_, ConflictableTransactionError<()>>(())
        });
        result.map_err(|err| match err {
            TransactionError::Storage(err) => err.into(),
            TransactionError::Abort(()) => StorageError::Bug("a write set aborted without a cause"),
        })
    }

    /// Puts everything written so far on disk.
    pub(super) fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

pub(super) fn decode<V: DeserializeOwned>(t: T, bytes: &[u8]) -> Result<V> {
    serde_json::from_slice(bytes).map_err(|source| StorageError::Corrupt {
        tree: t.name(),
        detail: source.to_string(),
    })
}

fn is_lock_error(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::WouldBlock || err.to_string().contains("lock")
}

/// The file sled locks to keep a second process out of the data dir.
fn lock_file(dir: &Path) -> PathBuf {
    dir.join("db")
}

/// Waits until nothing in this process holds the data dir any more. Dropping the last sled
/// handle does not release the directory at once: sled's flusher and IO threads let go of
/// the lock file shortly after. Reopening (after a storage failure, or a restart in tests)
/// waits here instead of failing with "in use".
pub(super) fn wait_until_released(dir: &Path, limit: Duration) -> Result<()> {
    let path = lock_file(dir);
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
    {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(StorageError::Io(err)),
    };
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => {
                file.unlock().map_err(StorageError::Io)?;
                return Ok(());
            }
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < limit => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StorageError::Locked {
                    path: dir.display().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(StorageError::Io(err)),
        }
    }
}

impl From<sled::Error> for StorageError {
    fn from(err: sled::Error) -> Self {
        match err {
            sled::Error::Io(io) => StorageError::Io(io),
            sled::Error::Corruption { at, .. } => StorageError::Corrupt {
                tree: "(log)",
                detail: format!("the log is corrupt at {at:?}"),
            },
            sled::Error::CollectionNotFound(_) => StorageError::Bug("a tree is missing"),
            sled::Error::Unsupported(_) => StorageError::Bug("an unsupported sled operation"),
            sled::Error::ReportableBug(_) => StorageError::Bug("sled reported a bug"),
        }
    }
}
