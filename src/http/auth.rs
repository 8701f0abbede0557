//! Who is calling: the `Caller` extractor and the `Authenticator` behind it. Each way of
//! proving identity is one `Credential` strategy, tried in order; HS256 bearer tokens are the
//! first, and others (JWKS, API keys) slot in beside it.

use std::collections::HashSet;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use actix_web::{FromRequest, HttpRequest, web};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::ApiError;
use super::AppState;
use crate::domain::TenantId;

/// The role that lets a data platform call the report API.
pub const PLATFORM_ROLE: &str = "platform";
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

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
            Err(ApiError::Forbidden(format!(
                "This call needs the '{role}' role, which your credentials do not carry."
            )))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("Send credentials: an 'Authorization: Bearer <token>' header.")]
    Missing,
    #[error("The bearer token is not valid: {0}.")]
    InvalidToken(String),
    #[error("The token names no tenant ('tid') or no caller ('oid' or 'sub').")]
    MissingClaims,
}

/// The claims every token must carry.
#[derive(Debug, Deserialize)]
struct Claims {
    tid: Option<String>,
    oid: Option<String>,
    sub: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

impl Claims {
    fn into_caller(self) -> Result<Caller, AuthError> {
        let tenant = self
            .tid
            .as_deref()
            .and_then(TenantId::parse)
            .ok_or(AuthError::MissingClaims)?;
        let subject = self
            .oid
            .or(self.sub)
            .filter(|s| !s.is_empty())
            .ok_or(AuthError::MissingClaims)?;
        Ok(Caller {
            tenant,
            subject,
            roles: self.roles.into_iter().collect(),
        })
    }
}

/// One way of proving identity.
enum Credential {
    Hs256 {
        key: DecodingKey,
        validation: Validation,
    },
}

impl Credential {
    fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        Self::Hs256 {
            key: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// `None` when this strategy does not apply to the request.
    fn verify(&self, headers: &HeaderMap) -> Option<Result<Caller, AuthError>> {
        match self {
            Self::Hs256 { key, validation } => {
                let token = bearer_token(headers)?;
                Some(
                    jsonwebtoken::decode::<Claims>(token, key, validation)
                        .map_err(|err| AuthError::InvalidToken(describe(&err)))
                        .and_then(|data| data.claims.into_caller()),
                )
            }
        }
    }
}

fn describe(err: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match err.kind() {
        ErrorKind::ExpiredSignature => "it has expired".into(),
        ErrorKind::ImmatureSignature => "it is not valid yet".into(),
        ErrorKind::InvalidSignature => "its signature does not verify".into(),
        ErrorKind::InvalidAlgorithm => {
            "it is signed with an algorithm this service does not accept".into()
        }
        ErrorKind::MissingRequiredClaim(claim) => format!("it lacks the '{claim}' claim"),
        _ => "it could not be decoded".into(),
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
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

#[derive(Default)]
pub struct Authenticator {
    credentials: Vec<Credential>,
}

impl Authenticator {
    pub fn new(hs256_secret: Option<&[u8]>) -> Self {
        Self {
            credentials: hs256_secret.into_iter().map(Credential::hs256).collect(),
        }
    }

    /// The caller proved by the request's credentials.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, AuthError> {
        self.credentials
            .iter()
            .find_map(|credential| credential.verify(headers))
            .unwrap_or(Err(if bearer_token(headers).is_some() {
                AuthError::InvalidToken("no way of checking bearer tokens is configured".into())
            } else {
                AuthError::Missing
            }))
    }
}

/// A caller with the platform role: a data platform allowed to report. Extracted before the
/// body, so a caller without the role learns 403 whatever it sent.
#[derive(Debug, Clone)]
pub struct Platform(pub Caller);

impl FromRequest for Platform {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let result = Caller::from_request(req, payload)
            .into_inner()
            .and_then(|caller| caller.require_role(PLATFORM_ROLE).map(|()| Self(caller)));
        ready(result)
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.app_data::<web::Data<AppState>>() {
            Some(state) => state
                .auth
                .authenticate(req.headers())
                .map_err(|err| ApiError::Unauthenticated(err.to_string())),
            None => Err(ApiError::Internal(anyhow::anyhow!(
                "application state missing"
            ))),
        };
        ready(result)
    }
}
