//! LINE Login, 1d color and the product data feed.

use crate::accounts::spec::{Category, Field, Kind, ProviderSpec};

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
    rules: &[],
    mode: None,
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
    rules: &[],
    mode: None,
};

pub const PRODUCT_DATA_FEED: ProviderSpec = ProviderSpec {
    slug: "product-data-feed",
    schema_name: "ProductDataFeed",
    display_name: "商品データフィード",
    category: Category::Marketing,
    summary: "A product data feed (CSV) for Facebook catalogues, built from the shop's feed items.",
    fields: &[
        Field::new("facebook_feed_url", "Facebook", Kind::Url { https_only: false })
            .computed()
            .example(r#""https://renkei.example.jp/feeds/5f0c2a9e7b3d4e1f8a6b9c0d2e4f6a8b/facebook.csv""#)
            .describe("The public, unguessable URL of the CSV to register in a Facebook catalogue."),
        Field::new("generated_at", "データフィード作成日時", Kind::Text { max: 64 })
            .computed()
            .example(r#""2026-11-23T10:00:00Z""#)
            .describe("When the CSV was last built (POST …/product-data-feed/generate)."),
    ],
    rules: &[],
    mode: None,
};
