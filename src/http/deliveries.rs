//! Deliveries for operators and flow owners: `ListDeliveries` shows each delivery of an
//! instance with its attempts (dead letters included); `RetryDelivery` queues one again.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::ErrorCode;
use super::instances::owned_instance;
use super::params::InstancePath;
use super::{ApiError, AppState, Caller};
use crate::delivery::DeliveryError;
use crate::domain::{Delivery, DeliveryId, DeliveryStatus, InstanceId, SubscriptionId};
use crate::storage::DeliveryQuery;

const DEFAULT_TOP: usize = 50;
const MAX_TOP: usize = 500;

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub enum StatusFilter {
    Pending,
    Delivered,
    Failed,
}

impl From<StatusFilter> for DeliveryStatus {
    fn from(status: StatusFilter) -> Self {
        match status {
            StatusFilter::Pending => Self::Pending,
            StatusFilter::Delivered => Self::Delivered,
            StatusFilter::Failed => Self::Failed,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListDeliveriesQuery {
    /// Only deliveries in this state: `pending`, `delivered` or `failed`.
    #[param(inline)]
    pub status: Option<StatusFilter>,
    /// Only deliveries to this subscription.
    pub subscription_id: Option<Uuid>,
    /// Page size, 1 to 500 (default 50).
    #[serde(rename = "$top")]
    #[param(minimum = 1, maximum = 500)]
    pub top: Option<u32>,
    /// Continue after this delivery id (from `nextLink`).
    pub after: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptResponse {
    /// When the attempt started.
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// Why no answer came: `timeout`, `connect`, `address_not_allowed`, ...
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration_ms: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryResponse {
    /// The delivery id: the `webhook-id` header of each attempt.
    pub id: Uuid,
    /// The subscription the event is delivered to.
    pub subscription_id: Uuid,
    /// The event delivered: `eventId` in the callback body.
    pub event_id: Uuid,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// When the delivery was queued: when its event was accepted.
    pub created_at: DateTime<Utc>,
    /// When the next attempt is due (pending deliveries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why it failed (failed deliveries): `rejected`, `retries_exhausted`, `subscription_gone`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Every attempt, oldest first.
    pub attempts: Vec<AttemptResponse>,
}

impl From<Delivery> for DeliveryResponse {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id.0,
            subscription_id: d.subscription_id.0,
            event_id: d.event_id.0,
            status: d.status.as_str().to_owned(),
            created_at: d.created_at,
            next_attempt_at: d.due_ms.and_then(DateTime::from_timestamp_millis),
            failure: d.failure.map(|f| f.as_str().to_owned()),
            attempts: d
                .attempts
                .into_iter()
                .map(|a| AttemptResponse {
                    at: a.at,
                    status_code: a.status_code,
                    error: a.error.map(|e| e.as_str().to_owned()),
                    duration_ms: a.duration_ms,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryList {
    /// Deliveries, newest first.
    pub value: Vec<DeliveryResponse>,
    /// The next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

fn delivery_error(err: DeliveryError) -> ApiError {
    match err {
        DeliveryError::Storage(err) => err.into(),
        other => ApiError::Internal(other.into()),
    }
}

/// List deliveries
///
/// Lists an instance's callback deliveries, newest first, with every attempt; failed ones are
/// kept so they can be retried.
#[utoipa::path(operation_id = "ListDeliveries", tag = "Deliveries",
    params(InstancePath, ListDeliveriesQuery),
    responses(
        (status = 200, description = "A page of deliveries.", body = DeliveryList),
        (status = 400, description = "A query parameter is not valid."),
        (status = 401, description = "No or bad credentials."),
        (status = 404, description = "No such instance in your tenant."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstancePath>,
    query: web::Query<ListDeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let instance = owned_instance(&state.store, &caller.tenant, path.into_inner().0)?;
    let limit = match query.top.map(|top| top as usize) {
        None => DEFAULT_TOP,
        Some(top) if (1..=MAX_TOP).contains(&top) => top,
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!("$top must be from 1 to {MAX_TOP}."),
            ));
        }
    };
    let page = state.store.deliveries(
        instance.id,
        &DeliveryQuery {
            status: query.status.map(Into::into),
            subscription: query.subscription_id.map(SubscriptionId),
            after: query.after.map(DeliveryId),
            limit,
        },
    )?;
    let next_link = match (page.more, page.deliveries.last()) {
        (true, Some(last)) => Some(next_link(&state, instance.id, &query, limit, last.id)),
        _ => None,
    };
    Ok(HttpResponse::Ok().json(DeliveryList {
        value: page.deliveries.into_iter().map(Into::into).collect(),
        next_link,
    }))
}

fn next_link(
    state: &AppState,
    instance: InstanceId,
    query: &ListDeliveriesQuery,
    limit: usize,
    last: DeliveryId,
) -> String {
    let mut pairs = vec![("$top".to_owned(), limit.to_string())];
    if let Some(status) = query.status {
        pairs.push((
            "status".into(),
            DeliveryStatus::from(status).as_str().into(),
        ));
    }
    if let Some(sub) = query.subscription_id {
        pairs.push(("subscriptionId".into(), sub.to_string()));
    }
    pairs.push(("after".into(), last.to_string()));
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    state.absolute_url(&format!(
        "/api/v1/instances/{instance}/deliveries?{}",
        query.join("&")
    ))
}

/// Retry a delivery
///
/// Queues a delivery again, at once: a failed one gets one more attempt, a delivered one is
/// sent again (replay), a pending one is moved up.
#[utoipa::path(operation_id = "RetryDelivery", tag = "Deliveries",
    params(("deliveryId" = Uuid, Path, description = "The delivery id.")),
    responses(
        (status = 202, description = "Queued again.", body = DeliveryResponse),
        (status = 401, description = "No or bad credentials."),
        (status = 404, description = "No such delivery in your tenant."),
    ),
    security(("bearer" = [])))]
#[post("/api/v1/deliveries/{deliveryId}/retry")]
pub async fn retry_delivery(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<DeliveryId>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound("delivery");
    let delivery = state
        .dispatcher
        .delivery(&caller.tenant, path.into_inner())
        .map_err(delivery_error)?
        .ok_or_else(not_found)?;
    let queued = state
        .dispatcher
        .retry(&delivery)
        .await
        .map_err(delivery_error)?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Accepted().json(DeliveryResponse::from(queued)))
}
