//! The product data feed: the shop's items (bulk upsert), and the Facebook catalog CSV
//! generated from them and served at the account's unguessable public URL.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{FEED_GENERATED_AT, FEED_TOKEN, PRODUCT_DATA_FEED};
use crate::{
    accounts::{
        formats,
        service::{Account, Accounts, Missing},
    },
    core::{Actor, DomainError, FieldError},
    store::{
        feed_items::{self, FeedItem},
        provider_accounts,
        public_assets::{self, PublicAsset},
    },
};

pub const MAX_ITEMS_PER_REQUEST: usize = 1000;
/// Facebook catalog values.
pub const AVAILABILITY: &[&str] = &[
    "in stock",
    "out of stock",
    "preorder",
    "available for order",
    "discontinued",
];
pub const CONDITION: &[&str] = &["new", "refurbished", "used"];
const COLUMNS: [&str; 9] = [
    "id",
    "title",
    "description",
    "availability",
    "condition",
    "price",
    "link",
    "image_link",
    "brand",
];

/// One product of the feed.
#[derive(Deserialize, Serialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "id": "SKU-001", "title": "オーガニック緑茶 100g", "description": "静岡県産の有機栽培茶葉。",
    "availability": "in stock", "condition": "new", "price": 1280,
    "link": "https://shop.example.jp/products/SKU-001",
    "image_link": "https://shop.example.jp/images/SKU-001.jpg", "brand": "Example Tea"
}))]
pub struct FeedItemInput {
    /// The shop's id of the product (1–100 characters); an existing id is replaced.
    #[schema(min_length = 1, max_length = 100)]
    pub id: String,
    /// 1–150 characters.
    #[schema(min_length = 1, max_length = 150)]
    pub title: String,
    /// 1–5000 characters.
    #[schema(min_length = 1, max_length = 5000)]
    pub description: String,
    /// `in stock`, `out of stock`, `preorder`, `available for order` or `discontinued`.
    #[schema(schema_with = availability_schema)]
    pub availability: String,
    /// `new`, `refurbished` or `used`.
    #[schema(schema_with = condition_schema)]
    pub condition: String,
    /// Price in yen (tax included), 0 or more.
    #[schema(minimum = 0)]
    pub price: i64,
    /// The product page (http or https).
    #[schema(schema_with = http_url_schema)]
    pub link: String,
    /// The product image (http or https).
    #[schema(schema_with = http_url_schema)]
    pub image_link: String,
    /// 1–100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub brand: String,
}

/// An absolute http(s) URL, as `formats::is_url` checks it.
fn http_url_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(formats::HTTP_URL_PATTERN))
        .description(Some("An absolute http(s) URL."))
        .build()
}

fn one_of_schema(values: &[&str], description: &str) -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
        .build()
}

fn availability_schema() -> utoipa::openapi::schema::Object {
    one_of_schema(AVAILABILITY, "Facebook catalog availability.")
}

fn condition_schema() -> utoipa::openapi::schema::Object {
    one_of_schema(CONDITION, "Facebook catalog condition.")
}

// Its own fields, not a flattened `FeedItemInput`: that schema refuses unknown fields,
// so `allOf` with it could never match a view with `updated_at`.
/// One stored product of the feed, and when it was last stored.
#[derive(Serialize, ToSchema)]
pub struct FeedItemView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub availability: String,
    pub condition: String,
    pub price: i64,
    pub link: String,
    pub image_link: String,
    pub brand: String,
    pub updated_at: DateTime<Utc>,
}

impl From<FeedItem> for FeedItemView {
    fn from(item: FeedItem) -> Self {
        Self {
            id: item.item_id,
            title: item.title,
            description: item.description,
            availability: item.availability,
            condition: item.condition,
            price: item.price,
            link: item.link,
            image_link: item.image_link,
            brand: item.brand,
            updated_at: item.updated_at,
        }
    }
}

/// Checks every item; the errors name `items[i].field`.
pub fn validate(shop_id: &str, items: Vec<FeedItemInput>) -> Result<Vec<FeedItem>, Vec<FieldError>> {
    let mut errors = Vec::new();
    if items.is_empty() || items.len() > MAX_ITEMS_PER_REQUEST {
        errors.push(FieldError::new(
            "items",
            "invalid_length",
            format!("items must hold 1 to {MAX_ITEMS_PER_REQUEST} items"),
        ));
    }
    let now = Utc::now();
    let mut seen = HashSet::new();
    let mut valid = Vec::new();
    for (i, input) in items.into_iter().enumerate() {
        let path = |field: &str| format!("items[{i}].{field}");
        let mut text = |field: &str, value: String, max: usize| {
            let value = value.trim().to_string();
            let length = value.chars().count();
            if length == 0 || length > max {
                errors.push(FieldError::new(
                    path(field),
                    "invalid_length",
                    format!("{} must be 1 to {max} characters", path(field)),
                ));
            }
            value
        };
        let mut item = feed_items::new_item(shop_id, now);
        item.item_id = text("id", input.id, 100);
        item.title = text("title", input.title, 150);
        item.description = text("description", input.description, 5000);
        item.brand = text("brand", input.brand, 100);
        item.link = input.link.trim().to_string();
        item.image_link = input.image_link.trim().to_string();
        item.availability = input.availability.trim().to_string();
        item.condition = input.condition.trim().to_string();
        item.price = input.price;
        if !item.item_id.is_empty() && !seen.insert(item.item_id.clone()) {
            errors.push(FieldError::new(
                path("id"),
                "duplicate",
                format!("{} appears twice in items", path("id")),
            ));
        }
        for (field, value) in [("link", &item.link), ("image_link", &item.image_link)] {
            if !formats::is_url(value, false) {
                errors.push(FieldError::new(
                    path(field),
                    "invalid_format",
                    format!("{} must be an absolute http(s) URL", path(field)),
                ));
            }
        }
        for (field, value, allowed) in [
            ("availability", &item.availability, AVAILABILITY),
            ("condition", &item.condition, CONDITION),
        ] {
            if !allowed.contains(&value.as_str()) {
                errors.push(FieldError::new(
                    path(field),
                    "invalid_value",
                    format!("{} must be one of: {}", path(field), allowed.join(", ")),
                ));
            }
        }
        if item.price < 0 {
            errors.push(FieldError::new(
                path("price"),
                "out_of_range",
                format!("{} must be 0 or more", path("price")),
            ));
        }
        valid.push(item);
    }
    if errors.is_empty() { Ok(valid) } else { Err(errors) }
}

pub async fn upsert(db: &DatabaseConnection, shop_id: &str, items: Vec<FeedItemInput>) -> Result<usize, DomainError> {
    let items = validate(shop_id, items).map_err(DomainError::Invalid)?;
    let count = items.len();
    let txn = crate::store::begin_write(db).await?;
    crate::store::shops::ensure(&txn, shop_id).await?;
    feed_items::upsert(&txn, items).await?;
    txn.commit().await?;
    Ok(count)
}

/// The Facebook catalog CSV (RFC 4180: every field quoted, quotes doubled, CRLF). The
/// feed is public and shop staff open it in spreadsheets: a cell a spreadsheet would run
/// as a formula is neutralised.
pub fn facebook_csv(items: &[FeedItem]) -> String {
    let mut csv = String::new();
    let mut row = |fields: [&str; 9]| {
        let quoted: Vec<String> = fields
            .iter()
            .map(|f| format!("\"{}\"", neutralise_formula(f).replace('"', "\"\"")))
            .collect();
        csv.push_str(&quoted.join(","));
        csv.push_str("\r\n");
    };
    row(COLUMNS);
    for item in items {
        let price = format!("{} JPY", item.price);
        row([
            &item.item_id,
            &item.title,
            &item.description,
            &item.availability,
            &item.condition,
            &price,
            &item.link,
            &item.image_link,
            &item.brand,
        ]);
    }
    csv
}

/// A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with
/// `'`, which spreadsheets show as text instead of running (OWASP's CSV injection advice).
fn neutralise_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// Issues a new feed URL: the feed moves to a new token and the old URL answers 404.
pub async fn rotate_url(accounts: &Accounts<'_>, actor: &Actor<'_>) -> Result<Account, DomainError> {
    let shop_id = actor.shop_id.to_string();
    accounts
        .act(
            actor,
            &PRODUCT_DATA_FEED,
            "rotate_url",
            Missing::Refuse,
            async move |txn, state| {
                let token = crate::crypto::random_token::<24>();
                state.settings.insert(FEED_TOKEN.into(), token.clone().into());
                public_assets::set_token(txn, &shop_id, public_assets::FACEBOOK_FEED, &token).await?;
                state.changed.push("facebook_feed_url");
                Ok(())
            },
        )
        .await
}

/// Builds the CSV now from every item of the shop and publishes it at the feed URL.
pub async fn generate(accounts: &Accounts<'_>, actor: &Actor<'_>) -> Result<Account, DomainError> {
    let shop_id = actor.shop_id.to_string();
    accounts
        .act(
            actor,
            &PRODUCT_DATA_FEED,
            "generate",
            Missing::Refuse,
            async move |txn, state| {
                let token = match state.settings.get(FEED_TOKEN).and_then(Value::as_str) {
                    Some(token) => token.to_string(),
                    None => {
                        let token = crate::crypto::random_token::<24>();
                        state.settings.insert(FEED_TOKEN.into(), token.clone().into());
                        token
                    }
                };
                let items = feed_items::list(txn, &shop_id, None, None).await?;
                let csv = facebook_csv(&items);
                public_assets::put(
                    txn,
                    &shop_id,
                    public_assets::FACEBOOK_FEED,
                    &token,
                    "text/csv; charset=utf-8",
                    csv.into_bytes(),
                )
                .await?;
                state
                    .settings
                    .insert(FEED_GENERATED_AT.into(), serde_json::json!(Utc::now()));
                state.changed.push("generated_at");
                Ok(())
            },
        )
        .await
}

/// The generated CSV behind a public feed token, while the shop's feed is enabled.
pub async fn published(db: &DatabaseConnection, token: &str) -> Result<Option<PublicAsset>, DomainError> {
    let Some(asset) = public_assets::find_by_token(db, public_assets::FACEBOOK_FEED, token).await? else {
        return Ok(None);
    };
    let enabled = provider_accounts::find(db, &asset.shop_id, PRODUCT_DATA_FEED.slug)
        .await?
        .is_some_and(|account| account.enabled);
    Ok(enabled.then_some(asset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_every_field_and_doubles_quotes() {
        let mut item = feed_items::new_item("s", Utc::now());
        item.item_id = "A,1".into();
        item.title = "He said \"hi\"".into();
        item.description = "line one\nline two".into();
        item.price = 1280;
        let csv = facebook_csv(&[item]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "\"id\",\"title\",\"description\",\"availability\",\"condition\",\"price\",\"link\",\"image_link\",\"brand\""
        );
        assert!(lines[1].starts_with("\"A,1\",\"He said \"\"hi\"\"\",\"line one\nline two\""));
        assert!(lines[1].contains("\"1280 JPY\""));
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
        for (cell, expected) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("緑茶 = tea", "緑茶 = tea"),
        ] {
            assert_eq!(neutralise_formula(cell), expected);
        }
    }
}
