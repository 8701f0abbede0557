//! The six webhook triggers. Each subscribe answers 201 with an absolute `Location` that
//! unsubscribes; subscribing twice with the same parameters answers the same subscription.

use actix_web::http::header::LOCATION;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpResponse, Responder};
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::instances::owned_instance;
use super::subscriptions::{SubscriptionResponse, unsubscribe_secret};
use super::{ApiError, AppState, Caller, parse_item_id};
use crate::delivery::guard;
use crate::domain::{
    CallbackUrl, CatalogKind, Filter, InstanceId, SigningSecret, Subscription, SubscriptionId,
    Threshold, TriggerKind,
};
use crate::storage::SubscribeOutcome;

/// Subscribes a flow to refreshes of one data source, or of any.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceTriggerRequest {
    /// The callback URL Power Automate supplies.
    #[schema(extensions(("x-ms-notification-url" = json!(true)), ("x-ms-visibility" = json!("internal"))))]
    pub notification_url: String,
    /// Only refreshes of this data source; absent for any data source.
    pub data_source_id: Option<String>,
}

/// Subscribes a flow to a segment's member count crossing a threshold.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SegmentTriggerRequest {
    /// The callback URL Power Automate supplies.
    #[schema(extensions(("x-ms-notification-url" = json!(true)), ("x-ms-visibility" = json!("internal"))))]
    pub notification_url: String,
    /// The segment to watch.
    pub segment_id: String,
    /// Fires when the member count goes from at or below this value to above it.
    pub threshold: f64,
}

/// Subscribes a flow to a measure's value crossing a threshold.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeasureTriggerRequest {
    /// The callback URL Power Automate supplies.
    #[schema(extensions(("x-ms-notification-url" = json!(true)), ("x-ms-visibility" = json!("internal"))))]
    pub notification_url: String,
    /// The business measure to watch.
    pub measure_id: String,
    /// Fires when the value goes from at or below this value to above it.
    pub threshold: f64,
}

/// Subscribes a flow to completed runs of the instance.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunTriggerRequest {
    /// The callback URL Power Automate supplies.
    #[schema(extensions(("x-ms-notification-url" = json!(true)), ("x-ms-visibility" = json!("internal"))))]
    pub notification_url: String,
}

pub fn configure(cfg: &mut ServiceConfig) {
    use web::{post, resource};
    let path = |trigger: TriggerKind| {
        format!(
            "/instances/{{instanceId}}/triggers/{}",
            trigger.path_segment()
        )
    };
    cfg.service(
        resource(path(TriggerKind::DataSourceRefreshFailed))
            .route(post().to(on_data_source_refresh_failed)),
    )
    .service(
        resource(path(TriggerKind::DataSourceRefreshSucceeded))
            .route(post().to(on_data_source_refresh_succeeded)),
    )
    .service(
        resource(path(TriggerKind::SegmentThresholdCrossed))
            .route(post().to(on_segment_threshold_crossed)),
    )
    .service(
        resource(path(TriggerKind::MeasureThresholdCrossed))
            .route(post().to(on_measure_threshold_crossed)),
    )
    .service(
        resource(path(TriggerKind::FullRefreshCompleted))
            .route(post().to(on_full_refresh_completed)),
    )
    .service(
        resource(path(TriggerKind::UnificationCompleted))
            .route(post().to(on_unification_completed)),
    );
}

fn threshold_filter(
    kind: CatalogKind,
    raw_id: &str,
    field: &str,
    threshold: f64,
) -> Result<Filter, ApiError> {
    Ok(Filter::Threshold {
        kind,
        item_id: parse_item_id(raw_id, field)?,
        threshold: Threshold::new(threshold)
            .ok_or_else(|| ApiError::invalid("threshold must be a finite number."))?,
    })
}

/// The work shared by every trigger: check the instance, the callback URL and the filter,
/// store (or find) the subscription, and answer 201 with its `Location`.
async fn subscribe(
    state: &AppState,
    caller: Caller,
    instance: InstanceId,
    trigger: TriggerKind,
    notification_url: &str,
    filter: Filter,
) -> Result<HttpResponse, ApiError> {
    let instance = owned_instance(&state.store, &caller.tenant, instance)?;
    let callback = CallbackUrl::parse(notification_url).map_err(|err| ApiError::Invalid {
        code: "invalid_notification_url",
        message: format!("{err}."),
    })?;
    guard::check(&callback, state.allow_private_callbacks)
        .await
        .map_err(|err| ApiError::Invalid {
            code: "notification_url_not_allowed",
            message: format!("{err}."),
        })?;
    let candidate = Subscription {
        id: SubscriptionId::new(),
        tenant: caller.tenant,
        instance_id: instance.id,
        trigger,
        filter,
        callback,
        created_at: state.clock.now(),
        baseline: None,
        signing_secret: Some(
            SigningSecret::generate().map_err(|err| ApiError::Internal(anyhow::anyhow!(err)))?,
        ),
    };
    let missing = candidate.filter.item().map(|(kind, _)| kind.noun());
    // The signing secret is revealed on creation only: a repeated subscribe must not leak it.
    let (subscription, revealed) = match state.store.subscribe(candidate).await? {
        SubscribeOutcome::Created(sub) => {
            tracing::info!(subscription_id = %sub.id, trigger = sub.trigger.event_type(), "subscribed");
            let secret = sub.signing_secret.as_ref().map(|s| s.expose().to_owned());
            (sub, secret)
        }
        SubscribeOutcome::Existing(sub) => (sub, None),
        SubscribeOutcome::UnknownItem => {
            return Err(ApiError::NotFound(missing.unwrap_or("catalog item")));
        }
    };
    let secret = unsubscribe_secret(&state.unsubscribe_key, subscription.id)?;
    let location = state.absolute_url(&format!(
        "/api/v1/subscriptions/{}?secret={secret}",
        subscription.id
    ));
    let mut response = SubscriptionResponse::from(subscription);
    response.signing_secret = revealed;
    Ok(HttpResponse::Created()
        .insert_header((LOCATION, location))
        .json(response))
}

/// When a data source refresh fails
///
/// Runs the flow each time a refresh of a data source (or of any data source) fails.
#[utoipa::path(post, path = "/api/v1/instances/{instanceId}/triggers/data-source-refresh-failed",
    operation_id = "OnDataSourceRefreshFailed", tag = "Triggers",
    extensions(("x-ms-trigger" = json!("single")), ("x-ms-trigger-hint" = json!("To see it work, report a failed refresh of a data source."))),
    params(("instanceId" = Uuid, Path, description = "The instance id.")),
    request_body = DataSourceTriggerRequest,
    responses(
        (status = 201, description = "Subscribed.", body = SubscriptionResponse,
            headers(("Location" = String, description = "DELETE this URL to unsubscribe."))),
        (status = 404, description = "No such instance or data source.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn on_data_source_refresh_failed(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstanceId>,
    body: web::Json<DataSourceTriggerRequest>,
) -> Result<impl Responder, ApiError> {
    data_source_trigger(
        &state,
        caller,
        path.into_inner(),
        TriggerKind::DataSourceRefreshFailed,
        body.into_inner(),
    )
    .await
}

/// When a data source refresh succeeds
///
/// Runs the flow each time a refresh of a data source (or of any data source) succeeds.
#[utoipa::path(post, path = "/api/v1/instances/{instanceId}/triggers/data-source-refresh-succeeded",
    operation_id = "OnDataSourceRefreshSucceeded", tag = "Triggers",
    extensions(("x-ms-trigger" = json!("single")), ("x-ms-trigger-hint" = json!("To see it work, report a successful refresh of a data source."))),
    params(("instanceId" = Uuid, Path, description = "The instance id.")),
    request_body = DataSourceTriggerRequest,
    responses(
        (status = 201, description = "Subscribed.", body = SubscriptionResponse,
            headers(("Location" = String, description = "DELETE this URL to unsubscribe."))),
        (status = 404, description = "No such instance or data source.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn on_data_source_refresh_succeeded(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstanceId>,
    body: web::Json<DataSourceTriggerRequest>,
) -> Result<impl Responder, ApiError> {
    data_source_trigger(
        &state,
        caller,
        path.into_inner(),
        TriggerKind::DataSourceRefreshSucceeded,
        body.into_inner(),
    )
    .await
}

async fn data_source_trigger(
    state: &AppState,
    caller: Caller,
    instance: InstanceId,
    trigger: TriggerKind,
    body: DataSourceTriggerRequest,
) -> Result<HttpResponse, ApiError> {
    let filter = match body.data_source_id.as_deref() {
        None => Filter::None,
        Some(raw) => Filter::DataSource {
            data_source_id: parse_item_id(raw, "dataSourceId")?,
        },
    };
    subscribe(
        state,
        caller,
        instance,
        trigger,
        &body.notification_url,
        filter,
    )
    .await
}

/// When a segment crosses a threshold
///
/// Runs the flow when a segment's member count rises from at or below the threshold to above it.
#[utoipa::path(post, path = "/api/v1/instances/{instanceId}/triggers/segment-threshold-crossed",
    operation_id = "OnSegmentThresholdCrossed", tag = "Triggers",
    extensions(("x-ms-trigger" = json!("single")), ("x-ms-trigger-hint" = json!("To see it work, report a member count above the threshold after one at or below it."))),
    params(("instanceId" = Uuid, Path, description = "The instance id.")),
    request_body = SegmentTriggerRequest,
    responses(
        (status = 201, description = "Subscribed.", body = SubscriptionResponse,
            headers(("Location" = String, description = "DELETE this URL to unsubscribe."))),
        (status = 404, description = "No such instance or segment.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn on_segment_threshold_crossed(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstanceId>,
    body: web::Json<SegmentTriggerRequest>,
) -> Result<impl Responder, ApiError> {
    let filter = threshold_filter(
        CatalogKind::Segment,
        &body.segment_id,
        "segmentId",
        body.threshold,
    )?;
    let trigger = TriggerKind::SegmentThresholdCrossed;
    subscribe(
        &state,
        caller,
        path.into_inner(),
        trigger,
        &body.notification_url,
        filter,
    )
    .await
}

/// When a business measure crosses a threshold
///
/// Runs the flow when a measure's value rises from at or below the threshold to above it.
#[utoipa::path(post, path = "/api/v1/instances/{instanceId}/triggers/measure-threshold-crossed",
    operation_id = "OnMeasureThresholdCrossed", tag = "Triggers",
    extensions(("x-ms-trigger" = json!("single")), ("x-ms-trigger-hint" = json!("To see it work, report a value above the threshold after one at or below it."))),
    params(("instanceId" = Uuid, Path, description = "The instance id.")),
    request_body = MeasureTriggerRequest,
    responses(
        (status = 201, description = "Subscribed.", body = SubscriptionResponse,
            headers(("Location" = String, description = "DELETE this URL to unsubscribe."))),
        (status = 404, description = "No such instance or measure.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn on_measure_threshold_crossed(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstanceId>,
    body: web::Json<MeasureTriggerRequest>,
) -> Result<impl Responder, ApiError> {
    let filter = threshold_filter(
        CatalogKind::Measure,
        &body.measure_id,
        "measureId",
        body.threshold,
    )?;
    let trigger = TriggerKind::MeasureThresholdCrossed;
    subscribe(
        &state,
        caller,
        path.into_inner(),
        trigger,
        &body.notification_url,
        filter,
    )
    .await
}

/// When a full refresh is completed
///
/// Runs the flow each time a full refresh of the instance completes, successfully or not.
#[utoipa::path(post, path = "/api/v1/instances/{instanceId}/triggers/full-refresh-completed",
    operation_id = "OnFullRefreshCompleted", tag = "Triggers",
    extensions(("x-ms-trigger" = json!("single")), ("x-ms-trigger-hint" = json!("To see it work, complete a full refresh of the instance."))),
    params(("instanceId" = Uuid, Path, description = "The instance id.")),
    request_body = RunTriggerRequest,
    responses(
        (status = 201, description = "Subscribed.", body = SubscriptionResponse,
            headers(("Location" = String, description = "DELETE this URL to unsubscribe."))),
        (status = 404, description = "No such instance.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn on_full_refresh_completed(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstanceId>,
    body: web::Json<RunTriggerRequest>,
) -> Result<impl Responder, ApiError> {
    let trigger = TriggerKind::FullRefreshCompleted;
    subscribe(
        &state,
        caller,
        path.into_inner(),
        trigger,
        &body.notification_url,
        Filter::None,
    )
    .await
}

/// When unification is completed
///
/// Runs the flow each time unification of the instance's customer data completes.
#[utoipa::path(post, path = "/api/v1/instances/{instanceId}/triggers/unification-completed",
    operation_id = "OnUnificationCompleted", tag = "Triggers",
    extensions(("x-ms-trigger" = json!("single")), ("x-ms-trigger-hint" = json!("To see it work, complete a unification run of the instance."))),
    params(("instanceId" = Uuid, Path, description = "The instance id.")),
    request_body = RunTriggerRequest,
    responses(
        (status = 201, description = "Subscribed.", body = SubscriptionResponse,
            headers(("Location" = String, description = "DELETE this URL to unsubscribe."))),
        (status = 404, description = "No such instance.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn on_unification_completed(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstanceId>,
    body: web::Json<RunTriggerRequest>,
) -> Result<impl Responder, ApiError> {
    let trigger = TriggerKind::UnificationCompleted;
    subscribe(
        &state,
        caller,
        path.into_inner(),
        trigger,
        &body.notification_url,
        Filter::None,
    )
    .await
}
