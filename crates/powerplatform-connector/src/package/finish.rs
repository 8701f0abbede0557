//! What the converted Swagger 2.0 definition gets before it is published: paging, the
//! connection test, the connector metadata, no pattern on the notification URL, an explicit
//! visibility on every parameter, and descriptions as one line of plain text.

use serde_json::{Map, Value, json};

use super::{BuildError, Spec, plain};

/// Keys whose values are data (samples, defaults, choices), not text shown to flow makers.
const DATA_KEYS: [&str; 5] = ["example", "examples", "x-example", "default", "enum"];

/// Keys holding text the designer shows as it is.
const TEXT_KEYS: [&str; 2] = ["description", "x-ms-trigger-hint"];

pub(super) fn finish(definition: &mut Value, spec: &Spec<'_>) -> Result<(), BuildError> {
    for pageable in spec.pageable {
        paginate(definition, pageable.operation_id, pageable.next_link)?;
    }
    check_visibility(definition)?;
    if let Some(definitions) = definition
        .get_mut("definitions")
        .and_then(Value::as_object_mut)
    {
        for schema in definitions.values_mut() {
            drop_notification_url_patterns(schema);
        }
    }
    if let Some(root) = definition.as_object_mut() {
        root.insert(
            "x-ms-connector-metadata".to_owned(),
            spec.metadata.to_value(),
        );
        if let Some(operation_id) = spec.test_connection {
            root.insert(
                "x-ms-capabilities".to_owned(),
                json!({ "testConnection": { "operationId": operation_id, "parameters": {} } }),
            );
        }
        flatten_text(root);
    }
    Ok(())
}

/// Every operation of the definition, with its path and method.
fn operations_mut(definition: &mut Value) -> impl Iterator<Item = (&String, &String, &mut Value)> {
    definition
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.iter_mut())
        .flat_map(|(path, item)| {
            item.as_object_mut()
                .into_iter()
                .flat_map(|item| item.iter_mut())
                .filter(|(method, op)| !method.starts_with("x-") && op.get("responses").is_some())
                .map(move |(method, op)| (path, method, op))
        })
}

fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Marks an operation pageable and its next-link property internal: the gateway rewrites the
/// link, flow makers never see it.
fn paginate(definition: &mut Value, operation_id: &str, next_link: &str) -> Result<(), BuildError> {
    let no_link = || BuildError::NoNextLink {
        operation_id: operation_id.to_owned(),
        next_link: next_link.to_owned(),
    };
    let (path, method, operation) = operations_mut(definition)
        .find(|(_, _, op)| op["operationId"] == operation_id)
        .ok_or_else(|| BuildError::UnknownPageable {
            operation_id: operation_id.to_owned(),
        })?;
    operation["x-ms-pageable"] = json!({ "nextLinkName": next_link });
    let (code, schema) = operation["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .find(|(code, response)| code.starts_with('2') && response.get("schema").is_some())
        .map(|(code, response)| (code, &response["schema"]))
        .ok_or_else(no_link)?;
    // The answer's schema: a definition, or written in the response itself.
    let answer = match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/definitions/")
                .ok_or_else(no_link)?;
            format!("/definitions/{name}")
        }
        None => format!("/paths/{}/{method}/responses/{code}/schema", token(path)),
    };
    let property = definition
        .pointer_mut(&format!("{answer}/properties"))
        .and_then(|properties| properties.get_mut(next_link))
        .and_then(Value::as_object_mut)
        .ok_or_else(no_link)?;
    property.insert("x-ms-visibility".to_owned(), json!("internal"));
    Ok(())
}

/// Every parameter says how the designer shows it: a table that forgot one is an error, not a
/// parameter shown by chance.
fn check_visibility(definition: &mut Value) -> Result<(), BuildError> {
    for (path, _, operation) in operations_mut(definition) {
        let parameters = operation["parameters"].as_array().into_iter().flatten();
        for (i, parameter) in parameters.enumerate() {
            if parameter.get("x-ms-visibility").is_none() {
                let method_id = operation["operationId"].as_str().unwrap_or_default();
                return Err(BuildError::NoVisibility {
                    location: format!("{path} ({method_id}) parameter {i}"),
                    name: parameter["name"].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// Power Automate fills the notification URL itself and the designer cannot use a pattern
/// there; the service still checks the URL it receives.
fn drop_notification_url_patterns(schema: &mut Value) {
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for property in properties.values_mut() {
        if let Some(property) = property.as_object_mut()
            && property.get("x-ms-notification-url") == Some(&Value::Bool(true))
        {
            property.shift_remove("pattern");
        }
    }
}

/// Makes every description and hint one line of plain text.
fn flatten_text(object: &mut Map<String, Value>) {
    for (key, value) in object.iter_mut() {
        if DATA_KEYS.contains(&key.as_str()) {
            continue;
        }
        match value {
            Value::String(text) if TEXT_KEYS.contains(&key.as_str()) => *text = plain(text),
            Value::Object(inner) => flatten_text(inner),
            Value::Array(items) => {
                for inner in items.iter_mut().filter_map(Value::as_object_mut) {
                    flatten_text(inner);
                }
            }
            _ => {}
        }
    }
}
