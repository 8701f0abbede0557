//! The demo (`serve --demo`, `INSIGHTS_DEMO=true`): tenant `demo` gets the instance "Demo
//! retail" with the sample data in `data/` (written by `tools/demo_data.py`, built into the
//! binary), its data sources, a unification, measures, segments and a schedule, and a full
//! refresh at every start, so that every trigger and action has real data to show.
//!
//! The setup is the list of requests in [`setup`], exactly what an operator would send, sent
//! through the service's own routes in this process as tenant `demo`: the demo is checked by
//! the same validation as anyone's definitions, and the README's examples are these
//! requests. The instance is created once: a later start finds it (and finishes a setup that a
//! stop cut short, since every definition is a `PUT`) and only starts a full refresh.

use std::collections::HashSet;

use actix_web::http::Method;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{App, HttpMessage, test, web};
use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::domain::TenantId;
use crate::http::{self, AppState, Caller, InProcess};

/// The demo's tenant.
pub const TENANT: &str = "demo";
/// The demo instance's name.
pub const INSTANCE_NAME: &str = "Demo retail";

const CRM_CONTACTS: &[u8] = include_bytes!("data/crm_contacts.csv");
const WEBSHOP_CUSTOMERS: &[u8] = include_bytes!("data/webshop_customers.jsonl");
const ORDERS: &[u8] = include_bytes!("data/orders.csv");

/// One request of the setup, relative to the instance (`""` is the instance itself).
struct Step {
    method: Method,
    path: &'static str,
    body: Body,
}

enum Body {
    Json(Value),
    Content {
        content_type: &'static str,
        bytes: &'static [u8],
    },
}

impl Step {
    fn put(path: &'static str, body: Value) -> Self {
        Self {
            method: Method::PUT,
            path,
            body: Body::Json(body),
        }
    }

    fn upload(path: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        Self {
            method: Method::PUT,
            path,
            body: Body::Content {
                content_type,
                bytes,
            },
        }
    }
}

/// The demo instance's definitions and uploads, in the order they must be sent.
fn setup() -> Vec<Step> {
    vec![
        Step::put(
            "/data-sources/crm-contacts",
            json!({"name": "CRM contacts", "format": "csv", "primaryKey": "ContactId",
                   "source": {"kind": "upload"}}),
        ),
        Step::upload(
            "/data-sources/crm-contacts/content",
            "text/csv",
            CRM_CONTACTS,
        ),
        Step::put(
            "/data-sources/webshop-customers",
            json!({"name": "Web shop customers", "format": "jsonl", "primaryKey": "CustomerNumber",
                   "source": {"kind": "upload"}}),
        ),
        Step::upload(
            "/data-sources/webshop-customers/content",
            "application/x-ndjson",
            WEBSHOP_CUSTOMERS,
        ),
        Step::put(
            "/data-sources/orders",
            json!({"name": "Web shop orders", "format": "csv", "primaryKey": "OrderId",
                   "source": {"kind": "upload"},
                   "customer": {"dataSourceId": "webshop-customers", "field": "CustomerNumber"}}),
        ),
        Step::upload("/data-sources/orders/content", "text/csv", ORDERS),
        Step::put(
            "/unification",
            json!({
                "sources": [
                    {"dataSourceId": "crm-contacts", "attributes": {
                        "FirstName": "FirstName", "LastName": "LastName", "Email": "Email",
                        "Phone": "Phone", "City": "City", "Country": "Country"}},
                    {"dataSourceId": "webshop-customers", "attributes": {
                        "FirstName": "FirstName", "LastName": "LastName", "Email": "EmailAddress",
                        "Phone": "Mobile", "LoyaltyTier": "LoyaltyTier", "Newsletter": "Newsletter"}}
                ],
                "rules": [
                    {"name": "Same email", "conditions": [
                        {"attribute": "Email", "normalize": ["trim", "lowercase"]}]},
                    {"name": "Same phone and first name", "conditions": [
                        {"attribute": "Phone", "normalize": ["digits"]},
                        {"attribute": "FirstName", "normalize": ["trim", "ascii", "lowercase"]}]}
                ]
            }),
        ),
        Step::put(
            "/measures/revenue",
            json!({"name": "Revenue", "entity": "orders", "aggregate": "sum", "field": "Amount"}),
        ),
        Step::put(
            "/measures/app-orders",
            json!({"name": "App orders", "entity": "orders", "aggregate": "count",
                   "filter": "Channel eq 'app'"}),
        ),
        Step::put(
            "/measures/lifetime-spend",
            json!({"name": "Lifetime spend", "entity": "orders", "aggregate": "sum",
                   "field": "Amount", "per": "customer", "attribute": "LifetimeSpend"}),
        ),
        Step::put(
            "/measures/order-count",
            json!({"name": "Orders per customer", "entity": "orders", "aggregate": "count",
                   "per": "customer", "attribute": "OrderCount"}),
        ),
        Step::put(
            "/segments/big-spenders",
            json!({"name": "Big spenders", "filter": "LifetimeSpend ge 1000"}),
        ),
        Step::put(
            "/segments/newsletter",
            json!({"name": "Newsletter subscribers", "filter": "Newsletter eq true"}),
        ),
        Step::put(
            "/segments/no-orders",
            json!({"name": "Customers without orders", "filter": "OrderCount eq 0"}),
        ),
        // Last: a defined schedule is what marks the setup as finished.
        Step::put(
            "/schedule",
            json!({"cron": "0 3 * * *", "timeZone": "Europe/Copenhagen"}),
        ),
    ]
}

/// Creates the demo instance unless it exists, finishes its setup, and starts a full refresh
/// (which runs in the background). Returns the instance's id.
pub async fn prepare(state: &web::Data<AppState>) -> anyhow::Result<String> {
    let document = http::document();
    let app = test::init_service(
        App::new()
            .app_data(state.clone())
            .wrap(http::json_errors())
            .configure(|cfg| http::configure(cfg, &document)),
    )
    .await;
    let caller = Caller {
        tenant: TenantId::parse(TENANT).context("the demo tenant's id is valid")?,
        subject: "demo-setup".to_owned(),
        roles: HashSet::new(),
    };
    // Sends one request: the answer's status and JSON body (null when it has none).
    let send = async |method: Method, path: &str, body: Option<&Body>| -> (u16, Value) {
        let mut request = test::TestRequest::default()
            .method(method)
            .uri(&format!("/api/v1{path}"));
        request = match body {
            Some(Body::Json(value)) => request.set_json(value),
            Some(Body::Content {
                content_type,
                bytes,
            }) => request
                .insert_header((CONTENT_TYPE, *content_type))
                .set_payload(*bytes),
            None => request,
        };
        let request = request.to_request();
        request.extensions_mut().insert(InProcess(caller.clone()));
        let response = test::call_service(&app, request).await;
        let status = response.status().as_u16();
        let bytes = test::read_body(response).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    };
    // Sends a request that must succeed: its JSON answer.
    let expect = async |method: Method, path: &str, body: Option<&Body>| {
        let (status, value) = send(method.clone(), path, body).await;
        if !(200..300).contains(&status) {
            bail!("the demo's setup failed at {method} {path}: {status} {value}");
        }
        Ok(value)
    };

    let instances = expect(Method::GET, "/instances", None).await?;
    let existing = instances["value"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|instance| instance["name"] == INSTANCE_NAME)
        .and_then(|instance| instance["id"].as_str())
        .map(str::to_owned);
    let instance = match existing {
        Some(id) => id,
        None => {
            let body = Body::Json(json!({"name": INSTANCE_NAME}));
            let created = expect(Method::POST, "/instances", Some(&body)).await?;
            created["id"]
                .as_str()
                .context("CreateInstance answers the new instance's id")?
                .to_owned()
        }
    };
    let base = format!("/instances/{instance}");

    let (schedule, _) = send(Method::GET, &format!("{base}/schedule"), None).await;
    if schedule == 404 {
        tracing::info!(instance = %instance, "setting up the demo instance");
        for step in setup() {
            let path = format!("{base}{}", step.path);
            expect(step.method, &path, Some(&step.body)).await?;
        }
    }
    // A refresh already running (the schedule's, at start) refreshes the demo as well.
    let (status, started) = send(Method::POST, &format!("{base}/refresh"), None).await;
    match status {
        202 => tracing::info!(
            tenant = TENANT,
            instance = %instance,
            refresh = %started["refreshId"],
            "the demo instance is ready; its full refresh runs now"
        ),
        409 => tracing::info!(
            tenant = TENANT,
            instance = %instance,
            "the demo instance is ready; a refresh of it is running"
        ),
        _ => bail!("the demo's full refresh did not start: {status} {started}"),
    }
    Ok(instance)
}
