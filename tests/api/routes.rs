//! The router and the document come from one list of operations: every (path, method) the
//! document lists reaches its operation, and another method on a documented path answers 405.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

/// The router's own 404, as opposed to an operation's answer that an id names nothing.
const NO_ROUTE: &str = "No resource exists at this path.";

/// `path` with its parameters filled in: the real instance, made-up ids for the rest.
fn fill(path: &str, instance: &str) -> String {
    path.replace("{instanceId}", instance)
        .replace("{subscriptionId}", "00000000-0000-4000-8000-000000000000")
        .replace("{deliveryId}", "00000000-0000-4000-8000-000000000000")
        .replace("{dataSourceId}", "d")
        .replace("{segmentId}", "s")
        .replace("{measureId}", "m")
        .replace("{refreshId}", "00000000-0000-4000-8000-000000000000")
        .replace("{entityName}", "e")
        .replace("{itemId}", "i")
}

/// The status, the JSON body (null when it is not JSON) and the `Allow` header of an answer.
async fn call(
    app: &crate::helpers::TestApp,
    method: Method,
    url: &str,
) -> (u16, Value, Option<String>) {
    let response = app
        .client
        .request(method, app.url(url))
        .bearer_auth(&app.platform_token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let allow = response
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null);
    (status, body, allow)
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_other_methods_answer_405() {
    let app = spawn_app().await;
    let instance = app.create_instance("routes").await;
    let document = serde_json::to_value(insights_connector::http::document()).unwrap();
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() > 20, "the document lists the operations");
    for (path, item) in paths {
        let url = fill(path, &instance);
        assert!(
            !url.contains('{'),
            "{path} has a parameter this test does not fill"
        );
        let methods = ["get", "put", "post", "delete", "patch"];
        let documented: Vec<String> = methods
            .iter()
            .filter(|m| item.get(**m).is_some())
            .map(|m| m.to_uppercase())
            .collect();
        for method in methods {
            let verb = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, body, allow) = call(&app, verb, &url).await;
            if item.get(method).is_some() {
                assert_ne!(status, 405, "{method} {path} is documented: {body}");
                assert!(
                    status != 404 || body["message"] != NO_ROUTE,
                    "{method} {path} is documented but not routed"
                );
            } else {
                assert_eq!(status, 405, "{method} {path} is not documented: {body}");
                assert_eq!(body["code"], "method_not_allowed", "{method} {path}");
                assert_eq!(allow, Some(documented.join(", ")), "{method} {path}");
            }
        }
    }
    let (status, body, _) = call(&app, Method::GET, "/api/v1/nothing-here").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
}
