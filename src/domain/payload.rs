//! The flat JSON payload each subscription receives for an event. The structs are serialized
//! as they are, and their `ToSchema` is the trigger's `x-ms-notification-content`, so the
//! documented payload and the delivered one cannot drift apart.

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, Schema};
use uuid::Uuid;

use super::refresh::{INITIATED_BY_PLATFORM, InitiatedBy};
use super::report::{FullRefreshCounts, RunCounts, RunKind, UnificationCounts, duration_seconds};
use super::{CatalogKind, Event, EventDetails, Subscription, SubscriptionId, TriggerKind};

/// The five fields every callback carries, flattened into each payload.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Identifies the event: the same on every attempt and for every flow it reaches.
    pub event_id: Uuid,
    /// What happened, for example DataSourceRefreshFailed.
    pub event_type: String,
    /// When the service recorded the event (RFC 3339).
    pub occurred_at: DateTime<Utc>,
    /// The instance the event happened in.
    pub instance_id: Uuid,
    /// The trigger subscription this notification is for.
    pub subscription_id: Uuid,
}

/// What a flow receives when a data source refresh fails.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceRefreshFailedPayload {
    #[serde(flatten)]
    #[schema(inline)]
    pub envelope: Envelope,
    /// The data source that was refreshed.
    pub data_source_id: String,
    /// The data source's display name.
    pub data_source_name: String,
    /// The platform's id of the refresh.
    pub refresh_id: String,
    /// How the refresh ended: failed.
    pub status: String,
    /// When the refresh started, if known.
    pub started_at: Option<DateTime<Utc>>,
    /// When the refresh ended, if known.
    pub finished_at: Option<DateTime<Utc>>,
    /// How long the refresh took, in seconds, when start and end are known.
    pub duration_seconds: Option<f64>,
    /// The error code the platform reported.
    pub error_code: Option<String>,
    /// The error message the platform reported.
    pub error_message: Option<String>,
}

/// What a flow receives when a data source refresh succeeds.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceRefreshSucceededPayload {
    #[serde(flatten)]
    #[schema(inline)]
    pub envelope: Envelope,
    /// The data source that was refreshed.
    pub data_source_id: String,
    /// The data source's display name.
    pub data_source_name: String,
    /// The platform's id of the refresh.
    pub refresh_id: String,
    /// How the refresh ended: succeeded.
    pub status: String,
    /// When the refresh started, if known.
    pub started_at: Option<DateTime<Utc>>,
    /// When the refresh ended, if known.
    pub finished_at: Option<DateTime<Utc>>,
    /// How long the refresh took, in seconds, when start and end are known.
    pub duration_seconds: Option<f64>,
    /// Rows ingested, if the platform reported them.
    pub row_count: Option<u64>,
}

/// What a flow receives when a segment's member count crosses its threshold upwards.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SegmentThresholdCrossedPayload {
    #[serde(flatten)]
    #[schema(inline)]
    pub envelope: Envelope,
    /// The segment that crossed the threshold.
    pub segment_id: String,
    /// The segment's display name.
    pub segment_name: String,
    /// The threshold of this flow's trigger.
    pub threshold: f64,
    /// The member count before, at or below the threshold.
    pub previous_member_count: u64,
    /// The member count now, above the threshold.
    pub member_count: u64,
}

/// What a flow receives when a business measure crosses its threshold upwards.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeasureThresholdCrossedPayload {
    #[serde(flatten)]
    #[schema(inline)]
    pub envelope: Envelope,
    /// The measure that crossed the threshold.
    pub measure_id: String,
    /// The measure's display name.
    pub measure_name: String,
    /// The threshold of this flow's trigger.
    pub threshold: f64,
    /// The value before, at or below the threshold.
    pub previous_value: f64,
    /// The value now, above the threshold.
    pub value: f64,
}

/// The fields of every completed run, flattened into the run payloads.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// The platform's id of the run.
    pub run_id: String,
    /// How the run ended: succeeded or failed.
    pub status: String,
    /// When the run started, if known.
    pub started_at: Option<DateTime<Utc>>,
    /// When the run ended, if known.
    pub finished_at: Option<DateTime<Utc>>,
    /// How long the run took, in seconds, when start and end are known.
    pub duration_seconds: Option<f64>,
}

/// What a flow receives when a full refresh completes.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FullRefreshCompletedPayload {
    #[serde(flatten)]
    #[schema(inline)]
    pub envelope: Envelope,
    #[serde(flatten)]
    #[schema(inline)]
    pub run: RunSummary,
    #[serde(flatten)]
    #[schema(inline)]
    pub counts: FullRefreshCounts,
    /// Who started the run: manual, schedule, or platform for a run a data platform reported.
    pub initiated_by: String,
}

/// What a flow receives when unification completes.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UnificationCompletedPayload {
    #[serde(flatten)]
    #[schema(inline)]
    pub envelope: Envelope,
    #[serde(flatten)]
    #[schema(inline)]
    pub run: RunSummary,
    #[serde(flatten)]
    #[schema(inline)]
    pub counts: UnificationCounts,
}

/// The flat JSON object a callback receives: no arrays and no nested objects, so that every
/// field is a dynamic-content token in the flow designer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CallbackPayload {
    DataSourceRefreshFailed(DataSourceRefreshFailedPayload),
    DataSourceRefreshSucceeded(DataSourceRefreshSucceededPayload),
    SegmentThresholdCrossed(SegmentThresholdCrossedPayload),
    MeasureThresholdCrossed(MeasureThresholdCrossedPayload),
    FullRefreshCompleted(FullRefreshCompletedPayload),
    UnificationCompleted(UnificationCompletedPayload),
    /// A stored event whose details do not fit its trigger (a corrupt row). It refuses to be
    /// encoded, so its delivery fails as `encoding` instead of sending a wrong payload.
    #[serde(serialize_with = "refuse")]
    Unencodable(TriggerKind),
}

fn refuse<S: Serializer>(trigger: &TriggerKind, _: S) -> Result<S::Ok, S::Error> {
    Err(serde::ser::Error::custom(format!(
        "the event's details do not fit its trigger {}",
        trigger.event_type()
    )))
}

impl CallbackPayload {
    /// The name and schema of what `trigger`'s callbacks receive: its
    /// `x-ms-notification-content`.
    pub fn schema(trigger: TriggerKind) -> (String, RefOr<Schema>) {
        fn of<T: ToSchema>() -> (String, RefOr<Schema>) {
            (T::name().into_owned(), T::schema())
        }
        match trigger {
            TriggerKind::DataSourceRefreshFailed => of::<DataSourceRefreshFailedPayload>(),
            TriggerKind::DataSourceRefreshSucceeded => of::<DataSourceRefreshSucceededPayload>(),
            TriggerKind::SegmentThresholdCrossed => of::<SegmentThresholdCrossedPayload>(),
            TriggerKind::MeasureThresholdCrossed => of::<MeasureThresholdCrossedPayload>(),
            TriggerKind::FullRefreshCompleted => of::<FullRefreshCompletedPayload>(),
            TriggerKind::UnificationCompleted => of::<UnificationCompletedPayload>(),
        }
    }
}

impl Event {
    /// The payload POSTed to `subscription`'s callback URL for this event. Each trigger names
    /// the details it expects; an event whose details are of another kind is `Unencodable`.
    pub fn payload_for(&self, subscription: &Subscription) -> CallbackPayload {
        self.payload(subscription.id.0, threshold_of(subscription))
    }

    /// The payload encoded once for every subscription of this event, when only
    /// `subscriptionId` differs between them: not for threshold triggers (each subscription
    /// adds its own threshold), nor when the event cannot be encoded.
    pub fn payload_template(&self) -> Option<PayloadTemplate> {
        if self.trigger.threshold_kind().is_some() {
            return None;
        }
        let bytes = serde_json::to_vec(&self.payload(Uuid::nil(), f64::NAN)).ok()?;
        let marker = format!("\"subscriptionId\":\"{}\"", Uuid::nil());
        let found = find(&bytes, marker.as_bytes())?;
        // The marker must be the only one: the nil id could be another field's value.
        if find(&bytes[found + 1..], marker.as_bytes()).is_some() {
            return None;
        }
        Some(PayloadTemplate {
            at: found + "\"subscriptionId\":\"".len(),
            bytes,
        })
    }

    fn payload(&self, subscription_id: Uuid, threshold: f64) -> CallbackPayload {
        let envelope = Envelope {
            event_id: self.id.0,
            event_type: self.trigger.event_type().to_owned(),
            occurred_at: self.occurred_at,
            instance_id: self.instance_id.0,
            subscription_id,
        };
        let payload = match self.trigger {
            TriggerKind::DataSourceRefreshFailed => {
                self.refresh_payload(envelope, |refresh, envelope| {
                    CallbackPayload::DataSourceRefreshFailed(DataSourceRefreshFailedPayload {
                        envelope,
                        data_source_id: refresh.data_source_id,
                        data_source_name: refresh.data_source_name,
                        refresh_id: refresh.refresh_id,
                        status: refresh.status,
                        started_at: refresh.started_at,
                        finished_at: refresh.finished_at,
                        duration_seconds: refresh.duration_seconds,
                        error_code: refresh.error_code,
                        error_message: refresh.error_message,
                    })
                })
            }
            TriggerKind::DataSourceRefreshSucceeded => {
                self.refresh_payload(envelope, |refresh, envelope| {
                    CallbackPayload::DataSourceRefreshSucceeded(DataSourceRefreshSucceededPayload {
                        envelope,
                        data_source_id: refresh.data_source_id,
                        data_source_name: refresh.data_source_name,
                        refresh_id: refresh.refresh_id,
                        status: refresh.status,
                        started_at: refresh.started_at,
                        finished_at: refresh.finished_at,
                        duration_seconds: refresh.duration_seconds,
                        row_count: refresh.row_count,
                    })
                })
            }
            TriggerKind::SegmentThresholdCrossed => match &self.details {
                EventDetails::ValueChanged {
                    kind: CatalogKind::Segment,
                    item_id,
                    item_name,
                    previous,
                    value,
                } => Some(CallbackPayload::SegmentThresholdCrossed(
                    SegmentThresholdCrossedPayload {
                        envelope,
                        segment_id: item_id.to_string(),
                        segment_name: item_name.clone(),
                        threshold,
                        // Member counts are reported as whole numbers.
                        previous_member_count: *previous as u64,
                        member_count: *value as u64,
                    },
                )),
                _ => None,
            },
            TriggerKind::MeasureThresholdCrossed => match &self.details {
                EventDetails::ValueChanged {
                    kind: CatalogKind::Measure,
                    item_id,
                    item_name,
                    previous,
                    value,
                } => Some(CallbackPayload::MeasureThresholdCrossed(
                    MeasureThresholdCrossedPayload {
                        envelope,
                        measure_id: item_id.to_string(),
                        measure_name: item_name.clone(),
                        threshold,
                        previous_value: *previous,
                        value: *value,
                    },
                )),
                _ => None,
            },
            TriggerKind::FullRefreshCompleted => match self.run(RunKind::FullRefresh) {
                Some((run, RunCounts::FullRefresh(counts), initiated_by)) => Some(
                    CallbackPayload::FullRefreshCompleted(FullRefreshCompletedPayload {
                        envelope,
                        run,
                        counts,
                        initiated_by: initiated_by
                            .map_or(INITIATED_BY_PLATFORM, InitiatedBy::as_str)
                            .to_owned(),
                    }),
                ),
                _ => None,
            },
            TriggerKind::UnificationCompleted => match self.run(RunKind::Unification) {
                Some((run, RunCounts::Unification(counts), _)) => Some(
                    CallbackPayload::UnificationCompleted(UnificationCompletedPayload {
                        envelope,
                        run,
                        counts,
                    }),
                ),
                _ => None,
            },
        };
        payload.unwrap_or(CallbackPayload::Unencodable(self.trigger))
    }

    fn refresh_payload(
        &self,
        envelope: Envelope,
        build: impl FnOnce(RefreshFields, Envelope) -> CallbackPayload,
    ) -> Option<CallbackPayload> {
        let EventDetails::Refresh {
            data_source_id,
            data_source_name,
            refresh_id,
            status,
            started_at,
            finished_at,
            row_count,
            error_code,
            error_message,
        } = &self.details
        else {
            return None;
        };
        let fields = RefreshFields {
            data_source_id: data_source_id.to_string(),
            data_source_name: data_source_name.clone(),
            refresh_id: refresh_id.clone(),
            status: status.as_str().to_owned(),
            started_at: *started_at,
            finished_at: *finished_at,
            duration_seconds: duration_seconds(*started_at, *finished_at),
            row_count: *row_count,
            error_code: error_code.clone(),
            error_message: error_message.clone(),
        };
        Some(build(fields, envelope))
    }

    /// The summary, typed counts and initiator of a run event of `kind`.
    fn run(&self, kind: RunKind) -> Option<(RunSummary, RunCounts, Option<InitiatedBy>)> {
        let EventDetails::Run {
            kind: stored,
            run_id,
            status,
            started_at,
            finished_at,
            counts,
            initiated_by,
        } = &self.details
        else {
            return None;
        };
        let counts = (*stored == kind)
            .then(|| RunCounts::from_map(kind, counts).ok())
            .flatten()?;
        let summary = RunSummary {
            run_id: run_id.clone(),
            status: status.as_str().to_owned(),
            started_at: *started_at,
            finished_at: *finished_at,
            duration_seconds: duration_seconds(*started_at, *finished_at),
        };
        Some((summary, counts, *initiated_by))
    }
}

/// The refresh details as the refresh payloads carry them.
struct RefreshFields {
    data_source_id: String,
    data_source_name: String,
    refresh_id: String,
    status: String,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    duration_seconds: Option<f64>,
    row_count: Option<u64>,
    error_code: Option<String>,
    error_message: Option<String>,
}

/// The subscription's threshold; a threshold event only reaches threshold subscriptions.
fn threshold_of(subscription: &Subscription) -> f64 {
    subscription.threshold().map_or(f64::NAN, |t| t.value())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// An event's encoded payload with its `subscriptionId` left to fill in: a fan-out encodes the
/// event once, and each delivery copies the bytes and writes its subscription's id in place
/// (the text of a UUID is always 36 bytes).
#[derive(Debug, Clone)]
pub struct PayloadTemplate {
    bytes: Vec<u8>,
    /// Where the subscription id's 36 bytes start.
    at: usize,
}

impl PayloadTemplate {
    /// The payload for `subscription`: the same bytes as encoding `payload_for` it.
    pub fn render(&self, subscription: SubscriptionId) -> Vec<u8> {
        let mut bytes = self.bytes.clone();
        let mut text = Uuid::encode_buffer();
        let id = subscription.0.hyphenated().encode_lower(&mut text);
        bytes[self.at..self.at + id.len()].copy_from_slice(id.as_bytes());
        bytes
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::domain::{
        CallbackUrl, EventId, Filter, InstanceId, ItemId, RunStatus, SubscriptionId, TenantId,
    };

    fn subscription(trigger: TriggerKind) -> Subscription {
        Subscription {
            id: SubscriptionId::new(),
            tenant: TenantId::parse("t").unwrap(),
            instance_id: InstanceId::new(),
            trigger,
            filter: Filter::None,
            callback: CallbackUrl::parse("https://example.com/run").unwrap(),
            created_at: Utc::now(),
            baseline: None,
            signing_secret: None,
        }
    }

    fn event(trigger: TriggerKind, details: EventDetails) -> Event {
        Event {
            id: EventId::new(),
            instance_id: InstanceId::new(),
            trigger,
            occurred_at: Utc::now(),
            details,
        }
    }

    fn segment_changed() -> EventDetails {
        EventDetails::ValueChanged {
            kind: CatalogKind::Segment,
            item_id: ItemId::parse("s").unwrap(),
            item_name: "s".into(),
            previous: 1.0,
            value: 2.0,
        }
    }

    fn full_refresh(counts: BTreeMap<String, u64>) -> EventDetails {
        EventDetails::Run {
            kind: RunKind::FullRefresh,
            run_id: "r".into(),
            status: RunStatus::Succeeded,
            started_at: None,
            finished_at: None,
            counts,
            initiated_by: None,
        }
    }

    #[test]
    fn a_run_payload_is_flat_with_every_count_named() {
        let counts = BTreeMap::from([("segmentCount".to_owned(), 3)]);
        let event = event(TriggerKind::FullRefreshCompleted, full_refresh(counts));
        let sub = subscription(TriggerKind::FullRefreshCompleted);
        let body = serde_json::to_value(event.payload_for(&sub)).unwrap();
        assert_eq!(body["eventType"], "FullRefreshCompleted");
        assert_eq!(body["subscriptionId"], json!(sub.id.0));
        assert_eq!(body["runId"], "r");
        assert_eq!(body["segmentCount"], 3);
        assert_eq!(body["measureCount"], json!(null));
        assert_eq!(body["initiatedBy"], "platform", "a reported run");

        let EventDetails::Run { counts, .. } = event.details.clone() else {
            unreachable!()
        };
        let mut scheduled = event.clone();
        scheduled.details = EventDetails::Run {
            kind: RunKind::FullRefresh,
            run_id: "r".into(),
            status: RunStatus::Succeeded,
            started_at: None,
            finished_at: None,
            counts,
            initiated_by: Some(InitiatedBy::Schedule),
        };
        let body = serde_json::to_value(scheduled.payload_for(&sub)).unwrap();
        assert_eq!(body["initiatedBy"], "schedule");
        assert!(body.as_object().unwrap().values().all(|v| !v.is_object()));
    }

    /// A template renders, for any subscription, exactly the bytes of encoding its payload.
    #[test]
    fn a_template_renders_the_payload_of_each_subscription() {
        let refresh = EventDetails::Refresh {
            data_source_id: ItemId::parse("crm").unwrap(),
            data_source_name: "CRM \"main\" 00000000-0000-0000-0000-000000000000".into(),
            refresh_id: "r1".into(),
            status: RunStatus::Failed,
            started_at: Some(Utc::now()),
            finished_at: None,
            row_count: Some(5),
            error_code: Some("E1".into()),
            // Text that looks like the field inside a string is escaped, so never taken for it.
            error_message: Some(
                r#""subscriptionId":"00000000-0000-0000-0000-000000000000""#.into(),
            ),
        };
        let events = [
            event(TriggerKind::DataSourceRefreshFailed, refresh.clone()),
            event(TriggerKind::DataSourceRefreshSucceeded, refresh),
            event(
                TriggerKind::FullRefreshCompleted,
                full_refresh(BTreeMap::from([("segmentCount".to_owned(), 3)])),
            ),
        ];
        for event in events {
            let template = event.payload_template().expect("a template");
            for _ in 0..3 {
                let sub = subscription(event.trigger);
                assert_eq!(
                    template.render(sub.id),
                    serde_json::to_vec(&event.payload_for(&sub)).unwrap(),
                    "{:?}",
                    event.trigger
                );
            }
        }
        let threshold = event(TriggerKind::SegmentThresholdCrossed, segment_changed());
        assert!(threshold.payload_template().is_none(), "per subscription");
        let unencodable = event(
            TriggerKind::UnificationCompleted,
            full_refresh(BTreeMap::new()),
        );
        assert!(unencodable.payload_template().is_none());
    }

    #[test]
    fn details_that_do_not_fit_the_trigger_cannot_be_encoded() {
        let mismatched = [
            event(
                TriggerKind::UnificationCompleted,
                full_refresh(BTreeMap::new()),
            ),
            event(
                TriggerKind::DataSourceRefreshFailed,
                full_refresh(BTreeMap::new()),
            ),
            event(TriggerKind::MeasureThresholdCrossed, segment_changed()),
            event(
                TriggerKind::FullRefreshCompleted,
                full_refresh(BTreeMap::from([("unifiedProfileCount".to_owned(), 1)])),
            ),
        ];
        for event in mismatched {
            let payload = event.payload_for(&subscription(event.trigger));
            assert_eq!(payload, CallbackPayload::Unencodable(event.trigger));
            assert!(serde_json::to_vec(&payload).is_err(), "{:?}", event.trigger);
        }
    }
}
