//! The screening request of a checkout, and its checks: every failing field is named.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::core::FieldError;

/// Where the order comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderChannel {
    Lp,
    Shop,
    AdminOrder,
    CsvImport,
    SubscriptionAuto,
    SubscriptionManual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Name {
    pub last: String,
    pub first: String,
    #[serde(default)]
    pub last_kana: Option<String>,
    #[serde(default)]
    pub first_kana: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// 7 digits (a hyphen is allowed and removed).
    pub zipcode: String,
    pub prefecture: String,
    pub city: String,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// The shop's customer (member) number; absent for guests.
    #[serde(default)]
    pub id: Option<String>,
    /// A registered member.
    #[serde(default)]
    pub registered: bool,
    /// Orders the customer placed before this one.
    #[serde(default)]
    #[schema(format = Int64, maximum = 4294967295_u64)]
    pub previous_order_count: u32,
    pub name: Name,
    #[serde(default)]
    pub email: Option<String>,
    pub tel: String,
    #[serde(default)]
    pub birth_day: Option<NaiveDate>,
    #[serde(default)]
    pub sex: Option<Sex>,
    pub address: Address,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    pub name: Name,
    pub tel: String,
    pub address: Address,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    pub name: String,
    /// Unit price in yen.
    pub price: i64,
    #[schema(format = Int64, minimum = 1, maximum = 4294967295_u64)]
    pub quantity: u32,
    #[serde(default)]
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Device {
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub cookie_id: Option<String>,
    /// The `fraudbuster` value written by O-PLUX's tag (at most 2000 characters).
    #[serde(default)]
    pub fingerprint: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThanksOffer {
    /// The ad URL of the order has サンクスオファー enabled.
    #[serde(default)]
    pub ad_url_enabled: bool,
    /// This is the thanks-offer payment of an order already screened.
    #[serde(default)]
    pub is_thanks_offer_payment: bool,
    /// The order whose screening covers this payment.
    #[serde(default)]
    pub parent_order_number: Option<String>,
}

/// An order to screen, sent by checkout before the order is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "order_number": "R0000123", "channel": "lp", "payment_method": "card",
    "amount": 12800, "ordered_at": "2026-11-23T10:00:00Z",
    "customer": {"id": "C1", "registered": true, "previous_order_count": 0,
        "name": {"last": "山田", "first": "太郎", "last_kana": "ヤマダ", "first_kana": "タロウ"},
        "email": "taro@example.jp", "tel": "09012345670", "birth_day": "1990-01-02", "sex": "male",
        "address": {"zipcode": "1500001", "prefecture": "東京都", "city": "渋谷区", "line1": "神宮前1-1"}},
    "deliveries": [{"name": {"last": "山田", "first": "太郎"}, "tel": "09012345670",
        "address": {"zipcode": "1500001", "prefecture": "東京都", "city": "渋谷区", "line1": "神宮前1-1"}}],
    "items": [{"id": "SKU1", "name": "緑茶", "price": 6400, "quantity": 2, "category": "tea"}],
    "card_bin": "41111111",
    "device": {"ip": "203.0.113.9", "user_agent": "Mozilla/5.0", "cookie_id": "c-1", "fingerprint": "fb-…"},
    "thanks_offer": {"ad_url_enabled": false, "is_thanks_offer_payment": false, "parent_order_number": null}
}))]
pub struct ScreeningRequest {
    /// The shop's order number (O-PLUX's 加盟店管理ID): 1–64 letters, digits, '-' or '_'.
    pub order_number: String,
    pub channel: OrderChannel,
    /// The code of one of the shop's payment methods.
    pub payment_method: String,
    /// Order total in yen.
    pub amount: i64,
    pub ordered_at: DateTime<Utc>,
    pub customer: Customer,
    #[serde(default)]
    pub deliveries: Vec<Delivery>,
    pub items: Vec<Item>,
    /// The first 6–8 digits of the card.
    #[serde(default)]
    pub card_bin: Option<String>,
    #[serde(default)]
    pub device: Option<Device>,
    #[serde(default)]
    pub thanks_offer: ThanksOffer,
}

pub fn is_order_number(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl ScreeningRequest {
    /// Every failing field, named by its path.
    pub fn check(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut fail = |field: String, code: &str, message: String| errors.push(FieldError::new(field, code, message));
        if !is_order_number(&self.order_number) {
            fail(
                "order_number".into(),
                "invalid_format",
                "order_number must be 1-64 letters, digits, '-' or '_'".into(),
            );
        }
        if self.payment_method.trim().is_empty() {
            fail(
                "payment_method".into(),
                "required",
                "payment_method must name one of the shop's payment methods".into(),
            );
        }
        if !(0..=100_000_000).contains(&self.amount) {
            fail(
                "amount".into(),
                "out_of_range",
                "amount must be 0 to 100000000 yen".into(),
            );
        }
        let text = |fail: &mut dyn FnMut(String, &str, String), field: String, value: &str, max: usize| {
            let length = value.trim().chars().count();
            if length == 0 || length > max {
                fail(
                    field.clone(),
                    "invalid_length",
                    format!("{field} must be 1 to {max} characters"),
                );
            }
        };
        let name = |fail: &mut dyn FnMut(String, &str, String), path: &str, name: &Name| {
            text(fail, format!("{path}.last"), &name.last, 100);
            text(fail, format!("{path}.first"), &name.first, 100);
        };
        let tel = |fail: &mut dyn FnMut(String, &str, String), field: String, value: &str| {
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            let allowed = value.chars().all(|c| c.is_ascii_digit() || c == '-' || c == ' ');
            if !allowed || !(10..=11).contains(&digits.len()) {
                fail(
                    field.clone(),
                    "invalid_format",
                    format!("{field} must be a Japanese phone number of 10 or 11 digits"),
                );
            }
        };
        let address = |fail: &mut dyn FnMut(String, &str, String), path: &str, address: &Address| {
            let zip: String = address.zipcode.chars().filter(|c| *c != '-').collect();
            if zip.len() != 7 || !zip.bytes().all(|b| b.is_ascii_digit()) {
                fail(
                    format!("{path}.zipcode"),
                    "invalid_format",
                    format!("{path}.zipcode must be 7 digits"),
                );
            }
            text(fail, format!("{path}.prefecture"), &address.prefecture, 20);
            text(fail, format!("{path}.city"), &address.city, 100);
            text(fail, format!("{path}.line1"), &address.line1, 200);
        };
        name(&mut fail, "customer.name", &self.customer.name);
        tel(&mut fail, "customer.tel".into(), &self.customer.tel);
        address(&mut fail, "customer.address", &self.customer.address);
        if let Some(email) = &self.customer.email
            && !email
                .trim()
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        {
            fail(
                "customer.email".into(),
                "invalid_format",
                "customer.email must be an e-mail address".into(),
            );
        }
        for (i, delivery) in self.deliveries.iter().enumerate() {
            let path = format!("deliveries[{i}]");
            name(&mut fail, &format!("{path}.name"), &delivery.name);
            tel(&mut fail, format!("{path}.tel"), &delivery.tel);
            address(&mut fail, &format!("{path}.address"), &delivery.address);
        }
        if self.items.is_empty() || self.items.len() > 500 {
            fail(
                "items".into(),
                "invalid_length",
                "items must hold 1 to 500 items".into(),
            );
        }
        for (i, item) in self.items.iter().enumerate() {
            text(&mut fail, format!("items[{i}].id"), &item.id, 100);
            text(&mut fail, format!("items[{i}].name"), &item.name, 255);
            if item.price < 0 {
                fail(
                    format!("items[{i}].price"),
                    "out_of_range",
                    format!("items[{i}].price must be 0 or more"),
                );
            }
            if item.quantity == 0 {
                fail(
                    format!("items[{i}].quantity"),
                    "out_of_range",
                    format!("items[{i}].quantity must be 1 or more"),
                );
            }
        }
        if let Some(bin) = &self.card_bin
            && !((6..=8).contains(&bin.len()) && bin.bytes().all(|b| b.is_ascii_digit()))
        {
            fail(
                "card_bin".into(),
                "invalid_format",
                "card_bin must be the first 6 to 8 digits of the card".into(),
            );
        }
        if let Some(device) = &self.device {
            if let Some(ip) = &device.ip
                && ip.parse::<std::net::IpAddr>().is_err()
            {
                fail(
                    "device.ip".into(),
                    "invalid_format",
                    "device.ip must be an IP address".into(),
                );
            }
            if device.fingerprint.as_ref().is_some_and(|f| f.chars().count() > 2000) {
                fail(
                    "device.fingerprint".into(),
                    "too_long",
                    "device.fingerprint must be at most 2000 characters".into(),
                );
            }
        }
        let offer = &self.thanks_offer;
        match (&offer.parent_order_number, offer.is_thanks_offer_payment) {
            (None, true) => fail(
                "thanks_offer.parent_order_number".into(),
                "required",
                "thanks_offer.parent_order_number is required for a thanks-offer payment".into(),
            ),
            (Some(parent), _) if !is_order_number(parent) => fail(
                "thanks_offer.parent_order_number".into(),
                "invalid_format",
                "thanks_offer.parent_order_number must be an order number".into(),
            ),
            _ => {}
        }
        errors
    }

    /// The buyer, as the one delivery when none is given.
    pub fn with_default_delivery(mut self) -> Self {
        if self.deliveries.is_empty() {
            self.deliveries.push(Delivery {
                name: self.customer.name.clone(),
                tel: self.customer.tel.clone(),
                address: self.customer.address.clone(),
            });
        }
        self
    }
}

/// An order with what the protocol needs of its payment method.
pub struct ScreenedOrder<'a> {
    pub request: &'a ScreeningRequest,
    /// The payment method's kind (`credit_card`, …).
    pub kind: &'a str,
    pub provider: Option<&'a str>,
}
