//! `ApiError`: every error the API answers, mapped in one place to a status and a stable
//! snake_case code, with a JSON body `{code, message}`. Actix's own errors (bad JSON, wrong
//! content type, unknown path, wrong method, body too large) are turned into the same shape.

use std::fmt;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::{Serialize, Serializer};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::storage::StorageError;

/// Declares `ErrorCode` from one table: each code with its status and its wire name. The
/// document lists the wire names as the `enum` of `ErrorBody.code`.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $code:ident = $status:ident, $wire:literal;)*) => {
        /// Every `code` an error answer can carry.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $($(#[$doc])* $code,)*
        }

        impl ErrorCode {
            pub const ALL: [ErrorCode; [$($wire,)*].len()] = [$(Self::$code,)*];

            /// The status an `ApiError` with this code answers.
            pub fn status(self) -> StatusCode {
                match self {
                    $(Self::$code => StatusCode::$status,)*
                }
            }

            /// The snake_case name callers branch on.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$code => $wire,)*
                }
            }
        }
    };
}

error_codes! {
    /// The body is not valid JSON.
    MalformedJson = BAD_REQUEST, "malformed_json";
    /// The body could not be read.
    UnreadableBody = BAD_REQUEST, "unreadable_body";
    /// A query parameter is not valid.
    InvalidQuery = BAD_REQUEST, "invalid_query";
    /// The `Idempotency-Key` header breaks its rule.
    InvalidIdempotencyKey = BAD_REQUEST, "invalid_idempotency_key";
    /// `$filter` is not valid OData of the supported subset; the message names the position.
    FilterSyntaxError = BAD_REQUEST, "filter_syntax_error";
    /// `$filter`, `$select` or `$orderby` names a field the entity does not have.
    UnknownField = BAD_REQUEST, "unknown_field";
    /// `$filter` compares or applies a function to values of types that do not fit.
    FilterTypeMismatch = BAD_REQUEST, "filter_type_mismatch";
    /// `$select` is not a comma-separated list of field names.
    InvalidSelect = BAD_REQUEST, "invalid_select";
    /// `$orderby` is not a comma-separated list of `field [asc|desc]`.
    InvalidOrderby = BAD_REQUEST, "invalid_orderby";
    /// A request actix refused before any handler, for another reason.
    BadRequest = BAD_REQUEST, "bad_request";
    /// No credentials, or bad ones.
    Unauthenticated = UNAUTHORIZED, "unauthenticated";
    /// Authenticated, but not allowed.
    Forbidden = FORBIDDEN, "forbidden";
    /// Nothing of the caller's tenant has this id, or nothing is at this path.
    NotFound = NOT_FOUND, "not_found";
    /// The path does not accept this method.
    MethodNotAllowed = METHOD_NOT_ALLOWED, "method_not_allowed";
    /// The `Idempotency-Key` was used for another report.
    IdempotencyKeyReused = CONFLICT, "idempotency_key_reused";
    /// The tenant holds as many instances, subscriptions or idempotency keys as it may.
    QuotaExceeded = CONFLICT, "quota_exceeded";
    /// The instance runs another refresh; one runs at a time.
    RefreshInProgress = CONFLICT, "refresh_in_progress";
    /// Content was uploaded to a data source that does not read uploads.
    NotAnUploadSource = CONFLICT, "not_an_upload_source";
    /// The body is larger than the service accepts.
    PayloadTooLarge = PAYLOAD_TOO_LARGE, "payload_too_large";
    /// The body is not of a content type the operation reads.
    UnsupportedMediaType = UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type";
    /// Well-formed, but a field is missing or not valid.
    InvalidRequest = UNPROCESSABLE_ENTITY, "invalid_request";
    /// The `notificationUrl` is not an absolute http(s) URL.
    InvalidNotificationUrl = UNPROCESSABLE_ENTITY, "invalid_notification_url";
    /// The `notificationUrl` names an address callbacks may not go to.
    NotificationUrlNotAllowed = UNPROCESSABLE_ENTITY, "notification_url_not_allowed";
    /// The tenant spent its rate limit.
    RateLimited = TOO_MANY_REQUESTS, "rate_limited";
    /// Storage or a dependency cannot serve now.
    Unavailable = SERVICE_UNAVAILABLE, "unavailable";
    /// Storage cannot take writes (a full or failing disk); it recovers by itself.
    StorageUnavailable = SERVICE_UNAVAILABLE, "storage_unavailable";
    /// A bug or a storage failure.
    InternalError = INTERNAL_SERVER_ERROR, "internal_error";
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A stable snake_case code to branch on."))
            .enum_values(Some(Self::ALL.map(Self::as_str)))
            .into()
    }
}

impl ToSchema for ErrorCode {}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    // Described by `ErrorCode`'s schema, which lists every code.
    #[schema(inline)]
    pub code: ErrorCode,
    /// A sentence a person can act on.
    pub message: String,
}

const PAYLOAD_TOO_LARGE: &str = "The request body is larger than the service accepts.";
const UNSUPPORTED_MEDIA_TYPE: &str = "Send the body as application/json.";
const NO_ROUTE: &str = "No resource exists at this path.";
const METHOD_NOT_ALLOWED: &str = "This path does not accept that HTTP method.";
const INTERNAL: &str = "The service failed to handle the request; try again later.";

pub enum ApiError {
    /// A refusal the caller can act on; its code gives the status.
    Refused { code: ErrorCode, message: String },
    /// 404: `what` ("instance", "subscription", ...) does not exist for this caller.
    NotFound(&'static str),
    /// 429: the tenant spent its rate limit; it may call again after `retry_after`.
    TooManyRequests { retry_after: Duration },
    /// 500: a bug or a storage failure; the cause goes to the log, not to the caller.
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Refused {
            code,
            message: message.into(),
        }
    }

    /// 422 `invalid_request`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn payload_too_large() -> Self {
        Self::new(ErrorCode::PayloadTooLarge, PAYLOAD_TOO_LARGE)
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(ErrorCode::UnsupportedMediaType, UNSUPPORTED_MEDIA_TYPE)
    }

    /// 404 for a path no operation has.
    pub fn no_route() -> Self {
        Self::new(ErrorCode::NotFound, NO_ROUTE)
    }

    /// 405 for a path whose operations take other methods.
    pub fn method_not_allowed() -> Self {
        Self::new(ErrorCode::MethodNotAllowed, METHOD_NOT_ALLOWED)
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Refused { code, .. } => *code,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::TooManyRequests { .. } => ErrorCode::RateLimited,
            Self::Internal(_) => ErrorCode::InternalError,
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Refused { message, .. } => message.clone(),
            Self::NotFound(what) => format!("No such {what} exists for your tenant."),
            Self::TooManyRequests { retry_after } => format!(
                "Your tenant made too many calls; try again in {} seconds.",
                retry_after_seconds(*retry_after)
            ),
            Self::Internal(_) => INTERNAL.into(),
        }
    }
}

impl From<&ApiError> for ErrorBody {
    fn from(error: &ApiError) -> Self {
        Self {
            code: error.code(),
            message: error.message(),
        }
    }
}

impl fmt::Debug for ApiError {
    /// The cause chain, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Internal(err) => write!(f, "internal error: {err:?}"),
            other => write!(f, "{}: {}", other.code().as_str(), other.message()),
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
        self.code().status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(err) = self {
            tracing::error!(error = ?err, "request failed");
        }
        let code = self.code();
        let mut response = HttpResponse::build(code.status());
        if code == ErrorCode::Unauthenticated {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Self::TooManyRequests { retry_after } = self {
            response.insert_header((header::RETRY_AFTER, retry_after_seconds(*retry_after)));
        }
        if code == ErrorCode::StorageUnavailable {
            response.insert_header((header::RETRY_AFTER, STORAGE_RETRY_AFTER_SECONDS));
        }
        response.json(ErrorBody::from(self))
    }
}

/// What a 503 for unwritable storage asks the caller to wait, in seconds.
const STORAGE_RETRY_AFTER_SECONDS: u64 = 5;

/// Whole seconds, rounded up and at least 1, as `Retry-After` wants them.
fn retry_after_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::IdempotencyConflict => Self::new(
                ErrorCode::IdempotencyKeyReused,
                "This Idempotency-Key was already used for a different report; use a new key for a new report.",
            ),
            StorageError::RefreshInProgress { running } => Self::new(
                ErrorCode::RefreshInProgress,
                format!(
                    "The instance is running refresh {running}; one refresh runs at a time, try again when it has finished."
                ),
            ),
            StorageError::Locked { .. } => Self::new(ErrorCode::Unavailable, err.to_string()),
            StorageError::Quota { what, limit } => Self::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "Your tenant holds {limit} {what}, the most this service allows; remove some before adding more."
                ),
            ),
            other if other.is_unavailable() => {
                tracing::warn!(error = %other, "storage refused a write");
                Self::new(
                    ErrorCode::StorageUnavailable,
                    "Storage cannot take writes right now (the disk may be full); nothing was changed, try again shortly.",
                )
            }
            other => Self::Internal(other.into()),
        }
    }
}

/// Malformed JSON is 400, JSON of the wrong shape 422, wrong content type 415, too large 413.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::ContentType => ApiError::unsupported_media_type(),
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::payload_too_large()
        }
        JsonPayloadError::Deserialize(de) if de.is_data() => ApiError::invalid(format!(
            "The request body does not have the expected fields: {de}."
        )),
        JsonPayloadError::Deserialize(de) => ApiError::new(
            ErrorCode::MalformedJson,
            format!("The request body is not valid JSON: {de}."),
        ),
        other => ApiError::new(
            ErrorCode::UnreadableBody,
            format!("The request body could not be read: {other}."),
        ),
    };
    api.into()
}

/// A path segment that does not parse as the id it stands for names nothing: 404.
pub fn path_error(_err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound("resource").into()
}

pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::new(
        ErrorCode::InvalidQuery,
        format!("The query string is not valid: {err}."),
    )
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
    let (code, message) = match res.status().as_u16() {
        404 => (ErrorCode::NotFound, NO_ROUTE),
        405 => (ErrorCode::MethodNotAllowed, METHOD_NOT_ALLOWED),
        413 => (ErrorCode::PayloadTooLarge, PAYLOAD_TOO_LARGE),
        415 => (ErrorCode::UnsupportedMediaType, UNSUPPORTED_MEDIA_TYPE),
        400..=499 => (
            ErrorCode::BadRequest,
            "The request could not be handled as sent.",
        ),
        _ => (ErrorCode::InternalError, INTERNAL),
    };
    let body = serde_json::to_string(&ErrorBody {
        code,
        message: message.to_owned(),
    })
    .expect("an ErrorBody is two strings and always serializes (bad_inputs_get_clear_json_errors_and_harm_nothing)");
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_code_has_its_own_snake_case_name() {
        let names: HashSet<&str> = ErrorCode::ALL.map(ErrorCode::as_str).into();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for name in names {
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name}"
            );
        }
    }

    #[test]
    fn codes_answer_with_their_own_status_and_name() {
        let cases = [
            (ApiError::invalid("x"), 422, "invalid_request"),
            (ApiError::NotFound("instance"), 404, "not_found"),
            (
                ApiError::TooManyRequests {
                    retry_after: Duration::from_millis(1500),
                },
                429,
                "rate_limited",
            ),
            (ApiError::payload_too_large(), 413, "payload_too_large"),
        ];
        for (error, status, name) in cases {
            assert_eq!(error.status_code().as_u16(), status, "{name}");
            let body = serde_json::to_value(ErrorBody {
                code: error.code(),
                message: error.to_string(),
            })
            .unwrap();
            assert_eq!(body["code"], name);
        }
    }
}
