//! The request span: every request runs in a `request` span carrying its id, method and route
//! pattern, so each log line it causes names them; the raw path and query, which can carry
//! secrets and ids, are never logged. The id is the caller's `X-Request-Id` when it is a sane
//! token, otherwise a new one, and it is echoed as `X-Request-Id` on the answer.

use std::time::Instant;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use tracing::Instrument;
use uuid::Uuid;

use crate::domain::patterns;

/// The header that carries the request id, both ways.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The caller's id when it is a sane token (`patterns::is_request_id`), else a new one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| patterns::is_request_id(id))
        .map_or_else(|| Uuid::new_v4().simple().to_string(), str::to_owned)
}

/// Runs the request in its span, logs one `request` line when it is answered, and echoes the
/// id. For `App::wrap_fn`.
pub fn trace<S, B>(
    req: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let id = request_id(&req);
    let route = req.match_pattern().unwrap_or_else(|| "<unmatched>".into());
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), %route);
    let started = Instant::now();
    let answer = span.in_scope(|| service.call(req));
    async move {
        let mut res = answer.await?;
        tracing::info!(
            status = res.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request"
        );
        // A sane token or a UUID: always a valid header value.
        if let Ok(value) = HeaderValue::from_str(&id) {
            res.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        Ok(res)
    }
    .instrument(span)
}
