//! The O-PLUX v3 event registration protocol, all in one place: request building,
//! signature, hashing and normalisation of personal data, and reading answers.
//! O-PLUX's own documentation is given to contracted shops only; what is known comes from
//! public integrations (its own storefront cartridge among them) — correct it here. A
//! test compares a whole request body with `tests/fixtures/oplux_event.json`.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::{
    core::Settlement,
    crypto::sha256_upper,
    screening::{
        input::{Email, Tel, Typed},
        request::{Address, Customer, Name, Order, ScreenedOrder, Sex},
    },
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
/// `cookie_only` is cut at this length.
pub const COOKIE_ONLY_MAX_CHARS: usize = 500;
pub const EVENT_TYPE: &str = "EC";
/// Answer codes of `result`.
pub const RESULT_SUCCESS: i64 = 10;
pub const RESULT_ERROR: i64 = 20;

/// What is kept of an answer: at most this many rules (and errors)…
pub const MAX_RULES: usize = 100;
/// … codes of at most this many characters …
pub const MAX_CODE_CHARS: usize = 64;
/// … and texts (descriptions, messages, memos) of at most this many.
pub const MAX_TEXT_CHARS: usize = 4000;
/// What a failure says when a success answer's event id is longer than a code may be.
pub const LONG_EVENT_ID: &str = "a success answer with an event id longer than 64 characters";

/// `text`, cut after `max` characters.
pub fn bounded(text: &str, max: usize) -> String {
    first_chars(text, max).to_string()
}

/// The first `max` characters of `text` (`bounded`, borrowed).
fn first_chars(text: &str, max: usize) -> &str {
    text.char_indices().nth(max).map_or(text, |(end, _)| &text[..end])
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

// The request body is built as typed values that borrow from the order where they can
// and are serialised once (members in declaration order, absent ones left out): a
// `serde_json::Value` tree cost an allocation per member and was built, serialised and
// dropped on every screening (bench/RESULTS.md, issue 30).

/// `hashed_name`: the name as given and normalised, hashed; an empty part as `""`.
#[derive(Debug, Serialize)]
pub struct HashedName {
    pub last_name_sha2: String,
    pub first_name_sha2: String,
    pub normalized_last_name_sha2: String,
    pub normalized_first_name_sha2: String,
}

pub fn hashed_name(name: &Name) -> HashedName {
    // (as given, normalised): both empty when the part normalises to nothing.
    let hashes = |text: &str| {
        let normalized = normalize_name(text);
        if normalized.is_empty() {
            (String::new(), String::new())
        } else {
            (sha256_upper(text), sha256_upper(&normalized))
        }
    };
    let (last, normalized_last) = hashes(&name.last);
    let (first, normalized_first) = hashes(&name.first);
    HashedName {
        last_name_sha2: last,
        first_name_sha2: first,
        normalized_last_name_sha2: normalized_last,
        normalized_first_name_sha2: normalized_first,
    }
}

/// `email`: the local part hashed, the domain in clear (already lower-cased).
#[derive(Debug, Serialize)]
pub struct MailAddress<'a> {
    pub pc: PcMail<'a>,
}

#[derive(Debug, Serialize)]
pub struct PcMail<'a> {
    pub hashed_account_sha2: String,
    pub domain: &'a str,
}

pub fn email(email: &Email) -> MailAddress<'_> {
    MailAddress {
        pc: PcMail {
            hashed_account_sha2: sha256_upper(email.local()),
            domain: email.domain(),
        },
    }
}

/// `tel`: domestic digits, as a mobile number when it starts 070/080/090; the other
/// number is sent as `""`.
#[derive(Debug, Serialize)]
pub struct TelNumbers<'a> {
    pub fixed_number: &'a str,
    pub mobile_number: &'a str,
}

pub fn tel(tel: &Tel) -> TelNumbers<'_> {
    if tel.is_mobile() {
        TelNumbers {
            fixed_number: "",
            mobile_number: tel.digits(),
        }
    } else {
        TelNumbers {
            fixed_number: tel.digits(),
            mobile_number: "",
        }
    }
}

pub const COUNTRY: &str = "JP";
pub const COUNTRY_NAME: &str = "JAPAN";

/// `address`: country, 7-digit zipcode, prefecture (`addressA`), city and the rest joined
/// (`addressC`); what cannot be used is left out.
#[derive(Debug, Serialize)]
pub struct EventAddress<'a> {
    pub country: &'static str,
    #[serde(rename = "countryName")]
    pub country_name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zipcode: Option<&'a str>,
    #[serde(rename = "addressA", skip_serializing_if = "Option::is_none")]
    pub address_a: Option<String>,
    #[serde(rename = "addressC", skip_serializing_if = "Option::is_none")]
    pub address_c: Option<String>,
}

pub fn address(address: &Address) -> EventAddress<'_> {
    EventAddress {
        country: COUNTRY,
        country_name: COUNTRY_NAME,
        zipcode: address.zipcode.usable().map(|zipcode| zipcode.digits()),
        address_a: address.prefecture(),
        address_c: address.rest(),
    }
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

/// `settle.method`: O-PLUX's code for how the payment settles.
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

/// The credentials and model of the shop's O-PLUX contract.
pub struct Credentials<'a> {
    pub merchant_id: &'a str,
    pub source_id: &'a str,
    pub secret_key: &'a str,
    pub model_id: &'a str,
}

/// `buyer`: the customer, with what cannot be used left out.
#[derive(Debug, Serialize)]
struct Buyer<'a> {
    #[serde(rename = "ID", skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    birth_day: Option<String>,
    sex: &'static str,
    #[serde(flatten)]
    contact: Contact<'a>,
}

fn buyer(customer: &Customer) -> Buyer<'_> {
    Buyer {
        id: customer.id.as_deref(),
        birth_day: customer.birth_day.map(birth_day),
        sex: sex(customer.sex),
        contact: contact(
            &customer.name,
            &customer.address,
            &customer.tel,
            customer.email.as_ref(),
        ),
    }
}

/// A person as O-PLUX reads them: `{hashed_name, address, tel?, email?}`, what cannot be
/// used left out. One element of `deliveries`, and the buyer's part of `buyer`.
#[derive(Debug, Serialize)]
struct Contact<'a> {
    hashed_name: HashedName,
    address: EventAddress<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tel: Option<TelNumbers<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<MailAddress<'a>>,
}

fn contact<'a>(
    name: &Name,
    address_of: &'a Address,
    number: &'a Typed<Tel>,
    mail: Option<&'a Typed<Email>>,
) -> Contact<'a> {
    Contact {
        hashed_name: hashed_name(name),
        address: address(address_of),
        tel: number.usable().map(tel),
        email: mail.and_then(Typed::usable).map(email),
    }
}

/// `deliveries`: as sent, or the buyer when none is given.
fn deliveries(order: &Order) -> Vec<Contact<'_>> {
    if order.deliveries.is_empty() {
        let buyer = &order.customer;
        return vec![contact(&buyer.name, &buyer.address, &buyer.tel, buyer.email.as_ref())];
    }
    order
        .deliveries
        .iter()
        .map(|d| contact(&d.name, &d.address, &d.tel, d.email.as_ref()))
        .collect()
}

#[derive(Debug, Serialize)]
struct EventItem<'a> {
    shop_item_id: &'a str,
    item_price: i64,
    item_quantity: u32,
    item_name: &'a str,
    /// Cut after `ITEM_CATEGORY_MAX_CHARS` characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    item_category: Option<&'a str>,
}

fn items(order: &Order) -> Vec<EventItem<'_>> {
    order
        .items
        .iter()
        .map(|item| EventItem {
            shop_item_id: &item.id,
            item_price: item.price,
            item_quantity: item.quantity,
            item_name: &item.name,
            item_category: item
                .category
                .as_deref()
                .map(|category| first_chars(category, ITEM_CATEGORY_MAX_CHARS)),
        })
        .collect()
}

#[derive(Debug, Serialize)]
struct Settle<'a> {
    limit_price: i64,
    status: &'static str,
    datetime: String,
    amount: i64,
    method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    credit_card: Option<CreditCard<'a>>,
}

#[derive(Debug, Serialize)]
struct CreditCard<'a> {
    bincode: &'a str,
}

fn settle(order: &Order, settlement: Settlement) -> Settle<'_> {
    Settle {
        limit_price: NO_LIMIT_PRICE,
        status: SETTLE_NOT_BILLED,
        datetime: jst(order.ordered_at),
        amount: order.amount,
        method: settle_method(settlement),
        credit_card: order
            .card_bin
            .as_ref()
            .and_then(Typed::usable)
            .map(|bin| CreditCard { bincode: bin.digits() }),
    }
}

/// The v3 event registration body (`POST /v3/event`).
#[derive(Debug, Serialize)]
pub struct EventRequest<'a> {
    info: Info<'a>,
    telegram: Telegram<'a>,
}

impl EventRequest<'_> {
    /// `settle.method`, for the log.
    pub fn settle_method(&self) -> &'static str {
        self.telegram.event.ec.settle.method
    }
}

#[derive(Debug, Serialize)]
struct Info<'a> {
    version: &'static str,
    shop_id: &'a str,
    hash_method: &'static str,
    request_datetime: String,
    signature: String,
}

#[derive(Debug, Serialize)]
struct Telegram<'a> {
    event: Event<'a>,
}

#[derive(Debug, Serialize)]
struct Event<'a> {
    model_id: &'a str,
    event_id_for_shop: &'a str,
    event_type: &'static str,
    /// The device signals, as O-PLUX's own storefront integration sends them: the
    /// fingerprint as `device_info`; without one, the cookies as `cookie_only` (cut);
    /// the IP address as `ip_address_only`, always.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_info: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cookie_only: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_address_only: Option<String>,
    ec: Ec<'a>,
}

#[derive(Debug, Serialize)]
struct Ec<'a> {
    media_code: &'static str,
    settle: Settle<'a>,
    customers: Customers<'a>,
    items: Vec<EventItem<'a>>,
}

#[derive(Debug, Serialize)]
struct Customers<'a> {
    buyer: Buyer<'a>,
    deliveries: Vec<Contact<'a>>,
}

/// The v3 event registration body for an order.
pub fn event_request<'a>(
    credentials: &Credentials<'a>,
    screened: &ScreenedOrder<'a>,
    now: DateTime<Utc>,
) -> EventRequest<'a> {
    let order = screened.request;
    let request_datetime = jst(now);
    let signature = signature(
        credentials.source_id,
        credentials.merchant_id,
        &request_datetime,
        credentials.secret_key,
    );
    let device = order.device.as_ref();
    let device_info = device
        .and_then(|device| device.fingerprint.as_ref())
        .and_then(Typed::usable)
        .map(|fingerprint| fingerprint.as_str());
    let cookie_only = device
        .filter(|_| device_info.is_none())
        .and_then(|device| device.cookie_id.as_deref())
        .map(str::trim)
        .filter(|cookie| !cookie.is_empty())
        .map(|cookie| first_chars(cookie, COOKIE_ONLY_MAX_CHARS));
    let ip_address_only = device
        .and_then(|device| device.ip.as_ref())
        .and_then(Typed::usable)
        .map(|ip| ip.0.to_string());
    EventRequest {
        info: Info {
            version: VERSION,
            shop_id: credentials.merchant_id,
            hash_method: HASH_METHOD,
            request_datetime,
            signature,
        },
        telegram: Telegram {
            event: Event {
                model_id: credentials.model_id,
                event_id_for_shop: order.order_number.as_str(),
                event_type: EVENT_TYPE,
                device_info,
                cookie_only,
                ip_address_only,
                ec: Ec {
                    media_code: MEDIA_CODE,
                    settle: settle(order, screened.settlement),
                    customers: Customers {
                        buyer: buyer(&order.customer),
                        deliveries: deliveries(order),
                    },
                    items: items(order),
                },
            },
        },
    }
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
    /// An error answer (HTTP 200 with `result: 20`, or 4xx): the HTTP status and every
    /// error O-PLUX gave, as `{code, description: message}`.
    Rejected { status: u16, errors: Vec<Reason> },
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
        if event_id.chars().count() > MAX_CODE_CHARS {
            return Err(LONG_EVENT_ID.into());
        }
        let reasons = event["rules"]
            .as_array()
            .map(|rules| {
                rules
                    .iter()
                    .take(MAX_RULES)
                    .map(|rule| Reason {
                        code: bounded(rule["code"].as_str().unwrap_or_default(), MAX_CODE_CHARS),
                        description: bounded(rule["description"].as_str().unwrap_or_default(), MAX_TEXT_CHARS),
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
    let errors = error_reasons(&value);
    let refused = (status == 200 && value["result"].as_i64() == Some(RESULT_ERROR)) || (400..=499).contains(&status);
    if refused && !errors.is_empty() {
        return Ok(Answer::Rejected { status, errors });
    }
    Err(format!("HTTP {status} without a readable result"))
}

/// Every `{code, message}` of an error answer.
fn error_reasons(value: &Value) -> Vec<Reason> {
    let Some(errors) = value["errors"].as_array() else {
        return Vec::new();
    };
    errors
        .iter()
        .filter_map(|error| {
            Some(Reason {
                code: bounded(error["code"].as_str()?, MAX_CODE_CHARS),
                description: bounded(error["message"].as_str().unwrap_or_default(), MAX_TEXT_CHARS),
            })
        })
        .take(MAX_RULES)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screening::{input::Lenient, request::ScreeningRequest};
    use chrono::TimeZone;
    use serde_json::json;

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
    fn texts_are_cut_after_so_many_characters_not_bytes() {
        assert_eq!(first_chars("緑茶ティー", 2), "緑茶");
        assert_eq!(first_chars("緑茶", 2), "緑茶");
        assert_eq!(first_chars("緑", 2), "緑");
        assert_eq!(first_chars("", 2), "");
        assert_eq!(first_chars("abc", 0), "");
    }

    #[test]
    fn names_are_normalised_nfkc_without_spaces() {
        assert_eq!(normalize_name("ﾔﾏﾀﾞ　太郎 "), "ヤマダ太郎");
        assert_eq!(normalize_name("ＹＡＭＡＤＡ"), "YAMADA");
    }

    #[test]
    fn phone_numbers_are_mobile_by_prefix_and_the_other_is_empty() {
        let mobile = Tel::parse("０９０－１２３４－５６７０").unwrap();
        assert_eq!(
            serde_json::to_value(tel(&mobile)).unwrap(),
            json!({"fixed_number": "", "mobile_number": "09012345670"})
        );
        let fixed = Tel::parse("(03) 1234-5678").unwrap();
        assert_eq!(
            serde_json::to_value(tel(&fixed)).unwrap(),
            json!({"fixed_number": "0312345678", "mobile_number": ""})
        );
    }

    #[test]
    fn emails_hash_the_local_part_and_send_the_domain_lower_cased() {
        let address = Email::parse("Taro@Example.JP").unwrap();
        let pc = serde_json::to_value(email(&address)).unwrap();
        assert_eq!(pc["pc"]["domain"], "example.jp");
        assert_eq!(pc["pc"]["hashed_account_sha2"], sha256_upper("Taro"));
    }

    #[test]
    fn every_settlement_has_its_code() {
        let codes: Vec<&str> = [
            Settlement::Deferred,
            Settlement::CreditCard,
            Settlement::CashOnDelivery,
            Settlement::BankTransfer,
            Settlement::EMoney,
            Settlement::PayPal,
            Settlement::Other,
        ]
        .into_iter()
        .map(settle_method)
        .collect();
        assert_eq!(codes, ["01", "02", "03", "04", "05", "10", "99"]);
    }

    fn order(changes: impl FnOnce(&mut Value)) -> Order {
        let mut body: Value = serde_json::from_str(include_str!("../../../tests/fixtures/oplux_order.json")).unwrap();
        changes(&mut body);
        serde_json::from_value::<ScreeningRequest>(body)
            .unwrap()
            .parse()
            .unwrap()
    }

    fn event_of(order: &Order) -> Value {
        let credentials = Credentials {
            merchant_id: "merchant-001",
            source_id: "src-001",
            secret_key: "s3cret",
            model_id: "CRD_01",
        };
        let screened = ScreenedOrder {
            request: order,
            settlement: Settlement::CreditCard,
        };
        let sent = event_request(
            &credentials,
            &screened,
            Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
        );
        serde_json::to_value(sent).unwrap()
    }

    #[test]
    fn the_whole_request_body_is_the_fixtures() {
        let expected: Value = serde_json::from_str(include_str!("../../../tests/fixtures/oplux_event.json")).unwrap();
        let sent = event_of(&order(|_| {}));
        assert_eq!(
            sent,
            expected,
            "sent:\n{}",
            serde_json::to_string_pretty(&sent).unwrap()
        );
    }

    #[test]
    fn without_a_fingerprint_the_cookies_go_cut_and_the_ip_still_goes() {
        let sent = event_of(&order(|b| {
            b["device"] = json!({"ip": "2001:db8::1", "cookie_id": "c".repeat(600)});
        }));
        let event = &sent["telegram"]["event"];
        assert!(event.get("device_info").is_none());
        assert_eq!(event["cookie_only"].as_str().unwrap().len(), COOKIE_ONLY_MAX_CHARS);
        assert_eq!(event["ip_address_only"], "2001:db8::1");
    }

    #[test]
    fn an_unusable_fingerprint_counts_as_none() {
        let sent = event_of(&order(|b| {
            b["device"] = json!({"cookie_id": "sid=1", "fingerprint": "f".repeat(2001)});
        }));
        let event = &sent["telegram"]["event"];
        assert!(event.get("device_info").is_none());
        assert_eq!(event["cookie_only"], "sid=1");
        assert!(event.get("ip_address_only").is_none());
    }

    #[test]
    fn what_cannot_be_used_is_left_out_of_the_event() {
        let sent = event_of(&order(|b| {
            b["customer"]["tel"] = json!("12345");
            b["customer"]["email"] = json!("taro@");
            b["customer"]["address"]["zipcode"] = json!("15");
            b["customer"]["name"]["first"] = json!(" ");
            b["card_bin"] = json!("41");
            b["deliveries"] = json!([]);
        }));
        let ec = &sent["telegram"]["event"]["ec"];
        let buyer = &ec["customers"]["buyer"];
        assert!(buyer.get("tel").is_none());
        assert!(buyer.get("email").is_none());
        assert!(buyer["address"].get("zipcode").is_none());
        assert_eq!(buyer["address"]["addressA"], "東京都");
        assert_eq!(buyer["hashed_name"]["first_name_sha2"], "");
        assert_eq!(buyer["hashed_name"]["normalized_first_name_sha2"], "");
        assert!(ec["settle"].get("credit_card").is_none());
        // Without deliveries, the buyer is the one delivery.
        assert_eq!(ec["customers"]["deliveries"][0]["hashed_name"], buyer["hashed_name"]);
        assert!(ec["customers"]["deliveries"][0].get("tel").is_none());
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
        assert!(parse_answer(500, b"oops").is_err());
        assert!(parse_answer(200, br#"{"result":10}"#).is_err());
    }

    #[test]
    fn rules_codes_and_descriptions_are_bounded() {
        let rules: Vec<Value> = (0..20_000)
            .map(|i| json!({"code": format!("R{i}{}", "x".repeat(100)), "description": "説".repeat(5000)}))
            .collect();
        let answer =
            json!({"result": 10, "telegram": {"event": {"id": "E1", "aaresult": {"result": "OK"}, "rules": rules}}});
        let Answer::Screened { reasons, .. } = parse_answer(200, answer.to_string().as_bytes()).unwrap() else {
            panic!("screened");
        };
        assert_eq!(reasons.len(), MAX_RULES);
        assert!(reasons.iter().all(|r| r.code.chars().count() == MAX_CODE_CHARS));
        assert!(reasons.iter().all(|r| r.description.chars().count() == MAX_TEXT_CHARS));
        let long_id =
            json!({"result": 10, "telegram": {"event": {"id": "E".repeat(65), "aaresult": {"result": "OK"}}}});
        assert_eq!(
            parse_answer(200, long_id.to_string().as_bytes()),
            Err(LONG_EVENT_ID.to_string())
        );
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(
            parse_answer(200, deep.as_bytes()).is_err(),
            "serde_json stops at its depth limit"
        );
    }

    #[test]
    fn error_answers_keep_every_error_code() {
        let errors = br#"{"result":20,"errors":[{"code":"InvalidData.Tel","message":"tel"},{"code":"InvalidData.Zipcode","message":"zip"}]}"#;
        for status in [200, 400] {
            let Answer::Rejected { status: got, errors } = parse_answer(status, errors).unwrap() else {
                panic!("HTTP {status} with result 20 is a refusal");
            };
            assert_eq!(got, status);
            let codes: Vec<&str> = errors.iter().map(|e| e.code.as_str()).collect();
            assert_eq!(codes, ["InvalidData.Tel", "InvalidData.Zipcode"]);
            assert_eq!(errors[1].description, "zip");
        }
        let forbidden = br#"{"result":20,"errors":[{"code":"Authentication.InvalidSignature","message":"sig"}]}"#;
        assert!(matches!(
            parse_answer(403, forbidden),
            Ok(Answer::Rejected { status: 403, .. })
        ));
        assert!(parse_answer(500, forbidden).is_err(), "a 5xx is no answer");
    }
}
