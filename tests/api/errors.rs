//! Every kind of bad request gets problem+json with the right status, and every
//! response carries a request id.

use serde_json::json;

use crate::on_both_databases;
use crate::support::{Backend, assert_problem, error_fields, spawn_app};

on_both_databases!(
    malformed_json_is_400,
    a_body_that_is_not_json_is_415,
    an_unknown_field_is_422_naming_it,
    a_missing_or_mistyped_field_is_422_naming_it,
    a_body_over_one_mebibyte_is_413,
    deeply_nested_json_is_400,
    a_bad_query_parameter_is_422_naming_it,
    an_unknown_route_is_404,
    a_wrong_method_is_405_with_allow,
    the_callers_request_id_is_echoed_and_one_is_made_otherwise,
);

async fn post_token_body(
    app: &crate::support::TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/auth/token"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn malformed_json_is_400(backend: Backend) {
    let app = spawn_app(backend).await;
    for body in ["{\"grant_type\":", "not json", "{} {}", ""] {
        assert_problem(post_token_body(&app, "application/json", body).await, 400).await;
    }
}

async fn a_body_that_is_not_json_is_415(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = post_token_body(&app, "text/plain", "grant_type=client_credentials").await;
    assert_problem(response, 415).await;
    let response = app
        .http
        .post(app.url("/api/v1/auth/token"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(response, 415).await;
}

async fn an_unknown_field_is_422_naming_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({"grant_type": "client_credentials", "client_id": "a", "client_secret": "b", "colour": "red"});
    let problem = assert_problem(post_token_body(&app, "application/json", body.to_string()).await, 422).await;
    assert_eq!(error_fields(&problem), ["colour"]);
    assert_eq!(problem["errors"][0]["code"], "unknown_field");
}

async fn a_missing_or_mistyped_field_is_422_naming_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let missing = json!({"grant_type": "client_credentials", "client_id": "a"});
    let problem = assert_problem(
        post_token_body(&app, "application/json", missing.to_string()).await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["client_secret"]);
    assert_eq!(problem["errors"][0]["code"], "required");
    let mistyped = json!({"grant_type": "client_credentials", "client_id": 7, "client_secret": "b"});
    let problem = assert_problem(
        post_token_body(&app, "application/json", mistyped.to_string()).await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["client_id"]);
    assert_eq!(problem["errors"][0]["code"], "invalid_type");
}

async fn a_body_over_one_mebibyte_is_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let big = format!("{{\"grant_type\":\"{}\"}}", "x".repeat(1024 * 1024 + 1));
    assert_problem(post_token_body(&app, "application/json", big).await, 413).await;
}

async fn deeply_nested_json_is_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let deep = format!("{{\"grant_type\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let started = std::time::Instant::now();
    assert_problem(post_token_body(&app, "application/json", deep).await, 400).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

async fn a_bad_query_parameter_is_422_naming_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token("shop-a", &["audit:read"]).await;
    for (query, field) in [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=%%%", "cursor"),
        ("sort=desc", "sort"),
    ] {
        let response = app
            .get(&format!("/api/v1/audit-events?{query}"), &token)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422).await;
        assert_eq!(error_fields(&problem), [field], "{query}");
    }
}

async fn an_unknown_route_is_404(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/nothing-here", "/api/v1/nothing-here", "/api/v2/audit-events"] {
        assert_problem(app.http.get(app.url(path)).send().await.unwrap(), 404).await;
    }
}

async fn a_wrong_method_is_405_with_allow(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.http.delete(app.url("/api/v1/audit-events")).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "GET");
    assert_problem(response, 405).await;
    let response = app.http.get(app.url("/api/v1/auth/token")).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    assert_problem(response, 405).await;
}

async fn the_callers_request_id_is_echoed_and_one_is_made_otherwise(backend: Backend) {
    let app = spawn_app(backend).await;
    let echoed = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "checkout-7f3a.1")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "checkout-7f3a.1");
    let made = app.http.get(app.url("/nothing")).send().await.unwrap();
    let id = made.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 32);
    let unsafe_id = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "a b <script>")
        .send()
        .await
        .unwrap();
    assert_ne!(unsafe_id.headers()["x-request-id"], "a b <script>");
}
