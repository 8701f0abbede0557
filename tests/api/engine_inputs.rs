//! What the engine's endpoints refuse, and why: a bad-input table per endpoint, another tenant
//! answered 404 on every new path, file sources kept inside the import directory, URL sources
//! behind the callback address rules, and bad sources failing their refresh with a named code.

use actix_web::{HttpResponse, web};
use reqwest::Method;
use serde_json::{Value, json};

use crate::engine::{CONTACTS, define, refresh, upload, upload_source};
use crate::helpers::{
    OTHER_TENANT, TestApp, serve_on_loopback, spawn_app, spawn_app_builder, token,
};

/// Sends `method path` with an optional JSON body and answers the status and body.
async fn send(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&app.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// An instance with a refreshed upload source `crm`.
async fn with_contacts(app: &TestApp) -> String {
    let instance = app.create_instance("inputs").await;
    define(app, &instance, "crm", upload_source("CRM")).await;
    upload(app, &instance, "crm", "text/csv", CONTACTS).await;
    assert_eq!(refresh(app, &instance, "crm").await["status"], "succeeded");
    instance
}

#[tokio::test]
async fn bad_data_source_definitions_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let instance = app.create_instance("definitions").await;
    let good = || upload_source("CRM");
    let with = |key: &str, value: Value| {
        let mut body = good();
        body[key] = value;
        body
    };
    let cases: Vec<(&str, Value, u16, &str, &str)> = vec![
        (
            "crm",
            with("name", json!("   ")),
            422,
            "name",
            "a blank name",
        ),
        (
            "crm",
            with("name", json!(7)),
            422,
            "name",
            "a name that is not text",
        ),
        (
            "crm",
            with("format", json!("xml")),
            422,
            "format",
            "an unknown format",
        ),
        (
            "crm",
            with("primaryKey", json!("")),
            422,
            "primaryKey",
            "no primary key",
        ),
        (
            "crm",
            with("source", json!({"kind": "ftp"})),
            422,
            "source",
            "an unknown source kind",
        ),
        (
            "crm",
            with("source", json!({"kind": "upload", "path": "a.csv"})),
            422,
            "path",
            "a field of another kind",
        ),
        (
            "crm",
            with("source", json!({"kind": "file"})),
            422,
            "path",
            "a file without a path",
        ),
        (
            "crm",
            with("source", json!({"kind": "file", "path": "a.csv"})),
            422,
            "INSIGHTS_IMPORT_DIR",
            "file sources are off without an import directory",
        ),
        (
            "crm",
            with(
                "source",
                json!({"kind": "url", "url": "ftp://example.com/a.csv"}),
            ),
            422,
            "source.url",
            "not http",
        ),
        (
            "crm",
            with(
                "source",
                json!({"kind": "url", "url": "https://user:pw@example.com/a.csv"}),
            ),
            422,
            "source.url",
            "credentials in the URL",
        ),
        (
            "crm",
            with("extra", json!(1)),
            422,
            "extra",
            "an unknown field",
        ),
        (
            "crm",
            with(
                "customer",
                json!({"dataSourceId": "nowhere", "field": "ContactId"}),
            ),
            404,
            "customer.dataSourceId",
            "a customer source that is not defined",
        ),
        (
            "crm",
            with(
                "customer",
                json!({"dataSourceId": "crm", "field": "ContactId"}),
            ),
            404,
            "customer.dataSourceId",
            "a source is not its own customer source",
        ),
        (
            "crm",
            with(
                "customer",
                json!({"dataSourceId": " crm", "field": "ContactId"}),
            ),
            422,
            "customer.dataSourceId",
            "a customer source id with a leading space",
        ),
        (
            "Customer",
            good(),
            422,
            "Customer",
            "the unified entity's name",
        ),
    ];
    for (id, body, status, named, why) in cases {
        let (got, error) = send(
            &app,
            Method::PUT,
            &format!("/api/v1/instances/{instance}/data-sources/{id}"),
            Some(body),
        )
        .await;
        assert_eq!(got, status, "{why}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(named), "{why}: {message:?} names {named}");
    }
    let malformed = app
        .client
        .put(app.url(&format!("/api/v1/instances/{instance}/data-sources/crm")))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400, "malformed JSON");
    // Nothing was defined by the refused requests.
    let (_, listed) = send(
        &app,
        Method::GET,
        &format!("/api/v1/instances/{instance}/data-sources"),
        None,
    )
    .await;
    assert_eq!(listed["value"], json!([]));
}

#[tokio::test]
async fn bad_uploads_are_refused_and_keep_the_previous_upload() {
    let app = spawn_app_builder().upload_limit(1024).spawn().await;
    let instance = with_contacts(&app).await;
    define(
        &app,
        &instance,
        "remote",
        json!({"name": "Remote", "format": "csv", "primaryKey": "ContactId",
               "source": {"kind": "url", "url": "http://127.0.0.1:9/a.csv"}}),
    )
    .await;
    let path = |id: &str| format!("/api/v1/instances/{instance}/data-sources/{id}/content");
    /// Path, content type, body, status, code, why it must fail.
    type Case<'a> = (String, &'a str, Vec<u8>, u16, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            path("crm"),
            "application/json",
            b"{}".to_vec(),
            415,
            "unsupported_media_type",
            "JSON is no upload type",
        ),
        (
            path("crm"),
            "text/plain",
            b"a".to_vec(),
            415,
            "unsupported_media_type",
            "plain text is no upload type",
        ),
        (
            path("crm"),
            "text/csv",
            vec![b'x'; 1025],
            413,
            "payload_too_large",
            "past INSIGHTS_UPLOAD_LIMIT",
        ),
        (
            path("nowhere"),
            "text/csv",
            b"a".to_vec(),
            404,
            "not_found",
            "no such data source",
        ),
        (
            path("remote"),
            "text/csv",
            b"a".to_vec(),
            409,
            "not_an_upload_source",
            "a URL source reads no uploads",
        ),
    ];
    for (path, content_type, body, status, code, why) in cases {
        let response = app.put_content(&path, content_type, body).await;
        assert_eq!(response.status().as_u16(), status, "{why}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], code, "{why}");
    }
    // Streamed past the limit without a Content-Length: refused the same way.
    let chunks =
        futures_util::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 400])));
    let response = app
        .client
        .put(app.url(&path("crm")))
        .bearer_auth(&app.token)
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let done = refresh(&app, &instance, "crm").await;
    assert_eq!(
        done["rowCount"], 3,
        "the previous upload is still the current one"
    );
}

#[tokio::test]
async fn bad_item_queries_are_refused_naming_the_field_or_position() {
    let app = spawn_app().await;
    let instance = with_contacts(&app).await;
    let cases = [
        (
            "$filter=City%20eq",
            400,
            "filter_syntax_error",
            "position 7",
            "a comparison without a value",
        ),
        (
            "$filter=Town%20eq%20'Oslo'",
            400,
            "unknown_field",
            "Town",
            "an unknown field",
        ),
        (
            "$filter=Age%20eq%20'old'",
            400,
            "filter_type_mismatch",
            "Age",
            "a number compared with text",
        ),
        (
            "$filter=Name%20eq%20'it''s",
            400,
            "filter_syntax_error",
            "position",
            "an unclosed quote",
        ),
        (
            "$select=Name,,City",
            400,
            "invalid_select",
            "$select",
            "an empty item",
        ),
        (
            "$select=Town",
            400,
            "unknown_field",
            "Town",
            "an unknown field",
        ),
        (
            "$orderby=Name%20sideways",
            400,
            "invalid_orderby",
            "sideways",
            "no such direction",
        ),
        ("$top=0", 400, "invalid_query", "$top", "an empty page"),
        (
            "$top=1001",
            400,
            "invalid_query",
            "$top",
            "past the largest page",
        ),
        ("$top=ten", 400, "invalid_query", "", "not a number"),
        ("$skip=-1", 400, "invalid_query", "", "a negative skip"),
        (
            "$skip=1000000001",
            400,
            "invalid_query",
            "$skip",
            "past the largest skip",
        ),
    ];
    for (query, status, code, named, why) in cases {
        let (got, error) = send(
            &app,
            Method::GET,
            &format!("/api/v1/instances/{instance}/entities/crm/items?{query}"),
            None,
        )
        .await;
        assert_eq!(got, status, "{why}: {error}");
        assert_eq!(error["code"], code, "{why}");
        assert!(
            error["message"].as_str().unwrap().contains(named),
            "{why}: {error}"
        );
    }
    let not_found = [
        format!("/api/v1/instances/{instance}/entities/nothing/items"),
        format!("/api/v1/instances/{instance}/entities/nothing/schema"),
        format!("/api/v1/instances/{instance}/entities/crm/items/99"),
        format!("/api/v1/instances/{instance}/entities/crm/items/not-a-number"),
        format!("/api/v1/instances/{instance}/refreshes/00000000-0000-0000-0000-000000000000"),
        format!("/api/v1/instances/{instance}/refreshes/not-a-uuid"),
        "/api/v1/instances/00000000-0000-0000-0000-000000000000/entities".to_owned(),
    ];
    for path in not_found {
        let (status, error) = send(&app, Method::GET, &path, None).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(error["code"], "not_found", "{path}");
    }
    // A data source a platform reported, but never defined, has nothing to refresh.
    app.report(
        &instance,
        "data-source-refresh",
        &json!({"dataSourceId": "reported", "status": "succeeded"}),
    )
    .await;
    let (status, _) = send(
        &app,
        Method::POST,
        &format!("/api/v1/instances/{instance}/data-sources/reported/refresh"),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn another_tenant_gets_404_on_every_engine_path() {
    let app = spawn_app().await;
    let instance = with_contacts(&app).await;
    let (_, refreshes) = send(
        &app,
        Method::GET,
        &format!("/api/v1/instances/{instance}/refreshes"),
        None,
    )
    .await;
    let refresh_id = refreshes["value"][0]["id"].as_str().unwrap().to_owned();
    let base = format!("/api/v1/instances/{instance}");
    let intruder = token(OTHER_TENANT, true);
    let requests: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::PUT,
            format!("{base}/data-sources/crm"),
            Some(upload_source("Mine now")),
        ),
        (
            Method::PUT,
            format!("{base}/data-sources/new"),
            Some(upload_source("New")),
        ),
        (
            Method::PUT,
            format!("{base}/data-sources/crm/content"),
            None,
        ),
        (
            Method::POST,
            format!("{base}/data-sources/crm/refresh"),
            None,
        ),
        (Method::GET, format!("{base}/refreshes"), None),
        (Method::GET, format!("{base}/refreshes/{refresh_id}"), None),
        (Method::GET, format!("{base}/entities"), None),
        (Method::GET, format!("{base}/entities/crm/items"), None),
        (Method::GET, format!("{base}/entities/crm/items/1"), None),
        (Method::GET, format!("{base}/entities/crm/schema"), None),
    ];
    for (method, path, body) in &requests {
        let mut request = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&intruder);
        request = match body {
            Some(body) => request.json(body),
            None if path.ends_with("/content") => request
                .header("content-type", "text/csv")
                .body("ContactId\n9\n"),
            None => request,
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 404, "{method} {path}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "not_found", "{method} {path}");
    }
    // Nothing the intruder tried changed the owner's data.
    let (_, defined) = send(&app, Method::GET, &format!("{base}/data-sources"), None).await;
    assert_eq!(defined["value"].as_array().unwrap().len(), 1);
    assert_eq!(defined["value"][0]["name"], "CRM");
    let (_, listed) = send(&app, Method::GET, &format!("{base}/refreshes"), None).await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_sources_fail_their_refresh_with_a_named_code_and_line() {
    let app = spawn_app().await;
    let instance = with_contacts(&app).await;
    let cases: [(&str, &str, &[u8], &str, &str); 6] = [
        (
            "csv",
            "text/csv",
            b"ContactId,Name\n1,a\n2\n",
            "ragged_row",
            "Line 3",
        ),
        (
            "csv",
            "text/csv",
            b"ContactId,Name\n1,\xff\n",
            "bad_encoding",
            "Line 2",
        ),
        (
            "csv",
            "text/csv",
            b"ContactId,Name\n,a\n",
            "missing_primary_key",
            "Line 2",
        ),
        (
            "csv",
            "text/csv",
            b"Name\na\n",
            "missing_primary_key_column",
            "ContactId",
        ),
        (
            "jsonl",
            "application/x-ndjson",
            b"{\"ContactId\": 1, \"Tags\": [1]}\n",
            "nested_value",
            "Tags",
        ),
        (
            "jsonl",
            "application/x-ndjson",
            b"{\"ContactId\": 1}\n{\"ContactId\": 1}\n",
            "duplicate_primary_key",
            "Line 2",
        ),
    ];
    for (format, content_type, body, code, named) in cases {
        let mut definition = upload_source("CRM");
        definition["format"] = json!(format);
        define(&app, &instance, "crm", definition).await;
        let response = app
            .put_content(
                &format!("/api/v1/instances/{instance}/data-sources/crm/content"),
                content_type,
                body.to_vec(),
            )
            .await;
        assert_eq!(response.status(), 204);
        let failed = refresh(&app, &instance, "crm").await;
        assert_eq!(failed["status"], "failed", "{code}");
        assert_eq!(failed["errorCode"], code, "{failed}");
        let message = failed["errorMessage"].as_str().unwrap();
        assert!(message.contains(named), "{code}: {message:?} names {named}");
        let (_, page) = send(
            &app,
            Method::GET,
            &format!("/api/v1/instances/{instance}/entities/crm/items"),
            None,
        )
        .await;
        assert_eq!(
            page["value"].as_array().unwrap().len(),
            3,
            "{code}: the previous items stay"
        );
    }
    // A header-only file is an empty entity.
    define(&app, &instance, "crm", upload_source("CRM")).await;
    upload(&app, &instance, "crm", "text/csv", "ContactId,Name\r\n").await;
    assert_eq!(refresh(&app, &instance, "crm").await["rowCount"], 0);
    // No upload yet.
    define(&app, &instance, "fresh", upload_source("Fresh")).await;
    assert_eq!(
        refresh(&app, &instance, "fresh").await["errorCode"],
        "no_upload"
    );
}

#[tokio::test]
async fn file_sources_read_only_inside_the_import_directory() {
    let imports = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(imports.path().join("in")).unwrap();
    std::fs::write(imports.path().join("in/contacts.csv"), CONTACTS).unwrap();
    std::fs::write(outside.path().join("secret.csv"), "ContactId\n1\n").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.csv"),
        imports.path().join("link.csv"),
    )
    .unwrap();
    let app = spawn_app_builder().import_dir(imports.path()).spawn().await;
    let instance = app.create_instance("files").await;
    let file = |path: &str| {
        json!({"name": "Contacts", "format": "csv", "primaryKey": "ContactId",
               "source": {"kind": "file", "path": path}})
    };
    assert_eq!(
        define(&app, &instance, "crm", file("in/contacts.csv"))
            .await
            .status(),
        201
    );
    assert_eq!(refresh(&app, &instance, "crm").await["rowCount"], 3);
    let absolute = outside.path().join("secret.csv").display().to_string();
    for (path, why) in [
        (absolute.as_str(), "an absolute path"),
        ("../secret.csv", "a path through .."),
        ("in/../../secret.csv", "a path through .. further in"),
        ("link.csv", "a link leading out"),
    ] {
        let response = define(&app, &instance, "evil", file(path)).await;
        assert_eq!(response.status(), 422, "{why}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["message"].as_str().unwrap().contains("source.path"),
            "{why}: {error}"
        );
    }
    // A path that leads out only after it was defined is refused when it is read.
    assert_eq!(
        define(&app, &instance, "later", file("later.csv"))
            .await
            .status(),
        201
    );
    let missing = refresh(&app, &instance, "later").await;
    assert_eq!(missing["errorCode"], "source_not_found");
    std::os::unix::fs::symlink(
        outside.path().join("secret.csv"),
        imports.path().join("later.csv"),
    )
    .unwrap();
    let refused = refresh(&app, &instance, "later").await;
    assert_eq!(
        refused["errorCode"], "source_outside_import_dir",
        "{refused}"
    );
    let (status, _) = send(
        &app,
        Method::GET,
        &format!("/api/v1/instances/{instance}/entities/later/items"),
        None,
    )
    .await;
    assert_eq!(status, 404, "nothing outside was read");
}

async fn define_url(app: &TestApp, instance: &str, id: &str, url: String) {
    let body = json!({"name": id, "format": "csv", "primaryKey": "ContactId",
                      "source": {"kind": "url", "url": url}});
    assert_eq!(define(app, instance, id, body).await.status(), 201, "{id}");
}

/// Serves `body` with `status` at every path of a loopback server; `/redirect` answers 302.
fn source_server(status: u16, body: &'static str) -> String {
    let (port, _handle) = serve_on_loopback(move |cfg| {
        cfg.route(
            "/redirect",
            web::get().to(|| async {
                HttpResponse::Found()
                    .insert_header(("location", "/contacts.csv"))
                    .finish()
            }),
        )
        .default_service(web::to(move || async move {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body(body)
        }));
    });
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn url_sources_are_fetched_through_the_callback_address_rules() {
    let app = spawn_app_builder().upload_limit(400).spawn().await;
    let instance = app.create_instance("urls").await;
    let server = source_server(200, CONTACTS);
    let url = |id: &'static str, url: String| define_url(&app, &instance, id, url);
    url("remote", format!("{server}/contacts.csv")).await;
    let done = refresh(&app, &instance, "remote").await;
    assert_eq!(done["rowCount"], 3, "{done}");
    url("moved", format!("{server}/redirect")).await;
    let moved = refresh(&app, &instance, "moved").await;
    assert_eq!(
        moved["errorCode"], "source_http_status",
        "redirects are not followed"
    );
    assert!(moved["errorMessage"].as_str().unwrap().contains("302"));
    let padding = format!("ContactId,Padding\n1,{}\n", "x".repeat(400)).leak();
    let large = source_server(200, padding);
    url("large", format!("{large}/big.csv")).await;
    assert_eq!(
        refresh(&app, &instance, "large").await["errorCode"],
        "source_too_large"
    );
    let gone = source_server(404, "");
    url("gone", format!("{gone}/x.csv")).await;
    assert_eq!(
        refresh(&app, &instance, "gone").await["errorCode"],
        "source_http_status"
    );

    // Where private callbacks are not allowed, loopback sources are not either.
    let strict = spawn_app_builder()
        .allow_private_callbacks(false)
        .spawn()
        .await;
    let instance = strict.create_instance("strict").await;
    for address in [
        format!("{server}/contacts.csv"),
        "http://localhost:9/a.csv".to_owned(),
    ] {
        let body = json!({"name": "Local", "format": "csv", "primaryKey": "ContactId",
                          "source": {"kind": "url", "url": address}});
        let response = define(&strict, &instance, "local", body).await;
        assert_eq!(response.status(), 422, "{address}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["message"].as_str().unwrap().contains("source.url"),
            "{error}"
        );
    }
}
