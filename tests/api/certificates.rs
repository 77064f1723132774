//! Certificate warnings (SPEC 4, "Warnings") and the `certificate_expiring` event.

use std::time::Duration;

use chrono::{Datelike, Utc};
use renkei::config::Config;
use serde_json::{Value, json};

use crate::{
    on_both_databases,
    support::{
        Backend, PATIENCE, QUIET,
        accounts::certificate,
        eventually,
        session::{self, ADMIN_SCOPES, Session},
    },
};

/// A provider whose account holds a certificate (and no key that must match it).
const PROVIDER: &str = "veritrans";
const FIELD: &str = "ac_certificate";

async fn session_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Session {
    let mut scopes = ADMIN_SCOPES.to_vec();
    scopes.push("webhooks:read");
    session::session_with(backend, &scopes, adjust).await
}

/// A certificate that expires `days` days from today (at midnight UTC).
fn expiring_in(days: i64) -> String {
    let date = (Utc::now() + chrono::Duration::days(days)).date_naive();
    let key = rcgen::KeyPair::generate().unwrap();
    certificate(&key, "expiring", (date.year(), date.month() as u8, date.day() as u8))
}

async fn configure_expiring(session: &Session, days: i64) -> Value {
    let mut body = session.valid_account(PROVIDER);
    body.insert(FIELD.into(), expiring_in(days).into());
    session.configure_with(PROVIDER, &Value::Object(body)).await
}

fn assert_expiring(warnings: &Value) {
    let warnings = warnings.as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["code"], "certificate_expiring");
    assert_eq!(warnings[0]["field"], FIELD);
    assert!(warnings[0]["not_after"].is_string());
    let days = warnings[0]["days_left"].as_i64().unwrap();
    assert!((9..=10).contains(&days), "{days}");
}

async fn a_certificate_ten_days_from_expiry_is_flagged_on_the_account(backend: Backend) {
    let session = session_with(backend, |_| {}).await;
    let written = configure_expiring(&session, 10).await;
    assert_expiring(&written["warnings"]);
    let read = session.get_json(&format!("/api/v1/provider-accounts/{PROVIDER}")).await;
    assert_expiring(&read["warnings"]);
}

async fn a_certificate_ten_days_from_expiry_is_flagged_in_the_list(backend: Backend) {
    let session = session_with(backend, |_| {}).await;
    configure_expiring(&session, 10).await;
    let list = session.get_json("/api/v1/provider-accounts").await;
    let rows = list["items"].as_array().unwrap();
    let row = rows.iter().find(|r| r["provider"] == PROVIDER).unwrap();
    assert_expiring(&row["warnings"]);
    assert!(
        rows.iter()
            .filter(|r| r["provider"] != PROVIDER)
            .all(|r| r["warnings"] == json!([]))
    );
}

async fn a_certificate_far_from_expiry_has_no_warning(backend: Backend) {
    let session = session_with(backend, |_| {}).await;
    let written = configure_expiring(&session, 90).await;
    assert_eq!(written["warnings"], json!([]));
}

async fn the_expiring_event_is_emitted_once_across_replicas(backend: Backend) {
    let often = |config: &mut Config| config.cert_check_interval = Duration::from_millis(50);
    let session = session_with(backend, often).await;
    let _second = session.app.sibling(often).await;
    configure_expiring(&session, 10).await;

    let session = &session;
    let expiring = || async move {
        let events = session.get_json("/api/v1/events?limit=200").await;
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "provider_account.certificate_expiring")
            .cloned()
            .collect::<Vec<Value>>()
    };
    eventually("the certificate_expiring event", PATIENCE, || async move {
        (!expiring().await.is_empty()).then_some(())
    })
    .await;
    // Checking that no second event follows: a bounded wait is all there is. Both replicas
    // check every 50 ms, so this gives them some twenty passes each.
    tokio::time::sleep(QUIET).await;
    let expiring = expiring().await;
    assert_eq!(expiring.len(), 1, "{expiring:?}");
    assert_eq!(expiring[0]["data"]["provider"], PROVIDER);
    assert_eq!(expiring[0]["data"]["field"], FIELD);
    assert_eq!(expiring[0]["data"]["threshold_days"], 30);
}

on_both_databases!(
    a_certificate_ten_days_from_expiry_is_flagged_on_the_account,
    a_certificate_ten_days_from_expiry_is_flagged_in_the_list,
    a_certificate_far_from_expiry_has_no_warning,
    the_expiring_event_is_emitted_once_across_replicas,
);
