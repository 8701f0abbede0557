//! Read-through caches of records that deliveries read on every attempt (subscriptions,
//! events, fan-out records). The writer invalidates what it changes; a read fills a cache
//! only if nothing was invalidated meanwhile, so a cache never holds a value older than disk.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::domain::{Event, EventId, Subscription, SubscriptionId};

use super::codec::Fanout;

/// Entries kept per cache; a full cache starts over (the working set is what deliveries
/// touch now, which refills at once).
const CAPACITY: usize = 50_000;

pub(super) struct Cache<K, V> {
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    map: HashMap<K, Arc<V>>,
    generation: u64,
}

impl<K: Eq + Hash, V> Inner<K, V> {
    fn insert(&mut self, key: K, value: Arc<V>) {
        if self.map.len() >= CAPACITY {
            self.map.clear();
        }
        self.map.insert(key, value);
    }
}

impl<K: Eq + Hash, V> Default for Cache<K, V> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                generation: 0,
            }),
        }
    }
}

impl<K: Eq + Hash, V> Cache<K, V> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        // Every critical section leaves the map whole, so a poisoned lock is safe to reuse.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached value, or `read`'s (from disk), which fills the cache unless something
    /// was invalidated while it read: then the value may be older than disk.
    pub(super) fn read_through<E>(
        &self,
        key: K,
        read: impl FnOnce() -> Result<Option<V>, E>,
    ) -> Result<Option<Arc<V>>, E> {
        let generation = {
            let inner = self.lock();
            if let Some(found) = inner.map.get(&key) {
                return Ok(Some(Arc::clone(found)));
            }
            inner.generation
        };
        let found = read()?.map(Arc::new);
        if let Some(found) = &found {
            let mut inner = self.lock();
            if inner.generation == generation {
                inner.insert(key, Arc::clone(found));
            }
        }
        Ok(found)
    }

    /// Puts the value the writer just committed: no read in flight may fill an older one.
    pub(super) fn put(&self, key: K, value: Arc<V>) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.insert(key, value);
    }

    pub(super) fn invalidate(&self, key: &K) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.map.remove(key);
    }

    pub(super) fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.map.clear();
    }
}

#[derive(Default)]
pub(super) struct Caches {
    pub(super) subscriptions: Cache<SubscriptionId, Subscription>,
    pub(super) events: Cache<EventId, Event>,
    pub(super) fanouts: Cache<EventId, Fanout>,
    /// The event each delivery id prefix names (`DeliveryId::of_target`).
    pub(super) prefixes: Cache<[u8; 12], EventId>,
    /// The storage epoch the entries belong to: a reopen may have lost unflushed writes.
    epoch: AtomicU64,
}

impl Caches {
    /// Starts over when storage was reopened since the last look.
    pub(super) fn follow(&self, epoch: u64) {
        if self.epoch.swap(epoch, Ordering::SeqCst) != epoch {
            self.clear();
        }
    }

    pub(super) fn clear(&self) {
        self.subscriptions.clear();
        self.events.clear();
        self.fanouts.clear();
        self.prefixes.clear();
    }

    /// Forgets removed events; called after the commit that removed them, so that no read
    /// of the old records can fill a cache again.
    pub(super) fn forget_events(&self, events: &[EventId]) {
        for event in events {
            self.events.invalidate(event);
            self.fanouts.invalidate(event);
            let mut prefix = [0u8; 12];
            prefix.copy_from_slice(&event.as_bytes()[..12]);
            self.prefixes.invalidate(&prefix);
        }
    }
}
