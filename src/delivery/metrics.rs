//! Counters, gauges and the attempt latency histogram, rendered in the Prometheus text format.
//! Written by hand: five series do not justify a metrics crate and its registry types.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::domain::{DeliveryStatus, FailureReason};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
pub struct Metrics {
    events_accepted: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    removed_gone: AtomicU64,
    removed_not_found: AtomicU64,
    queue_depth: AtomicU64,
    held: AtomicU64,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

impl Metrics {
    pub fn events_accepted(&self, count: usize) {
        self.events_accepted.fetch_add(count as u64, Relaxed);
    }

    /// Counts a recorded attempt by the state it left its delivery in (`retried`: pending
    /// again).
    pub fn outcome(&self, status: DeliveryStatus, retried: bool) {
        let counter = match status {
            DeliveryStatus::Delivered => &self.delivered,
            DeliveryStatus::Pending if retried => &self.retried,
            DeliveryStatus::Pending => return,
            DeliveryStatus::Failed => &self.failed,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// Counts a subscription an attempt removed, by the failure that removed it.
    pub fn removed(&self, why: Option<FailureReason>) {
        let counter = match why {
            Some(FailureReason::SubscriptionGone) => &self.removed_gone,
            _ => &self.removed_not_found,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// Results waiting for storage to record them.
    pub fn set_held(&self, held: usize) {
        self.held.store(held as u64, Relaxed);
    }

    pub fn set_queue_depth(&self, depth: usize) {
        self.queue_depth.store(depth as u64, Relaxed);
    }

    pub fn attempt_took(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.latency_buckets[i].fetch_add(1, Relaxed);
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_micros
            .fetch_add(elapsed.as_micros() as u64, Relaxed);
    }

    /// The Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, series: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, value) in series {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        counter(
            &mut out,
            "insights_events_accepted_total",
            "Events stored from reports.",
            &[("", self.events_accepted.load(Relaxed))],
        );
        counter(
            &mut out,
            "insights_delivery_attempts_total",
            "Delivery attempts by what came of them.",
            &[
                ("{outcome=\"delivered\"}", self.delivered.load(Relaxed)),
                ("{outcome=\"retried\"}", self.retried.load(Relaxed)),
                ("{outcome=\"failed\"}", self.failed.load(Relaxed)),
            ],
        );
        counter(
            &mut out,
            "insights_subscriptions_removed_total",
            "Subscriptions removed because their callback answered 410, or 404 repeatedly.",
            &[
                ("{reason=\"gone\"}", self.removed_gone.load(Relaxed)),
                (
                    "{reason=\"not_found\"}",
                    self.removed_not_found.load(Relaxed),
                ),
            ],
        );
        let _ = writeln!(
            out,
            "# HELP insights_delivery_queue_depth Pending deliveries, in flight included.\n\
             # TYPE insights_delivery_queue_depth gauge\n\
             insights_delivery_queue_depth {}",
            self.queue_depth.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP insights_delivery_results_held Attempt results waiting for storage to record them; while any are held no new attempt starts.\n\
             # TYPE insights_delivery_results_held gauge\n\
             insights_delivery_results_held {}",
            self.held.load(Relaxed)
        );
        let name = "insights_delivery_attempt_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from sending a callback to its answer.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(&self.latency_buckets) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let total = self.latency_count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let sum = self.latency_sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {total}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_and_ends_with_the_count() {
        let metrics = Metrics::default();
        metrics.attempt_took(Duration::from_micros(500));
        metrics.attempt_took(Duration::from_millis(30));
        metrics.attempt_took(Duration::from_secs(60));
        let text = metrics.render();
        assert!(text.contains("insights_delivery_attempt_duration_seconds_bucket{le=\"0.001\"} 1"));
        assert!(text.contains("insights_delivery_attempt_duration_seconds_bucket{le=\"0.05\"} 2"));
        assert!(text.contains("insights_delivery_attempt_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("insights_delivery_attempt_duration_seconds_count 3"));
    }
}
