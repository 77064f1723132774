//! Wallets and buy-now-pay-later services: atone, Paidy, Amazon Pay (v1 and v2), LINE Pay
//! and PayPal; the link actions of PayPal and Amazon Pay v2 beside them.

pub mod amazon_pay;
pub mod paypal;

use serde_json::Value;

use crate::{
    accounts::spec::{Category, Checkout, Field, FieldDefault, Hooks, Kind, Mode, ProviderSpec, Rule, View},
    core::{FieldError, PaymentKind, Settlement},
};

pub const ATONE: ProviderSpec = ProviderSpec {
    slug: "atone",
    schema_name: "Atone",
    display_name: "atone",
    category: Category::Wallet,
    summary: "Deferred payment with the atone app by Net Protections.",
    fields: &[
        Field::text("public_key", "公開鍵").example(r#""atone-public-key""#),
        Field::text("secret_key", "秘密鍵")
            .secret()
            .example(r#""atone-secret-key""#),
        Field::boolean("amount_update_option", "金額更新オプション")
            .example("false")
            .describe("Allow raising the charged amount up to the contracted limit."),
    ],
    serves: &[PaymentKind::Wallet],
    settles_as: Some(Settlement::Deferred),
    ..ProviderSpec::BASE
};

pub const PAIDY: ProviderSpec = ProviderSpec {
    slug: "paidy",
    schema_name: "Paidy",
    display_name: "Paidy",
    category: Category::Wallet,
    summary: "Deferred payment with Paidy, in a modal on the order form or the confirmation page.",
    fields: &[
        Field::pattern(
            "public_key",
            "パブリックキー",
            "pk_(test|live)_[0-9A-Za-z]+",
            "a Paidy public key, pk_test_… or pk_live_…",
        )
        .public()
        .example(r#""pk_test_0123456789abcdef""#),
        Field::pattern(
            "secret_key",
            "シークレットキー",
            "sk_(test|live)_[0-9A-Za-z]+",
            "a Paidy secret key, sk_test_… or sk_live_…",
        )
        .secret()
        .example(r#""sk_test_0123456789abcdef""#)
        .describe("Of the same mode (test or live) as public_key."),
        Field::new("logo_url", "ロゴURL", Kind::Url { https_only: true })
            .public()
            .optional()
            .example(r#""https://shop.example.jp/images/logo.png""#)
            .describe("Logo shown in Paidy's modal; Paidy's own logo when absent."),
        Field::new("modal_page", "モーダル表示", Kind::OneOf(&["input", "confirm"]))
            .choices(&[("input", "入力ページ"), ("confirm", "確認ページ")])
            .public()
            .example(r#""input""#)
            .describe(
                "Where Paidy's modal opens: input (leaving the order form) or confirm (leaving the confirmation page).",
            ),
    ],
    rules: &[Rule::Check(paidy_keys_of_one_mode)],
    mode: Some(paidy_mode),
    serves: &[PaymentKind::Wallet],
    settles_as: Some(Settlement::Deferred),
    checkout: Checkout {
        needs_confirmation_page: true,
        joins: None,
    },
    ..ProviderSpec::BASE
};

/// The mode a Paidy key's prefix names (`pk_test_`, `sk_live_`…).
fn paidy_key_mode(key: &str, kind: &str) -> Option<Mode> {
    let rest = key.strip_prefix(kind)?;
    if rest.starts_with("_test_") {
        Some(Mode::Test)
    } else if rest.starts_with("_live_") {
        Some(Mode::Live)
    } else {
        None
    }
}

fn paidy_mode(view: &dyn View) -> Option<Mode> {
    view.text("public_key").and_then(|key| paidy_key_mode(key, "pk"))
}

/// A test public key with a live secret key (or the reverse) fails every payment.
fn paidy_keys_of_one_mode(view: &dyn View, errors: &mut Vec<FieldError>) {
    let public = view.text("public_key").and_then(|key| paidy_key_mode(key, "pk"));
    let secret = view
        .secret_value("secret_key")
        .and_then(|key| paidy_key_mode(key, "sk"));
    if let (Some(public), Some(secret)) = (public, secret)
        && public != secret
    {
        errors.push(FieldError::new(
            "secret_key",
            "mode_mismatch",
            format!(
                "secret_key must be of the same mode as public_key (both test or both live); public_key is {}",
                public.as_str()
            ),
        ));
    }
}

pub const AMAZON_PAY_V1: ProviderSpec = ProviderSpec {
    slug: "amazon-pay-v1",
    schema_name: "AmazonPayV1",
    display_name: "Amazon Pay (v1)",
    category: Category::Wallet,
    summary: "Amazon Pay (API v1), with the buyer's Amazon account.",
    fields: &[
        Field::pattern(
            "seller_id",
            "出品者 ID",
            "A[0-9A-Z]{12,13}",
            "'A' followed by 12 or 13 upper-case letters or digits",
        )
        .example(r#""A1B2C3D4E5F6G7""#),
        Field::pattern(
            "client_id",
            "クライアント ID",
            "amzn1\\.application-oa2-client\\.[0-9a-z]{32}",
            "'amzn1.application-oa2-client.' followed by 32 lower-case letters or digits",
        )
        .example(r#""amzn1.application-oa2-client.0123456789abcdef0123456789abcdef""#),
        Field::text("client_secret", "クライアントシークレット")
            .secret()
            .example(r#""amzn-client-secret""#),
        Field::pattern(
            "access_key_id",
            "アクセスキー ID",
            "AKIA[0-9A-Z]{16}",
            "'AKIA' followed by 16 upper-case letters or digits",
        )
        .example(r#""AKIAIOSFODNN7EXAMPLE""#),
        Field::pattern(
            "secret_access_key",
            "シークレットアクセスキー",
            "[0-9A-Za-z/+=]{40}",
            "40 characters (letters, digits, / + =)",
        )
        .secret()
        .example(r#""wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY""#),
        Field::boolean("furigana_field_enabled", "フリガナ入力欄の表示")
            .public()
            .example("true")
            .describe("Show a required furigana field on Amazon Pay orders (Amazon keeps no furigana)."),
    ],
    serves: &[PaymentKind::Wallet],
    settles_as: Some(Settlement::CreditCard),
    ..ProviderSpec::BASE
};

pub const AMAZON_PAY_V2: ProviderSpec = ProviderSpec {
    slug: "amazon-pay-v2",
    schema_name: "AmazonPayV2",
    display_name: "Amazon Pay (v2)",
    category: Category::Wallet,
    summary: "Amazon Pay (API v2); its credentials are set by linking the Amazon account, not written directly.",
    fields: &[
        Field::text("merchant_id", "マーチャント ID")
            .linked()
            .example(r#""A1B2C3D4E5F6G7""#),
        Field::text("store_id", "ストア ID")
            .linked()
            .example(r#""amzn1.application-oa2-client.0123456789abcdef0123456789abcdef""#),
        Field::pattern(
            "public_key_id",
            "パブリックキー ID",
            "(SANDBOX|LIVE)-[0-9A-Z]{20,30}",
            "SANDBOX- or LIVE- followed by 20 to 30 upper-case letters or digits",
        )
        .linked()
        .example(r#""SANDBOX-AHEGSJCM3YQ4KBDVKVYQCSJE""#),
        Field::new("private_key", "プライベートキー", Kind::PrivateKey { rsa_only: true })
            .secret()
            .linked()
            .describe("The RSA private key of public_key_id, PEM."),
    ],
    mode: Some(amazon_pay_v2_mode),
    serves: &[PaymentKind::Wallet],
    settles_as: Some(Settlement::CreditCard),
    ..ProviderSpec::BASE
};

fn amazon_pay_v2_mode(view: &dyn View) -> Option<Mode> {
    let id = view.text("public_key_id")?;
    if id.starts_with("SANDBOX-") {
        Some(Mode::Test)
    } else if id.starts_with("LIVE-") {
        Some(Mode::Live)
    } else {
        None
    }
}

pub const LINE_PAY: ProviderSpec = ProviderSpec {
    slug: "line-pay",
    schema_name: "LinePay",
    display_name: "LINE Pay",
    category: Category::Wallet,
    summary: "Payments with LINE Pay.",
    fields: &[
        Field::pattern("channel_id", "チャンネルID", "[0-9]{10}", "10 digits")
            .example(r#""1234567890""#)
            .describe("LINE Developers: Basic settings > Channel ID."),
        Field::pattern(
            "channel_secret",
            "チャンネルシークレットキー",
            "[0-9a-fA-F]{32}",
            "32 hexadecimal digits",
        )
        .secret()
        .example(r#""9f8e7d6c5b4a39281706f5e4d3c2b1a0""#)
        .describe("LINE Developers: Basic settings > Channel secret."),
    ],
    serves: &[PaymentKind::Wallet],
    settles_as: Some(Settlement::EMoney),
    ..ProviderSpec::BASE
};

pub const PAYPAL: ProviderSpec = ProviderSpec {
    slug: "paypal",
    schema_name: "Paypal",
    display_name: "PayPal",
    category: Category::Wallet,
    summary: "Payments with PayPal; the seller's merchant id is linked by the link action.",
    fields: &[
        Field::pattern(
            "seller_merchant_id",
            "Seller Merchant ID",
            "[2-9A-HJ-NP-Z]{13}",
            "13 characters of upper-case letters (no I or O) and digits 2-9",
        )
        .example(r#""7XKQ2M9ZP3HTW""#),
        Field::boolean("sandbox", "Sandbox 環境")
            .group("PayPal サンドボックス")
            .default(FieldDefault::Bool(true))
            .example("true")
            .describe("Use PayPal's sandbox."),
        Field::new(
            "link_status",
            "PayPalアカウントと連携",
            Kind::OneOf(&["unlinked", "linked"]),
        )
        .choices(&[("unlinked", "未連携"), ("linked", "連携済み")])
        .computed()
        .example(r#""linked""#)
        .describe("Whether seller_merchant_id is linked (POST …/paypal/link)."),
    ],
    mode: Some(paypal_mode),
    serves: &[PaymentKind::Wallet],
    settles_as: Some(Settlement::PayPal),
    hooks: Hooks {
        computed: paypal::link_status,
        follow: paypal::unlink_on_new_merchant_id,
        ..Hooks::NONE
    },
    ..ProviderSpec::BASE
};

/// The sandbox flag defaults to on, so an account without it is a test account.
fn paypal_mode(view: &dyn View) -> Option<Mode> {
    if view.value("sandbox").and_then(Value::as_bool).unwrap_or(true) {
        Some(Mode::Test)
    } else {
        Some(Mode::Live)
    }
}
