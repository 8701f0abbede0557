//! The actix surface: routes and the OpenAPI document built from them, handlers, wire types,
//! the auth extractor and `ApiError`. Handlers stay thin: extract, parse, one call into
//! storage or delivery, shape the answer.

pub mod auth;
pub mod catalog;
pub mod connector;
pub mod credentials;
pub mod data_sources;
pub mod definitions;
pub mod deliveries;
pub mod entities;
pub mod error;
pub mod health;
pub mod instances;
pub mod jwks;
pub mod metrics;
pub mod params;
pub mod rate_limit;
pub mod refreshes;
pub mod reports;
pub mod request_id;
pub mod routes;
pub mod schedule;
pub mod segments;
pub mod subscriptions;
pub mod triggers;

use std::sync::Arc;

use actix_web::middleware::ErrorHandlers;
use url::Url;

pub use auth::{Authenticator, Caller, InProcess};
pub use error::{ApiError, ErrorCode};
pub use rate_limit::{RateLimiter, RateLimits};
pub use routes::{configure, document};

use crate::delivery::Dispatcher;
use crate::storage::Store;

/// Largest JSON body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler can reach.
pub struct AppState {
    pub store: Arc<Store>,
    pub dispatcher: Arc<Dispatcher>,
    /// Runs the engine's refreshes and holds its item store.
    pub runner: Arc<crate::refresh::Runner>,
    pub auth: Authenticator,
    /// Base of the absolute URLs the service hands out (`Location`), without a trailing `/`.
    pub public_url: Url,
    /// What the served connector packages name: host, Azure AD app.
    pub connector: crate::openapi::connector::ConnectorSettings,
    /// Keys the unguessable secret in each subscription's `Location` URL.
    pub unsubscribe_key: Vec<u8>,
    pub allow_private_callbacks: bool,
    /// Per-tenant limits, spent by the `Caller` and `Platform` extractors.
    pub rate_limits: RateLimits,
    /// The time handlers stamp records with.
    pub clock: Arc<dyn crate::clock::Clock>,
}

impl AppState {
    /// An absolute URL for `path` (which starts with `/`) under the public base URL.
    pub fn absolute_url(&self, path: &str) -> String {
        format!("{}{}", self.public_url.as_str().trim_end_matches('/'), path)
    }
}

/// Parses a catalog item id from a request field, naming the field when it is not valid.
pub(crate) fn parse_item_id(raw: &str, field: &str) -> Result<crate::domain::ItemId, ApiError> {
    crate::domain::ItemId::parse(raw).ok_or_else(|| {
        ApiError::invalid(format!(
            "{field} must be 1 to {} characters without '/' or surrounding spaces.",
            crate::domain::patterns::ITEM_ID_MAX_CHARS
        ))
    })
}

/// The middleware that gives actix's own error answers the JSON error body.
pub fn json_errors<B: actix_web::body::MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(error::jsonify_error)
}
