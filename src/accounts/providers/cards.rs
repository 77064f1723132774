//! Credit card providers (ヤマト, Paygent, SBPS, Zeus, Veritrans) and SBPS carrier
//! billing.

use crate::{
    accounts::{
        pem,
        spec::{AccountChange, Category, Field, Hooks, Kind, MethodChange, ProviderSpec, Rule, View},
    },
    core::{DomainError, FieldError, PaymentKind},
};

pub const YAMATO: ProviderSpec = ProviderSpec {
    slug: "yamato",
    schema_name: "Yamato",
    display_name: "ヤマト",
    category: Category::Payment,
    summary: "Credit card payments by Yamato Financial.",
    fields: &[
        Field::pattern("merchant_code", "加盟店コード", "[0-9]{9}", "9 digits").example(r#""123456789""#),
        Field::text("password", "パスワード")
            .secret()
            .example(r#""yamato-pass""#),
        Field::text("access_key", "アクセスキー")
            .secret()
            .example(r#""yamato-access-key""#),
    ],
    serves: &[PaymentKind::CreditCard],
    ..ProviderSpec::BASE
};

pub const PAYGENT: ProviderSpec = ProviderSpec {
    slug: "paygent",
    schema_name: "Paygent",
    display_name: "Paygent",
    category: Category::Payment,
    summary: "Credit card payments by PAYGENT, over a connection authenticated by a client certificate.",
    fields: &[
        Field::new("private_key", "秘密鍵", Kind::PrivateKey { rsa_only: false })
            .secret()
            .describe("The private key of the client certificate, unencrypted PEM."),
        Field::new("client_certificate", "クライアント証明書", Kind::Certificate)
            .describe("PEM; must be the certificate issued for private_key."),
        Field::new("ca_certificate", "認証済み CA", Kind::Certificate).describe("PEM of PAYGENT's CA."),
        Field::new("connect_id", "接続 ID", Kind::Text { max: 32 }).example(r#""test-connect-id""#),
        Field::new("connect_password", "接続パスワード", Kind::Text { max: 32 })
            .secret()
            .example(r#""connect-pass""#),
        Field::pattern("merchant_id", "マーチャント ID", "[0-9]{1,9}", "at most 9 digits").example(r#""12345""#),
        Field::text("token_key", "トークン生成鍵")
            .public()
            .example(r#""0a1b2c3d4e5f6a7b8c9d""#)
            .describe("The key the checkout page uses to tokenise cards."),
    ],
    rules: &[Rule::Check(paygent_key_matches_certificate)],
    serves: &[PaymentKind::CreditCard],
    ..ProviderSpec::BASE
};

/// A client certificate that is not the key's would fail only at the first payment.
/// Unreadable PEM is left to the fields' own format errors.
fn paygent_key_matches_certificate(view: &dyn View, errors: &mut Vec<FieldError>) {
    let (Some(key), Some(certificate)) = (view.secret_value("private_key"), view.text("client_certificate")) else {
        return;
    };
    let (Ok(key), Ok(certificate)) = (pem::private_key(key), pem::certificate(certificate)) else {
        return;
    };
    if !key.matches(&certificate) {
        errors.push(FieldError::new(
            "client_certificate",
            "key_mismatch",
            "client_certificate does not belong to private_key: upload the certificate issued for this key",
        ));
    }
}

const SBPS_MERCHANT_ID: Field =
    Field::pattern("merchant_id", "マーチャントID", "[0-9]{5}", "5 digits").example(r#""30132""#);
const SBPS_SERVICE_ID: Field = Field::pattern("service_id", "サービスID", "[0-9]{3}", "3 digits").example(r#""103""#);
const SBPS_BASIC_AUTH_ID: Field = Field::text("basic_auth_id", "Basic認証ID").example(r#""30132103""#);
const SBPS_BASIC_AUTH_PASSWORD: Field = Field::text("basic_auth_password", "Basic認証Password")
    .secret()
    .example(r#""basic-auth-pass""#);
const SBPS_HASH_KEY: Field = Field::pattern("hash_key", "ハッシュキー", "[0-9A-Za-z]{40}", "40 letters or digits")
    .secret()
    .example(r#""c48e0e8e8b3a9f2d0d3b4a1f6e5d7c8b9a0f1e2d""#);

pub const SBPS: ProviderSpec = ProviderSpec {
    slug: "sbps",
    schema_name: "Sbps",
    display_name: "SBPS",
    category: Category::Payment,
    summary: "Credit card payments by SB Payment Service.",
    fields: &[
        SBPS_MERCHANT_ID,
        SBPS_SERVICE_ID,
        SBPS_BASIC_AUTH_ID,
        SBPS_BASIC_AUTH_PASSWORD,
        SBPS_HASH_KEY,
        Field::boolean("security_code_required", "セキュリティコードの入力")
            .public()
            .example("true")
            .describe("Ask for the card security code on the order form."),
    ],
    serves: &[PaymentKind::CreditCard],
    ..ProviderSpec::BASE
};

pub const SBPS_CARRIER: ProviderSpec = ProviderSpec {
    slug: "sbps-carrier",
    schema_name: "SbpsCarrier",
    display_name: "SBPSキャリア",
    category: Category::CarrierBilling,
    summary: "Carrier billing (docomo, au, SoftBank) by SB Payment Service.",
    fields: &[
        SBPS_MERCHANT_ID,
        SBPS_SERVICE_ID,
        SBPS_BASIC_AUTH_ID,
        SBPS_BASIC_AUTH_PASSWORD,
        SBPS_HASH_KEY,
    ],
    serves: &[PaymentKind::Carrier],
    ..ProviderSpec::BASE
};

pub const ZEUS: ProviderSpec = ProviderSpec {
    slug: "zeus",
    schema_name: "Zeus",
    display_name: "Zeus",
    category: Category::Payment,
    summary: "Credit card payments by ZEUS.",
    fields: &[
        Field::pattern("client_ip", "ClientIp", "[0-9]{10}", "10 digits")
            .example(r#""2012345678""#)
            .describe("The 10-digit shop IP code issued by ZEUS (not an IP address)."),
        Field::text("client_ip_zkey", "ClientIpZkey")
            .secret()
            .example(r#""zeus-zkey""#),
        Field::boolean("security_code_required", "セキュリティコードの入力")
            .public()
            .example("true")
            .describe("Ask for the card security code on the order form."),
    ],
    serves: &[PaymentKind::CreditCard],
    ..ProviderSpec::BASE
};

pub const VERITRANS: ProviderSpec = ProviderSpec {
    slug: "veritrans",
    schema_name: "Veritrans",
    display_name: "Veritrans",
    category: Category::Payment,
    summary: "Credit card and deferred payments by DG Financial Technology.",
    fields: &[
        Field::new("ac_certificate", "AC証明書", Kind::Certificate).describe("PEM of the AC certificate."),
        Field::text("merchant_ccid", "マーチャントCCID")
            .example(r#""A100000000000001069951cc""#)
            .describe("From MAP (https://pay.veritrans.co.jp/maps/)."),
        Field::text("merchant_password", "マーチャントパスワード")
            .secret()
            .example(r#""merchant-auth-key""#)
            .describe("The merchant authentication key (マーチャント認証鍵) from MAP."),
        Field::new("token_api_key", "トークン生成鍵", Kind::Uuid)
            .public_for(&[PaymentKind::CreditCard])
            .example(r#""cd76ca65-7f54-4dec-8ba3-11c12e36a548""#)
            .describe("The 'Token Api Key' from MAP."),
        Field::boolean("security_code_required", "セキュリティコードの入力")
            .public_for(&[PaymentKind::CreditCard])
            .example("true")
            .describe("Show the card security code field on the order form."),
        Field::boolean("deferred_payment_enabled", "Veritrans後払い")
            .example("false")
            .describe("Also offer Veritrans deferred payment (後払い)."),
    ],
    serves: &[PaymentKind::CreditCard, PaymentKind::Deferred],
    hooks: Hooks {
        on_account_change: deferred_off_without_deferred_methods,
        on_method_change: deferred_method_needs_deferred_payment,
        ..Hooks::NONE
    },
    ..ProviderSpec::BASE
};

const DEFERRED_PAYMENT_ENABLED: &str = "deferred_payment_enabled";

/// Veritrans 後払い cannot be switched off under an enabled deferred method on it.
fn deferred_off_without_deferred_methods(change: &AccountChange<'_>) -> Result<(), DomainError> {
    if change.account.flag(DEFERRED_PAYMENT_ENABLED) {
        return Ok(());
    }
    let users: Vec<&str> = change
        .methods
        .iter()
        .filter(|m| m.enabled && m.kind == PaymentKind::Deferred && m.provider.as_deref() == Some(VERITRANS.slug))
        .map(|m| m.code.as_str())
        .collect();
    if users.is_empty() {
        return Ok(());
    }
    Err(DomainError::Conflict(format!(
        "{DEFERRED_PAYMENT_ENABLED} of veritrans is needed by the enabled deferred payment method(s) {}; disable them first",
        users.join(", ")
    )))
}

/// An enabled deferred method on Veritrans needs Veritrans 後払い switched on.
fn deferred_method_needs_deferred_payment(change: &MethodChange<'_>) -> Result<(), DomainError> {
    let deferred_on_veritrans = change
        .after
        .is_some_and(|m| m.enabled && m.kind == PaymentKind::Deferred && m.provider.as_deref() == Some(VERITRANS.slug));
    if !deferred_on_veritrans || change.account.flag(DEFERRED_PAYMENT_ENABLED) {
        return Ok(());
    }
    Err(DomainError::field(
        "enabled",
        "deferred_payment_disabled",
        format!(
            "a deferred method on veritrans needs {DEFERRED_PAYMENT_ENABLED}: true on the veritrans account (PATCH /api/v1/provider-accounts/veritrans) or save the method with enabled: false"
        ),
    ))
}
