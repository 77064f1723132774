//! GMO Payment Gateway (credit card, with its EPOS banner in `epos_banner`), GMO 後払い
//! and GMO Epsilon.

pub mod epos_banner;

use crate::{
    accounts::spec::{Category, Field, Hooks, Kind, Mode, ProviderSpec, Rule, View},
    core::PaymentKind,
    store::public_assets,
};

pub const GMO_PG: ProviderSpec = ProviderSpec {
    slug: "gmo-pg",
    schema_name: "GmoPg",
    display_name: "GMO PG",
    category: Category::Payment,
    summary: "Credit card payments by GMO Payment Gateway, with automatic card updates (SFTP) and the EPOS card instant-issue scheme.",
    fields: &[
        Field::pattern(
            "shop_id",
            "ショップ ID",
            "[0-9A-Za-z]{1,13}",
            "at most 13 letters or digits",
        )
        .example(r#""tshop00012345""#)
        .describe("ID for the shop management screen (test shops start with tshop)."),
        Field::text("shop_password", "ショップパスワード")
            .secret()
            .example(r#""shop-pass""#),
        Field::pattern(
            "site_id",
            "サイト ID",
            "[0-9A-Za-z]{1,13}",
            "at most 13 letters or digits",
        )
        .example(r#""tsite00012345""#),
        Field::text("site_password", "サイトパスワード")
            .secret()
            .example(r#""site-pass""#),
        Field::new("sftp_host", "SFTP 接続先 IP アドレス", Kind::IpAddress)
            .optional()
            .example(r#""203.0.113.20""#)
            .describe("From GMO PG's 'SFTPサーバ設定のお知らせ'; needed for automatic card updates."),
        Field::text("sftp_login_id", "SFTP ログインID")
            .optional()
            .example(r#""sftp-user""#),
        Field::text("sftp_password", "SFTP パスワード")
            .secret()
            .optional()
            .example(r#""sftp-pass""#),
        Field::boolean("security_code_required", "セキュリティコードの入力")
            .public()
            .example("false")
            .describe("Ask for the card security code on the order form."),
        Field::boolean("auto_card_update", "自動洗替")
            .example("false")
            .describe("Update stored cards automatically (needs the three SFTP fields)."),
        Field::boolean("epos_enabled", "エポス連携")
            .public()
            .example("false")
            .describe("EPOS card instant issue on the order form (needs auto_card_update and epos_store_code)."),
        Field::text("epos_store_code", "エポス提携店コード")
            .optional()
            .example(r#""E1234567""#),
        Field::new("epos_banner_url", "バナーURL", Kind::Url { https_only: false })
            .public()
            .computed()
            .example(r#""https://renkei.example.jp/banners/epos/default.png""#)
            .describe(
                "The EPOS banner shown on the order form while epos_enabled: the uploaded one, or the default banner.",
            ),
    ],
    rules: &[
        Rule::Requires {
            when: "auto_card_update",
            needs: &["sftp_host", "sftp_login_id", "sftp_password"],
        },
        Rule::Requires {
            when: "epos_enabled",
            needs: &["auto_card_update", "epos_store_code"],
        },
    ],
    mode: Some(gmo_pg_mode),
    serves: &[PaymentKind::CreditCard],
    public_assets: &[public_assets::EPOS_BANNER],
    hooks: Hooks {
        computed: epos_banner::banner_url,
        ..Hooks::NONE
    },
    ..ProviderSpec::BASE
};

/// GMO PG's test shops have ids starting `tshop`.
fn gmo_pg_mode(view: &dyn View) -> Option<Mode> {
    view.text("shop_id").map(|id| {
        if id.starts_with("tshop") {
            Mode::Test
        } else {
            Mode::Live
        }
    })
}

pub const GMO_ATOBARAI: ProviderSpec = ProviderSpec {
    slug: "gmo-atobarai",
    schema_name: "GmoAtobarai",
    display_name: "GMO 後払い",
    category: Category::DeferredPayment,
    summary: "Deferred payment (後払い) by GMO Payment Service.",
    fields: &[
        Field::pattern("site_id", "認証 ID / サイト ID", "[0-9]{10}", "10 digits").example(r#""1234567890""#),
        Field::pattern(
            "merchant_code",
            "加盟店コード",
            "ab[0-9A-Za-z]+",
            "a merchant code starting with 'ab', e.g. ab12345",
        )
        .example(r#""ab12345""#),
        Field::text("connection_password", "接続パスワード")
            .secret()
            .example(r#""auto-link-pass""#),
    ],
    serves: &[PaymentKind::Deferred],
    ..ProviderSpec::BASE
};

pub const GMO_EPSILON: ProviderSpec = ProviderSpec {
    slug: "gmo-epsilon",
    schema_name: "GmoEpsilon",
    display_name: "GMO Epsilon",
    category: Category::Payment,
    summary: "Credit card payments by GMO Epsilon.",
    fields: &[
        Field::new("host", "ホスト", Kind::Hostname).example(r#""secure.epsilon.jp""#),
        Field::new("token_url", "トークン取得 URL", Kind::Url { https_only: true })
            .public()
            .example(r#""https://secure.epsilon.jp/js/token.js""#),
        Field::pattern("contract_code", "契約コード", "[0-9]{8}", "8 digits").example(r#""12345678""#),
        Field::boolean("security_code_required", "セキュリティーコードの入力")
            .public()
            .example("true"),
    ],
    mode: Some(epsilon_mode),
    serves: &[PaymentKind::CreditCard],
    ..ProviderSpec::BASE
};

/// Epsilon's test environment is on `beta.epsilon.jp`.
fn epsilon_mode(view: &dyn View) -> Option<Mode> {
    view.text("host").map(|host| {
        if host.starts_with("beta.") {
            Mode::Test
        } else {
            Mode::Live
        }
    })
}
