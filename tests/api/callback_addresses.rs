//! Literal callback addresses at subscribe time, with private callbacks disallowed: IPv6 forms
//! that carry a private IPv4 address, and the special-purpose blocks of the IANA registries,
//! are refused; public addresses in any form are accepted.

use serde_json::{Value, json};

use crate::helpers::spawn_app_builder;

const TRIGGER: &str = "full-refresh-completed";

#[tokio::test]
async fn callbacks_to_special_purpose_and_embedded_private_addresses_are_refused() {
    let app = spawn_app_builder()
        .allow_private_callbacks(false)
        .spawn()
        .await;
    let instance = app.create_instance("special").await;
    let refused = [
        ("http://[64:ff9b::a00:1]/run", "NAT64 of 10.0.0.1"),
        ("http://[64:ff9b::7f00:1]/run", "NAT64 of loopback"),
        (
            "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
            "NAT64 of cloud metadata",
        ),
        (
            "http://[64:ff9b:1::a00:1]/run",
            "local-use NAT64, not globally reachable",
        ),
        ("http://[2002:a00:1::1]/run", "6to4 of 10.0.0.1"),
        ("http://[2002:a9fe:a9fe::1]/run", "6to4 of cloud metadata"),
        (
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/run",
            "Teredo tunnel",
        ),
        (
            "http://[::ffff:0:a00:1]/run",
            "SIIT IPv4-translated 10.0.0.1",
        ),
        ("http://[::ffff:7f00:1]/run", "IPv4-mapped loopback"),
        (
            "http://[::ffff:a9fe:a9fe]/run",
            "IPv4-mapped cloud metadata",
        ),
        ("http://[::a00:1]/run", "IPv4-compatible 10.0.0.1"),
        ("http://[100::1]/run", "discard-only"),
        ("http://[100:0:0:1::1]/run", "dummy IPv6 prefix"),
        ("http://[2001:db8::1]/run", "IPv6 documentation"),
        ("http://[3fff::1]/run", "IPv6 documentation"),
        ("http://[5f00::1]/run", "SRv6 SIDs"),
        ("http://[2001:2::1]/run", "IPv6 benchmarking"),
        ("http://[fec0::1]/run", "deprecated site-local"),
        ("http://192.0.0.8/run", "IPv4 dummy address"),
        ("http://192.0.0.192/run", "Oracle Cloud metadata"),
        ("http://198.18.0.1/run", "benchmarking"),
        ("http://240.0.0.1/run", "reserved"),
        ("http://168.63.129.16/run", "Azure platform address"),
    ];
    for (url, why) in refused {
        let response = app
            .post(
                &format!("/api/v1/instances/{instance}/triggers/{TRIGGER}"),
                &json!({"notificationUrl": url}),
            )
            .await;
        assert_eq!(response.status(), 422, "{url} must be refused: {why}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "notification_url_not_allowed", "{why}");
    }
    let listed: Value = app
        .get(&format!("/api/v1/instances/{instance}/subscriptions"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["value"], json!([]));

    let accepted = [
        ("http://8.8.8.8/run", "public IPv4"),
        ("http://[2606:4700::1111]/run", "public IPv6"),
        ("http://[::ffff:808:808]/run", "IPv4-mapped public address"),
        ("http://[64:ff9b::808:808]/run", "NAT64 of a public address"),
        ("http://[2002:808:808::1]/run", "6to4 of a public address"),
        (
            "http://192.0.0.9/run",
            "PCP anycast, globally reachable per IANA",
        ),
    ];
    for (url, why) in accepted {
        let response = app
            .post(
                &format!("/api/v1/instances/{instance}/triggers/{TRIGGER}"),
                &json!({"notificationUrl": url}),
            )
            .await;
        assert_eq!(response.status(), 201, "{url} must be accepted: {why}");
    }
}
