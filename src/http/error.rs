//! `ApiError`: every error the API answers, mapped in one place to a status and a stable
//! snake_case code, with a JSON body `{code, message}`. Actix's own errors (bad JSON, wrong
//! content type, unknown path, wrong method, body too large) are turned into the same shape.

use std::fmt;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::storage::StorageError;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable snake_case code to branch on.
    pub code: String,
    /// A sentence a person can act on.
    pub message: String,
}

pub enum ApiError {
    /// 400: the request cannot be read.
    BadRequest { code: &'static str, message: String },
    /// 401: no credentials or bad ones.
    Unauthenticated(String),
    /// 403: authenticated, but not allowed.
    Forbidden(String),
    /// 404: `what` ("instance", "subscription", ...) does not exist for this caller.
    NotFound(&'static str),
    /// 409: the request conflicts with stored state.
    Conflict { code: &'static str, message: String },
    /// 413
    PayloadTooLarge,
    /// 415
    UnsupportedMediaType,
    /// 422: well-formed but invalid.
    Invalid { code: &'static str, message: String },
    /// 429: the tenant spent its rate limit; it may call again after `retry_after`.
    TooManyRequests { retry_after: std::time::Duration },
    /// 503: storage or a dependency cannot serve now.
    Unavailable(String),
    /// 503: storage cannot take writes (a full or failing disk); it recovers by itself.
    StorageUnavailable,
    /// 409: the tenant holds as many of `what` as its limit allows.
    Quota { what: &'static str, limit: u64 },
    /// 500: a bug or a storage failure; the cause goes to the log, not to the caller.
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            code: "invalid_request",
            message: message.into(),
        }
    }

    fn code(&self) -> &str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Conflict { code, .. }
            | Self::Invalid { code, .. } => code,
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::StorageUnavailable => "storage_unavailable",
            Self::Quota { .. } => "quota_exceeded",
            Self::Internal(_) => "internal_error",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::BadRequest { message, .. }
            | Self::Conflict { message, .. }
            | Self::Invalid { message, .. }
            | Self::Unauthenticated(message)
            | Self::Forbidden(message)
            | Self::Unavailable(message) => message.clone(),
            Self::NotFound(what) => format!("No such {what} exists for your tenant."),
            Self::PayloadTooLarge => "The request body is larger than the service accepts.".into(),
            Self::UnsupportedMediaType => "Send the body as application/json.".into(),
            Self::TooManyRequests { retry_after } => format!(
                "Your tenant made too many calls; try again in {} seconds.",
                retry_after_seconds(*retry_after)
            ),
            Self::StorageUnavailable => {
                "Storage cannot take writes right now (the disk may be full); nothing was changed, try again shortly.".into()
            }
            Self::Quota { what, limit } => format!(
                "Your tenant holds {limit} {what}, the most this service allows; remove some before adding more."
            ),
            Self::Internal(_) => {
                "The service failed to handle the request; try again later.".into()
            }
        }
    }
}

impl fmt::Debug for ApiError {
    /// The cause chain, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Internal(err) => write!(f, "internal error: {err:?}"),
            other => write!(f, "{}: {}", other.code(), other.message()),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Quota { .. } => StatusCode::CONFLICT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(err) = self {
            tracing::error!(error = ?err, "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::Unauthenticated(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Self::TooManyRequests { retry_after } => {
                response.insert_header((header::RETRY_AFTER, retry_after_seconds(*retry_after)));
            }
            Self::StorageUnavailable => {
                response.insert_header((header::RETRY_AFTER, STORAGE_RETRY_AFTER_SECONDS));
            }
            _ => {}
        }
        response.json(ErrorBody {
            code: self.code().to_owned(),
            message: self.message(),
        })
    }
}

/// What a 503 for unwritable storage asks the caller to wait, in seconds.
const STORAGE_RETRY_AFTER_SECONDS: u64 = 5;

/// Whole seconds, rounded up and at least 1, as `Retry-After` wants them.
fn retry_after_seconds(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::IdempotencyConflict => Self::Conflict {
                code: "idempotency_key_reused",
                message: "This Idempotency-Key was already used for a different report; use a new key for a new report.".into(),
            },
            StorageError::Locked { .. } => Self::Unavailable(err.to_string()),
            StorageError::Quota { what, limit } => Self::Quota { what, limit },
            other if other.is_unavailable() => {
                tracing::warn!(error = %other, "storage refused a write");
                Self::StorageUnavailable
            }
            other => Self::Internal(other.into()),
        }
    }
}

/// Malformed JSON is 400, JSON of the wrong shape 422, wrong content type 415, too large 413.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::PayloadTooLarge
        }
        JsonPayloadError::Deserialize(de) if de.is_data() => ApiError::invalid(format!(
            "The request body does not have the expected fields: {de}."
        )),
        JsonPayloadError::Deserialize(de) => ApiError::BadRequest {
            code: "malformed_json",
            message: format!("The request body is not valid JSON: {de}."),
        },
        other => ApiError::BadRequest {
            code: "unreadable_body",
            message: format!("The request body could not be read: {other}."),
        },
    };
    api.into()
}

/// A path segment that does not parse as the id it stands for names nothing: 404.
pub fn path_error(_err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound("resource").into()
}

pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest {
        code: "invalid_query",
        message: format!("The query string is not valid: {err}."),
    }
    .into()
}

/// Gives error responses that are not JSON yet (actix's own 404, 405, ...) the JSON body.
pub fn jsonify_error<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, message) = match status.as_u16() {
        404 => ("not_found", "No resource exists at this path.".to_owned()),
        405 => (
            "method_not_allowed",
            "This path does not accept that HTTP method.".to_owned(),
        ),
        413 => ("payload_too_large", ApiError::PayloadTooLarge.message()),
        415 => (
            "unsupported_media_type",
            ApiError::UnsupportedMediaType.message(),
        ),
        400..=499 => (
            "bad_request",
            "The request could not be handled as sent.".to_owned(),
        ),
        _ => (
            "internal_error",
            "The service failed to handle the request; try again later.".to_owned(),
        ),
    };
    let body = serde_json::to_string(&ErrorBody {
        code: code.into(),
        message,
    })
    .unwrap_or_default();
    let (req, mut res) = res.into_parts();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let res = res.set_body(BoxBody::new(body));
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, res).map_into_right_body(),
    ))
}
