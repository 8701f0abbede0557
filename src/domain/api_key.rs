//! API keys: their wire format `ick_<id>_<secret>`, generation and the stored hash. The key
//! itself is shown once and never stored; only `ApiKeyHash` is.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::TenantId;

/// Every key starts with this, so a leaked key is recognisable (secret scanners) and a key
/// pasted into the wrong header is told apart from a JWT.
const PREFIX: &str = "ick_";

/// Identifies a key in listings and storage; it is part of the key, not a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKeyId(pub Uuid);

impl ApiKeyId {
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::try_parse(raw).ok().map(Self)
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.simple().fmt(f)
    }
}

/// SHA-256 of a key's secret part.
///
/// A fast hash is enough: the secret is 32 bytes from the operating system's random source,
/// so nobody can search its 2^256 possibilities however fast each guess is. Slow password
/// hashes (argon2, bcrypt) exist for low-entropy human passwords, and would only make every
/// API call slower.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKeyHash(String);

impl ApiKeyHash {
    fn of(secret: &str) -> Self {
        Self(URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes())))
    }

    /// Compares in constant time, so timing reveals nothing about the stored hash.
    pub fn matches(&self, presented: &PresentedApiKey<'_>) -> bool {
        let candidate = Self::of(presented.secret);
        bool::from(self.0.as_bytes().ct_eq(candidate.0.as_bytes()))
    }
}

impl fmt::Debug for ApiKeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hash>")
    }
}

/// What is stored about a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub tenant: TenantId,
    pub roles: Vec<String>,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub hash: ApiKeyHash,
}

/// A new key: the record to store and the key to show once.
pub struct NewApiKey {
    pub record: ApiKeyRecord,
    pub key: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the operating system gave no randomness: {0}")]
pub struct NoRandomness(String);

impl NewApiKey {
    pub fn generate(
        tenant: TenantId,
        roles: Vec<String>,
        name: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Self, NoRandomness> {
        let mut bytes = [0u8; 48];
        getrandom::fill(&mut bytes).map_err(|err| NoRandomness(err.to_string()))?;
        let (id_bytes, secret_bytes) = bytes.split_at(16);
        let mut id = [0u8; 16];
        id.copy_from_slice(id_bytes);
        let id = ApiKeyId(uuid::Builder::from_random_bytes(id).into_uuid());
        let secret = URL_SAFE_NO_PAD.encode(secret_bytes);
        Ok(Self {
            key: format!("{PREFIX}{id}_{secret}"),
            record: ApiKeyRecord {
                id,
                tenant,
                roles,
                name,
                created_at: now,
                revoked_at: None,
                hash: ApiKeyHash::of(&secret),
            },
        })
    }
}

/// A key as a caller sent it, split into the id to look up and the secret to check.
pub struct PresentedApiKey<'a> {
    pub id: ApiKeyId,
    secret: &'a str,
}

impl<'a> PresentedApiKey<'a> {
    /// `None` when `raw` does not have the shape of a key.
    pub fn parse(raw: &'a str) -> Option<Self> {
        let rest = raw.trim().strip_prefix(PREFIX)?;
        // The id is hex; the secret is base64url, which may itself contain '_'.
        let (id, secret) = rest.split_once('_')?;
        if id.len() != 32 || secret.is_empty() {
            return None;
        }
        Some(Self {
            id: ApiKeyId::parse(id)?,
            secret,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_key() -> NewApiKey {
        let tenant = TenantId::parse("tenant-a").unwrap();
        NewApiKey::generate(tenant, vec![], None, Utc::now()).unwrap()
    }

    #[test]
    fn a_generated_key_parses_back_to_its_id_and_matches_its_hash() {
        let new = new_key();
        let presented = PresentedApiKey::parse(&new.key).unwrap();
        assert_eq!(presented.id, new.record.id);
        assert!(new.record.hash.matches(&presented));
        assert!(!new.record.hash.0.contains(&new.key[37..]));
    }

    #[test]
    fn a_key_with_another_secret_does_not_match() {
        let (first, second) = (new_key(), new_key());
        let forged = format!("{}{}", &first.key[..37], &second.key[37..]);
        let presented = PresentedApiKey::parse(&forged).unwrap();
        assert_eq!(presented.id, first.record.id);
        assert!(!first.record.hash.matches(&presented));
    }

    #[test]
    fn malformed_keys_are_refused() {
        let cases = [
            ("", "empty"),
            ("ick_", "no id or secret"),
            (
                "abc_0123456789abcdef0123456789abcdef_secret",
                "wrong prefix",
            ),
            ("ick_0123456789abcdef0123456789abcdef", "no secret"),
            ("ick_0123456789abcdef0123456789abcdef_", "empty secret"),
            ("ick_0123_secret", "id too short"),
            ("ick_0123456789abcdef0123456789abcdeg_secret", "id not hex"),
        ];
        for (raw, reason) in cases {
            assert!(PresentedApiKey::parse(raw).is_none(), "{reason}: {raw:?}");
        }
    }
}
