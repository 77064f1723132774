//! The audit log records client changes — never a secret — per shop, paginated.

use serde_json::Value;

use crate::on_both_databases;
use crate::support::{Backend, spawn_app};

on_both_databases!(
    client_creation_and_revocation_are_recorded_without_secrets,
    audit_events_are_paginated_newest_first,
    a_shop_sees_only_its_own_events,
);

async fn list(app: &crate::support::TestApp, token: &str, query: &str) -> Value {
    let response = app
        .get(&format!("/api/v1/audit-events{query}"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn client_creation_and_revocation_are_recorded_without_secrets(backend: Backend) {
    let app = spawn_app(backend).await;
    let reader = app.client("shop-a", &["audit:read"]).await;
    let other = app.client("shop-a", &["accounts:read"]).await;
    renkei::auth::clients::revoke(&app.db, &other.client_id, "cli")
        .await
        .unwrap();
    let token = app.token_of(&reader).await;
    let page = list(&app, &token, "").await;
    let events = page["items"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["action"], "revoke");
    assert_eq!(events[0]["resource_type"], "api_client");
    assert_eq!(events[0]["resource_id"], other.client_id.as_str());
    assert_eq!(events[0]["actor"], "cli");
    assert_eq!(events[1]["action"], "create");
    assert!(
        events[1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "client_secret")
    );
    let text = page.to_string();
    assert!(!text.contains(other.client_secret.expose().as_str()));
    assert!(!text.contains(reader.client_secret.expose().as_str()));
    assert!(page["next_cursor"].is_null());
}

async fn audit_events_are_paginated_newest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let reader = app.client("shop-a", &["audit:read"]).await;
    for _ in 0..4 {
        app.client("shop-a", &["accounts:read"]).await;
    }
    let token = app.token_of(&reader).await;
    let mut ids = Vec::new();
    let mut query = "?limit=2".to_string();
    loop {
        let page = list(&app, &token, &query).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        ids.extend(items.iter().map(|e| e["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(ids.len(), 5);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
}

async fn a_shop_sees_only_its_own_events(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.client("shop-a", &["audit:read"]).await;
    app.client("shop-b", &["audit:read"]).await;
    let token = app.token_of(&a).await;
    let page = list(&app, &token, "").await;
    let events = page["items"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["resource_id"], a.client_id.as_str());
}
