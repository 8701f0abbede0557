//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the subscription's secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::SigningSecret;

/// The `webhook-signature` value; `None` when the stored secret is not a Standard Webhooks
/// secret (a corrupt record), so that the caller fails the delivery instead of sending it
/// unsigned.
pub fn sign(secret: &SigningSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = secret.key()?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key)
        .expect("HMAC takes keys of any length (the_standard_webhooks_test_vector_is_reproduced)");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of the Standard Webhooks specification and its reference libraries.
    #[test]
    fn the_standard_webhooks_test_vector_is_reproduced() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            signature.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn a_corrupt_stored_secret_signs_nothing() {
        let corrupt: SigningSecret =
            serde_json::from_str("\"whsec_not base64!\"").expect("any string deserializes");
        assert_eq!(sign(&corrupt, "id", 1, b"{}"), None);
        let unprefixed: SigningSecret = serde_json::from_str("\"c2VjcmV0\"").unwrap();
        assert_eq!(sign(&unprefixed, "id", 1, b"{}"), None);
    }

    #[test]
    fn generated_secrets_have_the_whsec_prefix_and_24_key_bytes() {
        let secret = SigningSecret::generate().unwrap();
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(secret.key().map(|k| k.len()), Some(24));
        assert!(!format!("{secret:?}").contains(secret.expose()));
    }
}
