//! 商品データフィード: the shop's products as a Facebook catalogue CSV at a public,
//! unguessable URL (`catalog`: the items, the CSV and its generation).

pub mod catalog;

use serde_json::{Map, Value};

use crate::{
    accounts::spec::{Category, Derive, Field, Hooks, Kind, ProviderSpec},
    crypto::random_token,
    store::public_assets,
};

/// Internal setting: the unguessable token of the feed's public URL.
pub const FEED_TOKEN: &str = "_feed_token";
/// Internal setting: when the feed was last generated.
pub const FEED_GENERATED_AT: &str = "_feed_generated_at";

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
    public_assets: &[public_assets::FACEBOOK_FEED],
    hooks: Hooks {
        initial_settings: new_feed_token,
        computed: feed_links,
        ..Hooks::NONE
    },
    ..ProviderSpec::BASE
};

/// A new feed gets its public URL at once.
fn new_feed_token(settings: &mut Map<String, Value>) {
    settings.insert(FEED_TOKEN.into(), Value::from(random_token::<24>()));
}

fn feed_links(account: &Derive<'_>, out: &mut Map<String, Value>) {
    let url = account
        .settings
        .get(FEED_TOKEN)
        .and_then(Value::as_str)
        .map(|token| Value::from(format!("{}/feeds/{token}/facebook.csv", account.public_url)))
        .unwrap_or(Value::Null);
    out.insert("facebook_feed_url".into(), url);
    out.insert(
        "generated_at".into(),
        account.settings.get(FEED_GENERATED_AT).cloned().unwrap_or(Value::Null),
    );
}
