//! Callbacks never go through a proxy named in the environment: a proxy would connect on the
//! service's behalf, and the delivery-time address check (the guarded resolver) would never run.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::helpers::{Receiver, TENANT, token};
use crate::process::{ServerProcess, serve_command};

/// A proxy on 127.0.0.1 that forwards nothing: it records the request line of every
/// connection it gets and answers 502.
struct RecordingProxy {
    url: String,
    seen: mpsc::UnboundedReceiver<String>,
}

impl RecordingProxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, seen) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    let mut line = String::new();
                    let _ = stream.read_line(&mut line).await;
                    let _ = tx.send(line.trim_end().to_owned());
                    let _ = stream
                        .get_mut()
                        .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                        .await;
                });
            }
        });
        Self { url, seen }
    }
}

#[tokio::test]
async fn callbacks_ignore_the_proxy_variables_of_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = RecordingProxy::start().await;
    let mut receiver = Receiver::start().await;
    let mut command = serve_command(dir.path());
    for variable in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command.env(variable, &proxy.url);
    }
    command.env("NO_PROXY", "").env("no_proxy", "");
    let server = ServerProcess::start(command);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = &server.address;

    let instance: Value = client
        .post(format!("{base}/api/v1/instances"))
        .bearer_auth(token(TENANT, false))
        .json(&json!({"name": "proxied"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let instance = instance["id"].as_str().unwrap();
    let subscribed = client
        .post(format!(
            "{base}/api/v1/instances/{instance}/triggers/full-refresh-completed"
        ))
        .bearer_auth(token(TENANT, false))
        .json(&json!({"notificationUrl": receiver.callback("direct")}))
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), 201);
    let reported = client
        .post(format!(
            "{base}/api/v1/instances/{instance}/reports/full-refresh"
        ))
        .bearer_auth(token(TENANT, true))
        .json(&json!({"status": "succeeded"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reported.status(), 202);

    tokio::select! {
        received = receiver.next() => {
            assert_eq!(received.body["instanceId"], json!(instance));
        }
        Some(line) = proxy.seen.recv() => {
            panic!("the callback went through the proxy: {line}");
        }
    }
    // The receiver got the only attempt directly; the proxy never saw a connection.
    assert_eq!(proxy.seen.try_recv().ok(), None);
}
