//! Fraud detection: O-PLUX, its light version 不正利用チェッカー, and at score.

use crate::accounts::spec::{Category, Default, Field, Kind, Mode, ProviderSpec, View};

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
            .default(Default::Json(r#"{"action":"create_order","redirect_url":null}"#))
            .example(r#"{"action":"create_order","redirect_url":null}"#)
            .describe("What to do when O-PLUX cannot answer (timeout, transport or O-PLUX error)."),
        Field::new("endpoint", "接続先", Kind::OpluxEndpoint)
            .default(Default::Text("test"))
            .example(r#""test""#)
            .describe("test, production, or the http(s) base URL of a stand-in such as renkei oplux-mock."),
        Field::new(
            "timeout_ms",
            "タイムアウト(ミリ秒)",
            Kind::Integer { min: 500, max: 30000 },
        )
        .default(Default::Integer(5000))
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
