//! Parameters and answers that many operations share, declared once as types: the handlers
//! extract them and the document describes them from the same declaration.

use serde::Deserialize;
use utoipa::{IntoParams, IntoResponses};

use super::reports::ReportAccepted;
use super::subscriptions::SubscriptionResponse;
use crate::domain::InstanceId;

/// The `{instanceId}` of every path under an instance.
#[derive(Deserialize, IntoParams)]
#[into_params(names("instanceId"), parameter_in = Path)]
pub struct InstancePath(
    /// The instance id.
    #[param(value_type = uuid::Uuid)]
    pub InstanceId,
);

/// What every trigger answers when the flow is subscribed.
#[derive(IntoResponses)]
#[allow(
    clippy::large_enum_variant,
    reason = "it only describes the answers in the document; no value of it is built"
)]
pub enum Subscribed {
    /// Subscribed.
    #[response(status = 201, headers(("Location" = String, description = "DELETE this URL to unsubscribe.")))]
    Created(SubscriptionResponse),
    /// Your tenant holds as many subscriptions as it may (quota_exceeded).
    #[response(status = 409)]
    Quota,
}

/// What every report answers, besides the errors any request can meet.
#[derive(IntoResponses)]
pub enum Reported {
    /// Stored; deliveries follow.
    #[response(status = 202)]
    Accepted(ReportAccepted),
    /// The credentials lack the platform role.
    #[response(status = 403)]
    NotPlatform,
    /// The Idempotency-Key was used for another report, or your tenant holds as many
    /// idempotency keys as it may (quota_exceeded).
    #[response(status = 409)]
    KeyReused,
}
