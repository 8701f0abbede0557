//! What the engine's definition endpoints refuse, and why (a bad-input table per endpoint,
//! each answer naming the field), another tenant answered 404 on every new path, and segment
//! members paged like items.

use reqwest::Method;
use serde_json::{Value, json};

use crate::full_refresh::{full_refresh, put_ok, retail};
use crate::helpers::{OTHER_TENANT, TestApp, spawn_app, token};

/// PUTs each body to `path` and checks a 422 whose message names the field.
async fn refused(app: &TestApp, path: &str, cases: Vec<(Value, &str, &str)>) {
    for (body, field, why) in cases {
        let response = app.put(path, &body).await;
        let status = response.status();
        let error: Value = response.json().await.unwrap();
        assert_eq!(status, 422, "{why}: {error}");
        assert_eq!(error["code"], "invalid_request", "{why}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(field), "{why}: {message}");
    }
}

fn unification(sources: Value, rules: Value) -> Value {
    json!({"sources": sources, "rules": rules})
}

#[tokio::test]
async fn bad_unifications_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let instance = app.create_instance("inputs").await;
    retail(&app, &instance).await;
    let path = format!("/api/v1/instances/{instance}/unification");
    let crm = json!({"dataSourceId": "crm", "attributes": {"Email": "Email"}});
    let rule = json!({"name": "email", "conditions": [{"attribute": "Email"}]});
    full_refresh(&app, &instance).await;
    let cases = vec![
        (
            unification(json!([]), json!([rule])),
            "sources",
            "no sources",
        ),
        (unification(json!([crm]), json!([])), "rules", "no rules"),
        (
            unification(
                json!([{"dataSourceId": "nowhere", "attributes": {"Email": "Email"}}]),
                json!([rule]),
            ),
            "sources[0].dataSourceId",
            "an unknown data source",
        ),
        (
            unification(
                json!([{"dataSourceId": "Customer", "attributes": {"Email": "Email"}}]),
                json!([rule]),
            ),
            "sources[0].dataSourceId",
            "Customer is the unified entity",
        ),
        (
            unification(
                json!([{"dataSourceId": "crm", "attributes": {"CustomerId": "Email"}}]),
                json!([rule]),
            ),
            "CustomerId",
            "CustomerId is the engine's",
        ),
        (
            unification(
                json!([{"dataSourceId": "crm", "attributes": {"Email": "Mail"}}]),
                json!([rule]),
            ),
            "sources[0].attributes.Email",
            "crm has no field Mail",
        ),
        (
            unification(
                json!([crm]),
                json!([{"name": "x", "conditions": [{"attribute": "Phone"}]}]),
            ),
            "rules[0].conditions[0].attribute",
            "no source maps Phone",
        ),
        (
            unification(
                json!([crm]),
                json!([{"name": "x", "conditions": [{"attribute": "Email", "normalize": ["soundex"]}]}]),
            ),
            "rules[0].conditions[0].normalize[0]",
            "an unknown normalization",
        ),
        (
            unification(json!([crm, crm]), json!([rule])),
            "sources[1].dataSourceId",
            "a source twice",
        ),
        (
            json!({"sources": [crm], "rules": [rule], "merge": "last"}),
            "merge",
            "an unknown field",
        ),
    ];
    refused(&app, &path, cases).await;
    // Refused definitions changed nothing: the stored one answers.
    let stored: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(stored["sources"][1]["dataSourceId"], "shop");
    assert_eq!(
        stored["sources"][0]["attributes"],
        json!({"CrmId": "ContactId", "Name": "Name", "Email": "Email", "Phone": "Phone"}),
        "attributes keep their order"
    );
    // Replacing answers 200.
    let response = app
        .put(&path, &unification(json!([crm]), json!([rule])))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn bad_measures_and_segments_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let instance = app.create_instance("inputs").await;
    retail(&app, &instance).await;
    full_refresh(&app, &instance).await;
    let measure = format!("/api/v1/instances/{instance}/measures/m");
    let m = |body: Value| body;
    let cases = vec![
        (
            m(json!({"name": "", "entity": "orders", "aggregate": "count"})),
            "name",
            "an empty name",
        ),
        (
            m(json!({"name": "M", "entity": "nowhere", "aggregate": "count"})),
            "entity",
            "an unknown entity",
        ),
        (
            m(json!({"name": "M", "entity": "orders", "aggregate": "median", "field": "Total"})),
            "aggregate",
            "an unknown aggregate",
        ),
        (
            m(json!({"name": "M", "entity": "orders", "aggregate": "sum"})),
            "field",
            "sum needs a field",
        ),
        (
            m(json!({"name": "M", "entity": "orders", "aggregate": "sum", "field": "OrderId"})),
            "field",
            "sum of text",
        ),
        (
            m(json!({"name": "M", "entity": "orders", "aggregate": "max", "field": "Price"})),
            "field",
            "orders have no Price",
        ),
        (
            m(json!({"name": "M", "entity": "orders", "aggregate": "count", "filter": "Total gt"})),
            "position",
            "a filter syntax error names its position",
        ),
        (
            m(
                json!({"name": "M", "entity": "orders", "aggregate": "count", "filter": "Price gt 3"}),
            ),
            "Price",
            "a filter on a field orders do not have",
        ),
        (
            m(json!({"name": "M", "entity": "orders", "aggregate": "count", "per": "store"})),
            "per",
            "per is customer or absent",
        ),
        (
            m(json!({"name": "M", "entity": "orders", "aggregate": "count", "per": "customer"})),
            "attribute",
            "a customer measure needs its attribute",
        ),
        (
            m(json!({"name": "M", "entity": "orders", "aggregate": "count", "attribute": "X"})),
            "attribute",
            "only customer measures have attributes",
        ),
        (
            m(
                json!({"name": "M", "entity": "orders", "aggregate": "count", "per": "customer", "attribute": "Email"}),
            ),
            "attribute",
            "Email is a unified attribute",
        ),
        (
            m(
                json!({"name": "M", "entity": "orders", "aggregate": "count", "per": "customer", "attribute": "Spend"}),
            ),
            "attribute",
            "measure spend stores its values in Spend",
        ),
        (
            m(
                json!({"name": "M", "entity": "shop", "aggregate": "count", "per": "customer", "attribute": "Visits"}),
            ),
            "entity",
            "the shop names no customer",
        ),
        (
            m(json!({"name": "M", "entity": "orders", "aggregate": "count", "unit": "EUR"})),
            "unit",
            "an unknown field",
        ),
    ];
    refused(&app, &measure, cases).await;
    let listed: Value = app
        .get(&format!("/api/v1/instances/{instance}/measures"))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = listed["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["big_orders", "revenue"],
        "business measures only, nothing refused"
    );

    let segment = format!("/api/v1/instances/{instance}/segments/s");
    let cases = vec![
        (
            json!({"name": " ", "filter": "City eq 'Oslo'"}),
            "name",
            "a blank name",
        ),
        (
            json!({"name": "S", "filter": "City eq 'Oslo"}),
            "position",
            "an unterminated text",
        ),
        (
            json!({"name": "S", "filter": "City eq"}),
            "position 7",
            "a missing operand, at the end (positions count from 0)",
        ),
        (json!({"name": "S"}), "filter", "the filter is required"),
        (
            json!({"name": "S", "filter": "true", "limit": 3}),
            "limit",
            "an unknown field",
        ),
    ];
    refused(&app, &segment, cases).await;
    let missing = app.get(&segment).await;
    assert_eq!(missing.status(), 404, "nothing was stored");

    // A good one is in the catalog at once, without a member count; replacing answers 200.
    let defined = put_ok(&app, &segment, &json!({"name": "S", "filter": "true"})).await;
    assert_eq!(defined["id"], "s");
    let listed: Value = app.get(&segment).await.json().await.unwrap();
    assert_eq!(listed["name"], "S");
    assert!(listed["memberCount"].is_null());
    let replaced = app
        .put(&segment, &json!({"name": "Everyone", "filter": "true"}))
        .await;
    assert_eq!(replaced.status(), 200);
    let listed: Value = app.get(&segment).await.json().await.unwrap();
    assert_eq!(listed["name"], "Everyone");
}

#[tokio::test]
async fn segment_members_page_like_items_with_a_next_link() {
    let app = spawn_app().await;
    let instance = app.create_instance("members").await;
    retail(&app, &instance).await;
    let members = |segment: &str, query: &str| {
        format!("/api/v1/instances/{instance}/segments/{segment}/members?{query}")
    };
    // Defined, not yet evaluated: no members.
    let empty: Value = app.get(&members("oslo", "")).await.json().await.unwrap();
    assert_eq!(empty["value"], json!([]));
    assert_eq!(app.get(&members("oslo", "$top=0")).await.status(), 400);
    full_refresh(&app, &instance).await;

    // The members are the customers that pass the filter, with all their fields.
    let customers: Value = app
        .get(&format!(
            "/api/v1/instances/{instance}/entities/Customer/items?$filter=City%20eq%20'Oslo'&$orderby=CustomerId"
        ))
        .await
        .json()
        .await
        .unwrap();
    let expected = customers["value"].as_array().unwrap().clone();
    assert_eq!(expected.len(), 2);
    let mut seen = Vec::new();
    let mut next = Some(app.url(&members("oslo", "$top=1&$orderby=CustomerId")));
    while let Some(link) = next {
        let response = app
            .client
            .get(&link)
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.unwrap();
        assert!(page["value"].as_array().unwrap().len() <= 1);
        seen.extend(page["value"].as_array().unwrap().iter().cloned());
        next = page["nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, expected, "every member once, in order, by next links");

    let selected: Value = app
        .get(&members(
            "oslo",
            "$select=Email&$skip=1&$orderby=CustomerId",
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(selected["value"], json!([{"Email": expected[1]["Email"]}]));

    for (query, code) in [
        ("$top=0", "invalid_query"),
        ("$top=1001", "invalid_query"),
        ("$filter=City%20eq", "filter_syntax_error"),
        ("$select=Nope", "unknown_field"),
        ("$orderby=City%20up", "invalid_orderby"),
    ] {
        let response = app.get(&members("oslo", query)).await;
        assert_eq!(response.status(), 400, "{query}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], code, "{query}");
    }
    let unknown = app.get(&members("nowhere", "")).await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn another_tenant_gets_404_on_every_definition_and_full_refresh_path() {
    let app = spawn_app().await;
    let instance = app.create_instance("owned").await;
    retail(&app, &instance).await;
    put_ok(
        &app,
        &format!("/api/v1/instances/{instance}/schedule"),
        &json!({"cron": "0 6 * * *", "timeZone": "UTC"}),
    )
    .await;
    let base = format!("/api/v1/instances/{instance}");
    let intruder = token(OTHER_TENANT, false);
    let requests: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("{base}/unification"), None),
        (
            Method::PUT,
            format!("{base}/unification"),
            Some(
                json!({"sources": [{"dataSourceId": "crm", "attributes": {"Email": "Email"}}],
                        "rules": [{"name": "e", "conditions": [{"attribute": "Email"}]}]}),
            ),
        ),
        (
            Method::PUT,
            format!("{base}/measures/revenue"),
            Some(json!({"name": "Mine", "entity": "orders", "aggregate": "count"})),
        ),
        (
            Method::PUT,
            format!("{base}/segments/oslo"),
            Some(json!({"name": "Mine", "filter": "true"})),
        ),
        (Method::GET, format!("{base}/segments/oslo/members"), None),
        (Method::GET, format!("{base}/schedule"), None),
        (
            Method::PUT,
            format!("{base}/schedule"),
            Some(json!({"cron": "* * * * *", "timeZone": "UTC"})),
        ),
        (Method::DELETE, format!("{base}/schedule"), None),
        (Method::POST, format!("{base}/refresh"), None),
    ];
    for (method, path, body) in &requests {
        let mut request = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&intruder);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 404, "{method} {path}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "not_found", "{method} {path}");
    }
    // Nothing the intruder tried changed the owner's definitions, and nothing ran.
    let schedule: Value = app
        .get(&format!("{base}/schedule"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(schedule["cron"], "0 6 * * *");
    let segment: Value = app
        .get(&format!("{base}/segments/oslo"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(segment["name"], "Oslo");
    assert!(app.refreshes(&instance).await.is_empty());
    let unification: Value = app
        .get(&format!("{base}/unification"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unification["sources"].as_array().unwrap().len(), 2);
}
