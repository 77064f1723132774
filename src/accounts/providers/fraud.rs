//! Fraud detection: O-PLUX, its light version 不正利用チェッカー, and at score.

use crate::{
    accounts::spec::{Category, Field, FieldDefault, Kind, Mode, ProviderSpec, View},
    core::FieldError,
};

pub const AT_SCORE: ProviderSpec = ProviderSpec {
    slug: "at-score",
    schema_name: "AtScore",
    display_name: "at score",
    category: Category::FraudDetection,
    summary: "Fraudulent order detection by INFOCOM's at score.",
    fields: &[
        Field::text("store_id", "ストアID").example(r#""store-0001""#),
        Field::text("account_id", "アカウントID").example(r#""account-0001""#),
        Field::text("secret_key", "シークレットキー")
            .secret()
            .example(r#""at-score-secret""#),
    ],
    ..ProviderSpec::BASE
};

pub const OPLUX: ProviderSpec = ProviderSpec {
    slug: "o-plux",
    schema_name: "Oplux",
    display_name: "O-PLUX",
    category: Category::FraudDetection,
    summary: "Fraudulent order screening by O-PLUX (Cacco) before orders are created.",
    fields: &[
        Field::text("merchant_id", "加盟店ID").example(r#""SHOP0001""#),
        Field::text("source_id", "接続元ID")
            .example(r#""SRC0001""#)
            .describe("Used in the request signature; never sent."),
        Field::text("secret_key", "シークレットキー")
            .secret()
            .example(r#""oplux-secret""#),
        Field::text("model_id", "審査モデルID").example(r#""CRD_01""#),
        Field::boolean("screen_existing_customers", "既存顧客でもO-PLUX審査を行う")
            .example("false")
            .describe("Also screen registered customers' second and later orders."),
        Field::new("on_hold", "自動審査結果[HOLD]の時の挙動", Kind::ResultAction)
            .example(r#"{"action":"redirect","redirect_url":"https://shop.example.jp/oplux/hold"}"#)
            .describe("What to do when O-PLUX answers HOLD."),
        Field::new("on_review", "自動審査結果[REVIEW]の時の挙動", Kind::ResultAction)
            .example(r#"{"action":"create_order","redirect_url":null}"#)
            .describe("What to do when O-PLUX answers REVIEW."),
        Field::new("on_ng", "自動審査結果[NG]の時の挙動", Kind::ResultAction)
            .example(r#"{"action":"redirect","redirect_url":"https://shop.example.jp/oplux/ng"}"#)
            .describe("What to do when O-PLUX answers NG."),
        Field::new("on_error", "審査できない時の挙動", Kind::ResultAction)
            .default(FieldDefault::Json(r#"{"action":"create_order","redirect_url":null}"#))
            .example(r#"{"action":"create_order","redirect_url":null}"#)
            .describe("What to do when O-PLUX cannot answer (timeout, transport or O-PLUX error)."),
        Field::new("endpoint", "接続先", Kind::OpluxEndpoint)
            .default(FieldDefault::Text("test"))
            .example(r#""test""#)
            .describe("test, production, or the http(s) base URL of a stand-in such as renkei oplux-mock."),
        Field::new(
            "timeout_ms",
            "タイムアウト(ミリ秒)",
            Kind::Integer { min: 500, max: 30000 },
        )
        .default(FieldDefault::Integer(5000))
        .example("5000")
        .describe("How long to wait for O-PLUX before on_error applies."),
    ],
    mode: Some(oplux_mode),
    ..ProviderSpec::BASE
};

/// Only O-PLUX's production endpoint is live; its test endpoint and stand-ins are not.
fn oplux_mode(view: &dyn View) -> Option<Mode> {
    match view.text("endpoint") {
        Some("production") => Some(Mode::Live),
        _ => Some(Mode::Test),
    }
}

pub const FRAUD_CHECKER: ProviderSpec = ProviderSpec {
    slug: "fraud-checker",
    schema_name: "FraudChecker",
    display_name: "不正利用チェッカー",
    category: Category::FraudDetection,
    summary: "不正利用チェッカー, the light version of O-PLUX.",
    fields: &[
        Field::text("merchant_id", "加盟店ID").example(r#""SHOP0001""#),
        Field::text("source_id", "接続元ID").example(r#""SRC0001""#),
        Field::text("secret_key", "シークレットキー")
            .secret()
            .example(r#""fraud-checker-secret""#),
    ],
    ..ProviderSpec::BASE
};

/// What checkout does with an O-PLUX result, as the account says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultAction {
    CreateOrder,
    Redirect(String),
}

/// Where O-PLUX is reached: its test or production host (configured per deployment), or
/// the base URL of a stand-in such as `renkei oplux-mock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpluxEndpoint {
    Test,
    Production,
    Url(String),
}

/// The o-plux account's stored settings, typed, with the declaration's defaults for what
/// is absent. Fields without a default may be absent only while the account is disabled
/// (then nothing is screened): text reads as empty, a result action as `create_order`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpluxSettings {
    pub merchant_id: String,
    pub source_id: String,
    pub model_id: String,
    pub screen_existing_customers: bool,
    pub on_hold: ResultAction,
    pub on_review: ResultAction,
    pub on_ng: ResultAction,
    pub on_error: ResultAction,
    pub endpoint: OpluxEndpoint,
    pub timeout: std::time::Duration,
}

impl OpluxSettings {
    /// Parses stored settings; a value of the wrong shape is an error naming the field.
    pub fn parse(stored: &serde_json::Map<String, serde_json::Value>) -> Result<Self, FieldError> {
        let settings = Stored(stored);
        Ok(Self {
            merchant_id: settings.text("merchant_id")?,
            source_id: settings.text("source_id")?,
            model_id: settings.text("model_id")?,
            screen_existing_customers: settings.flag("screen_existing_customers")?,
            on_hold: settings.action("on_hold")?,
            on_review: settings.action("on_review")?,
            on_ng: settings.action("on_ng")?,
            on_error: settings.action("on_error")?,
            endpoint: match settings.text("endpoint")?.as_str() {
                "test" => OpluxEndpoint::Test,
                "production" => OpluxEndpoint::Production,
                url => OpluxEndpoint::Url(url.to_string()),
            },
            timeout: std::time::Duration::from_millis(settings.millis("timeout_ms")?),
        })
    }
}

/// Stored settings, each value falling back to the O-PLUX declaration's default.
struct Stored<'a>(&'a serde_json::Map<String, serde_json::Value>);

impl Stored<'_> {
    fn get(&self, name: &str) -> Option<serde_json::Value> {
        match self.0.get(name) {
            Some(serde_json::Value::Null) | None => OPLUX.field(name).and_then(|f| f.default.value()),
            Some(value) => Some(value.clone()),
        }
    }

    fn wrong(name: &str, expected: &str) -> FieldError {
        FieldError::new(
            name,
            "invalid_stored_value",
            format!("the stored {name} of o-plux is not {expected}; PUT the account again"),
        )
    }

    fn text(&self, name: &str) -> Result<String, FieldError> {
        match self.get(name) {
            None => Ok(String::new()),
            Some(serde_json::Value::String(text)) => Ok(text),
            Some(_) => Err(Self::wrong(name, "text")),
        }
    }

    fn flag(&self, name: &str) -> Result<bool, FieldError> {
        match self.get(name) {
            None => Ok(false),
            Some(value) => value.as_bool().ok_or_else(|| Self::wrong(name, "true or false")),
        }
    }

    fn millis(&self, name: &str) -> Result<u64, FieldError> {
        self.get(name)
            .and_then(|value| value.as_u64())
            .ok_or_else(|| Self::wrong(name, "a number of milliseconds"))
    }

    fn action(&self, name: &str) -> Result<ResultAction, FieldError> {
        let Some(value) = self.get(name) else {
            return Ok(ResultAction::CreateOrder);
        };
        match (value["action"].as_str(), value["redirect_url"].as_str()) {
            (Some("create_order"), _) => Ok(ResultAction::CreateOrder),
            (Some("redirect"), Some(url)) => Ok(ResultAction::Redirect(url.to_string())),
            _ => Err(Self::wrong(
                name,
                "{action: create_order} or {action: redirect, redirect_url}",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;

    fn parse(settings: Value) -> Result<OpluxSettings, FieldError> {
        let Value::Object(map) = settings else { unreachable!() };
        OpluxSettings::parse(&map)
    }

    #[test]
    fn absent_settings_take_the_declarations_defaults() {
        let settings = OpluxSettings::parse(&Map::new()).unwrap();
        assert_eq!(settings.endpoint, OpluxEndpoint::Test);
        assert_eq!(settings.timeout, std::time::Duration::from_millis(5000));
        assert_eq!(settings.on_error, ResultAction::CreateOrder);
        assert_eq!(settings.on_hold, ResultAction::CreateOrder);
        assert!(!settings.screen_existing_customers);
        assert_eq!(settings.merchant_id, "");
    }

    #[test]
    fn stored_settings_are_read_as_typed_values() {
        let settings = parse(json!({
            "merchant_id": "M", "source_id": "S", "model_id": "CRD_01",
            "screen_existing_customers": true, "endpoint": "http://127.0.0.1:18090", "timeout_ms": 800,
            "on_ng": {"action": "redirect", "redirect_url": "https://shop.example.jp/ng"},
            "on_hold": {"action": "create_order", "redirect_url": null},
        }))
        .unwrap();
        assert_eq!(settings.endpoint, OpluxEndpoint::Url("http://127.0.0.1:18090".into()));
        assert_eq!(settings.timeout, std::time::Duration::from_millis(800));
        assert_eq!(
            settings.on_ng,
            ResultAction::Redirect("https://shop.example.jp/ng".into())
        );
        assert_eq!(settings.on_hold, ResultAction::CreateOrder);
        assert!(settings.screen_existing_customers);
        assert_eq!(
            parse(json!({"endpoint": "production"})).unwrap().endpoint,
            OpluxEndpoint::Production
        );
    }

    #[test]
    fn a_stored_value_of_the_wrong_shape_is_an_error_naming_it() {
        assert_eq!(parse(json!({"timeout_ms": "5000"})).unwrap_err().field, "timeout_ms");
        assert_eq!(
            parse(json!({"on_ng": {"action": "redirect"}})).unwrap_err().field,
            "on_ng"
        );
        assert_eq!(
            parse(json!({"screen_existing_customers": "yes"})).unwrap_err().field,
            "screen_existing_customers"
        );
        assert_eq!(parse(json!({"merchant_id": 7})).unwrap_err().field, "merchant_id");
    }
}
