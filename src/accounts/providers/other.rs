//! LINE Login and 1d color.

use crate::accounts::spec::{Category, Field, ProviderSpec};

pub const LINE_ID: ProviderSpec = ProviderSpec {
    slug: "line-id",
    schema_name: "LineId",
    display_name: "LINE ID",
    category: Category::Login,
    summary: "Sign-in with a LINE account (LINE Login).",
    fields: &[
        Field::pattern("channel_id", "チャンネルID", "[0-9]{10}", "10 digits")
            .example(r#""1234567890""#)
            .describe("The LINE Login channel's Channel ID (LINE Developers: Basic settings)."),
        Field::text("channel_secret", "チャンネルシークレット")
            .secret()
            .example(r#""a1b2c3d4e5f60718293a4b5c6d7e8f90""#)
            .describe("The LINE Login channel's Channel secret."),
    ],
    ..ProviderSpec::BASE
};

pub const ONE_D_COLOR: ProviderSpec = ProviderSpec {
    slug: "one-d-color",
    schema_name: "OneDColor",
    display_name: "1d color",
    category: Category::Marketing,
    summary: "The personalised D2C system 1d color (needs its own contract).",
    fields: &[Field::text("api_key", "APIキー")
        .secret()
        .example(r#""1dc-api-key""#)
        .describe("The API key issued in 1d color.")],
    ..ProviderSpec::BASE
};
