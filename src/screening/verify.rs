//! `POST /api/v1/provider-accounts/o-plux/verify`: one test event with the stored
//! credentials, to tell the shop whether O-PLUX accepts them.

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    exchange::{ExchangeKind, new_exchange, outcome_of_v3},
    input::Typed,
    oplux::{client::OpluxClient, protocol::Answer},
    request::{Address, Customer, Item, Name, Order, OrderChannel, ScreenedOrder, ScreeningRequest, ThanksOffer},
    service::OpluxAccount,
};
use crate::{
    accounts::{providers::fraud::OPLUX, service::Accounts},
    core::{DomainError, Settlement},
    crypto::random::hex,
};

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"accepted": false, "http_status": 403, "error_code": "Authentication.InvalidSignature", "error_message": "signature mismatch", "result": null}))]
pub struct Verification {
    /// O-PLUX accepted the credentials and screened the test event.
    pub accepted: bool,
    pub http_status: Option<u16>,
    /// O-PLUX's error code, or `unreachable` when it did not answer.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The test event's result when accepted.
    pub result: Option<String>,
}

pub async fn verify(accounts: &Accounts<'_>, client: &OpluxClient, shop_id: &str) -> Result<Verification, DomainError> {
    let account = OpluxAccount::load(accounts, shop_id, true)
        .await?
        .ok_or_else(|| DomainError::NotFound(crate::accounts::service::not_configured(&OPLUX)))?;
    let credentials = account
        .credentials()
        .ok_or_else(|| DomainError::Conflict("the o-plux account has no secret_key to verify".into()))?;
    let order = test_order()?;
    let screened = ScreenedOrder {
        request: &order,
        settlement: Settlement::CreditCard,
    };
    let settings = &account.settings;
    let call = client
        .register(
            &account.shop_id,
            &settings.endpoint,
            settings.timeout,
            &credentials,
            &screened,
        )
        .await;
    if call.sent {
        // Kept under the test event's own order number (no shop order has it).
        let exchange = new_exchange(
            shop_id,
            order.order_number.as_str(),
            ExchangeKind::Verify,
            call.latency,
            call.http_status,
            outcome_of_v3(&call.outcome),
        );
        crate::store::oplux_exchanges::insert(accounts.db, exchange).await?;
    }
    // An answer that breaks a bound is no answer: a 502, as on sync and updates.
    if let Err(reason) = &call.outcome
        && crate::screening::oplux::client::is_unbounded_answer(reason)
    {
        return Err(DomainError::BadGateway(format!(
            "O-PLUX did not answer the test event: {reason}"
        )));
    }
    Ok(verification(call.outcome))
}

/// The test event's order: a buyer O-PLUX's test environment answers OK for.
fn test_order() -> Result<Order, DomainError> {
    let address = Address {
        zipcode: Typed::new("1000001"),
        prefecture: "東京都".into(),
        city: "千代田区".into(),
        line1: "千代田1-1".into(),
        line2: None,
    };
    ScreeningRequest {
        order_number: format!("renkei-verify-{}", hex(&crate::crypto::random_bytes::<6>())),
        channel: OrderChannel::Shop,
        payment_method: "verify".into(),
        amount: 1,
        ordered_at: Utc::now(),
        customer: Customer {
            id: None,
            registered: false,
            previous_order_count: 0,
            name: Name {
                last: "テスト".into(),
                first: "接続確認".into(),
                last_kana: None,
                first_kana: None,
            },
            email: None,
            // O-PLUX's test environment answers OK for numbers ending in 0.
            tel: Typed::new("09000000000"),
            birth_day: NaiveDate::from_ymd_opt(1990, 1, 1),
            sex: None,
            address,
        },
        deliveries: Vec::new(),
        items: vec![Item {
            id: "renkei-verify".into(),
            name: "接続確認".into(),
            price: 1,
            quantity: 1,
            category: None,
        }],
        card_bin: None,
        device: None,
        thanks_offer: ThanksOffer::default(),
    }
    .parse()
}

fn verification(outcome: Result<Answer, String>) -> Verification {
    match outcome {
        Ok(Answer::Screened { verdict, .. }) => Verification {
            accepted: true,
            http_status: Some(200),
            error_code: None,
            error_message: None,
            result: Some(verdict.as_str().to_string()),
        },
        Ok(Answer::Rejected { status, errors }) => Verification {
            accepted: false,
            http_status: Some(status),
            error_code: Some(errors.iter().map(|e| e.code.as_str()).collect::<Vec<_>>().join(", ")),
            error_message: Some(
                errors
                    .iter()
                    .map(|e| e.description.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            result: None,
        },
        Err(reason) => Verification {
            accepted: false,
            http_status: None,
            error_code: Some("unreachable".into()),
            error_message: Some(reason),
            result: None,
        },
    }
}
