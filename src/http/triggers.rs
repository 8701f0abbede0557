//! The webhook triggers, each declared once in `triggers!` below. Each subscribe answers 201
//! with an absolute `Location` that unsubscribes; subscribing twice with the same parameters
//! answers the same subscription.

use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::error::ErrorCode;
use super::instances::owned_instance;
use super::params::{InstancePath, Subscribed};
use super::subscriptions::{SubscriptionResponse, unsubscribe_secret};
use super::{ApiError, AppState, Caller, parse_item_id};
use crate::delivery::guard;
use crate::domain::{
    CallbackUrl, CatalogKind, Filter, InstanceId, SigningSecret, Subscription, SubscriptionId,
    Threshold, TriggerKind,
};
use crate::storage::SubscribeOutcome;

/// Declares each trigger once: its doc lines are the operation's summary and description, the
/// kind names the `TriggerKind` (and so the operationId `On<Kind>`), the path is under
/// `/api/v1/instances/{instanceId}/triggers`, the body is a `TriggerRequest`. It generates the
/// handler and `operations`, which registers every declared trigger with the router and the
/// document at once.
macro_rules! triggers {
    ($(
        $(#[doc = $doc:literal])*
        $handler:ident: $kind:ident, $path:literal, body = $body:ty,
            not_found = $not_found:literal, hint = $hint:literal;
    )*) => {
        $(
            $(#[doc = $doc])*
            #[utoipa::path(operation_id = concat!("On", stringify!($kind)), tag = "Triggers",
                extensions(("x-ms-trigger" = json!("single")), ("x-ms-trigger-hint" = json!($hint))),
                params(InstancePath),
                request_body = $body,
                responses(Subscribed, (status = 404, description = $not_found)),
                security(("bearer" = [])))]
            #[post($path)]
            pub async fn $handler(
                state: web::Data<AppState>,
                caller: Caller,
                path: web::Path<InstancePath>,
                body: web::Json<$body>,
            ) -> Result<HttpResponse, ApiError> {
                let InstancePath(instance) = path.into_inner();
                subscribe(&state, caller, instance, TriggerKind::$kind, body.into_inner()).await
            }
        )*

        /// Registers every trigger declared above; `/triggers` of an instance is their scope.
        pub fn operations(cfg: &mut ServiceConfig<'_>) {
            $(cfg.service($handler);)*
        }
    };
}

triggers! {
    /// When a data source refresh fails
    ///
    /// Runs the flow each time a refresh of a data source (or of any data source) fails.
    on_data_source_refresh_failed: DataSourceRefreshFailed, "/data-source-refresh-failed",
        body = DataSourceTriggerRequest, not_found = "No such instance or data source.",
        hint = "To see it work, report a failed refresh of a data source.";

    /// When a data source refresh succeeds
    ///
    /// Runs the flow each time a refresh of a data source (or of any data source) succeeds.
    on_data_source_refresh_succeeded: DataSourceRefreshSucceeded, "/data-source-refresh-succeeded",
        body = DataSourceTriggerRequest, not_found = "No such instance or data source.",
        hint = "To see it work, report a successful refresh of a data source.";

    /// When a segment crosses a threshold
    ///
    /// Runs the flow when a segment's member count rises from at or below the threshold to above it.
    on_segment_threshold_crossed: SegmentThresholdCrossed, "/segment-threshold-crossed",
        body = SegmentTriggerRequest, not_found = "No such instance or segment.",
        hint = "To see it work, report a member count above the threshold after one at or below it.";

    /// When a business measure crosses a threshold
    ///
    /// Runs the flow when a measure's value rises from at or below the threshold to above it.
    on_measure_threshold_crossed: MeasureThresholdCrossed, "/measure-threshold-crossed",
        body = MeasureTriggerRequest, not_found = "No such instance or measure.",
        hint = "To see it work, report a value above the threshold after one at or below it.";

    /// When a full refresh is completed
    ///
    /// Runs the flow each time a full refresh of the instance completes, successfully or not.
    on_full_refresh_completed: FullRefreshCompleted, "/full-refresh-completed",
        body = RunTriggerRequest, not_found = "No such instance.",
        hint = "To see it work, complete a full refresh of the instance.";

    /// When unification is completed
    ///
    /// Runs the flow each time unification of the instance's customer data completes.
    on_unification_completed: UnificationCompleted, "/unification-completed",
        body = RunTriggerRequest, not_found = "No such instance.",
        hint = "To see it work, complete a unification run of the instance.";
}

/// A subscribe request body: the callback URL and what narrows the trigger.
pub trait TriggerRequest {
    fn notification_url(&self) -> &str;
    fn filter(&self) -> Result<Filter, ApiError>;
}

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

impl TriggerRequest for DataSourceTriggerRequest {
    fn notification_url(&self) -> &str {
        &self.notification_url
    }

    fn filter(&self) -> Result<Filter, ApiError> {
        Ok(match self.data_source_id.as_deref() {
            None => Filter::None,
            Some(raw) => Filter::DataSource {
                data_source_id: parse_item_id(raw, "dataSourceId")?,
            },
        })
    }
}

impl TriggerRequest for SegmentTriggerRequest {
    fn notification_url(&self) -> &str {
        &self.notification_url
    }

    fn filter(&self) -> Result<Filter, ApiError> {
        threshold_filter(
            CatalogKind::Segment,
            &self.segment_id,
            "segmentId",
            self.threshold,
        )
    }
}

impl TriggerRequest for MeasureTriggerRequest {
    fn notification_url(&self) -> &str {
        &self.notification_url
    }

    fn filter(&self) -> Result<Filter, ApiError> {
        threshold_filter(
            CatalogKind::Measure,
            &self.measure_id,
            "measureId",
            self.threshold,
        )
    }
}

impl TriggerRequest for RunTriggerRequest {
    fn notification_url(&self) -> &str {
        &self.notification_url
    }

    fn filter(&self) -> Result<Filter, ApiError> {
        Ok(Filter::None)
    }
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
    body: impl TriggerRequest,
) -> Result<HttpResponse, ApiError> {
    let filter = body.filter()?;
    let instance = owned_instance(&state.store, &caller.tenant, instance)?;
    let callback = CallbackUrl::parse(body.notification_url())
        .map_err(|err| ApiError::new(ErrorCode::InvalidNotificationUrl, format!("{err}.")))?;
    guard::check(&callback, state.allow_private_callbacks)
        .await
        .map_err(|err| ApiError::new(ErrorCode::NotificationUrlNotAllowed, format!("{err}.")))?;
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
