//! A client of one shop holding a token: the request helpers every API test shares.

use serde_json::{Map, Value};

use renkei::config::Config;

use super::{Backend, TestApp, accounts::Pki, accounts::valid_body, spawn_app_with};

/// Every scope an admin of a shop uses in these tests.
pub const ADMIN_SCOPES: &[&str] = &[
    "accounts:read",
    "accounts:write",
    "payment-methods:read",
    "payment-methods:write",
    "screenings:read",
    "screenings:write",
    "audit:read",
];

/// An application and a token of shop `shop-a` (by default with every admin scope).
pub struct Session {
    pub app: TestApp,
    pub token: String,
    /// The client the token was issued to (an actor in audit entries and reviews).
    pub client_id: String,
    /// Keys and certificates for provider fields that need PEM.
    pub pki: Pki,
}

pub async fn session(backend: Backend) -> Session {
    session_with(backend, ADMIN_SCOPES, |_| {}).await
}

/// A session whose token holds `scopes`, on an application configured by `adjust`.
pub async fn session_with(backend: Backend, scopes: &[&str], adjust: impl FnOnce(&mut Config)) -> Session {
    let app = spawn_app_with(backend, adjust).await;
    let credentials = app.client("shop-a", scopes).await;
    let token = app.token_of(&credentials).await;
    Session {
        app,
        token,
        client_id: credentials.client_id.clone(),
        pki: Pki::new("renkei test"),
    }
}

impl Session {
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.app
            .http
            .request(method, self.app.url(path))
            .bearer_auth(&self.token)
    }

    /// GET `path`, which must answer 200 with JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.request(reqwest::Method::GET, path).send().await.unwrap();
        ok_json(response, &format!("GET {path}")).await
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.with_body(reqwest::Method::PUT, path, body).await
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.with_body(reqwest::Method::PATCH, path, body).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.with_body(reqwest::Method::POST, path, body).await
    }

    async fn with_body(&self, method: reqwest::Method, path: &str, body: &Value) -> reqwest::Response {
        self.request(method, path).json(body).send().await.unwrap()
    }

    /// A valid body for the provider's account (every field, enabled).
    pub fn valid_account(&self, slug: &str) -> Map<String, Value> {
        valid_body(renkei::accounts::find(slug).expect("a declared provider"), &self.pki)
    }

    /// Configures the provider's account with valid settings (enabled); returns what was
    /// sent.
    pub async fn configure(&self, slug: &str) -> Map<String, Value> {
        let body = self.valid_account(slug);
        self.configure_with(slug, &Value::Object(body.clone())).await;
        body
    }

    /// PUTs the account, which must succeed; returns the account as shown.
    pub async fn configure_with(&self, slug: &str, body: &Value) -> Value {
        let response = self.put_json(&format!("/api/v1/provider-accounts/{slug}"), body).await;
        ok_json(response, &format!("PUT {slug}")).await
    }

    /// The shop's checkout configuration for `query` (e.g. `channel=lp`).
    pub async fn checkout(&self, query: &str) -> Value {
        self.get_json(&format!("/api/v1/checkout-config?{query}")).await
    }
}

/// The JSON body of a successful response; `what` names the request in the failure.
pub async fn ok_json(response: reqwest::Response, what: &str) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"))
}
