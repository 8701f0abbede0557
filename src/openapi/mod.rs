//! The API's descriptions: the frame of the OpenAPI 3.1 document and the modifiers that
//! complete it once `http` has registered its operations, and from it (through
//! `powerplatform-connector`) the connector package Power Automate imports. Nothing here knows
//! the handlers.

pub mod connector;

use serde_json::json;
use utoipa::openapi::content::{Content, ContentBuilder};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AdditionalProperties, AllOf, Object};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{Modify, OpenApi};

use crate::domain::patterns::documented;
use crate::domain::{CallbackPayload, TriggerKind};

/// Tags of the operations that stay out of the connector definition: data platforms and
/// operators call them (reports, engine definitions and uploads, probes), flows do not.
pub const NOT_IN_CONNECTOR: &[&str] = &["Reports", "Engine", "Operations"];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Insights Events",
        description = "Run flows when customer insights change: when a data source refresh fails or succeeds, when a segment or business measure crosses a threshold, and when a full refresh or unification completes.",
        contact(name = "insights-connector maintainers", url = "https://github.com/insights-connector/insights-connector", email = "maintainers@insights-connector.dev"),
        license(name = "MIT"),
    ),
    tags(
        (name = "Instances", description = "Environments of a tenant."),
        (name = "Triggers", description = "Webhook subscriptions that run flows."),
        (name = "Subscriptions", description = "Inspecting and removing trigger subscriptions."),
        (name = "Catalog", description = "Data sources, segments and measures."),
        (name = "Refreshes", description = "Data source refreshes run by the built-in engine."),
        (name = "Entities", description = "The built-in engine's entities and their items."),
        (name = "Engine", description = "Definitions of the built-in engine: data sources and their uploads."),
        (name = "Reports", description = "Data platforms report what happened (platform role)."),
        (name = "Deliveries", description = "Callback deliveries, their attempts, and replay."),
        (name = "Operations", description = "Probes and metrics for operators."),
    )
)]
struct ApiDoc;

/// The document before any operation: its info and tags.
pub fn frame() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Completes a document whose operations are registered: credentials, each trigger's
/// notification content, connector metadata, the documented text rules, the error answers,
/// and flat schemas for flattened structs. The document names the error body `ErrorBody`;
/// whoever registers the operations adds that schema.
pub fn complete(openapi: &mut utoipa::openapi::OpenApi) {
    let modifiers: [&dyn Modify; 6] = [
        &FlattenAllOf,
        &Security,
        &NotificationContent,
        &ConnectorMetadata,
        &Constraints,
        &ErrorResponses,
    ];
    for modifier in modifiers {
        modifier.modify(openapi);
    }
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

/// Puts `x-ms-notification-content` on each trigger's path item (Power Automate builds the
/// flow designer's dynamic content from it) and the payload's schema in the components. The
/// trigger's operation is found by its operationId, `On<eventType>`.
struct NotificationContent;

impl Modify for NotificationContent {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for trigger in TriggerKind::ALL {
            let operation_id = trigger.operation_id();
            let Some(item) = openapi.paths.paths.values_mut().find(|item| {
                [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                    .into_iter()
                    .flatten()
                    .any(|op| op.operation_id.as_deref() == Some(&operation_id))
            }) else {
                continue;
            };
            let (name, mut schema) = CallbackPayload::schema(trigger);
            flatten(&mut schema);
            let content = json!({
                "description": format!("The {} event.", trigger.event_type()),
                "schema": { "$ref": format!("#/components/schemas/{name}") },
            });
            let extensions = item.extensions.get_or_insert_with(Default::default);
            extensions.merge(
                ExtensionsBuilder::new()
                    .add("x-ms-notification-content", content)
                    .build(),
            );
            let components = openapi.components.get_or_insert_with(Default::default);
            components.schemas.insert(name, schema);
        }
    }
}

/// utoipa describes a struct with `#[serde(flatten)]` fields as an `allOf` of the flattened
/// parts and its own fields; serde writes one flat object. Each such `allOf` of inline objects
/// becomes that flat object, in field order, so Power Automate lists every field as dynamic
/// content. It refuses extra properties when every part does.
struct FlattenAllOf;

impl Modify for FlattenAllOf {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            for schema in components.schemas.values_mut() {
                flatten(schema);
            }
        }
    }
}

fn flatten(schema: &mut RefOr<Schema>) {
    let RefOr::T(Schema::AllOf(all_of)) = schema else {
        return;
    };
    let Some(mut merged) = merge(all_of) else {
        return;
    };
    merged.description = all_of.description.take().or(merged.description);
    *schema = RefOr::T(Schema::Object(merged));
}

/// The one object an `allOf` of inline objects stands for; `None` when a part is anything else.
fn merge(all_of: &AllOf) -> Option<Object> {
    let mut merged = Object::new();
    let mut closed = true;
    for item in &all_of.items {
        let RefOr::T(Schema::Object(part)) = item else {
            return None;
        };
        merged.properties.extend(part.properties.clone());
        merged.required.extend(part.required.iter().cloned());
        closed &= matches!(
            part.additional_properties.as_deref(),
            Some(AdditionalProperties::FreeForm(false))
        );
    }
    merged.schema_type = utoipa::openapi::schema::SchemaType::Type(utoipa::openapi::Type::Object);
    if closed {
        merged.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    }
    Some(merged)
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
    let (Some(rule), RefOr::T(Schema::Object(object))) = (documented(name), schema) else {
        return;
    };
    object.min_length.get_or_insert(rule.min_length);
    object.max_length.get_or_insert(rule.max_length);
    object
        .pattern
        .get_or_insert_with(|| rule.pattern.to_owned());
}

/// Declares the length and pattern limits the handlers enforce on ids, names, callback URLs,
/// paths, field names and idempotency keys (`domain::patterns::documented`), wherever such a
/// field appears in a request: in a body at any depth (through references and alternatives)
/// and in parameters.
struct Constraints;

impl Modify for Constraints {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        // Only requests: what the service answers (names a platform reported, say) is data,
        // not input it checks.
        let mut pending = Vec::new();
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                if let Some(RefOr::T(body)) = &operation.request_body
                    && let Some(RefOr::T(content)) = body.content.get("application/json")
                    && let Some(RefOr::Ref(reference)) = &content.schema
                {
                    pending.extend(reference.ref_location.rsplit('/').next().map(str::to_owned));
                }
            }
        }
        let mut done: Vec<String> = Vec::new();
        if let Some(components) = openapi.components.as_mut() {
            while let Some(name) = pending.pop() {
                if done.contains(&name) {
                    continue;
                }
                if let Some(schema) = components.schemas.get_mut(&name) {
                    constrain_within(schema, &mut pending);
                }
                done.push(name);
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

/// Constrains the properties of a request schema at every depth; the components it references
/// are added to `pending`.
fn constrain_within(schema: &mut RefOr<Schema>, pending: &mut Vec<String>) {
    match schema {
        RefOr::Ref(reference) => {
            pending.extend(reference.ref_location.rsplit('/').next().map(str::to_owned));
        }
        RefOr::T(Schema::Object(object)) => {
            for (name, property) in object.properties.iter_mut() {
                constrain(property, name);
                constrain_within(property, pending);
            }
        }
        RefOr::T(Schema::OneOf(one_of)) => {
            one_of
                .items
                .iter_mut()
                .for_each(|item| constrain_within(item, pending));
        }
        RefOr::T(Schema::AllOf(all_of)) => {
            all_of
                .items
                .iter_mut()
                .for_each(|item| constrain_within(item, pending));
        }
        RefOr::T(Schema::AnyOf(any_of)) => {
            any_of
                .items
                .iter_mut()
                .for_each(|item| constrain_within(item, pending));
        }
        RefOr::T(Schema::Array(array)) => {
            if let utoipa::openapi::schema::ArrayItems::RefOrSchema(items) = &mut array.items {
                constrain_within(items, pending);
            }
        }
        RefOr::T(_) => {}
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
/// unreadable or oversized bodies, missing credentials, ids that name nothing. Every error
/// answer, declared here or by the operation, carries the `ErrorBody`.
struct ErrorResponses;

fn error_body() -> Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build()
}

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
                    statuses.push((
                        "503",
                        "Storage cannot serve now (a full disk); retry after the Retry-After seconds.",
                    ));
                }
                if has_path_params {
                    statuses.push(("404", "Nothing of your tenant has this id."));
                }
                for (status, description) in statuses {
                    if !operation.responses.responses.contains_key(status) {
                        let response = ResponseBuilder::new().description(description).build();
                        operation
                            .responses
                            .responses
                            .insert(status.to_owned(), RefOr::T(response));
                    }
                }
                for (status, response) in operation.responses.responses.iter_mut() {
                    let is_error = status.starts_with('4') || status.starts_with('5');
                    if let (true, RefOr::T(response)) = (is_error, response)
                        && response.content.is_empty()
                    {
                        response
                            .content
                            .insert("application/json".to_owned(), RefOr::T(error_body()));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn flattened(schema: Value) -> Value {
        let mut schema: RefOr<Schema> = serde_json::from_value(schema).unwrap();
        flatten(&mut schema);
        serde_json::to_value(schema).unwrap()
    }

    #[test]
    fn an_all_of_of_objects_becomes_one_flat_object_in_field_order() {
        let part = |name: &str, closed: bool| {
            let mut part = json!({"type": "object", "required": [name],
                "properties": {name: {"type": "string"}}});
            if closed {
                part["additionalProperties"] = json!(false);
            }
            part
        };
        let open = flattened(json!({"description": "Both.",
            "allOf": [part("first", false), part("second", true)]}));
        let names: Vec<&String> = open["properties"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["first", "second"]);
        assert_eq!(open["required"], json!(["first", "second"]));
        assert_eq!(open["description"], "Both.");
        assert!(open.get("allOf").is_none() && open.get("additionalProperties").is_none());
        let closed = flattened(json!({"allOf": [part("a", true), part("b", true)]}));
        assert_eq!(
            closed["additionalProperties"], false,
            "every part was closed"
        );
    }

    #[test]
    fn an_all_of_with_a_reference_stays_as_it_is() {
        let schema = json!({"allOf": [
            {"$ref": "#/components/schemas/Other"},
            {"type": "object", "properties": {"a": {"type": "string"}}},
        ]});
        assert_eq!(flattened(schema.clone()), schema);
    }
}
