//! Unit tests of the parent module.
use super::*;
use serde_json::json;

/// A small connector that satisfies every rule: webhook trigger + internal DELETE, lookups
/// wired through x-ms-dynamic-values / x-ms-dynamic-list, documented responses.
fn clean() -> Value {
    json!({
        "swagger": "2.0",
        "info": {
            "title": "Customer Insights",
            "description": "Reads profiles and segments and starts flows when segment membership changes.",
            "version": "1.0.0",
            "contact": { "name": "Support", "email": "support@example.com" }
        },
        "host": "connector.example.com",
        "basePath": "/",
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": {
            "/hooks": {
                "post": {
                    "summary": "When a profile joins a segment",
                    "description": "Starts the flow each time a profile joins the chosen segment.",
                    "operationId": "OnSegmentJoin",
                    "x-ms-trigger": "single",
                    "parameters": [{
                        "name": "body", "in": "body", "required": true,
                        "description": "Subscription request", "x-ms-summary": "Subscription", "x-ms-visibility": "important",
                        "schema": { "$ref": "#/definitions/Subscribe" }
                    }],
                    "responses": {
                        "201": {
                            "description": "Created",
                            "headers": { "Location": { "type": "string", "description": "Unsubscribe URL" } }
                        }
                    }
                },
                "x-ms-notification-content": {
                    "description": "Membership event",
                    "schema": { "$ref": "#/definitions/Event" }
                }
            },
            "/hooks/{id}": {
                "delete": {
                    "summary": "Delete a subscription",
                    "description": "Removes the subscription that the trigger created.",
                    "operationId": "DeleteSubscription",
                    "x-ms-visibility": "internal",
                    "parameters": [{
                        "name": "id", "in": "path", "required": true, "type": "string",
                        "description": "Subscription identifier", "x-ms-summary": "Subscription Id",
                        "x-ms-url-encoding": "single", "x-ms-visibility": "advanced"
                    }],
                    "responses": { "204": { "description": "Deleted" } }
                }
            },
            "/segments": {
                "get": {
                    "summary": "List segments",
                    "description": "Lists the segments the caller can read.",
                    "operationId": "ListSegments",
                    "responses": {
                        "200": { "description": "Segments", "schema": { "$ref": "#/definitions/SegmentList" } },
                        "default": { "description": "Error" }
                    }
                }
            },
            "/segments/{segmentId}/profiles": {
                "get": {
                    "summary": "List profiles (of a segment)",
                    "description": "Lists the profiles that belong to a segment.",
                    "operationId": "ListProfiles",
                    "x-ms-pageable": { "nextLinkName": "nextLink" },
                    "parameters": [{
                        "name": "segmentId", "in": "path", "required": true, "type": "string",
                        "description": "Segment to read", "x-ms-summary": "Segment",
                        "x-ms-url-encoding": "single", "x-ms-visibility": "important",
                        "x-ms-dynamic-values": { "operationId": "ListSegments", "value-collection": "value", "value-path": "id", "value-title": "name" }
                    }],
                    "responses": { "200": { "description": "Profiles", "schema": { "$ref": "#/definitions/ProfileList" } } }
                }
            },
            "/segments/{segmentId}/schema": {
                "get": {
                    "summary": "Get the profile schema (of a segment)",
                    "description": "Describes the attributes the profiles of a segment have.",
                    "operationId": "GetProfileSchema",
                    "x-ms-visibility": "internal",
                    "parameters": [{
                        "name": "segmentId", "in": "path", "required": true, "type": "string",
                        "description": "Segment to describe", "x-ms-summary": "Segment",
                        "x-ms-url-encoding": "single", "x-ms-visibility": "important"
                    }],
                    "responses": { "200": { "description": "The schema", "schema": { "$ref": "#/definitions/ProfileSchema" } } }
                }
            },
            "/segments/{segmentId}/profiles/{profileId}": {
                "get": {
                    "summary": "Get a profile",
                    "description": "Reads one profile of a segment.",
                    "operationId": "GetProfile",
                    "parameters": [
                        {
                            "name": "segmentId", "in": "path", "required": true, "type": "string",
                            "description": "Segment to read", "x-ms-summary": "Segment",
                            "x-ms-url-encoding": "single", "x-ms-visibility": "important",
                            "x-ms-dynamic-values": { "operationId": "ListSegments", "value-collection": "value", "value-path": "id", "value-title": "name" }
                        },
                        {
                            "name": "profileId", "in": "path", "required": true, "type": "string", "format": "uuid",
                            "description": "Profile to read", "x-ms-summary": "Profile",
                            "x-ms-url-encoding": "single", "x-ms-visibility": "important",
                            "x-ms-dynamic-values": {
                                "operationId": "ListProfiles", "value-collection": "value", "value-path": "id", "value-title": "email",
                                "parameters": { "segmentId": { "parameter": "segmentId" } }
                            }
                        }
                    ],
                    "responses": { "200": { "description": "Profile", "schema": { "$ref": "#/definitions/Profile" } } }
                }
            }
        },
        "definitions": {
            "Subscribe": {
                "type": "object",
                "required": ["callbackUrl", "segmentId", "source"],
                "properties": {
                    "callbackUrl": { "type": "string", "x-ms-notification-url": true, "x-ms-visibility": "internal", "description": "Callback", "x-ms-summary": "Callback URL" },
                    "segmentId": {
                        "type": "string", "description": "Segment to watch", "x-ms-summary": "Segment",
                        "x-ms-dynamic-values": { "operationId": "ListSegments", "value-collection": "value", "value-path": "id", "value-title": "name" }
                    },
                    "profileId": {
                        "type": "string", "description": "Only this profile", "x-ms-summary": "Profile",
                        "x-ms-dynamic-list": {
                            "operationId": "ListProfiles", "itemsPath": "value", "itemValuePath": "id", "itemTitlePath": "email",
                            "parameters": { "segmentId": { "parameterReference": "body/segmentId" } }
                        }
                    },
                    "source": { "type": "string", "default": "flow", "x-ms-visibility": "internal", "description": "Source", "x-ms-summary": "Source" }
                }
            },
            "Event": {
                "type": "object",
                "properties": {
                    "profileId": { "type": "string", "description": "Profile that joined", "x-ms-summary": "Profile Id" },
                    "segment": { "$ref": "#/definitions/Segment", "description": "Segment joined", "x-ms-summary": "Segment", "x-nullable": true }
                }
            },
            "Segment": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": { "type": "string", "description": "Segment id", "x-ms-summary": "Segment Id" },
                    "name": { "type": "string", "x-nullable": true, "description": "Segment name", "x-ms-summary": "Segment Name" }
                }
            },
            "SegmentList": {
                "type": "object",
                "properties": {
                    "value": { "type": "array", "items": { "$ref": "#/definitions/Segment" }, "description": "Segments", "x-ms-summary": "Segments" }
                }
            },
            "Profile": {
                "type": "object",
                "properties": {
                    "id": { "type": "string", "format": "uuid", "description": "Profile id", "x-ms-summary": "Profile Id" },
                    "email": { "type": "string", "format": "email", "description": "Email", "x-ms-summary": "Email" },
                    "attributes": {
                        "type": "object", "description": "Attributes of the segment's profiles", "x-ms-summary": "Attributes",
                        "x-ms-dynamic-schema": {
                            "operationId": "GetProfileSchema", "value-path": "schema",
                            "parameters": { "segmentId": { "parameter": "segmentId" } }
                        },
                        "x-ms-dynamic-properties": {
                            "operationId": "GetProfileSchema", "itemValuePath": "schema",
                            "parameters": { "segmentId": { "parameterReference": "segmentId" } }
                        }
                    }
                }
            },
            "ProfileSchema": {
                "type": "object",
                "properties": {
                    "schema": { "type": "object", "description": "JSON Schema of the attributes", "x-ms-summary": "Schema" }
                }
            },
            "ProfileList": {
                "type": "object",
                "properties": {
                    "value": { "type": "array", "items": { "$ref": "#/definitions/Profile" }, "description": "Profiles", "x-ms-summary": "Profiles" },
                    "nextLink": { "type": "string", "x-ms-visibility": "internal", "description": "Next page" }
                }
            }
        },
        "securityDefinitions": { "api_key": { "type": "apiKey", "in": "header", "name": "X-Api-Key" } },
        "security": [{ "api_key": [] }],
        "x-ms-capabilities": { "testConnection": { "operationId": "ListSegments", "parameters": {} } },
        "x-ms-connector-metadata": [
            { "propertyName": "Website", "propertyValue": "https://example.com" },
            { "propertyName": "Privacy policy", "propertyValue": "https://example.com/privacy" },
            { "propertyName": "Categories", "propertyValue": "Data;Marketing" }
        ]
    })
}

/// The `apiProperties.json` that goes with [`clean`]: its paging policy.
fn clean_properties() -> Value {
    json!({
        "properties": {
            "connectionParameters": { "api_key": { "type": "securestring" } },
            "policyTemplateInstances": [{
                "templateId": "updatenextlink",
                "title": "Updates the next link",
                "parameters": {
                    "x-ms-apimTemplateParameter.nextLinkPropertyName": "nextLink",
                    "x-ms-apimTemplate-operationName": ["ListProfiles"]
                }
            }]
        }
    })
}

fn split(pointer: &str) -> (&str, String) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    (parent, key.replace("~1", "/").replace("~0", "~"))
}

fn set(doc: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = split(pointer);
    match doc.pointer_mut(parent).unwrap() {
        Value::Object(map) => {
            map.insert(key, value);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        other => panic!("cannot set into {other}"),
    }
}

fn remove(doc: &mut Value, pointer: &str) {
    let (parent, key) = split(pointer);
    let removed = doc
        .pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .shift_remove(&key);
    assert!(removed.is_some(), "nothing at {pointer}");
}

const HOOK: &str = "/paths/~1hooks/post";
const DELETE: &str = "/paths/~1hooks~1{id}/delete";
const SEGMENTS: &str = "/paths/~1segments/get";
const PROFILE: &str = "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get";

fn format_findings(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn clean_package_has_no_findings() {
    let findings = lint_package(&clean(), &clean_properties());
    assert!(findings.is_empty(), "{}", format_findings(&findings));
}

type Mutation = fn(&mut Value);

/// Rules of the definition alone: where each must be reported after a change to [`clean`]
/// that breaks it.
fn definition_cases() -> Vec<(Rule, &'static str, Mutation)> {
    vec![
        (Rule::SwaggerVersion, "/swagger", |d| {
            set(d, "/swagger", json!("3.0"))
        }),
        (Rule::InfoTitleMissing, "/info/title", |d| {
            remove(d, "/info/title")
        }),
        (Rule::InfoTitleLength, "/info/title", |d| {
            set(
                d,
                "/info/title",
                json!("Customer Insights Segment Membership"),
            )
        }),
        (Rule::InfoTitleForbiddenWord, "/info/title", |d| {
            set(d, "/info/title", json!("Insights API"))
        }),
        (Rule::InfoTitleForbiddenWord, "/info/title", |d| {
            set(d, "/info/title", json!("Insights Connector"))
        }),
        (Rule::InfoTitleForbiddenWord, "/info/title", |d| {
            set(d, "/info/title", json!("Insights for Power Automate"))
        }),
        (Rule::InfoTitleForbiddenWord, "/info/title", |d| {
            set(d, "/info/title", json!("Microsoft Insights"))
        }),
        (Rule::InfoTitleEnding, "/info/title", |d| {
            set(d, "/info/title", json!("Customer Insights!"))
        }),
        (Rule::InfoDescriptionLength, "/info/description", |d| {
            set(d, "/info/description", json!("Too short"))
        }),
        (Rule::InfoDescriptionLength, "/info/description", |d| {
            set(d, "/info/description", json!("x".repeat(501)))
        }),
        (Rule::InfoDescriptionLength, "/info/description", |d| {
            remove(d, "/info/description")
        }),
        (Rule::InfoContact, "/info/contact", |d| {
            remove(d, "/info/contact")
        }),
        (Rule::Host, "/host", |d| {
            set(d, "/host", json!("https://connector.example.com"))
        }),
        (Rule::Host, "/host", |d| {
            set(d, "/host", json!("connector.example.com/api"))
        }),
        (Rule::Host, "/host", |d| remove(d, "/host")),
        (Rule::BasePath, "/basePath", |d| {
            set(d, "/basePath", json!("api"))
        }),
        (Rule::SchemesHttps, "/schemes", |d| {
            set(d, "/schemes", json!(["http"]))
        }),
        (Rule::SummaryMissing, "/paths/~1segments/get/summary", |d| {
            remove(d, &format!("{SEGMENTS}/summary"))
        }),
        (Rule::SummaryLength, "/paths/~1segments/get/summary", |d| {
            set(d, &format!("{SEGMENTS}/summary"), json!("L".repeat(81)))
        }),
        (
            Rule::SummaryCharacters,
            "/paths/~1segments/get/summary",
            |d| {
                set(
                    d,
                    &format!("{SEGMENTS}/summary"),
                    json!("List segments, all of them"),
                )
            },
        ),
        (
            Rule::SummaryTrailingPeriod,
            "/paths/~1segments/get/summary",
            |d| set(d, &format!("{SEGMENTS}/summary"), json!("List segments.")),
        ),
        (
            Rule::DescriptionMissing,
            "/paths/~1segments/get/description",
            |d| remove(d, &format!("{SEGMENTS}/description")),
        ),
        (
            Rule::DescriptionEqualsSummary,
            "/paths/~1segments/get/description",
            |d| {
                set(
                    d,
                    &format!("{SEGMENTS}/description"),
                    json!("List segments."),
                )
            },
        ),
        (
            Rule::OperationIdMissing,
            "/paths/~1hooks~1{id}/delete/operationId",
            |d| remove(d, &format!("{DELETE}/operationId")),
        ),
        (
            Rule::OperationIdPascalCase,
            "/paths/~1hooks~1{id}/delete/operationId",
            |d| {
                set(
                    d,
                    &format!("{DELETE}/operationId"),
                    json!("delete_subscription"),
                )
            },
        ),
        (
            Rule::OperationIdPascalCase,
            "/paths/~1hooks~1{id}/delete/operationId",
            |d| {
                set(
                    d,
                    &format!("{DELETE}/operationId"),
                    json!("deleteSubscription"),
                )
            },
        ),
        (
            Rule::OperationIdDuplicate,
            "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get/operationId",
            |d| set(d, &format!("{PROFILE}/operationId"), json!("ListProfiles")),
        ),
        (Rule::TriggerSummary, "/paths/~1hooks/post/summary", |d| {
            set(
                d,
                &format!("{HOOK}/summary"),
                json!("Segment membership changes"),
            )
        }),
        (
            Rule::ParameterSummary,
            "/paths/~1hooks~1{id}/delete/parameters/0",
            |d| remove(d, &format!("{DELETE}/parameters/0/x-ms-summary")),
        ),
        (
            Rule::ParameterSummary,
            "/paths/~1hooks/post/parameters/0",
            |d| remove(d, &format!("{HOOK}/parameters/0/x-ms-summary")),
        ),
        (
            Rule::ParameterDescription,
            "/paths/~1hooks~1{id}/delete/parameters/0",
            |d| remove(d, &format!("{DELETE}/parameters/0/description")),
        ),
        (
            Rule::PathParameterUrlEncoding,
            "/paths/~1hooks~1{id}/delete/parameters/0",
            |d| remove(d, &format!("{DELETE}/parameters/0/x-ms-url-encoding")),
        ),
        (
            Rule::PathParameterUrlEncoding,
            "/paths/~1hooks~1{id}/delete/parameters/0",
            |d| {
                set(
                    d,
                    &format!("{DELETE}/parameters/0/x-ms-url-encoding"),
                    json!("double"),
                )
            },
        ),
        (
            Rule::PathParameterRequired,
            "/paths/~1hooks~1{id}/delete/parameters/0",
            |d| set(d, &format!("{DELETE}/parameters/0/required"), json!(false)),
        ),
        (
            Rule::PropertySummary,
            "/definitions/Segment/properties/name",
            |d| remove(d, "/definitions/Segment/properties/name/x-ms-summary"),
        ),
        (
            Rule::PropertyDescription,
            "/definitions/Event/properties/profileId",
            |d| remove(d, "/definitions/Event/properties/profileId/description"),
        ),
        (
            Rule::PropertySummary,
            "/paths/~1segments/get/responses/200/schema/properties/count",
            |d| {
                set(
                    d,
                    &format!("{SEGMENTS}/responses/200/schema"),
                    json!({ "type": "object", "properties": { "count": { "type": "integer", "description": "How many" } } }),
                )
            },
        ),
        (
            Rule::PropertyDescription,
            "/definitions/Event/properties/segment",
            |d| remove(d, "/definitions/Event/properties/segment/description"),
        ),
        (Rule::Response2xx, "/paths/~1segments/get/responses", |d| {
            set(
                d,
                &format!("{SEGMENTS}/responses"),
                json!({ "404": { "description": "Missing" }, "default": { "description": "Error" } }),
            )
        }),
        (Rule::Response2xx, "/paths/~1segments/get/responses", |d| {
            remove(d, &format!("{SEGMENTS}/responses"))
        }),
        (
            Rule::ResponseDefaultOnly,
            "/paths/~1segments/get/responses",
            |d| {
                set(
                    d,
                    &format!("{SEGMENTS}/responses"),
                    json!({ "default": { "description": "Anything" } }),
                )
            },
        ),
        (
            Rule::ResponseDefaultSchema,
            "/paths/~1segments/get/responses/default/schema",
            |d| {
                set(
                    d,
                    &format!("{SEGMENTS}/responses/default/schema"),
                    json!({ "$ref": "#/definitions/Segment" }),
                )
            },
        ),
        (
            Rule::EmptySchema,
            "/paths/~1segments/get/responses/200/schema",
            |d| set(d, &format!("{SEGMENTS}/responses/200/schema"), json!({})),
        ),
        (
            Rule::EmptySchema,
            "/definitions/Profile/properties/extra",
            |d| {
                set(
                    d,
                    "/definitions/Profile/properties/extra",
                    json!({ "description": "Anything", "x-ms-summary": "Extra" }),
                )
            },
        ),
        (
            Rule::EmptySchema,
            "/paths/~1hooks/x-ms-notification-content/schema",
            |d| {
                set(
                    d,
                    "/paths/~1hooks/x-ms-notification-content/schema",
                    json!({}),
                )
            },
        ),
        (
            Rule::RequiredNotObject,
            "/definitions/Segment/properties/id/required",
            |d| {
                set(
                    d,
                    "/definitions/Segment/properties/id/required",
                    json!(["x"]),
                )
            },
        ),
        (Rule::RequiredEmpty, "/definitions/Segment/required", |d| {
            set(d, "/definitions/Segment/required", json!([]))
        }),
        (
            Rule::NoOneOf,
            "/definitions/Profile/properties/email/oneOf",
            |d| {
                set(
                    d,
                    "/definitions/Profile/properties/email",
                    json!({ "oneOf": [{ "type": "string" }, { "type": "integer" }], "description": "E", "x-ms-summary": "E" }),
                )
            },
        ),
        (
            Rule::NoAnyOf,
            "/definitions/Profile/properties/email/anyOf",
            |d| {
                set(
                    d,
                    "/definitions/Profile/properties/email",
                    json!({ "anyOf": [{ "type": "string" }, { "type": "null" }], "description": "E", "x-ms-summary": "E" }),
                )
            },
        ),
        (
            Rule::NoNullType,
            "/definitions/Profile/properties/email/anyOf/1/type",
            |d| {
                set(
                    d,
                    "/definitions/Profile/properties/email",
                    json!({ "anyOf": [{ "type": "string" }, { "type": "null" }], "description": "E", "x-ms-summary": "E" }),
                )
            },
        ),
        (
            Rule::NoNullable,
            "/definitions/Segment/properties/name/nullable",
            |d| {
                set(
                    d,
                    "/definitions/Segment/properties/name/nullable",
                    json!(true),
                )
            },
        ),
        (
            Rule::NoTypeArray,
            "/definitions/Segment/properties/name/type",
            |d| {
                set(
                    d,
                    "/definitions/Segment/properties/name/type",
                    json!(["string", "null"]),
                )
            },
        ),
        (
            Rule::NoTypeArray,
            "/paths/~1hooks~1{id}/delete/parameters/0/type",
            |d| {
                set(
                    d,
                    &format!("{DELETE}/parameters/0/type"),
                    json!(["string", "null"]),
                )
            },
        ),
        (
            Rule::NoTypeArray,
            "/paths/~1hooks/post/responses/201/headers/Location/type",
            |d| {
                set(
                    d,
                    &format!("{HOOK}/responses/201/headers/Location/type"),
                    json!(["string", "null"]),
                )
            },
        ),
        (
            Rule::NoNullType,
            "/definitions/Segment/properties/name/type",
            |d| {
                set(
                    d,
                    "/definitions/Segment/properties/name/type",
                    json!("null"),
                )
            },
        ),
        (
            Rule::FormatUnknown,
            "/definitions/Segment/properties/id/format",
            |d| {
                set(
                    d,
                    "/definitions/Segment/properties/id/format",
                    json!("ulid"),
                )
            },
        ),
        (
            Rule::RefUnknown,
            "/definitions/SegmentList/properties/value/items/$ref",
            |d| {
                set(
                    d,
                    "/definitions/SegmentList/properties/value/items/$ref",
                    json!("#/definitions/Nope"),
                )
            },
        ),
        (
            Rule::DynamicValuesOperation,
            "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get/parameters/0/x-ms-dynamic-values/operationId",
            |d| {
                set(
                    d,
                    &format!("{PROFILE}/parameters/0/x-ms-dynamic-values/operationId"),
                    json!("Nope"),
                )
            },
        ),
        (
            Rule::DynamicValuesOperation,
            "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get/parameters/0/x-ms-dynamic-values/operationId",
            |d| {
                set(
                    d,
                    &format!("{PROFILE}/parameters/0/x-ms-dynamic-values/operationId"),
                    json!("OnSegmentJoin"),
                )
            },
        ),
        (
            Rule::DynamicValuesOperation,
            "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get/parameters/0/x-ms-dynamic-values",
            |d| {
                remove(
                    d,
                    &format!("{PROFILE}/parameters/0/x-ms-dynamic-values/operationId"),
                )
            },
        ),
        (
            Rule::DynamicValuesParameter,
            "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get/parameters/1/x-ms-dynamic-values/parameters/segment",
            |d| {
                set(
                    d,
                    &format!("{PROFILE}/parameters/1/x-ms-dynamic-values/parameters"),
                    json!({ "segment": { "parameter": "segmentId" } }),
                )
            },
        ),
        (
            Rule::DynamicValuesParameter,
            "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get/parameters/1/x-ms-dynamic-values/parameters/segmentId",
            |d| {
                set(
                    d,
                    &format!("{PROFILE}/parameters/1/x-ms-dynamic-values/parameters"),
                    json!({ "segmentId": { "parameter": "segment" } }),
                )
            },
        ),
        (
            Rule::DynamicValuesOperation,
            "/definitions/Subscribe/properties/segmentId/x-ms-dynamic-values/operationId",
            |d| {
                set(
                    d,
                    "/definitions/Subscribe/properties/segmentId/x-ms-dynamic-values/operationId",
                    json!("DeleteSubscription"),
                )
            },
        ),
        (
            Rule::DynamicListOperation,
            "/definitions/Subscribe/properties/profileId/x-ms-dynamic-list/operationId",
            |d| {
                set(
                    d,
                    "/definitions/Subscribe/properties/profileId/x-ms-dynamic-list/operationId",
                    json!("Nope"),
                )
            },
        ),
        (
            Rule::DynamicListParameter,
            "/definitions/Subscribe/properties/profileId/x-ms-dynamic-list/parameters/segmentId",
            |d| {
                set(
                    d,
                    "/definitions/Subscribe/properties/profileId/x-ms-dynamic-list/parameters/segmentId",
                    json!({ "parameterReference": "body/nope" }),
                )
            },
        ),
        (
            Rule::DynamicListParameter,
            "/definitions/Subscribe/properties/profileId/x-ms-dynamic-list/parameters/segmentId",
            |d| {
                set(
                    d,
                    "/definitions/Subscribe/properties/profileId/x-ms-dynamic-list/parameters/segmentId",
                    json!({ "parameterReference": "payload/segmentId" }),
                )
            },
        ),
        (
            Rule::DynamicListParameter,
            "/definitions/Subscribe/properties/profileId/x-ms-dynamic-list/parameters/segment",
            |d| {
                set(
                    d,
                    "/definitions/Subscribe/properties/profileId/x-ms-dynamic-list/parameters",
                    json!({ "segment": { "parameterReference": "body/segmentId" } }),
                )
            },
        ),
        (
            Rule::DynamicSchemaOperation,
            "/definitions/Event/x-ms-dynamic-schema/operationId",
            |d| {
                set(
                    d,
                    "/definitions/Subscribe/x-ms-dynamic-schema",
                    json!({ "operationId": "Nope" }),
                );
                set(
                    d,
                    "/definitions/Event/x-ms-dynamic-schema",
                    json!({ "operationId": "Nope" }),
                );
            },
        ),
        (
            Rule::DynamicSchemaParameter,
            "/definitions/Profile/x-ms-dynamic-schema/parameters/nope",
            |d| {
                set(
                    d,
                    "/definitions/Profile/x-ms-dynamic-schema",
                    json!({ "operationId": "ListSegments", "parameters": { "nope": { "parameter": "profileId" } } }),
                )
            },
        ),
        (Rule::Paths, "/paths", |d| remove(d, "/paths")),
        (Rule::TriggerPost, "/paths/~1hooks/put", |d| {
            let op = d
                .pointer_mut("/paths/~1hooks")
                .unwrap()
                .as_object_mut()
                .unwrap()
                .shift_remove("post")
                .unwrap();
            set(d, "/paths/~1hooks/put", op);
        }),
        (
            Rule::TriggerNotificationUrl,
            "/paths/~1hooks/post/parameters/0",
            |d| {
                remove(
                    d,
                    "/definitions/Subscribe/properties/callbackUrl/x-ms-notification-url",
                )
            },
        ),
        (
            Rule::TriggerNotificationUrl,
            "/paths/~1hooks/post/parameters/0",
            |d| {
                set(
                    d,
                    "/definitions/Subscribe/properties/source/x-ms-notification-url",
                    json!(true),
                )
            },
        ),
        (Rule::TriggerNotificationUrl, "/paths/~1hooks/post", |d| {
            set(d, &format!("{HOOK}/parameters"), json!([]))
        }),
        (
            Rule::TriggerNotificationUrl,
            "/definitions/Subscribe/properties/callbackUrl",
            |d| {
                set(
                    d,
                    "/definitions/Subscribe/properties/callbackUrl/type",
                    json!("integer"),
                )
            },
        ),
        (
            Rule::TriggerNotificationUrlInternal,
            "/definitions/Subscribe/properties/callbackUrl",
            |d| {
                remove(
                    d,
                    "/definitions/Subscribe/properties/callbackUrl/x-ms-visibility",
                )
            },
        ),
        (
            Rule::TriggerNotificationUrlRequired,
            "/definitions/Subscribe/properties/callbackUrl",
            |d| {
                set(
                    d,
                    "/definitions/Subscribe/required",
                    json!(["segmentId", "source"]),
                )
            },
        ),
        (
            Rule::TriggerNotificationUrlRequired,
            "/definitions/Subscribe/properties/callbackUrl",
            |d| set(d, &format!("{HOOK}/parameters/0/required"), json!(false)),
        ),
        (
            Rule::TriggerNotificationUrlRequired,
            "/paths/~1hooks/post/parameters/0/schema/properties/inner/properties/url",
            |d| {
                set(
                    d,
                    &format!("{HOOK}/parameters/0/schema"),
                    json!({
                        "type": "object", "required": ["inner"],
                        "properties": { "inner": { "type": "object", "properties": {
                            "url": { "type": "string", "x-ms-notification-url": true, "x-ms-visibility": "internal" }
                        } } }
                    }),
                )
            },
        ),
        (
            Rule::InternalRequiredDefault,
            "/definitions/Subscribe/properties/source",
            |d| remove(d, "/definitions/Subscribe/properties/source/default"),
        ),
        (
            Rule::InternalRequiredDefault,
            "/paths/~1segments/get/parameters/0",
            |d| {
                set(
                    d,
                    &format!("{SEGMENTS}/parameters"),
                    json!([{
                        "name": "api-version", "in": "query", "required": true, "type": "string",
                        "x-ms-visibility": "internal", "description": "Version", "x-ms-summary": "Version"
                    }]),
                )
            },
        ),
        (
            Rule::TriggerNotificationContent,
            "/paths/~1hooks/x-ms-notification-content",
            |d| remove(d, "/paths/~1hooks/x-ms-notification-content"),
        ),
        (
            Rule::TriggerNotificationContent,
            "/paths/~1hooks/x-ms-notification-content",
            |d| remove(d, "/paths/~1hooks/x-ms-notification-content/schema"),
        ),
        (
            Rule::TriggerLocationHeader,
            "/paths/~1hooks/post/responses/201",
            |d| remove(d, &format!("{HOOK}/responses/201/headers")),
        ),
        (
            Rule::TriggerLocationHeader,
            "/paths/~1hooks/post/responses/201",
            |d| {
                set(
                    d,
                    &format!("{HOOK}/responses"),
                    json!({ "200": { "description": "OK", "headers": { "Location": { "type": "string" } } } }),
                )
            },
        ),
        (Rule::TriggerDeleteMissing, "/paths/~1hooks/post", |d| {
            remove(d, &format!("{DELETE}/x-ms-visibility"))
        }),
        (Rule::TriggerDeleteMissing, "/paths/~1hooks/post", |d| {
            remove(d, "/paths/~1hooks~1{id}")
        }),
        (Rule::SecurityDefinitions, "/security/0", |d| {
            remove(d, "/securityDefinitions")
        }),
        (
            Rule::SecurityDefinitions,
            "/paths/~1segments/get/security/0",
            |d| set(d, &format!("{SEGMENTS}/security"), json!([{ "oauth": [] }])),
        ),
        (Rule::OperationCount, "/paths", |d| {
            let paths = d["paths"].as_object_mut().unwrap();
            for i in 0..253 {
                paths.insert(
                    format!("/extra/{i}"),
                    json!({ "get": { "responses": { "200": { "description": "ok" } } } }),
                );
            }
        }),
        (Rule::ConnectorMetadata, "/x-ms-connector-metadata", |d| {
            remove(d, "/x-ms-connector-metadata")
        }),
        (
            Rule::ConnectorCategories,
            "/x-ms-connector-metadata/2/propertyValue",
            |d| {
                set(
                    d,
                    "/x-ms-connector-metadata/2/propertyValue",
                    json!("Data;Marketing;Sales"),
                )
            },
        ),
    ]
}

#[test]
fn each_rule_fires_when_violated() {
    let cases = definition_cases();
    let mut failures = Vec::new();
    for (rule, location, mutate) in &cases {
        let mut doc = clean();
        mutate(&mut doc);
        let findings = lint(&doc);
        if !findings
            .iter()
            .any(|f| f.rule == *rule && f.location == *location)
        {
            failures.push(format!(
                "{rule} at {location} not reported; got:\n{}",
                format_findings(&findings)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

mod package;

#[test]
fn operation_count_limit_is_256() {
    let mut doc = clean();
    let paths = doc["paths"].as_object_mut().unwrap();
    // 6 operations in `clean`, 250 more: exactly 256 is allowed.
    for i in 0..250 {
        paths.insert(
            format!("/extra/{i}"),
            json!({ "get": { "responses": { "200": { "description": "ok" } } } }),
        );
    }
    assert!(!lint(&doc).iter().any(|f| f.rule == Rule::OperationCount));
}

#[test]
fn shared_definitions_are_reported_once() {
    let mut doc = clean();
    remove(&mut doc, "/definitions/Segment/properties/name/description");
    let findings = lint(&doc);
    let hits: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == Rule::PropertyDescription)
        .collect();
    assert_eq!(hits.len(), 1, "{}", format_findings(&findings));
    assert_eq!(hits[0].location, "/definitions/Segment/properties/name");
}

#[test]
fn property_docs_may_come_from_the_referenced_definition() {
    let mut doc = clean();
    remove(
        &mut doc,
        "/definitions/Event/properties/segment/description",
    );
    remove(
        &mut doc,
        "/definitions/Event/properties/segment/x-ms-summary",
    );
    set(
        &mut doc,
        "/definitions/Segment/description",
        json!("A segment"),
    );
    set(
        &mut doc,
        "/definitions/Segment/x-ms-summary",
        json!("Segment"),
    );
    let findings = lint(&doc);
    assert!(findings.is_empty(), "{}", format_findings(&findings));
}

#[test]
fn internal_response_properties_need_no_label() {
    let mut doc = clean();
    set(
        &mut doc,
        "/definitions/Profile/properties/etag",
        json!({ "type": "string", "x-ms-visibility": "internal" }),
    );
    assert!(lint(&doc).is_empty());
}

#[test]
fn non_object_definition_is_one_finding() {
    let findings = lint(&json!([1, 2]));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule, Rule::Document);
}

#[test]
fn findings_display_location_rule_message() {
    let finding = Finding {
        document: Document::ApiDefinition,
        location: "/info/title".into(),
        rule: Rule::InfoTitleLength,
        message: "too long".into(),
    };
    assert_eq!(
        finding.to_string(),
        "apiDefinition.swagger.json#/info/title [info-title-length] too long"
    );
}
