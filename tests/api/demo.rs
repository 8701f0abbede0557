//! The demo (`serve --demo`): tenant `demo`'s instance "Demo retail" is set up once, refreshed
//! at every start, and its definitions make the triggers fire on a data change.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::helpers::{DEMO_TENANT, Receiver, TestApp, spawn_app_builder, token};

const CRM_CONTACTS: &str = include_str!("../../src/demo/data/crm_contacts.csv");
const WEBSHOP_CUSTOMERS: &str = include_str!("../../src/demo/data/webshop_customers.jsonl");
const ORDERS: &str = include_str!("../../src/demo/data/orders.csv");

/// Calls as tenant `demo`.
struct Demo<'a> {
    app: &'a TestApp,
    token: String,
}

impl<'a> Demo<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            token: token(DEMO_TENANT, false),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.bearer_auth(&self.token).send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self
            .send(reqwest::Client::new().get(self.app.url(path)))
            .await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// The one instance called "Demo retail".
    async fn instance(&self) -> String {
        let instances = self.get("/api/v1/instances").await;
        let named: Vec<&Value> = instances["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|instance| instance["name"] == "Demo retail")
            .collect();
        assert_eq!(named.len(), 1, "one demo instance: {instances}");
        named[0]["id"].as_str().unwrap().to_owned()
    }

    /// The instance's full refreshes, newest first.
    async fn full_refreshes(&self, instance: &str) -> Vec<Value> {
        let refreshes = self
            .get(&format!("/api/v1/instances/{instance}/refreshes"))
            .await;
        refreshes["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|refresh| refresh["kind"] == "fullRefresh")
            .cloned()
            .collect()
    }

    /// Waits for the newest full refresh to end; its record.
    async fn finish_newest_full_refresh(&self, instance: &str) -> Value {
        let newest = self.full_refreshes(instance).await;
        let id = newest.first().expect("a full refresh was started")["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.app.wait_for_refresh(instance, &id).await;
        self.get(&format!("/api/v1/instances/{instance}/refreshes/{id}"))
            .await
    }

    /// Every `CustomerId`, in order, page by page.
    async fn customer_ids(&self, instance: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut next = Some(format!(
            "/api/v1/instances/{instance}/entities/Customer/items?$select=CustomerId&$orderby=CustomerId&$top=1000"
        ));
        while let Some(path) = next.take() {
            let page = self.get(&path).await;
            for item in page["value"].as_array().unwrap() {
                ids.push(item["CustomerId"].as_str().unwrap().to_owned());
            }
            next = page["nextLink"]
                .as_str()
                .map(|link| link.strip_prefix(&self.app.url("")).unwrap().to_owned());
        }
        ids
    }
}

/// Data rows of a CSV or JSON Lines file (not its header).
fn rows(text: &str, header: bool) -> usize {
    text.lines().filter(|line| !line.is_empty()).count() - usize::from(header)
}

/// The sum of the orders' `Amount` column, in cents, and the customer numbers with orders.
fn orders_reference() -> (i64, BTreeSet<String>) {
    let mut cents = 0;
    let mut customers = BTreeSet::new();
    for line in ORDERS.lines().skip(1).filter(|l| !l.is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        let (whole, fraction) = cells[3].split_once('.').unwrap_or((cells[3], "0"));
        let fraction = format!("{fraction:0<2}");
        cents += whole.parse::<i64>().unwrap() * 100 + fraction[..2].parse::<i64>().unwrap();
        customers.insert(cells[1].to_owned());
    }
    (cents, customers)
}

#[tokio::test]
async fn the_demo_is_set_up_once_and_refreshed_at_every_start() {
    let app = spawn_app_builder().demo().spawn().await;
    let demo = Demo::new(&app);
    let instance = demo.instance().await;
    let first = demo.finish_newest_full_refresh(&instance).await;
    assert_eq!(first["status"], "succeeded", "{first}");
    assert_eq!(first["initiatedBy"], "manual");

    let entities = demo
        .get(&format!("/api/v1/instances/{instance}/entities"))
        .await;
    let counts: BTreeMap<&str, u64> = entities["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap(),
                e["itemCount"].as_u64().unwrap(),
            )
        })
        .collect();
    let crm = rows(CRM_CONTACTS, true) as u64;
    let shop = rows(WEBSHOP_CUSTOMERS, false) as u64;
    assert_eq!(counts["crm-contacts"], crm);
    assert_eq!(counts["webshop-customers"], shop);
    assert_eq!(counts["orders"], rows(ORDERS, true) as u64);
    // Duplicates and the customers of both sources are merged: fewer profiles than records,
    // more than either source alone.
    let customers = counts["Customer"];
    assert!(
        customers < crm + shop && customers > crm.max(shop),
        "{counts:?}"
    );

    let (cents, _) = orders_reference();
    let revenue = demo
        .get(&format!("/api/v1/instances/{instance}/measures/revenue"))
        .await;
    let value = revenue["value"].as_f64().unwrap();
    assert!((value * 100.0 - cents as f64).abs() < 0.5, "{revenue}");
    let segments = demo
        .get(&format!("/api/v1/instances/{instance}/segments"))
        .await;
    for segment in ["big-spenders", "newsletter", "no-orders"] {
        let found = segments["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == segment)
            .unwrap_or_else(|| panic!("segment {segment} in {segments}"));
        let members = found["memberCount"].as_u64().unwrap();
        assert!(members > 0 && members < customers, "{found}");
    }
    let ids = demo.customer_ids(&instance).await;
    assert_eq!(ids.len() as u64, customers);

    let dir = app.stop().await;
    let app = spawn_app_builder().data_dir(dir).demo().spawn().await;
    let demo = Demo::new(&app);
    assert_eq!(demo.instance().await, instance);
    let second = demo.finish_newest_full_refresh(&instance).await;
    assert_ne!(second["id"], first["id"]);
    assert_eq!(second["status"], "succeeded", "{second}");
    assert_eq!(demo.full_refreshes(&instance).await.len(), 2);
    assert_eq!(
        demo.customer_ids(&instance).await,
        ids,
        "the same data keeps its ids"
    );
}

#[tokio::test]
async fn a_data_change_and_a_full_refresh_fire_the_demo_segment_trigger() {
    let mut receiver = Receiver::start().await;
    let app = spawn_app_builder()
        .demo()
        .allow_private_callbacks(true)
        .spawn()
        .await;
    let demo = Demo::new(&app);
    let instance = demo.instance().await;
    demo.finish_newest_full_refresh(&instance).await;
    let before = demo
        .get(&format!(
            "/api/v1/instances/{instance}/segments/big-spenders"
        ))
        .await;
    let members = before["memberCount"].as_u64().unwrap();

    let (status, body) = demo
        .send(
            reqwest::Client::new()
                .post(app.url(&format!(
                    "/api/v1/instances/{instance}/triggers/segment-threshold-crossed"
                )))
                .json(
                    &json!({"notificationUrl": receiver.callback("big-spenders"),
                              "segmentId": "big-spenders", "threshold": members}),
                ),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // A web shop customer without orders places one large order.
    let (_, with_orders) = orders_reference();
    let newcomer = WEBSHOP_CUSTOMERS
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .map(|customer| customer["CustomerNumber"].as_str().unwrap().to_owned())
        .find(|number| !with_orders.contains(number))
        .expect("a web shop customer without orders");
    let orders = format!("{ORDERS}O999999,{newcomer},2026-12-01T10:00:00Z,5000.00,app\n");
    let (status, body) = demo
        .send(
            reqwest::Client::new()
                .put(app.url(&format!(
                    "/api/v1/instances/{instance}/data-sources/orders/content"
                )))
                .header("content-type", "text/csv")
                .body(orders),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = demo
        .send(
            reqwest::Client::new().post(app.url(&format!("/api/v1/instances/{instance}/refresh"))),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let finished = demo.finish_newest_full_refresh(&instance).await;
    assert_eq!(finished["status"], "succeeded", "{finished}");

    let callback = receiver.next().await;
    assert_eq!(callback.body["eventType"], "SegmentThresholdCrossed");
    assert_eq!(callback.body["segmentId"], "big-spenders");
    assert_eq!(callback.body["previousMemberCount"], members);
    assert!(callback.body["memberCount"].as_u64().unwrap() > members);
    app.expect_no_more_callbacks(&mut receiver).await;
}
