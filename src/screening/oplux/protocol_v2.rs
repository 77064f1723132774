//! The O-PLUX v2 event API, used after registration: GET
//! an event's manual review (XML answer), PUT updates (settlement, manual result, memo,
//! blacklist) as a form. Same signature formula and Japan time as v3
//! (`protocol::signature`, `protocol::jst`); the common keys are form-encoded and dotted,
//! and the signature key is spelt `request.signiture`, as O-PLUX spells it.

use chrono::{DateTime, Utc};
use quick_xml::{Reader, events::Event};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::protocol::{
    Credentials, HASH_METHOD, MAX_CODE_CHARS, MAX_RULES, MAX_TEXT_CHARS, RESULT_ERROR, RESULT_SUCCESS, Reason, bounded,
    jst, signature,
};

/// The v2 path below a stand-in's base URL.
pub const V2_PATH: &str = "/v2/event";
pub const VERSION: &str = "1.0";
/// What a GET asks for.
pub const FIELDS: &str = "rules,score,similars,aaresult,maresult";

/// XML answers nest at most this deep; deeper is no answer.
pub const MAX_XML_DEPTH: usize = 32;
/// What a failure says when an XML answer nests deeper than `MAX_XML_DEPTH`.
pub const TOO_DEEP: &str = "an XML answer nested more than 32 deep";
/// What a failure says when a GET's answer is about another event than the one asked.
pub const ANOTHER_EVENT: &str = "an answer about another event than the one asked";

/// A form: keys and values in the order sent.
pub type Form = Vec<(&'static str, String)>;

/// The keys every v2 request carries.
fn common(credentials: &Credentials<'_>, now: DateTime<Utc>) -> Form {
    let request_datetime = jst(now);
    vec![
        ("request.version", VERSION.to_string()),
        ("request.shop_id", credentials.merchant_id.to_string()),
        (
            "request.signiture",
            signature(
                credentials.source_id,
                credentials.merchant_id,
                &request_datetime,
                credentials.secret_key,
            ),
        ),
        ("request.hash_method", HASH_METHOD.to_string()),
        ("request.request_datetime", request_datetime),
    ]
}

/// The query string of a GET of one event.
pub fn get_query(credentials: &Credentials<'_>, event_id: &str, now: DateTime<Utc>) -> Form {
    let mut form = common(credentials, now);
    form.push(("request.fields", FIELDS.to_string()));
    form.push(("request.condition.event_id", event_id.to_string()));
    form
}

/// How the order's payment stands (`request.update.settle_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SettlementStatus {
    NotBilled,
    Billing,
    Paid,
    Overdue,
    Entrusted,
    BadDebt,
    Chargeback,
    Cancelled,
    CancelledAfterShipping,
}

impl SettlementStatus {
    pub fn code(self) -> &'static str {
        match self {
            SettlementStatus::NotBilled => "00",
            SettlementStatus::Billing => "10",
            SettlementStatus::Paid => "20",
            SettlementStatus::Overdue => "30",
            SettlementStatus::Entrusted => "40",
            SettlementStatus::BadDebt => "50",
            SettlementStatus::Chargeback => "60",
            SettlementStatus::Cancelled => "99",
            SettlementStatus::CancelledAfterShipping => "100",
        }
    }
}

/// A manual review result (目視審査結果), set by the shop's staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ManualResult {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "NG")]
    Ng,
    #[serde(rename = "HOLD")]
    Hold,
}

impl ManualResult {
    /// `OK`, `NG` or `HOLD`, in any case.
    pub fn parse(text: &str) -> Option<ManualResult> {
        match text.trim().to_ascii_uppercase().as_str() {
            "OK" => Some(ManualResult::Ok),
            "NG" => Some(ManualResult::Ng),
            "HOLD" => Some(ManualResult::Hold),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ManualResult::Ok => "OK",
            ManualResult::Ng => "NG",
            ManualResult::Hold => "HOLD",
        }
    }

    /// `request.update.maResult`.
    pub fn code(self) -> &'static str {
        match self {
            ManualResult::Ok => "10",
            ManualResult::Ng => "20",
            ManualResult::Hold => "30",
        }
    }
}

/// What a PUT changes; at least one part is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    pub settlement_status: Option<SettlementStatus>,
    pub manual_result: Option<ManualResult>,
    pub memo: Option<String>,
    pub blacklisted: Option<bool>,
}

impl Update {
    pub fn is_empty(&self) -> bool {
        *self == Update::default()
    }
}

/// The form body of a PUT.
pub fn put_form(credentials: &Credentials<'_>, event_id: &str, update: &Update, now: DateTime<Utc>) -> Form {
    let mut form = common(credentials, now);
    form.push(("request.condition.event_id", event_id.to_string()));
    if let Some(status) = update.settlement_status {
        form.push(("request.update.settle_status", status.code().to_string()));
    }
    if let Some(result) = update.manual_result {
        form.push(("request.update.maResult", result.code().to_string()));
    }
    if let Some(memo) = &update.memo {
        form.push(("request.update.memo", memo.clone()));
    }
    if let Some(blacked) = update.blacklisted {
        form.push(("request.update.blacked", if blacked { "1" } else { "0" }.to_string()));
    }
    form
}

/// The manual review of an event, as O-PLUX keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualReview {
    pub result: ManualResult,
    pub reason: String,
    pub memo: String,
}

/// An event as a GET answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventState {
    pub event_id: String,
    /// `aaresult.result`, as answered.
    pub automatic: Option<String>,
    /// `None` while nobody has reviewed the event.
    pub manual: Option<ManualReview>,
    /// The codes of `rules`.
    pub rules: Vec<String>,
}

/// What O-PLUX answered to a v2 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V2Answer {
    /// A GET's event.
    Event(EventState),
    /// A PUT was accepted.
    Updated,
    /// `result` 20, or a 4xx with errors: every `{code, message}`.
    Rejected { status: u16, errors: Vec<Reason> },
}

/// An XML element: its name, its text and its children (enough for O-PLUX's answers).
#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
}

/// Reads an XML document into its root element. The depth is checked while reading (at
/// most `MAX_XML_DEPTH`), so that no deep document is ever built: the tree is dropped
/// recursively.
fn parse_xml(body: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(body).map_err(|_| "an XML answer that is not UTF-8".to_string())?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = vec![Element::default()];
    let malformed = |err: &dyn std::fmt::Display| format!("a malformed XML answer ({err})");
    loop {
        match reader.read_event().map_err(|e| malformed(&e))? {
            // `stack` holds the document and every open element.
            Event::Start(_) | Event::Empty(_) if stack.len() > MAX_XML_DEPTH => return Err(TOO_DEEP.into()),
            Event::Start(start) => stack.push(Element {
                name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                ..Element::default()
            }),
            Event::Empty(start) => {
                let element = Element {
                    name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    ..Element::default()
                };
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(element);
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(|| malformed(&"unbalanced tags"))?;
                let parent = stack.last_mut().ok_or_else(|| malformed(&"unbalanced tags"))?;
                parent.children.push(element);
            }
            Event::Text(text) => {
                let text = text.decode().map_err(|e| malformed(&e))?;
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text);
                }
            }
            Event::CData(data) => {
                let text = data.decode().map_err(|e| malformed(&e))?;
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text);
                }
            }
            Event::GeneralRef(reference) => {
                let name = reference.decode().map_err(|e| malformed(&e))?;
                let escaped = format!("&{name};");
                let resolved = quick_xml::escape::unescape(&escaped).map_err(|e| malformed(&e))?;
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut document = stack
        .pop()
        .filter(|_| stack.is_empty())
        .ok_or_else(|| malformed(&"unclosed tags"))?;
    match document.children.len() {
        1 => Ok(document.children.remove(0)),
        _ => Err(malformed(&"not one root element")),
    }
}

/// The `<errors>` of an answer.
fn errors_of(response: &Element) -> Vec<Reason> {
    response
        .child("errors")
        .map(|errors| {
            errors
                .children("error")
                .filter_map(|error| {
                    Some(Reason {
                        code: bounded(error.text_of("code").filter(|c| !c.is_empty())?, MAX_CODE_CHARS),
                        description: bounded(error.text_of("message").unwrap_or_default(), MAX_TEXT_CHARS),
                    })
                })
                .take(MAX_RULES)
                .collect()
        })
        .unwrap_or_default()
}

/// The root `<response>` and its `result`; an error answer as `Rejected`.
fn read_response(status: u16, body: &[u8]) -> Result<Result<Element, V2Answer>, String> {
    let response = match parse_xml(body) {
        Ok(response) if response.name == "response" => response,
        Err(err) if err == TOO_DEEP => return Err(err),
        Ok(_) => return Err(format!("HTTP {status} with an XML answer without <response>")),
        Err(err) if (200..=499).contains(&status) => return Err(format!("HTTP {status} with {err}")),
        Err(_) => return Err(format!("HTTP {status} without a readable result")),
    };
    let result = response.text_of("result").and_then(|r| r.parse::<i64>().ok());
    if status == 200 && result == Some(RESULT_SUCCESS) {
        return Ok(Ok(response));
    }
    let errors = errors_of(&response);
    let refused = (status == 200 && result == Some(RESULT_ERROR)) || (400..=499).contains(&status);
    if refused && !errors.is_empty() {
        return Ok(Err(V2Answer::Rejected { status, errors }));
    }
    Err(format!("HTTP {status} without a readable result"))
}

/// Reads the answer to a GET of one event.
pub fn parse_get(status: u16, body: &[u8]) -> Result<V2Answer, String> {
    let response = match read_response(status, body)? {
        Ok(response) => response,
        Err(rejected) => return Ok(rejected),
    };
    let event = response
        .child("events")
        .and_then(|events| events.child("event"))
        .ok_or("a success answer without an event")?;
    let manual = event.child("maresult").and_then(|ma| {
        let result = ManualResult::parse(ma.text_of("result")?)?;
        Some(ManualReview {
            result,
            reason: bounded(ma.text_of("reason").unwrap_or_default(), MAX_TEXT_CHARS),
            memo: bounded(ma.text_of("memo").unwrap_or_default(), MAX_TEXT_CHARS),
        })
    });
    let rules = event
        .child("rules")
        .map(|rules| {
            rules
                .children("rule")
                .filter_map(|rule| rule.text_of("code").filter(|c| !c.is_empty()))
                .take(MAX_RULES)
                .map(|code| bounded(code, MAX_CODE_CHARS))
                .collect()
        })
        .unwrap_or_default();
    Ok(V2Answer::Event(EventState {
        event_id: event.text_of("id").unwrap_or_default().to_string(),
        automatic: event
            .child("aaresult")
            .and_then(|aa| aa.text_of("result"))
            .filter(|r| !r.is_empty())
            .map(|r| bounded(r, MAX_CODE_CHARS)),
        manual,
        rules,
    }))
}

/// Reads the answer to a PUT.
pub fn parse_put(status: u16, body: &[u8]) -> Result<V2Answer, String> {
    Ok(match read_response(status, body)? {
        Ok(_) => V2Answer::Updated,
        Err(rejected) => rejected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const CREDENTIALS: Credentials<'static> = Credentials {
        merchant_id: "merchant-001",
        source_id: "src-001",
        secret_key: "s3cret",
        model_id: "CRD_01",
    };

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
    }

    #[test]
    fn a_get_carries_the_common_keys_the_fields_and_the_event_id() {
        let query = get_query(&CREDENTIALS, "E1", now());
        let keys: Vec<&str> = query.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "request.version",
                "request.shop_id",
                "request.signiture",
                "request.hash_method",
                "request.request_datetime",
                "request.fields",
                "request.condition.event_id"
            ]
        );
        assert_eq!(query[0].1, "1.0");
        assert_eq!(
            query[2].1,
            signature("src-001", "merchant-001", "2026/11/23 19:00:00", "s3cret")
        );
        assert_eq!(query[4].1, "2026/11/23 19:00:00");
        assert_eq!(query[5].1, FIELDS);
        assert_eq!(query[6].1, "E1");
    }

    #[test]
    fn a_put_sends_only_what_changes_with_o_pluxs_codes() {
        let update = Update {
            settlement_status: Some(SettlementStatus::CancelledAfterShipping),
            manual_result: Some(ManualResult::Hold),
            memo: Some("電話確認済み".into()),
            blacklisted: Some(false),
        };
        let form = put_form(&CREDENTIALS, "E1", &update, now());
        let tail: Vec<(&str, &str)> = form[5..].iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            tail,
            [
                ("request.condition.event_id", "E1"),
                ("request.update.settle_status", "100"),
                ("request.update.maResult", "30"),
                ("request.update.memo", "電話確認済み"),
                ("request.update.blacked", "0"),
            ]
        );
        let only_memo = put_form(
            &CREDENTIALS,
            "E1",
            &Update {
                memo: Some("x".into()),
                ..Update::default()
            },
            now(),
        );
        assert_eq!(only_memo.len(), 7);
    }

    #[test]
    fn every_settlement_status_has_its_code() {
        use SettlementStatus::*;
        let codes: Vec<&str> = [
            NotBilled,
            Billing,
            Paid,
            Overdue,
            Entrusted,
            BadDebt,
            Chargeback,
            Cancelled,
            CancelledAfterShipping,
        ]
        .into_iter()
        .map(SettlementStatus::code)
        .collect();
        assert_eq!(codes, ["00", "10", "20", "30", "40", "50", "60", "99", "100"]);
    }

    const EVENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<response><time>3059</time><result>10</result><errors/>
  <events><event><id>E47</id><request_datetime>2012/11/02 11:59:41</request_datetime>
    <event_type>EC</event_type><authori_deadline_datetime>x</authori_deadline_datetime>
    <aaresult><result>HOLD</result></aaresult>
    <maresult><result>ok</result><reason></reason><memo>本人確認 &amp; 発送可</memo></maresult>
    <score><ok>0</ok><ng>20000</ng><hold>20500</hold></score>
    <rules><rule><code>BLK_COK</code><ok>0</ok><ng>10000</ng><hold>0</hold>
      <touchpoint>event.cookie</touchpoint><fired>true</fired></rule></rules>
    <similars><event_id>E2</event_id><rule_code/><touchpoints/></similars>
  </event></events></response>"#;

    #[test]
    fn a_reviewed_event_is_read_in_any_case_with_its_memo() {
        let V2Answer::Event(event) = parse_get(200, EVENT.as_bytes()).unwrap() else {
            panic!("an event");
        };
        assert_eq!(event.event_id, "E47");
        assert_eq!(event.automatic.as_deref(), Some("HOLD"));
        assert_eq!(
            event.manual,
            Some(ManualReview {
                result: ManualResult::Ok,
                reason: String::new(),
                memo: "本人確認 & 発送可".into()
            })
        );
        assert_eq!(event.rules, ["BLK_COK"]);
    }

    #[test]
    fn an_empty_manual_result_is_not_reviewed() {
        for maresult in [
            "<maresult><result></result><reason/><memo/></maresult>",
            "<maresult/>",
            "",
        ] {
            let body = format!(
                "<response><result>10</result><errors/><events><event><id>E</id>{maresult}</event></events></response>"
            );
            let V2Answer::Event(event) = parse_get(200, body.as_bytes()).unwrap() else {
                panic!("an event");
            };
            assert_eq!(event.manual, None, "{maresult}");
        }
    }

    #[test]
    fn error_answers_keep_every_code() {
        let body = "<response><time/><result>20</result><errors><error><code>InvalidData.EventId</code><message>no such event</message></error><error><code>Second</code><message>m</message></error></errors></response>";
        for status in [200, 400, 403] {
            let V2Answer::Rejected { status: got, errors } = parse_put(status, body.as_bytes()).unwrap() else {
                panic!("a refusal");
            };
            assert_eq!(got, status);
            let codes: Vec<&str> = errors.iter().map(|e| e.code.as_str()).collect();
            assert_eq!(codes, ["InvalidData.EventId", "Second"]);
        }
        assert!(parse_put(500, body.as_bytes()).is_err(), "a 5xx is no answer");
    }

    #[test]
    fn a_deep_answer_is_no_answer_and_does_not_overflow() {
        let depth = 100_000;
        let body = format!(
            "<response><result>10</result>{}{}</response>",
            "<a>".repeat(depth),
            "</a>".repeat(depth)
        );
        assert_eq!(parse_get(200, body.as_bytes()), Err(TOO_DEEP.to_string()));
        let unclosed = format!("<response>{}", "<a>".repeat(depth));
        assert_eq!(parse_get(200, unclosed.as_bytes()), Err(TOO_DEEP.to_string()));
        let nested = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
        let at_the_bound = format!(
            "<response><result>10</result><errors/><events><event><id>E</id>{}</event></events></response>",
            nested(MAX_XML_DEPTH - 3)
        );
        assert!(parse_get(200, at_the_bound.as_bytes()).is_ok());
        let one_more = format!(
            "<response><result>10</result><errors/><events><event><id>E</id>{}</event></events></response>",
            nested(MAX_XML_DEPTH - 2)
        );
        assert_eq!(parse_get(200, one_more.as_bytes()), Err(TOO_DEEP.to_string()));
    }

    #[test]
    fn rules_codes_and_texts_are_bounded() {
        let rules: String = (0..20_000).map(|i| format!("<rule><code>R{i}</code></rule>")).collect();
        let long_code = "C".repeat(200);
        let memo = "長".repeat(10_000);
        let body = format!(
            "<response><result>10</result><errors/><events><event><id>E</id>\
             <maresult><result>OK</result><reason>{memo}</reason><memo>{memo}</memo></maresult>\
             <rules><rule><code>{long_code}</code></rule>{rules}</rules></event></events></response>"
        );
        let V2Answer::Event(event) = parse_get(200, body.as_bytes()).unwrap() else {
            panic!("an event");
        };
        assert_eq!(event.rules.len(), MAX_RULES);
        assert_eq!(event.rules[0].chars().count(), MAX_CODE_CHARS);
        let manual = event.manual.unwrap();
        assert_eq!(manual.memo.chars().count(), MAX_TEXT_CHARS);
        assert_eq!(manual.reason.chars().count(), MAX_TEXT_CHARS);
    }

    #[test]
    fn an_accepted_put_and_unreadable_answers() {
        let ok = "<response><time/><result>10</result><errors/><id>E1</id></response>";
        assert_eq!(parse_put(200, ok.as_bytes()).unwrap(), V2Answer::Updated);
        assert!(parse_put(200, b"<response><result>10</result>").is_err());
        assert!(parse_put(200, b"not xml at all").is_err());
        assert!(parse_get(200, b"<response><result>10</result></response>").is_err());
        assert!(parse_get(502, b"<html>bad gateway</html>").is_err());
    }
}
