//! Webhooks (SPEC 9): endpoints with a secret shown once, the event log, signed
//! deliveries from the outbox, retries, restarts, replicas and redelivery.

use std::time::Duration;

use renkei::config::Config;
use serde_json::{Value, json};

use crate::{
    on_both_databases,
    support::{
        Backend, PATIENCE, QUIET, TestApp,
        accounts::Pki,
        assert_problem, dump_tables, error_fields, eventually,
        oplux::{Mock, account, order},
        receiver::{Received, Receiver},
        session::{self, ADMIN_SCOPES, Session},
        spawn_on, test_master_keys,
    },
};

const ACCOUNT: &str = "line-pay";

fn scopes() -> Vec<&'static str> {
    let mut scopes = ADMIN_SCOPES.to_vec();
    scopes.extend(["webhooks:read", "webhooks:write"]);
    scopes
}

/// Delivers quickly to `receiver`, retrying after a few milliseconds.
fn quick(receiver: &Receiver) -> impl FnOnce(&mut Config) + use<> {
    let origin = receiver.origin();
    move |config: &mut Config| {
        config.outbound = config.outbound.with(origin);
        config.webhook_poll_interval = Duration::from_millis(30);
        config.webhook_retry_base = Duration::from_millis(30);
    }
}

async fn session_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Session {
    session::session_with(backend, &scopes(), adjust).await
}

/// Creates an endpoint for `url` subscribed to `events`; returns the answer.
async fn create_endpoint(session: &Session, url: &str, events: &[&str]) -> Value {
    let response = session
        .post_json("/api/v1/webhook-endpoints", &json!({"url": url, "events": events}))
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// The `v1` signatures of a delivery that verify with `secret` over `t.body`.
fn verifies(received: &Received, secret: &str) -> bool {
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

async fn deliveries(session: &Session, endpoint_id: &str) -> Vec<Value> {
    let page = session
        .get_json(&format!("/api/v1/webhook-endpoints/{endpoint_id}/deliveries"))
        .await;
    page["items"].as_array().unwrap().clone()
}

/// Waits until the endpoint's newest delivery has `status`.
async fn wait_for_status(session: &Session, endpoint_id: &str, status: &str) -> Value {
    eventually(&format!("a delivery {status}"), PATIENCE, || async move {
        let newest = deliveries(session, endpoint_id).await.into_iter().next()?;
        (newest["status"] == status).then_some(newest)
    })
    .await
}

async fn a_delivery_is_signed_with_the_endpoint_secret(backend: Backend) {
    let receiver = Receiver::start().await;
    let session = session_with(backend, quick(&receiver)).await;
    let endpoint = create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    let sent = session.configure(ACCOUNT).await;

    let received = receiver.wait_for(1).await;
    let body = received[0].json();
    assert!(verifies(&received[0], endpoint["secret"].as_str().unwrap()));
    assert_eq!(received[0].header("Renkei-Event-Id"), body["id"]);
    assert_eq!(body["type"], "provider_account.updated");
    assert_eq!(body["data"]["provider"], ACCOUNT);
    assert_eq!(body["data"]["action"], "create");
    assert!(
        body["data"]["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("channel_secret"))
    );
    assert!(body["created_at"].is_string());
    let secret = sent["channel_secret"].as_str().unwrap();
    assert!(!received[0].body.contains(secret), "a secret's value was sent");
}

async fn a_failing_endpoint_is_retried_until_it_answers_2xx(backend: Backend) {
    let receiver = Receiver::start().await;
    receiver.fail_next(2);
    let session = session_with(backend, quick(&receiver)).await;
    let endpoint = create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    session.configure(ACCOUNT).await;

    let delivery = wait_for_status(&session, endpoint["id"].as_str().unwrap(), "delivered").await;
    let codes: Vec<&Value> = delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(codes, [&json!(500), &json!(500), &json!(200)]);
    let outcomes: Vec<&Value> = delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["outcome"])
        .collect();
    assert_eq!(outcomes, [&json!("retrying"), &json!("retrying"), &json!("delivered")]);
    assert!(delivery["attempts"][0]["latency_ms"].is_number());
    let ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.header("Renkei-Event-Id").to_string())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "one event, sent three times");
}

async fn a_delivery_pending_at_shutdown_is_delivered_after_a_restart(backend: Backend) {
    let receiver = Receiver::start().await;
    // The first replica looks for deliveries only at start: what is queued later waits.
    let origin = receiver.origin();
    let session = session_with(backend, move |config| {
        config.outbound = config.outbound.with(origin);
        config.webhook_poll_interval = Duration::from_secs(3600);
    })
    .await;
    let endpoint = create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    session.configure(ACCOUNT).await;
    // Nothing is sent before the restart: a bounded wait is all there is.
    tokio::time::sleep(QUIET).await;
    assert!(receiver.received().is_empty());
    let pending = deliveries(&session, endpoint["id"].as_str().unwrap()).await;
    assert_eq!(pending[0]["status"], "pending");

    let database = session.app.database.clone();
    drop(session);
    let restarted = spawn_on(database, quick(&receiver)).await;
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].json()["type"], "provider_account.updated");
    drop(restarted);
}

async fn two_replicas_deliver_each_event_once(backend: Backend) {
    let receiver = Receiver::start().await;
    let session = session_with(backend, quick(&receiver)).await;
    let _second: TestApp = session.app.sibling(quick(&receiver)).await;
    create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    session.configure(ACCOUNT).await;
    for enabled in [false, true, false, true] {
        let response = session
            .patch_json(
                &format!("/api/v1/provider-accounts/{ACCOUNT}"),
                &json!({"enabled": enabled}),
            )
            .await;
        assert_eq!(response.status(), 200);
    }

    let received = receiver.wait_for(5).await;
    // No event is sent twice: a bounded wait is all there is (both replicas poll every 30 ms).
    tokio::time::sleep(QUIET).await;
    let mut ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.header("Renkei-Event-Id").to_string())
        .collect();
    let all = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all, "an event was delivered twice: {received:?}");
}

async fn the_secret_is_shown_once_and_never_again(backend: Backend) {
    let receiver = Receiver::start().await;
    let session = session_with(backend, quick(&receiver)).await;
    let created = create_endpoint(&session, &receiver.url, &["screening.created"]).await;
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let id = created["id"].as_str().unwrap();

    let one = session.get_json(&format!("/api/v1/webhook-endpoints/{id}")).await;
    let list = session.get_json("/api/v1/webhook-endpoints").await;
    let patched = session
        .patch_json(
            &format!("/api/v1/webhook-endpoints/{id}"),
            &json!({"description": "orders"}),
        )
        .await
        .text()
        .await
        .unwrap();
    let audit = session.get_json("/api/v1/audit-events").await;
    for shown in [one.to_string(), list.to_string(), patched, audit.to_string()] {
        assert!(!shown.contains(&secret), "the secret was shown again: {shown}");
    }
    assert!(one.get("secret").is_none());
    assert!(!dump_tables(&session.app.database).await.contains(&secret));
}

async fn a_rotated_secret_signs_beside_the_old_one_for_a_day(backend: Backend) {
    let receiver = Receiver::start().await;
    let session = session_with(backend, quick(&receiver)).await;
    let created = create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    let id = created["id"].as_str().unwrap();
    let rotated: Value = session
        .post_json(&format!("/api/v1/webhook-endpoints/{id}/rotate-secret"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let (old, new) = (created["secret"].as_str().unwrap(), rotated["secret"].as_str().unwrap());
    assert_ne!(old, new);
    let until: chrono::DateTime<chrono::Utc> = rotated["previous_secret_expires_at"].as_str().unwrap().parse().unwrap();
    let hours = (until - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((23.9..=24.0).contains(&hours), "{hours}");

    session.configure(ACCOUNT).await;
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].header("Renkei-Signature").matches("v1=").count(), 2);
    assert!(verifies(&received[0], old));
    assert!(verifies(&received[0], new));
}

async fn urls_the_outbound_policy_refuses_are_422_naming_url(backend: Backend) {
    let session = session_with(backend, |_| {}).await;
    for url in [
        "http://hooks.example.jp/renkei",
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://[::1]/hooks",
        "https://169.254.169.254/latest",
        "ftp://example.jp/x",
    ] {
        let response = session
            .post_json(
                "/api/v1/webhook-endpoints",
                &json!({"url": url, "events": ["screening.created"]}),
            )
            .await;
        let problem = assert_problem(response, 422).await;
        assert_eq!(error_fields(&problem), ["url"], "{url}");
    }
    let listed = session.get_json("/api/v1/webhook-endpoints").await;
    assert_eq!(listed["items"], json!([]));
}

async fn another_shops_endpoints_and_events_are_not_found(backend: Backend) {
    let receiver = Receiver::start().await;
    let session = session_with(backend, quick(&receiver)).await;
    let endpoint = create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    session.configure(ACCOUNT).await;
    let events = session.get_json("/api/v1/events").await;
    let event_id = events["items"][0]["id"].as_str().unwrap().to_string();
    let id = endpoint["id"].as_str().unwrap();

    let other = session.app.token("shop-b", &scopes()).await;
    let http = &session.app.http;
    for request in [
        http.get(session.app.url(&format!("/api/v1/webhook-endpoints/{id}"))),
        http.get(session.app.url(&format!("/api/v1/webhook-endpoints/{id}/deliveries"))),
        http.patch(session.app.url(&format!("/api/v1/webhook-endpoints/{id}")))
            .json(&json!({"enabled": false})),
        http.delete(session.app.url(&format!("/api/v1/webhook-endpoints/{id}"))),
        http.post(
            session
                .app
                .url(&format!("/api/v1/webhook-endpoints/{id}/rotate-secret")),
        ),
        http.post(session.app.url(&format!("/api/v1/events/{event_id}/redeliver"))),
    ] {
        assert_problem(request.bearer_auth(&other).send().await.unwrap(), 404).await;
    }
    let theirs = session.app.get("/api/v1/events", &other).send().await.unwrap();
    let theirs: Value = theirs.json().await.unwrap();
    assert_eq!(theirs["items"], json!([]));
}

async fn an_event_is_redelivered_on_request(backend: Backend) {
    let receiver = Receiver::start().await;
    let session = session_with(backend, quick(&receiver)).await;
    let endpoint = create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    session.configure(ACCOUNT).await;
    let first = receiver.wait_for(1).await;
    let event_id = first[0].header("Renkei-Event-Id").to_string();

    let response = session
        .request(reqwest::Method::POST, &format!("/api/v1/events/{event_id}/redeliver"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let again = receiver.wait_for(2).await;
    assert_eq!(again[1].header("Renkei-Event-Id"), event_id);
    assert_eq!(again[1].json()["id"], event_id);
    let log = deliveries(&session, endpoint["id"].as_str().unwrap()).await;
    assert_eq!(log.len(), 2);
}

async fn the_event_log_lists_account_changes_by_field_name(backend: Backend) {
    let session = session_with(backend, |_| {}).await;
    let sent = session.configure(ACCOUNT).await;
    let response = session
        .request(reqwest::Method::DELETE, &format!("/api/v1/provider-accounts/{ACCOUNT}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    let events = session.get_json("/api/v1/events?limit=1").await;
    assert_eq!(events["items"][0]["type"], "provider_account.updated");
    assert_eq!(
        events["items"][0]["data"],
        json!({"provider": ACCOUNT, "action": "delete", "fields": []})
    );
    let cursor = events["next_cursor"].as_str().unwrap();
    let older = session.get_json(&format!("/api/v1/events?cursor={cursor}")).await;
    assert_eq!(older["items"][0]["data"]["action"], "create");
    let secret = sent["channel_secret"].as_str().unwrap();
    assert!(!older.to_string().contains(secret));
}

async fn webhooks_need_their_scopes(backend: Backend) {
    let session = session_with(backend, |_| {}).await;
    let token = session.app.token("shop-a", ADMIN_SCOPES).await;
    for path in ["/api/v1/events", "/api/v1/webhook-endpoints"] {
        assert_problem(session.app.get(path, &token).send().await.unwrap(), 403).await;
    }
    let reader = session.app.token("shop-a", &["webhooks:read"]).await;
    let response = session
        .app
        .http
        .post(session.app.url("/api/v1/webhook-endpoints"))
        .bearer_auth(&reader)
        .json(&json!({"url": "https://hooks.example.jp/x", "events": ["screening.created"]}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 403).await;
}

async fn key_rotation_reseals_webhook_secrets(backend: Backend) {
    let receiver = Receiver::start().await;
    let session = session_with(backend, quick(&receiver)).await;
    let created = create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    let both = test_master_keys(&[("test-k2", 2), ("test-k1", 1)]);
    let report = renkei::accounts::rotation::rotate(&session.app.db, &both)
        .await
        .unwrap();
    assert_eq!(report.resealed, 1);

    // A server that knows only the new key still signs with the endpoint's secret.
    let database = session.app.database.clone();
    drop(session);
    let deliver = quick(&receiver);
    let app = spawn_on(database, move |config| {
        deliver(config);
        config.master_keys = Some(test_master_keys(&[("test-k2", 2)]));
    })
    .await;
    let credentials = app.client("shop-a", &scopes()).await;
    let session = Session {
        token: app.token_of(&credentials).await,
        client_id: credentials.client_id.clone(),
        app,
        pki: Pki::new("renkei test"),
    };
    session.configure(ACCOUNT).await;
    let received = receiver.wait_for(1).await;
    assert!(verifies(&received[0], created["secret"].as_str().unwrap()));
}

async fn an_endpoint_is_created_read_changed_listed_and_deleted(backend: Backend) {
    let session = session_with(backend, |_| {}).await;
    let url = "https://hooks.example.jp/renkei";
    let created = create_endpoint(&session, url, &["screening.created"]).await;
    let path = format!("/api/v1/webhook-endpoints/{}", created["id"].as_str().unwrap());
    let read = session.request(reqwest::Method::GET, &path).send().await.unwrap();
    let etag = read.headers()["etag"].to_str().unwrap().to_string();
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["url"], url);
    assert_eq!(read["events"], json!(["screening.created"]));
    assert_eq!(read["enabled"], true);

    let changed = session
        .request(reqwest::Method::PATCH, &path)
        .header("If-Match", &etag)
        .json(&json!({"events": ["screening.created", "provider_account.updated"], "enabled": false, "description": "orders"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["description"], "orders");
    assert_eq!(changed["events"].as_array().unwrap().len(), 2);
    let stale = session
        .request(reqwest::Method::DELETE, &path)
        .header("If-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412).await;

    let listed = session.get_json("/api/v1/webhook-endpoints").await;
    assert_eq!(listed["items"][0]["id"], created["id"]);
    let deleted = session.request(reqwest::Method::DELETE, &path).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_problem(session.request(reqwest::Method::GET, &path).send().await.unwrap(), 404).await;
}

async fn a_disabled_endpoint_gets_no_deliveries(backend: Backend) {
    let receiver = Receiver::start().await;
    let session = session_with(backend, quick(&receiver)).await;
    let endpoint = create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    let path = format!("/api/v1/webhook-endpoints/{}", endpoint["id"].as_str().unwrap());
    let response = session.patch_json(&path, &json!({"enabled": false})).await;
    assert_eq!(response.status(), 200);
    session.configure(ACCOUNT).await;
    // Nothing is sent: a bounded wait is all there is (deliveries are polled every 30 ms).
    tokio::time::sleep(QUIET).await;
    assert!(receiver.received().is_empty());
    assert_eq!(
        deliveries(&session, endpoint["id"].as_str().unwrap()).await,
        Vec::<Value>::new()
    );
}

on_both_databases!(
    an_endpoint_is_created_read_changed_listed_and_deleted,
    a_disabled_endpoint_gets_no_deliveries,
    key_rotation_reseals_webhook_secrets,
    a_delivery_is_signed_with_the_endpoint_secret,
    a_failing_endpoint_is_retried_until_it_answers_2xx,
    a_delivery_pending_at_shutdown_is_delivered_after_a_restart,
    two_replicas_deliver_each_event_once,
    the_secret_is_shown_once_and_never_again,
    a_rotated_secret_signs_beside_the_old_one_for_a_day,
    urls_the_outbound_policy_refuses_are_422_naming_url,
    another_shops_endpoints_and_events_are_not_found,
    an_event_is_redelivered_on_request,
    the_event_log_lists_account_changes_by_field_name,
    webhooks_need_their_scopes,
    a_screening_is_delivered_only_to_the_enabled_endpoints_subscribed_to_it,
);

async fn a_screening_is_delivered_only_to_the_enabled_endpoints_subscribed_to_it(backend: Backend) {
    let receiver = Receiver::start().await;
    let mock = Mock::start(Duration::ZERO, 0.0).await;
    let session = session_with(backend, |config| {
        quick(&receiver)(config);
        mock.allow_in(config);
    })
    .await;
    let configured = [
        ("/api/v1/provider-accounts/o-plux", account(&mock.url())),
        (
            "/api/v1/payment-methods/cod",
            json!({"kind": "cash_on_delivery", "display_name": "代引き", "oplux_screening": true}),
        ),
    ];
    for (path, body) in configured {
        let response = session.put_json(path, &body).await;
        assert!(response.status().is_success(), "{path}");
    }
    // Created after the set-up, so that only the screening is sent.
    let subscribed = create_endpoint(&session, &receiver.url, &["screening.created"]).await;
    let other_type = create_endpoint(&session, &receiver.url, &["provider_account.updated"]).await;
    let disabled = create_endpoint(&session, &receiver.url, &["screening.created"]).await;
    let path = format!("/api/v1/webhook-endpoints/{}", disabled["id"].as_str().unwrap());
    assert_eq!(
        session.patch_json(&path, &json!({"enabled": false})).await.status(),
        200
    );

    let response = session
        .post_json("/api/v1/fraud-screenings", &order("W-1", "cod", 0))
        .await;
    assert_eq!(response.status(), 201);
    let received = receiver.wait_for(1).await;
    let body = received[0].json();
    assert!(verifies(&received[0], subscribed["secret"].as_str().unwrap()));
    assert_eq!(body["type"], "screening.created");
    assert_eq!(body["data"]["order_number"], "W-1");
    assert_eq!(received[0].header("Renkei-Event-Id"), body["id"]);

    let delivered = wait_for_status(&session, subscribed["id"].as_str().unwrap(), "delivered").await;
    assert_eq!(delivered["event_id"], body["id"]);
    let id = delivered["id"].as_str().unwrap();
    let token = id.strip_prefix("whd_").unwrap_or_default();
    assert!(
        token.len() == 22 && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "a delivery id is whd_ and 16 random bytes in URL-safe base64: {id}"
    );
    for endpoint in [&other_type, &disabled] {
        assert_eq!(
            deliveries(&session, endpoint["id"].as_str().unwrap()).await,
            Vec::<Value>::new()
        );
    }
    // Nothing is sent elsewhere: a bounded wait is all there is.
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "only the subscribed, enabled endpoint is sent the event"
    );
}
