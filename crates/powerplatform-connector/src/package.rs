//! Builds a connector package, `apiDefinition.swagger.json` and `apiProperties.json`, from an
//! OpenAPI 3.1 document and tables the service gives as data: which fields are important,
//! advanced or internal, their dropdowns and labels, the pageable operations, the connection
//! test, the connector's metadata, publisher and security. It knows no service's handlers.

mod finish;
mod labels;
mod text;

use std::fmt;

use serde_json::{Map, Value, json};

use crate::lint::{NEXT_LINK_PROPERTY, OPERATION_NAMES, UPDATE_NEXT_LINK};
use crate::swagger2::{self, ConvertError, Swagger2Options};

pub use text::{label, plain};

/// Power Platform's redirect for OAuth 2.0 connections created in any region.
pub const REDIRECT_URL: &str = "https://global.consent.azure-apim.net/redirect";

/// Everything a package depends on beside the OpenAPI document.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    /// The service's public base URL: the definition's `host`, `basePath` and `schemes`.
    pub public_url: &'a str,
    /// Operations carrying any of these tags stay out (report API, operator routes).
    pub exclude_tags: &'a [&'a str],
    /// Visibility and labels of parameters and fields, by name.
    pub labels: Labels<'a>,
    /// Parameters and request-body fields whose value is picked from a list.
    pub dropdowns: &'a [Dropdown<'a>],
    /// Operations that answer a page and a link to the next one.
    pub pageable: &'a [Pageable<'a>],
    /// The operation Power Platform calls when a connection is created, to check it works.
    pub test_connection: Option<&'a str>,
    /// `x-ms-connector-metadata`.
    pub metadata: Metadata<'a>,
    /// Who publishes the connector, and its colour.
    pub publisher: Publisher<'a>,
    /// How a connection signs in: one way per package.
    pub security: Security<'a>,
    /// `apiProperties.json` `capabilities` (for example `actions`, `triggers`).
    pub capabilities: &'a [&'a str],
    /// Policy template instances beside the `updatenextlink` one derived from [`Spec::pageable`].
    pub policy_templates: &'a [Value],
}

/// How prominently the designer shows a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Shown first.
    Important,
    /// Under "Show advanced options".
    Advanced,
    /// Never shown: filled by a default or by Power Automate itself.
    Internal,
}

impl Visibility {
    /// The `x-ms-visibility` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Important => "important",
            Self::Advanced => "advanced",
            Self::Internal => "internal",
        }
    }
}

/// Visibility and labels by field name, for parameters and schema properties alike.
#[derive(Debug, Clone, Copy)]
pub struct Labels<'a> {
    /// Fields flow makers look for first.
    pub important: &'a [&'a str],
    /// Fields few flows need.
    pub advanced: &'a [&'a str],
    /// Fields nobody fills in by hand.
    pub internal: &'a [&'a str],
    /// Labels that the name's words do not give, by name ([`label`] knows the OData options).
    pub overrides: &'a [(&'a str, &'a str)],
}

impl Labels<'_> {
    /// The visibility the tables give a field, if any.
    pub fn visibility(&self, name: &str) -> Option<Visibility> {
        [
            (self.important, Visibility::Important),
            (self.advanced, Visibility::Advanced),
            (self.internal, Visibility::Internal),
        ]
        .into_iter()
        .find(|(names, _)| names.contains(&name))
        .map(|(_, visibility)| visibility)
    }
}

/// A dropdown: the GET operation that lists the choices for a field, and where they are in its
/// answer.
#[derive(Debug, Clone, Copy)]
pub struct Dropdown<'a> {
    /// The parameter or request-body field that gets the dropdown.
    pub field: &'a str,
    /// The GET operation listing the choices.
    pub operation_id: &'a str,
    /// Parameters of the caller the list operation takes, under the same name.
    pub parameters: &'a [&'a str],
    /// The array of choices in the answer.
    pub collection: &'a str,
    /// A choice's value.
    pub value_path: &'a str,
    /// A choice's title.
    pub title_path: &'a str,
}

/// An operation that answers one page and, when more follow, a link to the next.
#[derive(Debug, Clone, Copy)]
pub struct Pageable<'a> {
    /// The operation.
    pub operation_id: &'a str,
    /// The property of its answer holding the next page's URL: `nextLink` or `@odata.nextLink`.
    pub next_link: &'a str,
}

/// `x-ms-connector-metadata`.
#[derive(Debug, Clone, Copy)]
pub struct Metadata<'a> {
    /// The service's web site.
    pub website: &'a str,
    /// Its privacy policy.
    pub privacy_policy: &'a str,
    /// At most two categories, such as `Data`.
    pub categories: &'a [&'a str],
}

impl Metadata<'_> {
    /// The `x-ms-connector-metadata` value.
    pub fn to_value(&self) -> Value {
        json!([
            { "propertyName": "Website", "propertyValue": self.website },
            { "propertyName": "Privacy policy", "propertyValue": self.privacy_policy },
            { "propertyName": "Categories", "propertyValue": self.categories.join(";") },
        ])
    }
}

/// The `apiProperties.json` publisher fields.
#[derive(Debug, Clone, Copy)]
pub struct Publisher<'a> {
    /// Who publishes the connector.
    pub publisher: &'a str,
    /// Who runs the service behind it.
    pub stack_owner: &'a str,
    /// The colour behind the icon (certification refuses `#007ee5` and `#ffffff`).
    pub brand_color: &'a str,
}

/// How a connection signs in.
#[derive(Debug, Clone, Copy)]
pub enum Security<'a> {
    /// OAuth 2.0 with the Azure Active Directory (`aad`) identity provider.
    AzureAd(AzureAd<'a>),
    /// A key the maker pastes, sent in a header.
    ApiKey(ApiKey<'a>),
}

/// The Azure AD app registration a connection signs in with.
#[derive(Debug, Clone, Copy)]
pub struct AzureAd<'a> {
    /// The application (client) id.
    pub client_id: &'a str,
    /// The resource (application ID URI) tokens are requested for.
    pub resource_uri: &'a str,
    /// `https://login.microsoftonline.com`.
    pub login_uri: &'a str,
    /// `common` for a multitenant app, else the tenant's id.
    pub tenant_id: &'a str,
}

/// An API key connection parameter.
#[derive(Debug, Clone, Copy)]
pub struct ApiKey<'a> {
    /// The header that carries the key.
    pub header: &'a str,
    /// What the key is, for the definition's `securityDefinitions`.
    pub description: &'a str,
    /// The connection dialog's label.
    pub display_name: &'a str,
    /// The connection dialog's description of the field.
    pub ui_description: &'a str,
    /// The connection dialog's tooltip.
    pub tooltip: &'a str,
}

/// A connector package.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    /// `apiDefinition.swagger.json`.
    pub api_definition: Value,
    /// `apiProperties.json`.
    pub api_properties: Value,
}

/// Why no package could be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// The OpenAPI document has something Swagger 2.0 cannot say.
    Convert(ConvertError),
    /// A parameter has no visibility: the tables name it nowhere.
    NoVisibility { location: String, name: String },
    /// A pageable operation the tables name is not in the definition.
    UnknownPageable { operation_id: String },
    /// A pageable operation's 2xx answer has no next-link property.
    NoNextLink {
        operation_id: String,
        next_link: String,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Convert(err) => write!(f, "cannot convert to Swagger 2.0: {err}"),
            Self::NoVisibility { location, name } => write!(
                f,
                "{location}: parameter `{name}` is neither important, advanced nor internal in the label tables"
            ),
            Self::UnknownPageable { operation_id } => write!(
                f,
                "pageable operation `{operation_id}` is not in the connector definition"
            ),
            Self::NoNextLink {
                operation_id,
                next_link,
            } => write!(
                f,
                "pageable operation `{operation_id}` answers no `{next_link}` property in its 2xx schema"
            ),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Convert(err) => Some(err),
            _ => None,
        }
    }
}

impl From<ConvertError> for BuildError {
    fn from(err: ConvertError) -> Self {
        Self::Convert(err)
    }
}

/// Builds the package from the serialized OpenAPI 3.1 document.
///
/// Labels, visibility and dropdowns are added where the document has none of its own; then the
/// document is converted to Swagger 2.0, paging and the connection test are declared, and
/// every description is made one line of plain text (the OpenAPI document keeps its richer
/// text).
pub fn build(openapi: &Value, spec: &Spec<'_>) -> Result<Package, BuildError> {
    let mut openapi = openapi.clone();
    labels::enrich(&mut openapi, &spec.labels, spec.dropdowns);
    let (host, base_path, schemes) = swagger2::split_public_url(spec.public_url)?;
    let (security_definitions, security) = security_definitions(&spec.security);
    let mut definition = swagger2::to_swagger2(
        &openapi,
        &Swagger2Options {
            host,
            base_path,
            schemes,
            exclude_tags: spec.exclude_tags,
            security_definitions,
            security,
        },
    )?;
    finish::finish(&mut definition, spec)?;
    let api_properties = api_properties(spec, &definition);
    Ok(Package {
        api_definition: definition,
        api_properties,
    })
}

/// `securityDefinitions` and `security` of the definition.
fn security_definitions(security: &Security<'_>) -> (Value, Value) {
    match security {
        Security::AzureAd(aad) => {
            let url = format!("{}/{}/oauth2/authorize", aad.login_uri, aad.tenant_id);
            (
                json!({
                    "oauth2_auth": {
                        "type": "oauth2",
                        "flow": "accessCode",
                        "authorizationUrl": url,
                        "tokenUrl": url,
                        "scopes": {},
                    }
                }),
                json!([{ "oauth2_auth": [] }]),
            )
        }
        Security::ApiKey(key) => (
            json!({
                "api_key": {
                    "type": "apiKey",
                    "in": "header",
                    "name": key.header,
                    "description": key.description,
                }
            }),
            json!([{ "api_key": [] }]),
        ),
    }
}

/// The connection parameter matching the definition's security.
fn connection_parameters(security: &Security<'_>) -> Value {
    match security {
        Security::AzureAd(aad) => json!({
            "token": {
                "type": "oauthSetting",
                "oAuthSettings": {
                    "identityProvider": "aad",
                    "clientId": aad.client_id,
                    "scopes": [],
                    "redirectMode": "Global",
                    "redirectUrl": REDIRECT_URL,
                    "properties": { "IsFirstParty": "False" },
                    "customParameters": {
                        "loginUri": { "value": aad.login_uri },
                        "tenantId": { "value": aad.tenant_id },
                        "resourceUri": { "value": aad.resource_uri }
                    }
                }
            }
        }),
        Security::ApiKey(key) => json!({
            "api_key": {
                "type": "securestring",
                "uiDefinition": {
                    "displayName": key.display_name,
                    "description": key.ui_description,
                    "tooltip": key.tooltip,
                    "constraints": { "tabIndex": 2, "clearText": false, "required": "true" }
                }
            }
        }),
    }
}

/// `updatenextlink` policies for the operations the definition marks pageable, one per
/// next-link name, naming the operations in the definition's order: an operation made
/// pageable gets its policy without anyone listing it twice.
fn paging_policies(definition: &Value) -> Vec<Value> {
    let mut by_name: Vec<(String, Vec<Value>)> = Vec::new();
    for item in definition["paths"]
        .as_object()
        .into_iter()
        .flat_map(Map::values)
    {
        for operation in item.as_object().into_iter().flat_map(Map::values) {
            let (Some(name), Some(id)) = (
                operation["x-ms-pageable"]["nextLinkName"].as_str(),
                operation["operationId"].as_str(),
            ) else {
                continue;
            };
            match by_name.iter_mut().find(|(n, _)| n == name) {
                Some((_, ids)) => ids.push(json!(id)),
                None => by_name.push((name.to_owned(), vec![json!(id)])),
            }
        }
    }
    by_name
        .into_iter()
        .map(|(name, ids)| {
            json!({
                "templateId": UPDATE_NEXT_LINK,
                "title": format!("Route {name} through the connector"),
                "parameters": {
                    NEXT_LINK_PROPERTY: name,
                    OPERATION_NAMES: ids,
                }
            })
        })
        .collect()
}

/// `apiProperties.json`: connection parameter, brand colour, publisher, policies.
fn api_properties(spec: &Spec<'_>, definition: &Value) -> Value {
    let mut policies = spec.policy_templates.to_vec();
    policies.extend(paging_policies(definition));
    json!({
        "properties": {
            "connectionParameters": connection_parameters(&spec.security),
            "iconBrandColor": spec.publisher.brand_color,
            "capabilities": spec.capabilities,
            "publisher": spec.publisher.publisher,
            "stackOwner": spec.publisher.stack_owner,
            "policyTemplateInstances": policies
        }
    })
}

#[cfg(test)]
mod tests;
