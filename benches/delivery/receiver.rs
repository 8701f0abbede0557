//! The callback receiver: a minimal hyper HTTP/1.1 server on loopback that answers 204 to
//! every request and reports when each one arrived. It does as little as a server can, so
//! that what the benchmark measures is the sender.

use std::convert::Infallible;
use std::time::Instant;

use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Starts the receiver; returns its base URL and the arrival time of every request.
pub async fn start() -> (String, mpsc::UnboundedReceiver<Instant>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the receiver binds");
    let port = listener.local_addr().expect("an address").port();
    let (arrived, arrivals) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let arrived = arrived.clone();
            tokio::spawn(async move {
                let answer = service_fn(move |request: Request<Incoming>| {
                    let arrived = arrived.clone();
                    async move {
                        // Read the whole body, as a real receiver does.
                        let _ = request.into_body().collect().await;
                        let _ = arrived.send(Instant::now());
                        let mut response = Response::new(Empty::<Bytes>::new());
                        *response.status_mut() = StatusCode::NO_CONTENT;
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), answer)
                    .await;
            });
        }
    });
    (format!("http://127.0.0.1:{port}"), arrivals)
}
