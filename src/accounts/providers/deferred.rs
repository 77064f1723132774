//! Deferred payment (後払い) providers, and 電算システム's convenience-store postpay.

use crate::{
    accounts::spec::{Category, Field, Kind, ProviderSpec},
    core::PaymentKind,
};

pub const YAMATO_ATOBARAI: ProviderSpec = ProviderSpec {
    slug: "yamato-atobarai",
    schema_name: "YamatoAtobarai",
    display_name: "ヤマト後払い",
    category: Category::DeferredPayment,
    summary: "Deferred payment (後払い) by Yamato Financial.",
    fields: &[
        Field::text("merchant_code", "加盟店コード").example(r#""123456789""#),
        Field::text("password", "パスワード")
            .secret()
            .example(r#""yamato-atobarai-pass""#),
    ],
    serves: &[PaymentKind::Deferred],
    ..ProviderSpec::BASE
};

pub const SCORE_ATOBARAI: ProviderSpec = ProviderSpec {
    slug: "score-atobarai",
    schema_name: "ScoreAtobarai",
    display_name: "スコア後払い",
    category: Category::DeferredPayment,
    summary: "Deferred payment (後払い, formerly ニッセン後払い) by SCORE.",
    fields: &[
        Field::new("host", "ホスト", Kind::Hostname)
            .constant("collect-operation.nissen.co.jp")
            .example(r#""collect-operation.nissen.co.jp""#),
        Field::text("shop_id", "ショップID").example(r#""12345""#),
        Field::text("shop_password", "ショップパスワード")
            .secret()
            .example(r#""score-pass""#),
        Field::text("source_id", "接続元ID").example(r#""src0001""#),
    ],
    serves: &[PaymentKind::Deferred],
    ..ProviderSpec::BASE
};

pub const NP_ATOBARAI: ProviderSpec = ProviderSpec {
    slug: "np-atobarai",
    schema_name: "NpAtobarai",
    display_name: "NP 後払い",
    category: Category::DeferredPayment,
    summary: "Deferred payment (NP後払い) by Net Protections.",
    fields: &[
        Field::text("sp_code", "SP_CODE")
            .example(r#""SP0001""#)
            .describe("The SP code issued by Net Protections."),
        Field::text("terminal_id", "端末ID")
            .example(r#""T0001""#)
            .describe("Identifies the connecting system; ask support for the value."),
        Field::new("endpoint_url", "環境接続先URL", Kind::Url { https_only: true })
            .constant("https://www.getsafety-online.com/np_set3/npcb1/services/NPConnectPro?wsdl")
            .example(r#""https://www.getsafety-online.com/np_set3/npcb1/services/NPConnectPro?wsdl""#),
    ],
    serves: &[PaymentKind::Deferred],
    ..ProviderSpec::BASE
};

pub const NP_ATOBARAI_REALTIME: ProviderSpec = ProviderSpec {
    slug: "np-atobarai-realtime",
    schema_name: "NpAtobaraiRealtime",
    display_name: "NP 後払いリアルタイム",
    category: Category::DeferredPayment,
    summary: "Deferred payment (NP後払い) by Net Protections, with real-time credit checks.",
    fields: &[
        Field::pattern(
            "shop_code",
            "SHOP_CODE",
            "akt[0-9]{7}",
            "'akt' followed by 7 digits, e.g. akt0000000",
        )
        .example(r#""akt0000000""#)
        .describe("The merchant code (加盟店コード) issued by Net Protections."),
        Field::text("sp_code", "SP_CODE")
            .example(r#""SP0001""#)
            .describe("The SP code issued by Net Protections."),
        Field::text("terminal_id", "端末ID")
            .example(r#""T0001""#)
            .describe("Identifies the connecting system; ask support for the value."),
    ],
    serves: &[PaymentKind::Deferred],
    ..ProviderSpec::BASE
};

pub const ATOBARAI_COM: ProviderSpec = ProviderSpec {
    slug: "atobarai-com",
    schema_name: "AtobaraiCom",
    display_name: "後払い.com",
    category: Category::DeferredPayment,
    summary: "Deferred payment (後払い.com) by Catchball.",
    fields: &[
        Field::text("enterprise_id", "受付事業者ID").example(r#""10001""#),
        Field::text("site_id", "受付サイトID").example(r#""20001""#),
        Field::text("api_user_id", "APIユーザーID").example(r#""30001""#),
    ],
    serves: &[PaymentKind::Deferred],
    ..ProviderSpec::BASE
};

pub const ATODENE: ProviderSpec = ProviderSpec {
    slug: "atodene",
    schema_name: "Atodene",
    display_name: "アトディーネ",
    category: Category::DeferredPayment,
    summary: "Deferred payment (アトディーネ) by JACCS Payment Solutions.",
    fields: &[
        Field::text("merchant_code", "加盟店コード").example(r#""M000001""#),
        Field::text("connection_id", "接続先特定ID").example(r#""C000001""#),
        Field::text("connection_password", "接続パスワード")
            .secret()
            .example(r#""atodene-pass""#),
    ],
    serves: &[PaymentKind::Deferred],
    ..ProviderSpec::BASE
};

pub const DENSAN: ProviderSpec = ProviderSpec {
    slug: "densan",
    schema_name: "Densan",
    display_name: "電算システム",
    category: Category::ConveniencePostpay,
    summary: "Convenience-store and post-office postpay (コンビニ郵貯後払い) by Densan System.",
    fields: &[Field::pattern("unique_code", "固有値7桁(数字)", "[0-9]{7}", "7 digits")
        .example(r#""1234567""#)
        .describe("Chosen freely; transaction ids are these 7 digits followed by 10 random digits.")],
    serves: &[PaymentKind::ConveniencePostpay],
    transaction_id_prefix: Some("unique_code"),
    ..ProviderSpec::BASE
};
