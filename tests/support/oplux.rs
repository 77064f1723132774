//! A local O-PLUX stand-in per test (the project's own mock, on loopback), and a shop
//! set up to screen against it.

use std::time::Duration;

use renkei::standin::{MockConfig, MockCredential, MockServer};
use serde_json::{Value, json};

pub const MERCHANT: &str = "test-merchant";
pub const SOURCE: &str = "test-source";
pub const SECRET: &str = "test-oplux-secret";

pub struct Mock {
    pub server: MockServer,
    http: reqwest::Client,
}

impl Mock {
    pub async fn start(latency: Duration, fault_rate: f64) -> Self {
        renkei::crypto::install_tls_provider();
        let (server, running) = MockServer::start(MockConfig {
            listen: "127.0.0.1:0".into(),
            credentials: vec![MockCredential {
                merchant_id: MERCHANT.into(),
                source_id: SOURCE.into(),
                secret_key: SECRET.into(),
            }],
            latency,
            fault_rate,
            workers: 2,
        })
        .expect("the mock starts");
        tokio::spawn(running);
        Self {
            server,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Allows the application to call this stand-in (`RENKEI_OUTBOUND_ALLOWLIST`).
    pub fn allow_in(&self, config: &mut renkei::config::Config) {
        allow(config, &self.url());
    }

    /// Events the mock received per order number, and in total.
    pub async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/stats", self.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The last event the mock received for an order (`Value::Null` when none).
    pub async fn last_event(&self, order_number: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/events/{order_number}", self.url()))
            .send()
            .await
            .unwrap();
        if response.status() == 404 {
            return Value::Null;
        }
        response.json().await.unwrap()
    }

    /// Sets the manual review O-PLUX's staff entered for an event (v2).
    pub async fn set_manual_result(&self, event_id: &str, result: &str, memo: &str) {
        let response = self
            .http
            .put(format!("{}/mock/events/{event_id}/manual-result", self.url()))
            .json(&json!({"result": result, "memo": memo}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "the mock knows event {event_id}");
    }

    /// Makes O-PLUX refuse every v2 request about an event with `code`.
    pub async fn refuse(&self, event_id: &str, code: &str) {
        let response = self
            .http
            .put(format!("{}/mock/events/{event_id}/refusal", self.url()))
            .json(&json!({"code": code}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "the mock knows event {event_id}");
    }

    /// What the mock knows of an event: `gets` (v2 GETs received) and `updates` (each
    /// PUT's `request.update.*` keys).
    pub async fn event(&self, event_id: &str) -> Value {
        self.http
            .get(format!("{}/mock/events/{event_id}", self.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn events_for(&self, order_number: &str) -> u64 {
        self.stats().await["events"][order_number].as_u64().unwrap_or(0)
    }

    pub async fn total(&self) -> u64 {
        self.stats().await["total"].as_u64().unwrap_or(0)
    }
}

/// Adds `url`'s origin to the application's outbound allow-list.
pub fn allow(config: &mut renkei::config::Config, url: &str) {
    let origin = renkei::outbound::Origin::of_url(url).expect("an http URL");
    config.outbound = config.outbound.with(origin);
}

/// The o-plux account settings pointing at `endpoint`, with every action `create_order`
/// but NG (redirect), a 500 ms timeout.
pub fn account(endpoint: &str) -> Value {
    json!({
        "merchant_id": MERCHANT, "source_id": SOURCE, "secret_key": SECRET, "model_id": "CRD_01",
        "endpoint": endpoint, "timeout_ms": 500,
        "on_hold": {"action": "create_order"},
        "on_review": {"action": "create_order"},
        "on_ng": {"action": "redirect", "redirect_url": "https://shop.example.jp/orders/ng"},
    })
}

/// An order of a new buyer whose phone number ends in `last_digit`.
pub fn order(order_number: &str, payment_method: &str, last_digit: u8) -> Value {
    json!({
        "order_number": order_number, "channel": "lp", "payment_method": payment_method,
        "amount": 12800, "ordered_at": "2026-11-23T10:00:00Z",
        "customer": {
            "id": "C1", "registered": false, "previous_order_count": 0,
            "name": {"last": "山田", "first": "太郎", "last_kana": "ヤマダ", "first_kana": "タロウ"},
            "email": "taro@example.jp", "tel": format!("0901234567{last_digit}"),
            "birth_day": "1990-01-02", "sex": "male",
            "address": {"zipcode": "150-0001", "prefecture": "東京都", "city": "渋谷区", "line1": "神宮前1-1"}
        },
        "items": [{"id": "SKU1", "name": "緑茶", "price": 6400, "quantity": 2, "category": "飲料"}],
        "card_bin": "411111",
        "device": {"ip": "203.0.113.9", "user_agent": "Mozilla/5.0", "cookie_id": "c-1", "fingerprint": "fb-value"},
        "thanks_offer": {"ad_url_enabled": false, "is_thanks_offer_payment": false, "parent_order_number": null}
    })
}
