//! Unit tests of the parent module.
use super::*;

/// Converts one schema against components that define `A`, `B`, `C` and `Seg`.
fn convert_schema(schema: Value) -> Result<Value, ConvertError> {
    let object = json!({ "type": "object" });
    let components = json!({ "schemas": { "A": object, "B": object, "C": object, "Seg": object } });
    let components = components.as_object().unwrap();
    Converter { components }.schema(&schema, "/s")
}

fn opts() -> Swagger2Options<'static> {
    Swagger2Options {
        host: "connector.example.com".into(),
        base_path: "/".into(),
        schemes: vec!["https".into()],
        exclude_tags: &["report", "operator"],
        security_definitions: json!({
            "api_key": { "type": "apiKey", "in": "header", "name": "X-Api-Key" }
        }),
        security: json!([{ "api_key": [] }]),
    }
}

fn doc(paths: Value, schemas: Value) -> Value {
    json!({
        "openapi": "3.1.0",
        "info": { "title": "T", "version": "1" },
        "paths": paths,
        "components": { "schemas": schemas }
    })
}

/// Converts a document made of one operation and returns that converted operation.
fn convert_op(op: Value, schemas: Value) -> Value {
    let out = to_swagger2(&doc(json!({ "/x": { "post": op } }), schemas), &opts()).unwrap();
    out["paths"]["/x"]["post"].clone()
}

#[test]
fn schema_rules_table() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "type array with null becomes x-nullable",
            json!({ "type": ["string", "null"], "format": "date-time" }),
            json!({ "type": "string", "format": "date-time", "x-nullable": true }),
        ),
        (
            "object or null",
            json!({ "type": ["object", "null"], "additionalProperties": { "type": "integer" } }),
            json!({ "type": "object", "additionalProperties": { "type": "integer" }, "x-nullable": true }),
        ),
        (
            "oneOf ref or null becomes the ref with x-nullable, ref description kept",
            json!({ "oneOf": [{ "$ref": "#/components/schemas/Seg", "description": "The segment" }, { "type": "null" }] }),
            json!({ "$ref": "#/definitions/Seg", "description": "The segment", "x-nullable": true }),
        ),
        (
            "anyOf null or integer, wrapper keywords merged",
            json!({ "anyOf": [{ "type": "null" }, { "type": "integer", "format": "int32" }], "title": "Count", "x-ms-summary": "Count" }),
            json!({ "type": "integer", "format": "int32", "title": "Count", "x-ms-summary": "Count", "x-nullable": true }),
        ),
        (
            "single-item oneOf is unwrapped without x-nullable",
            json!({ "oneOf": [{ "type": "string" }] }),
            json!({ "type": "string" }),
        ),
        (
            "allOf of one ref decorated with a description",
            json!({ "allOf": [{ "$ref": "#/components/schemas/Seg" }], "description": "Seg", "default": null }),
            json!({ "$ref": "#/definitions/Seg", "description": "Seg", "default": null }),
        ),
        (
            "allOf ref plus annotation object merges",
            json!({ "allOf": [{ "$ref": "#/components/schemas/Seg" }, { "description": "d", "readOnly": true }] }),
            json!({ "$ref": "#/definitions/Seg", "description": "d", "readOnly": true }),
        ),
        (
            "real allOf composition stays, refs rewritten",
            json!({ "allOf": [{ "$ref": "#/components/schemas/A" }, { "type": "object", "properties": { "b": { "type": "string" } } }] }),
            json!({ "allOf": [{ "$ref": "#/definitions/A" }, { "type": "object", "properties": { "b": { "type": "string" } } }] }),
        ),
        (
            "const becomes a one-value enum",
            json!({ "type": "string", "const": "segment" }),
            json!({ "type": "string", "enum": ["segment"] }),
        ),
        (
            "examples array becomes example",
            json!({ "type": "string", "examples": ["a", "b"] }),
            json!({ "type": "string", "example": "a" }),
        ),
        (
            "existing example wins over examples",
            json!({ "type": "string", "example": "z", "examples": ["a"] }),
            json!({ "type": "string", "example": "z" }),
        ),
        (
            "numeric exclusiveMinimum becomes minimum plus flag",
            json!({ "type": "integer", "exclusiveMinimum": 0 }),
            json!({ "type": "integer", "minimum": 0, "exclusiveMinimum": true }),
        ),
        (
            "stricter of maximum and exclusiveMaximum wins",
            json!({ "type": "number", "maximum": 10, "exclusiveMaximum": 5 }),
            json!({ "type": "number", "maximum": 5, "exclusiveMaximum": true }),
        ),
        (
            "looser exclusive bound is dropped",
            json!({ "type": "number", "minimum": 10, "exclusiveMinimum": 5 }),
            json!({ "type": "number", "minimum": 10 }),
        ),
        (
            "2.0-style boolean flag kept",
            json!({ "type": "number", "minimum": 1, "exclusiveMinimum": true }),
            json!({ "type": "number", "minimum": 1, "exclusiveMinimum": true }),
        ),
        (
            "empty required removed, non-empty kept",
            json!({ "type": "object", "required": [], "properties": { "o": { "type": "object", "required": ["a"], "properties": { "a": { "type": "string" } } } } }),
            json!({ "type": "object", "properties": { "o": { "type": "object", "required": ["a"], "properties": { "a": { "type": "string" } } } } }),
        ),
        (
            "3.1-only keywords dropped",
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "propertyNames": { "type": "string" },
                "unevaluatedProperties": false,
                "deprecated": true,
                "properties": {
                    "t": { "type": "array", "prefixItems": [{ "type": "string" }], "items": false },
                    "c": { "type": "string", "contentMediaType": "image/png", "contentEncoding": "base64", "writeOnly": true }
                }
            }),
            json!({ "type": "object", "properties": { "t": { "type": "array" }, "c": { "type": "string" } } }),
        ),
        (
            "refs rewritten in properties, items, additionalProperties",
            json!({ "type": "object", "properties": {
                "one": { "$ref": "#/components/schemas/A" },
                "many": { "type": "array", "items": { "$ref": "#/components/schemas/B" } },
                "map": { "type": "object", "additionalProperties": { "$ref": "#/components/schemas/C" } }
            } }),
            json!({ "type": "object", "properties": {
                "one": { "$ref": "#/definitions/A" },
                "many": { "type": "array", "items": { "$ref": "#/definitions/B" } },
                "map": { "type": "object", "additionalProperties": { "$ref": "#/definitions/C" } }
            } }),
        ),
        (
            "x- keys carried, sorted, nested values untouched",
            json!({ "type": "string", "x-ms-visibility": "advanced", "x-ms-summary": "Name",
                    "x-ms-dynamic-values": { "operationId": "ListSegments", "value-path": "id", "parameters": { "a": { "parameter": "b" } } } }),
            json!({ "type": "string",
                    "x-ms-dynamic-values": { "operationId": "ListSegments", "value-path": "id", "parameters": { "a": { "parameter": "b" } } },
                    "x-ms-summary": "Name", "x-ms-visibility": "advanced" }),
        ),
        (
            "non-standard integer formats widened, unknown formats dropped",
            json!({ "type": "object", "properties": {
                "a": { "type": "integer", "format": "uint64", "minimum": 0 },
                "b": { "type": "integer", "format": "int16" },
                "c": { "type": "string", "format": "duration" },
                "d": { "type": "string", "format": "uuid" }
            } }),
            json!({ "type": "object", "properties": {
                "a": { "type": "integer", "format": "int64", "minimum": 0 },
                "b": { "type": "integer", "format": "int32" },
                "c": { "type": "string" },
                "d": { "type": "string", "format": "uuid" }
            } }),
        ),
        (
            "null enum member becomes x-nullable",
            json!({ "type": ["string", "null"], "enum": ["a", "b", null] }),
            json!({ "type": "string", "enum": ["a", "b"], "x-nullable": true }),
        ),
        (
            "3.0 nullable becomes x-nullable",
            json!({ "type": "string", "nullable": true }),
            json!({ "type": "string", "x-nullable": true }),
        ),
        (
            "discriminator object keeps its property name",
            json!({ "allOf": [{ "$ref": "#/components/schemas/A" }, { "$ref": "#/components/schemas/B" }], "discriminator": { "propertyName": "kind" } }),
            json!({ "allOf": [{ "$ref": "#/definitions/A" }, { "$ref": "#/definitions/B" }], "discriminator": "kind" }),
        ),
        (
            "already-2.0 refs pass",
            json!({ "$ref": "#/definitions/A" }),
            json!({ "$ref": "#/definitions/A" }),
        ),
        (
            "boolean true schema is the empty schema",
            json!(true),
            json!({}),
        ),
    ];
    for (name, input, expected) in cases {
        let got = convert_schema(input).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, expected, "{name}");
        // Key order matters for a byte-stable file: compare serializations too.
        assert_eq!(got.to_string(), expected.to_string(), "{name} (order)");
    }
}

#[test]
fn schema_errors_table() {
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "real oneOf union",
            json!({ "type": "object", "properties": { "p": { "oneOf": [{ "type": "string" }, { "type": "integer" }] } } }),
            "/s/properties/p/oneOf",
            "2 non-null alternatives",
        ),
        (
            "anyOf union with null",
            json!({ "anyOf": [{ "$ref": "#/components/schemas/A" }, { "$ref": "#/components/schemas/B" }, { "type": "null" }] }),
            "/s/anyOf",
            "2 non-null alternatives",
        ),
        (
            "lone null type",
            json!({ "type": "null" }),
            "/s/type",
            "only admits `null`",
        ),
        (
            "type array of null only",
            json!({ "type": ["null"] }),
            "/s/type",
            "only admits `null`",
        ),
        (
            "oneOf of only nulls",
            json!({ "oneOf": [{ "type": "null" }] }),
            "/s/oneOf",
            "0 non-null alternatives",
        ),
        (
            "type union",
            json!({ "items": { "type": ["string", "integer"] } }),
            "/s/items/type",
            "type union",
        ),
        (
            "ref outside components.schemas",
            json!({ "$ref": "#/components/responses/R" }),
            "/s/$ref",
            "may only reference",
        ),
        ("false schema", json!(false), "/s", "boolean schemas"),
        (
            "dangling reference",
            json!({ "type": "array", "items": { "$ref": "#/components/schemas/Nope" } }),
            "/s/items/$ref",
            "has no `Nope`",
        ),
        (
            "oneOf and anyOf together",
            json!({ "oneOf": [{ "type": "string" }], "anyOf": [{ "type": "string" }] }),
            "/s",
            "together",
        ),
    ];
    for (name, input, location, fragment) in cases {
        let err = convert_schema(input).expect_err(name);
        assert_eq!(err.location, location, "{name}: {err}");
        assert!(err.message.contains(fragment), "{name}: {err}");
    }
}

#[test]
fn request_body_becomes_body_parameter() {
    let op = convert_op(
        json!({
            "operationId": "Subscribe",
            "parameters": [{ "name": "q", "in": "query", "schema": { "type": "string" } }],
            "requestBody": {
                "description": "What to watch",
                "required": true,
                "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/Sub" },
                    "x-ms-media": "m"
                } },
                "x-ms-summary": "Subscription",
                "x-ms-visibility": "important"
            },
            "responses": { "200": { "description": "ok" } }
        }),
        json!({ "Sub": { "type": "object" } }),
    );
    assert_eq!(
        op["parameters"],
        json!([
            { "name": "q", "in": "query", "type": "string" },
            {
                "name": "body", "in": "body", "description": "What to watch", "required": true,
                "schema": { "$ref": "#/definitions/Sub" },
                "x-ms-media": "m", "x-ms-summary": "Subscription", "x-ms-visibility": "important"
            }
        ])
    );
    assert!(op.get("requestBody").is_none());
    assert!(op.get("consumes").is_none(), "JSON is declared at the root");

    let optional = convert_op(
        json!({
            "requestBody": { "content": { "application/json": { "schema": { "type": "string" } } } },
            "responses": { "200": { "description": "ok" } }
        }),
        json!({}),
    );
    assert_eq!(optional["parameters"][0]["required"], json!(false));
}

#[test]
fn non_json_body_sets_operation_consumes() {
    let op = convert_op(
        json!({
            "requestBody": { "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
            "responses": { "200": { "description": "ok", "content": { "text/plain": { "schema": { "type": "string" } } } } }
        }),
        json!({}),
    );
    assert_eq!(op["consumes"], json!(["application/octet-stream"]));
    assert_eq!(op["produces"], json!(["text/plain"]));
}

#[test]
fn parameter_schemas_are_inlined_table() {
    let schemas = json!({
        "Kind": { "type": "string", "enum": ["a", "b"], "description": "Kind of thing", "x-ms-enum-values": [{ "value": "a" }] }
    });
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "type, format, bounds, default, extensions",
            json!({ "name": "top", "in": "query", "description": "Page size", "required": false,
                    "schema": { "type": ["integer", "null"], "format": "int32", "minimum": 1, "exclusiveMaximum": 1000, "default": 50 },
                    "x-ms-summary": "Top", "x-ms-visibility": "advanced", "deprecated": false, "example": 5 }),
            json!({ "name": "top", "in": "query", "description": "Page size", "required": false,
                    "type": "integer", "format": "int32", "minimum": 1, "maximum": 1000, "exclusiveMaximum": true, "default": 50, "x-nullable": true,
                    "x-ms-summary": "Top", "x-ms-visibility": "advanced" }),
        ),
        (
            "enum ref resolved; schema description used when the parameter has none; schema extensions merged",
            json!({ "name": "kind", "in": "query", "schema": { "$ref": "#/components/schemas/Kind" } }),
            json!({ "name": "kind", "in": "query", "type": "string", "enum": ["a", "b"], "description": "Kind of thing", "x-ms-enum-values": [{ "value": "a" }] }),
        ),
        (
            "nullable enum ref (oneOf ref/null) resolved with x-nullable",
            json!({ "name": "kind", "in": "query", "description": "Own", "schema": { "oneOf": [{ "$ref": "#/components/schemas/Kind" }, { "type": "null" }] } }),
            json!({ "name": "kind", "in": "query", "description": "Own", "type": "string", "enum": ["a", "b"], "x-ms-enum-values": [{ "value": "a" }], "x-nullable": true }),
        ),
        (
            "array query parameter, exploded form style is multi, items resolved",
            json!({ "name": "kinds", "in": "query", "schema": { "type": "array", "items": { "$ref": "#/components/schemas/Kind" }, "uniqueItems": true } }),
            json!({ "name": "kinds", "in": "query", "type": "array", "items": { "type": "string", "enum": ["a", "b"] }, "uniqueItems": true, "collectionFormat": "multi" }),
        ),
        (
            "non-exploded form style is csv",
            json!({ "name": "f", "in": "query", "style": "form", "explode": false, "schema": { "type": "array", "items": { "type": "string" } } }),
            json!({ "name": "f", "in": "query", "type": "array", "items": { "type": "string" }, "collectionFormat": "csv" }),
        ),
        (
            "path parameter keeps x-ms-url-encoding",
            json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" }, "x-ms-url-encoding": "single" }),
            json!({ "name": "id", "in": "path", "required": true, "type": "string", "format": "uuid", "x-ms-url-encoding": "single" }),
        ),
        (
            "parameter's own extension wins over the schema's",
            json!({ "name": "kind", "in": "header", "schema": { "$ref": "#/components/schemas/Kind" }, "x-ms-enum-values": [] }),
            json!({ "name": "kind", "in": "header", "type": "string", "enum": ["a", "b"], "description": "Kind of thing", "x-ms-enum-values": [] }),
        ),
    ];
    for (name, param, expected) in cases {
        let op = convert_op(
            json!({ "parameters": [param], "responses": { "200": { "description": "ok" } } }),
            schemas.clone(),
        );
        assert_eq!(op["parameters"][0], expected, "{name}");
        assert_eq!(
            op["parameters"][0].to_string(),
            expected.to_string(),
            "{name} (order)"
        );
    }
}

#[test]
fn document_errors_table() {
    let ok = json!({ "200": { "description": "ok" } });
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "cookie parameter",
            json!({ "/x": { "get": { "parameters": [{ "name": "c", "in": "cookie", "schema": { "type": "string" } }], "responses": ok } } }),
            "/paths/~1x/get/parameters/0/in",
            "cookie",
        ),
        (
            "object query parameter",
            json!({ "/x": { "get": { "parameters": [{ "name": "c", "in": "query", "schema": { "type": "object" } }], "responses": ok } } }),
            "/paths/~1x/get/parameters/0/schema",
            "not objects",
        ),
        (
            "untyped parameter",
            json!({ "/x": { "get": { "parameters": [{ "name": "c", "in": "query", "schema": {} }], "responses": ok } } }),
            "/paths/~1x/get/parameters/0/schema",
            "needs a `type`",
        ),
        (
            "content parameter",
            json!({ "/x": { "get": { "parameters": [{ "name": "c", "in": "query", "content": {} }], "responses": ok } } }),
            "/paths/~1x/get/parameters/0/content",
            "`content`",
        ),
        (
            "trace operation",
            json!({ "/x": { "trace": { "responses": ok } } }),
            "/paths/~1x/trace",
            "no `trace`",
        ),
        (
            "3.2 additional operation",
            json!({ "/x": { "additionalOperations": { "LINK": { "responses": ok } } } }),
            "/paths/~1x/additionalOperations/LINK",
            "no `LINK`",
        ),
        (
            "form body",
            json!({ "/x": { "post": { "requestBody": { "content": { "multipart/form-data": { "schema": { "type": "object" } } } }, "responses": ok } } }),
            "/paths/~1x/post/requestBody/content/multipart~1form-data",
            "formData",
        ),
        (
            "union in a response schema",
            json!({ "/x": { "get": { "responses": { "200": { "description": "ok", "content": { "application/json": { "schema": { "oneOf": [{ "type": "string" }, { "type": "integer" }] } } } } } } } }),
            "/paths/~1x/get/responses/200/content/application~1json/schema/oneOf",
            "non-null alternatives",
        ),
        (
            "union in a notification schema",
            json!({ "/x": { "post": { "responses": ok }, "x-ms-notification-content": { "schema": { "anyOf": [{ "type": "string" }, { "type": "integer" }] } } } }),
            "/paths/~1x/x-ms-notification-content/schema/anyOf",
            "non-null alternatives",
        ),
        (
            "dangling schema reference",
            json!({ "/x": { "get": { "responses": { "200": { "description": "ok", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Nope" } } } } } } } }),
            "/paths/~1x/get/responses/200/content/application~1json/schema/$ref",
            "has no `Nope`",
        ),
        (
            "dangling reference inside a path-item extension",
            json!({ "/x": { "post": { "responses": ok }, "x-ms-notification-content": { "schema": { "type": "object", "properties": { "a": { "$ref": "#/components/schemas/Gone" } } } } } }),
            "/paths/~1x/x-ms-notification-content/schema/properties/a/$ref",
            "has no `Gone`",
        ),
        (
            "dangling response reference",
            json!({ "/x": { "get": { "responses": { "200": { "$ref": "#/components/responses/Nope" } } } } }),
            "/paths/~1x/get/responses/200/$ref",
            "does not exist",
        ),
    ];
    for (name, paths, location, fragment) in cases {
        let err = to_swagger2(&doc(paths, json!({})), &opts()).expect_err(name);
        assert_eq!(err.location, location, "{name}: {err}");
        assert!(err.message.contains(fragment), "{name}: {err}");
    }
}

#[test]
fn bad_input_and_options_are_refused() {
    let swagger = json!({ "swagger": "2.0", "info": {}, "paths": {} });
    assert_eq!(
        to_swagger2(&swagger, &opts()).unwrap_err().location,
        "/openapi"
    );
    let good = doc(json!({}), json!({}));
    type Mutation = fn(&mut Swagger2Options<'static>);
    let cases: Vec<(&str, Mutation)> = vec![
        ("options.host", |o| o.host = "https://example.com".into()),
        ("options.host", |o| o.host = "example.com/api".into()),
        ("options.base_path", |o| o.base_path = "api".into()),
        ("options.schemes", |o| o.schemes = vec!["ftp".into()]),
        ("options.schemes", |o| o.schemes = vec![]),
        ("options.security_definitions", |o| {
            o.security_definitions = json!([])
        }),
        ("options.security", |o| o.security = json!({})),
    ];
    for (location, mutate) in cases {
        let mut o = opts();
        mutate(&mut o);
        assert_eq!(to_swagger2(&good, &o).unwrap_err().location, location);
    }
}

#[test]
fn responses_headers_and_examples() {
    let expected = json!({
        "201": {
            "description": "Created",
            "headers": {
                "Location": { "type": "string", "format": "uri", "description": "Where to DELETE" },
                "Retry-After": { "type": "integer", "description": "Seconds" }
            },
            "schema": { "$ref": "#/definitions/Sub" },
            "examples": { "application/json": { "id": "1" } },
            "x-ms-summary": "Created"
        },
        "404": { "description": "Not found" },
        "x-extra": { "a": 1 }
    });
    let mut input = doc(
        json!({ "/x": { "post": {
            "responses": {
                "201": {
                    "description": "Created",
                    "headers": {
                        "Location": { "description": "Where to DELETE", "schema": { "type": "string", "format": "uri" }, "required": true },
                        "Retry-After": { "$ref": "#/components/headers/RetryAfter" }
                    },
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Sub" }, "example": { "id": "1" } } },
                    "links": { "self": {} },
                    "x-ms-summary": "Created"
                },
                "404": { "$ref": "#/components/responses/NotFound" },
                "x-extra": { "a": 1 }
            }
        } } }),
        json!({ "Sub": { "type": "object" } }),
    );
    input["components"]["headers"] =
        json!({ "RetryAfter": { "description": "Seconds", "schema": { "type": "integer" } } });
    input["components"]["responses"] = json!({ "NotFound": { "description": "Not found" } });
    let out = to_swagger2(&input, &opts()).unwrap();
    assert_eq!(out["paths"]["/x"]["post"]["responses"], expected);
}

#[test]
fn excluded_tags_drop_operations_paths_tags_and_their_schemas() {
    let ok = json!({ "200": { "description": "ok", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Kept" } } } } });
    let report = json!({ "200": { "description": "ok", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Report" } } } } });
    let mut input = doc(
        json!({
            "/report/usage": { "get": { "tags": ["report"], "responses": report } },
            "/mixed": {
                "get": { "tags": ["segments"], "responses": ok },
                "delete": { "tags": ["operator"], "responses": ok },
                "x-ms-keep": true
            },
            "/ops/only": { "post": { "tags": ["operator", "segments"], "responses": ok }, "x-ms-notification-content": { "schema": { "type": "string" } } }
        }),
        json!({
            "Report": { "oneOf": [{ "type": "string" }, { "type": "integer" }] },
            "Kept": { "type": "object", "properties": { "n": { "$ref": "#/components/schemas/Nested" } } },
            "Unused": { "type": "string" },
            "Nested": { "type": "string" }
        }),
    );
    input["tags"] =
        json!([{ "name": "segments" }, { "name": "report", "description": "Report API" }]);
    let out = to_swagger2(&input, &opts()).unwrap();
    assert_eq!(
        out["paths"],
        json!({ "/mixed": { "get": { "tags": ["segments"], "responses": {
            "200": { "description": "ok", "schema": { "$ref": "#/definitions/Kept" } }
        } }, "x-ms-keep": true } })
    );
    // The report schema holds a union, which would be an error if it were converted.
    let names: Vec<&String> = out["definitions"].as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        ["Kept", "Nested"],
        "components order, unreachable pruned"
    );
    assert_eq!(out["tags"], json!([{ "name": "segments" }]));
}

#[test]
fn extensions_carried_at_every_level() {
    let mut input = doc(
        json!({
            "x-paths-ext": 1,
            "/hooks": {
                "summary": "dropped",
                "post": {
                    "operationId": "Subscribe",
                    "x-ms-trigger": "single",
                    "parameters": [{ "name": "a", "in": "header", "schema": { "type": "string" }, "x-ms-visibility": "internal" }],
                    "responses": { "201": { "description": "c", "x-ms-summary": "Created" } },
                    "callbacks": { "cb": {} }
                },
                "x-ms-notification-content": {
                    "description": "Event",
                    "schema": { "type": "object", "properties": {
                        "when": { "type": ["string", "null"], "format": "date-time" },
                        "who": { "$ref": "#/components/schemas/Who" }
                    } }
                }
            }
        }),
        json!({ "Who": { "type": "object", "x-ms-summary": "Who" } }),
    );
    input["x-ms-connector-metadata"] =
        json!([{ "propertyName": "Website", "propertyValue": "https://example.com" }]);
    input["info"]["x-ms-api-annotation"] = json!({ "status": "Production" });
    input["info"]["summary"] = json!("3.1 only");
    input["info"]["license"] = json!({ "name": "MIT", "identifier": "MIT" });
    let out = to_swagger2(&input, &opts()).unwrap();
    assert_eq!(out["x-ms-connector-metadata"][0]["propertyName"], "Website");
    assert_eq!(
        out["info"],
        json!({ "title": "T", "version": "1", "x-ms-api-annotation": { "status": "Production" }, "license": { "name": "MIT" } })
    );
    assert_eq!(out["paths"]["x-paths-ext"], 1);
    let item = &out["paths"]["/hooks"];
    assert!(item.get("summary").is_none());
    assert_eq!(item["post"]["x-ms-trigger"], "single");
    assert!(item["post"].get("callbacks").is_none());
    assert_eq!(item["post"]["parameters"][0]["x-ms-visibility"], "internal");
    assert_eq!(item["post"]["responses"]["201"]["x-ms-summary"], "Created");
    assert_eq!(
        item["x-ms-notification-content"],
        json!({
            "description": "Event",
            "schema": { "type": "object", "properties": {
                "when": { "type": "string", "format": "date-time", "x-nullable": true },
                "who": { "$ref": "#/definitions/Who" }
            } }
        })
    );
    assert_eq!(
        out["definitions"]["Who"]["x-ms-summary"], "Who",
        "reachable from an extension"
    );
}

#[test]
fn root_shape_and_determinism() {
    let mut input = doc(
        json!({
            "/b": { "get": { "responses": { "200": { "description": "ok" } }, "x-z": 1, "x-a": 2, "operationId": "B" } },
            "/a": { "get": { "responses": { "200": { "description": "ok" } } } }
        }),
        json!({}),
    );
    input["servers"] = json!([{ "url": "https://ignored.example.com" }]);
    input["security"] = json!([{ "ignored": [] }]);
    let first = to_swagger2(&input, &opts()).unwrap();
    let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "swagger",
            "info",
            "host",
            "basePath",
            "schemes",
            "consumes",
            "produces",
            "paths",
            "securityDefinitions",
            "security"
        ]
    );
    assert_eq!(first["swagger"], "2.0");
    assert_eq!(first["consumes"], json!(["application/json"]));
    assert_eq!(first["security"], json!([{ "api_key": [] }]));
    let paths: Vec<&String> = first["paths"].as_object().unwrap().keys().collect();
    assert_eq!(paths, ["/b", "/a"], "input order kept");
    let op_keys: Vec<&String> = first["paths"]["/b"]["get"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        op_keys,
        ["responses", "x-a", "x-z", "operationId"],
        "x- keys sorted in place"
    );
    let second = to_swagger2(&input, &opts()).unwrap();
    assert_eq!(first.to_string(), second.to_string());

    let mut no_security = opts();
    no_security.security = Value::Null;
    no_security.security_definitions = Value::Null;
    let out = to_swagger2(&input, &no_security).unwrap();
    assert!(out.get("security").is_none() && out.get("securityDefinitions").is_none());
}

#[test]
fn split_public_url_table() {
    let ok: Vec<(&str, &str, &str, &str)> = vec![
        (
            "https://connector.example.com",
            "connector.example.com",
            "/",
            "https",
        ),
        (
            "https://connector.example.com/",
            "connector.example.com",
            "/",
            "https",
        ),
        (
            "https://Connector.Example.com:8443/api/v1/",
            "connector.example.com:8443",
            "/api/v1",
            "https",
        ),
        ("HTTP://10.0.0.1:8080/x", "10.0.0.1:8080", "/x", "http"),
    ];
    for (url, host, base, scheme) in ok {
        assert_eq!(
            split_public_url(url).unwrap(),
            (host.to_owned(), base.to_owned(), vec![scheme.to_owned()]),
            "{url}"
        );
    }
    let bad = [
        "connector.example.com",
        "ftp://example.com",
        "https://",
        "https://user:pw@example.com",
        "https://example.com/?a=1",
        "https://example.com/#x",
        "https://[::1]:8443/",
        "https://example.com:port/",
        "https://exa mple.com",
    ];
    for url in bad {
        let err = split_public_url(url).expect_err(url);
        assert_eq!(err.location, "url");
    }
}

/// A realistic utoipa-shaped service description: one webhook trigger answering 201 with a
/// Location header, its internal DELETE, a lookup GET, a GET with path parameters, nullable
/// fields and references, plus report routes to exclude. Converted, it must lint clean.
fn realistic_openapi() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Customer Insights",
            "description": "Starts flows when profiles join segments and reads profiles and segments.",
            "contact": { "name": "Connector support", "email": "support@example.com" },
            "license": { "name": "Proprietary", "identifier": "LicenseRef-Proprietary" },
            "version": "1.4.0"
        },
        "servers": [{ "url": "https://connector.example.com" }],
        "paths": {
            "/hooks/segment-membership": {
                "post": {
                    "tags": ["webhooks"],
                    "summary": "When a profile joins a segment",
                    "description": "Starts the flow each time a profile is added to the chosen segment.",
                    "operationId": "OnSegmentMembership",
                    "requestBody": {
                        "description": "Which segment to watch and where to deliver events.",
                        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SubscriptionRequest" } } },
                        "required": true,
                        "x-ms-summary": "Subscription",
                        "x-ms-visibility": "important"
                    },
                    "responses": {
                        "201": {
                            "description": "Subscription created",
                            "headers": {
                                "Location": { "schema": { "type": "string" }, "description": "URL to DELETE to unsubscribe" }
                            },
                            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Subscription" } } }
                        },
                        "400": { "description": "Invalid subscription request" }
                    },
                    "x-ms-trigger": "single",
                    "x-ms-trigger-hint": "Add a profile to the segment to test this trigger"
                },
                "x-ms-notification-content": {
                    "description": "Segment membership event",
                    "schema": { "$ref": "#/components/schemas/MembershipEvent" }
                }
            },
            "/hooks/segment-membership/{subscriptionId}": {
                "delete": {
                    "tags": ["webhooks"],
                    "summary": "Delete a segment subscription",
                    "description": "Removes the subscription that the trigger created; Power Automate calls it.",
                    "operationId": "DeleteSegmentSubscription",
                    "parameters": [{
                        "name": "subscriptionId", "in": "path", "required": true,
                        "description": "Identifier of the subscription",
                        "schema": { "type": "string", "format": "uuid" },
                        "x-ms-summary": "Subscription Id", "x-ms-url-encoding": "single",
                        "x-ms-visibility": "advanced"
                    }],
                    "responses": { "204": { "description": "Subscription removed" }, "404": { "description": "Unknown subscription" } },
                    "x-ms-visibility": "internal"
                }
            },
            "/segments": {
                "get": {
                    "tags": ["segments"],
                    "summary": "List segments",
                    "description": "Lists the segments of the Customer Insights environment.",
                    "operationId": "ListSegments",
                    "parameters": [{
                        "name": "top", "in": "query", "required": false,
                        "description": "Maximum number of segments to return",
                        "schema": { "type": ["integer", "null"], "format": "int32", "minimum": 1, "exclusiveMaximum": 1000 },
                        "x-ms-summary": "Top", "x-ms-visibility": "advanced"
                    }],
                    "responses": {
                        "200": { "description": "Segments", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SegmentList" } } } },
                        "default": { "description": "Unexpected error" }
                    }
                }
            },
            "/segments/{segmentId}/profiles/{profileId}": {
                "get": {
                    "tags": ["profiles"],
                    "summary": "Get a profile",
                    "description": "Reads one unified customer profile of a segment.",
                    "operationId": "GetProfile",
                    "parameters": [
                        {
                            "name": "segmentId", "in": "path", "required": true,
                            "description": "Segment the profile belongs to",
                            "schema": { "type": "string" },
                            "x-ms-summary": "Segment", "x-ms-url-encoding": "single", "x-ms-visibility": "important",
                            "x-ms-dynamic-values": { "operationId": "ListSegments", "value-collection": "value", "value-path": "id", "value-title": "name" }
                        },
                        {
                            "name": "profileId", "in": "path", "required": true,
                            "description": "Identifier of the profile",
                            "schema": { "type": "string", "format": "uuid" },
                            "x-ms-summary": "Profile Id", "x-ms-url-encoding": "single", "x-ms-visibility": "important"
                        },
                        {
                            "name": "fields", "in": "query", "required": false, "style": "form", "explode": false,
                            "description": "Profile fields to return",
                            "schema": { "type": ["array", "null"], "items": { "$ref": "#/components/schemas/ProfileField" } },
                            "x-ms-summary": "Fields", "x-ms-visibility": "advanced"
                        }
                    ],
                    "responses": {
                        "200": { "description": "The profile", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Profile" } } } },
                        "404": { "description": "No such profile" }
                    }
                }
            },
            "/report/usage": {
                "get": {
                    "tags": ["report"],
                    "operationId": "usage_report",
                    "responses": { "200": { "description": "Usage", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/UsageReport" } } } } }
                }
            },
            "/metrics": {
                "get": { "tags": ["operator"], "responses": { "200": { "description": "metrics", "content": { "text/plain": { "schema": { "type": "string" } } } } } }
            }
        },
        "components": {
            "schemas": {
                "MembershipEvent": {
                    "type": "object",
                    "required": ["profileId", "segment", "joinedAt"],
                    "properties": {
                        "profileId": { "type": "string", "format": "uuid", "description": "Profile that joined", "x-ms-summary": "Profile Id" },
                        "segment": {
                            "oneOf": [{ "$ref": "#/components/schemas/Segment", "description": "Segment joined" }, { "type": "null" }],
                            "x-ms-summary": "Segment"
                        },
                        "displayName": { "type": ["string", "null"], "description": "Profile display name", "x-ms-summary": "Display Name" },
                        "joinedAt": { "type": "string", "format": "date-time", "description": "When the profile joined", "x-ms-summary": "Joined At" }
                    }
                },
                "Profile": {
                    "type": "object",
                    "required": ["id", "attributes"],
                    "properties": {
                        "id": { "type": "string", "format": "uuid", "description": "Profile identifier", "x-ms-summary": "Profile Id" },
                        "email": { "type": ["string", "null"], "format": "email", "description": "Primary email", "x-ms-summary": "Email" },
                        "attributes": {
                            "type": "object", "additionalProperties": { "type": "string" }, "propertyNames": { "type": "string" },
                            "description": "Profile attributes by name", "x-ms-summary": "Attributes"
                        },
                        "score": { "type": ["number", "null"], "format": "double", "exclusiveMinimum": 0, "description": "Engagement score", "x-ms-summary": "Score" }
                    }
                },
                "ProfileField": { "type": "string", "enum": ["email", "score", "attributes"] },
                "Segment": {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {
                        "id": { "type": "string", "description": "Segment identifier", "x-ms-summary": "Segment Id" },
                        "name": { "type": "string", "description": "Segment name", "x-ms-summary": "Segment Name" },
                        "size": { "type": ["integer", "null"], "format": "int64", "minimum": 0, "description": "Number of members", "x-ms-summary": "Size" }
                    }
                },
                "SegmentList": {
                    "type": "object",
                    "required": ["value"],
                    "properties": {
                        "value": { "type": "array", "items": { "$ref": "#/components/schemas/Segment" }, "description": "The segments", "x-ms-summary": "Segments" }
                    }
                },
                "Subscription": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "id": { "type": "string", "format": "uuid", "description": "Subscription identifier", "x-ms-summary": "Subscription Id" }
                    }
                },
                "SubscriptionRequest": {
                    "type": "object",
                    "required": ["notificationUrl", "segmentId", "source"],
                    "properties": {
                        "notificationUrl": {
                            "type": "string", "format": "uri", "description": "Callback URL Power Automate provides",
                            "x-ms-notification-url": true, "x-ms-visibility": "internal", "x-ms-summary": "Notification URL"
                        },
                        "segmentId": {
                            "type": "string", "description": "Segment to watch", "x-ms-summary": "Segment",
                            "x-ms-dynamic-values": { "operationId": "ListSegments", "value-collection": "value", "value-path": "id", "value-title": "name" }
                        },
                        "source": { "type": "string", "default": "power-automate", "description": "Caller kind", "x-ms-summary": "Source", "x-ms-visibility": "internal" }
                    }
                },
                "UsageReport": { "oneOf": [{ "type": "string" }, { "type": "integer" }] }
            },
            "securitySchemes": { "api_key": { "type": "apiKey", "in": "header", "name": "X-Api-Key" } }
        },
        "tags": [{ "name": "webhooks" }, { "name": "segments" }, { "name": "profiles" }, { "name": "report" }],
        "x-ms-connector-metadata": [
            { "propertyName": "Website", "propertyValue": "https://example.com" },
            { "propertyName": "Privacy policy", "propertyValue": "https://example.com/privacy" },
            { "propertyName": "Categories", "propertyValue": "Data;Marketing" }
        ]
    })
}

#[test]
fn round_trip_converts_to_a_lint_clean_definition() {
    let (host, base_path, schemes) = split_public_url("https://connector.example.com/").unwrap();
    let options = Swagger2Options {
        host,
        base_path,
        schemes,
        ..opts()
    };
    let out = to_swagger2(&realistic_openapi(), &options).unwrap();

    let findings = crate::lint::lint(&out);
    assert!(
        findings.is_empty(),
        "findings:\n{}\n{}",
        findings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        serde_json::to_string_pretty(&out).unwrap()
    );

    let paths: Vec<&String> = out["paths"].as_object().unwrap().keys().collect();
    assert_eq!(
        paths,
        [
            "/hooks/segment-membership",
            "/hooks/segment-membership/{subscriptionId}",
            "/segments",
            "/segments/{segmentId}/profiles/{profileId}"
        ]
    );
    assert!(out["definitions"].get("UsageReport").is_none());
    assert_eq!(out["info"]["license"], json!({ "name": "Proprietary" }));
    let trigger = &out["paths"]["/hooks/segment-membership"]["post"];
    assert_eq!(
        trigger["parameters"][0]["schema"],
        json!({ "$ref": "#/definitions/SubscriptionRequest" })
    );
    assert_eq!(trigger["parameters"][0]["x-ms-summary"], "Subscription");
    assert_eq!(
        trigger["responses"]["201"]["headers"]["Location"],
        json!({ "type": "string", "description": "URL to DELETE to unsubscribe" })
    );
    assert_eq!(
        out["definitions"]["MembershipEvent"]["properties"]["segment"],
        json!({ "$ref": "#/definitions/Segment", "description": "Segment joined", "x-ms-summary": "Segment", "x-nullable": true })
    );
    assert_eq!(
        out["definitions"]["Profile"]["properties"]["score"],
        json!({ "type": "number", "format": "double", "minimum": 0, "exclusiveMinimum": true, "description": "Engagement score", "x-ms-summary": "Score", "x-nullable": true })
    );
    let fields =
        &out["paths"]["/segments/{segmentId}/profiles/{profileId}"]["get"]["parameters"][2];
    assert_eq!(
        *fields,
        json!({
            "name": "fields", "in": "query", "required": false,
            "description": "Profile fields to return",
            "type": "array", "items": { "type": "string", "enum": ["email", "score", "attributes"] }, "x-nullable": true,
            "collectionFormat": "csv", "x-ms-summary": "Fields", "x-ms-visibility": "advanced"
        })
    );
}
