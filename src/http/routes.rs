//! The one list of operations. `operations` registers each handler, whose actix route
//! attribute and `#[utoipa::path]` give its method, path and description; the router and the
//! OpenAPI document are both built from it, so they cannot disagree.

use actix_web::dev::ResourceDef;
use actix_web::http::header;
use actix_web::web::{self, ServiceConfig};
use actix_web::{App, HttpRequest, HttpResponse};
use utoipa::ToSchema;
use utoipa::openapi::path::PathItem;
use utoipa::openapi::{OpenApi, RefOr, Schema};
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use super::error::{self, ErrorBody};
use super::reports::ReportAccepted;
use super::subscriptions::SubscriptionResponse;
use super::{
    ApiError, MAX_BODY_BYTES, catalog, connector, data_sources, definitions, deliveries, entities,
    health, instances, metrics, refreshes, reports, schedule, segments, subscriptions, triggers,
};
use crate::openapi;

/// Every operation, in the order the document lists them. A new action is its handler and one
/// line here.
fn operations(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(instances::list_instances)
        .service(instances::create_instance)
        .service(instances::get_instance)
        .service(scope("/api/v1/instances/{instanceId}/triggers").configure(triggers::operations))
        .service(subscriptions::list_subscriptions)
        .service(subscriptions::get_subscription)
        .service(subscriptions::delete_subscription)
        .service(catalog::list_data_sources)
        .service(catalog::get_data_source)
        .service(catalog::list_segments)
        .service(catalog::get_segment)
        .service(catalog::list_measures)
        .service(catalog::get_measure)
        .service(data_sources::set_data_source)
        .service(data_sources::upload_data_source_content)
        .service(definitions::set_unification)
        .service(definitions::get_unification)
        .service(definitions::set_measure)
        .service(definitions::set_segment)
        .service(schedule::set_schedule)
        .service(schedule::get_schedule)
        .service(schedule::delete_schedule)
        .service(refreshes::start_full_refresh)
        .service(refreshes::refresh_data_source)
        .service(refreshes::list_refreshes)
        .service(refreshes::get_refresh)
        .service(entities::get_entities)
        .service(entities::get_items)
        .service(entities::get_item)
        .service(entities::get_entity_schema)
        .service(segments::get_segment_members)
        .service(scope("/api/v1/instances/{instanceId}/reports").configure(reports::operations))
        .service(health::healthz)
        .service(health::readyz)
        .service(connector::api_definition)
        .service(connector::api_properties)
        .service(deliveries::list_deliveries)
        .service(deliveries::retry_delivery)
        .service(metrics::metrics);
}

/// The OpenAPI 3.1 document of the whole API, report API and probes included.
pub fn document() -> OpenApi {
    let (_, mut document) = App::new()
        .into_utoipa_app()
        .openapi(openapi::frame())
        .configure(operations)
        .split_for_parts();
    // Bodies named by reference only: by every error answer (see `openapi::complete`) and by
    // the shared answers of `params`, which utoipa does not collect.
    let components = document.components.get_or_insert_with(Default::default);
    let by_reference = [
        component::<ErrorBody>(),
        component::<ReportAccepted>(),
        component::<SubscriptionResponse>(),
    ];
    for (name, schema) in by_reference {
        components.schemas.insert(name, schema);
    }
    data_sources::close_source_alternatives(&mut document);
    openapi::complete(&mut document);
    document
}

/// The `Allow` header of a path: the methods its operations take (RFC 9110 asks for it on 405).
fn allowed(item: &PathItem) -> String {
    let methods = [
        ("GET", &item.get),
        ("PUT", &item.put),
        ("POST", &item.post),
        ("DELETE", &item.delete),
        ("PATCH", &item.patch),
    ];
    methods
        .into_iter()
        .filter(|(_, operation)| operation.is_some())
        .map(|(method, _)| method)
        .collect::<Vec<_>>()
        .join(", ")
}

fn component<T: ToSchema>() -> (String, RefOr<Schema>) {
    (T::name().into_owned(), T::schema())
}

/// Registers every operation, the docs page with `document` at `/openapi.json`, and the
/// answer to a request no operation takes: 405 on a known path, 404 elsewhere.
pub fn configure(cfg: &mut ServiceConfig, document: &OpenApi) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(MAX_BODY_BYTES)
            .error_handler(error::json_error),
    )
    .app_data(web::PathConfig::default().error_handler(error::path_error))
    .app_data(web::QueryConfig::default().error_handler(error::query_error));
    operations(&mut utoipa_actix_web::service_config::ServiceConfig::new(
        cfg,
    ));
    cfg.service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", document.clone()));
    let known: Vec<(ResourceDef, String)> = document
        .paths
        .paths
        .iter()
        .map(|(path, item)| (ResourceDef::new(path.as_str()), allowed(item)))
        .collect();
    cfg.default_service(web::to(move |req: HttpRequest| {
        let allow = known
            .iter()
            .find(|(path, _)| path.is_match(req.path()))
            .map(|(_, allow)| allow.clone());
        async move {
            match allow {
                Some(allow) => Ok(HttpResponse::MethodNotAllowed()
                    .insert_header((header::ALLOW, allow))
                    .json(ErrorBody::from(&ApiError::method_not_allowed()))),
                None => Err(ApiError::no_route()),
            }
        }
    }));
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                found.extend(map.get("$ref").and_then(Value::as_str));
                map.values().for_each(|v| refs(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_in_the_document_names_a_schema_it_has() {
        let document = serde_json::to_value(document()).unwrap();
        let mut found = Vec::new();
        refs(&document, &mut found);
        assert!(!found.is_empty());
        for reference in found {
            let name = reference.trim_start_matches("#/components/schemas/");
            assert!(
                document["components"]["schemas"][name].is_object(),
                "{reference} names nothing"
            );
        }
    }

    #[test]
    fn every_trigger_has_its_subscribe_operation_and_payload_in_the_document() {
        let document = serde_json::to_value(document()).unwrap();
        for trigger in crate::domain::TriggerKind::ALL {
            let operation_id = trigger.operation_id();
            let item = document["paths"]
                .as_object()
                .unwrap()
                .values()
                .find(|item| item["post"]["operationId"] == operation_id.as_str())
                .unwrap_or_else(|| panic!("no operation {operation_id}"));
            assert!(
                item["x-ms-notification-content"]["schema"]["$ref"].is_string(),
                "{operation_id}"
            );
        }
    }
}
