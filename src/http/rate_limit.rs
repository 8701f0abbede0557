//! Per-tenant rate limits, counted in memory in fixed windows: a tenant may make `calls` calls
//! in each window of `per`, the first call opening the window. Counting is the extractors'
//! job (`auth`); this file only keeps the counts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::RateLimit;
use crate::domain::TenantId;

/// Windows are pruned once this many tenants are tracked, so memory stays bounded by the
/// tenants active within one window.
const PRUNE_AT: usize = 10_000;

/// The two limits: connector calls (what flows do) and the report API (what data platforms
/// do) are counted apart, so that a busy platform cannot throttle its tenant's flows.
pub struct RateLimits {
    pub connector: RateLimiter,
    pub report: RateLimiter,
}

struct Window {
    opened: Instant,
    calls: u32,
}

pub struct RateLimiter {
    limit: RateLimit,
    windows: Mutex<HashMap<TenantId, Window>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            windows: Mutex::default(),
        }
    }

    /// Spends one call of `tenant`'s window at `now`; when none is left, how long until the
    /// window closes.
    pub fn check(&self, tenant: &TenantId, now: Instant) -> Result<(), Duration> {
        // A panic while holding the lock leaves at worst a miscounted window.
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let per = self.limit.per;
        if windows.len() >= PRUNE_AT {
            windows.retain(|_, w| now.saturating_duration_since(w.opened) < per);
        }
        let fresh = Window {
            opened: now,
            calls: 0,
        };
        let window = windows.entry(tenant.clone()).or_insert(fresh);
        let elapsed = now.saturating_duration_since(window.opened);
        if elapsed >= per {
            *window = Window {
                opened: now,
                calls: 0,
            };
        }
        if window.calls >= self.limit.calls {
            return Err(per.saturating_sub(now.saturating_duration_since(window.opened)));
        }
        window.calls += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(calls: u32, seconds: u64) -> RateLimiter {
        RateLimiter::new(RateLimit {
            calls,
            per: Duration::from_secs(seconds),
        })
    }

    #[test]
    fn calls_past_the_limit_wait_until_the_window_closes() {
        let limiter = limiter(2, 60);
        let tenant = TenantId::parse("tenant-a").unwrap();
        let start = Instant::now();
        assert_eq!(limiter.check(&tenant, start), Ok(()));
        assert_eq!(
            limiter.check(&tenant, start + Duration::from_secs(10)),
            Ok(())
        );
        assert_eq!(
            limiter.check(&tenant, start + Duration::from_secs(20)),
            Err(Duration::from_secs(40))
        );
        assert_eq!(
            limiter.check(&tenant, start + Duration::from_secs(60)),
            Ok(()),
            "a new window opens"
        );
    }

    #[test]
    fn each_tenant_has_its_own_window() {
        let limiter = limiter(1, 60);
        let (a, b) = (
            TenantId::parse("tenant-a").unwrap(),
            TenantId::parse("tenant-b").unwrap(),
        );
        let now = Instant::now();
        assert!(limiter.check(&a, now).is_ok());
        assert!(limiter.check(&a, now).is_err());
        assert!(limiter.check(&b, now).is_ok());
    }
}
