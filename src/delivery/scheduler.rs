//! The in-memory scheduler: timers for pending deliveries, a ready queue per receiver, and
//! bounded concurrency overall and per `host:port`, so that a slow or dead receiver only ever
//! holds its own slots; and the background loop that runs it. It holds ids only; the outbox
//! on disk is the truth.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::{Inner, PRUNE_BATCH, worker};
use crate::domain::{DeliveryId, Queued};
use crate::storage::{AttemptReport, Health, StorageError};

/// How often held results are offered to storage again, beside its own "available" signal.
const HELD_RETRY: Duration = Duration::from_secs(1);
/// Scheduler turns the recorder yields, gathering results, before it writes a batch.
const GATHER_TURNS: usize = 8;

pub(super) struct State {
    max: usize,
    per_host: usize,
    timers: BinaryHeap<Reverse<(i64, DeliveryId, String)>>,
    ready: HashMap<String, VecDeque<DeliveryId>>,
    /// Hosts with ready deliveries and a free slot, in turn.
    ring: VecDeque<String>,
    in_ring: HashSet<String>,
    host_in_flight: HashMap<String, usize>,
    /// Deliveries started and not yet recorded, with their host.
    in_flight: HashMap<DeliveryId, String>,
    /// Every delivery in the timers, the ready queues or in flight: a second queueing of one
    /// that is ready or in flight is ignored.
    known: HashSet<DeliveryId>,
    /// The due time of each delivery waiting in `timers`; a timer entry that does not match
    /// it was superseded by an earlier one (a manual retry moves a delivery up).
    waiting: HashMap<DeliveryId, i64>,
}

impl State {
    pub(super) fn new(max: usize, per_host: usize) -> Self {
        Self {
            max,
            per_host,
            timers: BinaryHeap::new(),
            ready: HashMap::new(),
            ring: VecDeque::new(),
            in_ring: HashSet::new(),
            host_in_flight: HashMap::new(),
            in_flight: HashMap::new(),
            known: HashSet::new(),
            waiting: HashMap::new(),
        }
    }

    /// Deliveries waiting, ready or in flight.
    pub(super) fn depth(&self) -> usize {
        self.known.len()
    }

    pub(super) fn queue(&mut self, queued: Queued) {
        let earlier = match self.waiting.get(&queued.id) {
            Some(due) => queued.due_ms < *due,
            None => self.known.insert(queued.id),
        };
        if earlier {
            self.waiting.insert(queued.id, queued.due_ms);
            self.timers
                .push(Reverse((queued.due_ms, queued.id, queued.host)));
        }
    }

    fn has_slot(&self, host: &str) -> bool {
        self.host_in_flight.get(host).copied().unwrap_or(0) < self.per_host
    }

    fn offer(&mut self, host: &str) {
        let has_ready = self.ready.get(host).is_some_and(|q| !q.is_empty());
        if has_ready && self.has_slot(host) && self.in_ring.insert(host.to_owned()) {
            self.ring.push_back(host.to_owned());
        }
    }

    /// Moves due timers to their host's ready queue.
    pub(super) fn promote(&mut self, now_ms: i64) {
        while let Some(Reverse((due, _, _))) = self.timers.peek() {
            if *due > now_ms {
                break;
            }
            let Some(Reverse((due, id, host))) = self.timers.pop() else {
                break;
            };
            if self.waiting.get(&id) != Some(&due) {
                continue;
            }
            self.waiting.remove(&id);
            self.ready.entry(host.clone()).or_default().push_back(id);
            self.offer(&host);
        }
    }

    /// The earliest due time among waiting deliveries.
    pub(super) fn next_due(&self) -> Option<i64> {
        self.timers.peek().map(|Reverse((due, _, _))| *due)
    }

    /// An attempt ended and its result is recorded: its slot is free.
    pub(super) fn done(&mut self, id: DeliveryId) {
        self.known.remove(&id);
        let Some(host) = self.in_flight.remove(&id) else {
            return;
        };
        if let Some(count) = self.host_in_flight.get_mut(&host) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.host_in_flight.remove(&host);
            }
        }
        self.offer(&host);
    }

    /// Takes the next delivery to start, one host at a time in turn.
    pub(super) fn next_to_start(&mut self) -> Option<(DeliveryId, String)> {
        while self.in_flight.len() < self.max {
            let host = self.ring.pop_front()?;
            self.in_ring.remove(&host);
            if !self.has_slot(&host) {
                continue;
            }
            let Some(queue) = self.ready.get_mut(&host) else {
                continue;
            };
            let Some(id) = queue.pop_front() else {
                self.ready.remove(&host);
                continue;
            };
            if queue.is_empty() {
                self.ready.remove(&host);
            }
            self.in_flight.insert(id, host.clone());
            *self.host_in_flight.entry(host.clone()).or_default() += 1;
            self.offer(&host);
            return Some((id, host));
        }
        None
    }
}

/// The background loop: starts attempts as they fall due, records their results in batches
/// (group commit), prunes, and stops when `stop` is set.
pub(super) async fn run(inner: Arc<Inner>, mut stop: watch::Receiver<Option<Duration>>) {
    let (reports, received) = mpsc::unbounded_channel::<AttemptReport>();
    let recorder = tokio::spawn(record_loop(Arc::clone(&inner), received));
    let mut attempts = JoinSet::new();
    let mut moved = inner.clock.moved();
    let mut health = inner.store.watch_health();
    let retention = inner.settings.retention;
    let mut prune_timer = tokio::time::interval(
        retention.clamp(Duration::from_secs(1), Duration::from_secs(600)) / 2,
    );
    loop {
        if !inner.paused.load(Ordering::SeqCst) {
            let starts = {
                let mut state = inner.state();
                state.promote(inner.clock.now().timestamp_millis());
                std::iter::from_fn(|| state.next_to_start()).collect::<Vec<_>>()
            };
            for (id, host) in starts {
                let inner = Arc::clone(&inner);
                let reports = reports.clone();
                attempts.spawn(async move {
                    if let Some(report) = worker::attempt(&inner, id, host).await {
                        // Fails only when the recorder stopped: the result is not recorded
                        // and the attempt is made again at the next start.
                        let _ = reports.send(report);
                    }
                });
            }
        }
        while attempts.try_join_next().is_some() {}
        let wait = inner.state().next_due().map(|due| {
            let now = inner.clock.now().timestamp_millis();
            Duration::from_millis(due.saturating_sub(now).max(1).unsigned_abs())
        });
        let paused = inner.paused.load(Ordering::SeqCst);
        tokio::select! {
            _ = inner.wake.notified() => {}
            _ = tokio::time::sleep(HELD_RETRY), if paused => {
                let _ = inner.record(Vec::new()).await;
            }
            _ = tokio::time::sleep(wait.unwrap_or(Duration::from_secs(3600))), if wait.is_some() => {}
            _ = moved.changed() => {}
            changed = health.changed() => {
                if changed.is_ok() && *health.borrow() == Health::Available {
                    inner.recovered().await;
                }
            }
            _ = prune_timer.tick() => {
                let inner = Arc::clone(&inner);
                tokio::spawn(async move {
                    match prune(&inner).await {
                        Ok(0) => {}
                        Ok(pruned) => tracing::info!(pruned, "pruned delivered records and expired idempotency keys"),
                        Err(err) => tracing::error!(error = %err, "could not prune"),
                    }
                });
            }
            _ = stop.changed() => break,
        }
    }
    let grace = stop.borrow().unwrap_or_default();
    let drained = tokio::time::timeout(grace, async {
        while attempts.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            abandoned = attempts.len(),
            "attempts still in flight at shutdown stay pending"
        );
        attempts.abort_all();
    }
    drop(reports);
    if tokio::time::timeout(grace.max(Duration::from_secs(1)), recorder)
        .await
        .is_err()
    {
        tracing::warn!("results of the last attempts were not recorded; they stay pending");
    }
}

/// Records results as they come, in batches: after the first result, those that arrive while
/// the other tasks take a few turns join it, so a fan-out's results share a few writes and
/// flushes instead of one each (the flush is most of a write's cost).
async fn record_loop(inner: Arc<Inner>, mut received: mpsc::UnboundedReceiver<AttemptReport>) {
    while let Some(first) = received.recv().await {
        let mut batch = vec![first];
        for _ in 0..GATHER_TURNS {
            while let Ok(more) = received.try_recv() {
                batch.push(more);
            }
            tokio::task::yield_now().await;
        }
        // On failure the batch is held inside `record`, and retried when storage is back.
        let _ = inner.record(batch).await;
    }
}

pub(super) async fn prune(inner: &Inner) -> Result<usize, StorageError> {
    let now = inner.clock.now();
    let retention = chrono::Duration::from_std(inner.settings.retention)
        .map_err(|_| StorageError::Bug("the retention is bounded at start"))?;
    let before = now
        .checked_sub_signed(retention)
        .ok_or(StorageError::Bug("the retention is bounded at start"))?;
    inner.store.prune(before, now, PRUNE_BATCH).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(host: &str) -> Queued {
        Queued {
            id: DeliveryId::new(),
            host: host.into(),
            due_ms: 0,
        }
    }

    #[test]
    fn a_saturated_host_does_not_hold_back_another() {
        let mut state = State::new(100, 2);
        for _ in 0..10 {
            state.queue(queued("slow:80"));
        }
        state.queue(queued("fast:80"));
        state.promote(1);
        let mut started = Vec::new();
        while let Some((_, host)) = state.next_to_start() {
            started.push(host);
        }
        assert_eq!(started.iter().filter(|h| *h == "slow:80").count(), 2);
        assert!(started.contains(&"fast:80".to_owned()));
    }

    #[test]
    fn queueing_a_waiting_delivery_earlier_moves_it_up_once() {
        let mut state = State::new(8, 8);
        let later = Queued {
            due_ms: 10_000,
            ..queued("a:80")
        };
        let now = Queued {
            due_ms: 5,
            ..later.clone()
        };
        state.queue(later);
        state.queue(now);
        state.promote(10);
        assert!(state.next_to_start().is_some());
        state.promote(20_000);
        assert!(
            state.next_to_start().is_none(),
            "the superseded timer fired"
        );
    }

    #[test]
    fn a_delivery_queued_twice_is_started_once() {
        let mut state = State::new(8, 8);
        let one = queued("a:80");
        state.queue(one.clone());
        state.queue(one);
        state.promote(1);
        assert!(state.next_to_start().is_some());
        assert!(state.next_to_start().is_none());
    }

    #[test]
    fn a_slot_is_freed_only_when_the_attempt_is_done() {
        let mut state = State::new(8, 1);
        let (first, second) = (queued("a:80"), queued("a:80"));
        state.queue(first.clone());
        state.queue(second.clone());
        state.promote(1);
        let (started, _) = state.next_to_start().expect("one starts");
        assert!(state.next_to_start().is_none(), "one per host");
        state.done(started);
        let (next, _) = state
            .next_to_start()
            .expect("the other starts once the slot is free");
        assert_ne!(next, started);
        assert!([first.id, second.id].contains(&next));
        assert_eq!(state.depth(), 1);
    }
}
