//! The callback HTTP client: hyper's pooled client over the guarded resolver, with rustls
//! (the public web roots, plus the operator's own) offering HTTP/2 and HTTP/1.1 by ALPN.
//! Keep-alive connections are pooled per host, up to the per-host limit. Redirects are never
//! followed and no proxy is ever used: hyper does neither by itself.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::RETRY_AFTER;
use hyper::{Request, StatusCode};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::CertificateDer;
use tokio::time::{Instant, timeout_at};

use super::guard::{self, GuardedDns};
use crate::domain::AttemptError;

/// Bytes of a receiver's answer read (and discarded) so the connection can be reused.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How long an idle connection is kept for the next callback to its host.
const IDLE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the TLS configuration cannot be built")]
    Tls(#[from] rustls::Error),
}

/// What a receiver answered.
pub(super) struct Answer {
    pub status: StatusCode,
    /// `Retry-After`, as sent.
    pub retry_after: Option<String>,
}

pub(super) struct CallbackClient {
    client: Client<HttpsConnector<HttpConnector<GuardedDns>>, Full<Bytes>>,
    timeout: Duration,
}

/// How a callback client is set up.
pub(super) struct ClientSettings<'a> {
    pub connect_timeout: Duration,
    /// The whole exchange: connecting, sending, and the answer's status and headers.
    pub request_timeout: Duration,
    pub per_host: usize,
    pub allow_private: bool,
    /// Roots trusted beside the public web roots (`INSIGHTS_CALLBACK_CA_FILE`).
    pub extra_roots: &'a [CertificateDer<'static>],
}

impl CallbackClient {
    pub(super) fn new(settings: ClientSettings<'_>) -> Result<Self, ClientError> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for root in settings.extra_roots {
            roots.add(root.clone())?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new_with_resolver(GuardedDns {
            allow_private: settings.allow_private,
        });
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.connect_timeout));
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE)
            .pool_max_idle_per_host(settings.per_host.max(1))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(Self {
            client,
            timeout: settings.request_timeout,
        })
    }

    /// Sends `request` and reads the answer (its body up to a limit, then dropped). A body
    /// that errs or is cut short by the timeout does not change the answer: its status came.
    pub(super) async fn send(&self, request: Request<Full<Bytes>>) -> Result<Answer, AttemptError> {
        let deadline = Instant::now() + self.timeout;
        let response = match timeout_at(deadline, self.client.request(request)).await {
            Err(_) => return Err(AttemptError::Timeout),
            Ok(Err(err)) => return Err(error_kind(&err)),
            Ok(Ok(response)) => response,
        };
        let answer = Answer {
            status: response.status(),
            retry_after: response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        };
        let mut body = response.into_body();
        let _ = timeout_at(deadline, async {
            let mut read = 0;
            while let Some(Ok(frame)) = body.frame().await {
                read += frame.data_ref().map_or(0, Bytes::len);
                if read > MAX_ANSWER_BYTES {
                    break;
                }
            }
        })
        .await;
        Ok(answer)
    }
}

fn error_kind(err: &hyper_util::client::legacy::Error) -> AttemptError {
    if guard::refused_by_guard(err) {
        AttemptError::AddressNotAllowed
    } else if is_timeout(err) {
        AttemptError::Timeout
    } else if err.is_connect() {
        AttemptError::Connect
    } else {
        AttemptError::Request
    }
}

/// Whether the failure was a connect timeout (the connector reports it as an I/O error).
fn is_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(err), |err| err.source()).any(|err| {
        err.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
    })
}
