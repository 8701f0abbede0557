//! Binary formats of the outbox's hot records (fan-out records and delivery states), read and
//! written on every delivery attempt, so they are compact and cheap to decode. Each starts
//! with a version byte; codes of enums are written out here, never derived from declaration
//! order. The golden tests in `golden.rs` pin these bytes.

use chrono::{DateTime, Utc};

use super::{Result, StorageError};
use crate::domain::{
    AttemptError, AttemptRecord, DeliveryId, DeliveryState, DeliveryStatus, FailureReason,
    InstanceId, SubscriptionId, TenantId,
};

const FANOUT_V1: u8 = 1;
const STATE_V1: u8 = 1;

/// One accepted event's deliveries: who it goes to, in a fixed order. The delivery to the
/// `i`-th target is `DeliveryId::of_target(event, i)`, unless the delivery predates fan-out
/// records and keeps the id it had (`legacy_id`).
#[derive(Debug, Clone, PartialEq)]
pub struct Fanout {
    pub instance_id: InstanceId,
    pub tenant: TenantId,
    /// When the event was accepted, in Unix nanoseconds.
    pub created_ns: i64,
    pub targets: Vec<Target>,
}

impl Fanout {
    pub fn created_ms(&self) -> i64 {
        self.created_ns.div_euclid(1_000_000)
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_nanos(self.created_ns)
    }

    /// The id of the delivery to the `index`-th target.
    pub fn delivery_id(&self, event: crate::domain::EventId, index: u32) -> Option<DeliveryId> {
        let target = self.targets.get(index as usize)?;
        Some(
            target
                .legacy_id
                .unwrap_or_else(|| DeliveryId::of_target(event, index)),
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub subscription_id: SubscriptionId,
    /// `host:port` of the callback URL when the event was accepted.
    pub host: String,
    pub legacy_id: Option<DeliveryId>,
}

/// A delivery's state as stored. A pruned delivery leaves a tombstone while other
/// deliveries of its event (dead letters) are kept.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredState {
    Live(DeliveryState),
    Pruned,
}

/// Per event: deliveries not yet final, and when the last one became final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub open: u32,
    pub done_ms: Option<i64>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    tree: &'static str,
}

impl<'a> Reader<'a> {
    fn corrupt(&self, what: &str) -> StorageError {
        StorageError::Corrupt {
            tree: self.tree,
            detail: format!("bad {what}"),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(self.corrupt(what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let bytes = self.take(N, what)?;
        bytes.try_into().map_err(|_| self.corrupt(what))
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
    fn i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }
    fn uuid(&mut self, what: &str) -> Result<uuid::Uuid> {
        Ok(uuid::Uuid::from_bytes(self.array(what)?))
    }
    fn str(&mut self, what: &str) -> Result<&'a str> {
        let len = self.u16(what)? as usize;
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes).map_err(|_| self.corrupt(what))
    }
    fn finish(&self) -> Result<()> {
        match self.bytes.is_empty() {
            true => Ok(()),
            false => Err(self.corrupt("trailing bytes")),
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) -> Result<()> {
    let len = u16::try_from(s.len()).map_err(|_| StorageError::Bug("a stored text is too long"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

impl Fanout {
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(40 + self.targets.len() * 40);
        out.push(FANOUT_V1);
        out.extend_from_slice(self.instance_id.as_bytes());
        put_str(&mut out, self.tenant.as_str())?;
        out.extend_from_slice(&self.created_ns.to_be_bytes());
        let count =
            u32::try_from(self.targets.len()).map_err(|_| StorageError::Bug("too many targets"))?;
        out.extend_from_slice(&count.to_be_bytes());
        for target in &self.targets {
            out.extend_from_slice(target.subscription_id.as_bytes());
            put_str(&mut out, &target.host)?;
            match target.legacy_id {
                None => out.push(0),
                Some(id) => {
                    out.push(1);
                    out.extend_from_slice(id.as_bytes());
                }
            }
        }
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader {
            bytes,
            tree: "eventid_fanout",
        };
        if r.u8("version")? != FANOUT_V1 {
            return Err(r.corrupt("version"));
        }
        let instance_id = InstanceId(r.uuid("instance")?);
        let tenant = TenantId::parse(r.str("tenant")?).ok_or_else(|| r.corrupt("tenant"))?;
        let created_ns = r.i64("created")?;
        let count = r.u32("count")? as usize;
        let mut targets = Vec::with_capacity(count.min(bytes.len() / 19));
        for _ in 0..count {
            let subscription_id = SubscriptionId(r.uuid("subscription")?);
            let host = r.str("host")?.to_owned();
            let legacy_id = match r.u8("legacy flag")? {
                0 => None,
                1 => Some(DeliveryId(r.uuid("legacy id")?)),
                _ => return Err(r.corrupt("legacy flag")),
            };
            targets.push(Target {
                subscription_id,
                host,
                legacy_id,
            });
        }
        r.finish()?;
        Ok(Self {
            instance_id,
            tenant,
            created_ns,
            targets,
        })
    }
}

fn status_code(status: DeliveryStatus) -> u8 {
    match status {
        DeliveryStatus::Pending => 0,
        DeliveryStatus::Delivered => 1,
        DeliveryStatus::Failed => 2,
    }
}
const PRUNED: u8 = 3;

fn failure_code(reason: FailureReason) -> u8 {
    match reason {
        FailureReason::Rejected => 1,
        FailureReason::RetriesExhausted => 2,
        FailureReason::SubscriptionGone => 3,
        FailureReason::SubscriptionNotFound => 4,
        FailureReason::SubscriptionRemoved => 5,
        FailureReason::EventMissing => 6,
        FailureReason::AddressNotAllowed => 7,
        FailureReason::Encoding => 8,
    }
}

fn error_code(error: AttemptError) -> u8 {
    match error {
        AttemptError::Timeout => 1,
        AttemptError::Connect => 2,
        AttemptError::Request => 3,
        AttemptError::AddressNotAllowed => 4,
        AttemptError::Encoding => 5,
        AttemptError::SubscriptionRemoved => 6,
        AttemptError::EventMissing => 7,
    }
}

fn from_code<T: Copy>(all: &[T], code_of: fn(T) -> u8, code: u8) -> Option<T> {
    all.iter().copied().find(|v| code_of(*v) == code)
}

const NO_DUE: i64 = i64::MIN;

impl StoredState {
    pub fn encode(&self) -> Result<Vec<u8>> {
        let state = match self {
            Self::Pruned => return Ok(vec![STATE_V1, PRUNED]),
            Self::Live(state) => state,
        };
        let mut out = Vec::with_capacity(24 + state.attempts.len() * 24);
        out.push(STATE_V1);
        out.push(status_code(state.status));
        out.extend_from_slice(&state.due_ms.unwrap_or(NO_DUE).to_be_bytes());
        let retries = u32::try_from(state.retries_used).unwrap_or(u32::MAX);
        out.extend_from_slice(&retries.to_be_bytes());
        out.push(state.failure.map_or(0, failure_code));
        let count = u16::try_from(state.attempts.len())
            .map_err(|_| StorageError::Bug("too many attempts"))?;
        out.extend_from_slice(&count.to_be_bytes());
        for attempt in &state.attempts {
            let nanos = attempt
                .at
                .timestamp_nanos_opt()
                .ok_or(StorageError::Bug("an attempt time past 2262"))?;
            out.extend_from_slice(&nanos.to_be_bytes());
            out.extend_from_slice(&attempt.status_code.unwrap_or(0).to_be_bytes());
            out.push(attempt.error.map_or(0, error_code));
            out.extend_from_slice(&attempt.duration_ms.to_be_bytes());
        }
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader {
            bytes,
            tree: "deliveryid_state",
        };
        if r.u8("version")? != STATE_V1 {
            return Err(r.corrupt("version"));
        }
        let status = match r.u8("status")? {
            PRUNED => {
                r.finish()?;
                return Ok(Self::Pruned);
            }
            0 => DeliveryStatus::Pending,
            1 => DeliveryStatus::Delivered,
            2 => DeliveryStatus::Failed,
            _ => return Err(r.corrupt("status")),
        };
        let due_ms = Some(r.i64("due")?).filter(|due| *due != NO_DUE);
        let retries_used = r.u32("retries")? as usize;
        let failure = match r.u8("failure")? {
            0 => None,
            code => Some(
                from_code(FailureReason::ALL, failure_code, code)
                    .ok_or_else(|| r.corrupt("failure"))?,
            ),
        };
        let count = r.u16("attempt count")? as usize;
        let mut attempts = Vec::with_capacity(count);
        for _ in 0..count {
            let at = DateTime::<Utc>::from_timestamp_nanos(r.i64("attempt time")?);
            let status_code = Some(r.u16("attempt status")?).filter(|s| *s != 0);
            let error = match r.u8("attempt error")? {
                0 => None,
                code => Some(
                    from_code(AttemptError::ALL, error_code, code)
                        .ok_or_else(|| r.corrupt("attempt error"))?,
                ),
            };
            let duration_ms = r.u64("attempt duration")?;
            attempts.push(AttemptRecord {
                at,
                status_code,
                error,
                duration_ms,
            });
        }
        r.finish()?;
        Ok(Self::Live(DeliveryState {
            status,
            due_ms,
            retries_used,
            failure,
            attempts,
        }))
    }
}

impl Progress {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12);
        out.extend_from_slice(&self.open.to_be_bytes());
        out.extend_from_slice(&self.done_ms.unwrap_or(NO_DUE).to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader {
            bytes,
            tree: "eventid_progress",
        };
        let open = r.u32("open")?;
        let done_ms = Some(r.i64("done")?).filter(|d| *d != NO_DUE);
        r.finish()?;
        Ok(Self { open, done_ms })
    }
}

/// Per-tenant counts that limits are checked against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantCounts {
    pub subscriptions: u64,
    pub idempotency_keys: u64,
    pub failed_deliveries: u64,
}

impl TenantCounts {
    pub fn encode(&self) -> Vec<u8> {
        [
            self.subscriptions,
            self.idempotency_keys,
            self.failed_deliveries,
        ]
        .iter()
        .flat_map(|n| n.to_be_bytes())
        .collect()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader {
            bytes,
            tree: "tenant_counts",
        };
        let counts = Self {
            subscriptions: r.u64("subscriptions")?,
            idempotency_keys: r.u64("idempotency keys")?,
            failed_deliveries: r.u64("failed deliveries")?,
        };
        r.finish()?;
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_reason_and_attempt_error_has_its_own_code() {
        let reasons: std::collections::HashSet<u8> = FailureReason::ALL
            .iter()
            .map(|r| failure_code(*r))
            .collect();
        assert_eq!(reasons.len(), FailureReason::ALL.len());
        assert!(!reasons.contains(&0), "0 means none");
        let errors: std::collections::HashSet<u8> =
            AttemptError::ALL.iter().map(|e| error_code(*e)).collect();
        assert_eq!(errors.len(), AttemptError::ALL.len());
        assert!(!errors.contains(&0), "0 means none");
    }

    #[test]
    fn truncated_or_trailing_bytes_are_corrupt_records_not_panics() {
        let state = StoredState::Live(DeliveryState::new(5));
        let bytes = state.encode().unwrap();
        for cut in 0..bytes.len() {
            assert!(StoredState::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(StoredState::decode(&long).is_err());
        assert_eq!(StoredState::decode(&bytes).unwrap(), state);
    }
}
