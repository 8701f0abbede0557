//! The in-memory scheduler: timers for pending deliveries, a ready queue per receiver, and
//! bounded concurrency overall and per `host:port`, so that a slow or dead receiver only ever
//! holds its own slots. It holds ids only; the outbox on disk is the truth.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::{Shared, worker};
use crate::domain::{DeliveryId, Queued};

/// Delivered records pruned per pass, so that one pass stays short.
const PRUNE_BATCH: usize = 10_000;

pub(super) enum Command {
    Queue(Vec<Queued>),
    /// An attempt ended; `next` is the delivery again when it stays pending.
    Done {
        id: DeliveryId,
        host: String,
        next: Option<Queued>,
    },
}

#[derive(Default)]
struct State {
    timers: BinaryHeap<Reverse<(i64, DeliveryId, String)>>,
    ready: HashMap<String, VecDeque<DeliveryId>>,
    /// Hosts with ready deliveries and a free slot, in turn.
    ring: VecDeque<String>,
    in_ring: HashSet<String>,
    host_in_flight: HashMap<String, usize>,
    in_flight: usize,
    /// Every delivery in the timers, the ready queues or in flight: a second queueing of one
    /// that is ready or in flight is ignored.
    known: HashSet<DeliveryId>,
    /// The due time of each delivery waiting in `timers`; a timer entry that does not match
    /// it was superseded by an earlier one (a manual retry moves a delivery up).
    waiting: HashMap<DeliveryId, i64>,
}

impl State {
    fn queue(&mut self, queued: Queued) {
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

    fn has_slot(&self, host: &str, per_host: usize) -> bool {
        self.host_in_flight.get(host).copied().unwrap_or(0) < per_host
    }

    fn offer(&mut self, host: &str, per_host: usize) {
        let has_ready = self.ready.get(host).is_some_and(|q| !q.is_empty());
        if has_ready && self.has_slot(host, per_host) && self.in_ring.insert(host.to_owned()) {
            self.ring.push_back(host.to_owned());
        }
    }

    /// Moves due timers to their host's ready queue.
    fn promote(&mut self, now_ms: i64, per_host: usize) {
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
            self.offer(&host, per_host);
        }
    }

    fn done(&mut self, id: DeliveryId, host: &str, per_host: usize) {
        self.known.remove(&id);
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(count) = self.host_in_flight.get_mut(host) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.host_in_flight.remove(host);
            }
        }
        self.offer(host, per_host);
    }

    fn apply(&mut self, command: Command, per_host: usize) {
        match command {
            Command::Queue(queued) => queued.into_iter().for_each(|q| self.queue(q)),
            Command::Done { id, host, next } => {
                self.done(id, &host, per_host);
                if let Some(next) = next {
                    self.queue(next);
                }
            }
        }
    }

    /// Takes the next delivery to start, one host at a time in turn.
    fn next_to_start(&mut self, max: usize, per_host: usize) -> Option<(DeliveryId, String)> {
        while self.in_flight < max {
            let host = self.ring.pop_front()?;
            self.in_ring.remove(&host);
            if !self.has_slot(&host, per_host) {
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
            self.in_flight += 1;
            *self.host_in_flight.entry(host.clone()).or_default() += 1;
            self.offer(&host, per_host);
            return Some((id, host));
        }
        None
    }
}

pub(super) async fn run(
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    mut receiver: mpsc::UnboundedReceiver<Command>,
    mut stop: watch::Receiver<Option<Duration>>,
) {
    let max = shared.settings.max_in_flight.max(1);
    let per_host = shared.settings.max_in_flight_per_host.max(1);
    let mut state = State::default();
    let mut tasks = JoinSet::new();
    let retention = shared.settings.retention;
    let mut prune = tokio::time::interval(
        retention.clamp(Duration::from_secs(1), Duration::from_secs(600)) / 2,
    );
    loop {
        state.promote(Utc::now().timestamp_millis(), per_host);
        while let Some((id, host)) = state.next_to_start(max, per_host) {
            let shared = Arc::clone(&shared);
            let commands = commands.clone();
            tasks.spawn(async move {
                let next = worker::deliver(&shared, id, &host).await;
                let _ = commands.send(Command::Done { id, host, next });
            });
        }
        while tasks.try_join_next().is_some() {}
        shared.metrics.set_queue_depth(state.known.len());

        let next_due = state.timers.peek().map(|Reverse((due, _, _))| *due);
        let wait = next_due.map(|due| {
            Duration::from_millis(due.saturating_sub(Utc::now().timestamp_millis()).max(1) as u64)
        });
        tokio::select! {
            command = receiver.recv() => {
                let Some(command) = command else { break };
                state.apply(command, per_host);
                while let Ok(command) = receiver.try_recv() {
                    state.apply(command, per_host);
                }
            }
            _ = tokio::time::sleep(wait.unwrap_or(Duration::from_secs(3600))), if wait.is_some() => {}
            _ = prune.tick() => prune_delivered(&shared, retention),
            _ = stop.changed() => break,
        }
    }
    let grace = stop.borrow().unwrap_or_default();
    let drained =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            abandoned = tasks.len(),
            "attempts still in flight at shutdown stay pending"
        );
        tasks.abort_all();
    }
}

fn prune_delivered(shared: &Shared, retention: Duration) {
    let Ok(retention) = chrono::Duration::from_std(retention) else {
        return;
    };
    match shared
        .store
        .prune_delivered(Utc::now() - retention, PRUNE_BATCH)
    {
        Ok(0) => {}
        Ok(pruned) => tracing::info!(pruned, "pruned delivered records"),
        Err(err) => tracing::error!(?err, "could not prune delivered records"),
    }
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
        let mut state = State::default();
        for _ in 0..10 {
            state.queue(queued("slow:80"));
        }
        state.queue(queued("fast:80"));
        state.promote(1, 2);
        let mut started = Vec::new();
        while let Some((_, host)) = state.next_to_start(100, 2) {
            started.push(host);
        }
        assert_eq!(started.iter().filter(|h| *h == "slow:80").count(), 2);
        assert!(started.contains(&"fast:80".to_owned()));
    }

    #[test]
    fn queueing_a_waiting_delivery_earlier_moves_it_up_once() {
        let mut state = State::default();
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
        state.promote(10, 8);
        assert!(state.next_to_start(8, 8).is_some());
        state.promote(20_000, 8);
        assert!(
            state.next_to_start(8, 8).is_none(),
            "the superseded timer fired"
        );
    }

    #[test]
    fn a_delivery_queued_twice_is_started_once() {
        let mut state = State::default();
        let one = queued("a:80");
        state.queue(one.clone());
        state.queue(one);
        state.promote(1, 8);
        assert!(state.next_to_start(8, 8).is_some());
        assert!(state.next_to_start(8, 8).is_none());
    }
}
