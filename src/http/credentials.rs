//! How credentials are proved: the `Authenticator` and its `Credential` strategies, HS256
//! bearer tokens, RS256 tokens checked against an issuer's JWKS (Azure AD), and API keys. It
//! never logs or echoes what a caller sent.

use std::collections::HashSet;
use std::sync::Arc;

use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use anyhow::Context;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::Deserialize;

use super::ApiError;
use super::auth::Caller;
use super::error::ErrorCode;
use super::jwks::JwksCache;
use crate::config::Settings;
use crate::domain::{PresentedApiKey, TenantId};
use crate::storage::{StorageError, Store};

/// The header that carries an API key.
pub const API_KEY_HEADER: &str = "X-API-Key";
/// Clock skew tolerated on `exp` and `nbf` (the contract allows at most 60 s).
const LEEWAY_SECONDS: u64 = 30;
/// Stands for the token's own `tid` in accepted issuers.
const TENANT_PLACEHOLDER: &str = "{tid}";

/// Why credentials were refused. Messages never repeat what the caller sent: it may be a
/// secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("Send credentials: an 'Authorization: Bearer <token>' or an 'X-API-Key' header.")]
    Missing,
    #[error("The bearer token is not valid: {0}.")]
    InvalidToken(String),
    #[error("The token names no tenant ('tid') or no caller ('oid' or 'sub').")]
    MissingClaims,
    #[error("The API key is not valid: it is unknown, malformed or revoked.")]
    InvalidApiKey,
    #[error("Your tenant is not allowed to use this service.")]
    TenantNotAllowed,
    #[error("credentials could not be checked")]
    Storage(#[from] StorageError),
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Storage(err) => err.into(),
            other => ApiError::new(ErrorCode::Unauthenticated, other.to_string()),
        }
    }
}

/// The claims this service reads from a token.
#[derive(Debug, Deserialize)]
struct Claims {
    tid: Option<String>,
    oid: Option<String>,
    sub: Option<String>,
    iss: Option<String>,
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

/// What the request presents, read once from its headers.
enum Presented<'a> {
    /// A bearer token and its header, `None` when the header does not decode (including
    /// `alg: none`, which jsonwebtoken does not know).
    Bearer {
        token: &'a str,
        header: Option<Box<Header>>,
    },
    ApiKey(&'a str),
    Nothing,
}

impl<'a> Presented<'a> {
    fn read(headers: &'a HeaderMap) -> Self {
        if let Some(token) = bearer_token(headers) {
            return Self::Bearer {
                token,
                header: jsonwebtoken::decode_header(token).ok().map(Box::new),
            };
        }
        match headers.get(API_KEY_HEADER).map(|v| v.to_str()) {
            Some(Ok(key)) => Self::ApiKey(key),
            Some(Err(_)) => Self::ApiKey(""),
            None => Self::Nothing,
        }
    }
}

/// RS256 tokens from an OIDC issuer such as Azure AD.
pub struct Rs256 {
    keys: JwksCache,
    validation: Validation,
    /// Accepted `iss` values; `{tid}` stands for the token's own `tid`.
    issuers: Vec<String>,
}

impl Rs256 {
    fn issuer_accepted(&self, claims: &Claims) -> bool {
        let (Some(iss), Some(tid)) = (claims.iss.as_deref(), claims.tid.as_deref()) else {
            return false;
        };
        self.issuers
            .iter()
            .any(|template| template.replace(TENANT_PLACEHOLDER, tid) == iss)
    }
}

/// HS256 tokens signed with the shared secret.
pub struct Hs256 {
    key: DecodingKey,
    validation: Validation,
}

/// One way of proving identity.
enum Credential {
    Hs256(Box<Hs256>),
    Rs256(Box<Rs256>),
    ApiKey { store: Arc<Store> },
}

impl Credential {
    fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        Self::Hs256(Box::new(Hs256 {
            key: DecodingKey::from_secret(secret),
            validation,
        }))
    }

    fn rs256(keys: JwksCache, audiences: &[String], issuers: Vec<String>) -> Self {
        // Pinned to RS256: a token whose header names another algorithm (HS256 signed with
        // the public key, `none`) never reaches a key.
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_audience(audiences);
        // `iss` is checked against the templates after decoding, since `{tid}` depends on
        // the token.
        validation.iss = None;
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        Self::Rs256(Box::new(Rs256 {
            keys,
            validation,
            issuers,
        }))
    }

    /// `None` when this strategy does not apply to what the request presents.
    async fn verify(&self, presented: &Presented<'_>) -> Option<Result<Caller, AuthError>> {
        match (self, presented) {
            (
                Self::Hs256(hs256),
                Presented::Bearer {
                    token,
                    header: Some(header),
                },
            ) if header.alg == Algorithm::HS256 => Some(
                jsonwebtoken::decode::<Claims>(token, &hs256.key, &hs256.validation)
                    .map_err(|err| AuthError::InvalidToken(describe(&err)))
                    .and_then(|data| data.claims.into_caller()),
            ),
            (
                Self::Rs256(rs256),
                Presented::Bearer {
                    token,
                    header: Some(header),
                },
            ) if header.alg == Algorithm::RS256 => Some(verify_rs256(rs256, token, header).await),
            (Self::ApiKey { store }, Presented::ApiKey(raw)) => Some(verify_api_key(store, raw)),
            _ => None,
        }
    }
}

async fn verify_rs256(rs256: &Rs256, token: &str, header: &Header) -> Result<Caller, AuthError> {
    let kid = header
        .kid
        .as_deref()
        .ok_or_else(|| AuthError::InvalidToken("its header names no signing key ('kid')".into()))?;
    let key = rs256.keys.key(kid).await.ok_or_else(|| {
        AuthError::InvalidToken("it is signed with a key the issuer does not publish".into())
    })?;
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &rs256.validation)
        .map_err(|err| AuthError::InvalidToken(describe(&err)))?
        .claims;
    if !rs256.issuer_accepted(&claims) {
        return Err(AuthError::InvalidToken(
            "its issuer ('iss') is not accepted for its tenant".into(),
        ));
    }
    claims.into_caller()
}

fn verify_api_key(store: &Store, raw: &str) -> Result<Caller, AuthError> {
    let presented = PresentedApiKey::parse(raw).ok_or(AuthError::InvalidApiKey)?;
    let record = store
        .api_key(presented.id)?
        .filter(|record| record.revoked_at.is_none() && record.hash.matches(&presented))
        .ok_or(AuthError::InvalidApiKey)?;
    Ok(Caller {
        tenant: record.tenant,
        subject: format!("api-key:{}", record.id),
        roles: record.roles.into_iter().collect(),
    })
}

fn describe(err: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match err.kind() {
        ErrorKind::ExpiredSignature => "it has expired".into(),
        ErrorKind::ImmatureSignature => "it is not valid yet".into(),
        ErrorKind::InvalidSignature => "its signature does not verify".into(),
        ErrorKind::InvalidAudience => "it is meant for another audience ('aud')".into(),
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

#[derive(Default)]
pub struct Authenticator {
    credentials: Vec<Credential>,
    /// `None` admits every tenant.
    allowed_tenants: Option<HashSet<TenantId>>,
}

impl Authenticator {
    pub fn new(hs256_secret: Option<&[u8]>) -> Self {
        Self {
            credentials: hs256_secret.into_iter().map(Credential::hs256).collect(),
            allowed_tenants: None,
        }
    }

    /// Every strategy the settings configure; API keys are always accepted.
    pub fn from_settings(settings: &Settings, store: Arc<Store>) -> anyhow::Result<Self> {
        let mut auth = Self::new(
            settings
                .jwt_hs256_secret
                .as_ref()
                .map(|s| s.expose().as_bytes()),
        );
        if let Some(url) = &settings.jwks_url {
            let mut audiences = list(&settings.jwt_audience);
            if audiences.is_empty() {
                audiences = [&settings.aad_resource_uri, &settings.aad_client_id]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect();
            }
            anyhow::ensure!(
                !audiences.is_empty(),
                "INSIGHTS_JWKS_URL needs the accepted audiences: set INSIGHTS_JWT_AUDIENCE (or INSIGHTS_AAD_RESOURCE_URI and INSIGHTS_AAD_CLIENT_ID)"
            );
            let issuers = list(&settings.jwt_issuer);
            anyhow::ensure!(
                !issuers.is_empty(),
                "INSIGHTS_JWKS_URL needs the accepted issuers: set INSIGHTS_JWT_ISSUER, for Azure AD https://sts.windows.net/{{tid}}/,https://login.microsoftonline.com/{{tid}}/v2.0"
            );
            let keys = JwksCache::new(url.clone(), settings.jwks_refetch_interval)
                .context("cannot build the JWKS client")?;
            auth.credentials
                .push(Credential::rs256(keys, &audiences, issuers));
        }
        auth.credentials.push(Credential::ApiKey { store });
        let allowed = list(&settings.allowed_tenants);
        if !allowed.is_empty() {
            let tenants = allowed
                .iter()
                .map(|raw| {
                    TenantId::parse(raw).with_context(|| {
                        format!("INSIGHTS_ALLOWED_TENANTS: '{raw}' is not a tenant id")
                    })
                })
                .collect::<anyhow::Result<_>>()?;
            auth.allowed_tenants = Some(tenants);
        }
        Ok(auth)
    }

    /// The caller proved by the request's credentials.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, AuthError> {
        let presented = Presented::read(headers);
        let mut verified = None;
        for credential in &self.credentials {
            if let Some(result) = credential.verify(&presented).await {
                verified = Some(result);
                break;
            }
        }
        let caller = verified.unwrap_or_else(|| {
            Err(match presented {
                Presented::Nothing => AuthError::Missing,
                Presented::ApiKey(_) => AuthError::InvalidApiKey,
                Presented::Bearer { header: None, .. } => {
                    AuthError::InvalidToken("it could not be decoded".into())
                }
                Presented::Bearer { .. } => AuthError::InvalidToken(
                    "it is signed with an algorithm this service does not accept".into(),
                ),
            })
        })?;
        match &self.allowed_tenants {
            Some(allowed) if !allowed.contains(&caller.tenant) => Err(AuthError::TenantNotAllowed),
            _ => Ok(caller),
        }
    }
}

/// Trimmed, non-empty items of a comma-separated setting.
fn list(items: &[String]) -> Vec<String> {
    items
        .iter()
        .flat_map(|item| item.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }

    fn build(args: &[&str]) -> anyhow::Result<Authenticator> {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let settings = Cli::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .unwrap()
            .settings;
        Authenticator::from_settings(&settings, store)
    }

    const JWKS: &str = "--jwks-url=https://login.example/keys";
    const ISSUER: &str = "--jwt-issuer=https://sts.windows.net/{tid}/";

    #[test]
    fn settings_that_would_admit_foreign_tokens_refuse_to_start() {
        let cases: [(&[&str], &str); 3] = [
            (&[JWKS, ISSUER], "no audience admits tokens for any app"),
            (
                &[JWKS, "--jwt-audience=api://x"],
                "no issuer admits any issuer",
            ),
            (&["--allowed-tenants=a b"], "a tenant id with a space"),
        ];
        for (args, reason) in cases {
            assert!(build(args).is_err(), "{reason}: {args:?}");
        }
    }

    #[test]
    fn the_azure_ad_app_ids_serve_as_audiences_when_none_is_set() {
        let auth = build(&[JWKS, ISSUER, "--aad-client-id=client"]).unwrap();
        let Some(Credential::Rs256(rs256)) = auth.credentials.first() else {
            panic!("RS256 tokens are accepted");
        };
        assert_eq!(
            rs256.validation.aud,
            Some(HashSet::from(["client".to_owned()]))
        );
    }

    #[test]
    fn an_issuer_template_accepts_only_the_tokens_own_tenant() {
        let auth = build(&[JWKS, ISSUER, "--jwt-audience=api://x"]).unwrap();
        let Some(Credential::Rs256(rs256)) = auth.credentials.first() else {
            panic!("RS256 tokens are accepted");
        };
        let claims = |tid: &str, iss: &str| Claims {
            tid: Some(tid.into()),
            oid: Some("someone".into()),
            sub: None,
            iss: Some(iss.into()),
            roles: vec![],
        };
        assert!(rs256.issuer_accepted(&claims("t1", "https://sts.windows.net/t1/")));
        assert!(!rs256.issuer_accepted(&claims("t1", "https://sts.windows.net/t2/")));
        assert!(!rs256.issuer_accepted(&claims("t1", "https://sts.windows.net/t1")));
    }
}
