//! SPEC 10: no peer and no tenant can hurt another. One URL parser (the WHATWG reading:
//! `2130706433`, `0x7f.1`, `127.1`, `0177.0.0.1`, `0` are IPv4 addresses, `host.` is
//! `host`), and O-PLUX answers bounded (1 MiB, XML 32 deep, 100 rules, codes 64 and texts
//! 4,000 characters, the v2 event checked), against a hostile stand-in.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::on_both_databases;
use crate::support::{
    Backend, QUIET, TestApp, assert_problem, error_fields, eventually,
    hostile::{Behaviour, EVENT_ID, Hostile},
    oplux::{account, allow, order},
    spawn_app_with,
};

on_both_databases!(
    hosts_the_standard_reads_as_internal_are_a_422_naming_the_field_and_never_called,
    v3_answers_over_a_bound_are_no_answer_and_what_is_kept_is_bounded,
    v2_answers_over_a_bound_are_a_502_and_nothing_of_them_is_stored,
    the_poller_goes_on_after_a_deep_answer,
);

const SCOPES: &[&str] = &[
    "accounts:write",
    "payment-methods:write",
    "screenings:write",
    "screenings:read",
    "webhooks:write",
];

/// Hosts the WHATWG URL standard reads as a loopback (or unspecified) address.
const HOSTILE_HOSTS: [&str; 10] = [
    "2130706433",
    "0x7f.1",
    "127.1",
    "0177.0.0.1",
    "0x7f000001",
    "0",
    "127.0.0.1.",
    "localhost.",
    "[::ffff:7f00:1]",
    "[::ffff:127.0.0.1]",
];

/// A listener on loopback that counts the connections it accepts.
async fn canary() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, accepted)
}

async fn send(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let request = app.http.request(method, app.url(path)).bearer_auth(token);
    match body {
        Some(body) => request.json(&body),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

async fn hosts_the_standard_reads_as_internal_are_a_422_naming_the_field_and_never_called(backend: Backend) {
    let (port, accepted) = canary().await;
    let app = spawn_app_with(backend, |config| allow(config, "https://stand-in.example.jp")).await;
    let token = app.token("shop-a", SCOPES).await;
    for host in HOSTILE_HOSTS {
        for url in [
            format!("https://{host}:{port}/hook"),
            format!("http://{host}:{port}/hook?token=s3cret"),
        ] {
            let response = send(
                &app,
                &token,
                reqwest::Method::POST,
                "/api/v1/webhook-endpoints",
                Some(json!({"url": url, "events": ["screening.created"]})),
            )
            .await;
            let problem = assert_problem(response, 422).await;
            assert_eq!(error_fields(&problem), ["url"], "{url}: {problem}");
            assert!(!problem.to_string().contains("s3cret"), "{problem}");
        }
        let endpoint = format!("http://{host}:{port}");
        let mut settings = account(&endpoint);
        settings["endpoint"] = json!(endpoint);
        let response = send(
            &app,
            &token,
            reqwest::Method::PUT,
            "/api/v1/provider-accounts/o-plux",
            Some(settings),
        )
        .await;
        let problem = assert_problem(response, 422).await;
        assert_eq!(error_fields(&problem), ["endpoint"], "{endpoint}: {problem}");
    }
    // Checking that no connection is made: a bounded wait is all there is.
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "the canary on loopback received a connection"
    );
}

/// An app whose shop `shop-a` screens cash-on-delivery orders against `hostile`.
async fn shop_against(backend: Backend, hostile: &Hostile, poll: Option<Duration>) -> (TestApp, String) {
    let app = spawn_app_with(backend, |config| {
        allow(config, &hostile.url());
        config.oplux_sync_interval = poll.unwrap_or(Duration::ZERO);
        // Every failure here is on purpose: the circuit stays closed.
        config.oplux_breaker_threshold = 1000;
    })
    .await;
    let token = app.token("shop-a", SCOPES).await;
    let mut settings = account(&hostile.url());
    // Generous: the machine may be loaded, and reading 20,000 rules takes a moment.
    settings["timeout_ms"] = json!(10_000);
    let response = send(
        &app,
        &token,
        reqwest::Method::PUT,
        "/api/v1/provider-accounts/o-plux",
        Some(settings),
    )
    .await;
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    let method = json!({"kind": "cash_on_delivery", "display_name": "代引き", "oplux_screening": true});
    let response = send(
        &app,
        &token,
        reqwest::Method::PUT,
        "/api/v1/payment-methods/cod",
        Some(method),
    )
    .await;
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    (app, token)
}

async fn screen(app: &TestApp, token: &str, order_number: &str) -> Value {
    let response = send(
        app,
        token,
        reqwest::Method::POST,
        "/api/v1/fraud-screenings",
        Some(order(order_number, "cod", 0)),
    )
    .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// The process still serves: the health check answers and a screening is read.
async fn still_serves(app: &TestApp, token: &str, order_number: &str) -> Value {
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    let response = app
        .get(&format!("/api/v1/fraud-screenings/{order_number}"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn v3_answers_over_a_bound_are_no_answer_and_what_is_kept_is_bounded(backend: Backend) {
    let hostile = Hostile::start().await;
    let (app, token) = shop_against(backend, &hostile, None).await;

    hostile.set(Behaviour::Huge);
    let screened = screen(&app, &token, "H-huge").await;
    assert_eq!(screened["result"], "ERROR", "{screened}");
    assert_eq!(screened["decision"], "create_order", "the on_error action: {screened}");
    let response = send(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/provider-accounts/o-plux/verify",
        None,
    )
    .await;
    assert_problem(response, 502).await;

    hostile.set(Behaviour::Deep);
    assert_eq!(screen(&app, &token, "H-deep").await["result"], "ERROR");

    hostile.set(Behaviour::ManyRules);
    let screened = screen(&app, &token, "H-rules").await;
    assert_eq!(screened["result"], "HOLD", "{screened}");
    let stored = still_serves(&app, &token, "H-rules").await;
    let reasons = stored["reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 100);
    for reason in reasons {
        assert!(reason["code"].as_str().unwrap().chars().count() <= 64, "{reason}");
        assert!(reason["description"].as_str().unwrap().chars().count() <= 4000);
    }
    let size = stored.to_string().len();
    assert!(size < 64 * 1024, "a screening read back as {size} bytes");
    still_serves(&app, &token, "H-huge").await;
}

async fn sync(app: &TestApp, token: &str, order_number: &str) -> reqwest::Response {
    let path = format!("/api/v1/fraud-screenings/{order_number}/sync");
    send(app, token, reqwest::Method::POST, &path, None).await
}

async fn v2_answers_over_a_bound_are_a_502_and_nothing_of_them_is_stored(backend: Backend) {
    let hostile = Hostile::start().await;
    let (app, token) = shop_against(backend, &hostile, None).await;
    let screened = screen(&app, &token, "V-1").await;
    assert_eq!(screened["oplux_event_id"], EVENT_ID, "{screened}");

    for behaviour in [Behaviour::Deep, Behaviour::Huge, Behaviour::WrongEvent] {
        hostile.set(behaviour);
        assert_problem(sync(&app, &token, "V-1").await, 502).await;
        let stored = still_serves(&app, &token, "V-1").await;
        assert!(stored["manual_review"].is_null(), "{behaviour:?}: {stored}");
    }
    for behaviour in [Behaviour::Deep, Behaviour::Huge] {
        hostile.set(behaviour);
        let response = send(
            &app,
            &token,
            reqwest::Method::POST,
            "/api/v1/fraud-screenings/V-1/updates",
            Some(json!({"manual_result": "OK", "memo": "checked"})),
        )
        .await;
        assert_problem(response, 502).await;
        assert!(still_serves(&app, &token, "V-1").await["manual_review"].is_null());
    }

    hostile.set(Behaviour::ManyRules);
    assert_eq!(sync(&app, &token, "V-1").await.status(), 200);
    let stored = still_serves(&app, &token, "V-1").await;
    let memo = stored["manual_review"]["memo"].as_str().unwrap();
    assert_eq!(memo.chars().count(), 4000, "the memo is cut at 4,000 characters");
    let exchanges = app
        .get("/api/v1/fraud-screenings/V-1/exchanges?limit=100", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(exchanges.status(), 200);
    let exchanges: Value = exchanges.json().await.unwrap();
    let last = exchanges["items"].as_array().unwrap().last().unwrap().clone();
    let codes = last["codes"].as_array().unwrap();
    assert_eq!(codes.len(), 100, "{last}");
    assert!(codes.iter().all(|c| c.as_str().unwrap().chars().count() <= 64));
    assert!(exchanges.to_string().len() < 64 * 1024);
}

async fn the_poller_goes_on_after_a_deep_answer(backend: Backend) {
    let hostile = Hostile::start().await;
    let (app, token) = shop_against(backend, &hostile, Some(Duration::from_millis(200))).await;
    screen(&app, &token, "P-1").await;
    hostile.set(Behaviour::Deep);
    let asked = hostile.requests();
    let hostile = &hostile;
    eventually("the poller asking on", Duration::from_secs(30), || async move {
        (hostile.requests() >= asked + 3).then_some(())
    })
    .await;
    assert!(still_serves(&app, &token, "P-1").await["manual_review"].is_null());

    // The poller is still running: the next readable answer is picked up.
    hostile.set(Behaviour::Normal);
    let (app, token) = (&app, &token);
    let stored = eventually("the poller going on", Duration::from_secs(30), || async move {
        let stored = still_serves(app, token, "P-1").await;
        (!stored["manual_review"].is_null()).then_some(stored)
    })
    .await;
    assert_eq!(stored["manual_review"]["result"], "OK");
}
