//! The schedule loop: full refreshes started by each instance's schedule, on the injected
//! clock. [`Runner::run_due_schedules`] is one step (tests call it after moving a manual
//! clock); [`Runner::spawn_schedule_loop`] repeats it whenever a run falls due, a schedule
//! changes or the clock is moved.
//!
//! A run that fell due while the service was down (or while the loop was busy) runs once,
//! however many were missed (`Schedule::at_start`), and the schedule counts from the time it
//! started. A run due while the instance runs another refresh is skipped: the running one
//! refreshes everything anyway.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Runner;
use crate::domain::InitiatedBy;
use crate::engine::schedule::{AtStart, Schedule};
use crate::storage::StorageError;

/// The longest the loop sleeps without looking again (a wall clock that jumps, a missed
/// notification): a schedule never runs later than this after its time.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

impl Runner {
    /// Tells the schedule loop that a schedule was set or removed.
    pub fn schedules_changed(&self) {
        self.schedules_changed.notify_one();
    }

    /// Starts the full refresh of every schedule due now (or missed since its last run) and
    /// answers how many started; the earliest next due time of all schedules comes back too.
    pub async fn run_due_schedules(
        self: &Arc<Self>,
    ) -> Result<(usize, Option<DateTime<Utc>>), StorageError> {
        let now = self.clock.now();
        let mut started = 0;
        let mut next: Option<DateTime<Utc>> = None;
        for (instance, stored) in self.store.schedules()? {
            let Ok(schedule) = Schedule::parse(&stored.definition) else {
                tracing::warn!(instance_id = %instance, "a stored schedule no longer parses; it is skipped");
                continue;
            };
            match schedule.at_start(stored.since, now) {
                AtStart::RunNow { missed } => {
                    match self
                        .start_full_refresh(instance, InitiatedBy::Schedule)
                        .await
                    {
                        Ok(refresh) => {
                            started += 1;
                            tracing::info!(instance_id = %instance, refresh_id = %refresh.id,
                                due = %missed, "a scheduled full refresh started");
                        }
                        Err(StorageError::RefreshInProgress { .. }) => {
                            tracing::info!(instance_id = %instance, due = %missed,
                                "a scheduled full refresh was skipped: another refresh runs");
                        }
                        Err(err) => return Err(err),
                    }
                    self.store
                        .schedule_started(instance, stored.updated_at, now)
                        .await?;
                    if let Some(after) = schedule.next_after(now) {
                        next = Some(next.map_or(after, |n| n.min(after)));
                    }
                }
                AtStart::WaitUntil(at) => next = Some(next.map_or(at, |n| n.min(at))),
                AtStart::Never => {}
            }
        }
        Ok((started, next))
    }

    /// Runs the schedules in the background until the runner stops.
    pub fn spawn_schedule_loop(self: &Arc<Self>) {
        let runner = Arc::clone(self);
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        tasks.spawn(async move {
            let mut moved = runner.clock.moved();
            loop {
                if runner.stopping() {
                    return;
                }
                let next = match runner.run_due_schedules().await {
                    Ok((_, next)) => next,
                    Err(err) => {
                        tracing::error!(error = %err, "the schedules could not be run; trying again");
                        None
                    }
                };
                let wait = next
                    .and_then(|at| (at - runner.clock.now()).to_std().ok())
                    .unwrap_or(Duration::ZERO)
                    .min(LONGEST_WAIT);
                let wait = if next.is_none() { LONGEST_WAIT } else { wait };
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = runner.schedules_changed.notified() => {}
                    _ = moved.changed() => {}
                }
            }
        });
    }
}
