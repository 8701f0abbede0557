//! A stand-in for Azure AD: test-only RSA keys, RS256 tokens signed with them, and a JWKS
//! endpoint on 127.0.0.1:0 whose key set a test can rotate or make fail.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{HttpResponse, web};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

/// The audience of the tests' Azure AD tokens.
pub const AUDIENCE: &str = "api://insights-test";
/// Azure AD's v1 and v2 issuers.
pub const ISSUERS: &str =
    "https://sts.windows.net/{tid}/,https://login.microsoftonline.com/{tid}/v2.0";

/// The test-only RSA keys of `tests/fixtures`, by name (`a`, `b`).
fn private_pem(key: &str) -> &'static str {
    match key {
        "a" => include_str!("../fixtures/rs256-a.pem"),
        "b" => include_str!("../fixtures/rs256-b.pem"),
        other => panic!("no test key {other}"),
    }
}

/// Key `a`'s public half, as PEM.
pub const PUBLIC_PEM_A: &str = include_str!("../fixtures/rs256-a.pub.pem");

/// The `kid` under which the JWKS server publishes key `key`.
pub fn kid(key: &str) -> String {
    format!("test-key-{key}")
}

/// Claims of a valid Azure AD v1 token of `tenant`.
pub fn azure_claims(tenant: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "aud": AUDIENCE,
        "iss": format!("https://sts.windows.net/{tenant}/"),
        "tid": tenant,
        "oid": format!("aad-user-of-{tenant}"),
        "roles": [],
        "nbf": now - 10,
        "iat": now - 10,
        "exp": now + 3600,
    })
}

/// An RS256 token signed with test key `key`, its header naming `kid`.
pub fn rs256_token(key: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_rsa_pem(private_pem(key).as_bytes()).unwrap();
    encode(&header, claims, &key).unwrap()
}

/// A JWKS endpoint on 127.0.0.1:0 whose key set a test can rotate, or make fail.
pub struct JwksServer {
    pub url: String,
    /// The keys served by name; `None` answers 500.
    keys: Arc<Mutex<Option<Vec<String>>>>,
    fetches: Arc<AtomicUsize>,
    handle: ServerHandle,
}

impl JwksServer {
    pub async fn start(keys: &[&str]) -> Self {
        let served: Arc<Mutex<Option<Vec<String>>>> = Arc::default();
        let fetches: Arc<AtomicUsize> = Arc::default();
        let state = web::Data::new((Arc::clone(&served), Arc::clone(&fetches)));
        let (port, handle) = crate::helpers::serve_on_loopback(move |cfg| {
            cfg.app_data(state.clone())
                .default_service(web::to(serve_jwks));
        });
        let jwks = Self {
            url: format!("http://127.0.0.1:{port}/discovery/v2.0/keys"),
            keys: served,
            fetches,
            handle,
        };
        jwks.serve(keys);
        jwks
    }

    /// Serves these keys from now on.
    pub fn serve(&self, keys: &[&str]) {
        *self.keys.lock().unwrap() = Some(keys.iter().map(|k| (*k).to_owned()).collect());
    }

    /// Answers 500 from now on.
    pub fn fail(&self) {
        *self.keys.lock().unwrap() = None;
    }

    /// How many times the key set was fetched.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

type JwksState = (Arc<Mutex<Option<Vec<String>>>>, Arc<AtomicUsize>);

async fn serve_jwks(state: web::Data<JwksState>) -> HttpResponse {
    let all: Value = serde_json::from_str(include_str!("../fixtures/rs256-jwks.json")).unwrap();
    state.1.fetch_add(1, Ordering::SeqCst);
    match state.0.lock().unwrap().clone() {
        Some(names) => {
            let keys: Vec<Value> = names.iter().map(|name| all[name].clone()).collect();
            HttpResponse::Ok().json(json!({ "keys": keys }))
        }
        None => HttpResponse::InternalServerError().finish(),
    }
}
