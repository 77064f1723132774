//! A shop screening its orders against a fresh O-PLUX stand-in: the application allowed to
//! call the stand-in, a token with the screening scopes, the o-plux account configured and
//! a `cod` method with `oplux_screening` on; with the request helpers screening tests share.

use std::time::Duration;

use renkei::config::Config;
use serde_json::{Value, json};

use super::{
    Backend,
    oplux::{self, Mock, account, order},
    session::{Session, ok_json, session_with},
};

/// Every scope a shop screening its orders uses in these tests.
pub const SCREENING_SCOPES: &[&str] = &[
    "accounts:write",
    "payment-methods:write",
    "screenings:write",
    "screenings:read",
    "webhooks:read",
    "webhooks:write",
];

/// Allowed outbound, but nothing listens there: "O-PLUX is down".
pub const NOTHING_LISTENS: &str = "http://127.0.0.1:9";

pub struct ScreeningShop {
    pub session: Session,
    pub mock: Mock,
}

/// The session's app, token and request helpers, as `shop.app`, `shop.get_json(…)`.
impl std::ops::Deref for ScreeningShop {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

impl ScreeningShop {
    /// Against a stand-in answering at once, with [`account`]'s settings, the poller off.
    pub async fn new(backend: Backend) -> Self {
        Self::with(backend, Mock::start(Duration::ZERO, 0.0).await, account, |_| {}).await
    }

    /// Against `mock`, with the account `settings(mock's url)`, the application configured
    /// by `adjust` (after the defaults: the manual review poller off).
    pub async fn with(
        backend: Backend,
        mock: Mock,
        settings: fn(&str) -> Value,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let session = session_with(backend, SCREENING_SCOPES, |config| {
            mock.allow_in(config);
            oplux::allow(config, NOTHING_LISTENS);
            config.oplux_sync_interval = Duration::ZERO;
            adjust(config);
        })
        .await;
        let shop = Self { session, mock };
        shop.configure_with("o-plux", &settings(&shop.mock.url())).await;
        shop.put_payment_method(
            "cod",
            json!({"kind": "cash_on_delivery", "display_name": "代引き", "oplux_screening": true}),
        )
        .await;
        shop
    }

    /// PUTs a payment method, which must succeed.
    pub async fn put_payment_method(&self, code: &str, body: Value) {
        let response = self.put_json(&format!("/api/v1/payment-methods/{code}"), &body).await;
        ok_json(response, &format!("PUT payment method {code}")).await;
    }

    /// PATCHes the o-plux account, which must answer 200.
    pub async fn patch_oplux(&self, patch: Value) {
        let response = self.patch_json("/api/v1/provider-accounts/o-plux", &patch).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, path).send().await.unwrap()
    }

    pub async fn screen(&self, body: &Value) -> reqwest::Response {
        self.post_json("/api/v1/fraud-screenings", body).await
    }

    /// Screens `body`, which must answer 201; the answer.
    pub async fn screened(&self, body: &Value) -> Value {
        let response = self.screen(body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 201, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Screens an order paid by `cod` whose phone ends in `digit` (0 OK, 1 HOLD, 2 REVIEW,
    /// 3 NG); the answer.
    pub async fn screened_order(&self, order_number: &str, digit: u8) -> Value {
        self.screened(&order(order_number, "cod", digit)).await
    }

    /// Screens an order as [`Self::screened_order`]; its O-PLUX event id.
    pub async fn screened_event(&self, order_number: &str, digit: u8) -> String {
        let answer = self.screened_order(order_number, digit).await;
        answer["oplux_event_id"].as_str().unwrap().to_string()
    }

    /// Asks for the O-PLUX manual review of a screened order now.
    pub async fn sync(&self, order_number: &str) -> reqwest::Response {
        self.request(
            reqwest::Method::POST,
            &format!("/api/v1/fraud-screenings/{order_number}/sync"),
        )
        .send()
        .await
        .unwrap()
    }

    /// Sends an update of a screened order to O-PLUX.
    pub async fn update(&self, order_number: &str, body: Value) -> reqwest::Response {
        self.post_json(&format!("/api/v1/fraud-screenings/{order_number}/updates"), &body)
            .await
    }

    /// Decides the review of a screened order.
    pub async fn decide(&self, order_number: &str, body: Value) -> reqwest::Response {
        self.post_json(&format!("/api/v1/fraud-screenings/{order_number}/review"), &body)
            .await
    }

    /// The `request.update.*` keys of each v2 PUT the stand-in received for an order.
    pub async fn updates(&self, order_number: &str) -> Vec<Value> {
        let screening = self.get_json(&format!("/api/v1/fraud-screenings/{order_number}")).await;
        let event = screening["oplux_event_id"].as_str().unwrap();
        self.mock.event(event).await["updates"].as_array().unwrap().clone()
    }

    /// The shop's events, oldest first: (type, data).
    pub async fn events(&self) -> Vec<(String, Value)> {
        renkei::store::events::list(&self.app.db, "shop-a", None, 100)
            .await
            .unwrap()
            .into_iter()
            .rev()
            .map(|e| (e.event_type, serde_json::from_str(&e.data).unwrap()))
            .collect()
    }
}
