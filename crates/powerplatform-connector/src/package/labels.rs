//! Labels, visibility and dropdowns, added to the OpenAPI 3.1 document before it is converted.
//! What the document already says wins: the tables fill gaps, they never overwrite.

use serde_json::{Map, Value, json};

use super::{Dropdown, Labels, label};

fn put_default(object: &mut Map<String, Value>, key: &str, value: Value) {
    if !object.contains_key(key) {
        object.insert(key.to_owned(), value);
    }
}

/// The `x-ms-dynamic-values` of a dropdown: its parameters read the caller's own.
fn dynamic_values(dropdown: &Dropdown<'_>) -> Value {
    let parameters: Map<String, Value> = dropdown
        .parameters
        .iter()
        .map(|p| ((*p).to_owned(), json!({ "parameter": p })))
        .collect();
    json!({
        "operationId": dropdown.operation_id,
        "parameters": parameters,
        "value-collection": dropdown.collection,
        "value-path": dropdown.value_path,
        "value-title": dropdown.title_path,
    })
}

/// The `x-ms-dynamic-list` of a body field's dropdown, which the newer designer reads.
fn dynamic_list(dropdown: &Dropdown<'_>) -> Value {
    let parameters: Map<String, Value> = dropdown
        .parameters
        .iter()
        .map(|p| ((*p).to_owned(), json!({ "parameterReference": p })))
        .collect();
    json!({
        "operationId": dropdown.operation_id,
        "parameters": parameters,
        "itemsPath": dropdown.collection,
        "itemValuePath": dropdown.value_path,
        "itemTitlePath": dropdown.title_path,
    })
}

fn find<'d, 'a>(dropdowns: &'d [Dropdown<'a>], name: &str) -> Option<&'d Dropdown<'a>> {
    dropdowns.iter().find(|d| d.field == name)
}

/// Labels, visibility and dropdowns for every property of a component schema.
fn enrich_schema_properties(
    schema: &mut Value,
    in_request: bool,
    labels: &Labels<'_>,
    dropdowns: &[Dropdown<'_>],
) {
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        let Some(property) = property.as_object_mut() else {
            continue;
        };
        put_default(
            property,
            "x-ms-summary",
            json!(label(name, labels.overrides)),
        );
        if let Some(visibility) = labels.visibility(name) {
            put_default(property, "x-ms-visibility", json!(visibility.as_str()));
        }
        if let (true, Some(dropdown)) = (in_request, find(dropdowns, name)) {
            put_default(property, "x-ms-dynamic-values", dynamic_values(dropdown));
            put_default(property, "x-ms-dynamic-list", dynamic_list(dropdown));
        }
    }
}

/// A label and a description for the request body, which becomes the `body` parameter: the
/// description is the body schema's own. The body is always shown (`important`): the fields
/// inside carry their own visibility.
fn enrich_request_body(operation: &mut Value, schemas: &Value) {
    let schema_name = operation
        .pointer("/requestBody/content/application~1json/schema/$ref")
        .and_then(Value::as_str)
        .and_then(|reference| reference.rsplit('/').next())
        .map(str::to_owned);
    let Some(body) = operation
        .get_mut("requestBody")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if let Some(description) = schema_name.and_then(|name| schemas[&name]["description"].as_str()) {
        put_default(body, "description", json!(description));
    }
    put_default(body, "x-ms-summary", json!("Body"));
    put_default(body, "x-ms-visibility", json!("important"));
}

/// Labels, URL encoding, visibility and dropdowns for every parameter of an operation.
fn enrich_parameters(operation: &mut Value, labels: &Labels<'_>, dropdowns: &[Dropdown<'_>]) {
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for parameter in parameters.iter_mut().filter_map(Value::as_object_mut) {
        let Some(name) = parameter.get("name").and_then(Value::as_str) else {
            continue;
        };
        let name = name.to_owned();
        put_default(
            parameter,
            "x-ms-summary",
            json!(label(&name, labels.overrides)),
        );
        if parameter.get("in").and_then(Value::as_str) == Some("path") {
            put_default(parameter, "x-ms-url-encoding", json!("single"));
        }
        if let Some(visibility) = labels.visibility(&name) {
            put_default(parameter, "x-ms-visibility", json!(visibility.as_str()));
        }
        if let Some(dropdown) = find(dropdowns, &name) {
            put_default(parameter, "x-ms-dynamic-values", dynamic_values(dropdown));
        }
    }
}

/// Names of the component schemas used as request bodies.
fn request_schemas(openapi: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for item in openapi["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
            if let Some(reference) =
                operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
            {
                names.extend(reference.rsplit('/').next().map(str::to_owned));
            }
        }
    }
    names
}

/// Adds the connector's labels, visibility and dropdowns to the OpenAPI 3.1 JSON, and drops
/// per-operation security: a connection has one way to sign in, declared once at the root.
pub(super) fn enrich(openapi: &mut Value, labels: &Labels<'_>, dropdowns: &[Dropdown<'_>]) {
    let requests = request_schemas(openapi);
    if let Some(schemas) = openapi
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            enrich_schema_properties(schema, requests.contains(name), labels, dropdowns);
        }
    }
    let schemas = openapi["components"]["schemas"].clone();
    if let Some(paths) = openapi.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            for operation in item
                .as_object_mut()
                .into_iter()
                .flat_map(|o| o.values_mut())
            {
                enrich_parameters(operation, labels, dropdowns);
                enrich_request_body(operation, &schemas);
                if let Some(operation) = operation.as_object_mut() {
                    operation.remove("security");
                }
            }
        }
    }
}
