//! Values renkei derives for an account's response (links, statuses) and the internal
//! settings some providers start with. Internal settings are stored with the account
//! under names no declaration uses, and are never shown as such.

use serde_json::{Map, Value};

use super::spec::ProviderSpec;
use crate::crypto::random_token;

/// Internal setting: the upload token of the shop's EPOS banner (gmo-pg).
pub const EPOS_BANNER: &str = "_epos_banner";
/// Internal setting: the unguessable token of the product data feed's public URL.
pub const FEED_TOKEN: &str = "_feed_token";
/// Internal setting: when the feed was last generated.
pub const FEED_GENERATED_AT: &str = "_feed_generated_at";
/// Internal setting: PayPal link status.
pub const PAYPAL_LINK_STATUS: &str = "_link_status";

/// The path of the banner shown when a shop has uploaded none.
pub const DEFAULT_EPOS_BANNER_PATH: &str = "/public/epos-banner-default.png";

/// Internal settings a new account starts with.
pub fn initial_settings(spec: &ProviderSpec) -> Map<String, Value> {
    let mut settings = Map::new();
    if spec.slug == "product-data-feed" {
        settings.insert(FEED_TOKEN.into(), Value::from(random_token::<24>()));
    }
    settings
}

/// The derived (computed) fields of the response.
pub fn computed(spec: &ProviderSpec, settings: &Map<String, Value>, public_url: &str) -> Map<String, Value> {
    let text = |name: &str| settings.get(name).and_then(Value::as_str);
    let mut out = Map::new();
    match spec.slug {
        "gmo-pg" => {
            let url = match text(EPOS_BANNER) {
                Some(token) => format!("{public_url}/public/epos-banners/{token}"),
                None => format!("{public_url}{DEFAULT_EPOS_BANNER_PATH}"),
            };
            out.insert("epos_banner_url".into(), url.into());
        }
        "relation" | "maildealer" => {
            let url = match (
                text("subdomain"),
                settings.get("message_box_id").and_then(Value::as_i64),
            ) {
                (Some(subdomain), Some(box_id)) => Value::from(timeline_base_url(spec.slug, subdomain, box_id)),
                _ => Value::Null,
            };
            out.insert("timeline_base_url".into(), url);
        }
        "product-data-feed" => {
            let url = text(FEED_TOKEN)
                .map(|token| Value::from(format!("{public_url}/feeds/{token}/facebook.csv")))
                .unwrap_or(Value::Null);
            out.insert("facebook_feed_url".into(), url);
            out.insert(
                "generated_at".into(),
                settings.get(FEED_GENERATED_AT).cloned().unwrap_or(Value::Null),
            );
        }
        "paypal" => {
            out.insert(
                "link_status".into(),
                Value::from(text(PAYPAL_LINK_STATUS).unwrap_or("unlinked")),
            );
        }
        _ => {}
    }
    out
}

/// The base of the links from a customer's page to the mail tool's timeline of that
/// customer; the admin app appends the customer's e-mail address (URL-encoded).
pub fn timeline_base_url(slug: &str, subdomain: &str, message_box_id: i64) -> String {
    match slug {
        "relation" => {
            format!("https://{subdomain}.relationapp.jp/tickets/#/{message_box_id}/customers/timeline?email=")
        }
        _ => format!("https://{subdomain}.maildealer.jp/app/timeline/?mb_id={message_box_id}&email="),
    }
}
