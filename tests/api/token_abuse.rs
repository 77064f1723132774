//! SPEC 3, the token endpoint under attack: failures are limited per source address, a
//! correct secret always gets its token, an impossible `client_id` is refused before any
//! work, and client secrets hashed the earlier way keep working.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::on_both_databases;
use crate::support::{Backend, TestApp, assert_problem, spawn_app_with};

on_both_databases!(
    thirty_wrong_secrets_from_one_address_do_not_lock_the_client_out,
    a_refusal_past_the_limit_is_held_back_but_the_right_secret_is_not,
    failures_count_against_the_forwarded_source_behind_a_trusted_proxy,
    an_untrusted_peer_cannot_pick_its_source_with_x_forwarded_for,
    a_client_id_that_cannot_be_one_is_refused_at_once,
    a_client_hashed_with_pbkdf2_still_gets_its_token_and_is_rehashed,
);

async fn token_from(app: &TestApp, forwarded_for: &str, client_id: &str, secret: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/auth/token"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}))
        .send()
        .await
        .unwrap()
}

async fn thirty_wrong_secrets_from_one_address_do_not_lock_the_client_out(backend: Backend) {
    let app = spawn_app_with(backend, |config| {
        config.auth.failure_limit = 5;
        config.auth.failure_delay = Duration::ZERO;
    })
    .await;
    let client = app.client("shop-a", &["audit:read"]).await;
    let mut limited = 0;
    for _ in 0..30 {
        let status = app.request_token(&client.client_id, "rks_wrong").await.status();
        assert!(status == 401 || status == 429, "{status}");
        limited += usize::from(status == 429);
    }
    assert_eq!(limited, 25, "failures past the limit are answered 429");
    let right = app
        .request_token(&client.client_id, client.client_secret.expose())
        .await;
    assert_eq!(right.status(), 200);
}

async fn failures_count_against_the_forwarded_source_behind_a_trusted_proxy(backend: Backend) {
    let app = spawn_app_with(backend, |config| {
        config.auth.failure_limit = 2;
        config.auth.trusted_proxies = vec![renkei::auth::source::Cidr::parse("127.0.0.0/8").unwrap()];
    })
    .await;
    let client = app.client("shop-a", &["audit:read"]).await;
    for _ in 0..2 {
        let response = token_from(&app, "203.0.113.1", &client.client_id, "rks_wrong").await;
        assert_problem(response, 401).await;
    }
    let limited = token_from(&app, "198.51.100.7, 203.0.113.1", &client.client_id, "rks_wrong").await;
    assert_problem(limited, 429).await;
    let other_source = token_from(&app, "203.0.113.2", &client.client_id, "rks_wrong").await;
    assert_problem(other_source, 401).await;
}

async fn an_untrusted_peer_cannot_pick_its_source_with_x_forwarded_for(backend: Backend) {
    let app = spawn_app_with(backend, |config| config.auth.failure_limit = 2).await;
    let client = app.client("shop-a", &["audit:read"]).await;
    for i in 0..2 {
        let response = token_from(&app, &format!("203.0.113.{i}"), &client.client_id, "rks_wrong").await;
        assert_problem(response, 401).await;
    }
    let limited = token_from(&app, "203.0.113.99", &client.client_id, "rks_wrong").await;
    assert_problem(limited, 429).await;
}

async fn a_client_id_that_cannot_be_one_is_refused_at_once(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let huge = "x".repeat(200 * 1024);
    let started = Instant::now();
    let response = app.request_token(&huge, "rks_anything").await;
    assert_problem(response, 401).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    for malformed in [
        "",
        "rkc_",
        "rkc_ZZZZZZZZZZZZZZZZZZZZZZZZ",
        "client-1",
        "rkc_0123456789abcdef0123456789",
    ] {
        let response = app.request_token(malformed, "rks_anything").await;
        assert_problem(response, 401).await;
    }
}

async fn a_client_hashed_with_pbkdf2_still_gets_its_token_and_is_rehashed(backend: Backend) {
    use base64::{Engine, engine::general_purpose::STANDARD_NO_PAD as B64};
    let app = spawn_app_with(backend, |_| {}).await;
    let secret = "rks_earlier-client-secret";
    let salt = [3u8; 16];
    let mut hash = [0u8; 32];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::new(1000).unwrap(),
        &salt,
        secret.as_bytes(),
        &mut hash,
    );
    let stored = format!("pbkdf2-sha256$1000${}${}", B64.encode(salt), B64.encode(hash));
    let client_id = "rkc_0123456789abcdef01234567";
    renkei::store::shops::ensure(&app.db, "shop-a").await.unwrap();
    renkei::store::clients::insert(
        &app.db,
        renkei::store::clients::NewClient {
            id: client_id,
            shop_id: "shop-a",
            name: "made before peppered hashes",
            scopes: "audit:read",
            secret_hash: &stored,
        },
    )
    .await
    .unwrap();

    assert_eq!(app.request_token(client_id, "rks_wrong").await.status(), 401);
    assert_eq!(app.request_token(client_id, secret).await.status(), 200);
    let row = renkei::store::clients::find(&app.db, client_id).await.unwrap().unwrap();
    assert!(row.secret_hash.starts_with("hmac-sha256$"), "rehashed on success");
    assert_eq!(app.request_token(client_id, secret).await.status(), 200);
}

async fn a_refusal_past_the_limit_is_held_back_but_the_right_secret_is_not(backend: Backend) {
    let app = spawn_app_with(backend, |config| {
        config.auth.failure_limit = 1;
        // Long, so that "not held back" can be told apart from "held back" on a loaded
        // machine without a narrow wall-clock window.
        config.auth.failure_delay = DELAY;
    })
    .await;
    const DELAY: Duration = Duration::from_secs(3);
    let client = app.client("shop-a", &["audit:read"]).await;
    assert_problem(app.request_token(&client.client_id, "rks_wrong").await, 401).await;
    let started = Instant::now();
    assert_problem(app.request_token(&client.client_id, "rks_wrong").await, 429).await;
    assert!(started.elapsed() >= DELAY);
    let started = Instant::now();
    let right = app
        .request_token(&client.client_id, client.client_secret.expose())
        .await;
    assert_eq!(right.status(), 200);
    assert!(started.elapsed() < DELAY, "the right secret is not held back");
}
