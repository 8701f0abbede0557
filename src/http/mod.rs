//! The actix surface: routes, handlers, wire types, the auth extractor and `ApiError`.
//! Handlers stay thin: extract, parse, one call into storage or delivery, shape the answer.

pub mod auth;
pub mod catalog;
pub mod connector;
pub mod credentials;
pub mod deliveries;
pub mod error;
pub mod health;
pub mod instances;
pub mod jwks;
pub mod metrics;
pub mod rate_limit;
pub mod reports;
pub mod subscriptions;
pub mod triggers;
pub mod wire;

use std::sync::Arc;

use actix_web::middleware::ErrorHandlers;
use actix_web::web::{self, ServiceConfig};
use url::Url;

pub use auth::{Authenticator, Caller};
pub use error::ApiError;
pub use rate_limit::{RateLimiter, RateLimits};

use crate::delivery::Dispatcher;
use crate::storage::Store;

/// Largest JSON body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler can reach.
pub struct AppState {
    pub store: Arc<Store>,
    pub dispatcher: Arc<Dispatcher>,
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

/// Registers every route. Resources are declared with `web::resource` so that a known path
/// with the wrong method answers 405, not 404.
pub fn configure(cfg: &mut ServiceConfig) {
    use web::{delete, get, post, resource};
    cfg.app_data(
        web::JsonConfig::default()
            .limit(MAX_BODY_BYTES)
            .error_handler(error::json_error),
    )
    .app_data(web::PathConfig::default().error_handler(error::path_error))
    .app_data(web::QueryConfig::default().error_handler(error::query_error))
    .service(resource("/healthz").route(get().to(health::healthz)))
    .service(resource("/readyz").route(get().to(health::readyz)))
    .service(resource("/metrics").route(get().to(metrics::metrics)))
    .service(
        resource("/connector/apiDefinition.swagger.json")
            .route(get().to(connector::api_definition)),
    )
    .service(resource("/connector/apiProperties.json").route(get().to(connector::api_properties)))
    .service(
        web::scope("/api/v1")
            .service(
                resource("/instances")
                    .route(get().to(instances::list_instances))
                    .route(post().to(instances::create_instance)),
            )
            .service(resource("/instances/{instanceId}").route(get().to(instances::get_instance)))
            .configure(triggers::configure)
            .configure(reports::configure)
            .configure(catalog::configure)
            .service(
                resource("/instances/{instanceId}/subscriptions")
                    .route(get().to(subscriptions::list_subscriptions)),
            )
            .service(
                resource("/subscriptions/{subscriptionId}")
                    .route(get().to(subscriptions::get_subscription))
                    .route(delete().to(subscriptions::delete_subscription)),
            )
            .service(
                resource("/instances/{instanceId}/deliveries")
                    .route(get().to(deliveries::list_deliveries)),
            )
            .service(
                resource("/deliveries/{deliveryId}/retry")
                    .route(post().to(deliveries::retry_delivery)),
            ),
    );
}

/// Parses a catalog item id from a request field, naming the field when it is not valid.
pub(crate) fn parse_item_id(raw: &str, field: &str) -> Result<crate::domain::ItemId, ApiError> {
    crate::domain::ItemId::parse(raw).ok_or_else(|| {
        ApiError::invalid(format!(
            "{field} must be 1 to 200 characters without '/' or surrounding spaces."
        ))
    })
}

/// The middleware that gives actix's own error answers the JSON error body.
pub fn json_errors<B: actix_web::body::MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(error::jsonify_error)
}
