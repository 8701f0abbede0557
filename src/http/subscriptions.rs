//! Subscriptions: `ListSubscriptions`, `GetSubscription`, and `DeleteSubscription`, which the
//! `Location` URL of a subscribe answer authorises on its own.

use actix_web::{HttpRequest, HttpResponse, delete, get, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::instances::owned_instance;
use super::params::InstancePath;
use super::{ApiError, AppState, Caller};
use crate::domain::{CatalogKind, Filter, Subscription, SubscriptionId};

/// A subscription as its tenant sees it. The callback URL is shown without its query string,
/// which is the flow's signature.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionResponse {
    /// The subscription id.
    pub id: Uuid,
    /// The trigger, as the event type it delivers (for example `DataSourceRefreshFailed`).
    pub trigger: String,
    /// The instance it watches.
    pub instance_id: Uuid,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The callback URL without its query string.
    pub notification_url: String,
    /// The data source it is limited to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_source_id: Option<String>,
    /// The segment it watches (segment trigger).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_id: Option<String>,
    /// The measure it watches (measure trigger).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure_id: Option<String>,
    /// The threshold that must be crossed upwards (threshold triggers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The watched value when the subscription was created (threshold triggers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// The Standard Webhooks secret that signs every callback (`webhook-signature`); answered
    /// once, when the subscription is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
}

impl From<Subscription> for SubscriptionResponse {
    fn from(sub: Subscription) -> Self {
        let mut response = Self {
            id: sub.id.0,
            trigger: sub.trigger.event_type().to_owned(),
            instance_id: sub.instance_id.0,
            created_at: sub.created_at,
            notification_url: sub.callback.to_string(),
            data_source_id: None,
            segment_id: None,
            measure_id: None,
            threshold: None,
            baseline: sub.baseline,
            signing_secret: None,
        };
        match sub.filter {
            Filter::None => {}
            Filter::DataSource { data_source_id } => {
                response.data_source_id = Some(data_source_id.into());
            }
            Filter::Threshold {
                kind,
                item_id,
                threshold,
            } => {
                response.threshold = Some(threshold.value());
                let field = match kind {
                    CatalogKind::DataSource => &mut response.data_source_id,
                    CatalogKind::Segment => &mut response.segment_id,
                    CatalogKind::Measure => &mut response.measure_id,
                };
                *field = Some(item_id.into());
            }
        }
        response
    }
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionList {
    /// The instance's subscriptions, oldest first.
    pub value: Vec<SubscriptionResponse>,
}

/// The secret of a subscription's `Location` URL: an HMAC of its id under the database's key,
/// so it needs no storage, cannot be guessed, and is the same for an idempotent re-subscribe.
pub fn unsubscribe_secret(key: &[u8], id: SubscriptionId) -> Result<String, ApiError> {
    let mac = secret_mac(key, id).map_err(|err| ApiError::Internal(anyhow::anyhow!(err)))?;
    Ok(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// Compares in constant time.
fn secret_matches(key: &[u8], id: SubscriptionId, candidate: &str) -> bool {
    let (Ok(bytes), Ok(mac)) = (URL_SAFE_NO_PAD.decode(candidate), secret_mac(key, id)) else {
        return false;
    };
    mac.verify_slice(&bytes).is_ok()
}

fn secret_mac(key: &[u8], id: SubscriptionId) -> Result<Hmac<Sha256>, hmac::digest::InvalidLength> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)?;
    mac.update(id.as_bytes());
    Ok(mac)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// The secret from the subscription's `Location` URL.
    pub secret: Option<String>,
}

/// List subscriptions
///
/// Lists the trigger subscriptions of an instance.
#[utoipa::path(operation_id = "ListSubscriptions", tag = "Subscriptions",
    params(InstancePath),
    responses(
        (status = 200, description = "The subscriptions.", body = SubscriptionList),
        (status = 404, description = "No such instance in your tenant."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/subscriptions")]
pub async fn list_subscriptions(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstancePath>,
) -> Result<HttpResponse, ApiError> {
    let instance = owned_instance(&state.store, &caller.tenant, path.into_inner().0)?;
    let value = state.store.subscriptions(instance.id)?;
    Ok(HttpResponse::Ok().json(SubscriptionList {
        value: value.into_iter().map(Into::into).collect(),
    }))
}

/// Get a subscription
///
/// Returns one trigger subscription of your tenant.
#[utoipa::path(operation_id = "GetSubscription", tag = "Subscriptions",
    params(("subscriptionId" = Uuid, Path, description = "The subscription id.")),
    responses(
        (status = 200, description = "The subscription.", body = SubscriptionResponse),
        (status = 404, description = "No such subscription in your tenant."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/subscriptions/{subscriptionId}")]
pub async fn get_subscription(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<SubscriptionId>,
) -> Result<HttpResponse, ApiError> {
    let sub = state
        .store
        .tenant_subscription(&caller.tenant, path.into_inner())?
        .ok_or(ApiError::NotFound("subscription"))?;
    Ok(HttpResponse::Ok().json(SubscriptionResponse::from((*sub).clone())))
}

/// Delete a subscription
///
/// Removes a trigger subscription. Power Automate calls the Location URL of the subscribe
/// answer, whose secret authorises it without other credentials; the owning tenant may also
/// call it with its credentials. Answers 204 also when the subscription is already gone.
#[utoipa::path(operation_id = "DeleteSubscription", tag = "Subscriptions",
    extensions(("x-ms-visibility" = json!("internal"))),
    params(("subscriptionId" = Uuid, Path, description = "The subscription id."), DeleteQuery),
    responses(
        (status = 204, description = "The subscription is gone."),
        (status = 401, description = "Neither the secret nor credentials were sent."),
        (status = 404, description = "The secret is wrong, or the subscription is another tenant's."),
    ))]
#[delete("/api/v1/subscriptions/{subscriptionId}")]
pub async fn delete_subscription(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<SubscriptionId>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    if let Some(secret) = &query.secret {
        if !secret_matches(&state.unsubscribe_key, id, secret) {
            return Err(ApiError::NotFound("subscription"));
        }
    } else {
        let caller = state.auth.authenticate(req.headers()).await?;
        let owner = state.store.subscription(id)?.map(|sub| sub.tenant.clone());
        if owner.is_some_and(|tenant| tenant != caller.tenant) {
            return Err(ApiError::NotFound("subscription"));
        }
    }
    if state.store.unsubscribe(id).await?.is_some() {
        tracing::info!(subscription_id = %id, "unsubscribed");
    }
    Ok(HttpResponse::NoContent().finish())
}
