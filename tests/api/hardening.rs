//! SPEC 7 beyond outbound calls: bounded metrics labels and the metrics token, slow
//! clients cut off, and one shop's failing O-PLUX endpoint never opening the circuit for
//! another shop.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::on_both_databases;
use crate::support::{
    Backend, TestApp, assert_problem,
    oplux::{Mock, account, order},
    spawn_app_with,
};

on_both_databases!(
    unknown_methods_are_counted_as_other_and_routes_by_pattern,
    metrics_need_the_token_when_one_is_set,
    production_serves_metrics_only_with_a_token,
    production_ignores_the_demo_stand_in_and_its_origin,
    errors_actix_answers_itself_are_problem_json,
    a_body_that_arrives_too_slowly_is_cut_off,
    a_head_that_never_ends_is_cut_off,
    one_shops_failing_endpoint_does_not_open_the_circuit_for_another,
);

async fn metrics(app: &TestApp, bearer: Option<&str>) -> reqwest::Response {
    let mut request = app.http.get(app.url("/metrics"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn unknown_methods_are_counted_as_other_and_routes_by_pattern(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    for method in ["BREW", "PROPFIND", "X-CUSTOM-1"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        app.http.request(method, app.url("/healthz")).send().await.unwrap();
    }
    app.http
        .get(app.url("/feeds/secret-token-1/facebook.csv"))
        .send()
        .await
        .unwrap();
    let text = metrics(&app, None).await.text().await.unwrap();
    assert!(text.contains("method=\"OTHER\""), "{text}");
    for minted in ["BREW", "PROPFIND", "X-CUSTOM-1", "secret-token-1"] {
        assert!(!text.contains(minted), "{minted} became a label");
    }
    assert!(text.contains("route=\"/feeds/{token}/facebook.csv\""), "{text}");
}

async fn metrics_need_the_token_when_one_is_set(backend: Backend) {
    let app = spawn_app_with(backend, |config| {
        config.metrics_token = Some(renkei::core::Secret::new("scrape-token-1".into()));
    })
    .await;
    assert_problem(metrics(&app, None).await, 401).await;
    assert_problem(metrics(&app, Some("wrong")).await, 401).await;
    assert_eq!(metrics(&app, Some("scrape-token-1")).await.status(), 200);
}

async fn production_serves_metrics_only_with_a_token(backend: Backend) {
    let production = |config: &mut renkei::config::Config| config.env = renkei::config::RunMode::Production;
    let app = spawn_app_with(backend, production).await;
    assert_problem(metrics(&app, None).await, 404).await;
    assert_problem(metrics(&app, Some("anything")).await, 404).await;

    let app = spawn_app_with(backend, |config| {
        production(config);
        config.metrics_token = Some(renkei::core::Secret::new("scrape-token-1".into()));
    })
    .await;
    assert_problem(metrics(&app, None).await, 401).await;
    assert_eq!(metrics(&app, Some("scrape-token-1")).await.status(), 200);
}

async fn production_ignores_the_demo_stand_in_and_its_origin(backend: Backend) {
    let mock = Mock::start(Duration::ZERO, 0.0).await;
    let demo = mock.url();
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
    let loaded = renkei::config::Config::from_lookup(|name| match name {
        "RENKEI_ENV" => Some("production".into()),
        "RENKEI_JWT_KEYS" => Some(format!("j1:{key}")),
        "RENKEI_MASTER_KEY" => Some(format!("m1:{key}")),
        "RENKEI_DEMO_OPLUX_ENDPOINT" => Some(demo.clone()),
        _ => None,
    })
    .unwrap();
    assert_eq!(loaded.demo_oplux_endpoint, None);
    let app = spawn_app_with(backend, |config| {
        config.env = loaded.env;
        config.outbound = loaded.outbound.clone();
        config.demo_oplux_endpoint = loaded.demo_oplux_endpoint.clone();
    })
    .await;
    let token = app.token("shop-a", &["accounts:write"]).await;
    let response = app
        .http
        .put(app.url("/api/v1/provider-accounts/o-plux"))
        .bearer_auth(&token)
        .json(&account(&demo))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422).await;
    assert_eq!(crate::support::error_fields(&problem), ["endpoint"], "{problem}");
}

/// Sends `raw` on a new connection and reads the answer until the server closes it.
async fn raw_exchange(app: &TestApp, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(port_of(app)).await.unwrap();
    // The server may answer and close before all of it is written (a body too large).
    let _ = stream.write_all(raw).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).to_string()
}

/// The status and the problem+json body of a raw answer.
fn problem_of(answer: &str) -> (u16, serde_json::Value) {
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{answer}"
    );
    let problem: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {answer}"));
    assert_eq!(problem["status"], status, "{answer}");
    (status, problem)
}

async fn errors_actix_answers_itself_are_problem_json(backend: Backend) {
    // The default head deadline (5 s): actix measures it from a clock it refreshes every
    // 500 ms, so a shorter one may expire as a connection opens.
    let app = spawn_app_with(backend, |_| {}).await;
    // A request head too large: 431.
    let mut big = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..200 {
        big.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "a".repeat(100)).as_bytes());
    }
    big.extend_from_slice(b"\r\n");
    assert_eq!(problem_of(&raw_exchange(&app, &big).await).0, 431);
    // A malformed head (a header line without a colon): 400.
    assert_eq!(
        problem_of(&raw_exchange(&app, b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n").await).0,
        400
    );
    // A body over the limit: 413 (answered by the application, which may close the
    // connection before the client has sent all of it: read from the socket).
    let mut over = b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".to_vec();
    over.extend_from_slice(format!("Content-Length: {}\r\n\r\n", 2 * 1024 * 1024).as_bytes());
    over.extend_from_slice(&vec![b' '; 2 * 1024 * 1024]);
    assert_eq!(problem_of(&raw_exchange(&app, &over).await).0, 413);
    // The server still serves.
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    // A head that does not arrive in time: 408.
    let app = spawn_app_with(backend, |config| {
        config.client_request_timeout = Duration::from_millis(300);
    })
    .await;
    assert_eq!(
        problem_of(&raw_exchange(&app, b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await).0,
        408
    );
}

fn port_of(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_string()
}

async fn a_body_that_arrives_too_slowly_is_cut_off(backend: Backend) {
    let app = spawn_app_with(backend, |config| config.body_read_timeout = Duration::from_millis(300)).await;
    let mut stream = TcpStream::connect(port_of(&app)).await.unwrap();
    stream
        .write_all(
            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"gra",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("renkei answers before the client finishes")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

async fn a_head_that_never_ends_is_cut_off(backend: Backend) {
    let app = spawn_app_with(backend, |config| {
        config.client_request_timeout = Duration::from_millis(300);
    })
    .await;
    let mut stream = TcpStream::connect(port_of(&app)).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("renkei ends the connection")
        .unwrap_or(0);
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(read == 0 || answer.starts_with("HTTP/1.1 408"), "{answer}");
}

async fn one_shops_failing_endpoint_does_not_open_the_circuit_for_another(backend: Backend) {
    let mock = Mock::start(Duration::ZERO, 0.0).await;
    let app = spawn_app_with(backend, |config| {
        config.oplux_breaker_threshold = 3;
        mock.allow_in(config);
    })
    .await;
    let scopes = ["accounts:write", "payment-methods:write", "screenings:write"];
    let mut tokens = Vec::new();
    for shop in ["shop-a", "shop-b"] {
        let token = app.token(shop, &scopes).await;
        for (path, body) in [
            ("/api/v1/provider-accounts/o-plux", account(&mock.url())),
            (
                "/api/v1/payment-methods/cod",
                json!({"kind": "cash_on_delivery", "display_name": "代引き", "oplux_screening": true}),
            ),
        ] {
            let response = app
                .http
                .put(app.url(path))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
        }
        tokens.push(token);
    }
    let screen = async |token: &str, order_number: &str, last_digit: u8| -> serde_json::Value {
        app.http
            .post(app.url("/api/v1/fraud-screenings"))
            .bearer_auth(token)
            .json(&order(order_number, "cod", last_digit))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    // Shop A's orders all fail at O-PLUX (HTTP 500): its circuit opens.
    for i in 0..4 {
        assert_eq!(screen(&tokens[0], &format!("A-{i}"), 9).await["result"], "ERROR");
    }
    assert_eq!(mock.total().await, 3, "shop A's circuit is open after 3 failures");
    // Shop B, same endpoint, is still called.
    assert_eq!(screen(&tokens[1], "B-1", 0).await["result"], "OK");
    assert_eq!(mock.events_for("B-1").await, 1);
}
