//! The published documents: committed copies match the code, pass Microsoft's JSON Schemas,
//! an OpenAPI 3.1 validator and the certification lint, and the live API survives a fuzzer.

use std::path::Path;
use std::process::Command;

use insights_connector::http::document;
use insights_connector::openapi::connector::{self, ConnectorAuth, ConnectorSettings};
use powerplatform_connector::{diff, lint};
use serde_json::Value;

use crate::helpers::{Receiver, spawn_app, token, venv_tool};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Microsoft's JSON Schemas of a connector package, kept with the connector tooling.
const SCHEMAS: &str = "crates/powerplatform-connector/tests/fixtures";

fn run(command: &mut Command) -> String {
    let output = command.output().expect("the tool starts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Validators may quote the whole document; the end of their output says what failed.
    let tail: String = text
        .chars()
        .rev()
        .take(3000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(output.status.success(), "{command:?} failed:\n...{tail}");
    text
}

#[test]
fn committed_documents_match_what_the_code_generates() {
    let mut stale = Vec::new();
    for (path, generated) in
        connector::package_files(&document(), &ConnectorSettings::placeholder()).unwrap()
    {
        let committed = std::fs::read(Path::new(ROOT).join(&path))
            .unwrap_or_else(|_| panic!("{path} is not committed"));
        if path.ends_with(".json") {
            let differences = diff::diff(
                &serde_json::from_slice::<Value>(&committed).unwrap(),
                &serde_json::from_slice::<Value>(&generated).unwrap(),
            );
            if !differences.is_empty() {
                let report = diff::report(&differences, "committed", "generated", 30);
                stale.push(format!("{path}:\n{report}"));
            }
        } else if committed != generated {
            stale.push(format!(
                "{path}: the committed bytes differ from the generated ones"
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "the committed documents are not what the code generates; run `cargo run -- export` and commit the result\n\n{}",
        stale.join("\n")
    );
}

#[test]
fn the_committed_definitions_pass_microsofts_schemas_and_the_lint() {
    for folder in ["connector-definition", "connector-definition/api-key"] {
        let definition_path = Path::new(ROOT)
            .join(folder)
            .join("apiDefinition.swagger.json");
        let properties_path = Path::new(ROOT).join(folder).join("apiProperties.json");
        let definition: Value =
            serde_json::from_slice(&std::fs::read(&definition_path).unwrap()).unwrap();
        let properties: Value =
            serde_json::from_slice(&std::fs::read(&properties_path).unwrap()).unwrap();
        let findings = lint::lint_package(&definition, &properties);
        assert!(
            findings.is_empty(),
            "{folder}: lint findings:\n{findings:#?}"
        );
        run(Command::new(venv_tool("python"))
            .arg(Path::new(ROOT).join("tools/validate_connector.py"))
            .arg(Path::new(ROOT).join(SCHEMAS))
            .arg(&definition_path)
            .arg(&properties_path));
    }
    run(Command::new(venv_tool("openapi-spec-validator"))
        .arg(Path::new(ROOT).join("openapi/openapi.json")));
}

#[tokio::test]
async fn the_served_documents_name_this_service_and_pass_the_same_checks() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let mut saved = Vec::new();
    for (path, name) in [
        (
            "/connector/apiDefinition.swagger.json",
            "apiDefinition.swagger.json",
        ),
        ("/connector/apiProperties.json", "apiProperties.json"),
        ("/openapi.json", "openapi.json"),
        (
            "/connector/apiDefinition.swagger.json?auth=api-key",
            "key.apiDefinition.swagger.json",
        ),
        (
            "/connector/apiProperties.json?auth=api-key",
            "key.apiProperties.json",
        ),
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        std::fs::write(dir.path().join(name), body.to_string()).unwrap();
        saved.push(body);
    }
    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text().await.unwrap().contains("swagger-ui"),
        "the docs page is served"
    );
    // Its scripts come from the service itself, so it works offline.
    let bundle = app
        .client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
    let definition = &saved[0];
    let port = app.address.rsplit(':').next().unwrap();
    assert_eq!(definition["host"], format!("127.0.0.1:{port}"));
    assert_eq!(definition["schemes"], serde_json::json!(["http"]));
    // The served copy points at plain http on loopback; everything else is as certified.
    let findings: Vec<_> = lint::lint_package(definition, &saved[1])
        .into_iter()
        .filter(|f| f.rule != lint::Rule::SchemesHttps)
        .collect();
    assert!(findings.is_empty(), "lint findings:\n{findings:#?}");
    run(Command::new(venv_tool("python"))
        .arg(Path::new(ROOT).join("tools/validate_connector.py"))
        .arg(Path::new(ROOT).join(SCHEMAS))
        .arg(dir.path().join("apiDefinition.swagger.json"))
        .arg(dir.path().join("apiProperties.json")));
    run(Command::new(venv_tool("openapi-spec-validator")).arg(dir.path().join("openapi.json")));
    assert_eq!(
        saved[0]["securityDefinitions"]["oauth2_auth"]["type"],
        "oauth2"
    );
    assert_eq!(
        saved[3]["securityDefinitions"]["api_key"]["name"],
        "X-API-Key"
    );
    run(Command::new(venv_tool("python"))
        .arg(Path::new(ROOT).join("tools/validate_connector.py"))
        .arg(Path::new(ROOT).join(SCHEMAS))
        .arg(dir.path().join("key.apiDefinition.swagger.json"))
        .arg(dir.path().join("key.apiProperties.json")));
    let unknown = app
        .client
        .get(app.url("/connector/apiProperties.json?auth=basic"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
}

#[test]
fn the_report_api_and_probes_stay_out_of_the_connector() {
    let definition = connector::api_definition(
        &document(),
        &ConnectorSettings::placeholder(),
        ConnectorAuth::AzureAd,
    )
    .unwrap();
    let paths: Vec<&String> = definition["paths"].as_object().unwrap().keys().collect();
    assert!(paths.iter().all(|p| !p.contains("/reports/")), "{paths:?}");
    for operator_path in ["/healthz", "/readyz", "/connector/apiProperties.json"] {
        assert!(
            !paths.iter().any(|p| p.as_str() == operator_path),
            "{operator_path}"
        );
    }
    let openapi = serde_json::to_value(document()).unwrap();
    assert!(openapi["paths"]["/api/v1/instances/{instanceId}/reports/segment-size"].is_object());
}

/// Each trigger's `x-ms-notification-content` names exactly the fields its callback carries.
#[tokio::test]
async fn notification_schemas_list_exactly_the_delivered_fields() {
    let app = spawn_app().await;
    let mut receiver = Receiver::start().await;
    let definition = connector::api_definition(
        &document(),
        &ConnectorSettings::placeholder(),
        ConnectorAuth::AzureAd,
    )
    .unwrap();
    let instance = app.create_instance("schemas").await;
    app.report(
        &instance,
        "segment-size",
        &serde_json::json!({"segmentId": "s", "memberCount": 1}),
    )
    .await;
    app.report(
        &instance,
        "measure-value",
        &serde_json::json!({"measureId": "m", "value": 1}),
    )
    .await;
    let cases = [
        (
            "data-source-refresh-failed",
            serde_json::json!({}),
            "data-source-refresh",
            serde_json::json!({"dataSourceId": "d", "status": "failed"}),
        ),
        (
            "data-source-refresh-succeeded",
            serde_json::json!({}),
            "data-source-refresh",
            serde_json::json!({"dataSourceId": "d", "status": "succeeded"}),
        ),
        (
            "segment-threshold-crossed",
            serde_json::json!({"segmentId": "s", "threshold": 1}),
            "segment-size",
            serde_json::json!({"segmentId": "s", "memberCount": 2}),
        ),
        (
            "measure-threshold-crossed",
            serde_json::json!({"measureId": "m", "threshold": 1}),
            "measure-value",
            serde_json::json!({"measureId": "m", "value": 2}),
        ),
        (
            "full-refresh-completed",
            serde_json::json!({}),
            "full-refresh",
            serde_json::json!({"status": "succeeded"}),
        ),
        (
            "unification-completed",
            serde_json::json!({}),
            "unification",
            serde_json::json!({"status": "succeeded"}),
        ),
    ];
    for (trigger, mut filter, report, body) in cases {
        filter["notificationUrl"] = serde_json::json!(receiver.callback(trigger));
        app.subscribe(&instance, trigger, &filter).await;
        app.report(&instance, report, &body).await;
        let delivered = receiver.next().await.body;
        let path = format!("/api/v1/instances/{{instanceId}}/triggers/{trigger}");
        let reference = definition["paths"][&path]["x-ms-notification-content"]["schema"]["$ref"]
            .as_str()
            .unwrap();
        let schema = &definition["definitions"][reference.rsplit('/').next().unwrap()];
        let mut documented: Vec<&String> =
            schema["properties"].as_object().unwrap().keys().collect();
        let mut sent: Vec<&String> = delivered.as_object().unwrap().keys().collect();
        documented.sort();
        sent.sort();
        assert_eq!(documented, sent, "{trigger}");
        for (name, property) in schema["properties"].as_object().unwrap() {
            assert!(
                property["x-ms-summary"].is_string(),
                "{trigger}: {name} has no label"
            );
            assert!(
                property["description"].is_string(),
                "{trigger}: {name} has no description"
            );
        }
    }
}

/// schemathesis generates requests from `/openapi.json` (up to 30 per operation in each phase)
/// and checks that no answer is a 5xx, every answer matches its schema, and every status is
/// declared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_in_the_live_api() {
    let imports = tempfile::tempdir().unwrap();
    let app = crate::helpers::spawn_app_builder()
        .rate_limits("1000000/60s", "1000000/60s")
        .import_dir(imports.path())
        .spawn()
        .await;
    app.create_instance("fuzzed").await;
    let bearer = format!(
        "Authorization: Bearer {}",
        token(crate::helpers::TENANT, true)
    );
    let schema_url = app.url("/openapi.json");
    let report = tempfile::tempdir().unwrap();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(venv_tool("st"))
            // Definitions whose validity depends on the instance's data may answer 422 to a
            // body that fits the schema; the file says which.
            .arg("--config-file")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tools/schemathesis.toml"
            ))
            .args([
                "run",
                &schema_url,
                "--checks",
                "all",
                "--max-examples",
                "30",
            ])
            // One worker: hypothesis's source inspection is not thread-safe on every Python
            // (it fails with "AST constructor recursion depth mismatch" under two).
            .args(["--header", &bearer, "--workers", "1", "--no-color"])
            .args(["--phases", "examples,coverage,fuzzing,stateful"])
            // A subscribe naming an unknown segment answers 404, as the contract requires;
            // this check would read that as "the instance just created is missing".
            .args(["--exclude-checks", "ensure_resource_availability"])
            .arg("--report-dir")
            .arg(report.path())
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{text}"
    );
}

/// Each security definition has its connection parameter in `apiProperties.json`: a
/// `securestring` for an API key, an `oauthSetting` for OAuth 2.0.
#[test]
fn connection_parameters_match_the_security_definitions() {
    let settings = ConnectorSettings::placeholder();
    for auth in ConnectorAuth::ALL {
        let definition = connector::api_definition(&document(), &settings, auth).unwrap();
        let properties = connector::api_properties(&document(), &settings, auth).unwrap();
        let parameters = properties["properties"]["connectionParameters"]
            .as_object()
            .unwrap();
        let definitions = definition["securityDefinitions"].as_object().unwrap();
        assert_eq!(
            definitions.len(),
            1,
            "{auth:?}: one way to sign in per package"
        );
        assert_eq!(
            parameters.len(),
            1,
            "{auth:?}: one connection parameter per package"
        );
        let (name, scheme) = definitions.iter().next().unwrap();
        let parameter = parameters.values().next().unwrap();
        match scheme["type"].as_str().unwrap() {
            "apiKey" => {
                assert_eq!(scheme["in"], "header", "{name}");
                assert_eq!(parameter["type"], "securestring", "{name}");
            }
            "oauth2" => {
                assert_eq!(parameter["type"], "oauthSetting", "{name}");
                let settings = &parameter["oAuthSettings"];
                assert_eq!(settings["identityProvider"], "aad");
                assert_eq!(
                    settings["redirectUrl"],
                    "https://global.consent.azure-apim.net/redirect"
                );
            }
            other => panic!("{name}: Power Automate has no connection parameter for {other}"),
        }
        for color in ["#007ee5", "#ffffff"] {
            assert_ne!(properties["properties"]["iconBrandColor"], color);
        }
    }
}

#[test]
fn the_icon_is_a_230_pixel_square_png() {
    let png = connector::ICON_PNG;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (230, 230));
    // Colour type 2: RGB, no alpha channel, so the background cannot be transparent.
    assert_eq!(png[25], 2);
}
