//! Who is calling: the `Caller` and `Platform` extractors. Extracting a caller proves its
//! credentials through the `Authenticator` (see `credentials`) and spends one call of its
//! tenant's rate limit.

use std::collections::HashSet;
use std::pin::Pin;
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use jsonwebtoken::Algorithm;

use super::error::ErrorCode;
use super::{ApiError, AppState};
use crate::domain::TenantId;

pub use super::credentials::{API_KEY_HEADER, AuthError, Authenticator};

/// The role that lets a data platform call the report API.
pub const PLATFORM_ROLE: &str = "platform";

/// An authenticated caller: the tenant whose data it may see, and who it is.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: TenantId,
    pub subject: String,
    pub roles: HashSet<String>,
}

impl Caller {
    pub fn require_role(&self, role: &str) -> Result<(), ApiError> {
        if self.roles.contains(role) {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("This call needs the '{role}' role, which your credentials do not carry."),
            ))
        }
    }
}

/// Mints an HS256 token for local use (the `token` command): `tid`, `sub`, `roles`, `iat`,
/// `exp`.
pub fn mint_hs256(
    secret: &[u8],
    tenant: &TenantId,
    subject: &str,
    roles: &[String],
    ttl: std::time::Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({
        "tid": tenant.as_str(),
        "sub": subject,
        "roles": roles,
        "iat": now,
        "exp": now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
}

/// A caller this process vouches for: a request the service sends to its own routes (the
/// demo's setup) carries it in its extensions instead of credentials. Only code can insert
/// an extension, so no request from the network can carry one.
#[derive(Debug, Clone)]
pub struct InProcess(pub Caller);

/// Which rate limit a call spends.
#[derive(Clone, Copy)]
enum Bucket {
    Connector,
    Report,
}

/// Authenticates, checks the role the bucket needs, then spends one call of the tenant's
/// limit. Unauthenticated and forbidden calls spend nothing.
async fn authorise(req: HttpRequest, bucket: Bucket) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("application state missing")))?;
    let in_process = req.extensions().get::<InProcess>().cloned();
    if let Some(InProcess(caller)) = in_process {
        if let Bucket::Report = bucket {
            caller.require_role(PLATFORM_ROLE)?;
        }
        return Ok(caller);
    }
    let caller = state.auth.authenticate(req.headers()).await?;
    let limiter = match bucket {
        Bucket::Connector => &state.rate_limits.connector,
        Bucket::Report => {
            caller.require_role(PLATFORM_ROLE)?;
            &state.rate_limits.report
        }
    };
    limiter
        .check(&caller.tenant, Instant::now())
        .map_err(|retry_after: Duration| ApiError::TooManyRequests { retry_after })?;
    Ok(caller)
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// A caller with the platform role: a data platform allowed to report. Extracted before the
/// body, so a caller without the role learns 403 whatever it sent. Spends the report API's
/// rate limit, not the connector's.
#[derive(Debug, Clone)]
pub struct Platform(pub Caller);

impl FromRequest for Platform {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authorise(req, Bucket::Report).await.map(Self) })
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(authorise(req, Bucket::Connector))
    }
}
