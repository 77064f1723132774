//! The screening request of a checkout, as sent, and the order parsed from it. Only the
//! request's shape is refused (422, every failing field named): the order number, the
//! amounts, the thanks-offer parent. The buyer's data is parsed leniently
//! (`super::input`); what cannot be used becomes a warning when O-PLUX is called.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::input::{CardBin, Email, Fingerprint, Ip, OrderNumber, Tel, Typed, Unusable, Zipcode, nfkc};
use crate::core::{DomainError, FieldError};

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
    /// 7 digits; full-width digits, `〒`, hyphens and spaces are removed.
    #[schema(value_type = String, example = "〒150-0001")]
    pub zipcode: Typed<Zipcode>,
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
    /// Trimmed, its domain lower-cased.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Option<Typed<Email>>,
    /// A Japanese phone number as typed: full-width digits, `+81`, parentheses, hyphens
    /// and spaces are accepted.
    #[schema(value_type = String, example = "+81 90-1234-5678")]
    pub tel: Typed<Tel>,
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
    #[schema(value_type = String)]
    pub tel: Typed<Tel>,
    pub address: Address,
    /// The recipient's e-mail address, when checkout has one (trimmed, domain lower-cased).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Typed<Email>>,
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
    /// The buyer's IP address: always sent to O-PLUX (`ip_address_only`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub ip: Option<Typed<Ip>>,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// The buyer's cookies (`name=value;…`) or cookie id: sent (cut at 500 characters)
    /// only when there is no fingerprint.
    #[serde(default)]
    pub cookie_id: Option<String>,
    /// The `fraudbuster` value written by O-PLUX's tag (at most 2000 characters).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub fingerprint: Option<Typed<Fingerprint>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThanksOffer {
    /// The ad URL of the order has サンクスオファー enabled.
    #[serde(default)]
    pub ad_url_enabled: bool,
    /// This is the thanks-offer payment of an order already screened: it is not screened
    /// again when `parent_order_number` was screened for this shop.
    #[serde(default)]
    pub is_thanks_offer_payment: bool,
    /// The order whose screening covers this payment (an order number).
    #[serde(default)]
    pub parent_order_number: Option<String>,
}

/// An order to screen, sent by checkout before the order is created. The buyer's data
/// may be as typed: full-width, `+81`, `〒`, hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "order_number": "R0000123", "channel": "lp", "payment_method": "card",
    "amount": 12800, "ordered_at": "2026-11-23T10:00:00Z",
    "customer": {"id": "C1", "registered": true, "previous_order_count": 0,
        "name": {"last": "山田", "first": "太郎", "last_kana": "ヤマダ", "first_kana": "タロウ"},
        "email": " Taro@Example.JP ", "tel": "０９０－１２３４－５６７０", "birth_day": "1990-01-02", "sex": "male",
        "address": {"zipcode": "〒１５０－０００１", "prefecture": "東京都", "city": "渋谷区", "line1": "神宮前１－１"}},
    "deliveries": [{"name": {"last": "山田", "first": "花子"}, "tel": "+81 3-1234-5678",
        "address": {"zipcode": "150-0001", "prefecture": "東京都", "city": "渋谷区", "line1": "神宮前1-1"}}],
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
    #[schema(value_type = Option<String>)]
    pub card_bin: Option<Typed<CardBin>>,
    #[serde(default)]
    pub device: Option<Device>,
    #[serde(default)]
    pub thanks_offer: ThanksOffer,
}

/// The most order lines a request may hold.
pub const MAX_ITEMS: usize = 500;
/// The largest amount (order total or unit price), in yen.
pub const MAX_YEN: i64 = 100_000_000;

/// The thanks offer of a parsed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub ad_url_enabled: bool,
    pub is_thanks_offer_payment: bool,
    pub parent_order_number: Option<OrderNumber>,
}

/// An order as parsed from its request: the shape is right, the buyer's data typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub order_number: OrderNumber,
    pub channel: OrderChannel,
    /// The code of a payment method; whether the shop has it is gate 3's question.
    pub payment_method: String,
    pub amount: i64,
    pub ordered_at: DateTime<Utc>,
    pub customer: Customer,
    /// As sent; none means the buyer's own address.
    pub deliveries: Vec<Delivery>,
    pub items: Vec<Item>,
    pub card_bin: Option<Typed<CardBin>>,
    pub device: Option<Device>,
    pub thanks_offer: Offer,
    /// SHA-256 of the request: a replay of the order number must be the same request.
    pub fingerprint: String,
}

impl ScreeningRequest {
    /// The order, or every field of the request's shape that is wrong.
    pub fn parse(self) -> Result<Order, DomainError> {
        let errors = self.shape_errors();
        let (Some(order_number), true) = (OrderNumber::parse(&self.order_number), errors.is_empty()) else {
            return Err(DomainError::Invalid(errors));
        };
        let parent_order_number = self
            .thanks_offer
            .parent_order_number
            .as_deref()
            .and_then(OrderNumber::parse);
        let fingerprint = self.fingerprint();
        Ok(Order {
            order_number,
            channel: self.channel,
            payment_method: self.payment_method,
            amount: self.amount,
            ordered_at: self.ordered_at,
            customer: self.customer,
            deliveries: self.deliveries,
            items: self.items,
            card_bin: self.card_bin,
            device: self.device,
            thanks_offer: Offer {
                ad_url_enabled: self.thanks_offer.ad_url_enabled,
                is_thanks_offer_payment: self.thanks_offer.is_thanks_offer_payment,
                parent_order_number,
            },
            fingerprint,
        })
    }

    /// Every field of the shape that is wrong: the order numbers, the amounts, the items.
    fn shape_errors(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if OrderNumber::parse(&self.order_number).is_none() {
            errors.push(FieldError::new(
                "order_number",
                "invalid_format",
                "order_number must be 1-64 letters, digits, '-' or '_'",
            ));
        }
        if let Some(parent) = &self.thanks_offer.parent_order_number
            && OrderNumber::parse(parent).is_none()
        {
            errors.push(FieldError::new(
                "thanks_offer.parent_order_number",
                "invalid_format",
                "thanks_offer.parent_order_number must be an order number: 1-64 letters, digits, '-' or '_'",
            ));
        }
        if !(0..=MAX_YEN).contains(&self.amount) {
            errors.push(FieldError::new(
                "amount",
                "out_of_range",
                format!("amount must be 0 to {MAX_YEN} yen"),
            ));
        }
        errors.extend(item_errors(&self.items));
        errors
    }

    /// The request as it was fingerprinted since the first release: the buyer as the one
    /// delivery when none is given (so replays of records stored then still match).
    fn fingerprint(&self) -> String {
        let mut request = self.clone();
        if request.deliveries.is_empty() {
            request.deliveries.push(Delivery {
                name: request.customer.name.clone(),
                tel: request.customer.tel.clone(),
                address: request.customer.address.clone(),
                email: None,
            });
        }
        // Serialising plain strings, numbers and dates cannot fail.
        let text = serde_json::to_string(&request).unwrap_or_default();
        crate::crypto::sha256_upper(&text)
    }
}

fn item_errors(items: &[Item]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if items.is_empty() || items.len() > MAX_ITEMS {
        errors.push(FieldError::new(
            "items",
            "invalid_length",
            format!("items must hold 1 to {MAX_ITEMS} items"),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        if !(0..=MAX_YEN).contains(&item.price) {
            errors.push(FieldError::new(
                format!("items[{i}].price"),
                "out_of_range",
                format!("items[{i}].price must be 0 to {MAX_YEN} yen"),
            ));
        }
        if item.quantity == 0 {
            errors.push(FieldError::new(
                format!("items[{i}].quantity"),
                "out_of_range",
                format!("items[{i}].quantity must be 1 or more"),
            ));
        }
    }
    errors
}

/// A name part, address part or other text that is empty after NFKC.
const EMPTY: Unusable = Unusable {
    code: "required",
    expected: "a value (it is empty)",
};

impl Order {
    /// The buyer's data that cannot be used and is left out of the O-PLUX event, each
    /// named by its path in the request.
    pub fn warnings(&self) -> Vec<FieldError> {
        let mut warnings = Vec::new();
        let customer = &self.customer;
        name_warnings(&mut warnings, "customer.name", &customer.name);
        typed_warning(&mut warnings, "customer.tel", Some(&customer.tel));
        typed_warning(&mut warnings, "customer.email", customer.email.as_ref());
        address_warnings(&mut warnings, "customer.address", &customer.address);
        for (i, delivery) in self.deliveries.iter().enumerate() {
            let path = format!("deliveries[{i}]");
            name_warnings(&mut warnings, &format!("{path}.name"), &delivery.name);
            typed_warning(&mut warnings, &format!("{path}.tel"), Some(&delivery.tel));
            typed_warning(&mut warnings, &format!("{path}.email"), delivery.email.as_ref());
            address_warnings(&mut warnings, &format!("{path}.address"), &delivery.address);
        }
        typed_warning(&mut warnings, "card_bin", self.card_bin.as_ref());
        if let Some(device) = &self.device {
            typed_warning(&mut warnings, "device.ip", device.ip.as_ref());
            typed_warning(&mut warnings, "device.fingerprint", device.fingerprint.as_ref());
        }
        warnings
    }
}

fn typed_warning<T>(warnings: &mut Vec<FieldError>, field: &str, value: Option<&Typed<T>>) {
    if let Some(unusable) = value.and_then(Typed::unusable) {
        warnings.push(unusable.warning(field));
    }
}

fn name_warnings(warnings: &mut Vec<FieldError>, path: &str, name: &Name) {
    for (part, text) in [("last", &name.last), ("first", &name.first)] {
        if nfkc(text).is_empty() {
            warnings.push(EMPTY.warning(&format!("{path}.{part}")));
        }
    }
}

fn address_warnings(warnings: &mut Vec<FieldError>, path: &str, address: &Address) {
    typed_warning(warnings, &format!("{path}.zipcode"), Some(&address.zipcode));
    if address.prefecture().is_none() {
        warnings.push(EMPTY.warning(&format!("{path}.prefecture")));
    }
    if address.rest().is_none() {
        warnings.push(EMPTY.warning(&format!("{path}.line1")));
    }
}

impl Address {
    /// The prefecture after NFKC, unless empty.
    pub fn prefecture(&self) -> Option<String> {
        Some(nfkc(&self.prefecture)).filter(|p| !p.is_empty())
    }

    /// City and the rest of the address joined, after NFKC, unless empty.
    pub fn rest(&self) -> Option<String> {
        let parts = [Some(&self.city), Some(&self.line1), self.line2.as_ref()];
        let rest: String = parts.into_iter().flatten().map(|p| nfkc(p)).collect();
        Some(rest).filter(|r| !r.is_empty())
    }
}

/// An order with what the protocol needs of its payment method.
pub struct ScreenedOrder<'a> {
    pub request: &'a Order,
    /// How the payment settles (from the method's kind, or its provider's declaration).
    pub settlement: crate::core::Settlement,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn request(changes: impl FnOnce(&mut Value)) -> ScreeningRequest {
        let mut body = json!({
            "order_number": "R-1", "channel": "lp", "payment_method": "cod",
            "amount": 12800, "ordered_at": "2026-11-23T10:00:00Z",
            "customer": {
                "name": {"last": "山田", "first": "太郎"}, "tel": "090-1234-5670",
                "address": {"zipcode": "150-0001", "prefecture": "東京都", "city": "渋谷区", "line1": "神宮前1-1"}
            },
            "items": [{"id": "SKU1", "name": "緑茶", "price": 6400, "quantity": 2}],
        });
        changes(&mut body);
        serde_json::from_value(body).unwrap()
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    fn shape_fields(changes: impl FnOnce(&mut Value)) -> Vec<String> {
        match request(changes).parse() {
            Ok(_) => Vec::new(),
            Err(DomainError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            Err(other) => panic!("{other}"),
        }
    }

    fn warned(changes: impl FnOnce(&mut Value)) -> Vec<String> {
        let order = request(changes).parse().unwrap();
        order.warnings().into_iter().map(|w| w.field).collect()
    }

    #[test]
    fn only_the_shape_is_refused() {
        assert!(shape_fields(|_| {}).is_empty());
        assert_eq!(shape_fields(|b| b["order_number"] = json!("R 1")), ["order_number"]);
        assert_eq!(shape_fields(|b| b["amount"] = json!(-1)), ["amount"]);
        assert_eq!(shape_fields(|b| b["amount"] = json!(100_000_001)), ["amount"]);
        assert_eq!(shape_fields(|b| b["items"] = json!([])), ["items"]);
        assert_eq!(
            shape_fields(|b| b["items"] = json!([{"id": "", "name": "", "price": -1, "quantity": 0}])),
            ["items[0].price", "items[0].quantity"]
        );
        assert_eq!(
            shape_fields(|b| b["thanks_offer"] = json!({"parent_order_number": "no such"})),
            ["thanks_offer.parent_order_number"]
        );
        // The buyer's data, however typed, and the payment method are not refused here.
        assert!(
            shape_fields(|b| {
                b["customer"]["tel"] = json!("12");
                b["customer"]["email"] = json!("not-an-email");
                b["customer"]["address"]["zipcode"] = json!("15");
                b["customer"]["name"]["last"] = json!("");
                b["card_bin"] = json!("4111");
                b["device"] = json!({"ip": "nowhere", "fingerprint": "f".repeat(2001)});
                b["payment_method"] = json!("");
                b["thanks_offer"] = json!({"is_thanks_offer_payment": true});
            })
            .is_empty()
        );
    }

    #[test]
    fn every_shape_error_is_listed_at_once() {
        let fields = shape_fields(|b| {
            b["order_number"] = json!("");
            b["amount"] = json!(-5);
            b["items"][0]["quantity"] = json!(0);
        });
        assert_eq!(fields, ["order_number", "amount", "items[0].quantity"]);
    }

    #[test]
    fn buyer_data_as_typed_in_japan_gives_no_warning() {
        let warnings = warned(|b| {
            b["customer"]["tel"] = json!("０９０－１２３４－５６７８");
            b["customer"]["email"] = json!(" Taro@Example.JP ");
            b["customer"]["address"]["zipcode"] = json!("〒150-0001");
            b["deliveries"] = json!([{"name": {"last": "山田", "first": "花子"}, "tel": "(03) 1234-5678",
                "address": {"zipcode": "１５０－０００１", "prefecture": "東京都", "city": "渋谷区", "line1": "神宮前１－１"}}]);
            b["card_bin"] = json!("411111");
            b["device"] = json!({"ip": "203.0.113.9", "fingerprint": "fb"});
        });
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn what_cannot_be_used_is_named_in_the_warnings() {
        let warnings = warned(|b| {
            b["customer"]["tel"] = json!("12345");
            b["customer"]["email"] = json!("taro@");
            b["customer"]["address"]["zipcode"] = json!("15");
            b["customer"]["address"]["prefecture"] = json!(" ");
            b["customer"]["name"]["first"] = json!("　");
            b["deliveries"] = json!([{"name": {"last": "山田", "first": "花子"}, "tel": "0",
                "address": {"zipcode": "1500001", "prefecture": "東京都", "city": "", "line1": ""}}]);
            b["card_bin"] = json!("41");
            b["device"] = json!({"ip": "203.0.113", "fingerprint": "f".repeat(2001)});
        });
        assert_eq!(
            warnings,
            [
                "customer.name.first",
                "customer.tel",
                "customer.email",
                "customer.address.zipcode",
                "customer.address.prefecture",
                "deliveries[0].tel",
                "deliveries[0].address.line1",
                "card_bin",
                "device.ip",
                "device.fingerprint",
            ]
        );
    }

    #[test]
    fn a_warning_says_what_was_expected() {
        let order = request(|b| b["customer"]["tel"] = json!("12345")).parse().unwrap();
        let warnings = order.warnings();
        assert_eq!(fields(&warnings), ["customer.tel"]);
        assert_eq!(warnings[0].code, "invalid_format");
        assert!(
            warnings[0].message.contains("10 or 11 digits"),
            "{}",
            warnings[0].message
        );
    }

    #[test]
    fn the_fingerprint_is_of_the_request_as_sent() {
        let a = request(|_| {}).parse().unwrap();
        let b = request(|b| b["customer"]["tel"] = json!("09012345670"))
            .parse()
            .unwrap();
        assert_ne!(
            a.fingerprint, b.fingerprint,
            "a different typing is a different request"
        );
        assert_eq!(a.fingerprint, request(|_| {}).parse().unwrap().fingerprint);
    }
}
