//! Health, readiness, metrics, CORS and the documentation endpoints.

use serde_json::Value;

use crate::on_both_databases;
use crate::support::{Backend, assert_problem, spawn_app, spawn_app_with};

on_both_databases!(
    healthz_and_readyz_answer_when_all_is_well,
    readyz_is_503_when_the_database_is_unreachable,
    metrics_count_requests_by_route_and_status,
    metrics_show_the_database_pool_use,
    cors_allows_the_configured_admin_origin_only,
    swagger_ui_is_served_offline_at_docs,
);

async fn healthz_and_readyz_answer_when_all_is_well(backend: Backend) {
    let app = spawn_app(backend).await;
    let health: Value = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

async fn readyz_is_503_when_the_database_is_unreachable(backend: Backend) {
    let app = spawn_app(backend).await;
    // Closing the shared pool makes the database unreachable for the running server.
    app.db.clone().close().await.unwrap();
    let response = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_problem(response, 503).await;
    // The process itself is still up.
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
}

async fn metrics_count_requests_by_route_and_status(backend: Backend) {
    let app = spawn_app(backend).await;
    for _ in 0..3 {
        app.http.get(app.url("/healthz")).send().await.unwrap();
    }
    app.http.get(app.url("/api/v1/audit-events")).send().await.unwrap();
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("renkei_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("renkei_http_requests_total{method=\"GET\",route=\"/api/v1/audit-events\",status=\"401\"} 1")
    );
    assert!(text.contains(
        "renkei_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",status=\"200\",le=\"+Inf\"} 3"
    ));
}

async fn metrics_show_the_database_pool_use(backend: Backend) {
    let app = spawn_app(backend).await;
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let max = app.config.database.max_connections;
    assert!(
        text.contains(&format!("renkei_db_pool_connections{{state=\"max\"}} {max}")),
        "{text}"
    );
    assert!(text.contains("renkei_db_pool_connections{state=\"in_use\"}"), "{text}");
    assert!(text.contains("renkei_db_pool_connections{state=\"idle\"}"), "{text}");
    // SQLite's own heap, on SQLite only: above zero once the pool has a connection.
    let heap = text
        .lines()
        .find_map(|line| line.strip_prefix("renkei_sqlite_memory_bytes "))
        .map(|value| value.parse::<f64>().unwrap());
    match backend {
        Backend::Sqlite => assert!(heap.is_some_and(|bytes| bytes > 0.0), "{text}"),
        Backend::Postgres => assert_eq!(heap, None, "{text}"),
    }
}

async fn cors_allows_the_configured_admin_origin_only(backend: Backend) {
    let app = spawn_app_with(backend, |config| {
        config.cors_origins = vec!["https://admin.example.jp".into()]
    })
    .await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/audit-events"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight("https://admin.example.jp").await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://admin.example.jp"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());
    let simple = app
        .http
        .get(app.url("/healthz"))
        .header("origin", "https://admin.example.jp")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.headers()["access-control-allow-origin"],
        "https://admin.example.jp"
    );
    let exposed = simple.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("x-request-id") && exposed.contains("etag"));
}

async fn swagger_ui_is_served_offline_at_docs(backend: Backend) {
    let app = spawn_app(backend).await;
    let redirect = app.http.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(redirect.status(), 308);
    let page = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("swagger-ui"));
    let init = app
        .http
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert!(init.text().await.unwrap().contains("/openapi.json"));
}
