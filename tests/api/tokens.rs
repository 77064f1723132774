//! Access tokens — issue, and every way a token or a token request is refused.

use chrono::Utc;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Backend, TEST_JWT_SECRET, assert_problem, error_fields, forge_jwt, spawn_app, spawn_app_with};

on_both_databases!(
    valid_credentials_as_json_get_a_bearer_token,
    valid_credentials_as_a_form_get_a_token,
    a_wrong_secret_is_401_with_www_authenticate,
    an_unknown_client_is_401,
    a_revoked_client_gets_no_token_and_its_tokens_stop_working,
    a_token_can_be_narrowed_to_some_scopes_but_not_widened,
    an_unsupported_grant_type_is_422,
    a_missing_token_is_401,
    an_expired_token_is_401,
    an_alg_none_token_is_401,
    a_token_signed_with_another_key_is_401,
    a_token_for_another_audience_or_issuer_is_401,
    a_tampered_token_is_401,
    a_token_without_the_endpoints_scope_is_403,
    a_token_signed_with_the_previous_key_works_during_rotation,
    failed_token_requests_are_rate_limited_with_retry_after,
    what_swagger_ui_sends_basic_and_a_form_with_scope_gets_a_token,
    basic_credentials_are_form_urlencoded_and_json_bodies_take_them_too,
    credentials_in_both_basic_and_the_body_are_400_invalid_request,
    a_wrong_secret_in_basic_is_401_with_a_basic_challenge,
    a_malformed_basic_header_is_400,
);

fn claims(app: &crate::support::TestApp, sub: &str, shop: &str) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "iss": app.config.auth.issuer, "aud": app.config.auth.audience,
        "sub": sub, "shop": shop, "scope": "audit:read",
        "iat": now, "exp": now + 600, "jti": "test",
    })
}

async fn valid_credentials_as_json_get_a_bearer_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client("shop-a", &["audit:read", "accounts:read"]).await;
    let response = app
        .request_token(&client.client_id, client.client_secret.expose())
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "accounts:read audit:read");
    let token = body["access_token"].as_str().unwrap();
    let listed = app.get("/api/v1/audit-events", token).send().await.unwrap();
    assert_eq!(listed.status(), 200);
}

async fn valid_credentials_as_a_form_get_a_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client("shop-a", &["audit:read"]).await;
    let response = app
        .http
        .post(app.url("/api/v1/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.client_secret.expose().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
}

async fn a_wrong_secret_is_401_with_www_authenticate(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client("shop-a", &["audit:read"]).await;
    let response = app.request_token(&client.client_id, "rks_wrong").await;
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let problem = assert_problem(response, 401).await;
    assert!(!problem.to_string().contains("rks_wrong"));
}

async fn an_unknown_client_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.request_token("rkc_nobody", "rks_whatever").await;
    assert_problem(response, 401).await;
}

async fn a_revoked_client_gets_no_token_and_its_tokens_stop_working(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client("shop-a", &["audit:read"]).await;
    let token = app.token_of(&client).await;
    renkei::auth::clients::revoke(&app.db, &client.client_id, "cli")
        .await
        .unwrap()
        .expect("client exists");
    let refused = app.get("/api/v1/audit-events", &token).send().await.unwrap();
    assert_problem(refused, 401).await;
    let response = app
        .request_token(&client.client_id, client.client_secret.expose())
        .await;
    assert_problem(response, 401).await;
}

async fn a_token_can_be_narrowed_to_some_scopes_but_not_widened(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client("shop-a", &["audit:read", "accounts:read"]).await;
    let ask = |scope: &'static str| {
        app.http.post(app.url("/api/v1/auth/token")).json(&json!({
            "grant_type": "client_credentials", "client_id": client.client_id,
            "client_secret": client.client_secret.expose(), "scope": scope,
        }))
    };
    let narrowed: Value = ask("accounts:read").send().await.unwrap().json().await.unwrap();
    assert_eq!(narrowed["scope"], "accounts:read");
    let token = narrowed["access_token"].as_str().unwrap();
    let forbidden = app.get("/api/v1/audit-events", token).send().await.unwrap();
    assert_problem(forbidden, 403).await;

    let widened = assert_problem(ask("accounts:write").send().await.unwrap(), 422).await;
    assert_eq!(error_fields(&widened), ["scope"]);
    let unknown = assert_problem(ask("everything").send().await.unwrap(), 422).await;
    assert_eq!(unknown["errors"][0]["code"], "unknown_scope");
}

async fn an_unsupported_grant_type_is_422(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .http
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"grant_type": "password", "client_id": "x", "client_secret": "y"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422).await;
    assert_eq!(error_fields(&problem), ["grant_type"]);
}

async fn a_missing_token_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.http.get(app.url("/api/v1/audit-events")).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer realm=\"renkei\"");
    assert_problem(response, 401).await;
    let basic = app
        .http
        .get(app.url("/api/v1/audit-events"))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_problem(basic, 401).await;
}

async fn an_expired_token_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client("shop-a", &["audit:read"]).await;
    let mut claims = claims(&app, &client.client_id, "shop-a");
    let past = Utc::now().timestamp() - 3600;
    claims["iat"] = json!(past - 900);
    claims["exp"] = json!(past);
    let token = forge_jwt(
        &json!({"alg": "HS256", "typ": "JWT", "kid": "test-1"}),
        &claims,
        Some(TEST_JWT_SECRET),
    );
    let problem = assert_problem(app.get("/api/v1/audit-events", &token).send().await.unwrap(), 401).await;
    assert!(problem["detail"].as_str().unwrap().contains("expired"));
}

async fn an_alg_none_token_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client("shop-a", &["audit:read"]).await;
    let claims = claims(&app, &client.client_id, "shop-a");
    for header in [
        json!({"alg": "none", "typ": "JWT", "kid": "test-1"}),
        json!({"alg": "None", "typ": "JWT"}),
    ] {
        let token = forge_jwt(&header, &claims, None);
        assert_problem(app.get("/api/v1/audit-events", &token).send().await.unwrap(), 401).await;
    }
}

async fn a_token_signed_with_another_key_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client("shop-a", &["audit:read"]).await;
    let claims = claims(&app, &client.client_id, "shop-a");
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": "test-1"});
    let good = forge_jwt(&header, &claims, Some(TEST_JWT_SECRET));
    assert_eq!(
        app.get("/api/v1/audit-events", &good).send().await.unwrap().status(),
        200
    );
    let other = forge_jwt(&header, &claims, Some(b"another-key-of-thirty-two-bytes!"));
    assert_problem(app.get("/api/v1/audit-events", &other).send().await.unwrap(), 401).await;
    let unknown_kid = forge_jwt(
        &json!({"alg": "HS256", "typ": "JWT", "kid": "nope"}),
        &claims,
        Some(TEST_JWT_SECRET),
    );
    assert_problem(app.get("/api/v1/audit-events", &unknown_kid).send().await.unwrap(), 401).await;
    // The same key used with another algorithm is refused too.
    let hs512 = forge_jwt(
        &json!({"alg": "HS512", "typ": "JWT", "kid": "test-1"}),
        &claims,
        Some(TEST_JWT_SECRET),
    );
    assert_problem(app.get("/api/v1/audit-events", &hs512).send().await.unwrap(), 401).await;
}

async fn a_token_for_another_audience_or_issuer_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client("shop-a", &["audit:read"]).await;
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": "test-1"});
    for (claim, value) in [("aud", "someone-else"), ("iss", "not-renkei")] {
        let mut claims = claims(&app, &client.client_id, "shop-a");
        claims[claim] = json!(value);
        let token = forge_jwt(&header, &claims, Some(TEST_JWT_SECRET));
        assert_problem(app.get("/api/v1/audit-events", &token).send().await.unwrap(), 401).await;
        claims.as_object_mut().unwrap().remove(claim);
        let token = forge_jwt(&header, &claims, Some(TEST_JWT_SECRET));
        assert_problem(app.get("/api/v1/audit-events", &token).send().await.unwrap(), 401).await;
    }
}

async fn a_tampered_token_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client("shop-a", &["audit:read"]).await;
    let token = app.token_of(&client).await;
    let parts: Vec<&str> = token.split('.').collect();
    // Same signature, payload claiming another shop.
    let mut claims = claims(&app, &client.client_id, "shop-b");
    claims["scope"] = json!("audit:read accounts:write");
    let forged_payload = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string())
    };
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_problem(app.get("/api/v1/audit-events", &tampered).send().await.unwrap(), 401).await;
    assert_problem(app.get("/api/v1/audit-events", "not.a.jwt").send().await.unwrap(), 401).await;
}

async fn a_token_without_the_endpoints_scope_is_403(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token("shop-a", &["accounts:read"]).await;
    let problem = assert_problem(app.get("/api/v1/audit-events", &token).send().await.unwrap(), 403).await;
    assert!(problem["detail"].as_str().unwrap().contains("audit:read"));
}

async fn a_token_signed_with_the_previous_key_works_during_rotation(backend: Backend) {
    use renkei::{
        config::{JwtKeys, NamedKey},
        core::Secret,
    };
    let app = spawn_app_with(backend, |config| {
        config.auth.jwt_keys = Some(
            JwtKeys::new(vec![
                NamedKey {
                    id: "test-2".into(),
                    secret: Secret::new(b"the-new-signing-key-of-32-bytes!".to_vec()),
                },
                NamedKey {
                    id: "test-1".into(),
                    secret: Secret::new(TEST_JWT_SECRET.to_vec()),
                },
            ])
            .unwrap(),
        )
    })
    .await;
    let client = app.client("shop-a", &["audit:read"]).await;
    let old = forge_jwt(
        &json!({"alg": "HS256", "typ": "JWT", "kid": "test-1"}),
        &claims(&app, &client.client_id, "shop-a"),
        Some(TEST_JWT_SECRET),
    );
    assert_eq!(
        app.get("/api/v1/audit-events", &old).send().await.unwrap().status(),
        200
    );
    let new = app.token_of(&client).await;
    let header: Value = {
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(new.split('.').next().unwrap())
            .unwrap();
        serde_json::from_slice(&raw).unwrap()
    };
    assert_eq!(header["kid"], "test-2");
    assert_eq!(
        app.get("/api/v1/audit-events", &new).send().await.unwrap().status(),
        200
    );
}

async fn failed_token_requests_are_rate_limited_with_retry_after(backend: Backend) {
    let app = spawn_app_with(backend, |config| config.auth.failure_limit = 3).await;
    let client = app.client("shop-a", &["audit:read"]).await;
    for _ in 0..3 {
        let response = app.request_token(&client.client_id, "rks_guess").await;
        assert_problem(response, 401).await;
    }
    let limited = app.request_token(&client.client_id, "rks_guess").await;
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry_after));
    assert_problem(limited, 429).await;
    // The limit answers guesses only: the right secret still gets its token (SPEC 3).
    let right = app
        .request_token(&client.client_id, client.client_secret.expose())
        .await;
    assert_eq!(right.status(), 200);
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Exactly what Swagger UI's Authorize dialog sends for the `oauth2` client credentials
/// flow: the client in HTTP Basic, `grant_type` and `scope` as a form.
async fn what_swagger_ui_sends_basic_and_a_form_with_scope_gets_a_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client("shop-a", &["audit:read", "accounts:read"]).await;
    let response = app
        .http
        .post(app.url("/api/v1/auth/token"))
        .header("authorization", basic(&client.client_id, client.client_secret.expose()))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json, text/plain, */*")
        .header("x-requested-with", "XMLHttpRequest")
        .body("grant_type=client_credentials&scope=audit%3Aread")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "audit:read");
    let token = body["access_token"].as_str().unwrap();
    let listed = app.get("/api/v1/audit-events", token).send().await.unwrap();
    assert_eq!(listed.status(), 200);
    let forbidden = app.get("/api/v1/provider-accounts", token).send().await.unwrap();
    assert_eq!(forbidden.status(), 403);
}

async fn basic_credentials_are_form_urlencoded_and_json_bodies_take_them_too(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client("shop-a", &["audit:read"]).await;
    // urlencode() of each part (RFC 6749 §2.3.1): the id and secret come back decoded.
    let encoded_id = client.client_id.replace('_', "%5F");
    let response = app
        .http
        .post(app.url("/api/v1/auth/token"))
        .header("authorization", basic(&encoded_id, client.client_secret.expose()))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "audit:read");
}

async fn credentials_in_both_basic_and_the_body_are_400_invalid_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client("shop-a", &["audit:read"]).await;
    let response = app
        .http
        .post(app.url("/api/v1/auth/token"))
        .header("authorization", basic(&client.client_id, client.client_secret.expose()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.client_secret.expose().as_str()),
        ])
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 400).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("invalid_request"),
        "{problem}"
    );
    assert!(!problem.to_string().contains(client.client_secret.expose().as_str()));
}

async fn a_wrong_secret_in_basic_is_401_with_a_basic_challenge(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.client("shop-a", &["audit:read"]).await;
    let response = app
        .http
        .post(app.url("/api/v1/auth/token"))
        .header("authorization", basic(&client.client_id, "rks_wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic"),
    );
    assert_problem(response, 401).await;
}

async fn a_malformed_basic_header_is_400(backend: Backend) {
    let app = spawn_app(backend).await;
    for header in ["Basic not-base64!", "Basic", &basic_without_colon()] {
        let response = app
            .http
            .post(app.url("/api/v1/auth/token"))
            .header("authorization", header)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_problem(response, 400).await;
    }
}

fn basic_without_colon() -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("rkc_no_colon")
    )
}
