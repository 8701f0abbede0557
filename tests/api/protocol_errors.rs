//! Raw bytes over TCP: what the HTTP/1 layer answers before the app sees a request. actix-http
//! answers these itself with a status and an empty body (README, "Errors the HTTP layer
//! answers"); what its parser accepts reaches the app and gets the JSON error body.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app, spawn_app_builder};

/// One answer read off the socket.
struct RawAnswer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Sends `request` (while reading, so that a server that answers early is heard) and reads
/// until the server closes the connection.
async fn exchange(app: &TestApp, request: Vec<u8>) -> RawAnswer {
    let address = app.address.trim_start_matches("http://");
    let stream = TcpStream::connect(address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // A server that refuses the head closes without reading the rest: writing may then fail.
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        writer
    });
    let mut answer = Vec::new();
    let read = async {
        let mut chunk = [0u8; 8192];
        // A reset after the answer (unread request bytes) ends the answer like a close.
        while let Ok(n @ 1..) = reader.read(&mut chunk).await {
            answer.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the server neither answered nor closed within 10 s");
    drop(writing.await);
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer head in {:?}", String::from_utf8_lossy(&answer)));
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    RawAnswer {
        status,
        head,
        body: answer[split + 4..].to_vec(),
    }
}

fn has_header(head: &str, name: &str, value: &str) -> bool {
    head.lines().any(|line| {
        line.split_once(':').is_some_and(|(n, v)| {
            n.trim().eq_ignore_ascii_case(name) && v.trim().eq_ignore_ascii_case(value)
        })
    })
}

#[tokio::test]
async fn requests_the_http1_parser_refuses_get_their_status_and_the_documented_empty_body() {
    let app = spawn_app().await;
    let many_headers: String = (0..100).map(|i| format!("X-Header-{i}: a\r\n")).collect();
    let cases: [(Vec<u8>, u16, &str); 9] = [
        (
            b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(),
            400,
            "HTTP/1.1 without Host",
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(),
            400,
            "two Host headers",
        ),
        (
            b"GARBAGE\r\n\r\n".to_vec(),
            400,
            "a malformed request line",
        ),
        (
            b"GET /healthz HTTP/2.0\r\nHost: a\r\n\r\n".to_vec(),
            400,
            "an HTTP version other than 1.x",
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n".to_vec(),
            400,
            "a header name with a space",
        ),
        (
            b"POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_vec(),
            400,
            "Content-Length beside Transfer-Encoding (request smuggling)",
        ),
        (
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            400,
            "an HTTP/2 preface on the HTTP/1 port",
        ),
        (
            [
                b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec(),
                vec![b'a'; 200 * 1024],
                b"\r\n\r\n".to_vec(),
            ]
            .concat(),
            431,
            "a 200 KB header",
        ),
        (
            format!("GET /healthz HTTP/1.1\r\nHost: a\r\n{many_headers}\r\n").into_bytes(),
            431,
            "more than 96 headers",
        ),
    ];
    for (request, status, why) in cases {
        let answer = exchange(&app, request).await;
        assert_eq!(answer.status, status, "{why}: {}", answer.head);
        // README says these answers have no body: if actix-http starts sending one, that
        // section is wrong.
        assert!(
            has_header(&answer.head, "content-length", "0") && answer.body.is_empty(),
            "{why}: {} {:?}",
            answer.head,
            answer.body
        );
    }
}

#[tokio::test]
async fn a_request_head_slower_than_the_client_request_timeout_gets_408() {
    let app = spawn_app_builder()
        .client_request_timeout("100ms")
        .spawn()
        .await;
    // The head never ends: the server's own timer answers, and the read waits for it.
    let answer = exchange(&app, b"GET /healthz HTTP/1.1\r\nHost: a\r\n".to_vec()).await;
    assert_eq!(answer.status, 408, "{}", answer.head);
    assert!(has_header(&answer.head, "content-length", "0"));
    assert!(answer.body.is_empty());
}

#[tokio::test]
async fn requests_the_parser_accepts_reach_the_app_and_errors_are_json() {
    let app = spawn_app().await;
    let cases: [(&[u8], u16, &str, &str); 3] = [
        (
            b"BREW /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            405,
            "method_not_allowed",
            "an unknown method",
        ),
        (
            b"GET /api/v1/instances HTTP/1.0\r\n\r\n",
            401,
            "unauthenticated",
            "HTTP/1.0 needs no Host",
        ),
        (
            b"GET /nowhere%zz HTTP/1.1\r\nHost: [::1\r\nConnection: close\r\n\r\n",
            404,
            "not_found",
            "an odd path and Host the parser lets through",
        ),
    ];
    for (request, status, code, why) in cases {
        let answer = exchange(&app, request.to_vec()).await;
        assert_eq!(answer.status, status, "{why}: {}", answer.head);
        assert!(
            has_header(&answer.head, "content-type", "application/json"),
            "{why}: {}",
            answer.head
        );
        let body: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(body["code"], code, "{why}");
        assert!(body["message"].is_string(), "{why}");
    }
}
