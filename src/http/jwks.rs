//! The signing keys of an OIDC issuer (Azure AD), fetched from its JWKS URL and cached. It
//! fetches again on an unknown `kid` (at most once per interval) or when the cache is old, and
//! a failed fetch keeps the last good keys. Only RSA signing keys are kept: they verify RS256.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use url::Url;

/// Keys older than this are fetched again on the next token, so a key the issuer withdrew
/// stops verifying within a day even when no new `kid` shows up.
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// A key set larger than this is refused: Azure AD's is a few kilobytes.
const MAX_BODY_BYTES: usize = 1024 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("the key set could not be fetched")]
    Fetch(#[from] reqwest::Error),
    #[error("the key set answered HTTP {0}")]
    Status(u16),
    #[error("the key set is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the key set is not a JSON Web Key Set")]
    Malformed(#[from] serde_json::Error),
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, Arc<DecodingKey>>,
    fetched_at: Option<Instant>,
}

pub struct JwksCache {
    url: Url,
    client: reqwest::Client,
    /// The shortest time between two fetches that an unknown `kid` may cause.
    min_refetch_interval: Duration,
    cached: RwLock<Cached>,
    /// When the last fetch was attempted; held while fetching, so that concurrent requests
    /// with the same new `kid` cause one fetch.
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
}

impl JwksCache {
    pub fn new(url: Url, min_refetch_interval: Duration) -> Result<Self, JwksError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .build()?;
        Ok(Self {
            url,
            client,
            min_refetch_interval,
            cached: RwLock::default(),
            last_attempt: tokio::sync::Mutex::new(None),
        })
    }

    /// The key named `kid`, fetching the set again when it is unknown or old and the last
    /// attempt is far enough back. `None` when no good key set has it.
    pub async fn key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        if let (Some(key), false) = self.lookup(kid, Instant::now()) {
            return Some(key);
        }
        let mut last_attempt = self.last_attempt.lock().await;
        let now = Instant::now();
        // Another request may have fetched while this one waited for the lock.
        let (found, stale) = self.lookup(kid, now);
        if found.is_some() && !stale {
            return found;
        }
        if !may_fetch(*last_attempt, now, self.min_refetch_interval) {
            return found;
        }
        *last_attempt = Some(now);
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), url = %self.url, "fetched signing keys");
                let mut cached = self.cached.write().unwrap_or_else(|p| p.into_inner());
                *cached = Cached {
                    keys,
                    fetched_at: Some(now),
                };
            }
            Err(err) => {
                tracing::warn!(error = %err, url = %self.url, "cannot fetch signing keys; keeping the last good ones");
            }
        }
        self.lookup(kid, now).0
    }

    /// The cached key, and whether the cache is old enough to fetch again.
    fn lookup(&self, kid: &str, now: Instant) -> (Option<Arc<DecodingKey>>, bool) {
        let cached = self.cached.read().unwrap_or_else(|p| p.into_inner());
        let stale = cached
            .fetched_at
            .is_none_or(|at| now.saturating_duration_since(at) >= MAX_AGE);
        (cached.keys.get(kid).cloned(), stale)
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, JwksError> {
        let response = self.client.get(self.url.clone()).send().await?;
        if !response.status().is_success() {
            return Err(JwksError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_BODY_BYTES as u64)
        {
            return Err(JwksError::TooLarge);
        }
        let body = response.bytes().await?;
        if body.len() > MAX_BODY_BYTES {
            return Err(JwksError::TooLarge);
        }
        parse_key_set(&body)
    }
}

/// Whether a fetch may start now, given when the last one was attempted.
fn may_fetch(last_attempt: Option<Instant>, now: Instant, min_interval: Duration) -> bool {
    last_attempt.is_none_or(|at| now.saturating_duration_since(at) >= min_interval)
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

/// The fields of a JWK this service reads; others are ignored.
#[derive(Deserialize)]
struct RsaJwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// The RSA signing keys of a key set, by `kid`. Keys of other types or uses are skipped, not
/// refused, so that an issuer adding an EC key does not break RS256.
fn parse_key_set(body: &[u8]) -> Result<HashMap<String, Arc<DecodingKey>>, JwksError> {
    let set: KeySet = serde_json::from_slice(body)?;
    Ok(set
        .keys
        .into_iter()
        .filter_map(|value| serde_json::from_value::<RsaJwk>(value).ok())
        .filter(|jwk| {
            jwk.kty == "RSA"
                && jwk.usage.as_deref().is_none_or(|u| u == "sig")
                && jwk.alg.as_deref().is_none_or(|a| a == "RS256")
        })
        .filter_map(|jwk| {
            let key =
                DecodingKey::from_rsa_components(jwk.n.as_deref()?, jwk.e.as_deref()?).ok()?;
            Some((jwk.kid?, Arc::new(key)))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_unknown_kid_fetches_again_only_after_the_interval() {
        let start = Instant::now();
        let minute = Duration::from_secs(60);
        assert!(may_fetch(None, start, minute), "the first fetch is free");
        assert!(!may_fetch(
            Some(start),
            start + Duration::from_secs(59),
            minute
        ));
        assert!(may_fetch(Some(start), start + minute, minute));
    }

    #[test]
    fn only_rsa_signing_keys_are_kept() {
        let n = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";
        let body = json!({"keys": [
            {"kty": "RSA", "use": "sig", "kid": "good", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "no-use", "n": n, "e": "AQAB", "alg": "RS256"},
            {"kty": "RSA", "use": "enc", "kid": "encryption", "n": n, "e": "AQAB"},
            {"kty": "RSA", "use": "sig", "kid": "other-alg", "n": n, "e": "AQAB", "alg": "RS512"},
            {"kty": "RSA", "use": "sig", "n": n, "e": "AQAB"},
            {"kty": "EC", "use": "sig", "kid": "ec", "crv": "P-256", "x": "x", "y": "y"},
            {"kty": "oct", "kid": "symmetric", "k": "c2VjcmV0"},
        ]});
        let keys = parse_key_set(body.to_string().as_bytes()).unwrap();
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["good", "no-use"]);
    }
}
