//! The O-PLUX v3 event registration protocol, all in one place: request building,
//! signature, hashing and normalisation of personal data, and reading answers.
//! O-PLUX's own documentation is private; what is known is in OPLUX.md — correct it here.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use ring::digest::{SHA256, digest};
use serde_json::{Map, Value, json};
use unicode_normalization::UnicodeNormalization;

use crate::{
    core::{PaymentKind, Settlement},
    screening::request::{Address, Name, ScreenedOrder, Sex},
};

pub const EVENT_PATH: &str = "/v3/event";
pub const VERSION: &str = "3.0";
pub const HASH_METHOD: &str = "SHA256";
pub const MEDIA_CODE: &str = "Web購入";
/// `settle.limit_price` when the buyer has no upper limit.
pub const NO_LIMIT_PRICE: i64 = 999_999;
/// `settle.status` at registration: not yet billed.
pub const SETTLE_NOT_BILLED: &str = "00";
pub const ITEM_CATEGORY_MAX_CHARS: usize = 20;
pub const DEVICE_INFO_MAX_CHARS: usize = 2000;
/// Answer codes of `result`.
pub const RESULT_SUCCESS: i64 = 10;

/// Upper-case hex of the SHA-256 of `text` (UTF-8), as O-PLUX hashes.
pub fn sha256_upper(text: &str) -> String {
    digest(&SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// `yyyy/MM/dd HH:mm:ss` in Japan time (UTC+9).
pub fn jst(time: DateTime<Utc>) -> String {
    let japan = FixedOffset::east_opt(9 * 3600).expect("UTC+9 is a valid offset");
    time.with_timezone(&japan).format("%Y/%m/%d %H:%M:%S").to_string()
}

/// `info.signature`: SHA-256 over 接続元ID + 加盟店ID + request_datetime + シークレットキー.
pub fn signature(source_id: &str, merchant_id: &str, request_datetime: &str, secret_key: &str) -> String {
    sha256_upper(&format!("{source_id}{merchant_id}{request_datetime}{secret_key}"))
}

/// A name normalised before hashing: NFKC, spaces (any width) removed.
pub fn normalize_name(name: &str) -> String {
    name.nfkc().filter(|c| !c.is_whitespace()).collect()
}

pub fn hashed_name(name: &Name) -> Value {
    json!({
        "last_name_sha2": sha256_upper(&name.last),
        "first_name_sha2": sha256_upper(&name.first),
        "normalized_last_name_sha2": sha256_upper(&normalize_name(&name.last)),
        "normalized_first_name_sha2": sha256_upper(&normalize_name(&name.first)),
    })
}

/// `email.pc`: the local part hashed, the domain in clear, lower-cased.
pub fn hashed_email(email: &str) -> Option<Value> {
    let (local, domain) = email.trim().rsplit_once('@')?;
    Some(json!({
        "hashed_account_sha2": sha256_upper(local),
        "domain": domain.to_lowercase(),
    }))
}

pub fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// `tel`: digits only, as a mobile number when it starts 070/080/090.
pub fn tel(number: &str) -> Value {
    let number = digits(number);
    if ["070", "080", "090"].iter().any(|p| number.starts_with(p)) {
        json!({"fixed_number": null, "mobile_number": number})
    } else {
        json!({"fixed_number": number, "mobile_number": null})
    }
}

pub fn address(address: &Address) -> Value {
    let rest = match &address.line2 {
        Some(line2) if !line2.trim().is_empty() => format!("{}{}", address.line1, line2),
        _ => address.line1.clone(),
    };
    json!({
        "country": "JP",
        "zipcode": digits(&address.zipcode),
        "addressA": address.prefecture,
        "addressB": address.city,
        "addressC": rest,
    })
}

pub fn sex(sex: Option<Sex>) -> &'static str {
    match sex {
        Some(Sex::Male) => "1",
        Some(Sex::Female) => "2",
        Some(Sex::Unknown) | None => "3",
    }
}

pub fn birth_day(date: NaiveDate) -> String {
    date.format("%Y/%m/%d").to_string()
}

/// `settle.method`: how the payment settles.
pub fn settle_method(settlement: Settlement) -> &'static str {
    match settlement {
        Settlement::Deferred => "01",
        Settlement::CreditCard => "02",
        Settlement::CashOnDelivery => "03",
        Settlement::BankTransfer => "04",
        Settlement::EMoney => "05",
        Settlement::PayPal => "10",
        Settlement::Other => "99",
    }
}

/// How a method of `kind` on `provider` settles: as its provider declares, else by kind.
pub fn settlement(kind: &str, provider: Option<&str>) -> Settlement {
    let declared = provider.and_then(crate::accounts::find).and_then(|p| p.settles_as);
    declared
        .or_else(|| PaymentKind::parse(kind).map(PaymentKind::settlement))
        .unwrap_or(Settlement::Other)
}

/// The credentials and model of the shop's O-PLUX contract.
pub struct Credentials<'a> {
    pub merchant_id: &'a str,
    pub source_id: &'a str,
    pub secret_key: &'a str,
    pub model_id: &'a str,
}

/// The v3 event registration body for an order.
pub fn event_request(credentials: &Credentials<'_>, screened: &ScreenedOrder<'_>, now: DateTime<Utc>) -> Value {
    let (order, kind, provider) = (screened.request, screened.kind, screened.provider);
    let request_datetime = jst(now);
    let customer = &order.customer;
    let mut buyer = Map::new();
    if let Some(id) = &customer.id {
        buyer.insert("ID".into(), Value::from(id.as_str()));
    }
    if let Some(birth) = customer.birth_day {
        buyer.insert("birth_day".into(), Value::from(birth_day(birth)));
    }
    buyer.insert("sex".into(), Value::from(sex(customer.sex)));
    buyer.insert("hashed_name".into(), hashed_name(&customer.name));
    buyer.insert("address".into(), address(&customer.address));
    buyer.insert("tel".into(), tel(&customer.tel));
    if let Some(email) = customer.email.as_deref().and_then(hashed_email) {
        buyer.insert("email".into(), json!({"pc": email}));
    }
    let deliveries: Vec<Value> = order
        .deliveries
        .iter()
        .map(|d| {
            json!({"delivery": {
                "hashed_name": hashed_name(&d.name),
                "address": address(&d.address),
                "tel": tel(&d.tel),
            }})
        })
        .collect();
    let items: Vec<Value> = order
        .items
        .iter()
        .map(|item| {
            let mut out = json!({
                "shop_item_id": item.id,
                "item_price": item.price,
                "item_quantity": item.quantity,
                "item_name": item.name,
            });
            if let Some(category) = &item.category {
                out["item_category"] = Value::from(category.chars().take(ITEM_CATEGORY_MAX_CHARS).collect::<String>());
            }
            out
        })
        .collect();
    let mut settle = json!({
        "limit_price": NO_LIMIT_PRICE,
        "status": SETTLE_NOT_BILLED,
        "datetime": jst(order.ordered_at),
        "amount": order.amount,
        "method": settle_method(settlement(kind, provider)),
    });
    if let Some(bin) = &order.card_bin {
        settle["credit_card"] = json!({"bincode": bin});
    }
    let mut event = json!({
        "model_id": credentials.model_id,
        "event_id_for_shop": order.order_number,
        "event_type": "EC",
        "ec": {
            "media_code": MEDIA_CODE,
            "settle": settle,
            "customers": {"buyer": buyer, "deliveries": deliveries},
            "items": items,
        }
    });
    match order.device.as_ref() {
        Some(device) if device.fingerprint.as_deref().is_some_and(|f| !f.is_empty()) => {
            event["device_info"] = Value::from(device.fingerprint.clone());
        }
        Some(device) => {
            if let Some(ip) = &device.ip {
                event["ip_address_only"] = Value::from(ip.as_str());
            }
            if let Some(cookie) = &device.cookie_id {
                event["cookie_only"] = Value::from(cookie.as_str());
            }
        }
        None => {}
    }
    json!({
        "info": {
            "version": VERSION,
            "shop_id": credentials.merchant_id,
            "hash_method": HASH_METHOD,
            "request_datetime": request_datetime,
            "signature": signature(credentials.source_id, credentials.merchant_id, &request_datetime, credentials.secret_key),
        },
        "telegram": {"event": event}
    })
}

/// O-PLUX's automatic screening result (自動審査結果).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Hold,
    Review,
    Ng,
}

impl Verdict {
    pub fn parse(text: &str) -> Option<Verdict> {
        match text {
            "OK" => Some(Verdict::Ok),
            "HOLD" => Some(Verdict::Hold),
            "REVIEW" => Some(Verdict::Review),
            "NG" => Some(Verdict::Ng),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Hold => "HOLD",
            Verdict::Review => "REVIEW",
            Verdict::Ng => "NG",
        }
    }
}

/// A reason (判定理由) O-PLUX gives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Reason {
    pub code: String,
    pub description: String,
}

/// What O-PLUX answered to a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Screened {
        verdict: Verdict,
        event_id: String,
        reasons: Vec<Reason>,
    },
    /// An error answer: HTTP status and O-PLUX's first error code and message.
    Rejected { status: u16, code: String, message: String },
}

/// Reads an answer body of the given HTTP status. `Err` says why it is not understood.
pub fn parse_answer(status: u16, body: &[u8]) -> Result<Answer, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| format!("HTTP {status} with a body that is not JSON"))?;
    if status == 200 && value["result"].as_i64() == Some(RESULT_SUCCESS) {
        let event = &value["telegram"]["event"];
        let verdict = event["aaresult"]["result"]
            .as_str()
            .and_then(Verdict::parse)
            .ok_or("a success answer without a known aaresult.result")?;
        let event_id = event["id"]
            .as_str()
            .ok_or("a success answer without an event id")?
            .to_string();
        let reasons = event["rules"]
            .as_array()
            .map(|rules| {
                rules
                    .iter()
                    .map(|rule| Reason {
                        code: rule["code"].as_str().unwrap_or_default().to_string(),
                        description: rule["description"].as_str().unwrap_or_default().to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        return Ok(Answer::Screened {
            verdict,
            event_id,
            reasons,
        });
    }
    let first = &value["errors"][0];
    match (first["code"].as_str(), status) {
        (Some(code), 400..=499) => Ok(Answer::Rejected {
            status,
            code: code.to_string(),
            message: first["message"].as_str().unwrap_or_default().to_string(),
        }),
        _ => Err(format!("HTTP {status} without a readable result")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn request_time_is_japan_time() {
        let time = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        assert_eq!(jst(time), "2026/11/23 19:00:00");
        let late = Utc.with_ymd_and_hms(2026, 12, 31, 15, 30, 5).unwrap();
        assert_eq!(jst(late), "2027/01/01 00:30:05");
    }

    #[test]
    fn hashes_are_upper_case_sha256() {
        // SHA-256("abc"), FIPS 180-2 test vector.
        assert_eq!(
            sha256_upper("abc"),
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
        );
    }

    #[test]
    fn names_are_normalised_nfkc_without_spaces() {
        assert_eq!(normalize_name("ﾔﾏﾀﾞ　太郎 "), "ヤマダ太郎");
        assert_eq!(normalize_name("ＹＡＭＡＤＡ"), "YAMADA");
    }

    #[test]
    fn phone_numbers_are_digits_and_mobile_by_prefix() {
        assert_eq!(
            tel("090-1234-5670"),
            json!({"fixed_number": null, "mobile_number": "09012345670"})
        );
        assert_eq!(
            tel("03-1234-5678"),
            json!({"fixed_number": "0312345678", "mobile_number": null})
        );
    }

    #[test]
    fn emails_hash_the_local_part_and_lower_the_domain() {
        let pc = hashed_email("Taro@Example.JP").unwrap();
        assert_eq!(pc["domain"], "example.jp");
        assert_eq!(pc["hashed_account_sha2"], sha256_upper("Taro"));
        assert!(hashed_email("no-at-sign").is_none());
    }

    #[test]
    fn answers_are_read() {
        let ok = br#"{"time":"t","result":10,"telegram":{"event":{"id":"E1","aaresult":{"result":"NG"},"rules":[{"code":"R001","touchpoint":"x","description":"blacklisted"}]}}}"#;
        assert_eq!(
            parse_answer(200, ok).unwrap(),
            Answer::Screened {
                verdict: Verdict::Ng,
                event_id: "E1".into(),
                reasons: vec![Reason {
                    code: "R001".into(),
                    description: "blacklisted".into()
                }]
            }
        );
        let error = br#"{"result":20,"errors":[{"code":"InvalidData.AuthoriModelNone","message":"model"}]}"#;
        assert!(matches!(
            parse_answer(400, error).unwrap(),
            Answer::Rejected { status: 400, .. }
        ));
        assert!(parse_answer(500, b"oops").is_err());
        assert!(parse_answer(200, br#"{"result":10}"#).is_err());
    }
}
