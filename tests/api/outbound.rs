//! SPEC 7: outbound calls go only where the operator allows — the O-PLUX `endpoint` is
//! checked against `RENKEI_OUTBOUND_ALLOWLIST` on write, the address actually connected
//! to is checked, redirects are never followed, and a tenant sees only "unreachable",
//! "timed out" or the remote's status.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

use crate::on_both_databases;
use crate::support::{
    Backend, TestApp, assert_problem, error_fields,
    oplux::{Mock, account, allow, order},
    spawn_app_with,
};

on_both_databases!(
    an_endpoint_outside_the_allow_list_is_a_422_naming_endpoint,
    an_allow_listed_stand_in_is_accepted,
    a_redirect_from_an_allow_listed_stand_in_is_not_followed,
    a_name_that_resolves_to_an_internal_address_is_not_called,
    a_stand_in_removed_from_the_allow_list_is_no_longer_called,
    a_tenant_sees_unreachable_and_no_internal_detail,
);

const WRITE_SCOPES: &[&str] = &["accounts:write", "payment-methods:write", "screenings:write"];

async fn put_oplux(app: &TestApp, token: &str, endpoint: &str) -> reqwest::Response {
    app.http
        .put(app.url("/api/v1/provider-accounts/o-plux"))
        .bearer_auth(token)
        .json(&account(endpoint))
        .send()
        .await
        .unwrap()
}

/// A screened cash-on-delivery method, so that screening an order calls O-PLUX.
async fn screened_method(app: &TestApp, token: &str) {
    let response = app
        .http
        .put(app.url("/api/v1/payment-methods/cod"))
        .bearer_auth(token)
        .json(&json!({"kind": "cash_on_delivery", "display_name": "代引き", "oplux_screening": true}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
}

async fn screen(app: &TestApp, token: &str, order_number: &str) -> Value {
    let response = app
        .http
        .post(app.url("/api/v1/fraud-screenings"))
        .bearer_auth(token)
        .json(&order(order_number, "cod", 0))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn verify(app: &TestApp, token: &str) -> Value {
    let response = app
        .http
        .post(app.url("/api/v1/provider-accounts/o-plux/verify"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A listener that counts the connections it accepts and answers none of them.
async fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (url, accepted)
}

/// A stand-in that answers every request with `307` to `location`.
async fn redirecting_stand_in(location: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let location = location.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let _ = stream.read(&mut buffer).await;
                let answer = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}/v3/event\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    url
}

async fn an_endpoint_outside_the_allow_list_is_a_422_naming_endpoint(backend: Backend) {
    let app = spawn_app_with(backend, |config| allow(config, "https://stand-in.example.jp")).await;
    let token = app.token("shop-a", WRITE_SCOPES).await;
    for endpoint in [
        "http://127.0.0.1:18090",
        "http://localhost:18090",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.5:2375",
        "http://[::ffff:127.0.0.1]:18090",
        "http://[::1]:18090",
        "https://example.com",
        "http://stand-in.example.jp",
        "https://stand-in.example.jp:8443",
    ] {
        let problem = assert_problem(put_oplux(&app, &token, endpoint).await, 422).await;
        assert_eq!(error_fields(&problem), ["endpoint"], "{endpoint}: {problem}");
    }
}

async fn an_allow_listed_stand_in_is_accepted(backend: Backend) {
    let app = spawn_app_with(backend, |config| allow(config, "https://stand-in.example.jp")).await;
    let token = app.token("shop-a", WRITE_SCOPES).await;
    let response = put_oplux(&app, &token, "https://stand-in.example.jp/oplux").await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    for endpoint in ["test", "production"] {
        let response = put_oplux(&app, &token, endpoint).await;
        assert_eq!(response.status(), 200, "{endpoint}");
    }
}

async fn a_redirect_from_an_allow_listed_stand_in_is_not_followed(backend: Backend) {
    let (internal, accepted) = counting_listener().await;
    let stand_in = redirecting_stand_in(internal).await;
    let app = spawn_app_with(backend, |config| allow(config, &stand_in)).await;
    let token = app.token("shop-a", WRITE_SCOPES).await;
    assert_eq!(put_oplux(&app, &token, &stand_in).await.status(), 201);
    screened_method(&app, &token).await;

    let screened = screen(&app, &token, "R-307").await;
    assert_eq!(screened["result"], "ERROR");
    let verified = verify(&app, &token).await;
    assert_eq!(verified["accepted"], false);
    // Checking that no connection is made: a bounded wait is all there is. A redirect
    // would be followed within the calls above; this leaves the listener time to count it.
    tokio::time::sleep(crate::support::QUIET).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "the redirect target received a connection"
    );
}

async fn a_name_that_resolves_to_an_internal_address_is_not_called(backend: Backend) {
    // The operator's O-PLUX test URL names a host that resolves to loopback: the address
    // actually connected to is checked, whatever the name.
    let mock = Mock::start(std::time::Duration::ZERO, 0.0).await;
    let port = mock.url().rsplit(':').next().unwrap().to_string();
    let app = spawn_app_with(backend, |config| {
        config.oplux_test_url = format!("http://localhost:{port}");
    })
    .await;
    let token = app.token("shop-a", WRITE_SCOPES).await;
    assert_eq!(put_oplux(&app, &token, "test").await.status(), 201);
    screened_method(&app, &token).await;

    let screened = screen(&app, &token, "R-dns").await;
    assert_eq!(screened["result"], "ERROR");
    assert_eq!(mock.total().await, 0, "the stand-in behind localhost was called");
}

async fn a_stand_in_removed_from_the_allow_list_is_no_longer_called(backend: Backend) {
    let mock = Mock::start(std::time::Duration::ZERO, 0.0).await;
    let app = spawn_app_with(backend, |config| mock.allow_in(config)).await;
    let token = app.token("shop-a", WRITE_SCOPES).await;
    assert_eq!(put_oplux(&app, &token, &mock.url()).await.status(), 201);
    screened_method(&app, &token).await;
    assert_eq!(screen(&app, &token, "R-allowed").await["result"], "OK");

    // The operator takes the origin off the list: the stored endpoint is not called.
    let restarted = app
        .sibling(|config| config.outbound = renkei::outbound::OutboundPolicy::default())
        .await;
    let screened = screen(&restarted, &token, "R-removed").await;
    assert_eq!(screened["result"], "ERROR");
    assert_eq!(mock.total().await, 1);
}

async fn a_tenant_sees_unreachable_and_no_internal_detail(backend: Backend) {
    // Nothing listens on port 9.
    let app = spawn_app_with(backend, |config| allow(config, "http://127.0.0.1:9")).await;
    let token = app.token("shop-a", WRITE_SCOPES).await;
    assert_eq!(put_oplux(&app, &token, "http://127.0.0.1:9").await.status(), 201);
    let verified = verify(&app, &token).await;
    assert_eq!(verified["accepted"], false);
    assert_eq!(verified["error_code"], "unreachable");
    assert_eq!(verified["error_message"], "unreachable", "{verified}");
}
