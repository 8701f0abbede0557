//! Credentials: Azure AD tokens checked against a JWKS (with key rotation), HS256 tokens, API
//! keys, and the 401 every bad credential gets.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::helpers::{OTHER_TENANT, TENANT, TestApp, spawn_app_builder, token};
use crate::identity::{JwksServer, PUBLIC_PEM_A, azure_claims, kid, rs256_token};

/// How a request presents (or fails to present) credentials.
enum Credential {
    Nothing,
    Bearer(String),
    ApiKey(String),
}

async fn list_instances(app: &TestApp, credential: &Credential) -> reqwest::Response {
    let request = app.client.get(app.url("/api/v1/instances"));
    let request = match credential {
        Credential::Nothing => request,
        Credential::Bearer(token) => request.bearer_auth(token),
        Credential::ApiKey(key) => request.header("X-API-Key", key),
    };
    request.send().await.unwrap()
}

fn with(claims: Value, changes: Value) -> Value {
    let mut claims = claims;
    for (name, value) in changes.as_object().unwrap() {
        claims[name] = value.clone();
    }
    claims
}

fn unsigned_token(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{claims}.")
}

#[tokio::test]
async fn every_bad_credential_is_a_401_with_a_json_error() {
    let jwks = JwksServer::start(&["a"]).await;
    let app = spawn_app_builder()
        .azure_ad(&jwks)
        .revoked_api_key(TENANT)
        .spawn()
        .await;
    let revoked_key = app.api_keys[0].clone();
    let now = chrono::Utc::now().timestamp();
    let valid = azure_claims(TENANT);
    let a = kid("a");
    let confused = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(a.clone());
        let key = EncodingKey::from_secret(PUBLIC_PEM_A.as_bytes());
        encode(&header, &valid, &key).unwrap()
    };
    let other_secret = encode(
        &Header::new(Algorithm::HS256),
        &with(valid.clone(), json!({})),
        &EncodingKey::from_secret(b"another-secret-that-is-long-enough"),
    )
    .unwrap();

    let cases: Vec<(&str, Credential)> = vec![
        ("no credentials at all", Credential::Nothing),
        (
            "a bearer token that is not a JWT",
            Credential::Bearer("not-a-token".into()),
        ),
        (
            "an expired token, beyond the leeway",
            Credential::Bearer(rs256_token(
                "a",
                &a,
                &with(valid.clone(), json!({"exp": now - 600, "nbf": now - 7200})),
            )),
        ),
        (
            "a token not valid yet, beyond the leeway",
            Credential::Bearer(rs256_token(
                "a",
                &a,
                &with(valid.clone(), json!({"nbf": now + 600})),
            )),
        ),
        (
            "a token signed by key b while naming key a",
            Credential::Bearer(rs256_token("b", &a, &valid)),
        ),
        (
            "a token for another application",
            Credential::Bearer(rs256_token(
                "a",
                &a,
                &with(valid.clone(), json!({"aud": "api://someone-else"})),
            )),
        ),
        (
            "a token from an issuer not configured",
            Credential::Bearer(rs256_token(
                "a",
                &a,
                &with(
                    valid.clone(),
                    json!({"iss": format!("https://evil.example/{TENANT}/")}),
                ),
            )),
        ),
        (
            "a token whose issuer is another tenant's than its tid",
            Credential::Bearer(rs256_token(
                "a",
                &a,
                &with(
                    valid.clone(),
                    json!({"iss": format!("https://sts.windows.net/{OTHER_TENANT}/")}),
                ),
            )),
        ),
        (
            "a token of a tenant not in the allow-list",
            Credential::Bearer(rs256_token(
                "a",
                &a,
                &with(
                    valid.clone(),
                    json!({"tid": "tenant-c", "iss": "https://sts.windows.net/tenant-c/"}),
                ),
            )),
        ),
        (
            "a token signed with a key the issuer does not publish",
            Credential::Bearer(rs256_token("a", "test-key-unknown", &valid)),
        ),
        (
            "a token without aud",
            Credential::Bearer(rs256_token(
                "a",
                &a,
                &with(valid.clone(), json!({"aud": null})),
            )),
        ),
        (
            "an unsigned token (alg: none)",
            Credential::Bearer(unsigned_token(&valid)),
        ),
        (
            "an HS256 token signed with the RSA public key as its secret",
            Credential::Bearer(confused),
        ),
        (
            "an HS256 token signed with another secret",
            Credential::Bearer(other_secret),
        ),
        ("a revoked API key", Credential::ApiKey(revoked_key.clone())),
        (
            "a well-formed API key that was never issued",
            Credential::ApiKey(format!("ick_{}_{}", "0".repeat(32), "x".repeat(43))),
        ),
        (
            "something that is not an API key",
            Credential::ApiKey("hello".into()),
        ),
    ];
    for (reason, credential) in &cases {
        let response = list_instances(&app, credential).await;
        assert_eq!(response.status(), 401, "{reason} must be refused");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "unauthenticated", "{reason}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(!message.is_empty(), "{reason}");
        if let Credential::Bearer(secret) | Credential::ApiKey(secret) = credential {
            assert!(!message.contains(secret.as_str()), "{reason}: echoed");
        }
    }
    assert_eq!(jwks.fetches(), 1, "one fetch, then at most one a minute");
}

#[tokio::test]
async fn azure_ad_tokens_of_both_versions_hs256_tokens_and_api_keys_are_accepted() {
    let jwks = JwksServer::start(&["a"]).await;
    let app = spawn_app_builder()
        .azure_ad(&jwks)
        .api_key(OTHER_TENANT, &[])
        .spawn()
        .await;
    let v1 = azure_claims(TENANT);
    let v2 = with(
        v1.clone(),
        json!({"iss": format!("https://login.microsoftonline.com/{TENANT}/v2.0")}),
    );
    let id = app.create_instance("mine").await;
    let cases = [
        (
            "a v1 token",
            Credential::Bearer(rs256_token("a", &kid("a"), &v1)),
            1,
        ),
        (
            "a v2 token",
            Credential::Bearer(rs256_token("a", &kid("a"), &v2)),
            1,
        ),
        (
            "an HS256 token",
            Credential::Bearer(token(TENANT, false)),
            1,
        ),
        (
            "an API key of the other tenant",
            Credential::ApiKey(app.api_keys[0].clone()),
            0,
        ),
    ];
    for (reason, credential, instances) in cases {
        let response = list_instances(&app, &credential).await;
        assert_eq!(response.status(), 200, "{reason} must be accepted");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["value"].as_array().unwrap().len(),
            instances,
            "{reason}"
        );
        if instances == 1 {
            assert_eq!(body["value"][0]["id"], id.as_str(), "{reason}");
        }
    }
}

#[tokio::test]
async fn a_rotated_signing_key_is_accepted_after_the_keys_are_fetched_again() {
    let jwks = JwksServer::start(&["a"]).await;
    let app = spawn_app_builder()
        .azure_ad(&jwks)
        .jwks_refetch_interval("0s")
        .spawn()
        .await;
    let claims = azure_claims(TENANT);
    let signed_by = |key: &str| Credential::Bearer(rs256_token(key, &kid(key), &claims));

    assert_eq!(list_instances(&app, &signed_by("a")).await.status(), 200);
    assert_eq!(jwks.fetches(), 1);

    jwks.serve(&["b"]);
    assert_eq!(list_instances(&app, &signed_by("b")).await.status(), 200);
    assert_eq!(jwks.fetches(), 2, "the unknown kid fetched the keys again");
    assert_eq!(
        list_instances(&app, &signed_by("a")).await.status(),
        401,
        "a key the issuer withdrew no longer verifies"
    );

    jwks.fail();
    let unknown = Credential::Bearer(rs256_token("a", "test-key-c", &claims));
    assert_eq!(list_instances(&app, &unknown).await.status(), 401);
    assert_eq!(
        list_instances(&app, &signed_by("b")).await.status(),
        200,
        "a failed fetch keeps the last good keys"
    );
}

#[tokio::test]
async fn an_unknown_kid_fetches_the_keys_at_most_once_a_minute() {
    let jwks = JwksServer::start(&["a"]).await;
    let app = spawn_app_builder().azure_ad(&jwks).spawn().await;
    let claims = azure_claims(TENANT);
    let signed_by = |key: &str| Credential::Bearer(rs256_token(key, &kid(key), &claims));

    assert_eq!(list_instances(&app, &signed_by("a")).await.status(), 200);
    jwks.serve(&["a", "b"]);
    for _ in 0..3 {
        assert_eq!(list_instances(&app, &signed_by("b")).await.status(), 401);
    }
    assert_eq!(
        jwks.fetches(),
        1,
        "unknown kids within a minute of the last fetch do not fetch again"
    );
    assert_eq!(list_instances(&app, &signed_by("a")).await.status(), 200);
}
