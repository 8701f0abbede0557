//! The Power Automate connector package: `apiDefinition.swagger.json` (Swagger 2.0, converted
//! from the OpenAPI document and given the `x-ms-*` labels and dropdowns flow makers see),
//! `apiProperties.json`, the icon and the package's README. Nothing here is maintained by hand
//! beside the code: labels follow from names, descriptions from doc comments.

use powerplatform_connector::swagger2::{self, ConvertError, Swagger2Options};
use serde_json::{Map, Value, json};

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
                // A connection has one way to sign in, declared once at the root.
                if let Some(operation) = operation.as_object_mut() {
                    operation.remove("security");
                }
            }
        }
    }
}

/// How a connection authenticates. Power Automate's package format offers one way per package
/// (`connectionParameterSets` is outside Microsoft's published apiProperties schema), so the
/// service publishes one package for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectorAuth {
    /// OAuth 2.0 with the `aad` identity provider: how production connections sign in.
    AzureAd,
    /// An `X-API-Key` header with a key from `insights-connector api-key create`.
    ApiKey,
}

impl ConnectorAuth {
    pub const ALL: [ConnectorAuth; 2] = [Self::AzureAd, Self::ApiKey];

    /// Where the package of this kind sits in the repository.
    fn folder(self) -> &'static str {
        match self {
            Self::AzureAd => "connector-definition",
            Self::ApiKey => "connector-definition/api-key",
        }
    }
}

/// What a deployment's connector package depends on.
#[derive(Debug, Clone)]
pub struct ConnectorSettings {
    /// The absolute URL clients reach the service at.
    pub public_url: String,
    /// The Azure AD application (client) id the connector signs in with.
    pub aad_client_id: Option<String>,
    /// The resource (application ID URI) tokens are requested for: the service's audience.
    pub aad_resource_uri: Option<String>,
}

/// Stand-ins for the committed package; a deployment serves its own values.
const PLACEHOLDER_CLIENT_ID: &str = "00000000-0000-0000-0000-000000000000";
const PLACEHOLDER_RESOURCE_URI: &str = "api://insights-connector";
const LOGIN_URL: &str = "https://login.microsoftonline.com/common/oauth2/authorize";
const REDIRECT_URL: &str = "https://global.consent.azure-apim.net/redirect";

impl ConnectorSettings {
    /// The settings of the committed package.
    pub fn placeholder() -> Self {
        Self {
            public_url: PLACEHOLDER_URL.to_owned(),
            aad_client_id: None,
            aad_resource_uri: None,
        }
    }

    fn client_id(&self) -> &str {
        self.aad_client_id
            .as_deref()
            .unwrap_or(PLACEHOLDER_CLIENT_ID)
    }

    fn resource_uri(&self) -> &str {
        self.aad_resource_uri
            .as_deref()
            .unwrap_or(PLACEHOLDER_RESOURCE_URI)
    }
}

/// `securityDefinitions` and `security` of the definition.
fn security(auth: ConnectorAuth) -> (Value, Value) {
    match auth {
        ConnectorAuth::AzureAd => (
            json!({
                "oauth2_auth": {
                    "type": "oauth2",
                    "flow": "accessCode",
                    "authorizationUrl": LOGIN_URL,
                    "tokenUrl": LOGIN_URL,
                    "scopes": {},
                }
            }),
            json!([{ "oauth2_auth": [] }]),
        ),
        ConnectorAuth::ApiKey => (
            json!({
                "api_key": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": "An API key from insights-connector api-key create.",
                }
            }),
            json!([{ "api_key": [] }]),
        ),
    }
}

/// The Swagger 2.0 connector definition of a deployment.
pub fn api_definition(
    settings: &ConnectorSettings,
    auth: ConnectorAuth,
) -> Result<Value, ConvertError> {
    let mut openapi = serde_json::to_value(document()).map_err(|err| {
        ConvertError::new("/", format!("cannot serialize the OpenAPI document: {err}"))
    })?;
    enrich(&mut openapi);
    let (host, base_path, schemes) = swagger2::split_public_url(&settings.public_url)?;
    let (security_definitions, security) = security(auth);
    swagger2::to_swagger2(
        &openapi,
        &Swagger2Options {
            host,
            base_path,
            schemes,
            exclude_tags: NOT_IN_CONNECTOR,
            security_definitions,
            security,
        },
    )
}

/// `apiProperties.json`: publisher, brand colour, and the connection parameter matching the
/// definition's security.
pub fn api_properties(settings: &ConnectorSettings, auth: ConnectorAuth) -> Value {
    let parameters = match auth {
        ConnectorAuth::AzureAd => json!({
            "token": {
                "type": "oauthSetting",
                "oAuthSettings": {
                    "identityProvider": "aad",
                    "clientId": settings.client_id(),
                    "scopes": [],
                    "redirectMode": "Global",
                    "redirectUrl": REDIRECT_URL,
                    "properties": { "IsFirstParty": "False" },
                    "customParameters": {
                        "loginUri": { "value": "https://login.microsoftonline.com" },
                        "tenantId": { "value": "common" },
                        "resourceUri": { "value": settings.resource_uri() }
                    }
                }
            }
        }),
        ConnectorAuth::ApiKey => json!({
            "api_key": {
                "type": "securestring",
                "uiDefinition": {
                    "displayName": "API key",
                    "description": "An API key for your tenant, from the operator of the service.",
                    "tooltip": "Keys are made with insights-connector api-key create.",
                    "constraints": { "tabIndex": 2, "clearText": false, "required": "true" }
                }
            }
        }),
    };
    json!({
        "properties": {
            "connectionParameters": parameters,
            "iconBrandColor": BRAND_COLOR,
            "capabilities": [],
            "publisher": "insights-connector",
            "stackOwner": "insights-connector",
            "policyTemplateInstances": []
        }
    })
}

/// Every file of `openapi/` and the connector packages, by path relative to the project root,
/// as `insights-connector export` writes them.
pub fn package_files(settings: &ConnectorSettings) -> Result<Vec<(String, Vec<u8>)>, ConvertError> {
    let pretty = |value: &Value| {
        let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    };
    let openapi = serde_json::to_value(document()).map_err(|err| {
        ConvertError::new("/", format!("cannot serialize the OpenAPI document: {err}"))
    })?;
    let mut files = vec![
        ("openapi/openapi.json".to_owned(), pretty(&openapi)),
        (
            "connector-definition/README.md".to_owned(),
            PACKAGE_README.as_bytes().to_vec(),
        ),
    ];
    for auth in ConnectorAuth::ALL {
        let folder = auth.folder();
        files.push((
            format!("{folder}/apiDefinition.swagger.json"),
            pretty(&api_definition(settings, auth)?),
        ));
        files.push((
            format!("{folder}/apiProperties.json"),
            pretty(&api_properties(settings, auth)),
        ));
        files.push((format!("{folder}/icon.png"), ICON_PNG.to_vec()));
    }
    Ok(files)
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
