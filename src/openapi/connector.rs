//! The Power Automate connector package: `apiDefinition.swagger.json` (Swagger 2.0, converted
//! from the OpenAPI document and given the `x-ms-*` labels and dropdowns flow makers see),
//! `apiProperties.json`, the icon and the package's README. Nothing here is maintained by hand
//! beside the code: labels follow from names, descriptions from doc comments.

use serde_json::{Map, Value, json};
use url::Url;

use super::swagger2::{self, ConvertError, Swagger2Options};
use super::{NOT_IN_CONNECTOR, document};

/// The connector's icon: 230x230, a coloured background, as certification asks.
pub const ICON_PNG: &[u8] = include_bytes!("icon.png");
/// The package README, on importing the connector.
pub const PACKAGE_README: &str = include_str!("connector-readme.md");
/// The brand colour behind the icon.
const BRAND_COLOR: &str = "#0b6e4f";
/// Where the committed definition says the service lives; a deployment serves its own at
/// `/connector/apiDefinition.swagger.json`.
pub const PLACEHOLDER_URL: &str = "https://insights.example.com";

/// Fields flow makers look for first: shown prominently in the designer.
const IMPORTANT: &[&str] = &[
    "instanceId",
    "dataSourceId",
    "dataSourceName",
    "segmentId",
    "segmentName",
    "measureId",
    "measureName",
    "threshold",
    "status",
    "memberCount",
    "value",
    "errorMessage",
    "name",
    "id",
];
/// Fields few flows need: tucked under "advanced".
const ADVANCED: &[&str] = &[
    "subscriptionId",
    "eventId",
    "eventType",
    "occurredAt",
    "refreshId",
    "runId",
    "createdAt",
    "updatedAt",
    "lastRefreshId",
    "baseline",
    "trigger",
    "notificationUrl",
];

/// Dropdowns: the operation that lists the choices for a parameter or body field of this name.
fn dropdown(name: &str) -> Option<&'static str> {
    match name {
        "instanceId" => Some("ListInstances"),
        "dataSourceId" => Some("ListDataSources"),
        "segmentId" => Some("ListSegments"),
        "measureId" => Some("ListMeasures"),
        _ => None,
    }
}

/// "dataSourceId" -> "Data Source ID": the label a flow maker reads.
pub fn label(name: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for c in name.chars() {
        if c.is_uppercase() || words.is_empty() {
            words.push(c.to_uppercase().collect());
        } else if let Some(last) = words.last_mut() {
            last.push(c);
        }
    }
    words
        .into_iter()
        .map(|word| match word.as_str() {
            "Id" => "ID".to_owned(),
            "Url" => "URL".to_owned(),
            _ => word,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn put_default(object: &mut Map<String, Value>, key: &str, value: Value) {
    if !object.contains_key(key) {
        object.insert(key.to_owned(), value);
    }
}

fn visibility(name: &str) -> Option<&'static str> {
    if IMPORTANT.contains(&name) {
        Some("important")
    } else if ADVANCED.contains(&name) {
        Some("advanced")
    } else {
        None
    }
}

/// Labels, visibility and dropdowns for every property of a component schema.
fn enrich_schema_properties(schema: &mut Value, in_request: bool) {
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        let Some(property) = property.as_object_mut() else {
            continue;
        };
        put_default(property, "x-ms-summary", json!(label(name)));
        if let Some(v) = visibility(name) {
            put_default(property, "x-ms-visibility", json!(v));
        }
        if let (true, Some(operation)) = (in_request, dropdown(name)) {
            // The instance is a path parameter of every body that names a catalog item.
            put_default(
                property,
                "x-ms-dynamic-values",
                json!({
                    "operationId": operation,
                    "parameters": { "instanceId": { "parameter": "instanceId" } },
                    "value-collection": "value",
                    "value-path": "id",
                    "value-title": "name",
                }),
            );
            put_default(
                property,
                "x-ms-dynamic-list",
                json!({
                    "operationId": operation,
                    "parameters": { "instanceId": { "parameterReference": "instanceId" } },
                    "itemsPath": "value",
                    "itemValuePath": "id",
                    "itemTitlePath": "name",
                }),
            );
        }
    }
}

/// A label and a description for the request body, which becomes the `body` parameter: the
/// description is the body schema's own.
fn enrich_request_body(operation: &mut Value, schemas: &Value) {
    let schema_name = operation
        .pointer("/requestBody/content/application~1json/schema/$ref")
        .and_then(Value::as_str)
        .and_then(|reference| reference.rsplit('/').next())
        .unwrap_or_default()
        .to_owned();
    let Some(body) = operation
        .get_mut("requestBody")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if let Some(description) = schemas[&schema_name]["description"].as_str() {
        put_default(body, "description", json!(description));
    }
    put_default(body, "x-ms-summary", json!("Body"));
}

/// Labels, URL encoding and dropdowns for every parameter of every operation.
fn enrich_parameters(operation: &mut Value) {
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for parameter in parameters {
        let Some(parameter) = parameter.as_object_mut() else {
            continue;
        };
        let name = parameter
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let in_path = parameter.get("in").and_then(Value::as_str) == Some("path");
        put_default(parameter, "x-ms-summary", json!(label(&name)));
        if in_path {
            put_default(parameter, "x-ms-url-encoding", json!("single"));
        }
        if let Some(v) = visibility(&name) {
            put_default(parameter, "x-ms-visibility", json!(v));
        }
        if let Some(target) = dropdown(&name) {
            let parameters = if name == "instanceId" {
                json!({})
            } else {
                json!({ "instanceId": { "parameter": "instanceId" } })
            };
            put_default(
                parameter,
                "x-ms-dynamic-values",
                json!({
                    "operationId": target,
                    "parameters": parameters,
                    "value-collection": "value",
                    "value-path": "id",
                    "value-title": "name",
                }),
            );
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

/// Adds the connector's labels, visibility and dropdowns to the OpenAPI 3.1 JSON.
fn enrich(openapi: &mut Value) {
    let requests = request_schemas(openapi);
    if let Some(schemas) = openapi
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            enrich_schema_properties(schema, requests.contains(name));
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
                enrich_parameters(operation);
                enrich_request_body(operation, &schemas);
            }
        }
    }
}

/// The Swagger 2.0 connector definition for a service reachable at `public_url`.
pub fn api_definition(public_url: &Url) -> Result<Value, ConvertError> {
    let mut openapi = serde_json::to_value(document()).map_err(|err| {
        ConvertError::new("/", format!("cannot serialize the OpenAPI document: {err}"))
    })?;
    enrich(&mut openapi);
    let (host, base_path, schemes) = swagger2::split_public_url(public_url.as_str())?;
    swagger2::to_swagger2(
        &openapi,
        &Swagger2Options {
            host,
            base_path,
            schemes,
            exclude_tags: NOT_IN_CONNECTOR,
            security_definitions: json!({
                "bearer": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "The word Bearer, a space, and a JWT for your tenant.",
                }
            }),
            security: json!([{ "bearer": [] }]),
        },
    )
}

/// `apiProperties.json`: publisher, brand colour, and the connection parameters matching the
/// definition's security.
pub fn api_properties() -> Value {
    json!({
        "properties": {
            "connectionParameters": {
                "bearer": {
                    "type": "securestring",
                    "uiDefinition": {
                        "displayName": "Bearer token",
                        "description": "The word Bearer, a space, and a token for your tenant.",
                        "tooltip": "Ask the operator of your insights-connector service for a token.",
                        "constraints": { "tabIndex": 2, "clearText": false, "required": "true" }
                    }
                }
            },
            "iconBrandColor": BRAND_COLOR,
            "capabilities": [],
            "publisher": "insights-connector",
            "stackOwner": "insights-connector",
            "policyTemplateInstances": []
        }
    })
}

/// Every file of `openapi/` and `connector-definition/`, by path relative to the project root,
/// as `insights-connector export` writes them.
pub fn package_files(public_url: &Url) -> Result<Vec<(&'static str, Vec<u8>)>, ConvertError> {
    let pretty = |value: &Value| {
        let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    };
    let openapi = serde_json::to_value(document()).map_err(|err| {
        ConvertError::new("/", format!("cannot serialize the OpenAPI document: {err}"))
    })?;
    Ok(vec![
        ("openapi/openapi.json", pretty(&openapi)),
        (
            "connector-definition/apiDefinition.swagger.json",
            pretty(&api_definition(public_url)?),
        ),
        (
            "connector-definition/apiProperties.json",
            pretty(&api_properties()),
        ),
        ("connector-definition/icon.png", ICON_PNG.to_vec()),
        (
            "connector-definition/README.md",
            PACKAGE_README.as_bytes().to_vec(),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_title_case_with_acronyms() {
        let cases = [
            ("dataSourceId", "Data Source ID"),
            ("notificationUrl", "Notification URL"),
            ("threshold", "Threshold"),
            ("previousMemberCount", "Previous Member Count"),
        ];
        for (name, expected) in cases {
            assert_eq!(label(name), expected);
        }
    }
}
