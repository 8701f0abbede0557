//! Plain keep-alive POST loops to the receiver: what the machine can push through loopback
//! with no work beside the request. The hyper loop (its own connections, one request at a
//! time on each) is the limit that fan-out is compared with; the reqwest loop shows what the
//! client library the service uses costs on its own.

use std::time::Instant;

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// A body about the size of a delivery's payload.
pub fn body() -> Bytes {
    let payload = serde_json::json!({
        "eventId": "01938f5e-7c1a-7a3b-9c2d-3e4f5a6b7c8d",
        "eventType": "FullRefreshCompleted",
        "occurredAt": "2026-12-03T10:00:00Z",
        "instanceId": "01938f5e-7c1a-7a3b-9c2d-3e4f5a6b7c8e",
        "subscriptionId": "01938f5e-7c1a-7a3b-9c2d-3e4f5a6b7c8f",
        "status": "succeeded",
    });
    Bytes::from(serde_json::to_vec(&payload).expect("a body"))
}

/// `total` POSTs over `connections` keep-alive connections made with hyper's own HTTP/1.1
/// client; returns POSTs per second.
pub async fn hyper_loop(base: &str, connections: usize, total: usize) -> f64 {
    let authority = base.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for c in 0..connections {
        let authority = authority.clone();
        let count = total / connections + usize::from(c < total % connections);
        tasks.spawn(async move {
            let stream = TcpStream::connect(&authority).await.expect("connects");
            stream.set_nodelay(true).expect("nodelay");
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .expect("a handshake");
            tokio::spawn(connection);
            let body = body();
            let uri = format!("/flow/{c}?sig=x");
            for _ in 0..count {
                let request = Request::post(&uri)
                    .header("host", &authority)
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()))
                    .expect("a request");
                let response = sender.send_request(request).await.expect("an answer");
                let _ = response.into_body().collect().await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    total as f64 / started.elapsed().as_secs_f64()
}

/// The same with reqwest, `concurrency` requests at a time; returns POSTs per second.
pub async fn reqwest_loop(base: &str, concurrency: usize, total: usize) -> f64 {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("a client");
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for c in 0..concurrency {
        let client = client.clone();
        let url = format!("{base}/flow/{c}?sig=x");
        let count = total / concurrency + usize::from(c < total % concurrency);
        tasks.spawn(async move {
            let body = body();
            for _ in 0..count {
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("a POST");
                let _ = response.bytes().await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    total as f64 / started.elapsed().as_secs_f64()
}
