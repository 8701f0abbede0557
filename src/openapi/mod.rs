//! The API's descriptions: the OpenAPI 3.1 document built from the handlers' utoipa
//! annotations, and from it (through `powerplatform-connector`) the connector package Power
//! Automate imports.

pub mod connector;

use serde_json::json;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{Modify, OpenApi};

use crate::domain::TriggerKind;
use crate::domain::event::{
    DataSourceRefreshFailedPayload, DataSourceRefreshSucceededPayload, FullRefreshCompletedPayload,
    MeasureThresholdCrossedPayload, SegmentThresholdCrossedPayload, UnificationCompletedPayload,
};
use crate::http::wire::constraint;
use crate::http::{
    catalog, connector as served, deliveries, health, instances, metrics, reports, subscriptions,
    triggers,
};

/// Tags of the operations that stay out of the connector definition: data platforms and
/// operators call them, flows do not.
pub const NOT_IN_CONNECTOR: &[&str] = &["Reports", "Operations"];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Insights Events",
        description = "Run flows when customer insights change: when a data source refresh fails or succeeds, when a segment or business measure crosses a threshold, and when a full refresh or unification completes.",
        contact(name = "insights-connector maintainers", url = "https://github.com/insights-connector/insights-connector", email = "maintainers@insights-connector.dev"),
        license(name = "MIT"),
    ),
    paths(
        instances::list_instances, instances::create_instance, instances::get_instance,
        triggers::on_data_source_refresh_failed, triggers::on_data_source_refresh_succeeded,
        triggers::on_segment_threshold_crossed, triggers::on_measure_threshold_crossed,
        triggers::on_full_refresh_completed, triggers::on_unification_completed,
        subscriptions::list_subscriptions, subscriptions::get_subscription,
        subscriptions::delete_subscription,
        catalog::list_data_sources, catalog::get_data_source, catalog::list_segments,
        catalog::get_segment, catalog::list_measures, catalog::get_measure,
        reports::report_data_source_refresh, reports::report_segment_size,
        reports::report_measure_value, reports::report_unification, reports::report_full_refresh,
        health::healthz, health::readyz, served::api_definition, served::api_properties,
        deliveries::list_deliveries, deliveries::retry_delivery, metrics::metrics,
    ),
    components(schemas(
        DataSourceRefreshFailedPayload, DataSourceRefreshSucceededPayload,
        SegmentThresholdCrossedPayload, MeasureThresholdCrossedPayload,
        FullRefreshCompletedPayload, UnificationCompletedPayload,
    )),
    modifiers(&Security, &NotificationContent, &ConnectorMetadata, &Constraints, &ErrorResponses),
    tags(
        (name = "Instances", description = "Environments of a tenant."),
        (name = "Triggers", description = "Webhook subscriptions that run flows."),
        (name = "Subscriptions", description = "Inspecting and removing trigger subscriptions."),
        (name = "Catalog", description = "Data sources, segments and measures."),
        (name = "Reports", description = "Data platforms report what happened (platform role)."),
        (name = "Deliveries", description = "Callback deliveries, their attempts, and replay."),
        (name = "Operations", description = "Probes and metrics for operators."),
    )
)]
pub struct ApiDoc;

/// The OpenAPI 3.1 document of the whole API, report API and probes included.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT naming the tenant in `tid` and the caller in `oid` or `sub`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key made with `insights-connector api-key create`.",
            ))),
        );
        // Every authenticated operation takes either credential.
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                if let Some(requirements) = operation.security.as_mut() {
                    requirements.push(SecurityRequirement::new("api_key", Vec::<String>::new()));
                }
            }
        }
    }
}

/// The schema each trigger's callback receives, by operation.
fn payload_schema(trigger: TriggerKind) -> &'static str {
    match trigger {
        TriggerKind::DataSourceRefreshFailed => "DataSourceRefreshFailedPayload",
        TriggerKind::DataSourceRefreshSucceeded => "DataSourceRefreshSucceededPayload",
        TriggerKind::SegmentThresholdCrossed => "SegmentThresholdCrossedPayload",
        TriggerKind::MeasureThresholdCrossed => "MeasureThresholdCrossedPayload",
        TriggerKind::FullRefreshCompleted => "FullRefreshCompletedPayload",
        TriggerKind::UnificationCompleted => "UnificationCompletedPayload",
    }
}

/// Puts `x-ms-notification-content` on each trigger's path item: Power Automate builds the flow
/// designer's dynamic content from it.
struct NotificationContent;

impl Modify for NotificationContent {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for trigger in TriggerKind::ALL {
            let path = format!(
                "/api/v1/instances/{{instanceId}}/triggers/{}",
                trigger.path_segment()
            );
            let Some(item) = openapi.paths.paths.get_mut(&path) else {
                continue;
            };
            let content = json!({
                "description": format!("The {} event.", trigger.event_type()),
                "schema": { "$ref": format!("#/components/schemas/{}", payload_schema(trigger)) },
            });
            let extensions = item.extensions.get_or_insert_with(Default::default);
            extensions.merge(
                ExtensionsBuilder::new()
                    .add("x-ms-notification-content", content)
                    .build(),
            );
        }
    }
}

struct ConnectorMetadata;

impl Modify for ConnectorMetadata {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let metadata = connector::METADATA.to_value();
        let extensions = openapi.extensions.get_or_insert_with(Default::default);
        extensions.merge(
            ExtensionsBuilder::new()
                .add("x-ms-connector-metadata", metadata)
                .build(),
        );
    }
}

fn constrain(schema: &mut RefOr<Schema>, name: &str) {
    let (Some((min, max, pattern)), RefOr::T(Schema::Object(object))) = (constraint(name), schema)
    else {
        return;
    };
    object.min_length.get_or_insert(min);
    object.max_length.get_or_insert(max);
    object.pattern.get_or_insert_with(|| pattern.to_owned());
}

/// Declares the length and pattern limits the handlers enforce on ids, names, callback URLs
/// and idempotency keys (`http::wire::constraint`), wherever such a field appears.
struct Constraints;

impl Modify for Constraints {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        // Only requests: what the service answers (names a platform reported, say) is data,
        // not input it checks.
        let mut requests = Vec::new();
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                if let Some(RefOr::T(body)) = &operation.request_body
                    && let Some(RefOr::T(content)) = body.content.get("application/json")
                    && let Some(RefOr::Ref(reference)) = &content.schema
                {
                    requests.extend(reference.ref_location.rsplit('/').next().map(str::to_owned));
                }
            }
        }
        if let Some(components) = openapi.components.as_mut() {
            for (name, schema) in components.schemas.iter_mut() {
                if !requests.contains(name) {
                    continue;
                }
                if let RefOr::T(Schema::Object(object)) = schema {
                    for (name, property) in object.properties.iter_mut() {
                        constrain(property, name);
                    }
                }
            }
        }
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if let RefOr::T(parameter) = parameter
                        && let Some(schema) = parameter.schema.as_mut()
                    {
                        constrain(schema, &parameter.name.clone());
                    }
                }
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Declares on every operation the errors any request can meet before its handler runs:
/// unreadable or oversized bodies, missing credentials, ids that name nothing.
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let has_path_params = path.contains('{');
            for operation in operations(item) {
                let mut statuses: Vec<(&str, &str)> = Vec::new();
                if operation.request_body.is_some() {
                    statuses.extend([
                        ("400", "The body is not valid JSON."),
                        ("413", "The body is larger than the service accepts."),
                        ("415", "The body is not application/json."),
                        ("422", "A field is missing or not valid."),
                    ]);
                }
                if operation.security.is_some() {
                    statuses.push(("401", "No or bad credentials."));
                    statuses.push((
                        "429",
                        "Too many calls for your tenant; retry after the Retry-After seconds.",
                    ));
                }
                if has_path_params {
                    statuses.push(("404", "Nothing of your tenant has this id."));
                }
                for (status, description) in statuses {
                    if !operation.responses.responses.contains_key(status) {
                        let response = ResponseBuilder::new()
                            .description(description)
                            .content(
                                "application/json",
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                                    .build(),
                            )
                            .build();
                        operation
                            .responses
                            .responses
                            .insert(status.to_owned(), RefOr::T(response));
                    }
                }
            }
        }
    }
}
