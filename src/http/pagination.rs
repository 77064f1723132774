//! Cursor pagination shared by every list: `?limit=` (1–200, default 50) and an opaque
//! `?cursor=` naming where the previous page ended.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::problem::ApiError;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// The page size asked for, checked against its bounds.
pub fn limit(requested: Option<u32>) -> Result<u64, ApiError> {
    match requested {
        None => Ok(DEFAULT_LIMIT.into()),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n.into()),
        Some(_) => Err(ApiError::field(
            "limit",
            "out_of_range",
            format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
        )),
    }
}

/// Encodes the position after which the next page starts.
pub fn encode_cursor(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(position)
}

/// Decodes a cursor made by `encode_cursor` and parses the position with `parse`.
pub fn decode_cursor<T>(cursor: Option<&str>, parse: impl FnOnce(&str) -> Option<T>) -> Result<Option<T>, ApiError> {
    // An empty cursor is the first page, as no cursor is.
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| parse(&text))
        .map(Some)
        .ok_or_else(|| {
            ApiError::field(
                "cursor",
                "invalid_value",
                "cursor must be a next_cursor value returned by this list",
            )
        })
}

/// Cuts a list fetched with `limit + 1` rows to `limit`, and gives the cursor of the next
/// page when there is one.
/// The row id of a list ordered by id (newest first, or oldest first), from its cursor.
pub fn id_cursor(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    decode_cursor(cursor, |s| s.parse::<i64>().ok())
}

pub fn finish<T>(mut items: Vec<T>, limit: u64, position: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    if items.len() as u64 > limit {
        items.truncate(limit as usize);
        let cursor = items.last().map(|last| encode_cursor(&position(last)));
        (items, cursor)
    } else {
        (items, None)
    }
}

/// Declares a list's page: `items`, and `next_cursor` (null on the last page).
macro_rules! page {
    ($(#[$doc:meta])* $name:ident of $item:ty) => {
        $(#[$doc])*
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `cursor` to get the next page; `null` on the last page.
            pub next_cursor: Option<String>,
        }
    };
}

/// Declares a list's query: its own filters, then `limit` (1–200, default 50) and
/// `cursor`. Unknown parameters are refused.
macro_rules! page_query {
    ($(#[$doc:meta])* $name:ident { $($(#[$field_doc:meta])* $field:ident: $type:ty,)* }) => {
        $(#[$doc])*
        #[derive(serde::Deserialize, utoipa::IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            $($(#[$field_doc])* pub $field: $type,)*
            /// Page size, 1–200 (default 50).
            #[param(minimum = 1, maximum = 200)]
            pub limit: Option<u32>,
            /// `next_cursor` of the previous page.
            pub cursor: Option<String>,
        }
    };
}

pub(crate) use {page, page_query};
