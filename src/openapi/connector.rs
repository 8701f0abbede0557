//! This service's Power Automate connector package: the tables (labels, visibility, dropdowns,
//! paging, connection test, metadata, publisher, security) that `powerplatform-connector`
//! applies to the OpenAPI document, the icon and the package README. Nothing here is kept by
//! hand beside the code: labels follow from names, descriptions from doc comments.

use powerplatform_connector::package::{
    self, ApiKey, AzureAd, BuildError, Dropdown, Labels, Metadata, Package, Pageable, Publisher,
    Security, Spec,
};
use serde_json::Value;

use super::NOT_IN_CONNECTOR;

/// The connector's icon: 230x230, a coloured background, as certification asks.
pub const ICON_PNG: &[u8] = include_bytes!("icon.png");
/// The package README, on importing the connector.
pub const PACKAGE_README: &str = include_str!("connector-readme.md");
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
    "deliveryId",
    "entityName",
    "itemId",
    "refreshId",
    "rowCount",
    "errorCode",
];
/// Fields few flows need: tucked under "advanced".
const ADVANCED: &[&str] = &[
    "subscriptionId",
    "eventId",
    "eventType",
    "occurredAt",
    "runId",
    "createdAt",
    "updatedAt",
    "lastRefreshId",
    "baseline",
    "trigger",
    "notificationUrl",
    "$top",
    "$skip",
    "$filter",
    "$select",
    "$orderby",
    "after",
];
/// Fields nobody fills in: the unsubscribe secret travels in the `Location` URL Power Automate
/// calls as it is.
const INTERNAL: &[&str] = &["secret"];

/// Dropdowns: the operation that lists the choices for a parameter or body field of this name.
/// Catalog lists take the instance, which every operation naming a catalog item has.
const DROPDOWNS: &[Dropdown<'static>] = &[
    dropdown("instanceId", "ListInstances", &[]),
    dropdown("dataSourceId", "ListDataSources", &["instanceId"]),
    dropdown("segmentId", "ListSegments", &["instanceId"]),
    dropdown("measureId", "ListMeasures", &["instanceId"]),
    // Entities are named, not numbered: the name is the value and the title.
    Dropdown {
        field: "entityName",
        operation_id: "GetEntities",
        parameters: &["instanceId"],
        collection: "value",
        value_path: "name",
        title_path: "name",
    },
];

const fn dropdown(
    field: &'static str,
    operation_id: &'static str,
    parameters: &'static [&'static str],
) -> Dropdown<'static> {
    Dropdown {
        field,
        operation_id,
        parameters,
        collection: "value",
        value_path: "id",
        title_path: "name",
    }
}

/// Lists that answer a page and a `nextLink` to the next one.
const PAGEABLE: &[Pageable<'static>] = &[
    Pageable {
        operation_id: "ListDeliveries",
        next_link: "nextLink",
    },
    Pageable {
        operation_id: "GetItems",
        next_link: "nextLink",
    },
    Pageable {
        operation_id: "GetSegmentMembers",
        next_link: "nextLink",
    },
];

/// A cheap call every valid credential may make: a wrong key fails when the connection is
/// created, not in a flow's first run.
const TEST_CONNECTION: &str = "ListInstances";

/// `x-ms-connector-metadata`; the OpenAPI document carries the same.
pub const METADATA: Metadata<'static> = Metadata {
    website: "https://github.com/insights-connector/insights-connector",
    privacy_policy: "https://github.com/insights-connector/insights-connector/blob/main/PRIVACY.md",
    categories: &["Data", "Marketing"],
};

const PUBLISHER: Publisher<'static> = Publisher {
    publisher: "insights-connector",
    stack_owner: "insights-connector",
    brand_color: "#0b6e4f",
};

/// Stand-ins for the committed package; a deployment serves its own values.
const PLACEHOLDER_CLIENT_ID: &str = "00000000-0000-0000-0000-000000000000";
const PLACEHOLDER_RESOURCE_URI: &str = "api://insights-connector";

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

impl ConnectorSettings {
    /// The settings of the committed package.
    pub fn placeholder() -> Self {
        Self {
            public_url: PLACEHOLDER_URL.to_owned(),
            aad_client_id: None,
            aad_resource_uri: None,
        }
    }

    fn security(&self, auth: ConnectorAuth) -> Security<'_> {
        match auth {
            ConnectorAuth::AzureAd => Security::AzureAd(AzureAd {
                client_id: self
                    .aad_client_id
                    .as_deref()
                    .unwrap_or(PLACEHOLDER_CLIENT_ID),
                resource_uri: self
                    .aad_resource_uri
                    .as_deref()
                    .unwrap_or(PLACEHOLDER_RESOURCE_URI),
                login_uri: "https://login.microsoftonline.com",
                tenant_id: "common",
            }),
            ConnectorAuth::ApiKey => Security::ApiKey(ApiKey {
                header: "X-API-Key",
                description: "An API key from insights-connector api-key create.",
                display_name: "API key",
                ui_description: "An API key for your tenant, from the operator of the service.",
                tooltip: "Keys are made with insights-connector api-key create.",
            }),
        }
    }
}

/// Why the package could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("cannot serialize the OpenAPI document")]
    Serialize(#[from] serde_json::Error),
    #[error("cannot build the connector package")]
    Build(#[from] BuildError),
}

/// The connector package of a deployment, signing in one way.
pub fn package(
    document: &utoipa::openapi::OpenApi,
    settings: &ConnectorSettings,
    auth: ConnectorAuth,
) -> Result<Package, ConnectorError> {
    let openapi = serde_json::to_value(document)?;
    let spec = Spec {
        public_url: &settings.public_url,
        exclude_tags: NOT_IN_CONNECTOR,
        labels: Labels {
            important: IMPORTANT,
            advanced: ADVANCED,
            internal: INTERNAL,
            overrides: &[],
        },
        dropdowns: DROPDOWNS,
        pageable: PAGEABLE,
        test_connection: Some(TEST_CONNECTION),
        metadata: METADATA,
        publisher: PUBLISHER,
        security: settings.security(auth),
        capabilities: &[],
        policy_templates: &[],
    };
    Ok(package::build(&openapi, &spec)?)
}

/// The Swagger 2.0 connector definition of a deployment.
pub fn api_definition(
    document: &utoipa::openapi::OpenApi,
    settings: &ConnectorSettings,
    auth: ConnectorAuth,
) -> Result<Value, ConnectorError> {
    Ok(package(document, settings, auth)?.api_definition)
}

/// `apiProperties.json`: publisher, brand colour, the connection parameter matching the
/// definition's security, and the paging policy.
pub fn api_properties(
    document: &utoipa::openapi::OpenApi,
    settings: &ConnectorSettings,
    auth: ConnectorAuth,
) -> Result<Value, ConnectorError> {
    Ok(package(document, settings, auth)?.api_properties)
}

/// Puts the `x-` keys of every object last and in name order: utoipa keeps extensions in a
/// hash map, and without this each export would reorder them in the committed file.
fn stable_extensions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let mut extensions: Vec<(String, Value)> = Vec::new();
            let keys: Vec<String> = map
                .keys()
                .filter(|k| k.starts_with("x-"))
                .cloned()
                .collect();
            for key in keys {
                if let Some(value) = map.remove(&key) {
                    extensions.push((key, value));
                }
            }
            extensions.sort_by(|a, b| a.0.cmp(&b.0));
            map.extend(extensions);
            map.values_mut().for_each(stable_extensions);
        }
        Value::Array(items) => items.iter_mut().for_each(stable_extensions),
        _ => {}
    }
}

fn pretty(value: &Value) -> Result<Vec<u8>, ConnectorError> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Every file of `openapi/` and the connector packages, by path relative to the project root,
/// as `insights-connector export` writes them.
pub fn package_files(
    document: &utoipa::openapi::OpenApi,
    settings: &ConnectorSettings,
) -> Result<Vec<(String, Vec<u8>)>, ConnectorError> {
    let mut openapi = serde_json::to_value(document)?;
    stable_extensions(&mut openapi);
    let mut files = vec![
        ("openapi/openapi.json".to_owned(), pretty(&openapi)?),
        (
            "connector-definition/README.md".to_owned(),
            PACKAGE_README.as_bytes().to_vec(),
        ),
    ];
    for auth in ConnectorAuth::ALL {
        let folder = auth.folder();
        let package = package(document, settings, auth)?;
        files.push((
            format!("{folder}/apiDefinition.swagger.json"),
            pretty(&package.api_definition)?,
        ));
        files.push((
            format!("{folder}/apiProperties.json"),
            pretty(&package.api_properties)?,
        ));
        files.push((format!("{folder}/icon.png"), ICON_PNG.to_vec()));
    }
    Ok(files)
}
