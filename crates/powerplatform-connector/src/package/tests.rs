//! Unit tests of the package builder: a small service described in OpenAPI 3.1 becomes a
//! package that lints clean, with every table applied.

use super::*;
use crate::lint::{self, Finding};

fn openapi() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Orders",
            "description": "Lists orders and runs flows when an order ships, for the shops of a tenant.",
            "contact": { "name": "Support", "email": "support@example.com" },
            "version": "1.0.0"
        },
        "paths": {
            "/shops": {
                "get": {
                    "tags": ["Shops"],
                    "summary": "List shops",
                    "description": "Lists the shops of your tenant.",
                    "operationId": "ListShops",
                    "security": [{ "bearer": [] }],
                    "responses": { "200": { "description": "The shops.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ShopList" } } } } }
                }
            },
            "/shops/{shopId}/orders": {
                "get": {
                    "tags": ["Orders"],
                    "summary": "List orders",
                    "description": "Lists a shop's orders, newest first;\nolder ones follow `nextLink`.",
                    "operationId": "ListOrders",
                    "parameters": [
                        { "name": "shopId", "in": "path", "required": true, "description": "The shop.", "schema": { "type": "string" } },
                        { "name": "$top", "in": "query", "required": false, "description": "Page size.", "schema": { "type": "integer", "format": "int32" } }
                    ],
                    "responses": { "200": { "description": "A page of orders.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/OrderList" } } } } }
                }
            },
            "/shops/{shopId}/triggers/order-shipped": {
                "post": {
                    "tags": ["Triggers"],
                    "summary": "When an order ships",
                    "description": "Runs the flow when an order of the shop ships.",
                    "operationId": "OnOrderShipped",
                    "x-ms-trigger": "single",
                    "parameters": [
                        { "name": "shopId", "in": "path", "required": true, "description": "The shop.", "schema": { "type": "string" } }
                    ],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Subscribe" } } } },
                    "responses": {
                        "201": {
                            "description": "Subscribed.",
                            "headers": { "Location": { "description": "DELETE it to unsubscribe.", "schema": { "type": "string" } } }
                        }
                    }
                },
                "x-ms-notification-content": { "description": "The shipped order.", "schema": { "$ref": "#/components/schemas/Order" } }
            },
            "/subscriptions/{subscriptionId}": {
                "delete": {
                    "tags": ["Triggers"],
                    "summary": "Delete a subscription",
                    "description": "Removes a trigger subscription; Power Automate calls it.",
                    "operationId": "DeleteSubscription",
                    "x-ms-visibility": "internal",
                    "parameters": [
                        { "name": "subscriptionId", "in": "path", "required": true, "description": "The subscription.", "schema": { "type": "string" } }
                    ],
                    "responses": { "204": { "description": "Removed." } }
                }
            },
            "/reports/sales": {
                "post": {
                    "tags": ["Reports"],
                    "operationId": "ReportSales",
                    "responses": { "202": { "description": "Accepted." } }
                }
            }
        },
        "components": {
            "schemas": {
                "Shop": {
                    "type": "object", "required": ["id", "name"],
                    "properties": {
                        "id": { "type": "string", "description": "The shop id." },
                        "name": { "type": "string", "description": "The shop's name." }
                    }
                },
                "ShopList": {
                    "type": "object", "required": ["value"],
                    "properties": { "value": { "type": "array", "items": { "$ref": "#/components/schemas/Shop" }, "description": "The shops." } }
                },
                "Order": {
                    "type": "object", "required": ["orderId"],
                    "properties": {
                        "orderId": { "type": "string", "description": "The order id, as `ord_...`." },
                        "shopId": { "type": "string", "description": "The shop that sold it." }
                    }
                },
                "OrderList": {
                    "type": "object", "required": ["value"],
                    "properties": {
                        "value": { "type": "array", "items": { "$ref": "#/components/schemas/Order" }, "description": "Orders, newest first." },
                        "nextLink": { "type": ["string", "null"], "description": "The next page, when there is one." }
                    }
                },
                "Subscribe": {
                    "type": "object",
                    "description": "Subscribes a flow to shipped orders.",
                    "required": ["notificationUrl"],
                    "properties": {
                        "notificationUrl": {
                            "type": "string", "description": "The callback URL.", "pattern": "^https://.{1,4000}$",
                            "x-ms-notification-url": true, "x-ms-visibility": "internal"
                        },
                        "minTotal": { "type": "number", "description": "Only orders above this total." }
                    }
                }
            }
        }
    })
}

fn spec() -> Spec<'static> {
    Spec {
        public_url: "https://orders.example.com/",
        exclude_tags: &["Reports"],
        labels: Labels {
            important: &["shopId", "id", "name", "orderId", "value"],
            advanced: &["$top", "minTotal", "subscriptionId"],
            internal: &[],
            overrides: &[("minTotal", "Minimum Total")],
        },
        dropdowns: &[Dropdown {
            field: "shopId",
            operation_id: "ListShops",
            parameters: &[],
            collection: "value",
            value_path: "id",
            title_path: "name",
        }],
        pageable: &[Pageable {
            operation_id: "ListOrders",
            next_link: "nextLink",
        }],
        test_connection: Some("ListShops"),
        metadata: Metadata {
            website: "https://example.com",
            privacy_policy: "https://example.com/privacy",
            categories: &["Data", "Sales"],
        },
        publisher: Publisher {
            publisher: "Example",
            stack_owner: "Example",
            brand_color: "#0b6e4f",
        },
        security: Security::ApiKey(ApiKey {
            header: "X-API-Key",
            description: "A key.",
            display_name: "API key",
            ui_description: "Your key.",
            tooltip: "Ask your operator.",
        }),
        capabilities: &[],
        policy_templates: &[],
    }
}

fn listed(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

const ORDERS: &str = "/paths/~1shops~1{shopId}~1orders/get";

#[test]
fn the_package_lints_clean() {
    let package = build(&openapi(), &spec()).unwrap();
    let findings = lint::lint_package(&package.api_definition, &package.api_properties);
    assert!(findings.is_empty(), "{}", listed(&findings));
}

#[test]
fn both_security_kinds_give_a_package_that_lints_clean() {
    let aad = Security::AzureAd(AzureAd {
        client_id: "00000000-0000-0000-0000-000000000000",
        resource_uri: "api://orders",
        login_uri: "https://login.microsoftonline.com",
        tenant_id: "common",
    });
    let spec = Spec {
        security: aad,
        ..spec()
    };
    let package = build(&openapi(), &spec).unwrap();
    let findings = lint::lint_package(&package.api_definition, &package.api_properties);
    assert!(findings.is_empty(), "{}", listed(&findings));
    let oauth = &package.api_definition["securityDefinitions"]["oauth2_auth"];
    assert_eq!(
        oauth["authorizationUrl"],
        "https://login.microsoftonline.com/common/oauth2/authorize"
    );
    let settings =
        &package.api_properties["properties"]["connectionParameters"]["token"]["oAuthSettings"];
    assert_eq!(settings["identityProvider"], "aad");
    assert_eq!(
        settings["customParameters"]["resourceUri"]["value"],
        "api://orders"
    );
}

#[test]
fn pageable_operations_get_their_next_link_hidden_and_a_policy() {
    let package = build(&openapi(), &spec()).unwrap();
    let definition = &package.api_definition;
    assert_eq!(
        definition.pointer(&format!("{ORDERS}/x-ms-pageable")),
        Some(&json!({ "nextLinkName": "nextLink" }))
    );
    assert_eq!(
        definition["definitions"]["OrderList"]["properties"]["nextLink"]["x-ms-visibility"],
        "internal"
    );
    assert_eq!(
        package.api_properties["properties"]["policyTemplateInstances"],
        json!([{
            "templateId": "updatenextlink",
            "title": "Route nextLink through the connector",
            "parameters": {
                "x-ms-apimTemplateParameter.nextLinkPropertyName": "nextLink",
                "x-ms-apimTemplate-operationName": ["ListOrders"]
            }
        }])
    );
}

#[test]
fn an_operation_marked_pageable_in_the_document_is_named_by_the_policy_too() {
    let mut openapi = openapi();
    openapi["paths"]["/shops"]["get"]["x-ms-pageable"] = json!({ "nextLinkName": "nextLink" });
    openapi["components"]["schemas"]["ShopList"]["properties"]["nextLink"] =
        json!({ "type": "string", "description": "The next page.", "x-ms-visibility": "internal" });
    let package = build(&openapi, &spec()).unwrap();
    let names = &package.api_properties["properties"]["policyTemplateInstances"][0]["parameters"]["x-ms-apimTemplate-operationName"];
    assert_eq!(*names, json!(["ListShops", "ListOrders"]));
}

#[test]
fn a_next_link_in_a_schema_written_in_the_response_is_hidden_too() {
    let mut openapi = openapi();
    let list = openapi["components"]["schemas"]["OrderList"].clone();
    openapi["paths"]["/shops/{shopId}/orders"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"] = list;
    let package = build(&openapi, &spec()).unwrap();
    let link = package
        .api_definition
        .pointer(&format!(
            "{ORDERS}/responses/200/schema/properties/nextLink"
        ))
        .unwrap();
    assert_eq!(link["x-ms-visibility"], "internal");
}

#[test]
fn given_policy_templates_come_before_the_derived_one() {
    let extra = [json!({ "templateId": "setheader", "title": "Set a header", "parameters": {} })];
    let spec = Spec {
        policy_templates: &extra,
        ..spec()
    };
    let package = build(&openapi(), &spec).unwrap();
    let policies = &package.api_properties["properties"]["policyTemplateInstances"];
    assert_eq!(policies[0]["templateId"], "setheader");
    assert_eq!(policies[1]["templateId"], "updatenextlink");
}

#[test]
fn labels_visibility_and_dropdowns_follow_the_tables() {
    let package = build(&openapi(), &spec()).unwrap();
    let definition = &package.api_definition;
    let top = definition
        .pointer(&format!("{ORDERS}/parameters/1"))
        .unwrap();
    assert_eq!(top["x-ms-summary"], "Top Count");
    assert_eq!(top["x-ms-visibility"], "advanced");
    let shop = definition
        .pointer(&format!("{ORDERS}/parameters/0"))
        .unwrap();
    assert_eq!(shop["x-ms-summary"], "Shop ID");
    assert_eq!(shop["x-ms-url-encoding"], "single");
    assert_eq!(shop["x-ms-dynamic-values"]["operationId"], "ListShops");
    let min_total = &definition["definitions"]["Subscribe"]["properties"]["minTotal"];
    assert_eq!(min_total["x-ms-summary"], "Minimum Total");
    assert_eq!(min_total["x-ms-visibility"], "advanced");
    let body = definition
        .pointer("/paths/~1shops~1{shopId}~1triggers~1order-shipped/post/parameters/1")
        .unwrap();
    assert_eq!(body["x-ms-visibility"], "important");
    assert_eq!(body["description"], "Subscribes a flow to shipped orders.");
}

#[test]
fn what_the_document_says_wins_over_the_tables() {
    let mut openapi = openapi();
    openapi["paths"]["/shops/{shopId}/orders"]["get"]["parameters"][1]["x-ms-summary"] =
        json!("Page Size");
    let package = build(&openapi, &spec()).unwrap();
    let top = package
        .api_definition
        .pointer(&format!("{ORDERS}/parameters/1"))
        .unwrap();
    assert_eq!(top["x-ms-summary"], "Page Size");
}

#[test]
fn descriptions_become_one_line_of_plain_text_in_the_definition_only() {
    let openapi = openapi();
    let package = build(&openapi, &spec()).unwrap();
    let definition = &package.api_definition;
    assert_eq!(
        definition.pointer(&format!("{ORDERS}/description")),
        Some(&json!(
            "Lists a shop's orders, newest first; older ones follow nextLink."
        ))
    );
    assert_eq!(
        definition["definitions"]["Order"]["properties"]["orderId"]["description"],
        "The order id, as ord_...."
    );
    assert!(
        openapi["paths"]["/shops/{shopId}/orders"]["get"]["description"]
            .as_str()
            .unwrap()
            .contains('\n'),
        "the input keeps its text"
    );
}

#[test]
fn the_notification_url_keeps_no_pattern() {
    let package = build(&openapi(), &spec()).unwrap();
    let url = &package.api_definition["definitions"]["Subscribe"]["properties"]["notificationUrl"];
    assert!(url.get("pattern").is_none(), "{url}");
    assert_eq!(url["x-ms-notification-url"], true);
}

#[test]
fn the_root_carries_the_connection_test_and_the_metadata() {
    let package = build(&openapi(), &spec()).unwrap();
    let definition = &package.api_definition;
    assert_eq!(
        definition["x-ms-capabilities"],
        json!({ "testConnection": { "operationId": "ListShops", "parameters": {} } })
    );
    assert_eq!(
        definition["x-ms-connector-metadata"][2]["propertyValue"],
        "Data;Sales"
    );
    assert!(definition["paths"].get("/reports/sales").is_none());
}

#[test]
fn tables_that_cannot_be_applied_are_errors() {
    type Change = fn(&mut Value, &mut Spec<'static>);
    let cases: [(&str, Change, BuildError); 4] = [
        (
            "a parameter in no visibility table would be shown by chance",
            |_, spec| spec.labels.advanced = &["minTotal", "subscriptionId"],
            BuildError::NoVisibility {
                location: "/shops/{shopId}/orders (ListOrders) parameter 1".into(),
                name: "$top".into(),
            },
        ),
        (
            "a pageable operation that does not exist cannot be paged",
            |_, spec| {
                spec.pageable = &[Pageable {
                    operation_id: "ListRefunds",
                    next_link: "nextLink",
                }]
            },
            BuildError::UnknownPageable {
                operation_id: "ListRefunds".into(),
            },
        ),
        (
            "a pageable operation needs its next link in its answer",
            |openapi, _| {
                openapi["components"]["schemas"]["OrderList"]["properties"]
                    .as_object_mut()
                    .unwrap()
                    .shift_remove("nextLink");
            },
            BuildError::NoNextLink {
                operation_id: "ListOrders".into(),
                next_link: "nextLink".into(),
            },
        ),
        (
            "the public URL must say where the service is",
            |_, spec| spec.public_url = "orders.example.com",
            BuildError::Convert(ConvertError::new(
                "url",
                "`orders.example.com`: has no scheme (expected https://host/path)",
            )),
        ),
    ];
    for (reason, change, expected) in cases {
        let (mut openapi, mut spec) = (openapi(), spec());
        change(&mut openapi, &mut spec);
        assert_eq!(build(&openapi, &spec), Err(expected), "{reason}");
    }
}
