//! Time and chance under the code's control: the dispatcher, retention and rate decisions ask
//! a `Clock` for the time and a `Jitter` for spread, so tests set both instead of sleeping.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// The time now, and a signal when it moves other than by itself.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// Changes whenever the clock is moved by hand; a wall clock never changes it, so a
    /// waiting loop relies on its own timer.
    fn moved(&self) -> watch::Receiver<()>;
}

/// The system's wall clock.
pub struct SystemClock {
    never: watch::Sender<()>,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self {
            never: watch::channel(()).0,
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn moved(&self) -> watch::Receiver<()> {
        self.never.subscribe()
    }
}

/// A clock that stands still until `advance` (tests).
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    moved: watch::Sender<()>,
}

impl ManualClock {
    pub fn starting_at(now: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self {
            now: Mutex::new(now),
            moved: watch::channel(()).0,
        })
    }

    pub fn advance(&self, by: Duration) {
        let by =
            chrono::Duration::from_std(by).expect("a test advances the clock by a sane amount");
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) += by;
        self.moved.send_replace(());
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn moved(&self) -> watch::Receiver<()> {
        self.moved.subscribe()
    }
}

/// Where in `[0, 1)` a retry lands inside its jitter window.
pub type Jitter = Arc<dyn Fn() -> f64 + Send + Sync>;

/// Uniform jitter from the operating system's random source.
pub fn random_jitter() -> Jitter {
    Arc::new(|| match getrandom::u32() {
        Ok(bits) => f64::from(bits) / (f64::from(u32::MAX) + 1.0),
        Err(err) => {
            // No spread only makes the retries of one burst coincide; say so and go on.
            tracing::warn!(error = %err, "no randomness for retry jitter");
            0.0
        }
    })
}

/// No spread at all (tests).
pub fn no_jitter() -> Jitter {
    Arc::new(|| 0.0)
}
