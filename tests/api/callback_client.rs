//! The callback client on the wire: TLS verified against the trusted roots, HTTP/2 when the
//! receiver offers it, and what a failed exchange is recorded as.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::helpers::{Receiver, TestApp, spawn_app_builder};

const TRIGGER: &str = "full-refresh-completed";

/// The test authority and the receiver's certificate it signed (for 127.0.0.1 and
/// localhost); see `tests/fixtures/tls/README.md`.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// What the TLS receiver got: the HTTP version and the JSON body.
struct Got {
    version: Version,
    body: Value,
}

/// An HTTPS receiver on 127.0.0.1 offering HTTP/2 and HTTP/1.1 (ALPN); answers 202.
async fn tls_receiver() -> (u16, mpsc::UnboundedReceiver<Got>) {
    let certs = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                let answer = service_fn(move |request: Request<Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let version = request.version();
                        let bytes = request.into_body().collect().await.unwrap().to_bytes();
                        let _ = tx.send(Got {
                            version,
                            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                        });
                        let mut response = Response::new(Empty::<Bytes>::new());
                        *response.status_mut() = StatusCode::ACCEPTED;
                        Ok::<_, Infallible>(response)
                    }
                });
                let io = TokioIo::new(tls);
                let _ = if h2 {
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, answer)
                        .await
                } else {
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, answer)
                        .await
                };
            });
        }
    });
    (port, rx)
}

async fn subscribed_to(app: &TestApp, name: &str, url: &str) -> String {
    let instance = app.create_instance(name).await;
    app.subscribe(&instance, TRIGGER, &json!({"notificationUrl": url}))
        .await;
    instance
}

async fn fire(app: &TestApp, instance: &str) -> String {
    app.report(instance, "full-refresh", &json!({"status": "succeeded"}))
        .await
        .remove(0)
}

#[tokio::test]
async fn https_callbacks_go_over_http2_to_a_receiver_the_trusted_roots_vouch_for() {
    let (port, mut got) = tls_receiver().await;
    let url = format!("https://127.0.0.1:{port}/flows/tls/run?sig=x");
    let app = spawn_app_builder()
        .callback_ca_file(&fixture("ca.pem"))
        .spawn()
        .await;
    let instance = subscribed_to(&app, "trusted", &url).await;
    let event = fire(&app, &instance).await;
    let received = got.recv().await.unwrap();
    assert_eq!(received.version, Version::HTTP_2);
    assert_eq!(received.body["eventId"], json!(event));
    let delivered = app.deliveries(&instance, "status=delivered").await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0]["attempts"][0]["statusCode"], 202);
}

#[tokio::test]
async fn a_receiver_whose_certificate_no_trusted_root_vouches_for_gets_nothing() {
    let (port, mut got) = tls_receiver().await;
    let url = format!("https://localhost:{port}/flows/tls/run?sig=x");
    // Only the public web roots: the test authority is not among them.
    let app = spawn_app_builder().spawn().await;
    let instance = subscribed_to(&app, "untrusted", &url).await;
    // Every attempt of the schedule fails the handshake.
    fire(&app, &instance).await;
    let failed = app.deliveries(&instance, "status=failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["failure"], "retries_exhausted");
    for attempt in failed[0]["attempts"].as_array().unwrap() {
        assert_eq!(attempt["error"], "connect", "{attempt}");
        assert!(attempt["statusCode"].is_null());
    }
    assert!(got.try_recv().is_err(), "no request passed the handshake");
}

/// What a failed exchange is recorded as, case by case.
#[tokio::test]
async fn failed_exchanges_are_recorded_by_what_failed() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let hanging = Receiver::start_gated().await;
    let cases = [
        (
            format!("http://127.0.0.1:{closed}/flows/closed/run?sig=x"),
            "connect",
            "closed",
        ),
        (hanging.callback("hanging"), "timeout", "hanging"),
    ];
    let app = spawn_app_builder().delivery_timeout("300ms").spawn().await;
    for (url, error, name) in cases {
        let instance = subscribed_to(&app, name, &url).await;
        fire(&app, &instance).await;
        let failed = app.deliveries(&instance, "status=failed").await;
        assert_eq!(failed.len(), 1, "{url}: {failed:?}");
        for attempt in failed[0]["attempts"].as_array().unwrap() {
            assert_eq!(attempt["error"], error, "{url}: {attempt}");
        }
    }
    hanging.open_gate();
}
