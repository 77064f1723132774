//! Webhook delivery steered by receivers and fair between shops (SPEC 9 and 10): fair
//! claims, deletion mid-delivery, every secret of the last day signing, Standard
//! Webhooks headers, 410 / Retry-After / redirects, disabling and enabling again,
//! recovery, retention, scopes on the event log and on subscriptions, and the per-shop
//! limit on redeliver and recover.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use renkei::config::Config;
use serde_json::{Value, json};

use crate::{
    on_both_databases,
    support::{
        Backend, PATIENCE, QUIET, assert_problem, eventually,
        receiver::{Received, Receiver},
        session::{self, ADMIN_SCOPES, Session},
    },
};

const ACCOUNT: &str = "line-pay";

fn scopes() -> Vec<&'static str> {
    let mut scopes = ADMIN_SCOPES.to_vec();
    scopes.extend(["webhooks:read", "webhooks:write"]);
    scopes
}

/// Delivers quickly to every receiver of `receivers`, retrying after a few milliseconds.
fn quick(receivers: &[&Receiver]) -> impl FnOnce(&mut Config) + use<> {
    let origins: Vec<_> = receivers.iter().map(|r| r.origin()).collect();
    move |config: &mut Config| {
        for origin in origins {
            config.outbound = config.outbound.with(origin);
        }
        config.webhook_poll_interval = Duration::from_millis(30);
        config.webhook_retry_base = Duration::from_millis(30);
    }
}

async fn session_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Session {
    session::session_with(backend, &scopes(), adjust).await
}

/// A session of another shop on the same application.
async fn other_shop(session: &Session, shop: &str) -> (String, reqwest::Client) {
    (session.app.token(shop, &scopes()).await, session.app.http.clone())
}

async fn create_endpoint(session: &Session, url: &str, events: &[&str]) -> Value {
    let response = session
        .post_json("/api/v1/webhook-endpoints", &json!({"url": url, "events": events}))
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// Changes the account so that a `provider_account.updated` event is emitted.
async fn touch_account(session: &Session, enabled: bool) {
    let response = session
        .patch_json(
            &format!("/api/v1/provider-accounts/{ACCOUNT}"),
            &json!({"enabled": enabled}),
        )
        .await;
    assert_eq!(response.status(), 200);
}

async fn deliveries(session: &Session, endpoint_id: &str) -> Vec<Value> {
    let page = session
        .get_json(&format!("/api/v1/webhook-endpoints/{endpoint_id}/deliveries"))
        .await;
    page["items"].as_array().unwrap().clone()
}

async fn endpoint(session: &Session, id: &str) -> Value {
    session.get_json(&format!("/api/v1/webhook-endpoints/{id}")).await
}

async fn events(session: &Session, query: &str) -> Vec<Value> {
    session.get_json(&format!("/api/v1/events{query}")).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The HMAC key of a `whsec_` secret for `webhook-signature`.
fn standard_key(secret: &str) -> Vec<u8> {
    STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap()
}

/// Whether one of the delivery's `webhook-signature` entries verifies with `secret`.
fn standard_verifies(received: &Received, secret: &str) -> bool {
    let signed = format!(
        "{}.{}.{}",
        received.header("webhook-id"),
        received.header("webhook-timestamp"),
        received.body
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &standard_key(secret));
    received
        .header("webhook-signature")
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .any(|mac| ring::hmac::verify(&key, signed.as_bytes(), &mac).is_ok())
}

/// Whether one of the delivery's `Renkei-Signature` entries verifies with `secret`.
fn renkei_verifies(received: &Received, secret: &str) -> bool {
    let header = received.header("Renkei-Signature");
    let mut parts = header.split(',');
    let timestamp = parts.next().and_then(|t| t.strip_prefix("t=")).expect("t= first");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let signed = format!("{timestamp}.{}", received.body);
    parts.filter_map(|p| p.strip_prefix("v1=")).any(|hex| {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect();
        ring::hmac::verify(&key, signed.as_bytes(), &bytes).is_ok()
    })
}

async fn a_healthy_receiver_gets_its_delivery_within_2s_whatever_another_shop_does(backend: Backend) {
    let stalling = Receiver::start().await;
    stalling.hold(Duration::from_secs(10));
    let healthy = Receiver::start().await;
    let session = session_with(backend, quick(&[&stalling, &healthy])).await;
    create_endpoint(&session, &stalling.url, &["provider_account.updated"]).await;
    session.configure(ACCOUNT).await;
    let event_id = events(&session, "").await[0]["id"].as_str().unwrap().to_string();
    for _ in 0..60 {
        let response = session
            .request(reqwest::Method::POST, &format!("/api/v1/events/{event_id}/redeliver"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    stalling.wait_for(1).await;

    let (token, http) = other_shop(&session, "shop-b").await;
    let created = http
        .post(session.app.url("/api/v1/webhook-endpoints"))
        .bearer_auth(&token)
        .json(&json!({"url": healthy.url, "events": ["provider_account.updated"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let body = Value::Object(session.valid_account(ACCOUNT));
    let configured = http
        .put(session.app.url(&format!("/api/v1/provider-accounts/{ACCOUNT}")))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(configured.status().is_success());

    let received = healthy.wait_for(1).await;
    let created_at: DateTime<Utc> = received[0].json()["created_at"].as_str().unwrap().parse().unwrap();
    let waited = received[0].at - created_at;
    assert!(
        waited < chrono::Duration::seconds(2),
        "shop B's delivery took {waited} behind shop A's stalled endpoint"
    );
    assert!(
        stalling.received().len() <= 8,
        "shop A's endpoint had at most a few deliveries in flight: {}",
        stalling.received().len()
    );
}

async fn deleting_an_endpoint_mid_delivery_touches_no_other_delivery(backend: Backend) {
    let doomed = Receiver::start().await;
    let other = Receiver::start().await;
    doomed.hold(Duration::from_millis(1500));
    other.hold(Duration::from_millis(1500));
    let session = session_with(backend, quick(&[&doomed, &other])).await;
    let first = create_endpoint(&session, &doomed.url, &["provider_account.updated"]).await;
    let second = create_endpoint(&session, &other.url, &["provider_account.updated"]).await;
    session.configure(ACCOUNT).await;
    doomed.wait_for(1).await;
    other.wait_for(1).await;

    let path = format!("/api/v1/webhook-endpoints/{}", first["id"].as_str().unwrap());
    let deleted = session.request(reqwest::Method::DELETE, &path).send().await.unwrap();
    assert_eq!(deleted.status(), 204);

    let second_id = second["id"].as_str().unwrap();
    let delivered = eventually("the other delivery recorded", PATIENCE, || async {
        deliveries(&session, second_id)
            .await
            .into_iter()
            .find(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(delivered["attempts"].as_array().unwrap().len(), 1);
    // Nothing is sent again: a bounded wait is all there is.
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        doomed.received().len(),
        1,
        "the deleted endpoint's delivery was sent again"
    );
    assert_eq!(other.received().len(), 1, "the other delivery was sent again");
    assert_problem(session.request(reqwest::Method::GET, &path).send().await.unwrap(), 404).await;
}

async fn every_secret_of_the_last_day_signs_both_headers(backend: Backend) {
    let receiver = Receiver::start().await;
    let session = session_with(backend, quick(&[&receiver])).await;
    let created = create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    let id = created["id"].as_str().unwrap();
    let mut secrets = vec![created["secret"].as_str().unwrap().to_string()];
    for _ in 0..2 {
        let rotated: Value = session
            .post_json(&format!("/api/v1/webhook-endpoints/{id}/rotate-secret"), &json!({}))
            .await
            .json()
            .await
            .unwrap();
        secrets.push(rotated["secret"].as_str().unwrap().to_string());
    }
    for secret in &secrets {
        assert_eq!(standard_key(secret).len(), 32, "whsec_<base64 of 32 bytes>: {secret}");
        assert!(STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).is_ok());
    }

    session.configure(ACCOUNT).await;
    let received = receiver.wait_for(1).await;
    let delivery = &received[0];
    let body = delivery.json();
    assert_eq!(delivery.header("webhook-id"), body["id"]);
    assert_eq!(delivery.header("Renkei-Event-Id"), body["id"]);
    let timestamp: i64 = delivery.header("webhook-timestamp").parse().unwrap();
    assert!((Utc::now().timestamp() - timestamp).abs() < 60);
    assert_eq!(delivery.header("webhook-signature").split(' ').count(), 3);
    assert_eq!(delivery.header("Renkei-Signature").matches("v1=").count(), 3);
    for secret in &secrets {
        assert!(standard_verifies(delivery, secret), "webhook-signature with {secret}");
        assert!(renkei_verifies(delivery, secret), "Renkei-Signature with {secret}");
    }
}

async fn a_410_disables_the_endpoint_at_once(backend: Backend) {
    let receiver = Receiver::start().await;
    receiver.answer(410, &[]);
    let session = session_with(backend, quick(&[&receiver])).await;
    let created = create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    let id = created["id"].as_str().unwrap();
    session.configure(ACCOUNT).await;

    eventually("the endpoint disabled", PATIENCE, || async {
        (endpoint(&session, id).await["enabled"] == false).then_some(())
    })
    .await;
    // No further attempt: a bounded wait is all there is (deliveries are polled every 30 ms).
    tokio::time::sleep(QUIET).await;
    assert_eq!(receiver.received().len(), 1, "no attempt after 410 Gone");
    let log = deliveries(&session, id).await;
    assert_eq!(log[0]["status"], "failed");
    assert_eq!(log[0]["attempts"][0]["status_code"], 410);
    let disabled = events(&session, "").await;
    let notice = disabled
        .iter()
        .find(|e| e["type"] == "webhook_endpoint.disabled")
        .expect("webhook_endpoint.disabled in the event log");
    assert_eq!(notice["data"]["endpoint_id"], id);
    assert_eq!(notice["data"]["reason"], "gone");
}

async fn a_failing_endpoint_is_disabled_and_enabling_it_sends_its_pending_deliveries(backend: Backend) {
    let receiver = Receiver::start().await;
    receiver.answer(500, &[]);
    let deliver = quick(&[&receiver]);
    let session = session_with(backend, |config| {
        deliver(config);
        config.webhook_disable_after = Duration::from_secs(1);
    })
    .await;
    let created = create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    let id = created["id"].as_str().unwrap();
    session.configure(ACCOUNT).await;

    eventually("the failing endpoint disabled", Duration::from_secs(20), || async {
        (endpoint(&session, id).await["enabled"] == false).then_some(())
    })
    .await;
    let notice = events(&session, "")
        .await
        .into_iter()
        .find(|e| e["type"] == "webhook_endpoint.disabled");
    assert_eq!(notice.expect("the notice")["data"]["reason"], "failing");
    assert_eq!(deliveries(&session, id).await[0]["status"], "pending");
    // An attempt begun before the endpoint was disabled may still land; then nothing more
    // is sent: bounded waits are all there is.
    tokio::time::sleep(QUIET).await;
    let tried = receiver.received().len();
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        receiver.received().len(),
        tried,
        "a disabled endpoint is not sent anything"
    );

    receiver.answer(200, &[]);
    let enabled = session
        .patch_json(&format!("/api/v1/webhook-endpoints/{id}"), &json!({"enabled": true}))
        .await;
    assert_eq!(enabled.status(), 200);
    eventually("the pending delivery delivered", PATIENCE, || async {
        let log = deliveries(&session, id).await;
        (log[0]["status"] == "delivered").then_some(())
    })
    .await;
}

async fn retry_after_puts_the_next_attempt_no_sooner(backend: Backend) {
    let receiver = Receiver::start().await;
    receiver.answer(429, &[("Retry-After", "3")]);
    let session = session_with(backend, quick(&[&receiver])).await;
    create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    session.configure(ACCOUNT).await;
    receiver.wait_for(1).await;
    receiver.answer(200, &[]);
    let received = receiver.wait_for(2).await;
    let waited = received[1].at - received[0].at;
    assert!(
        waited >= chrono::Duration::seconds(3),
        "retried after {waited}, before Retry-After: 3"
    );
}

async fn a_redirect_is_a_failure(backend: Backend) {
    let receiver = Receiver::start().await;
    receiver.answer(307, &[("Location", "https://elsewhere.example.jp/")]);
    let session = session_with(backend, quick(&[&receiver])).await;
    let created = create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    session.configure(ACCOUNT).await;
    receiver.wait_for(2).await;
    let log = deliveries(&session, created["id"].as_str().unwrap()).await;
    assert_eq!(log[0]["status"], "pending");
    assert_eq!(log[0]["attempts"][0]["status_code"], 307);
    assert_eq!(log[0]["attempts"][0]["outcome"], "retrying");
}

async fn failed_deliveries_are_listed_and_recovered_since_a_time(backend: Backend) {
    let receiver = Receiver::start().await;
    receiver.answer(410, &[]);
    let session = session_with(backend, quick(&[&receiver])).await;
    let created = create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    let id = created["id"].as_str().unwrap();
    let before = Utc::now() - chrono::Duration::minutes(5);
    session.configure(ACCOUNT).await;
    eventually("the delivery failed", PATIENCE, || async {
        let log = deliveries(&session, id).await;
        (log.first().is_some_and(|d| d["status"] == "failed")).then_some(())
    })
    .await;
    let event_id = receiver.received()[0].header("webhook-id").to_string();

    let failed = events(&session, "?delivery=failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["id"], event_id);
    assert_eq!(
        events(&session, &format!("?delivery=failed&endpoint_id={id}"))
            .await
            .len(),
        1
    );
    let other = create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    let none = events(
        &session,
        &format!("?delivery=failed&endpoint_id={}", other["id"].as_str().unwrap()),
    )
    .await;
    assert!(none.is_empty());

    receiver.answer(200, &[]);
    let enabled = session
        .patch_json(&format!("/api/v1/webhook-endpoints/{id}"), &json!({"enabled": true}))
        .await;
    assert_eq!(enabled.status(), 200);
    let recover = |since: DateTime<Utc>| {
        session
            .request(
                reqwest::Method::POST,
                &format!("/api/v1/webhook-endpoints/{id}/recover"),
            )
            .json(&json!({"since": since.to_rfc3339()}))
            .send()
    };
    let later = recover(Utc::now() + chrono::Duration::minutes(5)).await.unwrap();
    assert_eq!(later.status(), 202);
    assert_eq!(later.json::<Value>().await.unwrap(), json!({"count": 0}));
    let recovered = recover(before).await.unwrap();
    assert_eq!(recovered.status(), 202);
    assert_eq!(recovered.json::<Value>().await.unwrap(), json!({"count": 1}));
    let again = receiver.wait_for(2).await;
    assert_eq!(again[1].header("webhook-id"), event_id);
    eventually("no failed delivery left", PATIENCE, || async {
        events(&session, "?delivery=failed").await.is_empty().then_some(())
    })
    .await;

    let (token, http) = other_shop(&session, "shop-b").await;
    let theirs = http
        .post(session.app.url(&format!("/api/v1/webhook-endpoints/{id}/recover")))
        .bearer_auth(&token)
        .json(&json!({"since": before.to_rfc3339()}))
        .send()
        .await
        .unwrap();
    assert_problem(theirs, 404).await;
    let missing = session
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/webhook-endpoints/{id}/recover"),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(missing, 422).await;
}

async fn retention_deletes_old_events_but_never_a_pending_delivery(backend: Backend) {
    let healthy = Receiver::start().await;
    let busy = Receiver::start().await;
    busy.answer(429, &[("Retry-After", "3600")]);
    let deliver = quick(&[&healthy, &busy]);
    let session = session_with(backend, |config| {
        deliver(config);
        config.event_retention = chrono::Duration::seconds(2);
        config.event_retention_interval = Duration::from_millis(200);
    })
    .await;
    create_endpoint(&session, &healthy.url, &["provider_account.updated"]).await;
    session.configure(ACCOUNT).await;
    let old = healthy.wait_for(1).await[0].header("webhook-id").to_string();
    let pending_endpoint = create_endpoint(&session, &busy.url, &["provider_account.updated"]).await;
    let pending_id = pending_endpoint["id"].as_str().unwrap();
    touch_account(&session, false).await;
    busy.wait_for(1).await;
    let kept = busy.received()[0].header("webhook-id").to_string();

    eventually("the old event deleted", Duration::from_secs(20), || async {
        let listed = events(&session, "").await;
        (!listed.iter().any(|e| e["id"] == old)).then_some(())
    })
    .await;
    // Later passes keep it too: a bounded wait is all there is.
    tokio::time::sleep(QUIET).await;
    let listed = events(&session, "").await;
    assert!(
        listed.iter().any(|e| e["id"] == kept),
        "an event with a pending delivery was deleted"
    );
    let log = deliveries(&session, pending_id).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "pending");
    assert_eq!(log[0]["event_id"], kept);
}

async fn the_event_log_and_subscriptions_show_only_what_the_client_may_read(backend: Backend) {
    let session = session_with(backend, |_| {}).await;
    session.configure(ACCOUNT).await;
    let created = create_endpoint(
        &session,
        "https://hooks.example.jp/renkei",
        &["provider_account.updated", "screening.created"],
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let event_id = events(&session, "").await[0]["id"].as_str().unwrap().to_string();
    let app = &session.app;

    let webhooks_only = app.token("shop-a", &["webhooks:read", "webhooks:write"]).await;
    let listed: Value = app
        .get("/api/v1/events", &webhooks_only)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]), "provider_account events need accounts:read");
    let shown: Value = app
        .get(&format!("/api/v1/webhook-endpoints/{id}"), &webhooks_only)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["events"], json!([]));
    let redeliver = app
        .http
        .post(app.url(&format!("/api/v1/events/{event_id}/redeliver")))
        .bearer_auth(&webhooks_only)
        .send()
        .await
        .unwrap();
    assert_problem(redeliver, 404).await;
    for events in [json!(["screening.created"]), json!(["provider_account.updated"])] {
        let response = app
            .http
            .post(app.url("/api/v1/webhook-endpoints"))
            .bearer_auth(&webhooks_only)
            .json(&json!({"url": "https://hooks.example.jp/x", "events": events}))
            .send()
            .await
            .unwrap();
        assert_problem(response, 403).await;
    }
    let patched = app
        .http
        .patch(app.url(&format!("/api/v1/webhook-endpoints/{id}")))
        .bearer_auth(&webhooks_only)
        .json(&json!({"events": ["screening.created"]}))
        .send()
        .await
        .unwrap();
    assert_problem(patched, 403).await;

    let with_accounts = app
        .token("shop-a", &["webhooks:read", "webhooks:write", "accounts:read"])
        .await;
    let listed: Value = app
        .get("/api/v1/events", &with_accounts)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["id"], event_id);
    let shown: Value = app
        .get(&format!("/api/v1/webhook-endpoints/{id}"), &with_accounts)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["events"], json!(["provider_account.updated"]));
    let subscribed = app
        .http
        .post(app.url("/api/v1/webhook-endpoints"))
        .bearer_auth(&with_accounts)
        .json(&json!({"url": "https://hooks.example.jp/x", "events": ["provider_account.updated"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), 201);
}

async fn redeliver_and_recover_are_limited_per_shop(backend: Backend) {
    let receiver = Receiver::start().await;
    let session = session_with(backend, quick(&[&receiver])).await;
    create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    session.configure(ACCOUNT).await;
    let event_id = events(&session, "").await[0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/events/{event_id}/redeliver");
    let mut limited = None;
    for _ in 0..200 {
        let response = session.request(reqwest::Method::POST, &path).send().await.unwrap();
        if response.status() == 429 {
            limited = Some(response);
            break;
        }
        assert_eq!(response.status(), 202);
    }
    let limited = limited.expect("a 429 past the per-shop limit");
    let wait: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    assert_problem(limited, 429).await;

    let (token, http) = other_shop(&session, "shop-b").await;
    let theirs = http
        .post(session.app.url("/api/v1/events/evt_none/redeliver"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_problem(theirs, 404).await;
}

on_both_databases!(
    a_healthy_receiver_gets_its_delivery_within_2s_whatever_another_shop_does,
    deleting_an_endpoint_mid_delivery_touches_no_other_delivery,
    every_secret_of_the_last_day_signs_both_headers,
    a_410_disables_the_endpoint_at_once,
    a_failing_endpoint_is_disabled_and_enabling_it_sends_its_pending_deliveries,
    retry_after_puts_the_next_attempt_no_sooner,
    a_redirect_is_a_failure,
    failed_deliveries_are_listed_and_recovered_since_a_time,
    retention_deletes_old_events_but_never_a_pending_delivery,
    the_event_log_and_subscriptions_show_only_what_the_client_may_read,
    redeliver_and_recover_are_limited_per_shop,
);
